"""Ask how a model should meet an image larger than it takes: tiles, resize inside the model, or as is.

Once the loads settle (image and model both open), the rule of ``workspace.input_size``
decides whether to ask; the question is a non-blocking message box, asked once per image and
model. The answer becomes sidecar overrides for the loaded model (``DocumentLoader.apply_model_overrides``),
recorded in each run's ``summary.json`` so ``segattack rerun`` repeats it.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Slot
from PySide6.QtWidgets import QMessageBox, QWidget

from ...workspace.input_size import SizeChoice, size_choices


class InputSizeChoice(QObject):
    def __init__(self, document, loader, window: QWidget):
        super().__init__(window)
        self.document, self.loader, self.window = document, loader, window
        self.box: QMessageBox | None = None
        self._asked: set[tuple] = set()
        loader.tasks.idle.connect(self.offer)

    @Slot()
    def offer(self) -> None:
        """Ask when the image is larger than the open model takes (once per image and model)."""
        image, model = self.document.image, self.document.model
        if image is None or model is None:
            return
        key = (image.sha256, model.sha256, model.adapter.spec.input_size, model.adapter.spec.input_policy)
        choices = size_choices(model.adapter.spec, image.height, image.width)
        if not choices or key in self._asked:
            return
        self._asked.add(key)
        self.ask(choices, f"{image.path.name} is {image.width}x{image.height}: " + self._why(model.adapter.spec))

    @staticmethod
    def _why(spec) -> str:
        if spec.input_size is not None:
            return (f"larger than {spec.input_size[1]}x{spec.input_size[0]}, the input this model takes. "
                    "How should the model see it?")
        return "large enough to make every attack iteration slow. How should the model see it?"

    def ask(self, choices: list[SizeChoice], question: str) -> None:
        """A non-blocking question; the answer arrives in :meth:`choose` (tests call that directly)."""
        self.box = QMessageBox(QMessageBox.Icon.Question, "A large image", question,
                               QMessageBox.StandardButton.NoButton, self.window)
        self.box.setObjectName("inputSizeDialog")
        buttons = {self.box.addButton(choice.words, QMessageBox.ButtonRole.AcceptRole): choice for choice in choices}
        self.box.addButton("Keep as it is", QMessageBox.ButtonRole.RejectRole)
        self.box.finished.connect(lambda _code: self.choose(buttons.get(self.box.clickedButton())))
        self.box.open()

    def choose(self, choice: SizeChoice | None) -> None:
        if choice is not None:
            self.loader.apply_model_overrides(choice.overrides)
