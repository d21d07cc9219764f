"""The capstone: a checkout service designed with one piece from each lesson, predicted, then drilled.

A :class:`Design` holds one choice per lesson; :func:`predict` turns it into availability, yearly
downtime, recovery point and recovery time by calling the lessons' own models; the notebook then
runs a kill-and-revive drill on a real :class:`halab.live.LiveCluster` built from the same choices
and compares what it measures with what :func:`drill_prediction` expects.

    >>> p = predict(Design())
    >>> round(p.availability, 5), p.rpo_writes_per_failover
    (0.99999, 0.0)

The service is three tiers in series (lesson 02):

- **balancer**: an active-passive pair (``availability.active_passive``) whose failover takes
  ``balancer_failover`` seconds (a floating IP moved by keepalived/VRRP, say);
- **app**: ``app_servers`` replicas behind the balancer, of which ``app_needed`` carry the peak
  load (``availability.k_of_n``). A crashed replica is restarted by a supervisor; its MTTR is
  detection + decision + restart + warm-up (lesson 08, ``recovery.Recovery.mttr``). While it is
  down, the balancer's health checks (lesson 06, HAProxy semantics) take it out of rotation and
  retries hide the requests that were already on their way to it;
- **database**: ``db_nodes`` replicas, MySQL-style: one primary ships its log to the others
  in ``replication`` mode (lesson 07), and an *external* election picks the next primary when
  it crashes, timed as a Raft election among the nodes (lesson 05; what Orchestrator's raft
  mode or a Patroni-style lease in etcd do). This is not Raft's own replication, which commits
  a write once a majority holds it. Each primary crash costs one election
  (``election.expected_election_time``); the tier is also down while a majority of nodes is
  down at once (k-of-n again), since the election needs one. Lost writes per failover
  (:func:`writes_lost`, ``replication.expected_lost_after_cut``): an asynchronous backup lacks
  ``rate × lag`` on average, a synchronous one none, and a semi-synchronous one none *after a
  plain crash*; but when its backups stop answering for longer than ``semisync_timeout``
  (MySQL's ``rpl_semi_sync_source_timeout``, 10 s) it falls back to asynchronous replication,
  and a crash then loses every write acknowledged since, ``rate × cut_for``.

Recovery, one definition each (lessons 07 and 10): the *recovery time* of a failure is how long
the service cannot take writes (here, the election); the *recovery point* is how far back in
time the acknowledged writes it loses reach, seconds (× the write rate: the writes lost). The
RTO and RPO are the objectives a business sets for those two: the longest recovery time and
the farthest recovery point it accepts.

The database's unavailability is a first-order sum (election downtime per leader failure plus
the chance that no majority is up); both terms are small, so their overlap is negligible.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from halab import availability as av
from halab import election, recovery, replication
from halab.balancing import POLICIES
from halab.checks import check_instance, check_int, check_prob, check_real
from halab.live import health

SECONDS_PER_HOUR = 3600.0
REPLICATION_MODES = ("sync", "semisync", "async")


@dataclass(frozen=True)
class Design:
    """One checkout service: a choice from each lesson. Times in hours unless named seconds.

    Attributes:
        app_servers: application replicas behind the balancer (lesson 02), 1 to 16.
        app_needed: replicas needed to carry the peak load, 1 to ``app_servers``.
        app_mttf: hours between crashes of one replica (process crashes, lost nodes).
        restart: seconds for the supervisor to start a replica again (lesson 08).
        warm_up: seconds a new replica loads before it is ready.
        probe_period: seconds between the supervisor's liveness probes.
        policy: the balancing policy (lesson 03), a key of ``balancing.POLICIES``.
        inter, fall, rise: the balancer's health checks (lessons 04 and 06), seconds and counts.
        retries: retries of idempotent requests on another replica (lesson 06), 0 to 5.
        consecutive_5xx: failed requests in a row that eject a replica passively (lesson 06,
            Envoy's outlier detection), or None for active checks only.
        db_nodes: database replicas with an elected leader (lesson 05), 1 to 9.
        db_mttf: hours between failures of one database node.
        db_mttr: hours to replace a failed database node.
        election_timeout: Raft's election timeout range, seconds (lesson 05).
        replication: ``"sync"``, ``"semisync"`` or ``"async"`` (lesson 07).
        write_rate: checkout writes per second.
        lag: seconds an asynchronous backup trails the leader.
        semisync_timeout: seconds semi-sync waits for a backup before it falls back to async
            (MySQL's ``rpl_semi_sync_source_timeout``, 10 s by default).
        balancer_mttf, balancer_mttr: hours, for each of the two balancers.
        balancer_failover: seconds to move the service address to the standby balancer.
        slo: the availability objective (lesson 01), e.g. 0.9995.
    """

    app_servers: int = 3
    app_needed: int = 2
    app_mttf: float = 30 * 24.0
    restart: float = 5.0
    warm_up: float = 20.0
    probe_period: float = 2.0
    policy: str = "least_connections"
    inter: float = 0.2
    fall: int = 2
    rise: int = 2
    retries: int = 2
    consecutive_5xx: int | None = 3
    db_nodes: int = 3
    db_mttf: float = 90 * 24.0
    db_mttr: float = 4.0
    election_timeout: tuple[float, float] = (0.150, 0.300)
    replication: str = "semisync"
    write_rate: float = 50.0
    lag: float = 0.2
    balancer_mttf: float = 180 * 24.0
    balancer_mttr: float = 2.0
    balancer_failover: float = 3.0
    semisync_timeout: float = 10.0
    slo: float = 0.9995

    def __post_init__(self) -> None:
        def whole(name, low, high):
            check_int(name, getattr(self, name), low, high)

        def positive(name):
            check_real(name, getattr(self, name), 0.0, lo_open=True)

        whole("app_servers", 1, 16)
        whole("app_needed", 1, self.app_servers)
        whole("fall", 1, 10)
        whole("rise", 1, 10)
        whole("retries", 0, 5)
        if self.consecutive_5xx is not None:
            whole("consecutive_5xx", 1, 100)
        whole("db_nodes", 1, 9)
        for name in (
            "app_mttf",
            "db_mttf",
            "db_mttr",
            "balancer_mttf",
            "balancer_mttr",
            "inter",
            "write_rate",
            "probe_period",
        ):
            positive(name)
        positive("semisync_timeout")
        for name in ("restart", "warm_up", "lag", "balancer_failover"):
            check_real(name, getattr(self, name), 0.0, unit="seconds")
        if self.policy not in POLICIES:
            raise ValueError(f"policy must be one of {', '.join(POLICIES)}, got {self.policy!r}")
        if self.replication not in REPLICATION_MODES:
            raise ValueError(
                f"replication must be one of {REPLICATION_MODES}, got {self.replication!r}"
            )
        try:
            low, high = self.election_timeout
        except (TypeError, ValueError):
            raise ValueError(
                f"election_timeout must be (min, max) seconds, got {self.election_timeout!r}"
            ) from None
        low = check_real("election_timeout min", low, 0.0, 10.0, lo_open=True)
        high = check_real("election_timeout max", high, 0.0, 10.0, lo_open=True)
        if not 0 < low <= high:
            raise ValueError(
                f"election_timeout must be (min, max) with 0 < min <= max, got {self.election_timeout}"
            )
        check_prob("slo", self.slo, lo_open=True, hi_open=True)

    def live_options(self) -> dict:
        """The settings a :class:`halab.live.LiveCluster` takes from this design."""
        return {
            "backends": self.app_servers,
            "policy": self.policy,
            "inter": self.inter,
            "fall": self.fall,
            "rise": self.rise,
            "retries": self.retries,
            "consecutive_5xx": self.consecutive_5xx,
        }


@dataclass(frozen=True)
class Prediction:
    """What a design is expected to do (availabilities as fractions, times in seconds).

    Attributes:
        tiers: the availability of each tier, ``{"balancer": ..., "app": ..., "database": ...}``.
        availability: the whole service, the tiers in series.
        app_server_mttr: seconds from a replica's crash until it serves again.
        db_failover: the database's recovery time: seconds without a primary after a primary
            crash (one election), to hold against an RTO.
        failovers_per_year: primary crashes a year.
        recovery_point: seconds of acknowledged writes a failover after a plain crash loses
            (the lag for async, 0 otherwise), to hold against an RPO.
        rpo_writes_per_failover: the writes in that span, on average (× the write rate).
        client_errors_per_app_crash: failed client requests when one replica crashes, at
            ``rate`` requests per second (0 with retries: every request that meets the dead
            replica is retried elsewhere; without, the requests it gets until the active
            checks or passive ejection take it out, whichever is first).
    """

    tiers: dict[str, float]
    availability: float
    app_server_mttr: float
    db_failover: float
    failovers_per_year: float
    recovery_point: float
    rpo_writes_per_failover: float
    client_errors_per_app_crash: float

    def downtime_minutes(self) -> dict[str, float]:
        """Expected minutes down a year for each tier (they add up to about the total)."""
        return {name: av.downtime_hours(a, "year") * 60 for name, a in self.tiers.items()}

    @property
    def yearly_downtime_minutes(self) -> float:
        return av.downtime_hours(self.availability, "year") * 60


def predict(design: Design, *, rate: float = 100.0) -> Prediction:
    """Expected availability, downtime, recovery point and time of a design (module docstring).

    Args:
        design: the choices.
        rate: client requests per second, for the errors an app crash causes without retries.
    """
    check_instance("design", design, Design)
    rate = check_real("rate", rate, 0.0, unit="requests per second")
    supervisor = recovery.Recovery(
        probe_period=design.probe_period, restart=design.restart, warm_up=design.warm_up
    )
    app_mttf_s = design.app_mttf * SECONDS_PER_HOUR
    app_mttr_s = supervisor.mttr(app_mttf_s)
    a_server = supervisor.availability(app_mttf_s)
    a_app = av.k_of_n(design.app_needed, design.app_servers, a_server)

    a_balancer = av.active_passive(
        design.balancer_mttf, design.balancer_mttr, design.balancer_failover / SECONDS_PER_HOUR
    )

    failover = (
        election.expected_election_time(design.election_timeout, nodes=design.db_nodes)
        if design.db_nodes > 1
        else design.db_mttr * SECONDS_PER_HOUR  # one node: wait for its repair
    )
    majority = design.db_nodes // 2 + 1
    a_node = av.availability(design.db_mttf, design.db_mttr)
    u_quorum = 1 - av.k_of_n(majority, design.db_nodes, a_node)
    u_elections = (failover / SECONDS_PER_HOUR) / design.db_mttf if design.db_nodes > 1 else 0.0
    a_db = max(0.0, 1 - u_quorum - u_elections)

    lost = writes_lost(design)
    if design.retries > 0:
        errors = 0.0
    else:
        # Every request the dead replica gets fails until it leaves rotation: through the
        # active checks after the mean detection time (its share of the requests meanwhile),
        # or through passive ejection after consecutive_5xx failures, whichever comes first.
        low, high = health.detection_bounds(design.inter, design.fall)
        errors = rate / design.app_servers * (low + high) / 2
        if design.consecutive_5xx is not None:
            errors = min(errors, float(design.consecutive_5xx))
    tiers = {"balancer": a_balancer, "app": a_app, "database": a_db}
    return Prediction(
        tiers=tiers,
        availability=av.series(*tiers.values()),
        app_server_mttr=app_mttr_s,
        db_failover=failover,
        failovers_per_year=av.HOURS_PER["year"] / design.db_mttf if design.db_nodes > 1 else 0.0,
        recovery_point=lost / design.write_rate,
        rpo_writes_per_failover=lost,
        client_errors_per_app_crash=errors,
    )


def writes_lost(design: Design, cut_for: float = 0.0) -> float:
    """Acknowledged writes a database failover loses on average, for the design's mode.

    ``cut_for``: seconds the primary's link to its backups had been broken when it crashed
    (0, a plain crash). Semi-sync loses nothing after a plain crash or a cut shorter than
    ``design.semisync_timeout``, and every write since the cut after a longer one
    (``replication.expected_lost_after_cut``). One node has no backup to promote: a crash waits
    for the repair and loses nothing while the node's own disk survives.

    >>> round(writes_lost(Design(), cut_for=30.0))     # semi-sync, 50 writes/s, 10 s timeout
    1500
    """
    check_instance("design", design, Design)
    cut_for = check_real("cut_for", cut_for, 0.0, unit="seconds")
    if design.db_nodes == 1:
        return 0.0
    return replication.expected_lost_after_cut(
        design.replication,
        design.write_rate,
        cut_for,
        lag=design.lag if design.replication == "async" else 0.0,
        timeout=design.semisync_timeout,
    )


def budget(design: Design, prediction: Prediction | None = None) -> av.ErrorBudget:
    """The monthly error budget of the design's SLO after the predicted downtime of a month."""
    check_instance("design", design, Design)
    if prediction is not None:
        check_instance("prediction", prediction, Prediction)
    prediction = prediction or predict(design)
    monthly = av.downtime_hours(prediction.availability, "month") * 60
    return av.error_budget(design.slo, [monthly], "month")


@dataclass(frozen=True)
class DrillExpectation:
    """What the live kill-and-revive drill should show for a design (seconds).

    Attributes:
        failed: client requests expected to fail (at the drill's rate).
        removed_within: the killed backend is out of rotation before this (HAProxy's worst case).
        readmitted_within: the revived backend is back in rotation before this.
    """

    failed: float
    removed_within: float
    readmitted_within: float


def drill_prediction(design: Design, *, rate: float = 100.0) -> DrillExpectation:
    """The drill's expected outcome, from the detection and readmission bounds of lesson 06."""
    check_instance("design", design, Design)
    return DrillExpectation(
        failed=predict(design, rate=rate).client_errors_per_app_crash,
        removed_within=health.detection_bounds(design.inter, design.fall)[1],
        readmitted_within=health.readmission_bounds(design.inter, design.rise)[1],
    )


def describe(design: Design) -> dict:
    """The design as a plain dict, for a table in the notebook."""
    return asdict(check_instance("design", design, Design))
