"""``segattack bench``: the attack engine's speed next to its baselines, all in one process (SPEC 10).

For one model on one device, and for each precision the device offers, it times

* ``published``: the published ASMA loop's structure (:func:`~.core.published_asma.published_asma_loop`:
  two forwards, weight gradients, per-class masks, a host sync per iteration), one image;
* ``engine``: the real runner (:func:`~.core.runner.run_batch` with ASMA), one image and a batch;
* ``floor``: forward plus input-only backward of the bare network, same precision and batch:
  what one attack iteration cannot beat;
* ``snapshots``: the engine with the GUI's live updates (a snapshot every 0.1 s, a callback
  that makes the copies the GUI keeps);
* ``adv-lib``: adv-lib's ``asma`` on the same adapter, one image and a batch, when adv-lib is
  installed (:mod:`.adv_lib_baseline`).

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
import math
import platform
import statistics
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch

from . import __version__
from .adv_lib_baseline import AdapterModule, AdvLibAsma, batch_inputs
from .core.architectures import PaddedUNet, ValidUNet
from .core.attacks import create_attack
from .core.models import ModelAdapter, ModelSpec, cpu_has_native_bf16
from .core.published_asma import published_asma_loop
from .core.results import Snapshot
from .core.runner import LIVE_SNAPSHOT_INTERVAL, AttackControl, run_batch

TARGETS = {"cpu": {"engine_over_floor": 0.8, "demo_rate": 10.0}, "cuda": {"engine_over_floor": 0.95}}
"""SPEC 10's targets; the report says whether this run meets them."""

AdapterFactory = Callable[[torch.device, str], ModelAdapter]


@dataclass(frozen=True)
class BenchModel:
    """A network to time, with the image and target its attacks run on."""

    name: str
    description: str
    make_adapter: AdapterFactory  # (device, precision) -> a fresh adapter with these settings
    image: np.ndarray  # H x W x C float32 in [0, 1]
    target: np.ndarray  # H x W class ids on the image grid


@dataclass
class Measurement:
    """One timed setting: every round's rate and their median."""

    measure: str  # published | engine | floor | snapshots | adv-lib
    precision: str
    batch: int
    settings: dict
    rates: list[float] = field(default_factory=list)
    snapshots: int = 0

    @property
    def rate(self) -> float:
        return statistics.median(self.rates) if self.rates else math.nan

    def as_dict(self) -> dict:
        return {"measure": self.measure, "precision": self.precision, "batch": self.batch,
                "rate": self.rate, "unit": "image-iterations/s" if self.batch > 1 else "iterations/s",
                "rounds": list(self.rates), "settings": self.settings,
                **({"snapshots_per_run": self.snapshots} if self.measure == "snapshots" else {})}


# ---------------------------------------------------------------------------------- models

def _disc_target(height: int, width: int, num_classes: int) -> np.ndarray:
    """A centred disc of class 1 with a core of the last class: a target unlike any random prediction."""
    rows, columns = np.mgrid[:height, :width]
    radius = np.hypot(rows - height / 2, columns - width / 2)
    target = np.zeros((height, width), np.int64)
    target[radius < min(height, width) / 3] = 1
    target[radius < min(height, width) / 8] = num_classes - 1
    return target


def _random_image(height: int, width: int, channels: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 1, (height, width, channels)).astype(np.float32)


def module_bench_model(name: str, description: str, build: Callable[[], torch.nn.Module], spec: ModelSpec,
                       image: np.ndarray, target: np.ndarray, seed: int = 0) -> BenchModel:
    """A bench model from a network constructor: seeded, so every precision gets the same weights."""

    def make_adapter(device: torch.device, precision: str) -> ModelAdapter:
        torch.manual_seed(seed)
        return ModelAdapter(build(), spec, device=device, precision=precision,
                            channels_last=device.type == "cuda")  # as load_model does for real attacks

    return BenchModel(name, description, make_adapter, image, target)


def demo_bench_model(seed: int = 0) -> BenchModel:
    """The shipped fundus demo (model, image, target); a fresh seeded demo-sized U-Net when absent."""
    from .assets import resource_root
    from .demo import DEMOS

    demo = DEMOS["fundus"]
    paths = [demo.path(part, resource_root()) for part in ("model", "sidecar", "image", "target")]
    if all(path.is_file() for path in paths):
        from .io.inputs import load_attack_inputs
        from .io.model_files import load_model

        inputs = load_attack_inputs(paths[0], paths[2], paths[3], None, device="cpu")
        spec = inputs.model.adapter.spec

        def make_adapter(device: torch.device, precision: str) -> ModelAdapter:
            return load_model(paths[0], device=str(device), precision=precision).adapter

        widths = spec.architecture_args.get("widths", "?")
        return BenchModel("demo", f"shipped fundus demo U-Net ({paths[0].name}, widths {widths}, "
                          f"{spec.num_classes} classes)", make_adapter, inputs.image.pixels.astype(np.float32),
                          np.asarray(inputs.target.class_ids))
    spec = ModelSpec(classes=("background", "vessel", "disc"))
    return module_bench_model(
        "demo", "demo-sized U-Net (PaddedUNet widths 8-16-32-64, 3 classes, seeded random weights: "
        "the shipped demo model was not found)",
        lambda: PaddedUNet(in_channels=3, num_classes=3, widths=(8, 16, 32, 64)), spec,
        _random_image(256, 256, 3, seed), _disc_target(256, 256, 3), seed,
    )


