"""Lesson 01, availability: its drawing functions and slider panels."""

from __future__ import annotations

import ipywidgets as w
import numpy as np

from halab import availability as av
from halab import plots
from halab.checks import check_instance, check_int, check_prob, check_real, make_rng
from halab.widgets.core import Panel, choice, int_slider, slider

HOURS_PER_YEAR = av.HOURS_PER["year"]


def draw_timeline(
    *,
    mttf: float = 500.0,
    mttr: float = 24.0,
    years: float = 5.0,
    repair: str = "exponential",
    runs: int = 4,
    seed: int = 0,
):
    """Up/down timelines of ``runs`` servers, and their measured availability over time.

    Top: each run's up (green) and down (red) periods. Bottom: the measured availability of
    each run over [0, t] (markers) beside MTTF / (MTTF + MTTR) (line) and the 95% band of
    the renewal-reward central limit theorem (shaded), which narrows as 1/√t.
    """
    check_real("years", years, 0, 1000, lo_open=True)
    check_int("runs", runs, 1, 50)
    horizon = years * HOURS_PER_YEAR
    rng = make_rng(seed)
    lines = [
        av.simulate_timeline(mttf, mttr, horizon=horizon, repair=repair, repair_cv=0.5, rng=rng)
        for _ in range(runs)
    ]
    fig, (top, bottom) = plots.figure(2, 1, height=5.0, height_ratios=[1, 2])
    for i, line in enumerate(lines):
        plots.up_down(
            top,
            i,
            line.failures / HOURS_PER_YEAR,
            line.repairs / HOURS_PER_YEAR,
            years,
            label=f"run {i + 1}",
        )
    top.set_yticks([])
    plots.decorate(
        top,
        title=f"{runs} servers, MTTF {mttf:g} h, MTTR {mttr:g} h ({repair} repairs)",
        xlim=(0, years),
    )
    t = np.linspace(horizon / 40, horizon, 40)
    a = av.availability(mttf, mttr)
    lows, highs = zip(
        *(av.availability_band(mttf, mttr, x, repair=repair, repair_cv=0.5) for x in t)
    )
    plots.band(bottom, t / HOURS_PER_YEAR, lows, highs, label="95% band")
    plots.theory_line(
        bottom, t / HOURS_PER_YEAR, np.full_like(t, a), label=f"MTTF/(MTTF+MTTR) = {a:.4f}"
    )
    for i, line in enumerate(lines):
        plots.sim_points(
            bottom,
            t / HOURS_PER_YEAR,
            line.running_availability(t),
            label=f"run {i + 1}, measured",
            color=f"C{i}",
        )
    low = min(min(lows), min(min(line.running_availability(t)) for line in lines))
    plots.decorate(
        bottom,
        xlabel="years",
        ylabel="availability so far",
        xlim=(0, years),
        ylim=(max(0.0, low - 0.002), 1.0005),
    )
    return fig


def timeline_panel() -> Panel:
    """Lesson 01: MTTF, MTTR and the repair distribution against a simulated timeline."""
    return Panel(
        draw_timeline,
        {
            "mttf": slider(500, 50, 5000, 50, "MTTF (h)"),
            "mttr": slider(24, 1, 200, 1, "MTTR (h)"),
            "repair": choice("exponential", ["exponential", "lognormal", "fixed"], "repairs"),
            "years": slider(5, 1, 20, 1, "years"),
            "seed": int_slider(0, 0, 20, "seed"),
        },
    )


