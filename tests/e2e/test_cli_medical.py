"""``segattack attack`` on a CT DICOM and a NIfTI slice, with a model that takes raw HU: the files
written back hold the adversarial values on the stored grid, and the scores they are said to give.

The checks recompute everything from the written files with pydicom, nibabel and the model itself.
"""

from __future__ import annotations

import gzip
import io
import json

import nibabel
import numpy as np
import pydicom
import pytest
import torch
from PIL import Image
from pydicom.data import get_testdata_file

from segattack_gui.cli import main
from tests.core.tiny_models import DenseTissueModel

CT = get_testdata_file("CT_small.dcm")
PGD = ["--method", "pgd", "--epsilon", "100/65535", "--alpha", "10/65535", "--iterations", "30", "--quantize"]


@pytest.fixture
def raw_model(tmp_path):
    """A TorchScript model on raw HU (sidecar "input_units": "raw"): class 1 above ~100 HU."""
    path = tmp_path / "dense.pt"
    torch.jit.script(DenseTissueModel()).save(str(path))
    path.with_suffix(".json").write_text(json.dumps(
        {"classes": ["background", "dense"], "input_units": "raw", "output": "sigmoid"}))
    return path


def dense_prediction(hu: np.ndarray) -> np.ndarray:
    """The model's prediction on HU values, run here independently of the adapter."""
    with torch.no_grad():
        logit = DenseTissueModel()(torch.as_tensor(hu, dtype=torch.float32)[None, None])
    return (logit[0, 0] > 0).numpy()


def foreground_iou(prediction: np.ndarray, target: np.ndarray) -> float:
    union = np.logical_or(prediction, target).sum()
    return float(np.logical_and(prediction, target).sum() / union) if union else 1.0


def flipped_square_target(hu: np.ndarray) -> np.ndarray:
    target = dense_prediction(hu)
    target[40:60, 40:60] = ~target[40:60, 40:60]
    return target


def test_ct_attack_writes_a_dicom_that_does_what_the_summary_says(raw_model, tmp_path, capsys):
    original = pydicom.dcmread(CT)
    hu = original.pixel_array * float(original.RescaleSlope) + float(original.RescaleIntercept)
    target = flipped_square_target(hu)
    Image.fromarray(target.astype(np.uint8) * 255).save(tmp_path / "target.png")
    out = tmp_path / "run"
    assert main(["attack", "--model", str(raw_model), "--image", CT, "--target", str(tmp_path / "target.png"),
                 "--out", str(out), "--quiet", *PGD]) == 0
    assert "HU" in capsys.readouterr().out
    summary = json.loads((out / "summary.json").read_text())
    assert summary["image_value_range"] == {"low": -33792.0, "high": 31743.0, "levels": 65535, "units": "HU",
                                            "rule": summary["image_value_range"]["rule"]}

    written = pydicom.dcmread(out / "adversarial.dcm")
    for keyword in ("PatientName", "PatientID", "StudyInstanceUID", "ImagePositionPatient",
                    "ImageOrientationPatient", "PixelSpacing", "SliceThickness", "Rows", "Columns"):
        assert written.get(keyword) == original.get(keyword), keyword
    assert written.SOPInstanceUID != original.SOPInstanceUID
    assert written.SeriesInstanceUID != original.SeriesInstanceUID
    assert written.pixel_array.dtype == np.int16
    adversarial_hu = written.pixel_array * float(written.RescaleSlope) + float(written.RescaleIntercept)
    change = adversarial_hu - hu
    quantized = summary["final_quantized"]
    assert np.abs(change).max() == quantized["linf_raw"] <= 100  # whole HU, within the budget
    assert np.sqrt((change ** 2).sum()) == pytest.approx(quantized["l2_raw"], rel=1e-9)
    assert np.abs(change).max() > 0
    # The stated scores are those of the file as read back, recomputed here with the model itself.
    prediction = dense_prediction(adversarial_hu)
    assert quantized["iou"] == pytest.approx(foreground_iou(prediction, target), abs=1e-6)
    assert quantized["iou"] > foreground_iou(dense_prediction(hu), target)  # the attack moved it
    labels = nibabel.load(out / "target.nii.gz")
    assert np.array_equal(np.rot90(np.asarray(labels.dataobj)[..., 0]), target.astype(np.uint8))


