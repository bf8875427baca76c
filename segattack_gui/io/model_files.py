"""Load a model file and its sidecar into a :class:`ModelAdapter` (SPEC 2).

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
from .exported import is_exported_program, load_exported_program
from .files import recorded_path
from .hashing import model_sha256
from .importable import is_import_name, resolve_import_name
from .model_folders import (
    bundle_consent_reason,
    folder_kind,
    is_nnunet_checkpoint,
    load_bundle,
    load_nnunet,
    load_pretrained_folder,
    nnunet_consent_reason,
)
from .weights import is_safetensors, load_weights, state_dict_of

log = logging.getLogger(__name__)

ModelKind = Literal["torchscript", "state_dict", "pickle", "export", "nnunet", "monai_bundle", "pretrained"]


@dataclass(frozen=True)
class LoadedModel:
    adapter: ModelAdapter
    path: Path
    sha256: str
    kind: ModelKind
    sidecar_path: Path | None
    sidecar_sha256: str | None = None
    """Of the sidecar's bytes as read: its normalisation and output type decide the numbers too."""
    fold: int | None = None
    """The one nnU-Net fold loaded (None: every fold present, or not an nnU-Net model)."""

    def provenance(self) -> dict:
        """The model's part of a run's provenance (``summary.json``), so a run can be repeated."""
        return {"model_path": recorded_path(self.path), "model_sha256": self.sha256,
                "sidecar_path": recorded_path(self.sidecar_path), "sidecar_sha256": self.sidecar_sha256,
                "model_kind": self.kind, "model_fold": self.fold, "output_rule": self.adapter.last_output_rule}


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
    if spec_values.get("value_range") is not None:
        value_range = spec_values["value_range"]
        if not (isinstance(value_range, list) and len(value_range) == 2 and all(_is_number(v) for v in value_range)
                and value_range[0] < value_range[1]):
            fail('"value_range" must be [low, high], the image values that 0 and 1 stand for')
        spec_values["value_range"] = (float(value_range[0]), float(value_range[1]))
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
    if spec_values.get("output", "logits") not in ("logits", "sigmoid", "probabilities"):
        fail('"output" must be "logits", "sigmoid" or "probabilities"')
    if spec_values.get("output_key") is not None and not isinstance(spec_values["output_key"], str):
        fail('"output_key" must be text: the key of the model\'s output dict that holds the logits')
    if spec_values.get("output_index") is not None:
        index = spec_values["output_index"]
        index = [index] if isinstance(index, int) and not isinstance(index, bool) else index
        if not isinstance(index, list) or not index or not all(
                isinstance(i, int) and not isinstance(i, bool) for i in index):
            fail('"output_index" must be a whole number or a list of them (indices into the output\'s tuples)')
        spec_values["output_index"] = tuple(index)
    if spec_values.get("output_alignment", "auto") not in ("auto", "crop", "upsample"):
        fail('"output_alignment" must be "auto", "crop" or "upsample"')
    architecture = spec_values.get("architecture")
    if architecture is not None and (not isinstance(architecture, str) or not (
            architecture in ARCHITECTURES or is_import_name(architecture))):
        fail(f'unknown "architecture" {architecture!r} (built in: {", ".join(ARCHITECTURES)}; or an importable '
             '"package.module:Callable")')
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
    """Tell the kind of a model file or folder without running code from it."""
    path = Path(path)
    if path.is_dir():
        return folder_kind(path)
    if not path.is_file():
        raise SegAttackError(path, "no such model file")
    if is_safetensors(path):
        return "state_dict"
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
        if any(name.endswith("constants.pkl") or "/code/" in name for name in names):
            return "torchscript"
        if is_exported_program(path):
            return "export"
    try:
        contents = load_weights(path)
    except pickle.UnpicklingError as error:
        # The safe unpickler refused it: a pickled model if the bytes form a pickle stream
        # that names globals (classes, functions), otherwise no PyTorch file at all.
        if _starts_with(path, b"\x93NUMPY"):  # its first byte reads as a pickle opcode
            raise SegAttackError(path, "is a NumPy array file (.npy), not a model") from None
        if "unsupported global" in str(error).lower() or _names_globals(path):
            return "pickle"
        raise SegAttackError(path, "is not a PyTorch model file (it cannot be unpickled)") from None
    except SegAttackError:
        raise
    except Exception:  # torch raises several types for foreign files; one wording for them all
        log.info("%s could not be read as a PyTorch file", path, exc_info=True)
        raise SegAttackError(path, "is not a PyTorch model file (it cannot be unpickled)") from None
    return "nnunet" if is_nnunet_checkpoint(contents) else "state_dict"


def consent_reason(path: Path, kind: ModelKind | None = None, sidecar: Path | None = None) -> str | None:
    """Why loading ``path`` would run code that is not PyTorch's own (None: it would not).

    A pickle runs its code when unpickled; building an architecture by import name, a MONAI
    bundle whose config holds expressions or foreign classes, or an nnU-Net plan naming a
    network outside nnU-Net's own library import and run code the user should trust.
    """
    path = Path(path)
    kind = kind or inspect_model_file(path)
    if kind == "pickle":
        return "is a pickled model, which runs code from the file when loaded"
    if kind == "state_dict":
        spec = read_sidecar(sidecar or find_sidecar(path))
        if spec.architecture and spec.architecture not in ARCHITECTURES:
            return f'names the architecture "{spec.architecture}", which imports and runs that module\'s code'
    if kind == "monai_bundle":
        return bundle_consent_reason(path)
    if kind == "nnunet":
        return nnunet_consent_reason(path)
    return None


