"""SHA-256 fingerprints of inputs, so a summary.json names exactly which model, image and target ran."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from segattack_gui.errors import SegAttackError

_CHUNK_BYTES = 1 << 20


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB chunks so large model files stay cheap."""
    path = Path(path)
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(_CHUNK_BYTES), b""):
                digest.update(chunk)
    except FileNotFoundError as error:
        raise SegAttackError(path, "file not found") from error
    except OSError as error:
        raise SegAttackError(path, f"cannot read the file ({error.strerror or error})") from error
    return digest.hexdigest()


def sha256_array(array: np.ndarray) -> str:
    """Hex SHA-256 of an array's dtype, shape and C-order bytes (for painted masks with no file).

    dtype and shape are hashed too, so the same bytes viewed as another type or shape differ.
    """
    array = np.ascontiguousarray(array)
    if array.dtype.hasobject:
        raise ValueError("cannot hash an array of Python objects")
    digest = hashlib.sha256()
    digest.update(f"dtype={array.dtype.str};shape={tuple(array.shape)};".encode("ascii"))
    digest.update(array.tobytes(order="C"))
    return digest.hexdigest()


def model_sha256(path: str | os.PathLike) -> str:
    """A model file's SHA-256; for a model folder (nnU-Net, MONAI bundle, save_pretrained), the SHA-256
    of every file's relative path and SHA-256, in path order, so any changed file changes it."""
    path = Path(path)
    if not path.is_dir():
        return sha256_file(path)
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")):
        digest.update(f"{file.relative_to(path).as_posix()}\0{sha256_file(file)}\n".encode())
    return digest.hexdigest()
