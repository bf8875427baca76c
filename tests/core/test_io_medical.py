"""DICOM and NIfTI inputs: stored values and units, slices, masks, bad files, and the files written back.

Every expected value is computed here from pydicom's or nibabel's own reading of the file.
"""

from __future__ import annotations

import copy
import gzip
import io
import shutil

import nibabel
import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from segattack_gui.errors import SegAttackError
from segattack_gui.io.images import read_image
from segattack_gui.io.masks import read_mask
from segattack_gui.io.medical.native_export import native_adversarial, target_nifti
from segattack_gui.io.medical.value_scale import raw_norms


def shipped(name: str):
    return get_testdata_file(name)


def write_nifti(path, array, affine=None, slope=None, inter=None):
    image = nibabel.Nifti1Image(array, np.diag([0.8, 0.8, 2.5, 1]) if affine is None else affine)
    if slope is not None:
        image.header.set_slope_inter(slope, inter)
    nibabel.save(image, str(path))
    return path


def test_ct_is_read_in_hounsfield_units_on_its_stored_grid():
    dataset = pydicom.dcmread(shipped("CT_small.dcm"))
    hu = dataset.pixel_array.astype(np.float64) * float(dataset.RescaleSlope) + float(dataset.RescaleIntercept)
    image = read_image(shipped("CT_small.dcm"))
    scale = image.value_scale
    assert (scale.units, scale.levels, scale.low, scale.high) == ("HU", 65535, -32768 - 1024.0, 32767 - 1024.0)
    assert image.pixels.shape == (128, 128, 1) and image.pixels.dtype == np.float32
    np.testing.assert_allclose(scale.to_raw(image.pixels[..., 0]), hu, atol=5e-3)  # float32 [0, 1]: 0.002 HU
    assert np.array_equal(scale.grid_steps(image.pixels[..., 0]) - 32768, dataset.pixel_array)  # exact
    assert "HU" in image.conversion and image.source.kind == "dicom"


def test_dicom_is_recognised_by_its_marker_even_without_a_suffix(tmp_path):
    renamed = tmp_path / "scan"
    shutil.copy(shipped("MR_small.dcm"), renamed)
    image = read_image(renamed)
    assert image.value_scale.units == "" and image.pixels.shape == (64, 64, 1)
    assert np.array_equal(image.value_scale.grid_steps(image.pixels[..., 0]) - 32768,
                          pydicom.dcmread(renamed).pixel_array)


def test_multi_frame_file_gives_the_chosen_frame_and_rgb_stays_rgb():
    path = shipped("SC_rgb_rle_2frame.dcm")
    frames = pydicom.dcmread(path).pixel_array
    for index in (0, 1):
        image = read_image(path, slice_index=index)
        assert image.pixels.shape == (100, 100, 3)
        assert np.array_equal(np.round(image.pixels * 255).astype(np.uint8), frames[index])
    assert "frame 1 of 2" in read_image(path).conversion  # default: the middle frame
    dose = shipped("rtdose.dcm")
    stored = pydicom.dcmread(dose).pixel_array
    image = read_image(dose, slice_index=3)
    assert np.array_equal(image.value_scale.grid_steps(image.pixels[..., 0]) + int(stored.min()), stored[3])


def test_series_folder_is_sorted_by_position(tmp_path):
    base = pydicom.dcmread(shipped("CT_small.dcm"))
    stored = base.pixel_array.copy()
    folder = tmp_path / "series"
    folder.mkdir()
    for name, z, offset in (("b.dcm", -10.0, 0), ("a.dcm", 20.0, 200), ("c.dcm", 5.0, 100)):
        dataset = copy.deepcopy(base)
        dataset.ImagePositionPatient = [0.0, 0.0, z]
        dataset.SOPInstanceUID = pydicom.uid.generate_uid()
        dataset.PixelData = (stored + offset).astype(np.int16).tobytes()
        dataset.save_as(folder / name)
    (folder / "notes.txt").write_text("not DICOM")
    offsets = []
    for k in range(3):
        image = read_image(folder, slice_index=k)
        offsets.append(float(np.mean(image.value_scale.grid_steps(image.pixels) - 32768 - stored)))
    assert offsets == [0, 100, 200]  # z = -10, 5, 20
    assert read_image(folder, slice_index=2).source.file.name == "a.dcm"
    other = copy.deepcopy(base)
    other.SeriesInstanceUID = pydicom.uid.generate_uid()
    other.save_as(folder / "d.dcm")
    with pytest.raises(SegAttackError, match="2 DICOM series"):
        read_image(folder)


def test_monochrome1_is_noted_for_inverted_display(tmp_path):
    dataset = pydicom.dcmread(shipped("MR_small.dcm"))
    dataset.PhotometricInterpretation = "MONOCHROME1"
    dataset.save_as(tmp_path / "m1.dcm")
    assert "MONOCHROME1" in read_image(tmp_path / "m1.dcm").conversion


