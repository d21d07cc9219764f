"""Leader election: Bully, Raft and ZooKeeper's fast leader election on the simulated network.

A short tour::

    >>> from halab.election import check_safety, simulate_election
    >>> r = simulate_election("raft", nodes=5, seed=1, faults=[(1.0, "crash_leader")])
    >>> [(x.term, x.leader) for x in r.reigns]           # who led in which term
    [(1, 's3'), (2, 's2')]
    >>> r.leader, r.term, round(r.elected_at, 3)         # the leader at the end, and since when
    ('s2', 2, 1.113)
    >>> check_safety(r)                                  # raises SplitBrainError if a term had two
    {1: 's3', 2: 's2'}

Vocabulary, and how each word is coded here:

- **node**: one server, a :class:`halab.sim.Node` named ``"s1" .. "sN"``; its **id** is the
  number in its name (Bully and ZooKeeper compare ids).
- **role**: ``"follower"``, ``"candidate"`` or ``"leader"`` (``"down"`` while crashed).
  ZooKeeper's LOOKING is shown as candidate, FOLLOWING as follower, LEADING as leader.
- **term**: Raft's term; ZooKeeper's established epoch; for Bully a counter that each new
  coordinator sets to one more than the largest it has seen. An ``int``.
- **election timeout**: how long a node waits without hearing a leader before it acts, drawn
  uniformly from ``timeout = (min, max)`` seconds each time it is armed.
- **heartbeat**: the leader's "I am alive" message, every ``heartbeat`` seconds (by default half
  the minimum election timeout, as in the benchmark of Ongaro's dissertation, section 9.4).
- **quorum**: a majority of the whole cluster, ``nodes // 2 + 1``.
- **reign**: one leader in one term, from ``start`` to ``end`` (simulated seconds), a
  :class:`Reign`.
- **split brain**: two leaders in the same term; :func:`check_safety` raises
  :class:`SplitBrainError` when a trace shows one.

The three algorithms, each a node class with its messages declared at the top of its section:

- :class:`BullyNode`, Garcia-Molina (1982), in the textbook form with three messages
  (Election, Answer, Coordinator): the highest live id wins. It assumes a synchronous, reliable
  network; on a partition each side elects its own coordinator.
- :class:`RaftNode`, the leader election of Raft: Ongaro's dissertation (2014), chapter 3, and
  the Raft paper's figure 2 -- terms, RequestVote with the log-up-to-date rule, one vote per
  term, randomized election timeouts, heartbeats (AppendEntries without entries), stepping down
  on a higher term. Optionally CheckQuorum (dissertation section 6.2).
- :class:`ZabNode`, ZooKeeper's FastLeaderElection (``FastLeaderElection.java``: votes ordered by
  ``totalOrderPredicate`` -- epoch, then zxid, then server id -- and a quorum of matching votes,
  ``finalizeWait`` = 200 ms), followed by ZAB's epoch establishment (the leader proposes
  ``max(acceptedEpoch) + 1`` to a quorum and counts their ACKEPOCHs) and the leader's quorum
  check of pings.

The closed forms of the dissertation's chapter 9 are here too (:func:`earliest_timeout_cdf`,
:func:`split_vote_probability`, :func:`expected_election_time`) with the experiment of its
figure 9.8 (:func:`time_to_elect`) and the timing rule ``broadcastTime << electionTimeout <<
MTBF`` (:func:`leader_availability`).
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

import numpy as np

from halab.checks import check_instance, check_int, check_real, make_rng
from halab.sim import Latency, Network, Node, Record, Simulation

__all__ = [
    "ALGORITHMS",
    "AckEpoch",
    "Answer",
    "AppendEntries",
    "AppendEntriesReply",
    "BullyNode",
    "Coordinator",
    "Election",
    "ElectionNode",
    "ElectionResult",
    "ElectionTimes",
    "FencingRun",
    "FollowerInfo",
    "LeaderInfo",
    "Notification",
    "Ping",
    "PingReply",
    "HEARTBEATS",
    "RaftNode",
    "Reign",
    "RequestVote",
    "RequestVoteReply",
    "SplitBrainError",
    "SplitVoteCheck",
    "Voter",
    "ZabNode",
    "ZabVote",
    "bully_outcome",
    "check_safety",
    "earliest_timeout_cdf",
    "expected_election_time",
    "expected_interleaved_writes",
    "fenced_writes",
    "handle_request_vote",
    "leader_availability",
    "log_up_to_date",
    "make_zxid",
    "simulate_election",
    "split_vote_check",
    "split_vote_probability",
    "time_to_elect",
    "timing_availability",
    "zab_vote_wins",
]

ALGORITHMS = ("raft", "bully", "zab")
FOLLOWER, CANDIDATE, LEADER, DOWN = "follower", "candidate", "leader", "down"
ROLES = (FOLLOWER, CANDIDATE, LEADER)

# -- timing constants --------------------------------------------------------------------------
TIMEOUT = (0.150, 0.300)  # s, election timeout range (Raft paper section 5.2's example)
LATENCY = 0.005  # s, mean one-way network delay by default
JITTER = 0.001  # s, standard deviation of the delay by default (lognormal)
HEARTBEAT_FRACTION = 0.5  # heartbeat interval / minimum election timeout (dissertation 9.4)
ZK_FINALIZE_WAIT = 0.200  # s, FastLeaderElection.finalizeWait
ZK_LEADER_CONNECT_RETRY = 0.1  # s between a follower's tries to reach its leader (Learner)
ZK_MIN_NOTIFICATION_INTERVAL = 0.200  # s, minNotificationInterval (= finalizeWait)
ZK_MAX_NOTIFICATION_INTERVAL = 60.0  # s, maxNotificationInterval in ZooKeeper
ZAB_MAX_NOTIFICATION_INTERVAL = 1.6  # s, our cap (8 x 200 ms) so that short runs recover


# ----------------------------------------------------------------------------------------------
# Messages, one frozen dataclass each; a node handles class X in its method on_X.

# Raft (Raft paper figure 2: RequestVote and AppendEntries RPCs and their results)


@dataclass(frozen=True)
class RequestVote:
    """Raft: a candidate asks for a vote. ``last_log_*`` describe the candidate's last entry."""

    term: int
    candidate: str
    last_log_term: int
    last_log_index: int


@dataclass(frozen=True)
class RequestVoteReply:
    """Raft: the voter's current term, and whether it granted the vote."""

    term: int
    granted: bool


@dataclass(frozen=True)
class AppendEntries:
    """Raft: the leader's heartbeat (an AppendEntries RPC that carries no entries)."""

    term: int
    leader: str


@dataclass(frozen=True)
class AppendEntriesReply:
    """Raft: the follower's current term, and whether it accepted the leader."""

    term: int
    success: bool


# Bully (Garcia-Molina 1982, in the three-message form of the textbooks)


@dataclass(frozen=True)
class Election:
    """Bully: "I am holding an election" -- sent to every higher id. Carries the sender's term."""

    term: int


@dataclass(frozen=True)
class Answer:
    """Bully: "I am alive and higher than you; I take over the election"."""

    term: int


@dataclass(frozen=True)
class Coordinator:
    """Bully: "I am the coordinator of ``term``". Repeated every heartbeat as a sign of life."""

    term: int


# ZooKeeper (FastLeaderElection notifications; ZAB phase 1 and the leader's pings)

LOOKING, FOLLOWING, LEADING = "looking", "following", "leading"


@dataclass(frozen=True)
class Notification:
    """FLE: the sender's vote, its election round (logicalclock) and its state."""

    vote: ZabVote
    round: int
    state: str


@dataclass(frozen=True)
class FollowerInfo:
    """ZAB discovery: a follower tells its chosen leader its acceptedEpoch."""

    accepted_epoch: int


@dataclass(frozen=True)
class LeaderInfo:
    """ZAB discovery: the leader proposes ``epoch`` = max(acceptedEpoch of a quorum) + 1."""

    epoch: int


@dataclass(frozen=True)
class AckEpoch:
    """ZAB discovery: the follower accepted ``epoch`` (-1: already accepted it, not counted)."""

    epoch: int


@dataclass(frozen=True)
class Ping:
    """ZAB: the established leader's heartbeat."""

    epoch: int


@dataclass(frozen=True)
class PingReply:
    """ZAB: a follower answers the leader's ping (the leader counts a synced quorum)."""

    epoch: int


# ----------------------------------------------------------------------------------------------
# The rules, as pure functions (the exercise asks for these)


@dataclass(frozen=True)
class Voter:
    """What a Raft server holds when a RequestVote arrives (figure 2's state, plus its role).

    Attributes:
        term: ``currentTerm``, the latest term the server has seen.
        voted_for: ``votedFor``, the candidate it voted for in ``term`` (``None``: nobody yet).
        last_log_term: term of the last entry of its log (0 for an empty log).
        last_log_index: index of the last entry of its log (0 for an empty log).
        role: ``"follower"``, ``"candidate"`` or ``"leader"``.
    """

    term: int
    voted_for: str | None
    last_log_term: int
    last_log_index: int
    role: str = FOLLOWER


def log_up_to_date(
    last_log_term: int, last_log_index: int, my_last_log_term: int, my_last_log_index: int
) -> bool:
    """Whether a candidate's log is at least as up-to-date as the voter's.

    Raft compares the last entries: the later term is more up-to-date; with equal terms the
    longer log is (dissertation section 3.6.1, Raft paper section 5.4.1).
    """
    last_log_term = check_int("last_log_term", last_log_term, 0, None)
    last_log_index = check_int("last_log_index", last_log_index, 0, None)
    my_last_log_term = check_int("my_last_log_term", my_last_log_term, 0, None)
    my_last_log_index = check_int("my_last_log_index", my_last_log_index, 0, None)
    if last_log_term != my_last_log_term:
        return last_log_term > my_last_log_term
    return last_log_index >= my_last_log_index


def handle_request_vote(voter: Voter, request: RequestVote) -> tuple[Voter, bool]:
    """Raft's RequestVote receiver: the voter's new state, and whether it grants its vote.

    From the Raft paper's figure 2: any server that sees a term ``T > currentTerm`` sets
    ``currentTerm = T``, forgets its vote and converts to follower; then a request with a stale
    term is refused; the vote is granted if ``votedFor`` is empty or already the candidate and
    the candidate's log is at least as up-to-date (:func:`log_up_to_date`).
    """
    check_instance("voter", voter, Voter)
    check_instance("request", request, RequestVote)
    if request.term > voter.term:
        voter = replace(voter, term=request.term, voted_for=None, role=FOLLOWER)
    if request.term < voter.term:
        return voter, False
    if voter.voted_for not in (None, request.candidate):
        return voter, False
    if not log_up_to_date(
        request.last_log_term, request.last_log_index, voter.last_log_term, voter.last_log_index
    ):
        return voter, False
    return replace(voter, voted_for=request.candidate), True


