"""What every attack shares: its configuration and the three hooks the runner calls.

One loop drives every method (see :mod:`segattack_gui.core.runner`): forward,
objective, input gradient, step rule, projection, metrics. A method is an
:class:`Attack` subclass that supplies only what differs: the objective to ascend
(with its step multiplier), the step rule, and optionally a start point, a
projection and a per-item finish test.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass, field
from functools import cached_property
from typing import ClassVar

import torch


class ParameterError(ValueError):
    """A method parameter with a value it cannot take; the CLI names it as a flag, the GUI as a field."""

    def __init__(self, name: str, problem: str):
        self.name, self.problem = name, problem
        super().__init__(f"{name} {problem}")

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


def field_type(config_type: type, spec: dataclasses.Field) -> type:
    """The field's type with ``Optional`` removed (``float | None`` -> ``float``)."""
    return _without_none(typing.get_type_hints(config_type)[spec.name])


def _without_none(hint) -> type:
    arguments = [a for a in typing.get_args(hint) if a is not type(None)]
    return arguments[0] if arguments else hint


_KINDS = {  # what each field type accepts (a bool is no number), and how a message names it
    bool: ("true or false", lambda v: isinstance(v, bool)),
    int: ("a whole number", lambda v: isinstance(v, int) and not isinstance(v, bool)),
    float: ("a number", lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)),
    str: ("text", lambda v: isinstance(v, str)),
}


def _check_kind(config_type: type, spec: dataclasses.Field, value) -> None:
    hint = typing.get_type_hints(config_type)[spec.name]
    if value is None:
        if type(None) not in typing.get_args(hint):
            raise ParameterError(spec.name, "must be given")
        return
    words, fits = _KINDS.get(_without_none(hint), (None, None))
    if fits is not None and not fits(value):
        raise ParameterError(spec.name, f"must be {words}, not {value!r}")


def parameter(default, help: str, minimum: float | None = None, maximum: float | None = None, choices=None,
              applies_when: dict | None = None, applies_unless: dict | None = None, auto: bool = False):
    """A configuration field whose ``help`` becomes the GUI tooltip and the CLI help.

    ``applies_when`` says when the field has an effect, so the GUI can hide it otherwise:
    ``{"norm": "l2"}`` (another field's value), ``{"method": ("asma",)}`` (a tuple: any of
    these); a field the config lacks never matches. ``None``: always. ``applies_unless``, in the
    same form, says when another field overrides it (beta while tau is "auto"). ``auto``: the CLI and the
    GUI also take the word "auto", resolved to a number before the attack is built
    (:mod:`.step_size`); the config itself always holds the number.
    """
    return field(default=default, metadata={"help": help, "minimum": minimum, "maximum": maximum, "choices": choices,
                                            "applies_when": applies_when, "applies_unless": applies_unless,
                                            "auto": auto})


@dataclass(frozen=True)
class AttackConfig:
    """Parameters every method has."""

    iterations: int = parameter(500, "Iterations of the attack loop (the paper ran 2501).", minimum=1)
    stop_iou: float | None = parameter(
        None, "Stop an image once its IoU with the target reaches this value.",
        minimum=0.0, maximum=1.0,
    )
    quantize: bool = parameter(
        False,
        "Step on the 8-bit grid for the last iterations so the exported adversarial.png itself fools the model.",
    )
    quantize_fraction: float = parameter(
        0.1, "Share of the iterations, at the end, evaluated on the 8-bit grid when quantize is on.",
        minimum=0.0, maximum=1.0, applies_when={"quantize": True},
    )
    seed: int = parameter(0, "Seed of the random start (methods with random_start on); recorded with every export.",
                          minimum=0, applies_when={"random_start": True})

    @property
    def quantized_from(self) -> int:
        """The first iteration evaluated on the 8-bit grid (after the last one when ``quantize`` is off)."""
        if not self.quantize:
            return self.iterations + 1
        return self.iterations - round(self.iterations * self.quantize_fraction)

    def validate(self) -> None:
        """Reject values of the wrong type (a hand-edited summary.json), NaN, negative or
        out-of-range values, with a message naming the parameter."""
        for spec in dataclasses.fields(self):
            value = getattr(self, spec.name)
            _check_kind(type(self), spec, value)
            if value is None or isinstance(value, (bool, str)):
                choices = spec.metadata.get("choices")
                if choices and value not in choices:
                    raise ParameterError(spec.name, f"must be one of {', '.join(choices)}, not {value!r}")
                continue
            if isinstance(value, float) and not math.isfinite(value):
                raise ParameterError(spec.name, f"must be a finite number, not {value}")
            minimum, maximum = spec.metadata.get("minimum"), spec.metadata.get("maximum")
            if minimum is not None and value < minimum:
                raise ParameterError(spec.name, f"must be >= {minimum}, not {value}")
            if maximum is not None and value > maximum:
                raise ParameterError(spec.name, f"must be <= {maximum}, not {value}")

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class StepInputs:
    """What the runner knows at iteration ``n`` for a batch of ``B`` items."""

    iteration: int
    logits: torch.Tensor  # [B, K, h, w], differentiable in x
    prediction: torch.Tensor  # [B, h, w] argmax of the logits
    target: torch.Tensor  # [B, h, w] class ids on the output grid
    target_one_hot: torch.Tensor  # [B, K, h, w] float
    x: torch.Tensor  # [B, C, H, W] current iterate (requires grad)
    x0: torch.Tensor  # [B, C, H, W] original images
    iou: torch.Tensor  # [B] IoU of ``prediction`` with ``target``

    @cached_property
    def perturbation(self) -> torch.Tensor:
        """``x - x0``, detached: computed once per iteration for the norms and the objective."""
        return self.x.detach() - self.x0


