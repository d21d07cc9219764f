"""Health logic of the failover balancer: active checks (HAProxy) and passive ejection (Envoy).

Two detectors decide whether a backend may receive traffic:

- :class:`HealthCheck` -- *active*: the balancer asks ``GET /health`` every ``inter`` seconds.
  This is HAProxy's counter, from ``set_server_check_status()`` in HAProxy's ``src/check.c``:
  a server's ``health`` runs from 0 to ``rise + fall - 1``; it is UP while
  ``health >= rise``. A failed check lowers ``health`` by one and drops it to 0 once it falls
  below ``rise``; a passed check raises it by one and lifts it to the top once it reaches
  ``rise``. So an UP server goes DOWN after ``fall`` consecutive failed checks and a DOWN one
  comes UP after ``rise`` consecutive passed checks (HAProxy configuration manual, 5.2, ``rise``
  and ``fall``). A new server starts at ``health = rise``: "up, but will fall down at first
  failure", as HAProxy's ``src/server.c`` says.
- :class:`OutlierDetector` -- *passive*: the balancer watches real requests. After
  ``consecutive_5xx`` failures in a row a backend is ejected for ``base_ejection_time`` times
  the number of times it has been ejected, capped at ``max_ejection_time`` (Envoy's
  architecture overview, "Outlier detection", ejection algorithm; ``DetectorImpl::ejectHost`` in
  ``source/common/upstream/outlier_detection_impl.cc``). A passed active check un-ejects a
  backend and clears its counters (Envoy's ``successful_active_health_check_uneject_host``,
  true by default).

  *What counts as a failure.* Envoy keeps two counters: ``consecutive_5xx`` (5xx answers, and,
  with ``split_external_local_origin_errors`` false -- its default -- local-origin errors
  mapped to 5xx: connect failures, resets, timeouts) and ``consecutive_gateway_failure``
  (502, 503, 504 and the same local-origin errors). halab keeps the first, in Envoy's default
  mode: a 5xx answer, a refused or reset connection and a timeout all count, and any answer
  below 500 resets the count. (The gateway counter would not see a backend that answers 500,
  which is the fault switch a learner flips most.)

  *The cap.* A backend is ejected only while fewer than ``max_ejection_percent`` of the
  backends are *out of rotation for any reason* -- ejected, or DOWN by health checks (the
  caller passes those as ``out``). Envoy's cap counts ejected hosts only, and leans on its
  panic threshold when health checks take the rest; halab counts both, so that ejection can
  never finish what the health checks began. And whatever the cap, the last backend in
  rotation is never ejected: its failures under overload (connect timeouts from a full listen
  backlog) say the cluster is short of capacity, not that this backend is broken, and taking
  it out turns a slow cluster into a dead one. Active health checks still take a backend that
  is really dead (nothing listens) DOWN. As in Envoy, the ejection is tried when the count
  *reaches* ``consecutive_5xx``; a backend spared then is tried again only after a success has
  reset its count and ``consecutive_5xx`` more failures follow.

  Sources: Envoy's documentation, architecture overview "Outlier detection"
  (``intro/arch_overview/upstream/outlier``) and the ``config.cluster.v3.OutlierDetection``
  reference (``consecutive_5xx``, ``consecutive_gateway_failure``,
  ``split_external_local_origin_errors``, ``max_ejection_percent``); the panic threshold that
  the balancer adds on top is in :mod:`halab.live.settings` (``panic_threshold``).

Neither class reads a clock or starts a thread: callers pass ``now`` in seconds, so the logic is
tested without a network.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from halab.checks import check_int, check_real, make_rng

UP = "UP"
DOWN = "DOWN"


class HealthCheck:
    """HAProxy's rise/fall counter for one server.

    Args:
        rise: consecutive passed checks that bring a DOWN server UP, an integer >= 1.
        fall: consecutive failed checks that take an UP server DOWN, an integer >= 1.
        health: the starting counter in ``[0, rise + fall - 1]``; ``None`` means ``rise``
            (HAProxy's start: UP, but DOWN at the first failure).

    >>> h = HealthCheck(rise=2, fall=3, health=4)   # fully UP
    >>> [h.record(ok) for ok in (False, False, True, False, False, False)]
    [None, None, None, None, None, 'DOWN']
    """

    def __init__(self, rise: int = 2, fall: int = 3, *, health: int | None = None) -> None:
        for name, value in (("rise", rise), ("fall", fall)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        self.rise = rise
        self.fall = fall
        top = rise + fall - 1
        if health is None:
            health = rise
        if isinstance(health, bool) or not isinstance(health, int) or not 0 <= health <= top:
            raise ValueError(f"health must be an integer in [0, {top}], got {health!r}")
        self.health = health

    @property
    def up(self) -> bool:
        """Whether the server is UP (``health >= rise``)."""
        return self.health >= self.rise

    @property
    def state(self) -> str:
        """``"UP"`` or ``"DOWN"``."""
        return UP if self.up else DOWN

    def record(self, ok: bool) -> str | None:
        """Count one check result; return ``"UP"`` or ``"DOWN"`` when the state flips, else None.

        Args:
            ok: whether the check passed.
        """
        was_up = self.up
        top = self.rise + self.fall - 1
        if ok:
            if self.health < top:
                self.health += 1
                if self.health >= self.rise:
                    self.health = top
        elif self.health > 0:
            self.health -= 1
            if self.health < self.rise:
                self.health = 0
        if self.up != was_up:
            return self.state
        return None

    def __repr__(self) -> str:
        return f"HealthCheck(rise={self.rise}, fall={self.fall}, health={self.health}) {self.state}"


@dataclass
class _Host:
    consecutive: int = 0  # failures in a row since the last success
    ejections: int = 0  # times ejected so far (the ejection-time multiplier)
    ejected_at: float | None = None  # seconds; None while in service
    until: float = 0.0  # seconds; end of the current ejection


class OutlierDetector:
    """Envoy's consecutive-5xx outlier detection over ``n`` backends.

    Args:
        n: number of backends.
        consecutive_5xx: failures in a row that eject a backend (Envoy default 5).
        base_ejection_time: seconds of the first ejection (Envoy default 30 s).
        max_ejection_percent: eject only while ``100 * out / n`` is below this, ``out``
            counting the backends ejected and those the caller says are out for another
            reason (Envoy default 10; with 0 nothing is ever ejected).
        max_ejection_time: cap on one ejection's length, seconds (Envoy default 300 s).

    >>> d = OutlierDetector(3, consecutive_5xx=2, base_ejection_time=1.0, max_ejection_percent=50)
    >>> d.record(0, ok=False, now=0.0), d.record(0, ok=False, now=0.1)
    (False, True)
    >>> d.ejected(0, now=1.0), d.ejected(0, now=1.1)
    (True, False)
    """

    def __init__(
        self,
        n: int,
        *,
        consecutive_5xx: int = 5,
        base_ejection_time: float = 30.0,
        max_ejection_percent: float = 10.0,
        max_ejection_time: float = 300.0,
    ) -> None:
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be an integer >= 1, got {n!r}")
        if isinstance(consecutive_5xx, bool) or not isinstance(consecutive_5xx, int):
            raise ValueError(f"consecutive_5xx must be an integer >= 1, got {consecutive_5xx!r}")
        if consecutive_5xx < 1:
            raise ValueError(f"consecutive_5xx must be an integer >= 1, got {consecutive_5xx}")
        if not base_ejection_time > 0:
            raise ValueError(f"base_ejection_time must be > 0 seconds, got {base_ejection_time}")
        if not max_ejection_time > 0:
            raise ValueError(f"max_ejection_time must be > 0 seconds, got {max_ejection_time}")
        if not 0 <= max_ejection_percent <= 100:
            raise ValueError(
                f"max_ejection_percent must be in [0, 100], got {max_ejection_percent}"
            )
        self.n = n
        self.consecutive_5xx = consecutive_5xx
        self.base_ejection_time = float(base_ejection_time)
        self.max_ejection_percent = float(max_ejection_percent)
        self.max_ejection_time = float(max_ejection_time)
        self._hosts = [_Host() for _ in range(n)]

    def _check(self, i: int) -> _Host:
        if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < self.n:
            raise ValueError(f"backend index must be in [0, {self.n - 1}], got {i!r}")
        return self._hosts[i]

    def ejection_time(self, ejections: int) -> float:
        """Seconds the ``ejections``-th ejection lasts: ``min(base * ejections, max)``."""
        return min(self.base_ejection_time * ejections, self.max_ejection_time)

    def active_ejections(self, now: float) -> int:
        """How many backends are ejected at time ``now``."""
        return sum(self.ejected(i, now) for i in range(self.n))

    def ejected(self, i: int, now: float) -> bool:
        """Whether backend ``i`` is out of service at time ``now`` (seconds)."""
        host = self._check(i)
        return host.ejected_at is not None and now < host.until

    def expired(self, now: float) -> list[int]:
        """Return backends whose ejection has run out by ``now``, and put them back in service.

        Envoy returns them at its next ``interval`` sweep; here the caller decides how often
        to sweep (the balancer does it on every check and every request).
        """
        back = []
        for i, host in enumerate(self._hosts):
            if host.ejected_at is not None and now >= host.until:
                host.ejected_at = None
                host.consecutive = 0
                back.append(i)
        return back

    def record(self, i: int, ok: bool, now: float, *, out: Iterable[int] = ()) -> bool:
        """Count one request outcome of backend ``i``; return True if it is ejected now.

        Args:
            i: backend index.
            ok: False for a 5xx answer, a refused or reset connection, or a timeout (Envoy's
                ``consecutive_5xx`` with local-origin errors mapped to 5xx).
            now: seconds on the caller's clock.
            out: backends out of rotation for another reason (DOWN by health checks); they
                count towards ``max_ejection_percent``, and with them the last backend left in
                rotation is known.

        >>> d = OutlierDetector(2, consecutive_5xx=1, max_ejection_percent=100)
        >>> d.record(0, ok=False, now=0.0, out={1})   # b1 is DOWN: b0 is the last one in
        False
        """
        host = self._check(i)
        if ok:
            host.consecutive = 0
            return False
        host.consecutive += 1
        if host.consecutive != self.consecutive_5xx or self.ejected(i, now):
            return False
        gone = {j for j in range(self.n) if self.ejected(j, now)} | {int(j) for j in out}
        gone.discard(i)
        if len(gone) >= self.n - 1:
            return False  # the last backend in rotation stays: ejecting it helps no one
        if 100.0 * len(gone) / self.n >= self.max_ejection_percent:
            return False  # Envoy counts this as an "ejections_overflow"
        host.ejections += 1
        host.ejected_at = now
        host.until = now + self.ejection_time(host.ejections)
        return True

    def uneject(self, i: int) -> bool:
        """Put backend ``i`` back in service at once (a passed active check); True if it was out.

        Clears its consecutive-failure counter; the ejection count is kept, so the next
        ejection lasts longer.
        """
        host = self._check(i)
        host.consecutive = 0
        if host.ejected_at is None:
            return False
        host.ejected_at = None
        return True

    def snapshot(self, i: int, now: float) -> dict:
        """Backend ``i``'s counters: consecutive failures, ejections, seconds of ejection left."""
        host = self._check(i)
        left = max(0.0, host.until - now) if self.ejected(i, now) else 0.0
        return {"consecutive": host.consecutive, "ejections": host.ejections, "ejected_for": left}


# -- how long detection takes: closed forms, and the check loop simulated ----------------------


def _check_args(inter: float, check_time: float, **counts: int) -> None:
    check_real("inter", inter, 0, 86_400, lo_open=True)
    check_real("check_time", check_time, 0, 86_400)
    for name, value in counts.items():  # fall, rise: whole checks, at least one
        check_int(name, value, 1, 1000)


def detection_bounds(inter: float, fall: int, check_time: float = 0.0) -> tuple[float, float]:
    """Seconds from a backend's death to DOWN, for a fully UP backend: ``[low, high)``.

    HAProxy starts a check ``inter`` seconds after the previous one ends (``src/check.c``).
    While the backend is healthy its checks take no time, so the first check after the death
    starts ``u`` seconds later, ``u`` uniform in ``[0, inter)``; each failing check takes
    ``check_time`` (about 0 when the port refuses connections, the check timeout when the
    backend hangs) and the ``fall``-th one ends ``(fall - 1)(inter + check_time) + check_time``
    after the first starts. So the delay is uniform on
    ``[(fall - 1)(inter + check_time) + check_time, inter + (fall - 1)(inter + check_time)
    + check_time)``. The upper end is ``halab.detection.haproxy_detection``'s worst case.

    Args:
        inter: seconds between checks.
        fall: failed checks in a row that take a backend DOWN.
        check_time: seconds a failing check takes.
    """
    _check_args(inter, check_time, fall=fall)
    low = (fall - 1) * (inter + check_time) + check_time
    return low, low + inter


def readmission_bounds(inter: float, rise: int, check_time: float = 0.0) -> tuple[float, float]:
    """Seconds from a backend's return to UP: uniform on ``[low, low + inter)``.

    The same argument as :func:`detection_bounds` with ``rise`` passed checks, each taking
    ``check_time``, while the failing checks of the DOWN backend took no time (a refused
    connection): ``low = (rise - 1)(inter + check_time) + check_time``.
    """
    _check_args(inter, check_time, rise=rise)
    low = (rise - 1) * (inter + check_time) + check_time
    return low, low + inter


def ejection_bounds(
    rate: float, backends: int, consecutive_5xx: int, *, retries: int = 0
) -> tuple[float, float]:
    """Seconds from a death to passive ejection under round robin at a steady request rate.

    The dead backend gets every ``backends``-th request, one each ``g = backends / rate``
    seconds; the first arrives uniformly within ``[0, g)`` of the death and the
    ``consecutive_5xx``-th ``(consecutive_5xx - 1) g`` later: ``[(k - 1) g, k g)``.

    With ``retries`` the retry of each failed request asks the same round robin for the next
    backend not yet tried, and so takes that backend's turn: after its first failure the dead
    backend comes round every ``backends - 1`` requests (every request for one or two backends),
    ``g' = max(backends - 1, 1) / rate``, and the ejection falls in
    ``[(k - 1) g', (k - 1) g' + g)``.

    Args:
        rate: requests per second through the balancer.
        backends: how many backends share them.
        consecutive_5xx: failures in a row that eject.
        retries: the balancer's retries per request (only whether it is above 0 matters).
    """
    check_real("rate", rate, 0, lo_open=True, unit="requests per second")
    check_int("backends", backends, 1, 1000)
    check_int("consecutive_5xx", consecutive_5xx, 1, 1000)
    check_int("retries", retries, 0, 100)
    gap = backends / rate
    if retries == 0:
        return (consecutive_5xx - 1) * gap, consecutive_5xx * gap
    low = (consecutive_5xx - 1) * max(backends - 1, 1) / rate
    return low, low + gap


def simulate_checks(
    inter: float,
    fall: int,
    rise: int,
    *,
    check_time: float = 0.0,
    trials: int = 1000,
    seed: int = 0,
):
    """Simulate the check loop around a death and a return; the delays to DOWN and to UP.

    Each trial places the death (and, separately, the return) at a uniformly random moment
    between two checks, then runs :class:`HealthCheck` check by check -- failing while the
    backend is dead, passing once it is back -- until the state flips; the next check starts
    ``inter`` after the previous one ends.

    Args:
        inter: seconds between the end of a check and the start of the next.
        fall, rise: the counter's thresholds.
        check_time: seconds each check takes after the change (a failing check against a
            hung backend waits for its timeout); checks before the change take no time.
        trials: how many deaths (and returns) to simulate.
        seed: seeds ``numpy.random.default_rng``.

    Returns:
        ``(down, up)``: two NumPy arrays of ``trials`` delays in seconds.
    """
    _check_args(inter, check_time, fall=fall, rise=rise)
    if isinstance(trials, bool) or not isinstance(trials, int) or not 1 <= trials <= 1_000_000:
        raise ValueError(f"trials must be an integer in [1, 1000000], got {trials!r}")
    rng = make_rng(seed)
    cycle = inter + check_time  # from the start of one check to the start of the next
    down = np.empty(trials)
    up = np.empty(trials)
    for k, (u, v) in enumerate(rng.uniform(0.0, inter, size=(trials, 2))):
        h = HealthCheck(rise, fall, health=rise + fall - 1)
        start = u  # the first check after the death starts here
        while h.record(False) != DOWN:
            start += cycle
        down[k] = start + check_time
        start = v  # the first check after the return
        while h.record(True) != UP:
            start += cycle
        up[k] = start + check_time
    return down, up
