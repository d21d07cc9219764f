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
from halab import balancing as bal
from halab import detection as det
from halab import election, plots
from halab.live import health as live_health
from halab.sim import Latency

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

LB_POLICIES = list(bal.POLICIES)
LB_LOADS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
LB_TAIL = 1.0 - np.logspace(np.log10(0.5), -3, 14)  # quantiles drawn as markers, p50 .. p99.9


def draw_balancer(
    *,
    policy: str = "power_of_two",
    servers: int = 10,
    load: float = 0.9,
    skew: float = 0.0,
    service: str = "exponential",
    requests: int = 20_000,
    seed: int = 0,
):
    """One balancer under load: its response-time tail, each server's utilization and queue.

    Top: P(response time > t), simulated (markers, at p50 .. p99.9) beside the closed form where
    one exists (random: M/M/1 per server; round robin: E_n/M/1 per server; exponential service)
    and the central queue M/M/c, the bound no dispatcher beats (dotted). Bottom left: how busy
    each server was. Bottom right: requests at each server over time. The last server runs at
    speed ``1 - skew``.
    """
    speeds = bal.skewed_speeds(servers, skew)
    result = bal.simulate(
        policy,
        servers=servers,
        load=load,
        requests=requests,
        speeds=speeds,
        service=service,
        seed=seed,
    )
    # Laid out by hand: constrained layout would cost a third of the panel's time budget.
    fig = plt.figure(figsize=(plots.FIGSIZE[0] * 1.25, plots.FIGSIZE[1] * 1.9))
    tail, util, queue = fig.subplot_mosaic([["tail", "tail"], ["util", "queue"]]).values()
    fig.subplots_adjust(left=0.09, right=0.98, top=0.95, bottom=0.08, hspace=0.38, wspace=0.28)
    times = np.percentile(result.response_times, 100 * LB_TAIL)
    plots.sim_points(tail, times, 1 - LB_TAIL, label=f"{policy}, simulated", color="C3")
    grid = np.linspace(0, max(times[-1], 1.0) * 1.05, 200)
    exponential = service == "exponential"
    theory = bal.theory_survival(policy, grid, servers=servers, load=load, speeds=speeds)
    mean_theory = bal.theory_response_time(
        policy, servers=servers, load=load, speeds=speeds, service=service
    )
    if theory is not None and exponential and np.isfinite(mean_theory):
        plots.theory_line(tail, grid, theory, label=f"{policy}, theory")
    central = bal.theory_survival("central_queue", grid, servers=servers, load=load, speeds=speeds)
    if central is not None and exponential:
        plots.theory_line(
            tail, grid, central, label="central queue M/M/c (bound)", **plots.REFERENCE
        )
    if np.isnan(mean_theory):
        said = ""
    elif np.isinf(mean_theory):
        said = " (theory: no steady state)"
    elif policy == "power_of_two":
        said = f" (many-server limit {mean_theory:.3g})"
    else:
        said = f" (theory {mean_theory:.3g})"
    plots.decorate(
        tail,
        title=f"{policy}, {servers} servers, load {load:g}: mean {result.mean:.3g}"
        f"{said}, p99 {result.p99:.3g}",
        xlabel="response time t (mean service times)",
        ylabel="P(response time > t)",
        yscale="log",
        ylim=(5e-4, 1.05),
        xlim=(0, grid[-1]),
    )
    index = np.arange(servers)
    colors = ["C0"] * (servers - 1) + (["C3"] if skew > 0 else ["C0"])
    util.bar(index, result.utilization, color=colors, alpha=0.7, label="simulated")
    plots.reference(util, load, label=f"load {load:g}")
    plots.decorate(
        util,
        title="utilization per server",
        xlabel="server",
        ylabel="busy fraction",
        ylim=(0, 1.15),
        legend=False,
    )
    util.legend(fontsize=8, frameon=False, loc="upper left", ncols=2)
    for s in range(servers):
        slow = skew > 0 and s == servers - 1
        queue.plot(
            result.sample_times,
            result.queue_lengths[s],
            lw=1.6 if slow else 0.7,
            color="C3" if slow else "C0",
            alpha=1.0 if slow else 0.5,
            label=f"server {s} (speed {speeds[s]:g})" if slow else None,
        )
    plots.decorate(
        queue,
        title="requests at each server",
        xlabel="time (mean service times)",
        ylabel="in queue + in service",
    )
    # Speed: no minor ticks on the log axis, and titles at a fixed height (placing them
    # automatically measures every tick label again).
    tail.yaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    for ax in (tail, util, queue):
        ax.set_title(ax.get_title(), fontsize=11, y=1.0)
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(6, integer=ax is util))
    for ax in (util, queue):
        ax.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(5))
    return fig


def balancer_panel() -> Panel:
    """Lesson 03: a policy under load; sliders for servers, load, a slow server, service times."""
    return Panel(
        draw_balancer,
        {
            "policy": choice("power_of_two", LB_POLICIES, "policy"),
            "servers": int_slider(10, 2, 40, "servers"),
            "load": slider(0.9, 0.1, 0.98, 0.01, "load ρ"),
            "skew": slider(0.0, 0.0, 0.9, 0.05, "last server slower by"),
            "service": choice("exponential", list(bal.SERVICES), "service times"),
            "seed": int_slider(0, 0, 20, "seed"),
        },
    )


