"""``segattack batch`` under torchrun: two CPU processes (gloo) share the runs, rank 0 writes the table."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from segattack_gui.cli.batch import Pair, run_folder
from segattack_gui.cli.distributed import Team

from .conftest import write_case_dataset

REPOSITORY = Path(__file__).resolve().parents[2]


@pytest.fixture
def four_cases(tmp_path: Path) -> tuple[Path, Path]:
    return write_case_dataset(tmp_path, count=4, size=20, seed=4, row_step=4, row_height=6, columns=(3, 16))


def test_shares_are_disjoint_and_cover_every_item():
    items = list(range(7))
    shares = [Team(rank, 3, rank, "cpu").share(items) for rank in range(3)]
    assert sorted(sum(shares, [])) == items
    assert shares[0] == [0, 3, 6]


def test_two_gloo_processes_share_the_batch(files, four_cases, tmp_path):
    images, masks = four_cases
    out = tmp_path / "experiment"
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
        "-m", "segattack_gui.cli", "batch", "--model", str(files["torchscript"]), "--images", str(images),
        "--masks", str(masks), "--methods", "ssm,asma", "--iterations", "20", "--tau", "2e-4", "--beta", "2e-3",
        "--device", "cpu", "--out", str(out),
    ]
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPOSITORY)}
    finished = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=tmp_path, env=environment)
    assert finished.returncode == 0, finished.stderr[-3000:]
    assert "rank 0" in finished.stderr and "rank 1" in finished.stderr  # each process ran its share

    for method in ("ssm", "asma"):
        for index in range(4):
            pair = Pair(images / f"case{index}.png", masks / "unused.png")
            summary = json.loads((run_folder(out, method, pair) / "summary.json").read_text())
            assert summary["method"] == method
            assert not summary["target_path"].endswith(f"case{index}.png")  # shuffle pairing
    with (out / "table.csv").open() as handle:
        rows = [row for row in csv.DictReader(handle) if row["evaluation"] == "attacked"]
    assert [row["method"] for row in rows] == ["ssm", "asma"]
    assert all(row["n"] == "4" for row in rows)
    ious = [json.loads((out / "asma" / f"case{i}" / "summary.json").read_text())["final"]["iou"] for i in range(4)]
    assert float(rows[1]["iou_mean"]) == pytest.approx(np.mean(ious), rel=1e-5)
    assert "| ASMA | 4 |" in (out / "table.md").read_text()
    assert finished.stdout.count("| ASMA | 4 |") == 1  # only rank 0 prints the table
    assert not list(out.rglob(".segattack-tmp-*"))  # every run folder was completed
