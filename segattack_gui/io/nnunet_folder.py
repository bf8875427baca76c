"""nnU-Net v2 trained-model folders and ``checkpoint_*.pth`` files, rebuilt with nnU-Net's own code.

A trained-model folder holds ``plans.json``, ``dataset.json`` and ``fold_N/checkpoint_final.pth``;
a checkpoint alone carries the same plans and dataset description in its ``init_args``. The
checkpoints are read with ``weights_only=True`` (no code runs); the network is built by nnU-Net's
``get_network_from_plans`` with deep supervision off; the plan's normalisation, patch tiling and
fold ensembling run inside the adapter (:mod:`..core.nnunet_inference`).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from torch import nn

from ..core.models import ModelSpec
from ..core.nnunet_inference import (
    NORMALISATIONS,
    ChannelNormalisation,
    NnUNetPrediction,
)
from ..errors import SegAttackError, first_line
from .importable import import_library
from .weights import load_weights

CHECKPOINT_NAMES = ("checkpoint_final.pth", "checkpoint_best.pth", "checkpoint_latest.pth")
PURPOSE = "an nnU-Net model"


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise SegAttackError(path, f"cannot be read as JSON ({first_line(error)})") from None


def fold_checkpoints(folder: Path, fold: int | None) -> list[tuple[str, Path]]:
    """``(fold name, checkpoint)`` of every fold present (the first of checkpoint_final/best/latest), or ``fold``."""
    folds = sorted((p for p in folder.glob("fold_*") if p.is_dir()), key=lambda p: p.name)
    if fold is not None:
        folds = [p for p in folds if p.name == f"fold_{fold}"]
        if not folds:
            present = ", ".join(p.name.removeprefix("fold_") for p in folder.glob("fold_*")) or "none"
            raise SegAttackError("--fold", f"{folder} has no fold_{fold} (folds present: {present})")
    found = []
    for fold_folder in folds:
        checkpoint = next((fold_folder / n for n in CHECKPOINT_NAMES if (fold_folder / n).is_file()), None)
        if checkpoint is not None:
            found.append((fold_folder.name, checkpoint))
    if not found:
        raise SegAttackError(folder, f"is an nnU-Net trained-model folder without a fold_N/{CHECKPOINT_NAMES[0]}")
    return found


def _sources(path: Path, fold: int | None) -> tuple[dict, dict, list[dict], list[str]]:
    """The plans, the dataset description, every checkpoint used, and their fold names."""
    if path.is_dir():
        plans, dataset = _read_json(path / "plans.json"), _read_json(path / "dataset.json")
        chosen = fold_checkpoints(path, fold)
        return plans, dataset, [_checkpoint(p) for _, p in chosen], [name for name, _ in chosen]
    checkpoint = _checkpoint(path)
    arguments = checkpoint["init_args"]
    if not isinstance(arguments.get("plans"), dict) or not isinstance(arguments.get("dataset_json"), dict):
        raise SegAttackError(path, "is an nnU-Net checkpoint without its plans and dataset.json; open its "
                                   "trained-model folder instead")
    return arguments["plans"], arguments["dataset_json"], [checkpoint], [f"fold_{arguments.get('fold', '?')}"]


def _checkpoint(path: Path) -> dict:
    try:
        checkpoint = load_weights(path)
    except Exception as error:
        raise SegAttackError(path, f"cannot be read as an nnU-Net checkpoint without running code "
                                   f"({type(error).__name__}: {first_line(error)})") from None
    if not (isinstance(checkpoint, dict) and isinstance(checkpoint.get("network_weights"), dict)):
        raise SegAttackError(path, "is not an nnU-Net checkpoint (no network_weights)")
    return checkpoint


def _configuration_name(checkpoint: dict, plans: dict, source: Path) -> str:
    name = (checkpoint.get("init_args") or {}).get("configuration")
    if name is None:
        names = [n for n in plans.get("configurations", {}) if n.startswith("2d")]
        if len(names) != 1:
            raise SegAttackError(source, "does not say which nnU-Net configuration it was trained with")
        name = names[0]
    return name


def class_names(dataset: dict, source: Path) -> tuple[str, ...]:
    """The label names of ``dataset.json``, in the order of their values (0 = background)."""
    labels = dataset.get("labels")
    if not isinstance(labels, dict) or not labels:
        raise SegAttackError(source, "dataset.json has no labels")
    labels = {name: value for name, value in labels.items() if name != "ignore"}  # not predicted: no output channel
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in labels.values()):
        raise SegAttackError(source, "is a region-based nnU-Net model (labels with lists of values); SegAttack "
                                     "attacks models with one class per label")
    by_value = {value: name for name, value in labels.items()}
    if sorted(by_value) != list(range(len(by_value))):
        raise SegAttackError(source, f"dataset.json labels are not numbered 0..{len(by_value) - 1}")
    return tuple(by_value[value] for value in range(len(by_value)))


def _architecture(plans: dict, configuration: str, source: Path):
    plans_handler = import_library("nnunetv2.utilities.plans_handling.plans_handler", source, PURPOSE)
    try:
        manager = plans_handler.PlansManager(plans)
        return manager, manager.get_configuration(configuration)
    except Exception as error:
        raise SegAttackError(source, f"the nnU-Net plans cannot be read ({type(error).__name__}: "
                                     f"{first_line(error)})") from None


def consent_reason(path: Path) -> str | None:
    """Plans naming a network outside nnU-Net's own library (or layers outside torch) run foreign code."""
    path = Path(path)
    plans = _read_json(path / "plans.json") if path.is_dir() else _sources(path, None)[0]
    for configuration in (plans.get("configurations") or {}).values():
        architecture = configuration.get("architecture") or {}
        class_name = architecture.get("network_class_name") or ""
        if class_name and not class_name.startswith("dynamic_network_architectures."):
            return f"names the network {class_name!r} in its plans, which imports and runs that module's code"
        arguments = architecture.get("arch_kwargs") or {}
        for key in architecture.get("_kw_requires_import") or []:
            name = arguments.get(key)
            if name and not str(name).startswith("torch."):
                return f"names {name!r} in its plans, which imports and runs that module's code"
    return None


