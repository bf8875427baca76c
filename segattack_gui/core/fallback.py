"""When the GPU runs out of memory: smaller batches, then the CPU (docs/design.md, Reliability).

The rule, the same for the CLI, the batch runner and the GUI:

1. Items (images) are attacked ``batch_size`` at a time.
2. An out-of-memory error frees the cached device memory and retries the same items
   half as many at a time; the smaller batch is kept for the rest of the work.
3. Out of memory with one item at a time: the model moves to the CPU once (a new
   :class:`ModelAdapter` with the same model and spec; ``tf32``, and ``bf16`` where the
   CPU has no native bf16, become ``fp32``) and
   the item is retried there. The adapter given at the start must not be used
   afterwards: its model has moved.
4. Out of memory on the CPU as well is a :class:`SegAttackError`.

Every step is announced through ``on_message`` in one sentence. A retry starts the
failed items from their first iteration, so their results are exactly those of a run
that never ran out of memory (up to the batch-size independence of the runner).
"""

from __future__ import annotations

import gc
from typing import Callable, Sequence, TypeVar

import torch

from ..errors import SegAttackError, first_line
from .models import ModelAdapter, fast_precisions

Item = TypeVar("Item")
Outcome = TypeVar("Outcome")
_OUT_OF_MEMORY_WORDS = ("out of memory", "CUBLAS_STATUS_ALLOC_FAILED", "CUDNN_STATUS_ALLOC_FAILED")


def is_out_of_memory(error: BaseException) -> bool:
    """True for ``torch.cuda.OutOfMemoryError`` and RuntimeErrors that report a failed allocation."""
    if isinstance(error, torch.cuda.OutOfMemoryError):
        return True
    return isinstance(error, RuntimeError) and any(words in str(error) for words in _OUT_OF_MEMORY_WORDS)


def free_device_memory() -> None:
    """Drop unreachable tensors (a failed attempt's frames) and return cached CUDA blocks."""
    gc.collect()
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.empty_cache()


def adapter_on_cpu(adapter: ModelAdapter) -> ModelAdapter:
    """The same model and spec on the CPU, at a precision that is fast there.

    TF32 does not exist on a CPU; bf16 stays bf16 where the CPU computes it natively and
    is emulated, several times slower than fp32, elsewhere.
    """
    precision = adapter.precision if adapter.precision in fast_precisions("cpu") else "fp32"
    return ModelAdapter(adapter.model, adapter.spec, device="cpu", precision=precision)


class OutOfMemoryFallback:
    """Runs work over items in batches, shrinking the batch and then leaving the GPU on out-of-memory.

    Keep one instance for a whole experiment: ``adapter`` and ``batch_size`` remember what
    worked, so later groups start from there instead of running out of memory again.
    """

    def __init__(
        self,
        adapter: ModelAdapter,
        *,
        batch_size: int | None = None,
        on_message: Callable[[str], None] | None = None,
    ):
        self.adapter = adapter
        self.batch_size = batch_size  # None: every item given to run() at once
        self.on_message = on_message or (lambda message: None)
        self.moved_to_cpu = False

    def run(self, work: Callable[[ModelAdapter, list[Item]], list[Outcome]], items: Sequence[Item]) -> list[Outcome]:
        """``work(adapter, batch)`` over ``items`` in batches; one outcome per item, in order."""
        items = list(items)
        outcomes: list[Outcome] = []
        start = 0
        while start < len(items):
            size = min(self.batch_size or len(items), len(items) - start)
            try:
                done = work(self.adapter, items[start : start + size])
            except Exception as error:
                if not is_out_of_memory(error):
                    raise
                problem = first_line(error) or type(error).__name__
            else:
                outcomes.extend(done)
                start += size
                continue
            # Outside the except block, so the failed attempt's tensors can be freed.
            self._shrink(size, problem)
        return outcomes

    def _shrink(self, size: int, problem: str) -> None:
        free_device_memory()
        device = self.adapter.device
        if size > 1:
            self.batch_size = size // 2
            self.on_message(f"out of memory on {device} with {size} images at once ({problem}); "
                            f"retrying {self.batch_size} at a time")
        elif not self.moved_to_cpu:
            self.adapter = adapter_on_cpu(self.adapter)
            self.moved_to_cpu = True
            free_device_memory()  # the model's weights have left the GPU
            self.on_message(f"out of memory on {device} even for one image ({problem}); "
                            "continuing on the CPU, which is slower")
        else:
            raise SegAttackError("--device", f"out of memory even for one image on the CPU ({problem})")


def run_with_fallback(
    work: Callable[[ModelAdapter, list[Item]], list[Outcome]],
    adapter: ModelAdapter,
    items: Sequence[Item],
    *,
    batch_size: int | None = None,
    on_message: Callable[[str], None] | None = None,
) -> tuple[list[Outcome], ModelAdapter]:
    """One-shot form of :class:`OutOfMemoryFallback`: the outcomes and the adapter that produced the last."""
    fallback = OutOfMemoryFallback(adapter, batch_size=batch_size, on_message=on_message)
    return fallback.run(work, items), fallback.adapter
