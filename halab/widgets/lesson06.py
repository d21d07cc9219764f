"""Lesson 06, failover, live: its drawing functions and slider panels."""

from __future__ import annotations

import ipywidgets as w
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from IPython import get_ipython
from IPython.display import Image, display

from halab import plots
from halab.checks import check_instance, check_real
from halab.live import health as live_health
from halab.widgets.core import Panel, int_slider, render_png, slider
from halab.widgets.drills import check_drills, rows_figure

LIVE_MARKS = {  # event kind -> (colour, line style, label) of its vertical line
    "kill": ("#c0392b", "--", "kill"),
    "removed": ("#e67e22", ":", "out of rotation"),
    "revive": ("#4c9a2a", "--", "revive"),
    "readmitted": ("#1e8449", ":", "back in rotation"),
}


def _marks(ax, timeline, backend, *, start: float, end: float, labels: bool = True) -> None:
    """Vertical lines at the kill, removal, revival and readmission of ``backend``."""
    seen = set()
    for e in timeline:
        if e.backend != backend or e.kind not in LIVE_MARKS or not start <= e.t <= end:
            continue
        color, style, label = LIVE_MARKS[e.kind]
        ax.axvline(
            e.t,
            color=color,
            linestyle=style,
            linewidth=1.4,
            label=label if labels and e.kind not in seen else None,
            zorder=2,
        )
        seen.add(e.kind)


MAX_BARS = 100_000  # bars of one traffic plot: more would take minutes and show nothing


def draw_traffic(
    *,
    load,
    timeline=(),
    backend: int | None = None,
    bin_width: float = 0.2,
    start: float | None = None,
    end: float | None = None,
    origin: float = 0.0,
    title: str = "",
):
    """Requests per second answered by each backend, failures, and each request's latency.

    Top: answered requests per second per backend (steps) and failed requests per second
    (red bars), with vertical lines where ``backend`` was killed, taken out of rotation,
    revived and put back. Bottom: every request's latency (dots; failures as red crosses).

    Args:
        load: a :class:`halab.live.LoadResult`.
        timeline: :class:`halab.live.Event` records, times on the same clock as ``load``.
        backend: whose events to mark (None: none).
        bin_width: seconds per bar.
        start, end: the time window shown, seconds (default: the load's span, whole bins).
        origin: the time drawn as 0 (e.g. the start of a drill), seconds.
        title: the figure's title.
    """
    for what, t in (("start", start), ("end", end)):
        if t is not None:
            check_real(what, t, unit="seconds")
    check_real("origin", origin, unit="seconds")
    check_real("bin_width", bin_width, 0, 3600, lo_open=True, unit="seconds")
    from halab.live import LoadResult

    check_instance("load", load, LoadResult)
    starts = load.starts
    if start is None:
        start = float(starts.min()) if len(starts) else 0.0
    if end is None:
        end = float(starts.max()) if len(starts) else start + 1.0
        end = start + max(1, int((end - start) / bin_width)) * bin_width  # whole bins only
    first = min(start, float(starts.min())) if len(starts) else start
    if not end > start or (end - first) / bin_width > MAX_BARS:
        raise ValueError(
            f"end must come after start, at most {MAX_BARS} bars of bin_width from the first "
            f"request; got start {start:g}, end {end:g}, bin_width {bin_width:g}"
        )
    edges, per_backend, failures = load.rates(bin_width=bin_width, end=end)
    keep = edges[:-1] >= start - 1e-9
    x = edges[:-1][keep] - origin
    fig, (top, bottom) = plots.figure(
        2,
        1,
        sharex=True,
        height=plots.FIGSIZE[1] * 1.5,
        height_ratios=[3, 2],
        margins={"hspace": 0.12},
    )
    highest = 1.0
    for k, (name, rates) in enumerate(per_backend.items()):
        # each line thinner than the one before, so equal rates stay visible side by side
        width = max(1.0, 3.0 - 0.8 * k)
        top.step(x, rates[keep], where="post", color=f"C{k}", lw=width, label=f"{name} answered")
        highest = max(highest, float(rates[keep].max(initial=0)))
    if failures[keep].any():
        top.bar(
            x,
            failures[keep],
            width=bin_width,
            align="edge",
            color=plots.DOWN_COLOR,
            alpha=0.8,
            label="failed",
        )
        highest = max(highest, float(failures[keep].max()))
    shifted = [e.shifted(origin) for e in timeline]
    lo, hi = start - origin, end - origin
    if backend is not None:
        _marks(top, shifted, backend, start=lo, end=hi)
        _marks(bottom, shifted, backend, start=lo, end=hi, labels=False)
    plots.decorate(
        top,
        title=title,
        ylabel="requests / s",
        xlim=(lo, hi),
        ylim=(0, highest * 1.45),
        legend=False,
    )
    top.legend(fontsize=7, frameon=False, ncols=4, loc="upper left")
    ok = np.array([r.ok for r in load.records], dtype=bool)
    lat_ms = load.latencies * 1e3
    t = starts - origin
    for k, name in enumerate(per_backend):
        mine = np.array([r.backend == name for r in load.records], dtype=bool) & ok
        bottom.plot(t[mine], lat_ms[mine], ".", ms=2.5, color=f"C{k}", alpha=0.6)
    if (~ok).any():
        bottom.plot(t[~ok], lat_ms[~ok], "x", ms=5, color=plots.DOWN_COLOR, label="failed")
    plots.decorate(
        bottom,
        xlabel="seconds" + (" since the cluster started" if origin == 0 else ""),
        ylabel="latency (ms)",
        yscale="log",
        xlim=(lo, hi),
        legend=False,
    )
    bottom.yaxis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
    bottom.yaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
    bottom.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    return fig


