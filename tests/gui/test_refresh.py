"""Coalesced redraws, and the budget that keeps the GUI thread's CPU share small during a run."""

from __future__ import annotations

from segattack_gui.gui.views.refresh import CoalescingRefresh, DrawingBudget


class FakeClocks:
    """Wall and CPU clocks the test advances by hand."""

    def __init__(self):
        self.wall = 0.0
        self.cpu = 0.0

    def spend(self, wall: float, cpu: float) -> None:
        self.wall += wall
        self.cpu += cpu


def budget_with(clocks: FakeClocks, **options) -> DrawingBudget:
    return DrawingBudget(clock=lambda: clocks.wall, cpu_clock=lambda: clocks.cpu, **options)


def test_over_budget_stretches_in_proportion_and_relaxes_back():
    clocks = FakeClocks()
    budget = budget_with(clocks, share=0.03, window_s=1.0, max_stretch=6.0)
    assert budget.interval_ms(125) == 125
    clocks.spend(wall=0.5, cpu=0.04)
    budget.note()  # inside the first window: nothing decided yet
    assert budget.stretch == 1.0
    clocks.spend(wall=0.5, cpu=0.05)  # 0.09 s of CPU in one second: 9 %, three times the budget
    budget.note()
    assert abs(budget.last_share - 0.09) < 1e-9
    assert abs(budget.stretch - 3.0) < 1e-9 and budget.interval_ms(125) == 375
    clocks.spend(wall=1.0, cpu=0.02)  # 2 %: within budget, not far under it: stays
    budget.note()
    assert abs(budget.stretch - 3.0) < 1e-9
    for _ in range(10):  # idle: relaxes back to the views' own intervals, never below
        clocks.spend(wall=1.0, cpu=0.001)
        budget.note()
    assert budget.stretch == 1.0


def test_a_long_quiet_spell_is_not_judged_as_drawing():
    clocks = FakeClocks()
    budget = budget_with(clocks, share=0.03)
    clocks.spend(wall=30.0, cpu=6.0)  # building the window and loading a model, before any redraw
    budget.note()
    assert budget.stretch == 1.0
    clocks.spend(wall=1.0, cpu=0.01)
    budget.note()
    assert budget.stretch == 1.0 and abs(budget.last_share - 0.01) < 1e-9


def test_stretch_is_capped_so_views_stay_live():
    clocks = FakeClocks()
    budget = budget_with(clocks, share=0.03, max_stretch=3.0)
    for _ in range(5):
        clocks.spend(wall=1.0, cpu=0.9)
        budget.note()
    assert budget.stretch == 3.0


def test_refresh_coalesces_and_waits_the_stretched_interval(qtbot):
    clocks = FakeClocks()
    budget = budget_with(clocks)
    budget.stretch = 4.0
    calls = []
    refresh = CoalescingRefresh(lambda: calls.append(1), interval_ms=25, budget=budget)
    for _ in range(10):
        refresh.mark_dirty()
    qtbot.wait(60)  # past the base interval, inside the stretched one
    assert calls == []
    qtbot.waitUntil(lambda: calls == [1], timeout=1000)
    qtbot.wait(150)
    assert calls == [1] and refresh.redraw_count == 1
    refresh.mark_dirty()
    refresh.flush()
    assert calls == [1, 1]
