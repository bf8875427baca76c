"""``segattack budget``: curves.csv and the figure from one run per image or one run per budget."""

from __future__ import annotations

import csv
import json

import cv2
import pytest

from segattack_gui.cli import main

from .conftest import write_case_dataset


@pytest.fixture
def dataset(files, tmp_path):
    return write_case_dataset(tmp_path, count=3, size=24, seed=1, row_step=5, row_height=8, columns=(4, 18))


def test_budget_writes_curves_that_agree_with_the_run_folders(files, dataset, tmp_path, capsys):
    images, masks = dataset
    out = tmp_path / "budget"
    code = main(["budget", "--model", str(files["torchscript"]), "--images", str(images), "--masks", str(masks),
                 "--methods", "alma_prox,pdpgd,pgd", "--iterations", "40", "--learning-rate", "0.01",
                 "--linf-budgets", "4/255,16/255,64/255", "--l2-budgets", "1,4", "--out", str(out), "--quiet"])
    assert code == 0
    with (out / "curves.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert {row["reached_when"] for row in rows} == {"pixel accuracy >= 0.99"}  # the criterion travels with the data
    with (out / "table.csv").open() as handle:  # every method without a budget, in one table
        assert {row["method"] for row in csv.DictReader(handle)} == {"alma_prox", "pdpgd"}
    # One-run method: at each budget, the share of its answers that reached 99 % within it.
    answers = [json.loads((out / "alma_prox" / f"case{i}" / "summary.json").read_text())["final"] for i in range(3)]
    for row in (r for r in rows if r["method"] == "alma_prox" and r["norm"] == "linf"):
        expected = sum(a["pixel_accuracy"] >= 0.99 and a["linf"] <= float(row["budget"]) + 1e-6
                       for a in answers) / 3
        assert float(row["reached_share"]) == pytest.approx(expected)
    # Sweep method: one run per budget, its own share.
    sweep = {float(r["budget"]): float(r["reached_share"]) for r in rows if r["method"] == "pgd" and r["norm"] == "l2"}
    assert sorted(sweep) == [1.0, 4.0]
    for budget, folder in ((1.0, "l2-1"), (4.0, "l2-4")):
        finals = [json.loads((out / "sweeps" / folder / "pgd" / f"case{i}" / "summary.json").read_text())
                  for i in range(3)]
        assert all(f["config"]["l2_epsilon"] == budget and f["final"]["l2"] <= budget + 1e-5 for f in finals)
        assert sweep[budget] == pytest.approx(sum(f["final"]["pixel_accuracy"] >= 0.99 for f in finals) / 3)
    figure = cv2.imread(str(out / "curves.png"))
    assert figure is not None and figure.shape[1] == 2 * 2 * 380  # two panels, drawn at twice the size
    svg = (out / "curves.svg").read_text()
    assert svg.count("<polyline") > 10 and "alma_prox" in svg and "pgd" in svg
    assert "curves.csv" in capsys.readouterr().out


def test_budget_refuses_a_bad_budget_list(files, dataset, tmp_path, capsys):
    images, masks = dataset
    assert main(["budget", "--model", str(files["torchscript"]), "--images", str(images), "--masks", str(masks),
                 "--linf-budgets", "2/255,-1", "--out", str(tmp_path / "b"), "--quiet"]) == 2
    assert "--linf-budgets: budgets must be > 0" in capsys.readouterr().err
    assert not (tmp_path / "b").exists()