def load_model(
    path,
    *,
    trust_pickle: bool = False,
    device: str = "auto",
    precision: Precision = "fp32",
    sidecar: Path | None = None,
    overrides: dict | None = None,
    fold: int | None = None,
) -> LoadedModel:
    """Load ``path`` (a file or a library's model folder) with its sidecar into an adapter on ``device``.

    ``trust_pickle``: consent to run code (a pickle, an architecture by import name, ...);
    ``fold``: one fold of an nnU-Net trained-model folder (default: every fold present, ensembled).
    """
    path = Path(path)
    kind = inspect_model_file(path)
    sidecar = sidecar or find_sidecar(path)
    spec, sidecar_sha256 = _read_sidecar(sidecar, overrides)
    target_device = resolve_device(device)
    if fold is not None and kind != "nnunet":
        raise SegAttackError("--fold", f"is for nnU-Net trained-model folders; {path.name} is a {kind} model")
    reason = consent_reason(path, kind, sidecar)
    if reason and not trust_pickle:
        raise SegAttackError(path, f"{reason}; pass --trust-model if you trust its source")
    model, spec = _build_model(path, kind, spec, fold)
    if not isinstance(model, nn.Module):
        raise SegAttackError(path, f"holds a {type(model).__name__}, not a model")
    multiple = getattr(model, "size_multiple", None)  # e.g. a U-Net's 2**poolings
    if spec.size_multiple is None and isinstance(multiple, int) and multiple > 1:
        spec = replace(spec, size_multiple=multiple)
    adapter = ModelAdapter(model, spec, device=target_device, precision=precision,
                           channels_last=channels_last_pays(target_device))
    if not spec.classes_given:
        adapter = _with_counted_classes(adapter)
    return LoadedModel(adapter, path, model_sha256(path), kind, sidecar, sidecar_sha256, fold)


def _build_model(path: Path, kind: ModelKind, spec: ModelSpec, fold: int | None) -> tuple[nn.Module, ModelSpec]:
    """The network a file or folder of ``kind`` holds, and the spec with what the file itself says."""
    if kind == "torchscript":
        try:
            with warnings.catch_warnings():  # torch >= 2.10 flags TorchScript as deprecated
                warnings.simplefilter("ignore", DeprecationWarning)
                return torch.jit.load(str(path), map_location="cpu"), spec
        except Exception as error:
            raise SegAttackError(path, f"is not a loadable TorchScript archive ({error})") from None
    if kind == "export":
        model, size, channels = load_exported_program(path)
        if spec.input_size is None and size is not None:
            spec = replace(spec, input_size=size)
        if spec.in_channels is None and channels:
            spec = replace(spec, in_channels=channels)
        return model, spec
    if kind == "pickle":
        try:
            model = torch.load(path, map_location="cpu", weights_only=False)
        except Exception as error:  # e.g. the model's class cannot be imported here
            raise SegAttackError(path, f"cannot be unpickled ({type(error).__name__}: {first_line(error)})") from None
        return (_from_state_dict(path, model, spec) if isinstance(model, dict) else model), spec
    if kind == "nnunet":
        return load_nnunet(path, spec, fold)
    if kind == "monai_bundle":
        return load_bundle(path, spec)
    if kind == "pretrained":
        return load_pretrained_folder(path, spec)
    return _from_state_dict(path, load_weights(path), spec), spec


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


def _from_state_dict(path: Path, contents, spec: ModelSpec) -> nn.Module:
    state = state_dict_of(path, contents)
    if spec.architecture is None:
        raise SegAttackError(
            path, "is a state dict (weights without the network); name its network in a sidecar beside it: "
            f'"architecture": one built in ({", ".join(ARCHITECTURES)}) or an importable "package.module:Callable" '
            '(e.g. "monai.networks.nets:UNet", with --trust-model) plus its "architecture_args"; or save the whole '
            "model with torch.export (.pt2) or TorchScript, which load as they are"
        )
    arguments = dict(spec.architecture_args)
    try:
        if spec.architecture in ARCHITECTURES:
            arguments.setdefault("num_classes", spec.num_classes)
            model = build_architecture(spec.architecture, **arguments)
        else:
            model = resolve_import_name(spec.architecture, path)(**arguments)
        if not isinstance(model, nn.Module):
            raise SegAttackError(path, f'the "architecture" {spec.architecture!r} returned a '
                                       f"{type(model).__name__}, not a network")
        model.load_state_dict(state)
    except (RuntimeError, TypeError, ValueError, KeyError) as error:
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
        spec = loaded.adapter.spec
        hint = ("" if spec.input_size else '; if it takes one input size only, give it as "input_size" [height, '
                'width] in the sidecar, with "input_policy" "pad", "resize" or "tile" for other image sizes')
        raise SegAttackError(loaded.path, f"fails on a {image_height}x{image_width} image ({detail}){hint}") from None
