"""The state of one document: image, model, target, perturbation region and the last run.

Widgets observe this object's signals and change it through its methods; they do not
talk to each other behind its back. The canvas is the editor of the target and the
region: ``CanvasBinding`` mirrors its edits here (``note_target_edited``) and pushes
targets that come from elsewhere (a file, a prediction) to it on ``targetReplaced``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot

from ..core.models import OutputGrid
from ..core.results import AttackResult, Snapshot
from ..io.export import Provenance
from ..io.files import recorded_path
from ..io.images import LoadedImage
from ..io.inputs import image_record, model_colors
from ..io.masks import default_colors
from ..io.model_files import LoadedModel
from ..workspace.display_grid import DisplayGrid
from ..workspace.snapshot_store import SnapshotStore


@dataclass
class RunRecord:
    """One attack as the GUI saw it: its inputs, the kept frames and, once done, the result.

    The kept frames and the latest snapshot lie on ``display`` (the image reduced for the
    views, see ``display_grid``); ``display_original`` and ``display_target`` match them.
    """

    method: str
    config: dict
    device: str
    original: np.ndarray  # H x W x C float32
    target: np.ndarray  # H x W class ids the run aimed at (a copy: painting goes on)
    grid: OutputGrid
    colors: list[tuple[int, int, int]]
    provenance: Provenance
    display: DisplayGrid | None = None  # the live views' grid; None: the image's own
    store: SnapshotStore | None = None
    latest: Snapshot | None = None  # on the display grid (the worker reduces snapshots)
    result: AttackResult | None = None
    error: str | None = None
    precision: str = "fp32"

    def __post_init__(self):
        if self.display is None:
            self.display = DisplayGrid(self.original.shape[0], self.original.shape[1], 1)
        self.display_original = self.display.image(self.original)
        self.display_target = self.display.labels(self.target)
        if self.store is None:
            self.store = SnapshotStore(self.display_original)

    @property
    def finished(self) -> bool:
        return self.result is not None or self.error is not None


class AttackDocument(QObject):
    """Image, model, target, region and run; one signal per kind of change."""

    imageChanged = Signal()
    modelChanged = Signal()
    targetReplaced = Signal()  # a whole new target from outside the canvas
    targetEdited = Signal()  # the canvas changed the target
    regionReplaced = Signal()
    regionEdited = Signal()  # the canvas changed the region
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
        self.target = np.zeros((1, 1), np.uint8)
        self.target_origin = "empty"  # a file path, "painted", "model prediction", ...
        self.target_path: str | None = None
        self.target_saved = False  # target_path was written from here, not read
        self.target_sha256: str | None = None  # of the file at target_path
        self.region: np.ndarray | None = None  # bool H x W; None = every pixel may change
        self.region_path: str | None = None  # the file the region was read from or saved to
        self.region_sha256: str | None = None
        self.baseline_prediction: np.ndarray | None = None  # output grid, clean image
        self._scored: tuple | None = None  # (prediction, target, scores) of baseline_scores
        self.run: RunRecord | None = None
        self.shown_frame: int | None = None  # index into run.store; None follows the live run

    # ------------------------------------------------------------------ inputs
    @property
    def class_names(self) -> tuple[str, ...]:
        if self.model is not None:
            return tuple(self.model.adapter.class_names)
        return ("background", "foreground")

    @property
    def colors(self) -> list[tuple[int, int, int]]:
        if self.model is not None:
            return model_colors(self.model)
        return default_colors(len(self.class_names))

    @property
    def image_shape(self) -> tuple[int, int] | None:
        return None if self.image is None else (self.image.height, self.image.width)

    @property
    def image_sha256(self) -> str | None:
        return None if self.image is None else self.image.sha256

    def set_image(self, image: LoadedImage) -> None:
        """A new image; a target or region of another size cannot follow it and is cleared."""
        self.image = image
        self.baseline_prediction = None
        shape = (image.height, image.width)
        if self.target.shape != shape:
            self.target = np.zeros(shape, np.uint8)
            self.target_origin, self.target_path, self.target_sha256 = "empty", None, None
        if self.region is not None and self.region.shape != shape:
            self.region, self.region_path, self.region_sha256 = None, None, None
        self.imageChanged.emit()

    def set_model(self, model: LoadedModel) -> list[int]:
        """A new model; returns the target's class ids it does not know (set to background)."""
        self.model = model
        self.baseline_prediction = None
        unknown = sorted(int(v) for v in np.unique(self.target) if v >= model.adapter.num_classes)
        self.modelChanged.emit()
        if unknown:
            cleaned = np.where(self.target >= model.adapter.num_classes, 0, self.target).astype(np.uint8)
            self.replace_target(cleaned, self.target_origin)
        return unknown

    def replace_target(self, class_ids: np.ndarray, origin: str, path: str | None = None,
                       sha256: str | None = None) -> None:
        self.target = np.ascontiguousarray(class_ids, dtype=np.uint8)
        self.target_origin = origin
        self.target_path, self.target_sha256 = path, sha256
        self.target_saved = False
        self.targetReplaced.emit()

    def note_target_edited(self, class_ids: np.ndarray) -> None:
        """The canvas changed the target; ignored when nothing changed (e.g. an echo of a replace)."""
        class_ids = np.asarray(class_ids)
        if class_ids.shape == self.target.shape and np.array_equal(class_ids, self.target):
            return
        self.target = np.ascontiguousarray(class_ids, dtype=np.uint8)
        self.target_origin = "painted"
        self.target_path = self.target_sha256 = None
        self.target_saved = False
        self.targetEdited.emit()

    def note_target_saved(self, path, sha256: str) -> None:
        """The target now also lives in ``path``: nothing is lost if the window closes."""
        self.target_path, self.target_sha256 = str(path), sha256
        self.target_saved = True

    def replace_region(self, region: np.ndarray | None, path: str | None = None, sha256: str | None = None) -> None:
        self.region = None if region is None else np.asarray(region, bool).copy()
        self.region_path, self.region_sha256 = (None, None) if region is None else (path, sha256)
        self.regionReplaced.emit()

    def note_region_edited(self, region: np.ndarray | None) -> None:
        self.region = None if region is None or bool(np.all(region)) else np.asarray(region, bool).copy()
        self.region_path = self.region_sha256 = None
        self.regionEdited.emit()

    def note_region_saved(self, path, sha256: str) -> None:
        self.region_path, self.region_sha256 = str(path), sha256

    @property
    def unsaved_layers(self) -> list[str]:
        """The masks that exist nowhere but here ("target", "region"): painted, transformed or
        predicted, and not saved since. A mask read from a file can be read again."""
        if self.image is None:
            return []
        unsaved = []
        if self.target_path is None and bool(self.target.any()):
            unsaved.append("target")
        if self.region is not None and self.region_path is None:
            unsaved.append("region")
        return unsaved

    @property
    def masks_worth_keeping(self) -> bool:
        """True when a mask would be lost with the window (what the autosave keeps)."""
        return bool(self.unsaved_layers)

    @property
    def baseline_scores(self) -> dict[str, float]:
        """IoU and pixel accuracy of the model on the clean image against the current target
        (:mod:`.baseline_scores` computes them off the GUI thread); empty until then."""
        scored = self._scored
        if scored is None or scored[0] is not self.baseline_prediction or scored[1] is not self.target:
            return {}
        return scored[2]

    def set_baseline_scores(self, prediction: np.ndarray, target: np.ndarray, scores: dict[str, float]) -> None:
        """Scores of ``prediction`` against ``target``; kept only while both are still current."""
        self._scored = (prediction, target, scores)
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

    @property
    def target_rule(self) -> str:
        """How the target came about, for summary.json."""
        if self.target_path is None:
            return self.target_origin
        if self.target_saved:
            return f"{self.target_origin}, saved to the target file"
        return f"read from file ({self.target_origin})"

    def provenance(self) -> Provenance:
        return Provenance(
            **(self.model.provenance() if self.model else {}),
            image_path=recorded_path(self.image.path) if self.image else None,
            image_sha256=self.image_sha256,
            image_conversion=self.image.conversion if self.image else None,
            **(image_record(self.image) if self.image else {}),
            target_path=recorded_path(self.target_path),
            target_rule=self.target_rule,
            target_sha256=self.target_sha256,
            region_path=recorded_path(self.region_path),
            region_sha256=self.region_sha256,
            extra={"front_end": "segattack-gui"},
        )

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
