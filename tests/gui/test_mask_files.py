"""Painted masks leave the window as files the CLI reads, and a close never drops them unasked."""

from __future__ import annotations

import time

import numpy as np
import pytest

from segattack_gui.errors import SegAttackError
from segattack_gui.io.hashing import sha256_file
from segattack_gui.io.inputs import load_attack_inputs
from segattack_gui.io.masks import read_mask
from tests.gui.test_autosave_window import paint_stroke
from tests.gui.window_fixtures import wait_until_idle


def test_a_saved_target_is_what_the_command_line_reads(qtbot, window, tmp_path, demo_root):
    paint_stroke(window, [(100, 100), (160, 120)], label=2)
    painted = window.target_mask()
    assert window.document.unsaved_layers == ["target"]
    path = window.save_target(tmp_path / "my_target")  # the suffix is added
    assert path == tmp_path / "my_target.png"
    assert np.array_equal(read_mask(path, num_classes=3).class_ids, painted)
    assert window.document.unsaved_layers == []
    assert window.document.provenance().target_path == str(path)
    assert window.document.provenance().target_sha256 == sha256_file(path)
    assert "saved" in window.document.provenance().target_rule
    image = window.document.image.path
    inputs = load_attack_inputs(window.document.model.path, image, path, None, device="cpu")
    assert np.array_equal(inputs.target.class_ids, painted)


def test_a_saved_region_reopens_and_is_what_the_command_line_reads(qtbot, window, tmp_path):
    paint_stroke(window, [(40, 200), (90, 220)], layer="region", tool="eraser")
    region = window.canvas.region_mask()
    assert not region.all() and window.document.unsaved_layers == ["region"]
    path = window.save_region(tmp_path / "region.png")
    assert window.document.unsaved_layers == []
    document = window.document
    inputs = load_attack_inputs(document.model.path, document.image.path, document.target_path, path, device="cpu")
    assert np.array_equal(inputs.region.class_ids > 0, region)
    window.canvas.set_region(None)  # everything may change again
    assert window.canvas.region_mask().all()
    window.open_region(path)
    wait_until_idle(qtbot, window)
    assert np.array_equal(window.canvas.region_mask(), region)
    assert window.document.region_path == str(path)
    assert window.document.provenance().region_path == str(path)
    assert window.document.provenance().region_sha256 == sha256_file(path)


def test_bad_mask_files_are_refused_with_the_file_named(qtbot, window, errors, tmp_path):
    with pytest.raises(SegAttackError, match="PNG"):
        window.save_target(tmp_path / "target.jpg")
    with pytest.raises(SegAttackError, match="cannot write") as caught:
        window.save_target(tmp_path / "no" / "such" / "folder.png")
    assert "folder.png" in caught.value.one_line()
    empty = tmp_path / "empty.png"
    window.save_target(tmp_path / "target.png")
    from PIL import Image

    Image.fromarray(np.zeros(window.target_mask().shape, np.uint8)).save(empty)
    before = window.canvas.region_mask()
    window.open_region(empty)
    wait_until_idle(qtbot, window)
    assert errors.messages and "empty.png" in errors.messages[-1] and "empty" in errors.messages[-1]
    assert np.array_equal(window.canvas.region_mask(), before)


def test_closing_with_a_painted_target_asks_first(qtbot, window, tmp_path, monkeypatch):
    paint_stroke(window, [(100, 100), (160, 120)])
    window.unsaved_question.answer = "cancel"
    window.close()
    assert window.isVisible() and window.unsaved_question.asked == [["target"]]
    window.unsaved_question.answer = "save"
    chosen = []
    monkeypatch.setattr(window.mask_files, "ask_save_path", lambda layer: chosen.append(layer) or None)
    window.close()  # the save dialog was cancelled: the close is too
    assert window.isVisible() and chosen == ["target"]
    saved = tmp_path / "kept.png"
    monkeypatch.setattr(window.mask_files, "ask_save_path", lambda layer: str(saved))
    painted = window.target_mask()
    window.close()
    assert not window.isVisible()
    assert np.array_equal(read_mask(saved, num_classes=3).class_ids, painted)


def test_nothing_is_asked_when_the_masks_are_in_files(qtbot, window, tmp_path):
    window.close()  # the demo's target is a file
    assert not window.isVisible() and window.unsaved_question.asked == []


def test_the_demo_stays_out_of_recent_files(qtbot, window, demo_root, tmp_path):
    assert window.recent.entries() == []
    copy = tmp_path / "mine.png"
    copy.write_bytes(window.document.image.path.read_bytes())
    window.open_image(copy)
    wait_until_idle(qtbot, window)
    assert window.recent.entries() == [("image", str(copy.resolve()))]


def test_undo_cannot_empty_the_ready_target(qtbot, window):
    demo_target = window.target_mask()
    assert demo_target.any() and not window.canvas.can_undo()
    window.canvas.undo()
    assert np.array_equal(window.target_mask(), demo_target)
    paint_stroke(window, [(100, 100), (160, 120)], label=2)
    window.canvas.undo()
    assert np.array_equal(window.target_mask(), demo_target)


def test_a_binary_mask_opens_as_the_selected_label(qtbot, window, tmp_path, errors):
    """The RIM-ONE masks are anti-aliased disc masks; the demo model has a disc and a cup."""
    from PIL import Image

    height, width = window.target_mask().shape
    soft = np.zeros((height, width), np.uint8)
    soft[40:80, 50:90] = 255
    soft[39, 50:90] = 100  # an anti-aliased edge
    Image.fromarray(soft).save(tmp_path / "disc.png")
    window.canvas.set_current_label(2)
    window.open_target(tmp_path / "disc.png")
    wait_until_idle(qtbot, window)
    assert not errors.messages
    assert set(np.unique(window.target_mask())) == {0, 2}
    assert (window.target_mask() == 2).sum() == 41 * 40


def test_painting_while_an_export_holds_the_close_asks_again(qtbot, window, tmp_path, monkeypatch):
    from segattack_gui.gui.files import export_worker
    from tests.gui.window_fixtures import run_and_wait

    run_and_wait(qtbot, window, iterations=2)
    real_export = export_worker.export_run
    monkeypatch.setattr(export_worker, "export_run", lambda *a, **k: (time.sleep(1.0), real_export(*a, **k))[1])
    paint_stroke(window, [(100, 100), (160, 120)])
    window.export_results(tmp_path / "run")
    window.close()  # answered "discard" for these strokes; put off until the export is written
    assert window.isVisible() and window.unsaved_question.asked == [["target"]]
    paint_stroke(window, [(40, 40), (80, 60)], label=2)  # new work while the close waits
    window.unsaved_question.answer = "cancel"
    with qtbot.waitSignal(window.export_finished, timeout=60_000):
        pass
    qtbot.wait(200)
    assert window.unsaved_question.asked == [["target"], ["target"]]  # asked about the new strokes
    assert window.isVisible()  # and the user kept the window


def test_mask_names_get_png_appended_unless_they_name_another_image_type(window, tmp_path):
    assert window.save_target(tmp_path / "patient 3.1_target").name == "patient 3.1_target.png"
    with pytest.raises(SegAttackError, match="PNG"):
        window.save_target(tmp_path / "target.tif")