def draw_policies(
    *,
    servers: int = 10,
    service: str = "exponential",
    loads=LB_LOADS,
    requests: int = 30_000,
    seed: int = 0,
):
    """Mean and p99 response time against load for every policy: simulation beside theory.

    Lines are closed forms (random routing: M/G/1 per server; round robin: E_n/M/1; power of
    two: Mitzenmacher's many-server limit; central queue: M/M/c, the bound); markers are
    simulations. The y axes are logarithmic.
    """
    loads = np.asarray(loads, dtype=float)
    fine = np.linspace(loads.min(), loads.max(), 40)
    fig, (mean_ax, p99_ax) = plots.figure(1, 2, width=plots.FIGSIZE[0] * 1.6)
    for i, name in enumerate(LB_POLICIES):
        runs = [
            bal.simulate(
                name, servers=servers, load=x, requests=requests, service=service, seed=seed
            )
            for x in loads
        ]
        color = f"C{i}"
        plots.sim_points(mean_ax, loads, [r.mean for r in runs], label=name, color=color)
        plots.sim_points(p99_ax, loads, [r.p99 for r in runs], label=name, color=color)
        for ax, q in ((mean_ax, None), (p99_ax, 0.99)):
            theory = [
                bal.theory_response_time(name, servers=servers, load=x, service=service, q=q)
                for x in fine
            ]
            if not np.all(np.isnan(theory)):
                plots.theory_line(ax, fine, theory, label=None, color=color)
    exponential = service == "exponential"
    if exponential:
        for ax, q in ((mean_ax, None), (p99_ax, 0.99)):
            bound = [
                bal.theory_response_time("central_queue", servers=servers, load=x, q=q)
                for x in fine
            ]
            plots.theory_line(ax, fine, bound, label="central queue (bound)", **plots.REFERENCE)
    plots.decorate(
        mean_ax,
        title=f"mean, {servers} servers, {service} service",
        xlabel="load ρ",
        ylabel="response time (mean service times)",
        yscale="log",
        ylim=(0.9, 200),
    )
    plots.decorate(
        p99_ax,
        title="99th percentile (lines: theory)",
        xlabel="load ρ",
        yscale="log",
        ylim=(0.9, 1000),
        legend=False,
    )
    return fig


def draw_keys_moved(*, max_servers: int = 20, keys: int = 2000, vnodes: int = 100):
    """Keys that move when one server joins n servers: hash % n against consistent hashing."""
    ns = np.arange(1, max_servers + 1)
    fig, ax = plots.figure()
    for i, method in enumerate(("modulo", "ring", "rendezvous")):
        moved = [
            bal.keys_moved(int(n), keys=keys, change="add", method=method, vnodes=vnodes)
            for n in ns
        ]
        plots.sim_points(ax, ns, np.array(moved) / keys, label=f"{method}, measured", color=f"C{i}")
    plots.theory_line(ax, ns, ns / (ns + 1), label="hash % n: n/(n+1)", color="C0")
    plots.theory_line(ax, ns, 1 / (ns + 1), label="consistent: 1/(n+1)", color="C1")
    plots.decorate(
        ax,
        title=f"Adding a server to n: share of {keys} keys that move",
        xlabel="n, servers before",
        ylabel="fraction of keys moved",
        ylim=(0, 1),
    )
    ax.set_xticks(ns[1::2] if len(ns) > 10 else ns)
    return fig


# --- lesson 04: failure detection ---------------------------------------------------------

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


def draw_qos(
    *,
    interval: float = 1.0,
    loss: float = 0.1,
    delay: float = FD_DELAY,
    beats: int = 12_000,
    seed: int = 0,
):
    """The k-missed detector's QoS: closed forms (lines) beside a simulation (markers).

    Left: wrong suspicions per hour. Right: mean detection time and its upper bound T + d.
    Constant delay ``delay``, independent loss; ``beats`` heartbeats are simulated and
    200 crash times tried for each k.
    """
    ks = np.arange(1, 9)
    run = det.simulate_heartbeats(
        interval=interval, duration=beats * interval, delay=delay, loss=loss, seed=seed
    )
    detectors = [det.FixedTimeoutDetector.k_missed(int(k), interval) for k in ks]
    got = det.sweep(run, detectors, crashes=200, seed=seed)
    theory = [det.k_missed_qos(interval, d.timeout, delay, loss) for d in detectors]
    fig, (left, right) = plots.figure(1, 2, width=8.0)
    positive = lambda v: np.where(np.asarray(v) > 0, v, np.nan)  # noqa: E731 (log axis)
    plots.theory_line(
        left, ks, positive([q.mistakes_per_hour for q in theory]), label="closed form"
    )
    plots.sim_points(
        left,
        ks,
        positive([q.mistakes_per_hour for q in got]),
        label=f"simulated, {beats * interval / 3600:.3g} h",
    )
    plots.decorate(
        left,
        title=f"Wrong suspicions, loss {loss:.0%}",
        xlabel="k, missed beats",
        ylabel="per hour",
        yscale="log",
        xlim=(ks[0] - 0.5, ks[-1] + 0.5),
    )
    if loss == 0:  # nothing to draw on a log axis: say so instead of showing empty axes
        left.text(
            0.5,
            0.5,
            "no loss, constant delay:\nno wrong suspicions",
            ha="center",
            va="center",
            transform=left.transAxes,
        )
    plots.theory_line(right, ks, [q.detection_time for q in theory], label="E(T_D), closed form")
    plots.sim_points(right, ks, [q.detection_time for q in got], label="mean T_D, simulated")
    plots.theory_line(
        right,
        ks,
        [q.detection_time_max for q in theory],
        label="max T_D = T + d",
        linestyle=":",
        color="gray",
    )
    plots.decorate(
        right,
        title=f"Detection time, interval {interval:g} s",
        xlabel="k, missed beats",
        ylabel="seconds",
    )
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


