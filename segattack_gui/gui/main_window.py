"""The main window: canvas in the centre, attack panel and label palette docked, live results beside.

It wires the parts to one :class:`AttackDocument` and offers the scripting API of docs/design.md, Window,
so tests and scripts drive it exactly as a user would:

* ``open_image(path)``, ``open_model(path)``, ``open_target(path)`` load in the background,
  in order; wait for ``loading_idle`` (e.g. ``qtbot.waitSignal(window.loading_idle)``) or
  poll ``busy``. Problems arrive on ``error_reported`` and in a non-blocking dialog.
* ``start_attack()`` starts a run (returns False and reports why if it cannot);
  ``attack_finished(result)`` fires once its thread has ended (``None`` if it failed).
* ``export_results(folder)`` writes the last run; ``export_finished(path)`` when done.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSettings, Qt, Signal, Slot
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QDockWidget,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ..errors import SegAttackError
from .canvas.label_palette import LabelPalette
from .canvas.mask_canvas import MaskCanvas
from .canvas.tool_readout import ToolReadout
from .document import AttackDocument, RunRecord
from .files.drops import DropHandler
from .files.export_worker import RunExporter, default_run_folder
from .files.input_size_choice import InputSizeChoice
from .files.loading import DocumentLoader
from .files.recent import RecentFiles
from .masks.autosaver import MaskAutosaver
from .masks.files import MaskFiles
from .masks.sources import MaskSources
from .run.attack_panel import AttackPanel
from .run.attack_worker import AttackJob, AttackSession
from .run.baseline_scores import BaselineScorer
from .run.setup import prepare_run
from .run.summary import RunSummary
from .files.run_folder_opening import open_run_folder
from .run.transfer import TransferPanel
from .views.budget_view import BudgetCurvesDialog
from .views import plot_style
from .views.live_views import LiveViews
from .views.metrics_plot import MetricsPlot
from .views.replay_bar import ReplayBar
from .views.run_caption import RunCaption
from .views.status_panel import StatusPanel
from .views.window_level import WindowLevelBar, with_bar_above
from .window_menus import build_menus

log = logging.getLogger(__name__)

DEFAULT_SIZE = (1440, 900)


class MainWindow(QMainWindow):
    attack_finished = Signal(object)  # AttackResult, or None when the run failed
    loading_idle = Signal()
    export_finished = Signal(str)
    error_reported = Signal(str)

    def __init__(self, demo: str | None = "fundus", demo_root: Path | None = None, parent: QWidget | None = None,
                 autosave_folder: Path | None = None):
        super().__init__(parent)
        plot_style.configure()
        self.setObjectName("mainWindow")
        self.setWindowTitle("SegAttack")
        self.resize(*DEFAULT_SIZE)
        self.setAcceptDrops(True)
        self.document = AttackDocument(self)
        self.loader = DocumentLoader(self.document, self)
        self.loader.ask_consent = self._ask_consent
        self.loader.selected_label = lambda: self.canvas.current_label()
        self.session = AttackSession(self)
        self.exporter = RunExporter(self)
        self.autosaver = MaskAutosaver(self.document, self.loader, autosave_folder, self)
        self.scorer = BaselineScorer(self.document, self)
        self.recent = RecentFiles(self)
        self.error_box: QMessageBox | None = None
        self._finished_result = None
        self._close_after_export = False
        self._settled_masks: tuple | None = None  # mask revisions the close-time question was answered for
        self._demo_paths: set[Path] = set()  # opened with the demo: kept out of Recent files
        self._build_widgets()
        self.mask_sources = MaskSources(self.document, self.loader, self.canvas, self)
        self.mask_files = MaskFiles(self.document, self.loader, self.canvas, self)
        self.input_size_choice = InputSizeChoice(self.document, self.loader, self)
        self.menus = build_menus(self)
        self.drops = DropHandler(self)
        self._connect()
        self.panel.set_device(self.panel.device_combo.itemData(self.panel.device_combo.count() - 1))
        self.loader.device, self.loader.precision = self.panel.device, self.panel.precision
        self._update_readiness()
        if demo:
            self.open_demo(demo, demo_root)
        self.autosaver.offer_restore(self)

    # ------------------------------------------------------------------ layout
    def _build_widgets(self) -> None:
        self.canvas = MaskCanvas(layers=self.document.masks.layers)  # the document's masks, drawn and edited
        self.canvas.setMinimumSize(280, 280)
        self.panel = AttackPanel()
        self.palette_widget = LabelPalette(self.canvas, self.document)
        self.live_views = LiveViews(self.document)
        self.replay_bar = ReplayBar(self.document)
        self.live_views.redrawn.connect(self.replay_bar.sync)
        self.metrics_plot = MetricsPlot(self.document)
        results = QWidget()
        results.setObjectName("resultsPanel")
        column = QVBoxLayout(results)
        column.setContentsMargins(4, 0, 0, 0)
        self.run_caption = RunCaption(self.document)
        column.addWidget(self.run_caption)
        splitter_results = QSplitter(Qt.Orientation.Vertical)
        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addWidget(self.live_views, 1)
        top_layout.addWidget(self.replay_bar)
        splitter_results.addWidget(top)
        splitter_results.addWidget(self.metrics_plot)
        splitter_results.setStretchFactor(0, 1)
        splitter_results.setStretchFactor(1, 1)
        splitter_results.setSizes([370, 430])
        column.addWidget(splitter_results)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.window_level = WindowLevelBar(self.canvas, self.document)
        self.splitter.addWidget(with_bar_above(self.window_level, self.canvas))
        self.splitter.addWidget(results)
        self.splitter.setStretchFactor(0, 2)
        self.splitter.setStretchFactor(1, 3)
        self.splitter.setSizes([420, 690])
        self.setCentralWidget(self.splitter)
        self.run_summary = RunSummary(self.document)
        self.panel.add_settings_section(self.run_summary)
        self.transfer = TransferPanel(self.document, self.loader)
        self.panel.add_settings_section(self.transfer)
        self.panel.add_page("Paint target", self.palette_widget)
        self.panel_dock = QDockWidget("Controls", self)
        self.panel_dock.setObjectName("controlsDock")
        self.panel_dock.setWidget(self.panel)
        self.panel_dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable |
                                    QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.panel_dock)
        self.resizeDocks([self.panel_dock], [320], Qt.Orientation.Horizontal)
        self.tool_readout = ToolReadout(self.canvas)
        self.statusBar().addPermanentWidget(self.tool_readout)
        self.tool_readout.openTools.connect(lambda: self.panel.show_page(self.palette_widget))
        self.status = StatusPanel(self.statusBar(), self.document, self.session)
        self.statusBar().addPermanentWidget(self.window_level.value_label)

    def _connect(self) -> None:
        document, panel, session = self.document, self.panel, self.session
        document.imageChanged.connect(self._on_image_changed)
        document.modelChanged.connect(self._on_model_changed)
        document.labelsChanged.connect(self._on_labels_changed)
        for signal in (document.imageChanged, document.modelChanged, document.targetChanged,
                       document.runFinished, document.runStarted):
            signal.connect(self._update_readiness)
        self.canvas.cursorMoved.connect(self.status.show_cursor)
        self.window_level.sliceChosen.connect(self._open_slice)
        self.window_level.windowChanged.connect(self.live_views.set_display_window)
        document.imageChanged.connect(self.window_level.on_image_changed)  # after the binding shows [0, 1] pixels
        panel.runRequested.connect(self.start_attack)
        panel.pauseRequested.connect(session.pause)
        panel.resumeRequested.connect(session.resume)
        panel.stopRequested.connect(session.stop)
        panel.exportRequested.connect(self.menus.choose_export_folder)
        panel.deviceChanged.connect(self._on_compute_changed)
        panel.precisionChanged.connect(self._on_compute_changed)
        session.stateChanged.connect(panel.set_state)
        session.stateChanged.connect(self.run_summary.show_session_state)
        session.stateChanged.connect(self._say_session_state)
        session.stateChanged.connect(self._update_readiness)
        session.snapshotReady.connect(document.add_snapshot)
        session.succeeded.connect(self._on_attack_succeeded)
        session.interrupted.connect(self._on_attack_interrupted)
        session.failed.connect(self._on_attack_failed)
        session.restarted.connect(self._on_attack_restarted)
        session.adapterMoved.connect(self._on_adapter_moved)
        session.ended.connect(self._on_attack_ended)
        self.loader.failed.connect(self.report_error)
        self.loader.message.connect(self.status.show_message)
        self.loader.tasks.busyChanged.connect(self._update_readiness)
        self.loader.tasks.idle.connect(self.loading_idle)
        self.loader.imageLoaded.connect(lambda path: self.remember_recent("image", path))
        self.loader.modelLoaded.connect(lambda path: self.remember_recent("model", path))
        self.loader.targetLoaded.connect(lambda path: self.remember_recent("target", path))
        self.exporter.exported.connect(self._on_exported)
        self.exporter.failed.connect(self._on_export_failed)
        self.exporter.tasks.idle.connect(self._close_if_asked)
        self.exporter.tasks.busyChanged.connect(self._update_readiness)
        self.recent.chosen.connect(self.open_file_as)

    # ------------------------------------------------------------------ scripting API (docs/design.md, Window)
    @property
    def busy(self) -> bool:
        """True while files are loading (``loading_idle`` fires when they are done)."""
        return self.loader.busy

    def open_image(self, path) -> bool:
        """Open an image; its masks start empty, so unsaved painting is asked about first (False:
        the user kept it and nothing was opened)."""
        if not self.mask_files.settle_before_replacing("Opening another image"):
            return False
        self.loader.open_image(path)
        return True

    def _open_slice(self, index: int) -> None:
        """Another slice of the open DICOM/NIfTI file (the slider); its masks start empty, as for an image."""
        image = self.document.image
        if image is None or image.source is None or index == image.source.index:
            return
        if self.mask_files.settle_before_replacing("Opening another slice"):
            self.loader.open_image(image.path, slice_index=index, axis=image.source.axis)
        else:
            self.window_level.on_image_changed()  # the slider goes back to the slice still shown

    def open_model(self, path) -> None:
        current = getattr(self.document.model, "path", None)
        if current is not None and Path(current).resolve() in self._demo_paths \
                and Path(path).resolve() not in self._demo_paths:
            self.panel.reset_to_defaults()  # the demo's steps were chosen for the demo model, not this one
        self.loader.open_model(path)

    def open_target(self, path) -> None:
        """A class-id mask as it is; a binary (0/1, 0/255 or anti-aliased) one marks the selected label."""
        self.loader.open_target(path)

    def open_file_as(self, kind: str, path: str) -> None:
        {"image": self.open_image, "model": self.open_model, "target": self.open_target,
         "run": self.open_run_folder}[kind](path)

    def open_run_folder(self, folder) -> None:
        """An exported run's model, image, target, region and settings, ready to run again or to vary
        (:mod:`.files.run_folder_opening`); the files load in the background, in order."""
        open_run_folder(self, folder)

    def show_budget_curves(self, folder) -> BudgetCurvesDialog:
        """Success against budget for a ``segattack budget`` or ``batch`` folder, read off the GUI thread."""
        self.budget_dialog = BudgetCurvesDialog(folder, self.loader.tasks.submit, self)
        self.budget_dialog.show()
        self.budget_dialog.load()
        return self.budget_dialog

    def target_mask(self) -> np.ndarray:
        """The painted target: class ids on the image grid (uint8 H x W), a copy."""
        return self.document.target.copy()

    def save_target(self, path) -> Path:
        """Write the painted target as a class-id palette PNG; raises SegAttackError if it cannot."""
        return self.mask_files.save_target(path)

    def open_region(self, path) -> None:
        """Open a perturbation-region mask (non-zero = may change) in the background."""
        self.mask_files.open_region(path)

    def save_region(self, path) -> Path:
        """Write the perturbation region as a 0/1 palette PNG."""
        return self.mask_files.save_region(path)

    def start_attack(self) -> bool:
        """Start the attack with the panel's settings; False (and a message) when it cannot start."""
        try:
            job, record = self._prepare_run()
        except SegAttackError as error:
            self.report_error(error.one_line())
            return False
        self._finished_result = None
        self.document.begin_run(record)
        self.session.start(job)
        self.status.show_message(f"Running {record.method} for {record.config['iterations']} iterations "
                                 f"on {record.device} ({record.precision})")
        return True

    def pause_attack(self) -> None:
        self.session.pause()

    def resume_attack(self) -> None:
        self.session.resume()

    def stop_attack(self) -> None:
        self.session.stop()

    def export_results(self, folder) -> None:
        """Write the last run to ``folder`` (docs/design.md, Run folders) in the background; ``export_finished`` when done."""
        run = self.document.run
        try:
            if run is None or run.result is None:
                raise SegAttackError(None, "there is no finished run to export yet; press Run first")
            document = self.document
            same_inputs = document.image is not None and document.model is not None and \
                run.provenance.image_sha256 == document.image.sha256 and \
                run.provenance.model_sha256 == document.model.sha256  # the run's own image and model
            self.exporter.export(run, Path(folder), self.live_views.heatmap_view.style(),
                                 *((document.image, document.model.adapter) if same_inputs else ()))
        except SegAttackError as error:
            self.report_error(error.one_line())

    def open_demo(self, name: str = "fundus", root: Path | None = None) -> bool:
        """Open a shipped demo's image, model and ready target (False if its files are missing)."""
        from ..assets import resource_root
        from ..demo import DEMOS

        demo = DEMOS[name]
        root = Path(root) if root is not None else resource_root()
        paths = {field: demo.path(field, root) for field in ("image", "model", "target")}
        missing = [path.name for path in paths.values() if not path.exists()]
        if missing:
            self.status.show_message(f"The {name} demo is not installed ({', '.join(missing)} missing); "
                                     "run `segattack demo` to build it")
            return False
        if not self.mask_files.settle_before_replacing(f"Opening the {name} demo"):
            return False
        # The demo's measured settings (segattack_gui.demo.catalog.DEMO_ATTACK): it converges in seconds.
        self.panel.apply_settings(method="asma", **demo.attack_parameters)
        self._demo_paths = {path.resolve() for path in paths.values()}
        self.loader.open_image(paths["image"])
        self.open_model(paths["model"])
        self.open_target(paths["target"])
        return True

    # ------------------------------------------------------------------ messages
    @Slot(str)
    def report_error(self, message: str) -> None:
        """Every user-facing problem comes here: one line, in a dialog that does not block."""
        log.warning("%s", message)
        self.error_reported.emit(message)
        self.show_error(message)

    def show_error(self, message: str) -> None:
        """A window-modal message box opened with ``open()``: it never blocks the event loop."""
        if self.error_box is None:
            self.error_box = QMessageBox(QMessageBox.Icon.Warning, "SegAttack", "", QMessageBox.StandardButton.Ok,
                                         self)
            self.error_box.setObjectName("errorDialog")
        self.error_box.setText(message)
        self.error_box.open()

    def _ask_consent(self, path: Path, sha256: str) -> bool:
        return self.ask_pickle_consent(path, sha256)

    def ask_pickle_consent(self, path: Path, sha256: str) -> bool:
        """A pickled model runs code from the file: ask before loading it (tests replace this)."""
        answer = QMessageBox.question(
            self, "Load a model that runs code?",
            f"{Path(path).name} {self.loader.consent_reason or 'is a pickled PyTorch model'}. Loading it runs "
            f"code, which could do anything a program can do.\n\nSHA-256: {sha256}\n\n"
            "Load it only if you trust where it came from. Load it?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    # ------------------------------------------------------------------ runs
    def _prepare_run(self) -> tuple[AttackJob, RunRecord]:
        if self.session.running:
            raise SegAttackError(None, "an attack is already running")
        if self.loader.busy:
            raise SegAttackError(None, "files are still loading; try again in a moment")
        method, parameters = self.panel.settings()
        return prepare_run(self.document, method, parameters)

    @Slot(str)
    def _say_session_state(self, state: str) -> None:
        if state == "stopping":
            self.status.show_message("Stopping after the current iteration; what the run has computed is kept…")
        elif state == "paused":
            self.status.show_message("Paused after the current iteration: Resume goes on, Stop keeps what it has")

    @Slot(object)
    def _on_attack_succeeded(self, result) -> None:
        self._finished_result = result
        self.document.finish_run(result)
        final = result.final
        self.status.show_message(
            f"{result.method}: {result.iterations_run} iterations in {result.seconds:.1f} s ({result.stop_reason}); "
            f"IoU {final['iou']:.3f}, L2 {final['l2']:.3f}, L∞ {final['linf']:.4f}")
        if result.error:
            self.report_error(result.error)

    @Slot(object, str)
    def _on_attack_interrupted(self, result, message: str) -> None:
        """The model failed mid-run: keep (and allow exporting) what it computed, say what happened."""
        self._finished_result = result
        self.document.finish_run(result, message)
        self.report_error(message)

    @Slot(str)
    def _on_attack_restarted(self, message: str) -> None:
        self.document.restart_run()
        self.report_error(message)

    @Slot(object)
    def _on_adapter_moved(self, adapter) -> None:
        self.document.replace_adapter(adapter)
        self.loader.device, self.loader.precision = str(adapter.device), adapter.precision
        # The panel shows where the model went; it must not ask to move it again.
        self.panel.blockSignals(True)
        self.panel.set_device(str(adapter.device))
        self.panel.set_precision(adapter.precision)
        self.panel.blockSignals(False)

    @Slot()
    def _on_compute_changed(self) -> None:
        """Device or precision changed in the panel: the loaded model follows (off the GUI thread)."""
        self.loader.move_model(self.panel.device, self.panel.precision)

    @Slot(str)
    def _on_attack_failed(self, message: str) -> None:
        self._finished_result = None
        self.document.finish_run(None, message)
        self.report_error(message)

    @Slot()
    def _on_attack_ended(self) -> None:
        for refresh in self._refreshes():
            refresh.flush()
        result, self._finished_result = self._finished_result, None
        self.attack_finished.emit(result)

    @Slot(str)
    def _on_exported(self, path: str) -> None:
        self.run_caption.update_text()  # the run's record now names the folder
        self.status.show_message(f"Exported the run to {path} (segattack rerun repeats it from there)")
        self.export_finished.emit(path)

    @Slot()
    def _close_if_asked(self) -> None:
        """The exports are written: the close that waited for them goes ahead."""
        if self._close_after_export:
            self.close()

    @Slot(str)
    def _on_export_failed(self, message: str) -> None:
        self._close_after_export = False  # stay open: the run is still here to export elsewhere
        self._settled_masks = None  # and a later close asks about the masks again
        self.report_error(message)

    def choose_export_parent(self, parent: Path) -> None:
        """Export into a new, named folder inside ``parent`` (what the Export button does)."""
        run = self.document.run
        if run is None or run.result is None:
            self.report_error("there is no finished run to export yet; press Run first")
            return
        self.export_results(default_run_folder(parent, run))

    # ------------------------------------------------------------------ document -> window
    @Slot()
    def _on_image_changed(self) -> None:
        """A new image: the canvas shows it over the document's (new, empty) masks."""
        self.canvas.set_image(self.document.image.pixels)
        self.canvas.zoom_to_fit()
        self._update_title()

    @Slot()
    def _on_labels_changed(self) -> None:
        labels = self.document.labels
        self.canvas.set_classes(labels.names, labels.colors, labels.hidden)

    @Slot()
    def _on_model_changed(self) -> None:
        adapter = self.document.model.adapter
        self.status.show_device(f"{adapter.device}, {adapter.precision}")
        self._update_title()

    @Slot()
    def _update_readiness(self, *_) -> None:
        missing = self.document.missing_inputs()
        loading = self.loader.busy
        run = self.document.run
        can_export = run is not None and run.result is not None and not self.exporter.busy
        hint = "Loading…" if loading else (missing or "")
        self.panel.set_readiness(missing is None and not loading, can_export, hint)
        self.menus.update_enabled(can_export)

    def _update_title(self) -> None:
        parts = [path.name for path in (getattr(self.document.image, "path", None),
                                        getattr(self.document.model, "path", None)) if path is not None]
        self.setWindowTitle("SegAttack" + (" — " + " · ".join(parts) if parts else ""))

    def remember_recent(self, kind: str, path: str) -> None:
        """Recent files are the user's own: the demo, opened at every start, would push them out."""
        if Path(path).resolve() not in self._demo_paths:
            self.recent.add(kind, path)

    def _refreshes(self):
        """Every coalescing redraw timer of the window (flushed when a run ends, stopped at close)."""
        return (self.live_views.refresh, self.metrics_plot.refresh, self.status.refresh)

    # ------------------------------------------------------------------ drag and drop
    def dragEnterEvent(self, event) -> None:  # noqa: N802 (Qt override)
        self.drops.drag_enter(event)

    def dropEvent(self, event) -> None:  # noqa: N802
        self.drops.drop(event)

    # ------------------------------------------------------------------ closing
    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        """Offer to save painted masks, stop the attack, let loads end, stop every timer.

        An export still being written is let finish first, with the window responsive: the
        close is put off until it is written, and called off if it fails, so the run it holds
        can still be exported elsewhere. The window hides before it waits for the attack's
        current iteration, which on a large image on the CPU can take seconds.
        """
        masks = self.document.masks.revisions()  # any edit, here or from a file, moves them
        if self._settled_masks != masks:
            if not self.mask_files.settle_before_replacing("Closing the window"):
                event.ignore()
                return
            self._settled_masks = masks  # asked once per close; painting on while an export waits asks again
        if self.exporter.busy:
            self.session.stop()
            if not self._close_after_export:
                self._close_after_export = True
                self.status.show_message("Closing as soon as the export is written…")
            event.ignore()
            return
        started = time.perf_counter()
        self.hide()
        self.session.shutdown(timeout_ms=1000)
        self.loader.shutdown()
        self.exporter.shutdown()
        self.autosaver.shutdown()
        self.scorer.shutdown()
        for refresh in self._refreshes():
            refresh.stop()
        if self.error_box is not None:
            self.error_box.close()
        QSettings().setValue("window/geometry", self.saveGeometry())
        log.debug("closed in %.3f s", time.perf_counter() - started)
        super().closeEvent(event)
