"""Lesson 04, failure detection: its drawing functions and slider panels."""

from __future__ import annotations

import functools

import numpy as np

from halab import detection as det
from halab import plots
from halab.checks import check_int, check_real
from halab.widgets.core import Panel, int_slider, slider

FD_DELAY = 0.05  # mean one-way network delay of the lesson's link, seconds
FD_WINDOW = 60.0  # seconds of heartbeats shown by draw_heartbeats
FD_SUSPECT = "#c0392b"  # shading of a suspicion


def _phi_detector(interval: float, threshold: float, pause: float = 0.0, window: int = 1000):
    """Akka's φ detector scaled to ``interval``: minimum deviation interval/10 (Akka: 100 ms
    for 1 s heartbeats), first estimate = interval, ``pause`` of acceptable heartbeat pause."""
    return det.PhiAccrualDetector(
        threshold=threshold,
        max_sample_size=window,
        min_std_deviation=interval / 10,
        acceptable_heartbeat_pause=pause,
        first_heartbeat_estimate=interval,
    )


def _shade(ax, sus, end: float, label: str | None = None) -> None:
    """Shade each suspicion of ``sus`` (a detection.Suspicions) inside [0, end]."""
    for i, (a, b) in enumerate(zip(sus.start, sus.stop)):
        if a < end:
            ax.axvspan(
                a, min(b, end), color=FD_SUSPECT, alpha=0.18, lw=0, label=label if i == 0 else None
            )


def _outcome(sus, crash_at: float, end: float) -> tuple[int, float | None]:
    """(wrong suspicions, detection time) of a run that crashed at ``crash_at``."""
    wrong = int(np.sum(sus.stop < end) + np.sum((sus.start < crash_at) & (sus.stop >= end)))
    final = sus.deadlines[-1] if len(sus.deadlines) else np.inf
    return wrong, (max(0.0, final - crash_at) if final <= end else None)


def draw_heartbeats(
    *,
    interval: float = 1.0,
    loss: float = 0.05,
    jitter: float = 0.05,
    k: int = 3,
    threshold: float = 8.0,
    crash_at: float = 45.3,
    seed: int = 0,
):
    """A minute of heartbeats, what a fixed timeout and φ make of them, and a crash.

    Top: seconds since the last heartbeat arrived (the sawtooth) against the k-missed timeout
    (k + ½)·interval. Bottom: φ against its threshold. Shaded: suspicion. Ticks at the bottom
    of each axes: arrivals. The link has a lognormal delay, mean 50 ms, standard deviation
    ``jitter``; each heartbeat is lost with probability ``loss``; p crashes at ``crash_at``.
    φ is Akka's detector with no acceptable pause and a minimum deviation of interval/10.
    """
    check_real("threshold", threshold, 0, 100, lo_open=True)
    run = det.simulate_heartbeats(
        interval=interval,
        duration=FD_WINDOW,
        delay=FD_DELAY,
        jitter=jitter,
        dist="lognormal",
        loss=loss,
        crash_at=crash_at,
        seed=seed,
    )
    fixed = det.FixedTimeoutDetector.k_missed(k, interval)
    phi_fd = _phi_detector(interval, threshold)
    t = np.linspace(0.0, FD_WINDOW, 1201)
    fig, (top, bottom) = plots.figure(2, 1, height=5.6, sharex=True)
    for ax, detector, name in ((top, fixed, "fixed timeout"), (bottom, phi_fd, "φ")):
        sus = det.replay(detector, run.arrivals)
        _shade(ax, sus, FD_WINDOW, label="suspected")
        wrong, td = _outcome(sus, crash_at, FD_WINDOW)
        level = det.timeline(detector, run.arrivals, t)
        if detector is fixed:
            plots.theory_line(
                ax, t, level * fixed.timeout, label="since last beat", color="C0", linewidth=1.2
            )
            plots.reference(ax, fixed.timeout, label=f"timeout {fixed.timeout:.3g} s", color="k")
            ylim = (0, 2.0 * fixed.timeout)
        else:
            plots.theory_line(
                ax, t, np.minimum(level, 3 * threshold), label="φ", color="C1", linewidth=1.2
            )
            plots.reference(ax, threshold, label=f"threshold {threshold:g}", color="k")
            ylim = (0, 2.2 * threshold)
        ax.plot(
            run.arrivals,
            np.full(len(run.arrivals), ylim[1] * 0.03),
            "|",
            color="0.3",
            markersize=6,
            label="arrivals",
        )
        plots.reference(ax, x=crash_at, label="crash", color=FD_SUSPECT)
        found = "not detected in the window" if td is None else f"detected after {td:.2f} s"
        plots.decorate(
            ax,
            title=f"{name}: {wrong} wrong suspicion(s); crash {found}",
            ylabel="seconds" if detector is fixed else "φ",
            ylim=ylim,
            xlim=(0, FD_WINDOW),
            legend=False,
        )
        ax.legend(loc="upper left", ncol=3, fontsize=7, frameon=False)
    bottom.set_xlabel("time (s)")
    return fig


