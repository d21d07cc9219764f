"""Heartbeats and failure detectors: a fixed timeout, the φ accrual detector, and their QoS.

A process *p* sends a heartbeat every ``interval`` seconds; a monitor *q* decides, from the
arrivals alone, whether to *trust* or *suspect* p. Vocabulary, and how each term is coded:

- **arrivals**: the times (seconds, monitor's clock) at which heartbeats reached q, a NumPy
  array; :func:`simulate_heartbeats` produces them on the :mod:`halab.sim` network.
- **detector**: an object with ``heartbeat(t)`` (a heartbeat arrived at time t),
  ``level(t)`` (how suspicious q is at time t), ``threshold`` (q suspects when
  ``level >= threshold``) and ``suspicion_time()`` (when q will start suspecting if nothing
  else arrives). Two kinds share this interface:

  * :class:`FixedTimeoutDetector`: suspect when no heartbeat came for ``timeout`` seconds.
    With ``timeout = (k + margin) * interval`` it suspects after *k missed heartbeats*, the
    shape of HAProxy's ``inter``/``fall`` and Kubernetes' ``periodSeconds``/
    ``failureThreshold``.
  * :class:`PhiAccrualDetector`: the φ accrual detector of Hayashibara, Défago, Yared and
    Katayama (2004) exactly as Akka implements it (``akka-remote/src/main/scala/akka/remote/
    PhiAccrualFailureDetector.scala``): a sliding window of inter-arrival times, a minimum
    standard deviation, an acceptable heartbeat pause, and :func:`phi`.

- **QoS** (:class:`QoS`), the metrics of Chen, Toueg and Aguilera, "On the Quality of
  Service of Failure Detectors", IEEE Trans. Computers 51(5), 2002, section 2:
  *detection time* T_D (from p's crash until q suspects it for good), *mistake recurrence
  time* T_MR (between the starts of two consecutive wrong suspicions while p is up),
  *mistake duration* T_M (how long a wrong suspicion lasts) and *query accuracy* P_A (the
  probability that q's answer at a random time is right, while p is up). They are related by
  E(T_MR) = E(T_M) + E(T_G) (T_G: a good period) and P_A = 1 - E(T_M) / E(T_MR).
  :func:`measure_qos` measures them; :func:`k_missed_qos` gives them in closed form for the
  fixed timeout under constant delay and independent loss.

Settings of real systems turned into worst-case detection times: :func:`haproxy_detection`,
:func:`kubernetes_detection`, :func:`zookeeper_detection` and :func:`akka_detection`.

>>> round(phi(1.0, mean=1.0, std=0.1), 4)        # right on time: -log10(1/2)
0.301
>>> fd = FixedTimeoutDetector.k_missed(3, interval=1.0)   # timeout 3.5 s
>>> run = simulate_heartbeats(interval=1.0, duration=3600.0, loss=0.1, seed=1)
>>> q = measure_qos(fd, run, seed=1)
>>> theory = k_missed_qos(interval=1.0, timeout=3.5, delay=run.delay, loss=0.1)
>>> round(theory.mistakes_per_hour, 2), q.mistakes    # 3600 (1 - p) p^3
(3.24, 5)
"""

from __future__ import annotations

import copy
import math
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from halab.checks import MAX_COUNT, check_int, check_prob, check_real, make_rng
from halab.checks import non_negative as _non_negative
from halab.checks import positive as _positive
from halab.sim import Latency, Network, Node, Simulation

__all__ = [
    "FixedTimeoutDetector",
    "Heartbeat",
    "HeartbeatMonitor",
    "HeartbeatRun",
    "HeartbeatSender",
    "PhiAccrualDetector",
    "QoS",
    "Settings",
    "Suspicions",
    "ZombieResult",
    "akka_detection",
    "haproxy_detection",
    "k_missed_qos",
    "kubernetes_detection",
    "measure_qos",
    "normal_phi",
    "phi",
    "phi_sigmas",
    "phi_timeout",
    "phi_waits",
    "replay",
    "simulate_heartbeats",
    "simulate_zombie",
    "sweep",
    "timeline",
    "zookeeper_detection",
    "ZOOKEEPER_DEFAULT_TICK",
    "ZOOKEEPER_SAMPLE_TICK",
]

# Coefficients of the logistic approximation of the normal CDF used by Akka,
# F(y) ~ 1 / (1 + exp(-y (A + B y^2))), from Bowling, Khasawneh, Kaewkuekool and Cho,
# "A logistic approximation to the cumulative normal distribution", J. Industrial
# Engineering and Management 2(1), 2009; the largest error in F is about 1.4e-4 (at |y| ~ 3.16).
LOGISTIC_A = 1.5976
LOGISTIC_B = 0.070566
_LN10 = math.log(10.0)

# ZooKeeper: ZooKeeperServer.DEFAULT_TICK_TIME = 3000 ms is the code's default (QuorumPeerConfig
# starts from it); conf/zoo_sample.cfg, which nearly every installation copies, sets 2000 ms.
ZOOKEEPER_SAMPLE_TICK = 2.0  # seconds, tickTime=2000 in conf/zoo_sample.cfg
ZOOKEEPER_DEFAULT_TICK = 3.0  # seconds, ZooKeeperServer.DEFAULT_TICK_TIME
ZOOKEEPER_SAMPLE_SYNC_LIMIT = 5  # ticks, syncLimit=5 in conf/zoo_sample.cfg

# Akka's cluster failure-detector defaults (akka-cluster/src/main/resources/reference.conf,
# akka.cluster.failure-detector): seconds unless noted.
AKKA_THRESHOLD = 8.0
AKKA_MAX_SAMPLE_SIZE = 1000  # heartbeats
AKKA_MIN_STD_DEVIATION = 0.1
AKKA_ACCEPTABLE_HEARTBEAT_PAUSE = 3.0
AKKA_HEARTBEAT_INTERVAL = 1.0


def _probability(name: str, value: float) -> float:
    """A loss probability: in [0, 1), since a link that loses everything carries no heartbeat."""
    return check_prob(name, value, hi_open=True)


def _count(name: str, value: int, minimum: int = 1) -> int:
    return check_int(name, value, minimum)


def _check_detector(detector, name: str = "detector"):
    """A failure detector: anything with ``reset``, ``heartbeat`` and ``suspicion_time``."""
    if not all(callable(getattr(detector, m, None)) for m in ("reset", "heartbeat")):
        raise TypeError(
            f"{name} must be a failure detector (FixedTimeoutDetector, PhiAccrualDetector), "
            f"got {detector!r}"
        )
    return detector


def _check_run(run):
    if not all(hasattr(run, a) for a in ("arrivals", "sent", "duration", "crash_at")):
        raise TypeError(f"run must be a HeartbeatRun (from simulate_heartbeats), got {run!r}")
    return run


def _steps(duration: float, interval: float) -> None:
    """Refuse a run of more than ``MAX_COUNT`` heartbeats: it would take minutes."""
    if duration / interval > MAX_COUNT:
        raise ValueError(
            f"duration must be at most {MAX_COUNT:.0e} intervals of {interval:g} s, "
            f"got {duration:g} s"
        )


