"""Reading and writing files and folders so that a failure leaves the disk as it was.

An input file is read whole, with every file-system problem as one SegAttackError naming it.
An output file is written through a temporary file renamed over it, and a run folder through a
hidden staging folder renamed into place once complete: a full disk or a killed process never
leaves a half-written file or folder behind.
"""

from __future__ import annotations

import csv
import io
import os
import secrets
import shutil
import stat
import tempfile
import time
from pathlib import Path

from ..errors import SegAttackError


def recorded_path(path: str | os.PathLike | None) -> str | None:
    """A path as a run records it: absolute (symbolic links kept), so the record still finds the
    file when read from another working folder (``segattack rerun``)."""
    return None if path is None else str(Path(path).absolute())


def read_file_bytes(path: str | os.PathLike) -> bytes:
    """Read a whole input file, turning every file-system problem into a SegAttackError."""
    path = Path(path)
    if not path.exists():
        raise SegAttackError(path, "file not found")
    if path.is_dir():
        raise SegAttackError(path, "is a folder, not a file")
    try:
        data = path.read_bytes()
    except OSError as error:
        raise SegAttackError(path, f"cannot read the file ({error.strerror or error})") from error
    if not data:
        raise SegAttackError(path, "file is empty (0 bytes)")
    return data


def write_file_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write encoded bytes through a temporary file renamed over ``path``: a failed write
    (full disk, no permission) leaves neither a partial file nor a damaged older one.

    A symbolic link is written through (its target is replaced), an existing file keeps its
    permissions, a new one gets the umask's, as ``open`` would give.
    """
    path = Path(path)
    target = path.resolve() if path.is_symlink() else path
    partial = target.with_name(f".{secrets.token_hex(6)}.partial")  # short: any valid name still fits
    try:
        with open(partial, "xb") as handle:  # a new file: the umask's permissions
            handle.write(data)
        if target.exists():
            os.chmod(partial, stat.S_IMODE(target.stat().st_mode))
        os.replace(partial, target)
    except OSError as error:
        try:
            partial.unlink(missing_ok=True)
        except OSError:
            pass
        raise SegAttackError(path, f"cannot write the file ({error.strerror or error})") from error


def write_csv_table(path: str | os.PathLike, rows: list[dict], columns, float_format: str) -> None:
    """Rows as CSV (floats written with ``float_format``, e.g. ".6g"), through :func:`write_file_bytes`:
    a full disk leaves the previous table, never a truncated one."""
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=columns)
    writer.writeheader()
    for row in rows:
        writer.writerow({key: format(value, float_format) if isinstance(value, float) else value
                         for key, value in row.items()})
    write_file_bytes(path, text.getvalue().encode("utf-8"))


def require_new_folder(destination: Path) -> None:
    """A run folder must not exist yet, or be empty: nothing a researcher kept is overwritten."""
    destination = Path(destination)
    try:
        taken = destination.exists() and (not destination.is_dir() or any(destination.iterdir()))
    except OSError as error:  # a name too long for the file system, a folder that cannot be listed
        raise SegAttackError(destination, f"cannot be used as a folder ({error.strerror or error})") from None
    if taken:
        raise SegAttackError(destination, "already exists and is not empty; choose a new folder")


def require_writable_folder(destination: Path) -> None:
    """Fail in a second rather than after hours of attacking: ``destination`` must be a folder or
    creatable as one, and its nearest existing folder must take a new entry. The probe is a
    temporary folder, removed again at once, so the check leaves nothing behind."""
    destination = existing = Path(destination)
    try:
        missing = missing_folders(destination)
        existing = missing[-1].parent if missing else destination
        if not existing.is_dir():
            where = "" if existing == destination else f", so {destination} cannot be created"
            raise SegAttackError(existing, f"is a file, not a folder{where}")
        os.rmdir(tempfile.mkdtemp(prefix=PROBE_PREFIX, dir=existing))
    except OSError as error:
        raise SegAttackError(existing, f"cannot write here ({error.strerror or error}); nothing was written") from None


def _new_staging_folder(parent: Path) -> Path:
    """A fresh, uniquely named folder in ``parent`` with the permissions a plain ``mkdir`` gives
    (the umask's), not ``mkdtemp``'s owner-only ones: colleagues on a shared server read runs."""
    while True:
        staging = parent / f"{STAGING_PREFIX}{secrets.token_hex(6)}"
        try:
            staging.mkdir()
            return staging
        except FileExistsError:
            continue


def write_folder_atomically(destination, write_files) -> Path:
    """Run ``write_files(staging_folder)`` and rename the staging folder to ``destination``."""
    destination = Path(destination)
    require_new_folder(destination)
    parent = destination.parent
    was_empty_folder = destination.is_dir()
    created = make_folders(parent)  # removed again if the export fails
    try:
        staging = _new_staging_folder(parent)
    except OSError as error:
        remove_empty_folders(created)
        raise SegAttackError(parent, f"cannot write here ({error.strerror or error}); nothing was written") from None
    _remove_stale_staging(parent, keep=staging)
    try:
        write_files(staging)
        if destination.exists():
            destination.rmdir()
        os.replace(staging, destination)
    except (OSError, SegAttackError) as error:
        _undo(staging, created, destination if was_empty_folder else None)
        cause = error.__cause__ if isinstance(error, SegAttackError) else error  # a writer names the temp file
        reason = cause.strerror if isinstance(cause, OSError) and cause.strerror else (
            error.problem if isinstance(error, SegAttackError) else str(error))
        raise SegAttackError(destination, f"export failed, nothing was written ({reason})") from None
    except BaseException:
        _undo(staging, created, destination if was_empty_folder else None)
        raise
    return destination


STAGING_PREFIX = ".segattack-tmp-"
PROBE_PREFIX = ".segattack-probe-"
STALE_STAGING_SECONDS = 3600


def make_folders(folder: Path) -> list[Path]:
    """``folder`` and its missing parents; returns those it created (deepest first) for
    ``remove_empty_folders`` to take back. A failure removes them and is one line."""
    created = missing_folders(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        remove_empty_folders(created)
        raise SegAttackError(folder, f"cannot write here ({error.strerror or error}); nothing was written") from None
    return created


def missing_folders(folder: Path) -> list[Path]:
    """The folders ``folder.mkdir(parents=True)`` would create, deepest first."""
    missing = []
    while not folder.exists() and folder.parent != folder:
        missing.append(folder)
        folder = folder.parent
    return missing


def _undo(staging: Path, created: list[Path], empty_destination: Path | None) -> None:
    """Leave the disk as the export found it: no staging folder, no new folders, the empty folder back."""
    shutil.rmtree(staging, ignore_errors=True)
    remove_empty_folders(created)
    if empty_destination is not None and not empty_destination.exists():
        try:
            empty_destination.mkdir()
        except OSError:
            pass


def remove_empty_folders(folders: list[Path]) -> None:
    """Remove ``folders`` (deepest first, as missing_folders lists them) up to the first that is not empty."""
    for folder in folders:  # deepest first
        try:
            folder.rmdir()
        except OSError:
            return


def _remove_stale_staging(parent: Path, keep: Path) -> None:
    """Best effort: staging folders untouched for an hour belong to exports that were killed."""
    now = time.time()
    try:
        candidates = [p for p in parent.iterdir() if p.name.startswith(STAGING_PREFIX) and p != keep]
    except OSError:
        return
    for candidate in candidates:
        try:
            if candidate.is_dir() and now - candidate.stat().st_mtime > STALE_STAGING_SECONDS:
                shutil.rmtree(candidate, ignore_errors=True)
        except OSError:
            pass
