"""Lesson 02, redundancy: its drawing functions and slider panels."""

from __future__ import annotations

import numpy as np

from halab import availability as av
from halab import plots
from halab.checks import check_int
from halab.widgets.core import Panel, int_slider, slider
from halab.widgets.lesson01 import HOURS_PER_YEAR


def _nines(values) -> np.ndarray:
    """Nines of each availability; a simulation that saw no downtime at all gives NaN (not drawn)."""
    return np.array([av.nines(a) if a < 1 else np.nan for a in values])


def draw_structures(
    *,
    mttf: float = 500.0,
    mttr: float = 24.0,
    max_n: int = 5,
    k: int = 2,
    years: float = 200.0,
    seed: int = 0,
):
    """Series, parallel and k-of-n systems of n parts: formula (lines) and simulation (markers).

    The y axis counts nines, -log10(1 - A): one more unit is ten times less downtime. A
    simulated point is missing when the system never went down in the simulated years.
    """
    a = av.availability(mttf, mttr)
    horizon = years * HOURS_PER_YEAR
    max_n = check_int("max_n", max_n, 1, 20)
    k = check_int("k", k, 1, 20)
    ns = np.arange(1, max_n + 1)
    fig, ax = plots.figure()
    cases = [
        ("series", lambda n: av.series(*[a] * n), lambda up: up.all(axis=0), ns),
        ("parallel", lambda n: av.parallel(*[a] * n), lambda up: up.any(axis=0), ns),
        (f"{k}-of-n", lambda n: av.k_of_n(k, n, a), lambda up: up.sum(axis=0) >= k, ns[ns >= k]),
    ]
    for i, (name, formula, structure, sizes) in enumerate(cases):
        if len(sizes) == 0:
            continue
        plots.theory_line(
            ax, sizes, _nines([formula(n) for n in sizes]), label=f"{name}: formula", color=f"C{i}"
        )
        sim = [
            av.simulate_system(
                [(mttf, mttr)] * n, structure, horizon=horizon, seed=seed + 10 * i + n
            )
            for n in sizes
        ]
        plots.sim_points(ax, sizes, _nines(sim), label=f"{name}: simulated", color=f"C{i}")
    plots.reference(ax, av.nines(a), label=f"one part: A = {a:.4f}")
    plots.decorate(
        ax,
        title=f"Parts with MTTF {mttf:g} h, MTTR {mttr:g} h, {years:g} simulated years",
        xlabel="n, number of parts",
        ylabel="nines, −log₁₀(1 − A)",
    )
    ax.set_xticks(ns)
    return fig


def structures_panel() -> Panel:
    """Lesson 02: series, parallel and k-of-n, formula beside simulation."""
    return Panel(
        draw_structures,
        {
            "mttf": slider(500, 50, 5000, 50, "MTTF (h)"),
            "mttr": slider(24, 1, 200, 1, "MTTR (h)"),
            "max_n": int_slider(5, 2, 8, "n up to"),
            "k": int_slider(2, 1, 5, "k (k-of-n)"),
            "seed": int_slider(0, 0, 20, "seed"),
        },
    )


def draw_common_cause(
    *,
    mttf: float = 500.0,
    mttr: float = 24.0,
    beta: float = 0.1,
    years: float = 400.0,
    seed: int = 0,
):
    """Replicas that share a rack: the beta-factor model against independent replicas.

    Lines: ``parallel`` of n independent replicas, and ``common_cause`` with the chosen beta.
    Markers: a simulation with each replica's own failures and one shared part (the rack).
    """
    a = av.availability(mttf, mttr)
    ns = np.arange(1, 6)
    horizon = years * HOURS_PER_YEAR
    fig, ax = plots.figure()
    plots.theory_line(
        ax,
        ns,
        _nines([av.parallel(*[a] * n) for n in ns]),
        label="independent: 1 − (1 − A)ⁿ",
        color="C0",
        linestyle="--",
    )
    plots.theory_line(
        ax,
        ns,
        _nines([av.common_cause(mttf, mttr, beta, n) for n in ns]),
        label=f"beta-factor model, β = {beta:g}",
        color="C3",
    )
    if 0 < beta < 1:
        sims = []
        for n in ns:
            parts = [(mttf / (1 - beta), mttr)] * n + [(mttf / beta, mttr)]
            sims.append(
                av.simulate_system(
                    parts, lambda up: up[:-1].any(axis=0) & up[-1], horizon=horizon, seed=seed + n
                )
            )
        plots.sim_points(ax, ns, _nines(sims), label="simulated, shared rack", color="C3")
        plots.reference(
            ax, av.nines(av.availability(mttf / beta, mttr)), label="the shared part alone"
        )
    plots.decorate(
        ax,
        title="Two replicas in one rack are not 1 − (1 − A)²",
        xlabel="n, number of replicas",
        ylabel="nines, −log₁₀(1 − A)",
    )
    ax.set_xticks(ns)
    return fig


