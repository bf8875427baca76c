"""Out of GPU memory: halve the batch, then move to the CPU, with a message; faked on the CPU here."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from segattack_gui.core.attacks import create_attack
from segattack_gui.core.fallback import (
    OutOfMemoryFallback,
    adapter_on_cpu,
    is_out_of_memory,
    run_with_fallback,
)
from segattack_gui.core.models import ModelAdapter, ModelSpec
from segattack_gui.core.runner import run_attack, run_batch
from segattack_gui.errors import SegAttackError

from .tiny_models import ThresholdModel


class RunsOutOfMemory(ThresholdModel):
    """Raises CUDA's out-of-memory error for batches above ``max_batch``, and for ``device_full_calls`` calls."""

    def __init__(self, max_batch: int = 1_000, device_full_calls: int = 0):
        super().__init__()
        self.max_batch = max_batch
        self.device_full_calls = device_full_calls
        self.batches: list[int] = []

    def forward(self, x):
        if self.device_full_calls > 0:
            self.device_full_calls -= 1
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        if x.shape[0] > self.max_batch:
            raise torch.cuda.OutOfMemoryError(f"CUDA out of memory. Tried to allocate {x.shape[0]} GiB")
        self.batches.append(x.shape[0])
        return super().forward(x)


def images_and_targets(count: int):
    rng = np.random.default_rng(1)
    images = [rng.uniform(0.3, 0.7, (10, 10, 1)).astype(np.float32) for _ in range(count)]
    target = np.zeros((10, 10), int)
    target[2:8, 2:8] = 1
    return images, [target] * count


ATTACK = create_attack("asma", iterations=15, tau=1e-3, beta=5e-3)


def attack_batch(images, targets):
    def work(adapter, indices):
        return run_batch(adapter, [images[i] for i in indices], [targets[i] for i in indices], ATTACK)
    return work


def test_recognises_out_of_memory_errors():
    assert is_out_of_memory(torch.cuda.OutOfMemoryError("CUDA out of memory."))
    assert is_out_of_memory(RuntimeError("CUDA error: out of memory"))
    assert is_out_of_memory(RuntimeError("CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling cublasCreate"))
    assert not is_out_of_memory(RuntimeError("size mismatch"))
    assert not is_out_of_memory(ValueError("out of memory"))  # only torch's RuntimeErrors say it


def test_halves_the_batch_until_it_fits_and_keeps_the_order():
    images, targets = images_and_targets(5)
    model = RunsOutOfMemory(max_batch=2)
    adapter = ModelAdapter(model, ModelSpec())
    messages = []
    fallback = OutOfMemoryFallback(adapter, on_message=messages.append)
    results = fallback.run(attack_batch(images, targets), range(5))
    assert fallback.batch_size == 2 and fallback.adapter is adapter and not fallback.moved_to_cpu
    assert set(model.batches) <= {1, 2} and 2 in model.batches
    assert len(messages) == 1  # 5 at once failed; 2, 2 and 1 then fit
    assert "with 5 images at once" in messages[0] and "retrying 2 at a time" in messages[0]
    assert "CUDA out of memory" in messages[0]
    # Every result equals the image attacked alone, in the given order.
    plain = ModelAdapter(ThresholdModel(), ModelSpec())
    for image, target, result in zip(images, targets, results):
        alone = run_attack(plain, image, target, ATTACK)
        np.testing.assert_allclose(result.adversarial, alone.adversarial, atol=1e-6)
        assert result.final["iou"] == pytest.approx(alone.final["iou"])


def test_moves_to_the_cpu_when_even_one_image_does_not_fit():
    images, targets = images_and_targets(3)
    model = RunsOutOfMemory(max_batch=1, device_full_calls=1)  # the device is full once, for any batch
    adapter = ModelAdapter(model, ModelSpec(), precision="tf32")
    messages = []
    results, used = run_with_fallback(attack_batch(images, targets), adapter, range(3), batch_size=1,
                                      on_message=messages.append)
    assert used is not adapter and used.device.type == "cpu" and used.precision == "fp32"
    assert used.model is model and used.spec is adapter.spec
    assert len(messages) == 1 and "even for one image" in messages[0] and "continuing on the CPU" in messages[0]
    assert len(results) == 3 and all(result.device == "cpu" for result in results)
    assert all(result.iterations_run == 15 for result in results)


def test_out_of_memory_on_the_cpu_too_is_a_user_facing_error():
    images, targets = images_and_targets(1)
    adapter = ModelAdapter(RunsOutOfMemory(device_full_calls=10**6), ModelSpec())
    messages = []
    with pytest.raises(SegAttackError, match="out of memory even for one image on the CPU") as caught:
        run_with_fallback(attack_batch(images, targets), adapter, [0], on_message=messages.append)
    assert caught.value.source == "--device" and len(messages) == 1


def test_other_errors_are_not_retried():
    calls = []

    def work(adapter, items):
        calls.append(list(items))
        raise RuntimeError("size mismatch for conv.weight")

    with pytest.raises(RuntimeError, match="size mismatch"):
        run_with_fallback(work, ModelAdapter(ThresholdModel(), ModelSpec()), [1, 2, 3, 4])
    assert calls == [[1, 2, 3, 4]]


@pytest.mark.parametrize(("native_bf16", "precision", "on_cpu"), [
    (True, "bf16", "bf16"), (False, "bf16", "fp32"), (True, "tf32", "fp32"), (False, "fp32", "fp32"),
])
def test_cpu_copy_keeps_model_and_spec_at_a_precision_fast_there(monkeypatch, native_bf16, precision, on_cpu):
    from segattack_gui.core import models

    monkeypatch.setattr(models, "cpu_has_native_bf16", lambda: native_bf16)
    spec = ModelSpec(classes=("bg", "fg"), mean=(0.5,), std=(0.25,))
    adapter = ModelAdapter(ThresholdModel(), spec, precision=precision)
    copy = adapter_on_cpu(adapter)
    assert copy.spec is spec and copy.model is adapter.model and copy.precision == on_cpu


def test_batch_experiment_falls_back_and_records_the_batch_that_ran(tmp_path, monkeypatch):
    """run_experiment: a group of 4 runs out of memory, is retried 2 at a time, and says so."""
    from segattack_gui.cli.batch import Pair, run_experiment
    from segattack_gui.io.model_files import LoadedModel

    images_dir, masks_dir = tmp_path / "images", tmp_path / "masks"
    images_dir.mkdir(), masks_dir.mkdir()
    images, targets = images_and_targets(4)
    pairs = []
    for index, (image, target) in enumerate(zip(images, targets)):
        Image.fromarray((image[..., 0] * 255).round().astype(np.uint8)).save(images_dir / f"i{index}.png")
        Image.fromarray((target * 255).astype(np.uint8)).save(masks_dir / f"i{index}.png")
        pairs.append(Pair(images_dir / f"i{index}.png", masks_dir / f"i{index}.png"))
    model = RunsOutOfMemory(max_batch=2)
    loaded = LoadedModel(ModelAdapter(model, ModelSpec()), tmp_path / "model.pt", "0" * 64, "pickle", None)
    messages = []
    rows = run_experiment(loaded, pairs, [ATTACK], tmp_path / "out", batch_size=4, on_message=messages.append)
    assert rows[0]["n"] == 4
    assert len(messages) == 1 and "retrying 2 at a time" in messages[0]
    for pair in pairs:
        summary = json.loads((tmp_path / "out" / "asma" / pair.image.stem / "summary.json").read_text())
        assert summary["batch_size"] == 2
