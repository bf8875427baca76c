"""The label palette drives the canvas and follows it, both ways."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QHBoxLayout, QWidget

from segattack_gui.gui.canvas.label_palette import LabelPalette
from segattack_gui.gui.canvas.mask_canvas import MaskCanvas

from .conftest import CLASS_NAMES


@pytest.fixture
def palette(canvas, qtbot):
    widget = LabelPalette(canvas)
    qtbot.addWidget(widget)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def click(widget):
    QTest.mouseClick(widget, Qt.MouseButton.LeftButton)


def test_lists_classes_with_ids_and_selects_current_label(palette, canvas):
    texts = [palette.label_list.item(row).text() for row in range(palette.label_list.count())]
    assert texts == [f"{class_id}  {name}" for class_id, name in enumerate(CLASS_NAMES)]
    assert palette.label_list.currentRow() == 1


def test_clicking_a_label_selects_it_on_the_canvas(palette, canvas, qtbot):
    item_rect = palette.label_list.visualItemRect(palette.label_list.item(2))
    with qtbot.waitSignal(canvas.currentLabelChanged):
        QTest.mouseClick(palette.label_list.viewport(), Qt.MouseButton.LeftButton, pos=item_rect.center())
    assert canvas.current_label() == 2
    canvas.set_current_label(0)
    assert palette.label_list.currentRow() == 0


def test_new_classes_rebuild_the_list(palette, canvas):
    canvas.set_classes(["background", "lesion"], [(0, 0, 0), (250, 200, 0)])
    assert palette.label_list.count() == 2 and palette.label_list.item(1).text() == "1  lesion"


def test_tool_buttons_follow_and_drive_the_canvas(palette, canvas):
    assert palette.tool_buttons["brush"].isChecked()
    click(palette.tool_buttons["fill"])
    assert canvas.tool() == "fill"
    canvas.set_tool("ellipse")
    assert palette.tool_buttons["ellipse"].isChecked() and not palette.tool_buttons["fill"].isChecked()
    for name, key in [("brush", "P"), ("eraser", "E"), ("fill", "F"), ("polygon", "L"), ("rectangle", "R")]:
        assert f"({key})" in palette.tool_buttons[name].toolTip()


def test_brush_size_controls(palette, canvas):
    palette.brush_spin.setValue(33)
    assert canvas.brush_size() == 33 and palette.brush_slider.value() == 33
    palette.brush_slider.setValue(5)
    assert canvas.brush_size() == 5 and palette.brush_spin.value() == 5
    canvas.set_brush_size(250)  # beyond the slider: the spin box still shows it
    assert palette.brush_spin.value() == 250


def test_opacity_slider(palette, canvas):
    palette.opacity_slider.setValue(25)
    assert canvas.overlay_opacity() == pytest.approx(0.25)
    canvas.set_overlay_opacity(0.8)
    assert palette.opacity_slider.value() == 80 and palette.opacity_label.text() == "80 %"


def test_layer_switch_and_region_buttons(palette, canvas, mouse):
    assert not palette.allow_all_button.isEnabled()
    click(palette.layer_buttons["region"])
    assert canvas.active_layer() == "region" and not palette.allow_all_button.isEnabled()  # nothing to clear
    assert "every pixel may change" in palette.region_state.text()
    mouse.drag([(10, 10), (20, 10)])
    assert canvas.region_is_limited() and palette.allow_all_button.isEnabled()
    assert "% of pixels painted" in palette.region_state.text()
    click(palette.allow_all_button)
    assert canvas.region_mask().all() and not canvas.region_is_limited()
    assert "every pixel may change" in palette.region_state.text()
    canvas.set_active_layer("target")
    assert palette.layer_buttons["target"].isChecked() and not palette.allow_all_button.isEnabled()


def test_undo_redo_buttons_track_history(palette, canvas, mouse):
    assert not palette.undo_button.isEnabled() and not palette.redo_button.isEnabled()
    mouse.click(10, 10)
    assert palette.undo_button.isEnabled()
    click(palette.undo_button)
    assert not canvas.target_mask().any()
    assert palette.redo_button.isEnabled() and not palette.undo_button.isEnabled()
    click(palette.redo_button)
    assert canvas.target_mask()[10, 10] == 1


def test_region_painting_through_the_palette(palette, canvas, mouse):
    click(palette.layer_buttons["region"])  # nothing painted yet: the rectangle is all the attack may change
    click(palette.tool_buttons["rectangle"])
    mouse.drag([(8, 8), (15, 12)])
    expected = np.zeros(canvas.image_shape(), bool)
    expected[8:13, 8:16] = True
    assert np.array_equal(canvas.region_mask(), expected)


def test_typing_in_a_spin_box_is_not_taken_by_canvas_shortcuts(qtbot):
    window = QWidget()
    qtbot.addWidget(window)
    layout = QHBoxLayout(window)
    canvas = MaskCanvas()
    layout.addWidget(canvas)
    palette = LabelPalette(canvas)
    layout.addWidget(palette)
    window.show()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    palette.brush_spin.setFocus()
    palette.brush_spin.selectAll()
    QTest.keyClicks(palette.brush_spin, "25")
    assert canvas.brush_size() == 25 and canvas.current_label() == 1
    QTest.keyClick(palette.brush_spin, Qt.Key.Key_E)  # not a number: the spin box ignores it ...
    canvas.setFocus()
    QTest.keyClick(canvas, Qt.Key.Key_0)  # ... and with the canvas focused, keys are shortcuts
    assert canvas.current_label() == 0


# --- labels as napari and ITK-SNAP offer them -------------------------------------------------------


def overlay_rgba(canvas, x: int, y: int) -> tuple[int, int, int, int]:
    colour = canvas.overlay_image("target").pixelColor(x, y)
    return colour.red(), colour.green(), colour.blue(), colour.alpha()


def test_add_rename_recolour_and_hide_labels(palette, canvas, mouse, monkeypatch):
    click(palette.label_buttons["add"])
    assert canvas.class_names() == CLASS_NAMES + ["label 3"] and canvas.current_label() == 3
    mouse.click(20, 20)
    assert canvas.target_mask()[20, 20] == 3
    monkeypatch.setattr(palette, "ask_label_name", lambda current: "lesion")
    click(palette.label_buttons["rename"])
    assert canvas.class_names()[3] == "lesion" and palette.label_list.item(3).text() == "3  lesion"
    monkeypatch.setattr(palette, "ask_label_colour", lambda current: (10, 20, 250))
    click(palette.label_buttons["colour"])
    assert overlay_rgba(canvas, 20, 20)[:3] == (10, 20, 250)
    click(palette.label_buttons["hide"])
    assert overlay_rgba(canvas, 20, 20)[3] == 0 and canvas.target_mask()[20, 20] == 3  # hidden, still painted
    assert palette.label_buttons["hide"].text() == "Show" and "(hidden)" in palette.label_list.item(3).text()
    click(palette.label_buttons["hide"])
    assert overlay_rgba(canvas, 20, 20)[3] == 255


def test_the_eyedropper_picks_the_label_under_the_mouse(palette, canvas, mouse):
    canvas.set_current_label(2)
    mouse.click(30, 30)
    canvas.set_current_label(1)
    click(palette.tool_buttons["pick"])
    mouse.click(30, 30)
    assert canvas.current_label() == 2 and palette.label_list.currentRow() == 2
    canvas.set_tool("brush")
    mouse.click(5, 5)
    assert canvas.target_mask()[5, 5] == 2


def test_painting_over_background_only_keeps_other_labels(palette, canvas, mouse):
    canvas.set_brush_size(5)
    mouse.drag([(10, 30), (50, 30)])  # a vessel (label 1) across the image
    vessel = canvas.target_mask() == 1
    canvas.set_current_label(2)
    click(palette.preserve_check)
    assert canvas.preserve_labels()
    mouse.drag([(30, 10), (30, 50)])  # a disc stroke crossing the vessel
    after = canvas.target_mask()
    assert np.array_equal(after == 1, vessel)  # the crossing kept the vessel
    assert after[15, 30] == 2 and after[30, 30] == 1
    canvas.set_tool("eraser")
    mouse.drag([(10, 30), (50, 30)])  # erasing removes only the selected label (2), never the vessel
    assert np.array_equal(canvas.target_mask() == 1, vessel)
    canvas.set_tool("fill")
    mouse.click(40, 30)  # on the vessel: preserving labels, the fill does nothing
    assert np.array_equal(canvas.target_mask() == 1, vessel)