# --------------------------------------------------------------------------------------
# φ
# --------------------------------------------------------------------------------------


def phi(elapsed: float, mean: float, std: float) -> float:
    """The suspicion level φ = -log10(1 - F(elapsed)) for F the normal CDF N(mean, std).

    F is Akka's logistic approximation, ``F(y) = 1 / (1 + e)`` with
    ``e = exp(-y (1.5976 + 0.070566 y²))`` and ``y = (elapsed - mean) / std``, so the values
    match Akka's ``PhiAccrualFailureDetector.phi(timeDiff, mean, stdDeviation)``. As in Akka,
    the two algebraically equal forms of ``1 - F`` are used where each is accurate:
    ``e / (1 + e)`` when ``elapsed > mean`` (then ``e < 1`` and ``1 - 1/(1 + e)`` would lose
    digits to cancellation), ``1 - 1 / (1 + e)`` otherwise. Where ``e`` overflows (far
    before the mean) φ is 0; where it underflows (far after) φ is ``inf``, as in Akka.

    φ = 1 means a 10 % chance that a heartbeat is still coming, φ = 2 one percent, and so on.

    Args:
        elapsed: seconds since the last heartbeat (any unit works if all three agree).
        mean: expected inter-arrival time (Akka passes the window mean plus the acceptable
            pause).
        std: standard deviation of inter-arrival times, ``> 0``.

    Raises:
        ValueError: if ``std`` is not a finite number > 0, or ``elapsed``/``mean`` are not finite.

    >>> round(phi(2.0, 1.0, 0.25), 3)     # 4 standard deviations late
    4.737
    """
    std = _positive("std", std)
    elapsed = check_real("elapsed", elapsed)
    mean = check_real("mean", mean)
    return _phi(elapsed, mean, std)


def _phi(elapsed: float, mean: float, std: float) -> float:
    """:func:`phi` without the argument checks (the detectors' inner loop)."""
    y = (elapsed - mean) / std
    exponent = -y * (LOGISTIC_A + LOGISTIC_B * y * y)
    if exponent > 709.0:  # e would overflow a double: 1 - F is 1 to double precision
        return 0.0
    e = math.exp(exponent)
    if elapsed > mean:
        if e == 0.0:
            return math.inf
        return -math.log10(e / (1.0 + e))
    return -math.log10(1.0 - 1.0 / (1.0 + e))


def phi_timeout(threshold: float, mean: float, std: float) -> float:
    """The elapsed time at which :func:`phi` reaches ``threshold`` (the inverse of φ).

    φ(x) = t  ⟺  e/(1+e) = 10^-t  ⟺  y (A + B y²) = ln(10^t - 1), a cubic in y with one
    real root (its left side increases with y), solved with Cardano's formula:
    y = cbrt(c/2B + sqrt(D)) + cbrt(c/2B - sqrt(D)), D = (c/2B)² + (A/3B)³. Then
    x = mean + std·y.

    Args:
        threshold: φ level, ``> 0``.
        mean: expected inter-arrival time, seconds.
        std: standard deviation, seconds, ``> 0``.

    >>> x = phi_timeout(8.0, mean=4.0, std=0.1)
    >>> round(x, 4), round(phi(x, 4.0, 0.1), 9)
    (4.5226, 8.0)
    """
    threshold = _positive("threshold", threshold)
    std = _positive("std", std)
    mean = check_real("mean", mean)
    return mean + std * _phi_y(threshold)


def normal_phi(elapsed: float, mean: float, std: float) -> float:
    """φ from the true normal tail, -log10(P(X > elapsed)) for X ~ N(mean, std): not Akka's.

    Hayashibara et al. define φ with the normal distribution; Akka (and :func:`phi`) replaces
    its tail with a logistic curve that is cheaper and close near the mean, but thinner far out:
    φ = 8 comes at 5.23 standard deviations with Akka's formula and at 5.61 with this one
    (:func:`phi_sigmas`). Uses ``math.erfc``: P(X > x) = erfc(y/√2)/2, y = (x - mean)/std.

    >>> round(normal_phi(1.0, 0.0, 1.0), 4)     # P(Z > 1) = 0.1587
    0.7995
    """
    std = _positive("std", std)
    y = (check_real("elapsed", elapsed) - check_real("mean", mean)) / std
    tail = 0.5 * math.erfc(y / math.sqrt(2.0))
    return math.inf if tail == 0.0 else -math.log10(tail)


def phi_sigmas(threshold: float, *, exact: bool = False) -> float:
    """How many standard deviations past the mean φ reaches ``threshold``.

    With ``exact=False``, Akka's logistic φ (:func:`phi`); with ``exact=True``, the true
    normal tail (:func:`normal_phi`), found by bisection. The two differ in the far tail, where
    a threshold lives: 5.23 against 5.61 for φ = 8.

    >>> round(phi_sigmas(8.0), 2), round(phi_sigmas(8.0, exact=True), 2)
    (5.23, 5.61)
    """
    threshold = check_real("threshold", threshold, 0.0, 300.0, lo_open=True)
    if not exact:
        return _phi_y(threshold)
    lo, hi = -40.0, 40.0  # φ(-40) = 0, φ(40) = 349 > 300
    for _ in range(200):
        mid = (lo + hi) / 2
        if normal_phi(mid, 0.0, 1.0) < threshold:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def phi_waits(detector: PhiAccrualDetector, arrivals: Sequence[float] | np.ndarray) -> np.ndarray:
    """After each arrival, how long ``detector`` would wait in silence before suspecting, s.

    Akka's detector starts from two made-up gaps, ``estimate ± estimate/4`` (mean the estimate,
    standard deviation a quarter of it), so its first waits are long: 1 + 0.25 × 5.23 = 2.31 s
    for 1 s heartbeats and φ = 8; the wait shrinks towards mean + 5.23 × floor (1.52 s) as
    punctual gaps fill the window, and a gap ended by a late heartbeat, added while φ was
    below the threshold, widens it again. The detector is reset first (:func:`replay`).
    """
    if not isinstance(detector, PhiAccrualDetector):
        raise TypeError(f"detector must be a PhiAccrualDetector, got {detector!r}")
    arrivals = np.asarray(arrivals, dtype=float)
    return replay(detector, arrivals).deadlines - arrivals


def _phi_y(threshold: float) -> float:
    """The y = (x - mean)/std at which φ reaches ``threshold`` (Cardano, see phi_timeout)."""
    # ln(10^t - 1) without overflow for large t
    c = threshold * _LN10 + math.log1p(-(10.0**-threshold))
    half_q = c / (2.0 * LOGISTIC_B)
    p3 = (LOGISTIC_A / (3.0 * LOGISTIC_B)) ** 3
    root = math.sqrt(half_q * half_q + p3)
    return math.copysign(abs(half_q + root) ** (1 / 3), half_q + root) + math.copysign(
        abs(half_q - root) ** (1 / 3), half_q - root
    )


# --------------------------------------------------------------------------------------
# Detectors
# --------------------------------------------------------------------------------------


