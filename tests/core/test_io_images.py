"""read_image / write_rgb_png / to_uint8 on small files of every kind written into tmp_path."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from segattack_gui.errors import SegAttackError
from segattack_gui.io.images import LoadedImage, read_image, to_uint8, write_rgb_png

SHARED_DATA = Path(__file__).parents[2].parent / "shared" / "data"


def _ramp(height: int, width: int, channels: int, maximum: int, dtype) -> np.ndarray:
    """Distinct values per pixel and channel, so a swapped channel or axis shows."""
    count = height * width * channels
    values = (np.arange(count, dtype=np.float64) * 7919) % (maximum + 1)
    return values.reshape(height, width, channels).astype(dtype)


def _write_cv2(path: Path, array: np.ndarray) -> Path:
    """Encode with OpenCV (array in OpenCV's BGR order) and write through Python, any path."""
    ok, encoded = cv2.imencode(path.suffix, array)
    assert ok
    path.write_bytes(encoded.tobytes())
    return path


def _minimal_tiff(array: np.ndarray) -> bytes:
    """An uncompressed one-strip uint8 TIFF with any number of samples (Pillow and OpenCV won't)."""
    height, width, samples = array.shape
    pixels = array.astype(np.uint8).tobytes()
    entries = [
        (256, 4, width), (257, 4, height), (258, 3, 8), (259, 3, 1), (262, 3, 2),
        (273, 4, 0), (277, 3, samples), (278, 4, height), (279, 4, len(pixels)), (284, 3, 1),
    ]
    data_offset = 8 + 2 + 12 * len(entries) + 4
    out = bytearray(b"II*\x00" + struct.pack("<IH", 8, len(entries)))
    for tag, kind, value in entries:
        value = data_offset if tag == 273 else value
        packed = struct.pack("<HH", value, 0) if kind == 3 else struct.pack("<I", value)
        out += struct.pack("<HHI", tag, kind, 1) + packed
    return bytes(out + struct.pack("<I", 0) + pixels)


def _check_loaded(image: LoadedImage, height: int, width: int, channels: int) -> None:
    assert image.pixels.dtype == np.float32
    assert image.pixels.shape == (height, width, channels)
    assert image.pixels.flags.c_contiguous
    assert 0.0 <= image.pixels.min() and image.pixels.max() <= 1.0


# --- integer images ---------------------------------------------------------------------------


def test_8bit_rgb_png_is_divided_by_255(tmp_path):
    stored = _ramp(6, 9, 3, 255, np.uint8)
    Image.fromarray(stored).save(tmp_path / "rgb.png")
    image = read_image(tmp_path / "rgb.png")
    _check_loaded(image, 6, 9, 3)
    np.testing.assert_array_equal(image.pixels, stored.astype(np.float32) / np.float32(255))
    assert image.conversion == "8-bit RGB PNG scaled by 1/255"
    assert image.original_dtype == "uint8" and image.original_shape == (6, 9, 3)
    assert image.path == tmp_path / "rgb.png"


def test_8bit_greyscale_stays_one_channel(tmp_path):
    stored = _ramp(5, 7, 1, 255, np.uint8)[..., 0]
    Image.fromarray(stored).save(tmp_path / "grey.png")
    image = read_image(tmp_path / "grey.png")
    _check_loaded(image, 5, 7, 1)
    np.testing.assert_allclose(image.pixels[..., 0], stored / 255.0, atol=1e-7)
    assert "greyscale" in image.conversion and "1/255" in image.conversion


@pytest.mark.parametrize("suffix, name", [(".png", "PNG"), (".tif", "TIFF")])
def test_16bit_greyscale_is_divided_by_65535(tmp_path, suffix, name):
    stored = _ramp(8, 5, 1, 65535, np.uint16)[..., 0]
    path = _write_cv2(tmp_path / f"grey16{suffix}", stored)
    image = read_image(path)
    _check_loaded(image, 8, 5, 1)
    np.testing.assert_allclose(image.pixels[..., 0], stored / 65535.0, atol=1e-7)
    assert image.conversion == f"16-bit greyscale {name} scaled by 1/65535"
    assert image.original_dtype == "uint16"


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16bit_colour_keeps_full_precision_and_rgb_order(tmp_path, suffix):
    rgb = _ramp(4, 6, 3, 65535, np.uint16)
    path = _write_cv2(tmp_path / f"rgb16{suffix}", rgb[..., ::-1])  # OpenCV writes BGR
    image = read_image(path)
    _check_loaded(image, 4, 6, 3)
    np.testing.assert_allclose(image.pixels, rgb / 65535.0, atol=1e-7)
    assert "16-bit RGB" in image.conversion and "1/65535" in image.conversion


def test_16bit_rgba_tiff_with_varying_alpha_is_composited_on_black(tmp_path):
    rgb = _ramp(4, 5, 3, 65535, np.uint16)
    alpha = np.full((4, 5, 1), 65535, np.uint16)
    alpha[0, 0] = 0
    alpha[1, 1] = 32768
    bgra = np.concatenate([rgb[..., ::-1], alpha], axis=2)
    image = read_image(_write_cv2(tmp_path / "rgba16.tif", bgra))
    _check_loaded(image, 4, 5, 3)
    expected = rgb / 65535.0 * (alpha / 65535.0)
    np.testing.assert_allclose(image.pixels, expected, atol=1e-6)
    assert "alpha dropped (composited on black)" in image.conversion
    assert image.original_shape == (4, 5, 4)


def test_rgba_png_opaque_alpha_is_dropped(tmp_path):
    rgba = _ramp(3, 4, 4, 255, np.uint8)
    rgba[..., 3] = 255
    Image.fromarray(rgba, "RGBA").save(tmp_path / "opaque.png")
    image = read_image(tmp_path / "opaque.png")
    _check_loaded(image, 3, 4, 3)
    np.testing.assert_allclose(image.pixels, rgba[..., :3] / 255.0, atol=1e-7)
    assert "alpha dropped (fully opaque)" in image.conversion


def test_rgba_png_transparent_pixels_become_black(tmp_path):
    rgba = np.full((2, 2, 4), 200, np.uint8)
    rgba[..., 3] = [[255, 0], [51, 255]]
    Image.fromarray(rgba, "RGBA").save(tmp_path / "alpha.png")
    image = read_image(tmp_path / "alpha.png")
    expected = np.array([[200, 0], [200 * 0.2, 200]]) / 255
    np.testing.assert_allclose(image.pixels[..., 0], expected, atol=1e-6)
    assert image.conversion.startswith("8-bit RGBA PNG scaled by 1/255")
    assert "composited on black" in image.conversion


def test_greyscale_with_alpha_stays_one_channel(tmp_path):
    la = np.zeros((3, 3, 2), np.uint8)
    la[..., 0] = 100
    la[..., 1] = 255
    Image.fromarray(la, "LA").save(tmp_path / "la.png")
    image = read_image(tmp_path / "la.png")
    _check_loaded(image, 3, 3, 1)
    np.testing.assert_allclose(image.pixels, 100 / 255.0, atol=1e-7)


def test_palette_png_becomes_rgb(tmp_path):
    indices = np.array([[0, 1, 2], [2, 1, 0]], np.uint8)
    palette_image = Image.fromarray(indices)
    palette_image.putpalette([0, 0, 0, 255, 0, 0, 10, 20, 30])
    palette_image.save(tmp_path / "palette.png")
    image = read_image(tmp_path / "palette.png")
    _check_loaded(image, 2, 3, 3)
    colours = np.array([[0, 0, 0], [255, 0, 0], [10, 20, 30]]) / 255.0
    np.testing.assert_allclose(image.pixels, colours[indices], atol=1e-7)
    assert "palette expanded to RGB" in image.conversion


def test_palette_png_with_transparency_is_composited(tmp_path):
    indices = np.array([[0, 1]], np.uint8)
    palette_image = Image.fromarray(indices)
    palette_image.putpalette([90, 90, 90, 255, 255, 255])
    palette_image.save(tmp_path / "transparent.png", transparency=0)
    image = read_image(tmp_path / "transparent.png")
    np.testing.assert_allclose(image.pixels[0], [[0, 0, 0], [1, 1, 1]], atol=1e-7)


def test_1bit_image_reads_as_zero_and_one(tmp_path):
    bits = np.array([[True, False], [False, True]])
    Image.fromarray(bits).save(tmp_path / "bits.png")
    image = read_image(tmp_path / "bits.png")
    np.testing.assert_array_equal(image.pixels[..., 0], bits.astype(np.float32))
    assert image.original_dtype == "bool"


def test_bmp(tmp_path):
    stored = _ramp(5, 4, 3, 255, np.uint8)
    Image.fromarray(stored).save(tmp_path / "image.bmp")
    image = read_image(tmp_path / "image.bmp")
    np.testing.assert_allclose(image.pixels, stored / 255.0, atol=1e-7)
    assert "BMP" in image.conversion


def test_jpeg_reads_close_to_what_was_saved(tmp_path):
    stored = np.full((16, 16, 3), (200, 40, 90), np.uint8)
    Image.fromarray(stored).save(tmp_path / "photo.jpg", quality=95)
    image = read_image(tmp_path / "photo.jpg")
    _check_loaded(image, 16, 16, 3)
    np.testing.assert_allclose(image.pixels, stored / 255.0, atol=4 / 255)
    assert image.conversion == "8-bit RGB JPEG scaled by 1/255"


# --- float images -----------------------------------------------------------------------------


def test_float_tiff_within_unit_range_is_kept(tmp_path):
    stored = np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4)
    Image.fromarray(stored, "F").save(tmp_path / "float.tif")
    image = read_image(tmp_path / "float.tif")
    _check_loaded(image, 3, 4, 1)
    np.testing.assert_array_equal(image.pixels[..., 0], stored)
    assert image.conversion == "32-bit float greyscale TIFF already in [0, 1], kept"
    assert image.original_dtype == "float32"


