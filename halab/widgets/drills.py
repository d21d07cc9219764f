"""One figure for every live drill: a balancer's (halab, HAProxy, nginx) and a real engine's.

A drill is a :class:`halab.live.Drill`: requests (for an engine, writes) sent under steady
load, a SIGKILL, and the timeline of what followed. :func:`draw_drills` draws several on one
time axis, one row each: what the victim and the others answered, what failed, what was slow,
and the marks. A balancer's marks are the fault, its end, and when the balancer took the
victim out of rotation and back; an engine's (a drill whose nodes are ``n0``, ``n1``, ...) are
the kill, when another node was seen leading, when the first write sent after the kill was
acknowledged, and the acknowledged writes later found missing (black bars, at the time they
were sent).
"""

from __future__ import annotations

import matplotlib
import numpy as np

from halab import plots
from halab.checks import check_instance, check_real

DRILL_MARKS = {  # event kind -> (colour, line style, label) of its vertical line
    "kill": ("#c0392b", "--", "kill"),
    "hang": ("#c0392b", "--", "hang"),
    "revive": ("#4c9a2a", "--", "revive"),
    "heal": ("#4c9a2a", "--", "release"),
    "removed": ("#e67e22", ":", "out of rotation"),
    "readmitted": ("#1e8449", ":", "back in rotation"),
    "leader": ("#2471a3", "-.", "new leader (primary)"),
    "first_ok": ("#7d3c98", ":", "first write after the kill"),
}
DRILL_COLORS = {
    "halab": "C0",
    "haproxy": "C1",
    "nginx": "C2",
    "ZooKeeper": "C4",
    "Etcd": "C5",
    "etcd": "C5",
    "MariaDB": "C6",
    "RedisSentinel": "C8",
    "RabbitMQ": "C9",
}
LOST_COLOR = "black"
SLOW_SECONDS = 0.5  # a request slower than this counts as slow in the figures


def is_engine(drill) -> bool:
    """Whether ``drill`` is a real engine's (its victim is a node, ``n<i>``)."""
    return drill.prefix == "n"


def drill_marks(drill) -> dict[str, float]:
    """Mark name (of :data:`DRILL_MARKS`) -> when it happened, seconds on the drill's clock.

    For each kind, the first: the fault, its end (``revive``, ``heal``), and the victim's
    removal and readmission after the fault; for an engine also ``leader`` (another node seen
    leading, :attr:`halab.live.Drill.leader_t`) and ``first_ok`` (the first write sent after
    the kill acknowledged, :attr:`halab.live.Drill.first_ok_t`).
    """
    firsts: dict[str, float] = {}
    for e in drill.timeline:
        if e.backend == drill.victim and e.kind in DRILL_MARKS and e.kind not in firsts:
            if e.kind in ("removed", "readmitted") and e.t < drill.kill_t:
                continue
            if e.kind == "leader":
                continue
            firsts[e.kind] = e.t
    if is_engine(drill):
        for kind, t in (("leader", drill.leader_t), ("first_ok", drill.first_ok_t)):
            if t is not None:
                firsts[kind] = t
    return firsts


def drill_series(drill, *, bin_width: float = 0.1, end: float | None = None, slow=SLOW_SECONDS):
    """What :func:`draw_drills` plots for one drill, per bin of ``bin_width`` seconds.

    Times are seconds since the drill's first request (:attr:`halab.live.Drill.start`).

    Returns:
        A dict: ``edges`` (the bins), ``victim`` and ``others`` (requests per second the
        victim and the other backends or nodes answered), ``failed``, ``slow`` (answered but
        slower than ``slow`` s) and ``lost`` (acknowledged writes later found missing, by
        send time; zeros when none or not read back), each per second; ``marks``
        (:func:`drill_marks`, shifted to the same origin).
    """
    from halab.live import Drill

    check_instance("drill", drill, Drill)
    check_real("bin_width", bin_width, 0, 3600, lo_open=True, unit="seconds")
    check_real("slow", slow, 0, 3600, lo_open=True, unit="seconds")
    if end is not None:
        check_real("end", end, 0, 86400, lo_open=True, unit="seconds")
    origin = drill.start
    t = drill.load.starts - origin
    if end is None:
        span = float(t.max()) if len(t) else 1.0
        end = max(1, int(span / bin_width)) * bin_width
    edges = np.arange(int(round(end / bin_width)) + 1) * bin_width
    ok = np.array([r.ok for r in drill.load.records], dtype=bool)
    lat = drill.load.latencies
    mine = np.array([r.backend == drill.name for r in drill.load.records], dtype=bool)

    def per_second(times):
        return np.histogram(times, bins=edges)[0] / bin_width

    lost = np.asarray(drill.lost or (), dtype=float) - origin
    return {
        "edges": edges,
        "victim": per_second(t[ok & mine]),
        "others": per_second(t[ok & ~mine]),
        "failed": per_second(t[~ok]),
        "slow": per_second(t[ok & (lat > slow)]),
        "lost": per_second(lost),
        "marks": {k: v - origin for k, v in drill_marks(drill).items()},
    }


