"""Lessons 01 and 02: how long a slider move takes (re-simulate + redraw to PNG, Agg backend)."""

from __future__ import annotations

from common import below, median_seconds

from halab import widgets

# (panel factory, control moved, values it takes in turn)
PANELS = [
    (widgets.timeline_panel, "seed", [1, 2, 3, 4, 5, 6, 7]),
    (widgets.budget_panel, "slo", [0.99, 0.999, 0.9999, 0.995, 0.999, 0.99, 0.9995]),
    (widgets.structures_panel, "seed", [1, 2, 3, 4, 5, 6, 7]),
    (widgets.common_cause_panel, "seed", [1, 2, 3, 4, 5, 6, 7]),
    (widgets.failover_panel, "seed", [1, 2, 3, 4, 5, 6, 7]),
]
BAR_MS = 150


def panel_update_seconds(factory, control, values) -> float:
    """The median time of one slider move at the panel's default settings."""
    panel = factory()
    moves = iter(values * 3)
    return median_seconds(lambda: panel.set(**{control: next(moves)}), repeat=len(values) - 1)


def bench_panels():
    return [
        below(
            f"panel {factory.__name__}",
            "median update",
            panel_update_seconds(factory, c, v),
            BAR_MS,
        )
        for factory, c, v in PANELS
    ]
