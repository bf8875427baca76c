"""Load a model file and its sidecar into a :class:`ModelAdapter` (docs/design.md, Models).

Three kinds of file are accepted. TorchScript archives and plain state dicts load
without running code from the file. A whole pickled ``nn.Module`` runs code while it
is unpickled, so it loads only with explicit consent (``trust_pickle``): the CLI asks
for ``--trust-model``, the GUI asks once per file showing its SHA-256.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import pickle
import pickletools
import warnings
import zipfile
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Literal

import torch
from torch import nn

from ..core.architectures import ARCHITECTURES, build_architecture
from ..core.models import (
    ModelAdapter,
    ModelOutputError,
    ModelSpec,
    Precision,
    channels_last_pays,
    resolve_device,
)
from ..errors import SegAttackError, first_line
from .files import recorded_path
from .hashing import sha256_file

log = logging.getLogger(__name__)

ModelKind = Literal["torchscript", "state_dict", "pickle"]

_STATE_DICT_KEYS = ("state_dict", "model_state_dict", "model")


@dataclass(frozen=True)
class LoadedModel:
    adapter: ModelAdapter
    path: Path
    sha256: str
    kind: ModelKind
    sidecar_path: Path | None
    sidecar_sha256: str | None = None
    """Of the sidecar's bytes as read: its normalisation and output type decide the numbers too."""

    def provenance(self) -> dict:
        """The model's part of a run's provenance (``summary.json``), so a run can be repeated."""
        return {"model_path": recorded_path(self.path), "model_sha256": self.sha256,
                "sidecar_path": recorded_path(self.sidecar_path), "sidecar_sha256": self.sidecar_sha256}


def find_sidecar(model_path: Path) -> Path | None:
    """``model.json`` (same stem), ``model.pt.json`` or ``MODEL.json`` beside the model."""
    for candidate in (
        model_path.with_suffix(".json"),
        model_path.with_name(model_path.name + ".json"),
        model_path.with_name("MODEL.json"),
    ):
        if candidate.is_file():
            return candidate
    return None


def read_sidecar(path: Path | None, overrides: dict | None = None) -> ModelSpec:
    """Parse and validate a sidecar; ``overrides`` (CLI flags) win over the file."""
    return _read_sidecar(path, overrides)[0]


def _read_sidecar(path: Path | None, overrides: dict | None = None) -> tuple[ModelSpec, str | None]:
    """The sidecar's spec and the SHA-256 of the bytes it was parsed from (None without a sidecar)."""
    values: dict = {}
    digest = None
    if path is not None:
        try:
            data = Path(path).read_bytes()
            digest = hashlib.sha256(data).hexdigest()
            values = json.loads(data.decode("utf-8"))
        except (OSError, UnicodeDecodeError) as error:
            raise SegAttackError(path, f"cannot read the sidecar ({error})") from None
        except json.JSONDecodeError as error:
            raise SegAttackError(path, f"the sidecar is not valid JSON (line {error.lineno}: {error.msg})") from None
        except RecursionError:
            raise SegAttackError(path, "the sidecar is not valid JSON (nested too deeply)") from None
        if not isinstance(values, dict):
            raise SegAttackError(path, "the sidecar must be a JSON object")
    values.update({key: value for key, value in (overrides or {}).items() if value is not None})
    return _spec_from_dict(values, path), digest


def spec_with_overrides(spec: ModelSpec, overrides: dict) -> ModelSpec:
    """``spec`` with sidecar fields replaced (``input_size`` as [height, width], ``input_policy``),
    checked as the sidecar's own values are."""
    values = {"input_size": list(spec.input_size) if spec.input_size else None, "input_policy": spec.input_policy}
    values.update(overrides)
    checked = _spec_from_dict(values, None)
    return replace(spec, input_size=checked.input_size, input_policy=checked.input_policy)


