"""The attack loop reads nothing back to the host but its stop checks (docs/design.md, Performance).

On a GPU every value the host reads (``.item()``, ``bool(tensor)``, ``.cpu()``, a
data-dependent shape such as ``nonzero``) stalls the launch queue until the device
catches up. These tests count such reads on the CPU, where they are free but visible:
aten operators through a dispatch mode, ``numpy``/``tolist``/``cpu`` through the tensor
methods. Two runs of one setting differ only in their number of iterations, so the
difference in reads is what the extra iterations cost; it must be exactly their
extra stop checks (one ``bool`` every ``check_every`` iterations), whatever the method.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from segattack_gui.core import metrics
from segattack_gui.core.architectures import PaddedUNet
from segattack_gui.core.attacks import create_attack
from segattack_gui.core.models import ModelAdapter, ModelSpec
from segattack_gui.core.runner import run_batch

# Operators that wait for the device on CUDA: scalar reads and data-dependent output shapes.
HOST_READS = {"_local_scalar_dense", "nonzero", "masked_select", "_unique2", "unique_dim", "unique_consecutive",
              "bincount", "histc", "repeat_interleave", "equal", "is_nonzero"}


class HostReadCounter(TorchDispatchMode):
    """Counts operators that read device values on the host (by name), and tensor -> host conversions."""

    def __init__(self, monkeypatch):
        super().__init__()
        self.reads: list[str] = []
        for method in ("numpy", "tolist", "cpu"):
            original = getattr(torch.Tensor, method)

            def counted(tensor, *args, _original=original, _method=method, **kwargs):
                self.reads.append(_method)
                return _original(tensor, *args, **kwargs)

            monkeypatch.setattr(torch.Tensor, method, counted)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func.overloadpacket.__name__
        if name in HOST_READS or (name == "index" and any(
                isinstance(index, torch.Tensor) and index.dtype == torch.bool for index in args[1] if index is not None)):
            self.reads.append(name)
        return func(*args, **(kwargs or {}))


@pytest.fixture
def device_like_counting(monkeypatch):
    """The confusion matrix counts as on a GPU (``index_add_``), not with the CPU's ``bincount``."""
    monkeypatch.setattr(metrics, "HOST_COUNTING_DEVICES", frozenset())


def reads_during_run(monkeypatch, method: str, iterations: int, **options) -> list[str]:
    torch.manual_seed(0)
    adapter = ModelAdapter(PaddedUNet(in_channels=3, num_classes=3, widths=(2, 4)), ModelSpec(classes=("a", "b", "c")))
    rng = np.random.default_rng(0)
    images = [rng.uniform(0, 1, (16, 16, 3)).astype(np.float32) for _ in range(2)]
    targets = [np.zeros((16, 16), np.int64), np.full((16, 16), 2, np.int64)]
    targets[0][4:12, 4:12] = 1
    region = np.zeros((16, 16), bool)
    region[2:14, 2:14] = True
    attack = create_attack(method, iterations=iterations, **options.pop("parameters", {}))
    with monkeypatch.context() as patches:
        counter = HostReadCounter(patches)
        with counter:
            run_batch(adapter, images, targets, attack, regions=[region, None] if options.get("region") else None,
                      check_every=25)
    return counter.reads


SETTINGS = [
    ("asma", {}), ("asm", {}), ("ssm", {}), ("dag", {}), ("pgd", {}),
    ("pgd", {"parameters": {"norm": "l2"}}), ("segpgd", {}), ("cospgd", {}),
    ("asma", {"region": True}), ("pgd", {"region": True, "parameters": {"norm": "l2"}}),
    ("asma", {"parameters": {"stop_iou": 0.99}}), ("asma", {"parameters": {"quantize": True}}),
]


@pytest.mark.parametrize(("method", "options"), SETTINGS, ids=[f"{m}-{'-'.join(map(str, o.values())) or 'plain'}"
                                                              for m, o in SETTINGS])
def test_iterations_add_no_host_reads_but_the_stop_checks(monkeypatch, device_like_counting, method, options):
    short = reads_during_run(monkeypatch, method, 10, **dict(options))
    long = reads_during_run(monkeypatch, method, 60, **dict(options))
    # 60 iterations check at rows 0, 25 and 50; 10 iterations at row 0 only: two more reads, both stop checks.
    extra = Counter(long) - Counter(short)
    assert extra == {"_local_scalar_dense": 2}, f"{method} {options}: host reads added by 50 iterations: {extra}"
    assert Counter(short) - Counter(long) == {}


