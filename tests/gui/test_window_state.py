"""One owner for the window's state: painting is never lost without a question, a run and its export
belong to the inputs it used, and the evidence shows what the screen shows."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image

from segattack_gui.io.hashing import sha256_file
from segattack_gui.io.heatmaps import HeatmapStyle, heatmap_values
from tests.gui.conftest import CanvasMouse
from tests.gui.window_fixtures import run_and_wait, wait_until_idle


def paint_stroke(window, layer: str = "target", row: int = 40) -> None:
    """A real brush stroke of mouse events on the canvas."""
    canvas = window.canvas
    canvas.set_active_layer(layer)
    canvas.set_tool("brush")
    canvas.set_brush_size(9)
    CanvasMouse(canvas).drag([(30, row), (120, row)])


def export_and_wait(qtbot, window, parent):
    with qtbot.waitSignal(window.export_finished, timeout=60_000) as exported:
        window.choose_export_parent(parent)
    return exported.args[0]


def test_opening_a_demo_asks_before_it_replaces_unsaved_painting(qtbot, window):
    paint_stroke(window)
    painted = window.target_mask()
    window.unsaved_question.answer = "cancel"
    assert window.open_demo("skin") is False
    wait_until_idle(qtbot, window)
    assert window.unsaved_question.asked == [["target"]]
    assert window.unsaved_question.actions == ["Opening the skin demo"]
    assert window.document.image.path.name == "fundus_demo.png" and np.array_equal(window.target_mask(), painted)
    assert window.canvas.can_undo()  # the history is still there too
    window.unsaved_question.answer = "discard"
    assert window.open_demo("skin") is True
    wait_until_idle(qtbot, window)
    assert window.document.image.path.name == "skin_demo.png"
    assert not window.canvas.can_undo()  # a new image starts a new history


def test_opening_another_image_asks_and_cancel_keeps_everything(qtbot, window, tmp_path):
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(tmp_path / "black.png")
    paint_stroke(window, "region")
    assert window.document.unsaved_layers == ["region"]
    window.unsaved_question.answer = "cancel"
    assert window.open_image(tmp_path / "black.png") is False
    wait_until_idle(qtbot, window)
    assert window.document.image.path.name == "fundus_demo.png" and window.document.region is not None
    assert window.unsaved_question.actions == ["Opening another image"]


def test_a_region_painted_on_one_image_does_not_follow_to_another(qtbot, window, tmp_path):
    """Was: region_path of image A recorded in a run on image B, and no region.png: unrepeatable."""
    from segattack_gui.cli import main

    paint_stroke(window, "region")
    window.unsaved_question.answer = "discard"
    window.open_demo("skin")
    wait_until_idle(qtbot, window)
    assert window.document.region is None and not window.canvas.region_is_limited()
    run_and_wait(qtbot, window, iterations=3)
    folder = export_and_wait(qtbot, window, tmp_path)
    summary = json.loads((tmp_path / folder / "summary.json").read_text())
    assert summary["region_path"] is None and summary["region_ids_sha256"] is None
    assert not (tmp_path / folder / "region.png").exists()
    assert main(["rerun", str(folder), "--quiet"]) == 0


def test_results_and_export_belong_to_the_run_they_show(qtbot, window, tmp_path):
    fundus_sha = window.document.image_sha256
    result = run_and_wait(qtbot, window, iterations=3)
    caption = window.run_caption.text()
    assert "asma on fundus_demo.png" in caption and "now holds" not in caption
    window.open_demo("skin")  # the demo's own target: nothing unsaved, no question
    wait_until_idle(qtbot, window)
    assert window.unsaved_question.asked == []
    assert "The window now holds another image and another model" in window.run_caption.text()
    folder = export_and_wait(qtbot, window, tmp_path)
    assert folder.split("/")[-1].startswith("fundus_demo-asma-")  # named after the run's image, not the window's
    summary = json.loads((tmp_path / folder / "summary.json").read_text())
    assert summary["image_sha256"] == fundus_sha and summary["final"]["iou"] == result.final["iou"]
    assert "exported to" in window.run_caption.text()


def test_the_exported_heatmap_is_drawn_as_the_view_shows_it(qtbot, window, tmp_path):
    heatmap = window.live_views.heatmap_view
    run_and_wait(qtbot, window, iterations=6)
    assert heatmap.amplification is None  # "auto": the bulk of the moved pixels, not the single peak
    folder = export_and_wait(qtbot, window, tmp_path)
    assert json.loads((tmp_path / folder / "summary.json").read_text())["heatmap"]["scale"] == "percentile"
    picture = np.asarray(Image.open(tmp_path / folder / "perturbation_heatmap.png"))[:, :256]
    perturbation = np.load(tmp_path / folder / "perturbation.npy")
    visible = np.sqrt((perturbation**2).sum(-1)) >= 1 / 255  # changed by an 8-bit step or more
    by_peak, _ = heatmap_values(perturbation, HeatmapStyle(amplification=1.0))
    assert picture[visible].mean() > 2 * by_peak[visible].mean()  # those pixels are seen, not lost in black
    heatmap.mode_combo.setCurrentIndex(1)  # signed, red
    heatmap.amplify_combo.setCurrentIndex(heatmap.amplify_combo.count() - 1)
    folder = export_and_wait(qtbot, window, tmp_path)
    summary = json.loads((tmp_path / folder / "summary.json").read_text())
    assert summary["heatmap"]["mode"] == "signed" and summary["heatmap"]["channel"] == 0
    assert summary["heatmap"]["amplification"] == heatmap.amplification > 1
    picture = np.asarray(Image.open(tmp_path / folder / "perturbation_heatmap.png"))
    assert picture.shape[1] > window.document.image.width  # the colour bar beside it
    assert picture.mean() > 60  # a diverging map on white, not a black square


def test_stop_says_at_once_that_it_is_stopping(qtbot, window):
    window.panel.apply_settings(iterations=5000, stop_iou=None)
    with qtbot.waitSignal(window.document.snapshotAdded, timeout=60_000):
        assert window.start_attack()
    with qtbot.waitSignal(window.attack_finished, timeout=60_000):
        window.panel.stop_button.click()
        assert window.run_summary.values["ended"].text().startswith("stopping")
        assert "Stopping after the current iteration" in window.statusBar().currentMessage()
    assert "stopped by you" in window.run_summary.values["ended"].text()


def test_norm_curves_scale_to_the_run_while_it_runs(qtbot, window):
    """A PGD L-inf of 0.03 must not lie flat on a 0..2 axis until the run ends."""
    window.panel.apply_settings(method="pgd", iterations=5000, stop_iou=None)
    with qtbot.waitSignal(window.document.snapshotAdded, timeout=60_000):
        assert window.start_attack()
    qtbot.waitUntil(lambda: window.document.run.latest.metrics.get("linf", 0) > 0, timeout=60_000)
    window.metrics_plot.refresh.flush()
    linf = window.document.run.latest.metrics["linf"]
    top = window.metrics_plot.plots["linf"].viewRange()[1][1]
    with qtbot.waitSignal(window.attack_finished, timeout=60_000):
        window.stop_attack()
    assert linf <= top < 10 * linf


def test_a_label_the_model_does_not_have_is_refused_at_run(qtbot, window, errors):
    window.palette_widget.add_label()
    assert window.canvas.current_label() == 3 and window.document.class_names[3] == "label 3"
    paint_stroke(window)
    assert not window.start_attack()
    assert "label 3 (label 3)" in errors.messages[-1] and "only 3 classes" in errors.messages[-1]


def test_help_lists_every_shortcut_from_the_window_itself(qtbot, window):
    from segattack_gui.gui.shortcuts_dialog import shortcut_rows

    listed = shortcut_rows(window)
    rows = {(keys, what) for _, keys, what in listed}
    assert ("Ctrl+R", "Run") in rows and ("I", "Tool: Pick") in rows and ("F1", "Keyboard shortcuts") in rows
    window.menus.show_shortcuts()
    table = window.menus.shortcuts_dialog.table
    assert window.menus.shortcuts_dialog.isVisible() and table.rowCount() == len(listed)


def test_recent_files_offer_models_and_run_folders(qtbot, window, tmp_path):
    run_and_wait(qtbot, window, iterations=2)
    folder = export_and_wait(qtbot, window, tmp_path)
    window.open_model(window.document.model.path)  # a model the user opened (the demo's are kept out)
    window.unsaved_question.answer = "discard"
    window.open_run_folder(folder)
    wait_until_idle(qtbot, window)
    kinds = {kind for kind, _ in window.recent.entries()}
    assert "run" in kinds
    window.recent._rebuild()
    texts = [action.text() for action in window.menus.recent_menu.actions()]
    assert any(text.startswith("Run folder: fundus_demo-asma-") for text in texts)
    assert sha256_file(window.document.image.path) == window.document.image_sha256


def test_a_large_image_is_offered_tiles_and_the_choice_is_recorded(qtbot, window, tmp_path, monkeypatch):
    import cv2

    from segattack_gui.cli import main

    asked = []
    choice = window.input_size_choice
    monkeypatch.setattr(choice, "ask", lambda choices, question: (asked.append(question), choice.choose(choices[0])))
    pixels = (window.document.image.pixels * 255).round().astype(np.uint8)
    Image.fromarray(cv2.resize(pixels, (1040, 1040), interpolation=cv2.INTER_LINEAR)).save(tmp_path / "large.png")
    window.open_image(tmp_path / "large.png")
    wait_until_idle(qtbot, window)
    assert len(asked) == 1 and "large.png is 1040x1040" in asked[0]
    spec = window.document.model.adapter.spec
    assert (spec.input_size, spec.input_policy) == ((512, 512), "tile")
    paint_stroke(window)
    run_and_wait(qtbot, window, iterations=1)
    folder = export_and_wait(qtbot, window, tmp_path)
    summary = json.loads((tmp_path / folder / "summary.json").read_text())
    assert summary["model_overrides"] == {"input_size": [512, 512], "input_policy": "tile"}
    assert main(["rerun", str(folder), "--quiet"]) == 0
    window.open_image(tmp_path / "large.png")  # the same image and model again: asked once only
    wait_until_idle(qtbot, window)
    assert len(asked) == 1


def test_the_same_model_moved_keeps_labels_painting_and_overrides(qtbot, window):
    """A device or precision change (or an out-of-memory fallback) is the same model: the user's label
    edits, painted labels and the window's tiles stay; reloading the file drops only the tiles."""
    loader, document = window.loader, window.document
    loader.apply_model_overrides({"input_policy": "tile", "input_size": [128, 128]})
    wait_until_idle(qtbot, window)
    window.palette_widget.rename_label(1, "rim")
    window.palette_widget.add_label()
    paint_stroke(window)  # label 3, which the model lacks
    loader.move_model("cpu", "bf16")
    wait_until_idle(qtbot, window)
    assert document.model.adapter.precision == "bf16"
    assert document.model_overrides == {"input_policy": "tile", "input_size": [128, 128]}
    assert document.class_names[1] == "rim" and len(document.class_names) == 4 and (window.target_mask() == 3).any()
    window.open_model(document.model.path)  # the file again: its own sidecar, so the tiles are gone
    wait_until_idle(qtbot, window)
    assert document.model.adapter.spec.input_policy == "pad" and document.model_overrides == {}
    assert document.class_names[1] == "rim"
