"""read_mask / write_class_png / default_colors, and the hashes that name inputs in exports."""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from segattack_gui.errors import SegAttackError
from segattack_gui.io.hashing import sha256_array, sha256_file
from segattack_gui.io.masks import MaskFile, default_colors, read_mask, write_class_png

SHARED_DATA = Path(__file__).parents[2].parent / "shared" / "data"
RIMONE_MASKS = SHARED_DATA / "rimone_samples" / "masks"

IDS = np.array([[0, 1, 2, 2], [1, 0, 0, 2], [2, 2, 1, 0]], np.uint8)


def _save(path: Path, array: np.ndarray, mode: str | None = None) -> Path:
    Image.fromarray(array, mode).save(path) if mode else Image.fromarray(array).save(path)
    return path


def _mask_error(path: Path, fragment: str, **kwargs) -> str:
    kwargs.setdefault("num_classes", 2)
    with pytest.raises(SegAttackError) as caught:
        read_mask(path, **kwargs)
    message = str(caught.value)
    assert message.startswith(str(path) + ": "), message
    assert fragment in message, message
    return message


# --- single-channel masks ---------------------------------------------------------------------


def test_class_id_png(tmp_path):
    mask = read_mask(_save(tmp_path / "ids.png", IDS), num_classes=3)
    assert isinstance(mask, MaskFile)
    assert mask.class_ids.dtype == np.int64
    np.testing.assert_array_equal(mask.class_ids, IDS)
    assert mask.rule == "PNG (8-bit greyscale): pixel values are class ids"
    assert mask.path == tmp_path / "ids.png"


def test_class_ids_beyond_the_model_are_named(tmp_path):
    path = _save(tmp_path / "ids.png", np.array([[0, 1, 3], [7, 7, 2]], np.uint8))
    message = _mask_error(path, "class ids 3, 7", num_classes=3)
    assert "3 classes" in message


def test_16bit_class_id_png(tmp_path):
    ids = np.array([[0, 4], [2, 1]], np.uint16)
    ok, encoded = cv2.imencode(".png", ids)
    (tmp_path / "ids16.png").write_bytes(encoded.tobytes())
    mask = read_mask(tmp_path / "ids16.png", num_classes=5)
    np.testing.assert_array_equal(mask.class_ids, ids)
    assert "16-bit greyscale" in mask.rule


def test_16bit_binary_0_65535(tmp_path):
    values = np.array([[0, 65535], [65535, 0]], np.uint16)
    ok, encoded = cv2.imencode(".png", values)
    (tmp_path / "bin16.png").write_bytes(encoded.tobytes())
    mask = read_mask(tmp_path / "bin16.png", num_classes=2)
    np.testing.assert_array_equal(mask.class_ids, values // 65535)


@pytest.mark.parametrize("num_classes", [2, 3, 5])
def test_binary_0_255_becomes_0_1(tmp_path, num_classes):
    values = np.array([[0, 255, 255], [0, 0, 255]], np.uint8)
    mask = read_mask(_save(tmp_path / "binary.png", values), num_classes=num_classes)
    np.testing.assert_array_equal(mask.class_ids, values // 255)
    assert "binary 0/255 mask, 255 -> class 1" in mask.rule


def test_anti_aliased_mask_is_thresholded_above_20(tmp_path):
    values = np.array([[0, 5, 20, 21], [100, 200, 254, 255]], np.uint8)
    mask = read_mask(_save(tmp_path / "soft.png", values), num_classes=2)
    np.testing.assert_array_equal(mask.class_ids, [[0, 0, 0, 1], [1, 1, 1, 1]])
    assert "class 1 where value > 20" in mask.rule
    assert "8 grey levels" in mask.rule


def test_threshold_can_be_changed(tmp_path):
    values = np.array([[0, 50, 128, 255]], np.uint8)
    mask = read_mask(_save(tmp_path / "soft.png", values), num_classes=2, threshold=127)
    np.testing.assert_array_equal(mask.class_ids, [[0, 0, 1, 1]])
    assert "value > 127" in mask.rule


def test_anti_aliased_mask_is_refused_for_multi_class_models(tmp_path):
    values = np.array([[0, 50, 128, 255]], np.uint8)
    message = _mask_error(_save(tmp_path / "soft.png", values), "class ids 50, 128, 255", num_classes=3)
    assert "save it as 0/255" in message  # says how to fix it


def test_grey_levels_without_255_are_not_guessed(tmp_path):
    values = np.array([[0, 1, 2, 200]], np.uint8)
    _mask_error(_save(tmp_path / "odd.png", values), "class ids 2, 200", num_classes=2)


def test_1bit_mask(tmp_path):
    bits = np.array([[True, False], [False, True]])
    mask = read_mask(_save(tmp_path / "bits.png", bits), num_classes=2)
    np.testing.assert_array_equal(mask.class_ids, bits.astype(np.int64))


def test_float_tiff_with_integer_values(tmp_path):
    values = np.array([[0.0, 2.0], [1.0, 1.0]], np.float32)
    mask = read_mask(_save(tmp_path / "ids.tif", values, "F"), num_classes=3)
    np.testing.assert_array_equal(mask.class_ids, values.astype(np.int64))


def test_float_tiff_with_fractions_is_refused(tmp_path):
    values = np.array([[0.0, 0.5]], np.float32)
    _mask_error(_save(tmp_path / "soft.tif", values, "F"), "non-integer")


# --- palette and colour masks -----------------------------------------------------------------


def test_palette_png_indices_are_class_ids(tmp_path):
    image = Image.fromarray(IDS)
    image.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0])
    image.save(tmp_path / "palette.png")
    mask = read_mask(tmp_path / "palette.png", num_classes=3)
    np.testing.assert_array_equal(mask.class_ids, IDS)
    assert "palette" in mask.rule


