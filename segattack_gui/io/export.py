"""What one attack run leaves on disk (docs/design.md, Run folders): its files and ``summary.json``.

The folder is written through :func:`.files.write_folder_atomically` (a hidden staging
folder renamed into place once every file is complete), so an interrupted export leaves no
half-written run folder behind.
"""

from __future__ import annotations

import csv
import json
import platform
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .. import __version__
from ..core.results import AttackResult
from .figures import VOID_CLASS, GifFrame, iteration_frame, on_image_grid, side_by_side_figure, write_figure_png
from .heatmaps import HeatmapStyle, heatmap_figure
from .files import write_folder_atomically
from .hashing import sha256_array
from .images import write_rgb_png
from .masks import REGION_PALETTE, default_colors, write_class_png

METRIC_COLUMNS = ("iteration", "iou", "pixel_accuracy", "dice", "l2", "linf", "loss", "multiplier", "seconds")


@dataclass(frozen=True)
class Provenance:
    """Where the inputs came from, so a run can be checked and repeated."""

    model_path: str | None = None
    model_sha256: str | None = None
    sidecar_path: str | None = None
    sidecar_sha256: str | None = None  # of the model's sidecar, which sets its normalisation and output
    image_path: str | None = None
    image_sha256: str | None = None
    image_conversion: str | None = None
    image_value_range: dict | None = None  # what [0, 1] stands for in the image's units (DICOM: HU)
    image_slice: dict | None = None  # the DICOM frame / NIfTI slice attacked
    target_path: str | None = None
    target_rule: str | None = None
    target_sha256: str | None = None  # of the target file; None for a painted target
    region_path: str | None = None
    region_sha256: str | None = None  # of the region file
    model_kind: str | None = None  # torchscript, export, state_dict, nnunet, monai_bundle, ...
    model_fold: int | None = None  # the one nnU-Net fold loaded (--fold); None: all folds, or not nnU-Net
    output_rule: str | None = None  # how the image reached the model and its output came back
    warnings: tuple[str, ...] = ()  # signs the model may be fed otherwise than trained (core.misfeed)
    extra: dict = field(default_factory=dict)


def versions() -> dict:
    return {
        "segattack": __version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }


def summary_record(result: AttackResult, provenance: Provenance, heatmap: HeatmapStyle = HeatmapStyle()) -> dict:
    """The contents of ``summary.json``."""
    grid = result.grid
    target_ids_sha256 = sha256_array(np.asarray(result.target, dtype=np.uint8))
    region_ids_sha256 = None if result.region is None else sha256_array(result.region.astype(np.uint8))
    return {
        "method": result.method,
        "config": result.config,
        "final": result.final,
        "final_quantized": result.final_quantized,
        "best": result.best,
        "iterations_run": result.iterations_run,
        "stop_reason": result.stop_reason,
        "error": result.error,
        "seconds": result.seconds,
        "device": result.device,
        "precision": result.precision,
        "seed": result.seed,
        "classes": list(result.class_names),
        "image_shape": list(result.original.shape),
        "output_grid": {"top": grid.top, "left": grid.left, "height": grid.height, "width": grid.width},
        "model_path": provenance.model_path,
        "model_sha256": provenance.model_sha256,
        "sidecar_path": provenance.sidecar_path,
        "sidecar_sha256": provenance.sidecar_sha256,
        "model_kind": provenance.model_kind,
        "model_fold": provenance.model_fold,
        "output_rule": provenance.output_rule,
        "warnings": list(provenance.warnings),
        "image_path": provenance.image_path,
        "image_sha256": provenance.image_sha256,
        "image_conversion": provenance.image_conversion,
        "image_value_range": provenance.image_value_range,
        "image_slice": provenance.image_slice,
        "target_path": provenance.target_path,
        "target_rule": provenance.target_rule,
        # The files' SHA-256 (as `sha256sum` gives); a mask painted in the GUI has no file: then its class ids'.
        "target_sha256": provenance.target_sha256 or target_ids_sha256,
        "target_ids_sha256": target_ids_sha256,
        "region_path": provenance.region_path,
        "region_sha256": provenance.region_sha256 or region_ids_sha256,
        "region_ids_sha256": region_ids_sha256,
        "heatmap": heatmap.record(result.perturbation),
        "versions": versions(),
        **result.extra,  # e.g. "step_size": what tau "auto" gave (a window run resolves it on its thread)
        **provenance.extra,
    }


