"""Whatever bytes a file holds, read_image and read_mask return a valid result or a SegAttackError."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from segattack_gui.errors import SegAttackError
from segattack_gui.io.images import read_image
from segattack_gui.io.masks import read_mask

# Pillow warns about the damaged headers these tests feed it; the readers' answer is what counts.
pytestmark = [
    pytest.mark.filterwarnings("ignore::UserWarning"),
    pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning"),
]

MAX_PIXELS = 1_000_000  # a mutated header may claim a huge image: keep each example cheap
SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
MAGIC_PREFIXES = [b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"II*\x00", b"MM\x00*", b"BM"]


def _check_both_readers(path: Path, num_classes: int) -> None:
    """The property: a valid result or SegAttackError, never any other exception."""
    try:
        image = read_image(path, max_pixels=MAX_PIXELS)
    except SegAttackError as error:
        assert str(path) in str(error)
    else:
        pixels = image.pixels
        assert pixels.dtype == np.float32 and pixels.ndim == 3 and pixels.shape[2] in (1, 3)
        assert pixels.shape[0] >= 1 and pixels.shape[1] >= 1
        assert np.isfinite(pixels).all() and pixels.min() >= 0.0 and pixels.max() <= 1.0
        assert image.conversion

    try:
        mask = read_mask(path, num_classes=num_classes, max_pixels=MAX_PIXELS)
    except SegAttackError as error:
        assert str(path) in str(error)
    else:
        ids = mask.class_ids
        assert ids.dtype == np.int64 and ids.ndim == 2
        assert ids.min() >= 0 and ids.max() < num_classes
        assert mask.rule


@pytest.fixture
def work_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("property")


@SETTINGS
@given(
    prefix=st.sampled_from(MAGIC_PREFIXES),
    body=st.binary(max_size=600),
    suffix=st.sampled_from([".png", ".jpg", ".tif", ".bmp"]),
    num_classes=st.integers(1, 4),
)
def test_random_bytes(work_dir, prefix, body, suffix, num_classes):
    path = work_dir / f"random{suffix}"
    path.write_bytes(prefix + body)
    _check_both_readers(path, num_classes)


_DTYPES = [np.uint8, np.uint16, np.int16, np.int32, np.float32, np.float64, np.bool_]


@st.composite
def _random_arrays(draw):
    dtype = np.dtype(draw(st.sampled_from(_DTYPES)))
    height, width = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    channels = draw(st.sampled_from([None, 1, 2, 3, 4, 5]))
    shape = (height, width) if channels is None else (height, width, channels)
    if dtype.kind == "f":
        width = 32 if dtype == np.float32 else 64
        elements = st.floats(width=width, allow_nan=True, allow_infinity=True)
    else:
        elements = None
    return draw(arrays(dtype, shape, elements=elements))


def _encode(array: np.ndarray, writer: str, extension: str) -> bytes | None:
    """Encode with Pillow or OpenCV; None where that library refuses this array."""
    try:
        if writer == "opencv":
            ok, encoded = cv2.imencode(extension, array)
            return encoded.tobytes() if ok else None
        squeezed = array[..., 0] if array.ndim == 3 and array.shape[2] == 1 else array
        buffer = io.BytesIO()
        file_format = {".png": "PNG", ".jpg": "JPEG", ".tif": "TIFF", ".bmp": "BMP"}[extension]
        Image.fromarray(squeezed).save(buffer, format=file_format)
        return buffer.getvalue()
    except Exception:  # the encoder's refusal is not what this test is about
        return None


@SETTINGS
@given(
    array=_random_arrays(),
    writer=st.sampled_from(["pillow", "opencv"]),
    extension=st.sampled_from([".png", ".jpg", ".tif", ".bmp"]),
    num_classes=st.integers(1, 4),
)
def test_random_arrays_written_as_files(work_dir, array, writer, extension, num_classes):
    encoded = _encode(array, writer, extension)
    if encoded is None:
        return
    path = work_dir / f"array{extension}"
    path.write_bytes(encoded)
    _check_both_readers(path, num_classes)


def _valid_files() -> dict[str, bytes]:
    rng = np.random.default_rng(5)
    rgb = rng.integers(0, 256, (12, 10, 3), dtype=np.uint8)
    ids = rng.integers(0, 3, (12, 10), dtype=np.uint8)
    files = {}
    for name, image, extension in [
        ("rgb", Image.fromarray(rgb), "PNG"),
        ("grey", Image.fromarray(ids * 100), "PNG"),
        ("photo", Image.fromarray(rgb), "JPEG"),
        ("tiff", Image.fromarray(rgb), "TIFF"),
        ("bmp", Image.fromarray(rgb), "BMP"),
    ]:
        buffer = io.BytesIO()
        image.save(buffer, format=extension)
        files[name] = buffer.getvalue()
    palette = Image.fromarray(ids)
    palette.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0])
    buffer = io.BytesIO()
    palette.save(buffer, format="PNG")
    files["palette"] = buffer.getvalue()
    files["rgb16"] = cv2.imencode(".png", rgb.astype(np.uint16) * 257)[1].tobytes()
    files["float_rgb"] = cv2.imencode(".tiff", rgb.astype(np.float32) / 255)[1].tobytes()
    return files


VALID_FILES = _valid_files()


@SETTINGS
@given(
    name=st.sampled_from(sorted(VALID_FILES)),
    flips=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=6),
    keep=st.one_of(st.none(), st.integers(0, 10_000)),
    num_classes=st.integers(1, 4),
)
def test_mutated_valid_files(work_dir, name, flips, keep, num_classes):
    data = bytearray(VALID_FILES[name])
    for position, value in flips:
        data[position % len(data)] = value
    if keep is not None:
        data = data[: keep % (len(data) + 1)]
    path = work_dir / f"mutated_{name}.img"
    path.write_bytes(bytes(data))
    _check_both_readers(path, num_classes)
