"""Target-mask operations checked against hand-made arrays and independent computations."""

from __future__ import annotations

from collections import deque

import numpy as np
import pytest

from segattack_gui.core import masks


def square(size=20, top=5, left=7, side=4, class_id=1, dtype=np.uint8):
    mask = np.zeros((size, size), dtype=dtype)
    mask[top : top + side, left : left + side] = class_id
    return mask


def bbox(mask):
    ys, xs = np.nonzero(mask)
    return ys.min(), ys.max(), xs.min(), xs.max()


def bfs_fill(mask, y, x, value):
    """Reference flood fill: plain breadth-first search, one pixel at a time."""
    out = mask.copy()
    old = mask[y, x]
    if old == value:
        return out
    seen = np.zeros(mask.shape, bool)
    queue = deque([(y, x)])
    seen[y, x] = True
    while queue:
        r, c = queue.popleft()
        out[r, c] = value
        for nr, nc in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)):
            if 0 <= nr < mask.shape[0] and 0 <= nc < mask.shape[1] and not seen[nr, nc] and mask[nr, nc] == old:
                seen[nr, nc] = True
                queue.append((nr, nc))
    return out


# --- shift ---------------------------------------------------------------------------


def test_shift_moves_bounding_box_and_keeps_dtype():
    mask = square()
    moved = masks.shift(mask, 3, -2)
    assert bbox(moved) == (8, 11, 5, 8)
    assert moved.sum() == mask.sum()
    assert moved.dtype == mask.dtype
    assert bbox(mask) == (5, 8, 7, 10), "input must not be modified"


def test_shift_does_not_wrap_around():
    mask = square(size=10, top=0, left=8, side=2)
    moved = masks.shift(mask, 0, 1)
    assert moved[:, 0].sum() == 0  # nothing wrapped to the left edge
    assert np.count_nonzero(moved) == 2  # half of the square left the image
    assert masks.shift(mask, 0, 50).sum() == 0


def test_shift_fill_value():
    mask = np.ones((4, 4), np.uint8)
    moved = masks.shift(mask, -1, 0, fill=2)
    assert (moved[-1] == 2).all() and (moved[:-1] == 1).all()


# --- scale ---------------------------------------------------------------------------


def test_scale_doubles_square_about_its_centre():
    mask = square(size=40, top=16, left=16, side=8)  # centre (19.5, 19.5)
    bigger = masks.scale(mask, 2.0)
    top, bottom, left, right = bbox(bigger)
    assert (bottom - top + 1, right - left + 1) == (16, 16)
    assert ((top + bottom) / 2, (left + right) / 2) == (19.5, 19.5)
    assert np.count_nonzero(bigger) == 256


def test_scale_shrinks_and_keeps_classes_unblended():
    mask = square(size=40, top=10, left=10, side=20, class_id=2)
    mask[15:20, 15:20] = 1
    smaller = masks.scale(mask, 0.5)
    assert set(np.unique(smaller)) == {0, 1, 2}
    top, bottom, left, right = bbox(smaller)
    assert bottom - top + 1 == 10 and right - left + 1 == 10


def test_scale_about_given_centre_moves_shape():
    mask = square(size=40, top=10, left=10, side=2)
    out = masks.scale(mask, 2.0, centre=(0.0, 0.0))
    # Pixels 10..11 span [9.5, 11.5]; doubled about 0 that is [19, 23]: pixels 19..22.
    assert bbox(out) == (19, 22, 19, 22)


def test_scale_rejects_non_positive_factor():
    with pytest.raises(ValueError):
        masks.scale(square(), 0)


# --- rotate --------------------------------------------------------------------------


def test_rotate_90_about_image_centre_equals_rot90():
    rng = np.random.default_rng(1)
    mask = rng.integers(0, 3, size=(15, 15)).astype(np.uint8)
    centre = (7.0, 7.0)
    assert np.array_equal(masks.rotate(mask, 90, centre=centre), np.rot90(mask, 1))
    assert np.array_equal(masks.rotate(mask, -90, centre=centre), np.rot90(mask, -1))
    assert np.array_equal(masks.rotate(mask, 180, centre=centre), np.rot90(mask, 2))


