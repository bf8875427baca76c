"""One attack as the window ran it: the inputs it used, the frames it kept, its result (no Qt).

A run is evidence about the inputs it was made from, not about whatever the window holds
later. So the record keeps its own copies and names of those inputs (image, model, target,
region, their sources and hashes), and the results pane and Export read the record, never
the live window: opening another image, demo or run folder cannot relabel or mix a run.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..core.models import OutputGrid
from ..core.results import AttackResult, Snapshot
from ..io.export import Provenance
from .display_grid import DisplayGrid
from .snapshot_store import SnapshotStore

__all__ = ["RunInputs", "RunRecord"]


@dataclass(frozen=True)
class RunInputs:
    """What a run was made from, as identities the window can compare with what it holds now."""

    image_name: str  # the image file's name, for the run's caption and its export folder
    image_sha256: str | None
    model_name: str
    model_sha256: str | None
    mask_revisions: tuple[int, int]  # (target, region) revisions of the painted masks
    image_slice: dict | None = None  # the DICOM frame / NIfTI slice (one file holds many images)

    def differences(self, image_sha256: str | None, model_sha256: str | None,
                    mask_revisions: tuple[int, int] | None, image_slice: dict | None = None) -> list[str]:
        """What changed since the run, in words ("image", "model", "target or region"); another
        slice of the same file is another image."""
        changed = []
        if image_sha256 != self.image_sha256 or image_slice != self.image_slice:
            changed.append("image")
        if model_sha256 != self.model_sha256:
            changed.append("model")
        if not changed and mask_revisions != self.mask_revisions:
            changed.append("masks")
        return changed


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
    region: np.ndarray | None = None  # the pixels it could change (a copy); None: all of them
    inputs: RunInputs | None = None
    started_at: float = field(default_factory=time.time)
    exported_to: list[str] = field(default_factory=list)
    evaluated_on: dict[str, dict] = field(default_factory=dict)  # other models' judgement, by file name

    def provenance_to_export(self) -> Provenance:
        """The run's provenance with what was learnt about it since (``evaluated_on``)."""
        if not self.evaluated_on:
            return self.provenance
        extra = {**self.provenance.extra, "evaluated_on": dict(self.evaluated_on)}
        return dataclasses.replace(self.provenance, extra=extra)

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

    @property
    def image_name(self) -> str:
        if self.inputs is not None:
            return self.inputs.image_name
        return Path(self.provenance.image_path).name if self.provenance.image_path else "image"

    def caption(self) -> str:
        """"asma on fundus_demo.png with fundus_unet.pt, started 14:02:11"."""
        started = time.strftime("%H:%M:%S", time.localtime(self.started_at))
        model = f" with {self.inputs.model_name}" if self.inputs is not None else ""
        return f"{self.method} on {self.image_name}{model}, started {started}"
