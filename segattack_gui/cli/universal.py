"""``segattack universal``: one perturbation for a set of images (Metzen et al. 2017, static target).

The images are split into a fitting set and a held-out set (the last ``holdout`` files
in name order); the perturbation is fitted on the first and reported on both, so the
table says how well it transfers to images it never saw.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from ..core.attacks.universal import UniversalConfig, evaluate_universal, fit_universal
from ..errors import SegAttackError
from ..io.export import versions
from ..io.figures import write_figure_png
from ..io.heatmaps import heatmap_figure
from ..io.files import recorded_path, write_folder_atomically
from ..io.hashing import sha256_array
from ..io.images import read_image
from ..io.inputs import check_channels, check_image_fits, feed_shared_units, read_target
from ..io.model_files import LoadedModel


def _means(records: list[dict]) -> dict:
    keys = ("iou", "pixel_accuracy", "l2", "linf")
    return {key: float(np.mean([r[key] for r in records])) if records else None for key in keys}


def run_universal(model: LoadedModel, image_paths: list[Path], target_path: Path, config: UniversalConfig,
                  holdout: int, out: Path, mask_threshold: int = 20, mask_class: int | None = None,
                  progress=None) -> dict:
    """Fit, evaluate on fitting and held-out images, and write ``out`` atomically; return the summary."""
    if holdout < 0 or holdout >= len(image_paths):
        raise SegAttackError("--holdout", f"must leave at least one of the {len(image_paths)} images to fit on")
    images = [read_image(path) for path in image_paths]
    shapes = {image.pixels.shape for image in images}
    if len(shapes) != 1:
        raise SegAttackError(image_paths[0].parent, f"a universal perturbation needs equally sized images, got {sorted(shapes)}")
    for image in images:  # one size, so the model is probed once
        check_channels(model, image)
    feed_shared_units(model, images)
    check_image_fits(model, images[0])
    target = read_target(model, target_path, images[0].pixels.shape[:2], mask_threshold, mask_class)
    split = len(images) - holdout
    fitting, held_out = images[:split], images[split:]
    result = fit_universal(model.adapter, [i.pixels for i in fitting], target.class_ids, config, progress=progress)

    def scores(part: list) -> dict:
        """Per-image and mean metrics of the part's images plus xi, in float and as 8-bit PNGs would hold them."""
        pixels = [image.pixels for image in part]
        if not pixels:
            return {"mean": _means([]), "per_image": [], "mean_quantized": _means([]), "per_image_quantized": []}
        records, quantized = (evaluate_universal(model.adapter, result.perturbation, pixels, target.class_ids,
                                                 quantize=on_grid) for on_grid in (False, True))
        return {"mean": _means(records), "per_image": records,
                "mean_quantized": _means(quantized), "per_image_quantized": quantized}

    summary = {
        "method": "universal", "config": config.as_dict(), "iterations_run": result.iterations_run,
        "stop_reason": result.stop_reason, "seconds": result.seconds, "device": str(model.adapter.device),
        "precision": model.adapter.precision,
        "fitting": {"images": [recorded_path(p) for p in image_paths[:split]], **scores(fitting)},
        "held_out": {"images": [recorded_path(p) for p in image_paths[split:]], **scores(held_out)},
        **model.provenance(),
        "image_sha256": {path.name: image.sha256 for path, image in zip(image_paths, images)},
        "target_path": recorded_path(target_path), "target_sha256": target.sha256,
        "target_ids_sha256": sha256_array(target.class_ids.astype(np.uint8)),
        "versions": versions(), "error": result.error,
    }

    def write(folder: Path) -> None:
        np.save(folder / "perturbation.npy", result.perturbation.astype(np.float32))
        write_figure_png(folder / "perturbation_heatmap.png", heatmap_figure(result.perturbation))
        with (folder / "metrics.csv").open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            columns = list(result.history)
            writer.writerow(columns)
            for row in zip(*(result.history[c] for c in columns)):
                writer.writerow([f"{float(v):.9g}" for v in row])
        (folder / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")

    write_folder_atomically(out, write)
    return summary
