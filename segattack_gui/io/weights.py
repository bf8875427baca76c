"""Read weights without running code: ``torch.load(weights_only=True)`` or safetensors.

Both readers accept tensors and plain containers only, so a state dict, an nnU-Net
checkpoint or a MONAI bundle's ``model.pt`` is read without executing anything from it.
"""

from __future__ import annotations

import json
import struct
import warnings
from pathlib import Path

import torch

from ..errors import SegAttackError, first_line
from .importable import import_library

STATE_DICT_KEYS = ("state_dict", "model_state_dict", "model", "network_weights")
"""Where training scripts (Lightning, MONAI, nnU-Net, ...) nest the weights in a checkpoint."""


def is_safetensors(path: Path) -> bool:
    """A safetensors file: 8 bytes of header length, then a JSON header."""
    try:
        with Path(path).open("rb") as handle:
            head = handle.read(9)
    except OSError:
        return False
    if len(head) < 9 or head[8:9] != b"{":
        return False
    (length,) = struct.unpack("<Q", head[:8])
    return 2 <= length <= Path(path).stat().st_size - 8


def load_weights(path: Path):
    """The file's contents, read safely (a dict of tensors, or a checkpoint of plain containers)."""
    path = Path(path)
    if is_safetensors(path):
        safetensors_torch = import_library("safetensors.torch", path, "reading a .safetensors file")
        try:
            return safetensors_torch.load_file(str(path), device="cpu")
        except Exception as error:
            raise SegAttackError(path, f"is not a readable safetensors file ({first_line(error)})") from None
    with warnings.catch_warnings(), torch.serialization.safe_globals(numpy_scalar_globals()):
        warnings.simplefilter("ignore", UserWarning)  # the safe unpickler warns about newer pickle protocols
        return torch.load(path, map_location="cpu", weights_only=True)


def numpy_scalar_globals() -> list:
    """What a checkpoint needs to hold NumPy scalars (nnU-Net logs its Dice as ``np.float64``): the
    scalar constructor and the dtypes. They rebuild numbers from bytes and run no other code."""
    import numpy as np

    try:
        from numpy._core.multiarray import scalar
    except ImportError:  # NumPy 1
        from numpy.core.multiarray import scalar
    kinds = (np.float16, np.float32, np.float64, np.int8, np.int16, np.int32, np.int64, np.uint8, np.bool_)
    return [scalar, (scalar, "numpy.core.multiarray.scalar"), np.dtype, *{type(np.dtype(kind)) for kind in kinds}]


def safetensors_metadata(path: Path) -> dict:
    """The free-text ``__metadata__`` of a safetensors header (empty when absent)."""
    with Path(path).open("rb") as handle:
        (length,) = struct.unpack("<Q", handle.read(8))
        header = json.loads(handle.read(length))
    return header.get("__metadata__") or {}


def state_dict_of(path: Path, contents) -> dict[str, torch.Tensor]:
    """The tensors of a state dict, found at the top or under a checkpoint's usual key."""
    state = contents
    if isinstance(state, dict):
        for key in STATE_DICT_KEYS:
            if isinstance(state.get(key), dict):
                state = state[key]
                break
    if not isinstance(state, dict) or not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise SegAttackError(path, "is neither a model nor a state dict of tensors")
    for prefix in ("module.", "_orig_mod."):  # DataParallel and torch.compile wrap the names
        if all(key.startswith(prefix) for key in state):
            state = {key[len(prefix):]: value for key, value in state.items()}
    return state