class FixedTimeoutDetector:
    """Suspect when no heartbeat arrived for ``timeout`` seconds; trust on the next one.

    Before the first heartbeat it does not suspect (like Akka's detector, an unmonitored
    peer counts as healthy). ``level(t)`` is the fraction of the timeout used up, so the
    threshold is 1.

    Args:
        timeout: seconds, ``> 0``.
    """

    threshold = 1.0

    def __init__(self, timeout: float) -> None:
        self.timeout = _positive("timeout", timeout)
        self.reset()

    @classmethod
    def k_missed(cls, k: int, interval: float, margin: float = 0.5) -> FixedTimeoutDetector:
        """The detector that suspects after ``k`` missed heartbeats.

        Its timeout is ``(k + margin) * interval``: with constant delay, the k-th missing
        heartbeat was due ``k * interval`` after the last one that arrived, and ``margin``
        (a fraction of an interval in (0, 1)) is the grace given to a late one.
        """
        k = _count("k", k)
        interval = _positive("interval", interval)
        if not 0.0 < margin < 1.0:
            raise ValueError(f"margin must be in (0, 1) intervals, got {margin}")
        return cls((k + margin) * interval)

    def reset(self) -> None:
        """Forget every heartbeat."""
        self.last: float | None = None

    def heartbeat(self, t: float) -> None:
        """A heartbeat arrived at time ``t`` (seconds)."""
        self.last = t

    def suspicion_time(self) -> float:
        """When it starts suspecting if no heartbeat arrives (``inf`` before the first)."""
        return math.inf if self.last is None else self.last + self.timeout

    def level(self, t: float) -> float:
        """Elapsed time over the timeout (0 before the first heartbeat)."""
        return 0.0 if self.last is None else (t - self.last) / self.timeout

    def suspects(self, t: float) -> bool:
        """Whether it suspects at time ``t``."""
        return t >= self.suspicion_time()

    def __repr__(self) -> str:
        return f"FixedTimeoutDetector(timeout={self.timeout:g})"


class PhiAccrualDetector:
    """Akka's φ accrual failure detector, in seconds.

    Follows ``akka.remote.PhiAccrualFailureDetector`` line by line:

    - the history holds at most ``max_sample_size`` inter-arrival times (a sliding window,
      oldest dropped first) with running sums; mean and variance are
      ``sum/n`` and ``sum_sq/n - mean²`` (population variance);
    - the first heartbeat seeds the history with two intervals,
      ``first_heartbeat_estimate ± first_heartbeat_estimate/4`` (mean = the estimate,
      std = the estimate / 4), so a peer that sends one heartbeat and dies is still detected;
    - a later heartbeat adds its interval only if the peer was still *available* when it
      arrived (φ below threshold): the first heartbeat after a suspicion does not skew the
      statistics with the long gap;
    - ``phi(t) = phi(t - last, mean + acceptable_heartbeat_pause, max(std, min_std_deviation))``;
      0 before any heartbeat. The peer is available while φ < threshold.

    Defaults are Akka Cluster's (``akka.cluster.failure-detector`` in reference.conf):
    threshold 8, 1000 samples, 100 ms minimum deviation, 3 s acceptable pause, 1 s interval.

    Args:
        threshold: φ at which it suspects, ``> 0``.
        max_sample_size: window length in heartbeats, ``>= 1``.
        min_std_deviation: floor of the standard deviation, seconds, ``> 0``.
        acceptable_heartbeat_pause: seconds added to the mean, ``>= 0``.
        first_heartbeat_estimate: the expected interval before any is measured, ``> 0``.
    """

    def __init__(
        self,
        threshold: float = AKKA_THRESHOLD,
        max_sample_size: int = AKKA_MAX_SAMPLE_SIZE,
        min_std_deviation: float = AKKA_MIN_STD_DEVIATION,
        acceptable_heartbeat_pause: float = AKKA_ACCEPTABLE_HEARTBEAT_PAUSE,
        first_heartbeat_estimate: float = AKKA_HEARTBEAT_INTERVAL,
    ) -> None:
        self.threshold = _positive("threshold", threshold)
        self.max_sample_size = _count("max_sample_size", max_sample_size)
        self.min_std_deviation = _positive("min_std_deviation", min_std_deviation)
        self.acceptable_heartbeat_pause = _non_negative(
            "acceptable_heartbeat_pause", acceptable_heartbeat_pause
        )
        self.first_heartbeat_estimate = _positive(
            "first_heartbeat_estimate", first_heartbeat_estimate
        )
        self._y = _phi_y(self.threshold)  # φ = threshold at mean + y·std
        self.reset()

    def reset(self) -> None:
        """Forget every heartbeat (the state Akka starts in)."""
        self.last: float | None = None
        self.intervals: deque[float] = deque()
        self._sum = 0.0
        self._sum_sq = 0.0
        self._deadline = math.inf

    # -- the history -----------------------------------------------------------------------

    def _add(self, interval: float) -> None:
        if len(self.intervals) >= self.max_sample_size:
            old = self.intervals.popleft()
            self._sum -= old
            self._sum_sq -= old * old
        self.intervals.append(interval)
        self._sum += interval
        self._sum_sq += interval * interval

    @property
    def mean(self) -> float:
        """Mean of the inter-arrival times in the window, seconds."""
        return self._sum / len(self.intervals)

    @property
    def std(self) -> float:
        """Population standard deviation of the window, seconds (before the floor)."""
        mean = self.mean
        return math.sqrt(max(self._sum_sq / len(self.intervals) - mean * mean, 0.0))

    def _params(self) -> tuple[float, float]:
        n = len(self.intervals)
        mean = self._sum / n
        std = math.sqrt(max(self._sum_sq / n - mean * mean, 0.0))
        return mean + self.acceptable_heartbeat_pause, max(std, self.min_std_deviation)

    # -- the interface ---------------------------------------------------------------------

    def heartbeat(self, t: float) -> None:
        """A heartbeat arrived at time ``t`` (seconds)."""
        if self.last is None:
            est = self.first_heartbeat_estimate
            self._add(est - est / 4)
            self._add(est + est / 4)
        elif t < self._deadline:  # Akka's isAvailable, φ(t) < threshold (φ grows with t)
            self._add(t - self.last)
        self.last = t
        mean, std = self._params()
        self._deadline = t + mean + std * self._y

    def level(self, t: float) -> float:
        """φ at time ``t`` (0 before the first heartbeat)."""
        if self.last is None:
            return 0.0
        mean, std = self._params()
        return _phi(t - self.last, mean, std)

    def suspicion_time(self) -> float:
        """When φ will reach the threshold if no heartbeat arrives (``inf`` before the first)."""
        return self._deadline

    def suspects(self, t: float) -> bool:
        """Whether φ(t) >= threshold (Akka: not ``isAvailable``)."""
        return self.level(t) >= self.threshold

    def __repr__(self) -> str:
        return (
            f"PhiAccrualDetector(threshold={self.threshold:g}, "
            f"acceptable_heartbeat_pause={self.acceptable_heartbeat_pause:g})"
        )


Detector = FixedTimeoutDetector | PhiAccrualDetector


# --------------------------------------------------------------------------------------
# Heartbeats on the simulated network
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Heartbeat:
    """A heartbeat message: its sequence number and the sender's clock when sent (s)."""

    seq: int
    sent: float