def common_cause_panel() -> Panel:
    """Lesson 02: the beta factor."""
    return Panel(
        draw_common_cause,
        {
            "beta": slider(0.1, 0.0, 0.5, 0.01, "β (shared fraction)"),
            "mttf": slider(500, 50, 5000, 50, "MTTF (h)"),
            "mttr": slider(24, 1, 200, 1, "MTTR (h)"),
            "seed": int_slider(0, 0, 20, "seed"),
        },
    )


def draw_failover(
    *,
    mttf: float = 500.0,
    mttr: float = 4.0,
    failover_minutes: float = 5.0,
    years: float = 200.0,
    seed: int = 0,
):
    """Active-passive availability against the failover time: Markov chain and simulation."""
    fo = np.linspace(0, 60, 25)
    fig, ax = plots.figure()
    plots.theory_line(
        ax, fo, _nines([av.active_passive(mttf, mttr, m / 60) for m in fo]), label="Markov chain"
    )
    model = av.active_passive_model(mttf, mttr, failover_minutes / 60)
    time_in = av.simulate_markov(model, horizon=years * HOURS_PER_YEAR, seed=seed)
    sim = time_in[list(model.up)].sum() / time_in.sum()
    plots.sim_points(
        ax,
        [failover_minutes],
        _nines([sim]),
        label=f"simulated, {years:g} years",
        markersize=8,
        color="C3",
    )
    a = av.availability(mttf, mttr)
    plots.reference(ax, av.nines(av.parallel(a, a)), label="instant failover", color="C0")
    plots.reference(ax, av.nines(a), label="one server, no standby")
    plots.decorate(
        ax,
        title="Active-passive: every failover is downtime",
        xlabel="failover time (minutes)",
        ylabel="nines, −log₁₀(1 − A)",
    )
    return fig


def failover_panel() -> Panel:
    """Lesson 02: how the failover time eats the gain of a standby."""
    return Panel(
        draw_failover,
        {
            "failover_minutes": slider(5, 0, 60, 0.5, "failover (min)"),
            "mttf": slider(500, 50, 5000, 50, "MTTF (h)"),
            "mttr": slider(4, 1, 200, 1, "MTTR (h)"),
            "seed": int_slider(0, 0, 20, "seed"),
        },
    )


COVERAGES = (0.8, 0.85, 0.9, 0.95, 0.98, 0.99, 1.0)  # the simulated markers of draw_coverage


def draw_coverage(
    *,
    mttf: float = 500.0,
    mttr: float = 4.0,
    failover_minutes: float = 5.0,
    years: float = 500.0,
    seed: int = 0,
):
    """Active-passive availability against the failover's coverage (its chance of working).

    Line: the Markov chain of :func:`halab.availability.active_passive_model` with
    ``coverage``; markers: a simulation of that chain over ``years`` at each coverage.
    """
    fine = np.linspace(COVERAGES[0], 1.0, 41)
    fo = failover_minutes / 60
    fig, ax = plots.figure()
    plots.theory_line(
        ax,
        fine,
        _nines([av.active_passive(mttf, mttr, fo, c) for c in fine]),
        label=f"Markov chain, {failover_minutes:g} min failover",
    )
    sims = []
    for k, c in enumerate(COVERAGES):
        model = av.active_passive_model(mttf, mttr, fo, c)
        time_in = av.simulate_markov(model, horizon=years * HOURS_PER_YEAR, seed=seed + k)
        sims.append(time_in[list(model.up)].sum() / time_in.sum())
    plots.sim_points(ax, COVERAGES, _nines(sims), label=f"simulated, {years:g} years each")
    a = av.availability(mttf, mttr)
    plots.reference(ax, av.nines(a), label="one server, no standby")
    plots.decorate(
        ax,
        title="A failover that sometimes fails: coverage",
        xlabel="coverage c: the chance a failover works",
        ylabel="nines, −log₁₀(1 − A)",
    )
    return fig