class ZabVote(NamedTuple):
    """A ZooKeeper vote: the proposed leader's epoch (peerEpoch), its last zxid, its server id."""

    epoch: int
    zxid: int
    server: int


def zab_vote_wins(new: ZabVote, current: ZabVote) -> bool:
    """Whether vote ``new`` beats vote ``current`` in ZooKeeper's fast leader election.

    ``FastLeaderElection.totalOrderPredicate``: a higher epoch wins; with equal epochs a higher
    zxid (more history) wins; with equal zxids the higher server id wins.
    """
    check_instance("new", new, ZabVote)
    check_instance("current", current, ZabVote)
    if new.epoch != current.epoch:
        return new.epoch > current.epoch
    if new.zxid != current.zxid:
        return new.zxid > current.zxid
    return new.server > current.server


def make_zxid(epoch: int, counter: int) -> int:
    """A zxid: the epoch in the high 32 bits, a counter in the low 32 (``ZxidUtils.makeZxid``)."""
    epoch = check_int("epoch", epoch, 0, 0xFFFFFFFF)
    counter = check_int("counter", counter, 0, 0xFFFFFFFF)
    return (epoch << 32) | counter


def bully_outcome(
    alive: Iterable[int], groups: Iterable[Iterable[int]] | None = None
) -> dict[int, int]:
    """The coordinator each live process ends up with under the Bully algorithm.

    With a working network the highest live id wins everywhere. When the network is cut into
    ``groups`` (each a collection of ids), each group elects its own highest live id: Bully
    has no quorum, so every side of a partition gets a coordinator.

    Args:
        alive: the ids of the live processes.
        groups: the sides of a partition, each an iterable of ids; every live id must be in
            exactly one group. ``None``: no partition.

    Returns:
        live id -> the id of its coordinator.

    Raises:
        ValueError: if a live id is in no group or in two.
    """
    live = sorted({int(i) for i in alive})
    if groups is None:
        return {i: max(live) for i in live} if live else {}
    side: dict[int, int] = {}
    for k, group in enumerate(groups):
        for i in group:
            if int(i) in side:
                raise ValueError(f"groups must not overlap, id {i} is in two groups")
            side[int(i)] = k
    missing = [i for i in live if i not in side]
    if missing:
        raise ValueError(f"groups must contain every live id, missing {missing}")
    best: dict[int, int] = {}
    for i in live:
        best[side[i]] = max(best.get(side[i], i), i)
    return {i: best[side[i]] for i in live}


# ----------------------------------------------------------------------------------------------
# Safety


class SplitBrainError(AssertionError):
    """Two different nodes were leader in the same term.

    Attributes:
        term: the term.
        first, second: the two :class:`Reign` records, in the order they began.
    """

    def __init__(self, term: int, first: Reign, second: Reign) -> None:
        self.term, self.first, self.second = term, first, second

        def until(r: Reign) -> str:
            return "the end of the run" if r.end is None else f"{r.end:.4f} s"

        overlap = ""
        if first.end is None or first.end > second.start:
            overlap = f" -- both at once from {second.start:.4f} s"
        super().__init__(
            f"two leaders in term {term}: {first.leader} led from {first.start:.4f} s to "
            f"{until(first)}, and {second.leader} from {second.start:.4f} s to "
            f"{until(second)}{overlap}. A majority quorum would forbid this: two majorities of one "
            f"cluster share a node, and a node grants one vote per term."
        )


@dataclass(frozen=True)
class Reign:
    """One leader in one term.

    Attributes:
        term: the term (Raft), epoch (ZAB) or coordinator number (Bully).
        leader: the node's name.
        start: when it became leader, simulated seconds.
        end: when it stopped (crash, step-down), or ``None`` if it still led at the end.
    """

    term: int
    leader: str
    start: float
    end: float | None = None


def _reigns(trace: Iterable[Record]) -> list[Reign]:
    open_: dict[str, tuple[int, float]] = {}
    done: list[Reign] = []
    for r in trace:
        if r.kind == "leader":
            if r.node in open_:  # a new term while leading (Bully's re-announcement)
                term, start = open_.pop(r.node)
                done.append(Reign(term, r.node, start, r.time))
            open_[r.node] = (int(r.detail), r.time)
        elif r.node in open_ and (
            r.kind == "crash" or (r.kind == "state" and r.detail[0] != LEADER)
        ):
            term, start = open_.pop(r.node)
            done.append(Reign(term, r.node, start, r.time))
    done.extend(Reign(t, n, s, None) for n, (t, s) in open_.items())
    done.sort(key=lambda x: (x.start, x.term, x.leader))
    return done


def check_safety(trace: ElectionResult | Iterable[Record]) -> dict[int, str]:
    """Check that no term ever had two leaders; return term -> leader.

    Args:
        trace: an :class:`ElectionResult` or its ``trace`` (a list of :class:`halab.sim.Record`).

    Raises:
        SplitBrainError: with the two leaders, their term and their times, if two different
            nodes were leader in one term.
    """
    records = trace.trace if isinstance(trace, ElectionResult) else trace
    if isinstance(records, (str, bytes)) or not isinstance(records, Iterable):
        raise TypeError(f"trace must be an ElectionResult or a list of Records, got {trace!r}")
    records = [check_instance("trace entry", r, Record) for r in records]
    seen: dict[int, Reign] = {}
    for reign in _reigns(records):
        first = seen.get(reign.term)
        if first is None:
            seen[reign.term] = reign
        elif first.leader != reign.leader:
            raise SplitBrainError(reign.term, first, reign)
    return {t: r.leader for t, r in sorted(seen.items())}


# ----------------------------------------------------------------------------------------------
# The base node


@dataclass
class _Config:
    nodes: int
    timeout: tuple[float, float]
    heartbeat: float
    check_quorum: bool = False
    vote_rule: Callable[[Voter, Any], tuple[Voter, bool]] = handle_request_vote
    vote_order: Callable[[ZabVote, ZabVote], bool] = zab_vote_wins
    zab_max_interval: float = ZAB_MAX_NOTIFICATION_INTERVAL
    timer_noise: float = 0.0
    on_follow: Callable[[ElectionNode], None] | None = None
    on_state: Callable[[ElectionNode], None] | None = None

    @property
    def majority(self) -> int:
        return self.nodes // 2 + 1


class ElectionNode(Node):
    """What the three algorithms share: an id, a role, a term, and the records they write.

    Records written to the trace (besides the kernel's): ``state`` with ``(role, term)`` at each
    change, ``leader`` with the term when the node becomes leader, ``follow`` with
    ``(leader, term)`` when it learns who leads, ``vote`` with ``(candidate, term)`` when it
    grants a vote.
    """

    def __init__(self, name: str, ident: int, config: _Config) -> None:
        super().__init__(name)
        self.id = ident
        self.cfg = config
        self.role = FOLLOWER
        self.term = 0
        self.leader: str | None = None
        self._shown: tuple[str, int] | None = None
        self._followed: tuple[str, int] | None = None

    @property
    def majority(self) -> int:
        """Votes needed to win: a majority of the whole cluster."""
        return self.cfg.majority

    def _timeout(self) -> float:
        lo, hi = self.cfg.timeout
        t = lo if lo == hi else lo + (hi - lo) * self.rng.random()
        if self.cfg.timer_noise:
            t += self.rng.exponential(self.cfg.timer_noise)  # a late wake-up, never an early one
        return t

    def _set(self, role: str, term: int) -> None:
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, got {role!r}")
        was = self._shown
        self.role, self.term = role, term
        if was == (role, term):
            return
        self._shown = (role, term)
        self.record("state", (role, term))
        if self.cfg.on_state is not None:
            self.cfg.on_state(self)
        if role == LEADER:
            self.record("leader", term)
            self._follow(self.name, term)
        elif role == CANDIDATE or (was is not None and was[0] == LEADER):
            self._followed = None

    def _follow(self, leader: str, term: int) -> None:
        self.leader = leader
        if self._followed != (leader, term):
            self._followed = (leader, term)
            self.record("follow", (leader, term))
            if self.cfg.on_follow is not None:
                self.cfg.on_follow(self)

    def on_crash(self) -> None:
        self.record("state", (DOWN, self.term))
        self._shown = (DOWN, self.term)
        self._followed = None
        self.role = DOWN
        self.leader = None

    def assume(self, leader: str, term: int) -> None:
        """Start as if ``leader`` had already won ``term`` and everyone knew it (a warm start)."""
        raise NotImplementedError

    def peer_id(self, name: str) -> int:
        """The id of node ``name``."""
        return self.sim.nodes[name].id


# ----------------------------------------------------------------------------------------------
# Raft (dissertation chapter 3; Raft paper figure 2)