def draw_tradeoff(
    *,
    loss: float = 0.01,
    jitter: float = 0.1,
    interval: float = 1.0,
    beats: int = 5000,
    seed: int = 0,
):
    """Detection time against wrong suspicions per hour: fixed timeouts and φ thresholds.

    Each marker is one setting measured on the same simulated link (lognormal delay, mean
    50 ms, standard deviation ``jitter``; loss ``loss``): fixed timeouts of 1.25 to 7.5
    intervals, φ thresholds of 0.5 to 16 with no acceptable pause and with a pause of two
    intervals. The dashed line is the fixed timeout's closed form for a constant delay: the
    gap between it and the markers is what the jitter costs; it leaves the axes at the bottom
    where it predicts fewer mistakes than the run could show. Lower left is better; settings
    that made no mistake in the run sit on the dotted floor.
    """
    run = det.simulate_heartbeats(
        interval=interval,
        duration=beats * interval,
        delay=FD_DELAY,
        jitter=jitter,
        dist="lognormal",
        loss=loss,
        seed=seed,
    )
    hours = beats * interval / 3600
    floor = 0.5 / hours  # where "none seen" is drawn: half of one mistake in the run
    curves = [
        ("fixed timeout", "C0", [det.FixedTimeoutDetector(m * interval) for m in FD_TIMEOUTS]),
        ("φ, no pause", "C1", [_phi_detector(interval, th) for th in FD_THRESHOLDS]),
        (
            f"φ, pause {2 * interval:g} s",
            "C2",
            [_phi_detector(interval, th, pause=2 * interval) for th in FD_THRESHOLDS],
        ),
    ]
    theory = [det.k_missed_qos(interval, m * interval, FD_DELAY, loss) for m in FD_TIMEOUTS]
    fig, ax = plots.figure()
    plots.theory_line(
        ax,
        [q.detection_time for q in theory],
        [max(q.mistakes_per_hour, floor / 10) for q in theory],  # leaves through the bottom
        label="fixed, closed form (no jitter)",
        color="C0",
        linestyle="--",
    )
    for name, color, detectors in curves:
        qs = det.sweep(run, detectors, seed=seed)
        plots.sim_points(
            ax,
            [q.detection_time for q in qs],
            [max(q.mistakes_per_hour, floor) for q in qs],
            label=name,
            color=color,
        )
    plots.reference(ax, floor, label="none seen in the run")
    plots.decorate(
        ax,
        title=f"Jitter {jitter:g} s, loss {loss:.0%}, {hours:.3g} h simulated",
        xlabel="mean detection time (s)",
        ylabel="wrong suspicions per hour",
        yscale="log",
    )
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
    rows = [
        det.haproxy_detection(inter=inter, fall=fall),
        det.kubernetes_detection(
            period_seconds=period_seconds, failure_threshold=failure_threshold
        ),
        det.zookeeper_detection(tick_time=tick_time, session_timeout=session_timeout),
        det.akka_detection(),
    ]
    fig, ax = plots.figure(margins={"left": 0.2})
    y = np.arange(len(rows))[::-1]
    for yi, s, color in zip(y, rows, ("C0", "C1", "C2", "C3")):
        ax.barh(
            yi, s.worst_case - s.best_case, left=s.best_case, height=0.5, color=color, alpha=0.7
        )
        ax.text(s.worst_case, yi, f"  {s.worst_case:.3g} s", va="center", fontsize=9)
    ax.set_yticks(y, [s.system for s in rows])
    right = max(s.worst_case for s in rows) * 1.25
    plots.decorate(
        ax,
        title="From failure to detection: best case to worst case",
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


# --- lesson 05: leader election -----------------------------------------------------------

ROLE_COLORS = {
    "follower": "#c6dbef",
    "candidate": "#fd8d3c",
    "leader": plots.UP_COLOR,
    "down": "#444444",
}
HEARTBEATS = {"AppendEntries", "AppendEntriesReply", "Ping", "PingReply", "Coordinator"}
ARROW_LIMIT = 60  # election messages drawn as arrows only when there are at most this many
FIGURE_9_8 = (
    (0.150, 0.150),
    (0.150, 0.151),
    (0.150, 0.155),
    (0.150, 0.175),
    (0.150, 0.200),
    (0.150, 0.300),
)  # seconds: the timeout ranges of the dissertation's figure 9.8
PUBLISHED_9_8 = {  # section 9.4's text: label -> (seconds, fraction of trials)
    "published: 150-155 ms median, 287 ms": (0.287, 0.5),
    "published: 150-200 ms worst of 1000, 513 ms": (0.513, 1.0),
}
SPLIT_SCENARIOS = {
    "cut off the leader": ((1.0, "split"), (3.0, "heal")),
    "leader crashes, then a cut": ((1.0, "crash_leader"), (1.0, "split"), (3.0, "heal")),
}


def _fault_label(f) -> str:
    kind = f[1].replace("_", " ")
    return kind if len(f) == 2 else f"{kind} {f[2] if isinstance(f[2], str) else ''}".strip()


def _timeline(ax, result, *, arrows: bool | None = None, base: float = 0.0) -> str:
    """Draw one election run on ``ax`` from height ``base`` up: a row per node (s1 on top),
    states as bars with the term written inside, and below them a strip showing the leader
    that a majority follows. Returns a note on the messages (empty if none are counted)."""
    names = list(result.names)
    rows = {n: base + len(names) - i for i, n in enumerate(names)}
    end = result.duration
    for name, segments in result.states().items():
        y = rows[name]
        by_role: dict[str, list[tuple[float, float]]] = {}
        for a, b, role, term in segments:
            by_role.setdefault(role, []).append((a, b - a))
            if role != "down" and b - a > 0.06 * end:
                ax.text((a + b) / 2, y, str(term), ha="center", va="center", fontsize=7)
        for role, spans in by_role.items():
            ax.broken_barh(spans, (y - 0.32, 0.64), color=ROLE_COLORS[role], lw=0)
    strip = result.uptime()  # the bottom strip: a leader that a majority follows
    ax.broken_barh(
        [(a, b - a) for a, b, _, _ in strip],
        (base + 0.1, 0.5),
        color=plots.UP_COLOR,
        alpha=0.5,
        lw=0,
    )
    for a, b, leader, term in strip:
        if b - a > 0.06 * end:
            ax.text(
                (a + b) / 2, base + 0.35, f"{leader} ({term})", ha="center", va="center", fontsize=7
            )
    note = ""
    if arrows is not False:
        election_msgs = [m for m in result.messages() if type(m.msg).__name__ not in HEARTBEATS]
        delivered = [m for m in election_msgs if m.fate == "deliver"]
        arrows = len(delivered) <= ARROW_LIMIT if arrows is None else arrows
        note = f"{len(election_msgs)} election messages" + ("" if arrows else " (not drawn)")
        for m in delivered if arrows else ():
            ax.annotate(
                "",
                xy=(m.received, rows[m.dst]),
                xytext=(m.sent, rows[m.src]),
                arrowprops={"arrowstyle": "->", "lw": 0.5, "color": "#3d3d8f", "alpha": 0.6},
            )
    labels: dict[float, list[str]] = {}
    for f in result.params.get("faults", []):
        labels.setdefault(f[0], []).append(_fault_label(f))
    top = base + len(names) + 0.45
    for t, text in labels.items():
        ax.plot([t, t], [base, top], **{**plots.REFERENCE, "color": "black"})
        ax.text(t, top, " " + " + ".join(text), fontsize=7, va="bottom")
    ax.set_xlim(0, end)
    return note


def _row_ticks(ax, result, base: float = 0.0) -> tuple[list[float], list[str]]:
    n = len(result.names)
    return [base + 0.35, *(base + n - i for i in range(n))], ["majority\nleader", *result.names]


def _verdict(result) -> str:
    try:
        election.check_safety(result)
    except election.SplitBrainError as err:
        return f"SPLIT BRAIN: {err.first.leader} and {err.second.leader} both led term {err.term}"
    text = "no leader at the end"
    if result.leader is not None:
        text = f"{result.leader} leads term {result.term} since {result.elected_at:.3f} s"
    both = result.overlaps()
    if both:
        seconds = sum(b - a for a, b, _ in both)
        text += f"; two leaders at once for {seconds:.2f} s, in different terms"
    return text


def draw_cluster(
    *,
    algorithm: str = "raft",
    nodes: int = 5,
    faults=(),
    duration: float = 3.0,
    latency: float = 0.005,
    loss: float = 0.0,
    seed: int = 0,
    check_quorum: bool = False,
    arrows: bool | None = None,
):
    """One election run as a timeline: a row per node (follower, candidate, leader, down) with
    its term written inside, election messages as arrows when there are few, faults as dotted
    lines, and at the bottom the leader that a majority follows."""
    result = election.simulate_election(
        algorithm,
        nodes=nodes,
        faults=list(faults),
        duration=duration,
        latency=latency,
        loss=loss,
        seed=seed,
        check_quorum=check_quorum,
    )
    fig, ax = plots.figure(height=max(3.0, 0.45 * nodes + 1.6), margins={"left": 0.13})
    note = _timeline(ax, result, arrows=arrows)
    ticks, labels = _row_ticks(ax, result)
    ax.set_yticks(ticks, labels, fontsize=7)
    ax.set_ylim(-0.1, nodes + 0.9)
    handles = [matplotlib.patches.Patch(color=c, label=r) for r, c in ROLE_COLORS.items()]
    ax.legend(
        handles=handles,
        fontsize=7,
        frameon=False,
        ncol=4,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.16),
    )
    plots.decorate(
        ax,
        title=f"{algorithm}: {_verdict(result)}" + (f"; {note}" if note else ""),
        xlabel="time (s)",
        legend=False,
    )
    ax.title.set_fontsize(9)
    fig.subplots_adjust(bottom=0.27 * 3.5 / fig.get_figheight() + 0.02)
    return fig


