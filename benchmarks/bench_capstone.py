"""Lesson 10: how long a move of the design panel takes (predict + redraw to PNG)."""

from __future__ import annotations

from common import below, median_seconds

from halab import widgets


def bench_design_panel():
    panel = widgets.design_panel()
    moves = iter(["sync", "async", "semisync"] * 5)
    seconds = median_seconds(lambda: panel.set(replication=next(moves)), repeat=7)
    return [below("panel 10 design_panel", "median update", seconds, 300)]
