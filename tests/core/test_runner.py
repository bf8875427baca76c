"""The shared loop: control, snapshots, region, quantisation, numeric safety and batches."""

import threading

import numpy as np
import pytest
import torch
from torch import nn

from segattack_gui.core.attacks import create_attack
from segattack_gui.core.models import ModelAdapter, ModelSpec
from segattack_gui.core.runner import AttackControl, run_attack, run_batch

from .tiny_models import ThresholdModel


@pytest.fixture
def adapter():
    return ModelAdapter(ThresholdModel(), ModelSpec())


def image_and_target(seed=0, size=12):
    rng = np.random.default_rng(seed)
    image = rng.uniform(0.3, 0.7, (size, size, 1)).astype(np.float32)
    target = np.zeros((size, size), int)
    target[2:9, 3:10] = 1
    return image, target


def test_region_is_honoured_exactly(adapter):
    image, target = image_and_target()
    region = np.zeros(target.shape, bool)
    region[:, :6] = True
    result = run_attack(adapter, image, target, create_attack("asma", iterations=30, tau=0.01, beta=0.02),
                        region=region)
    changed = np.abs(result.adversarial - image)[..., 0] > 0
    assert changed[:, :6].any()
    assert not changed[:, 6:].any()


def test_stop_from_another_thread_keeps_what_was_computed(adapter):
    image, target = image_and_target()
    control = AttackControl()
    seen = []

    def on_snapshot(snapshot):
        seen.append(snapshot.iteration)
        if snapshot.iteration >= 5:
            control.stop()

    result = run_attack(adapter, image, target, create_attack("asma", iterations=10_000, tau=1e-4),
                        on_snapshot=on_snapshot, snapshot_interval=0, control=control)
    assert result.stop_reason == "user"
    assert 5 <= result.iterations_run < 10_000
    assert len(result.history["iou"]) == result.iterations_run + 1
    assert seen[-1] == result.iterations_run  # the final snapshot describes the kept iterate


def test_pause_blocks_and_resume_continues(adapter):
    image, target = image_and_target()
    control = AttackControl()
    control.pause()
    outcome = {}
    worker = threading.Thread(target=lambda: outcome.setdefault(
        "result", run_attack(adapter, image, target, create_attack("asma", iterations=20, tau=1e-3), control=control)))
    worker.start()
    worker.join(0.3)
    assert worker.is_alive() and "result" not in outcome
    control.resume()
    worker.join(10)
    assert outcome["result"].iterations_run == 20


def test_snapshots_are_throttled_and_copies(adapter):
    image, target = image_and_target()
    snapshots = []
    run_attack(adapter, image, target, create_attack("asma", iterations=300, tau=1e-3),
               on_snapshot=snapshots.append, snapshot_interval=10.0)
    # Only the start and the end within 10 s.
    assert [(s.iteration, s.final) for s in snapshots] == [(0, False), (300, True)]
    snapshot = snapshots[-1]
    assert snapshot.adversarial.flags.owndata or snapshot.adversarial.base is not None
    assert snapshot.adversarial.dtype == np.float32 and snapshot.prediction.dtype == np.uint8
    assert len(snapshot.history["iou"]) == 301


class NaNAbove(nn.Module):
    """An item's logits become NaN once its mean drifts above ``threshold`` (below it, with
    ``below``); the other items stay finite. All-NaN logits are class 0 everywhere (argmax(NaN))."""

    def __init__(self, threshold: float, below: bool = False):
        super().__init__()
        self.inner = ThresholdModel()
        self.threshold = threshold
        self.below = below

    def forward(self, x):
        mean = x.detach().flatten(1).mean(1)
        drifted = mean < self.threshold if self.below else mean > self.threshold
        return self.inner(x) * torch.where(drifted, float("nan"), 1.0).view(-1, 1, 1, 1)


def test_a_nan_output_ends_the_item_on_its_previous_iterate():
    adapter = ModelAdapter(NaNAbove(0.52), ModelSpec())
    image = np.full((6, 6, 1), 0.5, np.float32)
    target = np.ones((6, 6), int)
    result = run_attack(adapter, image, target, create_attack("ssm", iterations=100, tau=1e-3))
    assert result.stop_reason == "non-finite"
    assert np.isfinite(result.adversarial).all()
    assert 0 < result.iterations_run < 100
    assert len(result.history["l2"]) == result.iterations_run + 1
    # The row whose output was NaN is dropped: what is kept, last and best, is an iterate the model scored.
    assert result.error == (f"the model's output became NaN or infinite at iteration {result.iterations_run + 1}; "
                            f"kept the iterates up to iteration {result.iterations_run}")
    for kept in (result.adversarial, result.best_adversarial):
        assert torch.isfinite(adapter.logits(torch.from_numpy(kept).permute(2, 0, 1)[None])).all()
    assert np.isfinite(result.history["loss"]).all() and result.best["iteration"] <= result.iterations_run


class NaNGradient(nn.Module):
    """A finite output whose gradient is NaN once the mean drifts above 0.52 (sqrt at 0 in the backward)."""

    def __init__(self):
        super().__init__()
        self.inner = ThresholdModel()

    def forward(self, x):
        logits = self.inner(x)
        if x.mean() > 0.52:  # d sqrt(u)/du at u = 0 is infinite, times du/dx = 0: NaN
            logits = logits + torch.sqrt(x[:, :1] - x[:, :1])
        return logits


def test_a_nan_gradient_keeps_the_scored_iterate_it_was_taken_at():
    adapter = ModelAdapter(NaNGradient(), ModelSpec())
    image = np.full((6, 6, 1), 0.5, np.float32)
    result = run_attack(adapter, image, np.ones((6, 6), int), create_attack("ssm", iterations=100, tau=1e-3))
    assert result.stop_reason == "non-finite" and 0 < result.iterations_run < 100
    assert result.error == (f"the gradient became NaN or infinite at iteration {result.iterations_run}; "
                            "kept the iterates up to it")
    assert result.adversarial.mean() > 0.52  # the iterate whose gradient failed: its output was fine