def format_value(value) -> str:
    """Short where that is exact (1e-07), as 8-bit steps where that is what it is (8/255,
    0.5/255), else every digit; :func:`parse_number` reads each back to the same float."""
    if isinstance(value, float):
        short = f"{value:g}"
        if float(short) == value:
            return short
        steps = round(value * 255, 3)
        fraction = f"{steps:g}/255"
        if steps and parse_number(fraction, float) == value:
            return fraction
        return repr(value)
    return str(value)


def parse_number(text: str, kind: type):
    """A typed number; floats may be written as a fraction such as ``8/255``."""
    if kind is float and "/" in text:
        numerator, _, denominator = text.partition("/")
        return float(numerator) / float(denominator)
    return kind(text)


def quantize_grid(x: torch.Tensor, levels: int | None = 255) -> torch.Tensor:
    """The image a file with ``levels`` steps between 0 and 1 would hold: rounded, not truncated.
    255 is an 8-bit PNG; a DICOM or NIfTI source has its stored grid (65535 for int16); None is a
    float file, which holds any value in [0, 1]."""
    if levels is None:
        return x.clamp(0, 1)
    return torch.round(x.clamp(0, 1) * levels) / levels


def quantize_8bit(x: torch.Tensor) -> torch.Tensor:
    """The image an 8-bit PNG would hold: rounded, not truncated."""
    return quantize_grid(x, 255)


def quantize_within_linf(x: torch.Tensor, x0: torch.Tensor, epsilon: float, levels: int | None = 255) -> torch.Tensor:
    """Rounded to the grid, one level back towards ``x0`` where rounding would leave the L-inf
    ball of radius ``epsilon`` (an epsilon that is no whole number of grid steps, e.g. 0.05)."""
    rounded = quantize_grid(x, levels)
    if levels is None:
        return rounded
    outside = (rounded - x0).abs() > epsilon + 1e-6 / max(1.0, levels / 255)
    return torch.where(outside, rounded - torch.sign(rounded - x0) / levels, rounded)


class Attack:
    """Base class: override :meth:`objective` and :meth:`step`; the rest has sensible defaults."""

    name: ClassVar[str] = ""
    config_type: ClassVar[type[AttackConfig]] = AttackConfig
    returns_best: ClassVar[bool] = False
    """True for minimal-norm methods: the result is the best iterate (:meth:`ranking`), not the last."""
    grid_levels: int | None = 255
    """Steps of the exported image's grid (``quantize`` and ``final_quantized``): 255 for
    adversarial.png; a DICOM/NIfTI source sets its stored grid (``LoadedImage.export_levels``)."""

    def __init__(self, config: AttackConfig | None = None):
        self.config = config if config is not None else self.config_type()
        self.config.validate()

    def start(self, x0: torch.Tensor, seed: int) -> torch.Tensor:
        """The first iterate; random-start methods perturb ``x0`` here, each item from ``seed`` as if alone."""
        return x0.clone()

    def objective(self, inputs: StepInputs) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-item loss ``[B]`` to *ascend* and the step multiplier ``[B]`` used by :meth:`step`."""
        raise NotImplementedError

    def step(self, x: torch.Tensor, gradient: torch.Tensor, multiplier: torch.Tensor) -> torch.Tensor:
        """The next iterate before projection and the [0, 1] box."""
        raise NotImplementedError

    def project(self, x: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
        """Constrain the perturbation (an epsilon ball); the runner then applies the region and [0, 1]."""
        return x

    def quantize(self, x: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
        """``x`` on the grid of the exported image (``quantize``, ``grid_levels``); methods with an
        L-inf budget keep it there."""
        return quantize_grid(x, self.grid_levels)

    def ranking(self, scores: dict, l2: torch.Tensor, linf: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-item ``(score, size)`` of an iterate: the best has the highest score, ties going to
        the smallest size. Default: the IoU with the target, then the L2 norm."""
        return scores["iou"], l2

    def finished(self, inputs: StepInputs) -> torch.Tensor | None:
        """Per-item flag: this item needs no more steps (DAG's 1% rule). Default ``None``: never."""
        return None