def draw_budget(*, slo: float = 0.999, period: str = "month", incidents: str = "12, 7.5, 20"):
    """An error budget: the minutes an objective allows in a period, spent incident by incident.

    ``incidents`` is text as a learner types it: minutes separated by commas.
    """
    try:
        minutes = [float(x) for x in str(incidents).replace(";", ",").split(",") if x.strip()]
    except ValueError:
        raise ValueError(
            f"incidents must be minutes separated by commas, got {incidents!r}"
        ) from None
    budget = av.error_budget(slo, minutes, period)
    fig, ax = plots.figure()
    spent = np.cumsum(minutes)
    after = np.arange(1, len(minutes) + 1)
    colors = [plots.UP_COLOR if x <= budget.allowed_minutes else plots.DOWN_COLOR for x in spent]
    ax.bar(after, spent, color=colors, width=0.6, label="downtime spent so far")
    plots.reference(ax, budget.allowed_minutes, label=f"budget {budget.allowed_minutes:.1f} min")
    left = budget.remaining_minutes
    verdict = f"{left:.1f} min left" if left >= 0 else f"overspent by {-left:.1f} min"
    plots.decorate(
        ax,
        title=f"SLO {slo:.3%} per {period}: {verdict}",
        xlabel="after incident",
        ylabel="minutes of downtime",
        ylim=(0, 1.15 * max(budget.allowed_minutes, spent[-1] if len(spent) else 0, 1e-9)),
    )
    ax.set_xticks(after)
    return fig


def budget_panel() -> Panel:
    """Lesson 01: spend an error budget incident by incident."""
    return Panel(
        draw_budget,
        {
            "slo": choice(0.999, [0.99, 0.995, 0.999, 0.9995, 0.9999], "SLO"),
            "period": choice("month", ["day", "week", "month", "year"], "period"),
            "incidents": w.Text(value="12, 7.5, 20", description="incidents (min)"),
        },
    )


def draw_outages(*, a: float = 0.99949, mttrs=(0.25, 24.0), years: int = 2000, seed: int = 0):
    """The same availability as many short outages or a few long ones: a year's downtime.

    For each outage length, the fraction of years with at most x hours down: the Poisson
    closed form of :func:`halab.availability.outage_profile` (line, a step at each outage)
    beside ``years`` simulated years (markers, :func:`halab.availability.simulate_yearly_downtime`).
    The dotted line is the yearly budget, (1 - a) × 8760 h.
    """
    from scipy import stats

    check_prob("a", a, lo_open=True, hi_open=True)
    check_instance("mttrs", mttrs, (list, tuple))
    if not 1 <= len(mttrs) <= 10:
        raise ValueError(f"mttrs must hold 1 to 10 outage lengths, got {len(mttrs)}")
    for mttr in mttrs:
        check_real("mttrs", mttr, 0, HOURS_PER_YEAR, lo_open=True, unit="hours")
    check_int("years", years, 1, 100_000)
    check_int("seed", seed, 0, None)
    fig, ax = plots.figure()
    budget = (1.0 - a) * HOURS_PER_YEAR
    right = 1.2 * max(max(av.outage_profile(a, m).bad_year for m in mttrs), budget)
    for i, mttr in enumerate(mttrs):
        p = av.outage_profile(a, mttr)
        hours = av.simulate_yearly_downtime(a, mttr, years=years, seed=seed + i)
        x = np.linspace(0.0, right, 400)
        theory = stats.poisson.cdf(np.floor(x / mttr + 1e-9), p.outages_per_year)
        color = f"C{i}"
        plots.theory_line(
            ax,
            x,
            theory,
            label=f"{mttr * 60:g} min outages, {p.outages_per_year:.3g}/year: Poisson"
            if mttr < 1
            else f"{mttr:g} h outages, {p.outages_per_year:.3g}/year: Poisson",
            color=color,
            drawstyle="steps-post",
        )
        grid = np.linspace(0.0, x[-1], 23)
        sim = [(hours <= g + 1e-9).mean() for g in grid]
        plots.sim_points(ax, grid, sim, label=f"simulated, {years} years", color=color)
    plots.reference(ax, x=budget, label=f"yearly budget {budget:.2f} h")
    plots.decorate(
        ax,
        title=f"A = {a:.3%} either way: how much downtime a year brings",
        xlabel="hours down in a year",
        ylabel="fraction of years with at most that",
        ylim=(0, 1.02),
        legend=False,
    )
    ax.legend(fontsize=8, frameon=False, loc="center right")
    return fig
