"""The live views' display grid: large images reduced for drawing, coordinates kept (no Qt needed)."""

from __future__ import annotations

import numpy as np

from segattack_gui.core.models import OutputGrid
from segattack_gui.core.results import Snapshot
from segattack_gui.io.figures import VOID_CLASS
from segattack_gui.workspace.display_grid import DISPLAY_MAX_SIDE, DisplayGrid


def test_small_images_are_shown_as_they_are():
    grid = DisplayGrid.for_image(428, 569)
    assert grid.factor == 1 and grid.shape == (428, 569)
    pixels = np.random.default_rng(0).random((428, 569, 3), dtype=np.float32)
    assert np.array_equal(grid.image(pixels), pixels) and np.array_equal(grid.labels(pixels[..., 0] > 0.5),
                                                                          pixels[..., 0] > 0.5)


def test_large_images_shrink_by_a_whole_factor_to_the_display_size():
    grid = DisplayGrid.for_image(2048, 1536)
    assert grid.factor == 4 and grid.shape == (512, 384)
    assert max(DisplayGrid.for_image(4000, 3000).shape) <= DISPLAY_MAX_SIDE
    assert DisplayGrid.for_image(641, 10).shape == (321, 5)  # ceil: no image row is dropped


def test_images_are_area_averaged_and_channels_kept():
    grid = DisplayGrid(4, 6, 2)
    pixels = np.zeros((4, 6, 1), np.float32)
    pixels[0, 0] = 1.0  # one bright pixel of a 2 x 2 block
    reduced = grid.image(pixels)
    assert reduced.shape == (2, 3, 1)
    assert reduced[0, 0, 0] == 0.25 and reduced.sum() == 0.25  # the average a viewer would see
    rgb = np.random.default_rng(1).random((4, 6, 3), dtype=np.float32)
    expected = rgb.reshape(2, 2, 3, 2, 3).mean(axis=(1, 3))
    assert np.allclose(grid.image(rgb), expected, atol=1e-6)


def test_class_ids_are_never_blended_and_the_prediction_is_void_outside_the_output():
    grid = DisplayGrid(8, 8, 2)
    ids = np.zeros((8, 8), np.uint8)
    ids[:, 4:] = 2
    reduced = grid.labels(ids)
    assert reduced.shape == (4, 4) and set(np.unique(reduced)) == {0, 2}
    assert (reduced[:, 2:] == 2).all() and (reduced[:, :2] == 0).all()
    prediction = np.ones((4, 4), np.uint8)  # a valid-convolution model: output only in the centre
    shown = grid.prediction(prediction, OutputGrid(2, 2, 4, 4))
    assert shown.shape == (4, 4)
    assert (shown[1:3, 1:3] == 1).all() and (shown[0] == VOID_CLASS).all() and (shown[:, 3] == VOID_CLASS).all()


def test_a_snapshot_is_reduced_and_keeps_its_numbers():
    grid = DisplayGrid(8, 8, 2)
    history = {"iou": np.array([0.1, 0.4]), "iteration": np.arange(2)}
    snapshot = Snapshot(1, 10, np.full((8, 8, 3), 0.5, np.float32), np.ones((8, 8), np.uint8), history, 0.2)
    shown = grid.snapshot(snapshot, OutputGrid(0, 0, 8, 8))
    assert shown.adversarial.shape == (4, 4, 3) and shown.prediction.shape == (4, 4)
    assert shown.iteration == 1 and shown.metrics["iou"] == 0.4 and shown.elapsed == 0.2
