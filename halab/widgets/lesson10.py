"""Lesson 10, capstone: its drawing functions and slider panels."""

from __future__ import annotations

from halab import availability as av
from halab import capstone, plots
from halab.checks import check_instance
from halab.widgets.core import Panel, choice, int_slider, slider
from halab.widgets.lesson06 import draw_drill


def draw_design(
    *,
    app_servers: int = 3,
    app_needed: int = 2,
    app_mttf_days: float = 30.0,
    warm_up: float = 20.0,
    db_nodes: int = 3,
    replication: str = "semisync",
    balancer_failover: float = 3.0,
    slo: float = 0.9999,
):
    """Where a design's yearly downtime goes: one bar per tier, the total, and the SLO's budget.

    Every bar is a closed form from an earlier lesson (see :mod:`halab.capstone`); the live
    drill later in the lesson measures the app tier's part of it on real processes.
    """
    from halab import capstone

    design = capstone.Design(
        app_servers=app_servers,
        app_needed=min(app_needed, app_servers),
        app_mttf=app_mttf_days * 24,
        warm_up=warm_up,
        db_nodes=db_nodes,
        replication=replication,
        balancer_failover=balancer_failover,
        slo=slo,
    )
    p = capstone.predict(design)
    minutes = {**p.downtime_minutes(), "whole service": p.yearly_downtime_minutes}
    budget = av.downtime_hours(slo, "year") * 60
    fig, ax = plots.figure(margins={"left": 0.2})
    names = list(minutes)
    values = [max(v, 1e-4) for v in minutes.values()]
    colors = [
        "C0",
        "C1",
        "C2",
        plots.UP_COLOR if p.yearly_downtime_minutes <= budget else plots.DOWN_COLOR,
    ]
    # the app bar names the k-of-n it draws ("needed at peak" is capped at the servers there are)
    labels = [
        f"app ({design.app_needed} of {design.app_servers})" if n == "app" else n for n in names
    ]
    ax.barh(labels, values, color=colors)
    for y, v in enumerate(minutes.values()):
        text = f"{v:,.0f} min" if v >= 100 else f"{v:.3g} min"
        ax.text(max(v, 1e-4) * 1.15, y, text, va="center", fontsize=8)
    ax.axvline(budget, **plots.REFERENCE, label=f"SLO {slo * 100:g}%: {budget:.1f} min a year")
    ax.set_xscale("log")
    ax.set_ylim(len(names) - 0.5, -1.3)  # top down, with an empty row for the legend
    rpo = (
        f"{p.rpo_writes_per_failover:.0f} writes lost per failover"
        if p.rpo_writes_per_failover
        else "no acknowledged write lost"
    )
    plots.decorate(
        ax,
        title=f"Availability {p.availability:.5%}; {rpo}",
        xlabel="expected minutes down a year (log scale)",
        xlim=(1e-4, max(max(values), budget) * 30),
        legend=False,
    )
    ax.legend(fontsize=8, frameon=False, loc="upper left")
    return fig


def design_panel() -> Panel:
    """Lesson 10: move a design's choices and watch the downtime budget."""
    return Panel(
        draw_design,
        {
            "app_servers": int_slider(3, 1, 8, "app servers"),
            "app_needed": int_slider(2, 1, 8, "needed at peak"),
            "app_mttf_days": slider(30, 1, 365, 1, "app MTTF (days)"),
            "warm_up": slider(20, 0, 600, 5, "warm-up (s)"),
            "db_nodes": int_slider(3, 1, 7, "database nodes"),
            "replication": choice("semisync", ["sync", "semisync", "async"], "replication"),
            "balancer_failover": slider(3, 0, 120, 1, "balancer failover (s)"),
            "slo": choice(0.9999, [0.999, 0.9995, 0.9999, 0.99995], "SLO"),
        },
    )


def draw_capstone_drill(*, drill, expectation):
    """A live drill (lesson 06's plot) with the windows the design predicted, shaded.

    The grey bands run from the kill to the predicted latest removal, and from the revive to
    the predicted latest readmission; the measured removal and readmission lines should fall
    inside them.
    """
    check_instance("expectation", expectation, capstone.DrillExpectation)
    fig = draw_drill(drill=drill)
    top = fig.axes[0]
    kill = drill.kill_t - drill.start
    revive = drill.revive_t - drill.start
    top.axvspan(
        kill,
        kill + expectation.removed_within,
        color="gray",
        alpha=0.2,
        label="predicted: out of rotation by here",
    )
    top.axvspan(
        revive,
        revive + expectation.readmitted_within,
        color="C2",
        alpha=0.15,
        label="predicted: back in rotation by here",
    )
    top.legend(fontsize=6.5, frameon=False, loc="upper left", ncol=3)
    return fig
