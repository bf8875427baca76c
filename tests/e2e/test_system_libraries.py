"""segattack-gui names every missing X11 library and its package before Qt can abort on the first."""

from __future__ import annotations

import subprocess
import sys

from segattack_gui.gui.system_libraries import XCB_LIBRARIES, missing_libraries, missing_xcb_message, uses_xcb


def test_xcb_is_expected_only_on_linux_without_wayland_or_another_platform():
    assert uses_xcb({}, "linux")
    assert uses_xcb({"QT_QPA_PLATFORM": "xcb"}, "linux")
    assert not uses_xcb({"QT_QPA_PLATFORM": "offscreen"}, "linux")
    assert not uses_xcb({"WAYLAND_DISPLAY": "wayland-0"}, "linux")
    assert not uses_xcb({}, "darwin") and not uses_xcb({}, "win32")


def test_every_missing_library_is_named_with_its_package():
    absent = {"libxcb-cursor.so.0", "libxcb-keysyms.so.1"}

    def load(name):
        if name in absent:
            raise OSError(f"{name}: cannot open shared object file")

    missing = missing_libraries(load=load)
    assert missing == [name for name in XCB_LIBRARIES if name in absent]
    message = missing_xcb_message(missing)
    assert message.count("\n") == 0 and "sudo apt-get install libxcb-cursor0 libxcb-keysyms1" in message


def test_the_window_exits_with_that_line_instead_of_aborting(tmp_path):
    """The real entry point, with the library check made to fail: exit 1 and one line, no SIGABRT."""
    code = ("import sys; from segattack_gui.gui import app, system_libraries as libs; "
            "app.missing_libraries = lambda: ['libxcb-cursor.so.0']; "
            "sys.exit(app.main(['--no-demo']))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={"PATH": "/usr/bin:/bin", "QT_QPA_PLATFORM": "xcb", "HOME": str(tmp_path)})
    assert run.returncode == 1, run.stderr
    assert run.stderr.strip().splitlines()[-1].startswith("segattack-gui: error: the window needs system libraries")
    assert "libxcb-cursor0" in run.stderr
