"""Availability: MTTF, MTTR, nines, downtime budgets, redundancy, and up/down timelines.

Vocabulary (units are hours unless a name says otherwise):

- *MTTF*, mean time to failure: how long a component stays up, on average.
- *MTTR*, mean time to repair (or restore): how long it stays down, on average.
- *MTBF*, mean time between failures: MTTF + MTTR, one full up-and-down cycle.
- *availability*: the long-run fraction of time up, a float in [0, 1].
- *nines*: -log10(1 - availability), so 0.999 is 3 nines.

    >>> round(availability(mttf=500, mttr=2), 4)
    0.996
    >>> round(series(0.99, 0.99), 4), round(parallel(0.99, 0.99), 4)
    (0.9801, 0.9999)
    >>> downtime(0.999, "month")
    datetime.timedelta(seconds=2592)

Sources for the closed forms: the steady-state availability MTTF / (MTTF + MTTR) and the
two-state Markov model are in Trivedi, *Probability and Statistics with Reliability, Queuing
and Computer Science Applications* (2nd ed., 2016), section 8.2; series, parallel and k-of-n
structures in section 1.11 (reliability block diagrams); the beta-factor model of common-cause
failure in IEC 61508-6, annex D; the variance of the measured fraction of time up is the
renewal-reward central limit theorem (Ross, *Stochastic Processes*, 2nd ed., section 3.6),
which for an alternating renewal process with up times U and down times D gives
``Var ~ (E[D]^2 Var[U] + E[U]^2 Var[D]) / (E[U] + E[D])^3 / T`` over a horizon T.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from halab.checks import check_choice, check_instance, check_int, check_prob, make_rng
from halab.checks import non_negative as _non_negative
from halab.checks import positive as _positive
from halab.checks import probability as _probability

HOURS_PER = {"year": 365 * 24.0, "month": 30 * 24.0, "week": 7 * 24.0, "day": 24.0}
"""Hours in each budgeting period: a year of 365 days, a month of 30 days."""

REPAIR_DISTRIBUTIONS = ("exponential", "lognormal", "fixed")


# --- argument checks ------------------------------------------------------------------

MAX_EVENTS = 10**7
"""The most failure/repair cycles a simulation will draw: a bigger horizon is refused."""


def _period_hours(period: str) -> float:
    return HOURS_PER[check_choice("period", period, HOURS_PER)]


# --- one component --------------------------------------------------------------------


def availability(mttf: float, mttr: float) -> float:
    """Steady-state availability of one component: MTTF / (MTTF + MTTR).

    Args:
        mttf: mean time to failure, > 0 (any unit, the same as ``mttr``).
        mttr: mean time to repair, >= 0.

    Returns:
        The long-run fraction of time up, in (0, 1].
    """
    mttf = _positive("mttf", mttf)
    mttr = _non_negative("mttr", mttr)
    return mttf / (mttf + mttr)


def mtbf(mttf: float, mttr: float) -> float:
    """Mean time between failures: one up period plus one down period, MTTF + MTTR."""
    return _positive("mttf", mttf) + _non_negative("mttr", mttr)


def failure_rate(failures: int, components: int, hours: float) -> float:
    """Failures per component-hour, λ = f / (N · t), from a fleet's record.

    Args:
        failures: failures seen, >= 0.
        components: how many components were watched, >= 1.
        hours: how long each was watched, > 0.
    """
    failures = check_int("failures", failures, 0, None)
    components = check_int("components", components, 1, None)
    return failures / (components * _positive("hours", hours))


def mttf_from_rate(rate: float) -> float:
    """MTTF of a component with exponential lifetimes and failure rate ``rate``: 1 / λ."""
    return 1.0 / _positive("rate", rate)


def nines(a: float) -> float:
    """How many nines an availability has: -log10(1 - a); 0.999 → 3.0, 1.0 → inf.

    The result is rounded to 9 decimal places: in binary floating point 1 - 0.999 is
    0.0010000000000000009, whose -log10 would print as 2.9999999999999996.
    """
    a = _probability("a", a)
    if a == 1.0:
        return math.inf
    return round(-math.log10(1.0 - a), 9)


def from_nines(n: float) -> float:
    """The availability with ``n`` nines: 1 - 10**-n; 3 → 0.999."""
    return 1.0 - 10.0 ** -_non_negative("n", n)


def downtime(a: float, period: str = "year") -> datetime.timedelta:
    """The downtime that availability ``a`` allows in a period.

    Args:
        a: availability in [0, 1].
        period: "year" (365 days), "month" (30 days), "week" or "day".

    Returns:
        (1 - a) × the period's length, as a ``datetime.timedelta``.
    """
    a = _probability("a", a)
    return datetime.timedelta(hours=(1.0 - a) * _period_hours(period))


def downtime_hours(a: float, period: str = "year") -> float:
    """Like :func:`downtime`, in hours as a float."""
    return (1.0 - _probability("a", a)) * _period_hours(period)


def downtime_table(levels: Sequence[float] = (0.9, 0.99, 0.995, 0.999, 0.9995, 0.9999, 0.99999)):
    """Downtime allowed per year, month and day for each availability level, in hours.

    Returns:
        A list of ``(a, hours_per_year, hours_per_month, hours_per_day)`` tuples.
    """
    return [
        (a, downtime_hours(a, "year"), downtime_hours(a, "month"), downtime_hours(a, "day"))
        for a in levels
    ]


def format_duration(hours: float) -> str:
    """A duration in the unit a person would say it in: "8.8 hours", "43.2 minutes", "26.3 seconds"."""
    hours = _non_negative("hours", hours)
    if hours >= 48:
        return f"{hours / 24:.1f} days"
    if hours >= 1:
        return f"{hours:.2f} hours"
    if hours * 60 >= 1:
        return f"{hours * 60:.1f} minutes"
    return f"{hours * 3600:.1f} seconds"


def availability_at(t: float, mttf: float, mttr: float) -> float:
    """Point availability A(t) of the two-state Markov model, starting up at t = 0.

    With failure rate λ = 1/MTTF and repair rate μ = 1/MTTR (Trivedi, section 8.2)::

        A(t) = μ/(λ+μ) + λ/(λ+μ) · exp(-(λ+μ) t)

    It falls from 1 towards the steady state, with time constant 1/(λ+μ).
    """
    t = _non_negative("t", t)
    lam = 1.0 / _positive("mttf", mttf)
    mu = 1.0 / _positive("mttr", mttr)
    return mu / (lam + mu) + lam / (lam + mu) * math.exp(-(lam + mu) * t)


# --- structures of several components --------------------------------------------------


def _availabilities(values: Sequence[float]) -> list[float]:
    if len(values) == 0:
        raise ValueError("give at least one availability")
    return [_probability("availability", v) for v in values]


def series(*a: float) -> float:
    """Availability of parts in series (every part must be up): the product."""
    return math.prod(_availabilities(a))


def parallel(*a: float) -> float:
    """Availability of redundant parts (any one up is enough): 1 - Π(1 - a_i)."""
    return 1.0 - math.prod(1.0 - x for x in _availabilities(a))


def k_of_n(k: int, n: int, a: float) -> float:
    """Availability of n identical independent parts of which at least k must be up.

    Σ_{i=k}^{n} C(n, i) a^i (1 - a)^(n - i), the binomial tail, computed by
    ``scipy.stats.binom.sf`` which keeps precision when a is close to 1.
    """
    n = check_int("n", n, 1)
    k = check_int("k", k, 1, n)
    a = _probability("a", a)
    return float(stats.binom.sf(k - 1, n, a))


def n_plus_one(n: int, a: float, spares: int = 1) -> float:
    """N+M redundancy: n servers are needed to carry the load, ``spares`` more are running."""
    spares = check_int("spares", spares, 0)
    return k_of_n(n, n + spares, a)


def common_cause(mttf: float, mttr: float, beta: float, n: int = 2) -> float:
    """Availability of n redundant replicas when a fraction beta of failures is shared.

    The beta-factor model (IEC 61508-6, annex D): of each replica's failure rate λ = 1/MTTF,
    a part (1 - β)λ is its own and a part βλ comes from something all replicas share (the
    rack's power, a switch, a bad deploy). Modelling the shared part as one more component
    with rate βλ and the same MTTR, the system is that component in series with the n
    independent replicas in parallel::

        A = [1 - (1 - A_own)^n] · A_shared,
        A_own = availability(MTTF / (1 - β), MTTR),  A_shared = availability(MTTF / β, MTTR)

    With β = 0 this is ``parallel`` of n replicas; as β grows it tends to one replica.
    """
    beta = _probability("beta", beta)
    n = check_int("n", n, 1)
    mttf = _positive("mttf", mttf)
    mttr = _non_negative("mttr", mttr)
    a_own = 1.0 if beta == 1.0 else availability(mttf / (1.0 - beta), mttr)
    a_shared = 1.0 if beta == 0.0 else availability(mttf / beta, mttr)
    return (1.0 - (1.0 - a_own) ** n) * a_shared


# --- Markov models ----------------------------------------------------------------------


@dataclass(frozen=True)
class MarkovModel:
    """A continuous-time Markov chain of a repairable system.

    Attributes:
        states: a name for each state.
        rates: ``rates[i][j]`` is the rate (per hour) of the move from state i to j.
        up: for each state, whether the service is up in it.
    """

    states: tuple[str, ...]
    rates: np.ndarray
    up: tuple[bool, ...]

    def generator(self) -> np.ndarray:
        """The generator matrix Q: off-diagonal rates, rows summing to zero."""
        q = np.array(self.rates, dtype=float)
        np.fill_diagonal(q, 0.0)
        np.fill_diagonal(q, -q.sum(axis=1))
        return q

    def stationary(self) -> np.ndarray:
        """The long-run probability of each state: π Q = 0 with Σ π = 1, solved by least squares."""
        q = self.generator()
        m = np.vstack([q.T, np.ones(len(self.states))])
        rhs = np.zeros(len(self.states) + 1)
        rhs[-1] = 1.0
        pi, *_ = np.linalg.lstsq(m, rhs, rcond=None)
        return pi

    def availability(self) -> float:
        """The long-run fraction of time in an up state."""
        return float(self.stationary()[list(self.up)].sum())


def active_passive_model(
    mttf: float, mttr: float, failover_time: float, coverage: float = 1.0
) -> MarkovModel:
    """Active-passive pair (hot standby) as a Markov chain, with a failover that takes time.

    Each of the two servers fails at rate λ = 1/MTTF and is repaired at rate μ = 1/MTTR by
    its own crew. When the active one fails and the standby is up, the service is down while
    the failover runs (exponential, mean ``failover_time``, rate φ). A failover succeeds with
    probability ``coverage`` c (the *coverage factor* of reliability engineering: a failover
    that itself fails, a standby that does not start, a script that hangs); a failed one
    leaves the service down until the failed server is repaired. States:

    - ``both up`` (up): → ``one up`` at λ (standby fails), → ``failing over`` at λ;
    - ``one up`` (up): → ``both up`` at μ, → ``both down`` at λ;
    - ``failing over`` (down): → ``one up`` at c·φ, → ``failover failed`` at (1 − c)·φ,
      → ``both up`` at μ (the failed one is back first and resumes), → ``both down`` at λ;
    - ``failover failed`` (down, only when c < 1): → ``both up`` at μ, → ``both down`` at λ;
    - ``both down`` (down): → ``one up`` at 2μ.

    With ``failover_time`` = 0 the failover state is skipped (``both up`` → ``one up`` at
    λ + c·λ, → ``failover failed`` at (1 − c)·λ) and with c = 1 the availability is
    ``parallel(A, A)``. For c < 1 each failure of the active server adds about
    (1 − c)·MTTR of downtime: (1 − c)·λ·MTTR of the time (Trivedi, *Probability and
    Statistics with Reliability, Queuing, and Computer Science Applications*, the imperfect
    coverage model).
    """
    lam = 1.0 / _positive("mttf", mttf)
    mu = 1.0 / _positive("mttr", mttr)
    failover_time = _non_negative("failover_time", failover_time)
    c = check_prob("coverage", coverage)
    if failover_time == 0 and c == 1.0:
        rates = np.array([[0, 2 * lam, 0], [mu, 0, lam], [0, 2 * mu, 0]], dtype=float)
        return MarkovModel(("both up", "one up", "both down"), rates, (True, True, False))
    if failover_time == 0:
        rates = np.array(
            [
                [0, lam + c * lam, 0, (1 - c) * lam],
                [mu, 0, lam, 0],
                [0, 2 * mu, 0, 0],
                [mu, 0, lam, 0],
            ],
            dtype=float,
        )
        return MarkovModel(
            ("both up", "one up", "both down", "failover failed"),
            rates,
            (True, True, False, False),
        )
    phi = 1.0 / failover_time
    rates = np.array(
        [
            [0, lam, lam, 0, 0],
            [mu, 0, 0, lam, 0],
            [mu, c * phi, 0, lam, (1 - c) * phi],
            [0, 2 * mu, 0, 0, 0],
            [mu, 0, 0, lam, 0],
        ],
        dtype=float,
    )
    states = ("both up", "one up", "failing over", "both down", "failover failed")
    up = (True, True, False, False, False)
    if c == 1.0:  # the failed-failover state is unreachable: leave it out
        return MarkovModel(states[:4], rates[:4, :4], up[:4])
    return MarkovModel(states, rates, up)


def active_passive(mttf: float, mttr: float, failover_time: float, coverage: float = 1.0) -> float:
    """Availability of an active-passive pair whose failover takes ``failover_time`` hours
    and succeeds with probability ``coverage`` (:func:`active_passive_model`)."""
    return active_passive_model(mttf, mttr, failover_time, coverage).availability()


def simulate_markov(model: MarkovModel, *, horizon: float, seed: int | None = 0) -> np.ndarray:
    """Simulate a Markov chain for ``horizon`` hours from its first state; hours in each state.

    The Gillespie (next-reaction) method: in state i wait an exponential time with rate
    -Q[i][i], then move to j with probability Q[i][j] / -Q[i][i].
    """
    check_instance("model", model, MarkovModel)
    horizon = _positive("horizon", horizon)
    rng = make_rng(seed)
    q = model.generator()
    out = -np.diag(q)
    rate = float(np.dot(model.stationary(), out))  # transitions per hour, in the long run
    if horizon * rate > MAX_EVENTS:
        raise ValueError(
            f"horizon must allow at most {MAX_EVENTS:.0e} transitions at {rate:g} per hour, "
            f"got {horizon:g} hours"
        )
    jump = np.cumsum(
        np.where(np.eye(len(q), dtype=bool), 0.0, q) / np.where(out > 0, out, 1)[:, None], axis=1
    )
    time_in = np.zeros(len(model.states))
    state, now = 0, 0.0
    block = 4096  # random numbers are drawn in blocks: one call per block, not per step
    while now < horizon:
        stays, picks = rng.exponential(1.0, block), rng.random(block)
        for stay, pick in zip(stays.tolist(), picks.tolist()):
            if out[state] == 0:
                time_in[state] += horizon - now
                return time_in
            stay /= out[state]
            time_in[state] += min(stay, horizon - now)
            now += stay
            if now >= horizon:
                return time_in
            state = int(np.searchsorted(jump[state], pick, side="right"))
    return time_in


# --- Monte-Carlo timelines ---------------------------------------------------------------


def _repair_times(
    rng: np.random.Generator, mttr: float, size: int, repair: str, cv: float
) -> np.ndarray:
    if repair == "exponential":
        return rng.exponential(mttr, size)
    if repair == "fixed":
        return np.full(size, mttr)
    # lognormal with mean mttr and coefficient of variation cv
    sigma2 = math.log1p(cv * cv)
    return rng.lognormal(math.log(mttr) - sigma2 / 2, math.sqrt(sigma2), size)


@dataclass(frozen=True)
class Timeline:
    """Alternating up and down periods of one component over ``[0, horizon]`` hours.

    Attributes:
        failures: the times at which it went down, hours.
        repairs: the times at which it came back (same length; the last may be past horizon).
        horizon: the simulated span, hours.
    """

    failures: np.ndarray
    repairs: np.ndarray
    horizon: float

    def uptime(self, until: float | None = None) -> float:
        """Hours up in [0, until] (the whole horizon by default)."""
        t = self.horizon if until is None else until
        down = np.clip(np.minimum(self.repairs, t) - np.minimum(self.failures, t), 0, None)
        return t - float(down.sum())

    def availability(self) -> float:
        """The measured fraction of the horizon spent up."""
        return self.uptime() / self.horizon

    def running_availability(self, times: np.ndarray) -> np.ndarray:
        """The measured availability over [0, t] for each t in ``times`` (t > 0)."""
        times = np.asarray(times, dtype=float)
        f = np.minimum(self.failures[None, :], times[:, None])
        r = np.minimum(self.repairs[None, :], times[:, None])
        return 1.0 - (r - f).sum(axis=1) / times

    def is_up(self, times: np.ndarray) -> np.ndarray:
        """Whether the component is up at each time in ``times``."""
        times = np.asarray(times, dtype=float)
        i = np.searchsorted(self.failures, times, side="right") - 1
        if len(self.failures) == 0:  # never failed within the horizon
            return np.ones(times.shape, dtype=bool)
        down = (i >= 0) & (times < self.repairs[np.maximum(i, 0)])
        return ~down


def _horizon_cycles(horizon: float, mttf: float, mttr: float) -> None:
    """Refuse a horizon that spans more than :data:`MAX_EVENTS` failure/repair cycles."""
    if horizon / (mttf + mttr) > MAX_EVENTS:
        raise ValueError(
            f"horizon must span at most {MAX_EVENTS:.0e} cycles of MTTF + MTTR = "
            f"{mttf + mttr:g} hours, got {horizon:g} hours"
        )


def simulate_timeline(
    mttf: float,
    mttr: float,
    *,
    horizon: float,
    repair: str = "exponential",
    repair_cv: float = 1.0,
    seed: int | None = 0,
    rng: np.random.Generator | None = None,
) -> Timeline:
    """A seeded Monte-Carlo up/down timeline of one component, up at time 0.

    Up periods are exponential with mean ``mttf``; repairs are ``"exponential"`` (mean
    ``mttr``), ``"lognormal"`` (mean ``mttr``, coefficient of variation ``repair_cv``) or
    ``"fixed"`` (exactly ``mttr``). Whatever the repair distribution, the measured
    availability converges to MTTF / (MTTF + MTTR) (the renewal-reward theorem).

    Args:
        mttf: mean time to failure, hours, > 0.
        mttr: mean time to repair, hours, > 0.
        horizon: hours to simulate, > 0.
        repair: the repair-time distribution, one of ``REPAIR_DISTRIBUTIONS``.
        repair_cv: coefficient of variation of lognormal repairs, > 0.
        seed: seed of the random generator (ignored when ``rng`` is given).
        rng: a ``numpy.random.Generator`` to draw from.
    """
    mttf = _positive("mttf", mttf)
    mttr = _positive("mttr", mttr)
    horizon = _positive("horizon", horizon)
    repair_cv = _positive("repair_cv", repair_cv)
    check_choice("repair", repair, REPAIR_DISTRIBUTIONS)
    _horizon_cycles(horizon, mttf, mttr)
    rng = make_rng(seed) if rng is None else rng
    cycles = max(16, int(1.5 * horizon / (mttf + mttr)) + 16)
    ups, downs = [], []
    total = 0.0
    while total <= horizon:  # draw in blocks until the horizon is covered
        up = rng.exponential(mttf, cycles)
        down = _repair_times(rng, mttr, cycles, repair, repair_cv)
        ups.append(up)
        downs.append(down)
        total += float(up.sum() + down.sum())
    up = np.concatenate(ups)
    down = np.concatenate(downs)
    ends = np.cumsum(up + down)
    failures = ends - down
    keep = failures < horizon
    return Timeline(failures[keep], ends[keep], horizon)


def simulated_availability(
    mttf: float,
    mttr: float,
    *,
    horizon: float,
    runs: int = 200,
    repair: str = "exponential",
    repair_cv: float = 1.0,
    seed: int | None = 0,
) -> np.ndarray:
    """The measured availability of ``runs`` independent timelines, one float per run."""
    runs = check_int("runs", runs, 1, 100_000)
    _horizon_cycles(
        _positive("horizon", horizon) * runs, _positive("mttf", mttf), _positive("mttr", mttr)
    )
    rng = make_rng(seed)
    return np.array(
        [
            simulate_timeline(
                mttf, mttr, horizon=horizon, repair=repair, repair_cv=repair_cv, rng=rng
            ).availability()
            for _ in range(runs)
        ]
    )


def availability_band(
    mttf: float,
    mttr: float,
    horizon: float,
    *,
    repair: str = "exponential",
    repair_cv: float = 1.0,
    confidence: float = 0.95,
) -> tuple[float, float]:
    """Where the measured availability over ``horizon`` hours falls with ``confidence``.

    The normal approximation of the renewal-reward central limit theorem (module docstring)::

        Var ≈ (E[D]² Var[U] + E[U]² Var[D]) / (E[U] + E[D])³ / horizon

    with exponential up times (Var[U] = MTTF²) and the repair distribution's variance.
    It is an asymptotic band: accurate once the horizon spans many failures.
    """
    mttf = _positive("mttf", mttf)
    mttr = _positive("mttr", mttr)
    horizon = _positive("horizon", horizon)
    confidence = check_prob("confidence", confidence, lo_open=True, hi_open=True)
    check_choice("repair", repair, REPAIR_DISTRIBUTIONS)
    repair_cv = _positive("repair_cv", repair_cv)
    cv2 = {"exponential": 1.0, "fixed": 0.0, "lognormal": repair_cv * repair_cv}[repair]
    # (mttr² mttf² + mttf² cv² mttr²) / (mttf + mttr)³, with the powers split so that no
    # intermediate overflows for huge times
    share = mttf / (mttf + mttr)
    var = share * share * mttr * (mttr / (mttf + mttr)) * (1.0 + cv2) / horizon
    z = stats.norm.ppf(0.5 + confidence / 2)
    a = availability(mttf, mttr)
    half = z * math.sqrt(var)
    return a - half, min(1.0, a + half)


def simulate_system(
    components: Sequence[tuple[float, float]],
    structure: Callable[[np.ndarray], np.ndarray],
    *,
    horizon: float,
    seed: int | None = 0,
) -> float:
    """Measured availability of a system of independent components over ``horizon`` hours.

    Args:
        components: (MTTF, MTTR) in hours for each component; exponential both ways.
        structure: maps a boolean array of shape (components, segments) — which parts are
            up in each stretch of time — to a boolean array of shape (segments,), whether
            the system is up. For k-of-n: ``lambda up: up.sum(axis=0) >= k``.
        horizon: hours to simulate.
        seed: random seed.

    Returns:
        The exact time-weighted fraction of [0, horizon] that the system was up.
    """
    if len(components) == 0:
        raise ValueError("components must name at least one (mttf, mttr) pair")
    for pair in components:
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise ValueError(f"components must hold (mttf, mttr) pairs, got {pair!r}")
    horizon = _positive("horizon", horizon)
    if structure is all or structure is any:  # Python's own: the whole system, or any part
        structure = {all: lambda up: up.all(axis=0), any: lambda up: up.any(axis=0)}[structure]
    if not callable(structure):
        raise ValueError(f"structure must be a function of the up/down array, got {structure!r}")
    rng = make_rng(seed)
    lines = [simulate_timeline(f, r, horizon=horizon, rng=rng) for f, r in components]
    cuts = np.unique(
        np.concatenate([[0.0, horizon]] + [np.r_[t.failures, t.repairs] for t in lines])
    )
    cuts = cuts[cuts <= horizon]
    mids = (cuts[:-1] + cuts[1:]) / 2
    up = np.vstack([t.is_up(mids) for t in lines])
    system_up = np.asarray(structure(up), dtype=bool)
    if system_up.shape != mids.shape:
        raise ValueError(
            f"structure must map the (components, segments) array to one bool per segment, "
            f"shape {mids.shape}; it returned shape {system_up.shape}"
        )
    return float(np.diff(cuts)[system_up].sum() / horizon)


# --- error budgets -----------------------------------------------------------------------


@dataclass(frozen=True)
class ErrorBudget:
    """What an availability objective allows in a period, and how much is left.

    Attributes:
        slo: the availability objective, e.g. 0.999.
        period: the budgeting period ("month", ...).
        allowed_minutes: downtime the objective allows in the period.
        spent_minutes: downtime already spent.
    """

    slo: float
    period: str
    allowed_minutes: float
    spent_minutes: float

    @property
    def remaining_minutes(self) -> float:
        """Minutes of downtime left (negative when overspent)."""
        return self.allowed_minutes - self.spent_minutes

    @property
    def spent_fraction(self) -> float:
        """The fraction of the budget spent (1.0 means all of it)."""
        return self.spent_minutes / self.allowed_minutes


def error_budget(
    slo: float, incidents_minutes: Sequence[float], period: str = "month"
) -> ErrorBudget:
    """The error budget of an availability objective after some incidents.

    Args:
        slo: the objective, in [0, 1).
        incidents_minutes: the downtime of each incident so far, minutes, each >= 0.
        period: "year", "month", "week" or "day".
    """
    slo = _probability("slo", slo)
    if slo == 1.0:
        raise ValueError("slo must be below 1: an objective of 100% leaves no budget at all")
    spent = sum(_non_negative("incidents_minutes", m) for m in incidents_minutes)
    return ErrorBudget(slo, period, downtime_hours(slo, period) * 60.0, spent)


# --------------------------------------------------------------------------------------
# The same availability, different outages: how often, how long, how bad a year can be
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutageProfile:
    """What one availability means for outages when each lasts ``mttr`` hours (fixed repairs).

    Attributes:
        availability: the long-run fraction of time up.
        mttr: hours each outage lasts.
        outages_per_year: N = (1 - A) · 8760 / MTTR, the mean number of outages a year.
        no_outage_year: P(a year has no outage) = e^(-N), outages being nearly Poisson when
            MTTR ≪ MTTF (a Poisson count of mean N, Ross, *Introduction to Probability
            Models*, section 5.3).
        over_budget_year: P(a year's downtime exceeds (1 - A) · 8760 h): P(K > N), K ~ Poisson(N).
        bad_year: the 99th-percentile year's downtime, hours: MTTR × the Poisson quantile.
    """

    availability: float
    mttr: float
    outages_per_year: float
    no_outage_year: float
    over_budget_year: float
    bad_year: float

    @property
    def years_between_outages(self) -> float:
        """1 / N: years from one outage to the next, on average."""
        return 1.0 / self.outages_per_year


def outage_profile(a: float, mttr: float) -> OutageProfile:
    """The outages behind an availability ``a`` when each lasts ``mttr`` hours.

    The same 99.949% is 18 outages of 15 minutes a year, or one of a day every 5.4 years:
    equal downtime on average, but the second leaves most years untouched and a few far over
    any yearly budget. :func:`simulate_yearly_downtime` checks each figure.

    >>> p = outage_profile(0.99949, 24.0)
    >>> round(p.outages_per_year, 3), round(p.years_between_outages, 1)
    (0.186, 5.4)
    """
    a = check_prob("a", a, lo_open=True, hi_open=True)
    mttr = _positive("mttr", mttr)
    n = (1.0 - a) * HOURS_PER["year"] / mttr
    return OutageProfile(
        availability=a,
        mttr=mttr,
        outages_per_year=n,
        no_outage_year=math.exp(-n),
        over_budget_year=float(stats.poisson.sf(math.floor(n), n)),
        bad_year=float(stats.poisson.ppf(0.99, n)) * mttr,
    )


def simulate_yearly_downtime(
    a: float, mttr: float, *, years: int = 2000, seed: int | None = 0
) -> np.ndarray:
    """Hours down in each of ``years`` simulated years, outages of exactly ``mttr`` hours.

    One :func:`simulate_timeline` with MTTF = MTTR · a / (1 - a) and fixed repairs, cut into
    years of 8760 h (an outage across a year's end counts in both, in part).
    """
    a = check_prob("a", a, lo_open=True, hi_open=True)
    mttr = _positive("mttr", mttr)
    years = check_int("years", years, 1, 100_000)
    hours = HOURS_PER["year"]
    line = simulate_timeline(
        mttr * a / (1.0 - a), mttr, horizon=years * hours, repair="fixed", seed=seed
    )
    edges = np.arange(years + 1) * hours
    f, r = line.failures, np.minimum(line.repairs, years * hours)
    spans = r - f
    before = np.concatenate([[0.0], np.cumsum(spans)])  # downtime before each failure
    k = np.searchsorted(f, edges, side="right") - 1  # the last failure at or before each edge
    inside = np.clip(edges - f[np.maximum(k, 0)], 0.0, spans[np.maximum(k, 0)]) if len(f) else 0
    down = np.where(k >= 0, before[np.maximum(k, 0)] + inside, 0.0)
    return np.diff(down)