class HeartbeatSender(Node):
    """Sends ``Heartbeat`` to ``monitor`` every ``interval`` seconds, the first at start.

    Its loop is a timer re-armed by every beat; a crash stops it, a restart resumes it
    (the sequence number continues), and a pause (``sim.pause``) delays it.
    """

    def __init__(self, name: str, monitor: str, interval: float) -> None:
        super().__init__(name)
        self.monitor = monitor
        self.interval = _positive("interval", interval)
        self.seq = 0

    def on_start(self) -> None:
        self.set_timer("beat", 0.0)

    def on_restart(self) -> None:
        self.set_timer("beat", 0.0)

    def on_timer_beat(self) -> None:
        self.seq += 1
        self.send(self.monitor, Heartbeat(self.seq, self.now))
        self.set_timer("beat", self.interval)


class HeartbeatMonitor(Node):
    """Records heartbeat arrivals and, given a detector, runs it online.

    With a detector, a timer named ``suspect`` is re-armed at ``detector.suspicion_time()``
    after every heartbeat; when it fires the monitor records ``suspect``, and the next
    heartbeat records ``trust`` (both with the sender's name as detail).
    """

    def __init__(self, name: str, detector: Detector | None = None) -> None:
        super().__init__(name)
        self.detector = detector
        self.arrivals: list[float] = []
        self.sent: list[float] = []
        self.suspecting = False

    def on_Heartbeat(self, msg: Heartbeat, src: str) -> None:
        self.arrivals.append(self.now)
        self.sent.append(msg.sent)
        d = self.detector
        if d is None:
            return
        d.heartbeat(self.now)
        if self.suspecting:
            self.suspecting = False
            self.record("trust", src)
        self.src = src
        deadline = d.suspicion_time()
        if math.isfinite(deadline):
            self.set_timer("suspect", deadline - self.now)

    def on_timer_suspect(self) -> None:
        self.suspecting = True
        self.record("suspect", self.src)


@dataclass
class HeartbeatRun:
    """Heartbeats of one simulated run (times in seconds).

    Attributes:
        interval: the sender's period.
        duration: how long the run lasted.
        arrivals: arrival times at the monitor, in arrival order.
        sent: send time of each arrival (same order).
        delay: the mean one-way network delay.
        crash_at: when the sender crashed (``None``: it never did).
        beats: how many heartbeats were sent.
        sim: the :class:`~halab.sim.Simulation` (its trace, its nodes).
    """

    interval: float
    duration: float
    arrivals: np.ndarray
    sent: np.ndarray
    delay: float
    crash_at: float | None
    beats: int
    sim: Simulation = field(repr=False)


def _check_pairs(name: str, pairs) -> list[tuple[float, float]]:
    """``pairs`` as a list of ``(time, value)`` number pairs, else a ValueError naming it."""
    if isinstance(pairs, (str, bytes)) or not hasattr(pairs, "__iter__"):
        raise TypeError(f"{name} must be a list of (time, value) pairs, got {pairs!r}")
    out = []
    for pair in pairs:
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise ValueError(f"{name} must hold (time, value) pairs, got {pair!r}")
        out.append((check_real(name, pair[0]), check_real(name, pair[1])))
    return out


def simulate_heartbeats(
    interval: float = 1.0,
    duration: float = 600.0,
    *,
    delay: float = 0.01,
    jitter: float = 0.0,
    dist: str = "normal",
    loss: float = 0.0,
    crash_at: float | None = None,
    pauses: Iterable[tuple[float, float]] = (),
    jitter_changes: Iterable[tuple[float, float]] = (),
    detector: Detector | None = None,
    seed: int = 0,
    trace: bool = False,
) -> HeartbeatRun:
    """Run a heartbeat sender and a monitor on the simulated network.

    Args:
        interval: heartbeat period, seconds, ``> 0``.
        duration: simulated seconds, ``> 0``.
        delay: mean one-way delay, seconds, ``>= 0``.
        jitter: standard deviation of the delay, seconds (see :class:`halab.sim.Latency`).
        dist: delay distribution when ``jitter > 0``.
        loss: probability in ``[0, 1)`` that a heartbeat is lost, independently.
        crash_at: crash the sender at this time (seconds), or never.
        pauses: ``(start, seconds)`` stalls of the sender (e.g. garbage collection).
        jitter_changes: ``(time, jitter)`` pairs: from ``time`` on, the delay's standard
            deviation is ``jitter`` (same mean and shape), e.g. a link that gets congested.
        detector: run this detector online in the monitor (its ``suspect``/``trust``
            records land in ``run.sim.trace``).
        seed: seed of the simulation's random generator.
        trace: keep the kernel's full trace (sends, deliveries, timers).

    Raises:
        ValueError: on a non-positive interval or duration, or a loss outside ``[0, 1)``.
    """
    interval = _positive("interval", interval)
    duration = _positive("duration", duration)
    _steps(duration, interval)
    loss = _probability("loss", loss)
    if detector is not None:
        _check_detector(detector)
    check_real("delay", delay, 0.0, unit="seconds")
    pauses = _check_pairs("pauses", pauses)
    jitter_changes = _check_pairs("jitter_changes", jitter_changes)
    latency = Latency(delay, jitter, dist)
    sim = Simulation(seed=seed, network=Network(latency=latency, loss=loss), trace=trace)
    sender = sim.add(HeartbeatSender("p", "q", interval))
    monitor = sim.add(HeartbeatMonitor("q", detector))
    if crash_at is not None:
        crash_at = check_real("crash_at", crash_at, 0.0, duration)
        sim.at(crash_at, sim.crash, "p")
    for start, seconds in pauses:
        sim.at(start, sim.pause, "p", seconds)
    for when, new_jitter in jitter_changes:
        sim.at(when, setattr, sim.network, "latency", Latency(delay, new_jitter, dist))
    sim.run(until=duration)
    return HeartbeatRun(
        interval=interval,
        duration=duration,
        arrivals=np.asarray(monitor.arrivals, dtype=float),
        sent=np.asarray(monitor.sent, dtype=float),
        delay=latency.mean,
        crash_at=crash_at,
        beats=sender.seq,
        sim=sim,
    )


# --------------------------------------------------------------------------------------
# Replaying arrivals through a detector
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Suspicions:
    """What a detector concluded from a list of arrivals (seconds).

    Attributes:
        start: when each suspicion began.
        stop: when it ended (the next arrival), or ``inf`` if it lasted to the end.
        deadlines: after each arrival, when the detector would start suspecting.
    """

    start: np.ndarray
    stop: np.ndarray
    deadlines: np.ndarray

    def __len__(self) -> int:
        return len(self.start)


