"""Benchmarks for ``halab.election``: elections per second, and the lesson-05 panels.

Elections per second counts completed leader elections (a crash, then every live server
following a new leader) per wall-clock second. The panel rows move one control of each lesson-05
panel at its defaults, as a learner would, and time the redraw.
"""

from __future__ import annotations

import time

from common import Row, at_least, below, median_seconds

from halab import election

PANEL_BAR_MS = 300.0  # CONTRIBUTING.md: lessons after 02 redraw in under 300 ms


def _per_second(fn, count: int) -> float:
    fn()  # warm-up
    start = time.perf_counter()
    done = fn()
    return (done if done is not None else count) / (time.perf_counter() - start)


def bench_elections_per_second() -> list[Row]:
    """Raft through ``time_to_elect``; Bully and ZAB through ``simulate_election``."""
    rows = []
    trials = 400
    rate = _per_second(lambda: election.time_to_elect(trials=trials, seed=1) and trials, trials)
    rows.append(at_least("election raft", "crash-to-new-leader trials", rate, "elections/s", 500))

    def runs(algorithm: str, n: int = 40):
        def go():
            elections = 0
            for seed in range(n):
                r = election.simulate_election(
                    algorithm, seed=seed, duration=2.0, trace=False, faults=[(1.0, "crash_leader")]
                )
                elections += len(r.reigns)
            return elections

        return go

    for algorithm in ("bully", "zab", "raft"):
        rate = _per_second(runs(algorithm), 80)
        rows.append(
            at_least(
                f"election {algorithm}", "2 s runs, cold start + crash", rate, "elections/s", 50
            )
        )
    return rows


def bench_kernel_events() -> list[Row]:
    """Kernel events per second while five Raft servers heartbeat and elect."""
    start = time.perf_counter()
    r = election.simulate_election(
        "raft", seed=0, duration=60.0, trace=False, faults=[(20.0, "crash_leader"), (40.0, "split")]
    )
    seconds = time.perf_counter() - start
    return [Row("election raft", "kernel events (60 s simulated)", r.events / seconds, "events/s")]


def bench_panels() -> list[Row]:
    """Median redraw of each lesson-05 panel after one control moves (defaults otherwise)."""
    try:
        from halab import widgets
    except ImportError:  # widgets not installed: nothing to time
        return []
    rows = []
    for name, control, values in [
        ("cluster_panel", "seed", (1, 2)),
        ("timeouts_panel", "latency", (0.004, 0.003)),
        ("split_brain_panel", "nodes", (4, 5)),
        ("timing_panel", "mtbf", (8.0, 10.0)),
    ]:
        make = getattr(widgets, name, None)
        if make is None:
            continue
        panel = make()
        flip = iter(values * 8)
        seconds = median_seconds(lambda p=panel, f=flip, c=control: p.set(**{c: next(f)}), repeat=7)
        rows.append(below(f"panel 05 {name}", "median update", seconds, PANEL_BAR_MS))
    return rows
