"""Read a DICOM frame (a file, a multi-frame file, or a folder of one series) with pydicom.

The stored integers become [0, 1] through the file's own grid: 0 is the smallest value Bits Stored
and Pixel Representation allow, 1 the largest, after the linear modality LUT (Rescale Slope and
Intercept, so CT is in HU). That range is the same for every image of a scanner, and every stored
integer is one step of it, so an adversarial frame written back (``dicom_export``) is exact.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from pathlib import Path

import numpy as np

from ...errors import SegAttackError
from ..files import read_file_bytes
from .source import MedicalImage, MedicalSource
from .value_scale import integer_range, stored_scale


def is_dicom(data: bytes) -> bool:
    """A DICOM Part 10 file: 128-byte preamble, then ``DICM`` (the preamble may look like a TIFF)."""
    return len(data) >= 132 and data[128:132] == b"DICM"


def folder_holds_dicom(folder: Path) -> bool:
    return any(is_dicom(_head(path)) for path in _candidate_files(folder))


def read_dicom(path: Path, index: int | None = None) -> MedicalImage:
    """One frame of a DICOM file, or one slice of a folder holding one series (sorted by position).

    ``index``: the frame (multi-frame) or the slice (folder); default the middle one.
    """
    path = Path(path)
    if path.is_dir():
        files = series_files(path)
        chosen = _choose(path, index, len(files), "slices")
        image = _read_frame(files[chosen], read_file_bytes(files[chosen]), None)
        where = f"slice {chosen} of {len(files)} in the series folder (sorted by position)"
        source = MedicalSource("dicom", files[chosen], chosen, len(files))
        return MedicalImage(image.pixels, image.scale, source, f"{image.conversion}; {where}",
                            image.stored_dtype, image.stored_shape, image.sha256)
    return _read_frame(path, read_file_bytes(path), index)


def read_dicom_bytes(path: Path, data: bytes, index: int | None = None) -> MedicalImage:
    """Like :func:`read_dicom` for a file already in memory (an export read back)."""
    return _read_frame(Path(path), data, index)


def read_dataset(path: Path, data: bytes, *, header_only: bool = False):
    """The pydicom Dataset of ``data``; a file pydicom cannot parse is one SegAttackError."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        with warnings.catch_warnings():  # pydicom warns about tolerated oddities (implicit VR); they add lines
            warnings.simplefilter("ignore")
            return pydicom.dcmread(io.BytesIO(data), stop_before_pixels=header_only)
    except InvalidDicomError as error:
        raise SegAttackError(path, f"not a readable DICOM file ({_first_line(error)})") from error
    except Exception as error:  # pydicom raises many types on damaged data
        raise SegAttackError(path, f"DICOM file is damaged or truncated ({_first_line(error)})") from error


