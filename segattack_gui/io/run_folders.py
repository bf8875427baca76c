"""Run folders read back: what an exported run recorded, for ``segattack rerun`` and the window.

A run folder records all an attack read: the method with every parameter, the seed, device and
precision, the model, its sidecar and the image by path and SHA-256, and the target (and region)
as the class ids used (``target.png``, ``region.png``). This module reads that record and turns it
back into an attack; comparing a repeat with it is the command line's (``cli.rerun``).
"""


from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.attacks import METHODS, Attack, create_attack
from ..core.results import HISTORY_COLUMNS
from ..core.runner import AttackControl
from ..errors import SegAttackError, first_line

SCORE_PARTS = ("final", "final_quantized", "best")


@dataclass(frozen=True)
class RecordedRun:
    """What a run folder says about its run."""

    folder: Path
    summary: dict
    history: dict[str, np.ndarray]  # metrics.csv, one array per column
    adversarial: np.ndarray | None  # adversarial.npy, when present

    @property
    def target_file(self) -> Path:
        return self.folder / "target.png"

    @property
    def had_region(self) -> bool:
        return any(self.summary.get(key) for key in ("region_ids_sha256", "region_sha256", "region_path"))

    @property
    def region_file(self) -> Path | None:
        return self.folder / "region.png" if self.had_region else None

    @property
    def batch_size(self) -> int:
        return int(self.summary.get("batch_size") or 1)

    @property
    def stopped_by_user(self) -> bool:
        return self.summary.get("stop_reason") == "user"


def read_run_folder(folder: Path) -> RecordedRun:
    """The summary, metrics and adversarial image of a run folder; one line for anything missing."""
    folder = Path(folder)
    summary_path = folder / "summary.json"
    if not folder.is_dir():
        raise SegAttackError(folder, "is not a folder; give a run folder (it holds summary.json)")
    if not summary_path.is_file():
        where = " (a batch folder? give one of its run folders)" if (folder / "table.csv").is_file() else ""
        raise SegAttackError(folder, f"holds no summary.json, so it is not a run folder{where}")
    try:
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SegAttackError(summary_path, f"cannot be read ({error})") from None
    if not isinstance(summary, dict) or not isinstance(summary.get("config"), dict) \
            or not isinstance(summary.get("iterations_run"), int) or not isinstance(summary.get("method"), str):
        raise SegAttackError(summary_path, "is not a SegAttack run summary (its method, config or iterations_run "
                                           "is missing or of the wrong type)")
    for key in ("model_path", "image_path", "device", "precision"):
        if summary.get(key) is not None and not isinstance(summary[key], str):
            raise SegAttackError(summary_path, f"is not a SegAttack run summary ({key} is not text)")
    if summary.get("precision", "fp32") not in ("fp32", "tf32", "bf16"):
        raise SegAttackError(summary_path, f"records precision {summary['precision']!r}, none of fp32, tf32, bf16")
    if summary["method"] not in METHODS:
        kind = "a universal-perturbation run" if summary["method"] == "universal" else f"method {summary['method']!r}"
        raise SegAttackError(summary_path, f"records {kind}; only runs of attack, batch and the window are repeated")
    for needed in ("target.png", "metrics.csv"):
        if not (folder / needed).is_file():
            raise SegAttackError(folder / needed, "is missing from the run folder")
    record = RecordedRun(folder, summary, _read_metrics(folder / "metrics.csv"), _read_adversarial(folder))
    if record.had_region and not record.region_file.is_file():
        raise SegAttackError(folder, "records a perturbation region but holds no region.png "
                                     "(exported before SegAttack wrote one), so the run cannot be repeated")
    return record


def _read_adversarial(folder: Path) -> np.ndarray | None:
    path = folder / "adversarial.npy"
    if not path.is_file():
        return None
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise SegAttackError(path, f"cannot be read ({first_line(error) or type(error).__name__})") from None


def _read_metrics(path: Path) -> dict[str, np.ndarray]:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        columns = {name: np.array([float(row[name]) for row in rows]) for name in ("iteration", *HISTORY_COLUMNS)}
    except (OSError, UnicodeDecodeError, KeyError, TypeError, ValueError) as error:
        raise SegAttackError(path, f"cannot be read as the run's metrics ({type(error).__name__}: {error})") from None
    if not len(columns["iteration"]):
        raise SegAttackError(path, "holds no iterations, so there is nothing to compare with")
    return columns


def recorded_file(record: RecordedRun, key: str, remedy: str) -> Path:
    """A file summary.json names under ``key`` (``model_path``, ``image_path``), which must still be
    there; else one line ending in ``remedy`` (the CLI's flag, the window's "open it by hand")."""
    recorded = record.summary.get(key)
    if not recorded:
        raise SegAttackError(record.folder / "summary.json", f"records no {key}; {remedy}")
    path = Path(recorded)
    if not (path.is_file() or (key == "model_path" and path.is_dir())):  # a model may be a folder
        relative = "" if path.is_absolute() else ", relative to the folder that run started in"
        raise SegAttackError(path, f"is gone (the run folder names it as its {key.split('_')[0]}{relative}); {remedy}")
    return path


def recorded_attack(record: RecordedRun) -> tuple[Attack, int | None]:
    """The recorded method with its recorded parameters, and for a run the user stopped, the
    iteration to stop at (its iteration count still sets the schedules: the 8-bit phase of
    --quantize, SegPGD's weights), for :class:`StopAtIteration`."""
    try:
        attack = create_attack(record.summary["method"], **record.summary["config"])
    except (TypeError, ValueError) as error:
        raise SegAttackError(record.folder / "summary.json", f"its config cannot be run here ({error})") from None
    return attack, record.summary["iterations_run"] if record.stopped_by_user else None


class StopAtIteration(AttackControl):
    """Presses Stop at ``iteration``, as the user did in the recorded run (the loop asks
    ``wait_while_paused`` once at the start of every iteration, then whether to stop)."""

    def __init__(self, iteration: int):
        super().__init__()
        self._iterations_left = iteration

    def wait_while_paused(self) -> None:
        if self._iterations_left == 0:
            self.stop()
        self._iterations_left -= 1