def heartbeats_panel() -> Panel:
    """Lesson 04: interval, loss, jitter, the timeout and the φ threshold on a minute of beats."""
    return Panel(
        draw_heartbeats,
        {
            "interval": slider(1.0, 0.2, 3.0, 0.1, "interval (s)"),
            "loss": slider(0.05, 0.0, 0.5, 0.01, "loss"),
            "jitter": slider(0.05, 0.0, 0.5, 0.01, "jitter (s)"),
            "k": int_slider(3, 1, 8, "k missed"),
            "threshold": slider(8.0, 0.5, 16.0, 0.5, "φ threshold"),
            "seed": int_slider(0, 0, 20, "seed"),
        },
    )


@functools.lru_cache(maxsize=64)
def _qos_data(interval: float, loss: float, delay: float, beats: int, seed: int):
    """Closed forms and a simulated sweep of the k-missed detector, remembered by arguments."""
    run = det.simulate_heartbeats(
        interval=interval, duration=beats * interval, delay=delay, loss=loss, seed=seed
    )
    detectors = [det.FixedTimeoutDetector.k_missed(int(k), interval) for k in QOS_KS]
    got = det.sweep(run, detectors, crashes=200, seed=seed)
    theory = [det.k_missed_qos(interval, d.timeout, delay, loss) for d in detectors]
    return theory, got


QOS_KS = np.arange(1, 9)  # k, the missed beats of draw_qos


def draw_qos(
    *,
    interval: float = 1.0,
    loss: float = 0.1,
    delay: float = FD_DELAY,
    beats: int = 12_000,
    seed: int = 0,
    fig=None,
):
    """The k-missed detector's QoS: closed forms (lines) beside a simulation (markers).

    Left: wrong suspicions per hour. Right: mean detection time and its upper bound T + d.
    Constant delay ``delay``, independent loss; ``beats`` heartbeats are simulated and
    200 crash times tried for each k. ``fig``: a figure this function drew before, updated
    in place (a panel's).
    """
    plots.check_figure(fig)
    check_real("delay", delay, 0, 60, unit="seconds")
    beats = check_int("beats", beats, 10, 10**6)
    interval = check_real("interval", interval, 0, 60, lo_open=True, unit="seconds")
    ks = QOS_KS
    theory, got = _qos_data(float(interval), float(loss), float(delay), int(beats), int(seed))
    positive = lambda v: np.where(np.asarray(v) > 0, v, np.nan)  # noqa: E731 (log axis)
    if fig is None:
        fig, (left, right) = plots.figure(1, 2, width=8.0)
        plots.theory_line(left, ks, ks * np.nan, label="closed form")
        plots.sim_points(left, ks, ks * np.nan, label="simulated")
        left.set_yscale("log")
        plots.decorate(
            left, xlabel="k, missed beats", ylabel="per hour", xlim=(ks[0] - 0.5, ks[-1] + 0.5)
        )
        plots.plain_log_ticks(left.yaxis)
        left.text(
            0.5,
            0.5,
            "no loss, constant delay:\nno wrong suspicions",
            ha="center",
            va="center",
            transform=left.transAxes,
            visible=False,
        )
        plots.theory_line(right, ks, ks * 0.0, label="E(T_D), closed form")
        plots.sim_points(right, ks, ks * 0.0, label="mean T_D, simulated")
        plots.theory_line(right, ks, ks * 0.0, label="max T_D = T + d", linestyle=":", color="gray")
        plots.decorate(right, xlabel="k, missed beats", ylabel="seconds")
        for ax in (left, right):
            ax.set_title(" ", fontsize=11, y=1.0)  # a fixed height: no layout pass per move
    left, right = fig.axes
    line, points = left.get_lines()
    line.set_ydata(positive([q.mistakes_per_hour for q in theory]))
    points.set_ydata(positive([q.mistakes_per_hour for q in got]))
    points.set_label(f"simulated, {beats * interval / 3600:.3g} h")
    left.legend(fontsize=8, frameon=False)
    left.texts[0].set_visible(loss == 0)  # nothing on the log axis: say so
    left.title.set_text(f"Wrong suspicions, loss {loss:.0%}")
    mean_td, sim_td, max_td = right.get_lines()
    mean_td.set_ydata([q.detection_time for q in theory])
    sim_td.set_ydata([q.detection_time for q in got])
    max_td.set_ydata([q.detection_time_max for q in theory])
    right.title.set_text(f"Detection time, interval {interval:g} s")
    for ax in (left, right):
        ax.relim()
        ax.autoscale_view(scalex=False)
    return fig