def export_run(
    result: AttackResult,
    destination,
    provenance: Provenance = Provenance(),
    colors: list[tuple[int, int, int]] | None = None,
    frames: list[GifFrame] | None = None,
    heatmap: HeatmapStyle = HeatmapStyle(),
    frames_target: np.ndarray | None = None,
    extra_files: dict[str, bytes] | None = None,
) -> Path:
    """Write the run folder ``destination`` (must not exist yet, or be empty); return its path.

    ``frames`` become ``iterations.gif`` (each the iterate beside its prediction against the
    target; ``frames_target`` is the target on the frames' grid when they are reduced, as the
    window keeps them); ``heatmap`` is how ``perturbation_heatmap.png`` and ``overlay.png`` draw
    the perturbation (the window passes its view's mode and amplification).

    Atomic: the files are written into a ``.segattack-tmp-*`` folder beside ``destination``,
    which is renamed into place once complete. Any failure (read-only folder, full disk)
    raises one SegAttackError naming the folder and removes everything this call created,
    parent folders included; ``result`` is untouched, so it can be exported elsewhere.
    Staging folders older than an hour, left by a killed process, are removed from the
    parent folder on the next export into it. ``extra_files`` (name -> bytes) are written too:
    ``adversarial.dcm`` or ``adversarial.nii.gz`` and ``target.nii.gz`` (see source_outputs.py).
    """
    return write_folder_atomically(destination, lambda staging: _write_files(
        staging, result, provenance, colors, frames, heatmap, result.target if frames_target is None else frames_target,
        extra_files or {}))


def _write_files(folder: Path, result: AttackResult, provenance: Provenance, colors, frames, heatmap,
                 frames_target, extra_files) -> None:
    palette = list(colors) if colors else default_colors(len(result.class_names))
    # Prediction maps mark pixels outside the model's output grid as VOID_CLASS (grey).
    void_palette = palette + [(0, 0, 0)] * (VOID_CLASS - len(palette)) + [(128, 128, 128)]
    adversarial = result.adversarial.astype(np.float32)
    # The 8-bit image final_quantized scores: rounded, and kept in a PGD budget that is no whole number of steps.
    write_rgb_png(folder / "adversarial.png", adversarial if result.adversarial_8bit is None else result.adversarial_8bit)
    np.save(folder / "adversarial.npy", adversarial)
    np.save(folder / "perturbation.npy", result.perturbation)
    write_rgb_png(folder / "original.png", result.original)
    write_class_png(folder / "target.png", result.target.astype(np.uint8), palette)
    if result.region is not None:  # what `--region` reads back: white pixels may change
        write_class_png(folder / "region.png", result.region.astype(np.uint8), REGION_PALETTE)
    write_class_png(folder / "prediction_original.png", on_image_grid(result.prediction_original, result), void_palette)
    write_class_png(folder / "prediction_adversarial.png", on_image_grid(result.prediction_adversarial, result), void_palette)
    write_figure_png(folder / "perturbation_heatmap.png", heatmap_figure(result.perturbation, heatmap))
    write_figure_png(folder / "overlay.png", side_by_side_figure(result, palette, heatmap))
    _write_metrics_csv(folder / "metrics.csv", result.history)
    if frames:
        _write_gif(folder / "iterations.gif", [iteration_frame(frame, frames_target) for frame in frames])
    for name, data in extra_files.items():
        (folder / name).write_bytes(data)
    summary = summary_record(result, provenance, heatmap)
    (folder / "summary.json").write_text(json.dumps(summary, indent=2, allow_nan=True), encoding="utf-8")


def _write_metrics_csv(path: Path, history: dict[str, np.ndarray]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(METRIC_COLUMNS)
        rows = len(history["iteration"])
        for row in range(rows):
            writer.writerow([int(history["iteration"][row])] + [
                f"{float(history[name][row]):.9g}" for name in METRIC_COLUMNS[1:]
            ])


def _write_gif(path: Path, frames: list[np.ndarray]) -> None:
    """RGB uint8 frames, each with its own 256-colour palette (the agreement colours stay exact)."""
    from PIL import Image

    images = [Image.fromarray(frame).quantize(256, method=Image.Quantize.FASTOCTREE) for frame in frames]
    images[0].save(path, save_all=True, append_images=images[1:], duration=80, loop=0)
