"""``segattack batch``: the paper's pairing protocol, one run folder per (image, method), the table."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from PIL import Image

from segattack_gui.cli import main
from segattack_gui.cli.batch import TABLE_COLUMNS, seeded_derangement

from .conftest import write_case_dataset


@pytest.fixture
def dataset(files, tmp_path):
    return write_case_dataset(tmp_path, count=3, size=24, seed=1, row_step=5, row_height=8, columns=(4, 18))


def run_batch(files, dataset, out, *extra):
    images, masks = dataset
    return main(["batch", "--model", str(files["torchscript"]), "--images", str(images), "--masks", str(masks),
                 "--methods", "ssm,asma", "--iterations", "30", "--tau", "2e-4", "--beta", "2e-3",
                 "--out", str(out), "--quiet", *extra])


def test_derangement_moves_every_index_and_is_seeded():
    for count in (2, 3, 7, 20):
        order = seeded_derangement(count, seed=5)
        assert sorted(order) == list(range(count))
        assert all(order[i] != i for i in range(count))
    assert seeded_derangement(9, 1) == seeded_derangement(9, 1)


def test_batch_writes_run_folders_and_the_table(files, dataset, tmp_path, capsys):
    out = tmp_path / "experiment"
    assert run_batch(files, dataset, out, "--batch-size", "2") == 0
    for method in ("ssm", "asma"):
        for index in range(3):
            summary = json.loads((out / method / f"case{index}" / "summary.json").read_text())
            assert summary["method"] == method
            # shuffle pairing: never attacked towards its own mask
            assert not summary["target_path"].endswith(f"case{index}.png")
    with (out / "table.csv").open() as handle:
        every_row = list(csv.DictReader(handle))
    assert tuple(every_row[0]) == TABLE_COLUMNS
    rows = [row for row in every_row if row["evaluation"] == "attacked"]
    assert [row["method"] for row in rows] == ["ssm", "asma"]
    assert all(row["n"] == "3" for row in rows)
    # the table agrees with an independent mean over the run folders
    ious = [json.loads((out / "asma" / f"case{i}" / "summary.json").read_text())["final"]["iou"] for i in range(3)]
    assert float(rows[1]["iou_mean"]) == pytest.approx(np.mean(ious), rel=1e-5)
    assert float(rows[1]["iou_std"]) == pytest.approx(np.std(ious, ddof=1), rel=1e-4, abs=1e-9)
    table = (out / "table.md").read_text()
    assert "| ASMA | 3 |" in table and "±" in table
    assert "ASMA" in capsys.readouterr().out


def test_batch_resumes_without_redoing_finished_runs(files, dataset, tmp_path):
    out = tmp_path / "experiment"
    assert run_batch(files, dataset, out) == 0
    summary = out / "asma" / "case1" / "summary.json"
    before = summary.stat().st_mtime_ns
    assert run_batch(files, dataset, out) == 0
    assert summary.stat().st_mtime_ns == before


@pytest.mark.parametrize("change, differs", [(("--iterations", "7"), "parameters"), (("--seed", "4"), "parameters")])
def test_resuming_with_other_settings_is_refused(files, dataset, tmp_path, capsys, change, differs):
    """A table must never mix in runs made with settings other than the ones asked for."""
    out = tmp_path / "experiment"
    assert run_batch(files, dataset, out) == 0
    table = (out / "table.csv").read_bytes()
    capsys.readouterr()
    assert run_batch(files, dataset, out, *change) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("segattack: error: ") and "summary.json: was made with another" in error, error
    assert differs in error and "\n" not in error
    assert (out / "table.csv").read_bytes() == table


def test_resuming_after_a_mask_changed_is_refused(files, dataset, tmp_path, capsys):
    from PIL import Image

    out = tmp_path / "experiment"
    assert run_batch(files, dataset, out) == 0
    images, masks = dataset
    for path in masks.iterdir():  # every mask edited in place, same names
        Image.fromarray(np.roll(np.asarray(Image.open(path)), 2, axis=1)).save(path)
    capsys.readouterr()
    assert run_batch(files, dataset, out) == 2
    assert "was made with another target" in capsys.readouterr().err


def test_resuming_with_the_same_files_under_other_paths_reuses_the_runs(files, dataset, tmp_path, monkeypatch):
    out = tmp_path / "experiment"
    assert run_batch(files, dataset, out) == 0
    summary = out / "asma" / "case1" / "summary.json"
    before = summary.stat().st_mtime_ns
    monkeypatch.chdir(tmp_path)
    images, masks = dataset
    relative = (images.relative_to(tmp_path), masks.relative_to(tmp_path))
    assert run_batch(files, relative, out.relative_to(tmp_path)) == 0
    assert summary.stat().st_mtime_ns == before


def test_targets_folder_pairs_by_name(files, dataset, tmp_path):
    images, masks = dataset
    out = tmp_path / "experiment"
    code = main(["batch", "--model", str(files["torchscript"]), "--images", str(images), "--targets", str(masks),
                 "--methods", "asma", "--iterations", "5", "--out", str(out), "--quiet"])
    assert code == 0
    summary = json.loads((out / "asma" / "case2" / "summary.json").read_text())
    assert summary["target_path"].endswith("case2.png")


def test_batched_and_single_runs_agree(files, dataset, tmp_path):
    one, many = tmp_path / "one", tmp_path / "many"
    assert run_batch(files, dataset, one, "--batch-size", "1") == 0
    assert run_batch(files, dataset, many, "--batch-size", "3") == 0
    for index in range(3):
        a = np.load(one / "asma" / f"case{index}" / "adversarial.npy")
        b = np.load(many / "asma" / f"case{index}" / "adversarial.npy")
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_missing_mask_is_a_clear_error(files, dataset, tmp_path, capsys):
    images, masks = dataset
    (masks / "case1.png").unlink()
    assert run_batch(files, dataset, tmp_path / "experiment") == 2
    assert capsys.readouterr().err.startswith(f"segattack: error: {masks}: has no mask named case1")
    assert not (tmp_path / "experiment").exists()


def test_batch_judges_every_run_on_other_models_and_after_transforms(files, dataset, tmp_path, capsys):
    """Transfer and survival rows: in each summary.json and, averaged, in table.csv and table.md."""
    out = tmp_path / "judged"
    assert run_batch(files, dataset, out, "--evaluate-on", str(files["pickle"]), "--trust-model",
                     "--survival", "png8,blur2") == 0
    with (out / "table.csv").open() as handle:
        rows = {(row["method"], row["evaluation"]): row for row in csv.DictReader(handle)}
    assert set(rows) == {(m, e) for m in ("ssm", "asma") for e in ("attacked", "after png8", "after blur2",
                                                                     "on pickled.pt")}
    summaries = [json.loads((out / "asma" / f"case{i}" / "summary.json").read_text()) for i in range(3)]
    on_other = [s["evaluated_on"]["pickled.pt"]["pixel_accuracy"] for s in summaries]
    assert float(rows["asma", "on pickled.pt"]["pa_mean"]) == pytest.approx(np.mean(on_other), rel=1e-5)
    blurred = [next(r for r in s["survival"] if r["transform"] == "blur2")["iou"] for s in summaries]
    assert float(rows["asma", "after blur2"]["iou_mean"]) == pytest.approx(np.mean(blurred), rel=1e-5)
    assert "| ASMA | on pickled.pt | 3 |" in (out / "table.md").read_text()


def test_a_bad_survival_list_exits_2(files, dataset, tmp_path, capsys):
    assert run_batch(files, dataset, tmp_path / "bad", "--survival", "jpeg101") == 2
    assert "--survival: 'jpeg101' is no transform" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()


def test_tau_auto_picks_each_images_step_records_it_and_resumes(files, dataset, tmp_path, capsys):
    """``--tau auto`` in a batch: each image's tau from its own first gradient (as `attack` picks it),
    recorded as step_size; the image runs alone, and a second call resumes rather than refusing."""
    from segattack_gui.core.attacks.step_size import resolve_auto_step
    from segattack_gui.io.images import read_image
    from segattack_gui.io.model_files import load_model

    images, masks = dataset
    out = tmp_path / "auto"
    command = ["batch", "--model", str(files["torchscript"]), "--images", str(images), "--masks", str(masks),
               "--pairing", "same-name", "--methods", "asma,pgd", "--iterations", "8", "--tau", "auto",
               "--first-step", "2/255", "--batch-size", "3", "--out", str(out), "--quiet"]
    assert main(command) == 0
    model = load_model(files["torchscript"])
    for case in ("case0", "case1", "case2"):
        summary = json.loads((out / "asma" / case / "summary.json").read_text())
        step = summary["step_size"]
        assert step["tau"] == "auto" and step["first_step"] == pytest.approx(2 / 255)
        assert summary["config"]["tau"] == step["tau_used"] and summary["config"]["beta"] == step["beta_used"]
        assert summary["batch_size"] == 1
        image = read_image(images / f"{case}.png").pixels
        target = np.asarray(Image.open(masks / f"{case}.png")) > 127
        expected, _ = resolve_auto_step(model.adapter, "asma", {"tau": "auto", "first_step": 2 / 255, "iterations": 8},
                                        image, target.astype(np.int64))
        assert step["tau_used"] == pytest.approx(expected["tau"], rel=1e-5)
        pgd = json.loads((out / "pgd" / case / "summary.json").read_text())
        assert "step_size" not in pgd and pgd["batch_size"] == 3  # the other method still batches
    assert main(command) == 0  # resumes: the picked steps are the recorded ones


def test_beta_with_tau_auto_is_refused_before_any_work(files, dataset, tmp_path, capsys):
    images, masks = dataset
    code = main(["batch", "--model", str(files["torchscript"]), "--images", str(images), "--masks", str(masks),
                 "--methods", "asma", "--tau", "auto", "--beta", "1e-5", "--out", str(tmp_path / "c"), "--quiet"])
    assert code == 2 and "--beta: is set by --tau auto" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()


def test_tau_auto_on_an_image_already_at_its_target_is_one_line_naming_it(files, tmp_path, capsys):
    """The threshold model predicts background everywhere here: an all-background target gives a zero
    first gradient, so the rule cannot scale a step; the line names the image and the flag once."""
    images, targets = tmp_path / "images", tmp_path / "targets"
    images.mkdir()
    targets.mkdir()
    (images / "case.png").write_bytes(files["image"].read_bytes())
    height, width = np.asarray(Image.open(files["image"])).shape[:2]
    Image.fromarray(np.zeros((height, width), np.uint8)).save(targets / "case.png")
    code = main(["batch", "--model", str(files["torchscript"]), "--images", str(images), "--targets", str(targets),
                 "--methods", "asma", "--tau", "auto", "--out", str(tmp_path / "out"), "--quiet"])
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert code == 2
    assert error.startswith(f"segattack: error: {images / 'case.png'}: --tau auto cannot be used: the first gradient")
