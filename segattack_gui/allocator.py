"""Keep freed host memory in the process, so an attack's iterations do not fault it back in.

Every iteration of an attack on the CPU allocates and frees the same tensors, megabytes
each. glibc's malloc gives the free top of its heap back to the kernel once it passes a
threshold that malloc adapts while the program runs, and maps the largest blocks afresh
on every allocation; the next iteration then faults each page of them back in. On the
2-core VM of 2026-12-02 (demo model, fp32) that made an iteration 1.4x slower: 45 -> 31 ms
at B = 1 and 148 -> 107 ms at B = 4, with 1.5 and 6.9 million page faults -> 66 and 108
thousand, peak memory unchanged (``/usr/bin/time``, glibc's own MALLOC_TRIM_THRESHOLD_ and
MALLOC_MMAP_THRESHOLD_ variables set to the values used here). A caching allocator does the
same on CUDA, inside PyTorch.

The command-line and GUI entry points call :func:`keep_freed_memory` once at start; the
library never changes process-wide settings by itself. ``SEGATTACK_MALLOC=default`` leaves
malloc alone, and so do glibc settings already given in the environment. On other C
libraries (macOS, Windows, musl) nothing changes.

What an attack kept need not stay with an idle window: the GUI's attack worker calls
:func:`release_freed_memory` when a run ends (it empties PyTorch's CUDA cache too). After a 1024 x 1024 attack on the fundus demo
model the process held 984 MiB, 291 MiB after the release (23 ms); it held 820 MiB with
glibc's defaults, which keep much of it too.
"""

from __future__ import annotations

import ctypes
import functools
import os
import sys

M_TRIM_THRESHOLD = -1  # glibc's <malloc.h>
M_MMAP_THRESHOLD = -3
TRIM_THRESHOLD = 2**31 - 1  # keep up to 2 GiB of free heap top (mallopt takes an int)
MMAP_THRESHOLD = 32 * 2**20  # serve blocks up to 32 MiB from the heap (glibc's upper limit)
USER_SETTINGS = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TOP_PAD_", "GLIBC_TUNABLES")
OPT_OUT = "SEGATTACK_MALLOC"

_state: str | None = None


def keep_freed_memory() -> str:
    """Fix glibc's trim and mmap thresholds (once per process); say what was done, for reports."""
    global _state
    if _state is None:
        _state = _configure()
    return _state


def release_freed_memory() -> None:
    """Give free memory back: malloc's heaps (glibc's ``malloc_trim``) and PyTorch's CUDA cache.

    The CUDA cache goes too, so an idle window does not hold GPU memory that other jobs on a
    shared card could use; the next run allocates it again in well under a second.
    """
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)
    torch = sys.modules.get("torch")  # never imported here: the CLI starts without it
    if torch is not None and torch.cuda.is_initialized():
        torch.cuda.empty_cache()


def _configure() -> str:
    if os.environ.get(OPT_OUT, "").lower() == "default":
        return f"malloc left as it is ({OPT_OUT}=default)"
    given = [name for name in USER_SETTINGS if name in os.environ]
    if given:
        return f"malloc left as configured ({', '.join(given)} set)"
    libc = _glibc()
    if libc is None:
        return "malloc left as it is (not glibc)"
    if not (libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) and libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)):
        return "malloc left as it is (glibc refused the thresholds)"
    return "glibc malloc keeps freed memory (trim threshold 2 GiB, mmap threshold 32 MiB)"


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    """The C library when it is glibc (its ``mallopt`` and ``malloc_trim`` typed), else None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")  # glibc's name on every Linux; find_library would run ldconfig
        libc.gnu_get_libc_version  # present in glibc only
        libc.mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
        libc.malloc_trim.argtypes = (ctypes.c_size_t,)
    except (OSError, AttributeError):
        return None
    libc.mallopt.restype = libc.malloc_trim.restype = ctypes.c_int
    return libc