def qos_panel() -> Panel:
    """Lesson 04: loss and interval against the k-missed detector's QoS."""
    return Panel(
        draw_qos,
        {
            "loss": slider(0.1, 0.0, 0.5, 0.01, "loss"),
            "interval": slider(1.0, 0.2, 3.0, 0.1, "interval (s)"),
            "seed": int_slider(0, 0, 20, "seed"),
        },
    )


FD_TIMEOUTS = (1.25, 1.5, 1.75, 2.25, 2.5, 2.75, 3.5, 4.5, 5.5, 7.5)  # × interval, no ties
FD_THRESHOLDS = (0.5, 1.0, 2.0, 4.0, 6.0, 8.0, 12.0, 16.0)


@functools.lru_cache(maxsize=64)
def _tradeoff_data(loss: float, jitter: float, interval: float, beats: int, seed: int):
    """The closed form and the three measured curves of draw_tradeoff, remembered."""
    run = det.simulate_heartbeats(
        interval=interval,
        duration=beats * interval,
        delay=FD_DELAY,
        jitter=jitter,
        dist="lognormal",
        loss=loss,
        seed=seed,
    )
    curves = [
        [det.FixedTimeoutDetector(m * interval) for m in FD_TIMEOUTS],
        [_phi_detector(interval, th) for th in FD_THRESHOLDS],
        [_phi_detector(interval, th, pause=2 * interval) for th in FD_THRESHOLDS],
    ]
    theory = [det.k_missed_qos(interval, m * interval, FD_DELAY, loss) for m in FD_TIMEOUTS]
    return theory, [det.sweep(run, detectors, seed=seed) for detectors in curves]


