"""Success-against-budget curves read back from a folder: ``segattack budget``'s ``curves.csv``, or
computed from a ``segattack batch`` folder's runs (each method's answers, one run per image).

``segattack budget`` writes the rows; the window's "Success against budget" view reads them back here,
and both turn rows into the figure's panels with :func:`panels_from_rows`, so the window shows the
figure the paper gets.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

from ..core.success_curves import Answer, reached, share_within, step_budgets
from ..errors import SegAttackError
from .curve_figure import Panel, Series

CURVE_COLUMNS = ("method", "norm", "budget", "reached_share", "images", "kind", "reached_when")
ONE_RUN = "one run per image"
SWEEP = "one run per budget"


@dataclass(frozen=True)
class FolderCurves:
    """The rows of one folder's curves and where they came from, in words."""

    rows: list[dict]
    source: str  # "read from its curves.csv" or "computed from 40 runs of segattack batch"
    computed: bool  # True: from a batch folder's runs, so the criterion can be chosen again


def curve_row(method: str, norm: str, budget: float, share: float, images: int, kind: str, goal: str) -> dict:
    """One line of curves.csv; ``goal`` says what reached means ("pixel accuracy >= 0.99")."""
    return {"method": method, "norm": norm, "budget": budget, "reached_share": share, "images": images, "kind": kind,
            "reached_when": goal}


def one_run_rows(method: str, answers: list[Answer], budgets: dict[str, list[float]], goal: str) -> list[dict]:
    """A minimal-norm (or budget-free) method's rows: the share reached within each given budget and
    at each answer's own norm, where its step curve steps."""
    rows = []
    for norm in ("linf", "l2"):
        grid = step_budgets(answers, norm, budgets.get(norm, []))
        rows += [curve_row(method, norm, b, s, len(answers), ONE_RUN, goal)
                 for b, s in zip(grid, share_within(answers, norm, grid))]
    return rows


def panels_from_rows(rows: list[dict], goal: str) -> list[Panel]:
    """The figure's panels (L-inf, then L2; each method one series in the order met); empty panels
    are left out. ``goal`` says what "reached" means, e.g. "pixel accuracy >= 0.99"."""
    series: dict[str, dict[str, list[dict]]] = {"linf": {}, "l2": {}}
    for row in rows:
        series[row["norm"]].setdefault(row["method"], []).append(row)
    titles = {"linf": (f"L-inf budget ({goal})", "L-inf budget (x/255)", 255.0),
              "l2": (f"L2 budget ({goal})", "L2 budget ([0, 1] scale)", 1.0)}
    panels = []
    for norm, methods in series.items():
        drawn = tuple(Series(method, tuple(float(r["budget"]) for r in points),
                             tuple(float(r["reached_share"]) for r in points), steps=points[0]["kind"] == ONE_RUN)
                      for method, points in methods.items() if points)
        if drawn:
            title, axis, scale = titles[norm]
            panels.append(Panel(title, axis, scale, drawn))
    return panels


def goal_words(criterion: str, threshold: float) -> str:
    return f"pixel accuracy >= {threshold:g}" if criterion == "pa" else f"IoU >= {threshold:g}"


def read_curves_csv(path: Path) -> list[dict]:
    """``curves.csv`` rows with numbers as numbers; one line naming the file when it is not one."""
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            if tuple(reader.fieldnames or ())[:6] != CURVE_COLUMNS[:6]:  # reached_when came later
                raise SegAttackError(path, f"is not a segattack budget curves.csv (columns {reader.fieldnames})")
            return [{**row, "budget": float(row["budget"]), "reached_share": float(row["reached_share"]),
                     "images": int(row["images"])} for row in reader]
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise SegAttackError(path, f"cannot be read as curves ({error})") from None


def run_answer(summary_path: Path, criterion: str, threshold: float) -> Answer:
    """One run folder's answer, from its ``summary.json``: did it reach, and its norms."""
    try:
        final = json.loads(Path(summary_path).read_text(encoding="utf-8"))["final"]
        return Answer(reached(final, criterion, threshold), float(final["linf"]), float(final["l2"]))
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise SegAttackError(summary_path, f"is not a finished run's summary ({error})") from None


def batch_answers(folder: Path, criterion: str, threshold: float) -> dict[str, list[Answer]]:
    """Per method sub-folder of a batch folder, every run's answer."""
    answers: dict[str, list[Answer]] = {}
    for method_folder in sorted(path for path in Path(folder).iterdir() if path.is_dir()):
        for summary_path in sorted(method_folder.glob("*/summary.json")):
            answers.setdefault(method_folder.name, []).append(run_answer(summary_path, criterion, threshold))
    return answers


def curves_in_folder(folder, criterion: str = "pa", threshold: float = 0.99) -> FolderCurves:
    """``folder``'s curves: its ``curves.csv`` when ``segattack budget`` wrote one, else computed from
    the runs of a ``segattack batch`` folder (``criterion`` and ``threshold`` say what reached means)."""
    folder = Path(folder)
    if (folder / "curves.csv").is_file():
        return FolderCurves(read_curves_csv(folder / "curves.csv"), "read from its curves.csv", False)
    if not (folder / "table.csv").is_file():
        raise SegAttackError(folder, "holds neither curves.csv (segattack budget) nor table.csv (segattack batch)")
    answers = batch_answers(folder, criterion, threshold)
    if not answers:
        raise SegAttackError(folder, "holds no finished runs (no <method>/<image>/summary.json)")
    goal = goal_words(criterion, threshold)
    # Every curve runs to the largest norm of any run: a method that never reached still gets its flat line.
    every = [answer for found in answers.values() for answer in found]
    widest = {norm: [max(getattr(answer, norm) for answer in every)] for norm in ("linf", "l2")}
    rows = [row for method, found in answers.items() for row in one_run_rows(method, found, widest, goal)]
    runs = sum(len(found) for found in answers.values())
    return FolderCurves(rows, f"computed from {runs} runs of segattack batch", True)


def goal_of(rows: list[dict]) -> str:
    """What reached means for these rows, as their csv recorded it."""
    goals = {row.get("reached_when") or "" for row in rows}
    return goals.pop() if len(goals) == 1 and "" not in goals else "reached: criterion not recorded"