def test_float_tiff_out_of_range_is_min_max_scaled(tmp_path):
    stored = np.array([[-2.0, 0.0], [3.0, 8.0]], np.float32)
    Image.fromarray(stored, "F").save(tmp_path / "hdr.tif")
    image = read_image(tmp_path / "hdr.tif")
    np.testing.assert_allclose(image.pixels[..., 0], [[0.0, 0.2], [0.5, 1.0]], atol=1e-7)
    assert "in [-2, 8], min-max scaled to [0, 1]" in image.conversion


def test_float_rgb_tiff_pillow_cannot_open_goes_through_opencv(tmp_path):
    rgb = np.random.default_rng(1).random((5, 6, 3)).astype(np.float32)
    image = read_image(_write_cv2(tmp_path / "float_rgb.tif", rgb[..., ::-1]))
    _check_loaded(image, 5, 6, 3)
    np.testing.assert_array_equal(image.pixels, rgb)
    assert image.conversion == "32-bit float RGB TIFF already in [0, 1], kept"


def test_float64_greyscale_tiff_with_extreme_values_stays_finite(tmp_path):
    stored = np.array([[-1e308, 0.0], [1e308, 5.0]], np.float64)
    image = read_image(_write_cv2(tmp_path / "wide.tif", stored))
    np.testing.assert_allclose(image.pixels[..., 0], [[0.0, 0.5], [1.0, 0.5]], atol=1e-7)
    assert image.conversion.startswith("64-bit float greyscale TIFF")


