"""Lesson 03, load balancing: its drawing functions and slider panels."""

from __future__ import annotations

import functools

import matplotlib
import matplotlib.pyplot as plt
import numpy as np

from halab import balancing as bal
from halab import plots
from halab.checks import check_instance, check_int, check_real
from halab.widgets.core import Panel, choice, int_slider, slider

LB_POLICIES = list(bal.POLICIES)
LB_LOADS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
LB_TAIL = 1.0 - np.logspace(np.log10(0.5), -3, 14)  # quantiles drawn as markers, p50 .. p99.9


@functools.lru_cache(maxsize=32)
def _simulated(policy, servers, load, requests, skew, service, seed):
    """One run of :func:`halab.balancing.simulate`, remembered by its arguments."""
    speeds = bal.skewed_speeds(servers, skew)
    return bal.simulate(
        policy,
        servers=servers,
        load=load,
        requests=requests,
        speeds=speeds,
        service=service,
        seed=seed,
    )


def draw_balancer(
    *,
    policy: str = "power_of_two",
    servers: int = 10,
    load: float = 0.9,
    skew: float = 0.0,
    service: str = "exponential",
    requests: int = 20_000,
    seed: int = 0,
    fig=None,
):
    """One balancer under load: its response-time tail, each server's utilization and queue.

    Top: P(response time > t), simulated (markers, at p50 .. p99.9) beside the closed form where
    one exists (random: M/M/1 per server; round robin: E_n/M/1 per server; exponential service)
    and the central queue M/M/c, the bound no dispatcher beats (dotted). Bottom left: how busy
    each server was. Bottom right: requests at each server over time. The last server runs at
    speed ``1 - skew``. ``fig``: a figure this function drew before, drawn into again (a
    panel's).
    """
    plots.check_figure(fig)
    servers = check_int("servers", servers, 1, 10_000)
    requests = check_int("requests", requests, 1, 10**7)
    load = check_real("load", load, 0, 1, lo_open=True, hi_open=True)
    skew = check_real("skew", skew, 0, 1, hi_open=True)
    seed = check_int("seed", seed, 0, None)
    speeds = bal.skewed_speeds(servers, skew)
    result = _simulated(policy, int(servers), float(load), int(requests), float(skew), service,
                        int(seed))  # fmt: skip
    if fig is None:
        # Laid out by hand: constrained layout would cost a third of the panel's time budget.
        fig = plt.figure(figsize=(plots.FIGSIZE[0] * 1.25, plots.FIGSIZE[1] * 1.9))
        fig.subplot_mosaic([["tail", "tail"], ["util", "queue"]])
        fig.subplots_adjust(left=0.1, right=0.98, top=0.95, bottom=0.08, hspace=0.38, wspace=0.28)
    tail, util, queue = plots.reuse(fig)
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
    plots.plain_log_ticks(tail.yaxis)
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


def _theory_label(policy: str, servers: int, service: str) -> str:
    """The legend entry of a policy's closed form (see ``balancing.theory_response_time``)."""
    forms = {
        "random": "M/M/1" if service == "exponential" else "M/G/1",
        "round_robin": f"E{servers}/M/1",
        "power_of_two": "T₂ limit",
    }
    return f"{policy} theory: {forms.get(policy, 'closed form')}"


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
    if isinstance(loads, (str, bytes)) or not len(loads):
        raise ValueError(f"loads must list at least one load in (0, 1), got {loads!r}")
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
                label = _theory_label(name, servers, service) if ax is mean_ax else None
                plots.theory_line(ax, fine, theory, label=label, color=color)
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
    # markers: simulated policies; lines: the closed forms that exist, in the policy's colour
    mean_ax.legend(fontsize=7, frameon=False, ncol=2, loc="upper left")
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
    max_servers = check_int("max_servers", max_servers, 1, 1000)
    check_int("keys", keys, 1, 10**6)
    check_int("vnodes", vnodes, 1, 10_000)
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


def draw_stale(means: dict[str, list[float]] | None = None, *, seed: int = 0):
    """Mean response time against the age of the load figures a balancer routes by.

    Markers: :func:`halab.balancing.stale_means` (10 servers, load 0.9) for least connections,
    power of two and random routing; dotted: random routing's M/M/1 mean, which never depends
    on load figures, and the central queue's M/M/10 bound. ``means``: a result of
    ``stale_means()`` already computed (default: computed here with ``seed``).
    """
    check_int("seed", seed, 0, None)
    refreshes = list(bal.STALE_REFRESH)
    if means is None:
        means = bal.stale_means(refreshes=refreshes, seed=seed)
    check_instance("means", means, dict)
    for name, ys in means.items():
        if len(check_instance("means", ys, (list, tuple, np.ndarray))) != len(refreshes):
            raise ValueError(f"means[{name!r}] must hold {len(refreshes)} means, got {len(ys)}")
    if refreshes[0] == 0:  # fresh figures have no place on a log axis: the text prints them
        refreshes, means = refreshes[1:], {k: v[1:] for k, v in means.items()}
    fig, ax = plots.figure()
    names = {"least_connections": "least connections", "power_of_two": "power of two"}
    for (name, ys), color in zip(means.items(), ("C3", "C2", "C0")):
        if name == "random":
            plots.sim_points(ax, refreshes, ys, label="random (simulated)", color=color)
            continue
        ax.plot(refreshes, ys, "o-", color=color, lw=1, label=names.get(name, name))
    plots.reference(ax, bal.random_routing_response_time(0.9), label="random: M/M/1", color="C0")
    plots.reference(ax, bal.mmc_response_time(10, 0.9), label="central queue: M/M/10")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(refreshes, [f"{r:g}" for r in refreshes])
    ax.set_yticks([1, 2, 5, 10, 20, 50, 100], ["1", "2", "5", "10", "20", "50", "100"])
    plots.decorate(
        ax,
        title="Routing by old load figures: 10 servers at 90% load",
        xlabel="age of the load figures: refreshed every … mean service times",
        ylabel="mean response time",
    )
    return fig
