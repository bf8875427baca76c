"""``segattack attack``: the run folder (docs/design.md, Run folders), and one clear line for every bad input."""

from __future__ import annotations

import csv
import hashlib
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from segattack_gui.cli import main
from segattack_gui.io.images import to_uint8
from segattack_gui.io.masks import read_mask

RUN_FOLDER_FILES = {
    "adversarial.png", "adversarial.npy", "perturbation.npy", "perturbation_heatmap.png", "original.png",
    "target.png", "prediction_original.png", "prediction_adversarial.png", "overlay.png", "metrics.csv",
    "summary.json",
}


def attack(files, out, *extra, model="torchscript"):
    return main(["attack", "--model", str(files[model]), "--image", str(files["image"]),
                 "--target", str(files["target"]), "--out", str(out), "--quiet", *extra])


def test_attack_writes_the_full_run_folder(files, tmp_path, capsys):
    out = tmp_path / "run"
    assert attack(files, out, "--iterations", "40", "--tau", "2e-4", "--beta", "2e-3", "--gif") == 0
    assert RUN_FOLDER_FILES | {"iterations.gif"} <= {p.name for p in out.iterdir()}
    summary = json.loads((out / "summary.json").read_text())
    for key in ("method", "config", "final", "final_quantized", "best", "iterations_run", "seconds", "device",
                "seed", "model_sha256", "image_sha256", "target_sha256", "versions"):
        assert key in summary, key
    assert summary["method"] == "asma" and summary["config"]["tau"] == 2e-4
    for name in ("model", "image", "target"):  # what `sha256sum` says of the input files
        assert summary[f"{name}_sha256"] == hashlib.sha256(files[name if name != "model" else "torchscript"]
                                                           .read_bytes()).hexdigest(), name
    assert summary["target_ids_sha256"] and summary["target_ids_sha256"] != summary["target_sha256"]
    assert summary["device"] == "cpu" and summary["precision"] == "fp32"
    assert set(summary["versions"]) == {"segattack", "torch", "numpy", "python"}
    assert summary["final"]["iou"] > 0.9
    with (out / "metrics.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == summary["iterations_run"] + 1
    assert list(rows[0]) == ["iteration", "iou", "pixel_accuracy", "dice", "l2", "linf", "loss", "multiplier",
                             "seconds"]
    adversarial = np.load(out / "adversarial.npy")
    assert adversarial.shape == (32, 40, 3) and adversarial.dtype == np.float32
    np.testing.assert_array_equal(np.asarray(Image.open(out / "adversarial.png")), to_uint8(adversarial))
    original = np.asarray(Image.open(files["image"])) / 255
    np.testing.assert_allclose(np.load(out / "perturbation.npy"), adversarial - original, atol=1e-6)
    target = Image.open(out / "target.png")
    assert target.mode == "P" and np.asarray(target).max() == 1
    assert "IoU" in capsys.readouterr().out


def test_same_configuration_gives_the_same_numbers(files, tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    for out in (first, second):
        assert attack(files, out, "--iterations", "10", "--tau", "1e-4", model="state_dict") == 0
    one = json.loads((first / "summary.json").read_text())
    two = json.loads((second / "summary.json").read_text())
    assert one["final"] == two["final"] and one["model_sha256"] == two["model_sha256"]
    np.testing.assert_array_equal(np.load(first / "adversarial.npy"), np.load(second / "adversarial.npy"))


def test_region_limits_the_change_and_travels_with_the_run(files, tmp_path):
    region = np.zeros((32, 40), np.uint8)
    region[:, :24] = 255  # the left 24 columns may change
    region_file = files["folder"] / "region.png"
    Image.fromarray(region).save(region_file)
    out = tmp_path / "run"
    assert attack(files, out, "--iterations", "20", "--tau", "2e-4", "--region", str(region_file)) == 0
    perturbation = np.load(out / "perturbation.npy")
    assert np.abs(perturbation[:, 24:]).max() == 0 and np.abs(perturbation[:, :24]).max() > 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["region_sha256"] == hashlib.sha256(region_file.read_bytes()).hexdigest()
    # The run folder keeps the region as `--region` reads it, so the run can be repeated from the folder alone.
    assert read_mask(out / "region.png", num_classes=2).class_ids.tolist() == (region > 0).astype(int).tolist()


def test_summary_names_the_sidecar_it_was_run_with(files, tmp_path):
    out = tmp_path / "run"
    assert attack(files, out, "--iterations", "2", model="state_dict") == 0
    summary = json.loads((out / "summary.json").read_text())
    sidecar = files["folder"] / "unet_state.json"
    assert summary["sidecar_path"] == str(sidecar)
    assert summary["sidecar_sha256"] == hashlib.sha256(sidecar.read_bytes()).hexdigest()
    assert "region.png" not in {p.name for p in out.iterdir()}  # no region: every pixel could change


def test_pickled_model_needs_consent(files, tmp_path, capsys):
    out = tmp_path / "run"
    assert attack(files, out, "--iterations", "2", model="pickle") == 2
    message = capsys.readouterr().err.strip()
    assert message.startswith(f"segattack: error: {files['pickle']}: ") and "--trust-model" in message
    assert not out.exists()
    assert attack(files, out, "--iterations", "2", "--trust-model", model="pickle") == 0


def _truncated_png(files, tmp_path):
    path = tmp_path / "cut.png"
    path.write_bytes(files["image"].read_bytes()[:200])
    return path


def _wrong_size_mask(files, tmp_path):
    path = tmp_path / "small.png"
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(path)
    return path


def _unknown_ids_mask(files, tmp_path):
    path = tmp_path / "ids.png"
    Image.fromarray(np.full((32, 40), 7, np.uint8)).save(path)
    return path


def _not_a_model(files, tmp_path):
    path = tmp_path / "notes.pt"
    path.write_text("not a model")
    return path


def _notes_with_a_newline(files, tmp_path):  # torch failed on these bytes with an IndexError
    path = tmp_path / "notes.pt"
    path.write_text("some notes\n")
    return path


@pytest.mark.parametrize("case, flag, culprit, words", [
    ("truncated image", "--image", _truncated_png, "truncated"),
    ("mask of the wrong size", "--target", _wrong_size_mask, "but the image is"),
    ("mask with unknown class ids", "--target", _unknown_ids_mask, "7"),
    ("file that is not a model", "--model", _not_a_model, "not a PyTorch model file (it cannot be unpickled)"),
    ("notes that torch fails on otherwise", "--model", _notes_with_a_newline,
     "not a PyTorch model file (it cannot be unpickled)"),
])
def test_bad_files_exit_2_with_one_line_and_write_nothing(files, tmp_path, capsys, case, flag, culprit, words):
    path = culprit(files, tmp_path)
    arguments = {"--model": files["torchscript"], "--image": files["image"], "--target": files["target"]}
    arguments[flag] = path
    out = tmp_path / "run"
    code = main(["attack", "--out", str(out), "--quiet", "--iterations", "2",
                 *[str(x) for pair in arguments.items() for x in pair]])
    error = capsys.readouterr().err.strip()
    assert code == 2, case
    assert error.count("\n") == 0 and error.startswith(f"segattack: error: {path}: "), error
    assert words in error, error
    assert not out.exists()


@pytest.mark.parametrize("arguments, source", [
    (["--tau", "nan"], "--tau"),
    (["--tau", "-1"], "--tau"),
    (["--iterations", "0"], "--iterations"),
    (["--method", "fgsm"], "--method"),
    (["--epsilon", "0.1"], "--epsilon"),  # ASMA has no epsilon
])
def test_bad_parameters_exit_2(files, tmp_path, capsys, arguments, source):
    out = tmp_path / "run"
    assert attack(files, out, *arguments) == 2
    assert capsys.readouterr().err.startswith(f"segattack: error: {source}: ")
    assert not out.exists()


def test_model_whose_output_does_not_fit(files, tmp_path, capsys):
    sidecar = files["torchscript"].with_suffix(".json")
    sidecar.write_text(json.dumps({"classes": ["a", "b", "c"]}))
    assert attack(files, tmp_path / "run", "--iterations", "2") == 2
    assert capsys.readouterr().err.startswith(f"segattack: error: {files['torchscript']}: ")


def test_existing_output_folder_is_not_overwritten(files, tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "keep.txt").write_text("precious")
    assert attack(files, out, "--iterations", "2") == 2
    assert (out / "keep.txt").read_text() == "precious"


def test_entry_point_runs_as_a_program(files, tmp_path):
    completed = subprocess.run(
        [sys.executable, "-m", "segattack_gui.cli", "attack", "--model", str(files["torchscript"]),
         "--image", str(tmp_path / "missing.png"), "--target", str(files["target"]), "--out", str(tmp_path / "r")],
        capture_output=True, text=True, timeout=120,
    )
    assert completed.returncode == 2
    assert completed.stderr.strip().splitlines() == [
        f"segattack: error: {tmp_path / 'missing.png'}: " + completed.stderr.split(": ", 3)[-1].strip()
    ]


def test_evaluate_on_and_survival_rows(files, tmp_path, capsys):
    """The attacked model itself, as an --evaluate-on model, scores exactly the run's final numbers;
    the png8 survival row is the 8-bit export's (ASMA rounds to the nearest level, as a PNG does)."""
    out = tmp_path / "judged"
    copy = files["folder"] / "copy.ts"
    copy.write_bytes(files["torchscript"].read_bytes())
    (files["folder"] / "copy.json").write_text((files["folder"] / "threshold.json").read_text())
    assert attack(files, out, "--iterations", "20", "--tau", "2e-4", "--evaluate-on", str(copy),
                  "--survival", "png8,jpeg50") == 0
    summary = json.loads((out / "summary.json").read_text())
    on_copy = summary["evaluated_on"]["copy.ts"]
    assert on_copy["iou"] == pytest.approx(summary["final"]["iou"], abs=1e-6)
    assert on_copy["pixel_accuracy"] == pytest.approx(summary["final"]["pixel_accuracy"], abs=1e-6)
    assert on_copy["model_sha256"] == summary["model_sha256"] and on_copy["model_path"].endswith("copy.ts")
    assert on_copy["warnings"] == list(summary["warnings"])  # the same model looks misfed the same way
    rows = {row["transform"]: row for row in summary["survival"]}
    assert list(rows) == ["png8", "jpeg50"]
    assert rows["png8"]["iou"] == pytest.approx(summary["final_quantized"]["iou"], abs=1e-6)
    assert "on copy.ts: IoU" in capsys.readouterr().out


def test_two_evaluate_on_models_of_one_name_exit_2(files, tmp_path, capsys):
    three = files["folder"] / "three.ts"
    three.write_bytes(files["torchscript"].read_bytes())
    code = main(["attack", "--model", str(files["torchscript"]), "--image", str(files["image"]),
                 "--target", str(files["target"]), "--out", str(tmp_path / "x"), "--quiet",
                 "--evaluate-on", str(three), str(three)])
    assert code == 2
    assert "same file name as another --evaluate-on model" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_alma_prox_keeps_to_the_region_and_its_png_is_its_answer(files, tmp_path):
    """The answer is the best iterate; with --quantize it is one an 8-bit PNG holds, so
    adversarial.png scores what summary.json says; nothing outside the region moves."""
    region = np.zeros((32, 40), np.uint8)
    region[4:28, 6:34] = 255
    Image.fromarray(region).save(files["folder"] / "region.png")
    out = tmp_path / "alma"
    assert attack(files, out, "--method", "alma_prox", "--iterations", "60", "--learning-rate", "0.01",
                  "--quantize", "--region", str(files["folder"] / "region.png"), "--survival", "none") == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["method"] == "alma_prox" and "survival" not in summary
    for key in ("iou", "pixel_accuracy", "linf", "l2"):
        assert summary["final"][key] == pytest.approx(summary["final_quantized"][key], abs=1e-6), key
    perturbation = np.load(out / "perturbation.npy")
    assert np.abs(perturbation[region == 0]).max() == 0
    adversarial = np.load(out / "adversarial.npy")
    assert np.array_equal(np.round(adversarial * 255), adversarial * 255)  # on the 8-bit grid already
    assert summary["final"]["linf"] == pytest.approx(np.abs(perturbation).max(), abs=1e-6)


def test_an_ensemble_of_a_model_and_its_copy_attacks_like_the_model(files, tmp_path, capsys):
    copy = files["folder"] / "twin.ts"
    copy.write_bytes(files["torchscript"].read_bytes())
    single, paired = tmp_path / "single", tmp_path / "paired"
    assert attack(files, single, "--iterations", "10", "--tau", "2e-4", "--survival", "none") == 0
    assert attack(files, paired, "--iterations", "10", "--tau", "2e-4", "--survival", "none",
                  "--ensemble", str(copy)) == 0
    one, two = (json.loads((folder / "summary.json").read_text()) for folder in (single, paired))
    assert two["final"]["iou"] == pytest.approx(one["final"]["iou"], abs=1e-6)
    assert two["final"]["l2"] == pytest.approx(one["final"]["l2"], rel=1e-5)
    assert two["ensemble"][0]["model_sha256"] == hashlib.sha256(copy.read_bytes()).hexdigest()
    capsys.readouterr()
    assert main(["rerun", str(paired), "--quiet", "--out", str(tmp_path / "again")]) == 0  # the members loaded again
    said = capsys.readouterr().out
    assert "the ensemble's 1 other model match" in said and "reproduced: identical" in said
    assert json.loads((tmp_path / "again" / "summary.json").read_text())["ensemble"] == two["ensemble"]
    copy.write_bytes(files["torchscript"].read_bytes() + b" ")  # the member changed since
    assert main(["rerun", str(paired), "--quiet"]) == 2
    assert "twin.ts: is not the ensemble member the run used" in capsys.readouterr().err
    copy.unlink()
    assert main(["rerun", str(paired), "--quiet"]) == 2
    assert "was crafted on an ensemble whose member" in capsys.readouterr().err
