"""The window's "Evaluate on another model": a finished run's adversarial judged by other models,
shown in the Controls dock and recorded in the export as ``evaluated_on`` (as --evaluate-on does)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import torch
from PySide6.QtWidgets import QLabel

from segattack_gui.core.reevaluation import evaluate_adversarial
from segattack_gui.io.hashing import model_sha256
from segattack_gui.io.model_files import load_model
from tests.gui.test_window_state import export_and_wait
from tests.gui.window_fixtures import run_and_wait, wait_until_idle


class ColourThreshold(torch.nn.Module):
    """A different, deterministic three-class model: class by the red channel's level."""

    def forward(self, x):
        red = x[:, :1]
        return torch.cat([-4 * red + 1, 0 * red, 4 * red - 3], dim=1) * 10


def other_model(tmp_path, classes: int = 3):
    path = tmp_path / f"threshold_{classes}.ts"
    module = ColourThreshold() if classes == 3 else torch.nn.Conv2d(3, 2, 1)
    torch.jit.save(torch.jit.script(module), str(path))
    return path


def evaluate(qtbot, window, path):
    with qtbot.waitSignal(window.transfer.evaluated, timeout=60_000) as evaluated:
        window.transfer.evaluate_on(path)
    return evaluated.args[0]


def test_before_a_run_there_is_nothing_to_evaluate(qtbot, window):
    assert not window.transfer.isVisibleTo(window)
    assert not window.menus.evaluate_on_action.isEnabled()


def test_other_models_judge_the_run_and_the_export_records_them(qtbot, window, demo_root, tmp_path):
    result = run_and_wait(qtbot, window, iterations=4)
    assert window.transfer.isVisibleTo(window) and window.menus.evaluate_on_action.isEnabled()
    same = tmp_path / "copy_of_attacked.pt"  # the attacked model under another name: white-box scores
    shutil.copy(demo_root / "models/fundus_unet.pt", same)
    shutil.copy(demo_root / "models/fundus_unet.json", tmp_path / "copy_of_attacked.json")
    other = other_model(tmp_path)

    assert evaluate(qtbot, window, same) == "copy_of_attacked.pt"
    assert evaluate(qtbot, window, other) == other.name
    rows = window.document.run.evaluated_on
    assert abs(rows["copy_of_attacked.pt"]["iou"] - result.final["iou"]) < 1e-6
    expected = evaluate_adversarial(load_model(other).adapter, result.adversarial, result.original, result.target)
    assert {key: rows[other.name][key] for key in expected} == expected
    assert rows[other.name]["model_sha256"] == model_sha256(other)
    shown = [label.text() for label in window.transfer.findChildren(QLabel) if label.objectName() == "transferRow"]
    assert len(shown) == 2 and f"IoU {expected['iou']:.3f}" in shown[1]
    assert not window.transfer.empty_note.isVisibleTo(window)

    folder = export_and_wait(qtbot, window, tmp_path)
    summary = json.loads((tmp_path / folder / "summary.json").read_text())
    assert set(summary["evaluated_on"]) == {"copy_of_attacked.pt", other.name}
    assert summary["evaluated_on"][other.name]["model_sha256"] == model_sha256(other)


def test_a_model_that_cannot_judge_the_target_is_one_line_and_changes_nothing(qtbot, window, errors, tmp_path):
    run_and_wait(qtbot, window, iterations=2)
    two_classes = other_model(tmp_path, classes=2)
    window.transfer.evaluate_on(two_classes)
    wait_until_idle(qtbot, window)
    assert window.document.run.evaluated_on == {}
    assert len(errors.messages) == 1 and two_classes.name in errors.messages[0]
    assert "class 2" in errors.messages[0] and "\n" not in errors.messages[0]


def test_a_new_run_starts_without_the_last_runs_rows(qtbot, window, tmp_path):
    run_and_wait(qtbot, window, iterations=2)
    evaluate(qtbot, window, other_model(tmp_path))
    wait_until_idle(qtbot, window)  # Run waits for loading jobs, the evaluation's included
    run_and_wait(qtbot, window, iterations=2)
    assert window.document.run.evaluated_on == {} and window.transfer.empty_note.isVisibleTo(window)
    assert np.isfinite(window.document.run.result.final["iou"])


def test_a_model_folder_judges_the_run_too(qtbot, window, errors, nnunet_folder):
    """nnU-Net folders are what a fold comparison uses: the folder itself is the model."""
    run_and_wait(qtbot, window, iterations=2)
    with qtbot.waitSignal(window.transfer.evaluated, timeout=120_000) as evaluated:
        window.transfer.evaluate_on(nnunet_folder)
    entry = window.document.run.evaluated_on[evaluated.args[0]]
    assert evaluated.args[0] == nnunet_folder.name and entry["model_kind"] == "nnunet" and errors.messages == []
    assert 0.0 <= entry["iou"] <= 1.0 and 0.0 <= entry["pixel_accuracy_vs_clean"] <= 1.0


class AllBackground(torch.nn.Module):
    """A model fed otherwise than trained, as it looks from outside: background everywhere."""

    def forward(self, x):
        return torch.cat([x[:, :1] * 0 + 5, x[:, :1] * 0, x[:, :1] * 0], dim=1)


def test_a_model_that_looks_misfed_is_scored_with_a_warning(qtbot, window, errors, tmp_path):
    """A transfer number from a misfed model is noise that looks like a finding: it says so."""
    run_and_wait(qtbot, window, iterations=2)
    path = tmp_path / "all_background.ts"
    torch.jit.save(torch.jit.script(AllBackground()), str(path))
    evaluate(qtbot, window, path)
    entry = window.document.run.evaluated_on[path.name]
    assert len(entry["warnings"]) == 1 and "may be fed otherwise than it was trained" in entry["warnings"][0]
    assert any(path.name in message and "Warning" in message for message in errors.messages)
    shown = [label.text() for label in window.transfer.findChildren(QLabel) if label.objectName() == "transferRow"]
    assert "⚠" in shown[0]