def test_palette_png_with_too_many_indices(tmp_path):
    image = Image.fromarray(IDS)
    image.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0])
    image.save(tmp_path / "palette.png")
    _mask_error(tmp_path / "palette.png", "class ids 2", num_classes=2)


def test_rgb_mask_matches_the_given_palette(tmp_path):
    palette = [(0, 0, 0), (255, 0, 0), (0, 0, 255)]
    rgb = np.array(palette, np.uint8)[IDS]
    mask = read_mask(_save(tmp_path / "rgb.png", rgb), num_classes=3, palette=palette)
    np.testing.assert_array_equal(mask.class_ids, IDS)
    assert "colours matched exactly to the given class colours" in mask.rule


def test_rgb_mask_matches_the_default_colours(tmp_path):
    rgb = np.array(default_colors(3), np.uint8)[IDS]
    mask = read_mask(_save(tmp_path / "rgb.png", rgb), num_classes=3)
    np.testing.assert_array_equal(mask.class_ids, IDS)


def test_rgb_mask_unknown_colour_names_the_first_one(tmp_path):
    palette = [(0, 0, 0), (255, 0, 0)]
    rgb = np.zeros((3, 4, 3), np.uint8)
    rgb[1, 2] = (12, 200, 7)
    rgb[2, 0] = (1, 2, 3)
    path = _save(tmp_path / "rgb.png", rgb)
    message = _mask_error(path, "colour (12, 200, 7) at row 1, column 2", palette=palette)
    assert "(255, 0, 0)" in message


