"""Write one attack run as a result folder (SPEC 7), atomically.

Everything goes into a hidden temporary folder beside the destination, which is
renamed into place only once every file is complete: an interrupted export leaves
no half-written run folder behind, only a ``.segattack-tmp-*`` folder to ignore.
"""

from __future__ import annotations

import csv
import json
import os
import platform
import secrets
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch

from .. import __version__
from ..core.results import AttackResult
from ..errors import SegAttackError
from .figures import VOID_CLASS, heatmap_image, on_image_grid, side_by_side_figure
from .hashing import sha256_array
from .images import to_uint8, write_rgb_png
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
    target_path: str | None = None
    target_rule: str | None = None
    target_sha256: str | None = None  # of the target file; None for a painted target
    region_path: str | None = None
    region_sha256: str | None = None  # of the region file
    extra: dict = field(default_factory=dict)


def versions() -> dict:
    return {
        "segattack": __version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }


def summary_record(result: AttackResult, provenance: Provenance) -> dict:
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
        "image_path": provenance.image_path,
        "image_sha256": provenance.image_sha256,
        "image_conversion": provenance.image_conversion,
        "target_path": provenance.target_path,
        "target_rule": provenance.target_rule,
        # The files' SHA-256 (as `sha256sum` gives); a mask painted in the GUI has no file: then its class ids'.
        "target_sha256": provenance.target_sha256 or target_ids_sha256,
        "target_ids_sha256": target_ids_sha256,
        "region_path": provenance.region_path,
        "region_sha256": provenance.region_sha256 or region_ids_sha256,
        "region_ids_sha256": region_ids_sha256,
        "versions": versions(),
        **provenance.extra,
    }


def export_run(
    result: AttackResult,
    destination,
    provenance: Provenance = Provenance(),
    colors: list[tuple[int, int, int]] | None = None,
    frames: list[np.ndarray] | None = None,
) -> Path:
    """Write the run folder ``destination`` (must not exist yet, or be empty); return its path.

    Atomic: the files are written into a ``.segattack-tmp-*`` folder beside ``destination``,
    which is renamed into place once complete. Any failure (read-only folder, full disk)
    raises one SegAttackError naming the folder and removes everything this call created,
    parent folders included; ``result`` is untouched, so it can be exported elsewhere.
    Staging folders older than an hour, left by a killed process, are removed from the
    parent folder on the next export into it.
    """
    return write_folder_atomically(destination, lambda staging: _write_files(staging, result, provenance, colors, frames))


def require_new_folder(destination: Path) -> None:
    """A run folder must not exist yet, or be empty: nothing a researcher kept is overwritten."""
    destination = Path(destination)
    try:
        taken = destination.exists() and (not destination.is_dir() or any(destination.iterdir()))
    except OSError as error:  # a name too long for the file system, a folder that cannot be listed
        raise SegAttackError(destination, f"cannot be used as a folder ({error.strerror or error})") from None
    if taken:
        raise SegAttackError(destination, "already exists and is not empty; choose a new folder")


def require_writable_folder(destination: Path) -> None:
    """Fail in a second rather than after hours of attacking: ``destination`` must be a folder or
    creatable as one, and its nearest existing folder must take a new entry. The probe is a
    temporary folder, removed again at once, so the check leaves nothing behind."""
    destination = existing = Path(destination)
    try:
        missing = missing_folders(destination)
        existing = missing[-1].parent if missing else destination
        if not existing.is_dir():
            where = "" if existing == destination else f", so {destination} cannot be created"
            raise SegAttackError(existing, f"is a file, not a folder{where}")
        os.rmdir(tempfile.mkdtemp(prefix=PROBE_PREFIX, dir=existing))
    except OSError as error:
        raise SegAttackError(existing, f"cannot write here ({error.strerror or error}); nothing was written") from None


def _new_staging_folder(parent: Path) -> Path:
    """A fresh, uniquely named folder in ``parent`` with the permissions a plain ``mkdir`` gives
    (the umask's), not ``mkdtemp``'s owner-only ones: colleagues on a shared server read runs."""
    while True:
        staging = parent / f"{STAGING_PREFIX}{secrets.token_hex(6)}"
        try:
            staging.mkdir()
            return staging
        except FileExistsError:
            continue


