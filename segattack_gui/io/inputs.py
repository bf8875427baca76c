"""Gather everything one attack needs from files, checked against each other.

``attack`` and ``rerun`` load all inputs at once (:func:`load_attack_inputs`); ``batch``,
``universal`` and the window load them one by one, through :func:`check_image_fits` and
:func:`read_target`. So an image the model cannot take, or a mask of the wrong size, gives the
same one-line error everywhere, naming the file at fault.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.misfeed import misfeed_warnings
from ..errors import SegAttackError
from .export import Provenance
from .files import recorded_path
from .images import LoadedImage, read_image
from .masks import MaskFile, default_colors, read_mask
from .model_files import LoadedModel, check_model_fits, load_model


@dataclass(frozen=True)
class AttackInputs:
    model: LoadedModel
    image: LoadedImage
    target: MaskFile
    region: MaskFile | None
    warnings: tuple[str, ...] = ()
    """Signs that the model is fed otherwise than it was trained (:mod:`..core.misfeed`)."""

    @property
    def colors(self) -> list[tuple[int, int, int]]:
        return model_colors(self.model)

    def provenance(self, **extra) -> Provenance:
        """Where every input came from, with its SHA-256, for the run's ``summary.json``."""
        region = self.region
        model = {**self.model.provenance(),
                 "output_rule": self.model.adapter.output_rule(self.image.height, self.image.width)}
        return Provenance(
            **model, warnings=self.warnings,
            image_path=recorded_path(self.image.path), image_sha256=self.image.sha256,
            image_conversion=self.image.conversion,
            **image_record(self.image),
            target_path=recorded_path(self.target.path), target_rule=self.target.rule, target_sha256=self.target.sha256,
            region_path=None if region is None else recorded_path(region.path),
            region_sha256=None if region is None else region.sha256,
            extra=extra,
        )


def image_record(image: LoadedImage) -> dict:
    """What summary.json states of the image's values and slice (Provenance fields): the range
    [0, 1] stands for, and the DICOM frame or NIfTI slice attacked (rerun reads it again)."""
    source = image.source
    return {
        "image_value_range": None if image.value_scale is None else image.value_scale.record(),
        "image_slice": None if source is None else {"index": source.index, "axis": source.axis, "count": source.count},
    }


def model_colors(model: LoadedModel) -> list[tuple[int, int, int]]:
    spec = model.adapter.spec
    return [tuple(c) for c in spec.colors] if spec.colors else default_colors(spec.num_classes)


def check_channels(model: LoadedModel, image: LoadedImage) -> None:
    """Fail early, naming the image, when its channels cannot feed the model."""
    wanted = model.adapter.expected_channels(image.pixels.shape[-1])
    channels = image.pixels.shape[-1]
    if channels != wanted and not (channels == 1 or (channels == 3 and wanted == 1)):
        raise SegAttackError(image.path, f"has {channels} channels but the model expects {wanted}")


def check_image_fits(model: LoadedModel, image: LoadedImage) -> None:
    """The image's channels can feed the model, and the model runs on its size (else one line)."""
    check_channels(model, image)
    check_model_fits(model, image.height, image.width)


def read_target(model: LoadedModel, path: Path, shape: tuple[int, int], threshold: int = 20,
                mask_class: int | None = None, image_source=None) -> MaskFile:
    """A target mask for ``model``'s classes and colours on an image of ``shape`` (a NIfTI
    label map: the slice ``image_source``, a NIfTI image's slice, was read from)."""
    return read_mask(path, num_classes=model.adapter.num_classes, palette=model_colors(model),
                     expected_shape=shape, threshold=threshold, binary_class=mask_class, image_source=image_source)


def feed_image_units(model: LoadedModel, image: LoadedImage) -> None:
    """:func:`feed_value_range` with ``image``'s own range."""
    feed_value_range(model, value_range(image), image.path)


def feed_value_range(model: LoadedModel, input_range: tuple[float, float] | None, named) -> None:
    """Tell the adapter what [0, 1] stands for in the image's own values (``input_range``, from
    :func:`value_range`; None: unknown), for a model that takes raw values (sidecar
    ``"input_units": "raw"``); a model on [0, 1] ignores it. Such a model with no range to read is
    one line naming ``named`` (the image, or the other model asked to judge it)."""
    if model.adapter.spec.input_units == "raw" and input_range is None:
        raise SegAttackError(named, 'the model takes raw values ("input_units": "raw") but the image\'s '
                                    "value range is unknown")
    model.adapter.input_range = (0.0, 1.0) if input_range is None else input_range


def value_range(image: LoadedImage) -> tuple[float, float] | None:
    """What ``image``'s [0, 1] stands for in its own values (HU for a CT); None where unknown."""
    scale = image.value_scale
    return None if scale is None else (scale.low, scale.high)


def feed_shared_units(model: LoadedModel, images: list[LoadedImage]) -> None:
    """:func:`feed_image_units` for a set attacked with one adapter (a universal perturbation): a model on
    raw values needs them all on one value range, else the first that differs is named."""
    first = images[0]
    if model.adapter.spec.input_units == "raw":
        for image in images[1:]:
            if image.value_scale != first.value_scale:
                raise SegAttackError(image.path, f"a model on raw values needs one value range for the whole set; "
                                                 f"{first.path.name} has another ({first.value_scale.rule if first.value_scale else 'unknown'})")
    feed_image_units(model, first)


def load_attack_inputs(
    model_path: Path,
    image_path: Path,
    target_path: Path,
    region_path: Path | None = None,
    *,
    trust_model: bool = False,
    device: str = "auto",
    precision: str = "fp32",
    mask_threshold: int = 20,
    mask_class: int | None = None,
    slice_index: int | None = None,
    axis: int | None = None,
    model_overrides: dict | None = None,
    fold: int | None = None,
) -> AttackInputs:
    """Read and check everything an attack needs; ``model_overrides`` are sidecar fields given on
    the command line or recorded by a run (``input_size``, ``input_policy``); ``slice_index`` and
    ``axis`` pick a DICOM frame or NIfTI slice; ``fold`` one fold of an nnU-Net folder."""
    image = read_image(image_path, slice_index=slice_index, axis=axis)
    model = load_model(model_path, trust_pickle=trust_model, device=device, precision=precision,
                       overrides=model_overrides, fold=fold)
    feed_image_units(model, image)
    check_image_fits(model, image)
    height, width = image.height, image.width
    target = read_target(model, target_path, (height, width), mask_threshold, mask_class, image.source)
    region = None
    if region_path is not None:
        region = read_mask(region_path, num_classes=2, expected_shape=(height, width), threshold=mask_threshold,
                           image_source=image.source)
        if not np.any(region.class_ids):
            raise SegAttackError(region_path, "the perturbation region is empty: no pixel may change")
    return AttackInputs(model, image, target, region,
                        tuple(misfeed_warnings(model.adapter, image.pixels, target.class_ids)))
