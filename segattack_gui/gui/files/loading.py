"""Open images, models and target masks into the document without freezing the window.

Reading a large TIFF or unpickling a model takes long enough to stall the event loop, so
every open is a job on one :class:`TaskQueue`, in the order asked: opening an image, a
model and a target one after the other behaves as if each finished before the next
began. Scripts and tests wait for ``idle`` (or check ``busy``). Problems a user can fix
arrive as one line on ``failed``; the document is left unchanged.

A pickled model runs code from the file when loaded: the loader first inspects the file
(without running it), and asks ``ask_consent(path, sha256)`` once per file content.
"""

from __future__ import annotations

import dataclasses
import logging
from functools import partial
from pathlib import Path
from typing import Callable

import numpy as np
from PySide6.QtCore import QObject, QSettings, Signal

from ...core.misfeed import channel_warning, one_class_warning
from ...core.models import ModelAdapter, channels_last_pays
from ...errors import SegAttackError
from ...io.hashing import model_sha256
from ...io.images import LoadedImage, read_image
from ...io.inputs import check_image_fits
from ...io.masks import read_mask
from ...io.model_files import LoadedModel, consent_reason, inspect_model_file, load_model
from ..background import JobFailed, TaskQueue
from ...io.sidecars import spec_with_overrides
from ..document import AttackDocument

log = logging.getLogger(__name__)

TRUSTED_KEY = "models/trusted_pickle_sha256"


