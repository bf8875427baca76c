"""``torch.export`` programs (``.pt2``), the format PyTorch now recommends over TorchScript.

``torch.export.load`` rebuilds the graph from its serialised operators and tensors; no
Python code from the file runs. A program exported with a fixed input size keeps that size
as guards: it becomes the model's ``input_size`` (and a fixed batch is fed image by image).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import torch
from torch import nn

from ..errors import SegAttackError, first_line


def is_exported_program(path: Path) -> bool:
    """A ``torch.export.save`` archive: a zip with an ``archive_format`` record and a ``models/`` folder."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    return any(name.endswith("archive_format") for name in names) and any("/models/" in name for name in names)


class ExportedProgramModel(nn.Module):
    """An exported program as a module the adapter can hold.

    Exported graphs refuse ``eval()`` (their mode was fixed at export), so switching modes
    here changes nothing inside; a program exported for a fixed batch runs on chunks of it.
    """

    def __init__(self, program_module: nn.Module, fixed_batch: int | None):
        super().__init__()
        self.program = program_module
        self.fixed_batch = fixed_batch

    def train(self, mode: bool = True):
        self.training = mode  # the graph's own mode was frozen when it was exported
        return self

    def forward(self, images: torch.Tensor):
        if self.fixed_batch is None or len(images) == self.fixed_batch or len(images) % self.fixed_batch:
            return self.program(images)
        return _concatenate([self.program(chunk) for chunk in images.split(self.fixed_batch)])


def _concatenate(outputs: list):
    first = outputs[0]
    if isinstance(first, torch.Tensor):
        return torch.cat(outputs)
    if isinstance(first, dict):
        return {key: _concatenate([output[key] for output in outputs]) for key in first}
    if isinstance(first, (tuple, list)):
        return type(first)(_concatenate(list(members)) for members in zip(*outputs))
    return first


def load_exported_program(path: Path) -> tuple[nn.Module, tuple[int, int] | None, int | None]:
    """The program as a module, its fixed input size (or None) and its fixed channel count (or None)."""
    try:
        program = torch.export.load(str(path))
        module = program.module()
    except Exception as error:
        raise SegAttackError(path, f"is not a loadable torch.export program ({type(error).__name__}: "
                                   f"{first_line(error)})") from None
    shape = _image_input_shape(program)
    fixed = [dimension if isinstance(dimension, int) else None for dimension in shape] if shape else []
    batch = fixed[0] if len(fixed) == 4 else None
    size = (fixed[2], fixed[3]) if len(fixed) == 4 and fixed[2] and fixed[3] else None
    channels = fixed[1] if len(fixed) == 4 else None
    return ExportedProgramModel(module, batch), size, channels


def _image_input_shape(program) -> list | None:
    """The shape of the program's first user input, with ints where it was fixed at export."""
    user_inputs = set(program.graph_signature.user_inputs)
    for node in program.graph.nodes:
        if node.op == "placeholder" and node.name in user_inputs:
            value = node.meta.get("val")
            if value is None or not hasattr(value, "shape"):
                return None
            return [int(d) if isinstance(d, int) or str(d).isdigit() else d for d in value.shape]
    return None