def test_nifti_slice_attack_replaces_only_that_slice(raw_model, tmp_path):
    rng = np.random.default_rng(0)
    volume = rng.integers(-200, 400, (40, 36, 3)).astype(np.int16)  # HU-like, axes x, y, z
    affine = np.diag([0.7, 0.7, 3.0, 1.0])
    nibabel.save(nibabel.Nifti1Image(volume, affine), str(tmp_path / "ct.nii.gz"))
    hu = np.rot90(volume[:, :, 1]).astype(np.float64)
    target_view = dense_prediction(hu)
    target_view[5:15, 5:15] = ~target_view[5:15, 5:15]
    labels = np.zeros(volume.shape, np.uint8)
    labels[:, :, 1] = np.rot90(target_view, -1)
    nibabel.save(nibabel.Nifti1Image(labels, affine), str(tmp_path / "target.nii.gz"))
    out = tmp_path / "run"
    assert main(["attack", "--model", str(raw_model), "--image", str(tmp_path / "ct.nii.gz"), "--slice", "1",
                 "--axis", "2", "--target", str(tmp_path / "target.nii.gz"), "--out", str(out), "--quiet", *PGD]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["image_slice"] == {"index": 1, "axis": 2, "count": 3}
    written = nibabel.load(out / "adversarial.nii.gz")
    source = nibabel.load(tmp_path / "ct.nii.gz")
    assert np.array_equal(written.affine, source.affine) and written.get_data_dtype() == np.int16
    assert written.header.get_zooms() == source.header.get_zooms()
    stored = np.asarray(written.dataobj)
    assert np.array_equal(stored[:, :, [0, 2]], volume[:, :, [0, 2]])
    change = stored[:, :, 1].astype(np.float64) - volume[:, :, 1]
    assert 0 < np.abs(change).max() == summary["final_quantized"]["linf_raw"] <= 100
    prediction = dense_prediction(np.rot90(stored[:, :, 1]).astype(np.float64))
    assert summary["final_quantized"]["iou"] == pytest.approx(foreground_iou(prediction, target_view), abs=1e-6)
    assert main(["rerun", str(out), "--quiet"]) == 0  # the recorded slice and axis are read again


def _one_error(capsys) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.parametrize("case, expected", [
    ("truncated", "pixel data is damaged or truncated"),
    ("no pixels", "holds no image"),
    ("compressed", "which no installed decoder reads"),
    ("five dims", "NIfTI has 5 dimensions"),
    ("slice", "slice 7 is out of range"),
    ("geometry", "mask geometry differs"),
])
def test_bad_medical_input_is_one_line_exit_2_and_nothing_written(raw_model, tmp_path, capsys, case, expected):
    target = tmp_path / "target.png"
    Image.fromarray(np.zeros((128, 128), np.uint8)).save(target)
    image, extra = CT, []
    if case == "truncated":
        image = get_testdata_file("MR_truncated.dcm")
    elif case == "no pixels":
        image = get_testdata_file("rtplan.dcm")
    elif case == "compressed":
        image = get_testdata_file("JPEGLSNearLossless_08.dcm")
    elif case == "five dims":
        image = tmp_path / "five.nii.gz"
        nibabel.save(nibabel.Nifti1Image(np.zeros((4, 4, 2, 2, 2), np.int16), np.eye(4)), str(image))
    elif case == "slice":
        extra = ["--slice", "7"]
    elif case == "geometry":
        image = tmp_path / "ct.nii.gz"
        nibabel.save(nibabel.Nifti1Image(np.zeros((8, 8, 3), np.int16), np.eye(4)), str(image))
        target = tmp_path / "mask.nii.gz"
        nibabel.save(nibabel.Nifti1Image(np.zeros((8, 8, 3), np.uint8), np.diag([2, 2, 2, 1])), str(target))
    out = tmp_path / "run"
    assert main(["attack", "--model", str(raw_model), "--image", str(image), "--target", str(target),
                 "--out", str(out), "--quiet", *extra, *PGD]) == 2
    assert expected in _one_error(capsys)
    assert not out.exists()


def test_dicom_pixels_round_trip_through_a_second_reading(raw_model, tmp_path):
    """The exported DICOM opens as an input again, with the same values it was written with."""
    from segattack_gui.io.images import read_image

    original = pydicom.dcmread(CT)
    hu = original.pixel_array - 1024.0
    Image.fromarray(flipped_square_target(hu).astype(np.uint8) * 255).save(tmp_path / "t.png")
    out = tmp_path / "run"
    assert main(["attack", "--model", str(raw_model), "--image", CT, "--target", str(tmp_path / "t.png"),
                 "--out", str(out), "--quiet", *PGD]) == 0
    again = read_image(out / "adversarial.dcm")
    stored = pydicom.dcmread(io.BytesIO((out / "adversarial.dcm").read_bytes())).pixel_array
    assert np.array_equal(again.value_scale.grid_steps(again.pixels[..., 0]) - 32768, stored)
    assert gzip.decompress((out / "target.nii.gz").read_bytes())[344:348] == b"n+1\x00"


def test_other_models_on_raw_hu_read_the_ct_in_hu_too(raw_model, tmp_path):
    # --evaluate-on and --ensemble models taking raw values must be fed the image's HU, as the attacked
    # model is: a copy of the attacked model judges the adversarial exactly as the model itself does.
    copy = tmp_path / "copy" / "dense.pt"
    copy.parent.mkdir()
    copy.write_bytes(raw_model.read_bytes())
    copy.with_suffix(".json").write_bytes(raw_model.with_suffix(".json").read_bytes())
    hu = pydicom.dcmread(CT).pixel_array - 1024.0
    Image.fromarray(flipped_square_target(hu).astype(np.uint8) * 255).save(tmp_path / "target.png")
    inputs = ["--model", str(raw_model), "--image", CT, "--target", str(tmp_path / "target.png"), "--quiet", *PGD]
    out = tmp_path / "judged"
    assert main(["attack", *inputs, "--out", str(out), "--evaluate-on", str(copy), "--survival", "none"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["evaluated_on"]["dense.pt"]["iou"] == pytest.approx(summary["final"]["iou"], abs=1e-9)
    assert summary["evaluated_on"]["dense.pt"]["warnings"] == []
    out = tmp_path / "ensemble"
    assert main(["attack", *inputs, "--out", str(out), "--ensemble", str(copy), "--survival", "none"]) == 0
    ensemble = json.loads((out / "summary.json").read_text())
    assert ensemble["final"]["iou"] == pytest.approx(summary["final"]["iou"], abs=1e-6)  # two equal members


def test_batch_attacks_dicom_and_nifti_files_and_writes_each_back_in_its_format(raw_model, tmp_path):
    images, targets = tmp_path / "images", tmp_path / "targets"
    images.mkdir()
    targets.mkdir()
    (images / "chest.dcm").write_bytes(open(CT, "rb").read())
    hu = pydicom.dcmread(CT).pixel_array - 1024.0
    chest_target = flipped_square_target(hu)
    Image.fromarray(chest_target.astype(np.uint8) * 255).save(targets / "chest.png")
    volume = np.random.default_rng(0).integers(-200, 400, (40, 36, 3)).astype(np.int16)  # int16: another range
    affine = np.diag([0.7, 0.7, 3.0, 1.0])
    nibabel.save(nibabel.Nifti1Image(volume, affine), str(images / "head.nii.gz"))
    head_target = dense_prediction(np.rot90(volume[:, :, 1]).astype(np.float64))  # the middle slice, as shown
    head_target[5:15, 5:15] = ~head_target[5:15, 5:15]
    labels = np.zeros(volume.shape, np.uint8)
    labels[:, :, 1] = np.rot90(head_target, -1)
    nibabel.save(nibabel.Nifti1Image(labels, affine), str(targets / "head.nii.gz"))
    out = tmp_path / "batch"
    assert main(["batch", "--model", str(raw_model), "--images", str(images), "--targets", str(targets),
                 "--methods", "pgd", "--epsilon", "100/65535", "--alpha", "10/65535", "--iterations", "30",
                 "--quantize", "--out", str(out), "--quiet"]) == 0

    chest = json.loads((out / "pgd" / "chest" / "summary.json").read_text())
    written = pydicom.dcmread(out / "pgd" / "chest" / "adversarial.dcm")
    change = written.pixel_array - 1024.0 - hu
    assert 0 < np.abs(change).max() == chest["final_quantized"]["linf_raw"] <= 100  # HU, read as HU
    assert chest["final_quantized"]["iou"] == pytest.approx(
        foreground_iou(dense_prediction(hu + change), chest_target), abs=1e-6)
    assert chest["final_quantized"]["iou"] > foreground_iou(dense_prediction(hu), chest_target)

    head = json.loads((out / "pgd" / "head" / "summary.json").read_text())
    assert head["image_slice"] == {"index": 1, "axis": 2, "count": 3}
    stored = np.asarray(nibabel.load(out / "pgd" / "head" / "adversarial.nii.gz").dataobj)
    assert np.array_equal(stored[:, :, [0, 2]], volume[:, :, [0, 2]])
    head_change = stored[:, :, 1].astype(np.float64) - volume[:, :, 1]
    assert 0 < np.abs(head_change).max() == head["final_quantized"]["linf_raw"] <= 100
    prediction = dense_prediction(np.rot90(stored[:, :, 1]).astype(np.float64))
    assert head["final_quantized"]["iou"] == pytest.approx(foreground_iou(prediction, head_target), abs=1e-6)
    assert "| PGD | 2 |" in (out / "table.md").read_text()


def test_a_universal_perturbation_refuses_dicom_in_one_line(raw_model, tmp_path, capsys):
    images = tmp_path / "images"
    images.mkdir()
    (images / "chest.dcm").write_bytes(open(CT, "rb").read())
    Image.fromarray(np.zeros((128, 128), np.uint8)).save(tmp_path / "target.png")
    assert main(["universal", "--model", str(raw_model), "--images", str(images), "--target",
                 str(tmp_path / "target.png"), "--out", str(tmp_path / "u")]) == 2
    assert "chest.dcm: is a DICOM or NIfTI image" in _one_error(capsys)
    assert not (tmp_path / "u").exists()


def test_a_batch_reads_each_image_in_its_own_units_even_when_shapes_match(raw_model, tmp_path):
    # Two CTs of one size on different value ranges (another Rescale Intercept): --batch-size 2 must not
    # put them in one batch fed one range; each run equals the same attack made alone.
    images, targets = tmp_path / "images", tmp_path / "targets"
    images.mkdir()
    targets.mkdir()
    shifted = pydicom.dcmread(CT)
    shifted.RescaleIntercept = -824  # 200 HU brighter, and a range 200 HU higher
    shifted.save_as(images / "b.dcm")
    (images / "a.dcm").write_bytes(open(CT, "rb").read())
    hu = pydicom.dcmread(CT).pixel_array - 1024.0
    for name, values in (("a", hu), ("b", hu + 200)):
        Image.fromarray(flipped_square_target(values).astype(np.uint8) * 255).save(targets / f"{name}.png")
    out = tmp_path / "batch"
    assert main(["batch", "--model", str(raw_model), "--images", str(images), "--targets", str(targets),
                 "--methods", "pgd", *PGD[2:], "--batch-size", "2", "--out", str(out), "--quiet"]) == 0
    for name in ("a", "b"):
        alone = tmp_path / f"alone_{name}"
        assert main(["attack", "--model", str(raw_model), "--image", str(images / f"{name}.dcm"), "--target",
                     str(targets / f"{name}.png"), "--out", str(alone), "--quiet", *PGD]) == 0
        batched = json.loads((out / "pgd" / name / "summary.json").read_text())
        expected = json.loads((alone / "summary.json").read_text())
        assert batched["final"]["iou"] == pytest.approx(expected["final"]["iou"], abs=1e-6), name
        assert batched["final"]["iou"] > 0.9


def test_a_batch_finds_dicom_files_named_by_uid_or_without_a_suffix(raw_model, tmp_path):
    images, targets = tmp_path / "images", tmp_path / "targets"
    images.mkdir()
    targets.mkdir()
    hu = pydicom.dcmread(CT).pixel_array - 1024.0
    for name in ("1.2.840.10008.3", "IM0002"):  # as PACS exports name them
        (images / name).write_bytes(open(CT, "rb").read())
        Image.fromarray(flipped_square_target(hu).astype(np.uint8) * 255).save(targets / f"{name}.png")
    (images / "notes.txt").write_text("not an image")
    out = tmp_path / "batch"
    assert main(["batch", "--model", str(raw_model), "--images", str(images), "--targets", str(targets),
                 "--methods", "pgd", *PGD[2:], "--out", str(out), "--quiet"]) == 0
    assert sorted(path.name for path in (out / "pgd").iterdir()) == ["1.2.840.10008.3", "IM0002"]
    assert (out / "pgd" / "IM0002" / "adversarial.dcm").is_file()
