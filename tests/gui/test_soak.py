"""Soak: a long attack with the window open, and many runs in one window (issue 6, docs/design.md, Reliability).

Marked slow (minutes): ``python3 -m pytest -m slow -s tests/gui/test_soak.py``. Memory is the
process's resident set (Linux ``/proc/self/statm``); the kept frames of a run are bounded by
``SnapshotStore``, so after they fill up the resident set must stay flat. Each test prints
what it measured.
"""

from __future__ import annotations

import os
import sys
import threading
import time

import numpy as np
import pytest
from PySide6.QtCore import QThread

from tests.gui.window_fixtures import run_and_wait

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc")]

MIB = 2**20


def resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def os_threads() -> int:
    return len(os.listdir("/proc/self/task"))


def test_ten_thousand_iterations_with_the_window_open_keep_memory_flat(qtbot, window, errors):
    iterations = 10_000
    window.panel.apply_settings(iterations=iterations, stop_iou=None)
    samples: list[tuple[int, int]] = []  # (iteration, resident bytes)
    started = time.perf_counter()
    with qtbot.waitSignal(window.attack_finished, timeout=3_600_000) as finished:
        assert window.start_attack()
        while window.session.running:
            qtbot.wait(2000)
            latest = window.document.run.latest
            samples.append((latest.iteration if latest else 0, resident_bytes()))
    result = finished.args[0]
    seconds = time.perf_counter() - started
    assert result is not None and result.iterations_run == iterations, errors.messages
    store = window.document.run.store
    rss = np.array([value for _, value in samples], dtype=np.float64) / MIB
    half = len(rss) // 2
    growth_second_half = rss[half:].max() - rss[half]
    print(f"\n{iterations} iterations in {seconds:.0f} s ({iterations / result.seconds:.1f} it/s in the loop); "
          f"resident {rss[0]:.0f} MiB after 2 s, {rss[half]:.0f} MiB at half time, peak {rss.max():.0f} MiB, "
          f"end {rss[-1]:.0f} MiB; growth over the second half {growth_second_half:+.1f} MiB; "
          f"{len(store)} frames kept; {len(samples)} samples")
    # The kept frames fill early (they are bounded); after that nothing may grow with the iterations.
    assert len(store) <= store.capacity
    assert growth_second_half < 40, f"resident set grew {growth_second_half:.1f} MiB over the second half"


def test_fifty_runs_in_one_window_leak_no_threads_or_memory(qtbot, window, errors):
    window.panel.apply_settings(iterations=15, stop_iou=None)
    baseline_threads = threading.active_count(), os_threads()
    resident = []
    for run in range(50):
        result = run_and_wait(qtbot, window, iterations=15)
        assert result is not None and result.iterations_run == 15, errors.messages
        assert window.session.thread is None
        resident.append(resident_bytes())
    qtbot.wait(200)
    threads = threading.active_count(), os_threads()
    rss = np.array(resident, dtype=np.float64) / MIB
    growth = rss[-1] - rss[9]
    print(f"\n50 runs: python threads {baseline_threads[0]} -> {threads[0]}, OS threads {baseline_threads[1]} -> "
          f"{threads[1]}; resident {rss[0]:.0f} MiB after run 1, {rss[9]:.0f} after run 10, {rss[-1]:.0f} after "
          f"run 50 ({growth:+.1f} MiB over the last 40 runs)")
    assert threads[0] == baseline_threads[0]
    assert threads[1] <= baseline_threads[1] + 1  # torch may start its pool lazily; never one per run
    assert not any(isinstance(child, QThread) and child.isRunning() for child in window.findChildren(QThread))
    assert growth < 30, f"resident set grew {growth:.1f} MiB over 40 runs"
