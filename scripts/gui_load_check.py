"""How much CPU the window's GUI thread takes during a live attack, idle and with the machine loaded.

    QT_QPA_PLATFORM=offscreen python3 scripts/gui_load_check.py --busy 0 2 --iterations 150

For each load (``--busy N`` starts N processes that spin on a core each), one process opens the
window on the fundus demo and alternates a headless run (a plain thread, no snapshots, as
``segattack bench`` measures) with a run in the window, and prints: the GUI thread's CPU time
over the run's wall time, the window run's rate against the headless rate of the same round,
and the views' redraw count. The budget (docs/performance.md) is the GUI thread under 5 % of
one core, loaded or not.
"""

from __future__ import annotations

import argparse
import multiprocessing
import threading
import time


def spin(stop_at: float) -> None:
    while time.time() < stop_at:
        pass


def measure(iterations: int, rounds: int) -> list[dict]:

    from segattack_gui.allocator import keep_freed_memory
    from segattack_gui.core.attacks import create_attack
    from segattack_gui.core.runner import run_attack
    from segattack_gui.gui.app import create_application
    from segattack_gui.gui.main_window import MainWindow

    keep_freed_memory()
    app = create_application([])
    window = MainWindow(demo="fundus")
    window.show()
    wait(lambda: not window.busy, app)
    # Fixed steps (the demo's "auto" tau is resolved per run): both paths run the very same attack.
    window.panel.apply_settings(stop_iou=None, iterations=iterations, tau=3e-6, beta=3e-5)
    rows = []
    for _ in range(rounds):
        method, parameters = window.panel.settings()
        attack = create_attack(method, **parameters)
        document = window.document
        outcome = {}
        thread = threading.Thread(target=lambda: outcome.setdefault("result", run_attack(
            document.model.adapter, document.image.pixels, window.target_mask(), attack)))
        thread.start()
        thread.join()
        headless = outcome["result"].iterations_run / outcome["result"].seconds
        finished = []
        window.attack_finished.connect(finished.append)
        redraws = window.live_views.refresh.redraw_count
        cpu, wall = time.thread_time(), time.perf_counter()
        window.start_attack()
        wait(lambda: bool(finished), app, timeout_s=900)
        wall = time.perf_counter() - wall
        cpu = time.thread_time() - cpu
        window.attack_finished.disconnect(finished.append)
        result = finished[0]
        rows.append({"gui_cpu_s": cpu, "run_wall_s": wall, "gui_share": cpu / wall,
                     "window_rate": result.iterations_run / result.seconds, "headless_rate": headless,
                     "redraws": window.live_views.refresh.redraw_count - redraws})
    window.close()
    return rows


def wait(condition, app, timeout_s: float = 120) -> None:
    from PySide6.QtCore import QEventLoop

    deadline = time.time() + timeout_s
    while not condition():
        if time.time() > deadline:
            raise TimeoutError("the window did not finish in time")
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        time.sleep(0.005)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--busy", type=int, nargs="+", default=[0, 2], help="spinning processes beside the window")
    parser.add_argument("--iterations", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args()
    print(f"{'busy':>4} {'round':>5} {'GUI CPU s':>9} {'run wall s':>10} {'GUI share':>9} "
          f"{'window it/s':>11} {'headless it/s':>13} {'ratio':>5} {'redraws':>7}")
    for busy in arguments.busy:
        spinners = [multiprocessing.Process(target=spin, args=(time.time() + 3600,), daemon=True)
                    for _ in range(busy)]
        for process in spinners:
            process.start()
        try:
            rows = measure(arguments.iterations, arguments.rounds)
        finally:
            for process in spinners:
                process.terminate()
        for index, row in enumerate(rows):
            print(f"{busy:>4} {index:>5} {row['gui_cpu_s']:>9.2f} {row['run_wall_s']:>10.2f} "
                  f"{100 * row['gui_share']:>8.1f}% {row['window_rate']:>11.1f} {row['headless_rate']:>13.1f} "
                  f"{row['window_rate'] / row['headless_rate']:>5.2f} {row['redraws']:>7}")


if __name__ == "__main__":
    main()
