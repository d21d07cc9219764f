"""The drill: a backend killed and revived under steady load, what it returns, and its numbers.

One script for every drill of a balancer: :meth:`halab.live.LiveCluster.drill` (through the
cluster's own balancer), :meth:`~halab.live.LiveCluster.compare` (several balancers at once) and
:func:`halab.live.production.drill_through` (HAProxy, nginx or halab) all call
:func:`run_fault`, and all return a :class:`Drill`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from halab.checks import check_instance, check_int, check_real
from halab.live.events import Event
from halab.live.loadgen import LoadGenerator, LoadResult
from halab.live.settings import MAX_BACKENDS, Settings

LEADER_KINDS = ("leader", "promote", "failover")  # events that say another node now leads
FAULTS = ("kill", "hang")  # the faults a drill can make: a SIGKILL, or a backend that hangs
# each fault's event kind when it begins and when it ends
FAULT_KINDS = {"kill": ("kill", "revive"), "hang": ("hang", "heal")}
SETTLE = 3.0  # seconds a drill's load may run past its plan until the victim serves again


def served_again(victim: int, after: float):
    """A predicate on a :class:`LoadResult`: backend ``victim`` answered a request sent at
    ``after`` seconds or later (the outcome a kill-and-revive drill waits for)."""
    name = f"b{check_int('victim', victim, 0, MAX_BACKENDS - 1)}"
    after = check_real("after", after, finite=False, unit="seconds")

    def done(result: LoadResult) -> bool:
        return any(r.ok and r.backend == name and r.start >= after for r in result.records)

    return done


def _check_drill_times(kill_at: float, revive_at: float, duration: float, settle: float) -> None:
    if not 0 < kill_at < revive_at < duration:
        raise ValueError(
            f"need 0 < kill_at < revive_at < duration, got {kill_at}, {revive_at}, {duration}"
        )
    if isinstance(settle, bool) or not isinstance(settle, (int, float)) or not 0 <= settle <= 60:
        raise ValueError(f"settle must be in [0, 60] seconds, got {settle!r}")


@dataclass(frozen=True)
class Drill:
    """A kill-and-revive drill under steady load: the records, the timeline and its marks.

    The one record every live drill returns: a balancer's (this module, lessons 06 and 09:
    HAProxy, nginx, halab's own) and a real engine's (:mod:`halab.live.engines`: one per
    leader kill, its writes as the requests), so one figure draws them all
    (:func:`halab.widgets.draw_drills`).

    Attributes:
        load: every client request (:class:`~halab.live.loadgen.LoadResult`); for an engine,
            every write, its ``backend`` the node that led when it was acknowledged.
        timeline: the cluster's events during the drill, times in seconds since its start.
        victim: the index of the backend (or node) that was killed and revived.
        kill_t: when the SIGKILL was sent, seconds.
        revive_t: when the new process was listening again, seconds (``inf``: not revived
            during the drill).
        settings: the balancer's settings (an engine's: its settings by its own names).
        lost: send times (seconds) of the acknowledged writes found missing after the
            failover; empty when nothing was lost (a balancer's requests store nothing);
            ``None`` when the drill did not read its writes back.
        prefix: the victims' name prefix: ``"b"`` for a backend, ``"n"`` for a node.
    """

    load: LoadResult
    timeline: list[Event]
    victim: int
    kill_t: float
    revive_t: float
    settings: Settings | dict
    lost: tuple[float, ...] | None = ()
    prefix: str = "b"

    @property
    def name(self) -> str:
        """The victim's name, ``b<victim>`` (a node's: ``n<victim>``)."""
        return f"{self.prefix}{self.victim}"

    @property
    def start(self) -> float:
        """When the drill's first request was sent, seconds."""
        return float(self.load.starts.min()) if len(self.load) else self.kill_t

    @property
    def failed(self) -> int:
        """Client requests that did not get a 2xx/3xx answer."""
        return self.load.failed

    def _first(self, kind: str, after: float) -> float | None:
        times = [e.t for e in self.timeline if e.kind == kind and e.backend == self.victim]
        later = [t for t in times if t >= after]
        return min(later) if later else None

    @property
    def removed_t(self) -> float | None:
        """When the balancer took the victim out of rotation after the kill (None: never)."""
        return self._first("removed", self.kill_t)

    @property
    def readmitted_t(self) -> float | None:
        """When the balancer put the victim back after the revive (None: never)."""
        return self._first("readmitted", self.revive_t)

    @property
    def last_tried_after_kill(self) -> float | None:
        """Send time of the last request the balancer tried on the victim while it was dead."""
        tried = self.load.tried(self.name)
        dead = tried[(tried >= self.kill_t) & (tried < self.revive_t)]
        return float(dead.max()) if len(dead) else None

    @property
    def first_served_after_revive(self) -> float | None:
        """Send time of the first request the revived victim answered."""
        t = [r.start for r in self.load.records if r.ok and r.backend == self.name]
        later = [x for x in t if x >= self.revive_t]
        return min(later) if later else None

    @property
    def leader_t(self) -> float | None:
        """When another node was first seen leading after the kill (an engine's ``leader``,
        ``promote`` or ``failover`` event; None: never, or a balancer's drill)."""
        times = [
            e.t
            for e in self.timeline
            if e.kind in LEADER_KINDS and e.t >= self.kill_t and e.backend != self.victim
        ]
        return min(times) if times else None

    @property
    def first_ok_t(self) -> float | None:
        """When the first request (or write) sent at or after the kill was answered."""
        done = [r.start + r.latency for r in self.load.records if r.ok and r.start >= self.kill_t]
        return min(done) if done else None

    def summary(self) -> dict:
        """The drill's numbers: requests, failures, and the delays the bars are about."""

        def delay(t, ref):
            return None if t is None else round(t - ref, 3)

        return {
            "requests": len(self.load),
            "failed": self.failed,
            "removed_after_kill_s": delay(self.removed_t, self.kill_t),
            "last_tried_after_kill_s": delay(self.last_tried_after_kill, self.kill_t),
            "readmitted_after_revive_s": delay(self.readmitted_t, self.revive_t),
            "first_served_after_revive_s": delay(self.first_served_after_revive, self.revive_t),
            "leader_after_kill_s": delay(self.leader_t, self.kill_t),
            "first_ok_after_kill_s": delay(self.first_ok_t, self.kill_t),
            "lost": None if self.lost is None else len(self.lost),
        }