def unet_bench_model(seed: int = 0) -> BenchModel:
    """The paper's valid-convolution U-Net at 572 x 572 (388 x 388 output), seeded random weights."""
    return module_bench_model(
        "unet", "the paper's valid U-Net (widths 32-512, 2 classes, seeded random weights), 572 -> 388",
        lambda: ValidUNet(in_channels=3, num_classes=2), ModelSpec(),
        _random_image(572, 572, 3, seed), _disc_target(572, 572, 2), seed,
    )


BENCH_MODELS: dict[str, Callable[[int], BenchModel]] = {"demo": demo_bench_model, "unet": unet_bench_model}


# ------------------------------------------------------------------------- environment

def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "cpu"


def backend_settings(adapter: ModelAdapter) -> dict:
    """The switches that move these figures (read back from torch, not assumed)."""
    settings = {"device": str(adapter.device), "channels_last": adapter.channels_last,
                "autocast": "bf16" if adapter.precision == "bf16" else "off"}
    if adapter.device.type == "cuda":
        settings.update({
            "cudnn_benchmark": torch.backends.cudnn.benchmark,
            "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
            "matmul_allow_tf32": torch.backends.cuda.matmul.allow_tf32,
            "cudnn_version": torch.backends.cudnn.version(),
        })
    else:
        settings["threads"] = torch.get_num_threads()
    return settings


def settings_text(settings: dict) -> str:
    if settings["device"].startswith("cuda"):
        text = (f"cudnn.benchmark={_on(settings['cudnn_benchmark'])} cudnn.tf32={_on(settings['cudnn_allow_tf32'])} "
                f"matmul.tf32={_on(settings['matmul_allow_tf32'])}")
    else:
        text = f"cpu threads={settings['threads']} (no cuDNN/TF32)"
    return f"{text} channels_last={_on(settings['channels_last'])} autocast={settings['autocast']}"


def _on(flag: bool) -> str:
    return "on" if flag else "off"


def available_precisions(device: torch.device) -> list[str]:
    """CUDA: fp32 (strict), tf32, bf16 (if supported). CPU: fp32, and bf16 autocast if it runs here."""
    if device.type == "cuda":
        return ["fp32", "tf32"] + (["bf16"] if torch.cuda.is_bf16_supported() else [])
    return ["fp32"] + (["bf16"] if _bf16_runs(device) else [])


def _bf16_runs(device: torch.device) -> bool:
    probe = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(4, 2, 1))
    try:
        adapter = ModelAdapter(probe, ModelSpec(), device=device, precision="bf16")
        x = torch.rand(1, 3, 8, 8, device=device, requires_grad=True)
        (gradient,) = torch.autograd.grad(adapter.logits(x).sum(), x)
        return bool(torch.isfinite(gradient).all())
    except (RuntimeError, TypeError, NotImplementedError):
        return False


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# ------------------------------------------------------------------------ measurements

def time_published(adapter: ModelAdapter, image: np.ndarray, target: np.ndarray, iterations: int) -> float:
    """Seconds for ``iterations`` steps of the published loop's structure on one image."""
    x = adapter.to_device(image)
    grid = adapter.output_grid(*target.shape)
    target_grid = torch.as_tensor(grid.crop(target).astype(np.int64), device=adapter.device)[None]
    adapter.apply_backend_settings()
    _synchronize(adapter.device)
    started = time.perf_counter()
    with torch.enable_grad():
        published_asma_loop(adapter, x, target_grid, iterations)
    _synchronize(adapter.device)
    return time.perf_counter() - started


def time_engine(adapter: ModelAdapter, images: Sequence[np.ndarray], targets: Sequence[np.ndarray], iterations: int,
                on_snapshot: Callable[[Snapshot], None] | None = None, control: AttackControl | None = None) -> float:
    """Seconds of the runner's loop for ``iterations`` ASMA steps on ``images`` at once."""
    attack = create_attack("asma", iterations=iterations)
    _synchronize(adapter.device)
    results = run_batch(adapter, images, targets, attack, on_snapshot=on_snapshot,
                        snapshot_interval=LIVE_SNAPSHOT_INTERVAL, control=control)
    return results[0].seconds


