"""The canvas's Qt-free parts: shape rasterisation, layers and patch-based history."""

from __future__ import annotations

import numpy as np
import pytest

from segattack_gui.workspace import shape_raster
from segattack_gui.workspace.mask_history import LayerEdit, MaskHistory
from segattack_gui.workspace.mask_layers import MaskLayers


def place(shape, patch):
    out = np.zeros(shape, bool)
    if patch is not None:
        top, left, pixels = patch
        out[top : top + pixels.shape[0], left : left + pixels.shape[1]] = pixels
    return out


# --- shape rasterisation -----------------------------------------------------------------------


def test_segment_is_a_capsule():
    mask = place((20, 30), shape_raster.stroke_segment((20, 30), (10, 5), (10, 20), 2.0))
    ys, xs = np.indices(mask.shape)
    expected = (np.abs(ys - 10) <= 2) & (xs >= 5) & (xs <= 20)
    expected |= (ys - 10) ** 2 + (xs - 5) ** 2 <= 4
    expected |= (ys - 10) ** 2 + (xs - 20) ** 2 <= 4
    assert np.array_equal(mask, expected)


def test_shapes_are_clipped_to_the_image():
    assert shape_raster.stroke_segment((10, 10), (-20, -20), (-15, -15), 2) is None
    top, left, patch = shape_raster.rectangle((10, 10), (-5, -5), (3, 20))
    assert (top, left, patch.shape) == (0, 0, (4, 10))


def test_polygon_square_even_odd_and_outline():
    square = place((12, 12), shape_raster.polygon((12, 12), [(2, 2), (2, 8), (8, 8), (8, 2)]))
    expected = np.zeros((12, 12), bool)
    expected[2:9, 2:9] = True
    assert np.array_equal(square, expected)


def test_polygon_concave_shape():
    # A "U": the notch between the arms stays empty.
    points = [(0, 0), (0, 3), (6, 3), (6, 6), (0, 6), (0, 9), (9, 9), (9, 0)]
    mask = place((10, 10), shape_raster.polygon((10, 10), points))
    assert mask[8, 1] and mask[1, 1] and mask[1, 8]
    assert not mask[2, 4] and not mask[5, 5] and mask[7, 4]


def test_polygon_with_too_few_points_is_its_outline():
    mask = place((10, 10), shape_raster.polygon((10, 10), [(5, 1), (5, 8)]))
    assert np.array_equal(np.argwhere(mask), [[5, x] for x in range(1, 9)])


# --- history --------------------------------------------------------------------------------------


def test_edit_between_keeps_only_the_changed_box():
    old = np.zeros((50, 60), np.uint8)
    new = old.copy()
    new[10:13, 20:25] = 2
    edit = LayerEdit.between("target", old, new)
    assert edit.box == (10, 20, 13, 25) and edit.before.shape == (3, 5)
    assert LayerEdit.between("target", old, old.copy()) is None


def test_history_is_bounded_by_levels_and_bytes():
    history = MaskHistory(max_levels=3, max_bytes=10**6)
    patches = [LayerEdit("target", i, 0, np.zeros((1, 1), np.uint8), np.ones((1, 1), np.uint8)) for i in range(5)]
    for edit in patches:
        history.push(edit)
    assert len(history) == 3 and history.take_undo() is patches[-1]
    small = MaskHistory(max_levels=100, max_bytes=300)
    for _ in range(10):
        small.push(LayerEdit("target", 0, 0, np.zeros((10, 10), np.uint8), np.zeros((10, 10), np.uint8)))
    assert len(small) == 1


def test_layers_operation_undo_redo_and_cancel():
    layers = MaskLayers((8, 8))
    layers.begin("target")
    layers.paint(1, 1, np.ones((2, 2), bool), 3)
    layers.paint(2, 2, np.ones((2, 2), bool), 3)
    edit = layers.finish()
    assert edit.box == (1, 1, 4, 4) and np.count_nonzero(layers.target) == 7
    layers.begin("region")
    layers.paint(0, 0, np.ones((8, 8), bool), False)
    assert layers.cancel() == (0, 0, 8, 8) and layers.region.all()
    assert len(layers.history) == 1
    layers.undo()
    assert not layers.target.any()
    layers.redo()
    assert np.count_nonzero(layers.target == 3) == 7


def test_replace_checks_shape_and_skips_no_ops():
    layers = MaskLayers((4, 4))
    with pytest.raises(ValueError):
        layers.replace("target", np.zeros((3, 3)))
    assert layers.replace("region", np.ones((4, 4), bool)) is None
    assert not layers.history.can_undo()
    with pytest.raises(RuntimeError):
        layers.paint(0, 0, np.ones((1, 1), bool), 1)
