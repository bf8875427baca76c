"""Keep the canvas and the document in step, both ways, without echoes.

The canvas edits the target and the region (with undo); the document is what the rest
of the window reads. Targets that arrive from elsewhere (a file, a prediction) go from
the document to the canvas; strokes and transforms go from the canvas to the document.
While pushing to the canvas, its change signals are not mirrored back.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Slot

from ..document import AttackDocument


class CanvasBinding(QObject):
    def __init__(self, document: AttackDocument, canvas, parent: QObject | None = None):
        super().__init__(parent)
        self.document = document
        self.canvas = canvas
        self._pushing = False
        document.imageChanged.connect(self._on_image_changed)
        document.modelChanged.connect(self._on_model_changed)
        document.targetReplaced.connect(self._push_target)
        document.regionReplaced.connect(self._push_region)
        canvas.targetChanged.connect(self._on_canvas_target_changed)
        canvas.regionChanged.connect(self._on_canvas_region_changed)

    @Slot()
    def _on_image_changed(self) -> None:
        """A new image clears the canvas; the document's target and region (if they fit) come back."""
        document = self.document
        self._pushing = True
        try:
            self.canvas.set_image(document.image.pixels)
            self.canvas.set_target(document.target)
            self.canvas.set_region(document.region)
        finally:
            self._pushing = False
        self.canvas.forget_history()  # a new image starts a new history
        self.canvas.zoom_to_fit()

    @Slot()
    def _on_model_changed(self) -> None:
        self.canvas.set_classes(list(self.document.class_names), self.document.colors)

    @Slot()
    def _push_target(self) -> None:
        """A target from a file or a prediction: one undo step, except onto a blank new image,
        where undoing it would only give back the empty mask nobody painted."""
        canvas = self.canvas
        if self.document.target.shape != canvas.image_shape():
            return
        blank = not canvas.can_undo() and not canvas.can_redo() and not canvas.target_mask().any()
        self._pushing = True
        try:
            canvas.set_target(self.document.target)
        finally:
            self._pushing = False
        if blank:
            canvas.forget_history()

    @Slot()
    def _push_region(self) -> None:
        self._pushing = True
        try:
            self.canvas.set_region(self.document.region)
        finally:
            self._pushing = False

    @Slot()
    def _on_canvas_target_changed(self) -> None:
        if not self._pushing and self.document.image is not None:
            self.document.note_target_edited(self.canvas.target_mask())

    @Slot()
    def _on_canvas_region_changed(self) -> None:
        if not self._pushing and self.document.image is not None:
            self.document.note_region_edited(self.canvas.region_mask())