class RaftNode(ElectionNode):
    """A Raft server, election only: followers, candidates, a leader that heartbeats.

    ``currentTerm``, ``votedFor`` and the log survive a crash (figure 2's persistent state);
    the role and the votes received do not. The vote itself is decided by ``cfg.vote_rule``
    (:func:`handle_request_vote` unless an exercise swaps in another).
    """

    def __init__(
        self, name: str, ident: int, config: _Config, last_log: tuple[int, int] = (0, 0)
    ) -> None:
        super().__init__(name, ident, config)
        self.voted_for: str | None = None
        self.votes: set[str] = set()
        self.last_log_term, self.last_log_index = int(last_log[0]), int(last_log[1])
        self.term = self.last_log_term
        self.acked: set[str] = set()
        self._warm = False

    # -- life cycle
    def on_start(self) -> None:
        if self._warm:
            return
        self._set(FOLLOWER, self.term)
        self._arm_election()

    def on_restart(self) -> None:
        self.votes = set()
        self.leader = None
        self._set(FOLLOWER, self.term)
        self._arm_election()

    def assume(self, leader: str, term: int) -> None:
        self._warm = True
        self.term = term
        self.voted_for = leader
        if leader == self.name:
            self._become_leader()
        else:
            self._set(FOLLOWER, term)
            self._follow(leader, term)
            self._arm_election()

    def _arm_election(self) -> None:
        self.set_timer("election", self._timeout())

    # -- becoming a candidate, a leader, a follower
    def on_timer_election(self) -> None:
        self.term += 1
        self.voted_for = self.name
        self.votes = {self.name}
        self.leader = None
        self._set(CANDIDATE, self.term)
        self._arm_election()  # a fresh random timeout for this election
        if len(self.votes) >= self.majority:
            self._become_leader()
            return
        self.broadcast(RequestVote(self.term, self.name, self.last_log_term, self.last_log_index))

    def _become_leader(self) -> None:
        self.cancel_timer("election")
        self._set(LEADER, self.term)
        self.acked = set()
        self.on_timer_heartbeat()
        if self.cfg.check_quorum:
            self.set_timer("quorum", self.cfg.timeout[1])

    def _adopt(self, term: int, role: str) -> None:
        """Take a new term and/or role and make the timers match the role."""
        was = self.role
        if role != LEADER:
            self.votes = set()
        self._set(role, term)
        if was == LEADER and role != LEADER:
            self.cancel_timer("heartbeat")
            self.cancel_timer("quorum")
            self._arm_election()
        elif role == LEADER and was != LEADER:
            self._become_leader()

    def _step_down(self, term: int) -> None:
        """Figure 2, all servers: a term ``T > currentTerm`` -> take it, convert to follower."""
        self.voted_for = None
        self.leader = None
        self._adopt(term, FOLLOWER)

    # -- handlers
    def on_RequestVote(self, msg: RequestVote, src: str) -> None:
        voter = Voter(self.term, self.voted_for, self.last_log_term, self.last_log_index, self.role)
        new, granted = self.cfg.vote_rule(voter, msg)
        if new.term != self.term:
            self.leader = None
        self.voted_for = new.voted_for
        if (new.term, new.role) != (self.term, self.role):
            self._adopt(new.term, new.role)
        if granted:
            self.record("vote", (msg.candidate, msg.term))
            if self.role != LEADER:
                self._arm_election()  # granting a vote resets the election timer
        self.send(src, RequestVoteReply(self.term, bool(granted)))

    def on_RequestVoteReply(self, msg: RequestVoteReply, src: str) -> None:
        if msg.term > self.term:
            self._step_down(msg.term)
        elif self.role == CANDIDATE and msg.term == self.term and msg.granted:
            self.votes.add(src)
            if len(self.votes) >= self.majority:
                self._become_leader()

    def on_AppendEntries(self, msg: AppendEntries, src: str) -> None:
        if msg.term < self.term:
            self.send(src, AppendEntriesReply(self.term, False))
            return
        if msg.term > self.term:
            self.voted_for = None
        if msg.term != self.term or self.role != FOLLOWER:
            self._adopt(msg.term, FOLLOWER)  # a candidate (or a stale leader) recognizes it
        self._follow(msg.leader, msg.term)
        self._arm_election()
        self.send(src, AppendEntriesReply(self.term, True))

    def on_AppendEntriesReply(self, msg: AppendEntriesReply, src: str) -> None:
        if msg.term > self.term:
            self._step_down(msg.term)
        elif self.role == LEADER and msg.term == self.term and msg.success:
            self.acked.add(src)

    def on_timer_heartbeat(self) -> None:
        self.broadcast(AppendEntries(self.term, self.name))
        self.set_timer("heartbeat", self.cfg.heartbeat)

    def on_timer_quorum(self) -> None:
        """CheckQuorum (dissertation 6.2): no heartbeat round reached a majority -> step down."""
        if len(self.acked) + 1 < self.majority:
            self.leader = None
            self._adopt(self.term, FOLLOWER)
            return
        self.acked = set()
        self.set_timer("quorum", self.cfg.timeout[1])


# ----------------------------------------------------------------------------------------------
# Bully (Garcia-Molina 1982, as taught: Election, Answer, Coordinator)


class BullyNode(ElectionNode):
    """A Bully process: the highest live id becomes coordinator.

    A process that misses the coordinator for an election timeout sends :class:`Election` to
    every higher id. If no :class:`Answer` comes within ``T`` (the heartbeat interval, which
    must exceed a round trip) it declares itself with :class:`Coordinator`; if one does, it
    waits ``T'`` (the maximum election timeout) for the winner's announcement and otherwise
    starts again. A process that receives Election from a lower id answers and holds its own
    election; a coordinator announcement from a lower id is answered by bullying.

    Terms are not part of Garcia-Molina's algorithm; here each new coordinator numbers its
    reign one more than the largest number it has seen, so that :func:`check_safety` can name
    a split brain. A restarted process keeps that number and first listens for one election
    timeout before it bullies, so it learns the current number.
    """

    def __init__(self, name: str, ident: int, config: _Config) -> None:
        super().__init__(name, ident, config)
        self._warm = False

    def on_start(self) -> None:
        if not self._warm:
            self._hold_election()

    def on_restart(self) -> None:
        self.leader = None
        self._set(FOLLOWER, self.term)
        self._arm_watch()

    def assume(self, leader: str, term: int) -> None:
        self._warm = True
        self.term = term
        if leader == self.name:
            self._declare(term)
        else:
            self._set(FOLLOWER, term)
            self._follow(leader, term)
            self._arm_watch()

    def _arm_watch(self) -> None:
        self.set_timer("election", self._timeout())

    def _see(self, term: int) -> None:
        if term > self.term:
            self.term = term

    def _hold_election(self) -> None:
        if self.role == CANDIDATE:
            return
        if self.role == LEADER:
            self.cancel_timer("heartbeat")
        self.leader = None
        self.cancel_timer("election")
        self.cancel_timer("coordinator")
        self._set(CANDIDATE, self.term)
        higher = [p for p in self.peers if self.peer_id(p) > self.id]
        for p in higher:
            self.send(p, Election(self.term))
        self.set_timer("answer", self.cfg.heartbeat)

    def _declare(self, term: int | None = None) -> None:
        self.cancel_timer("answer")
        self.cancel_timer("coordinator")
        self.cancel_timer("election")
        self.term = self.term + 1 if term is None else term
        self._set(LEADER, self.term)
        self.on_timer_heartbeat()

    def on_timer_answer(self) -> None:  # nobody higher answered: I win
        self._declare()

    def on_timer_coordinator(self) -> None:  # someone answered but never announced: again
        self._set(FOLLOWER, self.term)
        self._hold_election()

    def on_timer_election(self) -> None:  # the coordinator went silent
        self._hold_election()

    def on_timer_heartbeat(self) -> None:
        self.broadcast(Coordinator(self.term))
        self.set_timer("heartbeat", self.cfg.heartbeat)

    def on_Election(self, msg: Election, src: str) -> None:
        self._see(msg.term)
        self.send(src, Answer(self.term))
        if self.role == LEADER:
            self.send(src, Coordinator(self.term))
        else:
            self._hold_election()

    def on_Answer(self, msg: Answer, src: str) -> None:
        self._see(msg.term)
        if self.role == CANDIDATE and self.timer_armed("answer"):
            self.cancel_timer("answer")
            self.set_timer("coordinator", self.cfg.timeout[1])

    def on_Coordinator(self, msg: Coordinator, src: str) -> None:
        self._see(msg.term)
        if self.peer_id(src) > self.id:
            if self.role == LEADER:
                self.cancel_timer("heartbeat")
            self.cancel_timer("answer")
            self.cancel_timer("coordinator")
            self._set(FOLLOWER, self.term)
            self._follow(src, msg.term)
            self._arm_watch()
        elif self.role == LEADER:
            self._declare()  # a lower id claims to lead: bully it with a newer number
        elif self.role == FOLLOWER:
            self._hold_election()


# ----------------------------------------------------------------------------------------------
# ZooKeeper: FastLeaderElection, then ZAB's epoch establishment


