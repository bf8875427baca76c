"""Load a model file or folder and its sidecar into a :class:`ModelAdapter` (docs/model-files.md).

torch.export programs, TorchScript archives, state dicts of built-in architectures,
safetensors, nnU-Net folders and checkpoints, MONAI bundles and save_pretrained folders load
without running code from outside PyTorch and the model's own library. A whole pickled
``nn.Module`` runs code while it is unpickled, and an architecture named by import path, a
bundle's expressions or foreign plans import code: those load only with explicit consent
(``trust_pickle``; :func:`consent_reason` says why): the CLI asks for ``--trust-model``, the
window asks once per file showing its SHA-256.
"""

from __future__ import annotations

import logging
import pickle
import pickletools
import warnings
import zipfile
from dataclasses import dataclass, replace
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
from .importable import resolve_import_name
from .model_folders import (
    bundle_consent_reason,
    folder_kind,
    is_nnunet_checkpoint,
    load_bundle,
    load_nnunet,
    load_pretrained_folder,
    nnunet_consent_reason,
)
from .sidecars import _read_sidecar, _spec_from_dict, find_sidecar, read_sidecar  # noqa: F401 (re-exported)
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
