"""Read images into float32 [0, 1] arrays and write them back as 8-bit PNGs.

Attacks measure perturbations on the [0, 1] scale, so every file is brought there by one stated
rule (recorded in exports as ``LoadedImage.conversion``). Files are read as bytes and decoded from
memory, so non-ASCII paths work, and every bad file raises ``SegAttackError``: a truncated file
fails instead of coming back half grey.

``decode_image_file`` is shared with ``masks.py``: it turns a file into the array it stores, in RGB
order and upright, before any scaling.
"""

from __future__ import annotations

import hashlib
import io
import os
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from segattack_gui.errors import SegAttackError
from segattack_gui.io.files import read_file_bytes, write_file_bytes
from segattack_gui.io.medical.source import MedicalSource
from segattack_gui.io.medical.value_scale import ValueScale

DEFAULT_MAX_PIXELS = 64_000_000

# PIL format name -> the name we report. MPO is what PIL calls a camera JPEG with a preview image.
_SUPPORTED_FORMATS = {"PNG": "PNG", "JPEG": "JPEG", "MPO": "JPEG", "TIFF": "TIFF", "BMP": "BMP"}

# EXIF orientation -> (how the stored array is turned upright, the words for it).
_ORIENTATIONS = {
    2: (lambda a: a[:, ::-1], "mirrored left-right"),
    3: (lambda a: a[::-1, ::-1], "rotated 180°"),
    4: (lambda a: a[::-1, :], "mirrored top-bottom"),
    5: (lambda a: a.swapaxes(0, 1), "transposed"),
    6: (lambda a: np.rot90(a, -1), "rotated 90° clockwise"),
    7: (lambda a: np.rot90(a, 2).swapaxes(0, 1), "transversed"),
    8: (lambda a: np.rot90(a, 1), "rotated 90° counter-clockwise"),
}

# PIL modes decoded directly, with the array layout they give (see DecodedFile.mode).
_GREY_MODES = {"L", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}
_CONVERTED_MODES = {"CMYK": "RGB", "YCbCr": "RGB", "RGBX": "RGB", "La": "LA", "RGBa": "RGBA"}


@dataclass(frozen=True)
class LoadedImage:
    """An image on the [0, 1] scale, with the rule that brought it there."""

    pixels: np.ndarray
    """float32 H x W x C in [0, 1], C in {1, 3}; greyscale stays one channel."""
    path: Path
    conversion: str
    """One sentence stating how the stored values became [0, 1] (recorded in exports)."""
    original_dtype: str
    """dtype of the values as stored in the file, e.g. 'uint16'."""
    original_shape: tuple
    """Shape of the decoded values before channel conversion (upright), e.g. (H, W) or (H, W, 4)."""
    sha256: str = ""
    """Of the file's bytes as read and decoded (what summary.json records as ``image_sha256``)."""
    value_scale: ValueScale | None = None
    """What [0, 1] stands for in the file's own values and units (HU for CT); None if unknown."""
    source: MedicalSource | None = None
    """The DICOM frame or NIfTI slice this image is, for writing it back; None for other formats."""

    @property
    def export_levels(self) -> int | None:
        """Steps of the grid the exported image holds: the DICOM/NIfTI stored grid (None: float,
        no grid), else the 255 of adversarial.png."""
        return self.value_scale.levels if self.source is not None else 255

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def channels(self) -> int:
        return int(self.pixels.shape[2])


@dataclass(frozen=True)
class DecodedFile:
    """The values a file stores, upright and in RGB order, before any scaling.

    ``mode`` names the layout of ``array``: '1' (bool H x W), 'L' (H x W, any numeric dtype),
    'LA' (H x W x 2), 'P' (uint8 palette indices H x W), 'PA' (H x W x 2), 'RGB' (H x W x 3),
    'RGBA' (H x W x 4). 'P' and 'PA' only appear when the caller asked to keep palette indices.
    """

    array: np.ndarray
    mode: str
    file_format: str
    stored_dtype: str
    stored_shape: tuple
    """Shape of ``array`` (upright, before any channel conversion)."""
    notes: tuple[str, ...]
    """Conversions made while decoding (palette expanded, first page, orientation applied)."""


