"""Lesson 08, automatic recovery: its drawing functions and slider panels."""

from __future__ import annotations

import functools

import numpy as np

from halab import plots
from halab.checks import check_int, check_real, make_rng
from halab.widgets.core import Panel, choice, int_slider, slider
from halab.widgets.lesson01 import HOURS_PER_YEAR

SECONDS_PER_HOUR = 3600.0


def draw_backoff(
    *,
    jitter: str = "full",
    base: float = 10.0,
    cap: float = 300.0,
    clients: int = 200,
    attempts: int = 10,
    seed: int = 0,
):
    """Backoff waits per attempt, and when the retries of many clients that failed together land.

    Top: the capped ceiling ``min(cap, base * 2**n)`` (line), the jitter's mean and bounds,
    and the waits of 30 of the clients (markers). Bottom: retries per 1-second bin when
    ``clients`` clients all failed at time 0 and retry ``attempts`` times each.
    """
    from halab import recovery as rc

    check_real("base", base, 0, 3600, lo_open=True, unit="seconds")
    check_real("cap", cap, base, 86_400, unit="seconds")
    check_int("clients", clients, 1, 100_000)
    check_int("attempts", attempts, 1, 100)
    rng = make_rng(seed)
    waits = np.array(
        [
            rc.backoff_schedule(attempts, base=base, cap=cap, jitter=jitter, rng=rng)
            for _ in range(clients)
        ]
    )
    n = np.arange(attempts)
    ceiling = rc.backoff_schedule(attempts, base=base, cap=cap)
    fig, (top, bottom) = plots.figure(2, 1, height=5.6)
    shown = min(clients, 30)
    x = np.repeat(n, shown) + np.tile(np.linspace(-0.25, 0.25, shown), attempts)
    plots.sim_points(
        top, x, waits[:shown].T.ravel(), label=f"{shown} clients' waits", markersize=2.5
    )
    plots.theory_line(top, n, ceiling, label="min(cap, base·2ⁿ)")
    if jitter in ("full", "equal"):
        m1 = rc.BackoffPolicy(base=base, cap=cap, jitter=jitter).jitter_moments()[0]
        plots.theory_line(
            top, n, m1 * ceiling, label=f"mean, {m1:g} × ceiling", linestyle="--", color="C1"
        )
    plots.reference(top, cap, label=f"cap {cap:g} s")
    plots.decorate(
        top,
        title=f"{'no' if jitter == 'none' else jitter} jitter: base {base:g} s, cap {cap:g} s",
        xlabel="attempt n",
        ylabel="wait (s)",
        ylim=(0, cap * 1.12),
    )
    times = np.cumsum(waits, axis=1).ravel()
    horizon = float(np.cumsum(ceiling)[-1]) * 1.05
    counts, edges = np.histogram(times, bins=np.arange(0.0, horizon + 1.0, 1.0))
    bottom.plot(edges[:-1], counts, drawstyle="steps-post", color="C0", lw=1.0, label="retries")
    plots.reference(bottom, clients, label=f"all {clients} clients at once")
    plots.decorate(
        bottom,
        title=f"busiest second: {counts.max()} of {clients} clients retry together",
        xlabel="seconds since they all failed",
        ylabel="retries per second",
        ylim=(0, clients * 1.35),
        legend=False,
    )
    bottom.set_yticks(np.linspace(0, clients, 5))  # the room above holds the legend, not data
    bottom.legend(fontsize=8, frameon=False, ncol=2, loc="upper center")
    return fig


def backoff_panel() -> Panel:
    """Lesson 08: backoff with a cap and jitter, one client and a crowd."""
    from halab import recovery as rc

    return Panel(
        draw_backoff,
        {
            "jitter": choice("full", list(rc.JITTERS), "jitter"),
            "base": slider(10, 1, 60, 1, "base (s)"),
            "cap": slider(300, 60, 600, 10, "cap (s)"),
            "seed": int_slider(0, 0, 20, "seed"),
        },
    )


def crash_loop_theory(run_time: float, hours: float, jitter: str = "none"):
    """The kubelet's restarts of a worker that crashes ``run_time`` s after each start.

    Closed form of the mean: restart k comes ``run_time`` plus the k-th mean backoff wait
    after the one before; the first wait is 0, then ``m * min(300, 10 * 2**n)`` (``m`` the
    jitter's mean fraction), or 0 every time when the worker outlives the 600 s reset.
    Returns (restart times in seconds, waits).
    """
    from halab import recovery as rc

    policy = rc.BackoffPolicy(jitter=jitter)
    run_time = check_real("run_time", run_time, 0, 86_400, unit="seconds")
    hours = check_real("hours", hours, 0, 24 * 365, lo_open=True)
    count = int(hours * SECONDS_PER_HOUR / max(run_time, 1.0)) + 2
    if run_time > policy.reset_after:
        waits = np.zeros(count)
    else:
        m1 = policy.jitter_moments()[0]
        waits = np.concatenate([[0.0], m1 * rc.backoff_schedule(count - 1)])
    times = np.cumsum(run_time + waits)
    keep = times <= hours * SECONDS_PER_HOUR
    return times[keep], waits[keep]


