"""The window on models as libraries save them: a folder opens, and a misfed model is said to be."""

from __future__ import annotations

import json

import torch

from tests.gui.window_fixtures import wait_until_idle


class AlwaysBackground(torch.nn.Module):
    """Three classes, background everywhere: what a model fed without its normalisation often predicts."""

    def forward(self, x):
        zero = torch.zeros_like(x[:, :1])
        return torch.cat([zero + 5 + 0 * x[:, :1], zero, zero], 1)


def test_a_model_predicting_one_class_against_the_target_is_a_notice_and_a_status(qtbot, window, tmp_path, errors):
    path = tmp_path / "background.ts"
    torch.jit.script(AlwaysBackground()).save(str(path))
    path.with_suffix(".json").write_text(json.dumps({"classes": ["background", "disc", "cup"]}))
    assert window.document.target.max() > 0  # the demo's target holds the disc and cup
    shown = []
    window.loader.message.connect(shown.append)
    with qtbot.waitSignal(window.loader.modelLoaded, timeout=30_000):
        window.open_model(path)
    wait_until_idle(qtbot, window)
    qtbot.waitUntil(lambda: any("Warning: the clean prediction is 'background' on 100.0%" in m for m in shown),
                    timeout=30_000)
    notices = [m for m in errors.messages if m.startswith("Warning:")]
    assert len(notices) == 1 and '"mean"/"std"' in notices[0]
    window.loader.refresh_baseline()  # the same model and image again: no second notice
    wait_until_idle(qtbot, window)
    assert len([m for m in errors.messages if m.startswith("Warning:")]) == 1


def test_an_nnunet_folder_opens_and_an_architecture_by_import_name_asks_first(qtbot, window, nnunet_folder, errors,
                                                                              tmp_path, monkeypatch):
    with qtbot.waitSignal(window.loader.modelLoaded, timeout=60_000):
        window.open_model(nnunet_folder)
    wait_until_idle(qtbot, window)
    assert window.document.model.kind == "nnunet"
    assert window.document.class_names == ("background", "disc", "core")
    asked = []
    monkeypatch.setattr(window, "ask_pickle_consent", lambda path, sha256: asked.append(path) or True)
    torch.save(torch.nn.Conv2d(3, 3, 1).state_dict(), tmp_path / "conv.pt")
    (tmp_path / "conv.json").write_text(json.dumps({
        "architecture": "torch.nn:Conv2d", "architecture_args": {"in_channels": 3, "out_channels": 3, "kernel_size": 1},
        "classes": ["background", "disc", "cup"]}))
    with qtbot.waitSignal(window.loader.modelLoaded, timeout=60_000):
        window.open_model(tmp_path / "conv.pt")
    wait_until_idle(qtbot, window)
    assert asked == [tmp_path / "conv.pt"] and "imports and runs" in window.loader.consent_reason
    assert window.document.model.kind == "state_dict"
    assert not [m for m in errors.messages if not m.startswith("Warning:")]