class ZabNode(ElectionNode):
    """A ZooKeeper server: FastLeaderElection (FLE) then ZAB's epoch establishment.

    FLE (``FastLeaderElection.lookForLeader``): a LOOKING server increments its round, votes for
    itself -- ``(currentEpoch, lastZxid, myid)`` -- and notifies everyone. It adopts any vote that
    beats its own (``cfg.vote_order``, :func:`zab_vote_wins` by default) and re-notifies; when a
    quorum of the votes of its round match its own, it waits ``finalizeWait`` (200 ms) for a
    better vote and then decides. Servers that already follow or lead answer a LOOKING server
    with their decided vote; a latecomer joins when a quorum of those agree and the leader
    itself says it leads (``checkLeader``). A LOOKING server re-sends its vote 200 ms after its
    last notification, doubling the wait up to ``cfg.zab_max_interval``. (ZooKeeper re-sends
    only when nothing arrived for that long, and its TCP connections re-deliver the last vote
    when a link comes back; our network drops messages on a cut, so we re-send on schedule.)

    The winner only leads once a quorum accepted its new epoch (ZAB phase 1, ``Leader.
    getEpochToPropose``/``waitForEpochAck``): followers send their acceptedEpoch -- again every
    ``zookeeper.leaderConnectDelayDuringRetryMs`` (100 ms, ``Learner.connectToLeader``) until
    the leader answers, since a follower often decides before its leader does -- the leader
    proposes one more than the largest, each follower acks an epoch only if it is larger than
    any it accepted before. That rule, not FLE, is what makes two leaders of one epoch
    impossible; the epoch is the ``term`` here. An established leader pings every heartbeat and
    returns to LOOKING when fewer than a quorum answered within the maximum election timeout;
    a follower does the same after an election timeout without a ping.
    """

    def __init__(
        self, name: str, ident: int, config: _Config, last_log: tuple[int, int] = (0, 0)
    ) -> None:
        super().__init__(name, ident, config)
        epoch, counter = int(last_log[0]), int(last_log[1])
        self.current_epoch = epoch
        self.accepted_epoch = epoch
        self.zxid = make_zxid(epoch, counter)
        self.term = epoch
        self.round = 0
        self.zstate = LOOKING
        self.proposal = ZabVote(epoch, self.zxid, ident)
        self.vote: ZabVote | None = None  # the decided vote (FOLLOWING / LEADING)
        self.vote_round = 0
        self.recv: dict[int, tuple[ZabVote, int, str]] = {}
        self.out: dict[int, tuple[ZabVote, int, str]] = {}
        self.interval = ZK_MIN_NOTIFICATION_INTERVAL
        self._finalizing: tuple[ZabVote, int] | None = None
        self.info: dict[str, int] = {}
        self.acks: set[str] = set()
        self.new_epoch: int | None = None
        self.established = False
        self.heard: dict[str, float] = {}
        self.led_since = -math.inf
        self._warm = False
        self._leader_answered = False

    # -- life cycle
    def on_start(self) -> None:
        if not self._warm:
            self._look()

    def on_restart(self) -> None:
        self.round = 0  # logicalclock lives in memory
        self._look()

    def assume(self, leader: str, term: int) -> None:
        self._warm = True
        self.current_epoch = self.accepted_epoch = term
        self.round = self.vote_round = 1
        lead = self.sim.nodes[leader]
        self.vote = ZabVote(term, lead.zxid, lead.id)
        if leader == self.name:
            self.zstate = LEADING
            self.new_epoch = term
            self._establish()
        else:
            self.zstate = FOLLOWING
            self.leader = leader
            self._set(FOLLOWER, term)
            self._follow(leader, term)
            self.set_timer("sync", self._timeout())

    # -- fast leader election
    def _init_vote(self) -> ZabVote:
        return ZabVote(self.current_epoch, self.zxid, self.id)

    def _look(self) -> None:
        for t in ("tick", "sync", "establish", "finalize", "notify", "connect"):
            self.cancel_timer(t)
        self.zstate = LOOKING
        self.leader = None
        self.established = False
        self.vote = None
        self._set(CANDIDATE, self.current_epoch)
        self.round += 1
        self.proposal = self._init_vote()
        self.recv = {self.id: (self.proposal, self.round, LOOKING)}
        self.out = {}
        self._finalizing = None
        self.interval = ZK_MIN_NOTIFICATION_INTERVAL
        self._notify_all()
        self._check_looking_quorum()

    def _notify_all(self) -> None:
        self.broadcast(Notification(self.proposal, self.round, LOOKING))
        if self.zstate == LOOKING:
            self.set_timer("notify", self.interval)

    def on_timer_notify(self) -> None:  # nothing heard for a while: re-send, back off
        self.interval = min(2 * self.interval, self.cfg.zab_max_interval)
        self._notify_all()

    def _update_proposal(self, vote: ZabVote) -> None:
        self.proposal = vote
        self.recv[self.id] = (vote, self.round, LOOKING)

    @staticmethod
    def _match(a: tuple[ZabVote, int, str], b: tuple[ZabVote, int, str]) -> bool:
        # Vote.equals: LOOKING votes match on everything; decided ones on leader and epoch.
        if a[2] == LOOKING or b[2] == LOOKING:
            return a[0] == b[0] and a[1] == b[1]
        return a[0].server == b[0].server and a[0].epoch == b[0].epoch

    def _quorum(self, votes: Mapping[int, tuple[ZabVote, int, str]], target) -> bool:
        return sum(1 for v in votes.values() if self._match(v, target)) >= self.majority

    def _check_leader(self, votes, leader: int, round_: int) -> bool:
        if leader != self.id:
            v = votes.get(leader)
            return v is not None and v[2] == LEADING
        return self.round == round_

    def _check_looking_quorum(self) -> None:
        target = (self.proposal, self.round, LOOKING)
        if self._quorum(self.recv, target):
            if self._finalizing != (self.proposal, self.round):
                self._finalizing = (self.proposal, self.round)
                self.set_timer("finalize", ZK_FINALIZE_WAIT)
        elif self._finalizing is not None:
            self._finalizing = None
            self.cancel_timer("finalize")

    def on_timer_finalize(self) -> None:  # no better vote within finalizeWait: decide
        self._decide(self.proposal, self.round)

    def on_Notification(self, n: Notification, src: str) -> None:
        sid = self.peer_id(src)
        if self.zstate != LOOKING:
            if n.state == LOOKING and self.vote is not None:
                self.send(src, Notification(self.vote, self.vote_round, self.zstate))
            return
        if n.state == LOOKING:
            if n.round < self.round:
                self.send(src, Notification(self.proposal, self.round, LOOKING))
                return
            if n.round > self.round:
                self.round = n.round
                self.recv = {}
                init = self._init_vote()
                self._update_proposal(n.vote if self.cfg.vote_order(n.vote, init) else init)
                self._notify_all()
            elif self.cfg.vote_order(n.vote, self.proposal):
                self._update_proposal(n.vote)
                self._notify_all()
            self.recv[sid] = (n.vote, n.round, LOOKING)
            self._check_looking_quorum()
            return
        entry = (n.vote, n.round, n.state)
        if n.round == self.round:
            self.recv[sid] = entry
            if self._quorum(self.recv, entry) and self._check_leader(
                self.recv, n.vote.server, n.round
            ):
                self._decide(n.vote, n.round)
                return
        self.out[sid] = entry
        if self._quorum(self.out, entry) and self._check_leader(self.out, n.vote.server, n.round):
            self.round = n.round
            self._decide(n.vote, n.round)

    def _decide(self, vote: ZabVote, round_: int) -> None:
        self.cancel_timer("notify")
        self.cancel_timer("finalize")
        self._finalizing = None
        self.vote, self.vote_round = vote, round_
        if vote.server == self.id:
            self.zstate = LEADING
            self.info = {self.name: self.accepted_epoch}
            self.acks = set()
            self.new_epoch = None
            self.established = False
            self.set_timer("establish", self.cfg.timeout[1])
            self._try_propose()
        else:
            self.zstate = FOLLOWING
            leader = f"s{vote.server}"
            self.leader = leader
            self._set(FOLLOWER, self.current_epoch)
            self._leader_answered = False
            self.send(leader, FollowerInfo(self.accepted_epoch))
            self.set_timer("connect", ZK_LEADER_CONNECT_RETRY)
            self.set_timer("sync", self._timeout())

    def on_timer_connect(self) -> None:  # the leader has not answered: it may not lead yet
        if self.zstate == FOLLOWING and not self._leader_answered:
            self.send(self.leader, FollowerInfo(self.accepted_epoch))
            self.set_timer("connect", ZK_LEADER_CONNECT_RETRY)

    # -- ZAB phase 1: the leader establishes a new epoch with a quorum
    def _try_propose(self) -> None:
        if self.new_epoch is None and len(self.info) >= self.majority:
            self.new_epoch = max(self.info.values()) + 1
            self.accepted_epoch = self.new_epoch
            self.acks = {self.name}
            for f in self.info:
                if f != self.name:
                    self.send(f, LeaderInfo(self.new_epoch))
        if self.new_epoch is not None and len(self.acks) >= self.majority:
            self._establish()

    def _establish(self) -> None:
        self.cancel_timer("establish")
        self.established = True
        self.current_epoch = self.accepted_epoch = self.new_epoch
        self.heard = {}
        self.led_since = self.now
        self._set(LEADER, self.current_epoch)
        self.on_timer_tick()

    def on_timer_establish(self) -> None:  # no quorum accepted an epoch in time
        self._look()

    def on_FollowerInfo(self, msg: FollowerInfo, src: str) -> None:
        if self.zstate != LEADING:
            return
        if self.new_epoch is not None:
            self.send(src, LeaderInfo(self.new_epoch))
            return
        self.info[src] = msg.accepted_epoch
        self._try_propose()

    def on_LeaderInfo(self, msg: LeaderInfo, src: str) -> None:
        if self.zstate != FOLLOWING or src != self.leader:
            return
        self._leader_answered = True
        self.cancel_timer("connect")
        if msg.epoch > self.accepted_epoch:
            self.accepted_epoch = msg.epoch
            self.send(src, AckEpoch(msg.epoch))
        elif msg.epoch == self.accepted_epoch:
            self.send(src, AckEpoch(-1))  # acked this epoch before: join, but do not count
        else:
            self._look()  # the leader's epoch is older than one we accepted

    def on_AckEpoch(self, msg: AckEpoch, src: str) -> None:
        if self.zstate != LEADING:
            return
        if self.established:
            self.heard[src] = self.now
        elif msg.epoch == self.new_epoch:
            self.acks.add(src)
            self._try_propose()

    def on_timer_tick(self) -> None:
        """The leader's tick: check that a quorum answered recently, then ping everyone."""
        horizon = self.now - self.cfg.timeout[1]
        synced = 1 + sum(1 for t in self.heard.values() if t >= horizon)
        if synced < self.majority and self.now - self.led_since > self.cfg.timeout[1]:
            self._look()
            return
        self.broadcast(Ping(self.current_epoch))
        self.set_timer("tick", self.cfg.heartbeat)

    def on_Ping(self, msg: Ping, src: str) -> None:
        if self.zstate != FOLLOWING or src != self.leader or msg.epoch < self.accepted_epoch:
            return
        self.current_epoch = msg.epoch
        self._set(FOLLOWER, msg.epoch)
        self._follow(src, msg.epoch)
        self.set_timer("sync", self._timeout())
        self.send(src, PingReply(msg.epoch))

    def on_PingReply(self, msg: PingReply, src: str) -> None:
        if self.zstate == LEADING and self.established and msg.epoch == self.current_epoch:
            self.heard[src] = self.now

    def on_timer_sync(self) -> None:  # the leader went silent
        self._look()


# ----------------------------------------------------------------------------------------------
# Running an election: the result


# What a leader sends to stay leader (and the replies), as ElectionResult.message_counts counts.
HEARTBEATS = (AppendEntries, AppendEntriesReply, Coordinator, Ping, PingReply)


class Message(NamedTuple):
    """One message seen in a trace: sent at ``sent``, delivered at ``received`` (or ``None``)."""

    src: str
    dst: str
    sent: float
    received: float | None
    msg: Any
    fate: str  # "deliver", "drop" (lost), "block" (partition) or "dead" (receiver crashed)