def draw_crash_loop(
    *, run_time: float = 0.0, hours: float = 2.0, jitter: str = "none", seed: int = 0
):
    """A crash loop under the kubelet's backoff: restarts so far, and the time between them."""
    from halab import recovery as rc

    policy = rc.BackoffPolicy(jitter=jitter)
    loop = rc.crash_loop(hours * SECONDS_PER_HOUR, run_time=run_time, policy=policy, seed=seed)
    t_theory, w_theory = crash_loop_theory(run_time, hours, jitter)
    fig, (top, bottom) = plots.figure(2, 1, height=5.6)
    k = np.arange(1, len(loop.restarts) + 1)
    plots.theory_line(
        top,
        np.r_[0.0, t_theory] / SECONDS_PER_HOUR,
        np.arange(len(t_theory) + 1),
        label="theory (mean waits)",
        drawstyle="steps-post",
    )
    plots.sim_points(top, loop.restarts / SECONDS_PER_HOUR, k, label="simulated restarts")
    plots.decorate(
        top,
        title=f"crashes {run_time:g} s after each start: {len(loop.restarts)} restarts "
        f"in {hours:g} h",
        xlabel="hours",
        ylabel="RESTARTS",
        xlim=(0, hours),
    )
    gaps = run_time + loop.delays
    plots.theory_line(bottom, np.arange(1, len(w_theory) + 1), run_time + w_theory, label="theory")
    plots.sim_points(bottom, k, gaps, label="simulated")
    plots.reference(bottom, run_time + policy.cap, label=f"run + cap = {run_time + policy.cap:g} s")
    plots.decorate(
        bottom,
        xlabel="restart number",
        ylabel="time between restarts (s)",
        ylim=(0, (run_time + policy.cap) * 1.15),
    )
    return fig


def crash_loop_panel() -> Panel:
    """Lesson 08: a worker that crashes soon after every start, under the kubelet."""
    return Panel(
        draw_crash_loop,
        {
            "run_time": slider(0, 0, 900, 30, "runs before crash (s)"),
            "hours": slider(2, 1, 12, 1, "hours"),
            "jitter": choice("none", ["none", "full", "equal"], "jitter"),
            "seed": int_slider(0, 0, 20, "seed"),
        },
    )


MTTR_COLORS = {
    "detection": "C0",
    "decision": "C4",
    "backoff": "C5",
    "restart": "C1",
    "warm-up": "C2",
}


@functools.lru_cache(maxsize=64)
def _supervised(mttf: float, recovery, workers: int, seed: int):
    """A year of ``recovery.simulate_supervised``, remembered by its arguments."""
    from halab import recovery as rc

    return rc.simulate_supervised(mttf, recovery, horizon=rc.YEAR, workers=workers, seed=seed)


def draw_mttr(
    *,
    mttf_hours: float = 24.0,
    probe_period: float = 10.0,
    decision: float = 1.0,
    restart: float = 5.0,
    warm_up: float = 60.0,
    workers: int = 16,
    seed: int = 0,
    fig=None,
):
    """MTTR = detection + decision + backoff + restart + warm-up, and the downtime it makes.

    Top: the mean of each step, seconds. Bottom: each simulated worker's downtime over one
    year (markers) beside the formula (1 - MTTF/(MTTF+MTTR)) × 8760 h (line) and the 95%
    band of one worker-year (shaded). ``fig``: a figure this function drew before, drawn into
    again (a panel's).
    """
    plots.check_figure(fig)
    from halab import recovery as rc

    r = rc.Recovery(probe_period=probe_period, decision=decision, restart=restart, warm_up=warm_up)
    mttf = mttf_hours * SECONDS_PER_HOUR
    parts = r.parts(mttf)
    workers = check_int("workers", workers, 1, 10_000)
    run = _supervised(mttf, r, workers, check_int("seed", seed, 0, None))
    hours = HOURS_PER_YEAR
    measured = (1.0 - run.availabilities()) * hours
    a = r.availability(mttf)
    low, high = r.band(mttf, rc.YEAR)
    if fig is None:
        fig, _ = plots.figure(2, 1, height=5.6, height_ratios=[1, 2])
    top, bottom = plots.reuse(fig)
    left = 0.0
    for name, seconds in parts.items():
        top.barh(0, seconds, left=left, color=MTTR_COLORS[name], label=f"{name} {seconds:.3g} s")
        left += seconds
    top.set_yticks([])
    top.legend(fontsize=7, frameon=False, loc="center right")
    top.set_xlim(0, max(left, 1e-9) * 1.5)
    top.set_title(f"MTTR = {left:.1f} s after a crash every {mttf_hours:g} h", fontsize=11)
    top.set_xlabel("seconds", labelpad=0)
    x = np.arange(1, workers + 1)
    plots.band(
        bottom,
        [0.5, workers + 0.5],
        [(1 - high) * hours] * 2,
        [(1 - low) * hours] * 2,
        label="95% band, one worker-year",
    )
    plots.theory_line(
        bottom,
        [0.5, workers + 0.5],
        [(1 - a) * hours] * 2,
        label=f"formula: A = {a:.5f}, {(1 - a) * hours:.2f} h/year",
    )
    plots.sim_points(bottom, x, measured, label=f"simulated: mean {measured.mean():.2f} h/year")
    top_y = max(measured.max(), (1 - low) * hours)
    plots.decorate(
        bottom,
        xlabel="worker",
        ylabel="downtime in a year (h)",
        xlim=(0.5, workers + 0.5),
        ylim=(0, top_y * 1.35),
    )
    return fig