MAX_CLASSES = 256  # class ids travel as uint8 (predictions, class-id PNGs)
MAX_INPUT_PIXELS = 64_000_000  # as images.DEFAULT_MAX_PIXELS: the model input is probed once at this size


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _spec_from_dict(values: dict, source) -> ModelSpec:
    """Check every known sidecar field's type and range; unknown keys are ignored."""
    known = {f.name for f in fields(ModelSpec)} - {"classes_given"}
    spec_values = {key: value for key, value in values.items() if key in known}

    def fail(problem: str):
        raise SegAttackError(source, problem)

    classes = spec_values.get("classes", ["background", "foreground"])
    if not isinstance(classes, list) or len(classes) < 2 or not all(isinstance(c, str) for c in classes):
        fail('"classes" must be a list of at least two class names')
    if len(classes) > MAX_CLASSES:
        fail(f'"classes" names {len(classes)} classes; at most {MAX_CLASSES} are supported')
    spec_values["classes"] = tuple(classes)
    spec_values["classes_given"] = "classes" in values
    for key in ("mean", "std"):
        if spec_values.get(key) is not None:
            vector = spec_values[key]
            if not isinstance(vector, list) or not vector or not all(_is_number(v) for v in vector):
                fail(f'"{key}" must be a list of numbers')
            if key == "std" and any(v <= 0 for v in vector):
                fail('"std" values must be positive')
            spec_values[key] = tuple(float(v) for v in vector)
    if spec_values.get("in_channels") is not None and not _is_count(spec_values["in_channels"]):
        fail('"in_channels" must be a positive whole number')
    # One value per input channel; a single value applies to every channel when "in_channels" is given.
    lengths = {key: len(spec_values[key]) for key in ("mean", "std") if spec_values.get(key) is not None}
    if len(set(lengths.values())) > 1:
        fail(f'"mean" has {lengths["mean"]} values but "std" has {lengths["std"]}')
    channels = spec_values.get("in_channels")
    if channels is not None and any(length not in (1, channels) for length in lengths.values()):
        fail(f'"mean"/"std" give {max(lengths.values())} values but "in_channels" is {channels}')
    if spec_values.get("colors") is not None:
        colors = spec_values["colors"]
        if not isinstance(colors, list) or len(colors) != len(classes) or not all(
            isinstance(color, list) and len(color) == 3
            and all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 255 for c in color)
            for color in colors
        ):
            fail('"colors" must give one [r, g, b] (0-255) per class')
        spec_values["colors"] = tuple(tuple(color) for color in colors)
    if spec_values.get("input_size") is not None:
        size = spec_values["input_size"]
        if not (isinstance(size, list) and len(size) == 2 and all(_is_count(s) for s in size)):
            fail('"input_size" must be [height, width] in pixels')
        if size[0] * size[1] > MAX_INPUT_PIXELS:
            fail(f'"input_size" {size[0]}x{size[1]} is more than {MAX_INPUT_PIXELS:,} pixels')
        spec_values["input_size"] = tuple(size)
    if spec_values.get("size_multiple") is not None and not _is_count(spec_values["size_multiple"]):
        fail('"size_multiple" must be a positive whole number (e.g. 16 for a U-Net with four poolings)')
    if spec_values.get("input_policy", "pad") not in ("pad", "resize", "tile"):
        fail('"input_policy" must be "pad", "resize" or "tile"')
    if spec_values.get("input_units", "unit") not in ("unit", "raw"):
        fail('"input_units" must be "unit" ([0, 1] images) or "raw" (the file\'s own values, e.g. HU)')
    if spec_values.get("window") is not None:
        window = spec_values["window"]
        if not (isinstance(window, list) and len(window) == 2 and all(_is_number(v) for v in window)
                and window[0] < window[1]):
            fail('"window" must be [low, high] with low < high, in the image\'s units')
        if spec_values.get("input_units", "unit") != "raw":
            fail('"window" applies to raw values: set "input_units": "raw" too')
        spec_values["window"] = (float(window[0]), float(window[1]))
    if spec_values.get("output", "logits") not in ("logits", "sigmoid"):
        fail('"output" must be "logits" or "sigmoid"')
    architecture = spec_values.get("architecture")
    if architecture is not None and (not isinstance(architecture, str) or architecture not in ARCHITECTURES):
        fail(f'unknown "architecture" {architecture!r} (built in: {", ".join(ARCHITECTURES)})')
    if not isinstance(spec_values.get("architecture_args", {}), dict):
        fail('"architecture_args" must be a JSON object of keyword arguments')
    if not isinstance(spec_values.get("description", ""), str):
        fail('"description" must be text')
    return ModelSpec(**spec_values)


def _starts_with(path: Path, magic: bytes) -> bool:
    with Path(path).open("rb") as handle:
        return handle.read(len(magic)) == magic


def _names_globals(path: Path) -> bool:
    """Read the first pickle stream's opcodes (nothing is executed) and look for imports."""
    try:
        with Path(path).open("rb") as handle:
            return any(op.name in ("GLOBAL", "STACK_GLOBAL", "INST") for op, _, _ in pickletools.genops(handle))
    except (ValueError, EOFError, OSError):
        return False


def inspect_model_file(path: Path) -> ModelKind:
    """Tell the kind of a model file without running code from it."""
    path = Path(path)
    if not path.is_file():
        raise SegAttackError(path, "no such model file")
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
        if any(name.endswith("constants.pkl") or "/code/" in name for name in names):
            return "torchscript"
    try:
        with warnings.catch_warnings():  # the safe unpickler warns about newer pickle protocols
            warnings.simplefilter("ignore", UserWarning)
            torch.load(path, map_location="cpu", weights_only=True)
        return "state_dict"
    except pickle.UnpicklingError as error:
        # The safe unpickler refused it: a pickled model if the bytes form a pickle stream
        # that names globals (classes, functions), otherwise no PyTorch file at all.
        if _starts_with(path, b"\x93NUMPY"):  # its first byte reads as a pickle opcode
            raise SegAttackError(path, "is a NumPy array file (.npy), not a model") from None
        if "unsupported global" in str(error).lower() or _names_globals(path):
            return "pickle"
        raise SegAttackError(path, "is not a PyTorch model file (it cannot be unpickled)") from None
    except Exception:  # torch raises several types for foreign files; one wording for them all
        log.info("%s could not be read as a PyTorch file", path, exc_info=True)
        raise SegAttackError(path, "is not a PyTorch model file (it cannot be unpickled)") from None