@pytest.mark.parametrize("name, problem", [
    ("MR_truncated.dcm", "truncated"),
    ("rtplan.dcm", "holds no image"),
    ("JPEGLSNearLossless_08.dcm", "compressed as JPEG-LS"),
])
def test_bad_dicom_is_one_line(name, problem):
    with pytest.raises(SegAttackError, match=problem) as caught:
        read_image(shipped(name))
    assert "\n" not in str(caught.value)


def test_cut_dicom_header_is_one_line(tmp_path):
    data = open(shipped("CT_small.dcm"), "rb").read()
    (tmp_path / "cut.dcm").write_bytes(data[:600])
    with pytest.raises(SegAttackError, match="DICOM") as caught:
        read_image(tmp_path / "cut.dcm")
    assert "\n" not in str(caught.value)


def test_nifti_slice_along_each_axis_with_scaling(tmp_path):
    volume = np.arange(4 * 5 * 6, dtype=np.int16).reshape(4, 5, 6)
    path = write_nifti(tmp_path / "v.nii.gz", volume, slope=2.0, inter=-100.0)
    for axis in (0, 1, 2):
        image = read_image(path, slice_index=1, axis=axis)
        plane = np.take(volume, 1, axis=axis)
        raw = image.value_scale.to_raw(image.pixels[..., 0])
        np.testing.assert_allclose(raw, np.rot90(plane) * 2.0 - 100.0, atol=5e-3)
    default = read_image(path)
    assert default.source.index == 3 and default.source.axis == 2  # the middle slice of axis 2
    assert default.value_scale.levels == 65535


def test_float_nifti_maps_the_volume_range(tmp_path):
    volume = np.linspace(-5, 7, 3 * 4 * 2, dtype=np.float32).reshape(3, 4, 2)
    image = read_image(write_nifti(tmp_path / "f.nii", volume), slice_index=0)
    assert (image.value_scale.low, image.value_scale.high, image.value_scale.levels) == (-5.0, 7.0, None)
    np.testing.assert_allclose(image.value_scale.to_raw(image.pixels[..., 0]), np.rot90(volume[:, :, 0]), atol=1e-5)


@pytest.mark.parametrize("shape, problem", [
    ((2, 2, 2, 2, 2), "5 dimensions"), ((3, 3, 3, 2), "4 dimensions .*take one volume out"),
])
def test_nifti_of_wrong_rank_is_refused(tmp_path, shape, problem):
    path = write_nifti(tmp_path / "bad.nii.gz", np.zeros(shape, np.int16), affine=np.eye(4))
    with pytest.raises(SegAttackError, match=problem):
        read_image(path)


def test_nifti_with_zero_dimensions_is_refused(tmp_path):
    header_bytes = bytearray(nibabel.Nifti1Image(np.zeros((3, 3, 3), np.int16), np.eye(4)).to_bytes())
    header_bytes[40:42] = np.int16(0).tobytes()  # dim[0], the number of dimensions
    (tmp_path / "none.nii").write_bytes(bytes(header_bytes))
    with pytest.raises(SegAttackError, match="0 dimensions"):
        read_image(tmp_path / "none.nii")


def test_slice_out_of_range_and_truncated_nifti(tmp_path):
    path = write_nifti(tmp_path / "v.nii", np.zeros((4, 4, 3), np.int16))
    with pytest.raises(SegAttackError, match="slice 3 is out of range: axis 2 has 3 slices"):
        read_image(path, slice_index=3)
    with pytest.raises(SegAttackError, match="out of range: there is 1 frame \\(0\\)"):
        read_image(shipped("CT_small.dcm"), slice_index=1)
    (tmp_path / "cut.nii").write_bytes(path.read_bytes()[:-10])
    with pytest.raises(SegAttackError, match="truncated"):
        read_image(tmp_path / "cut.nii")


def test_nifti_label_map_is_read_from_the_image_slice_and_geometry_is_checked(tmp_path):
    image_path = write_nifti(tmp_path / "img.nii.gz", np.zeros((6, 5, 4), np.int16))
    labels = np.zeros((6, 5, 4), np.uint8)
    labels[1:3, 2:4, 2] = 1
    mask_path = write_nifti(tmp_path / "mask.nii.gz", labels)
    image = read_image(image_path)  # slice 2 of axis 2
    mask = read_mask(mask_path, num_classes=2, expected_shape=(image.height, image.width), image_source=image.source)
    assert np.array_equal(mask.class_ids, np.rot90(labels[:, :, 2]))
    moved = write_nifti(tmp_path / "moved.nii.gz", labels, affine=np.diag([1, 1, 3, 1]))
    with pytest.raises(SegAttackError, match="geometry differs"):
        read_mask(moved, num_classes=2, expected_shape=(image.height, image.width), image_source=image.source)
    wrong = write_nifti(tmp_path / "wrong.nii.gz", np.zeros((6, 5, 3), np.uint8))
    with pytest.raises(SegAttackError, match="shape 6x5x3 vs 6x5x4"):
        read_mask(wrong, num_classes=2, expected_shape=(image.height, image.width), image_source=image.source)


