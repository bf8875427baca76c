"""The painted masks as files: save the target and the region, open a region, and the one
question asked before anything would lose them.

A painted target is the researcher's work and the input of the next step (``segattack
attack --target``, ``batch --targets``), so it leaves the GUI as the same palette PNG the
export writes; the region leaves as a 0/1 palette PNG that ``--region`` reads. Saving is
a small encode (about 25 ms for a 2048 x 2048 mask), done in place; opening a region goes
through the loader's background queue like every other file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
from PySide6.QtCore import Slot
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QMenu, QMessageBox

from ...errors import SegAttackError
from ...io.hashing import sha256_file
from ...io.images import IMAGE_SUFFIXES
from ...io.files import write_file_bytes
from ...io.masks import REGION_PALETTE, read_mask, write_class_png
from ...io.medical.native_export import target_nifti
from ..actions import make_action
from ..files.dialogs import ask_open_file, ask_save_file
from .sources import MaskActions

PNG_FILTER = "PNG masks (*.png);;All files (*)"
LAYER_WORDS = {"target": "target mask", "region": "perturbation region"}

CloseAnswer = Literal["save", "discard", "cancel"]


class MaskFiles(MaskActions):
    """Save and open actions for the two mask layers, and the unsaved-masks question at close."""

    # ------------------------------------------------------------------ files
    def save_target(self, path) -> Path:
        """Write the painted target as a class-id palette PNG (what ``--target`` reads); on a DICOM or
        NIfTI image also as a NIfTI label map with the image's geometry, beside it (``<name>.nii.gz``)."""
        path = _png_path(path)
        write_class_png(path, self.document.target, self.document.colors)
        image = self.document.image
        if image is not None and image.source is not None:
            write_file_bytes(path.with_name(f"{path.stem}.nii.gz"), target_nifti(image.source, self.document.target))
        self.document.note_target_saved(path, sha256_file(path))
        return path

    def save_region(self, path) -> Path:
        """Write the perturbation region as a 0/1 palette PNG (what ``--region`` reads)."""
        path = _png_path(path)
        region = self.document.region  # None: every pixel may change
        everywhere = np.ones(self.document.image_shape, np.uint8)
        write_class_png(path, everywhere if region is None else region.astype(np.uint8), REGION_PALETTE)
        self.document.note_region_saved(path, sha256_file(path))
        return path

    def open_region(self, path) -> None:
        """Read a region mask (non-zero = may change) in the background, like ``--region``."""
        path = Path(path)
        document = self.document

        def prepare():
            if document.image is None:
                raise SegAttackError(path, "open an image before its perturbation region")
            shape, image_source = document.image_shape, document.image.source  # a NIfTI mask: the image's slice

            def job():
                mask = read_mask(path, num_classes=2, expected_shape=shape, image_source=image_source)
                if not mask.class_ids.any():
                    raise SegAttackError(path, "the perturbation region is empty: no pixel may change")
                return mask

            return job

        def done(mask) -> None:
            document.replace_region(mask.class_ids > 0, str(path), mask.sha256)
            self.loader.message.emit(f"Opened perturbation region {path.name} ({mask.rule})")

        self.loader.submit(f"open region {path.name}", prepare, done)

    # ------------------------------------------------------------------ the one gate
    def settle_before_replacing(self, action: str) -> bool:
        """True when the painted masks may go: nothing unsaved, or saved, or the user let it go.

        Every action that replaces the masks without an undo step passes here first: closing,
        opening another image, a demo or a run folder (``action`` names it in the question).
        Replacing the target by a file, a prediction or a transform needs no question: it is
        one undo step.
        """
        unsaved = self.document.unsaved_layers
        if not unsaved:
            return True
        answer = self.ask_unsaved(unsaved, action)
        if answer == "cancel":
            return False
        if answer == "discard":
            return True
        for layer in unsaved:
            path = self.ask_save_path(layer)
            if path is None or not self._save_reporting(layer, path):
                return False
        return True

    def ask_unsaved(self, layers: list[str], action: str = "Closing the window") -> CloseAnswer:
        """Save, discard or cancel (tests replace this)."""
        words = " and the ".join(LAYER_WORDS[layer] for layer in layers)
        buttons = QMessageBox.StandardButton
        answer = QMessageBox.question(
            self.window, "Save the painted masks?",
            f"The {words} you painted {'are' if len(layers) > 1 else 'is'} not saved in any file, and "
            f"{action[0].lower() + action[1:]} replaces {'them' if len(layers) > 1 else 'it'} (with the undo "
            "history). Save first?", buttons.Save | buttons.Discard | buttons.Cancel, buttons.Save)
        return {buttons.Save: "save", buttons.Discard: "discard"}.get(answer, "cancel")

    def ask_save_path(self, layer: str) -> str | None:
        """A file to save ``layer`` to, or None when the user cancels (tests replace this)."""
        image = self.document.image
        stem = image.path.stem if image is not None else "mask"
        return ask_save_file(self.window, f"Save the {LAYER_WORDS[layer]}", f"{stem}_{layer}.png", PNG_FILTER)

    def _save_reporting(self, layer: str, path) -> bool:
        try:
            saved = (self.save_target if layer == "target" else self.save_region)(path)
        except SegAttackError as error:
            self.window.report_error(error.one_line())
            return False
        self.loader.message.emit(f"Saved the {LAYER_WORDS[layer]} to {saved}")
        return True

    # ------------------------------------------------------------------ menu
    def add_actions(self, menu: QMenu) -> None:
        self.save_target_action = make_action(
            self, "&Save target mask…", self._on_save_target,
            "Save the painted target as a class-id PNG (segattack attack --target reads it)",
            QKeySequence.StandardKey.Save, menu)
        menu.addSeparator()
        make_action(self, "Open perturbation &region…", self._on_open_region,
                    "Open a mask of the pixels the attack may change (non-zero = may change)", menu=menu)
        make_action(self, "Save perturbation region…", self._on_save_region,
                    "Save the painted region as a 0/1 PNG (segattack attack --region reads it)", menu=menu)

    @Slot()
    def _on_save_target(self) -> None:
        path = self.ask_save_path("target")
        if path:
            self._save_reporting("target", path)

    @Slot()
    def _on_save_region(self) -> None:
        path = self.ask_save_path("region")
        if path:
            self._save_reporting("region", path)

    @Slot()
    def _on_open_region(self) -> None:
        path = ask_open_file(self.window, "Open a perturbation region", PNG_FILTER)
        if path:
            self.open_region(path)


OTHER_IMAGE_SUFFIXES = (IMAGE_SUFFIXES | {".gif", ".webp"}) - {".png"}


def _png_path(path) -> Path:
    """Masks are PNGs: another image suffix is refused, any other name gets ``.png`` appended
    ("patient 3.1_target" -> "patient 3.1_target.png")."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".png":
        return path
    if suffix in OTHER_IMAGE_SUFFIXES:
        raise SegAttackError(path, "masks are saved as PNG (lossless); use a .png name")
    return path.with_name(path.name + ".png")