@pytest.mark.parametrize("method, parameters", [
    ("ssm", {"tau": 1e-3}), ("asma", {"tau": 1e-3, "beta": 1e-3}), ("dag", {}), ("dag", {"norm": "l2"}),
    ("pgd", {"norm": "l2", "l2_alpha": 0.05}),
])
def test_a_non_finite_item_leaves_the_others_of_its_batch_untouched(method, parameters):
    """The runner does not zero a NaN gradient: the item retires before the step, and every step
    rule (including those that normalise per item) keeps its NaN inside that item."""
    adapter = ModelAdapter(NaNAbove(0.5005), ModelSpec())
    drifting = np.full((6, 6, 1), 0.5, np.float32)
    steady = np.random.default_rng(0).uniform(0.2, 0.4, (6, 6, 1)).astype(np.float32)
    up, down = np.ones((6, 6), int), np.zeros((6, 6), int)  # towards the NaN region, away from it
    attack = create_attack(method, iterations=60, **parameters)
    broken, healthy = run_batch(adapter, [drifting, steady], [up, down], attack)
    alone = run_attack(adapter, steady, down, attack)
    assert broken.stop_reason == "non-finite" and broken.iterations_run < 60
    for kept in (broken.adversarial, broken.best_adversarial):  # iterates the model scored, not the NaN one
        assert torch.isfinite(adapter.logits(torch.from_numpy(kept).permute(2, 0, 1)[None])).all()
    assert healthy.stop_reason == alone.stop_reason and healthy.iterations_run == alone.iterations_run
    np.testing.assert_array_equal(healthy.adversarial, alone.adversarial)
    for column in ("iou", "l2", "linf", "loss"):
        np.testing.assert_array_equal(healthy.history[column], alone.history[column])


def test_quantize_makes_the_8bit_image_carry_the_attack(adapter):
    image, target = image_and_target()
    attack = create_attack("asma", iterations=200, tau=1e-3, beta=5e-3, quantize=True, quantize_fraction=0.3)
    result = run_attack(adapter, image, target, attack)
    np.testing.assert_allclose(result.adversarial * 255, np.round(result.adversarial * 255), atol=1e-3)
    assert result.final_quantized["iou"] == pytest.approx(result.final["iou"])
    assert result.final_quantized["iou"] > 0.8


def test_batch_items_stop_independently(adapter):
    easy_image, target = image_and_target(0)
    hard_image = np.full_like(easy_image, 0.05)  # far from the threshold: cannot reach the stop IoU in time
    results = run_batch(adapter, [easy_image, hard_image], [target, target],
                        create_attack("asma", iterations=60, tau=0.01, beta=0.02, stop_iou=0.7))
    easy, hard = results
    assert easy.stop_reason == "stop_iou" and easy.iterations_run < 60
    assert hard.stop_reason == "iterations" and hard.iterations_run == 60
    single = run_attack(adapter, easy_image, target,
                        create_attack("asma", iterations=60, tau=0.01, beta=0.02, stop_iou=0.7))
    np.testing.assert_allclose(single.adversarial, easy.adversarial, atol=1e-6)
    assert single.iterations_run == easy.iterations_run


def test_bad_targets_are_rejected(adapter):
    image, target = image_and_target()
    with pytest.raises(ValueError, match="class ids"):
        run_attack(adapter, image, target * 5, create_attack("asma", iterations=1))
    with pytest.raises(ValueError, match="but the image is"):
        run_attack(adapter, image, target[:5], create_attack("asma", iterations=1))


def test_final_snapshot_ends_where_the_result_does(adapter):
    """A run stopped by its stop IoU may loop a few rows past it (it checks every few rows);
    the final snapshot, which the GUI shows, must report the result's own last iteration."""
    image, target = image_and_target()
    snapshots = []
    result = run_attack(adapter, image, target, create_attack("asma", iterations=500, tau=1e-3, stop_iou=0.5),
                        on_snapshot=snapshots.append, snapshot_interval=10.0, check_every=25)
    assert result.stop_reason == "stop_iou" and result.iterations_run < 500
    final = snapshots[-1]
    assert final.final and final.iteration == result.iterations_run
    assert len(final.history["iou"]) == len(result.history["iou"])
    assert np.allclose(final.adversarial, result.adversarial)


@pytest.mark.parametrize("stop_iou", [None, 0.99])
def test_a_nan_row_that_looks_perfect_is_neither_best_nor_a_stop(stop_iou):
    """Towards an all-background target, argmax(NaN) scores IoU 1: that row must not count."""
    adapter = ModelAdapter(NaNAbove(0.545, below=True), ModelSpec())
    image = np.full((6, 6, 1), 0.5, np.float32)
    image[:3] = 0.6
    snapshots = []
    result = run_attack(adapter, image, np.zeros((6, 6), int),
                        create_attack("ssm", iterations=100, tau=1e-3, stop_iou=stop_iou), on_snapshot=snapshots.append)
    assert result.stop_reason == "non-finite" and "output became NaN" in result.error
    assert result.best["iteration"] <= result.iterations_run and result.best["iou"] < 1
    for kept in (result.adversarial, result.best_adversarial):
        assert torch.isfinite(adapter.logits(torch.from_numpy(kept).permute(2, 0, 1)[None])).all()
    final = snapshots[-1]  # what the window shows at the end: the kept rows, not the NaN one
    assert final.final and final.iteration == result.iterations_run and np.isfinite(final.history["loss"]).all()