def test_rotate_centred_l_shape_about_foreground_centre():
    mask = np.zeros((21, 21), np.uint8)
    mask[6:15, 6:9] = 1  # vertical bar
    mask[12:15, 6:15] = 2  # foot: the shape's bounding box is centred on (10, 10)
    assert np.array_equal(masks.rotate(mask, 90), np.rot90(mask, 1))


def test_rotate_360_is_identity_and_45_keeps_area_roughly():
    mask = square(size=41, top=12, left=12, side=17)
    assert np.array_equal(masks.rotate(mask, 360), mask)
    turned = masks.rotate(mask, 45)
    assert abs(np.count_nonzero(turned) - 17 * 17) < 0.1 * 17 * 17


# --- morphology ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "radius",
    [0, 1, 2, 3, 5, 8],
)
def test_dilate_single_pixel_gives_disk(radius):
    mask = np.zeros((31, 31), np.uint8)
    mask[15, 15] = 1
    out = masks.dilate(mask, 1, radius)
    ys, xs = np.indices(mask.shape)
    expected = (ys - 15) ** 2 + (xs - 15) ** 2 <= radius**2
    assert np.array_equal(out == 1, expected)


def test_dilate_known_areas():
    mask = np.zeros((21, 21), np.uint8)
    mask[10, 10] = 3
    # Gauss circle problem: lattice points with y^2 + x^2 <= r^2.
    assert [np.count_nonzero(masks.dilate(mask, 3, r)) for r in (1, 2, 3)] == [5, 13, 29]


def test_dilate_grows_into_the_background_only():
    mask = np.zeros((10, 10), np.uint8)
    mask[:, 5:] = 2
    mask[5, 3] = 1
    out = masks.dilate(mask, 1, 2)
    assert out[5, 4] == 1 and out[5, 5] == 2 and out[5, 0] == 0  # class 2 is left as it was
    assert out[3, 3] == 1 and out[2, 3] == 0
    assert np.array_equal(out == 2, mask == 2)


def nested_disc_and_cup() -> np.ndarray:
    """An optic disc (1) of radius 10 around a cup (2) of radius 4, as fundus targets are."""
    ys, xs = np.indices((41, 41))
    distance = np.hypot(ys - 20, xs - 20)
    mask = np.zeros((41, 41), np.uint8)
    mask[distance <= 10] = 1
    mask[distance <= 4] = 2
    return mask


def test_the_cup_grows_into_the_rim_and_shrinks_back_into_it():
    """Changing the cup-to-disc ratio: the cup grows over the disc (a lower id), and the pixels it
    gives up go back to the disc, not to the background."""
    mask = nested_disc_and_cup()
    grown = masks.dilate(mask, 2, 3)
    assert np.count_nonzero(grown == 2) > np.count_nonzero(mask == 2)
    assert np.array_equal(grown > 0, mask > 0)  # still inside the disc's outline, no background touched
    shrunk = masks.erode(mask, 2, 2)
    assert 0 < np.count_nonzero(shrunk == 2) < np.count_nonzero(mask == 2)
    assert np.array_equal(shrunk > 0, mask > 0)  # freed cup pixels became disc, not background


@pytest.mark.parametrize("radius", [40, 41, 300])
def test_a_radius_beyond_the_image_is_no_error(radius):
    mask = nested_disc_and_cup()  # 41 x 41
    assert (masks.dilate(mask, 1, radius) >= 1).all()
    assert (masks.erode(mask, 1, radius) != 1).all()