class ClusterPanel(Panel):
    """Lesson 05: a simulated cluster with buttons to crash its leader, cut it in two, heal it.

    Each button adds its fault at the end of the run so far and runs ``step`` seconds more; the
    whole run is simulated again from its seed, so the same clicks give the same picture. The
    handlers are plain methods (:meth:`crash_leader`, :meth:`restart`, :meth:`split`,
    :meth:`heal`, :meth:`advance`, :meth:`reset`), which is how tests and nbval press them.
    """

    ACTIONS = ("crash_leader", "restart_all", "split", "heal")

    def __init__(self, *, step: float = 1.0, start: float = 1.5) -> None:
        self.step, self.start = step, start
        super().__init__(
            draw_cluster,
            {
                "algorithm": choice("raft", list(election.ALGORITHMS), "algorithm"),
                "nodes": int_slider(5, 1, 7, "nodes"),
                "loss": slider(0.0, 0.0, 0.5, 0.05, "loss"),
                "seed": int_slider(0, 0, 20, "seed"),
            },
            fixed={"faults": (), "duration": start},
            columns=4,
        )
        labels = {
            "crash_leader": "crash the leader",
            "restart_all": "restart crashed",
            "split": "cut in two",
            "heal": "heal",
        }
        buttons = []
        for action in self.ACTIONS:
            b = w.Button(description=labels[action], layout=w.Layout(width="auto"))
            b.on_click(lambda _b, a=action: self.act(a))
            buttons.append(b)
        more = w.Button(description=f"run {step:g} s more", layout=w.Layout(width="auto"))
        more.on_click(lambda _b: self.advance())
        again = w.Button(description="start over", layout=w.Layout(width="auto"))
        again.on_click(lambda _b: self.reset())
        self.widget.children = (
            *self.widget.children[:-1],
            w.HBox([*buttons, more, again]),
            self.output,
        )

    @property
    def now(self) -> float:
        """The end of the run so far, simulated seconds."""
        return float(self.fixed["duration"])

    def act(self, action: str) -> None:
        """Add fault ``action`` (one of :attr:`ACTIONS`) now and run ``step`` seconds more."""
        if action not in self.ACTIONS:
            raise ValueError(f"action must be one of {self.ACTIONS}, got {action!r}")
        self.fixed["faults"] = (*self.fixed["faults"], (self.now, action))
        self.advance()

    def crash_leader(self) -> None:
        """Crash whoever leads now."""
        self.act("crash_leader")

    def restart(self) -> None:
        """Restart every crashed node."""
        self.act("restart_all")

    def split(self) -> None:
        """Cut the network in two, the leader on the smaller side."""
        self.act("split")

    def heal(self) -> None:
        """Restore every link."""
        self.act("heal")

    def advance(self, seconds: float | None = None) -> None:
        """Run ``seconds`` more (default ``step``) and redraw."""
        self.fixed["duration"] = self.now + (self.step if seconds is None else seconds)
        self.update()

    def reset(self) -> None:
        """Forget the faults and start again."""
        self.fixed["faults"], self.fixed["duration"] = (), self.start
        self.update()