@dataclass(frozen=True)
class ElectionResult:
    """What happened in one run of :func:`simulate_election`.

    Attributes:
        algorithm: ``"raft"``, ``"bully"`` or ``"zab"``.
        names: the node names, ``("s1", ..., "sN")``.
        duration: simulated seconds run.
        reigns: every :class:`Reign` (who led in which term, from when to when), by start.
        trace: the simulation's trace, a list of :class:`halab.sim.Record`.
        params: the arguments of the run (used by :meth:`replay`).
        events: how many events the kernel processed.
    """

    algorithm: str
    names: tuple[str, ...]
    duration: float
    reigns: tuple[Reign, ...]
    trace: list[Record] = field(repr=False)
    params: dict[str, Any] = field(repr=False)
    events: int = 0

    @property
    def current(self) -> Reign | None:
        """The reign still open at the end with the highest term (latest start on a tie)."""
        open_ = [r for r in self.reigns if r.end is None]
        return max(open_, key=lambda r: (r.term, r.start)) if open_ else None

    @property
    def leader(self) -> str | None:
        """The leader at the end of the run (highest term among those still leading), or None."""
        r = self.current
        return None if r is None else r.leader

    @property
    def term(self) -> int | None:
        """The term of :attr:`leader`."""
        r = self.current
        return None if r is None else r.term

    @property
    def elected_at(self) -> float | None:
        """When :attr:`leader` became leader, simulated seconds."""
        r = self.current
        return None if r is None else r.start

    @property
    def leaders_at_end(self) -> list[str]:
        """Every node that still considered itself leader at the end (more than one: trouble)."""
        return sorted(r.leader for r in self.reigns if r.end is None)

    @property
    def split_votes(self) -> int | None:
        """Raft only: terms in which someone stood as candidate and nobody won (else None)."""
        if self.algorithm != "raft":
            return None
        stood = {r.detail[1] for r in self.trace if r.kind == "state" and r.detail[0] == CANDIDATE}
        won = {r.term for r in self.reigns}
        return len(stood - won)

    def overlaps(self) -> list[tuple[float, float, tuple[str, ...]]]:
        """Intervals ``(start, end, leaders)`` when two or more nodes led at once, any terms.

        In Raft an old leader cut off from the majority still believes it leads (an older
        term, so it can commit nothing); in Bully both coordinators act.
        """
        edges = []
        for r in self.reigns:
            edges.append((r.start, 1, r.leader))
            edges.append((self.duration if r.end is None else r.end, 0, r.leader))
        edges.sort()
        leading: list[str] = []
        out: list[tuple[float, float, tuple[str, ...]]] = []
        since = 0.0
        for t, starts, name in edges:
            if len(leading) >= 2 and t > since:
                out.append((since, t, tuple(sorted(leading))))
            if starts:
                leading.append(name)
            else:
                leading.remove(name)
            since = t
        merged: list[tuple[float, float, tuple[str, ...]]] = []
        for a, b, who in out:
            if merged and merged[-1][1] == a and merged[-1][2] == who:
                merged[-1] = (merged[-1][0], b, who)
            else:
                merged.append((a, b, who))
        return merged

    def states(self) -> dict[str, list[tuple[float, float, str, int]]]:
        """Per node, its ``(start, end, role, term)`` segments over the run (for a timeline)."""
        out: dict[str, list[tuple[float, float, str, int]]] = {n: [] for n in self.names}
        last: dict[str, tuple[float, str, int]] = {}
        for r in self.trace:
            if r.kind != "state":
                continue
            role, term = r.detail
            if r.node in last:
                t0, role0, term0 = last[r.node]
                if r.time > t0:
                    out[r.node].append((t0, r.time, role0, term0))
            last[r.node] = (r.time, role, term)
        for name, (t0, role0, term0) in last.items():
            if self.duration > t0:
                out[name].append((t0, self.duration, role0, term0))
        return out

    def messages(self) -> list[Message]:
        """Every message of the run and its fate (needs ``trace=True``)."""
        out = []
        for r in self.trace:
            if r.kind in ("deliver", "dead"):
                e = r.detail
                out.append(Message(e.src, e.dst, e.sent, r.time, e.msg, r.kind))
            elif r.kind in ("drop", "block"):
                e = r.detail
                out.append(Message(e.src, e.dst, e.sent, None, e.msg, r.kind))
        out.sort(key=lambda m: (m.sent, m.received if m.received is not None else math.inf))
        return out

    def message_counts(self) -> dict[str, int]:
        """How many messages the run sent, heartbeats apart from election messages.

        Heartbeats are what a leader sends to stay leader, and their replies: Raft's
        :class:`AppendEntries` and :class:`AppendEntriesReply`, ZooKeeper's :class:`Ping` and
        :class:`PingReply`, and Bully's :class:`Coordinator`, which announces the winner and is
        then repeated as its heartbeat. Everything else (votes, Election/Answer, FLE
        notifications, the epoch round) is ``"election"``. Needs ``trace=True``.
        """
        counts = {"election": 0, "heartbeat": 0}
        for m in self.messages():
            counts["heartbeat" if isinstance(m.msg, HEARTBEATS) else "election"] += 1
        return counts

    def uptime(self) -> list[tuple[float, float, str, int]]:
        """The intervals ``(start, end, leader, term)`` when a majority followed a live leader.

        A node follows ``(leader, term)`` from its ``follow`` record until it changes term,
        becomes a candidate, crashes, or -- for the leader itself -- stops leading; it counts
        only while the network links it to that leader (a follower on the far side of a cut
        may still believe in the leader, but the leader cannot reach it).
        """
        majority = len(self.names) // 2 + 1
        allegiance: dict[str, tuple[str, int] | None] = {n: None for n in self.names}
        cut: frozenset = frozenset()
        intervals: list[tuple[float, float, str, int]] = []
        led: tuple[float, str, int] | None = None

        def leading() -> tuple[str, int] | None:
            for leader, key in allegiance.items():
                if key is None or key[0] != leader:
                    continue
                n = sum(
                    1
                    for node, k in allegiance.items()
                    if k == key and (node == leader or (leader, node) not in cut)
                )
                if n >= majority:
                    return key
            return None

        for r in self.trace:
            if r.kind == "follow":
                allegiance[r.node] = tuple(r.detail)
            elif r.kind == "state":
                role, term = r.detail
                mine = allegiance[r.node]
                if mine is not None and (
                    role in (CANDIDATE, DOWN)
                    or mine[1] != term
                    or (mine[0] == r.node and role != LEADER)
                ):
                    allegiance[r.node] = None
            elif r.kind == "links":
                cut = r.detail
            else:
                continue
            now = leading()
            if led is not None and (now is None or now != (led[1], led[2])):
                if r.time > led[0]:
                    intervals.append((led[0], r.time, led[1], led[2]))
                led = None
            if led is None and now is not None:
                led = (r.time, now[0], now[1])
        if led is not None and self.duration > led[0]:
            intervals.append((led[0], self.duration, led[1], led[2]))
        return intervals

    def followers(self, at: float | None = None) -> dict[str, tuple[str, int] | None]:
        """Whom each node follows at time ``at`` (default: the end): ``(leader, term)`` or None.

        A leader follows itself. Follows are read from the trace as in :meth:`uptime`.
        """
        t_end = self.duration if at is None else at
        allegiance: dict[str, tuple[str, int] | None] = {n: None for n in self.names}
        for r in self.trace:
            if r.time > t_end:
                break
            if r.kind == "follow":
                allegiance[r.node] = tuple(r.detail)
            elif r.kind == "state":
                role, term = r.detail
                mine = allegiance[r.node]
                if mine is not None and (
                    role in (CANDIDATE, DOWN)
                    or mine[1] != term
                    or (mine[0] == r.node and role != LEADER)
                ):
                    allegiance[r.node] = None
        return allegiance

    def availability(self, start: float = 0.0) -> float:
        """Fraction of ``[start, duration]`` during which a majority followed a live leader."""
        span = self.duration - start
        if span <= 0:
            raise ValueError(f"start must be in [0, {self.duration}), got {start}")
        covered = sum(max(0.0, b - max(a, start)) for a, b, _, _ in self.uptime() if b > start)
        return covered / span

    def led_after(self, t: float) -> float | None:
        """The first time ``>= t`` at which a majority followed a live leader (None: never)."""
        for a, b, _, _ in self.uptime():
            if b > t:
                return max(a, t)
        return None

    def replay(self) -> str:
        """A shell command that re-runs this simulation and checks its safety."""
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        code = (
            "from halab.election import *; from halab.sim import Latency; "
            f"r = simulate_election({args}); print(r.reigns); check_safety(r)"
        )
        for ch in '\\"$`':
            code = code.replace(ch, "\\" + ch)
        return f'.venv/bin/python -c "{code}"'


# ----------------------------------------------------------------------------------------------
# Running an election: building the cluster, faults


FAULT_KINDS = {
    "crash": 1,  # (t, "crash", name)
    "restart": 1,  # (t, "restart", name)
    "crash_leader": 0,  # (t, "crash_leader")  the current leader, if any
    "restart_all": 0,  # (t, "restart_all")
    "partition": 2,  # (t, "partition", names_a, names_b)
    "isolate": 1,  # (t, "isolate", name)
    "isolate_leader": 0,  # (t, "isolate_leader")
    "split": 0,  # (t, "split") the leader and nodes // 2 - 1 others | the rest
    "heal": 0,  # (t, "heal")
}


def _check_number(name: str, value, low: float, high: float = math.inf, *, low_open=False):
    return check_real(name, value, low, high, lo_open=low_open)


MAX_DELAY = 3600.0  # seconds: the longest election timeout or heartbeat a simulation accepts
MAX_LATENCY = 10.0  # seconds: the longest one-way latency or jitter
MAX_DURATION = 36_000.0  # simulated seconds (ten hours)
MAX_TIMER_EVENTS = 2_000_000  # timeouts a run may fire: duration / shortest timeout, per node


def _check_events(duration: float, shortest: float, what: str = "duration") -> None:
    if duration / shortest > MAX_TIMER_EVENTS:
        raise ValueError(
            f"{what} must be at most {MAX_TIMER_EVENTS:.0e} times the shortest timer "
            f"({shortest:g} s), got {duration:g} s"
        )


def _check_nodes(nodes) -> int:
    if isinstance(nodes, bool) or not isinstance(nodes, (int, np.integer)) or not 1 <= nodes <= 99:
        raise ValueError(f"nodes must be an integer in [1, 99], got {nodes!r}")
    return int(nodes)


def _check_timeout(timeout) -> tuple[float, float]:
    try:
        lo, hi = timeout
    except (TypeError, ValueError):
        raise ValueError(f"timeout must be a pair (min, max) of seconds, got {timeout!r}") from None
    lo = _check_number("timeout min", lo, 0.0, MAX_DELAY, low_open=True)
    hi = _check_number("timeout max", hi, 0.0, MAX_DELAY, low_open=True)
    if lo > hi:
        raise ValueError(f"timeout must have min <= max, got ({lo:g}, {hi:g})")
    return lo, hi


def _check_loss(loss) -> float:
    if isinstance(loss, bool) or not isinstance(loss, (int, float, np.integer, np.floating)):
        raise ValueError(f"loss must be in [0, 1), got {loss!r}")
    if not 0.0 <= float(loss) < 1.0:
        raise ValueError(f"loss must be in [0, 1), got {loss!r}")
    return float(loss)


def _latency(latency, jitter) -> Latency:
    if isinstance(latency, Latency):
        return latency
    mean = _check_number("latency", latency, 0.0, MAX_LATENCY)
    sd = _check_number("jitter", jitter, 0.0, MAX_LATENCY)
    if mean == 0.0 or sd == 0.0:
        if sd != 0.0:
            raise ValueError(f"jitter must be 0 when latency is 0, got {jitter!r}")
        return Latency(mean)
    return Latency(mean, sd, "lognormal")


def _check_logs(logs, nodes: int) -> list[tuple[int, int]]:
    if logs is None:
        return [(0, 0)] * nodes
    logs = list(logs.values()) if isinstance(logs, Mapping) else list(logs)
    if len(logs) != nodes:
        raise ValueError(
            f"logs must have one (term, index) pair per node ({nodes}), got {len(logs)}"
        )
    out = []
    for pair in logs:
        try:
            t, i = (int(x) for x in pair)
        except (TypeError, ValueError):
            raise ValueError(
                f"logs must hold (term, index) pairs of integers, got {pair!r}"
            ) from None
        if t < 0 or i < 0 or (t == 0) != (i == 0):
            raise ValueError(f"logs must hold (term, index) >= 0, both 0 or both > 0, got {pair!r}")
        out.append((t, i))
    return out


def _check_faults(faults, names: Sequence[str], duration: float) -> list[tuple]:
    out = []
    for f in faults:
        if not isinstance(f, (tuple, list)) or len(f) < 2 or f[1] not in FAULT_KINDS:
            raise ValueError(
                f"faults must be tuples (time, kind, ...) with kind in {sorted(FAULT_KINDS)}, "
                f"got {f!r}"
            )
        t = _check_number("fault time", f[0], 0.0, duration)
        kind, args = f[1], tuple(f[2:])
        if len(args) != FAULT_KINDS[kind]:
            raise ValueError(f"fault {kind!r} takes {FAULT_KINDS[kind]} argument(s), got {f!r}")
        groups = args if kind == "partition" else ()
        singles = args if kind in ("crash", "restart", "isolate") else ()
        for g in groups:
            g = (g,) if isinstance(g, str) else tuple(g)
            singles = singles + g
        for n in singles:
            if n not in names:
                raise ValueError(f"fault node must be one of {list(names)}, got {n!r} in {f!r}")
        out.append((t, kind, *args))
    out.sort(key=lambda f: f[0])
    return out


