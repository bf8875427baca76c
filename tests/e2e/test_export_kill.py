"""A process killed mid-export (or mid-attack) leaves no half-written run folder (docs/design.md: Run folders, Reliability)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from segattack_gui.core.attacks import create_attack
from segattack_gui.core.models import ModelAdapter, ModelSpec
from segattack_gui.core.runner import run_attack
from segattack_gui.io.export import export_run
from tests.core.tiny_models import ThresholdModel

from .test_cli_attack import RUN_FOLDER_FILES

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")

REPOSITORY = Path(__file__).resolve().parents[2]

# The child attacks a small image, then exports it; the metrics writer announces itself and then
# stalls, so the parent can kill the process while the export is half done.
CHILD = textwrap.dedent("""
    import sys, time
    import numpy as np
    from segattack_gui.core.attacks import create_attack
    from segattack_gui.core.models import ModelAdapter, ModelSpec
    from segattack_gui.core.runner import run_attack
    from segattack_gui.io import export
    from tests.core.tiny_models import ThresholdModel

    image = np.random.default_rng(0).uniform(0.3, 0.7, (48, 64, 1)).astype(np.float32)
    target = np.zeros((48, 64), int)
    target[10:30, 10:50] = 1
    result = run_attack(ModelAdapter(ThresholdModel(), ModelSpec()), image, target,
                        create_attack("asma", iterations=30, tau=1e-3))
    frames = [result.adversarial] * 50
    write_metrics = export._write_metrics_csv

    def stalling_writer(path, history):
        write_metrics(path, history)
        print("half-written", flush=True)
        time.sleep(120)

    export._write_metrics_csv = stalling_writer
    export.export_run(result, sys.argv[1], frames=frames)
    print("finished", flush=True)
""")


def child_environment() -> dict:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPOSITORY), os.environ.get("PYTHONPATH")]))}


def wait_for_line(process: subprocess.Popen, expected: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if line.strip() == expected:
            return
        if not line and process.poll() is not None:
            raise AssertionError(f"child exited ({process.returncode}): {process.stderr.read()}")
    raise AssertionError(f"child never printed {expected!r}")


def small_result():
    image = np.random.default_rng(0).uniform(0.3, 0.7, (48, 64, 1)).astype(np.float32)
    target = np.zeros((48, 64), int)
    target[10:30, 10:50] = 1
    return run_attack(ModelAdapter(ThresholdModel(), ModelSpec()), image, target,
                      create_attack("asma", iterations=30, tau=1e-3))


def test_kill_mid_export_leaves_no_run_folder(tmp_path):
    parent = tmp_path / "results"
    destination = parent / "run 1"
    process = subprocess.Popen([sys.executable, "-c", CHILD, str(destination)], cwd=REPOSITORY,
                               env=child_environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_line(process, "half-written")
        os.kill(process.pid, signal.SIGKILL)
        assert process.wait(timeout=30) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
        process.stderr.close()

    assert not destination.exists()
    leftovers = sorted(parent.iterdir())
    assert len(leftovers) == 1 and leftovers[0].name.startswith(".segattack-tmp-")
    half = {p.name for p in leftovers[0].iterdir()}
    assert "metrics.csv" in half and "summary.json" not in half  # it really was killed mid-export

    # The same destination can be exported to at once; the recent staging folder is left alone
    # (it could belong to an export still running) ...
    export_run(small_result(), destination)
    assert RUN_FOLDER_FILES <= {p.name for p in destination.iterdir()}
    assert leftovers[0].exists()
    # ... and removed by the first export into this folder once it is an hour old.
    hour_ago = time.time() - 3700
    os.utime(leftovers[0], (hour_ago, hour_ago))
    export_run(small_result(), parent / "run 2")
    assert sorted(p.name for p in parent.iterdir()) == ["run 1", "run 2"]


def test_kill_mid_attack_writes_nothing(files, tmp_path):
    out = tmp_path / "results" / "run"
    process = subprocess.Popen(
        [sys.executable, "-m", "segattack_gui.cli", "attack", "--model", str(files["torchscript"]),
         "--image", str(files["image"]), "--target", str(files["target"]), "--out", str(out),
         "--iterations", "100000000", "--tau", "1e-9", "--beta", "0"],
        cwd=REPOSITORY, env=child_environment(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        seen = b""
        while b"/100000000" not in seen:  # the progress bar is up: inputs loaded, the attack starting
            byte = process.stderr.read(1)
            assert byte, f"segattack exited early: {seen.decode(errors='replace')}"
            seen += byte
        time.sleep(0.5)  # well inside the attack loop
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stderr.close()
    assert not (tmp_path / "results").exists()
