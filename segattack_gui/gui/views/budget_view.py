"""The window's "Success against budget": the share of images reaching their target against the
L-inf and L2 budget, per method, for a ``segattack budget`` folder or a ``segattack batch`` folder.

It shows the very figure ``segattack budget`` writes for a paper (:mod:`...io.curve_figure`), so
what a researcher looks at is what they publish. For a batch folder the curves are computed from
its runs, and the criterion (pixel accuracy or IoU, and its threshold) can be chosen again; Save
writes ``curves.csv``, ``curves.svg`` and ``curves.png`` beside the runs.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (QComboBox, QDialog, QDoubleSpinBox, QHBoxLayout, QLabel, QPushButton, QScrollArea,
                               QVBoxLayout, QWidget)

from ...errors import SegAttackError
from ...io.budget_curves import CURVE_COLUMNS, FolderCurves, curves_in_folder, goal_of, panels_from_rows
from ...io.curve_figure import figure_png, write_curve_figure
from ...io.files import write_csv_table

CRITERIA = (("pa", "pixel accuracy"), ("iou", "IoU"))


def figure_pixmap(curves: FolderCurves, goal: str) -> QPixmap | None:
    panels = panels_from_rows(curves.rows, goal)
    if not panels:
        return None
    rgb = figure_png(panels, zoom=1)
    height, width = rgb.shape[:2]
    image = QImage(rgb.data, width, height, 3 * width, QImage.Format.Format_RGB888)
    return QPixmap.fromImage(image.copy())


class BudgetCurvesDialog(QDialog):
    """One folder's curves; ``submit(name, prepare, on_done, on_failed)`` (a TaskQueue's) reads them off
    the GUI thread."""

    shown = Signal()  # the figure was drawn (tests wait for it)

    def __init__(self, folder, submit, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("budgetCurvesDialog")
        self.setWindowTitle(f"Success against budget: {Path(folder).name}")
        self.folder, self.submit = Path(folder), submit
        self.curves: FolderCurves | None = None
        layout = QVBoxLayout(self)
        self.source = QLabel("Reading…")
        self.source.setObjectName("budgetSource")
        self.source.setWordWrap(True)
        layout.addWidget(self.source)
        choice = QHBoxLayout()
        self.criterion = QComboBox()
        for key, words in CRITERIA:
            self.criterion.addItem(words, key)
        self.criterion.setToolTip("What counts as reaching the target")
        self.threshold = QDoubleSpinBox()
        self.threshold.setRange(0.0, 1.0)
        self.threshold.setDecimals(3)
        self.threshold.setSingleStep(0.01)
        self.threshold.setValue(0.99)
        self.threshold.setToolTip("Reached: the criterion at least this (0.99: 99 % of the pixels, as ALMA prox aims)")
        self.recompute = QPushButton("Recompute")
        self.recompute.clicked.connect(self.load)
        for widget in (QLabel("Reached when"), self.criterion, QLabel(">="), self.threshold, self.recompute):
            choice.addWidget(widget)
        choice.addStretch(1)
        self.choice = QWidget()
        self.choice.setLayout(choice)
        layout.addWidget(self.choice)
        self.figure = QLabel()
        self.figure.setObjectName("budgetFigure")
        self.figure.setAlignment(Qt.AlignmentFlag.AlignCenter)
        scroll = QScrollArea()
        scroll.setWidget(self.figure)
        scroll.setWidgetResizable(True)
        layout.addWidget(scroll, 1)
        buttons = QHBoxLayout()
        self.save_button = QPushButton("Save curves beside the runs")
        self.save_button.setToolTip("Write curves.csv, curves.svg and curves.png into the batch folder")
        self.save_button.clicked.connect(self.save)
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        buttons.addStretch(1)
        buttons.addWidget(self.save_button)
        buttons.addWidget(close)
        layout.addLayout(buttons)
        self.choice.setVisible(False)
        self.save_button.setVisible(False)
        self.resize(820, 470)

    @Slot()
    def load(self) -> None:
        folder, criterion, threshold = self.folder, self.criterion.currentData(), self.threshold.value()
        self.source.setText("Reading…")
        self.submit(f"read curves of {folder.name}", lambda: (lambda: curves_in_folder(folder, criterion, threshold)),
                    self._show, self._failed)

    def _failed(self, failure) -> None:
        self.source.setText(failure.one_line(f"{self.folder}: cannot read curves (" + "{error})"))
        self.source.setStyleSheet("color: #b00020;")
        self.shown.emit()

    def _show(self, curves: FolderCurves) -> None:
        self.curves = curves
        self.choice.setVisible(curves.computed)
        self.save_button.setVisible(curves.computed)
        goal = goal_of(curves.rows)
        pixmap = figure_pixmap(curves, goal)
        methods = sorted({row["method"] for row in curves.rows})
        if pixmap is None:
            self.figure.setText("No method reached the target at any budget: nothing to draw.")
        else:
            self.figure.setPixmap(pixmap)
        self.source.setText(f"{self.folder}: {curves.source}; {goal}; methods {', '.join(methods)}")
        self.shown.emit()

    @Slot()
    def save(self) -> None:
        if self.curves is None:
            return
        try:
            write_csv_table(self.folder / "curves.csv", self.curves.rows, CURVE_COLUMNS, ".9g")
            panels = panels_from_rows(self.curves.rows, goal_of(self.curves.rows))
            if panels:
                write_curve_figure(self.folder / "curves", panels)
        except SegAttackError as error:
            self.source.setText(error.one_line())
            return
        self.source.setText(f"Wrote curves.csv{', curves.svg and curves.png' if panels else ''} into {self.folder}")