PLAIN_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp"}
"""PNG, JPEG, TIFF, BMP: what a universal perturbation takes (batch takes DICOM and NIfTI too)."""
IMAGE_SUFFIXES = PLAIN_IMAGE_SUFFIXES | {".dcm", ".dicom", ".nii", ".nii.gz"}
"""File suffixes of the formats read here (PNG, JPEG, TIFF, BMP, DICOM, NIfTI); DICOM files without
a suffix are recognised by their DICM marker."""


def decode_image_file(
    path: str | os.PathLike,
    data: bytes,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    keep_palette: bool = False,
) -> DecodedFile:
    """Decode file bytes to the stored values (see DecodedFile); every failure is a SegAttackError.

    Pillow decodes nearly everything and, with LOAD_TRUNCATED_IMAGES left False, refuses truncated
    files. It reduces 16-bit colour to 8 bits and cannot open float colour TIFFs, so those go through
    OpenCV (after Pillow has checked the data is complete, where it can open the file at all).
    """
    path = Path(path)
    try:
        image = _open_quietly(data)
    except UnidentifiedImageError:
        if _tiff_header(data) is not None:
            return _decode_tiff_with_opencv(path, data, max_pixels)
        raise SegAttackError(path, "not an image that can be read (expected PNG, JPEG, TIFF or BMP)")
    except Image.DecompressionBombError as error:
        raise SegAttackError(path, f"image is too large to read safely ({error})") from error
    except Exception as error:  # Pillow raises many types on malformed headers
        raise SegAttackError(path, f"not a readable image ({_describe(error)})") from error

    with image:
        file_format = _SUPPORTED_FORMATS.get(image.format or "")
        if file_format is None:
            raise SegAttackError(
                path, f"{image.format} images are not supported (use PNG, JPEG, TIFF or BMP)"
            )
        _check_size(path, image.width, image.height, max_pixels)
        notes: list[str] = []
        try:
            if file_format == "PNG":
                _verify_png(data)
            pages = getattr(image, "n_frames", 1)
            image.load()
            # Read after load: Pillow turns TIFFs upright while loading and then drops the tag.
            orientation = image.getexif().get(0x0112, 1)
            bits = _stored_bits(image, data)
        except Exception as error:  # truncated or corrupt data
            problem = f"{file_format} file is damaged or truncated ({_describe(error)})"
            raise SegAttackError(path, problem) from error
        if pages > 1:
            notes.append(f"first of {pages} pages")

        # OpenCV and recent Pillow turn a TIFF upright while decoding it (Pillow then drops the
        # tag, so an orientation still present after load is one left for us to apply).
        header = _tiff_header(data) if file_format == "TIFF" else None
        tiff_orientation = header[0].get(274, 1) if header else 1
        mode = image.mode
        if bits > 8 and mode in ("LA", "RGB", "RGBA", "RGBX"):
            stored, mode = _opencv_decode(path, data, file_format)
            decoder_turned = file_format == "TIFF"
        else:
            stored, mode = _pil_array(path, image, file_format, keep_palette, notes)
            decoder_turned = file_format == "TIFF" and orientation == 1
    if decoder_turned:
        orientation = tiff_orientation
    return _upright(stored, mode, file_format, orientation, notes, already_upright=decoder_turned)


