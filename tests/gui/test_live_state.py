"""What the live views draw, checked on hand-made arrays: kept frames, thinning, the agreement map."""

from __future__ import annotations

import numpy as np
import pytest

from segattack_gui.core.results import Snapshot
from segattack_gui.io.heatmaps import nice_ceiling
from segattack_gui.workspace.shown_frame import (
    AGREE,
    EXTRA,
    MISSING,
    OUTSIDE,
    agreement_map,
)
from segattack_gui.workspace.snapshot_store import KeptFrame, SnapshotStore


def snapshot(iteration: int, adversarial: np.ndarray) -> Snapshot:
    history = {"iou": np.linspace(0, 0.5, iteration + 1), "iteration": np.arange(iteration + 1)}
    return Snapshot(iteration, 1000, adversarial, np.zeros((4, 4), np.uint8), history, 0.1 * iteration)


def test_kept_frame_keeps_a_perturbation_far_below_one_8bit_step():
    rng = np.random.default_rng(0)
    original = rng.random((8, 8, 3), dtype=np.float32)
    perturbation = (rng.standard_normal((8, 8, 3)) * 1e-5).astype(np.float32)
    frame = KeptFrame.from_snapshot(snapshot(3, original + perturbation), original)
    assert np.abs(frame.perturbation() - perturbation).max() <= np.abs(perturbation).max() / 127
    assert frame.peak_abs == pytest.approx(np.abs(perturbation).max(), rel=0.01)
    magnitude = np.sqrt((perturbation ** 2).sum(axis=2))
    assert frame.peak_magnitude == pytest.approx(magnitude.max(), rel=0.01)
    assert np.abs(frame.magnitude() - magnitude).max() <= magnitude.max() / 255
    assert frame.adversarial.dtype == np.uint8 and frame.metrics["iou"] == pytest.approx(0.5)


def test_the_auto_heatmap_scale_is_the_bulk_of_the_moved_pixels_not_the_outlier():
    rng = np.random.default_rng(1)
    original = np.full((64, 64, 3), 0.5, np.float32)
    perturbation = np.zeros_like(original)
    perturbation[:32] = rng.normal(0, 0.01, (32, 64, 3))  # half the image moved a little
    perturbation[40, 40] = 0.4  # one pixel a lot
    frame = KeptFrame.from_snapshot(snapshot(1, original + perturbation), original)
    magnitude = np.sqrt((perturbation**2).sum(-1))
    expected = np.percentile(magnitude[magnitude > 0], 99)
    assert abs(frame.bulk_magnitude - expected) <= frame.magnitude_scale  # within one kept step
    assert frame.bulk_magnitude < frame.peak_magnitude / 5


def test_store_thins_evenly_and_keeps_the_first_and_newest():
    original = np.zeros((4, 4, 1), np.float32)
    store = SnapshotStore(original, capacity=10, first_stride=1)
    for iteration in range(100):
        store.add(snapshot(iteration, original + iteration * 1e-3))
    iterations = [frame.iteration for frame in store.frames]
    assert len(store) <= 10 and iterations[0] == 0 and iterations[-1] == 99
    assert iterations == sorted(iterations)
    gaps = np.diff(iterations[:-1])
    assert gaps.max() <= 2 * gaps.min()  # spread over the run, not bunched at one end


def test_store_respects_its_memory_budget():
    original = np.zeros((64, 64, 3), np.float32)
    frame_bytes = KeptFrame.from_snapshot(snapshot(0, original), original).nbytes
    store = SnapshotStore(original, capacity=300, budget_bytes=20 * frame_bytes)
    for iteration in range(100):
        store.add(snapshot(iteration, original))
    assert len(store) <= 20


def test_the_final_snapshot_replaces_a_frame_of_the_same_iteration():
    original = np.zeros((4, 4, 1), np.float32)
    store = SnapshotStore(original)
    store.add(snapshot(5, original))
    store.add(snapshot(5, original + 0.5))
    assert len(store) == 1 and store[0].adversarial.max() == 128


def test_only_kept_or_shown_snapshots_are_converted():
    original = np.zeros((4, 4, 1), np.float32)
    store = SnapshotStore(original, capacity=300, first_stride=2)
    for iteration in range(20):
        store.add(snapshot(iteration, original))
    assert store.conversions == 10  # arrivals 0, 2, ..., 18 are kept; the newest (19) is not read yet
    assert store.newest().iteration == 19 and store.conversions == 11
    assert [store.iteration_at(index) for index in range(len(store))] == list(range(0, 20, 2)) + [19]


def test_agreement_map_by_hand():
    target = np.array([[0, 1, 1, 0],
                       [0, 2, 2, 0]])
    prediction = np.array([[0, 1, 0, 1],
                           [255, 1, 2, 0]])
    codes = agreement_map(prediction, target)
    assert codes.tolist() == [[0, AGREE, MISSING, EXTRA],
                              [OUTSIDE, MISSING, AGREE, 0]]
    assert not agreement_map(None, target).any()


@pytest.mark.parametrize("value, ceiling", [(0.7, 1.0), (1.2, 2.0), (2.1, 2.5), (3.0, 5.0), (7e-7, 1e-6),
                                            (1e-4, 1e-4), (0.0123, 0.02)])
def test_nice_ceiling(value, ceiling):
    assert nice_ceiling(value) == pytest.approx(ceiling)