def test_signed_16bit_tiff_is_min_max_scaled(tmp_path):
    stored = np.array([[-1000, 0], [3000, 1000]], np.int16)
    image = read_image(_write_cv2(tmp_path / "ct.tif", np.stack([stored] * 3, axis=2)))
    np.testing.assert_allclose(image.pixels[..., 1], [[0.0, 0.25], [1.0, 0.5]], atol=1e-7)
    assert "min-max scaled" in image.conversion


def test_float_tiff_with_nan_is_refused(tmp_path):
    stored = np.array([[0.5, np.nan]], np.float32)
    Image.fromarray(stored, "F").save(tmp_path / "nan.tif")
    with pytest.raises(SegAttackError, match="NaN"):
        read_image(tmp_path / "nan.tif")


# --- layout: pages, orientation, paths --------------------------------------------------------


def test_multipage_tiff_reads_the_first_page(tmp_path):
    pages = [Image.fromarray(np.full((4, 4), value, np.uint8)) for value in (10, 20, 30)]
    pages[0].save(tmp_path / "stack.tif", save_all=True, append_images=pages[1:])
    image = read_image(tmp_path / "stack.tif")
    np.testing.assert_allclose(image.pixels, 10 / 255.0, atol=1e-7)
    assert "first of 3 pages" in image.conversion