def cluster_panel() -> ClusterPanel:
    """Lesson 05: crash the leader, cut the network in two, heal it, and watch the election."""
    return ClusterPanel()


def draw_time_to_elect(
    *,
    latency: float = 0.003,
    trials: int = 1000,
    ranges=FIGURE_9_8,
    max_time: float = 12.0,
    differing_logs: bool = True,
    seed: int = 0,
):
    """Ongaro's figure 9.8 again: CDFs of the time from a leader's crash until every live server
    follows a new one, one line per election timeout range, on 5 servers.

    The range with no randomness runs a tenth of the trials, as in the dissertation (100 of
    1000). Black markers are the figures the text of section 9.4 quotes.
    """
    fig, ax = plots.figure(height=5.0, margins={"bottom": 0.4, "top": 0.93})
    for k, (lo, hi) in enumerate(ranges):
        n = max(10, trials // 10) if lo == hi else trials
        r = election.time_to_elect(
            (lo, hi),
            trials=n,
            latency=latency,
            jitter=latency / 3,
            differing_logs=differing_logs,
            max_time=max_time,
            seed=seed + k,
        )
        t, frac = r.cdf()
        med = np.median(r.times)
        text = f"{med * 1000:.0f} ms" if np.isfinite(med) else f"> {max_time:g} s"
        ax.step(
            np.concatenate([[t[0] if t.size else max_time], t]),
            np.concatenate([[0.0], frac]),
            where="post",
            lw=1.4,
            label=f"{r.label}: median {text}, {r.split_votes.mean():.2f} failed terms",
        )
    for name, (x, y) in PUBLISHED_9_8.items():
        ax.plot([x], [y], "ko", ms=5)
        ax.annotate(name, (x, y), xytext=(4, -10), textcoords="offset points", fontsize=7)
    plots.reference(ax, x=10.0, label="published 150-150 ms: all > 10 s")
    plots.decorate(
        ax,
        title=f"Time without a leader, 5 servers, one-way latency {latency * 1000:g} ms",
        xlabel="time without leader (s)",
        ylabel="fraction of trials",
        xscale="log",
        xlim=(0.05, max(2 * max_time, 20)),
        ylim=(0, 1.02),
        legend=False,
    )
    ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())  # saves a third of the redraw
    ax.legend(fontsize=7, frameon=False, ncol=2, loc="upper center", bbox_to_anchor=(0.45, -0.17))
    return fig


def timeouts_panel() -> Panel:
    """Lesson 05: the time-to-elect CDFs, with the network latency on a slider."""
    return Panel(
        draw_time_to_elect,
        {
            "latency": slider(0.003, 0.0005, 0.05, 0.0005, "one-way latency (s)", readout=".4f"),
            "trials": int_slider(60, 20, 1000, "trials", step=20),
            "differing_logs": w.Checkbox(value=True, description="logs differ"),
        },
        fixed={"ranges": FIGURE_9_8[2:], "max_time": 3.0},
    )


SPLIT_LATENCIES = (0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5)  # latency / timeout range width


def draw_split_votes(*, sizes=(3, 5, 7), trials: int = 300, seed: int = 0):
    """How often the first election after a crash splits, against the latency measured in
    timeout ranges: the dissertation's fixed-latency formula (lines, section 9.2) and simulated
    Raft clusters with a constant latency and equal logs (markers)."""
    fig, ax = plots.figure()
    grid = np.linspace(0.0, 0.55, 111)
    width = 0.150
    for k, n in enumerate(sizes):
        color = f"C{k}"
        p = [election.split_vote_probability(x, n - 1, n) for x in grid]
        plots.theory_line(ax, grid, p, label=f"{n} servers, formula", color=color)
        sim = []
        for j, x in enumerate(SPLIT_LATENCIES):
            r = election.time_to_elect(
                (0.150, 0.150 + width),
                trials=trials,
                nodes=n,
                latency=Latency(x * width),
                differing_logs=False,
                crash="now",
                first_term_only=True,
                seed=seed + 100 * k + j,
            )
            sim.append(float(np.mean(r.split_votes > 0)))
        plots.sim_points(ax, SPLIT_LATENCIES, sim, label=f"{n} servers, simulated", color=color)
    plots.decorate(
        ax,
        title="First term after a leader crash: how often the vote splits",
        xlabel="one-way latency / width of the timeout range",
        ylabel="split votes",
        ylim=(0, 1),
    )
    return fig