def write_folder_atomically(destination, write_files) -> Path:
    """Run ``write_files(staging_folder)`` and rename the staging folder to ``destination``."""
    destination = Path(destination)
    require_new_folder(destination)
    parent = destination.parent
    was_empty_folder = destination.is_dir()
    created = make_folders(parent)  # removed again if the export fails
    try:
        staging = _new_staging_folder(parent)
    except OSError as error:
        remove_empty_folders(created)
        raise SegAttackError(parent, f"cannot write here ({error.strerror or error}); nothing was written") from None
    _remove_stale_staging(parent, keep=staging)
    try:
        write_files(staging)
        if destination.exists():
            destination.rmdir()
        os.replace(staging, destination)
    except (OSError, SegAttackError) as error:
        _undo(staging, created, destination if was_empty_folder else None)
        cause = error.__cause__ if isinstance(error, SegAttackError) else error  # a writer names the temp file
        reason = cause.strerror if isinstance(cause, OSError) and cause.strerror else (
            error.problem if isinstance(error, SegAttackError) else str(error))
        raise SegAttackError(destination, f"export failed, nothing was written ({reason})") from None
    except BaseException:
        _undo(staging, created, destination if was_empty_folder else None)
        raise
    return destination


STAGING_PREFIX = ".segattack-tmp-"
PROBE_PREFIX = ".segattack-probe-"
STALE_STAGING_SECONDS = 3600


def make_folders(folder: Path) -> list[Path]:
    """``folder`` and its missing parents; returns those it created (deepest first) for
    ``remove_empty_folders`` to take back. A failure removes them and is one line."""
    created = missing_folders(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        remove_empty_folders(created)
        raise SegAttackError(folder, f"cannot write here ({error.strerror or error}); nothing was written") from None
    return created


def missing_folders(folder: Path) -> list[Path]:
    """The folders ``folder.mkdir(parents=True)`` would create, deepest first."""
    missing = []
    while not folder.exists() and folder.parent != folder:
        missing.append(folder)
        folder = folder.parent
    return missing


def _undo(staging: Path, created: list[Path], empty_destination: Path | None) -> None:
    """Leave the disk as the export found it: no staging folder, no new folders, the empty folder back."""
    shutil.rmtree(staging, ignore_errors=True)
    remove_empty_folders(created)
    if empty_destination is not None and not empty_destination.exists():
        try:
            empty_destination.mkdir()
        except OSError:
            pass


def remove_empty_folders(folders: list[Path]) -> None:
    """Remove ``folders`` (deepest first, as missing_folders lists them) up to the first that is not empty."""
    for folder in folders:  # deepest first
        try:
            folder.rmdir()
        except OSError:
            return


def _remove_stale_staging(parent: Path, keep: Path) -> None:
    """Best effort: staging folders untouched for an hour belong to exports that were killed."""
    now = time.time()
    try:
        candidates = [p for p in parent.iterdir() if p.name.startswith(STAGING_PREFIX) and p != keep]
    except OSError:
        return
    for candidate in candidates:
        try:
            if candidate.is_dir() and now - candidate.stat().st_mtime > STALE_STAGING_SECONDS:
                shutil.rmtree(candidate, ignore_errors=True)
        except OSError:
            pass


def _write_files(folder: Path, result: AttackResult, provenance: Provenance, colors, frames) -> None:
    palette = list(colors) if colors else default_colors(len(result.class_names))
    # Prediction maps mark pixels outside the model's output grid as VOID_CLASS (grey).
    void_palette = palette + [(0, 0, 0)] * (VOID_CLASS - len(palette)) + [(128, 128, 128)]
    adversarial = result.adversarial.astype(np.float32)
    write_rgb_png(folder / "adversarial.png", adversarial)
    np.save(folder / "adversarial.npy", adversarial)
    np.save(folder / "perturbation.npy", result.perturbation)
    write_rgb_png(folder / "original.png", result.original)
    write_class_png(folder / "target.png", result.target.astype(np.uint8), palette)
    if result.region is not None:  # what `--region` reads back: white pixels may change
        write_class_png(folder / "region.png", result.region.astype(np.uint8), REGION_PALETTE)
    write_class_png(folder / "prediction_original.png", on_image_grid(result.prediction_original, result), void_palette)
    write_class_png(folder / "prediction_adversarial.png", on_image_grid(result.prediction_adversarial, result), void_palette)
    _write_bgr(folder / "perturbation_heatmap.png", heatmap_image(result.perturbation))
    _write_bgr(folder / "overlay.png", side_by_side_figure(result, palette))
    _write_metrics_csv(folder / "metrics.csv", result.history)
    if frames:
        _write_gif(folder / "iterations.gif", frames)
    summary = summary_record(result, provenance)
    (folder / "summary.json").write_text(json.dumps(summary, indent=2, allow_nan=True), encoding="utf-8")


def _write_bgr(path: Path, rgb: np.ndarray) -> None:
    ok, encoded = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise OSError(f"cannot encode {path.name}")
    path.write_bytes(encoded.tobytes())


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
    from PIL import Image

    images = [Image.fromarray(to_uint8(frame).squeeze()) for frame in frames]
    images[0].save(path, save_all=True, append_images=images[1:], duration=80, loop=0)