def replay(detector: Detector, arrivals: Sequence[float] | np.ndarray) -> Suspicions:
    """Feed ``arrivals`` (sorted, seconds) to a fresh ``detector``; return its suspicions.

    A suspicion starts at the deadline set by an arrival when the next arrival comes later
    (strictly), and ends at that next arrival. This is exactly what
    :class:`HeartbeatMonitor` does online with its re-armed timer, without the event loop.
    The detector is reset first and left in its final state.
    """
    _check_detector(detector)
    detector.reset()
    arrivals = np.asarray(arrivals, dtype=float)
    if type(detector) is FixedTimeoutDetector:  # its deadlines need no loop
        deadlines = arrivals + detector.timeout
        if len(arrivals):
            detector.heartbeat(float(arrivals[-1]))
    else:
        beat = detector.heartbeat
        deadline = detector.suspicion_time
        out = []
        for t in arrivals.tolist():
            beat(t)
            out.append(deadline())
        deadlines = np.array(out, dtype=float)
    nxt = np.append(arrivals[1:], math.inf)
    wrong = deadlines < nxt
    return Suspicions(start=deadlines[wrong], stop=nxt[wrong], deadlines=deadlines)


def timeline(
    detector: Detector, arrivals: Sequence[float] | np.ndarray, times: Sequence[float]
) -> np.ndarray:
    """The detector's ``level`` at each of ``times`` (sorted), given the arrivals.

    An arrival at exactly a sample time counts as already arrived.
    """
    _check_detector(detector)
    detector.reset()
    arrivals = np.asarray(arrivals, dtype=float).tolist()
    out = np.empty(len(times))
    j = 0
    for i, t in enumerate(np.asarray(times, dtype=float).tolist()):
        while j < len(arrivals) and arrivals[j] <= t:
            detector.heartbeat(arrivals[j])
            j += 1
        out[i] = detector.level(t)
    return out


# --------------------------------------------------------------------------------------
# Quality of service
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QoS:
    """Chen-Toueg-Aguilera quality-of-service figures (seconds unless noted).

    Attributes:
        detection_time: mean T_D, from the crash until the final suspicion.
        detection_time_max: largest T_D (measured) or its upper bound (theory).
        mistake_recurrence: E(T_MR), mean time between starts of wrong suspicions
            (``inf`` without mistakes).
        mistake_duration: E(T_M), mean length of a wrong suspicion (``nan`` without mistakes).
        query_accuracy: P_A, the fraction of time the detector is right while p is up.
        mistakes_per_hour: wrong suspicions per hour of uptime (3600 / E(T_MR)).
        mistakes: how many wrong suspicions were counted (``None`` for theory).
    """

    detection_time: float
    detection_time_max: float
    mistake_recurrence: float
    mistake_duration: float
    query_accuracy: float
    mistakes_per_hour: float
    mistakes: int | None = None


def measure_qos(
    detector: Detector,
    run: HeartbeatRun,
    *,
    crashes: int = 200,
    warmup: float | None = None,
    seed: int = 0,
) -> QoS:
    """Measure T_D, T_MR, T_M and P_A of ``detector`` on a run in which p stays up.

    Mistakes are the suspicions (from :func:`replay`) inside the observation window, which
    runs from ``warmup`` (default: the first arrival) to the end of the run; a suspicion still
    open at the end counts up to the end.

    Detection time is measured by crashing p, in thought, at ``crashes`` times drawn
    uniformly from the window (so the crash falls at a uniform phase of the heartbeat
    period, as in the theory). A crash at t_c lets every heartbeat sent before t_c still
    arrive, and none after; the detector's state after the last of those arrivals is the
    state the replay had at that point, so T_D = max(0, deadline − t_c) — zero when a wrong
    suspicion was already under way. (Where heartbeats overtook each other, those sent before
    t_c but arriving after one sent later are fed to a copy of the detector.)

    Args:
        detector: the detector (it is reset).
        run: from :func:`simulate_heartbeats` with ``crash_at=None``.
        crashes: how many crash times to try, ``>= 1``.
        warmup: start of the observation window, seconds.
        seed: seed of the generator that draws crash times.
    """
    _check_detector(detector)
    _check_run(run)
    if run.crash_at is not None:
        raise ValueError("run must be crash-free (crash_at=None): QoS needs p up")
    crashes = _count("crashes", crashes)
    arrivals = run.arrivals
    if len(arrivals) < 2:
        raise ValueError(f"run must have at least 2 arrivals, got {len(arrivals)}")
    begin = float(arrivals[0]) if warmup is None else max(float(warmup), float(arrivals[0]))
    end = run.duration
    if not begin < end:
        raise ValueError(f"warmup must be before the end of the run ({end} s), got {warmup}")
    return _measure_qos(detector, run, replay(detector, arrivals), crashes, begin, seed)


def _measure_qos(
    detector: Detector, run: HeartbeatRun, sus: Suspicions, crashes: int, begin: float, seed: int
) -> QoS:
    """:func:`measure_qos` once the arrivals are replayed (``sus``) and the arguments checked."""
    arrivals, sent = run.arrivals, run.sent
    end = run.duration
    start = np.maximum(sus.start, begin)
    stop = np.minimum(sus.stop, end)
    keep = (sus.start >= begin) & (sus.start < end)
    durations = (stop - start)[keep]
    # time suspected inside the window also counts suspicions begun before it
    overlap = np.clip(stop - start, 0.0, None)
    suspected = float(overlap[(sus.stop > begin) & (sus.start < end)].sum())
    window = end - begin
    mistakes = int(keep.sum())
    rate = mistakes / window

    rng = make_rng(seed)
    crash_times = np.sort(rng.uniform(max(begin, float(sent[0])), end, size=crashes))
    # The arrivals a crash at tc lets through: the longest prefix all sent before tc (its
    # state is the replay's at that point), plus any later arrival sent before tc (it was
    # overtaken): those are fed to a copy of a detector advanced to the prefix.
    reach = np.maximum.accumulate(sent)
    prefixes = np.searchsorted(reach, crash_times, side="right")
    detector.reset()
    fed = 0
    td = np.empty(crashes)
    for i, (tc, prefix) in enumerate(zip(crash_times.tolist(), prefixes.tolist())):
        extra = np.flatnonzero(sent[prefix:] <= tc) if prefix < len(sent) else ()
        if len(extra) == 0:
            deadline = sus.deadlines[prefix - 1]
        else:
            while fed < prefix:
                detector.heartbeat(float(arrivals[fed]))
                fed += 1
            clone = copy.deepcopy(detector)
            for t in arrivals[prefix + extra].tolist():
                clone.heartbeat(t)
            deadline = clone.suspicion_time()
        td[i] = max(0.0, deadline - tc)
    return QoS(
        detection_time=float(td.mean()),
        detection_time_max=float(td.max()),
        mistake_recurrence=math.inf if mistakes == 0 else 1.0 / rate,
        mistake_duration=float(durations.mean()) if mistakes else math.nan,
        query_accuracy=1.0 - suspected / window,
        mistakes_per_hour=3600.0 * rate,
        mistakes=mistakes,
    )


