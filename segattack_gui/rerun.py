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
from .core.runner import AttackControl
from .core.results import HISTORY_COLUMNS, AttackResult
from .errors import SegAttackError, first_line
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
    if not path.is_file():
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


def check_inputs_match(record: RecordedRun, inputs: AttackInputs) -> tuple[list[str], list[str]]:
    """Refuse inputs that are not the recorded ones; return what was checked and notes on what
    could not be (a folder written before the field existed)."""
    summary, checked, notes = record.summary, [], []
    model = inputs.model
    _require_same(model.path, "model_sha256", model.sha256, summary, "--model", checked, notes, "model")
    if "sidecar_sha256" not in summary:
        if model.sidecar_sha256:
            notes.append("the run folder predates sidecar hashes: the model's sidecar was not checked")
    elif summary["sidecar_sha256"] != model.sidecar_sha256:
        was = "no sidecar" if summary["sidecar_sha256"] is None else "another sidecar"
        raise SegAttackError(model.sidecar_path or model.path,
                             f"the run used {was} for this model; normalisation or output type may differ")
    elif model.sidecar_sha256:
        checked.append("sidecar")
    _require_same(inputs.image.path, "image_sha256", inputs.image.sha256, summary, "--image", checked, notes, "image")
    target_ids = sha256_array(np.asarray(inputs.target.class_ids, dtype=np.uint8))
    if "target_ids_sha256" not in summary:
        notes.append("the run folder predates class-id hashes: target.png was not checked")
    elif target_ids != summary["target_ids_sha256"]:
        raise SegAttackError(record.target_file, "is not the target the run used (its class ids changed)")
    else:
        checked.append("target")
    if inputs.region is not None:
        recorded = summary.get("region_ids_sha256")
        if recorded is None:
            notes.append("the run folder predates class-id hashes: region.png was not checked")
        elif recorded != sha256_array((inputs.region.class_ids > 0).astype(np.uint8)):
            raise SegAttackError(inputs.region.path, "is not the perturbation region the run used")
        else:
            checked.append("region")
    return checked, notes


def _require_same(path: Path, key: str, actual: str, summary: dict, flag: str, checked: list, notes: list,
                  name: str) -> None:
    recorded = summary.get(key)
    if not recorded:
        notes.append(f"the run folder records no {key}: the {name} file was not checked")
    elif recorded != actual:
        raise SegAttackError(path, f"is not the file the run used (its SHA-256 differs from {key} in summary.json); "
                                   f"pass {flag} with the original file")
    else:
        checked.append(name)


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

    def require_equal(self, where: str, recorded: int, now: int) -> None:
        """Counts (iterations, rows, the best iteration) match exactly, whatever the tolerance."""
        self.compared += 1
        if recorded != now:
            self.largest = math.inf
            if self.first_beyond is None:
                self.first_beyond = f"{where}: recorded {recorded}, now {now}"

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
        if math.isinf(self.largest):  # a count differs: no tolerance applies
            return f"differs: {self.first_beyond}"
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
    comparison.require_equal("iterations run", int(summary["iterations_run"]), result.iterations_run)
    comparison.require_equal("metrics.csv rows", len(record.history["iteration"]), len(result.history["iteration"]))
    comparison.parts.append(f"{result.iterations_run} iterations")
    _compare_history(comparison, record.history, result.history)
    for part in SCORE_PARTS:
        _compare_scores(comparison, part, summary.get(part) or {}, getattr(result, part))
    comparison.parts.append("final, 8-bit and best scores")
    if record.adversarial is not None:
        if record.adversarial.shape != result.adversarial.shape:
            comparison.require_equal("adversarial.npy values", record.adversarial.size, result.adversarial.size)
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
        elif name == "iteration":  # the best iterate's
            comparison.require_equal(f"{part} iteration", value, scores.get(name))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            now = scores.get(name)
            comparison.add(f"{part} {name}", float(value), math.nan if now is None else float(now))


__all__ = ["Comparison", "RecordedRun", "check_inputs_match", "compare_with_record", "read_run_folder",
           "recorded_attack", "recorded_file", "version_notes"]
