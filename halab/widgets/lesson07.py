"""Lesson 07, replication: its drawing functions and slider panels."""

from __future__ import annotations

import functools

import ipywidgets as w
import numpy as np

from halab import plots
from halab.checks import check_int
from halab.widgets.core import Panel, choice, int_slider, slider

REP_LAGS = (0.0, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2)  # seconds, the lags drawn as markers
REP_FAILOVER = {"crash_at": 1.5, "detection": 0.4, "promotion": 0.2, "timeout": 0.3}
REP_PARTITION_AT = 1.0  # seconds: when the primary loses its backups, if partition is on
REP_TIMES = (0.0, 0.01, 0.02, 0.04, 0.06, 0.09, 0.13, 0.2)  # seconds after a write


_REP_CACHE: dict[tuple, np.ndarray] = {}  # results of a pure function, by its arguments


def _lost_by_lag(rate: float, runs: int, seed: int) -> np.ndarray:
    """``replication.lost_writes_vs_lag`` over ``REP_LAGS``, remembered (it is pure)."""
    from halab import replication as rep

    runs = check_int("runs", runs, 1, 10_000)
    key = (rate, runs, seed)
    if key not in _REP_CACHE:
        if len(_REP_CACHE) > 64:
            _REP_CACHE.clear()
        _REP_CACHE[key] = rep.lost_writes_vs_lag(REP_LAGS, rate=rate, runs=runs, seed=seed)
    return _REP_CACHE[key]


def draw_replication(
    *,
    mode: str = "async",
    lag: float = 0.05,
    partition: bool = False,
    rate: float = 100.0,
    runs: int = 12,
    seed: int = 0,
):
    """One failover as a timeline (top), and writes lost per failover against the lag (bottom).

    Top: each server's row; a tick for each write it holds (the primary's acknowledged writes
    in black, those the promoted backup never got as red crosses, the new primary's writes in
    green), the crash, the detection and the promotion. Bottom: the mean writes lost by an
    asynchronous primary over ``runs`` failovers at each lag (markers, ± one standard error)
    beside ``rate × lag`` (line); the dotted line marks the chosen lag.
    """
    from halab import replication as rep

    check_int("runs", runs, 1, 10_000)
    partition_at = REP_PARTITION_AT if partition else None
    res = rep.simulate_failover(
        mode, lag=lag, rate=rate, partition_at=partition_at, seed=seed, **REP_FAILOVER
    )
    fig, (top, bottom) = plots.figure(
        2, 1, width=7.5, height=6.4, height_ratios=[1.2, 1], margins={"hspace": 0.7}
    )
    rows = {"primary": 2, "backup1": 1, "backup2": 0}
    lost = set(res.lost_ids.tolist())
    acked = {"kept": [], "lost": []}
    received: dict[str, list[float]] = {"backup1": [], "backup2": []}
    new_primary: list[float] = []
    for record in res.records:
        if record.kind == "ack" and record.node == "primary":
            acked["lost" if record.detail in lost else "kept"].append(record.time)
        elif record.kind == "ack":
            new_primary.append(record.time)
        elif record.kind == "receive" and record.time <= res.promoted_at:
            received[record.node].append(record.time)
    tick = {"marker": "|", "linestyle": "none", "markersize": 9}
    top.plot(acked["kept"], [2] * len(acked["kept"]), color="black", label="acknowledged", **tick)
    top.plot(
        acked["lost"],
        [2] * len(acked["lost"]),
        color=plots.DOWN_COLOR,
        marker="x",
        linestyle="none",
        label="acknowledged, then lost",
    )
    for name, times in received.items():
        top.plot(times, [rows[name]] * len(times), color="gray", **tick)
    top.plot(
        new_primary,
        [rows[res.promoted]] * len(new_primary),
        color=plots.UP_COLOR,
        label=f"{res.promoted} as primary",
        **tick,
    )
    events = [(res.crash_at, "crash", plots.DOWN_COLOR), (res.detected_at, "detected", "orange")]
    events.append((res.promoted_at, "promoted", plots.UP_COLOR))
    if res.fallback_at is not None:
        events.append((res.fallback_at, "semi-sync off", "purple"))
    for x, label, color in events:
        top.axvline(x, color=color, linestyle="--", linewidth=1.2, label=label)
    if partition_at is not None:
        top.axvspan(partition_at, res.crash_at, color="gray", alpha=0.15, label="partition")
    top.set_yticks(list(rows.values()), list(rows))
    plots.decorate(
        top,
        title=(
            f"{mode}: {res.lost} acknowledged writes lost, "
            f"recovery point {res.recovery_point * 1000:.0f} ms, "
            f"recovery time {res.recovery_time:.1f} s"
        ),
        xlabel="time (s)",
        xlim=(0.8, res.promoted_at + 0.3),
        ylim=(-0.6, 2.6),
        legend=False,
    )
    top.legend(fontsize=7, frameon=False, ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.2))

    table = np.array(_lost_by_lag(float(rate), int(runs), int(seed)), dtype=float)
    lags = np.array(REP_LAGS)
    dense = np.linspace(0, lags[-1], 50)
    plots.theory_line(bottom, dense * 1000, rate * dense, label=f"λ·L, λ = {rate:g} writes/s")
    error = table.std(axis=1, ddof=1) / np.sqrt(table.shape[1]) if runs > 1 else None
    bottom.errorbar(
        lags * 1000,
        table.mean(axis=1),
        yerr=error,
        label=f"simulated, mean of {runs} failovers",
        **{**plots.SIMULATION, "capsize": 2},
    )
    plots.reference(bottom, x=lag * 1000, label=f"lag {lag * 1000:.0f} ms")
    plots.decorate(
        bottom,
        title="Asynchronous replication: writes lost per failover",
        xlabel="replication lag L (ms)",
        ylabel="acknowledged writes lost",
    )
    return fig