def time_floor(adapter: ModelAdapter, image: np.ndarray, batch: int, iterations: int) -> float:
    """Seconds for ``iterations`` forward + input-only backward passes of the bare network.

    The input has the shape and memory layout the adapter feeds the network; the network
    runs under the adapter's precision. No normalisation, metrics, loss or step: the floor.
    """
    device = adapter.device
    height, width = adapter.spec.input_size or image.shape[:2]
    channels = adapter.expected_channels(image.shape[2] if image.ndim == 3 else 1)
    generator = torch.Generator(device="cpu").manual_seed(0)
    x = torch.rand(batch, channels, height, width, generator=generator).to(device)
    if adapter.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    x.requires_grad_(True)
    adapter.apply_backend_settings()
    _synchronize(device)
    started = time.perf_counter()
    with torch.enable_grad():
        for _ in range(iterations):
            with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=adapter.precision == "bf16"):
                output = _first_tensor(adapter.model(x))
            torch.autograd.grad(output.float().sum(), x)
    _synchronize(device)
    return time.perf_counter() - started


def time_adv_lib(asma: AdvLibAsma, adapter: ModelAdapter, images: Sequence[np.ndarray],
                 targets: Sequence[np.ndarray], iterations: int) -> float:
    """Seconds for ``iterations`` steps of adv-lib's targeted ASMA (its defaults) on ``images`` at once."""
    inputs, labels = batch_inputs(adapter, images, targets)
    model = AdapterModule(adapter)
    adapter.apply_backend_settings()
    _synchronize(adapter.device)
    started = time.perf_counter()
    with torch.enable_grad():
        asma(model, inputs, labels, targeted=True, num_steps=iterations)
    _synchronize(adapter.device)
    return time.perf_counter() - started


def _first_tensor(output) -> torch.Tensor:
    if isinstance(output, dict):
        output = output["out"]
    if isinstance(output, (tuple, list)):
        output = output[0]
    return output


class GuiLikeReceiver:
    """A snapshot callback that keeps what the GUI keeps per snapshot (uint8 frame, int8 perturbation)."""

    def __init__(self, original: np.ndarray):
        self.original = np.asarray(original, dtype=np.float32)
        self.frames: list[tuple] = []
        self.count = 0

    def __call__(self, snapshot: Snapshot) -> None:
        frame = np.clip(np.round(snapshot.adversarial * 255), 0, 255).astype(np.uint8)
        perturbation = snapshot.adversarial - self.original.reshape(snapshot.adversarial.shape)
        peak = float(np.abs(perturbation).max()) if perturbation.size else 0.0
        scale = peak / 127 if peak > 0 else 1.0
        kept = (frame, np.round(perturbation / scale).astype(np.int8), snapshot.prediction.copy(),
                {name: values.copy() for name, values in snapshot.history.items()})
        self.frames = self.frames[-2:] + [kept]  # the GUI's store is bounded too
        self.count += 1


# ---------------------------------------------------------------------------------- runs