def _ms(seconds) -> str:
    return "never" if seconds is None else f"{seconds * 1e3:.0f} ms"


def drill_title(name: str, drill, *, slow: float = SLOW_SECONDS) -> str:
    """A row's title: a balancer's failures and rotation delays; an engine's seconds from the
    kill to a new leader (when the drill timed one) and to the first write acknowledged (when
    it wrote after the kill), its failed writes and (when it read them back) its acknowledged
    writes lost."""
    if not is_engine(drill):
        from halab.live.production import drill_numbers

        n = drill_numbers(drill, slow=slow)
        return (
            f"{name}: {n['failed']} failed, {n['slow']} slow; out after "
            f"{_ms(n['removed_s'])}, back after {_ms(n['readmitted_s'])}"
        )
    s = drill.summary()
    promoted = any(e.kind in ("promote", "failover") for e in drill.timeline)
    parts = []
    if s["leader_after_kill_s"] is not None:  # (a drill that did not time it says nothing)
        word = "primary" if promoted else "leader"
        parts.append(f"new {word} after {_ms(s['leader_after_kill_s'])}")
    if any(r.start >= drill.kill_t for r in drill.load.records):  # it wrote after the kill
        parts.append(f"first write after {_ms(s['first_ok_after_kill_s'])}")
    counts = f"{s['failed']} failed" + ("" if s["lost"] is None else f", {s['lost']} lost")
    return f"{name}: " + ", ".join(parts) + ("; " if parts else "") + counts


def _span(drill) -> float:
    """Seconds from the drill's first request to its last, or (an engine's) to its marks."""
    last = float(drill.load.starts.max())
    if is_engine(drill):
        last = max([last] + [t for t in (drill.leader_t, drill.first_ok_t) if t is not None])
    return last - drill.start


def check_drills(drills) -> dict:
    """``drills`` as a dict from label to :class:`halab.live.Drill`; else a clear error."""
    from halab.live import Drill

    check_instance("drills", drills, dict)
    if not drills:
        raise ValueError("drills must hold at least one drill")
    for drill in drills.values():
        check_instance("drills", drill, Drill)
    return drills


def rows_figure(drills, *, hspace: float = 0.55):
    """A figure of one row per drill, sharing the time axis: ``(fig, axes)``, axes ``(n, 1)``."""
    check_drills(drills)
    rows = len(drills)
    return plots.figure(
        rows,
        1,
        sharex=True,
        height=plots.FIGSIZE[1] * (0.3 + 0.7 * rows),
        squeeze=False,
        margins={"hspace": hspace},
    )


def draw_drills(*, drills, bin_width: float = 0.1, slow: float = SLOW_SECONDS):
    """Several live drills on one time axis, one row each (see the module's docstring).

    Each row: requests (writes) per second answered by the victim and by the others (steps,
    up to the row's own last request), failed ones (red bars), slow answers (orange bars,
    slower than ``slow`` seconds) and acknowledged writes later lost (black bars), with the
    drill's marks as vertical lines.

    Args:
        drills: a dict from a row's name (a balancer, an engine) to a :class:`halab.live.Drill`.
        bin_width: seconds per bar.
        slow: seconds above which an answer counts as slow.
    """
    check_real("bin_width", bin_width, 0, 3600, lo_open=True, unit="seconds")
    check_real("slow", slow, 0, 3600, lo_open=True, unit="seconds")
    fig, axes = rows_figure(drills, hspace=0.55)
    spans = [_span(d) for d in drills.values() if len(d.load)]
    bins = max(spans, default=1.0) / bin_width
    if any(is_engine(d) for d in drills.values()):  # whole bins, an engine's marks inside
        end = max(1, int(np.ceil(bins + 0.5))) * bin_width
    else:  # whole bins of requests, as lesson 09 always drew them
        end = max(1, int(bins)) * bin_width
    highest = 1.0
    shown: set[str] = set()
    for ax, (name, drill) in zip(axes[:, 0], drills.items()):
        s = drill_series(drill, bin_width=bin_width, end=end, slow=slow)
        x = s["edges"][:-1]
        own = x <= (float(drill.load.starts.max() - drill.start) if len(drill.load) else end)
        ax.step(x[own], s["others"][own], where="post", color="gray", label="the others answered")
        ax.step(
            x[own],
            s["victim"][own],
            where="post",
            color=DRILL_COLORS.get(name, "C0"),
            lw=1.8,
            label=f"{drill.name} answered",
        )
        bars = (
            ("slow", "#e67e22", 0.7, f"slower than {slow:g} s"),
            ("failed", plots.DOWN_COLOR, 1.0, "failed"),
            ("lost", LOST_COLOR, 1.0, "acknowledged, then lost"),
        )
        for key, color, alpha, label in bars:
            if key != "lost" or s["lost"].any():
                ax.bar(
                    x, s[key], width=bin_width, align="edge", color=color, alpha=alpha, label=label
                )
        for kind, t in s["marks"].items():
            if 0 <= t <= end:
                color, style, label = DRILL_MARKS[kind]
                ax.axvline(t, color=color, linestyle=style, linewidth=1.4, label=label)
        highest = max(highest, float(s["others"].max(initial=0)), float(s["failed"].max(initial=0)))
        highest = max(highest, float(s["victim"].max(initial=0)))
        plots.decorate(
            ax,
            title=drill_title(name, drill, slow=slow),
            ylabel="req / s" if not is_engine(drill) else "writes / s",
            xlim=(0.0, end),
            legend=False,
        )
        if is_engine(drill):
            ax.title.set_fontsize(9)
        labels = set(ax.get_legend_handles_labels()[1])
        if not labels <= shown:  # a legend where a row brings something new
            ax.legend(
                fontsize=7, frameon=False, ncols=3 if is_engine(drill) else 4, loc="upper left"
            )
            shown |= labels
    for ax in axes[:, 0]:
        ax.set_ylim(0, highest * 1.5)
    axes[-1, 0].set_xlabel("seconds since the drill began")
    return fig