def draw_drill(*, drill, bin_width: float = 0.2):
    """One kill-and-revive drill (a :class:`halab.live.Drill`) as :func:`draw_traffic` draws it."""
    from halab.live import Drill

    check_instance("drill", drill, Drill)
    s = drill.summary()
    title = (
        f"kill {drill.name} under {s['requests']} requests: {s['failed']} failed, "
        f"out after {_ms(s['removed_after_kill_s'])}, back after "
        f"{_ms(s['readmitted_after_revive_s'])}"
    )
    fig = draw_traffic(
        load=drill.load,
        timeline=drill.timeline,
        backend=drill.victim,
        bin_width=bin_width,
        origin=drill.start,
        title=title,
    )
    fig.axes[1].set_xlabel("seconds since the drill began")
    return fig


def _ms(seconds) -> str:
    return "never" if seconds is None else f"{seconds * 1e3:.0f} ms"


def draw_compare(*, drills, bin_width: float = 0.1):
    """The same drill through several balancers: one row each, the victim's traffic and errors.

    Args:
        drills: a dict from label to :class:`halab.live.Drill` (from ``LiveCluster.compare``).
        bin_width: seconds per bar.
    """
    check_real("bin_width", bin_width, 0, 3600, lo_open=True, unit="seconds")
    check_drills(drills)
    fig, axes = rows_figure(drills, hspace=0.5)
    origin = min(d.start for d in drills.values())
    last = max(float(d.load.starts.max()) for d in drills.values())
    end = origin + max(1, int((last - origin) / bin_width)) * bin_width
    for ax, (label, drill) in zip(axes[:, 0], drills.items()):
        edges, per_backend, failures = drill.load.rates(bin_width=bin_width, end=end)
        keep = edges[:-1] >= origin - 1e-9
        x = edges[:-1][keep] - origin
        victim = per_backend.get(drill.name, np.zeros(len(edges) - 1))[keep]
        others = sum(
            (v[keep] for k, v in per_backend.items() if k != drill.name), np.zeros_like(victim)
        )
        ax.step(x, others, where="post", color="gray", label="the others answered")
        ax.step(x, victim, where="post", color="C0", lw=1.8, label=f"{drill.name} answered")
        ax.bar(
            x,
            failures[keep],
            width=bin_width,
            align="edge",
            color=plots.DOWN_COLOR,
            label="failed",
        )
        shifted = [e.shifted(origin) for e in drill.timeline]
        _marks(ax, shifted, drill.victim, start=0.0, end=end - origin, labels=True)
        plots.decorate(
            ax,
            title=f"{label}: {drill.failed} of {len(drill.load)} requests failed",
            ylabel="req / s",
            xlim=(0.0, end - origin),
            ylim=(0, max(1.0, float(others.max(initial=0)), float(failures.max(initial=0))) * 1.5),
            legend=False,
        )
    axes[0, 0].legend(fontsize=7, frameon=False, ncols=4, loc="upper left")
    axes[-1, 0].set_xlabel("seconds since the drill began")
    return fig


