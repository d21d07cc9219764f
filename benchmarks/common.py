"""Shared helpers for ``make bench``: timing and one row format for every table.

Each ``benchmarks/bench_*.py`` module defines functions named ``bench_*`` that take no
arguments and return a list of :class:`Row`. ``benchmarks/run.py`` finds them, runs them
and prints one table. Benchmarks print figures; they never fail on a slow machine.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    """One measured figure.

    Attributes:
        group: what is measured, e.g. ``"panel 01 timeline"`` or ``"sim vs SimPy"``.
        figure: the name of the number, e.g. ``"median update"``.
        value: the number.
        unit: its unit, e.g. ``"ms"``, ``"events/s"``, ``"x"``.
        target: the bar it should clear, as text (``"< 150 ms"``), or ``""``.
        ok: whether the bar is cleared (``None`` where there is no bar).
    """

    group: str
    figure: str
    value: float
    unit: str
    target: str = ""
    ok: bool | None = None


# `run.py --quick` sets this: each benchmark measures fewer repeats and trials (a smoke run)
QUICK = os.environ.get("HALAB_BENCH_QUICK") == "1"


def median_seconds(fn: Callable[[], object], *, repeat: int = 7, warmup: int = 1) -> float:
    """The median wall-clock time of ``fn()`` over ``repeat`` runs (2 when quick), seconds."""
    if QUICK:
        repeat, warmup = min(repeat, 2), min(warmup, 1)
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def below(group: str, figure: str, seconds: float, limit_ms: float) -> Row:
    """A latency row in milliseconds with an upper bar of ``limit_ms``."""
    ms = seconds * 1000.0
    return Row(group, figure, ms, "ms", f"< {limit_ms:g} ms", ms < limit_ms)


def at_least(group: str, figure: str, value: float, unit: str, bar: float) -> Row:
    """A row whose value should be at least ``bar``."""
    return Row(group, figure, value, unit, f">= {bar:g} {unit}", value >= bar)
