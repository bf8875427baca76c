"""Write the adversarial slice back into a copy of its DICOM or NIfTI file, and read it back.

``adversarial.dcm``: the original dataset, every element kept, with the attacked frame's pixel
data replaced by the adversarial values in the stored integer type (uncompressed), a new
SOPInstanceUID and SeriesInstanceUID, ImageType DERIVED and a SeriesDescription saying what it is.
``adversarial.nii.gz``: the original volume with the attacked slice replaced, same affine and
header (scl_slope/scl_inter kept). The file is decoded again exactly as an input would be, and
those pixels are what ``final_quantized`` scores.
"""

from __future__ import annotations

import gzip
import io
from dataclasses import dataclass

import numpy as np

from ...errors import SegAttackError
from ..files import read_file_bytes
from . import dicom, nifti
from .source import MedicalSource
from .value_scale import ValueScale

SERIES_DESCRIPTION = "SegAttack adversarial"


@dataclass(frozen=True)
class NativeFile:
    name: str
    data: bytes
    read_back: np.ndarray
    """float32 H x W x C in [0, 1]: the attacked slice as decoded from ``data``."""


def native_adversarial(source: MedicalSource, scale: ValueScale, adversarial: np.ndarray, method: str) -> NativeFile:
    """The adversarial image (H x W x C on [0, 1], already on the source's grid) in its source's format."""
    if source.kind == "dicom":
        return _dicom_file(source, scale, adversarial, method)
    return _nifti_file(source, scale, adversarial)


def _dicom_file(source: MedicalSource, scale: ValueScale, adversarial: np.ndarray, method: str) -> NativeFile:
    import pydicom.uid

    path = source.file
    dataset = dicom.read_dataset(path, read_file_bytes(path))
    frames = dicom.stored_frames(path, dataset).copy()
    if frames.dtype.itemsize > 2:
        raise SegAttackError(path, f"writing {frames.dtype} DICOM pixel data back is not supported (8 and 16 bits are)")
    low, _ = dicom.stored_range(dataset, frames)
    values = scale.grid_steps(adversarial) + low
    frames[source.index] = values.reshape(frames.shape[1:]).astype(frames.dtype)
    photometric = str(dataset.PhotometricInterpretation)
    if photometric.startswith("YBR"):
        photometric = "RGB"  # pydicom decoded it to RGB; that is what is written
    syntax = dataset.file_meta.get("TransferSyntaxUID")
    if syntax is not None and syntax == pydicom.uid.ExplicitVRBigEndian:
        dataset.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    bits_stored = int(dataset.get("BitsStored", frames.dtype.itemsize * 8))
    dataset.set_pixel_data(frames if len(frames) > 1 else frames[0], photometric, bits_stored)
    dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    dataset.SeriesInstanceUID = pydicom.uid.generate_uid()
    image_type = list(dataset.get("ImageType", ["ORIGINAL", "PRIMARY"]))
    dataset.ImageType = ["DERIVED", "SECONDARY"] + image_type[2:]
    dataset.SeriesDescription = f"{SERIES_DESCRIPTION} ({method})"[:64]
    dataset.DerivationDescription = (f"SegAttack {method} adversarial image of SOP Instance {_original_uid(path)}; "
                                     "not for clinical use")[:1024]
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    data = buffer.getvalue()
    read_back = dicom.read_dicom_bytes(path.with_name("adversarial.dcm"), data, source.index if len(frames) > 1 else None)
    return NativeFile("adversarial.dcm", data, read_back.pixels)


def _original_uid(path) -> str:
    header = dicom.read_dataset(path, read_file_bytes(path), header_only=True)
    return str(header.get("SOPInstanceUID", "unknown"))


def _nifti_file(source: MedicalSource, scale: ValueScale, adversarial: np.ndarray) -> NativeFile:
    import nibabel

    image, _ = nifti.load_nifti(source.file)
    stored = np.array(image.dataobj.get_unscaled(), copy=True)
    where, _, _, _ = nifti.slice_geometry(source.file, image.shape, source.index, source.axis)
    slope, intercept = image.dataobj.slope, image.dataobj.inter
    plane = adversarial[..., 0]
    if scale.levels is not None:
        values = scale.grid_steps(plane) + int(np.iinfo(stored.dtype).min)
    else:
        values = (scale.to_raw(plane) - intercept) / slope
    stored[where] = nifti.from_view(values).astype(stored.dtype)
    header = image.header.copy()
    kind = nibabel.Nifti2Image if isinstance(image, nibabel.Nifti2Image) else nibabel.Nifti1Image
    written = kind(stored, image.affine, header)
    if (slope, intercept) != (1.0, 0.0):
        written.header.set_slope_inter(slope, intercept)
    data = gzip.compress(written.to_bytes(), mtime=0)
    read_back = nifti.read_nifti(source.file.with_name("adversarial.nii.gz"), source.index, source.axis, data=data)
    return NativeFile("adversarial.nii.gz", data, read_back.pixels)


def target_nifti(source: MedicalSource, class_ids: np.ndarray, header_source=None) -> bytes:
    """The target as a NIfTI label map with the image's geometry (``target.nii.gz``): for a NIfTI
    image, a volume of its shape and affine, zero but the attacked slice; for DICOM, one slice
    placed by Image Position/Orientation and Pixel Spacing (LPS turned to NIfTI's RAS)."""
    import nibabel

    if source.kind == "nifti":
        volume = np.zeros(source.volume_shape, dtype=np.uint8)
        where, _, _, _ = nifti.slice_geometry(source.file, source.volume_shape, source.index, source.axis)
        volume[where] = nifti.from_view(np.asarray(class_ids, dtype=np.uint8))
        return gzip.compress(nibabel.Nifti1Image(volume, np.asarray(source.affine)).to_bytes(), mtime=0)
    header = dicom.read_dataset(source.file, read_file_bytes(source.file), header_only=True)
    labels = nifti.from_view(np.asarray(class_ids, dtype=np.uint8))[..., np.newaxis]
    return gzip.compress(nibabel.Nifti1Image(labels, _dicom_affine(header, labels.shape[1])).to_bytes(), mtime=0)


def _dicom_affine(header, rows: int) -> np.ndarray:
    """Voxel (i across, j upwards in the view) -> RAS mm for one DICOM frame; identity without geometry."""
    try:
        orientation = np.asarray(header.ImageOrientationPatient, float)
        position = np.asarray(header.ImagePositionPatient, float)
        row_spacing, column_spacing = (float(v) for v in header.PixelSpacing)
    except (AttributeError, ValueError, TypeError):
        return np.eye(4)
    across, down = orientation[:3], orientation[3:]  # LPS directions of a row and of a column
    affine = np.eye(4)
    # view column i is DICOM column i; view row j counted upwards is DICOM row (rows - 1 - j).
    affine[:3, 0] = across * column_spacing
    affine[:3, 1] = -down * row_spacing
    affine[:3, 2] = np.cross(across, down)
    affine[:3, 3] = position + down * row_spacing * (rows - 1)
    return np.diag([-1, -1, 1, 1]) @ affine  # LPS -> RAS
