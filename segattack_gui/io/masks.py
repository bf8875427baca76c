"""Read target masks as class ids and write them as palette PNGs.

Masks arrive in many shapes: class-id PNGs, palette PNGs, 0/255 binary PNGs, anti-aliased greyscale
masks (the RIM-ONE optic discs), RGB masks drawn in the class colours. Each is turned into int64
class ids by one rule, stated in ``MaskFile.rule``; anything ambiguous or out of range is a
SegAttackError that names the file and the offending values, never a silent guess.
"""

from __future__ import annotations

import colorsys
import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from segattack_gui.errors import SegAttackError
from segattack_gui.io.files import read_file_bytes, write_file_bytes
from segattack_gui.io.images import DEFAULT_MAX_PIXELS, decode_image_file
from segattack_gui.io.medical.nifti import is_nifti_path, read_nifti_labels
from segattack_gui.io.medical.source import MedicalSource

# Okabe & Ito (2008), then Paul Tol's "muted" scheme: both chosen to stay apart for colour-blind eyes.
_OKABE_ITO = [
    (230, 159, 0), (86, 180, 233), (0, 158, 115), (240, 228, 66),
    (0, 114, 178), (213, 94, 0), (204, 121, 167),
]
_TOL_MUTED = [
    (204, 102, 119), (51, 34, 136), (221, 204, 119), (17, 119, 51), (136, 204, 238),
    (68, 170, 153), (153, 153, 51), (136, 34, 85), (170, 68, 153),
]


@dataclass(frozen=True)
class MaskFile:
    """Class ids read from a mask file, with the rule that produced them."""

    class_ids: np.ndarray
    """int64 H x W, every value in [0, num_classes)."""
    path: Path
    rule: str
    """One sentence stating how the file's values became class ids."""
    sha256: str = ""
    """Of the file's bytes as read (what summary.json records as the target's or region's SHA-256)."""


REGION_PALETTE = [(0, 0, 0), (255, 255, 255)]
"""A perturbation region as a file: index 0 (black) stays as it is, 1 (white) may change."""


