"""Benchmarks for ``halab.recovery``: the supervised Monte-Carlo, the crash loop, and the panel.

The lesson's panel re-runs :func:`halab.recovery.simulate_supervised` (workers under a
supervisor on :mod:`halab.sim`) at each slider move, so its speed sets how live the lesson
feels.
"""

from __future__ import annotations

from common import Row, at_least, below, median_seconds

from halab import recovery

DAY = 86400.0
PANEL_BAR_MS = 300


def bench_supervised() -> list[Row]:
    """One year of 20 workers crashing once a day, and the kernel's events per second."""
    r = recovery.Recovery(probe_period=10, decision=1, restart=5, warm_up=60)
    group = "recovery supervised 20 workers x 1 year"
    seconds = median_seconds(lambda: recovery.simulate_supervised(DAY, r, seed=0), repeat=5)
    run = recovery.simulate_supervised(DAY, r, seed=0)
    crashes = sum(len(t.failures) for t in run.timelines)
    return [
        Row(group, "simulate_supervised()", seconds * 1000, "ms"),
        at_least(group, "crashes handled per second", crashes / seconds, "crashes/s", 20_000),
    ]


def bench_crash_loop() -> list[Row]:
    """A day of a worker that crashes at every start, under the kubelet's backoff."""
    seconds = median_seconds(lambda: recovery.crash_loop(DAY, run_time=1.0), repeat=5)
    return [Row("recovery crash_loop 1 day", "crash_loop()", seconds * 1000, "ms")]


def bench_panel() -> list[Row]:
    """Lesson 08's MTTR panel: one slider move at the defaults, re-simulate + redraw."""
    from halab import widgets

    panel = widgets.mttr_panel()
    moves = iter([20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0] * 3)
    seconds = median_seconds(lambda: panel.set(warm_up=next(moves)), repeat=9)
    rows = [below("panel mttr_panel", "median update", seconds, PANEL_BAR_MS)]
    backoff = widgets.backoff_panel()
    seeds = iter(range(1, 30))
    seconds = median_seconds(lambda: backoff.set(seed=next(seeds)), repeat=9)
    rows.append(below("panel backoff_panel", "median update", seconds, PANEL_BAR_MS))
    return rows


if __name__ == "__main__":
    for row in bench_supervised() + bench_crash_loop():
        print(row)