def test_adversarial_dicom_keeps_the_dataset_and_replaces_the_pixels():
    path = shipped("CT_small.dcm")
    image = read_image(path)
    steps = np.zeros((128, 128), np.int64)
    steps[10:20, 30:40] = 37
    adversarial = ((image.value_scale.grid_steps(image.pixels[..., 0]) + steps) / 65535)[..., None]
    native = native_adversarial(image.source, image.value_scale, adversarial, "pgd")
    original, written = pydicom.dcmread(path), pydicom.dcmread(io.BytesIO(native.data))
    for keyword in ("PatientName", "PatientID", "StudyInstanceUID", "ImagePositionPatient", "PixelSpacing",
                    "RescaleIntercept", "Rows", "Columns"):
        assert written.get(keyword) == original.get(keyword), keyword
    assert written.SOPInstanceUID != original.SOPInstanceUID
    assert written.file_meta.MediaStorageSOPInstanceUID == written.SOPInstanceUID
    assert written.SeriesInstanceUID != original.SeriesInstanceUID
    assert written.ImageType[0] == "DERIVED" and "SegAttack" in written.SeriesDescription
    assert written.pixel_array.dtype == np.int16
    assert np.array_equal(written.pixel_array.astype(np.int64) - original.pixel_array, steps)
    np.testing.assert_array_equal(native.read_back, adversarial.astype(np.float32))


def test_adversarial_nifti_replaces_only_the_slice(tmp_path):
    volume = np.arange(4 * 5 * 6, dtype=np.int16).reshape(4, 5, 6)
    path = write_nifti(tmp_path / "v.nii.gz", volume, slope=2.0, inter=-100.0)
    image = read_image(path, slice_index=2, axis=1)
    adversarial = image.pixels.copy()
    adversarial[0, 0, 0] += 3 / 65535
    native = native_adversarial(image.source, image.value_scale, adversarial, "asma")
    written = nibabel.Nifti1Image.from_bytes(gzip.decompress(native.data))
    assert np.array_equal(written.affine, nibabel.load(path).affine)
    assert written.dataobj.slope == 2.0 and written.dataobj.inter == -100.0
    changed = np.argwhere(written.dataobj.get_unscaled() != volume)
    assert changed.tolist() == [[0, 2, 5]]  # view (0, 0) of slice 2 along axis 1 is array (0, 2, last)
    assert written.dataobj.get_unscaled()[0, 2, 5] - volume[0, 2, 5] == 3
    np.testing.assert_array_equal(native.read_back, adversarial)


def test_target_nifti_carries_the_image_geometry(tmp_path):
    path = write_nifti(tmp_path / "v.nii.gz", np.zeros((6, 5, 4), np.int16))
    image = read_image(path, slice_index=1)
    target = np.zeros((image.height, image.width), np.int64)
    target[0, :] = 1
    written = nibabel.Nifti1Image.from_bytes(gzip.decompress(target_nifti(image.source, target)))
    assert written.shape == (6, 5, 4) and np.array_equal(written.affine, nibabel.load(path).affine)
    mask = read_mask(_saved(tmp_path, written), num_classes=2,
                     expected_shape=target.shape, image_source=image.source)
    assert np.array_equal(mask.class_ids, target)
    ct = read_image(shipped("CT_small.dcm"))
    dataset = pydicom.dcmread(shipped("CT_small.dcm"))
    placed = nibabel.Nifti1Image.from_bytes(gzip.decompress(target_nifti(ct.source, np.zeros((128, 128), np.int64))))
    spacing = [float(v) for v in dataset.PixelSpacing]
    np.testing.assert_allclose(np.abs(np.diag(placed.affine)[:2]), spacing[::-1])


def _saved(folder, image):
    nibabel.save(image, str(folder / "t.nii.gz"))
    return folder / "t.nii.gz"


def test_raw_norms_on_the_grid_are_whole_steps():
    image = read_image(shipped("CT_small.dcm"))
    adversarial = image.pixels + np.float32(12 / 65535)
    scores = raw_norms({"l2": 0.0, "linf": 0.0}, image.value_scale, adversarial, image.pixels, on_grid=True)
    assert scores["linf_raw"] == 12.0
    assert scores["l2_raw"] == pytest.approx(12.0 * 128)
