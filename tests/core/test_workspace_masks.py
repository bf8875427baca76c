"""The window's Qt-free mask model: shape rasterisation, layers, patch-based history, revisions and sources."""

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
    layers.paint(0, 0, np.ones((8, 8), bool), True)
    assert layers.cancel() == (0, 0, 8, 8) and not layers.region.any() and layers.region_limit() is None
    assert len(layers.history) == 1
    layers.undo()
    assert not layers.target.any()
    layers.redo()
    assert np.count_nonzero(layers.target == 3) == 7


def test_replace_checks_shape_and_skips_no_ops():
    layers = MaskLayers((4, 4))
    with pytest.raises(ValueError):
        layers.replace("target", np.zeros((3, 3)))
    assert layers.replace("region", np.zeros((4, 4), bool)) is None and layers.set_region_limit(None) is None
    assert not layers.history.can_undo()
    with pytest.raises(RuntimeError):
        layers.paint(0, 0, np.ones((1, 1), bool), 1)


# --- one owner: revisions, listeners and where each layer came from ----------------------------------


def test_every_finished_change_bumps_its_layers_revision_and_tells_listeners_once():
    layers = MaskLayers((6, 6))
    heard = []
    layers.subscribe(lambda layer, box: heard.append((layer, box)))
    start = dict(layers.revision)
    layers.begin("target")
    layers.paint(1, 1, np.ones((2, 2), bool), 2)
    layers.paint(2, 2, np.ones((2, 2), bool), 2)
    assert heard == [] and layers.revision == start  # nothing until the stroke ends
    layers.finish()
    assert heard == [("target", (1, 1, 4, 4))] and layers.revision["target"] == start["target"] + 1
    layers.replace("target", layers.target.copy())  # no change: no revision, no call
    assert len(heard) == 1
    layers.undo()
    layers.redo()
    assert [layer for layer, _ in heard] == ["target"] * 3 and layers.revision["target"] == start["target"] + 3
    assert layers.revision["region"] == start["region"]
    layers.reset((4, 4))
    assert heard[-2:] == [("target", None), ("region", None)] and not layers.history.can_undo()


def test_region_limit_none_until_painted_and_all_true_means_no_limit():
    layers = MaskLayers((5, 5))
    assert layers.region_limit() is None
    allowed = np.zeros((5, 5), bool)
    allowed[1:3, 1:3] = True
    layers.set_region_limit(allowed)
    assert np.array_equal(layers.region_limit(), allowed)
    layers.set_region_limit(np.ones((5, 5), bool))
    assert layers.region_limit() is None and not layers.region.any()
    layers.undo()
    assert np.array_equal(layers.region_limit(), allowed)


def test_a_layer_keeps_its_file_only_while_it_is_unchanged():
    from segattack_gui.workspace.painted_masks import PaintedMasks

    masks = PaintedMasks((4, 4))
    assert masks.unsaved_layers() == [] and masks.source("target").origin == "empty"
    read = np.zeros((4, 4), np.uint8)
    read[0, 0] = 1
    masks.replace("target", read, "class ids", "/data/t.png", "abc")
    assert masks.source("target").path == "/data/t.png" and masks.unsaved_layers() == []
    assert masks.rule("target") == "read from file (class ids)"
    masks.layers.begin("target")
    masks.layers.paint(2, 2, np.ones((1, 1), bool), 1)
    masks.layers.finish()
    assert masks.source("target").origin == "painted" and masks.source("target").path is None
    assert masks.unsaved_layers() == ["target"]
    masks.layers.undo()  # back to the file's pixels, but by an edit: still counted as painted (conservative)
    assert masks.unsaved_layers() == ["target"]
    masks.note_saved("target", "/data/mine.png", "def")
    assert masks.unsaved_layers() == [] and masks.rule("target") == "painted, saved to the target file"
    region = np.zeros((4, 4), bool)
    region[:2] = True
    masks.replace("region", region, "painted")
    assert masks.unsaved_layers() == ["region"]
    before = masks.revisions()
    masks.start_over((3, 3))
    assert masks.unsaved_layers() == [] and masks.shape == (3, 3) and masks.revisions() != before
    assert masks.source("target").origin == "empty" and not masks.layers.history.can_undo()


def test_label_table_edits_are_new_tables():
    from segattack_gui.workspace.labels import LabelTable

    table = LabelTable.of(["background", "disc"], [(0, 0, 0), (255, 0, 0)])
    added = table.added()
    assert added.names == ("background", "disc", "label 2") and len(table) == 2
    renamed = added.renamed(2, " cup ").recoloured(2, (1, 2, 3)).with_hidden(1, True)
    assert renamed.names[2] == "cup" and renamed.colors[2] == (1, 2, 3) and renamed.hidden == {1}
    assert renamed.with_hidden(1, False).hidden == frozenset()
    with pytest.raises(ValueError):
        table.renamed(5, "x")
    with pytest.raises(ValueError):
        table.renamed(1, "  ")