def run_fault(
    cluster,
    victim: int,
    gens: Sequence[LoadGenerator],
    *,
    kill_at: float,
    revive_at: float,
    duration: float,
    fault: str = "kill",
    begin: float | None = None,
) -> tuple[float, float, list[LoadResult]]:
    """The drill's script, under load the generators ``gens`` already send.

    At ``begin + kill_at`` the fault begins on ``cluster``'s backend ``victim`` (``"kill"``: a
    SIGKILL; ``"hang"``: it accepts requests and never answers); at ``begin + revive_at`` it
    ends (a new process on the same port; released). Then each generator goes on until the
    victim has answered a request sent after that (:func:`served_again`), at least ``duration``
    seconds and at most its own duration (see :meth:`LoadGenerator.finish_when`).

    Args:
        cluster: a running :class:`halab.live.LiveCluster`.
        victim: the backend's index.
        gens: started load generators.
        kill_at, revive_at, duration: seconds after ``begin``.
        fault: ``"kill"`` or ``"hang"``.
        begin: ``time.monotonic()`` the times count from (default: the first generator's
            start).

    Returns:
        ``(kill_t, revive_t, results)``: when the fault began and ended, on the cluster's
        clock, and each generator's records, in the order of ``gens``.
    """
    if fault not in FAULTS:
        raise ValueError(f"fault must be one of {FAULTS}, got {fault!r}")
    gens = list(check_instance("gens", gens, (list, tuple)))
    if not gens:
        raise ValueError("gens must hold at least one load generator")
    for gen in gens:
        check_instance("gens", gen, LoadGenerator)
    begin_kind, end_kind = FAULT_KINDS[fault]
    for verb in (begin_kind, end_kind, "events"):
        if not callable(getattr(cluster, verb, None)):
            raise TypeError(f"cluster must be a LiveCluster (with {verb}()), got {cluster!r}")
    _check_drill_times(kill_at, revive_at, duration, 0.0)
    if begin is None:
        begin = min(gen._begin for gen in gens)
    time.sleep(max(0.0, begin + kill_at - time.monotonic()))
    getattr(cluster, begin_kind)(victim)
    kill_t = cluster.events(begin_kind, victim)[-1].t
    time.sleep(max(0.0, begin + revive_at - time.monotonic()))
    getattr(cluster, end_kind)(victim)
    revive_t = cluster.events(end_kind, victim)[-1].t
    done = served_again(victim, revive_t)
    if len(gens) == 1:
        return kill_t, revive_t, [gens[0].finish_when(done, planned=duration)]
    results: list = [None] * len(gens)

    def settle_one(k: int) -> None:
        results[k] = gens[k].finish_when(done, planned=duration)

    waiters = [threading.Thread(target=settle_one, args=(k,)) for k in range(len(gens))]
    for t in waiters:
        t.start()
    for t in waiters:
        t.join()
    return kill_t, revive_t, results


def since_start(timeline: Sequence[Event], result: LoadResult, default: float) -> list[Event]:
    """The events of ``timeline`` from the drill's first request on (``default`` without one)."""
    start = float(result.starts.min()) if len(result) else default
    return [e for e in timeline if e.t >= start - 1e-3]


def drill_numbers(drill, *, slow: float = 0.5) -> dict:
    """What the lesson compares: failures, time out of rotation, time back, latency.

    Args:
        drill: a :class:`halab.live.Drill`.
        slow: the latency above which a request counts as slow, seconds.

    Returns:
        ``requests``, ``failed``, ``slow`` (requests slower than ``slow``), ``removed_s``
        (seconds from the fault to the balancer taking the victim out, None if never),
        ``readmitted_s`` (from the end of the fault to its return, None if never),
        ``p50_ms`` and ``p99_ms`` (latency percentiles, ms), ``answered_per_s``.
    """
    if not slow > 0:
        raise ValueError(f"slow must be > 0 seconds, got {slow}")
    check_instance("drill", drill, Drill)
    lat = drill.load.latencies
    starts = drill.load.starts
    span = float(starts.max() - starts.min()) if len(starts) > 1 else float("nan")

    def delay(t, ref):
        return None if t is None else float(t - ref)

    return {
        "requests": len(drill.load),
        "failed": drill.failed,
        "slow": int((lat > slow).sum()),
        "removed_s": delay(drill.removed_t, drill.kill_t),
        "readmitted_s": delay(drill.readmitted_t, drill.revive_t),
        "p50_ms": float(np.percentile(lat, 50) * 1e3) if len(lat) else float("nan"),
        "p99_ms": float(np.percentile(lat, 99) * 1e3) if len(lat) else float("nan"),
        "answered_per_s": drill.load.ok / span if span > 0 else float("nan"),
    }