def replication_panel() -> Panel:
    """Lesson 07: the replication mode, the lag and a partition, against one failover."""
    return Panel(
        draw_replication,
        {
            "mode": choice("async", ["sync", "semisync", "async"], "mode"),
            "lag": slider(0.05, 0.0, 0.2, 0.005, "lag (s)"),
            "partition": w.Checkbox(value=False, description="partition at 1.0 s"),
            "rate": slider(100, 20, 400, 10, "writes/s"),
            "seed": int_slider(0, 0, 20, "seed"),
        },
    )


@functools.lru_cache(maxsize=64)
def _staleness(n: int, r: int, w: int, propagation: float, trials: int, seed: int):
    """``replication.staleness_curve`` over ``REP_TIMES``, remembered by its arguments."""
    from halab import replication as rep

    return rep.staleness_curve(
        n, r, w, REP_TIMES, propagation=propagation, trials=trials, seed=seed
    )


@functools.lru_cache(maxsize=64)
def _quorum_run(n: int, r: int, w: int, partition: bool, seed: int):
    """``replication.simulate_quorum`` with the panel's partition, remembered by arguments."""
    from halab import replication as rep

    return rep.simulate_quorum(
        n,
        r,
        w,
        duration=3.0,
        partition=(1.0, 2.0) if partition else None,
        minority=max(1, n // 2),
        jitter=0.005,
        seed=seed,
    )


def draw_quorum(
    *,
    n: int = 3,
    r: int = 1,
    w: int = 1,
    partition: bool = False,
    propagation: float = 0.05,
    trials: int = 300,
    seed: int = 0,
    fig=None,
):
    """Stale reads against the time since a write (left); a partition's two sides (right).

    Left: the chance that a read of ``r`` of ``n`` replicas misses a write acknowledged by
    ``w`` of them, ``t`` seconds later (line: ``C(n-w, r)/C(n, r)·exp(-r·t/τ)``; markers: a
    simulation of ``trials`` writes). Right: the share of writes and reads that complete on
    each side (bars, simulated) beside what the quorum sizes allow (diamonds), and the share
    of stale reads, while the first ``n // 2`` replicas are cut off (or with no partition).
    ``fig``: a figure this function drew before, drawn into again (a panel's).
    """
    plots.check_figure(fig)
    from halab import replication as rep

    rep.read_your_writes(n, r, w)  # checks 1 <= r, w <= n
    if fig is None:
        fig, _ = plots.figure(1, 2, width=10.0, height=3.8)
    left, right = plots.reuse(fig)
    dense = np.linspace(0, REP_TIMES[-1], 80)
    theory = [rep.stale_read_probability(n, r, w, t, propagation=propagation) for t in dense]
    sim = _staleness(int(n), int(r), int(w), float(propagation), int(trials), int(seed))
    plots.theory_line(left, dense * 1000, theory, label="C(N−W,R)/C(N,R)·exp(−R·t/τ)")
    plots.sim_points(left, np.array(REP_TIMES) * 1000, sim, label=f"simulated, {trials} writes")
    strict = (
        "R + W > N: never stale, whatever τ and seed" if r + w > n else "R + W ≤ N: may be stale"
    )
    plots.decorate(
        left,
        title=f"N = {n}, R = {r}, W = {w} ({strict})",
        xlabel="time since the write was acknowledged (ms)",
        ylabel="P(stale read)",
        ylim=(-0.02, 1.02),
    )

    minority = max(1, n // 2)
    window = (1.0, 2.0)
    res = _quorum_run(int(n), int(r), int(w), bool(partition), int(seed))
    sides = rep.partition_sides(n, r, w, minority) if partition else None
    labels, bars, allowed = [], [], []
    for side in ("majority", "minority"):
        for kind in ("write", "read"):
            labels.append(f"{side}\n{kind}s")
            bars.append(res.availability(kind, side, during=partition))
            if sides is None:
                allowed.append(1.0)
            else:
                allowed.append(float(getattr(sides[side], f"can_{kind}")))
    x = np.arange(len(labels))
    right.bar(x - 0.2, bars, width=0.4, color=plots.UP_COLOR, alpha=0.8, label="completed")
    stale = []
    for side in ("majority", "minority"):
        mask = res.read_ok & (res.read_side == side)
        if partition:
            mask &= (res.read_start >= window[0]) & (res.read_start < window[1])
        share = float(res.stale[mask].mean()) if mask.any() else 0.0
        stale += [np.nan, share]
    right.bar(
        x + 0.2,
        np.nan_to_num(stale),
        width=0.4,
        color=plots.DOWN_COLOR,
        alpha=0.8,
        label="stale reads",
    )
    right.plot(x - 0.2, allowed, "D", color="black", label="quorum allows")
    right.set_xticks(x, labels, fontsize=8)
    when = (
        f"partition {window[0]:g}–{window[1]:g} s, {minority} of {n} cut off"
        if partition
        else ("no partition")
    )
    plots.decorate(right, title=when, ylabel="share of operations", ylim=(0, 1.3), legend=False)
    right.set_yticks(np.linspace(0, 1, 6))  # the room above 1 holds the legend, not data
    right.legend(fontsize=8, frameon=False, ncol=3, loc="upper center")
    return fig


def quorum_panel() -> Panel:
    """Lesson 07: N, R, W and a partition against stale reads and what each side can do."""
    n, r, w_ = int_slider(3, 2, 7, "N"), int_slider(1, 1, 3, "R"), int_slider(1, 1, 3, "W")

    def limit(change) -> None:  # R and W can never exceed N
        r.max = w_.max = change["new"]

    n.observe(limit, names="value")
    return Panel(
        draw_quorum,
        {
            "n": n,
            "r": r,
            "w": w_,
            "partition": w.Checkbox(value=False, description="partition"),
            "propagation": slider(0.05, 0.01, 0.2, 0.01, "anti-entropy τ (s)"),
            "seed": int_slider(0, 0, 20, "seed"),
        },
    )