def read_image(path: str | os.PathLike, *, max_pixels: int = DEFAULT_MAX_PIXELS,
               slice_index: int | None = None, axis: int | None = None) -> LoadedImage:
    """Read PNG, JPEG, TIFF, BMP, DICOM or NIfTI as float32 H x W x C in [0, 1] (C = 1 or 3).

    uint8 is divided by 255 and uint16 by 65535; float (and other) values already in [0, 1] are
    kept, anything else is min-max scaled; alpha is composited on black and dropped; palette images
    become RGB; the EXIF orientation is applied. ``conversion`` says which of these happened.
    DICOM (a file or a one-series folder) and NIfTI map their stored grid onto [0, 1]
    (:mod:`.medical.reading`); ``slice_index``/``axis`` pick a frame or slice of them.
    """
    from .medical.reading import read_medical_image

    path = Path(path)
    medical = read_medical_image(path, slice_index, axis, max_pixels)
    if medical is not None:
        return medical
    if slice_index is not None or axis is not None:
        raise SegAttackError(path, "a slice or axis applies to DICOM and NIfTI images only")
    data = read_file_bytes(path)
    decoded = decode_image_file(path, data, max_pixels=max_pixels)
    array = decoded.array
    if decoded.mode == "1":
        array = array.astype(np.uint8)
    has_alpha = decoded.mode in ("LA", "RGBA")
    colour = array[..., :-1] if has_alpha else array
    if colour.ndim == 2:
        colour = colour[..., np.newaxis]

    scaled, scale_rule = _scale_to_unit(path, colour, decoded.mode)
    kind = {"1": "1-bit", "L": "greyscale", "LA": "greyscale+alpha", "RGB": "RGB", "RGBA": "RGBA"}
    depth = "" if decoded.mode == "1" else f"{_depth_words(decoded.array.dtype)} "
    parts = [f"{depth}{kind[decoded.mode]} {decoded.file_format} {scale_rule}"]
    if has_alpha:
        alpha = _alpha_to_unit(array[..., -1])
        if np.all(alpha >= 1.0):
            parts.append("alpha dropped (fully opaque)")
        else:
            scaled = scaled * alpha[..., np.newaxis]
            parts.append("alpha dropped (composited on black)")
    parts.extend(decoded.notes)
    pixels = np.ascontiguousarray(np.clip(scaled, 0.0, 1.0), dtype=np.float32)
    return LoadedImage(
        pixels=pixels,
        path=path,
        conversion="; ".join(parts),
        original_dtype=decoded.stored_dtype,
        original_shape=decoded.stored_shape,
        sha256=hashlib.sha256(data).hexdigest(),
        value_scale=_value_scale(colour, scale_rule),
    )


def _value_scale(stored: np.ndarray, scale_rule: str) -> ValueScale | None:
    """What [0, 1] stood for in the file's values (as ``_scale_to_unit`` chose)."""
    if stored.dtype in (np.uint8, np.uint16):
        top = np.iinfo(stored.dtype).max
        return ValueScale(0.0, float(top), int(top), "", f"the {stored.dtype} range 0..{top}")
    if stored.dtype == np.bool_:
        return ValueScale(0.0, 1.0, 1, "", "black 0, white 1")
    if scale_rule.startswith("in ["):
        values = stored.astype(np.float64)
        return ValueScale(float(values.min()), float(values.max()), None, "", "the image's minimum..maximum")
    if scale_rule.startswith("already"):
        return ValueScale(0.0, 1.0, None, "", "values already in [0, 1]")
    return None


def to_uint8(pixels: np.ndarray) -> np.ndarray:
    """Quantise [0, 1] floats to uint8 by rounding (not truncating), as every export does.

    The "final_quantized" metric relies on this: the quantised float image is to_uint8(x) / 255.
    """
    pixels = np.asarray(pixels, dtype=np.float64)
    if np.isnan(pixels).any():
        raise ValueError("cannot quantise an image that contains NaN")
    return np.round(np.clip(pixels, 0.0, 1.0) * 255.0).astype(np.uint8)


def write_rgb_png(path: str | os.PathLike, pixels_float_hwc: np.ndarray) -> None:
    """Write a [0, 1] float image (H x W, H x W x 1 or H x W x 3) as an 8-bit PNG."""
    quantised = to_uint8(pixels_float_hwc)
    if quantised.ndim == 3 and quantised.shape[2] == 1:
        quantised = quantised[..., 0]
    if not (quantised.ndim == 2 or (quantised.ndim == 3 and quantised.shape[2] == 3)):
        raise ValueError(f"expected H x W x 1 or H x W x 3 pixels, got shape {quantised.shape}")
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(quantised)).save(buffer, format="PNG")
    write_file_bytes(path, buffer.getvalue())


# --- decoding details -------------------------------------------------------------------------


def _describe(error: BaseException) -> str:
    text = str(error).strip()
    return text if text else type(error).__name__


def _check_size(path: Path, width: int, height: int, max_pixels: int) -> None:
    if width <= 0 or height <= 0:
        raise SegAttackError(path, f"image has zero size ({width}x{height})")
    if width * height > max_pixels:
        raise SegAttackError(
            path,
            f"image is {width}x{height} = {width * height:,} pixels, more than the limit of "
            f"{max_pixels:,}",
        )