def draw_tradeoff(
    *,
    loss: float = 0.01,
    jitter: float = 0.1,
    interval: float = 1.0,
    beats: int = 5000,
    seed: int = 0,
    fig=None,
):
    """Detection time against wrong suspicions per hour: fixed timeouts and φ thresholds.

    Each marker is one setting measured on the same simulated link (lognormal delay, mean
    50 ms, standard deviation ``jitter``; loss ``loss``): fixed timeouts of 1.25 to 7.5
    intervals, φ thresholds of 0.5 to 16 with no acceptable pause and with a pause of two
    intervals. The dashed line is the fixed timeout's closed form for a constant delay: the
    gap between it and the markers is what the jitter costs; it leaves the axes at the bottom
    where it predicts fewer mistakes than the run could show. Lower left is better; settings
    that made no mistake in the run sit on the dotted floor. ``fig``: a figure this function
    drew before, updated in place (a panel's).
    """
    plots.check_figure(fig)
    check_real("jitter", jitter, 0, 60, unit="seconds")
    check_real("loss", loss, 0, 1, hi_open=True)
    check_real("interval", interval, 0, 60, lo_open=True, unit="seconds")
    check_int("beats", beats, 10, 10**6)
    check_int("seed", seed, 0, None)
    theory, measured = _tradeoff_data(
        float(loss), float(jitter), float(interval), int(beats), int(seed)
    )
    hours = beats * interval / 3600
    floor = 0.5 / hours  # where "none seen" is drawn: half of one mistake in the run
    names = ("fixed timeout", "φ, no pause", f"φ, pause {2 * interval:g} s")
    if fig is None:
        fig, ax = plots.figure()
        nothing = [np.nan] * len(FD_TIMEOUTS)
        plots.theory_line(
            ax, nothing, nothing, label="fixed, closed form (no jitter)", color="C0", ls="--"
        )
        for name, color in zip(names, ("C0", "C1", "C2")):
            plots.sim_points(ax, nothing, nothing, label=name, color=color)
        plots.reference(ax, floor, label="none seen in the run")
        ax.set_yscale("log")
        plots.decorate(ax, xlabel="mean detection time (s)", ylabel="wrong suspicions per hour")
        plots.plain_log_ticks(ax.yaxis)
        ax.set_title(" ", fontsize=11, y=1.0)  # a fixed height: no layout pass per move
    ax = fig.axes[0]
    line, *curves, level = ax.get_lines()
    line.set_data(
        [q.detection_time for q in theory],
        [max(q.mistakes_per_hour, floor / 10) for q in theory],  # leaves through the bottom
    )
    for points, qs in zip(curves, measured):
        points.set_data(
            [q.detection_time for q in qs], [max(q.mistakes_per_hour, floor) for q in qs]
        )
    level.set_ydata([floor, floor])
    ax.title.set_text(f"Jitter {jitter:g} s, loss {loss:.0%}, {hours:.3g} h simulated")
    ax.relim()
    ax.autoscale_view()
    ax.set_ylim(bottom=floor / 2)  # the closed form goes on falling below the floor
    return fig


def tradeoff_panel() -> Panel:
    """Lesson 04: the detection-time / mistake-rate curve under different networks."""
    return Panel(
        draw_tradeoff,
        {
            "jitter": slider(0.1, 0.0, 0.5, 0.01, "jitter (s)"),
            "loss": slider(0.01, 0.0, 0.3, 0.01, "loss"),
            "seed": int_slider(0, 0, 20, "seed"),
        },
    )


def draw_adaptation(
    *,
    jitter_after: float = 0.25,
    k: int = 1,
    threshold: float = 8.0,
    window: int = 1000,
    seed: int = 0,
):
    """A link that turns noisy after 10 minutes: the fixed timeout stays, φ stretches.

    Grey dots: the gap between consecutive heartbeats (1 s beats, normal delay of mean
    0.5 s, standard deviation 5 ms, then ``jitter_after``). Lines: how long each detector
    would now wait after a heartbeat before suspecting. Ticks at the top: wrong suspicions.
    """
    check_real("jitter_after", jitter_after, 0, 60, unit="seconds")
    check_real("threshold", threshold, 0, 100, lo_open=True)
    change, end = 600.0, 1800.0
    run = det.simulate_heartbeats(
        interval=1.0,
        duration=end,
        delay=0.5,
        jitter=0.005,
        jitter_changes=[(change, jitter_after)],
        seed=seed,
    )
    fixed = det.FixedTimeoutDetector.k_missed(k, 1.0)
    phi_fd = _phi_detector(1.0, threshold, window=window)
    fig, ax = plots.figure()
    minutes = run.arrivals / 60
    gaps = np.diff(run.arrivals)
    ax.plot(minutes[1:], gaps, ".", color="0.6", markersize=2, label="gap between heartbeats")
    counts = []
    replays = [det.replay(d, run.arrivals) for d in (fixed, phi_fd)]
    settled = run.arrivals > 60.0  # φ's first estimates are wild; keep its later waits in view
    longest = max(float(np.max((s.deadlines - run.arrivals)[settled])) for s in replays)
    top = max(float(gaps.max()), fixed.timeout, longest) * 1.15
    for sus, name, color, row in zip(replays, ("fixed", "φ"), ("C0", "C1"), (0.97, 0.92)):
        waits = sus.deadlines - run.arrivals
        plots.theory_line(
            ax, minutes, waits, label=f"{name}: wait before suspecting", color=color, linewidth=1.4
        )
        inside = sus.start < end
        ax.plot(
            sus.start[inside] / 60,
            np.full(int(inside.sum()), top * row),
            "|",
            color=color,
            markersize=8,
        )
        counts.append(int(np.sum(inside & (sus.start >= change))))
    plots.reference(ax, x=change / 60, label="link turns noisy")
    plots.decorate(
        ax,
        title=f"After the change: fixed {counts[0]}, φ {counts[1]} wrong suspicions (ticks)",
        xlabel="time (min)",
        ylabel="seconds",
        ylim=(0, top),
    )
    return fig


