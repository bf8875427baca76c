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


def run_script(script: str, **environment: str) -> list[str]:
    """The lines a fresh Python process prints, without the user's own malloc settings."""
    clean = {name: value for name, value in os.environ.items() if name not in allocator.USER_SETTINGS}
    finished = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                              env={**clean, **environment}, timeout=300, check=True)
    return finished.stdout.strip().splitlines()


def faults_per_iteration(**environment: str) -> tuple[str, float]:
    state, faults = run_script(FAULTS_PER_ITERATION, **environment)[-2:]
    return state, float(faults)


@pytest.mark.skipif(allocator._glibc() is None, reason="glibc's malloc only")
def test_an_attack_iteration_no_longer_faults_its_memory_back_in():
    state, kept = faults_per_iteration()
    _, default = faults_per_iteration(**{allocator.OPT_OUT: "default"})
    print(f"minor page faults per iteration: {kept:.0f} kept, {default:.0f} with glibc's defaults")
    assert state.startswith("glibc malloc keeps freed memory")
    assert kept < 1000  # about 100 here on 2026-12-02; glibc's defaults gave about 20,000


# Resident memory (MiB) before an attack on a 768 x 768 image, after it, and after the release.
RESIDENT_MEMORY = r"""
import numpy as np, torch
from segattack_gui.allocator import keep_freed_memory, release_freed_memory
from segattack_gui.core.architectures import PaddedUNet
from segattack_gui.core.attacks import create_attack
from segattack_gui.core.models import ModelAdapter, ModelSpec
from segattack_gui.core.runner import run_attack

def resident():
    return int(open("/proc/self/statm").read().split()[1]) * 4096 / 2**20

keep_freed_memory()
torch.manual_seed(0)
adapter = ModelAdapter(PaddedUNet(in_channels=3, num_classes=3, widths=(4, 8, 16, 32)), ModelSpec(classes=("a", "b", "c")))
image = np.random.default_rng(0).uniform(0, 1, (768, 768, 3)).astype(np.float32)
target = np.zeros((768, 768), np.int64)
target[200:500, 200:500] = 1
before = resident()
result = run_attack(adapter, image, target, create_attack("asma", iterations=3))
after = resident()
release_freed_memory()
print(before, after, resident())
"""


@pytest.mark.skipif(allocator._glibc() is None, reason="glibc's malloc only")
def test_the_memory_an_attack_kept_goes_back_when_released():
    before, after, released = map(float, run_script(RESIDENT_MEMORY)[-1].split())
    print(f"resident memory: {before:.0f} MiB before, {after:.0f} after the attack, {released:.0f} after the release")
    assert after - before > 200  # the attack's working memory stayed in the process (373 MiB here)
    assert released - before < 100  # and went back to the system (the result's arrays stay: 38 MiB here)


def test_the_opt_out_and_given_settings_leave_malloc_alone(monkeypatch):
    monkeypatch.setenv(allocator.OPT_OUT, "default")
    assert allocator._configure() == "malloc left as it is (SEGATTACK_MALLOC=default)"
    monkeypatch.delenv(allocator.OPT_OUT)
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "131072")
    assert allocator._configure() == "malloc left as configured (MALLOC_TRIM_THRESHOLD_ set)"