def _open_quietly(data: bytes) -> Image.Image:
    """``Image.open`` without Pillow's DecompressionBombWarning (above ~89 Mpx): ``_check_size``
    enforces our own limit with a one-line error, and the warning would add lines before it.
    Pillow's hard DecompressionBombError (above ~179 Mpx) still applies."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        return Image.open(io.BytesIO(data))


def _verify_png(data: bytes) -> None:
    """Check every chunk's CRC up to IEND: catches a PNG cut anywhere, even after the pixel data."""
    with _open_quietly(data) as image:
        image.verify()


def _stored_bits(image: Image.Image, data: bytes) -> int:
    """Bits per sample in the file; Pillow hides this when it reduces 16-bit colour to 8 bits."""
    if image.format == "PNG" and len(data) > 24:
        return data[24]  # IHDR bit depth, right after the signature, chunk header, width, height
    if image.format == "TIFF":
        bits = getattr(image, "tag_v2", {}).get(258, (8,))
        bits = bits if isinstance(bits, tuple) else (bits,)
        return max(int(b) for b in bits) if bits else 8
    return 8


def _pil_array(
    path: Path, image: Image.Image, file_format: str, keep_palette: bool, notes: list[str]
) -> tuple[np.ndarray, str]:
    """Pillow image -> (stored array, layout mode); palette and exotic modes converted with a note."""
    mode = image.mode
    try:
        if mode in ("P", "PA") and not keep_palette:
            has_alpha = mode == "PA" or "transparency" in image.info
            image = image.convert("RGBA" if has_alpha else "RGB")
            notes.append("palette expanded to RGB")
            mode = image.mode
        elif mode in _CONVERTED_MODES:
            target = _CONVERTED_MODES[mode]
            if mode in ("CMYK", "YCbCr"):
                notes.append(f"{mode} converted to RGB")
            image = image.convert(target)
            mode = target
        array = np.asarray(image)
    except Exception as error:
        problem = f"cannot decode the {file_format} data ({_describe(error)})"
        raise SegAttackError(path, problem) from error

    if mode == "1":
        return array.astype(bool), "1"
    if mode in _GREY_MODES and array.dtype.kind in "uif":
        return array.astype(array.dtype.newbyteorder("=")), "L"  # native byte order
    if mode in ("LA", "RGB", "RGBA", "P", "PA"):
        return array, mode
    raise SegAttackError(path, f"{file_format} colour mode {mode!r} is not supported")


def _opencv_decode(path: Path, data: bytes, file_format: str) -> tuple[np.ndarray, str]:
    """Decode 16-bit or float data with OpenCV: (array in RGB(A) order, layout mode)."""
    try:
        array = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error as error:
        problem = f"cannot decode the {file_format} data ({_describe(error)})"
        raise SegAttackError(path, problem) from error
    if array is None:
        problem = f"{file_format} file is damaged, truncated or in an unsupported layout"
        raise SegAttackError(path, problem)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.ndim == 2:
        return array, "L"
    channels = array.shape[2]
    if channels == 3:
        return np.ascontiguousarray(array[..., ::-1]), "RGB"
    if channels == 4:
        return np.ascontiguousarray(array[..., [2, 1, 0, 3]]), "RGBA"
    if channels == 2:
        return array, "LA"
    raise SegAttackError(
        path, f"image has {channels} channels; expected 1 (grey), 3 (RGB) or 4 (RGBA)"
    )


def _decode_tiff_with_opencv(path: Path, data: bytes, max_pixels: int) -> DecodedFile:
    """TIFFs Pillow cannot open (float RGB, for example): header checked before OpenCV decodes."""
    tags, pages = _tiff_header(data)
    width, height = tags.get(256), tags.get(257)
    if width is None or height is None:  # without a size we cannot bound the memory decoding takes
        raise SegAttackError(path, "TIFF file is damaged (no image size in its header)")
    _check_size(path, width, height, max_pixels)
    samples = tags.get(277, 1)
    if samples not in (1, 2, 3, 4):
        raise SegAttackError(
            path, f"TIFF has {samples} channels; expected 1 (grey), 3 (RGB) or 4 (RGBA)"
        )
    stored, mode = _opencv_decode(path, data, "TIFF")
    _check_size(path, stored.shape[1], stored.shape[0], max_pixels)
    notes = [f"first of {pages} pages"] if pages > 1 else []
    # OpenCV's TIFF decoder applies the orientation tag itself.
    return _upright(stored, mode, "TIFF", tags.get(274, 1), notes, already_upright=True)