def test_a_disc_grown_or_shrunk_around_its_cup_keeps_the_cup():
    mask = nested_disc_and_cup()
    for changed in (masks.dilate(mask, 1, 3), masks.erode(mask, 1, 3)):
        assert np.array_equal(changed == 2, mask == 2)  # the cup, untouched
        ring = outer_ring(mask == 2)
        assert (changed[ring] == 1).all()  # and still wrapped in disc: no background gap around it
    assert np.count_nonzero(masks.dilate(mask, 1, 3) == 1) > np.count_nonzero(mask == 1)
    assert np.count_nonzero(masks.erode(mask, 1, 3) == 1) < np.count_nonzero(mask == 1)


def outer_ring(region: np.ndarray) -> np.ndarray:
    """The pixels just outside ``region`` (4-neighbours)."""
    grown = region.copy()
    grown[1:] |= region[:-1]
    grown[:-1] |= region[1:]
    grown[:, 1:] |= region[:, :-1]
    grown[:, :-1] |= region[:, 1:]
    return grown & ~region


def test_erode_is_inverse_of_dilate_on_a_disk():
    mask = np.zeros((41, 41), np.uint8)
    mask[20, 20] = 1
    disk = masks.dilate(mask, 1, 6)
    shrunk = masks.erode(disk, 1, 6)
    assert np.array_equal(shrunk, mask)


def test_erode_frees_pixels_to_background_and_ignores_image_edge():
    mask = np.zeros((12, 12), np.uint8)
    mask[:, :6] = 1  # touches the left, top and bottom edges
    out = masks.erode(mask, 1, 2)
    assert (out[:, :4] == 1).all()  # no shrinking away from the image edge
    assert (out[:, 4:] == 0).all()


def test_erase_class():
    mask = np.array([[0, 1, 2], [2, 1, 0]], np.uint8)
    assert np.array_equal(masks.erase_class(mask, 1), [[0, 0, 2], [2, 0, 0]])
    assert np.array_equal(mask, [[0, 1, 2], [2, 1, 0]])


# --- flood fill ----------------------------------------------------------------------


def test_flood_fill_stops_at_boundary():
    mask = np.zeros((10, 10), np.uint8)
    mask[2, 2:8] = 1
    mask[7, 2:8] = 1
    mask[2:8, 2] = 1
    mask[2:8, 7] = 1  # closed square outline
    out = masks.flood_fill(mask, 4, 4, 2)
    assert np.count_nonzero(out == 2) == 16  # the 4 x 4 interior
    assert (out[3:7, 3:7] == 2).all()
    assert out[0, 0] == 0 and np.count_nonzero(out == 1) == np.count_nonzero(mask == 1)


def test_flood_fill_is_four_connected():
    mask = np.zeros((3, 3), np.uint8)
    mask[0, 0] = mask[1, 1] = 1  # touch only diagonally
    out = masks.flood_fill(mask, 0, 0, 2)
    assert out[0, 0] == 2 and out[1, 1] == 1


def test_flood_fill_same_value_and_outside_are_no_ops():
    mask = square()
    assert np.array_equal(masks.flood_fill(mask, 6, 8, 1), mask)
    assert np.array_equal(masks.flood_fill(mask, -1, 50, 2), mask)


@pytest.mark.parametrize("seed", range(5))
def test_flood_fill_matches_breadth_first_search(seed):
    rng = np.random.default_rng(seed)
    mask = rng.integers(0, 2, size=(40, 37)).astype(np.uint8)
    y, x = int(rng.integers(0, 40)), int(rng.integers(0, 37))
    assert np.array_equal(masks.flood_fill(mask, y, x, 5), bfs_fill(mask, y, x, 5))


def test_flood_fill_serpentine_maze_is_fast_and_complete():
    import time

    maze = np.zeros((1024, 1024), np.uint8)
    maze[:, 1::2] = 1  # walls every other column ...
    maze[0, 1::4] = 0  # ... with gaps alternating top and bottom: one long corridor
    maze[-1, 3::4] = 0
    start = time.perf_counter()
    out = masks.flood_fill(maze, 0, 0, 2)
    elapsed = time.perf_counter() - start
    assert np.count_nonzero(out == 2) == np.count_nonzero(maze == 0)
    assert elapsed < 3.0
