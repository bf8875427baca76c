"""DICOM and NIfTI in the window: grey display through a window/level, Ctrl + drag, presets, the value
under the cursor in HU, the slice slider, dialogs and drops that know the formats."""

from __future__ import annotations

import nibabel
import pytest
import numpy as np
import pydicom
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication
from pydicom.data import get_testdata_file

from segattack_gui.gui.files.drops import file_kind
from segattack_gui.gui.masks.sources import IMAGE_FILTER
from tests.gui.window_fixtures import wait_until_idle

CT = get_testdata_file("CT_small.dcm")


def shown_grey(window) -> np.ndarray:
    """The canvas's image as the user sees it (grey levels 0..255)."""
    image = window.canvas._image_item.pixmap().toImage()
    return np.array([[image.pixelColor(x, y).red() for x in range(image.width())] for y in range(image.height())])


def expected_grey(hu: np.ndarray, level: float, width: float) -> np.ndarray:
    return np.rint(np.clip((hu - (level - width / 2)) / width, 0, 1) * 255).astype(int)


def open_and_wait(qtbot, window, path, **where):
    if where:
        window.loader.open_image(path, **where)
    else:
        window.open_image(path)
    wait_until_idle(qtbot, window)


def test_ct_opens_in_grey_through_the_soft_tissue_window(qtbot, window, errors):
    open_and_wait(qtbot, window, CT)
    # A grey CT under the fundus demo's RGB model: the misfeed notices are right to speak; nothing else may.
    notices = [message for message in errors.messages if message.startswith("Warning:")]
    assert any("greyscale image feeds a model that takes 3 channels" in message for message in notices)
    assert [message for message in errors.messages if message not in notices] == []
    bar = window.window_level
    assert bar.isVisible() and bar.preset_combo.currentText() == "soft tissue"
    hu = pydicom.dcmread(CT).pixel_array - 1024.0
    assert np.abs(shown_grey(window) - expected_grey(hu, 40, 400)).max() <= 1
    attacked = window.document.image.pixels.copy()
    bar.preset_combo.setCurrentText("bone")
    bar.preset_combo.activated.emit(bar.preset_combo.currentIndex())
    assert np.abs(shown_grey(window) - expected_grey(hu, 400, 1800)).max() <= 1
    assert np.array_equal(window.document.image.pixels, attacked)  # display only


def live_grey(window) -> np.ndarray:
    """The adversarial view's image as drawn now (grey levels 0..255)."""
    window.live_views.redraw()
    return window.live_views.adversarial_view.image_item.image.astype(int)


def test_the_live_views_show_a_ct_through_the_canvas_window(qtbot, window):
    open_and_wait(qtbot, window, CT)
    hu = pydicom.dcmread(CT).pixel_array - 1024.0
    assert np.abs(live_grey(window) - expected_grey(hu, 40, 400)).max() <= 1  # not the raw range in grey
    bar = window.window_level
    bar.preset_combo.setCurrentText("bone")
    bar.preset_combo.activated.emit(bar.preset_combo.currentIndex())
    assert np.abs(live_grey(window) - expected_grey(hu, 400, 1800)).max() <= 1


def test_ctrl_drag_changes_width_and_level(qtbot, window):
    open_and_wait(qtbot, window, CT)
    bar, viewport = window.window_level, window.canvas.viewport()
    before = bar.display_window
    ctrl = Qt.KeyboardModifier.ControlModifier

    def send(kind, point, buttons):
        event = QMouseEvent(kind, QPointF(point), QPointF(viewport.mapToGlobal(point)), Qt.MouseButton.LeftButton,
                            buttons, ctrl)
        QApplication.sendEvent(viewport, event)

    start = QPoint(100, 100)
    send(QMouseEvent.Type.MouseButtonPress, start, Qt.MouseButton.LeftButton)
    send(QMouseEvent.Type.MouseMove, QPoint(140, 100), Qt.MouseButton.LeftButton)  # right: wider
    send(QMouseEvent.Type.MouseMove, QPoint(140, 80), Qt.MouseButton.LeftButton)  # up: higher level
    send(QMouseEvent.Type.MouseButtonRelease, QPoint(140, 80), Qt.MouseButton.NoButton)
    after = bar.display_window
    assert after.width > before.width and after.level > before.level
    assert bar.preset_combo.currentText() == "custom"
    assert not window.canvas.target_mask().any()  # the drag painted nothing
    hu = pydicom.dcmread(CT).pixel_array - 1024.0
    assert np.abs(shown_grey(window) - expected_grey(hu, after.level, after.width)).max() <= 1


def test_value_under_the_cursor_is_in_hu(qtbot, window):
    open_and_wait(qtbot, window, CT)
    hu = pydicom.dcmread(CT).pixel_array - 1024.0
    window.canvas.cursorMoved.emit(7, 3)
    assert window.window_level.value_label.text() == f"{hu[3, 7]:.6g} HU"


