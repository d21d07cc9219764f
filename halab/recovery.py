"""Automatic recovery: a supervisor that restarts crashed workers, with backoff, and its MTTR.

Lesson 08 closes the loop with lesson 01: a supervisor turns a crash into a short outage, and
each step it takes is a term of the mean time to repair that :func:`halab.availability.availability`
turns into nines. All times are in **seconds**.

Vocabulary, and how each term is coded:

- **worker**: a process that serves until it crashes; a :class:`Worker` node on the simulated
  kernel :mod:`halab.sim`.
- **supervisor**: watches its workers and restarts each one that crashed; a :class:`Supervisor`
  node (Kubernetes' kubelet, systemd, an Erlang/OTP supervisor play this part).
- **backoff**: the wait the supervisor adds before a restart, growing with each crash in a row:
  ``min(cap, base * factor**attempt)`` for attempt 0, 1, 2, ... (a :class:`BackoffPolicy`).
- **jitter**: randomness added to a backoff so that many clients do not retry in step:
  ``"none"``, ``"full"``, ``"equal"`` or ``"decorrelated"`` (see :func:`backoff_schedule`).
- **crash loop**: a worker that crashes soon after every start; the supervisor's restarts
  slow down until they reach the cap (:func:`crash_loop`; Kubernetes calls the waiting state
  ``CrashLoopBackOff``).
- **recovery**: what happens between a crash and serving again, a :class:`Recovery`:
  *detection* (a liveness probe every ``probe_period`` seconds must fail
  ``failure_threshold`` times in a row), *decision* (the supervisor acts), the *backoff* wait,
  *restart* (the process starts) and *warm-up* (it loads or re-syncs its data before it is
  ready). MTTR is the mean of their sum.
- **warm-up with or without a persistent volume**: a replacement that finds its data on a
  persistent volume (a StatefulSet pod gets its own claim back, by its stable name) copies
  only what it missed; a fresh one copies everything (:func:`warm_up_time`).

A tour::

    >>> [float(d) for d in backoff_schedule(8)]          # Kubernetes' numbers, seconds
    [10.0, 20.0, 40.0, 80.0, 160.0, 300.0, 300.0, 300.0]
    >>> loop = crash_loop(3600.0, run_time=0.0)         # crashes the moment it starts
    >>> [float(d) for d in loop.delays[:8]]             # the first restart is immediate
    [0.0, 10.0, 20.0, 40.0, 80.0, 160.0, 300.0, 300.0]
    >>> len(loop.restarts)                              # restarts in its first hour
    16
    >>> r = Recovery(probe_period=10, decision=1, restart=5, warm_up=60)
    >>> {step: round(mean, 2) for step, mean in r.parts(mttf=86400.0).items()}
    {'detection': 25.0, 'decision': 1.0, 'backoff': 0.06, 'restart': 5.0, 'warm-up': 60.0}
    >>> round(r.availability(mttf=86400.0), 5)          # one crash a day
    0.99895
    >>> round(r.downtime_per_year(mttf=86400.0), 2)     # hours
    9.22

Sources:

- Kubernetes' CrashLoopBackOff: the kubelet restarts a container after an exponential backoff
  starting at ``containerBackOffPeriod = 10 s`` (``pkg/kubelet/kubelet.go``), doubled at each
  crash and capped at ``MaxContainerBackOff = 300 s`` (``pkg/kubelet/apis/config/v1beta1/
  defaults.go``). The doubling and the cap are ``Backoff.Next`` in client-go's
  ``util/flowcontrol/backoff.go``; its ``hasExpired`` starts the backoff afresh once a
  container ran for more than ``2 * maxDuration`` = 600 s since its last restart. In
  ``kuberuntime_manager.go`` (``doBackOff``) the first exit finds no backoff entry, so the
  first restart is immediate and the waits run 0, 10, 20, 40, 80, 160, 300, 300, ... s. The
  Pod lifecycle page (kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/) says the
  same in words: 10 s, 20 s, 40 s, ..., capped at five minutes, reset after 10 minutes of
  running without problems.
- Probe defaults ``periodSeconds = 10`` and ``failureThreshold = 3``: the Kubernetes Probe API
  reference (core/v1 ``Probe``).
- Jitter: Marc Brooker, "Exponential Backoff And Jitter", AWS Architecture Blog (March 2015),
  and its simulator (github.com/aws-samples/aws-arch-backoff-simulator,
  ``src/backoff_simulator.py``): full jitter ``uniform(0, v)``, equal jitter
  ``v/2 + uniform(0, v/2)`` with ``v = min(cap, base * 2**n)``, decorrelated jitter
  ``sleep = min(cap, uniform(base, 3 * sleep))`` starting from ``sleep = base``.
- The availability of a renewal process, MTTF / (MTTF + MTTR), whatever the distribution of
  the repair time: see :mod:`halab.availability` (Trivedi, section 8.2; Ross, section 3.6).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from halab import availability as av
from halab.checks import check_instance, check_real, make_rng
from halab.checks import check_int as _count
from halab.checks import non_negative as _non_negative
from halab.checks import positive as _positive
from halab.sim import Node, Record, Simulation

MAX_EVENTS = 1_000_000  # crashes and restarts one simulation may hold

__all__ = [
    "JITTERS",
    "K8S_BACKOFF_BASE",
    "K8S_BACKOFF_CAP",
    "K8S_BACKOFF_RESET",
    "K8S_FAILURE_THRESHOLD",
    "K8S_PROBE_PERIOD",
    "KUBERNETES",
    "YEAR",
    "Backoff",
    "BackoffPolicy",
    "CrashLoop",
    "Recovery",
    "SupervisedRun",
    "Supervisor",
    "Worker",
    "backoff_delay",
    "backoff_schedule",
    "crash_loop",
    "simulate_supervised",
    "supervised_spread",
    "SupervisedSpread",
    "warm_up_time",
]

# --- the numbers of Kubernetes (see the module docstring for the source files) ------------

K8S_BACKOFF_BASE = 10.0  # seconds, kubelet containerBackOffPeriod
K8S_BACKOFF_CAP = 300.0  # seconds, kubelet MaxContainerBackOff
K8S_BACKOFF_RESET = 600.0  # seconds, 2 * MaxContainerBackOff (client-go flowcontrol hasExpired)
K8S_PROBE_PERIOD = 10.0  # seconds, Probe.periodSeconds default
K8S_FAILURE_THRESHOLD = 3  # Probe.failureThreshold default

JITTERS = ("none", "full", "equal", "decorrelated")
"""The jitter variants of the AWS Architecture Blog post, and no jitter."""

YEAR = 365 * 24 * 3600.0  # seconds in a year of 365 days, as halab.availability counts it


# --- argument checks ------------------------------------------------------------------------


def _number(name: str, value: object) -> float:
    """Any number but NaN: an infinite cap or reset time means "never"."""
    return check_real(name, value, finite=False)


def _check_backoff(base: object, cap: object, factor: object) -> tuple[float, float, float]:
    base = _positive("base", base)
    cap = _number("cap", cap)
    if not cap >= base:
        raise ValueError(
            f"cap must be >= base ({base:g} s): the longest wait cannot be shorter than the "
            f"first, got {cap!r}"
        )
    factor = _number("factor", factor)
    if not 1 <= factor < math.inf:
        raise ValueError(f"factor must be a finite number >= 1 (2 doubles), got {factor!r}")
    return base, cap, factor


def _check_jitter(jitter: object) -> str:
    if jitter not in JITTERS:
        raise ValueError(f"jitter must be one of {JITTERS}, got {jitter!r}")
    return jitter  # type: ignore[return-value]


# --- backoff schedules --------------------------------------------------------------------


def backoff_delay(
    attempt: int,
    *,
    base: float = K8S_BACKOFF_BASE,
    cap: float = K8S_BACKOFF_CAP,
    factor: float = 2.0,
) -> float:
    """The backoff ceiling before retry number ``attempt``: ``min(cap, base * factor**attempt)``.

    Args:
        attempt: 0 for the first retry, 1 for the second, ...
        base: the first wait, seconds, > 0.
        cap: the longest wait, seconds, >= base (``math.inf`` for no cap).
        factor: the growth per attempt, >= 1 (2 doubles).

    Returns:
        The wait in seconds, without jitter.

    >>> backoff_delay(0), backoff_delay(4), backoff_delay(5)
    (10.0, 160.0, 300.0)
    """
    attempt = _count("attempt", attempt, 0)
    base, cap, factor = _check_backoff(base, cap, factor)
    return _ceiling(attempt, base, cap, factor)


def _ceiling(attempt: int, base: float, cap: float, factor: float) -> float:
    if factor == 1.0:
        return min(cap, base)
    # the exponent at which base * factor**n reaches cap; past it the wait is the cap, and
    # computing factor**n there could overflow for no purpose
    if cap < math.inf and attempt >= math.log(cap / base, factor) + 1:
        return cap
    try:
        return min(cap, base * factor**attempt)
    except OverflowError:
        return cap


def _ceilings(attempts: int, base: float, cap: float, factor: float) -> np.ndarray:
    return np.array([_ceiling(n, base, cap, factor) for n in range(attempts)], dtype=float)


def backoff_schedule(
    attempts: int = 10,
    *,
    base: float = K8S_BACKOFF_BASE,
    cap: float = K8S_BACKOFF_CAP,
    factor: float = 2.0,
    jitter: str = "none",
    seed: int | None = 0,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """The waits before ``attempts`` retries in a row, with a cap and (optionally) jitter.

    With ``v_n = min(cap, base * factor**n)`` for attempt n = 0, 1, ... (Brooker, AWS
    Architecture Blog, 2015):

    - ``"none"``: ``v_n`` (Kubernetes' kubelet: 10, 20, 40, 80, 160, 300, 300, ... s);
    - ``"full"``: uniform in ``[0, v_n]``;
    - ``"equal"``: ``v_n / 2`` plus uniform in ``[0, v_n / 2]``;
    - ``"decorrelated"``: ``s_n = min(cap, uniform(base, 3 * s_{n-1}))`` with ``s_{-1} = base``;
      each wait grows from the last one drawn, not from n (``factor`` does not apply).

    Every wait lies in ``[0, cap]``; decorrelated waits lie in ``[base, cap]``.

    Args:
        attempts: how many waits, >= 0.
        base: the first wait, seconds, > 0.
        cap: the longest wait, seconds, >= base (``math.inf`` for no cap).
        factor: the growth per attempt, >= 1.
        jitter: one of :data:`JITTERS`.
        seed: seed of the random generator (ignored when ``rng`` is given).
        rng: a ``numpy.random.Generator`` to draw the jitter from.

    Returns:
        A float array of ``attempts`` waits, seconds.
    """
    attempts = _count("attempts", attempts, 0)
    base, cap, factor = _check_backoff(base, cap, factor)
    jitter = _check_jitter(jitter)
    ceilings = _ceilings(attempts, base, cap, factor)
    if jitter == "none":
        return ceilings
    rng = make_rng(seed) if rng is None else rng
    if jitter == "full":
        return rng.uniform(0.0, ceilings)
    if jitter == "equal":
        return ceilings / 2 + rng.uniform(0.0, ceilings / 2)
    waits = np.empty(attempts)
    sleep = base
    for n in range(attempts):
        sleep = min(cap, rng.uniform(base, 3.0 * sleep))
        waits[n] = sleep
    return waits


@dataclass(frozen=True)
class BackoffPolicy:
    """How a supervisor spaces the restarts of one worker.

    Attributes:
        base: the first backoff wait, seconds, > 0.
        cap: the longest wait, seconds, >= base.
        factor: the growth per crash in a row, >= 1.
        jitter: one of :data:`JITTERS`.
        reset_after: a worker that ran longer than this since its last restart starts the
            backoff afresh, seconds, > 0 (``math.inf``: never).
        first_immediate: the first restart of a fresh backoff waits 0 s and the backoff
            ``base, base*factor, ...`` applies from the second crash in a row on (the kubelet
            does this); otherwise the first restart already waits ``base``.
    """

    base: float = K8S_BACKOFF_BASE
    cap: float = K8S_BACKOFF_CAP
    factor: float = 2.0
    jitter: str = "none"
    reset_after: float = K8S_BACKOFF_RESET
    first_immediate: bool = True

    def __post_init__(self) -> None:
        _check_backoff(self.base, self.cap, self.factor)
        _check_jitter(self.jitter)
        reset = _number("reset_after", self.reset_after)
        if not reset > 0:
            raise ValueError(f"reset_after must be > 0 seconds (math.inf: never), got {reset!r}")
        if not isinstance(self.first_immediate, bool):
            raise ValueError(f"first_immediate must be True or False, got {self.first_immediate!r}")

    def ceiling(self, attempt: int) -> float:
        """``min(cap, base * factor**attempt)``, seconds."""
        return _ceiling(attempt, self.base, self.cap, self.factor)

    def jitter_moments(self) -> tuple[float, float]:
        """(E[w] / v, E[w²] / v²) of a jittered wait w with ceiling v: the mean and the second
        moment of the jitter as fractions of the ceiling."""
        return {
            "none": (1.0, 1.0),
            "full": (0.5, 1.0 / 3.0),  # uniform(0, v)
            "equal": (0.75, 7.0 / 12.0),  # v/2 + uniform(0, v/2)
        }[self.jitter]

    def wait_moments(self, short: float) -> tuple[float, float]:
        """The long-run mean and second moment of the backoff wait per crash, seconds (s²).

        Crashes are "short" (within ``reset_after`` of the last restart, so the streak goes
        on) with probability ``short``, independently. In the long run a crash is the j-th
        short one in a row with probability ``(1 - short) * short**j``, and its wait has
        ceiling ``v_{j-1}`` (``first_immediate``: the streak-starting crash waits 0) or
        ``v_j``; past the cap the geometric tail sums in closed form.

        Decorrelated jitter has no closed form here (its waits form a Markov chain of their
        own): simulate it with :func:`simulate_supervised`.
        """
        if self.jitter == "decorrelated":
            raise ValueError(
                "jitter must be 'none', 'full' or 'equal' for a closed form, got 'decorrelated'"
            )
        q = _number("short", short)
        if not 0 <= q <= 1:
            raise ValueError(f"short must be a probability in [0, 1], got {short!r}")
        m1, m2 = self.jitter_moments()
        if q == 1.0:  # every crash short: the waits climb to the cap and stay there
            if self.cap == math.inf:
                return math.inf, math.inf
            return m1 * self.cap, m2 * self.cap**2
        shift = 1 if self.first_immediate else 0
        mean = second = 0.0
        weight = 1.0 - q  # P(streak index j) for j = 0, 1, ...
        j = 0
        while True:
            n = j - shift  # attempt number whose ceiling this crash waits
            v = 0.0 if n < 0 else self.ceiling(n)
            if v >= self.cap:  # from here on every wait has ceiling cap: sum the tail
                tail = weight / (1.0 - q)  # sum_{i>=j} (1-q) q^i = q^j
                mean += m1 * self.cap * tail
                second += m2 * self.cap**2 * tail
                break
            mean += m1 * v * weight
            second += m2 * v * v * weight
            weight *= q
            j += 1
            if weight < 1e-300:
                break
        return mean, second


KUBERNETES = BackoffPolicy()
"""The kubelet's restart backoff: 0, 10, 20, 40, 80, 160, 300, 300, ... s, reset after 600 s."""


class Backoff:
    """The backoff state of one worker under a :class:`BackoffPolicy` (like client-go's entry).

    Call :meth:`next` at each crash with how long the worker ran since its last restart; it
    returns the wait before the next restart and advances the streak.

    Attributes:
        policy: the policy.
        attempt: the attempt number the next short crash waits for (None before any crash).
        streak: crashes in a row within ``reset_after`` of their restart.
    """

    def __init__(self, policy: BackoffPolicy, rng: np.random.Generator | None = None) -> None:
        self.policy = check_instance("policy", policy, BackoffPolicy)
        self.rng = np.random.default_rng(0) if rng is None else rng
        self.attempt: int | None = None
        self.streak = 0
        self._sleep = policy.base  # the last decorrelated wait

    def _draw(self, attempt: int) -> float:
        p = self.policy
        if p.jitter == "decorrelated":
            self._sleep = min(p.cap, float(self.rng.uniform(p.base, 3.0 * self._sleep)))
            return self._sleep
        v = p.ceiling(attempt)
        if p.jitter == "none":
            return v
        if p.jitter == "full":
            return float(self.rng.uniform(0.0, v))
        return v / 2 + float(self.rng.uniform(0.0, v / 2))

    def next(self, ran: float = 0.0) -> float:
        """The wait before restarting a worker that crashed after running ``ran`` seconds."""
        ran = _non_negative("ran", ran)
        p = self.policy
        if self.attempt is None or ran > p.reset_after:  # fresh: kubelet's hasExpired
            self.streak = 0
            self._sleep = p.base
            if p.first_immediate:
                self.attempt = 0
                return 0.0
            self.attempt = 1
            return self._draw(0)
        self.streak += 1
        wait = self._draw(self.attempt)
        self.attempt += 1
        return wait


# --- the recovery path and its MTTR ------------------------------------------------------


@dataclass(frozen=True)
class Recovery:
    """What happens between a crash and serving again, and what it costs (seconds).

    Attributes:
        probe_period: a liveness probe runs every this many seconds (0: the supervisor sees
            the exit at once, as a parent process that gets SIGCHLD).
        failure_threshold: failed probes in a row that declare the worker dead, >= 1.
        decision: the supervisor's time to act once it knows, seconds.
        restart: the process's start, seconds.
        warm_up: loading or re-syncing data before it is ready, seconds
            (see :func:`warm_up_time`).
        policy: the backoff policy between restarts.
    """

    probe_period: float = K8S_PROBE_PERIOD
    failure_threshold: int = K8S_FAILURE_THRESHOLD
    decision: float = 1.0
    restart: float = 5.0
    warm_up: float = 30.0
    policy: BackoffPolicy = field(default_factory=BackoffPolicy)

    def __post_init__(self) -> None:
        _non_negative("probe_period", self.probe_period)
        _count("failure_threshold", self.failure_threshold, 1)
        _non_negative("decision", self.decision)
        _non_negative("restart", self.restart)
        _non_negative("warm_up", self.warm_up)
        if not isinstance(self.policy, BackoffPolicy):
            raise ValueError(f"policy must be a BackoffPolicy, got {self.policy!r}")

    # -- detection -------------------------------------------------------------------------

    def mean_detection(self) -> float:
        """Mean time from a crash to the supervisor's verdict: ``(threshold - 1/2) * period``.

        The crash falls at a uniformly random point between two probes, so the first failed
        probe comes ``uniform(0, period)`` later and the verdict ``threshold - 1`` periods
        after that.
        """
        return (self.failure_threshold - 0.5) * self.probe_period

    def detection_variance(self) -> float:
        """Variance of the detection time, s²: that of ``uniform(0, period)``, period² / 12."""
        return self.probe_period**2 / 12.0

    def detection_delay(self, rng: np.random.Generator) -> float:
        """One detection time drawn from ``rng``, seconds."""
        if self.probe_period == 0:
            return 0.0
        return (self.failure_threshold - 1) * self.probe_period + float(
            rng.uniform(0.0, self.probe_period)
        )

    # -- backoff ---------------------------------------------------------------------------

    def short_crash(self, mttf: float) -> float:
        """The chance that a crash comes within ``reset_after`` of its restart (streak goes on).

        The worker runs ``restart + warm_up`` seconds before it serves, then an exponential
        time with mean ``mttf``: P = 1 - exp(-(reset_after - restart - warm_up) / mttf).
        """
        mttf = _positive("mttf", mttf)
        slack = self.policy.reset_after - self.restart - self.warm_up
        if slack <= 0:
            return 0.0
        if slack == math.inf:
            return 1.0
        return -math.expm1(-slack / mttf)

    def expected_backoff(self, mttf: float) -> float:
        """The long-run mean backoff wait per crash, seconds (:meth:`BackoffPolicy.wait_moments`).

        Zero for the kubelet's policy when the worker nearly always runs longer than ten
        minutes: an isolated crash is restarted at once.
        """
        return self.policy.wait_moments(self.short_crash(mttf))[0]

    # -- the whole repair --------------------------------------------------------------------

    def parts(self, mttf: float) -> dict[str, float]:
        """The mean of each step of a recovery, seconds, in the order they happen."""
        return {
            "detection": self.mean_detection(),
            "decision": float(self.decision),
            "backoff": self.expected_backoff(mttf),
            "restart": float(self.restart),
            "warm-up": float(self.warm_up),
        }

    def mttr(self, mttf: float) -> float:
        """MTTR = detection + decision + backoff + restart + warm-up (means), seconds."""
        return sum(self.parts(mttf).values())

    def availability(self, mttf: float) -> float:
        """Steady-state availability of a supervised worker: MTTF / (MTTF + MTTR).

        Args:
            mttf: mean time a worker serves before it crashes, seconds (exponential).
        """
        return av.availability(mttf, self.mttr(mttf))

    def downtime_per_year(self, mttf: float) -> float:
        """Expected downtime in a year of 365 days, hours (as ``availability.downtime_hours``)."""
        return av.downtime_hours(self.availability(mttf), "year")

    def band(self, mttf: float, horizon: float, confidence: float = 0.95) -> tuple[float, float]:
        """Where one worker's measured availability over ``horizon`` seconds falls.

        :func:`halab.availability.availability_band` with this recovery's mean and variance
        of the repair time (detection, plus the backoff taken as independent between crashes).
        The band is right when crashes are isolated (the worker nearly always outlives
        ``reset_after``, so every backoff wait is 0). In a crash loop the waits of one streak
        grow together, outages are correlated, and the true spread is wider than this band.
        """
        mttr = self.mttr(mttf)
        mean_b, second_b = self.policy.wait_moments(self.short_crash(mttf))
        var = self.detection_variance() + max(0.0, second_b - mean_b**2)
        if var == 0:
            return av.availability_band(mttf, mttr, horizon, repair="fixed", confidence=confidence)
        cv = math.sqrt(var) / mttr
        return av.availability_band(
            mttf, mttr, horizon, repair="lognormal", repair_cv=cv, confidence=confidence
        )


def warm_up_time(
    data: float,
    *,
    copy_rate: float,
    write_rate: float = 0.0,
    persistent: bool = False,
    outage: float = 0.0,
) -> float:
    """Seconds a replacement needs to catch up with its peers before it can serve.

    The peers keep taking writes at ``write_rate`` while the replacement copies at
    ``copy_rate``, so it catches up when what it copied equals what it lacks:

    - fresh (empty disk): ``copy_rate * t = data + write_rate * t``,
      so ``t = data / (copy_rate - write_rate)``;
    - on its persistent volume (a StatefulSet pod gets its claim back): it lacks only the
      writes of the outage, ``t = write_rate * outage / (copy_rate - write_rate)``.

    Args:
        data: the data set, MB, >= 0.
        copy_rate: how fast it copies, MB/s, > write_rate.
        write_rate: how fast new data arrives, MB/s, >= 0.
        persistent: whether its old data survived on a persistent volume.
        outage: how long it was down before the copy starts, seconds, >= 0.

    >>> warm_up_time(50_000, copy_rate=100, write_rate=5)            # 50 GB, fresh
    526.3157894736842
    >>> warm_up_time(50_000, copy_rate=100, write_rate=5, persistent=True, outage=60)
    3.1578947368421053
    """
    data = _non_negative("data", data, "MB")
    write_rate = _non_negative("write_rate", write_rate, "MB/s")
    copy_rate = _positive("copy_rate", copy_rate, "MB/s")
    outage = _non_negative("outage", outage)
    if not copy_rate > write_rate:
        raise ValueError(
            f"copy_rate must be > write_rate ({write_rate:g} MB/s) or the copy never catches "
            f"up, got {copy_rate!r}"
        )
    if not isinstance(persistent, bool):
        raise ValueError(f"persistent must be True or False, got {persistent!r}")
    missing = write_rate * outage if persistent else data
    return missing / (copy_rate - write_rate)


# --- the simulation: workers and a supervisor on halab.sim --------------------------------


class Worker(Node):
    """A worker process: starts, warms up, serves, crashes; its supervisor restarts it.

    States: ``starting`` (``restart`` seconds), ``warming`` (``warm_up`` seconds), ``up``
    (serving), and crashed (``alive`` is False). It crashes either an exponential time with
    mean ``mttf`` after it became ready (then it cannot crash while starting or warming, and
    one timer covers both steps), or, in a crash loop, ``run_time`` seconds after its process
    started, whether or not it became ready.

    Attributes:
        went_down: times it stopped serving (a crash while up), seconds.
        came_up: times it became ready after such a crash, seconds.
        restarted_at: when its supervisor last restarted it (0 at the start).
    """

    def __init__(
        self,
        name: str,
        supervisor: Supervisor,
        *,
        mttf: float | None = None,
        run_time: float | None = None,
    ) -> None:
        super().__init__(name)
        self.supervisor = supervisor
        self.mttf = mttf
        self.run_time = run_time
        self.state = "up"
        self.went_down: list[float] = []
        self.came_up: list[float] = []
        self.restarted_at = 0.0

    def on_start(self) -> None:
        if self.run_time is None:  # a worker in steady state: serving at time 0
            self._ready()
        else:  # a crash loop: its process is starting at time 0, not serving
            self.went_down.append(self.now)
            self.on_restart()

    def on_restart(self) -> None:
        self.restarted_at = self.now
        self.state = "starting"
        recovery = self.supervisor.recovery
        if self.run_time is None:  # it cannot crash before it serves: one timer for both steps
            self.set_timer("ready", recovery.restart + recovery.warm_up)
        else:
            self.set_timer("started", recovery.restart)

    def on_timer_started(self) -> None:
        self.state = "warming"
        if self.run_time is not None:
            self.set_timer("crash", self.run_time)
        self.set_timer("ready", self.supervisor.recovery.warm_up)

    def on_timer_ready(self) -> None:
        self._ready()

    def _ready(self) -> None:
        if self.state != "up":
            self.came_up.append(self.now)
        self.state = "up"
        if self.run_time is None:
            self.set_timer("crash", float(self.rng.exponential(self.mttf)))

    def on_timer_crash(self) -> None:
        if self.state == "up":
            self.went_down.append(self.now)
        self.state = "crashed"
        self.sim.crash(self.name)

    def on_crash(self) -> None:
        self.supervisor.notice(self, ran=self.now - self.restarted_at)


class Supervisor(Node):
    """Restarts its crashed workers: detect, decide, back off, restart.

    Each crash is noticed after a detection time drawn from ``recovery`` (liveness probes),
    then the supervisor takes ``recovery.decision`` seconds plus the backoff wait of that
    worker's :class:`Backoff`, and restarts it. At each restart it writes a ``backoff``
    record ``(worker, wait)`` to the trace.

    Attributes:
        recovery: the :class:`Recovery` it follows.
        backoffs: worker name -> :class:`Backoff`.
        restarts: worker name -> list of (restart time, backoff wait) pairs.
    """

    def __init__(self, name: str, recovery: Recovery) -> None:
        super().__init__(name)
        self.recovery = recovery
        self.backoffs: dict[str, Backoff] = {}
        self.restarts: dict[str, list[tuple[float, float]]] = {}

    def notice(self, worker: Worker, ran: float) -> None:
        """A worker crashed after running ``ran`` seconds: schedule its restart.

        It is detected after a probe delay, then the supervisor decides and waits its backoff.
        Nothing else can change the worker's backoff meanwhile, so the wait is drawn now and
        the restart is one scheduled call (fewer events, the same times).
        """
        backoff = self.backoffs.get(worker.name)
        if backoff is None:
            backoff = self.backoffs[worker.name] = Backoff(self.recovery.policy, self.rng)
        detection = self.recovery.detection_delay(self.rng)
        wait = backoff.next(ran)
        delay = detection + self.recovery.decision + wait
        self.sim.after(delay, self._restart, worker, wait)

    def _restart(self, worker: Worker, wait: float) -> None:
        self.record("backoff", (worker.name, wait))
        self.restarts.setdefault(worker.name, []).append((self.now, wait))
        self.sim.restart(worker.name)


@dataclass(frozen=True)
class SupervisedRun:
    """The outcome of :func:`simulate_supervised`.

    Attributes:
        timelines: one :class:`halab.availability.Timeline` per worker (seconds): when it went
            down, when it was ready again.
        restarts: per worker, the time of each restart, seconds.
        waits: per worker, the backoff wait before each restart, seconds.
        horizon: the simulated span, seconds.
        trace: the simulation's records (crashes, restarts, backoff decisions).
    """

    timelines: tuple[av.Timeline, ...]
    restarts: tuple[np.ndarray, ...]
    waits: tuple[np.ndarray, ...]
    horizon: float
    trace: list[Record]

    def availabilities(self) -> np.ndarray:
        """The measured availability of each worker over the horizon."""
        return np.array([t.availability() for t in self.timelines])

    def downtimes(self) -> np.ndarray:
        """Each outage's length, seconds, over all workers (outages cut by the horizon excluded)."""
        spans = [t.repairs - t.failures for t in self.timelines]
        out = np.concatenate(spans) if spans else np.empty(0)
        return out[np.isfinite(out)]


def _timeline(worker: Worker, horizon: float) -> av.Timeline:
    down = np.array(worker.went_down, dtype=float)
    up = np.array(worker.came_up, dtype=float)
    if len(up) < len(down):  # still down at the horizon: the outage lasts past it
        up = np.append(up, math.inf)
    return av.Timeline(down, up, horizon)


def simulate_supervised(
    mttf: float,
    recovery: Recovery | None = None,
    *,
    horizon: float = YEAR,
    workers: int = 20,
    seed: int | None = 0,
    trace: bool = False,
) -> SupervisedRun:
    """Seeded Monte-Carlo of ``workers`` independent workers under one supervisor.

    Each worker serves for an exponential time with mean ``mttf``, crashes, and is restarted
    by the supervisor following ``recovery`` (detection by probes, decision, backoff,
    restart, warm-up); it runs on the discrete-event kernel :mod:`halab.sim`.

    Args:
        mttf: mean time a worker serves before it crashes, seconds, > 0.
        recovery: the :class:`Recovery` (Kubernetes' defaults when None).
        horizon: how long to simulate, seconds, > 0 (a year by default).
        workers: how many workers, >= 1; each gives one measured availability.
        seed: seed of the simulation's random generator.
        trace: keep the kernel's full trace (slower); faults and decisions are kept anyway.
    """
    mttf = _positive("mttf", mttf)
    horizon = _positive("horizon", horizon)
    workers = _count("workers", workers, 1, 10_000)
    if workers * horizon / mttf > MAX_EVENTS:
        raise ValueError(
            f"horizon must allow at most {MAX_EVENTS:.0e} crashes ({workers} workers, mttf "
            f"{mttf:g} s), got {horizon:g} s"
        )
    recovery = Recovery() if recovery is None else recovery
    if not isinstance(recovery, Recovery):
        raise ValueError(f"recovery must be a Recovery, got {recovery!r}")
    sim = Simulation(seed=seed, trace=trace)
    sup = sim.add(Supervisor("supervisor", recovery))
    nodes = [sim.add(Worker(f"w{i}", sup, mttf=mttf)) for i in range(workers)]
    sim.run(until=horizon)
    restarts, waits = [], []
    for node in nodes:
        pairs = [(t, wt) for t, wt in sup.restarts.get(node.name, []) if t < horizon]
        restarts.append(np.array([t for t, _ in pairs], dtype=float))
        waits.append(np.array([wt for _, wt in pairs], dtype=float))
    return SupervisedRun(
        tuple(_timeline(n, horizon) for n in nodes),
        tuple(restarts),
        tuple(waits),
        horizon,
        sim.trace,
    )


@dataclass(frozen=True)
class SupervisedSpread:
    """Simulated workers' downtime beside the formula (:func:`supervised_spread`), hours a year.

    Attributes:
        measured: each worker's downtime over the horizon, hours per year.
        formula: (1 - availability) × hours in a year.
        worker_sd: the standard deviation of one worker's downtime, from
            :meth:`Recovery.band` (its 95% band is about ±1.96 of these).
    """

    measured: np.ndarray
    formula: float
    worker_sd: float

    @property
    def mean(self) -> float:
        """The workers' mean downtime, hours a year."""
        return float(self.measured.mean())

    @property
    def standard_error(self) -> float:
        """Standard error of :attr:`mean`: ``worker_sd / sqrt(workers)``."""
        return self.worker_sd / math.sqrt(len(self.measured))

    @property
    def z(self) -> float:
        """How many standard errors the mean sits from the formula."""
        return (self.mean - self.formula) / self.standard_error

    @property
    def above(self) -> int:
        """How many workers were down longer than the formula says."""
        return int(np.sum(self.measured > self.formula))


def supervised_spread(
    mttf: float,
    recovery: Recovery,
    *,
    horizon: float = YEAR,
    workers: int = 16,
    seed: int | None = 0,
) -> SupervisedSpread:
    """:func:`simulate_supervised` read against the formula: downtime per worker, hours a year.

    One worker-year holds only about 365 crashes at MTTF = 24 h, so its downtime varies by
    ``worker_sd`` (about 0.48 h with Kubernetes' probe defaults and a 60 s warm-up) and the
    mean of 16 by a quarter of that: a mean 0.2 h off, with 11 of 16 workers above the line,
    is 1.8 standard errors, chance (400 workers put the mean within 0.02 h of the formula).
    """
    if not isinstance(recovery, Recovery):
        raise ValueError(f"recovery must be a Recovery, got {recovery!r}")
    run = simulate_supervised(mttf, recovery, horizon=horizon, workers=workers, seed=seed)
    hours = av.HOURS_PER["year"]  # a fraction of time down, as hours in a year
    low, high = recovery.band(mttf, horizon)
    z95 = 1.959963984540054  # the band is mean ± z95 · sd
    return SupervisedSpread(
        measured=(1.0 - run.availabilities()) * hours,
        formula=(1.0 - recovery.availability(mttf)) * hours,
        worker_sd=(high - low) / (2 * z95) * hours,
    )


@dataclass(frozen=True)
class CrashLoop:
    """The restarts of a worker that crashes soon after every start (:func:`crash_loop`).

    Attributes:
        crashes: the time of each crash, seconds.
        restarts: the time of each restart, seconds.
        delays: the backoff wait before each restart, seconds.
        duration: the simulated span, seconds.
    """

    crashes: np.ndarray
    restarts: np.ndarray
    delays: np.ndarray
    duration: float

    def restart_count(self, t: float | np.ndarray) -> np.ndarray:
        """How many restarts happened by time ``t`` (the RESTARTS column of ``kubectl``)."""
        return np.searchsorted(self.restarts, np.asarray(t, dtype=float), side="right")

    def gaps(self) -> np.ndarray:
        """Time between consecutive restarts, seconds."""
        return np.diff(self.restarts)


def crash_loop(
    duration: float,
    *,
    run_time: float = 0.0,
    recovery: Recovery | None = None,
    policy: BackoffPolicy | None = None,
    seed: int | None = 0,
) -> CrashLoop:
    """Simulate a worker that crashes ``run_time`` seconds after each start, for ``duration`` s.

    Args:
        duration: how long to watch, seconds, > 0.
        run_time: how long each start lives before it crashes, seconds, >= 0.
        recovery: detection, decision, restart and warm-up; by default an exit seen at once
            (``probe_period=0``) and instant decision and start, so only the backoff spaces
            the restarts, as for a container that exits at start under the kubelet.
        policy: the backoff policy, overriding ``recovery.policy`` (Kubernetes' by default).
        seed: seed of the random generator (jitter, probes).
    """
    duration = _positive("duration", duration)
    run_time = _non_negative("run_time", run_time)
    if recovery is None:
        recovery = Recovery(probe_period=0.0, decision=0.0, restart=0.0, warm_up=0.0)
    check_instance("recovery", recovery, Recovery)
    if policy is not None:
        check_instance("policy", policy, BackoffPolicy)
        recovery = Recovery(
            recovery.probe_period,
            recovery.failure_threshold,
            recovery.decision,
            recovery.restart,
            recovery.warm_up,
            policy,
        )
    p = recovery.policy
    cycle = run_time + recovery.restart + recovery.warm_up + min(p.cap, p.base * 2.0**20) / 2
    if duration / cycle > MAX_EVENTS:
        raise ValueError(
            f"duration must allow at most {MAX_EVENTS:.0e} crashes of about {cycle:g} s each, "
            f"got {duration:g} s"
        )
    sim = Simulation(seed=seed, trace=False)
    sup = sim.add(Supervisor("supervisor", recovery))
    sim.add(Worker("worker", sup, run_time=run_time))
    sim.run(until=duration)
    crashes = np.array([r.time for r in sim.records("crash", node="worker")], dtype=float)
    pairs = sup.restarts.get("worker", [])
    return CrashLoop(
        crashes,
        np.array([t for t, _ in pairs], dtype=float),
        np.array([wt for _, wt in pairs], dtype=float),
        duration,
    )
