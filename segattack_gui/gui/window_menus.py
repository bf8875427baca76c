"""The main window's menus: File (open, recent, export, quit), Target, Attack, View, Help.

Each menu entry ends in a call to the window's scripting API (``open_image`` ...), so a menu
does nothing a script could not; the dialogs that ask for files are in :mod:`.file_dialogs`.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QSettings, Slot
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMessageBox

from .. import __version__
from .actions import PAUSE_SHORTCUT, RUN_SHORTCUT, make_action
from .files.dialogs import MODEL_FILTER, ask_folder, ask_open_file
from .masks.sources import IMAGE_FILTER


class WindowMenus(QObject):
    def __init__(self, window):
        super().__init__(window)
        self.window = window
        bar = window.menuBar()
        file_menu = bar.addMenu("&File")
        self.open_image_action = self._add(file_menu, "Open &image…", self._open_image, QKeySequence.StandardKey.Open,
                                           "Open the image to attack (PNG, JPEG, TIFF incl. 16-bit, BMP, DICOM, NIfTI)")
        self._add(file_menu, "Open DICOM &series folder…", self._open_series, None,
                  "Open a folder holding one DICOM series (slices sorted by position)")
        self.open_model_action = self._add(file_menu, "Open &model…", self._open_model, "Ctrl+M",
                                           "Open a model file (torch.export .pt2, TorchScript, state dict + sidecar, "
                                           "nnU-Net checkpoint, or pickled)")
        self._add(file_menu, "Open model &folder…", self._open_model_folder, None,
                  "Open a model folder: nnU-Net trained model, MONAI bundle, or a save_pretrained folder")
        self.open_target_action = self._add(file_menu, "Open &target mask…", self._open_target, "Ctrl+T",
                                            "Open a target mask (class-id, 0/255 binary or palette PNG)")
        self._add(file_menu, "Open a &run folder…", self._open_run_folder, None,
                  "Load an exported run's model, image, target, region and settings, to run it again or vary it")
        self._add(file_menu, "Open a &batch or budget folder…", self._open_budget_folder, None,
                  "Show the share of images reaching the target against the L-inf and L2 budget, per method, "
                  "for a segattack budget or batch folder")
        demo_menu = file_menu.addMenu("Open &demo")
        from ..demo import DEMOS

        for name in DEMOS:
            action = demo_menu.addAction(f"{name} (synthetic)")
            action.setData(name)
            action.triggered.connect(self._open_demo)
        self.recent_menu = file_menu.addMenu("&Recent files")
        window.recent.attach(self.recent_menu)
        file_menu.addSeparator()
        self.export_action = self._add(file_menu, "&Export results…", self.choose_export_folder, "Ctrl+E",
                                       "Write the last run to a new folder (images, arrays, metrics, summary)")
        file_menu.addSeparator()
        self._add(file_menu, "&Quit", window.close, QKeySequence.StandardKey.Quit, "Close SegAttack")

        target_menu = bar.addMenu("&Target")
        window.mask_sources.build_menu(target_menu, self.open_target_action)
        target_menu.addSeparator()
        window.mask_files.add_actions(target_menu)

        attack_menu = bar.addMenu("&Attack")
        self._add(attack_menu, "&Run", window.start_attack, RUN_SHORTCUT, "Start the attack")
        self._add(attack_menu, "&Pause / resume", self._toggle_pause, PAUSE_SHORTCUT, "Hold or continue the attack")
        self._add(attack_menu, "&Stop", window.stop_attack, "Ctrl+.", "Stop after the current iteration")
        attack_menu.addSeparator()
        self.evaluate_on_action = self._add(attack_menu, "&Evaluate on another model…", window.transfer.choose_model,
                                            None, "Judge the last run's adversarial with another model (transfer)")
        self.evaluate_on_folder_action = self._add(
            attack_menu, "Evaluate on another model &folder…", window.transfer.choose_model_folder, None,
            "Judge the last run's adversarial with a model folder (nnU-Net, MONAI bundle, save_pretrained)")

        view_menu = bar.addMenu("&View")
        view_menu.addAction(window.panel_dock.toggleViewAction())
        self._add(view_menu, "&Fit image", window.canvas.zoom_to_fit, "Ctrl+0", "Fit the image in the canvas")

        help_menu = bar.addMenu("&Help")
        self._add(help_menu, "&Keyboard shortcuts", self.show_shortcuts, "F1",
                  "Every key the window answers to, and what the mouse does on the canvas")
        self._add(help_menu, "&About SegAttack", self._about, None, "Version and what this tool does")
        self.shortcuts_dialog = None

    def _add(self, menu, text, slot, shortcut, tip) -> QAction:
        return make_action(self.window, text, slot, tip, shortcut, menu)

    def update_enabled(self, can_export: bool) -> None:
        self.export_action.setEnabled(can_export)
        self.evaluate_on_action.setEnabled(can_export)
        self.evaluate_on_folder_action.setEnabled(can_export)

    # ------------------------------------------------------------------ dialogs
    def _ask_file(self, title: str, file_filter: str) -> str | None:
        return ask_open_file(self.window, title, file_filter)

    @Slot()
    def _open_series(self) -> None:
        folder = ask_folder(self.window, "Open a DICOM series folder")
        if folder:
            self.window.open_image(folder)

    @Slot()
    def _open_image(self) -> None:
        path = self._ask_file("Open image", IMAGE_FILTER)
        if path:
            self.window.open_image(path)

    @Slot()
    def _open_model(self) -> None:
        path = self._ask_file("Open model", MODEL_FILTER)
        if path:
            self.window.open_model(path)

    @Slot()
    def _open_model_folder(self) -> None:
        from PySide6.QtWidgets import QFileDialog

        path = QFileDialog.getExistingDirectory(self.window, "Open model folder")
        if path:
            self.window.open_model(path)

    @Slot()
    def _open_budget_folder(self) -> None:
        folder = ask_folder(self.window, "Open a segattack batch or budget folder")
        if folder:
            self.window.show_budget_curves(folder)

    @Slot()
    def _open_target(self) -> None:
        path = self._ask_file("Open target mask", IMAGE_FILTER)
        if path:
            self.window.open_target(path)

    @Slot()
    def _open_demo(self) -> None:
        action = self.sender()
        if isinstance(action, QAction):
            self.window.open_demo(str(action.data()))

    @Slot()
    def choose_export_folder(self) -> None:
        """Ask for a parent folder; the run goes into a new folder named after image, method and time."""
        folder = QSettings().value("dialogs/export_folder", "")
        parent = QFileDialog.getExistingDirectory(self.window, "Export the run into a new folder inside…",
                                                  str(folder or ""))
        if parent:
            QSettings().setValue("dialogs/export_folder", parent)
            self.window.choose_export_parent(Path(parent))

    @Slot()
    def _open_run_folder(self) -> None:
        folder = ask_folder(self.window, "Open a run folder (it holds summary.json)")
        if folder:
            self.window.open_run_folder(folder)

    @Slot()
    def _toggle_pause(self) -> None:
        session = self.window.session
        if session.state == "paused":
            session.resume()
        else:
            session.pause()

    @Slot()
    def show_shortcuts(self) -> None:
        from .shortcuts_dialog import ShortcutsDialog

        if self.shortcuts_dialog is None:
            self.shortcuts_dialog = ShortcutsDialog(self.window)
        self.shortcuts_dialog.show()
        self.shortcuts_dialog.raise_()

    @Slot()
    def _about(self) -> None:
        QMessageBox.about(
            self.window, "About SegAttack",
            f"<b>SegAttack {__version__}</b><br>Targeted adversarial attacks on biomedical segmentation "
            "models: ASMA and relatives (Ozbulak, Van Messem and De Neve, MICCAI 2019), DAG, targeted PGD.<br>"
            "Paint the mask you want the model to predict, press Run, and keep the evidence.")


def build_menus(window) -> WindowMenus:
    return WindowMenus(window)
