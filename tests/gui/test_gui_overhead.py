"""How much the live GUI slows an attack: iterations per second in the window vs headless (docs/design.md, Performance).

Marked slow (run with ``-m slow``): it alternates headless and GUI runs on the demo, same
process, same model object, and compares them round by round. Headless runs on a plain thread with no
snapshot callback, as ``segattack bench`` measures. docs/design.md: the GUI costs < 5 %.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from segattack_gui.allocator import keep_freed_memory
from segattack_gui.core.attacks import create_attack
from segattack_gui.core.runner import run_attack
from tests.gui.window_fixtures import run_and_wait

ITERATIONS = 100
ROUNDS = 7


def headless_rate(window) -> float:
    document = window.document
    method, parameters = window.panel.settings()  # the same attack the GUI runs
    attack = create_attack(method, **parameters)
    outcome = {}

    def work():
        outcome["result"] = run_attack(document.model.adapter, document.image.pixels, window.target_mask(), attack)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    result = outcome["result"]
    return result.iterations_run / result.seconds


def gui_rate(qtbot, window) -> tuple[float, float]:
    """Iterations per second of a run in the window, and the GUI thread's CPU share meanwhile."""
    cpu, wall = time.thread_time(), time.perf_counter()
    result = run_and_wait(qtbot, window, iterations=ITERATIONS, timeout_ms=600_000)
    share = (time.thread_time() - cpu) / (time.perf_counter() - wall)
    return result.iterations_run / result.seconds, share


@pytest.mark.slow
def test_live_views_cost_little_of_the_headless_rate(qtbot, window):
    keep_freed_memory()  # as segattack-gui and segattack bench do: page faults would blur both rates
    window.panel.apply_settings(stop_iou=None, tau=3e-6, beta=3e-5)  # every run does all its iterations, fixed steps
    run_and_wait(qtbot, window, iterations=5)  # warm up: first-call allocations on both paths
    window.panel.apply_settings(iterations=ITERATIONS)
    headless, gui, gui_thread_share, ratios = [], [], [], []
    for round_index in range(ROUNDS):
        # Alternate which goes first, and compare within a round: the machine's speed drifts.
        if round_index % 2:
            rate, share = gui_rate(qtbot, window)
            plain = headless_rate(window)
        else:
            plain = headless_rate(window)
            rate, share = gui_rate(qtbot, window)
        headless.append(plain)
        gui.append(rate)
        gui_thread_share.append(share)
        ratios.append(rate / plain)
    refresh = window.live_views.refresh
    ratio = float(np.median(ratios))
    print(f"headless {np.round(headless, 2)} it/s, GUI {np.round(gui, 2)} it/s: GUI at {100 * ratio:.1f} % "
          f"of headless (median of the {ROUNDS} rounds' ratios); GUI thread busy "
          f"{100 * np.median(gui_thread_share):.1f} % of one core; "
          f"view redraws {1000 * refresh.redraw_seconds / max(1, refresh.redraw_count):.2f} ms each")
    # docs/design.md, Performance: live updates cost < 5 % of the headless rate. What the GUI controls is its own thread's
    # CPU time (drawing, snapshot handling), which the attack can lose at most about twice over on two
    # cores (the CPU, and the GIL while Python draws): that is the firm check. The rate ratio itself
    # swings between 0.85 and 1.08 from one run of this test to the next on our 2-core VM (paired
    # rounds, order alternated), more than the effect, so it is printed and checked only for a gross loss.
    assert np.median(gui_thread_share) < 0.05
    assert ratio > 0.85