def current_leader(sim: Simulation) -> str | None:
    """The live node that leads with the highest term right now (None if nobody leads)."""
    best = None
    for node in sim.nodes.values():
        if node.alive and getattr(node, "role", None) == LEADER:
            key = (node.term, node.id)
            if best is None or key > best[0]:
                best = (key, node.name)
    return None if best is None else best[1]


def _apply_fault(sim: Simulation, kind: str, *args) -> None:
    names = list(sim.nodes)
    if kind == "crash":
        sim.crash(args[0])
    elif kind == "restart":
        sim.restart(args[0])
    elif kind == "restart_all":
        for n in names:
            sim.restart(n)
    elif kind == "crash_leader":
        leader = current_leader(sim)
        if leader is not None:
            sim.crash(leader)
    elif kind == "partition":
        sim.network.partition(args[0], args[1])
    elif kind == "isolate":
        sim.isolate(args[0])
    elif kind == "isolate_leader":
        leader = current_leader(sim)
        if leader is not None:
            sim.isolate(leader)
    elif kind == "split":
        a, b = split_groups(names, current_leader(sim))
        sim.network.partition(a, b)
    elif kind == "heal":
        sim.network.heal()
    if kind in ("partition", "isolate", "isolate_leader", "split", "heal"):
        _record_links(sim, kind, args)


_CUTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # simulation -> cut links


def _record_links(sim: Simulation, kind: str, args: tuple) -> None:
    """Write the set of cut links ``(src, dst)`` to the trace as a ``links`` record.

    ``halab.sim.Network`` keeps its cuts private, so we mirror its rules here: ``partition``
    cuts both directions between two groups, ``heal`` restores everything.
    """
    cut: set[tuple[str, str]] = set(_CUTS.get(sim, frozenset()))
    names = list(sim.nodes)
    if kind == "heal":
        cut.clear()
    else:
        if kind == "partition":
            a, b = args
        elif kind == "split":
            a, b = split_groups(names, current_leader(sim))
        else:
            who = args[0] if kind == "isolate" else current_leader(sim)
            if who is None:
                return
            a, b = [who], [n for n in names if n != who]
        a = [a] if isinstance(a, str) else list(a)
        b = [b] if isinstance(b, str) else list(b)
        cut |= {(x, y) for x in a for y in b if x != y} | {(y, x) for x in a for y in b if x != y}
    _CUTS[sim] = frozenset(cut)
    sim.trace.append(Record(sim.now, "network", "links", _CUTS[sim]))