@dataclass
class BenchReport:
    """Everything one ``segattack bench`` run found, as a table (:meth:`text`) or JSON (:meth:`as_dict`)."""

    model: str
    description: str
    image_size: tuple[int, int]
    device: str
    device_name: str
    torch_version: str
    iterations: int
    rounds: int
    batch_size: int
    measurements: list[Measurement]
    notes: list[str]
    date: str

    def find(self, measure: str, precision: str, batch: int = 1) -> Measurement | None:
        for measurement in self.measurements:
            if (measurement.measure, measurement.precision, measurement.batch) == (measure, precision, batch):
                return measurement
        return None

    def ratios(self) -> list[dict]:
        """Per precision: engine/floor at B=1 and B=batch, engine/published, snapshots/engine.

        Each ratio is the median over rounds of the ratio within a round: the two runs of a
        round are close in time, so a machine whose load drifts moves both alike.
        """
        rows = []
        for precision in dict.fromkeys(m.precision for m in self.measurements):
            row = {"precision": precision}
            pairs = {"engine_over_floor": (("engine", 1), ("floor", 1))}
            if self.batch_size > 1:
                batch = self.batch_size
                pairs[f"engine_over_floor_b{batch}"] = (("engine", batch), ("floor", batch))
            pairs["engine_over_published"] = (("engine", 1), ("published", 1))
            if self.batch_size > 1:
                pairs[f"engine_b{self.batch_size}_over_engine_b1"] = (("engine", self.batch_size), ("engine", 1))
            pairs["snapshots_over_engine"] = (("snapshots", 1), ("engine", 1))
            pairs["engine_over_adv_lib"] = (("engine", 1), ("adv-lib", 1))
            if self.batch_size > 1:
                pairs[f"engine_over_adv_lib_b{self.batch_size}"] = (("engine", self.batch_size),
                                                                    ("adv-lib", self.batch_size))
            for key, ((top, top_batch), (bottom, bottom_batch)) in pairs.items():
                numerator = self.find(top, precision, top_batch)
                denominator = self.find(bottom, precision, bottom_batch)
                if numerator is not None and denominator is not None and numerator.rates:
                    row[key] = statistics.median(top / bottom for top, bottom in zip(numerator.rates,
                                                                                      denominator.rates))
            rows.append(row)
        return rows

    def target_checks(self) -> list[str]:
        """SPEC 10's targets, met or missed in this run."""
        kind = self.device.split(":")[0]
        checks = []
        wanted = TARGETS.get(kind, {}).get("engine_over_floor")
        for row in self.ratios():
            for key, value in row.items():
                if key.startswith("engine_over_floor") and wanted:
                    checks.append(f"{row['precision']} {_label(key)} = {value:.3f} "
                                  f"({'meets' if value >= wanted else 'misses'} >= {wanted})")
            for key, value in row.items():
                if key.startswith("engine_over_adv_lib"):
                    checks.append(f"{row['precision']} {_label(key)} = "
                                  f"{value:.2f} ({'meets' if value > 1 else 'misses'} > 1: ahead of adv-lib)")
            if "snapshots_over_engine" in row:
                cost = 1 - row["snapshots_over_engine"]
                checks.append(f"{row['precision']} live updates cost {100 * cost:.1f}% "
                              f"({'meets' if cost < 0.05 else 'misses'} < 5%)")
        demo_rate = TARGETS.get(kind, {}).get("demo_rate")
        engine = self.find("engine", "fp32")
        if demo_rate and self.model == "demo" and engine is not None:
            checks.append(f"fp32 engine {engine.rate:.1f} it/s on the demo model "
                          f"({'meets' if engine.rate >= demo_rate else 'misses'} >= {demo_rate:g} it/s)")
        return checks

    def as_dict(self) -> dict:
        return {
            "segattack": __version__, "date": self.date, "model": self.model, "description": self.description,
            "image_size": list(self.image_size), "device": self.device, "device_name": self.device_name,
            "torch": self.torch_version, "iterations": self.iterations, "rounds": self.rounds,
            "batch_size": self.batch_size, "measurements": [m.as_dict() for m in self.measurements],
            "ratios": self.ratios(), "targets": self.target_checks(), "notes": self.notes,
        }

    def text(self) -> str:
        lines = [
            f"segattack bench: {self.description}, image {self.image_size[0]}x{self.image_size[1]}",
            f"{self.iterations} iterations per run, median of {self.rounds} interleaved rounds; {self.date}",
            "",
            f"{'measure':<10} {'precision':<9} {'batch':>5} {'rate':>9}  {'unit':<18} "
            f"{'settings':<58} {'device':<24} torch",
        ]
        for m in self.measurements:
            unit = "image-it/s" if m.batch > 1 else "it/s"
            lines.append(f"{m.measure:<10} {m.precision:<9} {m.batch:>5} {m.rate:>9.2f}  {unit:<18} "
                         f"{settings_text(m.settings):<58} {self.device_name[:24]:<24} {self.torch_version}")
        lines += ["", "ratios (median over rounds of the ratio within each round)"]
        for row in self.ratios():
            parts = [f"{_label(key).replace(' over ', '/')} {value:.2f}"
                     for key, value in row.items() if key != "precision"]
            lines.append(f"  {row['precision']:<5} " + " | ".join(parts))
        checks = self.target_checks()
        if checks:
            lines += ["", "SPEC 10 targets"] + [f"  {check}" for check in checks]
        if self.notes:
            lines += [""] + [f"note: {note}" for note in self.notes]
        return "\n".join(lines)


def _label(ratio_key: str) -> str:
    """``engine_over_adv_lib_b8`` -> ``engine over adv-lib b8``."""
    return ratio_key.replace("adv_lib", "adv-lib").replace("_", " ")


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

    ``adv_lib`` is adv-lib's ``asma`` function (see :func:`.adv_lib_baseline.load_adv_lib_asma`);
    given, it is timed beside the engine at every precision and batch.
    """
    notes: list[str] = []
    offered = available_precisions(device)
    wanted = list(precisions) if precisions else list(offered)
    if not precisions and device.type == "cpu" and "bf16" in wanted and not cpu_has_native_bf16():
        wanted.remove("bf16")
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
