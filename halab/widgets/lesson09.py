"""Lesson 09, production load balancers: its drawing functions and slider panels."""

from __future__ import annotations

import numpy as np

from halab import plots
from halab.checks import check_instance, check_int
from halab.widgets.core import Panel, choice, int_slider, slider
from halab.widgets.drills import (
    DRILL_COLORS,
    DRILL_MARKS,
    SLOW_SECONDS,
    check_drills,
    draw_drills,
)

PRODUCTION_MARKS = {  # event kind -> (colour, line style, label) of its vertical line
    k: DRILL_MARKS[k] for k in ("kill", "hang", "revive", "heal", "removed", "readmitted")
}
BALANCER_COLORS = {k: DRILL_COLORS[k] for k in ("halab", "haproxy", "nginx")}


def draw_production(*, drills, bin_width: float = 0.1, slow: float = SLOW_SECONDS):
    """The same drill through each balancer: one row each, on the same time axis.

    :func:`halab.widgets.drills.draw_drills`, the figure every live drill shares: each row
    shows requests per second answered by the victim and by the others (steps), failed
    requests (red bars) and slow answers (orange bars, slower than ``slow`` seconds), with the
    fault, its end, and the balancer's removal and readmission of the victim marked.

    Args:
        drills: a dict from balancer name to :class:`halab.live.Drill`.
        bin_width: seconds per bar.
        slow: seconds above which an answer counts as slow.
    """
    return draw_drills(drills=drills, bin_width=bin_width, slow=slow)


def draw_drill_numbers(*, drills, bounds=None, slow: float = SLOW_SECONDS):
    """The drills' numbers side by side: one small panel per measure, one bar per balancer.

    Panels: failed requests; time from the fault to out of rotation; time from the end of the
    fault to back in rotation (a dotted tick marks each balancer's theoretical bound, when
    ``bounds`` gives it); answered requests per second; 99th percentile latency.

    Args:
        drills: a dict from balancer name to :class:`halab.live.Drill`.
        bounds: optional dict from balancer name to ``(removal bound, readmission bound)``,
            seconds (see :func:`halab.live.production.removal_bound`).
        slow: seconds above which an answer counts as slow (for the failed panel's note).
    """
    from halab.live.production import drill_numbers

    check_drills(drills)
    if bounds is not None:
        check_instance("bounds", bounds, dict)
    names = list(drills)
    nums = {name: drill_numbers(d, slow=slow) for name, d in drills.items()}
    panels = [
        ("failed requests", lambda n: n["failed"], ""),
        ("out of rotation after", lambda n: _s_to_ms(n["removed_s"]), "ms"),
        ("back in rotation after", lambda n: _s_to_ms(n["readmitted_s"]), "ms"),
        ("answered", lambda n: n["answered_per_s"], "req / s"),
        ("99th percentile latency", lambda n: n["p99_ms"], "ms"),
    ]
    fig, axes = plots.figure(
        1,
        len(panels),
        width=plots.FIGSIZE[0] * 1.6,
        height=plots.FIGSIZE[1] * 0.85,
        margins={"wspace": 0.6, "left": 0.06, "right": 0.99, "bottom": 0.24},
    )
    x = np.arange(len(names))
    colors = [BALANCER_COLORS.get(n, "C0") for n in names]
    for k, (ax, (title, get, unit)) in enumerate(zip(axes, panels)):
        values = [get(nums[n]) for n in names]
        heights = [0.0 if v is None or not np.isfinite(v) else float(v) for v in values]
        ax.bar(x, heights, color=colors, width=0.6)
        for xi, v, h in zip(x, values, heights):
            text = "never" if v is None else (f"{v:.0f}" if abs(v) >= 10 or v == 0 else f"{v:.2g}")
            ax.annotate(
                text,
                (xi, h),
                ha="center",
                va="bottom",
                fontsize=7,
                xytext=(0, 2),
                textcoords="offset points",
                bbox={"boxstyle": "square,pad=0.1", "fc": "white", "ec": "none"},  # over a bound
                zorder=3,
            )
        if bounds and k in (1, 2):
            for xi, n in zip(x, names):
                if n in bounds and np.isfinite(bounds[n][k - 1]):
                    ax.hlines(
                        bounds[n][k - 1] * 1e3,
                        xi - 0.4,
                        xi + 0.4,
                        colors="black",
                        linestyles=":",
                        lw=1.5,
                        label="bound" if xi == 0 else None,
                    )
        plots.decorate(ax, title=title, ylabel=unit, legend=False)
        ax.title.set_fontsize(9)
        ax.set_xticks(x, names, fontsize=7, rotation=30)
        marks = [b[k - 1] * 1e3 for b in (bounds or {}).values() if k in (1, 2)]
        top = max([*heights, *(m for m in marks if np.isfinite(m)), 1.0])
        ax.set_ylim(0, top * 1.3)
    if bounds:
        axes[1].legend(fontsize=7, frameon=False, loc="upper left")
    return fig