def test_volume_slices_come_from_the_slider_and_mr_uses_percentiles(qtbot, window, tmp_path):
    volume = np.stack([np.full((12, 10), 100 * k, np.int16) + np.arange(10, dtype=np.int16) for k in range(4)], -1)
    nibabel.save(nibabel.Nifti1Image(volume, np.eye(4)), str(tmp_path / "mr.nii.gz"))
    open_and_wait(qtbot, window, tmp_path / "mr.nii.gz")
    bar = window.window_level
    assert window.document.image.source.index == 2 and bar.slice_slider.isVisible()
    assert bar.preset_combo.currentText().startswith("percentile")
    with qtbot.waitSignal(window.loader.imageLoaded, timeout=30_000):
        bar.slice_slider.setValue(3)
    wait_until_idle(qtbot, window)
    image = window.document.image
    assert image.source.index == 3
    assert np.allclose(image.value_scale.to_raw(image.pixels[..., 0]), np.rot90(volume[:, :, 3]), atol=5e-3)


def test_another_slice_of_the_run_file_is_another_image(qtbot, window, tmp_path):
    from tests.gui.window_fixtures import run_and_wait

    volume = np.stack([np.full((32, 32), 100 * k, np.int16) + np.arange(32, dtype=np.int16) for k in range(3)], -1)
    nibabel.save(nibabel.Nifti1Image(volume, np.eye(4)), str(tmp_path / "ct.nii.gz"))
    open_and_wait(qtbot, window, tmp_path / "ct.nii.gz")
    target = np.zeros((32, 32), np.uint8)
    target[8:24, 8:24] = 1
    window.document.replace_target(target, "painted")
    run_and_wait(qtbot, window, iterations=1)
    assert window.document.run_differences() == []
    with qtbot.waitSignal(window.loader.imageLoaded, timeout=30_000):
        window.window_level.slice_slider.setValue(2)  # the same file, so the same SHA-256
    wait_until_idle(qtbot, window)
    assert window.document.run_differences() == ["image"]
    assert "now holds another image" in window.run_caption.text()
    window.live_views.redraw()  # the run's frames, not read through this slice's window
    kept = window.document.run.store.newest().adversarial[..., 0]
    assert np.array_equal(window.live_views.adversarial_view.image_item.image, kept)


def test_a_run_folder_opens_on_the_slice_it_attacked(qtbot, window, tmp_path):
    from tests.gui.window_fixtures import run_and_wait

    volume = np.stack([np.full((32, 32), 100 * k, np.int16) + np.arange(32, dtype=np.int16) for k in range(3)], -1)
    nibabel.save(nibabel.Nifti1Image(volume, np.eye(4)), str(tmp_path / "ct.nii.gz"))
    window.loader.open_image(tmp_path / "ct.nii.gz", slice_index=0)
    wait_until_idle(qtbot, window)
    target = np.zeros((32, 32), np.uint8)
    target[8:24, 8:24] = 1
    window.document.replace_target(target, "painted")
    run_and_wait(qtbot, window, iterations=1)
    with qtbot.waitSignal(window.export_finished, timeout=60_000):
        window.export_results(tmp_path / "run")
    open_and_wait(qtbot, window, tmp_path / "ct.nii.gz")  # the middle slice, 1
    window.open_run_folder(tmp_path / "run")
    wait_until_idle(qtbot, window)
    assert window.document.image.source.index == 0  # not the file's middle slice


def test_bad_medical_file_is_a_message_and_the_window_stays(qtbot, window, errors):
    before = window.document.image
    open_and_wait(qtbot, window, get_testdata_file("MR_truncated.dcm"))
    assert len(errors.messages) == 1 and "truncated" in errors.messages[0]
    assert window.document.image is before


def test_dialogs_and_drops_know_the_formats(tmp_path):
    assert all(pattern in IMAGE_FILTER for pattern in ("*.dcm", "*.nii", "*.nii.gz"))
    assert file_kind(tmp_path / "scan.nii.gz") == "image" and file_kind(tmp_path / "x.dcm") == "image"
    unnamed = tmp_path / "IM0001"
    unnamed.write_bytes(open(CT, "rb").read())
    assert file_kind(unnamed) == "image"  # recognised by its DICM marker


