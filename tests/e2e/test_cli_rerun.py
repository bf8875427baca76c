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


@pytest.mark.parametrize("method, parameters", [
    ("asma", {"tau": 2e-4, "beta": 2e-3, "quantize": True, "quantize_fraction": 0.6}),  # 8-bit phase set by 40
    ("segpgd", {}),  # its weights follow t / 40
])
def test_a_run_stopped_by_the_user_repeats_to_where_it_stopped(files, tmp_path, capsys, method, parameters):
    """Stop pressed at iteration 21 of 40, as in the window: the rerun stops there too, with the
    schedules of a 40-iteration run."""
    from segattack_gui.core.attacks import create_attack
    from segattack_gui.core.runner import AttackControl, run_attack
    from segattack_gui.io.export import export_run
    from segattack_gui.io.inputs import load_attack_inputs

    inputs = load_attack_inputs(files["state_dict"], files["image"], files["target"], device="cpu")
    control = AttackControl()

    def press_stop(snapshot):
        if snapshot.iteration >= 20:
            control.stop()

    result = run_attack(inputs.model.adapter, inputs.image.pixels, inputs.target.class_ids,
                        create_attack(method, iterations=40, **parameters), on_snapshot=press_stop,
                        snapshot_interval=0.0, control=control)
    assert result.stop_reason == "user" and 20 <= result.iterations_run < 40
    folder = export_run(result, tmp_path / "stopped", inputs.provenance(), inputs.colors)
    assert rerun(folder) == 0
    assert f"reproduced: identical ({result.iterations_run} iterations" in capsys.readouterr().out


def test_another_number_of_iterations_is_never_reproduced(run_folder, capsys):
    path = run_folder / "summary.json"
    summary = json.loads(path.read_text())
    summary["iterations_run"] += 1
    path.write_text(json.dumps(summary))
    assert rerun(run_folder, "--tolerance", "0.5") == 1  # no tolerance covers a count
    assert capsys.readouterr().out.strip().splitlines()[-1] == "differs: iterations run: recorded 13, now 12"


@pytest.mark.parametrize("tolerance", ["nan", "-1", "inf"])
def test_a_tolerance_must_be_a_number_at_least_zero(run_folder, capsys, tolerance):
    assert rerun(run_folder, "--tolerance", tolerance) == 2
    assert capsys.readouterr().err.startswith("segattack: error: --tolerance: must be a number >= 0")