def stored_frames(path: Path, dataset) -> np.ndarray:
    """The stored integers, frames first: ``[F, H, W]`` or ``[F, H, W, 3]``, colour as RGB."""
    if "PixelData" not in dataset and "FloatPixelData" not in dataset and "DoubleFloatPixelData" not in dataset:
        modality = dataset.get("Modality", "unknown")
        raise SegAttackError(path, f"DICOM file holds no image (no Pixel Data; modality {modality})")
    if "PixelData" not in dataset:
        raise SegAttackError(path, "DICOM float pixel data is not supported (only integer Pixel Data)")
    photometric = str(dataset.get("PhotometricInterpretation", ""))
    if photometric == "PALETTE COLOR":
        raise SegAttackError(path, "PALETTE COLOR DICOM is not supported (greyscale and RGB are)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            array = dataset.pixel_array
    except RuntimeError as error:  # no decoder plugin for the transfer syntax
        raise SegAttackError(path, _missing_plugin(dataset, error)) from error
    except Exception as error:
        raise SegAttackError(path, f"DICOM pixel data is damaged or truncated ({_first_line(error)})") from error
    samples = int(dataset.get("SamplesPerPixel", 1))
    frames = int(dataset.get("NumberOfFrames", 1) or 1)
    if samples not in (1, 3):
        raise SegAttackError(path, f"DICOM has {samples} samples per pixel; expected 1 (grey) or 3 (RGB)")
    if frames == 1:
        array = array[np.newaxis]
    return array


def linear_modality_lut(path: Path, dataset) -> tuple[float, float, str]:
    """(slope, intercept, units) of the modality LUT; enhanced multi-frame files keep theirs in
    the shared functional groups. A non-linear Modality LUT Sequence is refused."""
    if "ModalityLUTSequence" in dataset:
        raise SegAttackError(path, "DICOM with a (non-linear) Modality LUT Sequence is not supported")
    holder = dataset
    if "RescaleSlope" not in dataset and "SharedFunctionalGroupsSequence" in dataset:
        shared = dataset.SharedFunctionalGroupsSequence[0]
        if "PixelValueTransformationSequence" in shared:
            holder = shared.PixelValueTransformationSequence[0]
    slope = float(holder.get("RescaleSlope", 1.0) or 1.0)
    intercept = float(holder.get("RescaleIntercept", 0.0) or 0.0)
    units = str(holder.get("RescaleType", "") or "")
    if not units and dataset.get("Modality") == "CT" and "RescaleIntercept" in holder:
        units = "HU"
    if units.upper() == "US":  # "unspecified"
        units = ""
    return slope, intercept, units


def stored_range(dataset, frames: np.ndarray) -> tuple[int, int]:
    """The integers Bits Stored and Pixel Representation allow (widened to Bits Allocated when a
    file stores values outside its declared bits). Above 16 bits (RT dose), the values' own
    minimum..maximum: float32 [0, 1] pixels resolve 2**24 steps, not 2**32."""
    signed = int(dataset.get("PixelRepresentation", 0)) == 1
    bits = int(dataset.get("BitsStored", frames.dtype.itemsize * 8))
    if bits > 16 and frames.size:
        low, high = int(frames.min()), int(frames.max())
        return low, max(high, low + 1)
    low, high = integer_range(bits, signed)
    if frames.size and (frames.min() < low or frames.max() > high):
        low, high = integer_range(int(dataset.get("BitsAllocated", frames.dtype.itemsize * 8)), signed)
    return low, high


def series_files(folder: Path) -> list[Path]:
    """The DICOM files of the one series in ``folder``, sorted along the slice normal (else by number)."""
    headers = []
    for path in _candidate_files(folder):
        data = read_file_bytes(path)
        if is_dicom(data):
            headers.append((path, read_dataset(path, data, header_only=True)))
    if not headers:
        raise SegAttackError(folder, "folder holds no DICOM files")
    series = {str(header.get("SeriesInstanceUID", "")) for _, header in headers}
    if len(series) > 1:
        raise SegAttackError(folder, f"folder holds {len(series)} DICOM series; open one file, or a folder of one series")
    return [path for path, _ in sorted(headers, key=lambda item: _position_key(item[1]))]


# --- details ------------------------------------------------------------------------------------


def _read_frame(path: Path, data: bytes, index: int | None) -> MedicalImage:
    if not is_dicom(data):
        raise SegAttackError(path, "not a DICOM file (no DICM marker after the 128-byte preamble)")
    dataset = read_dataset(path, data)
    frames = stored_frames(path, dataset)
    chosen = _choose(path, index, len(frames), "frames")
    stored = frames[chosen]
    slope, intercept, units = linear_modality_lut(path, dataset)
    low, high = stored_range(dataset, frames)
    photometric = str(dataset.get("PhotometricInterpretation", ""))
    bits = int(dataset.get("BitsStored", stored.dtype.itemsize * 8))
    signed = int(dataset.get("PixelRepresentation", 0)) == 1
    kind = "stored values' minimum..maximum" if bits > 16 else f"{'signed' if signed else 'unsigned'} {bits}-bit stored range"
    rule = (f"the {kind} {low}..{high}"
            + (f" after the modality LUT (x {slope:g} + {intercept:g})" if (slope, intercept) != (1.0, 0.0) else ""))
    scale = stored_scale(low, high, slope, intercept, units, rule)
    pixels = ((stored.astype(np.float64) - low) / (high - low)).astype(np.float32)
    if pixels.ndim == 2:
        pixels = pixels[..., np.newaxis]
    parts = [f"DICOM {dataset.get('Modality', '')} {photometric}".replace("  ", " "),
             f"0..1 is {scale.words(scale.low)}..{scale.words(scale.high)} ({rule})"]
    if photometric == "MONOCHROME1":
        parts.append("MONOCHROME1: higher values are darker, shown inverted")
    if photometric.startswith("YBR"):
        parts.append(f"{photometric} converted to RGB")
    if len(frames) > 1:
        parts.append(f"frame {chosen} of {len(frames)}")
    source = MedicalSource("dicom", path, chosen, len(frames))
    return MedicalImage(np.ascontiguousarray(pixels), scale, source, "; ".join(parts), str(stored.dtype),
                        tuple(int(n) for n in stored.shape), hashlib.sha256(data).hexdigest())


def _choose(path: Path, index: int | None, count: int, what: str) -> int:
    if index is None:
        return count // 2
    if not 0 <= index < count:
        there = f"there is 1 {what[:-1]} (0)" if count == 1 else f"there are {count} {what} (0 to {count - 1})"
        raise SegAttackError(path, f"slice {index} is out of range: {there}")
    return index


def _position_key(header) -> tuple:
    """Distance along the slice normal (ImageOrientationPatient x ImagePositionPatient), else InstanceNumber."""
    try:
        row, column = np.asarray(header.ImageOrientationPatient[:3], float), np.asarray(header.ImageOrientationPatient[3:], float)
        return (0, float(np.dot(np.cross(row, column), np.asarray(header.ImagePositionPatient, float))), 0)
    except (AttributeError, ValueError, TypeError):
        return (1, 0.0, int(header.get("InstanceNumber", 0) or 0))


def _candidate_files(folder: Path) -> list[Path]:
    return sorted(path for path in folder.iterdir()
                  if path.is_file() and not path.name.startswith(".") and path.name.upper() != "DICOMDIR")


def _head(path: Path) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read(132)
    except OSError:
        return b""


def _missing_plugin(dataset, error: BaseException) -> str:
    syntax = dataset.file_meta.get("TransferSyntaxUID")
    name = getattr(syntax, "name", str(syntax))
    needs = [line.strip() for line in str(error).splitlines()[1:] if line.strip()]
    hint = "; ".join(needs) if needs else _first_line(error)
    return f"DICOM pixel data is compressed as {name}, which no installed decoder reads (install one: {hint})"


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0].strip() if lines else type(error).__name__
