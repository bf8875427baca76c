"""What one bench run found: every measurement, the ratios within rounds, the targets of docs/design.md (Performance)."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field

from .. import __version__
from .environment import settings_text
from .models import DEMO_MODELS

TARGETS = {"cpu": {"engine_over_floor": 0.8, "demo_rate": 10.0}, "cuda": {"engine_over_floor": 0.95}}
"""The targets of docs/design.md (Performance); the report says whether this run meets them."""


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
        """The targets of docs/design.md (Performance), met or missed in this run."""
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
        if demo_rate and self.model in DEMO_MODELS and engine is not None:
            checks.append(f"fp32 engine {engine.rate:.1f} it/s on the {DEMO_MODELS[self.model]} demo model "
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
            lines += ["", "Targets (docs/design.md, Performance)"] + [f"  {check}" for check in checks]
        if self.notes:
            lines += [""] + [f"note: {note}" for note in self.notes]
        return "\n".join(lines)


def _label(ratio_key: str) -> str:
    """``engine_over_adv_lib_b8`` -> ``engine over adv-lib b8``."""
    return ratio_key.replace("adv_lib", "adv-lib").replace("_", " ")
