"""``segattack budget``: success against budget over a dataset, per method (curves.csv and a figure).

Methods without a budget parameter (ALMA prox, PDPGD, ASMA, DAG) run once per pair, through the
batch runner, into ``OUT/<method>/``; methods with one (the PGD family) run once per budget into
``OUT/sweeps/<norm>-<budget>/<method>/``, with the step a quarter of the budget. Every run folder is
a batch run folder, so an interrupted ``budget`` resumes like ``batch``. The curves follow
:mod:`..core.success_curves`; the figure :mod:`..io.curve_figure`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable, Sequence

from ..core.attacks import Attack
from ..core.attacks.base import format_value
from ..core.success_curves import Answer
from ..errors import SegAttackError
from ..io.budget_curves import (CURVE_COLUMNS, SWEEP, curve_row, goal_words, one_run_rows, panels_from_rows,
                                run_answer)
from ..io.curve_figure import write_curve_figure
from ..io.files import write_csv_table
from .batch import Pair, run_experiment, run_folder

DEFAULT_LINF_BUDGETS = "1/255,2/255,4/255,8/255,16/255"


def parse_budgets(text: str, flag: str) -> list[float]:
    """Comma-separated positive numbers (fractions such as 4/255 allowed), ascending."""
    from ..core.attacks.base import parse_number

    if not text.strip():
        return []
    try:
        budgets = sorted({parse_number(part.strip(), float) for part in text.split(",") if part.strip()})
    except (ValueError, ZeroDivisionError):
        raise SegAttackError(flag, f"must be comma-separated numbers such as 2/255,0.5, not {text!r}") from None
    if any(not budget > 0 for budget in budgets):
        raise SegAttackError(flag, "budgets must be > 0")
    return budgets


def has_budget(attack: Attack) -> bool:
    return "epsilon" in {spec.name for spec in dataclasses.fields(attack.config)}


def sweep_attack(attack: Attack, norm: str, budget: float) -> Attack:
    """The fixed-budget ``attack`` at ``budget`` (L-inf or L2), stepping a quarter of it."""
    if norm == "linf":
        changes = {"norm": "linf", "epsilon": budget, "alpha": budget / 4}
    else:
        changes = {"norm": "l2", "l2_epsilon": budget, "l2_alpha": budget / 4}
    return type(attack)(dataclasses.replace(attack.config, **changes))


def sweep_folder(out: Path, norm: str, budget: float) -> Path:
    return out / "sweeps" / f"{norm}-{format_value(budget).replace('/', '_')}"


def _answers(folder: Path, method: str, pairs: Sequence[Pair], criterion: str, threshold: float) -> list[Answer]:
    return [run_answer(run_folder(folder, method, pair) / "summary.json", criterion, threshold) for pair in pairs]


def run_budget(model, pairs: Sequence[Pair], attacks: Sequence[Attack], out: Path, *, linf_budgets: list[float],
               l2_budgets: list[float], criterion: str, threshold: float,
               run: Callable[..., list] = run_experiment, **batch_options) -> list[dict]:
    """Run every method (sweeping the budgeted ones), write ``curves.csv`` and ``curves.svg/png``;
    return the rows of curves.csv."""
    rows, goal = [], goal_words(criterion, threshold)
    once = [attack for attack in attacks if not has_budget(attack)]
    if once:  # in one call, so OUT/table.csv and table.md hold every one of them
        run(model, pairs, once, out, **batch_options)
    for attack in once:
        answers = _answers(out, attack.name, pairs, criterion, threshold)
        rows += one_run_rows(attack.name, answers, {"linf": linf_budgets, "l2": l2_budgets}, goal)
    for attack in (attack for attack in attacks if has_budget(attack)):
        for norm, budgets in (("linf", linf_budgets), ("l2", l2_budgets)):
            for budget in budgets:
                folder = sweep_folder(out, norm, budget)
                run(model, pairs, [sweep_attack(attack, norm, budget)], folder, **batch_options)
                answers = _answers(folder, attack.name, pairs, criterion, threshold)
                share = sum(a.reached for a in answers) / len(answers)
                rows.append(curve_row(attack.name, norm, budget, share, len(answers), SWEEP, goal))
    write_curves(out, rows)
    write_curve_figure(out / "curves", panels_from_rows(rows, goal))
    return rows


def write_curves(out: Path, rows: list[dict]) -> None:
    write_csv_table(out / "curves.csv", rows, CURVE_COLUMNS, ".9g")
