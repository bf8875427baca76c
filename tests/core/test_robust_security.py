"""A malicious pickle runs no code without consent; nothing the loaders do touches the network."""

from __future__ import annotations

import pickle
import socket

import pytest
import torch

from segattack_gui.errors import SegAttackError
from segattack_gui.io.model_files import inspect_model_file, load_model


class Payload:
    """Unpickling this object creates ``marker``: the stand-in for arbitrary code in a model file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def malicious_files(folder):
    marker = folder / "pwned"
    torch_zip = folder / "model.pt"
    torch.save({"state_dict": {"w": torch.zeros(1)}, "extra": Payload(marker)}, torch_zip)
    legacy = folder / "legacy.pth"
    with legacy.open("wb") as handle:
        pickle.dump(Payload(marker), handle)
    assert not marker.exists()
    return marker, [torch_zip, legacy]


def test_malicious_pickle_is_not_executed_without_consent(tmp_path):
    marker, files = malicious_files(tmp_path)
    for path in files:
        assert inspect_model_file(path) == "pickle"  # weights_only=True refused the foreign global
        assert not marker.exists()
        with pytest.raises(SegAttackError, match="--trust-model") as caught:
            load_model(path, device="cpu")
        assert caught.value.source == str(path)
        assert not marker.exists(), f"{path.name} ran code while being inspected"


def test_consent_is_what_runs_it(tmp_path):
    """The control: the same file does run its code once the user trusts it (then fails as no model)."""
    marker, files = malicious_files(tmp_path)
    with pytest.raises(SegAttackError):
        load_model(files[1], device="cpu", trust_pickle=True)
    assert marker.exists()


def test_loading_and_attacking_never_opens_a_socket(tmp_path, monkeypatch):
    import numpy as np

    from segattack_gui.core.attacks import create_attack
    from segattack_gui.core.runner import run_attack

    from .tiny_models import ThresholdModel

    attempts = []

    def refuse(self, address, *args):
        attempts.append(address)
        raise OSError("network access attempted during a test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: refuse(None, a))
    path = tmp_path / "model.pt"
    torch.save(ThresholdModel().state_dict(), path)
    (tmp_path / "model.json").write_text('{"architecture": "padded_unet"}')
    with pytest.raises(SegAttackError, match="does not fit"):  # a state dict for another architecture
        load_model(path, device="cpu")
    scripted = tmp_path / "scripted.ts"
    torch.jit.script(ThresholdModel()).save(str(scripted))
    loaded = load_model(scripted, device="cpu")
    image = np.full((8, 8, 1), 0.4, np.float32)
    run_attack(loaded.adapter, image, np.ones((8, 8), int), create_attack("asma", iterations=3))
    assert attempts == []
