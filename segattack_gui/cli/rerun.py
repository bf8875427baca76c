"""``segattack rerun``: repeat a run from its folder and say whether the numbers come out the same.

A run folder records all an attack read: the method with every parameter, the seed, device and
precision, the model, its sidecar and the image by path and SHA-256, and the target (and region)
as the class ids used (``target.png``, ``region.png``). A rerun checks that each input is the one
recorded, attacks again, and compares every per-iteration metric, the final, 8-bit and best scores,
the adversarial image, and the survival and other-model rows (judged again) with what the folder
holds. That is the reproducibility a paper's
reviewer asks for, checked by the tool rather than asserted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..core.results import HISTORY_COLUMNS, AttackResult
from ..errors import SegAttackError
from ..io.export import versions
from ..io.hashing import sha256_array
from ..io.inputs import AttackInputs
from ..io.run_folders import SCORE_PARTS, RecordedRun


def recorded_ensemble(record: RecordedRun, load_model) -> dict:
    """The other models of an ``--ensemble`` run (``summary.json``'s ``ensemble``), each loaded by
    ``load_model(path, fold)`` from its recorded place and checked by SHA-256, by file name as the
    attack keyed them; a member gone or changed is one line (without it the run cannot be repeated)."""
    members = {}
    for entry in record.summary.get("ensemble") or []:
        path, model, problem = recorded_model(entry, load_model)
        if problem == GONE:
            raise SegAttackError(record.folder / "summary.json", f"was crafted on an ensemble whose member "
                                 f"{path or '(no recorded place)'} is gone; the run cannot be repeated without it")
        if problem == CHANGED:
            raise SegAttackError(path, "is not the ensemble member the run used (its SHA-256 differs)")
        members[path.name] = model
    return members


GONE, CHANGED = "gone", "changed"


def recorded_model(entry: dict, load_model) -> tuple[Path | None, object, str | None]:
    """A model a run records (``model_path``, ``model_sha256``, ``model_fold``), loaded by
    ``load_model(path, fold)`` from its recorded place: (its path, the model, None), or the model None
    and the problem: ``GONE`` (no file there, or no place recorded) or ``CHANGED`` (another file now:
    its SHA-256 differs)."""
    path = Path(entry["model_path"]) if entry.get("model_path") else None
    if path is None or not path.exists():
        return path, None, GONE
    model = load_model(path, entry.get("model_fold"))
    if entry.get("model_sha256") not in (None, model.sha256):
        return path, None, CHANGED
    return path, model, None


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


JUDGED_SCORES = ("iou", "pixel_accuracy", "iou_vs_clean", "pixel_accuracy_vs_clean")


def compare_judgements(comparison: Comparison, record: RecordedRun, result: AttackResult, adapter,
                       input_range: tuple[float, float] | None, load_model) -> list[str]:
    """The recorded ``survival`` rows (the attacked model, ``adapter``, on each transform) and
    ``evaluated_on`` rows (each other model, loaded by ``load_model(path, fold)`` from its recorded
    place and checked by SHA-256, :func:`recorded_model`) judged again on the rerun's adversarial; returns notes on the rows that
    could not be (a model no longer there, or another file now)."""
    from ..io.evaluations import evaluated_on_entry, survival_entry

    summary, notes = record.summary, []
    for row in summary.get("survival") or []:
        now = survival_entry(adapter, result, row["transform"])
        for name in JUDGED_SCORES:
            if name in row:
                comparison.add(f"survival {row['transform']} {name}", float(row[name]), now[name])
    if summary.get("survival"):
        comparison.parts.append("the survival rows")
    judged = 0
    for key, entry in (summary.get("evaluated_on") or {}).items():
        path, model, problem = recorded_model(entry, load_model)
        if problem == GONE:
            notes.append(f"evaluated_on {key}: its model is not at {path or 'a recorded place'}; not judged again")
            continue
        if problem == CHANGED:
            notes.append(f"evaluated_on {key}: {path} is not the model recorded (its SHA-256 differs); not judged again")
            continue
        now = evaluated_on_entry(model, result, input_range)
        for name in JUDGED_SCORES:
            if name in entry:
                comparison.add(f"evaluated_on {key} {name}", float(entry[name]), now[name])
        judged += 1
    if judged:
        whose = "1 other model's" if judged == 1 else f"{judged} other models'"
        comparison.parts.append(f"{whose} scores")
    return notes


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


__all__ = ["Comparison", "check_inputs_match", "compare_with_record", "version_notes"]
