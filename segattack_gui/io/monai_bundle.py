"""MONAI bundles: ``configs/inference.json`` (or .yaml) with ``models/model.pt`` or ``models/model.ts``.

The network is built from the config's ``network_def`` by MONAI's own ``ConfigParser`` and gets
the weights of ``models/model.pt`` read with ``weights_only=True``; a bundle with only
``models/model.ts`` loads that TorchScript archive. Class names come from
``configs/metadata.json`` (``network_data_format.outputs.pred.channel_def``); a sliding-window
inferer runs as the bundle configures it, through MONAI's own code.

A config's ``$`` entries are Python expressions that MONAI evaluates, and a ``_target_`` outside
MONAI imports foreign code: a ``network_def`` (or sliding-window ``inferer``) that needs either
loads only with consent.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import torch
from torch import nn

from ..core.models import ModelSpec
from ..errors import SegAttackError, first_line
from .importable import import_library
from .weights import load_weights, state_dict_of

PURPOSE = "a MONAI bundle"
CONFIG_NAMES = ("inference.json", "inference.yaml", "inference.yml")


def config_path(folder: Path) -> Path:
    return next(folder / "configs" / name for name in CONFIG_NAMES if (folder / "configs" / name).is_file())


def _raw_config(folder: Path) -> dict:
    path = config_path(folder)
    try:
        if path.suffix == ".json":
            return json.loads(path.read_text(encoding="utf-8"))
        import yaml  # MONAI depends on PyYAML only for YAML bundles

        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except ImportError:
        raise SegAttackError(path, "is a YAML bundle config; install PyYAML to read it") from None
    except Exception as error:
        raise SegAttackError(path, f"cannot be read ({type(error).__name__}: {first_line(error)})") from None


def _network_parts(config: dict, key: str = "network_def", seen: set | None = None) -> list:
    """``network_def`` and every config entry it refers to (``@id``), as raw values."""
    seen = set() if seen is None else seen
    if key in seen or key not in config:
        return []
    seen.add(key)
    parts = [config[key]]
    for text in _strings(config[key]):
        for word in text.replace("$", " ").replace("(", " ").replace(")", " ").replace(",", " ").split():
            if word.startswith("@"):
                parts += _network_parts(config, word[1:].split("#")[0].split(".")[0], seen)
    return parts


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for member in value.values():
            yield from _strings(member)
    elif isinstance(value, list):
        for member in value:
            yield from _strings(member)


def _targets(value):
    if isinstance(value, dict):
        if isinstance(value.get("_target_"), str):
            yield value["_target_"]
        for member in value.values():
            yield from _targets(member)
    elif isinstance(value, list):
        for member in value:
            yield from _targets(member)


def consent_reason(folder: Path) -> str | None:
    """Why building this bundle's network would run code beyond MONAI's own classes (None: it would not)."""
    config = _raw_config(Path(folder))
    if "network_def" not in config:
        return None  # a TorchScript-only bundle
    parts = _network_parts(config) + (_network_parts(config, "inferer") if _sliding_window(config) else [])
    expressions = [text for part in parts for text in _strings(part) if text.startswith("$")]
    if expressions:
        return f"has a network_def that evaluates Python expressions ({expressions[0][:60]!r})"
    foreign = [t for part in parts for t in _targets(part) if "." in t and not t.startswith("monai.")]
    if foreign:
        return f"builds its network from {foreign[0]!r}, which imports and runs that module's code"
    return None


def _metadata(folder: Path) -> dict:
    path = folder / "configs" / "metadata.json"
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise SegAttackError(path, f"cannot be read ({first_line(error)})") from None


def bundle_classes(metadata: dict) -> tuple[str, ...] | None:
    """Class names from ``channel_def`` of the bundle's prediction output, by channel number."""
    outputs = (metadata.get("network_data_format") or {}).get("outputs") or {}
    for output in outputs.values():
        channels = (output or {}).get("channel_def")
        if isinstance(channels, dict) and len(channels) >= 2:
            try:
                return tuple(str(channels[key]) for key in sorted(channels, key=int))
            except ValueError:
                return None
    return None


def _spatial_dims(metadata: dict) -> int | None:
    inputs = (metadata.get("network_data_format") or {}).get("inputs") or {}
    for value in inputs.values():
        shape = (value or {}).get("spatial_shape")
        if isinstance(shape, list):
            return len(shape)
    return None


def _network(folder: Path, config: dict) -> nn.Module:
    bundle = import_library("monai.bundle", folder, PURPOSE)
    parser = bundle.ConfigParser()
    try:
        parser.read_config(str(config_path(folder)))
        network = parser.get_parsed_content("network_def", instantiate=True)
    except Exception as error:
        raise SegAttackError(config_path(folder), f"its network_def cannot be built by MONAI "
                                                  f"({type(error).__name__}: {first_line(error)})") from None
    if not isinstance(network, nn.Module):
        raise SegAttackError(config_path(folder), f"its network_def builds a {type(network).__name__}, not a network")
    return network


def _sliding_window(config: dict) -> bool:
    inferer = config.get("inferer")
    return isinstance(inferer, dict) and "SlidingWindow" in str(inferer.get("_target_", ""))


class BundleInference(nn.Module):
    """The network run through the bundle's own inferer (MONAI's sliding window: overlapping
    windows, padded where the image is smaller, averaged as MONAI averages them), which is torch
    throughout, so the attack's gradient passes through it."""

    def __init__(self, network: nn.Module, inferer):
        super().__init__()
        self.network = network
        self.inferer = inferer

    def forward(self, images):
        return self.inferer(images, self.network)


def _inferer(folder: Path):
    bundle = import_library("monai.bundle", folder, PURPOSE)
    parser = bundle.ConfigParser()
    try:
        parser.read_config(str(config_path(folder)))
        return parser.get_parsed_content("inferer", instantiate=True)
    except Exception as error:
        raise SegAttackError(config_path(folder), f"its inferer cannot be built by MONAI "
                                                  f"({type(error).__name__}: {first_line(error)})") from None


def load_bundle(folder: Path, spec: ModelSpec) -> tuple[nn.Module, ModelSpec]:
    folder = Path(folder)
    metadata = _metadata(folder)
    if _spatial_dims(metadata) == 3:
        raise SegAttackError(folder, "is a 3-D MONAI bundle (its metadata's spatial_shape has three axes); "
                                     "SegAttack attacks 2-D images")
    config = _raw_config(folder)
    weights, archive = folder / "models" / "model.pt", folder / "models" / "model.ts"
    if weights.is_file() and "network_def" in config:
        network = _network(folder, config)
        try:
            network.load_state_dict(state_dict_of(weights, load_weights(weights)))
        except RuntimeError as error:
            raise SegAttackError(weights, f"does not fit the bundle's network_def ({first_line(error)})") from None
    elif archive.is_file():
        try:
            network = torch.jit.load(str(archive), map_location="cpu")
        except Exception as error:
            raise SegAttackError(archive, f"is not a loadable TorchScript archive ({first_line(error)})") from None
    else:
        raise SegAttackError(folder, "is a MONAI bundle without models/model.pt (with a network_def) or "
                                     "models/model.ts")
    classes = bundle_classes(metadata)
    if classes and not spec.classes_given:
        spec = replace(spec, classes=classes, classes_given=True)
    if _sliding_window(config) and spec.input_size is None:
        network = BundleInference(network, _inferer(folder))
    return network, spec