def test_jpeg_exif_orientation_6_is_rotated_clockwise(tmp_path):
    stored = np.zeros((32, 64, 3), np.uint8)  # 32 high, 64 wide; left half white
    stored[:, :32] = 255
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(stored).save(tmp_path / "camera.jpg", exif=exif, quality=95)
    image = read_image(tmp_path / "camera.jpg")
    _check_loaded(image, 64, 32, 3)  # upright: 64 high, 32 wide
    assert image.pixels[:28].mean() > 0.95  # the stored left half is now the top half
    assert image.pixels[36:].mean() < 0.05
    assert "EXIF orientation 6 applied (rotated 90° clockwise)" in image.conversion
    assert image.original_shape == (64, 32, 3)


# EXIF orientation -> the Pillow transpose that shows the stored image upright (EXIF 2.3, Table 6).
_UPRIGHT = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _upright_reference(stored: np.ndarray, orientation: int) -> np.ndarray:
    method = _UPRIGHT[orientation]
    image = Image.fromarray(stored)
    return np.asarray(image if method is None else image.transpose(method))


@pytest.mark.parametrize("suffix", [".tif", ".png", ".jpg"])
@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_orientation_is_applied_once(tmp_path, orientation, suffix):
    stored = np.kron(_ramp(3, 5, 3, 255, np.uint8), np.ones((8, 8, 1), np.uint8))  # JPEG-safe blocks
    exif = Image.Exif()
    exif[0x0112] = orientation
    options = {"quality": 98, "subsampling": 0} if suffix == ".jpg" else {}
    Image.fromarray(stored).save(tmp_path / f"oriented{suffix}", exif=exif, **options)
    image = read_image(tmp_path / f"oriented{suffix}")
    tolerance = 12 / 255 if suffix == ".jpg" else 1e-7
    expected = _upright_reference(stored, orientation) / 255.0
    np.testing.assert_allclose(image.pixels, expected, atol=tolerance)
    assert (f"EXIF orientation {orientation} applied" in image.conversion) == (orientation != 1)


def _tiff_16bit_rgb(rgb: np.ndarray, orientation: int) -> bytes:
    """An uncompressed 16-bit RGB TIFF with an orientation tag (Pillow and OpenCV write neither)."""
    height, width, _ = rgb.shape
    pixels = rgb.astype("<u2").tobytes()
    entries = [
        (256, 4, 1, width), (257, 4, 1, height), (258, 3, 3, None), (259, 3, 1, 1), (262, 3, 1, 2),
        (273, 4, 1, None), (274, 3, 1, orientation), (277, 3, 1, 3), (278, 4, 1, height),
        (279, 4, 1, len(pixels)), (284, 3, 1, 1),
    ]
    bits_offset = 8 + 2 + 12 * len(entries) + 4
    data_offset = bits_offset + 6
    out = bytearray(b"II*\x00" + struct.pack("<IH", 8, len(entries)))
    for tag, kind, count, value in entries:
        if tag == 258:
            out += struct.pack("<HHII", tag, kind, count, bits_offset)
            continue
        value = data_offset if tag == 273 else value
        packed = struct.pack("<HH", value, 0) if kind == 3 else struct.pack("<I", value)
        out += struct.pack("<HHI", tag, kind, count) + packed
    return bytes(out + struct.pack("<I", 0) + struct.pack("<HHH", 16, 16, 16) + pixels)


@pytest.mark.parametrize("orientation", [1, 3, 6])
def test_16bit_colour_tiff_orientation_is_applied_once(tmp_path, orientation):
    rgb = _ramp(3, 5, 3, 65535, np.uint16)
    (tmp_path / "rgb16.tif").write_bytes(_tiff_16bit_rgb(rgb, orientation))
    image = read_image(tmp_path / "rgb16.tif")
    method = _UPRIGHT[orientation]
    expected = rgb if method is None else np.stack(
        [np.asarray(Image.fromarray(rgb[..., c]).transpose(method)) for c in range(3)], axis=2
    )
    np.testing.assert_allclose(image.pixels, expected / 65535.0, atol=1e-7)
    assert "16-bit RGB TIFF" in image.conversion


def _with_png_chunk(png: bytes, kind: bytes, payload: bytes) -> bytes:
    """Insert a chunk right after IHDR (8-byte signature + 25-byte IHDR chunk)."""
    chunk = struct.pack(">I", len(payload)) + kind + payload
    chunk += struct.pack(">I", zlib.crc32(kind + payload))
    return png[:33] + chunk + png[33:]


