"""Benchmarks for ``halab.detection``: heartbeat simulation, replay, QoS measurement.

Defaults are the lesson's: 1 s heartbeats, 10 ms mean delay with 20 ms jitter, 1 % loss.
"""

from __future__ import annotations

from common import Row, below, median_seconds

from halab.detection import (
    FixedTimeoutDetector,
    PhiAccrualDetector,
    measure_qos,
    replay,
    simulate_heartbeats,
)

KW = dict(interval=1.0, delay=0.01, jitter=0.02, dist="lognormal", loss=0.01)


def bench_heartbeats() -> list[Row]:
    """Simulating heartbeats on the kernel, and replaying them through each detector."""
    group = "detection 1 Hz heartbeats"
    hour = median_seconds(lambda: simulate_heartbeats(duration=3600.0, **KW), repeat=5)
    day = simulate_heartbeats(duration=86_400.0, **KW)
    phi_day = median_seconds(lambda: replay(PhiAccrualDetector(), day.arrivals), repeat=3)
    fixed_day = median_seconds(lambda: replay(FixedTimeoutDetector(3.5), day.arrivals), repeat=3)
    run = simulate_heartbeats(duration=3600.0, **KW)
    qos = median_seconds(lambda: measure_qos(PhiAccrualDetector(), run, crashes=200), repeat=5)
    return [
        below(group, "simulate 1 hour", hour, 150),
        below(group, "replay 1 day through phi", phi_day, 1000),
        below(group, "replay 1 day through fixed timeout", fixed_day, 200),
        below(group, "measure_qos phi, 1 hour, 200 crashes", qos, 150),
    ]


# (panel factory, control moved, values it takes in turn); the lesson's bar is 300 ms
PANELS = [
    ("heartbeats_panel", "seed", [1, 2, 3, 4, 5, 6, 7, 8]),
    ("heartbeats_panel", "loss", [0.1, 0.2, 0.05, 0.3, 0.0, 0.15, 0.05, 0.1]),
    ("qos_panel", "seed", [1, 2, 3, 4, 5, 6]),
    ("tradeoff_panel", "seed", [1, 2, 3, 4, 5, 6]),
    ("adaptation_panel", "seed", [1, 2, 3, 4, 5, 6]),
    ("gc_pause_panel", "pause", [2.0, 3.0, 5.0, 6.0, 1.0, 4.0]),
    ("settings_panel", "inter", [1.0, 3.0, 5.0, 2.0, 4.0, 6.0]),
]
BAR_MS = 300


def bench_panels() -> list[Row]:
    """Median redraw of each lesson-04 panel after a slider move, at default settings."""
    from halab import widgets

    rows = []
    for factory, control, values in PANELS:
        panel = getattr(widgets, factory)()
        moves = iter(values)
        panel.set(**{control: next(moves)})  # warm up
        seconds = median_seconds(
            lambda p=panel, m=moves, c=control: p.set(**{c: next(m)}),
            repeat=len(values) - 1,
            warmup=0,
        )
        rows.append(below(f"panel {factory} ({control})", "median update", seconds, BAR_MS))
    return rows
