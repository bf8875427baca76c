"""The window's "Success against budget" view of a ``segattack budget`` or ``segattack batch`` folder."""

from __future__ import annotations

import csv
import json

import pytest

from segattack_gui.cli import main
from segattack_gui.io.budget_curves import curves_in_folder
from tests.e2e.conftest import files, write_case_dataset  # noqa: F401 (fixture)


@pytest.fixture
def batch_folder(files, tmp_path):  # noqa: F811
    images, masks = write_case_dataset(tmp_path, count=3, size=24, seed=1, row_step=5, row_height=8, columns=(4, 18))
    out = tmp_path / "batch"
    assert main(["batch", "--model", str(files["torchscript"]), "--images", str(images), "--masks", str(masks),
                 "--pairing", "same-name", "--methods", "alma_prox,pgd", "--iterations", "40", "--learning-rate", "0.01", "--quiet",
                 "--out", str(out)]) == 0
    return out


def show(qtbot, window, folder):
    dialog = window.show_budget_curves(folder)
    qtbot.waitUntil(lambda: dialog.curves is not None or "Reading" not in dialog.source.text(), timeout=30_000)
    return dialog


def test_a_batch_folder_gives_each_methods_curve_from_its_runs(qtbot, window, batch_folder):
    dialog = show(qtbot, window, batch_folder)
    assert dialog.curves.computed and dialog.choice.isVisibleTo(dialog)
    assert dialog.figure.pixmap() is not None and not dialog.figure.pixmap().isNull()
    assert "computed from 6 runs of segattack batch" in dialog.source.text()
    assert {row["method"] for row in dialog.curves.rows} == {"alma_prox", "pgd"}  # also one that never reached
    finals = {method: [json.loads(path.read_text())["final"] for path in (batch_folder / method).glob("*/summary.json")]
              for method in ("alma_prox", "pgd")}
    rows = dialog.curves.rows
    for row in rows:  # at each step: the share that reached 99 % within the budget
        answers = finals[row["method"]]
        expected = sum(a["pixel_accuracy"] >= 0.99 and a[row["norm"]] <= row["budget"] + 1e-6 for a in answers) / 3
        assert row["reached_share"] == pytest.approx(expected)

    dialog.criterion.setCurrentIndex(dialog.criterion.findData("iou"))
    dialog.threshold.setValue(0.5)
    with qtbot.waitSignal(dialog.shown, timeout=30_000):
        dialog.recompute.click()
    assert {row["reached_when"] for row in dialog.curves.rows} == {"IoU >= 0.5"}
    dialog.save_button.click()
    with (batch_folder / "curves.csv").open() as handle:
        saved = list(csv.DictReader(handle))
    assert len(saved) == len(dialog.curves.rows) and saved[0]["reached_when"] == "IoU >= 0.5"
    assert (batch_folder / "curves.svg").is_file() and (batch_folder / "curves.png").is_file()
    reread = curves_in_folder(batch_folder)  # now read as written, with its criterion
    assert not reread.computed and reread.rows[0]["reached_when"] == "IoU >= 0.5"


def test_a_folder_without_curves_or_runs_says_so_in_one_line(qtbot, window, tmp_path):
    (tmp_path / "empty").mkdir()
    dialog = show(qtbot, window, tmp_path / "empty")
    text = dialog.source.text()
    assert "empty" in text and "neither curves.csv" in text and "\n" not in text
    assert dialog.curves is None
