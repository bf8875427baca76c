"""The entry points keep freed host memory for the next iteration (``segattack_gui.allocator``)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from segattack_gui import allocator

# A fp32 ASMA run on a demo-sized U-Net; prints the minor page faults per iteration after a warm-up.
FAULTS_PER_ITERATION = r"""
import resource
import numpy as np, torch
from segattack_gui.allocator import keep_freed_memory
from segattack_gui.core.architectures import PaddedUNet
from segattack_gui.core.attacks import create_attack
from segattack_gui.core.models import ModelAdapter, ModelSpec
from segattack_gui.core.runner import run_batch

print(keep_freed_memory())
torch.manual_seed(0)
adapter = ModelAdapter(PaddedUNet(in_channels=3, num_classes=3, widths=(4, 8, 16, 32)), ModelSpec(classes=("a", "b", "c")))
image = np.random.default_rng(0).uniform(0, 1, (256, 256, 3)).astype(np.float32)
target = np.zeros((256, 256), np.int64)
target[64:192, 64:192] = 1
attack = lambda iterations: run_batch(adapter, [image] * 2, [target] * 2, create_attack("asma", iterations=iterations))
attack(3)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
attack(20)
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 20)
"""


def faults_per_iteration(**environment: str) -> tuple[str, float]:
    clean = {name: value for name, value in os.environ.items() if name not in allocator.USER_SETTINGS}
    finished = subprocess.run([sys.executable, "-c", FAULTS_PER_ITERATION], capture_output=True, text=True,
                              env={**clean, **environment}, timeout=300, check=True)
    state, faults = finished.stdout.strip().splitlines()[-2:]
    return state, float(faults)


@pytest.mark.skipif(allocator._glibc_mallopt() is None, reason="glibc's malloc only")
def test_an_attack_iteration_no_longer_faults_its_memory_back_in():
    state, kept = faults_per_iteration()
    _, default = faults_per_iteration(**{allocator.OPT_OUT: "default"})
    print(f"minor page faults per iteration: {kept:.0f} kept, {default:.0f} with glibc's defaults")
    assert state.startswith("glibc malloc keeps freed memory")
    assert kept < 1000  # about 100 here on 2026-12-02; glibc's defaults gave about 20,000


def test_the_opt_out_and_given_settings_leave_malloc_alone(monkeypatch):
    monkeypatch.setenv(allocator.OPT_OUT, "default")
    assert allocator._configure() == "malloc left as it is (SEGATTACK_MALLOC=default)"
    monkeypatch.delenv(allocator.OPT_OUT)
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "131072")
    assert allocator._configure() == "malloc left as configured (MALLOC_TRIM_THRESHOLD_ set)"