def test_16bit_colour_png_exif_orientation_is_applied(tmp_path):
    rgb = _ramp(3, 5, 3, 65535, np.uint16)
    ok, encoded = cv2.imencode(".png", rgb[..., ::-1])
    exif = Image.Exif()
    exif[0x0112] = 6
    (tmp_path / "rgb16.png").write_bytes(_with_png_chunk(encoded.tobytes(), b"eXIf", exif.tobytes()))
    image = read_image(tmp_path / "rgb16.png")
    _check_loaded(image, 5, 3, 3)
    np.testing.assert_allclose(image.pixels, np.rot90(rgb, -1) / 65535.0, atol=1e-7)
    assert "EXIF orientation 6 applied" in image.conversion


def test_non_ascii_path_with_spaces(tmp_path):
    path = tmp_path / "bild ü 画像.png"
    write_rgb_png(path, np.full((3, 4, 3), 0.5, np.float32))
    image = read_image(path)
    np.testing.assert_allclose(image.pixels, 128 / 255.0, atol=1e-7)
    assert image.path == path


def test_accepts_str_paths(tmp_path):
    Image.fromarray(np.zeros((2, 2), np.uint8)).save(tmp_path / "s.png")
    assert read_image(str(tmp_path / "s.png")).pixels.shape == (2, 2, 1)


# --- errors -----------------------------------------------------------------------------------


def _expect_error(path: Path, fragment: str, **kwargs) -> SegAttackError:
    with pytest.raises(SegAttackError) as caught:
        read_image(path, **kwargs)
    message = str(caught.value)
    assert message.startswith(str(path) + ": "), message
    assert fragment in message, message
    assert "\n" not in message
    return caught.value


def test_missing_file(tmp_path):
    _expect_error(tmp_path / "nope.png", "file not found")


def test_folder_is_not_an_image(tmp_path):
    _expect_error(tmp_path, "folder")


def test_empty_file(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    _expect_error(tmp_path / "empty.png", "empty")


def test_text_file_renamed_png(tmp_path):
    (tmp_path / "notes.png").write_text("these are not pixels\n" * 20)
    _expect_error(tmp_path / "notes.png", "not an image")


@pytest.mark.parametrize("cut", [0.5, 0.9, 12])
def test_truncated_png_fails(tmp_path, cut):
    """Cut inside the pixels, near their end, and just before IEND."""
    buffer = io.BytesIO()
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(noise).save(buffer, format="PNG")
    data = buffer.getvalue()
    keep = int(len(data) * cut) if cut < 1 else len(data) - cut
    (tmp_path / "cut.png").write_bytes(data[:keep])
    _expect_error(tmp_path / "cut.png", "truncated")


def test_png_with_a_corrupted_byte_fails(tmp_path):
    buffer = io.BytesIO()
    Image.fromarray(_ramp(16, 16, 3, 255, np.uint8)).save(buffer, format="PNG")
    data = bytearray(buffer.getvalue())
    data[60] ^= 0xFF  # inside IDAT: the chunk CRC no longer matches
    (tmp_path / "flipped.png").write_bytes(bytes(data))
    _expect_error(tmp_path / "flipped.png", "damaged")


@pytest.mark.parametrize("cut", [2, 100])
def test_truncated_jpeg_fails(tmp_path, cut):
    buffer = io.BytesIO()
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(noise).save(buffer, format="JPEG", quality=90)
    (tmp_path / "cut.jpg").write_bytes(buffer.getvalue()[:-cut])
    _expect_error(tmp_path / "cut.jpg", "truncated")


def test_truncated_16bit_colour_png_fails(tmp_path):
    path = _write_cv2(tmp_path / "rgb16.png", _ramp(32, 32, 3, 65535, np.uint16))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    _expect_error(path, "truncated")


def test_pillow_still_refuses_truncated_images():
    from PIL import ImageFile

    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


@pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow warns about the cut-off EXIF block
def test_truncated_float_tiff_fails(tmp_path):
    rgb = np.random.default_rng(2).random((16, 16, 3)).astype(np.float32)
    path = _write_cv2(tmp_path / "f.tif", rgb)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(SegAttackError):
        read_image(path)


def test_too_many_pixels(tmp_path):
    Image.fromarray(np.zeros((100, 200), np.uint8)).save(tmp_path / "big.png")
    _expect_error(tmp_path / "big.png", "200x100 = 20,000 pixels", max_pixels=19_999)
    assert read_image(tmp_path / "big.png", max_pixels=20_000).pixels.shape == (100, 200, 1)


def test_zero_size_png_header(tmp_path):
    buffer = io.BytesIO()
    Image.fromarray(np.zeros((1, 1), np.uint8)).save(buffer, format="PNG")
    data = bytearray(buffer.getvalue())
    data[16:20] = (0).to_bytes(4, "big")  # IHDR width = 0
    (tmp_path / "zero.png").write_bytes(bytes(data))
    with pytest.raises(SegAttackError):
        read_image(tmp_path / "zero.png")


def test_unsupported_channel_count(tmp_path):
    (tmp_path / "five.tif").write_bytes(_minimal_tiff(_ramp(4, 6, 5, 255, np.uint8)))
    _expect_error(tmp_path / "five.tif", "5 channels")


def test_unsupported_format(tmp_path):
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "anim.gif")
    _expect_error(tmp_path / "anim.gif", "not supported")