def _tiff_header(data: bytes) -> tuple[dict[int, int], int] | None:
    """(scalar tags of the first page, number of pages) of a classic TIFF, or None if not a TIFF."""
    if len(data) < 8 or data[:4] not in (b"II*\x00", b"MM\x00*"):
        return None
    order = "<" if data[:2] == b"II" else ">"
    tags: dict[int, int] = {}
    offset = struct.unpack_from(order + "I", data, 4)[0]
    pages, seen = 0, set()
    while 0 < offset and offset + 2 <= len(data) and offset not in seen and pages < 100_000:
        seen.add(offset)
        pages += 1
        count = struct.unpack_from(order + "H", data, offset)[0]
        for index in range(count if pages == 1 else 0):
            entry = offset + 2 + 12 * index
            if entry + 12 > len(data):
                break
            tag, kind, number = struct.unpack_from(order + "HHI", data, entry)
            if number == 1 and kind in (3, 4):  # one SHORT or LONG, stored in the entry itself
                tags[tag] = struct.unpack_from(order + ("H" if kind == 3 else "I"), data, entry + 8)[0]
        next_pointer = offset + 2 + 12 * count
        if next_pointer + 4 > len(data):
            break
        offset = struct.unpack_from(order + "I", data, next_pointer)[0]
    return tags, max(pages, 1)


def _upright(
    stored: np.ndarray,
    mode: str,
    file_format: str,
    orientation: int,
    notes: list[str],
    *,
    already_upright: bool = False,
) -> DecodedFile:
    """Apply the EXIF orientation (unless the decoder did) so the array looks as in a viewer."""
    array = stored
    if orientation in _ORIENTATIONS:
        turn, words = _ORIENTATIONS[orientation]
        if not already_upright:
            array = turn(stored)
        notes = notes + [f"EXIF orientation {orientation} applied ({words})"]
    return DecodedFile(
        array=np.ascontiguousarray(array),
        mode=mode,
        file_format=file_format,
        stored_dtype=str(stored.dtype),
        stored_shape=tuple(int(n) for n in array.shape),
        notes=tuple(notes),
    )


# --- scaling to [0, 1] ------------------------------------------------------------------------


def _depth_words(dtype: np.dtype) -> str:
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return "1-bit"
    if dtype.kind == "f":
        return f"{dtype.itemsize * 8}-bit float"
    if dtype.kind == "i":
        return f"{dtype.itemsize * 8}-bit signed"
    return f"{dtype.itemsize * 8}-bit"


def _scale_to_unit(path: Path, values: np.ndarray, mode: str) -> tuple[np.ndarray, str]:
    """Stored colour values -> float in [0, 1], with the words for the rule."""
    if values.dtype == np.bool_ or mode == "1":
        return values.astype(np.float32), "read as black 0, white 1"
    if values.dtype == np.uint8:
        return values.astype(np.float32) / np.float32(255.0), "scaled by 1/255"
    if values.dtype == np.uint16:
        return values.astype(np.float32) / np.float32(65535.0), "scaled by 1/65535"
    as_float = values.astype(np.float64)
    if not np.isfinite(as_float).all():
        raise SegAttackError(path, "image contains NaN or infinite values")
    low, high = float(as_float.min()), float(as_float.max())
    if low >= 0.0 and high <= 1.0:
        return as_float.astype(np.float32), "already in [0, 1], kept"
    if high == low:
        rule = f"constant value {low:g} outside [0, 1], set to 0"
        return np.zeros_like(as_float, dtype=np.float32), rule
    scaled = (as_float / 2 - low / 2) / (high / 2 - low / 2)  # halved: float64 extremes stay finite
    return scaled.astype(np.float32), f"in [{low:g}, {high:g}], min-max scaled to [0, 1]"


def _alpha_to_unit(alpha: np.ndarray) -> np.ndarray:
    """Alpha on [0, 1]: integer alpha by its type's maximum, float alpha clipped."""
    if alpha.dtype.kind in "ui":
        return alpha.astype(np.float32) / np.float32(np.iinfo(alpha.dtype).max)
    alpha = np.nan_to_num(alpha.astype(np.float32), nan=1.0)
    return np.clip(alpha, 0.0, 1.0)
