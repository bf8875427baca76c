"""The layers below the GUI never import Qt (STYLE: layers that cannot leak), so the core and the
command line run on a GPU server with no display and no Qt installed."""

from __future__ import annotations

import subprocess
import sys

HEADLESS = """
import importlib, pkgutil, sys
import segattack_gui.core, segattack_gui.io
for package in (segattack_gui.core, segattack_gui.io):
    for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        importlib.import_module(module.name)
for name in ("cli", "cli_parser", "cli_run", "batch", "rerun", "universal_run", "distributed", "bench", "demo"):
    importlib.import_module("segattack_gui." + name)
from segattack_gui.cli import build_parser
build_parser()
leaked = sorted(name for name in sys.modules if name.split(".")[0] in ("PySide6", "shiboken6", "pyqtgraph"))
print(" ".join(leaked))
"""


def test_core_io_and_the_command_line_import_no_qt():
    run = subprocess.run([sys.executable, "-c", HEADLESS], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "", f"Qt modules imported below the GUI: {run.stdout.strip()}"
