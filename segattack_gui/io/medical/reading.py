"""Route a path to the DICOM or NIfTI reader before any image decoder sees it.

A DICOM file's 128-byte preamble may look like a TIFF header, so the ``DICM`` marker is checked
first; NIfTI is known by its suffix (``.nii``, ``.nii.gz``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...errors import SegAttackError
from .dicom import folder_holds_dicom, is_dicom, read_dicom
from .nifti import is_nifti_path, read_nifti


def is_medical_path(path: Path) -> bool:
    """DICOM (marker, or a folder of DICOM files) or NIfTI (suffix): read by this package."""
    path = Path(path)
    if path.is_dir():
        return folder_holds_dicom(path)
    if is_nifti_path(path):
        return True
    try:
        with open(path, "rb") as handle:
            return is_dicom(handle.read(132))
    except OSError:
        return False


def read_medical_image(path: Path, slice_index: int | None, axis: int | None, max_pixels: int):
    """A LoadedImage for DICOM or NIfTI, or None for any other file (left to the image decoders)."""
    from ..images import LoadedImage

    if not is_medical_path(path):
        return None
    if is_nifti_path(path):
        medical = read_nifti(path, slice_index, axis)
    else:
        if axis is not None:
            raise SegAttackError(path, "an axis applies to NIfTI volumes only (a DICOM series is sliced as stored)")
        medical = read_dicom(path, slice_index)
    height, width = medical.pixels.shape[:2]
    if height * width > max_pixels:
        raise SegAttackError(path, f"image is {width}x{height} = {width * height:,} pixels, more than the limit of "
                                   f"{max_pixels:,}")
    return LoadedImage(
        pixels=np.ascontiguousarray(medical.pixels, dtype=np.float32),
        path=Path(path),
        conversion=medical.conversion,
        original_dtype=medical.stored_dtype,
        original_shape=medical.stored_shape,
        sha256=medical.sha256,
        value_scale=medical.scale,
        source=medical.source,
    )
