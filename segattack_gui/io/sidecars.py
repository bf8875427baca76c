"""The sidecar JSON beside a model: where it is looked for, and every field checked.

Every field is optional and has a safe default (:class:`..core.models.ModelSpec`); a field
of the wrong type or range is one line naming the sidecar and the field.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import fields, replace
from pathlib import Path

from ..core.architectures import ARCHITECTURES
from ..core.models import ModelSpec
from ..errors import SegAttackError
from .importable import is_import_name


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


def spec_with_overrides(spec: ModelSpec, overrides: dict) -> ModelSpec:
    """``spec`` with sidecar fields replaced (``input_size`` as [height, width], ``input_policy``),
    checked as the sidecar's own values are."""
    values = {"input_size": list(spec.input_size) if spec.input_size else None, "input_policy": spec.input_policy}
    values.update(overrides)
    checked = _spec_from_dict(values, None)
    return replace(spec, input_size=checked.input_size, input_policy=checked.input_policy)


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
