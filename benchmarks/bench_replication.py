"""Lesson 07: one failover, the staleness experiment, and how long each slider move takes."""

from __future__ import annotations

from common import Row, at_least, below, median_seconds

from halab import replication as rep
from halab import widgets

BAR_MS = 300  # a slider move of lessons 03-10 must redraw in under this, median


def panel_update_seconds(factory, control, values) -> float:
    """The median time of one slider move at the panel's default settings."""
    panel = factory()
    moves = iter(values * 3)
    return median_seconds(lambda: panel.set(**{control: next(moves)}), repeat=len(values) - 1)


def bench_panels():
    cases = [
        # the lag moves the timeline; the lost-vs-lag markers are remembered between moves
        (widgets.replication_panel, "lag", [0.01, 0.03, 0.06, 0.09, 0.12, 0.15, 0.18]),
        (widgets.replication_panel, "mode", ["sync", "semisync", "async"] * 2 + ["sync"]),
        # a new seed re-simulates everything, the worst case
        (widgets.replication_panel, "seed", [1, 2, 3, 4, 5, 6, 7]),
        (widgets.quorum_panel, "w", [2, 3, 1, 2, 3, 1, 2]),
        (widgets.quorum_panel, "seed", [1, 2, 3, 4, 5, 6, 7]),
    ]
    return [
        below(
            f"panel {factory.__name__} ({control})",
            "median update",
            panel_update_seconds(factory, control, values),
            BAR_MS,
        )
        for factory, control, values in cases
    ]


def bench_models():
    seconds = median_seconds(lambda: rep.simulate_failover("semisync", seed=1), repeat=5)
    result = rep.simulate_failover("semisync", seed=1)
    writes = result.submitted / seconds
    stale = median_seconds(
        lambda: rep.staleness_curve(5, 1, 2, widgets.REP_TIMES, trials=1000), repeat=3
    )
    quorum = median_seconds(lambda: rep.simulate_quorum(5, 3, 3, duration=5.0), repeat=3)
    return [
        Row("simulate_failover (semisync, 2 backups)", "one failover", seconds * 1000, "ms"),
        at_least(
            "simulate_failover (semisync, 2 backups)", "simulated writes", writes, "/s", 10_000
        ),
        Row("staleness_curve (N=5, 8 times)", "1000 writes", stale * 1000, "ms"),
        Row("simulate_quorum (N=5, 5 s)", "one run", quorum * 1000, "ms"),
    ]