def default_colors(num_classes: int) -> list[tuple[int, int, int]]:
    """Black for the background, then distinct colour-blind-friendly colours, one per class."""
    if num_classes < 1:
        raise ValueError(f"num_classes must be at least 1, got {num_classes}")
    colors: list[tuple[int, int, int]] = [(0, 0, 0)] + _OKABE_ITO + _TOL_MUTED
    seen = set(colors)
    step = 0
    while len(colors) < num_classes:  # beyond the named schemes: golden-ratio hues
        step += 1
        hue = (step * 0.618033988749895) % 1.0
        saturation = (0.9, 0.6, 0.75)[step % 3]
        value = (0.95, 0.7, 0.5)[(step // 3) % 3]
        rgb = tuple(int(round(c * 255)) for c in colorsys.hsv_to_rgb(hue, saturation, value))
        if rgb not in seen:
            seen.add(rgb)
            colors.append(rgb)
    return colors[:num_classes]


def read_mask(
    path: str | os.PathLike,
    *,
    num_classes: int,
    palette: list[tuple[int, int, int]] | None = None,
    expected_shape: tuple[int, int] | None = None,
    threshold: int = 20,
    binary_class: int | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    image_source: MedicalSource | None = None,
) -> MaskFile:
    """Read a mask file as int64 class ids in [0, num_classes).

    Single-channel values are class ids when all are below num_classes; else {0, 255} is a binary
    mask (255 -> 1); else, for two-class models, a greyscale mask reaching 255 is anti-aliased and
    class 1 is where value > threshold (the RIM-ONE rule of the ASMA authors). ``binary_class``
    names the class a binary or anti-aliased mask marks, for any number of classes (a disc mask
    for a disc-and-cup model). Palette PNGs give their indices. RGB masks must use exactly the
    class colours (``palette``, default ``default_colors``) or be grey. Constant alpha is
    ignored; varying alpha is refused. NIfTI label maps give their values as class ids, from the
    slice the image (``image_source``) was read from, and must share its geometry.
    """
    if num_classes < 1:
        raise ValueError(f"num_classes must be at least 1, got {num_classes}")
    path = Path(path)
    if is_nifti_path(path):
        return _nifti_mask(path, num_classes, expected_shape, image_source)
    data = read_file_bytes(path)
    decoded = decode_image_file(path, data, max_pixels=max_pixels, keep_palette=True)
    array, mode = decoded.array, decoded.mode
    height, width = array.shape[:2]
    if expected_shape is not None and (height, width) != tuple(expected_shape):
        raise SegAttackError(
            path,
            f"mask is {height}x{width} but the image is {expected_shape[0]}x{expected_shape[1]} "
            "(height x width)",
        )

    notes = list(decoded.notes)
    if mode in ("LA", "PA", "RGBA"):
        alpha = array[..., -1]
        if alpha.min() != alpha.max():
            raise SegAttackError(
                path, "mask has a transparency (alpha) channel that varies; save it without one"
            )
        notes.insert(0, "constant alpha ignored")
        array, mode = array[..., :-1], mode[:-1]
        if mode in ("L", "P"):
            array = array[..., 0]

    source = f"{decoded.file_format} ({_kind_words(mode, array.dtype)})"
    if mode == "RGB":
        class_ids, rule = _ids_from_colours(path, array, num_classes, palette, threshold, binary_class, source)
    else:
        if mode == "1":
            array = array.astype(np.uint8)
        class_ids, rule = _ids_from_values(
            path, array, num_classes, threshold, binary_class, allow_threshold=(mode == "L"), source=source
        )
    return MaskFile(
        class_ids=np.ascontiguousarray(class_ids, dtype=np.int64),
        path=path,
        rule="; ".join([rule] + notes),
        sha256=hashlib.sha256(data).hexdigest(),
    )


def _nifti_mask(path: Path, num_classes: int, expected_shape, image_source: MedicalSource | None) -> MaskFile:
    if expected_shape is None:
        raise ValueError("a NIfTI mask is read against an image's shape")
    class_ids, rule, sha256 = read_nifti_labels(path, image_source, tuple(expected_shape))
    present = np.unique(class_ids)
    offending = present[(present < 0) | (present >= num_classes)]
    if offending.size:
        raise SegAttackError(path, f"mask holds class ids {_list_values(offending)}, but the model has {num_classes} "
                                   f"classes (ids 0 to {num_classes - 1})")
    return MaskFile(class_ids=class_ids, path=path, rule=rule, sha256=sha256)


def write_class_png(
    path: str | os.PathLike, class_ids: np.ndarray, colors: list[tuple[int, int, int]]
) -> None:
    """Write class ids as a palette PNG: pixel values are the ids, the palette their colours.

    It reopens as ids (``read_mask``) and looks right in any image viewer.
    """
    class_ids = np.asarray(class_ids)
    if class_ids.ndim != 2:
        raise ValueError(f"class_ids must be H x W, got shape {class_ids.shape}")
    if not (np.issubdtype(class_ids.dtype, np.integer) or class_ids.dtype == np.bool_):
        raise ValueError(f"class_ids must be integers, got {class_ids.dtype}")
    if not 1 <= len(colors) <= 256:
        raise ValueError(f"a palette PNG holds 1 to 256 colours, got {len(colors)}")
    if class_ids.size and (class_ids.min() < 0 or class_ids.max() >= len(colors)):
        raise ValueError(
            f"class ids must be in [0, {len(colors)}), got {class_ids.min()}..{class_ids.max()}"
        )
    flat_palette = [int(channel) for color in colors for channel in color]
    flat_palette += [0] * (3 * 256 - len(flat_palette))
    image = Image.fromarray(np.ascontiguousarray(class_ids, dtype=np.uint8))
    image.putpalette(flat_palette)  # turns the 'L' image into 'P' with this palette
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    write_file_bytes(path, buffer.getvalue())


# --- rules --------------------------------------------------------------------------------------


def _kind_words(mode: str, dtype: np.dtype) -> str:
    if mode == "1":
        return "1-bit"
    if mode == "P":
        return "palette"
    bits = f"{np.dtype(dtype).itemsize * 8}-bit"
    bits += {"f": " float", "i": " signed"}.get(np.dtype(dtype).kind, "")
    return f"{bits} {'RGB' if mode == 'RGB' else 'greyscale'}"


def _list_values(values: np.ndarray, limit: int = 10) -> str:
    shown = ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in values[:limit].tolist())
    return shown + (f" and {len(values) - limit} more" if len(values) > limit else "")


def _ids_from_values(
    path: Path,
    values: np.ndarray,
    num_classes: int,
    threshold: int,
    binary_class: int | None,
    *,
    allow_threshold: bool,
    source: str,
) -> tuple[np.ndarray, str]:
    """One value per pixel -> class ids: direct ids, binary 0/255 (or 0/65535), or thresholded."""
    if values.dtype.kind == "f":
        if not np.isfinite(values).all() or not np.array_equal(values, np.round(values)):
            raise SegAttackError(path, "mask holds non-integer values; save class ids as integers")
    present = np.unique(values)
    if present.size == 0:
        raise SegAttackError(path, "mask is empty")
    binary = set(present.tolist()) <= {0, 1} or (set(present.tolist()) <= {0, 255, 65535} and present.size <= 2)
    told = binary_class is not None and (binary or allow_threshold and present.max() == 255)
    if told and not 1 <= binary_class < num_classes:
        raise SegAttackError(path, f"a binary mask cannot mark class {binary_class}: the model has classes "
                                   f"0 to {num_classes - 1}, and 0 is the background")
    if told and set(present.tolist()) <= {0, 1}:  # a 0/1 (or 1-bit) mask told which class it marks
        return values.astype(np.int64) * binary_class, f"{source}: binary 0/1 mask, 1 -> class {binary_class}"
    if present.min() >= 0 and present.max() < num_classes:
        return values.astype(np.int64), f"{source}: pixel values are class ids"
    marked = 1 if binary_class is None else binary_class
    if num_classes >= 2:
        for full in (255, 65535):
            if set(present.tolist()) <= {0, full}:
                rule = f"{source}: binary 0/{full} mask, {full} -> class {marked}"
                return (values == full).astype(np.int64) * marked, rule
    two_class_or_told = num_classes == 2 or binary_class is not None
    if allow_threshold and two_class_or_told and values.dtype == np.uint8 and present.max() == 255:
        rule = (
            f"{source}: anti-aliased mask ({present.size} grey levels), "
            f"class {marked} where value > {threshold}"
        )
        return (values > threshold).astype(np.int64) * marked, rule
    offending = present[(present < 0) | (present >= num_classes)]
    hint = ""
    if allow_threshold and values.dtype == np.uint8 and present.max() == 255:
        # Grey edges of a binary mask: with more than two classes, which one it marks is not ours to guess.
        hint = ("; it looks like an anti-aliased binary mask: name the class it marks (--mask-class; in the "
                "window, select that label), or save it as 0/255 (255 -> class 1) or as class ids")
    raise SegAttackError(
        path,
        f"mask holds class ids {_list_values(offending)}, but the model has {num_classes} "
        f"classes (ids 0 to {num_classes - 1}){hint}",
    )


def _ids_from_colours(
    path: Path,
    rgb: np.ndarray,
    num_classes: int,
    palette: list[tuple[int, int, int]] | None,
    threshold: int,
    binary_class: int | None,
    source: str,
) -> tuple[np.ndarray, str]:
    """RGB -> class ids by exact colour match; a grey RGB mask falls back to the value rules."""
    if rgb.dtype != np.uint8:
        raise SegAttackError(path, f"{source} masks are not supported; use 8-bit colours or class ids")
    colors = list(palette)[:num_classes] if palette is not None else default_colors(num_classes)
    keys = (rgb[..., 0].astype(np.int64) << 16) | (rgb[..., 1].astype(np.int64) << 8) | rgb[..., 2]
    present, inverse = np.unique(keys.ravel(), return_inverse=True)
    color_keys = np.array([(r << 16) | (g << 8) | b for r, g, b in colors], dtype=np.int64)
    color_keys, first_class = np.unique(color_keys, return_index=True)  # a repeated colour: first class
    known = np.isin(present, color_keys)
    which = "given" if palette is not None else "default"
    if known.all():
        ids_of_present = first_class[np.searchsorted(color_keys, present)].astype(np.int64)
        class_ids = ids_of_present[inverse].reshape(keys.shape)
        return class_ids, f"{source}: colours matched exactly to the {which} class colours"
    if np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 0], rgb[..., 2]):
        class_ids, rule = _ids_from_values(
            path, rgb[..., 0], num_classes, threshold, binary_class, allow_threshold=True, source=source
        )
        return class_ids, rule + " (grey RGB read as one channel)"
    first = int(np.flatnonzero(~known[inverse])[0])
    row, column = divmod(first, keys.shape[1])
    color = tuple(int(c) for c in rgb[row, column])
    listed = ", ".join(f"{c}={tuple(colour)}" for c, colour in enumerate(colors[:8]))
    raise SegAttackError(
        path,
        f"colour {color} at row {row}, column {column} is not a class colour "
        f"({which} colours: {listed}{', ...' if len(colors) > 8 else ''})",
    )