def k_missed_qos(interval: float, timeout: float, delay: float, loss: float) -> QoS:
    """Closed-form QoS of a fixed timeout under constant delay and independent loss.

    Set-up: p sends heartbeat i at time iη (η = ``interval``); each is lost independently
    with probability p_L (``loss``), otherwise it arrives d (``delay``) later. The monitor
    suspects when nothing arrived for T = ``timeout``, written T = kη + δ with k = ⌊T/η⌋ and
    0 < δ < η (a T that is a whole number of intervals would tie the timeout with an arrival;
    it is rejected). Derivation, in steady state:

    *Mistakes.* After heartbeat i arrives (at iη + d), the monitor suspects at iη + d + T
    exactly when heartbeats i+1, …, i+k are all lost (heartbeat i+k would arrive at
    (i+k)η + d < iη + d + T; heartbeat i+k+1 comes after). So a mistake starts in a given
    period with probability (1 - p_L) p_L^k, and by the renewal-reward theorem

        E(T_MR) = η / ((1 - p_L) p_L^k),   mistakes per hour = 3600 (1 - p_L) p_L^k / η.

    It ends when the next heartbeat arrives: J more periods after heartbeat i+k, with J ≥ 1
    geometric, P(J = j) = (1 - p_L) p_L^(j-1), E(J) = 1/(1 - p_L). The mistake lasts
    (k + J)η − T = Jη − δ, so

        E(T_M) = η / (1 - p_L) − δ.

    *Query accuracy.* At a random time a fraction u ∈ [0, η) of a period after the last due
    arrival, with the m most recent heartbeats lost (P(m) = (1 - p_L) p_L^m), the monitor
    suspects iff mη + u > T, i.e. m ≥ k+1, or m = k and u > δ:

        1 - P_A = p_L^(k+1) + (1 - p_L) p_L^k (η − δ)/η = p_L^k (1 − (1 − p_L) δ/η),

    which equals E(T_M)/E(T_MR), as Chen et al.'s identity requires.

    *Detection time.* p crashes at a uniform phase φ ∈ [0, η) after sending heartbeat n.
    If the m most recent heartbeats (n, n−1, …) were lost, the last arrival was
    (n−m)η + d and the final suspicion comes at (n−m)η + d + T, so
    T_D = max(0, (k − m)η + d + δ − φ). With g(c) = E[max(0, c − φ)] = c − η/2 for c ≥ η,
    c²/(2η) for 0 < c < η, and 0 for c ≤ 0:

        E(T_D) = Σ_m (1 − p_L) p_L^m g((k − m)η + d + δ),   max T_D = T + d.

    Without loss, T_D is uniform on [T + d − η, T + d] and E(T_D) = T + d − η/2.

    Args:
        interval: η, seconds, ``> 0``.
        timeout: T, seconds, ``> 0`` and not a whole multiple of η.
        delay: d, seconds, ``>= 0``.
        loss: p_L in ``[0, 1)``.
    """
    eta = _positive("interval", interval)
    timeout = _positive("timeout", timeout)
    d = _non_negative("delay", delay)
    p = _probability("loss", loss)
    k = math.floor(timeout / eta)
    delta = timeout - k * eta
    if delta <= 1e-12 * eta or eta - delta <= 1e-12 * eta:
        raise ValueError(
            f"timeout must not be a whole multiple of interval ({timeout} = {timeout / eta:g} "
            f"x {eta}): the timeout would tie with an arrival; add a margin, e.g. (k + 0.5) x "
            "interval"
        )
    start_rate = (1 - p) * p**k  # mistakes per period
    recurrence = math.inf if start_rate == 0 else eta / start_rate
    duration = eta / (1 - p) - delta
    accuracy = 1 - p**k * (1 - (1 - p) * delta / eta)

    def g(c: float) -> float:
        if c >= eta:
            return c - eta / 2
        if c > 0:
            return c * c / (2 * eta)
        return 0.0

    detection = 0.0
    for m in range(k + 2):  # for m >= k + 2, c = (k - m)η + d + δ can still be > 0 if d is big
        detection += (1 - p) * p**m * g((k - m) * eta + d + delta)
    m = k + 2
    while (k - m) * eta + d + delta > 0:
        detection += (1 - p) * p**m * g((k - m) * eta + d + delta)
        m += 1
    return QoS(
        detection_time=detection,
        detection_time_max=timeout + d,
        mistake_recurrence=recurrence,
        mistake_duration=duration,
        query_accuracy=accuracy,
        mistakes_per_hour=3600.0 * start_rate / eta,
    )


def sweep(
    run: HeartbeatRun, detectors: Iterable[Detector], *, crashes: int = 200, seed: int = 0
) -> list[QoS]:
    """:func:`measure_qos` of each detector on the same run (the same crash times for all)."""
    _check_run(run)
    detectors = list(detectors)
    if run.crash_at is not None or len(run.arrivals) < 2:
        return [measure_qos(d, run, crashes=crashes, seed=seed) for d in detectors]
    crashes = _count("crashes", crashes)
    begin = float(run.arrivals[0])
    shared: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
    out = []
    for d in detectors:
        _check_detector(d)
        sus = _phi_replay(d, run.arrivals, shared) if type(d) is PhiAccrualDetector else None
        if sus is None:
            sus = replay(d, run.arrivals)
        out.append(_measure_qos(d, run, sus, crashes, begin, seed))
    return out


def _phi_replay(
    detector: PhiAccrualDetector, arrivals: np.ndarray, shared: dict
) -> Suspicions | None:
    """:func:`replay` of a φ detector from a history shared by every threshold and pause.

    While no heartbeat comes late (after the deadline the one before it set), Akka's detector
    adds every inter-arrival time to its window, whatever its threshold and pause; the window's
    mean and deviation after each arrival are then the same for all of them and are computed
    once (per window size, deviation floor and first estimate, kept in ``shared``), with the
    same float operations as :meth:`PhiAccrualDetector.heartbeat`, so the deadlines are equal
    bit for bit. Returns None when a heartbeat came late: that history differs, replay it.
    """
    key = (detector.max_sample_size, detector.min_std_deviation, detector.first_heartbeat_estimate)
    if key not in shared:
        probe = PhiAccrualDetector(
            max_sample_size=key[0], min_std_deviation=key[1], first_heartbeat_estimate=key[2]
        )
        est = probe.first_heartbeat_estimate
        probe._add(est - est / 4)
        probe._add(est + est / 4)
        means, stds, last = [], [], None
        for t in arrivals.tolist():
            if last is not None:
                probe._add(t - last)
            last = t
            n = len(probe.intervals)
            mean = probe._sum / n
            means.append(mean)
            stds.append(math.sqrt(max(probe._sum_sq / n - mean * mean, 0.0)))
        shared[key] = (np.array(means), np.maximum(np.array(stds), key[1]))
    means, stds = shared[key]
    deadlines = arrivals + (means + detector.acceptable_heartbeat_pause) + stds * detector._y
    if np.any(arrivals[1:] >= deadlines[:-1]):
        return None
    detector.reset()
    nxt = np.append(arrivals[1:], math.inf)
    wrong = deadlines < nxt
    return Suspicions(start=deadlines[wrong], stop=nxt[wrong], deadlines=deadlines)


# --------------------------------------------------------------------------------------
# A heartbeat proves the loop runs, not that it serves
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """A request to the server (a client's, or a health probe's)."""

    seq: int


@dataclass(frozen=True)
class Reply:
    """The server's answer to ``Request(seq)``."""

    seq: int


