"""The slider panels of the lessons: each a thin coat of widgets over a drawing function.

The pattern (ThinkDSP's): a lesson calls the plain drawing function once, so the page shows a
result before anyone touches a slider, then wraps the same function in a :class:`Panel`::

    fig = draw_timeline(mttf=500, mttr=24)          # a plain function: numbers in, figure out
    timeline_panel()                                 # the same function, with sliders

A panel re-draws when a slider is released (``continuous_update=False``). Setting a slider
from Python (``panel.set(mttr=48)``) fires the same update, which is how tests and
``make bench`` drive panels without a browser. Drawing functions take keyword arguments only,
call the models, and return a closed-over matplotlib figure; they hold no state.

Each lesson has its own section below; a drawing function is named ``draw_<what>`` and its
panel ``<what>_panel``.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping

import ipywidgets as w
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from IPython import get_ipython
from IPython.display import Image, clear_output, display

from halab import availability as av
from halab import plots

RENDER_DPI = 80  # dots per inch of the PNG a panel shows


class Panel:
    """Sliders bound to a drawing function, and the picture it draws.

    Args:
        draw: a function of keyword arguments that returns a matplotlib figure.
        controls: one widget per keyword argument of ``draw``, in display order.
        fixed: more keyword arguments for ``draw`` that have no widget.
        columns: how many controls per row.

    Attributes:
        figure: the last figure drawn (closed, but its artists and data remain readable).
        output: the ``ipywidgets.Output`` that shows it.
        updates: how many times the panel has redrawn.
        error: the message of the last ``ValueError`` the drawing function raised, or None.
    """

    def __init__(
        self,
        draw: Callable[..., matplotlib.figure.Figure],
        controls: Mapping[str, w.ValueWidget],
        *,
        fixed: Mapping[str, object] | None = None,
        columns: int = 3,
    ):
        self.draw = draw
        self.controls = dict(controls)
        self.fixed = dict(fixed or {})
        self.output = w.Output()
        self.figure = None
        self.error: str | None = None
        self.png = b""
        self.updates = 0
        for control in self.controls.values():
            if hasattr(control, "continuous_update"):
                control.continuous_update = False
            control.observe(self._changed, names="value")
        rows = [
            w.HBox(list(self.controls.values())[i : i + columns])
            for i in range(0, len(self.controls), columns)
        ]
        self.widget = w.VBox([*rows, self.output])
        self.update()

    def values(self) -> dict[str, object]:
        """The current keyword arguments: every control's value, and the fixed ones."""
        return {**{name: c.value for name, c in self.controls.items()}, **self.fixed}

    def set(self, **values) -> None:
        """Move controls from Python, as a learner would with the mouse (each move redraws)."""
        for name, value in values.items():
            if name not in self.controls:
                known = ", ".join(self.controls)
                raise ValueError(f"no control named {name!r}; this panel has: {known}")
            self.controls[name].value = value

    def update(self) -> None:
        """Re-run the drawing function and show its figure as a PNG, then close the figure."""
        try:
            fig = self.draw(**self.values())
        except ValueError as error:  # a value the model refuses: say why, keep the last figure
            self.error = str(error)
            if get_ipython() is not None:
                with self.output:
                    clear_output(wait=True)
                    print(f"⚠ {error}")
            return
        self.error = None
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=RENDER_DPI)
        plt.close(fig)
        self.figure, self.png = fig, buffer.getvalue()
        self.updates += 1
        if get_ipython() is not None:  # in a kernel; tests and benchmarks skip the display
            with self.output:
                clear_output(wait=True)
                display(Image(data=self.png, format="png"))

    def _changed(self, change) -> None:
        self.update()

    def _ipython_display_(self) -> None:
        display(self.widget)


def slider(
    value: float,
    low: float,
    high: float,
    step: float,
    description: str,
    *,
    readout: str = ".3g",
    log: bool = False,
):
    """A float slider in the house style (wide label, released-only updates)."""
    cls = w.FloatLogSlider if log else w.FloatSlider
    style = {"description_width": "initial"}
    if log:
        return cls(
            value=value,
            base=10,
            min=np.log10(low),
            max=np.log10(high),
            step=step,
            description=description,
            readout_format=readout,
            style=style,
            continuous_update=False,
        )
    return cls(
        value=value,
        min=low,
        max=high,
        step=step,
        description=description,
        readout_format=readout,
        style=style,
        continuous_update=False,
    )


def int_slider(value: int, low: int, high: int, description: str, step: int = 1):
    """An integer slider in the house style."""
    return w.IntSlider(
        value=value,
        min=low,
        max=high,
        step=step,
        description=description,
        style={"description_width": "initial"},
        continuous_update=False,
    )


def choice(value: str, options, description: str):
    """A dropdown in the house style."""
    return w.Dropdown(
        value=value,
        options=options,
        description=description,
        style={"description_width": "initial"},
    )


# --- lesson 01: availability --------------------------------------------------------------

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
    horizon = years * HOURS_PER_YEAR
    rng = np.random.default_rng(seed)
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
            label="measured, each run" if i == 0 else None,
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


# --- lesson 02: redundancy ----------------------------------------------------------------


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


# --- lesson 03: load balancing ------------------------------------------------------------


# --- lesson 04: failure detection ---------------------------------------------------------


# --- lesson 05: leader election -----------------------------------------------------------


# --- lesson 06: failover, live ------------------------------------------------------------


# --- lesson 07: replication ---------------------------------------------------------------


# --- lesson 08: automatic recovery --------------------------------------------------------


# --- lesson 09: production load balancers -------------------------------------------------


# --- lesson 10: capstone ------------------------------------------------------------------