def _s_to_ms(seconds):
    return None if seconds is None else seconds * 1e3


def draw_windows(
    *,
    inter: float = 0.2,
    fall: int = 2,
    rise: int = 2,
    consecutive_5xx: int = 3,
    fail_timeout: float = 1.0,
    timeout: float = 1.0,
    rate: float = 100.0,
    fault: str = "kill",
    measured=None,
):
    """How late each balancer can be, by the closed forms: out of rotation, and back.

    For each balancer, a band from 0 to its bound (the line): left, seconds from the fault to
    out of rotation (:func:`halab.live.production.removal_bound`); right, from the end of the
    fault to back in rotation (:func:`halab.live.production.readmission_bound`). Markers: the
    delays measured in live drills, when ``measured`` gives them.

    Args:
        inter, fall, rise: the active checks (halab and HAProxy; nginx has none).
        consecutive_5xx: failed requests in a row that eject (``max_fails``, ``error-limit``).
        fail_timeout: nginx's ``fail_timeout`` (halab's ``base_ejection_time``), seconds.
        timeout: seconds of silence before a request to a backend is abandoned.
        rate: requests per second, shared round robin by three backends.
        fault: ``"kill"`` or ``"hang"``.
        measured: optional dict from balancer name to ``(removed_s, readmitted_s)``.
    """
    from halab.live.production import BALANCERS, readmission_bound, removal_bound
    from halab.live.settings import Settings

    s = Settings(
        inter=inter,
        fall=check_int("fall", fall, 1, 100),
        rise=check_int("rise", rise, 1, 100),
        consecutive_5xx=check_int("consecutive_5xx", consecutive_5xx, 1, 100),
        base_ejection_time=fail_timeout,
        timeout=timeout,
    )
    fig, (left, right) = plots.figure(1, 2, margins={"wspace": 0.08, "left": 0.14})
    names = list(BALANCERS)
    y = np.arange(len(names))[::-1]
    out = [removal_bound(b, s, fault=fault, rate=rate, backends=3) for b in names]
    back = [readmission_bound(b, s) for b in names]
    for ax, values, title, column in (
        (left, out, f"out of rotation, after the {fault}", 0),
        (right, back, "back in rotation, after its return", 1),
    ):
        for yi, name, v in zip(y, names, values):
            color = BALANCER_COLORS[name]
            ax.barh(yi, v, height=0.5, color=color, alpha=0.25)
            ax.plot(
                [v, v],
                [yi - 0.3, yi + 0.3],
                color="black",
                lw=1.6,
                label="theory: at the latest" if yi == y[0] else None,
            )
            ax.annotate(f"{v:.2f} s", (v, yi + 0.3), fontsize=8, ha="center", va="bottom")
            if measured and name in measured and measured[name][column] is not None:
                ax.plot(
                    [measured[name][column]],
                    [yi],
                    "o",
                    color=color,
                    ms=6,
                    zorder=4,
                    label="measured" if yi == y[0] else None,
                )
        top = max([*values, *(m[column] or 0 for m in (measured or {}).values())])
        plots.decorate(ax, title=title, xlabel="seconds", xlim=(0, top * 1.25 + 0.05), legend=False)
        ax.title.set_fontsize(10)
    left.set_yticks(y, names)
    right.set_yticks(y, [])
    right.legend(fontsize=7, frameon=False, loc="lower right")
    return fig


def windows_panel() -> Panel:
    """Sliders over :func:`draw_windows`."""
    return Panel(
        draw_windows,
        {
            "inter": slider(0.2, 0.05, 2.0, 0.05, "inter (s)"),
            "fall": int_slider(2, 1, 5, "fall"),
            "rise": int_slider(2, 1, 5, "rise"),
            "consecutive_5xx": int_slider(3, 1, 10, "max_fails / error-limit"),
            "fail_timeout": slider(1.0, 1.0, 10.0, 1.0, "fail_timeout (s)"),
            "timeout": slider(1.0, 0.1, 5.0, 0.1, "timeout (s)"),
            "rate": slider(100.0, 10.0, 1000.0, 10.0, "rate (req/s)"),
            "fault": choice("kill", ["kill", "hang"], "fault"),
        },
    )
