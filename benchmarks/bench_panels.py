"""Every lesson's slider panels, kernel side: CPU milliseconds per move, median and maximum.

Each panel is built at its defaults, then one of its controls (the seed if it has one, else
its first slider) steps through fresh values (never one the panel has shown, so no picture
comes from memory), one slider step at a time as a learner's key presses would; each move redraws and renders the PNG a learner sees. CPU time (``time.process_time``)
is what compares across loaded machines. The bars are issue 17's: half the CPU ms it measured
before the panels kept their figures (a 2x speed-up); panels it did not measure have none.
A last row times a move back to a value already shown (the picture comes from memory).

What a learner feels in the browser (key press to new picture) is ``bench_browser``.
"""

from __future__ import annotations

import math
import statistics
import time

from common import QUICK, Row

# every panel of the lessons; the CPU ms per move before, where it measured one
PANELS = {
    "timeline_panel": None,
    "budget_panel": None,
    "structures_panel": None,
    "common_cause_panel": None,
    "failover_panel": None,
    "balancer_panel": 407,
    "balancer_panel:least_response_time": 624,
    "heartbeats_panel": None,
    "qos_panel": 463,
    "tradeoff_panel": 448,
    "adaptation_panel": None,
    "gc_pause_panel": None,
    "settings_panel": None,
    "cluster_panel": None,
    "timeouts_panel": 371,
    "split_brain_panel": None,
    "timing_panel": 349,
    "detection_panel": None,
    "replication_panel": None,
    "quorum_panel": 392,
    "backoff_panel": None,
    "crash_loop_panel": None,
    "mttr_panel": 354,
    "warm_up_panel": None,
    "windows_panel": None,
    "design_panel": None,
}
MOVES = 6  # key presses timed per panel (3 with --quick)


def _make(name: str):
    from halab import widgets

    factory, _, policy = name.partition(":")
    panel = getattr(widgets, factory)()
    if policy:
        panel.set(policy=policy)
    return panel


def fresh_moves(panel, count: int) -> tuple[str, list]:
    """The control to move (the seed if there is one, else the first slider) and ``count``
    values one step apart that the panel has not shown, as key presses would give (a panel
    without sliders: its first dropdown's other options)."""
    sliders = {n: c for n, c in panel.controls.items() if hasattr(c, "step") and c.step}
    if not sliders:  # a panel of dropdowns: its first one through its other options
        name, c = next((n, c) for n, c in panel.controls.items() if hasattr(c, "options"))
        options = [o[1] if isinstance(o, tuple) else o for o in c.options]
        return name, [o for o in options if o != c.value][:count]
    name = "seed" if "seed" in sliders else next(iter(sliders))
    c = sliders[name]
    log = hasattr(c, "base")
    now = math.log(c.value, c.base) if log else c.value
    low, high = c.min, c.max  # for a log slider: exponents, as ``now``
    up, down = int((high - now) / c.step + 1e-9), int((now - low) / c.step + 1e-9)
    direction, room = (1, up) if up >= down else (-1, down)  # the side with more steps
    values = [now + direction * k * c.step for k in range(1, min(count, room) + 1)]
    values = [round(v, 10) for v in values]
    return name, [c.base**v for v in values] if log else values


def cpu_ms_per_move(name: str) -> tuple[str, list[float]]:
    """CPU ms of each fresh move of one control of a new panel ``name``."""
    panel = _make(name)
    control, values = fresh_moves(panel, 3 if QUICK else MOVES)
    times = []
    for value in values:
        start = time.process_time()
        panel.set(**{control: value})
        times.append((time.process_time() - start) * 1000.0)
        if panel.error:
            raise RuntimeError(f"{name}: {control}={value!r}: {panel.error}")
    return control, times


def bench_panels() -> list[Row]:
    """Median and maximum CPU ms per move of every panel; bars at half the issue's figures."""
    rows = []
    for name, before in PANELS.items():
        control, times = cpu_ms_per_move(name)
        median = statistics.median(times)
        group = f"panel {name} ({control})"
        if before is None:
            rows.append(Row(group, "CPU per move, median", median, "ms"))
        else:
            bar = before / 2
            rows.append(Row(group, "CPU per move, median", median, "ms", f"<= {bar:g} ms (2x)",
                            median <= bar))  # fmt: skip
        rows.append(Row(group, "CPU per move, max", max(times), "ms"))
    panel = _make("qos_panel")
    panel.set(seed=1)
    start = time.process_time()
    panel.set(seed=0)  # shown when the panel was built
    back = (time.process_time() - start) * 1000.0
    rows.append(Row("panel qos_panel (seed)", "CPU, back to a value shown", back, "ms", "< 20 ms",
                    back < 20))  # fmt: skip
    return rows
