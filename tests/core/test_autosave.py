"""The autosave store: round trip, atomic replacement, unreadable files."""

from __future__ import annotations

import os

import numpy as np
import pytest

from segattack_gui.io.autosave import MaskAutosave, saved_slots, slot_name


def masks_pair(shape=(6, 5)):
    target = np.zeros(shape, np.uint8)
    target[1:3, 2:4] = 2
    region = np.zeros(shape, bool)
    region[:, :3] = True
    return target, region


def test_round_trip(tmp_path):
    store = MaskAutosave(tmp_path / "autosave")
    target, region = masks_pair()
    assert store.load() is None
    assert store.save(target, region, "ab" * 32)
    record = store.load()
    assert record is not None
    assert record.target.dtype == np.uint8 and np.array_equal(record.target, target)
    assert record.region.dtype == bool and np.array_equal(record.region, region)
    assert record.image_sha256 == "ab" * 32
    assert record.saved_at > 0


def test_new_store_reads_what_an_earlier_process_saved(tmp_path):
    target, region = masks_pair()
    MaskAutosave(tmp_path).save(target, region, "f" * 64)
    record = MaskAutosave(tmp_path).load()
    assert record is not None and np.array_equal(record.target, target)


def test_save_replaces_and_leaves_no_temporary_files(tmp_path):
    store = MaskAutosave(tmp_path)
    target, region = masks_pair()
    store.save(target, region, "1" * 64)
    target[0, 0] = 1
    store.save(target, region, "1" * 64)
    assert store.load().target[0, 0] == 1
    assert sorted(os.listdir(tmp_path)) == ["mask_autosave.npz"]


def test_unchanged_masks_are_not_rewritten(tmp_path):
    store = MaskAutosave(tmp_path)
    target, region = masks_pair()
    assert store.save(target, region, "1" * 64)
    assert not store.save(target.copy(), region.copy(), "1" * 64)
    assert store.save(target, region, "2" * 64)  # another image: a new record


def test_failed_write_keeps_previous_record(tmp_path, monkeypatch):
    store = MaskAutosave(tmp_path)
    target, region = masks_pair()
    store.save(target, region, "1" * 64)

    def broken_savez(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez_compressed", broken_savez)
    with pytest.raises(OSError):
        store.save(target + 1, region, "1" * 64)
    monkeypatch.undo()
    assert np.array_equal(store.load().target, target)
    assert sorted(os.listdir(tmp_path)) == ["mask_autosave.npz"]


def test_corrupt_file_loads_as_none(tmp_path):
    store = MaskAutosave(tmp_path)
    store.path.write_bytes(b"PK\x03\x04 not really a zip")
    assert store.load() is None


def test_clear(tmp_path):
    store = MaskAutosave(tmp_path)
    store.save(*masks_pair(), "1" * 64)
    store.clear()
    assert store.load() is None and not store.path.exists()
    store.clear()  # clearing twice is fine


def test_shape_mismatch_is_rejected(tmp_path):
    target, _ = masks_pair()
    with pytest.raises(ValueError):
        MaskAutosave(tmp_path).save(target, np.ones((2, 2), bool), "1" * 64)


def test_record_names_the_image_and_model_files(tmp_path):
    store = MaskAutosave(tmp_path)
    target, region = masks_pair()
    store.save(target, region, "1" * 64, image_path="/data/eye é.png", model_path="/models/unet.pt")
    record = store.load()
    assert record.image_path == "/data/eye é.png" and record.model_path == "/models/unet.pt"
    # The same masks opened with another model are a new record.
    assert store.save(target, region, "1" * 64, image_path="/data/eye é.png", model_path="/models/other.pt")
    assert store.load().model_path == "/models/other.pt"


def test_record_without_paths_reads_them_as_none(tmp_path):
    store = MaskAutosave(tmp_path)
    store.save(*masks_pair(), "1" * 64)
    record = store.load()
    assert record.image_path is None and record.model_path is None


def test_each_window_has_its_own_slot_and_slots_list_newest_first(tmp_path):
    target, region = masks_pair()
    first = MaskAutosave(tmp_path, slot_name("101"))
    second = MaskAutosave(tmp_path, slot_name("202"))
    first.save(target, region, "1" * 64)
    second.save(target + 1, region, "2" * 64)
    os.utime(first.path, (1_000_000, 1_000_000))  # first is older
    assert saved_slots(tmp_path) == [second.path, first.path]
    assert MaskAutosave(tmp_path, first.path.name).load().image_sha256 == "1" * 64
    assert saved_slots(tmp_path / "missing") == []