def draw_detection(
    *,
    inter: float = 0.2,
    fall: int = 2,
    rise: int = 2,
    check_time: float = 0.0,
    trials: int = 400,
    seed: int = 0,
):
    """How long health checks take to drop a dead backend and to readmit it: theory and model.

    Lines: the closed forms of ``halab.live.health`` (each delay is uniform between its
    bounds). Markers: the check loop simulated with HAProxy's counter over ``trials`` deaths
    and returns at random moments of the check cycle. Dotted: the lesson's bars,
    ``inter × fall + inter`` to stop traffic and ``inter × rise`` to readmit.
    """
    down, up = live_health.simulate_checks(
        inter, fall, rise, check_time=check_time, trials=trials, seed=seed
    )
    fig, axes = plots.figure(1, 2, width=plots.FIGSIZE[0] * 1.5, sharey=True)
    cases = (
        (
            "dead → DOWN",
            f"fall {fall}",
            down,
            live_health.detection_bounds(inter, fall, check_time),
            inter * fall + inter,
            "inter × fall + inter",
        ),
        (
            "back → UP",
            f"rise {rise}",
            up,
            live_health.readmission_bounds(inter, rise, check_time),
            inter * rise,
            "inter × rise",
        ),
    )
    right = max(max(c[3][1], c[4]) for c in cases) * 1.1
    q = np.linspace(0.02, 0.98, 25)
    for ax, (name, knob, delays, (low, high), bar, bar_name) in zip(axes, cases):
        x = np.linspace(0, right, 300)
        plots.theory_line(ax, x, np.clip((x - low) / (high - low), 0, 1), label="theory")
        plots.sim_points(ax, np.quantile(delays, q), q, label="check loop simulated", color="C0")
        plots.reference(ax, x=bar, label=f"bar: {bar_name} = {bar:.2g} s", color="C3")
        plots.decorate(
            ax,
            title=f"{name} ({knob}): between {low:.2g} and {high:.2g} s",
            xlabel="seconds after the death" if ax is axes[0] else "seconds after the return",
            ylabel="fraction of trials" if ax is axes[0] else "",
            xlim=(0, right),
            ylim=(0, 1.02),
            legend=False,
        )
        ax.legend(fontsize=8, frameon=False, loc="upper left")
    return fig


def detection_panel() -> Panel:
    """Lesson 06: sliders for inter, fall and rise move the detection and readmission times."""
    return Panel(
        draw_detection,
        {
            "inter": slider(0.2, 0.05, 2.0, 0.05, "inter (s)"),
            "fall": int_slider(2, 1, 6, "fall"),
            "rise": int_slider(2, 1, 6, "rise"),
            "check_time": slider(0.0, 0.0, 0.5, 0.01, "check takes (s)"),
        },
    )


