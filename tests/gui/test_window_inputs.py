"""Ways in: pickled models (consent), dropped files, recent files, targets from predictions, transforms."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from segattack_gui.core import masks
from segattack_gui.core.architectures import PaddedUNet
from segattack_gui.gui.files.drops import file_kind
from tests.gui.window_fixtures import wait_until_idle


def pickled_model(folder):
    """A whole pickled nn.Module (runs code when loaded) with a two-class sidecar."""
    torch.manual_seed(0)
    path = folder / "pickled.pt"
    torch.save(PaddedUNet(in_channels=3, num_classes=2, widths=(4, 8)).eval(), path)
    (folder / "pickled.json").write_text(json.dumps({"classes": ["background", "lesion"]}))
    return path


def test_a_pickled_model_asks_once_per_file_showing_its_hash(qtbot, window, tmp_path, monkeypatch, errors):
    path = pickled_model(tmp_path)
    asked = []
    answer = [False]

    def consent(model_path, sha256):
        asked.append((model_path, sha256))
        return answer[0]

    monkeypatch.setattr(window, "ask_pickle_consent", consent)
    demo_model = window.document.model
    window.open_model(path)
    wait_until_idle(qtbot, window)
    assert len(asked) == 1 and len(asked[0][1]) == 64
    assert window.document.model is demo_model  # refused: nothing loaded
    answer[0] = True
    with qtbot.waitSignal(window.loader.modelLoaded, timeout=30_000):
        window.open_model(path)
    wait_until_idle(qtbot, window)
    assert len(asked) == 2 and window.document.model.kind == "pickle"
    assert window.document.class_names == ("background", "lesion")
    assert window.canvas.class_names() == ["background", "lesion"]
    assert window.target_mask().max() <= 1  # the demo's third class was cleared
    window.open_model(path)  # consent is remembered for this file content
    wait_until_idle(qtbot, window)
    assert len(asked) == 2
    assert not errors.messages


def drop(window, paths, modifiers=Qt.KeyboardModifier.NoModifier):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path)) for path in paths])
    event = QDropEvent(QPointF(200, 200), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, modifiers)
    window.dropEvent(event)
    return event


def test_file_kinds_by_extension(tmp_path):
    for name, kind in (("m.pt", "model"), ("m.PTH", "model"), ("m.ts", "model"), ("m.jit", "model"),
                       ("i.png", "image"), ("i.TIF", "image"), ("i.jpeg", "image"), ("i.bmp", "image"),
                       ("notes.txt", None)):
        assert file_kind(tmp_path / name) == kind, name


def test_dropping_files_opens_them_by_kind(qtbot, window, demo_root, monkeypatch):
    from segattack_gui.demo import DEMOS

    opened = []
    monkeypatch.setattr(window, "open_image", lambda path: opened.append(("image", path.name)))
    monkeypatch.setattr(window, "open_model", lambda path: opened.append(("model", path.name)))
    monkeypatch.setattr(window, "open_target", lambda path: opened.append(("target", path.name)))
    roles = []

    def choose_role(path, shift):  # stands in for the small menu a user would answer
        roles.append((path.name, shift))
        return "target" if shift else "image"

    monkeypatch.setattr(window.drops, "choose_role", choose_role)
    files = DEMOS["fundus"]
    drop(window, [files.path("image", demo_root), files.path("model", demo_root)])
    assert opened == [("image", "fundus_demo.png"), ("model", "fundus_unet.pt")]
    assert roles == [("fundus_demo.png", False)]
    opened.clear()
    event = drop(window, [files.path("target", demo_root)], Qt.KeyboardModifier.ShiftModifier)
    assert opened == [("target", "fundus_demo_target.png")] and roles[-1] == ("fundus_demo_target.png", True)
    assert event.isAccepted()


def test_plain_image_drop_needs_no_question(window, tmp_path):
    assert window.drops.choose_role(tmp_path / "patient_07.png", shift=False) == "image"


def test_recent_files_remember_what_was_opened(qtbot, window, tmp_path):
    assert window.recent.entries() == []  # the demo, opened at every start, is not the user's own
    document = window.document
    sources = {"image": document.image.path, "model": document.model.path, "target": Path(document.target_path)}
    for kind, source in sources.items():
        copy = tmp_path / f"mine_{source.name}"
        copy.write_bytes(source.read_bytes())
        if kind == "model":
            (tmp_path / f"mine_{source.stem}.json").write_bytes(source.with_suffix(".json").read_bytes())
        window.open_file_as(kind, str(copy))
    wait_until_idle(qtbot, window)
    assert {kind for kind, _ in window.recent.entries()} == {"image", "model", "target"}
    window.recent._rebuild()
    texts = [action.text() for action in window.menus.recent_menu.actions()]
    assert "Image: mine_fundus_demo.png" in texts


def test_target_from_the_models_prediction(qtbot, window):
    window.mask_sources.target_from_prediction()
    wait_until_idle(qtbot, window)
    document = window.document
    image = document.image
    grid = document.model.adapter.output_grid(image.height, image.width)
    expected = grid.paste(document.baseline_prediction, image.height, image.width, fill=0)
    assert np.array_equal(window.target_mask(), expected)
    assert document.target_origin.startswith("model prediction")


def test_target_from_another_image_of_another_size_is_resized_and_said(qtbot, window, tmp_path, errors):
    """The paper's protocol takes masks from other images of a dataset, which often differ in size."""
    import cv2
    from PIL import Image

    from segattack_gui.gui.files.loading import predict_on_image_grid
    from segattack_gui.io.images import read_image

    document = window.document
    pixels = (document.image.pixels * 255).round().astype(np.uint8)
    Image.fromarray(cv2.resize(pixels, (160, 144), interpolation=cv2.INTER_AREA)).save(tmp_path / "other.png")
    window.mask_sources.target_from_other_image(tmp_path / "other.png")
    wait_until_idle(qtbot, window)
    assert not errors.messages
    other = predict_on_image_grid(document.model.adapter, read_image(tmp_path / "other.png").pixels)[1]
    expected = cv2.resize(other, (document.image.width, document.image.height), interpolation=cv2.INTER_NEAREST)
    assert expected.any() and np.array_equal(window.target_mask(), expected)
    assert "other.png (160x144), resized to 256x256 (nearest neighbour)" in document.target_origin
    assert "resized" in document.provenance().target_rule


def test_transforms_are_one_undo_step_and_reach_the_document(window):
    before = window.target_mask()
    window.mask_sources.apply_transform("dilate", class_id=1, radius=2)
    expected = masks.dilate(before, 1, 2)
    assert np.array_equal(window.target_mask(), expected) and not np.array_equal(expected, before)
    assert np.array_equal(window.document.target, expected) and window.document.target_origin == "painted"
    window.mask_sources.apply_transform("shift", dy=5, dx=-3)
    assert np.array_equal(window.target_mask(), masks.shift(expected, 5, -3))
    window.canvas.undo()
    window.canvas.undo()
    assert np.array_equal(window.target_mask(), before)
    assert np.array_equal(window.document.target, before)
