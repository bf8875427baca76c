"""Render the real main window on the fundus demo after a short attack, for the README.

    python scripts/screenshot.py [--out docs/screenshot.png] [--iterations N] [--seconds 120] [--threads N]

Runs offscreen (no display needed): opens the demo exactly as ``segattack-gui`` does,
presses Run with the demo's own settings (``--iterations`` overrides its count), stops it after ``--seconds``,
then grabs the window with ``QWidget.grab()``. Without the shipped demo files it builds
a quick, untrained demo in a temporary folder and says so.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QEventLoop, QTimer  # noqa: E402

from segattack_gui.allocator import keep_freed_memory  # noqa: E402
from segattack_gui.assets import resource_root  # noqa: E402
from segattack_gui.demo import DEMOS  # noqa: E402
from segattack_gui.gui.app import create_application  # noqa: E402

REPOSITORY = Path(__file__).resolve().parent.parent


def demo_root(given: Path | None) -> Path:
    if given is not None:
        return given
    root = resource_root()
    if all(DEMOS["fundus"].path(field, root).exists() for field in ("model", "sidecar", "image", "target")):
        return root
    from segattack_gui.demo import train_demo_models

    print("the shipped demo is missing: building a quick, untrained one (the picture will show that)")
    root = Path(tempfile.mkdtemp(prefix="segattack-demo-"))
    train_demo_models(root, which=("fundus",), quick=True)
    return root


def wait(milliseconds: int) -> None:
    loop = QEventLoop()
    timer = QTimer()
    timer.setSingleShot(True)
    timer.timeout.connect(loop.quit)
    timer.start(milliseconds)
    loop.exec()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPOSITORY / "docs" / "screenshot.png")
    parser.add_argument("--iterations", type=int, help="default: the demo's own setting")
    parser.add_argument("--seconds", type=float, default=120.0, help="stop the attack after this long")
    parser.add_argument("--width", type=int, default=1440)
    parser.add_argument("--height", type=int, default=900)
    parser.add_argument("--amplify", type=int, help="heatmap amplification (1, 2, 5, 10, ...; default: auto)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice); 1 is faster "
                        "on a machine shared with other busy processes")
    parser.add_argument("--demo-root", type=Path, help="a folder laid out like resources/ (default: the shipped one)")
    options = parser.parse_args()

    if options.threads:
        import torch

        torch.set_num_threads(options.threads)
    keep_freed_memory()  # as segattack-gui does
    app = create_application([sys.argv[0]])  # kept alive while the window runs
    from segattack_gui.gui.main_window import MainWindow

    window = MainWindow(demo="fundus", demo_root=demo_root(options.demo_root))
    window.error_reported.connect(lambda message: print("error:", message))
    window.resize(options.width, options.height)
    window.show()
    while window.busy:
        wait(50)
    finished = []
    window.attack_finished.connect(finished.append)
    if options.iterations:
        window.panel.apply_settings(iterations=options.iterations)
    if options.amplify:  # else "auto": the bulk of the moved pixels sets the scale
        window.live_views.heatmap_view.amplify_combo.setCurrentText(f"×{options.amplify}")
    if not window.start_attack():
        return 1
    started = time.perf_counter()
    while not finished:
        wait(100)
        if time.perf_counter() - started > options.seconds and window.session.state == "running":
            window.stop_attack()
    result = finished[0]
    if result is not None:
        print(f"{result.iterations_run} iterations in {result.seconds:.1f} s, IoU {result.final['iou']:.3f}, "
              f"L2 {result.final['l2']:.3f}")
    wait(400)  # let the last redraws land
    window.live_views.refresh.flush()
    window.metrics_plot.refresh.flush()
    options.out.parent.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(options.out))
    print(f"wrote {options.out}")
    window.close()
    app.processEvents()  # let the close land before Python tears the application down
    return 0


if __name__ == "__main__":
    sys.exit(main())