def test_grey_rgb_mask_uses_the_value_rules(tmp_path):
    values = np.array([[0, 255], [255, 0]], np.uint8)
    rgb = np.repeat(values[..., np.newaxis], 3, axis=2)
    mask = read_mask(_save(tmp_path / "white.png", rgb), num_classes=2)
    np.testing.assert_array_equal(mask.class_ids, values // 255)
    assert "binary" in mask.rule


def test_rgba_with_constant_alpha_is_treated_as_rgb(tmp_path):
    palette = [(0, 0, 0), (0, 200, 0), (0, 0, 200)]
    rgba = np.concatenate(
        [np.array(palette, np.uint8)[IDS], np.full(IDS.shape + (1,), 255, np.uint8)], axis=2
    )
    mask = read_mask(_save(tmp_path / "rgba.png", rgba, "RGBA"), num_classes=3, palette=palette)
    np.testing.assert_array_equal(mask.class_ids, IDS)
    assert "constant alpha ignored" in mask.rule


def test_rgba_with_varying_alpha_is_refused(tmp_path):
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[..., 3] = [[255, 0], [255, 255]]
    _mask_error(_save(tmp_path / "rgba.png", rgba, "RGBA"), "alpha")


def test_greyscale_with_constant_alpha(tmp_path):
    la = np.stack([IDS, np.full_like(IDS, 255)], axis=2)
    mask = read_mask(_save(tmp_path / "la.png", la, "LA"), num_classes=3)
    np.testing.assert_array_equal(mask.class_ids, IDS)


# --- size, files --------------------------------------------------------------------------------


def test_wrong_size_names_both_sizes(tmp_path):
    path = _save(tmp_path / "small.png", np.zeros((100, 80), np.uint8))
    _mask_error(path, "mask is 100x80 but the image is 256x256", expected_shape=(256, 256))
    assert read_mask(path, num_classes=2, expected_shape=(100, 80)).class_ids.shape == (100, 80)


@pytest.mark.parametrize(
    "content, fragment",
    [(None, "file not found"), (b"", "empty"), (b"hello\n" * 9, "not an image")],
)
def test_bad_files(tmp_path, content, fragment):
    path = tmp_path / "mask.png"
    if content is not None:
        path.write_bytes(content)
    _mask_error(path, fragment)


def test_truncated_mask_png(tmp_path):
    noise = np.random.default_rng(0).integers(0, 3, (64, 64), dtype=np.uint8)
    data = (_save(tmp_path / "full.png", noise)).read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    _mask_error(tmp_path / "cut.png", "truncated", num_classes=3)


# --- writing --------------------------------------------------------------------------------------


def test_write_class_png_round_trips_and_looks_right(tmp_path):
    colors = default_colors(3)
    path = tmp_path / "maske ü 画像.png"
    write_class_png(path, IDS.astype(np.int64), colors)
    with Image.open(path) as written:
        assert written.mode == "P"
        np.testing.assert_array_equal(np.asarray(written), IDS)
        palette = written.getpalette()
        assert len(palette) == 3 * 256
        looks = np.asarray(written.convert("RGB"))
        np.testing.assert_array_equal(looks, np.array(colors, np.uint8)[IDS])
    mask = read_mask(path, num_classes=3)
    np.testing.assert_array_equal(mask.class_ids, IDS)
    assert "palette" in mask.rule


def test_write_class_png_with_a_single_class(tmp_path):
    write_class_png(tmp_path / "bg.png", np.zeros((4, 4), np.int64), default_colors(2))
    np.testing.assert_array_equal(read_mask(tmp_path / "bg.png", num_classes=2).class_ids, 0)


def test_write_class_png_refuses_ids_without_a_colour(tmp_path):
    with pytest.raises(ValueError):
        write_class_png(tmp_path / "x.png", IDS, default_colors(2))
    assert not (tmp_path / "x.png").exists()


def test_write_class_png_to_a_missing_folder(tmp_path):
    with pytest.raises(SegAttackError, match="cannot write"):
        write_class_png(tmp_path / "missing" / "x.png", IDS, default_colors(3))


def test_default_colors():
    assert default_colors(1) == [(0, 0, 0)]
    colors = default_colors(256)
    assert len(colors) == len(set(colors)) == 256
    assert colors[0] == (0, 0, 0)
    assert all(0 <= channel <= 255 and isinstance(channel, int) for color in colors for channel in color)
    assert default_colors(5) == colors[:5]


# --- RIM-ONE ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["G_5_R_1.png", "G_14_R_1.png"])
def test_rimone_masks_read_as_binary_with_threshold_20(name):
    path = RIMONE_MASKS / name
    if not path.exists():
        pytest.skip("../shared/data/rimone_samples is not present")
    mask = read_mask(path, num_classes=2, expected_shape=(569, 428))
    assert mask.class_ids.shape == (569, 428)
    assert set(np.unique(mask.class_ids).tolist()) == {0, 1}
    with Image.open(path) as reference:
        expected = (np.asarray(reference.convert("L")) > 20).astype(np.int64)
    np.testing.assert_array_equal(mask.class_ids, expected)
    assert "value > 20" in mask.rule


# --- hashing --------------------------------------------------------------------------------------


def test_sha256_file_matches_hashlib(tmp_path):
    data = np.random.default_rng(4).bytes(3 * (1 << 20) + 17)  # several chunks
    (tmp_path / "model.pt").write_bytes(data)
    assert sha256_file(tmp_path / "model.pt") == hashlib.sha256(data).hexdigest()


def test_sha256_file_missing(tmp_path):
    with pytest.raises(SegAttackError, match="file not found"):
        sha256_file(tmp_path / "nope.pt")


def test_sha256_array_depends_on_values_dtype_and_shape():
    ids = np.arange(12, dtype=np.int64).reshape(3, 4)
    assert sha256_array(ids) == sha256_array(ids.copy())
    assert sha256_array(ids) != sha256_array(ids.reshape(4, 3))
    assert sha256_array(ids) != sha256_array(ids.astype(np.int32))
    changed = ids.copy()
    changed[0, 0] = 1
    assert sha256_array(ids) != sha256_array(changed)
    assert sha256_array(ids.T) == sha256_array(np.ascontiguousarray(ids.T))
    assert len(sha256_array(ids)) == 64


def test_a_binary_mask_marks_the_class_it_is_told(tmp_path):
    hard = _save(tmp_path / "hard.png", np.array([[0, 255], [255, 0]], np.uint8))
    assert read_mask(hard, num_classes=3, binary_class=2).class_ids.tolist() == [[0, 2], [2, 0]]
    soft = _save(tmp_path / "soft.png", np.array([[0, 10, 128, 255]], np.uint8))
    mask = read_mask(soft, num_classes=3, binary_class=1)
    assert mask.class_ids.tolist() == [[0, 0, 1, 1]] and "class 1 where value > 20" in mask.rule
    ids = _save(tmp_path / "ids.png", np.array([[0, 1, 2]], np.uint8))  # class ids stay class ids
    assert read_mask(ids, num_classes=3, binary_class=2).class_ids.tolist() == [[0, 1, 2]]


def test_a_zero_one_mask_told_its_class_marks_it_and_a_bad_class_matters_only_when_used(tmp_path):
    zero_one = _save(tmp_path / "zero_one.png", np.array([[0, 1], [1, 0]], np.uint8))
    assert read_mask(zero_one, num_classes=3, binary_class=2).class_ids.tolist() == [[0, 2], [2, 0]]
    ids = _save(tmp_path / "ids.png", np.array([[0, 1, 2]], np.uint8))
    assert read_mask(ids, num_classes=3, binary_class=7).class_ids.tolist() == [[0, 1, 2]]  # not binary
    with pytest.raises(SegAttackError, match="cannot mark class 7"):
        read_mask(zero_one, num_classes=3, binary_class=7)
