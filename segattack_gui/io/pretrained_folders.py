"""``save_pretrained`` folders of segmentation_models_pytorch and Hugging Face transformers.

Both keep a ``config.json`` beside the weights and rebuild the network with their library's
``from_pretrained`` from local files only (no download, no remote code). A Hugging Face
folder gives its class names (``id2label``) and its image processor's ``image_mean`` /
``image_std``; SegFormer-style 1/4 logits are upsampled by the adapter's whole-factor rule,
and images are padded to multiples of 32 so that factor is exact.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from torch import nn

from ..core.models import ModelSpec
from ..errors import SegAttackError, first_line
from .importable import import_library


def _json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (OSError, ValueError) as error:
        raise SegAttackError(path, f"cannot be read ({first_line(error)})") from None


def load_pretrained_folder(folder: Path, spec: ModelSpec) -> tuple[nn.Module, ModelSpec]:
    folder = Path(folder)
    config = _json(folder / "config.json")
    if "_model_class" in config:  # segmentation_models_pytorch's hub mixin
        smp = import_library("segmentation_models_pytorch", folder, "a segmentation_models_pytorch folder")
        try:
            return smp.from_pretrained(str(folder)).eval(), spec
        except Exception as error:
            raise SegAttackError(folder, f"segmentation_models_pytorch cannot load it ({type(error).__name__}: "
                                         f"{first_line(error)})") from None
    transformers = import_library("transformers", folder, "a Hugging Face save_pretrained folder")
    try:
        model = transformers.AutoModelForSemanticSegmentation.from_pretrained(
            str(folder), local_files_only=True, trust_remote_code=False)
    except Exception as error:
        raise SegAttackError(folder, f"transformers cannot load it as a semantic segmentation model "
                                     f"({type(error).__name__}: {first_line(error)})") from None
    return _HuggingFaceLogits(model.eval()), _hugging_face_spec(folder, config, spec)


class _HuggingFaceLogits(nn.Module):
    """A transformers model called as ``model(pixel_values=...)``, returning its ``logits``."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, images):
        return self.model(pixel_values=images).logits


def _hugging_face_spec(folder: Path, config: dict, spec: ModelSpec) -> ModelSpec:
    labels = config.get("id2label") or {}
    if not spec.classes_given and len(labels) >= 2:
        try:
            spec = replace(spec, classes=tuple(str(labels[key]) for key in sorted(labels, key=int)),
                           classes_given=True)
        except ValueError:
            pass
    processor = _json(folder / "preprocessor_config.json")
    if spec.mean is None and spec.std is None and processor.get("image_mean") and processor.get("image_std"):
        spec = replace(spec, mean=tuple(processor["image_mean"]), std=tuple(processor["image_std"]))
    if spec.size_multiple is None and spec.input_size is None:
        spec = replace(spec, size_multiple=32)
    return spec
