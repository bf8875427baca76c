"""The state of one document: image, model, target, perturbation region and the last run.

Widgets observe this object's signals and change it through its methods; they do not
talk to each other behind its back. The painted masks have one owner, ``masks`` (a
Qt-free :class:`PaintedMasks`: the arrays, their undo history, a revision per layer and
where each came from); the canvas draws and edits that same object, and every change,
wherever it comes from, arrives here once, as ``targetChanged`` or ``regionChanged``.
A run keeps its own record of the inputs it used (:class:`RunRecord`).
"""

from __future__ import annotations

import dataclasses

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot

from ..core.results import AttackResult, Snapshot
from ..io.export import Provenance
from ..io.files import recorded_path
from ..io.images import LoadedImage
from ..io.inputs import image_record, model_colors
from ..io.masks import default_colors
from ..io.model_files import LoadedModel
from ..workspace.labels import LabelTable
from ..workspace.painted_masks import PaintedMasks
from ..workspace.run_record import RunInputs, RunRecord
from ..workspace.snapshot_store import SnapshotStore

__all__ = ["AttackDocument", "RunRecord"]


class AttackDocument(QObject):
    """Image, model, target, region and run; one signal per kind of change."""

    imageChanged = Signal()
    modelChanged = Signal()
    labelsChanged = Signal()  # names, colours or hidden labels (a new model, or the user's edits)
    targetChanged = Signal()  # any change: a stroke, an undo, a file, a prediction, a new image
    regionChanged = Signal()
    baselineChanged = Signal()  # the model's prediction on the clean image
    baselineScored = Signal()  # baseline_scores now holds the clean prediction's IoU and accuracy
    runStarted = Signal()
    snapshotAdded = Signal()
    runFinished = Signal()
    shownFrameChanged = Signal()

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.image: LoadedImage | None = None
        self.model: LoadedModel | None = None
        self.model_overrides: dict = {}  # sidecar fields changed in the window (e.g. tiles for a large image)
        self.masks = PaintedMasks()
        self.labels = LabelTable.of(("background", "foreground"), default_colors(2))
        self.masks.layers.subscribe(self._on_masks_changed)
        self.baseline_prediction: np.ndarray | None = None  # output grid, clean image
        self._scored: tuple | None = None  # (prediction, target revision, scores) of baseline_scores
        self.run: RunRecord | None = None
        self.shown_frame: int | None = None  # index into run.store; None follows the live run

    def _on_masks_changed(self, layer: str, _box) -> None:
        (self.targetChanged if layer == "target" else self.regionChanged).emit()

    # ------------------------------------------------------------------ inputs
    @property
    def class_names(self) -> tuple[str, ...]:
        """The labels' names: the model's classes, as the user may have renamed or added to them."""
        return self.labels.names

    @property
    def colors(self) -> list[tuple[int, int, int]]:
        return list(self.labels.colors)

    def set_labels(self, labels: LabelTable) -> None:
        """The user added, renamed, recoloured or hid labels."""
        self.labels = labels
        self.labelsChanged.emit()

    @property
    def image_shape(self) -> tuple[int, int] | None:
        return None if self.image is None else (self.image.height, self.image.width)

    @property
    def image_sha256(self) -> str | None:
        return None if self.image is None else self.image.sha256

    @property
    def target(self) -> np.ndarray:
        """The painted target's class ids on the image grid (the live array: copy to keep it)."""
        return self.masks.target

    @property
    def region(self) -> np.ndarray | None:
        """The pixels the attack may change (a copy), or None: every pixel may."""
        return self.masks.region_limit()

    @property
    def target_origin(self) -> str:
        return self.masks.source("target").origin

    @property
    def target_path(self) -> str | None:
        return self.masks.source("target").path

    @property
    def region_path(self) -> str | None:
        return self.masks.source("region").path

    def set_image(self, image: LoadedImage) -> None:
        """A new image starts with empty masks and no history (the window asked about unsaved
        ones before it began loading)."""
        self.image = image
        self.baseline_prediction = None
        self.masks.start_over((image.height, image.width))
        self.imageChanged.emit()

    def set_model(self, model: LoadedModel, overrides: dict | None = None) -> list[int]:
        """A new model (``overrides``: sidecar fields the window changed for it, recorded in runs);
        returns the target's class ids it does not know (set to background).

        The same model file again (moved to another device or precision, given tiles, reloaded)
        keeps the user's labels and painting; the window's overrides stay while its adapter still
        applies them. Only another model starts its labels afresh and clears the classes it lacks."""
        same_file = self.model is not None and self.model.sha256 == model.sha256
        self.model = model
        if overrides is not None:
            self.model_overrides = dict(overrides)
        elif not (same_file and _spec_applies(model.adapter.spec, self.model_overrides)):
            self.model_overrides = {}
        self.baseline_prediction = None
        if same_file:
            self.modelChanged.emit()
            return []
        self.labels = LabelTable.of(model.adapter.class_names, model_colors(model))
        self.labelsChanged.emit()
        target = self.masks.target
        unknown = sorted(int(v) for v in np.unique(target) if v >= model.adapter.num_classes)
        self.modelChanged.emit()
        if unknown:
            cleaned = np.where(target >= model.adapter.num_classes, 0, target).astype(np.uint8)
            self.masks.replace("target", cleaned, "painted")
        return unknown

    def replace_target(self, class_ids: np.ndarray, origin: str, path: str | None = None,
                       sha256: str | None = None) -> None:
        """A whole new target (a file, a prediction, a restore): one undo step."""
        self.masks.replace("target", class_ids, origin, path, sha256)

    def replace_region(self, region: np.ndarray | None, path: str | None = None, sha256: str | None = None,
                       origin: str | None = None) -> None:
        """A whole new region (None: no limit): one undo step."""
        self.masks.replace("region", region, origin or ("read from file" if path else "painted"), path, sha256)

    def note_target_saved(self, path, sha256: str) -> None:
        """The target now also lives in ``path``: nothing is lost if the window closes."""
        self.masks.note_saved("target", str(path), sha256)

    def note_region_saved(self, path, sha256: str) -> None:
        self.masks.note_saved("region", str(path), sha256)

    @property
    def unsaved_layers(self) -> list[str]:
        """The masks that exist nowhere but here ("target", "region"): painted, transformed or
        predicted, and not saved since. A mask read from a file can be read again."""
        return [] if self.image is None else self.masks.unsaved_layers()

    @property
    def masks_worth_keeping(self) -> bool:
        """True when a mask would be lost with the window (what the autosave keeps)."""
        return bool(self.unsaved_layers)

    @property
    def baseline_scores(self) -> dict[str, float]:
        """IoU and pixel accuracy of the model on the clean image against the current target
        (:mod:`.run.baseline_scores` computes them off the GUI thread); empty until then."""
        scored = self._scored
        if scored is None or scored[0] is not self.baseline_prediction or scored[1] != self.masks.revisions()[0]:
            return {}
        return scored[2]

    def set_baseline_scores(self, prediction: np.ndarray, target_revision: int, scores: dict[str, float]) -> None:
        """Scores of ``prediction`` against the target at ``target_revision``; kept only while
        both are still current."""
        self._scored = (prediction, target_revision, scores)
        if self.baseline_scores:
            self.baselineScored.emit()

    def set_baseline_prediction(self, prediction: np.ndarray | None) -> None:
        self.baseline_prediction = prediction
        self.baselineChanged.emit()

    def missing_inputs(self) -> str | None:
        """Why an attack cannot start yet, or None."""
        if self.image is None:
            return "open an image first (File > Open image)"
        if self.model is None:
            return "open a model first (File > Open model)"
        if self.target.shape != (self.image.height, self.image.width):
            return "paint or open a target mask first"
        return None

    def provenance(self, region_used: bool = True) -> Provenance:
        """Where the current inputs came from; the region's file only if the run used a region."""
        region = self.masks.source("region")
        target = self.masks.source("target")
        return Provenance(
            **(self.model.provenance() if self.model else {}),
            image_path=recorded_path(self.image.path) if self.image else None,
            image_sha256=self.image_sha256,
            image_conversion=self.image.conversion if self.image else None,
            **(image_record(self.image) if self.image else {}),
            target_path=recorded_path(target.path),
            target_rule=self.masks.rule("target"),
            target_sha256=target.sha256 if target.path else None,
            region_path=recorded_path(region.path) if region_used else None,
            region_sha256=region.sha256 if region_used and region.path else None,
            extra={"front_end": "segattack-gui",
                   **({"model_overrides": dict(self.model_overrides)} if self.model_overrides else {})},
        )

    def current_inputs(self) -> RunInputs:
        """The identities a run records, to tell later whether the window still holds them."""
        return RunInputs(self.image.path.name if self.image else "image", self.image_sha256,
                         self.model.path.name if self.model else "model",
                         self.model.sha256 if self.model else None, self.masks.revisions(), self._image_slice())

    def run_differences(self) -> list[str]:
        """What differs between the last run's inputs and the window's ("image", "model", "masks")."""
        run = self.run
        if run is None or run.inputs is None:
            return []
        return run.inputs.differences(self.image_sha256, self.model.sha256 if self.model else None,
                                      self.masks.revisions(), self._image_slice())

    def _image_slice(self) -> dict | None:
        return image_record(self.image)["image_slice"] if self.image else None

    # ------------------------------------------------------------------ runs
    def begin_run(self, record: RunRecord) -> None:
        self.run = record
        self.shown_frame = None
        self.runStarted.emit()

    def restart_run(self) -> None:
        """The run starts over (out of memory: again on the CPU); what it showed so far is dropped."""
        if self.run is None:
            return
        self.run.store = SnapshotStore(self.run.display_original)
        self.run.latest = None
        self.shown_frame = None
        self.runStarted.emit()

    def replace_adapter(self, adapter) -> None:
        """The same model now runs elsewhere (moved to the CPU after running out of GPU memory)."""
        if self.model is not None:
            self.set_model(dataclasses.replace(self.model, adapter=adapter))

    @Slot(object)
    def add_snapshot(self, snapshot: Snapshot) -> None:
        if self.run is None:
            return
        self.run.latest = snapshot
        self.run.store.add(snapshot)
        self.snapshotAdded.emit()

    def finish_run(self, result: AttackResult | None, error: str | None = None) -> None:
        if self.run is None:
            return
        self.run.result = result
        self.run.error = error
        self.runFinished.emit()

    def show_frame(self, index: int | None) -> None:
        """Replay kept frame ``index``; ``None`` follows the newest."""
        if self.run is None or index is None or index >= len(self.run.store) - 1:
            index = None
        if index != self.shown_frame:
            self.shown_frame = index
            self.shownFrameChanged.emit()


def _spec_applies(spec, overrides: dict) -> bool:
    """True when ``spec`` holds every overridden sidecar field's value (lists as tuples)."""
    return all(getattr(spec, key) == (tuple(value) if isinstance(value, list) else value)
               for key, value in overrides.items())
