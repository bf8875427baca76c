"""The method table: the CLI, the GUI's method list and the batch runner all read it."""

from __future__ import annotations

import dataclasses

from .alma_prox import ALMAProx
from .asma import ASM, ASMA, SSM
from .base import Attack, AttackConfig, StepInputs
from .dag import DAG
from .pdpgd import PDPGD
from .pgd import CosPGD, SegPGD, TargetedPGD

# The universal perturbation (fit_universal, evaluate_universal) is not a per-image method and
# is imported from .universal directly: it builds on the runner, which imports this package.

METHODS: dict[str, type[Attack]] = {
    "asma": ASMA,
    "asm": ASM,
    "ssm": SSM,
    "dag": DAG,
    "pgd": TargetedPGD,
    "segpgd": SegPGD,
    "cospgd": CosPGD,
    "alma_prox": ALMAProx,
    "pdpgd": PDPGD,
}

METHOD_TITLES: dict[str, str] = {
    "asma": "ASMA (adaptive mask, dynamic multiplier)",
    "asm": "ASM (adaptive mask)",
    "ssm": "SSM (static mask)",
    "dag": "DAG (dense adversary generation)",
    "pgd": "PGD (targeted, cross-entropy)",
    "segpgd": "SegPGD (targeted PGD, scheduled pixel weights)",
    "cospgd": "CosPGD (targeted PGD, cosine pixel weights)",
    "alma_prox": "ALMA prox (smallest L-inf reaching a share of the target)",
    "pdpgd": "PDPGD (primal-dual proximal, smallest L-inf or L2)",
}


def create_attack(method: str, **parameters) -> Attack:
    """Build a method by name; an unknown name or parameter raises ``ValueError``, a bad value
    :class:`ParameterError` (a ``ValueError`` that names the parameter)."""
    try:
        attack_type = METHODS[method.lower()]
    except KeyError:
        raise ValueError(f"unknown method {method!r} (known: {', '.join(METHODS)})") from None
    known = {f.name for f in dataclasses.fields(attack_type.config_type)}
    unknown = set(parameters) - known
    if unknown:
        raise ValueError(f"{method} has no parameter {', '.join(sorted(unknown))}")
    return attack_type(attack_type.config_type(**parameters))


__all__ = ["METHODS", "METHOD_TITLES", "Attack", "AttackConfig", "StepInputs", "create_attack"]