def adaptation_panel() -> Panel:
    """Lesson 04: how the φ detector adapts to a noisier link, and how fast."""
    return Panel(
        draw_adaptation,
        {
            "jitter_after": slider(0.25, 0.0, 0.4, 0.01, "jitter after (s)"),
            "k": int_slider(1, 1, 5, "k missed"),
            "threshold": slider(8.0, 1.0, 16.0, 0.5, "φ threshold"),
            "window": int_slider(1000, 50, 1000, "φ window", step=50),
            "seed": int_slider(0, 0, 20, "seed"),
        },
    )


def draw_gc_pause(
    *,
    pause: float = 4.0,
    acceptable_pause: float = 3.0,
    threshold: float = 8.0,
    k: int = 3,
    seed: int = 0,
):
    """One long stall of the sender (a stop-the-world garbage collection) at t = 60.3 s.

    Top: seconds since the last heartbeat against the k-missed timeout. Bottom: φ with no
    acceptable pause and with ``acceptable_pause`` (Akka's ``acceptable-heartbeat-pause``),
    against the threshold. Shaded: suspicion (top: fixed; bottom: φ without the pause).
    """
    check_real("pause", pause, 0, 3600, unit="seconds")
    check_real("acceptable_pause", acceptable_pause, 0, 3600, unit="seconds")
    check_real("threshold", threshold, 0, 100, lo_open=True)
    start, end = 60.3, 120.0
    run = det.simulate_heartbeats(
        interval=1.0, duration=end, delay=FD_DELAY, jitter=0.01, pauses=[(start, pause)], seed=seed
    )
    t = np.linspace(0, end, 1201)
    fixed = det.FixedTimeoutDetector.k_missed(k, 1.0)
    plain = _phi_detector(1.0, threshold)
    lenient = _phi_detector(1.0, threshold, pause=acceptable_pause)
    fig, (top, bottom) = plots.figure(2, 1, height=5.4, sharex=True)
    sus = det.replay(fixed, run.arrivals)
    _shade(top, sus, end, label="suspected")
    plots.theory_line(
        top,
        t,
        det.timeline(fixed, run.arrivals, t) * fixed.timeout,
        label="since last heartbeat",
        color="C0",
        linewidth=1.2,
    )
    plots.reference(top, fixed.timeout, label=f"timeout {fixed.timeout:g} s", color="k")
    plots.decorate(
        top,
        title=f"A {pause:g} s stall: the fixed timeout suspected "
        f"{int(np.sum(sus.start < end))} time(s)",
        ylabel="seconds",
        ylim=(0, max(pause + 1.5, fixed.timeout) * 1.2),
    )
    results = []
    for d, name, color in (
        (plain, "φ, no pause", "C1"),
        (lenient, f"φ, pause {acceptable_pause:g} s", "C2"),
    ):
        s = det.replay(d, run.arrivals)
        if d is plain:
            _shade(bottom, s, end, label="suspected (no pause)")
        plots.theory_line(
            bottom,
            t,
            np.minimum(det.timeline(d, run.arrivals, t), 3 * threshold),
            label=name,
            color=color,
            linewidth=1.2,
        )
        results.append(int(np.sum(s.start < end)))
    plots.reference(bottom, threshold, label=f"threshold {threshold:g}", color="k")
    for ax in (top, bottom):
        plots.reference(ax, x=start, color="gray")
    plots.decorate(
        bottom,
        title=f"φ suspected {results[0]} time(s) without the pause, {results[1]} with it",
        xlabel="time (s)",
        ylabel="φ",
        ylim=(0, 2 * threshold),
        xlim=(0, end),
    )
    return fig


