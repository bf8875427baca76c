"""Exports that cannot be written (read-only folder, full disk) leave nothing behind and lose nothing."""

from __future__ import annotations

import builtins
import errno
import io
import os
import time

import numpy as np
import pytest

from segattack_gui.core.attacks import create_attack
from segattack_gui.core.models import ModelAdapter, ModelSpec
from segattack_gui.core.runner import run_attack
from segattack_gui.errors import SegAttackError
from segattack_gui.io import export, files
from segattack_gui.io.export import export_run

from .tiny_models import ThresholdModel

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


@pytest.fixture(scope="module")
def result():
    rng = np.random.default_rng(0)
    image = rng.uniform(0.3, 0.7, (12, 14, 1)).astype(np.float32)
    target = np.zeros((12, 14), int)
    target[3:9, 4:10] = 1
    return run_attack(ModelAdapter(ThresholdModel(), ModelSpec()), image, target,
                      create_attack("asma", iterations=10, tau=1e-3))


def files_of(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def everything_under(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def disk_full_after(monkeypatch, folder, successful_writes: int):
    """Files opened for writing under ``folder`` fail with ENOSPC after the first ``successful_writes``.

    Every writer the export uses (PNG bytes, np.save, csv, json, gif) opens its file through
    ``open``/``io.open``, so this is what a full disk looks like to it.
    """
    real_open = io.open
    count = {"writes": 0}

    def full_disk_open(file, mode="r", *args, **kwargs):
        if any(flag in mode for flag in "wxa") and str(folder) in os.fspath(file):
            count["writes"] += 1
            if count["writes"] > successful_writes:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), os.fspath(file))
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(io, "open", full_disk_open)
    monkeypatch.setattr(builtins, "open", full_disk_open)


@pytest.mark.parametrize("successful_writes", [0, 3, 8])
def test_full_disk_leaves_nothing_and_the_result_exports_elsewhere(tmp_path, monkeypatch, result, successful_writes):
    folder_a = tmp_path / "disk_a" / "run"
    with monkeypatch.context() as patch:
        disk_full_after(patch, tmp_path, successful_writes)
        with pytest.raises(SegAttackError) as caught:
            export_run(result, folder_a)
    message = caught.value.one_line()
    assert message.startswith(f"{folder_a}: ") and "No space left on device" in message and "\n" not in message
    assert "nothing was written" in message and ".segattack-tmp" not in message
    assert everything_under(tmp_path) == []  # no run folder, no staging folder, not even disk_a/
    reference = export_run(result, tmp_path / "reference")
    retried = export_run(result, tmp_path / "disk_b" / "run")
    assert files_of(retried) == files_of(reference)


def make_read_only(folder, monkeypatch):
    """chmod where that binds; as root (CI) permissions do not bind, so the OS's refusal is simulated."""
    if not IS_ROOT:
        folder.chmod(0o555)
        return
    real_staging_folder = files._new_staging_folder

    def refuse(parent):
        if os.path.samefile(parent, folder):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(parent))
        return real_staging_folder(parent)

    monkeypatch.setattr(files, "_new_staging_folder", refuse)


def test_read_only_folder_is_one_line_and_nothing_changes(tmp_path, monkeypatch, result):
    locked = tmp_path / "locked"
    locked.mkdir()
    make_read_only(locked, monkeypatch)
    try:
        with pytest.raises(SegAttackError) as caught:
            export_run(result, locked / "run")
    finally:
        locked.chmod(0o755)
    assert caught.value.one_line() == f"{locked}: cannot write here (Permission denied); nothing was written"
    assert list(locked.iterdir()) == []
    monkeypatch.undo()
    assert files_of(export_run(result, tmp_path / "elsewhere")) == files_of(export_run(result, locked / "run"))


def test_failed_export_into_new_folders_removes_them(tmp_path, monkeypatch, result):
    monkeypatch.setattr(export, "_write_metrics_csv", lambda *a: (_ for _ in ()).throw(
        OSError(errno.EIO, os.strerror(errno.EIO))))
    with pytest.raises(SegAttackError, match="Input/output error"):
        export_run(result, tmp_path / "a" / "b" / "c" / "run")
    assert everything_under(tmp_path) == []


def test_empty_destination_folder_is_left_as_found(tmp_path, monkeypatch, result):
    destination = tmp_path / "run"
    destination.mkdir()
    monkeypatch.setattr(files.os, "replace", lambda *a: (_ for _ in ()).throw(
        OSError(errno.EXDEV, os.strerror(errno.EXDEV))))
    with pytest.raises(SegAttackError):
        export_run(result, destination)
    assert everything_under(tmp_path) == ["run"]


def test_stale_staging_folders_are_removed_on_the_next_export(tmp_path, result):
    stale = tmp_path / ".segattack-tmp-killed"
    stale.mkdir()
    (stale / "adversarial.png").write_bytes(b"half")
    hour_ago = time.time() - 3700
    os.utime(stale, (hour_ago, hour_ago))
    recent = tmp_path / ".segattack-tmp-running"  # another export may still be writing this one
    recent.mkdir()
    export_run(result, tmp_path / "run")
    assert not stale.exists() and recent.exists()


def test_a_run_folder_is_as_readable_as_any_new_folder(tmp_path, result):
    """mkdtemp's owner-only mode would lock colleagues on a shared server out of the run."""
    previous = os.umask(0o022)
    try:
        folder = export_run(result, tmp_path / "run", export.Provenance())
    finally:
        os.umask(previous)
    assert folder.stat().st_mode & 0o777 == 0o755