def draw_split_brain(
    *,
    nodes: int = 5,
    scenario: str = "leader crashes, then a cut",
    seed: int = 1,
    check_quorum: bool = True,
):
    """The same faults on Bully, Raft and ZooKeeper, one block of rows each: who leads on each
    side of a partition, and whether two leaders ever shared a term."""
    if scenario not in SPLIT_SCENARIOS:
        raise ValueError(f"scenario must be one of {list(SPLIT_SCENARIOS)}, got {scenario!r}")
    faults = SPLIT_SCENARIOS[scenario]
    block = nodes + 2.2
    fig, ax = plots.figure(height=0.22 * 3 * block + 1.0, margins={"left": 0.13, "top": 0.97})
    ticks: list[float] = []
    labels: list[str] = []
    for k, algorithm in enumerate(("zab", "raft", "bully")):  # drawn bottom-up
        r = election.simulate_election(
            algorithm,
            nodes=nodes,
            seed=seed,
            duration=5.0,
            faults=faults,
            check_quorum=check_quorum,
            trace=False,
        )
        base = k * block
        _timeline(ax, r, arrows=False, base=base)
        t, lab = _row_ticks(ax, r, base)
        ticks += t
        labels += lab
        verdict = _verdict(r)
        ax.text(
            0.0,
            base + nodes + 1.25,
            f"{algorithm}: {verdict}",
            fontsize=8.5,
            fontweight="bold",
            color=plots.DOWN_COLOR if "SPLIT" in verdict else "black",
        )
    ax.set_yticks(ticks, labels, fontsize=6.5)
    ax.set_ylim(-0.1, 3 * block - 0.3)
    plots.decorate(ax, xlabel="time (s)", legend=False)
    return fig


def split_brain_panel() -> Panel:
    """Lesson 05: partitions on Bully, Raft and ZAB side by side; odd and even clusters."""
    return Panel(
        draw_split_brain,
        {
            "nodes": int_slider(5, 2, 7, "nodes"),
            "scenario": choice("leader crashes, then a cut", list(SPLIT_SCENARIOS), "faults"),
            "seed": int_slider(1, 0, 20, "seed"),
            "check_quorum": w.Checkbox(value=True, description="Raft CheckQuorum"),
        },
        columns=4,
    )


def draw_timing(
    *, broadcast: float = 0.01, timeout: float = 0.15, mtbf: float = 10.0, seed: int = 0
):
    """Raft's timing rule: availability against the election timeout for a given broadcast
    time and MTBF (line: the renewal estimate), the simulation at the chosen timeout (marker),
    and below it who led over the simulated run."""
    lat = broadcast / 2
    mttr = min(1.0, mtbf / 10)
    grid = np.logspace(-3, 2, 121)
    theory = [
        election.timing_availability((t, 2 * t), latency=lat, mtbf=mtbf, mttr=mttr) for t in grid
    ]
    hb = timeout / 2
    duration = float(np.clip(1200 * hb, 5.0, 60.0))
    run = election.leader_availability(
        (timeout, 2 * timeout),
        latency=lat,
        jitter=lat / 3,
        mtbf=mtbf,
        mttr=mttr,
        duration=duration,
        seed=seed,
    )
    fig, (top, bottom) = plots.figure(2, 1, height=4.8, height_ratios=[3, 1])
    plots.theory_line(top, grid, theory, label="renewal estimate")
    plots.sim_points(
        top, [timeout], [run.availability], label="simulation", color="C3", markersize=7
    )
    plots.reference(top, x=broadcast, label="broadcast time")
    plots.reference(top, x=mtbf, label="MTBF", color="C1")
    plots.decorate(
        top,
        title=f"broadcast {broadcast * 1000:g} ms, timeout {timeout * 1000:g} ms,"
        f" MTBF {mtbf:g} s: {run.needless_elections} needless elections",
        xlabel="election timeout, minimum of [t, 2t] (s)",
        ylabel="availability",
        xscale="log",
        ylim=(0, 1.05),
    )
    top.title.set_fontsize(9)
    top.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())  # saves a third of the redraw
    for a, b, _, _ in run.result.uptime():
        bottom.broken_barh([(a, b - a)], (0.2, 0.6), color=plots.UP_COLOR, lw=0)
    for r in run.result.reigns:
        if r.end is not None:
            bottom.plot([r.end], [0.9], "v", color=plots.DOWN_COLOR, ms=4)
    plots.decorate(
        bottom,
        title=f"a majority follows a leader {run.availability:.1%} of "
        f"{duration:g} s (theory {run.theory:.1%}); ▼ a leader stops",
        xlabel="time (s)",
        xlim=(0, duration),
        ylim=(0, 1),
    )
    bottom.title.set_fontsize(9)
    bottom.set_yticks([])
    return fig