def load_nnunet(path: Path, spec: ModelSpec, fold: int | None) -> tuple[nn.Module, ModelSpec]:
    """The folds' networks inside nnU-Net's prediction, and the spec with dataset.json's classes."""
    path = Path(path)
    plans, dataset, checkpoints, _ = _sources(path, fold)
    configuration_name = _configuration_name(checkpoints[0], plans, path)
    manager, configuration = _architecture(plans, configuration_name, path)
    patch_size = tuple(configuration.patch_size)
    if len(patch_size) != 2:
        raise SegAttackError(path, f"its nnU-Net configuration {configuration_name!r} is 3-D; SegAttack attacks "
                                   "2-D images: use a 2d configuration")
    classes = class_names(dataset, path)
    channel_names = dataset.get("channel_names") or dataset.get("modality") or {}
    channels = len(channel_names)
    if channels < 1:
        raise SegAttackError(path, "dataset.json names no input channels (channel_names)")
    networks = [_network(configuration, channels, len(classes), c["network_weights"], path) for c in checkpoints]
    normalisations = _normalisations(configuration, manager, channels, path)
    transpose = list(manager.transpose_forward)
    if transpose[0] != 0:
        raise SegAttackError(path, f"its plans transpose the slice axis ({transpose}); only 2-D plans are supported")
    value_range = spec.value_range or (0.0, 255.0)
    module = NnUNetPrediction(networks, patch_size, normalisations, value_range=value_range,
                              transpose=transpose[1:] == [2, 1])
    if not spec.classes_given:
        spec = replace(spec, classes=classes, classes_given=True)
    if spec.in_channels is None:
        spec = replace(spec, in_channels=channels)
    return module, spec


def _network(configuration, channels: int, classes: int, weights: dict, source: Path) -> nn.Module:
    get_network = import_library("nnunetv2.utilities.get_network_from_plans", source, PURPOSE)
    try:
        network = get_network.get_network_from_plans(
            configuration.network_arch_class_name, configuration.network_arch_init_kwargs,
            configuration.network_arch_init_kwargs_req_import, channels, classes, allow_init=False,
            deep_supervision=False)
        network.load_state_dict(weights)
    except Exception as error:
        raise SegAttackError(source, f"the nnU-Net network cannot be rebuilt from its plans "
                                     f"({type(error).__name__}: {first_line(error)})") from None
    return network


def _normalisations(configuration, manager, channels: int, source: Path) -> list[ChannelNormalisation]:
    schemes = list(configuration.normalization_schemes)
    masks = list(configuration.use_mask_for_norm)
    properties = manager.foreground_intensity_properties_per_channel or {}
    result = []
    for channel in range(channels):
        scheme = schemes[channel]
        if scheme not in NORMALISATIONS:
            raise SegAttackError(source, f"its plans normalise channel {channel} with {scheme!r}, which SegAttack "
                                         f"does not reproduce (known: {', '.join(NORMALISATIONS)})")
        statistics = properties.get(str(channel), {})
        if scheme == "CTNormalization":
            result.append(ChannelNormalisation(scheme, False, float(statistics["percentile_00_5"]),
                                               float(statistics["percentile_99_5"]), float(statistics["mean"]),
                                               float(statistics["std"])))
        else:
            result.append(ChannelNormalisation(scheme, bool(masks[channel])))
    return result