def predict_on_image_grid(adapter: ModelAdapter, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(prediction on the output grid, the same pasted on the image grid with background outside)."""
    prediction = adapter.predict(adapter.to_device(pixels))[0].to("cpu").numpy().astype(np.uint8)
    height, width = pixels.shape[:2]
    return prediction, adapter.output_grid(height, width).paste(prediction, height, width, fill=0)


def rebuilt(loaded: LoadedModel, spec, device: str, precision: str) -> LoadedModel:
    """The same network in a new adapter: another device or precision (the panel), or another
    sidecar spec (tiles for a large image)."""
    adapter = ModelAdapter(loaded.adapter.model, spec, device=device, precision=precision,
                           channels_last=channels_last_pays(device))
    return dataclasses.replace(loaded, adapter=adapter)


def _misfit(model: LoadedModel | None, image: LoadedImage | None) -> str | None:
    """Why ``model`` cannot attack ``image`` (channels, size), or None."""
    if model is None or image is None:
        return None
    try:
        check_image_fits(model, image)
    except SegAttackError as error:
        return error.one_line()
    return None


class DocumentLoader(QObject):
    """Loads files into ``document`` on a background queue; one line per failure on ``failed``."""

    imageLoaded = Signal(str)
    modelLoaded = Signal(str)
    targetLoaded = Signal(str)
    failed = Signal(str)
    message = Signal(str)

    def __init__(self, document: AttackDocument, parent: QObject | None = None):
        super().__init__(parent)
        self.document = document
        self.tasks = TaskQueue("loading", self)
        self.device = "cpu"
        self.precision = "fp32"  # models load and move with the panel's device and precision
        self.ask_consent: Callable[[Path, str], bool] = lambda path, sha256: False
        self.consent_reason = ""  # why the model asking for consent runs code (io.model_files.consent_reason)
        self._warned: set = set()  # misfeed warnings already given, per model and image
        self.selected_label: Callable[[], int] = lambda: 1  # the class a binary target mask marks

    @property
    def busy(self) -> bool:
        return self.tasks.busy

    def shutdown(self) -> None:
        self.tasks.shutdown()

    def submit(self, name: str, prepare, on_done) -> None:
        """Queue a job whose failures are reported on ``failed`` (used by the mask sources too)."""
        self.tasks.submit(name, prepare, on_done, self._report)

    def _report(self, failure: JobFailed) -> None:
        self.failed.emit(failure.one_line("unexpected error: {error} (details in the log)"))

    # ------------------------------------------------------------------ image
    def open_image(self, path, slice_index: int | None = None, axis: int | None = None) -> None:
        """Open an image (``slice_index``/``axis``: a DICOM frame or NIfTI slice); a model that cannot
        take it is reported, the image is kept (a matching model may be opened next)."""
        path = Path(path)

        def prepare():
            model = self.document.model

            def job():
                image = read_image(path, slice_index=slice_index, axis=axis)
                return image, _misfit(model, image)

            return job

        def done(loaded) -> None:
            image, problem = loaded
            self.document.set_image(image)
            self.imageLoaded.emit(str(path))
            self.message.emit(f"Opened {path.name} ({image.width}x{image.height}, {image.conversion})")
            if problem:
                self.failed.emit(f"the current model cannot attack this image: {problem}")
            self.refresh_baseline()

        self.submit(f"open image {path.name}", prepare, done)

    # ------------------------------------------------------------------ model
    def open_model(self, path) -> None:
        path = Path(path)
        self._with_consent(path, lambda trust: self.tasks.submit(
            f"load model {path.name}", lambda: self._load_job(path, trust), self._model_done, self._report,
            first=True))

    def with_other_model(self, path, use: Callable[[LoadedModel], object], on_done: Callable[[object], None]) -> None:
        """Load a model that does not replace the document's (e.g. to judge a run's adversarial on it),
        with the same consent as ``open_model``, on the panel's device; ``use(loaded)`` runs off the GUI
        thread and ``on_done`` receives what it returned, in the GUI thread."""
        path = Path(path)

        def load(trust: bool) -> None:
            device, precision = self.device, self.precision

            def prepare():
                return lambda: use(load_model(path, trust_pickle=trust, device=device, precision=precision))

            self.tasks.submit(f"load {path.name} to evaluate on", prepare, on_done, self._report, first=True)

        self._with_consent(path, load)

    def _with_consent(self, path: Path, then: Callable[[bool], None]) -> None:
        """Inspect ``path`` without running it; a file that runs code when loaded needs the user's
        consent (asked once per content). ``then(trust)`` queues the load; it is not called on a no."""
        def inspect():
            kind = inspect_model_file(path)
            return model_sha256(path), consent_reason(path, kind)

        def inspected(result) -> None:
            sha256, reason = result
            trust = False
            if reason:
                self.consent_reason = reason  # what the consent question says
                with self.tasks.held():
                    trust = self._trusted(sha256) or self.ask_consent(path, sha256)
                if not trust:
                    self.message.emit(f"Did not load {path.name}: it {reason}, which needs your consent")
                    return
                self._remember_trust(sha256)
            then(trust)

        self.submit(f"inspect model {path.name}", lambda: inspect, inspected)

    def _load_job(self, path: Path, trust: bool):
        image = self.document.image
        device, precision = self.device, self.precision

        def job():
            loaded = load_model(path, trust_pickle=trust, device=device, precision=precision)
            return loaded, _misfit(loaded, image)

        return job

    def _model_done(self, result: tuple[LoadedModel, str | None]) -> None:
        loaded, problem = result
        unknown = self.document.set_model(loaded)
        self.modelLoaded.emit(str(loaded.path))
        note = f"; target classes {unknown} unknown to it were cleared" if unknown else ""
        self.message.emit(f"Loaded model {loaded.path.name} ({loaded.kind}, {loaded.adapter.num_classes} classes, "
                          f"{loaded.adapter.device}){note}")
        if problem:
            self.failed.emit(f"this model cannot attack the current image: {problem}")
        self.refresh_baseline()

    def move_model(self, device: str, precision: str) -> None:
        """Put the loaded model on ``device`` at ``precision``: the panel changed."""
        self.device, self.precision = device, precision

        def prepare():
            loaded = self.document.model
            if loaded is None or (str(loaded.adapter.device), loaded.adapter.precision) == (device, precision):
                return None
            return lambda: (rebuilt(loaded, loaded.adapter.spec, device, precision), None)

        self.submit(f"move model to {device} ({precision})", prepare, self._model_done)

    def apply_model_overrides(self, overrides: dict) -> None:
        """The loaded model meets images as ``overrides`` say (sidecar fields: ``input_size``,
        ``input_policy``), e.g. tiles for an image larger than it takes; recorded in every run."""
        def prepare():
            loaded = self.document.model
            if loaded is None:
                return None
            spec = spec_with_overrides(loaded.adapter.spec, overrides)
            return lambda: (rebuilt(loaded, spec, str(loaded.adapter.device), loaded.adapter.precision), None)

        def done(result) -> None:
            loaded, _ = result
            self.document.set_model(loaded, overrides={**self.document.model_overrides, **overrides})
            self.message.emit(f"{loaded.path.name} now meets this image as "
                              + ", ".join(f"{key} {value}" for key, value in overrides.items()))
            self.refresh_baseline()

        self.submit("apply model overrides", prepare, done)

    def _trusted(self, sha256: str) -> bool:
        return sha256 in (QSettings().value(TRUSTED_KEY, []) or [])

    def _remember_trust(self, sha256: str) -> None:
        trusted = list(QSettings().value(TRUSTED_KEY, []) or [])
        if sha256 not in trusted:
            QSettings().setValue(TRUSTED_KEY, (trusted + [sha256])[-200:])

    # ------------------------------------------------------------------ target
    def open_target(self, path) -> None:
        """Open a target mask. One the model's classes cannot read (an anti-aliased binary mask for a
        model with more than two classes) is read as marking the label ``selected_label()`` gives
        when the job's turn comes (the model may change before)."""
        path = Path(path)

        def prepare():
            document = self.document
            if document.image is None:
                raise SegAttackError(path, "open an image before its target mask")
            num_classes = len(document.class_names)
            palette = document.colors
            shape = document.image_shape
            image_source = document.image.source  # a NIfTI label map: the image's slice
            label = self.selected_label()
            binary_class = label if 0 < label < num_classes else None

            def job():
                read = partial(read_mask, path, num_classes=num_classes, palette=palette, expected_shape=shape,
                               image_source=image_source)
                try:
                    return read()
                except SegAttackError:  # e.g. an anti-aliased disc mask for a disc-and-cup model
                    if binary_class is None:
                        raise
                    return read(binary_class=binary_class)

            return job

        def done(mask) -> None:
            self.document.replace_target(mask.class_ids, mask.rule, str(path), mask.sha256)
            self.targetLoaded.emit(str(path))
            self.message.emit(f"Opened target {path.name} ({mask.rule})")
            self.warn_if_misfed()

        self.submit(f"open target {path.name}", prepare, done)

    # ------------------------------------------------------------------ prediction
    def refresh_baseline(self) -> None:
        """Predict on the clean image, so the views show where the model starts."""
        document = self.document

        def prepare():
            if document.image is None or document.model is None:
                return None
            image, model = document.image, document.model

            def job():
                return image, model, predict_on_image_grid(model.adapter, image.pixels)[0]

            return job

        def done(result) -> None:
            image, model, prediction = result
            if image is document.image and model is document.model:
                document.set_baseline_prediction(prediction)
                self.warn_if_misfed()

        self.tasks.submit("predict on the clean image", prepare, done, self._ignore_baseline_failure)

    def warn_if_misfed(self) -> None:
        """Say, in the status bar and a notice, when the clean prediction suggests the model is fed
        otherwise than trained (:mod:`...core.misfeed`); each warning once per model and image."""
        document = self.document
        model, image, prediction = document.model, document.image, document.baseline_prediction
        if model is None or image is None or prediction is None or document.target.shape != (image.height, image.width):
            return
        grid = model.adapter.output_grid(image.height, image.width)
        found = [channel_warning(image.channels, model.adapter.expected_channels(image.channels)),
                 one_class_warning(prediction, grid.crop(document.target), model.adapter.class_names)]
        for warning in filter(None, found):
            key = (id(model), id(image), warning)
            if key not in self._warned:
                self._warned.add(key)
                self.message.emit(f"Warning: {warning}")
                self.failed.emit(f"Warning: {warning}")

    def _ignore_baseline_failure(self, failure: JobFailed) -> None:
        # A model that does not fit the image was already reported when it was opened.
        log.info("no baseline prediction: %s", failure.error)


__all__ = ["DocumentLoader", "predict_on_image_grid"]