def test_painted_target_on_a_nifti_slice_saves_as_png_and_nifti(qtbot, window, tmp_path):
    from segattack_gui.io.images import read_image
    from segattack_gui.io.masks import read_mask

    volume = np.zeros((10, 8, 3), np.int16)
    affine = np.diag([0.5, 0.5, 2.0, 1.0])
    nibabel.save(nibabel.Nifti1Image(volume, affine), str(tmp_path / "ct.nii.gz"))
    open_and_wait(qtbot, window, tmp_path / "ct.nii.gz")
    painted = np.zeros((8, 10), np.uint8)
    painted[2:5, 3:7] = 1
    window.document.replace_target(painted, "painted")
    saved = window.mask_files.save_target(tmp_path / "target.png")
    labels = nibabel.load(saved.with_name("target.nii.gz"))
    assert labels.shape == volume.shape and np.array_equal(labels.affine, nibabel.load(tmp_path / "ct.nii.gz").affine)
    image = read_image(tmp_path / "ct.nii.gz")
    again = read_mask(saved.with_name("target.nii.gz"), num_classes=2, expected_shape=painted.shape,
                      image_source=image.source)
    assert np.array_equal(again.class_ids, painted)
    assert np.array_equal(read_mask(saved, num_classes=2).class_ids, painted)


def test_window_run_on_ct_exports_a_dicom_scored_as_read_back(qtbot, window, tmp_path):
    import json

    import torch

    from tests.core.tiny_models import DenseTissueModel
    from tests.gui.window_fixtures import run_and_wait

    model_path = tmp_path / "dense.pt"
    torch.jit.script(DenseTissueModel()).save(str(model_path))
    model_path.with_suffix(".json").write_text(json.dumps(
        {"classes": ["background", "dense"], "input_units": "raw", "output": "sigmoid"}))
    open_and_wait(qtbot, window, CT)
    window.open_model(model_path)
    wait_until_idle(qtbot, window)
    hu = pydicom.dcmread(CT).pixel_array - 1024.0
    with torch.no_grad():
        clean = (DenseTissueModel()(torch.as_tensor(hu, dtype=torch.float32)[None, None])[0, 0] > 0).numpy()
    target = clean.copy()
    target[40:60, 40:60] = ~target[40:60, 40:60]
    window.document.replace_target(target.astype(np.uint8), "painted")
    window.panel.apply_settings("pgd", epsilon=100 / 65535, alpha=10 / 65535, quantize=True)
    run_and_wait(qtbot, window, iterations=10)
    # the live view draws the attacked CT through the soft-tissue window, perturbation included
    from segattack_gui.workspace.shown_frame import shown_frame
    kept_change = shown_frame(window.document).kept.perturbation()[..., 0] * window.document.image.value_scale.span
    assert np.abs(kept_change).max() > 10  # HU: more than the window's rounding hides
    assert np.abs(live_grey(window) - expected_grey(hu + kept_change, 40, 400)).max() <= 1
    # the summary names what its second values score, and gives the norms in HU
    summary = window.run_summary
    assert summary.caption.text() == "float / DICOM as saved"
    result = window.document.run.result
    span = window.document.image.value_scale.span
    assert f"{result.final_quantized['linf'] * span:.4g} HU)" in summary.values["linf"].text()
    # a copy of the raw-HU model, judging from the window, reads the CT in HU as the attacked one did
    import shutil

    copy = tmp_path / "copy" / "dense.pt"
    copy.parent.mkdir()
    shutil.copy(model_path, copy)
    shutil.copy(model_path.with_suffix(".json"), copy.with_suffix(".json"))
    with qtbot.waitSignal(window.transfer.evaluated, timeout=60_000):
        window.transfer.evaluate_on(copy)
    assert window.document.run.evaluated_on["dense.pt"]["iou"] == pytest.approx(result.final["iou"], abs=1e-9)
    folder = tmp_path / "run"
    with qtbot.waitSignal(window.export_finished, timeout=60_000):
        window.export_results(folder)
    summary = json.loads((folder / "summary.json").read_text())
    written = pydicom.dcmread(folder / "adversarial.dcm")
    change = written.pixel_array - 1024.0 - hu
    assert 0 < np.abs(change).max() == summary["final_quantized"]["linf_raw"] <= 100
    assert summary["image_value_range"]["units"] == "HU" and (folder / "target.nii.gz").is_file()
    with torch.no_grad():
        attacked = (DenseTissueModel()(torch.as_tensor(hu + change, dtype=torch.float32)[None, None])[0, 0] > 0).numpy()
    iou = np.logical_and(attacked, target).sum() / np.logical_or(attacked, target).sum()
    assert summary["final_quantized"]["iou"] == pytest.approx(iou, abs=1e-6)
    assert summary["final_quantized"]["iou"] > np.logical_and(clean, target).sum() / np.logical_or(clean, target).sum()
    # another image opened: the run's frames stay as kept, not read through that image's units and window
    open_and_wait(qtbot, window, get_testdata_file("MR_small.dcm"))
    frame = shown_frame(window.document)
    assert frame.iteration == 10 and window.window_level.display_window is not None
    assert np.array_equal(live_grey(window), frame.kept.adversarial[..., 0])
