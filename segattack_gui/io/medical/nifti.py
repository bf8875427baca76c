"""Read a 2-D NIfTI image, or one slice of a 3-D volume, with nibabel (images and label maps).

Integer files map their stored type's whole range onto [0, 1] after ``scl_slope``/``scl_inter``
(one step per stored integer, as for DICOM); float files map the volume's own minimum and maximum
(the same for every slice). A slice is shown as viewers show an axial RAS slice: the first
remaining array axis left to right, the second bottom to top (``to_view``/``from_view``).
"""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import numpy as np

from ...errors import SegAttackError
from ..files import read_file_bytes
from .source import MedicalImage, MedicalSource
from .value_scale import ValueScale, stored_scale

NIFTI_SUFFIXES = (".nii", ".nii.gz")


def is_nifti_path(path: Path) -> bool:
    return Path(path).name.lower().endswith(NIFTI_SUFFIXES)


def load_nifti(path: Path, data: bytes | None = None):
    """(nibabel image, file bytes); anything nibabel cannot parse is one SegAttackError."""
    import nibabel

    data = read_file_bytes(path) if data is None else data
    try:
        raw = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
    except (OSError, EOFError) as error:
        raise SegAttackError(path, f"NIfTI file is damaged or truncated (gzip: {error})") from error
    kind = nibabel.Nifti2Image if raw[4:8] == b"n+2\x00" or raw[:4] in (b"\x1c\x02\x00\x00", b"\x00\x00\x02\x1c") \
        else nibabel.Nifti1Image
    try:
        image = kind.from_bytes(raw)
        header = image.header
        offset = max(int(header["vox_offset"]), header.sizeof_hdr + 4)  # a single file's data follows its header
        needed = offset + int(np.prod(image.shape)) * np.dtype(header.get_data_dtype()).itemsize
    except Exception as error:  # nibabel raises many types on damaged headers
        raise SegAttackError(path, f"not a readable NIfTI file ({_first_line(error)})") from error
    if int(header["dim"][0]) == 0 or 0 in image.shape:
        raise SegAttackError(path, "NIfTI has 0 dimensions (its header's dim[0] is 0): it holds no image")
    if len(raw) < needed:
        raise SegAttackError(path, f"NIfTI file is truncated ({len(raw):,} bytes of the {needed:,} its header announces)")
    return image, data


def slice_geometry(path: Path, shape: tuple, index: int | None, axis: int | None) -> tuple[tuple, int, int | None, int]:
    """(array index of the slice, chosen index, axis, count) for a 2-D image or a 3-D volume."""
    dims = len(shape)
    if dims == 4 and shape[3] == 1:
        dims = 3
    if dims < 2 or dims > 3:
        described = "x".join(str(n) for n in shape) or "no"
        extra = "; take one volume out first (e.g. fslroi)" if dims == 4 else ""
        raise SegAttackError(path, f"NIfTI has {len(shape)} dimensions ({described}); expected a 2-D image or a 3-D volume{extra}")
    if dims == 2:
        if index not in (None, 0):
            raise SegAttackError(path, f"slice {index} is out of range: the NIfTI image is 2-D (one slice, 0)")
        return (slice(None), slice(None)) + (0,) * (len(shape) - 2), 0, None, 1
    axis = 2 if axis is None else axis
    if axis not in (0, 1, 2):
        raise SegAttackError(path, f"axis {axis} does not exist: a volume has axes 0, 1 and 2")
    count = int(shape[axis])
    chosen = count // 2 if index is None else index
    if not 0 <= chosen < count:
        raise SegAttackError(path, f"slice {chosen} is out of range: axis {axis} has {count} slices (0 to {count - 1})")
    where = [slice(None)] * 3
    where[axis] = chosen
    return tuple(where) + (0,) * (len(shape) - 3), chosen, axis, count


def to_view(slice_values: np.ndarray) -> np.ndarray:
    """Array slice -> image rows and columns (first axis across, second upwards)."""
    return np.ascontiguousarray(np.rot90(slice_values))


def from_view(view: np.ndarray) -> np.ndarray:
    """Inverse of :func:`to_view`."""
    return np.ascontiguousarray(np.rot90(view, -1))


