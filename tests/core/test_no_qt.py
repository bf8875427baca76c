"""The layers below the GUI never import Qt (docs/design.md: layers that cannot leak), so the core, the
window's Qt-free workspace and the command line run on a GPU server with no display and no Qt installed."""

from __future__ import annotations

import subprocess
import sys

HEADLESS = """
import importlib, pkgutil, sys
import segattack_gui.bench, segattack_gui.cli, segattack_gui.core, segattack_gui.demo, segattack_gui.io
import segattack_gui.workspace
for package in (segattack_gui.core, segattack_gui.io, segattack_gui.workspace, segattack_gui.cli,
                segattack_gui.bench, segattack_gui.demo):
    for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        if not module.name.endswith("__main__"):
            importlib.import_module(module.name)
from segattack_gui.cli import build_parser
build_parser()
leaked = sorted(name for name in sys.modules if name.split(".")[0] in ("PySide6", "shiboken6", "pyqtgraph"))
print(" ".join(leaked))
"""


def test_core_io_and_the_command_line_import_no_qt():
    run = subprocess.run([sys.executable, "-c", HEADLESS], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "", f"Qt modules imported below the GUI: {run.stdout.strip()}"
