"""Replication: primary/backup in three modes, failover, quorums, stale reads and partitions.

A tour (the numbers are exact: closed forms, no simulation):

    >>> stale_read_probability(n=3, r=1, w=1)        # C(2, 1) / C(3, 1)
    0.6666666666666666
    >>> read_your_writes(n=3, r=2, w=2), read_your_writes(n=3, r=1, w=2)
    (True, False)
    >>> quorum_read([(3, "blue"), (5, "green"), (4, "red")])    # the newest version wins
    (5, 'green')
    >>> expected_lost_writes(rate=200, lag=0.05)     # writes/s x seconds of lag
    10.0
    >>> lost_on_promotion([1.00, 1.96, 1.97, 2.00], crash_time=2.0, lag=0.05)
    3

Vocabulary, and how each term is coded (times in seconds, rates per second):

- *primary*: the one replica that takes writes; *backups* copy its log, in log order.
- *mode*: when the primary acknowledges a write to its client, a ``str``:

  - ``"sync"``: after every backup has it (the primary waits for all of them);
  - ``"semisync"``: after ``wait_for`` backups have it, as MySQL's semisynchronous
    replication (``rpl_semi_sync_source_wait_for_replica_count``, default 1). If no
    acknowledgement comes within ``timeout`` (``rpl_semi_sync_source_timeout``, default
    10 000 ms) the primary *falls back* to asynchronous replication, and turns semi-sync back
    on when a backup has caught up. ``wait_point`` says when the write becomes visible to
    other clients: ``"after_sync"`` (MySQL's default since 5.7.2) only once a backup has it,
    ``"after_commit"`` already before;
  - ``"async"``: at once; the write is shipped ``lag`` seconds later (the *replication lag*).

- *failover*: the primary crashes, a failure detector notices after ``detection`` seconds,
  and the most advanced backup is promoted after ``promotion`` more (what MHA or Orchestrator
  do for MySQL). The *recovery time* is the crash-to-promotion time; the *lost writes* are the
  acknowledged writes that the promoted backup never received; the *recovery point* is how
  far back in time the loss reaches (the crash time minus the acknowledgement time of the
  oldest lost write).
- *quorum*: ``n`` replicas, a write waits for ``w`` acknowledgements, a read for ``r``
  replies, and the read returns the reply with the newest *version* (an ``int``).
- *stale read*: a read that returns a version older than the newest write that had
  completed before the read began.
- *partition*: some links stop carrying messages; each side keeps serving only if it still
  has the replicas its quorums need.

Where each formula comes from:

- Writes lost by an asynchronous backup: a write acknowledged at time ``a`` is shipped at
  ``a + L`` (L, the lag). A crash at ``T`` loses exactly the writes acknowledged in
  ``(T - L, T]``: those not yet shipped (what was already on the wire still lands, because a
  failover takes longer than one network hop). With Poisson writes at rate λ that count is
  Poisson-distributed with mean and variance λ·L (the number of points of a Poisson process
  in an interval of length L; Ross, *Introduction to Probability Models*, section 5.3).
- The chance that a read quorum misses every replica of the write quorum, when both are
  chosen uniformly at random: C(n - w, r) / C(n, r), the hypergeometric chance of drawing all
  r replicas from the n - w that the write skipped (Bailis, Venkataraman, Franklin,
  Hellerstein, Stoica, "Probabilistically Bounded Staleness for Practical Partial Quorums",
  PVLDB 5(8), 2012, the closed form of PBS k-staleness, after Malkhi, Reiter, Wool and
  Wright's probabilistic quorums). For k independent versions it is raised to the k-th power.
- Staleness over time: PBS models the time a write takes to reach the other replicas (its
  WARS model). Here the write reaches the ``w`` replicas of its quorum at once and each other
  replica after an independent exponential delay of mean τ (anti-entropy, read repair or
  hinted handoff). A read t seconds after the write then misses it with probability
  C(n - w, r) / C(n, r) · exp(-r·t/τ): every one of its r replicas must be outside the write
  quorum *and* still without the write. At t = 0 this is the PBS closed form.
- R + W > N: any r replicas and any w replicas share at least one (pigeonhole), so a read
  always meets a replica holding the newest completed write; with versions, the newest wins.
  Gifford, "Weighted Voting for Replicated Data", SOSP 1979; Bailis et al. section 2.
- Partitions: a side can write only if it holds w replicas and read only if it holds r
  (CAP: Brewer's PODC 2000 keynote, proved by Gilbert and Lynch, "Brewer's Conjecture and
  the Feasibility of Consistent, Available, Partition-Tolerant Web Services", SIGACT News
  33(2), 2002). PACELC (Abadi, "Consistency Tradeoffs in Modern Distributed Database System
  Design", IEEE Computer 45(2), 2012): if Partitioned, choose Availability or Consistency;
  Else choose Latency or Consistency. The commit wait of each mode is that else-latency.

Where real systems sit, and the source of each claim, is in :data:`REAL_SYSTEMS`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from halab.checks import check_choice as _choice
from halab.checks import check_int as _count
from halab.checks import check_real
from halab.checks import non_negative as _non_negative
from halab.checks import positive as _positive
from halab.sim import Latency, Network, Node, Record, Simulation

__all__ = [
    "MODES",
    "REAL_SYSTEMS",
    "WAIT_POINTS",
    "FailoverResult",
    "QuorumResult",
    "RealSystem",
    "Side",
    "expected_lost_after_cut",
    "expected_lost_writes",
    "lost_on_promotion",
    "lost_writes_vs_lag",
    "partition_sides",
    "quorum_read",
    "read_your_writes",
    "simulate_failover",
    "simulate_quorum",
    "stale_read_probability",
    "staleness_curve",
]

MODES = ("sync", "semisync", "async")
WAIT_POINTS = ("after_sync", "after_commit")

LATENCY = 0.001  # seconds, one-way delay between replicas in the same data centre
DETECTION = 1.0  # seconds from the crash until the failure detector suspects the primary
PROMOTION = 0.5  # seconds to promote a backup and point clients at it
SEMISYNC_TIMEOUT = 10.0  # seconds, MySQL's rpl_semi_sync_source_timeout default (10000 ms)


# --- argument checks ------------------------------------------------------------------


MAX_REQUESTS = 1_000_000  # writes and reads one simulation may send


def _check_requests(expected: float, what: str) -> None:
    """Refuse a run that would send more than :data:`MAX_REQUESTS`: it would take minutes."""
    if expected > MAX_REQUESTS:
        raise ValueError(
            f"{what} x duration must be at most {MAX_REQUESTS:.0e} requests, got {expected:.3g}"
        )


def _quorum(n: int, r: int, w: int) -> tuple[int, int, int]:
    n = _count("n", n, 1)
    r = _count("r", r, 1, n)
    w = _count("w", w, 1, n)
    return n, r, w


# --- closed forms ---------------------------------------------------------------------


def read_your_writes(n: int, r: int, w: int) -> bool:
    """Whether every read meets the newest completed write: ``r + w > n`` (strict quorums).

    Args:
        n: replicas, ``>= 1``.
        r: replies a read waits for, in ``[1, n]``.
        w: acknowledgements a write waits for, in ``[1, n]``.

    Raises:
        ValueError: if ``r`` or ``w`` is outside ``[1, n]``.
    """
    n, r, w = _quorum(n, r, w)
    return r + w > n


def stale_read_probability(
    n: int, r: int, w: int, t: float = 0.0, *, propagation: float | None = None, k: int = 1
) -> float:
    """The chance that a read misses the newest write (PBS; see the module docstring).

    At ``t = 0`` (or with ``propagation=None``, no anti-entropy) this is Bailis et al.'s
    closed form ``C(n - w, r) / C(n, r)``, raised to the power ``k`` for the chance of
    missing the last ``k`` independent writes. With anti-entropy of mean ``propagation``
    seconds, a read ``t`` seconds after the write completed misses it with probability
    ``C(n - w, r) / C(n, r) * exp(-r * t / propagation)`` (``k = 1`` only).

    Args:
        n: replicas, ``>= 1``.
        r: read quorum, in ``[1, n]``.
        w: write quorum, in ``[1, n]``.
        t: seconds since the write completed, ``>= 0``.
        propagation: mean seconds for a replica outside the write quorum to receive the
            write, ``> 0``; ``None`` when it never does.
        k: how many consecutive writes the read must miss, ``>= 1``.

    Returns:
        A probability in ``[0, 1]``; 0 exactly when ``r + w > n``.

    Raises:
        ValueError: on ``r`` or ``w`` outside ``[1, n]``, a negative ``t``, a propagation
            delay that is not positive, or ``k > 1`` together with ``t > 0``.
    """
    n, r, w = _quorum(n, r, w)
    t = _non_negative("t", t)
    k = _count("k", k, 1)
    if propagation is not None:
        propagation = _positive("propagation", propagation)
    miss = math.comb(n - w, r) / math.comb(n, r)
    if k > 1:
        if t > 0 and propagation is not None:
            raise ValueError(f"k must be 1 when t > 0 (got k={k}, t={t})")
        return miss**k
    if propagation is None or t == 0:
        return miss
    return miss * math.exp(-r * t / propagation)


def expected_lost_writes(rate: float, lag: float) -> float:
    """Acknowledged writes an asynchronous backup lacks at a crash, on average: ``rate * lag``.

    Args:
        rate: writes per second (a Poisson process), ``> 0``.
        lag: seconds from a write's acknowledgement until it is shipped to the backup,
            ``>= 0`` (writes already on the wire reach the backup before a promotion).

    Raises:
        ValueError: on a rate that is not positive or a negative lag.
    """
    return _positive("rate", rate) * _non_negative("lag", lag)


def expected_lost_after_cut(
    mode: str,
    rate: float,
    cut_for: float,
    *,
    lag: float = 0.0,
    timeout: float = SEMISYNC_TIMEOUT,
) -> float:
    """Acknowledged writes a failover loses, on average, when the primary's link to every
    backup broke ``cut_for`` seconds before it crashed (0: a plain crash, no cut).

    - ``"sync"``: none; the primary acknowledges nothing it has not replicated (it stalls).
    - ``"async"``: ``rate × (cut_for + lag)``: everything acknowledged after the cut, and the
      writes of the last ``lag`` seconds before it, which were shipped into the cut.
    - ``"semisync"``: none while ``cut_for <= timeout``: the writes wait for a backup and are
      never acknowledged. Later, the first write after the cut (an exponential wait ``t₁``)
      times out at ``t₁ + timeout``; the primary then falls back to asynchronous replication
      and acknowledges every waiting write and every later one, all of them lost. With
      ``d = cut_for - timeout``, ``E = ∫₀ᵈ λe^(-λt)(1 + λ(cut_for - t)) dt
      = λ·cut_for·(1 - e^(-λd)) + λ·d·e^(-λd)``, about ``rate × cut_for`` once ``λd ≫ 1``.
      MySQL's ``rpl_semi_sync_source_timeout`` is 10 s by default (:data:`SEMISYNC_TIMEOUT`):
      a replica slow or unreachable for longer turns semi-sync into async without an error.

    :func:`simulate_failover` with ``partition_at = crash_at - cut_for`` agrees (tests).

    Args:
        mode: one of :data:`MODES`.
        rate: writes per second (Poisson), ``> 0``.
        cut_for: seconds between the cut and the crash, ``>= 0``.
        lag: async: seconds from acknowledgement to shipping, ``>= 0``.
        timeout: semi-sync: seconds before falling back, ``> 0``.

    >>> expected_lost_after_cut("semisync", 200, 5.0)       # shorter than the 10 s timeout
    0.0
    >>> round(expected_lost_after_cut("semisync", 200, 30.0))  # every write of the 30 s
    6000
    >>> expected_lost_after_cut("async", 200, 0.0, lag=0.05)   # a plain crash: λ·L
    10.0
    """
    mode = _choice("mode", mode, MODES)
    rate = _positive("rate", rate)
    cut_for = _non_negative("cut_for", cut_for)
    lag = _non_negative("lag", lag)
    timeout = _positive("timeout", timeout)
    if mode == "sync":
        return 0.0
    if mode == "async":
        return rate * (cut_for + lag)
    d = cut_for - timeout
    if d <= 0:
        return 0.0
    stay = math.exp(-rate * d)
    return rate * cut_for * (1.0 - stay) + rate * d * stay


def lost_on_promotion(ack_times: Iterable[float], crash_time: float, lag: float) -> int:
    """How many acknowledged writes a backup ``lag`` seconds behind lacks when promoted.

    A write acknowledged at ``a <= crash_time`` is shipped at ``a + lag``; it is lost when
    that is after the crash (``a + lag > crash_time``). Writes acknowledged after the crash
    (by someone else) do not count.

    Args:
        ack_times: acknowledgement times of the primary's writes, seconds.
        crash_time: when the primary crashed, seconds.
        lag: replication delay, seconds, ``>= 0``.

    Raises:
        ValueError: on a negative lag.
    """
    lag = _non_negative("lag", lag)
    crash_time = check_real("crash_time", crash_time)
    return sum(1 for a in ack_times if a <= crash_time < a + lag)


def quorum_read(replies: Iterable[tuple[int, Any]]) -> tuple[int, Any]:
    """The answer of a quorum read: the reply with the newest (highest) version.

    Args:
        replies: ``(version, value)`` pairs, one per replica that answered.

    Returns:
        The ``(version, value)`` with the highest version (the first one on a tie).

    Raises:
        ValueError: if there is no reply.
    """
    best = None
    for reply in replies:
        if best is None or reply[0] > best[0]:
            best = reply
    if best is None:
        raise ValueError("replies must hold at least one (version, value) pair, got none")
    return tuple(best)


class Side(NamedTuple):
    """What one side of a partition can still do (see :func:`partition_sides`)."""

    replicas: int
    can_read: bool
    can_write: bool


def partition_sides(n: int, r: int, w: int, minority: int) -> dict[str, Side]:
    """What each side of a partition can do, with ``minority`` replicas cut off from the rest.

    A side can complete a write only if it holds ``w`` replicas and a read only if it holds
    ``r``. If both sides can write, the replicas diverge (availability was chosen); if a
    side can read but missed the other side's writes, its reads are stale.

    Args:
        n: replicas, ``>= 2``.
        r: read quorum, in ``[1, n]``.
        w: write quorum, in ``[1, n]``.
        minority: replicas on the smaller side, in ``[1, n // 2]``.

    Returns:
        ``{"majority": Side, "minority": Side}``.
    """
    n, r, w = _quorum(n, r, w)
    if n < 2:
        raise ValueError(f"n must be an integer >= 2 to partition, got {n}")
    minority = _count("minority", minority, 1, n // 2)
    sides = {"majority": n - minority, "minority": minority}
    return {name: Side(size, r <= size, w <= size) for name, size in sides.items()}


# --- real systems ---------------------------------------------------------------------


@dataclass(frozen=True)
class RealSystem:
    """Where a real system sits: when it acknowledges, and what a failover can lose."""

    system: str
    waits_for: str
    loses_acked_writes: str
    partition: str
    source: str


REAL_SYSTEMS = (
    RealSystem(
        "MySQL, asynchronous replication (the default)",
        "nothing: the source commits and answers, replicas pull the binary log later",
        "yes, the writes inside the replication lag",
        "nothing in the protocol stops a promoted replica and a source that still runs from "
        "both taking writes (PA/EL)",
        "MySQL 8.4 Reference Manual, 19.4.10 Semisynchronous Replication (introduction)",
    ),
    RealSystem(
        "MySQL, semisynchronous replication",
        "rpl_semi_sync_source_wait_for_replica_count replicas (default 1) to write the "
        "transaction to their relay log; AFTER_SYNC (default) before the commit is visible",
        "no with AFTER_SYNC while semi-sync is on; after rpl_semi_sync_source_timeout "
        "(default 10000 ms) without an answer it reverts to asynchronous and can lose writes",
        "waits up to the timeout, then chooses availability (PA/EC)",
        "MySQL 8.4 Reference Manual, 19.4.10.2 Configuring Semisynchronous Replication; "
        "MySQL worklog WL#6355 (AFTER_SYNC, lossless failover)",
    ),
    RealSystem(
        "RabbitMQ quorum queue (a Raft group, 3 replicas by default)",
        "a majority of replicas, leader included, before the publisher confirm",
        "no: a confirmed message survives while a majority of replicas is not lost for good",
        "only the side with a majority keeps the queue available (PC/EC)",
        "RabbitMQ documentation, Quorum Queues: 'Data Safety' and 'Fault Tolerance and "
        "Minimum Number of Replicas Online'",
    ),
    RealSystem(
        "ZooKeeper ensemble",
        "writes go through the leader and commit when a quorum (n/2 + 1) has logged them",
        "no: a new leader has every committed proposal",
        "only a majority side elects a leader and writes; reads are served from the local "
        "replica of whichever server a client is connected to, so they can lag (PC/EC for writes)",
        "ZooKeeper Internals, 'Atomic Broadcast' and 'Quorums'; ZooKeeper Overview, "
        "'Implementation' (Hunt et al., USENIX ATC 2010, section 4)",
    ),
)
"""Where real systems sit, each claim with the document it comes from."""


# --- primary/backup on the simulated network ------------------------------------------


@dataclass(frozen=True)
class Write:
    """A client's write, numbered in the order the client sent it."""

    id: int


@dataclass(frozen=True)
class Replicate:
    """A log entry shipped to a backup: its log position and the write it carries."""

    position: int
    id: int
    want_ack: bool


@dataclass(frozen=True)
class ReplicateAck:
    """A backup's acknowledgement: it holds every log entry up to ``position``."""

    position: int


class _Client(Node):
    """Sends writes to the current primary as a Poisson process of rate ``rate``."""

    def __init__(self, name: str, primary: str, rate: float):
        super().__init__(name)
        self.primary, self.rate, self.sent = primary, rate, 0

    def on_start(self):
        self.set_timer("next", self.rng.exponential(1.0 / self.rate))

    def on_timer_next(self):
        self.sent += 1
        self.record("submit", self.sent)
        self.send(self.primary, Write(self.sent))
        self.set_timer("next", self.rng.exponential(1.0 / self.rate))


class _Server(Node):
    """A database server: the primary (serves writes, ships its log) or a backup (copies it)."""

    def __init__(self, name: str, role: str, settings: dict):
        super().__init__(name)
        self.role = role
        self.cfg = settings
        self.log: list[int] = []  # write ids, in log order (position = index + 1)
        self.pending: dict[int, int] = {}  # backups: position -> id, received out of order
        self.backups: list[str] = []
        self.acked_upto: dict[str, int] = {}
        self.waiting: dict[int, tuple[int, float]] = {}  # position -> (id, arrival)
        self.semisync_on = True
        self.acks: dict[int, float] = {}  # id -> time acknowledged to the client
        self.visible: dict[int, float] = {}  # id -> time readable by other clients
        self.commit_wait: list[float] = []

    # -- the primary ---------------------------------------------------------------

    def on_Write(self, msg: Write, src: str):
        if self.role != "primary":
            self.record("refuse", msg.id)
            return
        self.log.append(msg.id)
        position = len(self.log)
        mode = self.cfg["mode"]
        if mode == "async":
            self._commit(msg.id)
            self._ack(msg.id, self.now)
            self.sim.after(self.cfg["lag"], self._ship, position, msg.id)
            return
        for backup in self.backups:
            self.send(backup, Replicate(position, msg.id, True))
        waiting = mode == "sync" or self.semisync_on
        if not waiting or (mode == "sync" and not self.backups):
            self._commit(msg.id)
            self._ack(msg.id, self.now)
            return
        self.waiting[position] = (msg.id, self.now)
        if mode == "semisync":
            if self.cfg["wait_point"] == "after_commit":
                self._commit(msg.id)
            self.sim.after(self.cfg["timeout"], self._expire, position)

    def _ship(self, position: int, write_id: int):
        if self.alive and self.role == "primary":
            for backup in self.backups:
                self.send(backup, Replicate(position, write_id, False))

    def on_ReplicateAck(self, msg: ReplicateAck, src: str):
        if self.role != "primary":
            return
        self.acked_upto[src] = max(self.acked_upto.get(src, 0), msg.position)
        mode = self.cfg["mode"]
        if mode == "semisync" and not self.semisync_on and msg.position >= len(self.log):
            self.semisync_on = True  # a backup caught up: semi-sync resumes
            self.record("resume")
        need = len(self.backups) if mode == "sync" else self.cfg["wait_for"]
        for position in sorted(self.waiting):
            have = sum(1 for b in self.backups if self.acked_upto.get(b, 0) >= position)
            if have < need:
                break
            write_id, arrival = self.waiting.pop(position)
            self._commit(write_id)
            self._ack(write_id, arrival)

    def _expire(self, position: int):
        if not (self.alive and self.role == "primary" and position in self.waiting):
            return
        self.semisync_on = False  # the timeout: fall back to asynchronous replication
        self.record("fallback")
        for pos in sorted(self.waiting):
            write_id, arrival = self.waiting.pop(pos)
            self._commit(write_id)
            self._ack(write_id, arrival)

    def _commit(self, write_id: int):
        if write_id not in self.visible:
            self.visible[write_id] = self.now

    def _ack(self, write_id: int, arrival: float):
        self.acks[write_id] = self.now
        self.commit_wait.append(self.now - arrival)
        self.record("ack", write_id)

    # -- a backup ------------------------------------------------------------------

    def on_Replicate(self, msg: Replicate, src: str):
        if self.role != "backup":
            return
        if msg.position > len(self.log):
            self.pending[msg.position] = msg.id
        advanced = False
        while len(self.log) + 1 in self.pending:  # apply in log order, as a relay log does
            write_id = self.pending.pop(len(self.log) + 1)
            self.log.append(write_id)
            self.record("receive", write_id)
            advanced = True
        if msg.want_ack and (advanced or msg.position <= len(self.log)):
            self.send(src, ReplicateAck(len(self.log)))


@dataclass(frozen=True)
class FailoverResult:
    """What one failover did (see :func:`simulate_failover`); times in seconds.

    Attributes:
        mode: ``"sync"``, ``"semisync"`` or ``"async"``.
        crash_at, detected_at, promoted_at: when the primary crashed, was suspected, and when
            the backup ``promoted`` took over.
        submitted: writes the client sent during the run.
        ack_ids, ack_times: the writes acknowledged by the first primary (all before the
            crash), in acknowledgement order, and when.
        lost_ids: acknowledged writes the promoted backup lacked.
        lost_visible_ids: writes other clients could already read on the first primary that
            the promoted backup lacked (more than ``lost_ids`` with ``"after_commit"``).
        commit_wait: seconds each acknowledged write waited at the primary for backups.
        fallback_at: when semi-sync fell back to asynchronous replication (``None`` if never).
        unavailable: the longest stretch with no write acknowledged, seconds.
        records: the trace (the nodes' own records and the faults), for timelines.
    """

    mode: str
    crash_at: float
    detected_at: float
    promoted_at: float
    promoted: str
    submitted: int
    ack_ids: np.ndarray
    ack_times: np.ndarray
    lost_ids: np.ndarray
    lost_visible_ids: np.ndarray
    commit_wait: np.ndarray
    fallback_at: float | None
    unavailable: float
    records: list[Record] = field(repr=False)

    @property
    def lost(self) -> int:
        """How many acknowledged writes the failover lost."""
        return len(self.lost_ids)

    @property
    def recovery_time(self) -> float:
        """Seconds from the crash until the promoted backup serves writes."""
        return self.promoted_at - self.crash_at

    @property
    def recovery_point(self) -> float:
        """Seconds of acknowledged writes lost: crash time minus the oldest lost write's ack."""
        if not len(self.lost_ids):
            return 0.0
        times = dict(zip(self.ack_ids.tolist(), self.ack_times.tolist()))
        return self.crash_at - min(times[i] for i in self.lost_ids.tolist())


def simulate_failover(
    mode: str = "async",
    *,
    backups: int = 2,
    rate: float = 200.0,
    lag: float = 0.05,
    latency: float = LATENCY,
    jitter: float = 0.0,
    crash_at: float = 3.0,
    detection: float = DETECTION,
    promotion: float = PROMOTION,
    wait_for: int = 1,
    timeout: float = SEMISYNC_TIMEOUT,
    wait_point: str = "after_sync",
    partition_at: float | None = None,
    duration: float | None = None,
    seed: int = 0,
) -> FailoverResult:
    """Run a primary and its backups on the simulated network, crash the primary, fail over.

    A client sends writes to the primary as a Poisson process. The primary logs each write
    and acknowledges it according to ``mode`` (see the module docstring); backups apply the
    log in order and acknowledge cumulatively (a log position, as a MySQL replica does).
    At ``crash_at`` the primary crashes; ``detection`` seconds later a failure detector
    suspects it, and ``promotion`` seconds after that the backup with the longest log becomes
    the primary, the others follow it, and the client sends to it. A promoted primary with no
    backups left acknowledges alone in ``"sync"`` mode; in ``"semisync"`` it waits for the
    timeout and falls back, as MySQL does.

    Args:
        mode: one of :data:`MODES`.
        backups: backups of the primary, ``>= 1``.
        rate: writes per second, ``> 0``.
        lag: seconds an asynchronous primary waits before shipping a write, ``>= 0``.
        latency: one-way network delay, seconds, ``>= 0``.
        jitter: standard deviation of the delay, seconds, ``>= 0`` (normal, clipped at 0).
        crash_at: when the primary crashes, seconds, ``> 0``.
        detection: seconds until the crash is suspected, ``>= 0``.
        promotion: seconds from suspicion to a serving new primary, ``>= 0``.
        wait_for: semi-sync: backups that must acknowledge, in ``[1, backups]``.
        timeout: semi-sync: seconds to wait before falling back to asynchronous, ``> 0``.
        wait_point: semi-sync: one of :data:`WAIT_POINTS`.
        partition_at: when the primary is cut off from every backup (the client still
            reaches it), seconds in ``[0, crash_at]``; ``None`` for no partition.
        duration: how long to run, seconds; by default one second past the promotion.
        seed: the simulation's seed.

    Returns:
        A :class:`FailoverResult`.

    Raises:
        ValueError: on any argument outside its range.
    """
    mode = _choice("mode", mode, MODES)
    wait_point = _choice("wait_point", wait_point, WAIT_POINTS)
    backups = _count("backups", backups, 1)
    wait_for = _count("wait_for", wait_for, 1, backups)
    rate = _positive("rate", rate)
    lag = _non_negative("lag", lag)
    latency = _non_negative("latency", latency)
    jitter = _non_negative("jitter", jitter)
    crash_at = _positive("crash_at", crash_at)
    detection = _non_negative("detection", detection)
    promotion = _non_negative("promotion", promotion)
    timeout = _positive("timeout", timeout)
    if partition_at is not None:
        partition_at = _non_negative("partition_at", partition_at)
        if partition_at > crash_at:
            raise ValueError(
                f"partition_at must be in [0, crash_at={crash_at}], got {partition_at}"
            )
    promoted_at = crash_at + detection + promotion
    if duration is None:
        duration = promoted_at + 1.0
    duration = _positive("duration", duration)
    if duration <= promoted_at:
        raise ValueError(
            f"duration must be > crash_at + detection + promotion = {promoted_at}, got {duration}"
        )
    _check_requests(rate * duration, "rate")

    delay = Latency(latency, jitter, "normal") if jitter > 0 else Latency(latency)
    sim = Simulation(seed=seed, network=Network(latency=delay), trace=False)
    settings = {
        "mode": mode,
        "lag": lag,
        "wait_for": wait_for,
        "timeout": timeout,
        "wait_point": wait_point,
    }
    primary = sim.add(_Server("primary", "primary", settings))
    names = [f"backup{i + 1}" for i in range(backups)]
    servers = [sim.add(_Server(name, "backup", settings)) for name in names]
    primary.backups = list(names)
    client = sim.add(_Client("client", "primary", rate))
    state: dict[str, Any] = {}

    def cut():
        sim.network.partition("primary", names)
        client.record("partition", "primary | " + ", ".join(names))

    def detect():
        client.record("detect", "primary")

    def promote():
        best = max(servers, key=lambda s: len(s.log))  # the most advanced backup
        state["promoted"], state["log"] = best, list(best.log)
        best.role = "primary"
        best.backups = [s.name for s in servers if s is not best]
        for other in servers:  # the others follow the new primary from their own position
            if other is not best:
                best.acked_upto[other.name] = len(other.log)
                for position in range(len(other.log) + 1, len(best.log) + 1):
                    best.send(other.name, Replicate(position, best.log[position - 1], False))
        client.primary = best.name
        client.record("promote", best.name)

    if partition_at is not None:
        sim.at(partition_at, cut)
    sim.at(crash_at, sim.crash, "primary")
    sim.at(crash_at + detection, detect)
    sim.at(promoted_at, promote)
    sim.run(until=duration)

    ack_ids = np.array(list(primary.acks), dtype=int)
    ack_times = np.array(list(primary.acks.values()), dtype=float)
    kept = set(state["log"])
    lost = np.array([i for i in primary.acks if i not in kept], dtype=int)
    lost_visible = np.array([i for i in primary.visible if i not in kept], dtype=int)
    acks_all = sorted(r.time for r in sim.trace if r.kind == "ack")
    edges = np.array([0.0, *acks_all, duration])
    fallbacks = [r.time for r in sim.trace if r.kind == "fallback" and r.node == "primary"]
    return FailoverResult(
        mode=mode,
        crash_at=crash_at,
        detected_at=crash_at + detection,
        promoted_at=promoted_at,
        promoted=state["promoted"].name,
        submitted=client.sent,
        ack_ids=ack_ids,
        ack_times=ack_times,
        lost_ids=lost,
        lost_visible_ids=lost_visible,
        commit_wait=np.array(primary.commit_wait, dtype=float),
        fallback_at=fallbacks[0] if fallbacks else None,
        unavailable=float(np.max(np.diff(edges))),
        records=list(sim.trace),
    )


def lost_writes_vs_lag(
    lags: Sequence[float],
    *,
    rate: float = 100.0,
    latency: float = LATENCY,
    runs: int = 10,
    backups: int = 1,
    seed: int = 0,
) -> np.ndarray:
    """Acknowledged writes lost per failover of an asynchronous primary, for each lag.

    Runs :func:`simulate_failover` ``runs`` times per lag (seeds ``seed``, ``seed + 1``, ...,
    a different one for every run), with the crash 0.1 s past the largest lag; compare
    the rows' means with
    ``expected_lost_writes(rate, lag)``.

    Args:
        lags: replication lags, seconds, each ``>= 0``.
        rate: writes per second, ``> 0``.
        latency: one-way network delay, seconds, ``>= 0``.
        runs: failovers per lag, ``>= 1``.
        backups: backups of the primary, ``>= 1``.
        seed: the first seed.

    Returns:
        An array of shape ``(len(lags), runs)``: writes lost in each failover.
    """
    runs = _count("runs", runs, 1, 10_000)
    lags = [_non_negative("lag", x) for x in lags]
    if len(lags) * runs > 100_000:
        raise ValueError(f"lags x runs must be at most 1e5 failovers, got {len(lags) * runs}")
    crash_at = 0.1 + max(lags, default=0.0)  # only the last ``lag`` seconds matter
    promotion = 0.01 + 4 * latency  # long enough for writes on the wire to land
    out = np.zeros((len(lags), runs), dtype=int)
    for i, lag in enumerate(lags):
        for j in range(runs):  # a fresh seed for every failover: no two markers share one
            result = simulate_failover(
                "async",
                backups=backups,
                rate=rate,
                lag=lag,
                latency=latency,
                crash_at=crash_at,
                detection=0.0,
                promotion=promotion,
                duration=crash_at + promotion + 1e-6,
                seed=seed + i * runs + j,
            )
            out[i, j] = result.lost
    return out


# --- quorums on the simulated network -------------------------------------------------


@dataclass(frozen=True)
class Put:
    """Store ``version`` of ``key`` (keeps the newer of what is held and this)."""

    op: int
    key: int
    version: int


@dataclass(frozen=True)
class PutAck:
    op: int


@dataclass(frozen=True)
class Get:
    op: int
    key: int


@dataclass(frozen=True)
class GetReply:
    op: int
    version: int


class _Replica(Node):
    """Holds the newest version of each key it has seen."""

    def __init__(self, name: str):
        super().__init__(name)
        self.versions: dict[int, int] = {}

    def on_Put(self, msg: Put, src: str):
        if msg.version > self.versions.get(msg.key, 0):
            self.versions[msg.key] = msg.version
        self.send(src, PutAck(msg.op))

    def on_Get(self, msg: Get, src: str):
        self.send(src, GetReply(msg.op, self.versions.get(msg.key, 0)))


class _Coordinator(Node):
    """A client-side coordinator: sends each operation to all its replicas, waits for a quorum.

    Versions come from a shared counter (a synchronised clock: last writer wins).
    """

    def __init__(self, name: str, replicas: list[str], cfg: dict, shared: dict):
        super().__init__(name)
        self.replicas, self.cfg, self.shared = replicas, cfg, shared
        self.ops: dict[int, dict] = {}
        self.next_op = 0

    def on_start(self):
        if self.cfg["write_rate"] > 0:
            self.set_timer("write", self.rng.exponential(1.0 / self.cfg["write_rate"]))
        if self.cfg["read_rate"] > 0:
            self.set_timer("read", self.rng.exponential(1.0 / self.cfg["read_rate"]))

    def _op(self, kind: str, **extra) -> int:
        self.next_op += 1
        op = {"kind": kind, "start": self.now, "end": math.nan, "replies": [], **extra}
        self.ops[self.next_op] = op
        self.sim.after(self.cfg["timeout"], self._expire, self.next_op)
        return self.next_op

    def on_timer_write(self):
        if self.now >= self.cfg["until"]:
            return
        self.shared["version"] += 1
        version = self.shared["version"]
        op = self._op("write", version=version)
        for replica in self.replicas:
            self.send(replica, Put(op, 0, version))
        self.set_timer("write", self.rng.exponential(1.0 / self.cfg["write_rate"]))

    def on_timer_read(self):
        if self.now >= self.cfg["until"]:
            return
        op = self._op("read", newest=self.shared["completed"])
        for replica in self.replicas:
            self.send(replica, Get(op, 0))
        self.set_timer("read", self.rng.exponential(1.0 / self.cfg["read_rate"]))

    def on_PutAck(self, msg: PutAck, src: str):
        op = self.ops[msg.op]
        if op.get("failed"):
            return
        op["replies"].append(src)
        if len(op["replies"]) == self.cfg["w"] and math.isnan(op["end"]):
            op["end"] = self.now
            self.shared["completed"] = max(self.shared["completed"], op["version"])

    def on_GetReply(self, msg: GetReply, src: str):
        op = self.ops[msg.op]
        if op.get("failed") or not math.isnan(op["end"]):
            return
        op["replies"].append((msg.version, src))
        if len(op["replies"]) == self.cfg["r"]:
            op["end"] = self.now
            op["version"] = quorum_read(op["replies"])[0]

    def _expire(self, op_id: int):
        op = self.ops[op_id]
        if math.isnan(op["end"]):
            op["failed"] = True


@dataclass(frozen=True)
class QuorumResult:
    """Every operation of :func:`simulate_quorum`; arrays, one entry per operation.

    Attributes:
        n, r, w: the quorum configuration.
        read_side, write_side: ``"majority"`` or ``"minority"``, the coordinator's side.
        read_start, read_end: seconds (``nan`` end: the read never completed).
        read_version: the version returned (``-1`` if the read failed).
        read_newest: the newest version whose write had completed when the read began.
        write_start, write_end: seconds (``nan`` end: the write never completed).
        write_version: the version each write carried.
        partition: ``(start, end)`` seconds, or ``None``.
    """

    n: int
    r: int
    w: int
    read_side: np.ndarray
    read_start: np.ndarray
    read_end: np.ndarray
    read_version: np.ndarray
    read_newest: np.ndarray
    write_side: np.ndarray
    write_start: np.ndarray
    write_end: np.ndarray
    write_version: np.ndarray
    partition: tuple[float, float] | None

    @property
    def read_ok(self) -> np.ndarray:
        """Which reads completed."""
        return ~np.isnan(self.read_end)

    @property
    def stale(self) -> np.ndarray:
        """Which completed reads returned a version older than the newest completed write."""
        return self.read_ok & (self.read_version < self.read_newest)

    def stale_fraction(self, side: str | None = None) -> float:
        """The fraction of completed reads (of one side, or all) that were stale."""
        mask = self.read_ok if side is None else self.read_ok & (self.read_side == side)
        return float(self.stale[mask].mean()) if mask.any() else math.nan

    def availability(self, kind: str, side: str | None = None, during: bool = False) -> float:
        """The fraction of reads or writes (``kind``) that completed.

        Args:
            kind: ``"read"`` or ``"write"``.
            side: ``"majority"``, ``"minority"`` or ``None`` for both.
            during: count only operations that began while the partition was on.
        """
        kind = _choice("kind", kind, ("read", "write"))
        start = self.read_start if kind == "read" else self.write_start
        end = self.read_end if kind == "read" else self.write_end
        sides = self.read_side if kind == "read" else self.write_side
        mask = np.ones(len(start), dtype=bool) if side is None else sides == side
        if during and self.partition is not None:
            mask &= (start >= self.partition[0]) & (start < self.partition[1])
        return float((~np.isnan(end[mask])).mean()) if mask.any() else math.nan


def simulate_quorum(
    n: int = 3,
    r: int = 2,
    w: int = 2,
    *,
    duration: float = 5.0,
    write_rate: float = 20.0,
    read_rate: float = 50.0,
    latency: float = 0.005,
    jitter: float = 0.002,
    timeout: float = 0.5,
    partition: tuple[float, float] | None = None,
    minority: int = 1,
    seed: int = 0,
) -> QuorumResult:
    """Quorum reads and writes of one key on the simulated network, optionally partitioned.

    ``n`` replicas; two coordinators (clients), one beside the first ``minority`` replicas
    and one beside the rest. Each sends writes and reads as Poisson processes (half the
    rates each) to every replica it can reach; a write completes on its ``w``-th
    acknowledgement, a read on its ``r``-th reply and returns the newest version among those
    replies. An operation not completed within ``timeout`` has failed. Operations begin in
    ``[0, duration)``; the run goes on ``timeout`` longer so that each can finish or fail.
    During ``partition`` the two sides cannot talk to each other.

    Args:
        n: replicas, ``>= 2``.
        r: read quorum, in ``[1, n]``.
        w: write quorum, in ``[1, n]``.
        duration: seconds to run, ``> 0``.
        write_rate: writes per second, both clients together, ``>= 0``.
        read_rate: reads per second, both clients together, ``>= 0``.
        latency: mean one-way network delay, seconds, ``> 0``.
        jitter: its standard deviation (lognormal), seconds, ``>= 0``.
        timeout: seconds before an operation counts as failed, ``> 0``.
        partition: ``(start, end)`` seconds of the partition, or ``None``.
        minority: replicas on the minority side, in ``[1, n // 2]``.
        seed: the simulation's seed.

    Raises:
        ValueError: on any argument outside its range.
    """
    n, r, w = _quorum(n, r, w)
    if n < 2:
        raise ValueError(f"n must be an integer >= 2, got {n}")
    minority = _count("minority", minority, 1, n // 2)
    duration = _positive("duration", duration)
    write_rate = _non_negative("write_rate", write_rate)
    read_rate = _non_negative("read_rate", read_rate)
    _check_requests((write_rate + read_rate) * duration, "write_rate + read_rate")
    latency = _positive("latency", latency)
    jitter = _non_negative("jitter", jitter)
    timeout = _positive("timeout", timeout)
    if partition is not None:
        if isinstance(partition, (str, bytes)) or len(partition) != 2:
            raise ValueError(f"partition must be (start, end) seconds, got {partition!r}")
        start = _non_negative("partition start", partition[0])
        end = _non_negative("partition end", partition[1])
        if end < start:
            raise ValueError(f"partition must be (start, end) with end >= start, got {partition}")
        partition = (start, end)

    delay = Latency(latency, jitter, "lognormal") if jitter > 0 else Latency(latency)
    sim = Simulation(seed=seed, network=Network(latency=delay), trace=False)
    names = [f"r{i}" for i in range(n)]
    for name in names:
        sim.add(_Replica(name))
    shared = {"version": 0, "completed": 0}
    cfg = {
        "r": r,
        "w": w,
        "timeout": timeout,
        "write_rate": write_rate / 2,
        "read_rate": read_rate / 2,
        "until": duration,
    }
    small, large = names[:minority], names[minority:]
    coordinators = {
        "majority": sim.add(_Coordinator("majority", names, cfg, shared)),
        "minority": sim.add(_Coordinator("minority", names, cfg, shared)),
    }
    if partition is not None:
        groups = (["majority", *large], ["minority", *small])
        sim.at(partition[0], sim.network.partition, *groups)
        sim.at(partition[1], sim.network.heal)
    sim.run(until=duration + timeout)  # operations begin before ``duration`` and may finish

    rows: dict[str, list] = {"read": [], "write": []}
    for side, coordinator in coordinators.items():
        for op in coordinator.ops.values():
            rows[op["kind"]].append((side, op))
    reads, writes = rows["read"], rows["write"]
    return QuorumResult(
        n=n,
        r=r,
        w=w,
        read_side=np.array([s for s, _ in reads], dtype=object),
        read_start=np.array([o["start"] for _, o in reads], dtype=float),
        read_end=np.array([o["end"] for _, o in reads], dtype=float),
        read_version=np.array([o.get("version", -1) for _, o in reads], dtype=int),
        read_newest=np.array([o["newest"] for _, o in reads], dtype=int),
        write_side=np.array([s for s, _ in writes], dtype=object),
        write_start=np.array([o["start"] for _, o in writes], dtype=float),
        write_end=np.array([o["end"] for _, o in writes], dtype=float),
        write_version=np.array([o["version"] for _, o in writes], dtype=int),
        partition=partition,
    )


# --- staleness over time (PBS t-visibility, expanding quorums) ------------------------


class _Prober(Node):
    """One write per trial to ``w`` random replicas, the others later, reads at offsets."""

    def __init__(self, name, replicas, cfg):
        super().__init__(name)
        self.replicas, self.cfg = replicas, cfg
        self.trials: dict[int, dict] = {}
        self.stale = np.zeros(len(cfg["times"]), dtype=int)
        self.reads = np.zeros(len(cfg["times"]), dtype=int)

    def trial(self, key: int):
        rng = self.rng
        order = rng.permutation(len(self.replicas))
        quorum = [self.replicas[i] for i in order[: self.cfg["w"]]]
        rest = [self.replicas[i] for i in order[self.cfg["w"] :]]
        self.trials[key] = {"acks": 0, "rest": rest, "reads": {}}
        for replica in quorum:
            self.send(replica, Put(key, key, 1))

    def on_PutAck(self, msg: PutAck, src: str):
        trial = self.trials[msg.op]
        trial["acks"] += 1
        if trial["acks"] != self.cfg["w"]:
            return
        # committed: anti-entropy brings the write to each other replica after Exp(tau)
        for replica in trial["rest"]:
            wait = self.rng.exponential(self.cfg["propagation"])
            self.sim.after(wait, self.send, replica, Put(-1, msg.op, 1))
        for j, t in enumerate(self.cfg["times"]):
            self.sim.after(t, self.read, msg.op, j)

    def read(self, key: int, j: int):
        chosen = self.rng.choice(len(self.replicas), size=self.cfg["r"], replace=False)
        op = key * len(self.cfg["times"]) + j
        self.trials[key]["reads"][op] = {"j": j, "replies": []}
        for i in chosen:
            self.send(self.replicas[i], Get(op, key))

    def on_GetReply(self, msg: GetReply, src: str):
        key, j = divmod(msg.op, len(self.cfg["times"]))
        read = self.trials[key]["reads"][msg.op]
        read["replies"].append((msg.version, src))
        if len(read["replies"]) == self.cfg["r"]:
            self.reads[j] += 1
            self.stale[j] += quorum_read(read["replies"])[0] < 1


class _Store(_Replica):
    """A replica whose anti-entropy copies (``op == -1``) need no acknowledgement."""

    def on_Put(self, msg: Put, src: str):
        if msg.version > self.versions.get(msg.key, 0):
            self.versions[msg.key] = msg.version
        if msg.op >= 0:
            self.send(src, PutAck(msg.op))


def staleness_curve(
    n: int,
    r: int,
    w: int,
    times: Sequence[float],
    *,
    propagation: float = 0.05,
    latency: float = LATENCY,
    trials: int = 500,
    seed: int = 0,
) -> np.ndarray:
    """The simulated fraction of stale reads ``t`` seconds after a write, for each ``t``.

    Each trial writes a fresh key to ``w`` replicas chosen at random and waits for their
    acknowledgements (the write completes); each other replica then receives the write after
    an exponential delay of mean ``propagation``. At each ``t`` in ``times`` after completion,
    a read asks ``r`` replicas chosen at random and keeps the newest version. Theory:
    :func:`stale_read_probability` with ``propagation``; with a constant network delay the
    two agree exactly in expectation (the read request and the late copy both cross the
    network once).

    Args:
        n: replicas, ``>= 1``.
        r: read quorum, in ``[1, n]``.
        w: write quorum, in ``[1, n]``.
        times: seconds after the write completed, each ``>= 0``.
        propagation: mean anti-entropy delay, seconds, ``> 0``.
        latency: one-way network delay, seconds, ``>= 0``.
        trials: writes, ``>= 1``; each is read once at every ``t``.
        seed: the simulation's seed.

    Returns:
        The fraction of stale reads at each ``t``, an array of ``len(times)``.
    """
    n, r, w = _quorum(n, r, w)
    times = [_non_negative("t", t) for t in times]
    propagation = _positive("propagation", propagation)
    latency = _non_negative("latency", latency)
    trials = _count("trials", trials, 1)
    sim = Simulation(seed=seed, network=Network(latency=latency), trace=False)
    names = [f"r{i}" for i in range(n)]
    for name in names:
        sim.add(_Store(name))
    cfg = {"r": r, "w": w, "times": times, "propagation": propagation}
    prober = sim.add(_Prober("prober", names, cfg))
    spacing = 4 * latency + 1e-3  # trials overlap in time, but each has its own key
    for key in range(1, trials + 1):
        sim.at(key * spacing, prober.trial, key)
    sim.run()
    return prober.stale / np.maximum(prober.reads, 1)