class ZombieServer(HeartbeatSender):
    """A server whose heartbeat timer keeps beating after its request handling got stuck.

    ``stuck`` models a deadlock, an exhausted thread or connection pool, a full disk: the
    process is alive and its heartbeat loop runs, but no request gets an answer.
    """

    def __init__(self, name: str, monitor: str, interval: float) -> None:
        super().__init__(name, monitor, interval)
        self.stuck = False

    def on_Request(self, msg: Request, src: str) -> None:
        if not self.stuck:
            self.send(src, Reply(msg.seq))


class Prober(HeartbeatMonitor):
    """An end-to-end health check: sends a request every ``interval`` and feeds each *reply*
    to its detector, as a heartbeat that only a serving server can send."""

    def __init__(self, name: str, server: str, interval: float, detector: Detector) -> None:
        super().__init__(name, detector)
        self.server = server
        self.interval = _positive("interval", interval)
        self.seq = 0

    def on_start(self) -> None:
        self.set_timer("probe", 0.0)

    def on_timer_probe(self) -> None:
        self.seq += 1
        self.send(self.server, Request(self.seq))
        self.set_timer("probe", self.interval)

    def on_Reply(self, msg: Reply, src: str) -> None:
        self.on_Heartbeat(Heartbeat(msg.seq, self.now), src)


class Client(Node):
    """Sends ``rate`` requests per second to ``server`` and counts the answers."""

    def __init__(self, name: str, server: str, rate: float) -> None:
        super().__init__(name)
        self.server = server
        self.period = 1.0 / _positive("rate", rate)
        self.sent: list[float] = []
        self.answered: set[int] = set()

    def on_start(self) -> None:
        self.set_timer("request", 0.0)

    def on_timer_request(self) -> None:
        self.sent.append(self.now)
        self.send(self.server, Request(len(self.sent)))
        self.set_timer("request", self.period)

    def on_Reply(self, msg: Reply, src: str) -> None:
        self.answered.add(msg.seq)


@dataclass(frozen=True)
class ZombieResult:
    """What each watcher saw of a server that stopped serving at ``stuck_at`` (seconds).

    Attributes:
        stuck_at: when request handling stopped.
        heartbeat_detected_at: when the heartbeat detector first suspected (``None``: never).
        probe_detected_at: when the end-to-end probe first suspected (``None``: never).
        requests_after: client requests sent after ``stuck_at``.
        answered_after: how many of them were answered.
    """

    stuck_at: float
    heartbeat_detected_at: float | None
    probe_detected_at: float | None
    requests_after: int
    answered_after: int


def simulate_zombie(
    *,
    stuck_at: float = 30.55,
    duration: float = 90.0,
    interval: float = 1.0,
    k: int = 3,
    rate: float = 10.0,
    delay: float = 0.01,
    seed: int = 0,
) -> ZombieResult:
    """A server stops answering requests at ``stuck_at`` while its heartbeats go on.

    Two watchers use the same k-missed detector (timeout ``(k + 0.5) * interval``): one fed
    by the server's heartbeats, one by the replies to a request it sends every ``interval``
    (an end-to-end health check, like an HTTP probe of a real endpoint). A client sends
    ``rate`` requests per second. The heartbeat watcher never suspects; the probe suspects
    ``(k + 0.5) * interval`` after the last answered probe.

    Raises:
        ValueError: on non-positive times or rates, or ``stuck_at`` outside ``[0, duration]``.
    """
    duration = _positive("duration", duration)
    interval = _positive("interval", interval)
    _steps(duration, interval)
    stuck_at = check_real("stuck_at", stuck_at, 0.0, duration)
    sim = Simulation(seed=seed, network=Network(latency=delay))
    server = sim.add(ZombieServer("server", "heartbeats", interval))
    watcher = sim.add(HeartbeatMonitor("heartbeats", FixedTimeoutDetector.k_missed(k, interval)))
    prober = sim.add(
        Prober("probe", "server", interval, FixedTimeoutDetector.k_missed(k, interval))
    )
    client = sim.add(Client("client", "server", rate))
    sim.at(stuck_at, setattr, server, "stuck", True)
    sim.run(until=duration)

    def first(node: Node) -> float | None:
        times = [r.time for r in sim.records("suspect", node=node.name)]
        return times[0] if times else None

    after = [i + 1 for i, t in enumerate(client.sent) if t >= stuck_at]
    return ZombieResult(
        stuck_at=float(stuck_at),
        heartbeat_detected_at=first(watcher),
        probe_detected_at=first(prober),
        requests_after=len(after),
        answered_after=sum(1 for i in after if i in client.answered),
    )


# --------------------------------------------------------------------------------------
# Real settings → detection time
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """What a system's failure-detection settings imply (seconds).

    Attributes:
        system: ``"HAProxy"``, ``"Kubernetes"``, ``"ZooKeeper"`` or ``"Akka"``.
        worst_case: longest time from a failure to its detection.
        best_case: shortest such time.
        recovery: longest time from the peer's return until it is trusted again
            (``nan`` where it does not apply).
        formula: how ``worst_case`` was computed, in the system's own parameter names.
        source: where the behaviour and the defaults are documented.
    """

    system: str
    worst_case: float
    best_case: float
    recovery: float
    formula: str
    source: str


def haproxy_detection(
    inter: float = 2.0,
    fall: int = 3,
    rise: int = 2,
    *,
    check_timeout: float | None = None,
    fastinter: float | None = None,
    downinter: float | None = None,
) -> Settings:
    """Worst-case time for HAProxy's active health checks to mark a server DOWN.

    HAProxy (configuration manual, ``server`` keywords ``inter``, ``fastinter``,
    ``downinter``, ``fall``, ``rise``; ``timeout check``) checks one server at a time: after
    a check ends, the next starts ``inter`` later (``src/check.c``: ``t->expire =
    tick_add(now_ms, srv_getinter(check))``), or ``fastinter`` while the server is in
    transition (after a first failure), or ``downinter`` while it is DOWN. ``fall``
    consecutive failures mark it DOWN, ``rise`` successes UP. Defaults: inter 2 s, fall 3,
    rise 2; fastinter and downinter default to inter. Without ``timeout check`` a check may
    take up to ``inter`` to fail (connect + read).

    Worst case: the server dies (silently: its checks time out) right after a good check;
    the first failing check starts ``inter`` later and each failing check lasts
    ``check_timeout``:

        worst = inter + (fall − 1)·fastinter + fall·check_timeout.

    Best case: it dies just before a check and refuses connections (checks fail at once):
    ``(fall − 1)·fastinter``. Recovery: it returns right after a failed check:
    ``downinter + (rise − 1)·fastinter``.

    Args:
        inter: seconds between checks, ``> 0``.
        fall: failures to mark DOWN, ``>= 1``.
        rise: successes to mark UP, ``>= 1``.
        check_timeout: seconds a failing check takes (default ``inter``).
        fastinter: interval in transition (default ``inter``).
        downinter: interval while DOWN (default ``inter``).
    """
    inter = _positive("inter", inter)
    fall = _count("fall", fall)
    rise = _count("rise", rise)
    timeout = inter if check_timeout is None else _positive("check_timeout", check_timeout)
    fast = inter if fastinter is None else _positive("fastinter", fastinter)
    down = inter if downinter is None else _positive("downinter", downinter)
    return Settings(
        system="HAProxy",
        worst_case=inter + (fall - 1) * fast + fall * timeout,
        best_case=(fall - 1) * fast,
        recovery=down + (rise - 1) * fast,
        formula="inter + (fall - 1) * fastinter + fall * timeout",
        source="HAProxy configuration manual (server inter/fastinter/fall/rise, timeout check); "
        "src/check.c schedules the next check inter after the previous one ends",
    )


