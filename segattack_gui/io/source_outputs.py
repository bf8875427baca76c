"""What a run adds for its image's own format and units, before the folder is written.

Norms in the image's units (``l2_raw``, ``linf_raw``: HU for CT, grey levels for a PNG) beside the
[0, 1] ones; for a DICOM or NIfTI image, the adversarial slice in that format, read back and
scored as ``final_quantized`` (what the exported file does to the model, not what we hope it
does), and the target as a NIfTI label map with the image's geometry.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from ..core.results import AttackResult
from ..core.runner import final_scores
from .images import LoadedImage
from .medical.native_export import native_adversarial, target_nifti
from .medical.value_scale import raw_norms


def source_outputs(result: AttackResult, image: LoadedImage, adapter) -> tuple[AttackResult, dict[str, bytes]]:
    """(the result with raw norms and, for DICOM/NIfTI, ``final_quantized`` of the read-back file;
    the extra files of the run folder by name)."""
    files: dict[str, bytes] = {}
    if image.source is not None and result.adversarial_8bit is not None:
        native = native_adversarial(image.source, image.value_scale, result.adversarial_8bit, result.method)
        files[native.name] = native.data
        scores, prediction = score_pixels(adapter, native.read_back, result)
        result = dataclasses.replace(result, final_quantized=scores, adversarial_8bit=native.read_back,
                                     prediction_quantized=prediction)
        files["target.nii.gz"] = target_nifti(image.source, result.target)
    scale = image.value_scale
    if scale is not None:
        exported = result.adversarial if result.adversarial_8bit is None else result.adversarial_8bit
        result = dataclasses.replace(
            result,
            final=raw_norms(result.final, scale, result.adversarial, result.original),
            final_quantized=raw_norms(result.final_quantized, scale, exported, result.original,
                                      on_grid=image.export_levels == scale.levels),
            best=raw_norms(result.best, scale, result.best_adversarial, result.original),
        )
    return result, files


def score_pixels(adapter, pixels: np.ndarray, result: AttackResult) -> tuple[dict, np.ndarray]:
    """Final scores of ``pixels`` (H x W x C on [0, 1]) against the run's target and original."""
    x = adapter.to_device(pixels)
    x0 = adapter.to_device(result.original)
    target = torch.as_tensor(np.asarray(result.grid.crop(result.target), dtype=np.int64), device=adapter.device)[None]
    scores, prediction = final_scores(adapter, x, x0, target)
    return scores[0], prediction[0].to(torch.uint8).cpu().numpy()