def _ecdf(values) -> tuple[np.ndarray, np.ndarray]:
    values = np.sort(np.asarray(values, dtype=float))
    values = values[np.isfinite(values)]
    return values, np.arange(1, values.size + 1) / max(values.size, 1)


ENGINE_NAMES = {"Etcd": "etcd"}  # a class name -> the name a lesson uses
SIM_LABELS = {  # simulated[...] -> (label, line style)
    "leader_s": ("model: kill to new leader (silent crash)", "-"),
    "election_s": ("model: the election alone", "--"),
}


def draw_leader_failover(*, drills):
    """Leader kills on real engines beside the model, one panel per engine.

    Each panel: the fraction of trials (y) done within so many seconds of the SIGKILL (x, on
    a log scale), for the real new leader and the real first write (markers), and for the
    model run on the engine's settings (lines: kill to new leader; for ZooKeeper also the
    election alone, which is what a reset connection leaves to do).

    Args:
        drills: a dict from engine name to a
            :class:`~halab.live.engines._base.FailoverDrill`; an entry that is a ``str`` (the
            install hint of a missing engine) is left out.
    """
    from halab.live.engines._base import FailoverDrill

    check_instance("drills", drills, dict)
    drills = {k: v for k, v in drills.items() if not isinstance(v, str)}
    if not drills:
        raise ValueError("drills must hold at least one drill")
    for drill in drills.values():
        check_instance("drills", drill, FailoverDrill)
    fig, axes = plots.figure(
        1, len(drills), width=plots.FIGSIZE[0] * (0.5 + 0.5 * len(drills)), squeeze=False
    )
    for ax, (name, drill) in zip(axes[0], drills.items()):
        everything = []
        for key, (label, style) in SIM_LABELS.items():
            if key in drill.simulated:
                x, y = _ecdf(drill.simulated[key])
                ax.step(x, y, where="post", color="black", linestyle=style, label=label)
                everything.append(x)
        for key, color, label in (
            ("leader_s", "C0", "real: new leader"),
            ("write_s", "C1", "real: first write"),
        ):
            x, y = _ecdf(drill.measured(key))
            plots.sim_points(ax, x, y, label=f"{label} ({x.size} kills)", color=color)
            everything.append(x)
        values = np.concatenate(everything)
        values = values[values > 0]
        low = float(values.min()) / 1.5 if values.size else 0.01
        high = float(values.max()) * 1.5 if values.size else 10.0
        plots.decorate(
            ax,
            title=f"{ENGINE_NAMES.get(name, name)}: {_settings(drill)}",
            xlabel="seconds after the SIGKILL",
            ylabel="fraction of kills" if ax is axes[0, 0] else "",
            xscale="log",
            xlim=(low, high),
            ylim=(0, 1.05),
            legend=False,
        )
        ax.title.set_fontsize(9)
        ax.xaxis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    handles, labels = max(
        (ax.get_legend_handles_labels() for ax in axes[0]), key=lambda h: len(h[1])
    )
    fig.legend(handles, labels, fontsize=7, frameon=False, ncols=2, loc="lower center")
    fig.subplots_adjust(bottom=0.3)
    return fig


def _settings(drill) -> str:
    return ", ".join(f"{k} {v}" for k, v in drill.settings.items())