def gc_pause_panel() -> Panel:
    """Lesson 04: a garbage-collection stall against the timeout and φ's acceptable pause."""
    return Panel(
        draw_gc_pause,
        {
            "pause": slider(4.0, 0.0, 10.0, 0.5, "stall (s)"),
            "acceptable_pause": slider(3.0, 0.0, 10.0, 0.5, "acceptable pause (s)"),
            "threshold": slider(8.0, 1.0, 16.0, 0.5, "φ threshold"),
            "k": int_slider(3, 1, 10, "k missed"),
        },
    )


def draw_settings(
    *,
    inter: float = 2.0,
    fall: int = 3,
    period_seconds: int = 10,
    failure_threshold: int = 3,
    tick_time: float = 2.0,
    session_timeout: float = 40.0,
):
    """Real settings, read as detection times: best to worst case of four systems.

    HAProxy (inter, fall; check timeout = inter), a Kubernetes probe (periodSeconds,
    failureThreshold, timeoutSeconds 1), ZooKeeper (tickTime, the session timeout asked for)
    and Akka Cluster's φ defaults. Each bar runs from the best case to the worst.
    """
    check_real("inter", inter, 0, 3600, lo_open=True, unit="seconds")
    check_real("tick_time", tick_time, 0, 3600, lo_open=True, unit="seconds")
    check_real("session_timeout", session_timeout, 0, 86_400, lo_open=True, unit="seconds")
    rows = [
        det.haproxy_detection(inter=inter, fall=fall),
        det.kubernetes_detection(
            period_seconds=period_seconds, failure_threshold=failure_threshold
        ),
        det.zookeeper_detection(tick_time=tick_time, session_timeout=session_timeout),
        det.akka_detection(),
    ]
    labels = [s.system for s in rows]
    negotiated = rows[2].worst_case - tick_time  # the server's clamp of the asked timeout
    title = "From failure to detection: best case to worst case"
    if abs(negotiated - session_timeout) > 1e-9:  # ZK gives another timeout than asked
        bound = "20 × tickTime" if negotiated < session_timeout else "2 × tickTime"
        labels[2] = f"ZooKeeper\n(asked {session_timeout:g} s,\ngets {negotiated:g} s)"
        title += f"\nZooKeeper caps the session at {bound} = {negotiated:g} s"
    fig, ax = plots.figure(margins={"left": 0.2, "top": 0.84})
    y = np.arange(len(rows))[::-1]
    for yi, s, color in zip(y, rows, ("C0", "C1", "C2", "C3")):
        ax.barh(
            yi, s.worst_case - s.best_case, left=s.best_case, height=0.5, color=color, alpha=0.7
        )
        ax.text(s.worst_case, yi, f"  {s.worst_case:.3g} s", va="center", fontsize=9)
    ax.set_yticks(y, labels)
    right = max(s.worst_case for s in rows) * 1.25
    plots.decorate(
        ax,
        title=title,
        xlabel="seconds",
        xlim=(0, right),
    )
    return fig


def settings_panel() -> Panel:
    """Lesson 04: the calculator, HAProxy, Kubernetes and ZooKeeper settings side by side."""
    return Panel(
        draw_settings,
        {
            "inter": slider(2.0, 0.5, 30.0, 0.5, "HAProxy inter (s)"),
            "fall": int_slider(3, 1, 10, "HAProxy fall"),
            "period_seconds": int_slider(10, 1, 60, "k8s periodSeconds"),
            "failure_threshold": int_slider(3, 1, 10, "k8s failureThreshold"),
            "tick_time": slider(2.0, 0.5, 10.0, 0.5, "ZK tickTime (s)"),
            "session_timeout": slider(40.0, 1.0, 200.0, 1.0, "ZK session timeout (s)"),
        },
    )