def timing_panel() -> Panel:
    """Lesson 05: broadcastTime << electionTimeout << MTBF, on three logarithmic sliders."""
    return Panel(
        draw_timing,
        {
            "broadcast": slider(
                0.01, 0.0005, 0.5, 0.1, "broadcast time (s)", log=True, readout=".4f"
            ),
            "timeout": slider(
                0.15, 0.001, 10.0, 0.1, "election timeout (s)", log=True, readout=".3f"
            ),
            "mtbf": slider(10.0, 0.5, 500.0, 0.1, "MTBF (s)", log=True, readout=".1f"),
        },
    )


# --- lesson 06: failover, live ------------------------------------------------------------

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
    if not bin_width > 0:
        raise ValueError(f"bin_width must be > 0 seconds, got {bin_width}")
    starts = load.starts
    if start is None:
        start = float(starts.min()) if len(starts) else 0.0
    if end is None:
        end = float(starts.max()) if len(starts) else start + 1.0
        end = start + max(1, int((end - start) / bin_width)) * bin_width  # whole bins only
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
    if not drills:
        raise ValueError("drills must hold at least one drill")
    rows = len(drills)
    fig, axes = plots.figure(
        rows,
        1,
        sharex=True,
        height=plots.FIGSIZE[1] * (0.3 + 0.7 * rows),
        squeeze=False,
        margins={"hspace": 0.5},
    )
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
        if not rate > 0:
            raise ValueError(f"rate must be > 0 requests per second, got {rate}")
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
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=RENDER_DPI)
        plt.close(fig)
        self.figure, self.png = fig, buffer.getvalue()
        if get_ipython() is not None:
            self.output.clear_output(wait=True)
            self.output.append_display_data(Image(data=self.png, format="png"))

    def close(self) -> None:
        """Stop everything the panel started."""
        self.stop_load()

    def _ipython_display_(self) -> None:
        display(self.widget)


def live_panel(cluster, *, rate: float = 50.0) -> LivePanel:
    """Lesson 06: kill and revive buttons on a running cluster, with its traffic redrawn live."""
    return LivePanel(cluster, rate=rate)


# --- lesson 07: replication ---------------------------------------------------------------

REP_LAGS = (0.0, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2)  # seconds, the lags drawn as markers
REP_FAILOVER = {"crash_at": 1.5, "detection": 0.4, "promotion": 0.2, "timeout": 0.3}
REP_PARTITION_AT = 1.0  # seconds: when the primary loses its backups, if partition is on
REP_TIMES = (0.0, 0.01, 0.02, 0.04, 0.06, 0.09, 0.13, 0.2)  # seconds after a write


_REP_CACHE: dict[tuple, np.ndarray] = {}  # results of a pure function, by its arguments


def _lost_by_lag(rate: float, runs: int, seed: int) -> np.ndarray:
    """``replication.lost_writes_vs_lag`` over ``REP_LAGS``, remembered (it is pure)."""
    from halab import replication as rep

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
            f"RPO {res.recovery_point * 1000:.0f} ms, RTO {res.recovery_time:.1f} s"
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


