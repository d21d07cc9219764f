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
