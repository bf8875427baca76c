"""``segattack-gui``: start the application on the fundus demo.

The application and organisation names set here decide where QSettings keeps recent
files and window geometry. ``--no-demo`` starts empty; files given on the command line
are opened as if dropped on the window (image, model, then target by name).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from .. import __version__
from ..allocator import keep_freed_memory
from .system_libraries import missing_libraries, missing_xcb_message, uses_xcb

APP_NAME = "SegAttack"
ORGANISATION = "SegAttack"


def application_icon() -> QIcon:
    """The shipped icon (``resources/icons/segattack.png``, drawn by ``scripts/draw_icon.py``)."""
    from ..assets import resource_path

    return QIcon(str(resource_path("icons", "segattack.png")))


def create_application(argv: list[str] | None = None) -> QApplication:
    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv)
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(ORGANISATION)
    app.setApplicationVersion(__version__)
    app.setWindowIcon(application_icon())
    return app


def main(argv: list[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="segattack-gui", description="SegAttack desktop workbench")
    parser.add_argument("files", nargs="*", type=Path, help="image, model (.pt/.pth/.ts/.jit) or target files")
    parser.add_argument("--no-demo", action="store_true", help="start without the fundus demo")
    parser.add_argument("--demo", default="fundus", choices=["fundus", "skin"], help="which demo to open")
    options, qt_arguments = parser.parse_known_args(arguments)
    if uses_xcb():
        missing = missing_libraries()
        if missing:  # Qt would abort naming only the first one
            print(missing_xcb_message(missing), file=sys.stderr)
            return 1
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    keep_freed_memory()
    app = create_application([sys.argv[0], *qt_arguments])
    from .files.drops import MASK_NAME, file_kind
    from .main_window import MainWindow

    window = MainWindow(demo=None if options.no_demo or options.files else options.demo)
    geometry = QSettings().value("window/geometry")
    if geometry:
        window.restoreGeometry(geometry)
    for path in sorted(options.files, key=lambda p: (file_kind(p) != "image", file_kind(p) != "model")):
        kind = file_kind(path)
        if kind == "image" and MASK_NAME.search(path.stem):
            window.open_target(path)
        elif kind in ("image", "model"):
            window.open_file_as(kind, str(path))
    window.show()
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