# --- writing ----------------------------------------------------------------------------------


def test_to_uint8_rounds_instead_of_truncating():
    values = np.array([0.0, 100.4 / 255, 100.6 / 255, 254.5001 / 255, 1.0, -0.3, 1.7])
    np.testing.assert_array_equal(to_uint8(values), [0, 100, 101, 255, 255, 0, 255])
    assert to_uint8(values).dtype == np.uint8


def test_to_uint8_refuses_nan():
    with pytest.raises(ValueError):
        to_uint8(np.array([0.5, np.nan]))


@pytest.mark.parametrize("channels", [1, 3])
def test_write_rgb_png_round_trips_the_quantised_image(tmp_path, channels):
    pixels = np.random.default_rng(3).random((7, 5, channels)).astype(np.float32)
    write_rgb_png(tmp_path / "out.png", pixels)
    with Image.open(tmp_path / "out.png") as written:
        assert written.mode == ("L" if channels == 1 else "RGB")
    image = read_image(tmp_path / "out.png")
    np.testing.assert_array_equal(image.pixels, to_uint8(pixels).astype(np.float32) / np.float32(255))


def test_write_rgb_png_accepts_two_dimensional_grey(tmp_path):
    write_rgb_png(tmp_path / "grey.png", np.full((2, 3), 0.25))
    assert read_image(tmp_path / "grey.png").pixels.shape == (2, 3, 1)


def test_write_rgb_png_refuses_four_channels(tmp_path):
    with pytest.raises(ValueError):
        write_rgb_png(tmp_path / "x.png", np.zeros((2, 2, 4)))


def test_write_into_missing_folder_is_a_user_error(tmp_path):
    with pytest.raises(SegAttackError, match="cannot write"):
        write_rgb_png(tmp_path / "missing" / "x.png", np.zeros((2, 2, 3)))


# --- the shared RIM-ONE images ----------------------------------------------------------------


def test_rimone_images_read_as_rgb():
    images = sorted((SHARED_DATA / "rimone_samples" / "images").glob("*.png"))
    if not images:
        pytest.skip("../shared/data/rimone_samples is not present")
    for path in images:
        image = read_image(path)
        _check_loaded(image, 569, 428, 3)
        with Image.open(path) as reference:
            np.testing.assert_allclose(image.pixels, np.asarray(reference) / 255.0, atol=1e-7)


def test_file_writes_replace_whole_files_keep_links_and_modes(tmp_path):
    from segattack_gui.io.files import write_file_bytes

    real = tmp_path / "real.png"
    real.write_bytes(b"old")
    real.chmod(0o640)
    link = tmp_path / "link.png"
    link.symlink_to(real)
    write_file_bytes(link, b"new")
    assert link.is_symlink() and real.read_bytes() == b"new"  # written through the link
    assert real.stat().st_mode & 0o777 == 0o640
    long_name = tmp_path / ("m" * 251 + ".png")  # 255 characters: the longest a name may be
    write_file_bytes(long_name, b"x")
    assert long_name.read_bytes() == b"x"
    assert sorted(path.name for path in tmp_path.iterdir() if path.name.startswith(".")) == []
