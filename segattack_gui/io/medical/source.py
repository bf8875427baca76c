"""Where a 2-D image came from inside a medical file, so it can be written back in place.

A DICOM frame or a NIfTI slice is attacked as a 2-D image; the export puts the adversarial values
back into a copy of the same file (``adversarial.dcm``, ``adversarial.nii.gz``), and a NIfTI target
mask is read from the same slice. This record is what both need.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .value_scale import ValueScale


@dataclass(frozen=True)
class MedicalSource:
    kind: str
    """"dicom" or "nifti"."""
    file: Path
    """The file holding the slice (for a DICOM series folder, the slice's own file)."""
    index: int
    """The frame of a multi-frame DICOM, the file of a series, or the slice of a NIfTI volume (0 if 2-D)."""
    count: int
    """How many frames, files or slices there were to choose from."""
    axis: int | None = None
    """The NIfTI axis sliced (None for DICOM and 2-D NIfTI)."""
    volume_shape: tuple = ()
    """Shape of the whole stored array (NIfTI), for checking a mask's geometry."""
    affine: tuple | None = None
    """NIfTI voxel-to-world matrix (4 x 4 as nested tuples), for checking a mask's geometry."""


@dataclass(frozen=True)
class MedicalImage:
    """A medical 2-D image on the [0, 1] scale with everything needed to write it back."""

    pixels: np.ndarray
    """float32 H x W x C in [0, 1]."""
    scale: ValueScale
    source: MedicalSource
    conversion: str
    stored_dtype: str
    stored_shape: tuple
    sha256: str
