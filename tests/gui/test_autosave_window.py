"""The painted masks survive a crash: saved after edits, offered back at the next start (docs/design.md, Target masks and the canvas).

The last test kills a real GUI process (SIGKILL, no chance to clean up) after it painted,
then starts a window in this process and restores what it painted.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QLockFile
from PySide6.QtWidgets import QPushButton

from segattack_gui.demo import DEMOS
from segattack_gui.gui.masks.autosaver import RESTORED_ORIGIN
from segattack_gui.io.autosave import MaskAutosave, saved_slots, slot_name
from segattack_gui.io.hashing import sha256_file
from tests.gui.conftest import CanvasMouse
from tests.gui.window_fixtures import record_dialogs, wait_until_idle

REPOSITORY = Path(__file__).resolve().parents[2]
DEMO_SHAPE = (256, 256)


def paint_stroke(window, points, label=1, layer="target", tool="brush"):
    """A real stroke on the window's canvas (press, moves, release)."""
    canvas = window.canvas
    canvas.set_active_layer(layer)
    canvas.set_tool(tool)
    canvas.set_brush_size(9)
    if layer == "target":
        canvas.set_current_label(label)
    CanvasMouse(canvas).drag(points, steps=4)


def saved_record(qtbot, window):
    """Wait for the next autosave write and read back what it holds."""
    with qtbot.waitSignal(window.autosaver.saved, timeout=10_000):
        pass
    return MaskAutosave(window.autosaver.folder, window.autosaver.path.name).load()


def crashed_slot(folder: Path, demo_root: Path, target: np.ndarray, region: np.ndarray, owner="99999",
                 image_sha256=None):
    """What a window that died without closing leaves behind: a slot, and no live lock on it."""
    image = DEMOS["fundus"].path("image", demo_root)
    store = MaskAutosave(folder, slot_name(owner))
    store.save(target, region, image_sha256 or sha256_file(image), image_path=str(image),
               model_path=str(DEMOS["fundus"].path("model", demo_root)))
    return store.path


def answer_restore(qtbot, window, button: str) -> None:
    dialog = window.autosaver.dialog
    assert dialog is not None
    qtbot.waitUntil(dialog.isVisible, timeout=5_000)
    dialog.findChild(QPushButton, button).click()


def new_window(qtbot, demo_root, folder, monkeypatch, errors):
    from segattack_gui.gui.main_window import MainWindow

    window = MainWindow(demo="fundus", demo_root=demo_root, autosave_folder=folder)
    record_dialogs(window, monkeypatch, errors)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    return window


def test_painting_is_saved_soon_after_the_stroke(qtbot, window):
    assert not window.autosaver.path.exists()  # the demo's own target is a file: nothing to keep
    paint_stroke(window, [(100, 100), (160, 120)], label=1)
    record = saved_record(qtbot, window)
    assert np.array_equal(record.target, window.target_mask())
    assert record.target[110, 130] == 1
    assert record.region.all()
    assert record.image_sha256 == window.document.image_sha256
    assert Path(record.image_path).name == "fundus_demo.png" and Path(record.model_path).name == "fundus_unet.pt"
    paint_stroke(window, [(40, 200), (90, 220)], layer="region", tool="eraser")  # this part may not change
    record = saved_record(qtbot, window)
    assert not record.region.all() and np.array_equal(record.region, window.canvas.region_mask())


def test_a_clean_close_leaves_nothing_to_restore(qtbot, window):
    paint_stroke(window, [(100, 100), (160, 120)])
    saved_record(qtbot, window)
    folder = window.autosaver.folder
    window.close()
    assert saved_slots(folder) == []


def test_a_crashed_windows_masks_are_offered_and_restored(qtbot, demo_root, tmp_path, monkeypatch, errors,
                                                          isolated_settings):
    folder = tmp_path / "autosave"
    target = np.zeros(DEMO_SHAPE, np.uint8)
    target[50:120, 100:200] = 2
    region = np.zeros_like(target, bool)
    region[:150] = True
    slot = crashed_slot(folder, demo_root, target, region)
    window = new_window(qtbot, demo_root, folder, monkeypatch, errors)
    answer_restore(qtbot, window, "restoreButton")
    wait_until_idle(qtbot, window)
    assert np.array_equal(window.target_mask(), target)
    assert np.array_equal(window.canvas.region_mask(), region)
    assert window.document.target_origin == RESTORED_ORIGIN
    assert not slot.exists()  # taken over by this window's own slot
    assert not errors.messages


