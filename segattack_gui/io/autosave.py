"""Crash-safe store for the painted target and perturbation region.

Painting a target takes minutes; a crash must not lose it. The main window saves
shortly after every edit (``gui.mask_autosaver``) and offers what a crashed window
left behind at the next start. Each save writes a temporary file in the same folder
and renames it over the old one (``os.replace`` is atomic), so a crash mid-write
leaves the previous autosave intact instead of a truncated file. Each window keeps
its own slot (``slot_name``), so two windows open at once never overwrite each
other. The record names the image and model files, so a restore can reopen them.
No Qt here.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["AutosaveRecord", "MaskAutosave", "saved_slots", "slot_name"]

FILE_NAME = "mask_autosave.npz"
SLOT_PATTERN = "mask_autosave*.npz"


def slot_name(owner: str) -> str:
    """The file name of one window's slot (``owner``: e.g. the process id)."""
    return f"mask_autosave-{owner}.npz"


def saved_slots(folder: str | os.PathLike) -> list[Path]:
    """Every slot in ``folder``, newest first."""
    paths = [path for path in Path(folder).glob(SLOT_PATTERN) if path.is_file()]
    return sorted(paths, key=lambda path: path.stat().st_mtime, reverse=True)


@dataclass(frozen=True)
class AutosaveRecord:
    """What was painted, on which image, and when."""

    target: np.ndarray
    """uint8 H x W class ids on the image grid."""
    region: np.ndarray
    """bool H x W, True where the attack may change pixels."""
    image_sha256: str
    """Identifies the image the masks were painted on; restore only onto the same image."""
    saved_at: float
    """Seconds since the epoch."""
    image_path: str | None = None
    """Where that image was opened from, to reopen it on restore."""
    model_path: str | None = None
    """The model open at the time (its class names give the target's ids their meaning)."""


def _fingerprint(target: np.ndarray, region: np.ndarray, image_sha256: str) -> str:
    digest = hashlib.sha256(repr(target.shape).encode())
    digest.update(target.tobytes())
    digest.update(region.tobytes())
    digest.update(image_sha256.encode())
    return digest.hexdigest()


class MaskAutosave:
    """One autosave slot (``name``, by default ``mask_autosave.npz``) in ``folder``."""

    def __init__(self, folder: str | os.PathLike, name: str = FILE_NAME):
        self.folder = Path(folder)
        self.path = self.folder / name
        self._last: str | None = None

    def save(self, target: np.ndarray, region: np.ndarray, image_sha256: str,
             image_path: str | None = None, model_path: str | None = None) -> bool:
        """Write the masks atomically; returns False (and skips the disk) when nothing changed."""
        target = np.ascontiguousarray(target, dtype=np.uint8)
        region = np.ascontiguousarray(region, dtype=bool)
        if target.ndim != 2 or target.shape != region.shape:
            raise ValueError(f"target {target.shape} and region {region.shape} must be the same 2-D shape")
        fingerprint = _fingerprint(target, region, f"{image_sha256}|{image_path}|{model_path}")
        if fingerprint == self._last and self.path.exists():
            return False
        self.folder.mkdir(parents=True, exist_ok=True)
        handle, temp_name = tempfile.mkstemp(prefix=".mask_autosave-", suffix=".tmp", dir=self.folder)
        try:
            with os.fdopen(handle, "wb") as stream:
                np.savez_compressed(
                    stream,
                    target=target,
                    region=region,
                    image_sha256=np.array(image_sha256),
                    saved_at=np.array(time.time()),
                    image_path=np.array(image_path or ""),
                    model_path=np.array(model_path or ""),
                )
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(temp_name, self.path)
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise
        self._last = fingerprint
        return True

    def load(self) -> AutosaveRecord | None:
        """The last saved record, or None when there is none or it cannot be read."""
        try:
            with np.load(self.path, allow_pickle=False) as data:
                target = data["target"]
                region = data["region"]
                record = AutosaveRecord(
                    target=target.astype(np.uint8, copy=False),
                    region=region.astype(bool, copy=False),
                    image_sha256=str(data["image_sha256"]),
                    saved_at=float(data["saved_at"]),
                    image_path=_optional_text(data, "image_path"),
                    model_path=_optional_text(data, "model_path"),
                )
        except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile):
            return None
        if record.target.ndim != 2 or record.target.shape != record.region.shape:
            return None
        return record

    def clear(self) -> None:
        """Forget the autosave (after a clean exit or when the user declines to restore)."""
        self.path.unlink(missing_ok=True)
        self._last = None


def _optional_text(data, key: str) -> str | None:
    """A text field that older records lack; empty means none."""
    if key not in data.files:
        return None
    return str(data[key]) or None
