"""Lesson 05, leader election: its drawing functions and slider panels."""

from __future__ import annotations

import functools

import ipywidgets as w
import matplotlib
import numpy as np

from halab import election, plots
from halab.checks import check_instance, check_int, check_real
from halab.sim import Latency
from halab.widgets.core import Panel, choice, int_slider, slider

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
        self.step = check_real("step", step, 0, 60, lo_open=True, unit="seconds")
        self.start = check_real("start", start, 0, 60, unit="seconds")
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


@functools.lru_cache(maxsize=128)
def _elect(timeout, trials, latency, differing_logs, max_time, seed):
    """``election.time_to_elect`` as draw_time_to_elect asks it, remembered by arguments."""
    return election.time_to_elect(
        timeout,
        trials=trials,
        latency=latency,
        jitter=latency / 3,
        differing_logs=differing_logs,
        max_time=max_time,
        seed=seed,
    )


def draw_time_to_elect(
    *,
    latency: float = 0.003,
    trials: int = 1000,
    ranges=FIGURE_9_8,
    max_time: float = 12.0,
    differing_logs: bool = True,
    seed: int = 0,
    fig=None,
):
    """Ongaro's figure 9.8 again: CDFs of the time from a leader's crash until every live server
    follows a new one, one line per election timeout range, on 5 servers.

    The range with no randomness runs a tenth of the trials, as in the dissertation (100 of
    1000). Black markers are the figures the text of section 9.4 quotes. ``fig``: a figure
    this function drew before, drawn into again (a panel's).
    """
    plots.check_figure(fig)
    for pair in check_instance("ranges", ranges, (list, tuple)):
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise ValueError(f"ranges must hold (low, high) timeout pairs, got {pair!r}")
    if fig is None:
        fig, _ = plots.figure(height=5.0, margins={"bottom": 0.4, "top": 0.93})
    (ax,) = plots.reuse(fig)
    for k, (lo, hi) in enumerate(ranges):
        n = max(10, trials // 10) if lo == hi else trials
        r = _elect((lo, hi), n, float(latency), bool(differing_logs), float(max_time), seed + k)
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
    plots.plain_log_ticks(ax.xaxis)  # math-text labels and minor ticks: a third of the redraw
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
    check_int("nodes", nodes, 1, 15)
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


@functools.lru_cache(maxsize=64)
def _timing_theory(broadcast: float, mtbf: float) -> np.ndarray:
    """The renewal estimate over :data:`TIMING_GRID`, remembered by its arguments."""
    mttr = min(1.0, mtbf / 10)
    return np.array(
        [
            election.timing_availability((t, 2 * t), latency=broadcast / 2, mtbf=mtbf, mttr=mttr)
            for t in TIMING_GRID
        ]
    )


@functools.lru_cache(maxsize=64)
def _timing_run(broadcast: float, timeout: float, mtbf: float, seed: int):
    """One simulated run of :func:`election.leader_availability`, remembered by its arguments."""
    lat = broadcast / 2
    duration = float(np.clip(1200 * timeout / 2, 5.0, 60.0))
    return election.leader_availability(
        (timeout, 2 * timeout),
        latency=lat,
        jitter=lat / 3,
        mtbf=mtbf,
        mttr=min(1.0, mtbf / 10),
        duration=duration,
        seed=seed,
    ), duration


TIMING_GRID = np.logspace(-3, 2, 121)  # election timeouts of the renewal-estimate line, s


def draw_timing(
    *, broadcast: float = 0.01, timeout: float = 0.15, mtbf: float = 10.0, seed: int = 0, fig=None
):
    """Raft's timing rule: availability against the election timeout for a given broadcast
    time and MTBF (line: the renewal estimate), the simulation at the chosen timeout (marker),
    and below it who led over the simulated run.

    ``fig``: a figure this function drew before, updated in place (a panel's).
    """
    plots.check_figure(fig)
    theory = _timing_theory(float(broadcast), float(mtbf))
    run, duration = _timing_run(float(broadcast), float(timeout), float(mtbf), int(seed))
    if fig is None:
        fig, (top, bottom) = plots.figure(2, 1, height=4.8, height_ratios=[3, 1])
        plots.theory_line(top, TIMING_GRID, theory, label="renewal estimate")
        plots.sim_points(top, [timeout], [0.0], label="simulation", color="C3", markersize=7)
        plots.reference(top, x=broadcast, label="broadcast time")
        plots.reference(top, x=mtbf, label="MTBF", color="C1")
        plots.decorate(
            top,
            xlabel="election timeout, minimum of [t, 2t] (s)",
            ylabel="availability",
            xscale="log",
            ylim=(0, 1.05),
            xlim=(TIMING_GRID[0], TIMING_GRID[-1]),
        )
        plots.plain_log_ticks(top.xaxis)
        bottom.plot([], [], "v", color=plots.DOWN_COLOR, ms=4)
        plots.decorate(bottom, xlabel="time (s)", ylim=(0, 1))
        bottom.set_yticks([])
        for ax in (top, bottom):
            ax.set_title(" ", fontsize=9, y=1.0)  # a fixed height: no layout pass per move
    top, bottom = fig.axes
    curve, point, at_broadcast, at_mtbf = top.get_lines()
    curve.set_ydata(theory)
    point.set_data([timeout], [run.availability])
    at_broadcast.set_xdata([broadcast, broadcast])
    at_mtbf.set_xdata([mtbf, mtbf])
    top.title.set_text(
        f"broadcast {broadcast * 1000:g} ms, timeout {timeout * 1000:g} ms,"
        f" MTBF {mtbf:g} s: {run.needless_elections} needless elections"
    )
    for old in bottom.collections:
        old.remove()
    spans = [(a, b - a) for a, b, _, _ in run.result.uptime()]
    bottom.broken_barh(spans, (0.2, 0.6), color=plots.UP_COLOR, lw=0)
    ends = [r.end for r in run.result.reigns if r.end is not None]
    bottom.get_lines()[0].set_data(ends, [0.9] * len(ends))
    bottom.set_xlim(0, duration)
    bottom.title.set_text(
        f"a majority follows a leader {run.availability:.1%} of "
        f"{duration:g} s (theory {run.theory:.1%}); ▼ a leader stops"
    )
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


FENCING_CUTS = (0.25, 0.5, 1.0, 1.5, 2.0, 3.0)  # seconds the old leader is cut off


def draw_fencing(*, rate: float = 50.0, seeds: int = 6, seed: int = 0):
    """A deposed leader's writes mixed into a shared store, against the length of the cut.

    Five Raft servers, the leader cut off on the small side at 1 s; every leader writes
    ``rate`` times a second to one store both sides reach. Line: the closed form of
    :func:`halab.election.expected_interleaved_writes` (no CheckQuorum, no fencing); markers:
    the mean of ``seeds`` simulated runs without fencing, with CheckQuorum, and with fencing
    tokens (:func:`halab.election.fenced_writes`).
    """
    fig, ax = plots.figure()
    cuts = np.array(FENCING_CUTS)
    dense = np.linspace(0.0, cuts[-1], 61)
    theory = [election.expected_interleaved_writes(rate, c) for c in dense]
    plots.theory_line(ax, dense, theory, label="no fencing: rate × (cut − E + h/2 + L) − 1")
    cases = (
        ("no fencing, simulated", False, False, "C0"),
        ("CheckQuorum, no fencing", True, False, "C1"),
        ("fencing tokens", False, True, "C2"),
    )
    for label, check_quorum, fencing, color in cases:
        means = []
        for c in cuts:
            counts = []
            for k in range(seeds):
                r = election.simulate_election(
                    "raft",
                    seed=seed + k,
                    duration=c + 2.0,
                    faults=[(1.0, "split"), (1.0 + c, "heal")],
                    check_quorum=check_quorum,
                    trace=False,
                )
                run = election.fenced_writes(r, rate=rate, fencing=fencing, seed=seed + k)
                counts.append(run.interleaved)
            means.append(float(np.mean(counts)))
        plots.sim_points(ax, cuts, means, label=label, color=color)
    plots.decorate(
        ax,
        title=f"Split brain at a shared store: {rate:g} writes/s from each leader",
        xlabel="seconds the old leader is cut off",
        ylabel="old leader's writes after the new one's",
    )
    return fig
