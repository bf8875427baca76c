"""The painting canvas driven by real mouse and key events; assertions on the painted pixels."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor
from PySide6.QtTest import QTest

from segattack_gui.core import masks

from .conftest import CLASS_COLOURS, IMAGE_SIZE, synthetic_image


def painted(canvas, label=1):
    return canvas.target_mask() == label


def distance_to_segment(shape, start, end):
    """Distance of every pixel centre (y, x) to the segment start-end (y, x); an independent check."""
    ys, xs = np.indices(shape, dtype=float)
    (ay, ax), (by, bx) = start, end
    dy, dx = by - ay, bx - ax
    t = np.clip(((ys - ay) * dy + (xs - ax) * dx) / max(dy * dy + dx * dx, 1e-12), 0, 1)
    return np.hypot(ys - (ay + t * dy), xs - (ax + t * dx))


# --- start-up state -------------------------------------------------------------------------


def test_starts_ready_to_paint_label_one(canvas):
    assert canvas.objectName() == "maskCanvas"
    assert canvas.tool() == "brush"
    assert canvas.current_label() == 1
    assert canvas.active_layer() == "target"
    target = canvas.target_mask()
    assert target.dtype == np.uint8 and target.shape == (IMAGE_SIZE, IMAGE_SIZE) and not target.any()
    region = canvas.region_mask()
    assert region.dtype == bool and region.all()
    assert not canvas.can_undo() and not canvas.can_redo()


def test_masks_are_copies(canvas):
    canvas.target_mask()[:] = 2
    canvas.region_mask()[:] = False
    assert not canvas.target_mask().any() and canvas.region_mask().all()


# --- brush and eraser ---------------------------------------------------------------------------


def test_brush_stroke_paints_label_along_path_only(canvas, mouse, qtbot):
    canvas.set_brush_size(3)
    with qtbot.waitSignal(canvas.targetChanged):
        mouse.drag([(10, 20), (25, 20), (40, 30)], steps=3)
    mask = painted(canvas)
    near = np.minimum(
        distance_to_segment(mask.shape, (20, 10), (20, 25)), distance_to_segment(mask.shape, (20, 25), (30, 40))
    )
    assert mask[near <= 1.0].all(), "every pixel on the path is painted"
    assert not mask[near > 2.0].any(), "nothing beyond the brush radius"
    assert not mask[50:, :].any() and mask[20, 10] and mask[30, 40]
    assert set(np.unique(canvas.target_mask())) == {0, 1}


def test_fast_move_leaves_no_gaps(canvas, mouse):
    canvas.set_brush_size(1)
    mouse.drag([(5, 5), (55, 45)], steps=1)  # one mouse move across the image
    mask = painted(canvas)
    assert mask[5, 5] and mask[45, 55]
    for x in range(5, 56):  # every column along the way has a painted pixel
        assert mask[:, x].any(), f"gap at column {x}"
    assert mask.sum() <= 80


def test_brush_dab_matches_disk(canvas, mouse):
    canvas.set_brush_size(9)
    mouse.click(30, 30)
    ys, xs = np.indices((IMAGE_SIZE, IMAGE_SIZE))
    assert np.array_equal(painted(canvas), (ys - 30) ** 2 + (xs - 30) ** 2 <= 4.5**2)


def test_eraser_clears_to_background(canvas, mouse):
    block = np.zeros((IMAGE_SIZE, IMAGE_SIZE), np.uint8)
    block[10:50, 10:50] = 2
    canvas.set_target(block)
    canvas.set_tool("eraser")
    canvas.set_brush_size(5)
    mouse.drag([(5, 30), (55, 30)], steps=4)
    target = canvas.target_mask()
    assert (target[30, 10:50] == 0).all() and (target[28:33, 10:50] == 0).all()
    assert (target[10:27, 10:50] == 2).all() and (target[34:50, 10:50] == 2).all()


def test_right_button_erases_with_the_brush(canvas, mouse):
    canvas.set_target(np.full((IMAGE_SIZE, IMAGE_SIZE), 1, np.uint8))
    canvas.set_brush_size(1)
    mouse.drag([(10, 10), (20, 10)], button=Qt.MouseButton.RightButton)
    assert (canvas.target_mask()[10, 10:21] == 0).all()
    assert canvas.target_mask().sum() == IMAGE_SIZE * IMAGE_SIZE - 11


def test_label_zero_paints_background_and_label_two_paints_two(canvas, mouse):
    canvas.set_current_label(2)
    canvas.set_brush_size(1)
    mouse.click(7, 8)
    assert canvas.target_mask()[8, 7] == 2
    canvas.set_current_label(0)
    mouse.click(7, 8)
    assert canvas.target_mask()[8, 7] == 0


# --- fill and shapes ----------------------------------------------------------------------------------


def test_fill_stops_at_boundaries(canvas, mouse):
    outline = np.zeros((IMAGE_SIZE, IMAGE_SIZE), np.uint8)
    outline[10, 10:31] = outline[30, 10:31] = 2
    outline[10:31, 10] = outline[10:31, 30] = 2
    canvas.set_target(outline)
    canvas.set_tool("fill")
    mouse.click(20, 20)
    target = canvas.target_mask()
    assert (target[11:30, 11:30] == 1).all()
    assert np.count_nonzero(target == 1) == 19 * 19
    assert np.array_equal(target == 2, outline == 2)
    assert target[5, 5] == 0 and target[40, 40] == 0


def test_fill_outside_fills_the_background_around(canvas, mouse):
    canvas.set_tool("fill")
    mouse.click(0, 0)
    assert painted(canvas).all()


def test_rectangle_by_drag(canvas, mouse):
    canvas.set_tool("rectangle")
    mouse.drag([(5, 6), (12, 10), (20, 15)], steps=2)
    expected = np.zeros((IMAGE_SIZE, IMAGE_SIZE), bool)
    expected[6:16, 5:21] = True
    assert np.array_equal(painted(canvas), expected)
    assert len(canvas.scene().items()) == 4, "the dashed preview is removed after the drag"


def test_ellipse_by_drag(canvas, mouse):
    canvas.set_tool("ellipse")
    mouse.drag([(40, 40), (20, 20)], steps=3)  # dragged up-left: same ellipse
    mask = painted(canvas)
    ys, xs = np.nonzero(mask)
    assert (ys.min(), ys.max(), xs.min(), xs.max()) == (20, 40, 20, 40)
    assert abs(mask.sum() - np.pi * 10.5**2) < 0.05 * np.pi * 10.5**2
    assert mask[30, 30] and not mask[20, 20] and not mask[40, 40]
    box = mask[20:41, 20:41]
    assert np.array_equal(box, box.T) and np.array_equal(box, box[::-1]) and np.array_equal(box, box[:, ::-1])


def test_polygon_by_clicks_and_double_click(canvas, mouse):
    canvas.set_tool("polygon")
    canvas.set_current_label(2)
    mouse.click(10, 10)
    mouse.click(50, 10)
    assert not canvas.target_mask().any(), "nothing is filled before the polygon is closed"
    mouse.double_click(10, 50)
    mask = canvas.target_mask() == 2
    # Right triangle with legs of 40 pixels between pixel centres: about 820 pixels with its outline.
    assert 780 <= mask.sum() <= 900
    assert mask[15, 15] and mask[12, 45] and mask[45, 12]
    assert not mask[40, 40] and not mask[5, 5]
    assert canvas.can_undo()
    canvas.undo()
    assert not canvas.target_mask().any(), "the whole polygon is one undo step"


def test_polygon_enter_closes_and_escape_cancels(canvas, mouse):
    canvas.set_tool("polygon")
    for x, y in [(5, 5), (25, 5), (25, 25), (5, 25)]:
        mouse.click(x, y)
    QTest.keyClick(canvas, Qt.Key.Key_Escape)
    QTest.keyClick(canvas, Qt.Key.Key_Return)
    assert not canvas.target_mask().any()
    for x, y in [(5, 5), (25, 5), (25, 25), (5, 25)]:
        mouse.click(x, y)
    QTest.keyClick(canvas, Qt.Key.Key_Return)
    expected = np.zeros((IMAGE_SIZE, IMAGE_SIZE), bool)
    expected[5:26, 5:26] = True
    assert np.array_equal(painted(canvas), expected)


def test_lasso_drag_fills_on_release(canvas, mouse):
    canvas.set_tool("polygon")
    ring = [(32 + 15 * np.cos(a), 32 + 15 * np.sin(a)) for a in np.linspace(0, 2 * np.pi, 40)]
    mouse.drag(ring, steps=1)
    mask = painted(canvas)
    assert abs(mask.sum() - np.pi * 15**2) < 0.1 * np.pi * 15**2
    assert mask[32, 32] and not mask[5, 5]


def test_shapes_on_region_layer_allow_and_right_button_forbids(canvas, mouse):
    canvas.set_active_layer("region")
    canvas.set_tool("rectangle")
    assert not canvas.region_is_limited()
    mouse.drag([(0, 0), (63, 31)], button=Qt.MouseButton.RightButton)  # from "everywhere", forbid the top half
    forbidden_top = np.ones((IMAGE_SIZE, IMAGE_SIZE), bool)
    forbidden_top[:32] = False
    assert canvas.region_is_limited() and np.array_equal(canvas.region_mask(), forbidden_top)
    mouse.drag([(0, 32), (63, 63)], button=Qt.MouseButton.RightButton)  # forbidding the rest frees it again
    assert not canvas.region_is_limited() and canvas.region_mask().all()
    mouse.drag([(10, 10), (19, 19)])  # from "everywhere", painting allows only what is painted
    expected = np.zeros((IMAGE_SIZE, IMAGE_SIZE), bool)
    expected[10:20, 10:20] = True
    assert np.array_equal(canvas.region_mask(), expected)
    assert not canvas.target_mask().any()


def test_the_first_region_stroke_limits_the_attack_and_is_seen_to(canvas, mouse):
    """Nothing painted on the region means every pixel may change and nothing is hatched; the first
    stroke allows only what it paints, and the rest of the image is hatched at once."""
    canvas.set_active_layer("region")
    assert not canvas.region_is_limited()
    assert _alpha(canvas.overlay_image("region")).max() == 0  # nothing forbidden, nothing drawn
    canvas.set_brush_size(5)
    mouse.drag([(10, 32), (50, 32)])
    region = canvas.region_mask()
    assert region[32, 10:51].all() and not region[:20].any() and not region[45:].any()
    alpha = _alpha(canvas.overlay_image("region"))
    assert alpha[0, 0] > 0 and alpha[63, 63] > 0 and alpha[32, 30] == 0  # forbidden pixels drawn, allowed not


def _alpha(image) -> np.ndarray:
    image = image.convertToFormat(image.Format.Format_ARGB32)
    data = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine())
    return data[:, 3 : image.width() * 4 : 4].copy()  # a copy: the converted image dies with this call


# --- undo / redo -------------------------------------------------------------------------------------


def test_undo_redo_whole_strokes(canvas, mouse, qtbot):
    canvas.set_brush_size(3)
    mouse.drag([(5, 5), (20, 5), (30, 8)], steps=5)  # one stroke of ten moves
    after_first = canvas.target_mask()
    mouse.drag([(5, 40), (50, 40)], steps=5)
    after_second = canvas.target_mask()
    assert not np.array_equal(after_first, after_second)

    canvas.undo()
    assert np.array_equal(canvas.target_mask(), after_first)
    with qtbot.waitSignal(canvas.targetChanged):
        canvas.undo()
    assert not canvas.target_mask().any()
    assert not canvas.can_undo() and canvas.can_redo()
    canvas.redo()
    canvas.redo()
    assert np.array_equal(canvas.target_mask(), after_second)
    assert not canvas.can_redo()


def test_new_stroke_clears_redo(canvas, mouse):
    mouse.click(10, 10)
    canvas.undo()
    assert canvas.can_redo()
    mouse.click(20, 20)
    assert not canvas.can_redo()


def test_at_least_fifty_undo_levels(canvas, mouse):
    canvas.set_brush_size(1)
    states = [canvas.target_mask()]
    for step in range(60):
        mouse.click(step % IMAGE_SIZE, (step * 7) % IMAGE_SIZE)
        states.append(canvas.target_mask())
    for step in range(60, 5, -1):
        assert canvas.can_undo()
        canvas.undo()
        assert np.array_equal(canvas.target_mask(), states[step - 1]), f"undo to step {step - 1}"
    for step in range(6, 61):
        canvas.redo()
        assert np.array_equal(canvas.target_mask(), states[step])


def test_history_stores_patches_not_copies(canvas, mouse):
    canvas.set_brush_size(3)
    mouse.click(30, 30)
    # Before and after of the 3 x 3 box of the dab, not two copies of the 64 x 64 image.
    assert canvas._layers.history.nbytes == 2 * 9


def test_apply_transform_is_undoable(canvas, qtbot):
    start = np.zeros((IMAGE_SIZE, IMAGE_SIZE), np.uint8)
    start[20:30, 20:30] = 1
    canvas.set_target(start)
    with qtbot.waitSignal(canvas.targetChanged):
        canvas.apply_transform(lambda mask: masks.shift(mask, 0, 5))
    assert np.array_equal(canvas.target_mask(), masks.shift(start, 0, 5))
    canvas.apply_transform(lambda mask: masks.dilate(mask, 1, 2))
    canvas.undo()
    assert np.array_equal(canvas.target_mask(), masks.shift(start, 0, 5))
    canvas.undo()
    assert np.array_equal(canvas.target_mask(), start)
    canvas.redo()
    assert np.array_equal(canvas.target_mask(), masks.shift(start, 0, 5))


def test_set_target_checks_shape(canvas):
    with pytest.raises(ValueError):
        canvas.set_target(np.zeros((10, 10), np.uint8))


# --- shortcuts -----------------------------------------------------------------------------------------


@pytest.fixture
def active_canvas(canvas, qtbot):
    canvas.activateWindow()
    canvas.setFocus()
    qtbot.waitUntil(lambda: canvas.isActiveWindow())
    return canvas


@pytest.mark.parametrize(
    "key, tool",
    [
        (Qt.Key.Key_E, "eraser"),
        (Qt.Key.Key_F, "fill"),
        (Qt.Key.Key_L, "polygon"),
        (Qt.Key.Key_R, "rectangle"),
        (Qt.Key.Key_O, "ellipse"),
        (Qt.Key.Key_Z, "pan"),
    ],
)
def test_tool_shortcuts(active_canvas, qtbot, key, tool):
    with qtbot.waitSignal(active_canvas.toolChanged) as blocker:
        QTest.keyClick(active_canvas, key)
    assert blocker.args == [tool] and active_canvas.tool() == tool
    QTest.keyClick(active_canvas, Qt.Key.Key_P)
    assert active_canvas.tool() == "brush"


def test_brush_size_and_label_shortcuts(active_canvas, qtbot):
    canvas = active_canvas
    canvas.set_brush_size(10)
    with qtbot.waitSignal(canvas.brushSizeChanged) as blocker:
        QTest.keyClick(canvas, Qt.Key.Key_BracketRight)
    assert canvas.brush_size() > 10 and blocker.args == [canvas.brush_size()]
    QTest.keyClick(canvas, Qt.Key.Key_BracketLeft)
    QTest.keyClick(canvas, Qt.Key.Key_BracketLeft)
    assert canvas.brush_size() < 10
    canvas.set_brush_size(1)
    QTest.keyClick(canvas, Qt.Key.Key_BracketLeft)
    assert canvas.brush_size() == 1

    QTest.keyClick(canvas, Qt.Key.Key_2)
    assert canvas.current_label() == 2
    QTest.keyClick(canvas, Qt.Key.Key_0)
    assert canvas.current_label() == 0
    QTest.keyClick(canvas, Qt.Key.Key_7)  # only three classes: ignored
    assert canvas.current_label() == 0


def test_undo_redo_shortcuts(active_canvas, mouse):
    canvas = active_canvas
    mouse.click(10, 10)
    QTest.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert not canvas.target_mask().any()
    QTest.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert canvas.target_mask()[10, 10] == 1
    canvas.undo()
    QTest.keyClick(canvas, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    assert canvas.target_mask()[10, 10] == 1


# --- zoom and pan --------------------------------------------------------------------------------------


def test_wheel_zooms_about_the_cursor_and_painting_follows(canvas, mouse):
    before_zoom = canvas.zoom()
    anchor = mouse.at(40, 20)
    mouse.wheel(40, 20, 3)
    assert canvas.zoom() == pytest.approx(before_zoom * 1.25**3)
    moved = mouse.at(40, 20) - anchor
    assert abs(moved.x()) <= canvas.zoom() and abs(moved.y()) <= canvas.zoom()

    canvas.set_brush_size(1)
    mouse.click(38, 22)
    assert np.array_equal(np.argwhere(painted(canvas)), [[22, 38]])
    mouse.wheel(38, 22, -5)
    assert canvas.zoom() < before_zoom
    mouse.click(3, 60)
    assert painted(canvas)[60, 3] and painted(canvas).sum() == 2


def test_middle_button_pans_without_painting(canvas, mouse):
    mouse.wheel(32, 32, 4)
    start = mouse.at(32, 32)
    mouse.drag([(32, 32), (20, 25)], button=Qt.MouseButton.MiddleButton, steps=3)
    moved = mouse.at(32, 32) - start
    # The image followed the mouse: pixel (32, 32) moved by (-12, -7) image pixels on screen.
    assert moved.x() == pytest.approx(-12 * canvas.zoom(), abs=2)
    assert moved.y() == pytest.approx(-7 * canvas.zoom(), abs=2)
    assert not canvas.target_mask().any()


def test_space_drag_pans_and_pan_tool_pans(canvas, mouse):
    mouse.wheel(32, 32, 4)
    QTest.keyPress(canvas, Qt.Key.Key_Space)
    start = mouse.at(32, 32)
    mouse.drag([(32, 32), (28, 32)], steps=2)
    QTest.keyRelease(canvas, Qt.Key.Key_Space)
    assert (mouse.at(32, 32) - start).x() < -2
    assert not canvas.target_mask().any()

    canvas.set_tool("pan")
    start = mouse.at(32, 32)
    mouse.drag([(32, 32), (32, 36)], steps=2)
    assert (mouse.at(32, 32) - start).y() > 2
    assert not canvas.target_mask().any()


def test_zoom_to_fit_shows_whole_image(canvas, mouse):
    mouse.wheel(10, 10, 6)
    canvas.zoom_to_fit()
    top_left, bottom_right = mouse.at(-0.5, -0.5), mouse.at(IMAGE_SIZE - 0.5, IMAGE_SIZE - 0.5)
    viewport = canvas.viewport().rect()
    assert viewport.contains(top_left.toPoint()) and viewport.contains((bottom_right - QPointF(1, 1)).toPoint())
    shown = max(bottom_right.x() - top_left.x(), bottom_right.y() - top_left.y())
    assert shown > 0.9 * min(viewport.width(), viewport.height())


def test_cursor_readout_in_image_pixels(canvas, mouse, qtbot):
    with qtbot.waitSignal(canvas.cursorMoved) as blocker:
        mouse.hover(17, 42)
    assert blocker.args == [17, 42]


# --- region layer and what the user sees ------------------------------------------------------------------


def test_region_layer_painting(canvas, mouse, qtbot):
    canvas.set_region(np.zeros((IMAGE_SIZE, IMAGE_SIZE), bool))
    canvas.set_active_layer("region")
    canvas.set_brush_size(5)
    with qtbot.waitSignal(canvas.regionChanged):
        mouse.drag([(10, 32), (50, 32)], steps=4)
    region = canvas.region_mask()
    assert region[30:35, 10:51].all() and not region[:25].any() and not region[40:].any()
    assert not canvas.target_mask().any(), "the target layer is untouched"
    canvas.set_tool("eraser")
    mouse.drag([(30, 20), (30, 45)], steps=3)
    assert not canvas.region_mask()[:, 30].any()
    canvas.undo()
    assert np.array_equal(canvas.region_mask(), region)
    canvas.set_region(None)
    assert canvas.region_mask().all()


def test_region_overlay_tints_and_hatches_forbidden_pixels(canvas, mouse):
    region = np.ones((IMAGE_SIZE, IMAGE_SIZE), bool)
    region[:, :32] = False
    canvas.set_region(region)
    overlay = canvas.overlay_image("region")
    assert overlay.pixelColor(5, 5).alpha() > 0 and overlay.pixelColor(50, 5).alpha() == 0
    canvas.set_active_layer("region")
    grab = canvas.viewport().grab().toImage()
    image = synthetic_image()

    def screen_colours(x0, x1, y):
        start, end = mouse.at(x0, y).toPoint(), mouse.at(x1, y).toPoint()
        return {QColor(grab.pixel(x, start.y())).getRgb()[:3] for x in range(start.x(), end.x())}

    centre = mouse.at(40, 20).toPoint()
    allowed = {QColor(grab.pixel(centre.x() + dx, centre.y())).getRgb()[:3] for dx in (-2, 0, 2)}
    assert allowed == {tuple(round(v * 255) for v in image[20, 40])}, "allowed pixels show the image unchanged"
    forbidden = screen_colours(10, 20, 20)
    assert len(forbidden) > 2, "forbidden pixels are hatched, not flat"
    assert all(colour != tuple(round(v * 255) for v in image[20, 10]) for colour in forbidden)


def test_overlay_shows_class_colours(canvas, mouse):
    canvas.set_brush_size(5)
    canvas.set_current_label(2)
    mouse.click(20, 20)
    overlay = canvas.overlay_image("target")
    colour = overlay.pixelColor(20, 20)
    assert (colour.red(), colour.green(), colour.blue(), colour.alpha()) == (*CLASS_COLOURS[2], 255)
    assert overlay.pixelColor(50, 50).alpha() == 0


def test_default_opacity_blends_with_the_image(canvas, mouse):
    canvas.set_brush_size(7)
    mouse.click(20, 45)
    opacity = canvas.overlay_opacity()
    assert 0 < opacity < 1
    under = np.array([round(v * 255) for v in synthetic_image()[45, 20]])
    expected = opacity * np.array(CLASS_COLOURS[1]) + (1 - opacity) * under
    grab = canvas.viewport().grab().toImage()
    assert QColor(grab.pixel(mouse.at(20, 45).toPoint())).getRgb()[:3] == pytest.approx(tuple(expected), abs=2)


def test_grab_shows_the_painted_colour_at_the_painted_pixel(canvas, mouse):
    image = synthetic_image()
    canvas.set_brush_size(7)
    mouse.click(20, 45)
    canvas.set_overlay_opacity(1.0)
    painted_point = mouse.at(20, 45).toPoint()
    plain_point = mouse.at(5, 5).toPoint()
    grab = canvas.viewport().grab().toImage()
    assert QColor(grab.pixel(painted_point)).getRgb()[:3] == CLASS_COLOURS[1]
    expected_plain = tuple(int(round(v * 255)) for v in image[5, 5])
    assert QColor(grab.pixel(plain_point)).getRgb()[:3] == pytest.approx(expected_plain, abs=1)

    canvas.set_overlay_opacity(0.5)
    grab = canvas.viewport().grab().toImage()
    under = np.array([round(v * 255) for v in image[45, 20]])
    blend = (np.array(CLASS_COLOURS[1]) + under) / 2
    assert QColor(grab.pixel(painted_point)).getRgb()[:3] == pytest.approx(tuple(blend), abs=2)

    canvas.set_overlay_opacity(0.0)
    grab = canvas.viewport().grab().toImage()
    expected_under = tuple(int(round(v * 255)) for v in image[45, 20])
    assert QColor(grab.pixel(painted_point)).getRgb()[:3] == pytest.approx(expected_under, abs=1)


def test_set_image_resets_layers_and_history(canvas, mouse, qtbot):
    mouse.click(10, 10)
    canvas.set_active_layer("region")
    with qtbot.waitSignals([canvas.targetChanged, canvas.regionChanged]):
        canvas.set_image(np.zeros((30, 50, 1), np.float32))
    assert canvas.target_mask().shape == (30, 50) and not canvas.target_mask().any()
    assert canvas.region_mask().shape == (30, 50) and canvas.region_mask().all()
    assert not canvas.can_undo()
    canvas.set_active_layer("target")
    mouse.click(49, 29)
    assert canvas.target_mask()[29, 49] == 1


def test_set_classes_updates_colours_and_keeps_valid_label(canvas, mouse):
    canvas.set_current_label(2)
    canvas.set_classes(["background", "lesion"], [(0, 0, 0), (10, 20, 250)])
    assert canvas.current_label() == 1
    mouse.click(30, 30)
    colour = canvas.overlay_image().pixelColor(30, 30)
    assert (colour.red(), colour.green(), colour.blue()) == (10, 20, 250)


def test_unknown_tool_and_layer_are_rejected(canvas):
    with pytest.raises(ValueError):
        canvas.set_tool("spray")
    with pytest.raises(ValueError):
        canvas.set_active_layer("both")
    with pytest.raises(ValueError):
        canvas.set_current_label(3)


def test_double_click_with_brush_paints_like_two_clicks(canvas, mouse):
    canvas.set_brush_size(1)
    mouse.double_click(12, 12)
    assert np.array_equal(np.argwhere(painted(canvas)), [[12, 12]])
    canvas.undo()  # the second click changed nothing, so it left no undo step
    assert not canvas.target_mask().any() and not canvas.can_undo()


@pytest.mark.parametrize(
    "pixels, expected",
    [
        (np.full((4, 6, 1), 0.5, np.float32), (128, 128, 128)),
        (np.full((4, 6), 1.0, np.float32), (255, 255, 255)),
        (np.dstack([np.full((4, 6), v, np.float32) for v in (1.0, 0.0, 0.2)]), (255, 0, 51)),
        (np.full((4, 6, 3), 7, np.uint8), (7, 7, 7)),
    ],
)
def test_image_conversion(pixels, expected):
    from segattack_gui.gui.canvas.mask_canvas import image_to_qimage

    image = image_to_qimage(pixels)
    assert (image.width(), image.height()) == (6, 4)
    assert QColor(image.pixel(5, 3)).getRgb()[:3] == expected


def test_image_with_four_channels_is_rejected(canvas):
    with pytest.raises(ValueError):
        canvas.set_image(np.zeros((8, 8, 4), np.float32))
