"""``segattack bench``: the attack engine's speed next to its baselines, all in one process (docs/design.md, Performance).

For one model on one device, and for each precision the device offers, it times

* ``published``: the published ASMA loop's structure (:func:`~segattack_gui.core.published_asma.published_asma_loop`:
  two forwards, weight gradients, per-class masks, a host sync per iteration), one image;
* ``engine``: the real runner (:func:`~segattack_gui.core.runner.run_batch` with ASMA), one image and a batch;
* ``floor``: forward plus input-only backward of the bare network, same precision and batch:
  what one attack iteration cannot beat;
* ``snapshots``: the engine with the GUI's live updates (a snapshot every 0.1 s, a callback
  that makes the copies the GUI keeps);
* ``adv-lib``: adv-lib's ``asma`` on the same adapter, one image and a batch, when adv-lib is
  installed (:mod:`.adv_lib`).

Speeds are iterations per second (image-iterations per second for batches). Timings on a
shared machine are noisy, so every measurement runs once to warm up and then once per
round, the rounds interleaved (every other round backwards), and the median counts; a
ratio is the median of the per-round ratios, all from this one process. Engine timings
are the runner's own loop time (``seconds`` in ``summary.json``), which on CUDA ends with
a device synchronisation; N iterations cost N + 1 forward passes (row N scores the last
iterate), so short runs understate the engine by about a third of 1/(N + 1).
"""

from __future__ import annotations

import datetime
from typing import Callable, Sequence

import torch

from ..core.models import fast_precisions
from ..core.runner import AttackControl
from .adv_lib import AdvLibAsma
from .environment import available_precisions, backend_settings, device_name
from .models import (
    BENCH_MODELS,
    BenchModel,
    demo_bench_model,
    module_bench_model,
    unet_bench_model,
)
from .report import TARGETS, BenchReport, Measurement
from .timers import (
    GuiLikeReceiver,
    time_adv_lib,
    time_engine,
    time_floor,
    time_published,
)

__all__ = [
    "BENCH_MODELS", "TARGETS", "BenchModel", "BenchReport", "GuiLikeReceiver", "Measurement", "available_precisions",
    "demo_bench_model", "module_bench_model", "parse_precisions", "run_bench", "time_adv_lib", "time_engine",
    "time_floor", "time_published", "unet_bench_model",
]


def run_bench(
    bench_model: BenchModel,
    device: torch.device,
    *,
    precisions: Sequence[str] | None = None,
    iterations: int = 10,
    batch_size: int = 4,
    rounds: int = 3,
    warmup_iterations: int = 2,
    published: bool = True,
    snapshots: bool = True,
    adv_lib: AdvLibAsma | None = None,
    progress: Callable[[str], None] | None = None,
) -> BenchReport:
    """Time every measurement ``rounds`` times, interleaved, after one warm-up run each.

    ``adv_lib`` is adv-lib's ``asma`` function (see :func:`.adv_lib.load_adv_lib_asma`);
    given, it is timed beside the engine at every precision and batch.
    """
    notes: list[str] = []
    offered = available_precisions(device)
    if precisions:
        wanted = list(precisions)
    else:  # by default the fast ones, as the GUI offers them
        wanted = [precision for precision in fast_precisions(device) if precision in offered]
        if "bf16" in offered and "bf16" not in wanted:
            notes.append("bf16 autocast runs on this CPU but without native bf16 instructions (emulated, several "
                         "times slower than fp32); left out by default, ask for it with --precision fp32,bf16")
    for precision in wanted:
        if precision not in offered:
            notes.append(f"{precision} is not available on {device.type}; skipped")
    wanted = [p for p in wanted if p in offered]
    if not wanted:
        raise ValueError(f"none of the precisions asked for runs on {device.type} (available: {', '.join(offered)})")
    image, target = bench_model.image, bench_model.target
    adapters = {precision: bench_model.make_adapter(device, precision) for precision in wanted}
    jobs: list[tuple[Measurement, Callable[[int], tuple[float, int]]]] = []
    for precision in wanted:
        adapter = adapters[precision]
        batches = [1] + ([batch_size] if batch_size > 1 else [])

        def settings(adapter=adapter) -> dict:
            adapter.apply_backend_settings()
            return backend_settings(adapter)

        # Compared runs sit next to each other: engine beside its floor, snapshots and published.
        for batch in batches:
            jobs.append((Measurement("engine", precision, batch, settings()),
                         lambda n, a=adapter, b=batch: (time_engine(a, [image] * b, [target] * b, n), b * n)))
            jobs.append((Measurement("floor", precision, batch, settings()),
                         lambda n, a=adapter, b=batch: (time_floor(a, image, b, n), b * n)))
            if adv_lib is not None:
                jobs.append((Measurement("adv-lib", precision, batch, settings()),
                             lambda n, a=adapter, b=batch: (time_adv_lib(adv_lib, a, [image] * b, [target] * b, n),
                                                            b * n)))
            if batch == 1 and snapshots and precision == wanted[0]:
                measurement = Measurement("snapshots", precision, 1, settings())

                def with_snapshots(n, a=adapter, m=measurement):
                    receiver = GuiLikeReceiver(image)
                    seconds = time_engine(a, [image], [target], n, on_snapshot=receiver, control=AttackControl())
                    m.snapshots = receiver.count
                    return seconds, n

                jobs.append((measurement, with_snapshots))
            if batch == 1 and published:
                jobs.append((Measurement("published", precision, 1, settings()),
                             lambda n, a=adapter: (time_published(a, image, target, n), n)))
    for measurement, job in jobs:  # warm-up: kernel selection, allocator, caches
        if progress:
            progress(f"warm-up {measurement.measure} {measurement.precision} B={measurement.batch}")
        job(warmup_iterations)
    for round_index in range(rounds):
        # Odd rounds run the list backwards (A B B A): a steady drift in load favours no measurement.
        for measurement, job in jobs if round_index % 2 == 0 else jobs[::-1]:
            seconds, work = job(iterations)
            measurement.rates.append(work / seconds)
            if progress:
                progress(f"round {round_index + 1}/{rounds} {measurement.measure} {measurement.precision} "
                         f"B={measurement.batch}: {work / seconds:.2f}/s")
    height, width = image.shape[:2]
    return BenchReport(
        model=bench_model.name, description=bench_model.description, image_size=(height, width),
        device=str(device), device_name=device_name(device), torch_version=torch.__version__,
        iterations=iterations, rounds=rounds, batch_size=batch_size,
        measurements=[measurement for measurement, _ in jobs], notes=notes,
        date=datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
    )


def parse_precisions(text: str | None) -> list[str] | None:
    """``"fp32,bf16"`` -> ``["fp32", "bf16"]``; ``None`` or ``"all"`` -> every available one."""
    if text is None or text.strip().lower() == "all":
        return None
    names = [name.strip().lower() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in ("fp32", "tf32", "bf16")]
    if unknown or not names:
        raise ValueError(f"unknown precision {', '.join(unknown) or text!r} (use fp32, tf32, bf16 or all)")
    return names