def draw_detection_sweep(*, measured, fall: int = 2, rise: int = 2):
    """Live measurements of removal and readmission times against ``inter``, over the theory.

    Args:
        measured: a dict from ``inter`` (seconds) to an array of shape (trials, 2): seconds
            from kill to removal and from revive to readmission (``LiveCluster.detection_trials``).
        fall, rise: the thresholds the balancers used.
    """
    inters = np.array(sorted(measured), dtype=float)
    if inters.size == 0:
        raise ValueError("measured must hold at least one inter")
    fine = np.linspace(0, inters.max() * 1.1, 100)
    fig, axes = plots.figure(1, 2, width=plots.FIGSIZE[0] * 1.5, sharey=True)
    for ax, col, k, name, bounds in (
        (axes[0], 0, fall, "kill → out of rotation", live_health.detection_bounds),
        (axes[1], 1, rise, "revive → back in rotation", live_health.readmission_bounds),
    ):
        low = np.array([bounds(x, k)[0] if x > 0 else 0.0 for x in fine])
        high = np.array([bounds(x, k)[1] if x > 0 else 0.0 for x in fine])
        plots.band(ax, fine, low, high, label="theory: between the bounds")
        plots.theory_line(ax, fine, (low + high) / 2, label="theory: mean")
        xs = np.concatenate([np.full(len(measured[x]), x) for x in inters])
        ys = np.concatenate([np.asarray(measured[x])[:, col] for x in inters])
        plots.sim_points(ax, xs, ys, label="measured live", color="C3")
        plots.decorate(
            ax,
            title=f"{name} ({'fall' if col == 0 else 'rise'} {k})",
            xlabel="inter (s)",
            ylabel="seconds" if col == 0 else "",
        )
    return fig


class LivePanel:
    """Buttons on a running :class:`halab.live.LiveCluster`: kill, revive, slow, fail, heal,
    and steady load whose traffic is redrawn every second while it runs.

    Args:
        cluster: a started cluster (the panel does not own it).
        rate: requests per second of the load button.
        window: seconds of traffic shown.

    The handlers are plain methods (:meth:`act`, :meth:`start_load`, :meth:`stop_load`,
    :meth:`refresh`), so tests drive the panel without a browser.
    """

    ACTIONS = ("kill", "revive", "slow", "fail", "heal")

    def __init__(self, cluster, *, rate: float = 50.0, window: float = 10.0) -> None:
        from halab.live import LiveCluster

        check_instance("cluster", cluster, LiveCluster)
        rate = check_real("rate", rate, 0, 100_000, lo_open=True, unit="requests per second")
        window = check_real("window", window, 0, 3600, lo_open=True, unit="seconds")
        self.cluster = cluster
        self.rate = rate
        self.window = window
        self.generator = None
        self.figure = None
        self.png = b""
        self._stop = None
        self._thread = None
        self.message = w.HTML(value="")
        self.output = w.Output()
        rows = []
        for i, name in enumerate(cluster.names):
            buttons = []
            for action in self.ACTIONS:
                label = {"slow": "slow +0.5 s", "fail": "fail 50%"}.get(action, action)
                b = w.Button(description=f"{label} {name}", layout=w.Layout(width="auto"))
                b.on_click(lambda _b, a=action, i=i: self.act(a, i))
                buttons.append(b)
            rows.append(w.HBox(buttons))
        self.load_button = w.ToggleButton(value=False, description=f"steady load {rate:g}/s")
        self.load_button.observe(self._toggled, names="value")
        self.widget = w.VBox([*rows, w.HBox([self.load_button, self.message]), self.output])

    def act(self, action: str, i: int) -> None:
        """Do ``action`` (one of :attr:`ACTIONS`) to backend ``i``; report in the message line."""
        if action not in self.ACTIONS:
            raise ValueError(f"action must be one of {self.ACTIONS}, got {action!r}")
        c = self.cluster
        try:
            if action == "kill":
                done = c.kill(i)
            elif action == "revive":
                done = c.revive(i)
            elif action == "slow":
                c.slow(i, 0.5)
                done = True
            elif action == "fail":
                c.fail(i, 0.5)
                done = True
            else:
                c.heal(i)
                done = True
            self.message.value = f"{action} b{i}" + ("" if done else ": nothing to do")
        except (RuntimeError, ValueError) as error:
            self.message.value = f"⚠ {error}"

    def _toggled(self, change) -> None:
        if change["new"]:
            self.start_load()
        else:
            self.stop_load()

    def start_load(self) -> None:
        """Start steady load (at most 10 minutes) and redraw every second while it runs."""
        import threading

        from halab.live import LoadGenerator

        if self.generator is not None:
            return
        self.generator = LoadGenerator(
            self.cluster.url, rate=self.rate, duration=600.0, t0=self.cluster.t0, timeout=2.0
        ).start()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._redraw_loop, name="halab-panel", daemon=True)
        self._thread.start()

    def stop_load(self) -> None:
        """Stop the load and the redrawing; draw once more."""
        if self._stop is not None:
            self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self.generator is not None:
            self.generator.stop()
        self.refresh()
        self.generator, self._thread, self._stop = None, None, None
        if self.load_button.value:
            self.load_button.value = False

    def _redraw_loop(self) -> None:
        while not self._stop.wait(1.0):
            self.refresh()

    def refresh(self) -> None:
        """Redraw the last ``window`` seconds of traffic and events."""
        if self.generator is None:
            return
        load = self.generator.result()
        now = self.cluster.now()
        start = max(0.0, now - self.window)
        fig = draw_traffic(
            load=load,
            timeline=self.cluster.timeline,
            backend=None,
            start=start,
            end=now,
            title=f"last {self.window:g} s: {load.failed} of {len(load)} requests failed",
        )
        top = fig.axes[0]
        for e in self.cluster.timeline:
            if e.kind in LIVE_MARKS and start <= e.t <= now:
                color, style, _ = LIVE_MARKS[e.kind]
                top.axvline(e.t, color=color, linestyle=style, linewidth=1.2)
                top.text(
                    e.t,
                    top.get_ylim()[1],
                    f"{e.kind} b{e.backend}",
                    fontsize=7,
                    rotation=90,
                    va="top",
                    ha="right",
                    color=color,
                )
        plt.close(fig)
        self.figure, self.png = fig, render_png(fig)
        if get_ipython() is not None:
            self.output.clear_output(wait=True)
            self.output.append_display_data(Image(data=self.png, format="png", retina=True))

    def close(self) -> None:
        """Stop everything the panel started."""
        self.stop_load()

    def _ipython_display_(self) -> None:
        display(self.widget)