def mttr_panel() -> Panel:
    """Lesson 08: each step of a recovery against the yearly downtime, formula and simulation."""
    return Panel(
        draw_mttr,
        {
            "mttf_hours": slider(24, 24, 720, 0.05, "MTTF (h)", log=True),
            "probe_period": slider(10, 1, 60, 1, "probe period (s)"),
            "decision": slider(1, 0, 120, 1, "decision (s)"),
            "restart": slider(5, 0, 120, 1, "restart (s)"),
            "warm_up": slider(60, 0, 900, 10, "warm-up (s)"),
            "seed": int_slider(0, 0, 20, "seed"),
        },
    )


def draw_warm_up(
    *,
    data_gb: float = 50.0,
    copy_rate: float = 100.0,
    write_rate: float = 5.0,
    mttf_hours: float = 24.0,
):
    """A replacement on its persistent volume against a fresh one: warm-up and yearly downtime.

    Left: the catch-up time against the data size (lines), the current size marked. Right:
    the yearly downtime of each under the kubelet's defaults (probe 10 s × 3, decision 1 s,
    restart 5 s), the outage before the copy being detection + decision + restart.
    """
    from halab import recovery as rc

    base = rc.Recovery(decision=1.0, restart=5.0, warm_up=0.0)
    outage = base.mean_detection() + base.decision + base.restart
    sizes = np.linspace(0.0, 200.0, 81)
    fresh = [rc.warm_up_time(s * 1000, copy_rate=copy_rate, write_rate=write_rate) for s in sizes]
    kept = [
        rc.warm_up_time(
            s * 1000, copy_rate=copy_rate, write_rate=write_rate, persistent=True, outage=outage
        )
        for s in sizes
    ]
    now_fresh = rc.warm_up_time(data_gb * 1000, copy_rate=copy_rate, write_rate=write_rate)
    now_kept = rc.warm_up_time(
        data_gb * 1000, copy_rate=copy_rate, write_rate=write_rate, persistent=True, outage=outage
    )
    mttf = mttf_hours * SECONDS_PER_HOUR
    downtime = [
        rc.Recovery(decision=1.0, restart=5.0, warm_up=w).downtime_per_year(mttf)
        for w in (now_fresh, now_kept)
    ]
    fig, (left, right) = plots.figure(1, 2, width=7.5, height=3.5, width_ratios=[3, 2])
    plots.theory_line(left, sizes, np.array(fresh) / 60, label="fresh disk: copy everything")
    plots.theory_line(
        left,
        sizes,
        np.array(kept) / 60,
        label="persistent volume: copy the outage",
        color="C2",
    )
    plots.reference(left, x=data_gb)
    plots.decorate(
        left,
        title=f"{data_gb:g} GB: {now_fresh / 60:.1f} min vs {now_kept:.1f} s",
        xlabel="data (GB)",
        ylabel="warm-up (min)",
    )
    right.bar(["fresh", "volume"], downtime, color=[plots.DOWN_COLOR, plots.UP_COLOR])
    for i, d in enumerate(downtime):
        right.text(i, d, f"{d:.1f} h", ha="center", va="bottom", fontsize=9)
    plots.decorate(
        right,
        title=f"crash every {mttf_hours:g} h",
        ylabel="downtime in a year (h)",
        ylim=(0, max(downtime) * 1.25),
    )
    return fig


def warm_up_panel() -> Panel:
    """Lesson 08: a StatefulSet replacement with its volume, or a fresh one."""
    return Panel(
        draw_warm_up,
        {
            "data_gb": slider(50, 1, 200, 1, "data (GB)"),
            "copy_rate": slider(100, 20, 500, 10, "copy (MB/s)"),
            "write_rate": slider(5, 0, 19, 1, "writes (MB/s)"),
            "mttf_hours": slider(24, 24, 720, 0.05, "MTTF (h)", log=True),
        },
    )