def test_discarding_removes_the_slot_and_keeps_the_demo(qtbot, demo_root, tmp_path, monkeypatch, errors,
                                                        isolated_settings):
    folder = tmp_path / "autosave"
    slot = crashed_slot(folder, demo_root, np.ones(DEMO_SHAPE, np.uint8), np.ones(DEMO_SHAPE, bool))
    window = new_window(qtbot, demo_root, folder, monkeypatch, errors)
    answer_restore(qtbot, window, "discardButton")
    wait_until_idle(qtbot, window)
    assert not slot.exists()
    assert window.document.target_path is not None  # still the demo's target file
    assert window.target_mask().max() == 2 and window.target_mask().min() == 0


def test_a_slot_of_a_window_still_open_is_not_offered(qtbot, demo_root, tmp_path, monkeypatch, errors,
                                                      isolated_settings):
    folder = tmp_path / "autosave"
    slot = crashed_slot(folder, demo_root, np.ones(DEMO_SHAPE, np.uint8), np.ones(DEMO_SHAPE, bool))
    other_window = QLockFile(str(slot.with_suffix(".lock")))
    assert other_window.tryLock(0)
    try:
        window = new_window(qtbot, demo_root, folder, monkeypatch, errors)
        assert window.autosaver.dialog is None
        assert slot.exists()
    finally:
        other_window.unlock()


def test_masks_painted_on_a_changed_image_are_not_applied(qtbot, demo_root, tmp_path, monkeypatch, errors,
                                                          isolated_settings):
    folder = tmp_path / "autosave"
    crashed_slot(folder, demo_root, np.ones(DEMO_SHAPE, np.uint8), np.ones(DEMO_SHAPE, bool),
                 image_sha256="0" * 64)
    window = new_window(qtbot, demo_root, folder, monkeypatch, errors)
    answer_restore(qtbot, window, "restoreButton")
    wait_until_idle(qtbot, window)
    assert any("has changed since the masks were painted" in message for message in errors.messages)
    assert window.document.target_path is not None  # the demo's target stays


CHILD = textwrap.dedent("""
    import os, sys, time
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from pathlib import Path
    import numpy as np
    from PySide6.QtCore import QCoreApplication, QEventLoop, QTimer
    from segattack_gui.gui.app import create_application
    from segattack_gui.gui.main_window import MainWindow
    from tests.gui.conftest import CanvasMouse

    folder = Path(sys.argv[1])
    app = create_application([])
    window = MainWindow(demo="fundus", autosave_folder=folder)
    window.show()

    def wait(milliseconds):
        loop = QEventLoop(); timer = QTimer(); timer.setSingleShot(True)
        timer.timeout.connect(loop.quit); timer.start(milliseconds); loop.exec()

    while window.busy:
        wait(50)
    window.canvas.set_tool("brush"); window.canvas.set_brush_size(15); window.canvas.set_current_label(1)
    CanvasMouse(window.canvas).drag([(60, 60), (150, 90), (200, 200)], steps=6)
    saved = []
    window.autosaver.saved.connect(saved.append)
    while not saved:
        wait(50)
    np.save(folder.parent / "painted.npy", window.target_mask())
    print("SAVED", flush=True)
    while True:  # a window in use, until it is killed
        wait(1000)
""")


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_killed_gui_process_loses_no_painting(qtbot, demo_root, tmp_path, monkeypatch, errors,
                                              isolated_settings):
    folder = tmp_path / "autosave"
    environment = dict(os.environ, PYTHONPATH=str(REPOSITORY), XDG_CONFIG_HOME=str(tmp_path / "config"))
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(folder)], cwd=REPOSITORY, env=environment,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        line = ""
        while "SAVED" not in line and time.monotonic() < deadline and child.poll() is None:
            line = child.stdout.readline()
        assert "SAVED" in line, child.stderr.read() if child.poll() is not None else "the child never saved"
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)
    painted = np.load(tmp_path / "painted.npy")
    assert (painted == 1).sum() > 1000  # the stroke is in it
    assert len(saved_slots(folder)) == 1
    window = new_window(qtbot, demo_root, folder, monkeypatch, errors)
    answer_restore(qtbot, window, "restoreButton")
    wait_until_idle(qtbot, window)
    assert np.array_equal(window.target_mask(), painted)
    assert not errors.messages


