"""A large image in the window: live frames are reduced for drawing, coordinates and exports are not."""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image
from PySide6.QtCore import QRectF

from segattack_gui.demo import DEMOS
from segattack_gui.workspace.display_grid import DisplayGrid
from tests.gui.window_fixtures import GapMeter, run_and_wait, wait_until_idle

HEIGHT, WIDTH = 1024, 1280  # the demo U-Net takes multiples of 8


def large_demo_pair(demo_root, folder):
    """The demo image and target scaled up to HEIGHT x WIDTH (the demo model is fully convolutional)."""
    image = np.asarray(Image.open(DEMOS["fundus"].path("image", demo_root)).convert("RGB"))
    target = np.asarray(Image.open(DEMOS["fundus"].path("target", demo_root)))
    image_path, target_path = folder / "large.png", folder / "large_target.png"
    Image.fromarray(cv2.resize(image, (WIDTH, HEIGHT), interpolation=cv2.INTER_CUBIC)).save(image_path)
    Image.fromarray(cv2.resize(target, (WIDTH, HEIGHT), interpolation=cv2.INTER_NEAREST)).save(target_path)
    return image_path, target_path


def test_large_image_runs_with_reduced_live_frames_and_full_size_exports(qtbot, window, demo_root, tmp_path,
                                                                          errors):
    image_path, target_path = large_demo_pair(demo_root, tmp_path)
    window.open_image(image_path)
    window.open_target(target_path)
    wait_until_idle(qtbot, window)
    assert window.target_mask().shape == (HEIGHT, WIDTH) and not errors.messages
    window.panel.apply_settings(stop_iou=None)
    meter = GapMeter()
    meter.start()
    result = run_and_wait(qtbot, window, iterations=2, timeout_ms=300_000)
    meter.stop()
    assert result is not None and result.adversarial.shape == (HEIGHT, WIDTH, 3)
    display = DisplayGrid.for_image(HEIGHT, WIDTH)
    assert display.factor == 2
    for view in (window.live_views.adversarial_view, window.live_views.prediction_view,
                 window.live_views.heatmap_view):
        item = view.image_item
        assert item.image.shape[:2] == display.shape, view.objectName()
        # Stretched over the image's own extent: a point of the view is a pixel of the image.
        assert item.mapRectToParent(item.boundingRect()) == QRectF(0, 0, WIDTH, HEIGHT), view.objectName()
    codes = window.live_views.prediction_view.codes
    assert codes.shape == display.shape and codes.any()
    # Our own work in the GUI thread never held the event loop for long (docs/design.md: no stall > 50 ms).
    assert max(meter.busy) < 0.05, f"GUI thread busy {1000 * max(meter.busy):.0f} ms between two ticks"
    folder = tmp_path / "run"
    with qtbot.waitSignal(window.export_finished, timeout=120_000):
        window.export_results(folder)
    assert Image.open(folder / "adversarial.png").size == (WIDTH, HEIGHT)
    assert np.load(folder / "adversarial.npy").shape == (HEIGHT, WIDTH, 3)
