"""Success-against-budget shares and the figure's axis, by hand."""

from __future__ import annotations

import pytest

from segattack_gui.core.success_curves import Answer, reached, share_within, step_budgets
from segattack_gui.io.curve_figure import Panel, Series, figure_png, figure_svg, nice_ticks

ANSWERS = [Answer(True, 2 / 255, 1.0), Answer(True, 5 / 255, 0.5), Answer(False, 1 / 255, 0.1), Answer(True, 9 / 255, 3.0)]


def test_shares_count_only_reached_answers_within_the_budget():
    assert share_within(ANSWERS, "linf", [1 / 255, 2 / 255, 8 / 255, 16 / 255]) == [0.0, 0.25, 0.5, 0.75]
    assert share_within(ANSWERS, "l2", [0.5, 2.0]) == [0.25, 0.5]
    assert step_budgets(ANSWERS, "l2", [2.0]) == [0.5, 1.0, 2.0, 3.0]  # the failed answer's 0.1 is no step


def test_reached_reads_the_chosen_score():
    scores = {"pixel_accuracy": 0.995, "iou": 0.8}
    assert reached(scores, "pa", 0.99) and not reached(scores, "iou", 0.9)


@pytest.mark.parametrize("high, ticks", [(16, [0, 5, 10, 15, 20]), (3.2, [0, 1, 2, 3, 4]), (0.9, [0, 0.2, 0.4, 0.6, 0.8, 1.0])])
def test_nice_ticks(high, ticks):
    assert nice_ticks(high) == pytest.approx(ticks)


def test_the_figure_draws_every_series_in_both_formats():
    panel = Panel("L-inf", "budget (x/255)", 255.0, (Series("alma_prox", (2 / 255, 5 / 255), (0.25, 0.5), True),
                                                     Series("pgd", (4 / 255, 8 / 255), (0.0, 0.75), False)))
    svg = figure_svg([panel])
    assert svg.count('stroke-width="2.0"') == 2 and svg.count("<circle") == 2
    image = figure_png([panel])
    assert image.shape == (2 * (280 + 8 + 2 * 18), 2 * 380, 3)
    assert (image[..., 0] == 214).any()  # pgd's red line is drawn
