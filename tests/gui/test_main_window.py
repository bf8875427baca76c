"""The main window driven as a user would: demo at start, run, pause, stop, close, export, errors."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import torch
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMessageBox, QWidget

from segattack_gui.demo import DEMOS
from segattack_gui.gui.views.live_views import display_uint8
from segattack_gui.gui.views.status_panel import duration_text
from segattack_gui.io.hashing import sha256_file
from segattack_gui.io.masks import read_mask
from segattack_gui.workspace.shown_frame import AGREE, EXTRA, MISSING, OUTSIDE
from tests.gui.window_fixtures import GapMeter, run_and_wait, wait_until_idle

DESIGNED_OBJECT_NAMES = (
    "mainWindow", "maskCanvas", "methodCombo", "iterationsSpin", "runButton", "pauseButton", "stopButton",
    "exportButton", "iterationSlider", "adversarialView", "predictionView", "heatmapView", "metricsPlot",
    "deviceCombo",
)


def test_starts_on_the_demo_ready_to_run(window, demo_root, errors):
    assert window.objectName() == "mainWindow"
    for name in DESIGNED_OBJECT_NAMES[1:]:
        assert window.findChild(QWidget, name) is not None, name
    document = window.document
    assert document.image is not None and document.image.path.name == "fundus_demo.png"
    assert document.model is not None and document.model.adapter.class_names[0] == "background"
    expected = read_mask(DEMOS["fundus"].path("target", demo_root), num_classes=3).class_ids
    assert np.array_equal(window.target_mask(), expected)
    assert window.target_mask().any()
    assert window.panel.run_button.isEnabled()
    assert window.panel.method == "asma"
    method, parameters = window.panel.settings()
    for name, value in DEMOS["fundus"].attack_parameters.items():  # the demo's settings (tau "auto")
        assert parameters[name] == (value if isinstance(value, str) else pytest.approx(value)), name
    assert not errors.messages
    print(f"demo loaded in {window.load_seconds:.2f} s")


def test_attack_fills_views_plots_and_slider(qtbot, window):
    result = run_and_wait(qtbot, window, iterations=3)
    assert result is not None and result.iterations_run == 3
    plot = window.metrics_plot
    for name in ("iou", "pixel_accuracy", "l2", "linf", "multiplier"):
        x, y = plot.curve_data(name)
        assert np.array_equal(x, np.arange(4)), name
        assert np.allclose(y, result.history[name], rtol=1e-6, atol=1e-12), name
    assert plot.curve_data("l2")[1][0] == 0 and plot.curve_data("l2")[1][-1] > 0
    # The adversarial view shows the final adversarial image.
    shown = window.live_views.adversarial_view.image_item.image
    assert shown is not None and np.array_equal(shown, display_uint8(result.adversarial))
    # The agreement map is the prediction against the target, computed here independently.
    prediction = result.grid.paste(result.prediction_adversarial, *result.target.shape, fill=255)
    codes = window.live_views.prediction_view.codes
    wanted = result.target != 0
    assert np.array_equal(codes == AGREE, wanted & (prediction == result.target))
    assert np.array_equal(codes == MISSING, wanted & (prediction != result.target) & (prediction != 255))
    assert np.array_equal(codes == EXTRA, ~wanted & (prediction != 0) & (prediction != 255))
    heatmap = window.live_views.heatmap_view.image_item.image
    assert heatmap is not None and heatmap.max() > 0
    slider = window.replay_bar.slider
    assert slider.isEnabled() and slider.value() == slider.maximum() >= 1
    assert "it/s" in window.status.rate_label.text() and window.status.rate_label.text() != "– it/s"
    summary = window.run_summary.values
    assert summary["ended"].text() == "3 iterations, all iterations done"
    assert summary["iou"].text() == f"{result.final['iou']:.3f} / {result.final_quantized['iou']:.3f}"


def test_each_run_gives_its_working_memory_back(qtbot, window, monkeypatch):
    from segattack_gui.gui.run import attack_worker

    releases = []
    monkeypatch.setattr(attack_worker, "release_freed_memory", lambda: releases.append(True))
    run_and_wait(qtbot, window)
    qtbot.waitUntil(lambda: releases == [True], timeout=5_000)


def test_the_status_bar_says_how_long_the_rest_of_a_run_takes(qtbot, window):
    window.panel.apply_settings(iterations=5000, stop_iou=None)
    with qtbot.waitSignal(window.document.snapshotAdded, timeout=60_000):
        assert window.start_attack()
    qtbot.waitUntil(lambda: window.document.run.latest.iteration >= 3, timeout=60_000)
    window.status.refresh.flush()
    latest = window.document.run.latest
    text = window.status.elapsed_label.text()
    assert text.startswith("elapsed ") and text.endswith(" left"), text
    rate = latest.iteration / latest.elapsed
    assert duration_text((latest.total_iterations - latest.iteration) / rate) in text
    with qtbot.waitSignal(window.attack_finished, timeout=60_000):
        window.panel.stop_button.click()
    window.status.refresh.flush()
    assert window.status.elapsed_label.text() == f"elapsed {window.document.run.result.seconds:.1f} s"


@pytest.mark.parametrize(("seconds", "text"), [(0.4, "0 s"), (42.4, "42 s"), (200, "3 min 20 s"),
                                                (3599.6, "1 h 00 min"), (3900, "1 h 05 min")])
def test_remaining_times_read_as_a_person_says_them(seconds, text):
    assert duration_text(seconds) == text


def test_slider_replays_an_earlier_frame(qtbot, window):
    result = run_and_wait(qtbot, window, iterations=3)
    window.replay_bar.slider.setValue(0)
    window.live_views.refresh.flush()
    window.metrics_plot.refresh.flush()
    first = window.document.run.store[0]
    assert first.iteration == 0
    shown = window.live_views.adversarial_view.image_item.image
    assert np.array_equal(shown, display_uint8(result.original))
    assert all(marker.isVisible() and marker.value() == 0 for marker in window.metrics_plot.markers)
    assert "iteration 0" in window.replay_bar.label.text()


def test_pause_resume_and_stop(qtbot, window):
    window.panel.apply_settings(iterations=5000, stop_iou=None)
    with qtbot.waitSignal(window.document.snapshotAdded, timeout=60_000):
        assert window.start_attack()
    window.panel.pause_button.click()
    assert window.session.state == "paused" and window.panel.pause_button.text() == "Resume"
    qtbot.wait(300)  # a snapshot already on its way may still arrive
    held = window.document.run.latest.iteration
    qtbot.wait(700)
    assert window.document.run.latest.iteration <= held + 1
    window.panel.pause_button.click()
    assert window.session.state == "running"
    qtbot.waitUntil(lambda: window.document.run.latest.iteration > held + 1, timeout=60_000)
    with qtbot.waitSignal(window.attack_finished, timeout=60_000) as finished:
        window.panel.stop_button.click()
    result = finished.args[0]
    assert result.stop_reason == "user" and 0 < result.iterations_run < 5000
    assert window.session.thread is None and window.session.state == "idle"
    assert window.panel.run_button.isEnabled() and not window.panel.stop_button.isEnabled()


def test_closing_during_an_attack_stops_it_quickly(qtbot, window):
    window.panel.apply_settings(iterations=5000, stop_iou=None)
    with qtbot.waitSignal(window.document.snapshotAdded, timeout=60_000):
        assert window.start_attack()
    qtbot.waitUntil(lambda: window.document.run.latest.iteration >= 2, timeout=60_000)
    latest = window.document.run.latest
    iteration_seconds = latest.elapsed / max(1, latest.iteration)
    thread = window.session.thread
    started = time.perf_counter()
    window.close()
    seconds = time.perf_counter() - started
    print(f"closed mid-attack in {seconds * 1000:.0f} ms (one iteration takes {iteration_seconds * 1000:.0f} ms)")
    assert window.session.thread is None
    assert thread.isFinished()
    # Within a second on the demo; on a starved CPU an iteration alone may take longer.
    assert seconds < max(1.0, 3 * iteration_seconds)


def test_a_slow_iteration_does_not_hold_the_closing_window_on_screen(qtbot, window, monkeypatch):
    """A 1024 x 1024 image on the CPU takes seconds per iteration: the window goes at once."""
    slow = window.document.model.adapter.model.register_forward_hook(lambda *_: time.sleep(0.6))
    window.panel.apply_settings(iterations=5000, stop_iou=None)
    with qtbot.waitSignal(window.document.snapshotAdded, timeout=60_000):
        assert window.start_attack()
    hidden_at = []
    monkeypatch.setattr(window, "hideEvent", lambda event: hidden_at.append(time.perf_counter()))
    started = time.perf_counter()
    window.close()
    ended = time.perf_counter()
    slow.remove()
    print(f"hidden after {(hidden_at[0] - started) * 1000:.0f} ms, thread ended after {(ended - started) * 1000:.0f} ms")
    assert hidden_at[0] - started < 0.25 and window.session.thread is None


def test_closing_while_paused_also_ends_the_thread(qtbot, window):
    window.panel.apply_settings(iterations=5000, stop_iou=None)
    with qtbot.waitSignal(window.document.snapshotAdded, timeout=60_000):
        assert window.start_attack()
    window.pause_attack()
    thread = window.session.thread
    window.close()
    assert window.session.thread is None and thread.isFinished()


def test_an_image_the_model_cannot_take_is_explained(qtbot, window, errors, tmp_path, monkeypatch):
    from PIL import Image

    from tests.core.tiny_models import ValidThresholdModel

    torch.save(ValidThresholdModel(border=8), tmp_path / "valid.pt")  # trims 8 pixels from each side
    monkeypatch.setattr(window, "ask_pickle_consent", lambda path, sha256: True)
    with qtbot.waitSignal(window.loading_idle, timeout=30_000):
        window.open_model(tmp_path / "valid.pt")
    assert not errors.messages
    Image.fromarray(np.full((10, 10), 128, np.uint8)).save(tmp_path / "tiny.png")
    with qtbot.waitSignal(window.loading_idle, timeout=30_000):
        window.open_image(tmp_path / "tiny.png")
    assert window.document.image.path.name == "tiny.png"  # kept: a matching model may come next
    assert errors.messages and "cannot attack this image" in errors.messages[-1]
    assert not window.start_attack()
    assert "valid.pt" in errors.messages[-1]
    assert window.session.thread is None


def test_export_writes_the_spec_files(qtbot, window, tmp_path):
    result = run_and_wait(qtbot, window, iterations=3)
    folder = tmp_path / "run"
    with qtbot.waitSignal(window.export_finished, timeout=60_000) as exported:
        window.export_results(folder)
    assert exported.args[0] == str(folder)
    for name in ("adversarial.png", "adversarial.npy", "perturbation.npy", "perturbation_heatmap.png",
                 "original.png", "target.png", "prediction_original.png", "prediction_adversarial.png",
                 "overlay.png", "metrics.csv", "iterations.gif", "summary.json"):
        assert (folder / name).is_file(), name
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["method"] == "asma" and summary["config"]["iterations"] == 3
    assert DEMOS["fundus"].attack_parameters["tau"] == "auto"  # the demo's rule, recorded with its value
    assert summary["step_size"]["tau"] == "auto" and summary["config"]["tau"] == summary["step_size"]["tau_used"]
    assert summary["iterations_run"] == 3 and summary["device"] == result.device
    assert summary["model_sha256"] == sha256_file(window.document.model.path)
    assert summary["image_sha256"] == sha256_file(window.document.image.path)
    assert summary["target_sha256"] and summary["versions"]["torch"]
    assert summary["final"]["iou"] == pytest.approx(result.final["iou"])
    assert np.allclose(np.load(folder / "adversarial.npy"), result.adversarial)
    rows = (folder / "metrics.csv").read_text().strip().splitlines()
    assert len(rows) == 1 + 4 and rows[0].startswith("iteration,iou,pixel_accuracy")


def test_export_without_a_run_explains(window, errors, tmp_path):
    window.export_results(tmp_path / "nothing")
    assert errors.messages and "no finished run" in errors.messages[-1]
    assert not (tmp_path / "nothing").exists()


def test_bad_image_shows_a_dialog_and_the_window_stays_usable(qtbot, window, errors, tmp_path):
    text_file = tmp_path / "notes.png"
    text_file.write_text("this is not an image\n")
    image_before = window.document.image
    with qtbot.waitSignal(window.loading_idle, timeout=30_000):
        window.open_image(text_file)
    assert len(errors.messages) == 1 and "notes.png" in errors.messages[0]
    assert window.document.image is image_before
    result = run_and_wait(qtbot, window, iterations=2)
    assert result is not None and result.iterations_run == 2


def test_error_dialog_is_a_message_box_that_does_not_block(qtbot, window):
    from segattack_gui.gui.main_window import MainWindow

    MainWindow.show_error(window, "x.png: not an image")  # the real dialog, bypassing the test's recorder
    box = window.error_box
    assert isinstance(box, QMessageBox) and box.text() == "x.png: not an image"
    qtbot.waitUntil(box.isVisible)
    assert window.panel.run_button.isEnabled()
    box.close()
    assert not box.isVisible() and window.isEnabled()


def test_event_loop_never_stalls_during_an_attack(qtbot, window):
    idle = GapMeter()
    idle.start()
    qtbot.wait(1000)
    idle.stop()
    meter = GapMeter()
    window.panel.apply_settings(iterations=5000, stop_iou=None)
    with qtbot.waitSignal(window.document.snapshotAdded, timeout=60_000):
        assert window.start_attack()
    meter.start()
    qtbot.wait(3000)
    meter.stop()
    with qtbot.waitSignal(window.attack_finished, timeout=60_000):
        window.stop_attack()
    idle_ms, gaps_ms = np.array(idle.gaps) * 1000, np.array(meter.gaps) * 1000
    busy_ms = np.array(meter.busy) * 1000
    refresh = window.live_views.refresh
    print(f"event loop idle: worst gap {idle_ms.max():.1f} ms; during the attack: {len(gaps_ms)} ticks, "
          f"worst gap {gaps_ms.max():.1f} ms, 99th percentile {np.percentile(gaps_ms, 99):.1f} ms, "
          f"median {np.median(gaps_ms):.1f} ms; the GUI thread's own work within a gap at most "
          f"{busy_ms.max():.1f} ms; {refresh.redraw_count} view redraws, "
          f"{1000 * refresh.redraw_seconds / max(1, refresh.redraw_count):.1f} ms each")
    assert refresh.redraw_count >= 2  # the views were drawing while we measured
    # docs/design.md: the event loop never stalls > 50 ms. Our own work between two ticks is the firm check; the
    # wall-clock gaps also hold the scheduler's share of two cores that the attack's threads keep busy
    # (measured here, idle machine: worst 28-32 ms, 99th percentile 19-25 ms), so the worst one gets
    # room for a busier machine, while the 99th percentile must meet the design notes.
    assert busy_ms.max() < 50
    assert np.percentile(gaps_ms, 99) < 50 and gaps_ms.max() < 100


def test_closing_during_an_export_waits_for_it_without_freezing(qtbot, window, tmp_path, monkeypatch):
    from segattack_gui.gui.files import export_worker

    run_and_wait(qtbot, window, iterations=3)
    real_export = export_worker.export_run

    def slow_export(*args, **kwargs):  # a large image on a slow disk
        time.sleep(1.0)
        return real_export(*args, **kwargs)

    monkeypatch.setattr(export_worker, "export_run", slow_export)
    folder = tmp_path / "run"
    window.export_results(folder)
    started = time.perf_counter()
    assert not window.close()  # put off: the export is still being written
    assert time.perf_counter() - started < 0.1  # and the event loop was not held
    assert window.isVisible() and "export" in window.statusBar().currentMessage()
    with qtbot.waitSignal(window.export_finished, timeout=60_000):
        pass
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=10_000)
    assert (folder / "summary.json").is_file() and (folder / "adversarial.png").is_file()
    assert sorted(path.name for path in tmp_path.iterdir() if path.name.startswith(".")) == []


def test_a_failed_export_calls_off_the_close(qtbot, window, tmp_path, monkeypatch, errors):
    from segattack_gui.errors import SegAttackError
    from segattack_gui.gui.files import export_worker

    run_and_wait(qtbot, window, iterations=2)

    def failing_export(result, folder, *args, **kwargs):
        time.sleep(0.3)
        raise SegAttackError(folder, "no space left on the device")

    monkeypatch.setattr(export_worker, "export_run", failing_export)
    window.export_results(tmp_path / "full-disk")
    assert not window.close()
    qtbot.waitUntil(lambda: bool(errors.messages), timeout=10_000)
    qtbot.wait(200)
    assert window.isVisible() and "no space left" in errors.messages[-1]
    assert window.panel.export_button.isEnabled()  # the run can still go elsewhere


def test_the_chosen_precision_reaches_the_model_the_run_and_the_export(bf16_offered, qtbot, window, tmp_path):
    window.panel.set_precision("bf16")
    qtbot.waitUntil(lambda: window.document.model.adapter.precision == "bf16", timeout=60_000)
    wait_until_idle(qtbot, window)
    assert "bf16" in window.status.device_label.text()
    result = run_and_wait(qtbot, window, iterations=2)
    assert result.precision == "bf16" and result.device == "cpu"
    assert "bf16" in window.run_summary.values["time"].text()
    with qtbot.waitSignal(window.export_finished, timeout=60_000):
        window.export_results(tmp_path / "run")
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["precision"] == "bf16" and summary["device"] == "cpu"
    window.panel.set_precision("fp32")  # and back: the same model, rebuilt at fp32
    qtbot.waitUntil(lambda: window.document.model.adapter.precision == "fp32", timeout=60_000)


def test_the_window_fits_a_1280_pixel_screen(window):
    assert window.minimumSizeHint().width() <= 1200  # room for the window frame and a screen margin
    window.resize(1280, 800)
    assert window.width() == 1280


def test_the_three_live_images_line_up(qtbot, window):
    run_and_wait(qtbot, window, iterations=2)
    views = window.live_views
    panels = (views.adversarial_view, views.prediction_view, views.heatmap_view)
    tops = {panel.graphics.mapTo(window, panel.graphics.rect().topLeft()).y() for panel in panels}
    heights = {panel.graphics.height() for panel in panels}
    assert len(tops) == 1 and len(heights) == 1


def test_the_clean_prediction_is_scored_before_any_run(qtbot, window):
    """Off the GUI thread, and again after each edit of the target."""
    document, prediction_view = window.document, window.live_views.prediction_view

    def caption_iou() -> float:
        qtbot.waitUntil(lambda: bool(document.baseline_scores), timeout=10_000)
        window.live_views.refresh.flush()
        caption = prediction_view.detail_label.text()
        assert caption.startswith("IoU ") and caption.endswith("(clean image)"), caption
        return float(caption.split()[1])

    iou = caption_iou()
    assert 0.0 < iou < 0.9  # the demo model does not already predict the demo target
    assert not prediction_view.legend_entries[OUTSIDE].isVisibleTo(window)  # the demo model covers the image
    window.canvas.set_target(document.baseline_prediction)  # aim at what the model already predicts (same grid)
    assert caption_iou() == 1.0


def test_the_status_bar_says_what_a_stroke_paints_and_leads_to_the_tools(qtbot, window):
    readout = window.tool_readout
    assert readout.text() == "Brush 10 px · optic disc"  # the canvas opens ready to paint class 1
    window.canvas.set_brush_size(25)
    window.canvas.set_current_label(2)
    assert readout.text() == "Brush 25 px · optic cup"
    window.canvas.set_tool("eraser")
    assert readout.text() == "Eraser 25 px · target"
    window.canvas.set_active_layer("region")
    window.canvas.set_tool("rectangle")
    assert readout.text() == "Rectangle · perturbation region"
    assert window.panel.pages.currentIndex() == 0
    readout.click()
    assert window.panel.pages.currentWidget().widget() is window.palette_widget


def test_the_step_plot_names_the_methods_own_step(qtbot, window):
    plot = window.metrics_plot.plots["multiplier"]
    window.panel.set_method("pgd")
    run_and_wait(qtbot, window, iterations=2)
    assert "Step size α" in plot.titleLabel.text and plot.getAxis("left").labelText == "α"
    window.panel.set_method("asma")
    run_and_wait(qtbot, window, iterations=2)
    assert "τₙ" in plot.titleLabel.text and plot.getAxis("left").labelText == "τₙ"


def test_the_replay_label_names_the_iteration_the_views_show(qtbot, window):
    window.panel.apply_settings(iterations=5000, stop_iou=None)
    with qtbot.waitSignal(window.document.snapshotAdded, timeout=60_000):
        assert window.start_attack()
    views = window.live_views
    qtbot.waitUntil(lambda: views.adversarial_view.detail_label.text().startswith("iteration"), timeout=10_000)
    for _ in range(8):
        qtbot.wait(90)  # the views' own redraws, at their own pace
        caption = window.live_views.adversarial_view.detail_label.text()
        assert window.replay_bar.label.text().startswith(caption), caption
    with qtbot.waitSignal(window.attack_finished, timeout=60_000):
        window.stop_attack()


def test_a_run_exported_from_the_window_repeats_from_its_folder(qtbot, window, tmp_path, capsys):
    """What the window exports is enough for `segattack rerun`, painted target and region included."""
    from segattack_gui.cli import main

    height, width = window.document.image_shape
    region = np.zeros((height, width), bool)
    region[: height // 2] = True  # only the top half may change
    window.canvas.set_region(region)
    run_and_wait(qtbot, window, iterations=4)
    folder = tmp_path / "run"
    with qtbot.waitSignal(window.export_finished, timeout=60_000):
        window.export_results(folder)
    assert np.abs(np.load(folder / "perturbation.npy")[height // 2:]).max() == 0
    assert main(["rerun", str(folder), "--quiet"]) == 0
    assert "reproduced: identical (4 iterations" in capsys.readouterr().out


def test_the_run_and_pause_tooltips_name_the_menus_shortcuts(window):
    shortcuts = {action.text(): action.shortcut().toString() for action in window.findChildren(QAction)}
    assert f"({shortcuts['&Run']})" in window.panel.run_button.toolTip()
    assert f"({shortcuts['&Pause / resume']})" in window.panel.pause_button.toolTip()


def test_the_application_has_its_shipped_icon(qapp):
    from segattack_gui.gui.app import application_icon

    icon = application_icon()
    assert not icon.isNull() and icon.pixmap(64, 64).width() == 64


def test_a_run_folder_opens_ready_to_run_again(qtbot, window, errors, tmp_path):
    """File > Open a run folder: model, image, target, region and settings come back, and Run
    repeats the run number for number."""
    height, width = window.document.image_shape
    region = np.zeros((height, width), bool)
    region[:, : width // 2] = True
    window.canvas.set_region(region)
    first = run_and_wait(qtbot, window, iterations=4)
    folder = tmp_path / "run"
    with qtbot.waitSignal(window.export_finished, timeout=60_000):
        window.export_results(folder)
    window.canvas.set_region(None)  # the user moves on: other settings, no region, another target
    window.panel.apply_settings("pgd", iterations=9)
    painted = np.zeros((height, width), np.uint8)
    painted[10:20, 10:20] = 1
    window.canvas.set_target(painted)
    window.unsaved_question.answer = "cancel"  # the painted masks are in no file: asked first
    window.open_run_folder(folder)
    assert window.unsaved_question.asked[-1] == ["target"] and np.array_equal(window.target_mask(), painted)
    assert window.panel.settings()[0] == "pgd" and not window.busy  # cancelled: nothing changed
    window.unsaved_question.answer = "discard"
    window.open_run_folder(folder)
    wait_until_idle(qtbot, window)
    assert errors.messages == []  # the recorded files, checked once they are open
    assert np.array_equal(window.document.region, region)
    assert np.array_equal(window.target_mask(), first.target)
    method, parameters = window.panel.settings()
    assert method == "asma" and parameters == first.config
    with qtbot.waitSignal(window.attack_finished, timeout=120_000) as finished:
        assert window.start_attack()
    again = finished.args[0]
    np.testing.assert_array_equal(again.adversarial, first.adversarial)
    assert again.final == first.final


def test_a_folder_that_is_no_run_is_one_line(window, errors, tmp_path):
    window.open_run_folder(tmp_path)
    assert errors.messages[-1] == f"{tmp_path}: holds no summary.json, so it is not a run folder"


def exported_run_with(qtbot, window, folder, **recorded):
    """A two-iteration run exported to ``folder``, its summary.json then saying ``recorded``."""
    run_and_wait(qtbot, window, iterations=2)
    with qtbot.waitSignal(window.export_finished, timeout=60_000):
        window.export_results(folder)
    summary = json.loads((folder / "summary.json").read_text())
    (folder / "summary.json").write_text(json.dumps({**summary, **recorded}))
    return folder


def test_opening_a_run_whose_image_changed_says_run_will_not_repeat_it(qtbot, window, errors, tmp_path):
    # as if the image file had been edited since
    folder = exported_run_with(qtbot, window, tmp_path / "run", image_sha256="0" * 64)
    window.open_run_folder(folder)
    wait_until_idle(qtbot, window)
    assert errors.messages[-1] == (f"{window.document.image.path}: is not the image the run used (its SHA-256 "
                                   "differs); a Run will not repeat its numbers")


def test_a_run_whose_image_is_gone_is_one_line(qtbot, window, errors, tmp_path):
    folder = exported_run_with(qtbot, window, tmp_path / "run", image_path=str(tmp_path / "moved.png"))
    window.open_run_folder(folder)
    assert errors.messages[-1] == (f"{tmp_path / 'moved.png'}: is gone (the run folder names it as its image); "
                                   "open it by hand")
