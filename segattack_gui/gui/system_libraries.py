"""Before Qt starts on X11: name every system library its xcb platform plugin lacks, and the package.

Without them Qt aborts the process (SIGABRT) and names only the first library it missed, so
a user fixes one, starts again, and meets the next. The list is what PySide6's
``libqxcb.so`` and ``libQt6XcbQpa.so.6`` link against beyond a plain desktop's X11 client
libraries (``ldd``), with the Debian/Ubuntu package of each. Qt-free on purpose: it runs
before PySide6 is imported.
"""

from __future__ import annotations

import ctypes
import os
import sys

XCB_LIBRARIES = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libEGL.so.1": "libegl1",
    "libfontconfig.so.1": "libfontconfig1",
}


def uses_xcb(environment=os.environ, platform: str = sys.platform) -> bool:
    """True when Qt will pick its X11 (xcb) platform: Linux, no other platform asked for, no Wayland."""
    if not platform.startswith("linux"):
        return False
    requested = environment.get("QT_QPA_PLATFORM", "")
    if requested:
        return requested.split(":")[0].split(";")[0] == "xcb"
    return not environment.get("WAYLAND_DISPLAY")


def missing_libraries(names=XCB_LIBRARIES, load=ctypes.CDLL) -> list[str]:
    """The shared libraries among ``names`` that cannot be loaded here."""
    missing = []
    for name in names:
        try:
            load(name)
        except OSError:
            missing.append(name)
    return missing


def missing_xcb_message(missing: list[str]) -> str:
    """One line naming the packages to install (and the libraries, for other distributions)."""
    packages = " ".join(XCB_LIBRARIES.get(name, name) for name in missing)
    return (f"segattack-gui: error: the window needs system libraries this machine lacks "
            f"({', '.join(missing)}); on Debian or Ubuntu: sudo apt-get install {packages}")