def load_model(
    path,
    *,
    trust_pickle: bool = False,
    device: str = "auto",
    precision: Precision = "fp32",
    sidecar: Path | None = None,
    overrides: dict | None = None,
) -> LoadedModel:
    """Load ``path`` with its sidecar into an adapter on ``device``."""
    path = Path(path)
    kind = inspect_model_file(path)
    sidecar = sidecar or find_sidecar(path)
    spec, sidecar_sha256 = _read_sidecar(sidecar, overrides)
    target_device = resolve_device(device)
    if kind == "torchscript":
        try:
            with warnings.catch_warnings():  # torch >= 2.10 flags TorchScript as deprecated
                warnings.simplefilter("ignore", DeprecationWarning)
                model = torch.jit.load(str(path), map_location="cpu")
        except Exception as error:
            raise SegAttackError(path, f"is not a loadable TorchScript archive ({error})") from None
    elif kind == "pickle":
        if not trust_pickle:
            raise SegAttackError(
                path, "is a pickled model, which runs code from the file when loaded; "
                "pass --trust-model if you trust its source"
            )
        try:
            model = torch.load(path, map_location="cpu", weights_only=False)
        except Exception as error:  # e.g. the model's class cannot be imported here
            raise SegAttackError(path, f"cannot be unpickled ({type(error).__name__}: {first_line(error)})") from None
        if isinstance(model, dict):
            model = _from_state_dict(path, model, spec)
    else:
        model = _from_state_dict(path, torch.load(path, map_location="cpu", weights_only=True), spec)
    if not isinstance(model, nn.Module):
        raise SegAttackError(path, f"holds a {type(model).__name__}, not a model")
    multiple = getattr(model, "size_multiple", None)  # e.g. a U-Net's 2**poolings
    if spec.size_multiple is None and isinstance(multiple, int) and multiple > 1:
        spec = replace(spec, size_multiple=multiple)
    adapter = ModelAdapter(model, spec, device=target_device, precision=precision,
                           channels_last=channels_last_pays(target_device))
    if not spec.classes_given:
        adapter = _with_counted_classes(adapter)
    return LoadedModel(adapter, path, sha256_file(path), kind, sidecar, sidecar_sha256)


def _with_counted_classes(adapter: ModelAdapter) -> ModelAdapter:
    """No sidecar names the classes: as many as the model outputs, named generically.

    Counted on the sidecar's input size, else a 256 x 256 input; a model that cannot take
    that keeps two classes, and a misfit is reported when an image is probed.
    """
    spec = adapter.spec
    height, width = spec.input_size or (256, 256)
    try:
        count = adapter.count_output_classes(height, width)
    except Exception:  # the model's own code failed on this size; the image probe will name the misfit
        log.info("could not count the output classes on a %d x %d input", height, width, exc_info=True)
        return adapter
    if count == spec.num_classes:
        return adapter
    classes = ("background",) + tuple(f"class {index}" for index in range(1, count))
    return ModelAdapter(adapter.model, replace(spec, classes=classes), device=adapter.device,
                        precision=adapter.precision, channels_last=adapter.channels_last)


def _from_state_dict(path: Path, state, spec: ModelSpec) -> nn.Module:
    if isinstance(state, dict):
        for key in _STATE_DICT_KEYS:
            if isinstance(state.get(key), dict):
                state = state[key]
                break
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise SegAttackError(path, "is neither a model nor a state dict of tensors")
    if spec.architecture is None:
        raise SegAttackError(
            path, 'is a state dict; name its "architecture" in the sidecar '
            f"(built in: {', '.join(ARCHITECTURES)})"
        )
    arguments = dict(spec.architecture_args)
    arguments.setdefault("num_classes", spec.num_classes)
    try:
        model = build_architecture(spec.architecture, **arguments)
        model.load_state_dict(state)
    except (RuntimeError, TypeError, ValueError) as error:
        detail = first_line(error) or type(error).__name__
        raise SegAttackError(path, f"does not fit the {spec.architecture!r} architecture ({detail})") from None
    return model


def check_model_fits(loaded: LoadedModel, image_height: int, image_width: int) -> None:
    """Probe the model on the image size so a misfit names the model file, not a traceback."""
    try:
        loaded.adapter.output_grid(image_height, image_width)
    except ModelOutputError as error:
        raise SegAttackError(loaded.path, str(error)) from None
    except Exception as error:  # the model's own code failed on this size: a problem of the model file
        detail = first_line(error) or type(error).__name__
        raise SegAttackError(loaded.path, f"fails on a {image_height}x{image_width} image ({detail})") from None