def draw_quorum(
    *,
    n: int = 3,
    r: int = 1,
    w: int = 1,
    partition: bool = False,
    propagation: float = 0.05,
    trials: int = 300,
    seed: int = 0,
):
    """Stale reads against the time since a write (left); a partition's two sides (right).

    Left: the chance that a read of ``r`` of ``n`` replicas misses a write acknowledged by
    ``w`` of them, ``t`` seconds later (line: ``C(n-w, r)/C(n, r)·exp(-r·t/τ)``; markers: a
    simulation of ``trials`` writes). Right: the share of writes and reads that complete on
    each side (bars, simulated) beside what the quorum sizes allow (diamonds), and the share
    of stale reads, while the first ``n // 2`` replicas are cut off (or with no partition).
    """
    from halab import replication as rep

    rep.read_your_writes(n, r, w)  # checks 1 <= r, w <= n
    fig, (left, right) = plots.figure(1, 2, width=10.0, height=3.8)
    dense = np.linspace(0, REP_TIMES[-1], 80)
    theory = [rep.stale_read_probability(n, r, w, t, propagation=propagation) for t in dense]
    sim = rep.staleness_curve(n, r, w, REP_TIMES, propagation=propagation, trials=trials, seed=seed)
    plots.theory_line(left, dense * 1000, theory, label="C(N−W,R)/C(N,R)·exp(−R·t/τ)")
    plots.sim_points(left, np.array(REP_TIMES) * 1000, sim, label=f"simulated, {trials} writes")
    strict = "R + W > N: never stale" if r + w > n else "R + W ≤ N: may be stale"
    plots.decorate(
        left,
        title=f"N = {n}, R = {r}, W = {w} ({strict})",
        xlabel="time since the write was acknowledged (ms)",
        ylabel="P(stale read)",
        ylim=(-0.02, 1.02),
    )

    minority = max(1, n // 2)
    window = (1.0, 2.0)
    res = rep.simulate_quorum(
        n,
        r,
        w,
        duration=3.0,
        partition=window if partition else None,
        minority=minority,
        jitter=0.005,
        seed=seed,
    )
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


# --- lesson 08: automatic recovery --------------------------------------------------------

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

    rng = np.random.default_rng(seed)
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


def draw_mttr(
    *,
    mttf_hours: float = 24.0,
    probe_period: float = 10.0,
    decision: float = 1.0,
    restart: float = 5.0,
    warm_up: float = 60.0,
    workers: int = 16,
    seed: int = 0,
):
    """MTTR = detection + decision + backoff + restart + warm-up, and the downtime it makes.

    Top: the mean of each step, seconds. Bottom: each simulated worker's downtime over one
    year (markers) beside the formula (1 - MTTF/(MTTF+MTTR)) × 8760 h (line) and the 95%
    band of one worker-year (shaded).
    """
    from halab import recovery as rc

    r = rc.Recovery(probe_period=probe_period, decision=decision, restart=restart, warm_up=warm_up)
    mttf = mttf_hours * SECONDS_PER_HOUR
    parts = r.parts(mttf)
    run = rc.simulate_supervised(mttf, r, horizon=rc.YEAR, workers=workers, seed=seed)
    hours = HOURS_PER_YEAR
    measured = (1.0 - run.availabilities()) * hours
    a = r.availability(mttf)
    low, high = r.band(mttf, rc.YEAR)
    fig, (top, bottom) = plots.figure(2, 1, height=5.6, height_ratios=[1, 2])
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


# --- lesson 09: production load balancers -------------------------------------------------

PRODUCTION_MARKS = {  # event kind -> (colour, line style, label) of its vertical line
    "kill": ("#c0392b", "--", "kill"),
    "hang": ("#c0392b", "--", "hang"),
    "revive": ("#4c9a2a", "--", "revive"),
    "heal": ("#4c9a2a", "--", "release"),
    "removed": ("#e67e22", ":", "out of rotation"),
    "readmitted": ("#1e8449", ":", "back in rotation"),
}
BALANCER_COLORS = {"halab": "C0", "haproxy": "C1", "nginx": "C2"}
SLOW_SECONDS = 0.5  # a request slower than this counts as slow in the lesson's figures


def _production_marks(ax, drill, origin: float, end: float) -> None:
    """Vertical lines at the fault, its end, and the first removal and readmission after it."""
    firsts = {}
    for e in drill.timeline:
        if e.backend == drill.victim and e.kind in PRODUCTION_MARKS and e.kind not in firsts:
            if e.kind in ("removed", "readmitted") and e.t < drill.kill_t:
                continue
            firsts[e.kind] = e.t
    for kind, t in firsts.items():
        if 0 <= t - origin <= end:
            color, style, label = PRODUCTION_MARKS[kind]
            ax.axvline(t - origin, color=color, linestyle=style, linewidth=1.4, label=label)


def draw_production(*, drills, bin_width: float = 0.1, slow: float = SLOW_SECONDS):
    """The same drill through each balancer: one row each, on the same time axis.

    Each row: requests per second answered by the victim and by the others (steps), failed
    requests (red bars) and slow answers (orange bars, slower than ``slow`` seconds), with the
    fault, its end, and the balancer's removal and readmission of the victim marked.

    Args:
        drills: a dict from balancer name to :class:`halab.live.Drill`.
        bin_width: seconds per bar.
        slow: seconds above which an answer counts as slow.
    """
    from halab.live.production import drill_numbers

    if not drills:
        raise ValueError("drills must hold at least one drill")
    if not bin_width > 0:
        raise ValueError(f"bin_width must be > 0 seconds, got {bin_width}")
    rows = len(drills)
    fig, axes = plots.figure(
        rows,
        1,
        sharex=True,
        height=plots.FIGSIZE[1] * (0.3 + 0.7 * rows),
        squeeze=False,
        margins={"hspace": 0.55},
    )
    spans = [float(d.load.starts.max() - d.start) for d in drills.values() if len(d.load)]
    end = max(1, int((max(spans, default=1.0)) / bin_width)) * bin_width
    edges = np.arange(int(round(end / bin_width)) + 1) * bin_width
    highest = 1.0
    for ax, (name, drill) in zip(axes[:, 0], drills.items()):
        t = drill.load.starts - drill.start
        ok = np.array([r.ok for r in drill.load.records], dtype=bool)
        lat = drill.load.latencies
        mine = np.array([r.backend == drill.name for r in drill.load.records], dtype=bool)
        victim = np.histogram(t[ok & mine], bins=edges)[0] / bin_width
        others = np.histogram(t[ok & ~mine], bins=edges)[0] / bin_width
        failed = np.histogram(t[~ok], bins=edges)[0] / bin_width
        slowed = np.histogram(t[ok & (lat > slow)], bins=edges)[0] / bin_width
        x = edges[:-1]
        ax.step(x, others, where="post", color="gray", label="the others answered")
        ax.step(
            x,
            victim,
            where="post",
            color=BALANCER_COLORS.get(name, "C0"),
            lw=1.8,
            label=f"{drill.name} answered",
        )
        ax.bar(
            x,
            slowed,
            width=bin_width,
            align="edge",
            color="#e67e22",
            alpha=0.7,
            label=f"slower than {slow:g} s",
        )
        ax.bar(x, failed, width=bin_width, align="edge", color=plots.DOWN_COLOR, label="failed")
        _production_marks(ax, drill, drill.start, end)
        n = drill_numbers(drill, slow=slow)
        highest = max(highest, float(others.max(initial=0)), float(failed.max(initial=0)))
        plots.decorate(
            ax,
            title=(
                f"{name}: {n['failed']} failed, {n['slow']} slow; out after "
                f"{_ms(n['removed_s'])}, back after {_ms(n['readmitted_s'])}"
            ),
            ylabel="req / s",
            xlim=(0.0, end),
            legend=False,
        )
    for ax in axes[:, 0]:
        ax.set_ylim(0, highest * 1.5)
    axes[0, 0].legend(fontsize=7, frameon=False, ncols=4, loc="upper left")
    axes[-1, 0].set_xlabel("seconds since the drill began")
    return fig


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

    if not drills:
        raise ValueError("drills must hold at least one drill")
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
        fall=int(fall),
        rise=int(rise),
        consecutive_5xx=int(consecutive_5xx),
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


# --- lesson 10: capstone ------------------------------------------------------------------


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