def nifti_scale(image) -> ValueScale:
    """The stored type's range after scl_slope/inter (integers), else the volume's min..max (floats)."""
    header = image.header
    stored_dtype = np.dtype(header.get_data_dtype())
    slope, intercept = image.dataobj.slope, image.dataobj.inter
    slope = 1.0 if slope is None or not np.isfinite(slope) or slope == 0 else float(slope)
    intercept = 0.0 if intercept is None or not np.isfinite(intercept) else float(intercept)
    if stored_dtype.kind in "ui":
        info = np.iinfo(stored_dtype)
        rule = f"the stored {stored_dtype} range {info.min}..{info.max}"
        if (slope, intercept) != (1.0, 0.0):
            rule += f" after scl_slope/scl_inter (x {slope:g} + {intercept:g})"
        return stored_scale(int(info.min), int(info.max), slope, intercept, "", rule)
    values = np.asanyarray(image.dataobj, dtype=np.float64)
    finite = values[np.isfinite(values)]
    low = float(finite.min()) if finite.size else 0.0
    high = float(finite.max()) if finite.size else 1.0
    if high <= low:
        high = low + 1.0
    return ValueScale(low, high, None, "", f"the volume's minimum..maximum {low:g}..{high:g} ({stored_dtype})")


def read_nifti(path: Path, index: int | None = None, axis: int | None = None, *,
               data: bytes | None = None) -> MedicalImage:
    """A 2-D NIfTI, or slice ``index`` (default the middle) along ``axis`` (default 2) of a volume
    (``data``: the file's bytes already in memory, e.g. an export read back)."""
    path = Path(path)
    image, data = load_nifti(path, data)
    stored_dtype = np.dtype(image.header.get_data_dtype())
    if stored_dtype.kind not in "uif" or stored_dtype.fields:
        raise SegAttackError(path, f"NIfTI data type {stored_dtype} is not supported (greyscale integers or floats)")
    where, chosen, axis, count = slice_geometry(path, image.shape, index, axis)
    scale = nifti_scale(image)
    values = np.asanyarray(image.dataobj[where], dtype=np.float64)
    if not np.isfinite(values).all():
        raise SegAttackError(path, "the NIfTI slice holds NaN or infinite values")
    pixels = scale.to_unit(to_view(values))[..., np.newaxis]
    where_words = "2-D" if axis is None else f"slice {chosen} of {count} along axis {axis}"
    conversion = (f"NIfTI {stored_dtype} {where_words}; 0..1 is {scale.words(scale.low)}..{scale.words(scale.high)} "
                  f"({scale.rule}); first array axis across, second upwards")
    source = MedicalSource("nifti", path, chosen, count, axis, tuple(int(n) for n in image.shape),
                           tuple(tuple(float(v) for v in row) for row in image.affine))
    return MedicalImage(np.ascontiguousarray(np.clip(pixels, 0.0, 1.0)), scale, source, conversion, str(stored_dtype),
                        tuple(int(n) for n in pixels.shape[:2]), hashlib.sha256(data).hexdigest())


def read_nifti_labels(path: Path, image_source: MedicalSource | None, shape: tuple[int, int],
                      index: int | None = None, axis: int | None = None) -> tuple[np.ndarray, str, str]:
    """A label map's slice as int64 ids on the image grid, (ids, rule, sha256).

    With a NIfTI image, the mask's volume must have the image's shape and affine, and the same
    slice is read; with any other image, the mask must be 2-D (or the slice given) of its size.
    """
    path = Path(path)
    labels, data = load_nifti(path)
    if image_source is not None and image_source.kind == "nifti":
        if tuple(labels.shape) != tuple(image_source.volume_shape):
            raise SegAttackError(path, f"mask geometry differs from the image's: shape {_shape(labels.shape)} vs "
                                       f"{_shape(image_source.volume_shape)}")
        if not np.allclose(labels.affine, np.asarray(image_source.affine), atol=1e-3):
            raise SegAttackError(path, "mask geometry differs from the image's: its affine (voxel-to-world) differs")
        index, axis = image_source.index, image_source.axis
    where, chosen, axis, _ = slice_geometry(path, labels.shape, index, axis)
    values = np.asanyarray(labels.dataobj[where], dtype=np.float64)
    if not np.isfinite(values).all() or not np.array_equal(values, np.round(values)):
        raise SegAttackError(path, "the NIfTI label map holds non-integer values; save class ids as integers")
    ids = to_view(values).astype(np.int64)
    if ids.shape != tuple(shape):
        raise SegAttackError(path, f"mask is {ids.shape[0]}x{ids.shape[1]} but the image is {shape[0]}x{shape[1]} "
                                   "(height x width)")
    where_words = "2-D" if axis is None else f"slice {chosen} along axis {axis}"
    return ids, f"NIfTI label map ({where_words}): values are class ids", hashlib.sha256(data).hexdigest()


def _shape(shape) -> str:
    return "x".join(str(int(n)) for n in shape)


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0].strip() if lines else type(error).__name__