def test_paths_are_recorded_whole_so_another_folder_can_rerun(files, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(files["folder"])
    out = tmp_path / "run"
    assert main(["attack", "--model", "unet_state.pt", "--image", "image.png", "--target", "target.png",
                 "--iterations", "3", "--out", str(out), "--quiet"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["model_path"] == str(files["state_dict"]) and summary["image_path"] == str(files["image"])
    monkeypatch.chdir(tmp_path)
    assert rerun(out) == 0


def test_an_older_folder_with_a_region_but_no_region_png_is_refused(files, tmp_path, capsys):
    region = np.zeros((32, 40), np.uint8)
    region[:, :20] = 255
    Image.fromarray(region).save(files["folder"] / "region.png")
    out = tmp_path / "run"
    assert attack(files, out, "--iterations", "3", "--region", str(files["folder"] / "region.png")) == 0
    (out / "region.png").unlink()
    summary = json.loads((out / "summary.json").read_text())
    del summary["region_ids_sha256"]  # as written before the field existed
    (out / "summary.json").write_text(json.dumps(summary))
    assert rerun(out) == 2
    assert "records a perturbation region but holds no region.png" in capsys.readouterr().err


def test_the_header_names_only_what_was_checked(run_folder, capsys):
    path = run_folder / "summary.json"
    summary = json.loads(path.read_text())
    del summary["sidecar_sha256"], summary["image_sha256"]  # an older folder
    path.write_text(json.dumps(summary))
    capsys.readouterr()
    assert rerun(run_folder) == 0
    captured = capsys.readouterr()
    assert "; model, target match the recorded SHA-256" in captured.out
    assert "the model's sidecar was not checked" in captured.err and "the image file was not checked" in captured.err


def edit_summary(folder, config=None, **values):
    path = folder / "summary.json"
    summary = json.loads(path.read_text())
    summary["config"].update(config or {})
    summary.update(values)
    path.write_text(json.dumps(summary))


@pytest.mark.parametrize("damage, words", [
    (lambda folder: (folder / "summary.json").unlink(), "holds no summary.json, so it is not a run folder"),
    (lambda folder: (folder / "summary.json").write_text("{"), "summary.json: cannot be read"),
    (lambda folder: (folder / "target.png").unlink(), "target.png: is missing from the run folder"),
    (lambda folder: (folder / "adversarial.npy").write_bytes(b"\x93NUMPY"), "adversarial.npy: cannot be read"),
    (lambda folder: (folder / "summary.json").write_text('{"method": "asma", "config": [], "iterations_run": 3}'),
     "is not a SegAttack run summary"),
    (lambda folder: edit_summary(folder, config={"tau": "abc"}), "its config cannot be run here (tau must be a number"),
    (lambda folder: edit_summary(folder, config={"iterations": 20.0}), "(iterations must be a whole number, not 20.0)"),
    (lambda folder: edit_summary(folder, image_path=123), "(image_path is not text)"),
    (lambda folder: edit_summary(folder, precision="fp64"), "records precision 'fp64'"),
    (lambda folder: (folder / "metrics.csv").write_text("iteration,iou\n"), "metrics.csv: holds no iterations"),
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
    assert "the run used cuda:0, this rerun cpu" in capsys.readouterr().err
    assert rerun(run_folder, "--device", "cuda") == 2  # the user's own flag: no advice about the run
    assert "the run used" not in capsys.readouterr().err


def test_a_device_this_machine_cannot_use_is_one_line(run_folder, capsys):
    assert rerun(run_folder, "--device", "mps") == 2
    assert capsys.readouterr().err.strip() == "segattack: error: --device: unsupported device 'mps' (use auto, cpu, cuda or cuda:N)"


def test_without_its_adversarial_image_the_rerun_says_what_it_could_not_compare(run_folder, capsys):
    (run_folder / "adversarial.npy").unlink()
    assert rerun(run_folder) == 0
    captured = capsys.readouterr()
    assert "the adversarial image was not compared" in captured.err and "the adversarial image)" not in captured.out


def test_the_rerun_is_never_written_into_the_folder_it_repeats(run_folder, capsys):
    assert rerun(run_folder, "--out", run_folder / "again") == 2
    assert "--out: is inside the run folder it repeats" in capsys.readouterr().err
    assert not (run_folder / "again").exists()


@pytest.mark.parametrize("method, extra", [("alma_prox", ["--learning-rate", "0.01"]),
                                           ("pdpgd", ["--norm", "l2", "--quantize"])])
def test_minimal_norm_runs_repeat_identically(files, tmp_path, capsys, method, extra):
    out = tmp_path / method
    assert attack(files, out, "--method", method, "--iterations", "15", *extra) == 0
    capsys.readouterr()
    assert rerun(out) == 0
    assert "reproduced: identical (15 iterations" in capsys.readouterr().out


def test_a_tiled_run_records_its_override_and_reruns_identical(tmp_path, capsys):
    """--input-size/--input-policy override the sidecar for this run; summary.json keeps them and rerun applies them."""
    out = tmp_path / "tiled"
    assert main(["attack", "--demo", "fundus", "--iterations", "2", "--input-size", "128", "128",
                 "--input-policy", "tile", "--out", str(out), "--quiet"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["model_overrides"] == {"input_policy": "tile", "input_size": [128, 128]}
    capsys.readouterr()
    assert main(["rerun", str(out), "--quiet"]) == 0
    assert "reproduced: identical" in capsys.readouterr().out


def test_the_other_models_and_survival_rows_are_judged_again(files, tmp_path, capsys):
    """A transfer or survival number is a result too: rerun repeats it, and catches a changed one."""
    copy = files["folder"] / "judge.ts"
    copy.write_bytes(files["torchscript"].read_bytes())
    (files["folder"] / "judge.json").write_text((files["folder"] / "threshold.json").read_text())
    out = tmp_path / "judged"
    assert attack(files, out, "--iterations", "10", "--tau", "2e-4", "--evaluate-on", str(copy),
                  "--survival", "png8,jpeg75") == 0
    capsys.readouterr()
    assert rerun(out) == 0
    output = capsys.readouterr().out
    assert "reproduced: identical" in output and "the survival rows" in output and "1 other model's scores" in output

    summary_path = out / "summary.json"
    summary = json.loads(summary_path.read_text())
    summary["evaluated_on"]["judge.ts"]["iou"] += 0.25  # as if the other model had scored otherwise
    summary_path.write_text(json.dumps(summary))
    assert rerun(out) == 1
    assert "differs: evaluated_on judge.ts iou" in capsys.readouterr().out

    copy.unlink()
    summary["evaluated_on"]["judge.ts"]["iou"] -= 0.25
    summary_path.write_text(json.dumps(summary))
    assert rerun(out) == 0
    assert "evaluated_on judge.ts: its model is not at" in capsys.readouterr().err

    copy.write_bytes(files["torchscript"].read_bytes() + b" ")  # another file in its place
    assert rerun(out) == 0
    assert "judge.ts is not the model recorded (its SHA-256 differs); not judged again" in capsys.readouterr().err
