"""``segattack rerun``: a run folder is enough to repeat its run, and the numbers are checked, not assumed."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from PIL import Image

from segattack_gui.cli import main
from tests.e2e.test_cli_attack import attack


def rerun(*arguments) -> int:
    return main(["rerun", *map(str, arguments), "--quiet"])


@pytest.fixture
def run_folder(files, tmp_path):
    out = tmp_path / "run"
    assert attack(files, out, "--iterations", "12", "--tau", "1e-4", model="state_dict") == 0
    return out


def test_a_run_repeats_identically_and_writes_nothing(run_folder, capsys):
    capsys.readouterr()
    before = sorted(p.name for p in run_folder.parent.iterdir())
    assert rerun(run_folder) == 0
    output = capsys.readouterr().out
    assert "model, sidecar, image, target match the recorded SHA-256" in output
    assert "reproduced: identical (12 iterations, 91 per-iteration values" in output
    assert sorted(p.name for p in run_folder.parent.iterdir()) == before


def test_rerun_with_out_exports_the_same_numbers(run_folder, tmp_path):
    again = tmp_path / "again"
    assert rerun(run_folder, "--out", again) == 0
    first = json.loads((run_folder / "summary.json").read_text())
    second = json.loads((again / "summary.json").read_text())
    assert second["final"] == first["final"] and second["best"] == first["best"]
    assert second["rerun_of"] == str(run_folder) and second["target_ids_sha256"] == first["target_ids_sha256"]
    np.testing.assert_array_equal(np.load(again / "adversarial.npy"), np.load(run_folder / "adversarial.npy"))


def test_an_edited_number_is_found_and_named(run_folder, capsys):
    path = run_folder / "metrics.csv"
    with path.open() as handle:
        rows = list(csv.DictReader(handle))
    rows[7]["l2"] = str(float(rows[7]["l2"]) * 1.01)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    assert rerun(run_folder) == 1
    verdict = capsys.readouterr().out.strip().splitlines()[-1]
    assert verdict.startswith("differs: metrics.csv l2 at iteration 7: recorded")
    assert rerun(run_folder, "--tolerance", "0.05") == 0  # within a tolerance the caller chose


def test_a_changed_model_file_is_refused(run_folder, files, capsys):
    torch.manual_seed(1)
    weights = torch.load(files["state_dict"])
    torch.save({name: value + 0.01 for name, value in weights.items()}, files["state_dict"])
    assert rerun(run_folder) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith(f"segattack: error: {files['state_dict']}: is not the file the run used")
    assert "\n" not in error


def test_a_moved_image_is_named_and_can_be_given(run_folder, files, tmp_path, capsys):
    moved = tmp_path / "moved.png"
    files["image"].rename(moved)
    assert rerun(run_folder) == 2
    assert "is gone (the run folder names it as its image); pass --image" in capsys.readouterr().err
    assert rerun(run_folder, "--image", moved) == 0
    other = tmp_path / "other.png"
    Image.fromarray(np.zeros((32, 40, 3), np.uint8)).save(other)
    assert rerun(run_folder, "--image", other) == 2
    assert "is not the file the run used" in capsys.readouterr().err


def test_a_region_run_repeats_from_the_folder_alone(files, tmp_path, capsys):
    region = np.zeros((32, 40), np.uint8)
    region[4:28, 5:35] = 255
    region_file = files["folder"] / "region.png"
    Image.fromarray(region).save(region_file)
    out = tmp_path / "run"
    assert attack(files, out, "--iterations", "8", "--tau", "2e-4", "--region", str(region_file)) == 0
    region_file.unlink()  # the run folder keeps its own copy
    assert rerun(out) == 0
    assert "target, region match" in capsys.readouterr().out


def test_a_run_stopped_by_the_user_repeats_to_where_it_stopped(run_folder, capsys):
    path = run_folder / "summary.json"
    summary = json.loads(path.read_text())
    summary["config"]["iterations"] = 500  # as if Stop was pressed at iteration 12 of 500
    summary["stop_reason"] = "user"
    path.write_text(json.dumps(summary))
    assert rerun(run_folder) == 0
    assert "reproduced: identical (12 iterations" in capsys.readouterr().out


@pytest.mark.parametrize("damage, words", [
    (lambda folder: (folder / "summary.json").unlink(), "holds no summary.json, so it is not a run folder"),
    (lambda folder: (folder / "summary.json").write_text("{"), "summary.json: cannot be read"),
    (lambda folder: (folder / "target.png").unlink(), "target.png: is missing from the run folder"),
])
def test_a_broken_run_folder_is_one_line(run_folder, capsys, damage, words):
    damage(run_folder)
    assert rerun(run_folder) == 2
    error = capsys.readouterr().err.strip()
    assert words in error and "\n" not in error


def test_a_cuda_run_on_a_machine_without_cuda_says_what_to_do(run_folder, capsys):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    path = run_folder / "summary.json"
    summary = json.loads(path.read_text())
    summary["device"] = "cuda:0"
    path.write_text(json.dumps(summary))
    assert rerun(run_folder) == 2
    assert "pass --device cpu to repeat it here" in capsys.readouterr().err
    assert rerun(run_folder, "--device", "cpu") == 0