def split_groups(names: Sequence[str], leader: str | None = None) -> tuple[list[str], list[str]]:
    """Cut ``names`` in two: the leader and the ``len // 2 - 1`` nodes after it, and the rest.

    With an odd cluster the leader's side is a minority; with an even one the halves are equal.
    """
    names = list(names)
    k = max(1, len(names) // 2)
    start = names.index(leader) if leader in names else 0
    side = [names[(start + i) % len(names)] for i in range(k)]
    return side, [n for n in names if n not in side]


def _build(
    algorithm: str,
    nodes: int,
    cfg: _Config,
    network: Network,
    seed,
    logs: list[tuple[int, int]],
    trace: bool,
) -> tuple[Simulation, list[ElectionNode]]:
    sim = Simulation(seed=seed, network=network, trace=trace)
    members: list[ElectionNode] = []
    for i in range(1, nodes + 1):
        name = f"s{i}"
        if algorithm == "raft":
            node: ElectionNode = RaftNode(name, i, cfg, logs[i - 1])
        elif algorithm == "zab":
            node = ZabNode(name, i, cfg, logs[i - 1])
        else:
            node = BullyNode(name, i, cfg)
        members.append(sim.add(node))
    return sim, members


def simulate_election(
    algorithm: str = "raft",
    *,
    nodes: int = 5,
    timeout: tuple[float, float] = TIMEOUT,
    latency: float | Latency = LATENCY,
    jitter: float = JITTER,
    loss: float = 0.0,
    seed: int | None = 0,
    duration: float = 3.0,
    heartbeat: float | None = None,
    faults: Iterable[tuple] = (),
    logs: Sequence[tuple[int, int]] | Mapping[str, tuple[int, int]] | None = None,
    initial_leader: str | None = None,
    check_quorum: bool = False,
    trace: bool = True,
    vote_rule: Callable[[Voter, RequestVote], tuple[Voter, bool]] | None = None,
    vote_order: Callable[[ZabVote, ZabVote], bool] | None = None,
    zab_max_interval: float = ZAB_MAX_NOTIFICATION_INTERVAL,
) -> ElectionResult:
    """Run a cluster of ``nodes`` servers electing a leader, with faults, and report who led.

    Args:
        algorithm: ``"raft"``, ``"bully"`` or ``"zab"``.
        nodes: cluster size, 1 to 99. Nodes are named ``"s1" .. "sN"`` with ids 1 .. N.
        timeout: election timeout range ``(min, max)`` in seconds; each arming draws uniformly.
        latency: mean one-way network delay in seconds, or a :class:`halab.sim.Latency`.
        jitter: standard deviation of the delay in seconds (lognormal); ignored for a Latency.
        loss: probability in [0, 1) that a message is lost.
        seed: seed of the run's random generator.
        duration: simulated seconds to run.
        heartbeat: the leader's heartbeat interval in seconds (default: half of timeout min).
        faults: tuples ``(time, kind, *args)``; kinds: ``("crash", name)``,
            ``("restart", name)``, ``("crash_leader",)``, ``("restart_all",)``,
            ``("partition", names_a, names_b)``, ``("isolate", name)``, ``("isolate_leader",)``,
            ``("split",)`` (cut in two, the leader on the smaller side), ``("heal",)``.
        logs: per node ``(last log term, last log index)``; for ZAB ``(epoch, counter)`` of its
            last zxid. Default: empty logs.
        initial_leader: start with this node already leading term 1 (a warm start).
        check_quorum: Raft only: a leader steps down when a majority stopped answering.
        trace: record every message (needed by :meth:`ElectionResult.messages`).
        vote_rule: Raft's RequestVote rule (default :func:`handle_request_vote`).
        vote_order: ZAB's vote order (default :func:`zab_vote_wins`).
        zab_max_interval: cap of FLE's notification back-off, seconds.

    Returns:
        An :class:`ElectionResult`: ``leader``, ``term``, ``elected_at``, ``reigns``, ``trace``.

    Raises:
        ValueError: on an unknown algorithm, ``nodes`` outside [1, 99], a timeout range with
            min > max or min <= 0, ``loss`` outside [0, 1), or a malformed fault or log.
    """
    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm must be one of {ALGORITHMS}, got {algorithm!r}")
    nodes = _check_nodes(nodes)
    lo, hi = _check_timeout(timeout)
    lat = _latency(latency, jitter)
    loss = _check_loss(loss)
    duration = _check_number("duration", duration, 0.0, MAX_DURATION, low_open=True)
    hb = lo * HEARTBEAT_FRACTION if heartbeat is None else heartbeat
    hb = _check_number("heartbeat", hb, 0.0, MAX_DELAY, low_open=True)
    _check_events(duration, min(hb, lo))
    zmax = _check_number("zab_max_interval", zab_max_interval, ZK_MIN_NOTIFICATION_INTERVAL)
    names = [f"s{i}" for i in range(1, nodes + 1)]
    fault_list = _check_faults(faults, names, duration)
    log_list = _check_logs(logs, nodes)
    if initial_leader is not None and initial_leader not in names:
        raise ValueError(f"initial_leader must be one of {names}, got {initial_leader!r}")
    cfg = _Config(
        nodes=nodes,
        timeout=(lo, hi),
        heartbeat=hb,
        check_quorum=bool(check_quorum),
        vote_rule=vote_rule or handle_request_vote,
        vote_order=vote_order or zab_vote_wins,
        zab_max_interval=zmax,
    )
    sim, members = _build(algorithm, nodes, cfg, Network(lat, loss), seed, log_list, trace)
    if initial_leader is not None:
        term = max(1, max(t for t, _ in log_list))
        for node in sorted(members, key=lambda n: n.name == initial_leader):
            node.assume(initial_leader, term)
    for f in fault_list:
        sim.at(f[0], _apply_fault, sim, *f[1:])
    sim.run(until=duration)
    params: dict[str, Any] = {"algorithm": algorithm, "nodes": nodes, "timeout": (lo, hi)}
    params["latency"] = latency if isinstance(latency, Latency) else float(latency)
    optional = {
        "jitter": (jitter, JITTER),
        "loss": (loss, 0.0),
        "seed": (seed, None),
        "duration": (duration, None),
        "heartbeat": (heartbeat, None),
        "faults": (fault_list, []),
        "logs": (None if logs is None else log_list, None),
        "initial_leader": (initial_leader, None),
        "check_quorum": (bool(check_quorum), False),
        "zab_max_interval": (zmax, ZAB_MAX_NOTIFICATION_INTERVAL),
    }
    for k, (v, default) in optional.items():
        if k in ("seed", "duration") or v != default:
            params[k] = v
    return ElectionResult(
        algorithm=algorithm,
        names=tuple(names),
        duration=duration,
        reigns=tuple(_reigns(sim.trace)),
        trace=sim.trace,
        params=params,
        events=sim.events,
    )


# ----------------------------------------------------------------------------------------------
# Theory: Ongaro's dissertation, chapter 9 (times in seconds unless said otherwise)


def earliest_timeout_cdf(t, servers: int):
    """P(the first of ``servers`` uniform timeouts fires by ``t``) = ``1 - (1 - t)**servers``.

    ``t`` is measured in units of the timeout range (0 at its start, 1 at its end); dissertation
    section 9.1. Its mean is ``1 / (servers + 1)``.
    """
    s = _check_servers(servers)
    t = np.asarray(t, dtype=float)
    if np.isnan(t).any():
        raise ValueError(
            f"t must be numbers (0 at the timeout range's start, 1 at its end), got {t!r}"
        )
    t = np.clip(t, 0.0, 1.0)
    out = 1.0 - (1.0 - t) ** s
    return float(out) if out.ndim == 0 else out


def _check_servers(servers) -> int:
    if isinstance(servers, bool) or not isinstance(servers, (int, np.integer)) or servers < 1:
        raise ValueError(f"servers must be an integer >= 1, got {servers!r}")
    return int(servers)


def split_vote_probability(latency: float, servers: int, nodes: int) -> float:
    """Probability that an election term splits, with a fixed one-way ``latency``.

    Dissertation section 9.2: the first server to time out collects every vote except those of
    the servers that time out within ``latency`` of it; it fails when ``c = s - floor(n/2) + 1``
    or more of the ``s`` available servers time out that close together, and

        P = sum over k = c-1 .. s of  C(s, k) l**k (1 - l)**(s - k),

    with ``l`` the latency as a fraction of the timeout range.

    Args:
        latency: ``l``, the one-way latency divided by the width of the timeout range, >= 0
            (values above 1 count as 1).
        servers: ``s``, available servers, 1 .. ``nodes``.
        nodes: ``n``, the size of the whole cluster.
    """
    n = _check_nodes(nodes)
    s = _check_servers(servers)
    if s > n:
        raise ValueError(f"servers must be in [1, nodes={n}], got {servers!r}")
    lat = min(_check_number("latency", latency, 0.0), 1.0)
    c = s - n // 2 + 1
    return float(
        sum(math.comb(s, k) * lat**k * (1 - lat) ** (s - k) for k in range(max(c - 1, 0), s + 1))
    )


@dataclass(frozen=True)
class FencingRun:
    """Every leader's writes to one shared store, with or without fencing (:func:`fenced_writes`).

    Attributes:
        times: when each write reached the store, seconds, in order.
        terms: the term (the fencing token) each write carried.
        leaders: who sent each write.
        accepted: whether the store took it.
        fencing: whether the store checked tokens.
    """

    times: np.ndarray
    terms: np.ndarray
    leaders: tuple[str, ...]
    accepted: np.ndarray
    fencing: bool

    @property
    def interleaved(self) -> int:
        """Accepted writes from a deposed leader after the store took a newer leader's write.

        The damage of a split brain: two leaders' writes mixed in the store, the older one's
        made after the newer one had taken over. 0 with fencing, by construction.
        """
        newest, count = 0, 0
        for term, ok in zip(self.terms.tolist(), self.accepted.tolist()):
            if ok:
                count += term < newest
                newest = max(newest, term)
        return count

    @property
    def rejected(self) -> int:
        """Writes the store refused (a token older than one it had seen)."""
        return int(np.sum(~self.accepted))


def fenced_writes(
    result: ElectionResult, *, rate: float = 50.0, fencing: bool = True, seed: int = 0
) -> FencingRun:
    """Let every leader of ``result`` write to one store that all servers reach.

    A leader writes while it believes it leads (each :class:`Reign`, from its start to its end
    or the end of the run), as a Poisson process of ``rate`` writes per second, each carrying
    its term as a *fencing token* (Kleppmann, "How to do distributed locking", 2016; the
    zxid/epoch ZooKeeper hands out, etcd's lease revision). The store is shared: a disk, an
    object store, a payment API, reachable from both sides of a cut. Without fencing it takes
    every write; with fencing it refuses a token older than the newest it has taken, so a
    deposed leader's writes stop the moment the new leader's first write lands.

    A leader cut off on the small side keeps leading until it hears a higher term (without
    CheckQuorum, until the cut heals): about ``cut − E`` seconds of two leaders, where ``E`` is
    the majority side's election (:func:`expected_election_time`), and so about
    ``rate × (cut − E) − 1`` interleaved writes without fencing (the − 1: the new leader's first
    write comes ``1/rate`` after its election, on average).

    Args:
        result: a run of :func:`simulate_election`.
        rate: writes per second from each leader, ``> 0``.
        fencing: whether the store checks tokens.
        seed: seed of the write times.
    """
    check_instance("result", result, ElectionResult)
    rate = _check_number("rate", rate, 0.0, 10_000.0, low_open=True)
    rng = np.random.default_rng(seed)
    writes = []
    for reign in result.reigns:
        end = result.duration if reign.end is None else reign.end
        count = rng.poisson(rate * max(0.0, end - reign.start))
        for t in np.sort(rng.uniform(reign.start, end, count)).tolist():
            writes.append((t, reign.term, reign.leader))
    writes.sort()
    newest, accepted = 0, []
    for _, term, _ in writes:
        ok = not fencing or term >= newest
        accepted.append(ok)
        if ok:
            newest = max(newest, term)
    return FencingRun(
        times=np.array([w[0] for w in writes], dtype=float),
        terms=np.array([w[1] for w in writes], dtype=int),
        leaders=tuple(w[2] for w in writes),
        accepted=np.array(accepted, dtype=bool),
        fencing=bool(fencing),
    )


def expected_interleaved_writes(
    rate: float,
    cut: float,
    *,
    timeout: tuple[float, float] = TIMEOUT,
    latency: float = LATENCY,
    nodes: int = 5,
) -> float:
    """Writes a deposed Raft leader mixes into an unfenced store during a cut, on average.

    The leader is cut off on the small side at the start of a cut lasting ``cut`` seconds, and
    (without CheckQuorum) leads until, after the heal, the new leader's next heartbeat reaches
    it: half a heartbeat interval ``h`` and a latency later, on average. The large side
    (``nodes - nodes // 2`` servers) elects after ``E`` (:func:`expected_election_time`), and the
    new leader's first write lands ``1/rate`` after that. So
    ``rate × (cut − E + h/2 + latency) − 1``, and 0 if the cut ends before an election.
    :func:`fenced_writes` counts the simulated ones (``interleaved``); with fencing they are 0.
    """
    rate = _check_number("rate", rate, 0.0, 10_000.0, low_open=True)
    cut = _check_number("cut", cut, 0.0, MAX_DURATION)
    lo, _ = _check_timeout(timeout)
    n = _check_nodes(nodes)
    lat = _check_number("latency", latency, 0.0, MAX_LATENCY)
    e = expected_election_time(timeout, latency=lat, nodes=n, servers=n - n // 2)
    overlap = cut - e + lo * HEARTBEAT_FRACTION / 2 + lat
    return max(0.0, rate * overlap - 1.0) if cut > e else 0.0


@dataclass(frozen=True)
class SplitVoteCheck:
    """Simulated split votes beside :func:`split_vote_probability` (see :func:`split_vote_check`).

    Attributes:
        simulated: fraction of first terms that split.
        formula: the dissertation's probability.
        standard_error: of ``simulated`` around ``formula``, sqrt(p(1 - p)/trials).
        trials: first elections simulated.
    """

    simulated: float
    formula: float
    standard_error: float
    trials: int

    @property
    def z(self) -> float:
        """How many standard errors the simulation sits from the formula."""
        if self.standard_error == 0:
            return 0.0 if self.simulated == self.formula else math.inf
        return (self.simulated - self.formula) / self.standard_error


def split_vote_check(
    latency: float,
    *,
    nodes: int = 5,
    timeout: tuple[float, float] = TIMEOUT,
    trials: int = 300,
    seed: int = 0,
) -> SplitVoteCheck:
    """Simulate ``trials`` first elections after a crash and compare with the formula.

    ``latency`` is the fixed one-way latency as a fraction of the range's width (the ``l`` of
    :func:`split_vote_probability`); logs are equal and the leader crashes right after a
    heartbeat, as in lesson 05's figure. The formula assumes a candidate's votes come back
    before its own next timeout could fire; once the round trip ``2·l·width`` reaches the
    minimum timeout that fails (a candidate starts a new term with its votes still on the
    way) and the simulation splits more often: with 150-300 ms and ``l = 0.5`` the round trip
    is 150 ms, and 7 servers split 80% of the time against the formula's 66%.
    """
    lo, hi = _check_timeout(timeout)
    lat = _check_number("latency", latency, 0.0, 1.0)
    n = _check_nodes(nodes)
    r = time_to_elect(
        (lo, hi),
        trials=trials,
        nodes=n,
        latency=Latency(lat * (hi - lo)),
        differing_logs=False,
        crash="now",
        first_term_only=True,
        seed=seed,
    )
    p = split_vote_probability(lat, n - 1, n)
    return SplitVoteCheck(
        simulated=float(np.mean(r.split_votes > 0)),
        formula=p,
        standard_error=math.sqrt(p * (1 - p) / trials),
        trials=trials,
    )


def expected_election_time(
    timeout: tuple[float, float] = TIMEOUT,
    *,
    latency: float = LATENCY,
    nodes: int = 5,
    servers: int | None = None,
    disk: float = 0.0,
    heartbeat: float | None = None,
) -> float:
    """Expected time from a leader's crash to a new leader, seconds (dissertation 9.3).

    ``E = (t_min + w/(s+1) + L) / (1 - p) + L + W - h/2``: each term costs a base timeout, the
    earliest of ``s`` uniform timeouts in a range of width ``w``, and a one-way latency; the
    number of terms is geometric with the split-vote probability ``p``
    (:func:`split_vote_probability`); the last one adds the vote's way back ``L`` and a disk
    write ``W``; the leader crashed on average half a heartbeat interval ``h`` after its last
    heartbeat. Infinite when every term splits.

    The dissertation writes it for timeouts in ``[1, 2]`` (a range as wide as its minimum,
    e.g. 150-300 ms) with ``h`` half the minimum; here ``t_min`` and ``w`` are separate. Like
    the dissertation it leaves out the old leader's last heartbeat on its way to the
    followers. It assumes every term after a split starts afresh with the same ``p``. That holds
    well while ``L / w`` is below about 0.3 (the ``tests`` check it against simulated clusters),
    but a split leaves the timers restarted at different moments, so later terms split less:
    for narrow ranges (``L / w`` near or above 1, e.g. 150-155 ms with ``L`` = 3 ms) it
    overstates the time, and it says ``inf`` where real clusters still elect a leader.

    Args:
        timeout: election timeout range (min, max), seconds.
        latency: one-way network latency, seconds (fixed).
        nodes: cluster size.
        servers: servers still up (default ``nodes - 1``: the leader crashed).
        disk: time to write the vote durably, seconds.
        heartbeat: heartbeat interval, seconds (default half of timeout min).
    """
    lo, hi = _check_timeout(timeout)
    n = _check_nodes(nodes)
    s = n - 1 if servers is None else _check_servers(servers)
    lat = _check_number("latency", latency, 0.0)
    w = _check_number("disk", disk, 0.0)
    h = lo * HEARTBEAT_FRACTION if heartbeat is None else _check_number("heartbeat", heartbeat, 0)
    if s < 1 or s < n // 2 + 1:
        return math.inf
    width = hi - lo
    if width == 0:
        p = 1.0 if lat > 0 or s > 1 else 0.0
    else:
        p = split_vote_probability(lat / width, s, n)
    if p >= 1.0:
        return math.inf
    return (lo + width / (s + 1) + lat) / (1 - p) + lat + w - h / 2


# ----------------------------------------------------------------------------------------------
# Experiments


@dataclass(frozen=True)
class ElectionTimes:
    """The outcome of :func:`time_to_elect`: one downtime and one split-vote count per trial.

    Attributes:
        timeout: the election timeout range used, seconds.
        times: seconds from the leader's crash until every live server heard the new leader;
            ``inf`` when no leader was found within ``max_time``.
        split_votes: failed terms before the winning one, per trial.
        params: the experiment's arguments.
    """

    timeout: tuple[float, float]
    times: np.ndarray = field(repr=False)
    split_votes: np.ndarray = field(repr=False)
    params: dict[str, Any] = field(repr=False, default_factory=dict)

    @property
    def label(self) -> str:
        """``"150-300 ms"`` style label of the timeout range."""
        return f"{self.timeout[0] * 1000:g}-{self.timeout[1] * 1000:g} ms"

    @property
    def censored(self) -> int:
        """Trials that found no leader within ``max_time``."""
        return int(np.sum(~np.isfinite(self.times)))

    def cdf(self) -> tuple[np.ndarray, np.ndarray]:
        """Sorted times and the fraction of trials done by each (censored trials stay out)."""
        t = np.sort(self.times)
        return t[np.isfinite(t)], (np.arange(1, t.size + 1) / t.size)[np.isfinite(t)]


def _differing_logs(nodes: int) -> list[tuple[int, int]]:
    # The old leader s1 and nodes // 2 others hold the last entry (a majority committed it);
    # the rest lag one entry behind and cannot win (dissertation 9.4: "two of the four").
    full = nodes // 2 + 1
    return [(1, 2) if i < full else (1, 1) for i in range(nodes)]


def time_to_elect(
    timeout: tuple[float, float] = TIMEOUT,
    *,
    trials: int = 1000,
    nodes: int = 5,
    latency: float | Latency = 0.003,
    jitter: float = 0.001,
    loss: float = 0.0,
    seed: int | None = 0,
    differing_logs: bool = True,
    crash: str = "uniform",
    max_time: float = 30.0,
    timer_noise: float = 0.0,
    first_term_only: bool = False,
) -> ElectionTimes:
    """Crash a Raft leader ``trials`` times and time how long until a new one is known.

    Our version of the benchmark of Ongaro's dissertation, section 9.4 (figure 9.8; Raft paper
    figure 16): each trial starts with ``s1`` leading term 1 and a heartbeat sent to everyone at
    time 0 (so the followers' timers start together, the worst case); ``s1`` crashes uniformly
    within its heartbeat interval (``crash="uniform"``) or right after the heartbeat
    (``"now"``); the downtime runs until every live server has accepted the new leader's first
    heartbeat. With ``differing_logs`` only a bare majority holds the last log entry, so the
    others cannot win. The default latency, 3 ms one way with 1 ms of jitter, was fitted so that
    150-155 ms reproduces the published median of 287 ms; the dissertation's broadcast time of
    about 15 ms also includes a disk write, which our servers do not make.

    Args:
        timeout: election timeout range (min, max), seconds.
        trials: number of crashes, >= 1.
        nodes: cluster size, >= 2.
        latency: mean one-way delay, seconds, or a :class:`halab.sim.Latency`.
        jitter: standard deviation of the delay, seconds (lognormal).
        loss: message loss probability in [0, 1).
        seed: seed of the experiment (each trial gets its own stream from it).
        differing_logs: give the servers different logs as the dissertation's benchmark did.
        crash: ``"uniform"`` or ``"now"``.
        max_time: give up a trial after this many seconds without a leader.
        timer_noise: mean of an exponential delay added to every election timeout, seconds
            (an operating system wakes a timer late, never early); 0 for exact timers.
        first_term_only: stop each trial once term 2 is decided: a leader that everyone
            follows (a time), or some server moving on to term 3 (a split vote, time ``inf``).
    """
    lo, hi = _check_timeout(timeout)
    n = _check_nodes(nodes)
    if n < 2:
        raise ValueError(f"nodes must be an integer in [2, 99] to crash a leader, got {nodes!r}")
    trials = check_int("trials", trials, 1, 100_000)
    if crash not in ("uniform", "now"):
        raise ValueError(f"crash must be 'uniform' or 'now', got {crash!r}")
    lat = _latency(latency, jitter)
    loss = _check_loss(loss)
    max_time = _check_number("max_time", max_time, 0.0, MAX_DURATION, low_open=True)
    _check_events(max_time, lo * HEARTBEAT_FRACTION, "max_time")
    noise = _check_number("timer_noise", timer_noise, 0.0)
    logs = _differing_logs(n) if differing_logs else [(1, 1)] * n
    hb = lo * HEARTBEAT_FRACTION
    master = make_rng(seed)
    times = np.full(trials, np.inf)
    splits = np.zeros(trials, dtype=int)
    for k in range(trials):
        done: dict[str, float] = {}

        def watch(node: ElectionNode, done=done) -> None:
            key = node._followed
            if key is None or key[1] < 2:
                return
            if all(m._followed == key for m in node.sim.nodes.values() if m.alive):
                done["t"] = node.now
                done["term"] = key[1]
                node.sim.stop()

        def split(node: ElectionNode, done=done) -> None:
            if node.term > 2:
                done["split"] = True
                node.sim.stop()

        cfg = _Config(n, (lo, hi), hb, timer_noise=noise, on_follow=watch)
        if first_term_only:
            cfg.on_state = split
        sub_seed = int(master.integers(2**63))
        crash_at = float(master.uniform(0.0, hb)) if crash == "uniform" else 0.0
        sim, members = _build("raft", n, cfg, Network(lat, loss), sub_seed, logs, False)
        for node in members[1:] + members[:1]:  # followers first, then the leader heartbeats
            node.assume("s1", 1)
        sim.at(crash_at, sim.crash, "s1")
        sim.run(until=crash_at + max_time)
        if "split" in done:
            splits[k] = 1
        elif "t" in done:
            times[k] = done["t"] - crash_at
            splits[k] = done["term"] - 2
        else:
            splits[k] = max(m.term for m in members) - 1
    params = {
        "trials": trials,
        "nodes": n,
        "latency": latency,
        "jitter": jitter,
        "loss": loss,
        "seed": seed,
        "differing_logs": differing_logs,
        "crash": crash,
        "max_time": max_time,
        "timer_noise": noise,
        "first_term_only": bool(first_term_only),
    }
    return ElectionTimes((lo, hi), times, splits, params)


def timing_availability(
    timeout: tuple[float, float] = TIMEOUT,
    *,
    latency: float = LATENCY,
    mtbf: float = 10.0,
    mttr: float = 1.0,
    nodes: int = 5,
) -> float:
    """The renewal estimate of the fraction of time a majority follows a live leader.

    ``k_of_n(majority, n, a) * MTBF / (MTBF + E)``: a majority of servers must be up, each up
    a fraction ``a = MTBF / (MTBF + MTTR)`` of the time (``halab.availability.k_of_n``); the
    leader fails once per MTBF and each failure costs ``E``, :func:`expected_election_time`
    plus one latency for the new leader's first heartbeat. 0 when elections never end.

    Args:
        timeout: election timeout range (min, max), seconds.
        latency: one-way network latency, seconds.
        mtbf: mean time between failures of one server, seconds.
        mttr: how long a failed server stays down, seconds.
        nodes: cluster size.
    """
    from halab.availability import k_of_n  # scipy; imported only when needed

    n = _check_nodes(nodes)
    mtbf = _check_number("mtbf", mtbf, 0.0, low_open=True)
    mttr = _check_number("mttr", mttr, 0.0)
    e = expected_election_time(timeout, latency=latency, nodes=n) + latency
    if not math.isfinite(e):
        return 0.0
    return k_of_n(n // 2 + 1, n, mtbf / (mtbf + mttr)) * mtbf / (mtbf + e)


@dataclass(frozen=True)
class TimingRun:
    """The outcome of :func:`leader_availability`.

    Attributes:
        availability: measured fraction of time a majority followed a live leader.
        theory: :func:`timing_availability` for the same settings.
        election_time: ``E``, seconds: :func:`expected_election_time` plus one latency (the new
            leader's first heartbeat must reach the followers).
        leader_crashes: how many times the node leading at that moment crashed.
        elections: reigns that began after the warm start; more than ``leader_crashes`` means
            leaders were replaced although they were alive.
        result: the underlying :class:`ElectionResult`.
    """

    availability: float
    theory: float
    election_time: float
    leader_crashes: int
    elections: int
    result: ElectionResult = field(repr=False)

    @property
    def needless_elections(self) -> int:
        """Elections that replaced a leader that had not crashed."""
        return max(0, self.elections - self.leader_crashes)


def leader_availability(
    timeout: tuple[float, float] = TIMEOUT,
    *,
    latency: float = LATENCY,
    jitter: float = JITTER,
    mtbf: float = 10.0,
    mttr: float = 1.0,
    nodes: int = 5,
    duration: float = 30.0,
    seed: int | None = 0,
) -> TimingRun:
    """Raft's timing rule ``broadcastTime << electionTimeout << MTBF`` as one experiment.

    Every server fails after an exponential time with mean ``mtbf`` and comes back ``mttr``
    seconds later, again and again; we measure the fraction of time a majority follows a live
    leader and compare it with :attr:`TimingRun.theory`. With a latency close
    to the election timeout elections keep splitting and heartbeats arrive too late; with an
    MTBF close to the election timeout the cluster spends its life electing.

    Args:
        timeout: election timeout range (min, max), seconds.
        latency: mean one-way delay, seconds (the broadcast time is about twice this).
        jitter: its standard deviation, seconds.
        mtbf: mean time between failures of one server, seconds.
        mttr: time a failed server stays down, seconds.
        nodes: cluster size.
        duration: simulated seconds.
        seed: seed of the run.
    """
    lo, hi = _check_timeout(timeout)
    n = _check_nodes(nodes)
    mtbf = _check_number("mtbf", mtbf, 0.0, low_open=True)
    mttr = _check_number("mttr", mttr, 0.0)
    duration = _check_number("duration", duration, 0.0, MAX_DURATION, low_open=True)
    if duration / (mtbf + mttr) > 100_000:
        raise ValueError(
            f"mtbf must allow at most 1e5 failures per server in {duration:g} s, got {mtbf:g} s"
        )
    _latency(latency, jitter)
    lat_mean = float(latency.mean) if isinstance(latency, Latency) else float(latency)
    rng = make_rng(seed)
    faults: list[tuple] = []
    for i in range(1, n + 1):
        t = float(rng.exponential(mtbf))
        while t < duration:
            faults.append((t, "crash", f"s{i}"))
            if t + mttr < duration:
                faults.append((t + mttr, "restart", f"s{i}"))
            t += mttr + float(rng.exponential(mtbf))
    result = simulate_election(
        "raft",
        nodes=n,
        timeout=(lo, hi),
        latency=latency,
        jitter=jitter,
        seed=None if seed is None else int(rng.integers(2**63)),
        duration=duration,
        faults=faults,
        initial_leader="s1",
        trace=False,
    )
    leader_crashes = 0
    for r in result.reigns:
        if r.end is not None and any(
            f[1] == "crash" and f[2] == r.leader and abs(f[0] - r.end) < 1e-12 for f in faults
        ):
            leader_crashes += 1
    e = expected_election_time((lo, hi), latency=lat_mean, nodes=n) + lat_mean
    theory = timing_availability((lo, hi), latency=lat_mean, mtbf=mtbf, mttr=mttr, nodes=n)
    return TimingRun(
        availability=result.availability(),
        theory=theory,
        election_time=e,
        leader_crashes=leader_crashes,
        elections=len(result.reigns) - 1,
        result=result,
    )