def live_panel(cluster, *, rate: float = 50.0) -> LivePanel:
    """Lesson 06: kill and revive buttons on a running cluster, with its traffic redrawn live."""
    return LivePanel(cluster, rate=rate)


RETRY_P = (0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 0.95, 1.0)  # bottom failure rates simulated


def draw_retries(
    *, tries: int = 3, layers: int = 3, budget: float = 0.2, requests: int = 4000, seed: int = 0
):
    """Attempts that reach the bottom of a chain of retrying layers, per request.

    Lines: :func:`halab.retries.bottom_attempts` (no budget, exact for independent failures)
    and :func:`halab.retries.budget_bound` (the cap a retry budget puts on it); markers:
    :func:`halab.retries.simulate_retries` with and without the budget.
    """
    from halab import retries as rt

    fig, ax = plots.figure()
    fine = np.linspace(0.0, 1.0, 101)
    plots.theory_line(
        ax,
        fine,
        [rt.bottom_attempts(p, tries, layers) for p in fine],
        label=f"no budget: {layers} layers × {tries} tries",
        color="C3",
    )
    plots.reference(
        ax,
        rt.budget_bound(budget, layers),
        label=f"budget {budget:.0%}: at most (1 + r)^{layers}",
        color="C0",
    )
    for k, (ratio, color, label) in enumerate(
        ((None, "C3", "simulated, no budget"), (budget, "C0", "simulated, with budget"))
    ):
        sim = [
            rt.simulate_retries(p, tries, layers, budget=ratio, requests=requests, seed=seed + k)[0]
            for p in RETRY_P
        ]
        plots.sim_points(ax, RETRY_P, sim, label=label, color=color)
    plots.decorate(
        ax,
        title="Retries multiply across layers; a budget caps them",
        xlabel="chance that one attempt at the bottom fails",
        ylabel="attempts at the bottom per request",
        yscale="log",
    )
    return fig
