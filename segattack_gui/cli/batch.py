"""The paper's protocol over a dataset: many (image, target) pairs, several methods, one table.

``--pairing shuffle`` attacks each image towards the mask of *another* image of the
set (a seeded derangement, as Ozbulak et al. did on the glaucoma set);
``--targets DIR`` attacks each image towards the target of the same file name.
Every (image, method) pair gets its own run folder; a folder that already holds a
``summary.json`` is reused, so an interrupted batch resumes where it stopped, provided
it was made with the same method, parameters, model, image and target (else an error).

Images may be DICOM files or NIfTI images as well as PNG, JPEG, TIFF and BMP: each DICOM or NIfTI
file gives its middle frame or slice (as ``segattack attack`` without ``--slice``), a NIfTI label
map target is read from that slice, and the run folder holds the adversarial in the source's format,
scored as read back (:mod:`..io.source_outputs`). Images on different value ranges run in different
groups, each fed its own range (a model on raw values reads every image in its own units).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..core.attacks import Attack
from ..core.fallback import OutOfMemoryFallback
from ..core.runner import run_batch
from ..errors import SegAttackError
from ..io.export import export_run
from ..io.source_outputs import source_outputs
from ..io.files import make_folders, remove_empty_folders, write_csv_table, write_file_bytes
from ..io.hashing import sha256_array
from ..core.misfeed import misfeed_warnings
from ..io.images import IMAGE_SUFFIXES, PLAIN_IMAGE_SUFFIXES, read_image
from ..io.medical.reading import is_medical_path
from ..io.inputs import AttackInputs, check_image_fits, feed_image_units, model_colors, read_target, value_range
from ..io.model_files import LoadedModel
from .distributed import Team

TABLE_COLUMNS = ("method", "evaluation", "n", "l2_mean", "l2_std", "linf_mean", "linf_std", "iou_mean", "iou_std",
                 "pa_mean", "pa_std", "seconds_mean", "iou_vs_clean_mean", "pa_vs_clean_mean")
ATTACKED = "attacked"
"""``evaluation`` of a method's own row: the float adversarial on the model it was made on. Its other
rows are ``after <transform>`` (``--survival``) and ``on <model file>`` (``--evaluate-on``)."""


@dataclass(frozen=True)
class Pair:
    """One image and the mask it is attacked towards."""

    image: Path
    target: Path


def list_images(folder: Path, plain_only: bool = False) -> list[Path]:
    """The image files of ``folder`` in name order; hidden files (macOS ``._a.png``) are not data.
    ``plain_only``: PNG, JPEG, TIFF and BMP alone (a DICOM or NIfTI file there is an error)."""
    if not folder.is_dir():
        raise SegAttackError(folder, "is not a folder")
    images = sorted(p for p in folder.iterdir()
                    if not p.name.startswith(".") and p.is_file() and (_known_suffix(p) or is_medical_path(p)))
    medical = [p for p in images if not p.name.lower().endswith(tuple(PLAIN_IMAGE_SUFFIXES))] if plain_only else []
    if medical:
        raise SegAttackError(medical[0], "is a DICOM or NIfTI image; a universal perturbation takes PNG, JPEG, "
                                         "TIFF and BMP images (segattack batch takes DICOM and NIfTI)")
    if not images:
        kinds = ".png, .jpg, .tif, .bmp" + ("" if plain_only else ", .dcm, .nii, .nii.gz")
        raise SegAttackError(folder, f"holds no images ({kinds})")
    return images


def _known_suffix(path: Path) -> str | None:
    """The image suffix ``path`` ends with (``.nii.gz`` whole), or None (a DICOM file is often named
    without one, or by its UID: ``1.2.840.113619.2.55.3``)."""
    lower = path.name.lower()
    return next((suffix for suffix in IMAGE_SUFFIXES if lower.endswith(suffix)), None)  # none ends another


def file_stem(path: Path) -> str:
    """The name without its image suffix (a DICOM named by its UID keeps every dot): an image's run
    folder, and the name its mask and target are found by."""
    suffix = _known_suffix(path)
    return path.name[: -len(suffix)] if suffix else path.name


def _by_stem(files: list[Path]) -> dict[str, list[Path]]:
    by_stem: dict[str, list[Path]] = {}
    for path in files:
        by_stem.setdefault(file_stem(path), []).append(path)
    return by_stem


def _masks_for(images: list[Path], folder: Path) -> list[Path]:
    """The mask named like each image; two candidates (a.png and a.tif) are ambiguous, not a choice to guess."""
    by_stem = _by_stem(list_images(folder))
    masks = []
    for image in images:
        candidates = by_stem.get(file_stem(image), [])
        if not candidates:
            raise SegAttackError(folder, f"has no mask named {file_stem(image)}.* for {image.name}")
        if len(candidates) > 1:
            raise SegAttackError(folder, f"has two masks for {image.name}: {candidates[0].name} and "
                                         f"{candidates[1].name}; keep one")
        masks.append(candidates[0])
    return masks


def seeded_derangement(count: int, seed: int) -> list[int]:
    """A random permutation without fixed points (Sattolo's algorithm: one random cycle)."""
    if count < 2:
        raise ValueError("shuffle pairing needs at least two images")
    order = list(range(count))
    rng = np.random.default_rng(seed)
    for index in range(count - 1, 0, -1):
        other = int(rng.integers(0, index))
        order[index], order[other] = order[other], order[index]
    return order


def make_pairs(images_dir: Path, masks_dir: Path | None, targets_dir: Path | None, pairing: str,
               seed: int) -> list[Pair]:
    images = list_images(images_dir)
    for stem, same in _by_stem(images).items():
        if len(same) > 1:  # their run folders would be one and the same
            raise SegAttackError(images_dir, f"{same[0].name} and {same[1].name} would share the run folder "
                                             f"{stem}; keep one")
    if targets_dir is not None:
        return [Pair(image, target) for image, target in zip(images, _masks_for(images, targets_dir))]
    if masks_dir is None:
        raise SegAttackError("--masks", "is required unless --targets gives the targets")
    masks = _masks_for(images, masks_dir)
    if pairing == "same-name":
        return [Pair(image, mask) for image, mask in zip(images, masks)]
    if len(images) < 2:
        raise SegAttackError(images_dir, "shuffle pairing needs at least two images")
    order = seeded_derangement(len(images), seed)
    return [Pair(image, masks[order[index]]) for index, image in enumerate(images)]


def run_folder(out: Path, method: str, pair: Pair) -> Path:
    return out / method / file_stem(pair.image)


def _load_pair(model: LoadedModel, pair: Pair, mask_threshold: int, mask_class: int | None):
    image = read_image(pair.image)
    check_image_fits(model, image)
    feed_image_units(model, image)  # a model on raw values and an image of unknown range: said here, first
    return image, read_target(model, pair.target, (image.height, image.width), mask_threshold, mask_class,
                              image.source)


def run_experiment(
    model: LoadedModel,
    pairs: Sequence[Pair],
    attacks: Sequence[Attack],
    out: Path,
    *,
    batch_size: int = 1,
    mask_threshold: int = 20,
    mask_class: int | None = None,
    progress: Callable[[str], None] | None = None,
    on_message: Callable[[str], None] | None = None,
    team: Team | None = None,
    on_checked: Callable[[], None] | None = None,
    evaluate_on: dict[str, LoadedModel] | None = None,
    survival: Sequence[str] = (),
    auto_steps: dict[str, dict] | None = None,
) -> list[dict]:
    """Attack every pair with every method, skipping finished runs; return the table rows.

    Out of GPU memory, a group is retried in smaller batches, then on the CPU
    (:mod:`.core.fallback`), announced through ``on_message``.

    Under ``torchrun`` (``team`` given, see :mod:`.distributed`) this process runs only
    its share of the pairs. Every process still checks every input first, so a bad file
    stops all of them alike before anything is written; rank 0 writes the tables once
    every share is done.

    ``evaluate_on`` (models by file name) and ``survival`` (transform tokens) add the rows of
    :mod:`.evaluations` to every run's summary and the table.

    ``auto_steps`` (method -> its parameters with ``tau`` "auto"): that method's tau is picked per
    image by the documented rule (docs/step-size.md) before any work, recorded as each run's
    ``step_size``, and each image runs alone, since a batch shares one tau.
    """
    from .evaluations import check_targets_fit

    loaded = {pair: _load_pair(model, pair, mask_threshold, mask_class) for pair in pairs}
    for pair in pairs:
        check_targets_fit(evaluate_on or {}, pair.target, loaded[pair][1].class_ids)
    per_image = per_image_steps(model, pairs, loaded, attacks, auto_steps or {})
    for attack in attacks:
        for pair in pairs:
            image, target = loaded[pair]
            own = per_image.get((attack.name, pair), (attack, None))[0]
            check_resumable(run_folder(out, attack.name, pair), own, model, image.sha256, target.class_ids)
    created = make_folders(out)  # only once every input has been checked
    mine = list(pairs) if team is None else team.share(pairs)
    if on_checked is not None:  # every input is fine: the work (and its progress bar) begins
        on_checked()
    try:
        try:
            _run_pairs(model, mine, loaded, attacks, out, batch_size, progress, on_message,
                       partial(_extra_evaluations, models=evaluate_on or {}, survival=list(survival), model=model),
                       per_image)
        except Exception:
            if team is not None:
                team.all_succeeded(False)  # release the other processes before failing
            raise
        if team is not None and not team.all_succeeded(True):
            raise SegAttackError(out, "another process of this torchrun failed (see its message); no table written")
        rows = summarise(out, [attack.name for attack in attacks], pairs)
        if team is None or team.is_main:
            write_tables(out, rows)
    except BaseException:
        remove_empty_folders(created)  # a batch that failed before its first run leaves no empty folders
        raise
    return rows


def check_resumable(folder: Path, attack: Attack, model: LoadedModel, image_sha256: str, target: np.ndarray) -> None:
    """A finished run folder is reused only if it was made by these settings from this model, image
    and target (compared by content: a path may be spelt another way, a mask read by another rule):
    otherwise the table would report settings that never ran."""
    summary_path = folder / "summary.json"
    if not summary_path.is_file():
        return
    try:
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise SegAttackError(summary_path, f"cannot be read to resume the batch ({error}); "
                                           "delete the folder to run it again") from None
    expected = {
        "method": attack.name,
        "config": json.loads(json.dumps(attack.config.as_dict())),
        "model_sha256": model.sha256,
        "image_sha256": image_sha256,
        "target_ids_sha256": sha256_array(np.asarray(target, dtype=np.uint8)),
    }
    summary.setdefault("target_ids_sha256", summary.get("target_sha256"))  # folders from before the field
    words = {"config": "parameters", "model_sha256": "model", "image_sha256": "image", "target_ids_sha256": "target"}
    differing = [words.get(key, key) for key, value in expected.items() if summary.get(key) != value]
    if differing:
        raise SegAttackError(summary_path, f"was made with another {' and '.join(differing)}; use a new --out, "
                                           "or delete the folder to run it again with these settings")


def _extra_evaluations(result, image, models, survival, model) -> dict:
    from .evaluations import extra_evaluations

    return extra_evaluations(result, models, survival, model.adapter, value_range(image))


def per_image_steps(model: LoadedModel, pairs, loaded, attacks, auto_steps: dict[str, dict]) -> dict:
    """(method, pair) -> (the attack with this image's tau, its StepRule), for the methods in ``auto_steps``."""
    from ..core.attacks.base import ParameterError
    from ..core.attacks.step_size import with_auto_step

    chosen = {}
    for attack in attacks:
        if attack.name not in auto_steps:
            continue
        for pair in pairs:
            image, target = loaded[pair]
            feed_image_units(model, image)
            try:
                chosen[(attack.name, pair)] = with_auto_step(model.adapter, attack, auto_steps[attack.name],
                                                             image.pixels, target.class_ids)
            except ParameterError as error:
                raise SegAttackError(pair.image, f"{error.flag} {error.problem}") from None
    return chosen


def _run_pairs(model, pairs, loaded, attacks, out, batch_size, progress, on_message, evaluations,
               per_image: dict) -> None:
    """Run and export every (pair, method) whose run folder is not finished yet; a method whose tau
    is picked per image (``per_image``) runs each image alone, with its own attack."""
    colors = model_colors(model)
    fallback = OutOfMemoryFallback(model.adapter, batch_size=batch_size, on_message=on_message)

    def attack_together(adapter, members: list[Pair], attack: Attack) -> list:
        results = run_batch(adapter, [loaded[p][0].pixels for p in members], [loaded[p][1].class_ids for p in members],
                            attack)
        return [(result, len(members)) for result in results]  # with the batch size that produced it

    warnings: dict[Pair, tuple[str, ...]] = {}

    def warnings_for(pair: Pair) -> tuple[str, ...]:  # once per pair, said once, recorded in every run of it
        if pair not in warnings:
            image, target = loaded[pair]
            warnings[pair] = tuple(misfeed_warnings(model.adapter, image.pixels, target.class_ids))
            for warning in warnings[pair] if on_message else ():
                on_message(f"{pair.image.name}: {warning}")
        return warnings[pair]

    for attack in attacks:
        pending = [pair for pair in pairs if not (run_folder(out, attack.name, pair) / "summary.json").is_file()]
        alone = any(key[0] == attack.name for key in per_image)
        raw_values = model.adapter.spec.input_units == "raw"
        for group in _same_shape_groups(pending, loaded, 1 if alone else batch_size, raw_values):
            images = [loaded[pair][0] for pair in group]
            targets = [loaded[pair][1] for pair in group]
            feed_image_units(model, images[0])  # one value range per group
            own, rule = per_image.get((attack.name, group[0]), (attack, None))
            own.grid_levels = images[0].export_levels  # --quantize steps on the exported file's grid
            outcomes = fallback.run(partial(attack_together, attack=own), group)
            for pair, image, target, (result, together) in zip(group, images, targets, outcomes):
                result, files = source_outputs(result, image, model.adapter)
                step = {} if rule is None else {"step_size": rule.record()}
                provenance = AttackInputs(model, image, target, None, warnings_for(pair)).provenance(
                    batch_size=together, **step, **evaluations(result, image))
                folder = run_folder(out, attack.name, pair)
                if folder.exists() and not any(folder.iterdir()):
                    folder.rmdir()
                export_run(result, folder, provenance, colors, extra_files=files)
                if progress:
                    progress(f"{attack.name} {pair.image.name} -> {pair.target.name}: "
                             f"IoU {result.final['iou']:.3f} L2 {result.final['l2']:.3f}")


def _same_shape_groups(pairs, loaded, batch_size: int, raw_values: bool):
    """Batches of pairs whose images share a shape and an export grid, and, for a model on raw values
    (``raw_values``), a value range (fed to the model once per batch)."""
    groups: dict[tuple, list[Pair]] = {}
    for pair in pairs:
        image = loaded[pair][0]
        scale = image.value_scale if raw_values else None
        groups.setdefault((image.pixels.shape, scale, image.export_levels), []).append(pair)
    for members in groups.values():
        for start in range(0, len(members), max(1, batch_size)):
            yield members[start : start + max(1, batch_size)]


def _mean_std(values: list[float]) -> tuple[float, float]:
    if not values:
        return math.nan, math.nan
    array = np.asarray(values, dtype=np.float64)
    return float(array.mean()), float(array.std(ddof=1)) if len(array) > 1 else 0.0


def summarise(out: Path, methods: Sequence[str], pairs: Sequence[Pair]) -> list[dict]:
    """Per method, from the run folders' ``summary.json``: its own row (float adversarials, as the
    paper), then one row per survival transform and per other model the runs were evaluated on."""
    rows = []
    for method in methods:
        finals, seconds = [], []
        others: dict[str, list[dict]] = {}  # evaluation -> its scores, one per run that has it
        for pair in pairs:
            summary = json.loads((run_folder(out, method, pair) / "summary.json").read_text(encoding="utf-8"))
            finals.append(summary["final"])
            seconds.append(summary["seconds"] / summary.get("batch_size", 1))
            for entry in summary.get("survival", []):
                others.setdefault(f"after {entry['transform']}", []).append(entry)
            for name, scores in summary.get("evaluated_on", {}).items():
                others.setdefault(f"on {name}", []).append(scores)
        row = {"method": method, "evaluation": ATTACKED, "n": len(finals)}
        for column, key in (("l2", "l2"), ("linf", "linf"), ("iou", "iou"), ("pa", "pixel_accuracy")):
            row[f"{column}_mean"], row[f"{column}_std"] = _mean_std([f[key] for f in finals])
        row["seconds_mean"] = float(np.mean(seconds)) if seconds else math.nan
        row["iou_vs_clean_mean"] = row["pa_vs_clean_mean"] = math.nan
        rows.append(row)
        for evaluation, entries in others.items():
            other = {"method": method, "evaluation": evaluation, "n": len(entries),
                     **{f"{norm}_{stat}": math.nan for norm in ("l2", "linf") for stat in ("mean", "std")},
                     "seconds_mean": math.nan}
            for column, key in (("iou", "iou"), ("pa", "pixel_accuracy")):
                other[f"{column}_mean"], other[f"{column}_std"] = _mean_std([e[key] for e in entries])
                other[f"{column}_vs_clean_mean"] = float(np.mean([e[f"{key}_vs_clean"] for e in entries]))
            rows.append(other)
    return rows


def write_tables(out: Path, rows: list[dict]) -> None:
    """``table.csv`` and ``table.md``, each through a renamed temporary file: a full disk leaves
    the previous table (or none), never a truncated one, and a one-line SegAttackError."""
    write_csv_table(out / "table.csv", rows, TABLE_COLUMNS, ".6g")
    write_file_bytes(out / "table.md", markdown_table(rows).encode("utf-8"))


def markdown_table(rows: list[dict]) -> str:
    """The paper's Table 1 layout: one row per method, mean ± std of L2, L-inf, IoU and PA; then,
    if the runs were judged again, the IoU and PA of each transform and other model."""
    lines = [
        "| Method | n | L2 | L∞ | IoU (%) | PA (%) | s / image |",
        "|---|---|---|---|---|---|---|",
    ]
    others = [row for row in rows if row["evaluation"] != ATTACKED]
    for row in rows:
        if row["evaluation"] != ATTACKED:
            continue
        lines.append(
            f"| {row['method'].upper()} | {row['n']} "
            f"| {row['l2_mean']:.2f} ± {row['l2_std']:.2f} "
            f"| {row['linf_mean']:.3f} ± {row['linf_std']:.3f} "
            f"| {100 * row['iou_mean']:.1f} ± {100 * row['iou_std']:.1f} "
            f"| {100 * row['pa_mean']:.1f} ± {100 * row['pa_std']:.1f} "
            f"| {row['seconds_mean']:.1f} |"
        )
    if others:
        lines += ["", "| Method | judged | n | IoU (%) | PA (%) | PA vs clean prediction (%) |", "|---|---|---|---|---|---|"]
        for row in others:
            lines.append(f"| {row['method'].upper()} | {row['evaluation']} | {row['n']} "
                         f"| {100 * row['iou_mean']:.1f} ± {100 * row['iou_std']:.1f} "
                         f"| {100 * row['pa_mean']:.1f} ± {100 * row['pa_std']:.1f} "
                         f"| {100 * row['pa_vs_clean_mean']:.1f} |")
    return "\n".join(lines) + "\n"
