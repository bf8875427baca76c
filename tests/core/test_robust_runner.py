"""A model that fails mid-run: the runner raises AttackInterrupted and loses nothing already computed."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from segattack_gui.core.attacks import create_attack
from segattack_gui.core.models import ModelAdapter, ModelSpec
from segattack_gui.core.results import HISTORY_COLUMNS
from segattack_gui.core.runner import (
    MODEL_ERROR,
    AttackInterrupted,
    run_attack,
    run_batch,
)

from .tiny_models import ThresholdModel


class FailsOnCall(ThresholdModel):
    """ThresholdModel whose forward pass number ``fail_at`` (1-based, the size probe included) raises,
    and every later one too if ``keep_failing``."""

    def __init__(self, fail_at: int, error: Exception | None = None, keep_failing: bool = False):
        super().__init__()
        self.calls = 0
        self.fail_at = fail_at
        self.error = error or RuntimeError("cuDNN exploded")
        self.keep_failing = keep_failing

    def forward(self, x):
        self.calls += 1
        if self.calls == self.fail_at or (self.keep_failing and self.calls > self.fail_at):
            raise self.error
        return super().forward(x)


class BackwardFails(torch.autograd.Function):
    """Identity forward; the backward pass raises (a broken custom op)."""

    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, grad):
        raise ValueError("no gradient for this op")


class FailsInBackward(ThresholdModel):
    def __init__(self, fail_from_call: int):
        super().__init__()
        self.calls = 0
        self.fail_from_call = fail_from_call

    def forward(self, x):
        self.calls += 1
        if self.calls >= self.fail_from_call:
            x = BackwardFails.apply(x)
        return super().forward(x)


def image_and_target(size=12):
    rng = np.random.default_rng(0)
    image = rng.uniform(0.3, 0.7, (size, size, 1)).astype(np.float32)
    target = np.zeros((size, size), int)
    target[2:9, 3:10] = 1
    return image, target


def prepared_adapter(model) -> ModelAdapter:
    adapter = ModelAdapter(model, ModelSpec())
    adapter.output_grid(12, 12)  # the size probe is forward call 1
    return adapter


ATTACK = dict(iterations=40, tau=1e-3, beta=5e-3)


def test_model_error_keeps_every_iterate_before_it():
    image, target = image_and_target()
    reference = run_attack(prepared_adapter(ThresholdModel()), image, target, create_attack("asma", **ATTACK))
    # Call 1 is the probe, calls 2..8 evaluate iterates 0..6: call 9 fails on iterate 7.
    adapter = prepared_adapter(FailsOnCall(fail_at=9))
    with pytest.raises(AttackInterrupted) as caught:
        run_attack(adapter, image, target, create_attack("asma", **ATTACK))
    interrupted = caught.value
    assert interrupted.iteration == 7
    assert isinstance(interrupted.cause, RuntimeError) and interrupted.__cause__ is interrupted.cause
    assert "RuntimeError at iteration 7" in str(interrupted) and "cuDNN exploded" in str(interrupted)
    partial = interrupted.result
    assert partial is interrupted.results[0]
    assert partial.stop_reason == MODEL_ERROR == "model error"
    assert "iteration 7" in partial.error and "up to iteration 6" in partial.error
    assert partial.iterations_run == 6
    # History rows 0..6 equal the uninterrupted run's, and the kept iterate is the one they describe.
    assert len(partial.history["iou"]) == 7
    for name in (*HISTORY_COLUMNS, "iteration"):
        np.testing.assert_allclose(partial.history[name], reference.history[name][:7], err_msg=name)
    assert partial.final["l2"] == pytest.approx(partial.history["l2"][-1], rel=1e-5)
    assert partial.final["iou"] == pytest.approx(partial.history["iou"][-1])
    assert np.isfinite(partial.adversarial).all() and not np.array_equal(partial.adversarial, image)


def test_partial_result_is_exportable(tmp_path):
    from segattack_gui.io.export import export_run

    image, target = image_and_target()
    with pytest.raises(AttackInterrupted) as caught:
        run_attack(prepared_adapter(FailsOnCall(fail_at=6)), image, target, create_attack("asma", **ATTACK))
    folder = export_run(caught.value.result, tmp_path / "partial")
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["stop_reason"] == "model error" and "iteration 4" in summary["error"]
    assert (folder / "metrics.csv").read_text().count("\n") == 1 + 4  # header + iterations 0..3


def test_backward_failure_keeps_the_iterate_whose_forward_succeeded():
    image, target = image_and_target()
    adapter = prepared_adapter(FailsInBackward(fail_from_call=5))  # iterate 3's forward taints the graph
    with pytest.raises(AttackInterrupted) as caught:
        run_attack(adapter, image, target, create_attack("ssm", iterations=40, tau=1e-3))
    interrupted = caught.value
    assert interrupted.iteration == 3 and isinstance(interrupted.cause, ValueError)
    # Rescoring the kept iterates is forward-only, so it works: iterate 3 was evaluated and is kept.
    assert interrupted.result.iterations_run == 3 and len(interrupted.result.history["iou"]) == 4


def test_failure_on_the_first_iterate_has_nothing_to_keep():
    image, target = image_and_target()
    with pytest.raises(AttackInterrupted) as caught:
        run_attack(prepared_adapter(FailsOnCall(fail_at=2)), image, target, create_attack("asma", **ATTACK))
    assert caught.value.iteration == 0 and caught.value.results == [] and caught.value.result is None
    assert "no iterate could be kept" in str(caught.value)


def test_a_model_that_keeps_failing_still_reports_where():
    image, target = image_and_target()
    adapter = prepared_adapter(FailsOnCall(fail_at=6, error=RuntimeError("dead device"), keep_failing=True))
    with pytest.raises(AttackInterrupted) as caught:
        run_attack(adapter, image, target, create_attack("asma", **ATTACK))
    # Rescoring the kept iterates failed too: no result, but the iteration and the cause are there.
    assert caught.value.iteration == 4 and caught.value.results == []
    assert "dead device" in str(caught.value.cause)


def test_batch_items_that_had_finished_keep_their_own_stop_reason():
    easy, target = image_and_target()
    hard = np.full_like(easy, 0.05)
    adapter = prepared_adapter(FailsOnCall(fail_at=40))
    with pytest.raises(AttackInterrupted) as caught:
        run_batch(adapter, [easy, hard], [target, target],
                  create_attack("asma", iterations=60, tau=0.01, beta=0.02, stop_iou=0.7))
    easy_result, hard_result = caught.value.results
    assert easy_result.stop_reason == "stop_iou" and easy_result.error is None
    assert hard_result.stop_reason == "model error" and hard_result.iterations_run == 37


def test_out_of_memory_is_not_wrapped():
    """Out-of-memory propagates unchanged, for the fallback to retry with less."""
    image, target = image_and_target()
    adapter = prepared_adapter(FailsOnCall(fail_at=5, error=torch.cuda.OutOfMemoryError("CUDA out of memory")))
    with pytest.raises(torch.cuda.OutOfMemoryError):
        run_attack(adapter, image, target, create_attack("asma", **ATTACK))


def test_interruption_survives_pickling():
    """Worker processes hand exceptions back pickled; the partial result must travel with it."""
    import pickle

    image, target = image_and_target()
    with pytest.raises(AttackInterrupted) as caught:
        run_attack(prepared_adapter(FailsOnCall(fail_at=6)), image, target, create_attack("asma", **ATTACK))
    copy = pickle.loads(pickle.dumps(caught.value))
    assert str(copy) == str(caught.value) and copy.iteration == 4
    np.testing.assert_array_equal(copy.result.adversarial, caught.value.result.adversarial)
