"""Where a target comes from besides painting: predictions, files, and transforms of the current one.

Researchers rarely paint a target from nothing. The paper's protocol takes another
image's mask; a quick experiment edits the model's own prediction (move the lesion,
grow the disc, drop the vessels). Predictions run on the loader's background queue;
transforms go through ``MaskCanvas.apply_transform`` so each is one undo step.
Every action has a plain method (``apply_transform("dilate", class_id=1, radius=3)``)
that the menu calls after its dialog, so scripts and tests skip the dialogs.
"""

from __future__ import annotations

from pathlib import Path

import cv2
from PySide6.QtCore import QObject, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QMenu,
    QSpinBox,
    QWidget,
)

from ...core import masks
from ...errors import SegAttackError
from ...io.images import read_image
from ..actions import make_action
from ..document import AttackDocument
from ..files.dialogs import ask_open_file
from ..files.loading import DocumentLoader, predict_on_image_grid

IMAGE_FILTER = ("Images (*.png *.jpg *.jpeg *.tif *.tiff *.bmp *.dcm *.dicom *.nii *.nii.gz);;"
                "DICOM (*.dcm *.dicom *);;NIfTI (*.nii *.nii.gz);;All files (*)")

# name -> (menu text, parameters as (name, label, kind, default, minimum, maximum))
TRANSFORMS = {
    "shift": ("Shift…", (("dy", "down by (pixels)", int, 10, -10_000, 10_000),
                         ("dx", "right by (pixels)", int, 0, -10_000, 10_000))),
    "scale": ("Scale…", (("factor", "factor (about the mask's centre)", float, 1.2, 0.05, 20.0),)),
    "rotate": ("Rotate…", (("degrees", "degrees (counter-clockwise)", float, 15.0, -360.0, 360.0),)),
    "dilate": ("Dilate class…", (("class_id", "class", "class", 1, 0, 255),
                                 ("radius", "radius (pixels)", int, 3, 1, 500))),
    "erode": ("Erode class…", (("class_id", "class", "class", 1, 0, 255),
                               ("radius", "radius (pixels)", int, 3, 1, 500))),
    "erase_class": ("Erase class…", (("class_id", "class", "class", 1, 0, 255),)),
}


TRANSFORM_TIPS = {
    "dilate": "Grow a class over the background and lower class ids (a disc grows around its cup, a cup into the rim)",
    "erode": "Shrink a class where it meets the background or a lower class id, which takes the freed pixels",
}


def transform_function(name: str, **parameters):
    """The ``core.masks`` operation ``name`` with its parameters bound, as mask -> mask."""
    if name not in TRANSFORMS:
        raise ValueError(f"unknown transform {name!r} (known: {', '.join(TRANSFORMS)})")
    operation = getattr(masks, name)

    def apply(mask):
        return operation(mask, **parameters)

    return apply


class ParameterDialog(QDialog):
    """A small form for one transform's parameters."""

    def __init__(self, title: str, fields, class_names, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(title)
        layout = QFormLayout(self)
        self._editors = {}
        for name, label, kind, default, minimum, maximum in fields:
            if kind == "class":
                editor = QComboBox()
                for class_id, class_name in enumerate(class_names):
                    editor.addItem(f"{class_id}: {class_name}", class_id)
                editor.setCurrentIndex(min(default, len(class_names) - 1))
            elif kind is int:
                editor = QSpinBox()
                editor.setRange(minimum, maximum)
                editor.setValue(default)
            else:
                editor = QDoubleSpinBox()
                editor.setDecimals(2)
                editor.setRange(minimum, maximum)
                editor.setValue(default)
            self._editors[name] = editor
            layout.addRow(label, editor)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addRow(buttons)

    def values(self) -> dict:
        return {name: editor.currentData() if isinstance(editor, QComboBox) else editor.value()
                for name, editor in self._editors.items()}


class MaskActions(QObject):
    """What every group of mask actions works on: the document, its loader, the canvas, the window."""

    def __init__(self, document: AttackDocument, loader: DocumentLoader, canvas, window: QWidget):
        super().__init__(window)
        self.document = document
        self.loader = loader
        self.canvas = canvas
        self.window = window


class MaskSources(MaskActions):
    """Actions that replace or transform the target; ``build_menu`` adds them to a menu."""

    # ------------------------------------------------------------------ sources
    def target_from_prediction(self) -> None:
        """The model's prediction on the current image becomes the target (a start for editing)."""
        document = self.document

        def prepare():
            if document.image is None or document.model is None:
                raise SegAttackError(None, "open an image and a model first")
            adapter, pixels = document.model.adapter, document.image.pixels
            return lambda: predict_on_image_grid(adapter, pixels)[1]

        def done(prediction) -> None:
            document.replace_target(prediction, "model prediction on the image")

        self.loader.submit("target from prediction", prepare, done)

    def target_from_other_image(self, path) -> None:
        """The model's prediction on another image (the paper's protocol). Images of a dataset often
        differ in size: a prediction of another size is resized to this image (nearest neighbour,
        so class ids stay class ids), and the target's origin and the status bar say so."""
        path = Path(path)
        document = self.document

        def prepare():
            if document.image is None or document.model is None:
                raise SegAttackError(None, "open an image and a model first")
            adapter, shape = document.model.adapter, document.image_shape

            def job():
                other = read_image(path)
                prediction = predict_on_image_grid(adapter, other.pixels)[1]
                origin = f"model prediction on {path.name}"
                if prediction.shape != shape:
                    origin += (f" ({other.width}x{other.height}), resized to {shape[1]}x{shape[0]} "
                               "(nearest neighbour)")
                    prediction = cv2.resize(prediction, (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST)
                return prediction, origin

            return job

        def done(result) -> None:
            prediction, origin = result
            document.replace_target(prediction, origin)
            self.loader.message.emit(f"Target: {origin}")

        self.loader.submit(f"target from {path.name}", prepare, done)

    def apply_transform(self, name: str, **parameters) -> None:
        """Transform the painted target (one undo step on the canvas)."""
        self.canvas.apply_transform(transform_function(name, **parameters))

    # ------------------------------------------------------------------ menu
    def build_menu(self, menu: QMenu, open_target_action: QAction) -> None:
        menu.addAction(self._action("From the model's prediction", self._on_from_prediction,
                                    "Predict on the image and use the prediction as the target, to edit it"))
        menu.addAction(open_target_action)
        menu.addAction(self._action("From another image's prediction…", self._on_from_other_image,
                                    "Predict on another image and aim at that (the paper's protocol); another size is resized"))
        menu.addSeparator()
        for name, (text, _) in TRANSFORMS.items():
            tip = TRANSFORM_TIPS.get(name, f"Transform the target: {name.replace('_', ' ')}")
            action = self._action(text, self._on_transform, tip)
            action.setData(name)
            menu.addAction(action)

    def _action(self, text: str, slot, tip: str) -> QAction:
        return make_action(self, text, slot, tip)

    @Slot()
    def _on_from_prediction(self) -> None:
        self.target_from_prediction()

    @Slot()
    def _on_from_other_image(self) -> None:
        path = ask_open_file(self.window, "Predict the target on another image", IMAGE_FILTER)
        if path:
            self.target_from_other_image(path)

    @Slot()
    def _on_transform(self) -> None:
        action = self.sender()
        name = action.data() if isinstance(action, QAction) else None
        if name not in TRANSFORMS:
            return
        text, fields = TRANSFORMS[name]
        dialog = ParameterDialog(text.rstrip("…"), fields, self.document.class_names, self.window)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.apply_transform(name, **dialog.values())