def kubernetes_detection(
    period_seconds: int = 10,
    timeout_seconds: int = 1,
    failure_threshold: int = 3,
    success_threshold: int = 1,
) -> Settings:
    """Worst-case time for a Kubernetes probe to declare a container failed.

    The kubelet's prober worker (``pkg/kubelet/prober/worker.go``) probes on a ticker of
    ``periodSeconds``; a probe fails after ``timeoutSeconds`` without an answer;
    ``failureThreshold`` consecutive failures fail the probe (restart for liveness, NotReady
    for readiness) and ``successThreshold`` successes pass it. API defaults and minimums
    (``core/v1`` ``Probe``): periodSeconds 10 (min 1), timeoutSeconds 1 (min 1),
    failureThreshold 3 (min 1), successThreshold 1 (min 1; must be 1 for liveness).

    Worst case: the container hangs right after a good probe; probes come at period, 2·period,
    …, and the failure_threshold-th one gives up ``timeoutSeconds`` after it starts. Probes do
    not overlap, so when ``timeoutSeconds > periodSeconds`` the spacing is the timeout:

        worst = periodSeconds + (failureThreshold − 1)·max(periodSeconds, timeoutSeconds)
                + timeoutSeconds.

    Best case (refused at once, just before a probe): ``(failureThreshold − 1)·period``.
    Recovery (readiness): ``successThreshold·periodSeconds``.

    Args:
        period_seconds: integer seconds, ``>= 1``.
        timeout_seconds: integer seconds, ``>= 1``.
        failure_threshold: ``>= 1``.
        success_threshold: ``>= 1``.
    """
    period = _count("period_seconds", period_seconds)
    timeout = _count("timeout_seconds", timeout_seconds)
    fails = _count("failure_threshold", failure_threshold)
    successes = _count("success_threshold", success_threshold)
    return Settings(
        system="Kubernetes",
        worst_case=float(period + (fails - 1) * max(period, timeout) + timeout),
        best_case=float((fails - 1) * period),
        recovery=float(successes * period),
        formula="periodSeconds + (failureThreshold - 1) * max(periodSeconds, timeoutSeconds) "
        "+ timeoutSeconds",
        source="Kubernetes API reference, core/v1 Probe (defaults, minimums); "
        "kubelet pkg/kubelet/prober/worker.go (probes on a ticker)",
    )


def zookeeper_detection(
    tick_time: float = ZOOKEEPER_SAMPLE_TICK,
    session_timeout: float | None = None,
    *,
    min_session_timeout: float | None = None,
    max_session_timeout: float | None = None,
) -> Settings:
    """Worst-case time for ZooKeeper to expire the session of a crashed client.

    The client asks for a session timeout; the server clamps it to
    ``[minSessionTimeout, maxSessionTimeout]``, by default ``[2·tickTime, 20·tickTime]``
    (ZooKeeper Administrator's Guide, "Advanced configuration"). ``conf/zoo_sample.cfg``, the
    file most installations copy, sets ``tickTime=2000`` (ms), the default here
    (:data:`ZOOKEEPER_SAMPLE_TICK`); a config without the line gets the code's default,
    ``ZooKeeperServer.DEFAULT_TICK_TIME = 3000`` (:data:`ZOOKEEPER_DEFAULT_TICK`), and so
    sessions of up to 60 s. The
    server files each session in a bucket that ends on the next multiple of tickTime after
    ``last heard + timeout`` (``ExpiryQueue.roundToNextInterval``), so expiry comes up to
    one tick late. An idle client pings after ``readTimeout/2 = timeout/3``
    (``ClientCnxn``: ``readTimeout = negotiatedSessionTimeout * 2 / 3``).

        worst = negotiated timeout + tickTime      (crash right after being heard)
        best  = negotiated timeout · 2/3           (crash just before a ping was due)

    Args:
        tick_time: seconds, ``> 0``.
        session_timeout: requested timeout, seconds (default: the maximum).
        min_session_timeout: server floor, seconds (default 2·tick_time).
        max_session_timeout: server ceiling, seconds (default 20·tick_time).
    """
    tick = _positive("tick_time", tick_time)
    low = (
        2 * tick
        if min_session_timeout is None
        else _positive("min_session_timeout", min_session_timeout)
    )
    high = (
        20 * tick
        if max_session_timeout is None
        else _positive("max_session_timeout", max_session_timeout)
    )
    if low > high:
        raise ValueError(f"min_session_timeout ({low}) must be <= max_session_timeout ({high})")
    asked = high if session_timeout is None else _positive("session_timeout", session_timeout)
    negotiated = min(max(asked, low), high)
    return Settings(
        system="ZooKeeper",
        worst_case=negotiated + tick,
        best_case=negotiated * 2 / 3,
        recovery=math.nan,
        formula=f"negotiated timeout ({negotiated:g} s, clamped to [{low:g}, {high:g}]) + tickTime",
        source="ZooKeeper Administrator's Guide (tickTime, min/maxSessionTimeout); "
        "ExpiryQueue.roundToNextInterval; ClientCnxn readTimeout",
    )


def akka_detection(
    heartbeat_interval: float = AKKA_HEARTBEAT_INTERVAL,
    threshold: float = AKKA_THRESHOLD,
    acceptable_heartbeat_pause: float = AKKA_ACCEPTABLE_HEARTBEAT_PAUSE,
    min_std_deviation: float = AKKA_MIN_STD_DEVIATION,
    jitter: float = 0.0,
    delay: float = 0.0,
) -> Settings:
    """Worst-case detection time of Akka's φ detector once its window is steady.

    With heartbeats every ``heartbeat_interval`` whose inter-arrival times have standard
    deviation ``jitter``, φ reaches the threshold
    ``phi_timeout(threshold, interval + pause, max(jitter, min_std))`` after the last
    heartbeat; a crash right after sending one is detected that long plus ``delay`` later.
    Defaults: ``akka.cluster.failure-detector`` in Akka's reference.conf.
    """
    interval = _positive("heartbeat_interval", heartbeat_interval)
    pause = _non_negative("acceptable_heartbeat_pause", acceptable_heartbeat_pause)
    floor = _positive("min_std_deviation", min_std_deviation)
    jitter = _non_negative("jitter", jitter)
    delay = _non_negative("delay", delay)
    after_last = phi_timeout(threshold, interval + pause, max(jitter, floor))
    return Settings(
        system="Akka",
        worst_case=after_last + delay,
        best_case=after_last - interval + delay,
        recovery=interval,
        formula="interval + acceptable-heartbeat-pause + std * y(threshold) + delay",
        source="akka-remote PhiAccrualFailureDetector.scala; akka-cluster reference.conf",
    )