def test_closing_the_window_or_the_question_unanswered_keeps_the_masks_for_later(
        qtbot, demo_root, tmp_path, monkeypatch, errors, isolated_settings):
    folder = tmp_path / "autosave"
    slot = crashed_slot(folder, demo_root, np.ones(DEMO_SHAPE, np.uint8), np.ones(DEMO_SHAPE, bool))
    window = new_window(qtbot, demo_root, folder, monkeypatch, errors)
    qtbot.waitUntil(window.autosaver.dialog.isVisible, timeout=5_000)
    window.autosaver.dialog.reject()  # Esc: no answer
    assert slot.exists()
    window.close()
    assert slot.exists()
    second = new_window(qtbot, demo_root, folder, monkeypatch, errors)  # asked again
    qtbot.waitUntil(second.autosaver.dialog.isVisible, timeout=5_000)
    second.close()  # closing with the question open
    assert slot.exists()


def test_two_crashed_windows_are_offered_one_per_start_newest_first(
        qtbot, demo_root, tmp_path, monkeypatch, errors, isolated_settings):
    folder = tmp_path / "autosave"
    older = crashed_slot(folder, demo_root, np.ones(DEMO_SHAPE, np.uint8), np.ones(DEMO_SHAPE, bool), owner="1")
    os.utime(older, (1_000_000, 1_000_000))
    newer = crashed_slot(folder, demo_root, np.full(DEMO_SHAPE, 2, np.uint8), np.ones(DEMO_SHAPE, bool), owner="2")
    window = new_window(qtbot, demo_root, folder, monkeypatch, errors)
    answer_restore(qtbot, window, "restoreButton")
    wait_until_idle(qtbot, window)
    assert (window.target_mask() == 2).all() and not newer.exists() and older.exists()
    window.close()
    window = new_window(qtbot, demo_root, folder, monkeypatch, errors)
    answer_restore(qtbot, window, "restoreButton")
    wait_until_idle(qtbot, window)
    assert (window.target_mask() == 1).all() and not older.exists()


def test_masks_whose_image_file_is_gone_say_so(qtbot, demo_root, tmp_path, monkeypatch, errors, isolated_settings):
    folder = tmp_path / "autosave"
    store = MaskAutosave(folder, slot_name("77777"))
    store.save(np.ones(DEMO_SHAPE, np.uint8), np.ones(DEMO_SHAPE, bool), "0" * 64,
               image_path=str(tmp_path / "moved away.png"))
    window = new_window(qtbot, demo_root, folder, monkeypatch, errors)
    answer_restore(qtbot, window, "restoreButton")
    wait_until_idle(qtbot, window)
    assert len(errors.messages) == 1 and "moved away.png" in errors.messages[0] and "missing" in errors.messages[0]
    assert window.document.target_path is not None


def test_restoring_reopens_the_image_the_masks_were_painted_on(qtbot, demo_root, tmp_path, monkeypatch, errors,
                                                               isolated_settings):
    from PIL import Image

    other = tmp_path / "other eye.png"
    pixels = np.asarray(Image.open(DEMOS["fundus"].path("image", demo_root)).convert("RGB"))
    Image.fromarray(np.ascontiguousarray(pixels[:, ::-1])).save(other)  # the demo, mirrored
    target = np.zeros(DEMO_SHAPE, np.uint8)
    target[100:140, 30:90] = 1
    folder = tmp_path / "autosave"
    store = MaskAutosave(folder, slot_name("88888"))
    store.save(target, np.ones(DEMO_SHAPE, bool), sha256_file(other), image_path=str(other),
               model_path=str(DEMOS["fundus"].path("model", demo_root)))
    window = new_window(qtbot, demo_root, folder, monkeypatch, errors)
    answer_restore(qtbot, window, "restoreButton")
    wait_until_idle(qtbot, window)
    assert window.document.image.path == other
    assert np.array_equal(window.target_mask(), target) and not errors.messages