def test_the_counter_sees_a_host_read(monkeypatch):
    """The check above could pass by seeing nothing: it does see ``.item()``, ``bool``, masks and ``.cpu()``."""
    x = torch.arange(6.0)
    with monkeypatch.context() as patches:
        counter = HostReadCounter(patches)
        with counter:
            x.sum().item()
            bool((x > 2).any())
            x[x > 2]
            x.cpu()
    assert counter.reads.count("_local_scalar_dense") == 2
    assert "cpu" in counter.reads and ("index" in counter.reads or "nonzero" in counter.reads)


class OperatorCounter(TorchDispatchMode):
    """Counts operators that compute (views are free); on a GPU each one is a kernel launch."""

    def __init__(self):
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.count += not func.is_view
        return func(*args, **(kwargs or {}))


def operators(run) -> int:
    with OperatorCounter() as counter:
        run()
    return counter.count


@pytest.mark.parametrize(("num_classes", "budget"), [(2, 78), (3, 87)])
def test_the_loop_adds_few_operators_to_the_forward_and_backward(device_like_counting, num_classes, budget):
    """An ASMA iteration's own operators: metrics, loss, its backward, step and bookkeeping.

    On a GPU each is a kernel launch of a few microseconds on tensors of a few numbers; at
    the paper's U-Net in TF32 (about 6 ms an iteration) every 20 of them cost about 1 %.
    Here they were 103 (K = 2) and 120 (K = 3) on 2026-12-02, then 81 and 90: IoU and Dice
    side by side, no "finished" bookkeeping for methods that never finish early, the target's
    part of the confusion codes computed once, a four-operation finiteness test; 77 and 86
    once the distance term had a hand-written backward and a NaN gradient was no longer zeroed;
    72 and 81 since IoU and Dice share the areas and keep integer counts until the division,
    and the history row is stacked in place; 77 and 86 since a row whose output is NaN is
    neither scored nor kept (the item ends on its previous iterate).
    """
    from segattack_gui.bench import time_floor

    torch.manual_seed(0)
    classes = ("a", "b", "c")[:num_classes]
    adapter = ModelAdapter(PaddedUNet(in_channels=3, num_classes=num_classes, widths=(2, 4)), ModelSpec(classes=classes))
    image = np.random.default_rng(0).uniform(0, 1, (16, 16, 3)).astype(np.float32)
    target = np.zeros((16, 16), np.int64)
    target[4:12, 4:12] = num_classes - 1

    def engine(iterations):
        return operators(lambda: run_batch(adapter, [image] * 2, [target] * 2, create_attack("asma", iterations=iterations)))

    def floor(iterations):
        return operators(lambda: time_floor(adapter, image, 2, iterations))

    own = (engine(20) - engine(10) - (floor(20) - floor(10))) / 10
    assert 30 < own <= budget, f"{own} operators per iteration besides the network's forward and backward"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_on_a_gpu_iterations_add_only_the_stop_checks_synchronisations():
    """The same rule, asked of CUDA itself: its sync debug mode warns at every synchronising call."""
    import warnings

    def synchronisations(iterations: int) -> int:
        torch.manual_seed(0)
        adapter = ModelAdapter(PaddedUNet(in_channels=3, num_classes=3, widths=(4, 8)), ModelSpec(classes=("a", "b", "c")),
                               device="cuda", channels_last=True)
        image = np.random.default_rng(0).uniform(0, 1, (32, 32, 3)).astype(np.float32)
        target = np.zeros((32, 32), np.int64)
        target[8:24, 8:24] = 1
        attack = create_attack("asma", iterations=iterations)
        run_batch(adapter, [image] * 2, [target] * 2, attack, check_every=25)  # warm-up: cuDNN autotuning
        torch.cuda.synchronize()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            torch.cuda.set_sync_debug_mode("warn")
            try:
                run_batch(adapter, [image] * 2, [target] * 2, attack, check_every=25)
            finally:
                torch.cuda.set_sync_debug_mode("default")
        return sum("synchroniz" in str(warning.message) for warning in caught)

    assert synchronisations(60) - synchronisations(10) == 2
