"""``segattack rerun``: repeat a run from its folder and say whether the numbers come out the same.

A run folder records all an attack read: the method with every parameter, the seed, device and
precision, the model, its sidecar and the image by path and SHA-256, and the target (and region)
as the class ids used (``target.png``, ``region.png``). A rerun checks that each input is the one
recorded, attacks again, and compares every per-iteration metric, the final, 8-bit and best scores
and the adversarial image with what the folder holds. That is the reproducibility a paper's
reviewer asks for, checked by the tool rather than asserted.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .core.attacks import METHODS, Attack, create_attack
from .core.results import HISTORY_COLUMNS, AttackResult
from .errors import SegAttackError
from .io.export import versions
from .io.hashing import sha256_array
from .io.inputs import AttackInputs

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
    def region_file(self) -> Path | None:
        return self.folder / "region.png" if self.summary.get("region_ids_sha256") else None

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
    if not isinstance(summary, dict) or "method" not in summary or "config" not in summary:
        raise SegAttackError(summary_path, "is not a SegAttack run summary (no method or config)")
    if summary["method"] not in METHODS:
        kind = "a universal-perturbation run" if summary["method"] == "universal" else f"method {summary['method']!r}"
        raise SegAttackError(summary_path, f"records {kind}; rerun repeats the runs of `attack` and `batch`")
    if summary.get("region_ids_sha256") and not (folder / "region.png").is_file():
        raise SegAttackError(folder, "records a perturbation region but holds no region.png "
                                     "(exported before SegAttack wrote one), so the run cannot be repeated")
    for needed in ("target.png", "metrics.csv"):
        if not (folder / needed).is_file():
            raise SegAttackError(folder / needed, "is missing from the run folder")
    adversarial_path = folder / "adversarial.npy"
    adversarial = np.load(adversarial_path) if adversarial_path.is_file() else None
    return RecordedRun(folder, summary, _read_metrics(folder / "metrics.csv"), adversarial)


def _read_metrics(path: Path) -> dict[str, np.ndarray]:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        return {name: np.array([float(row[name]) for row in rows]) for name in ("iteration", *HISTORY_COLUMNS)}
    except (OSError, UnicodeDecodeError, KeyError, TypeError, ValueError) as error:
        raise SegAttackError(path, f"cannot be read as the run's metrics ({type(error).__name__}: {error})") from None


def recorded_attack(record: RecordedRun) -> Attack:
    """The recorded method with its recorded parameters; a run the user stopped ends where it stopped."""
    config = dict(record.summary["config"])
    if record.stopped_by_user:
        config["iterations"] = int(record.summary["iterations_run"])
    try:
        return create_attack(record.summary["method"], **config)
    except (TypeError, ValueError) as error:
        raise SegAttackError(record.folder / "summary.json", f"its config cannot be run here ({error})") from None


def check_inputs_match(record: RecordedRun, inputs: AttackInputs) -> list[str]:
    """Refuse inputs that are not the recorded ones; return notes on what could not be checked."""
    summary, notes = record.summary, []
    model = inputs.model
    _require_same(model.path, "model_sha256", model.sha256, summary, "--model")
    if summary.get("sidecar_sha256") or model.sidecar_sha256:
        if "sidecar_sha256" not in summary:
            notes.append("the run folder predates sidecar hashes: the model's sidecar was not checked")
        elif summary["sidecar_sha256"] != model.sidecar_sha256:
            was = "no sidecar" if summary["sidecar_sha256"] is None else "another sidecar"
            raise SegAttackError(model.sidecar_path or model.path,
                                 f"the run used {was} for this model; normalisation or output type may differ")
    _require_same(inputs.image.path, "image_sha256", inputs.image.sha256, summary, "--image")
    target_ids = sha256_array(np.asarray(inputs.target.class_ids, dtype=np.uint8))
    if target_ids != summary.get("target_ids_sha256", target_ids):
        raise SegAttackError(record.target_file, "is not the target the run used (its class ids changed)")
    if inputs.region is not None:
        region_ids = sha256_array((inputs.region.class_ids > 0).astype(np.uint8))
        if region_ids != summary["region_ids_sha256"]:
            raise SegAttackError(inputs.region.path, "is not the perturbation region the run used")
    return notes


def _require_same(path: Path, key: str, actual: str, summary: dict, flag: str) -> None:
    recorded = summary.get(key)
    if recorded and recorded != actual:
        raise SegAttackError(path, f"is not the file the run used (its SHA-256 differs from {key} in summary.json); "
                                   f"pass {flag} with the original file")


def version_notes(summary: dict) -> list[str]:
    """Software that changed since the run: a reason numbers may differ in the last digits."""
    recorded, now = summary.get("versions") or {}, versions()
    return [f"recorded with {name} {recorded[name]}, now {now[name]}"
            for name in now if recorded.get(name) not in (None, now[name])]


@dataclass
class Comparison:
    """The rerun against the record: how many numbers were compared and how far apart they came."""

    tolerance: float
    compared: int = 0
    largest: float = 0.0
    first_beyond: str | None = None  # the first difference beyond the tolerance, in words
    parts: list[str] = field(default_factory=list)  # what was compared, in words

    @property
    def identical(self) -> bool:
        return self.largest == 0.0

    @property
    def reproduced(self) -> bool:
        return self.first_beyond is None

    def add(self, where: str, recorded: float, now: float) -> None:
        self.compared += 1
        difference = _scaled_difference(recorded, now)
        self.largest = max(self.largest, difference)
        if difference > self.tolerance and self.first_beyond is None:
            self.first_beyond = f"{where}: recorded {recorded:.9g}, now {now:.9g}"

    def verdict(self) -> str:
        what = ", ".join(self.parts)
        if self.identical:
            return f"reproduced: identical ({what})"
        if self.reproduced:
            return f"reproduced within {self.tolerance:g}: largest difference {self.largest:.2g} ({what})"
        return f"differs: {self.first_beyond}; largest difference {self.largest:.2g} (tolerance {self.tolerance:g})"


def _scaled_difference(recorded: float, now: float) -> float:
    """Absolute difference for values up to 1 (IoU, pixels), relative beyond (L2, loss); NaN equals NaN."""
    if math.isnan(recorded) or math.isnan(now):
        return 0.0 if math.isnan(recorded) and math.isnan(now) else math.inf
    if recorded == now:  # also equal infinities
        return 0.0
    return abs(recorded - now) / max(1.0, abs(recorded), abs(now))


def compare_with_record(record: RecordedRun, result: AttackResult, tolerance: float) -> Comparison:
    """Every number the folder records against the rerun's, as the folder writes them."""
    comparison = Comparison(tolerance)
    summary = record.summary
    recorded_runs, runs = int(summary["iterations_run"]), result.iterations_run
    if recorded_runs != runs:
        comparison.add("iterations run", recorded_runs, runs)
    comparison.parts.append(f"{runs} iterations")
    _compare_history(comparison, record.history, result.history)
    for part in SCORE_PARTS:
        _compare_scores(comparison, part, summary.get(part) or {}, getattr(result, part))
    comparison.parts.append("final, 8-bit and best scores")
    if record.adversarial is not None:
        if record.adversarial.shape != result.adversarial.shape:
            comparison.add("adversarial.npy size", record.adversarial.size, result.adversarial.size)
        else:
            difference = np.abs(record.adversarial.astype(np.float64) - result.adversarial)
            worst = np.unravel_index(int(np.argmax(difference)), difference.shape)
            comparison.add(f"adversarial.npy at pixel (row {worst[0]}, column {worst[1]})",
                           float(record.adversarial[worst]), float(result.adversarial[worst]))
            comparison.parts.append("the adversarial image")
    return comparison


def _compare_history(comparison: Comparison, recorded: dict[str, np.ndarray], history: dict[str, np.ndarray]) -> None:
    rows = min(len(recorded["iteration"]), len(history["iteration"]))
    for row in range(rows):
        for name in HISTORY_COLUMNS:
            as_written = float(f"{float(history[name][row]):.9g}")  # metrics.csv keeps 9 significant digits
            comparison.add(f"metrics.csv {name} at iteration {row}", float(recorded[name][row]), as_written)
    comparison.parts.append(f"{rows * len(HISTORY_COLUMNS)} per-iteration values")


def _compare_scores(comparison: Comparison, part: str, recorded: dict, scores: dict) -> None:
    for name, value in recorded.items():
        if isinstance(value, dict):  # per-class IoU
            _compare_scores(comparison, f"{part} {name}", value, scores.get(name) or {})
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            now = scores.get(name)
            comparison.add(f"{part} {name}", float(value), math.nan if now is None else float(now))


__all__ = ["Comparison", "RecordedRun", "check_inputs_match", "compare_with_record", "read_run_folder",
           "recorded_attack", "version_notes"]
