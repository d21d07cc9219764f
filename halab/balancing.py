"""Load balancing: policies that pick a server, and a queueing experiment that compares them.

A short tour::

    >>> from halab.balancing import make_policy, simulate, smooth_weighted_round_robin
    >>> from itertools import islice
    >>> "".join(islice(smooth_weighted_round_robin({"a": 5, "b": 1, "c": 1}), 7))
    'aabacaa'
    >>> policy = make_policy("least_connections", 3)
    >>> policy.pick([2, 0, 1])                      # requests in flight per server
    1
    >>> result = simulate("power_of_two", servers=10, load=0.9, requests=20_000, seed=1)
    >>> result.response_times.shape                 # one per request, in mean service times
    (20000,)

Vocabulary, and how each word is coded here:

* **server**: an index ``0 .. servers-1``.
* **active**: requests in flight at each server (waiting or in service), a sequence of ``int``.
* **healthy**: which servers may receive traffic, a sequence of ``bool`` (``None``: all).
* **policy**: an object whose :meth:`Policy.pick` returns one healthy server for the next
  request, and whose :meth:`Policy.observe` hears how long a finished request took. The same
  objects route simulated requests (:func:`simulate`) and real HTTP ones (``halab.live``).
* **load**: offered work over capacity, ``rho = lambda / sum(speeds)``, a ``float`` in (0, 1).
* **response time**: time from arrival to departure (waiting + service), in units of the mean
  service time of a speed-1 server.

The theory functions give the closed forms the simulation is checked against:
M/M/1 per server under random routing, E_n/M/1 per server under round robin, M/M/c with
Erlang C for one central queue (the bound no dispatcher beats), and Mitzenmacher's
supermarket-model fixed point for the power of two choices.
"""

from __future__ import annotations

import hashlib
import heapq
import math
import time
from bisect import bisect_left, bisect_right, insort
from collections.abc import Callable, Hashable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from halab.checks import MAX_COUNT, check_int, make_rng

# scipy is imported inside the theory functions that need it: the live balancer process
# imports this module for its policies, and scipy would add most of a second to its start.

__all__ = [
    "STALE_REFRESH",
    "simulate_stale",
    "stale_means",
    "POLICIES",
    "SERVICES",
    "ConsistentHash",
    "LeastConnections",
    "LeastResponseTime",
    "MISTAKES",
    "Policy",
    "PowerOfTwo",
    "ProportionalToConnections",
    "Random",
    "RoundRobin",
    "SimulationResult",
    "WeightedRoundRobin",
    "erlang_c",
    "expected_keys_moved",
    "keys_moved",
    "make_policy",
    "mm1_percentile",
    "mm1_response_time",
    "mmc_percentile",
    "mmc_response_time",
    "random_routing_percentile",
    "random_routing_response_time",
    "round_robin_percentile",
    "round_robin_response_time",
    "shares_from_weights",
    "simulate",
    "skewed_speeds",
    "smooth_weighted_round_robin",
    "split_loads",
    "supermarket_response_time",
    "supermarket_tail",
    "theory_response_time",
    "theory_survival",
    "workload",
]

# Peak EWMA constants, from Finagle's PeakEwma.scala and Balancers.p2cPeakEwma.
DECAY_TIME = 10.0  # clock units (seconds live, mean service times simulated); Finagle's default
PEAK_EWMA_PENALTY = float(2**47)  # Finagle: Long.MaxValue >> 16, the cost of an unprobed busy node

_BUFFER = 4096  # random numbers drawn per refill; pick() takes them from the buffer


# ----------------------------------------------------------------------------------------------
# Checking arguments


# The largest size each count may take, so that no call runs for minutes on a huge value.
LIMITS = {
    "servers": 100_000,
    "vnodes": 10_000,
    "keys": 1_000_000,
    "requests": 5_000_000,
    "samples": 100_000,
    "i": 100_000,
    "d": 1_000,
    "seed": None,  # any seed costs the same
}
MAX_RING_POINTS = 2_000_000  # servers x vnodes on a consistent-hash ring


def _check_int(name: str, value, low: int) -> int:
    return check_int(name, value, low, LIMITS.get(name, MAX_COUNT))


def _check_weights(weights, servers: int, name: str = "weights") -> list[float] | None:
    if weights is None:
        return None
    try:
        values = [float(w) for w in weights]
    except TypeError:
        raise ValueError(f"{name} must be a sequence of {servers} positive numbers") from None
    if len(values) != servers:
        raise ValueError(f"{name} must have one entry per server ({servers}), got {len(values)}")
    for w in values:
        if not (w > 0 and math.isfinite(w)):
            raise ValueError(f"{name} must be positive finite numbers, got {w!r}")
    # Keep integers exact (nginx's arithmetic is on integers).
    return [int(w) if float(w).is_integer() else w for w in values]


def _check_load(load) -> float:
    if not isinstance(load, (int, float, np.floating)) or not 0 < load < 1:
        raise ValueError(f"load must be in (0, 1), got {load!r}")
    return float(load)


def _check_quantile(q) -> float:
    if not isinstance(q, (int, float, np.floating)) or not 0 < q < 1:
        raise ValueError(f"q must be in (0, 1), got {q!r}")
    return float(q)


# ----------------------------------------------------------------------------------------------
# Policies


class Policy:
    """A way to pick a server for the next request.

    A policy sees only what a real balancer sees: requests in flight per server, the weights
    it was configured with, the latencies it observed, and which servers are healthy. It knows
    nothing of the simulator, so the same object can route real HTTP requests.

    Args:
        servers: how many servers, indexed ``0 .. servers-1``.
        weights: positive numbers, one per server (default all 1). Policies that do not use
            weights ignore them.
        seed: seed for this policy's random numbers (used when ``rng`` is not given).
        rng: a :class:`numpy.random.Generator`; takes precedence over ``seed``.
        **options: policy-specific options (see each class).

    Raises:
        ValueError: ``servers`` < 1, bad weights, or an option the policy does not know.
    """

    name: str = "policy"
    options: tuple[str, ...] = ()

    def __init__(self, servers: int, *, weights=None, seed=None, rng=None, **options):
        self.servers = _check_int("servers", servers, 1)
        checked = _check_weights(weights, self.servers)
        self.weighted = checked is not None and len(set(checked)) > 1
        self.weights = checked if checked is not None else [1] * self.servers
        if rng is None:
            rng = make_rng(seed)
        elif not isinstance(rng, np.random.Generator):
            raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
        self.rng = rng
        self._buffer: list[float] = []
        self._cursor = 0
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            known = ", ".join(self.options) or "none"
            raise ValueError(f"unknown option(s) for {self.name}: {unknown}; known: {known}")

    def pick(self, active, healthy=None, key=None) -> int:
        """Return the server for the next request.

        Args:
            active: requests in flight per server right now, ``len(active) == servers``.
            healthy: optional booleans, one per server; an unhealthy server is never returned.
            key: optional hashable request key (only :class:`ConsistentHash` uses it).

        Raises:
            LookupError: no server is healthy.
        """
        raise NotImplementedError

    def observe(self, server: int, latency: float) -> None:
        """Hear that a request to ``server`` completed after ``latency``.

        ``latency`` is in seconds (live) or mean service times (simulated). The base class
        ignores it; :class:`LeastResponseTime` keeps its moving average here.
        """

    # Helpers shared by the policies. -----------------------------------------------------

    def _uniform(self) -> float:
        """One uniform number in [0, 1), taken from a buffer refilled from ``self.rng``."""
        if self._cursor >= len(self._buffer):
            self._buffer = self.rng.random(_BUFFER).tolist()
            self._cursor = 0
        u = self._buffer[self._cursor]
        self._cursor += 1
        return u

    def _healthy_list(self, healthy) -> list[int]:
        candidates = [i for i in range(self.servers) if healthy[i]]
        if not candidates:
            raise LookupError("no healthy server")
        return candidates

    def __repr__(self) -> str:
        return f"{type(self).__name__}(servers={self.servers})"


class Random(Policy):
    """Pick a server at random, in proportion to its weight (uniformly by default).

    Each request is an independent draw, so short runs are uneven: with 10 servers, 10
    requests land one on each server with probability 10!/10**10, about 0.04 %.
    """

    name = "random"

    def __init__(self, servers, **kw):
        super().__init__(servers, **kw)
        self._cumulative = list(np.cumsum(self.weights, dtype=float))

    def pick(self, active, healthy=None, key=None) -> int:
        if healthy is None or all(healthy):
            if not self.weighted:
                return int(self._uniform() * self.servers)
            total = self._cumulative[-1]
            return min(bisect_right(self._cumulative, self._uniform() * total), self.servers - 1)
        candidates = self._healthy_list(healthy)
        if not self.weighted:
            return candidates[int(self._uniform() * len(candidates))]
        total = sum(self.weights[i] for i in candidates)
        target = self._uniform() * total
        for i in candidates:
            target -= self.weights[i]
            if target < 0:
                return i
        return candidates[-1]


class RoundRobin(Policy):
    """Send requests to servers in turn, 0, 1, ..., servers-1, 0, ..., skipping unhealthy ones.

    Weights are ignored; :class:`WeightedRoundRobin` is the weight-aware version.
    """

    name = "round_robin"

    def __init__(self, servers, **kw):
        super().__init__(servers, **kw)
        self._next = 0

    def pick(self, active, healthy=None, key=None) -> int:
        i = self._next
        n = self.servers
        if healthy is not None:
            for _ in range(n):
                if healthy[i]:
                    break
                i = i + 1 if i + 1 < n else 0
            else:
                raise LookupError("no healthy server")
        self._next = i + 1 if i + 1 < n else 0
        return i


class WeightedRoundRobin(Policy):
    """nginx's smooth weighted round robin.

    Each pick adds every healthy server's weight to its ``current`` score, chooses the
    highest score (ties to the lowest index), and subtracts the total weight from the winner.
    Over a cycle of ``sum(weights)`` picks each server is chosen exactly ``weight`` times, and
    the picks of a heavy server are spread out: weights a=5, b=1, c=1 give a a b a c a a, not
    a a a a a b c.

    Source: nginx, src/http/ngx_http_upstream_round_robin.c, ngx_http_upstream_get_peer().
    Older copies of that file kept sending to one peer until its weight was used up
    (``current_weight--``), which gave c b a a a a a (the commit "Upstream: smooth weighted
    round-robin balancing" quotes it); LVS's weighted round robin gives a a a a a b c. Both
    send a run of five to a. nginx's ``effective_weight`` (lowered
    after failures) is left out: here health is the caller's ``healthy`` argument, and an
    unhealthy server takes no part in the round, as a ``down`` peer does in nginx.
    """

    name = "weighted_round_robin"

    def __init__(self, servers, **kw):
        super().__init__(servers, **kw)
        self.current = [0] * self.servers

    def pick(self, active, healthy=None, key=None) -> int:
        current = self.current
        weights = self.weights
        best = -1
        best_score = 0
        total = 0
        for i in range(self.servers):
            if healthy is not None and not healthy[i]:
                continue
            score = current[i] + weights[i]
            current[i] = score
            total += weights[i]
            if best < 0 or score > best_score:
                best, best_score = i, score
        if best < 0:
            raise LookupError("no healthy server")
        current[best] -= total
        return best


class LeastConnections(Policy):
    """Send the request to the server with the fewest requests in flight (join the shortest queue).

    With weights, the server with the smallest ``active / weight`` wins (nginx's least_conn
    compares ``conns * weight`` crosswise the same way). Ties go round robin: the scan starts
    one past the last winner, so equal servers take turns instead of server 0 taking all.
    """

    name = "least_connections"

    def __init__(self, servers, **kw):
        super().__init__(servers, **kw)
        self._start = 0

    def pick(self, active, healthy=None, key=None) -> int:
        n = self.servers
        weights = self.weights
        best = -1
        i = self._start
        for _ in range(n):
            if healthy is None or healthy[i]:
                if best < 0:
                    best = i
                elif self.weighted:
                    if active[i] * weights[best] < active[best] * weights[i]:
                        best = i
                elif active[i] < active[best]:
                    best = i
            i = i + 1 if i + 1 < n else 0
        if best < 0:
            raise LookupError("no healthy server")
        self._start = best + 1 if best + 1 < n else 0
        return best


class PowerOfTwo(Policy):
    """Pick two different servers at random and send the request to the less loaded one.

    Load is requests in flight (divided by weight when weights differ); a tie goes to the
    first of the two draws, which is itself random.

    Source: M. Mitzenmacher, "The Power of Two Choices in Randomized Load Balancing",
    IEEE Trans. Parallel and Distributed Systems 12(10), 2001. The paper samples with
    replacement; balancers (Finagle's P2C, Envoy, Linkerd) draw two distinct servers. The two
    agree as the number of servers grows.
    """

    name = "power_of_two"

    def pick(self, active, healthy=None, key=None) -> int:
        if healthy is None:
            n = self.servers
            if n == 1:
                return 0
            a = int(self._uniform() * n)
            b = a + 1 + int(self._uniform() * (n - 1))
            if b >= n:
                b -= n
        else:
            candidates = self._healthy_list(healthy)
            m = len(candidates)
            if m == 1:
                return candidates[0]
            j = int(self._uniform() * m)
            k = j + 1 + int(self._uniform() * (m - 1))
            if k >= m:
                k -= m
            a, b = candidates[j], candidates[k]
        if self.weighted:
            return b if active[b] * self.weights[a] < active[a] * self.weights[b] else a
        return b if active[b] < active[a] else a


class LeastResponseTime(Policy):
    """Pick the server with the lowest peak-EWMA cost: ``ewma(latency) * (active + 1)``.

    The moving average is "peak-sensitive": a latency above the average replaces it at once,
    a lower one pulls it down with weight ``1 - exp(-dt / decay)``, where ``dt`` is the time
    since the last update; every pick first decays the cost towards zero the same way. A
    server that has no history yet but has requests in flight costs ``PENALTY + active``, so
    fresh servers are probed one request at a time.

    Source: Finagle, finagle-core/.../loadbalancer/PeakEwma.scala (Metric.observe, Metric.get),
    default decay 10 s from Balancers.p2cPeakEwma; Linkerd's proxy uses the same metric.

    Options:
        decay: the averaging time constant, in clock units (default 10).
        clock: a callable returning the current time (default :func:`time.monotonic`);
            :func:`simulate` swaps in the simulated clock for the length of a run.
        choices: ``None`` (default) scans every server for the lowest cost; ``2`` compares two
            random servers, as Finagle's and Linkerd's P2C balancers do.
    """

    name = "least_response_time"
    options = ("decay", "clock", "choices")

    def __init__(self, servers, *, decay=DECAY_TIME, clock=None, choices=None, **kw):
        super().__init__(servers, **kw)
        if not isinstance(decay, (int, float)) or not decay > 0:
            raise ValueError(f"decay must be > 0, got {decay!r}")
        if choices is not None and choices != 2:
            raise ValueError(f"choices must be None or 2, got {choices!r}")
        self.decay = float(decay)
        self.choices = choices
        self.clock: Callable[[], float] = clock if clock is not None else time.monotonic
        now = self.clock()
        self.cost = [0.0] * self.servers
        self.stamp = [now] * self.servers

    def _update(self, i: int, rtt: float, now: float) -> None:
        # Finagle's Metric.observe: peaks replace the average, lower values decay into it.
        cost = self.cost[i]
        if rtt > cost:
            self.cost[i] = rtt
        else:
            w = math.exp(-max(now - self.stamp[i], 0.0) / self.decay)
            self.cost[i] = cost * w + rtt * (1.0 - w)
        self.stamp[i] = now

    def load(self, i: int, active_i: int, now: float) -> float:
        """The cost of sending one more request to server ``i`` at time ``now``."""
        self._update(i, 0.0, now)
        cost = self.cost[i]
        if cost == 0.0 and active_i != 0:
            return PEAK_EWMA_PENALTY + active_i
        return cost * (active_i + 1)

    def pick(self, active, healthy=None, key=None) -> int:
        now = self.clock()
        if self.choices == 2:
            candidates = range(self.servers) if healthy is None else self._healthy_list(healthy)
            m = len(candidates)
            if m == 1:
                return candidates[0]
            j = int(self._uniform() * m)
            k = j + 1 + int(self._uniform() * (m - 1))
            if k >= m:
                k -= m
            a, b = candidates[j], candidates[k]
            return b if self.load(b, active[b], now) < self.load(a, active[a], now) else a
        # self.load(i, active[i], now) for every server, inlined: servers whose cost was last
        # decayed at the same time (all but those observed since the last pick) share one
        # decay factor, so a pick takes one exp, not one per server; the same floats result.
        cost, stamp, decay = self.cost, self.stamp, self.decay
        best = -1
        best_cost = math.inf
        last_stamp, w = None, 1.0
        for i in range(self.servers):
            if healthy is not None and not healthy[i]:
                continue
            s = stamp[i]
            if s != last_stamp:
                w = math.exp(-max(now - s, 0.0) / decay)
                last_stamp = s
            c = cost[i] * w + 0.0  # _update with rtt 0 (costs are >= 0: never a new peak)
            cost[i] = c
            stamp[i] = now
            a = active[i]
            c = PEAK_EWMA_PENALTY + a if c == 0.0 and a != 0 else c * (a + 1)
            if best < 0 or c < best_cost:
                best, best_cost = i, c
        if best < 0:
            raise LookupError("no healthy server")
        return best

    def observe(self, server: int, latency: float) -> None:
        self._update(server, max(float(latency), 0.0), self.clock())


@lru_cache(maxsize=1 << 16)
def _hash64(data: str) -> int:
    return int.from_bytes(hashlib.blake2b(data.encode(), digest_size=8).digest(), "big")


def _key_text(key: Hashable) -> str:
    if isinstance(key, bytes):
        return key.hex()
    return key if isinstance(key, str) else repr(key)


class ConsistentHash(Policy):
    """Send equal keys to the same server, and move few keys when servers come or go.

    ``method="ring"`` (default) places ``vnodes`` points per server (scaled by weight) on a
    64-bit hash ring; a key goes to the first point clockwise from its hash, skipping the
    points of unhealthy servers. ``method="rendezvous"`` gives a key to the healthy server
    with the highest ``hash(server, key)``. Either way, when a server leaves only its own keys
    move (to the servers that follow), and when one joins it takes keys only from others.
    Hashes are BLAKE2b (64 bits), so placements are the same in every process and on every run.
    A request without a key (``key=None``) is sent round robin.

    Sources: D. Karger et al., "Consistent Hashing and Random Trees", STOC 1997 (the ring,
    virtual nodes); D. Thaler and C. Ravishankar, "Using Name-Based Mappings to Increase Hit
    Rates", IEEE/ACM Trans. Networking 6(1), 1998 (rendezvous, highest random weight).
    """

    name = "consistent_hash"
    options = ("vnodes", "method")

    def __init__(self, servers, *, vnodes=100, method="ring", **kw):
        super().__init__(servers, **kw)
        self.vnodes = _check_int("vnodes", vnodes, 1)
        if self.servers * self.vnodes > MAX_RING_POINTS:
            raise ValueError(
                f"vnodes must put at most {MAX_RING_POINTS:.0e} points on the ring "
                f"({self.servers} servers), got {self.vnodes}"
            )
        if method not in ("ring", "rendezvous"):
            raise ValueError(f"method must be 'ring' or 'rendezvous', got {method!r}")
        self.method = method
        self._fallback = RoundRobin(self.servers)
        if method == "ring":
            mean = sum(self.weights) / self.servers
            points = []
            for s in range(self.servers):
                count = max(1, round(self.vnodes * self.weights[s] / mean))
                points.extend((_hash64(f"server-{s}#{v}"), s) for v in range(count))
            points.sort()
            self._points = [p for p, _ in points]
            self._owners = [s for _, s in points]

    def pick(self, active, healthy=None, key=None) -> int:
        if key is None:
            return self._fallback.pick(active, healthy)
        text = _key_text(key)
        if self.method == "rendezvous":
            best, best_score = -1, -1
            for s in range(self.servers):
                if healthy is not None and not healthy[s]:
                    continue
                score = _hash64(f"server-{s}|{text}")
                if score > best_score:
                    best, best_score = s, score
            if best < 0:
                raise LookupError("no healthy server")
            return best
        owners = self._owners
        m = len(owners)
        j = bisect_right(self._points, _hash64(text))
        if j == m:
            j = 0
        if healthy is None:
            return owners[j]
        for _ in range(m):
            s = owners[j]
            if healthy[s]:
                return s
            j = j + 1 if j + 1 < m else 0
        raise LookupError("no healthy server")


class ProportionalToConnections(Policy):
    """A common mistake, kept for the lesson: share traffic in proportion to requests in flight.

    It reads "least connections" backwards: a server's chance is ``active[i] / sum(active)``
    (uniform while every server is idle), so the busiest server gets the most new work and a
    busy server only gets busier. Not in :data:`POLICIES`; see :data:`MISTAKES`.
    """

    name = "proportional_to_connections"

    def pick(self, active, healthy=None, key=None) -> int:
        candidates = list(range(self.servers)) if healthy is None else self._healthy_list(healthy)
        total = sum(active[i] for i in candidates)
        if total == 0:
            return candidates[int(self._uniform() * len(candidates))]
        target = self._uniform() * total
        for i in candidates:
            target -= active[i]
            if target < 0:
                return i
        return candidates[-1]


POLICIES: dict[str, type[Policy]] = {
    cls.name: cls
    for cls in (
        Random,
        RoundRobin,
        WeightedRoundRobin,
        LeastConnections,
        LeastResponseTime,
        PowerOfTwo,
        ConsistentHash,
    )
}
ALIASES = {"join_shortest_queue": "least_connections", "peak_ewma": "least_response_time"}
#: Deliberately wrong policies that the lesson measures; never use them to route.
MISTAKES: dict[str, type[Policy]] = {ProportionalToConnections.name: ProportionalToConnections}


def shares_from_weights(weights) -> np.ndarray:
    """The fraction of traffic each server gets when it is shared by weight: ``w / sum(w)``."""
    w = np.asarray(_check_weights(weights, len(weights)), dtype=float)
    return w / w.sum()


def split_loads(shares, load: float, speeds) -> np.ndarray:
    """Each server's utilization when a Poisson stream is split with fixed ``shares``.

    Server ``i`` gets arrival rate ``shares[i] * lambda`` with ``lambda = load * sum(speeds)``,
    so its utilization is ``shares[i] * lambda / speeds[i]``; at 1 or more its queue grows
    without bound.

    Args:
        shares: fraction of traffic per server, non-negative, summing to 1.
        load: ``lambda / sum(speeds)``, in (0, 1).
        speeds: service rate per server (positive).

    Raises:
        ValueError: shares that do not sum to 1 (traffic would be lost or invented), a
            negative share, or a length that does not match ``speeds``.
    """
    mu = _speeds_or_ones(speeds)
    load = _check_load(load)
    p = np.asarray(shares, dtype=float)
    if p.shape != mu.shape:
        raise ValueError(f"shares must have one entry per server ({len(mu)}), got {p.size}")
    if np.any(p < 0) or not np.all(np.isfinite(p)):
        raise ValueError(f"shares must be non-negative, got {p.tolist()}")
    if abs(p.sum() - 1.0) > 1e-9:
        raise ValueError(f"shares must sum to 1, got {p.sum():.6g}")
    return p * load * mu.sum() / mu


def skewed_speeds(servers: int, skew: float) -> np.ndarray:
    """Speeds of ``servers`` servers where the last one is slower: ``1 - skew`` instead of 1.

    Args:
        servers: how many servers, >= 1.
        skew: how much slower the last server is, in [0, 1).
    """
    servers = _check_int("servers", servers, 1)
    if not isinstance(skew, (int, float, np.floating)) or not 0 <= skew < 1:
        raise ValueError(f"skew must be in [0, 1), got {skew!r}")
    speeds = np.ones(servers)
    speeds[-1] = 1.0 - skew
    return speeds


def make_policy(name: str, servers: int, **kw) -> Policy:
    """Build the policy registered under ``name`` for ``servers`` servers.

    Args:
        name: a key of :data:`POLICIES` (or an alias: ``join_shortest_queue``, ``peak_ewma``).
        servers: how many servers.
        **kw: passed to the policy (``weights``, ``seed``, ``rng``, options).

    Raises:
        ValueError: unknown name (the message lists the known ones), or bad arguments.
    """
    key = ALIASES.get(name, name) if isinstance(name, str) else name
    if key not in POLICIES:
        raise ValueError(f"unknown policy {name!r}: name must be one of {', '.join(POLICIES)}")
    return POLICIES[key](servers, **kw)


def smooth_weighted_round_robin(weights: Mapping[str, float]) -> Iterator[str]:
    """An endless iterator of names in nginx's smooth weighted round robin order.

    Args:
        weights: name -> positive weight; ties go to the name that comes first.

    Example: ``{"a": 5, "b": 1, "c": 1}`` yields a a b a c a a, then repeats.

    Raises:
        ValueError: empty mapping or a weight that is not positive.
    """
    if not isinstance(weights, Mapping) or not weights:
        raise ValueError("weights must be a non-empty mapping of name -> positive weight")
    names = list(weights)
    policy = WeightedRoundRobin(len(names), weights=[weights[k] for k in names])
    zeros = [0] * len(names)

    def cycle() -> Iterator[str]:
        while True:
            yield names[policy.pick(zeros)]

    return cycle()


def _assignments(keys: int, servers: int, method: str, vnodes: int, healthy=None) -> list[int]:
    if method == "modulo":
        return [_hash64(f"key-{k}") % servers for k in range(keys)]
    policy = ConsistentHash(servers, vnodes=vnodes, method=method)
    return [policy.pick(None, healthy, f"key-{k}") for k in range(keys)]


def keys_moved(
    servers: int, *, keys: int = 10_000, change: str = "remove", method: str = "ring", vnodes=100
) -> int:
    """How many of ``keys`` keys change server when one server leaves or joins.

    Args:
        servers: servers before the change.
        keys: how many distinct keys (``"key-0"``, ``"key-1"``, ...).
        change: ``"remove"`` (the last server leaves) or ``"add"`` (server ``servers`` joins).
        method: ``"modulo"`` (``hash % n``), ``"ring"`` or ``"rendezvous"``.
        vnodes: points per server on the ring.

    Returns:
        The number of keys whose server differs before and after.
    """
    servers = _check_int("servers", servers, 2 if change == "remove" else 1)
    keys = _check_int("keys", keys, 1)
    vnodes = _check_int("vnodes", vnodes, 1)
    if servers * vnodes > MAX_RING_POINTS:
        raise ValueError(
            f"vnodes must put at most {MAX_RING_POINTS:.0e} points on the ring "
            f"({servers} servers), got {vnodes}"
        )
    if change not in ("remove", "add"):
        raise ValueError(f"change must be 'remove' or 'add', got {change!r}")
    if method not in ("modulo", "ring", "rendezvous"):
        raise ValueError(f"method must be 'modulo', 'ring' or 'rendezvous', got {method!r}")
    before = _assignments(keys, servers, method, vnodes)
    if change == "add":
        after = _assignments(keys, servers + 1, method, vnodes)
    elif method == "modulo":
        after = _assignments(keys, servers - 1, method, vnodes)
    else:
        healthy = [True] * (servers - 1) + [False]
        after = _assignments(keys, servers, method, vnodes, healthy)
    return sum(a != b for a, b in zip(before, after, strict=True))


def expected_keys_moved(servers: int, *, keys: int = 10_000, change="remove", method="ring"):
    """The expected value of :func:`keys_moved` for uniformly hashed keys.

    ``hash % n`` keeps a key only when ``h % n == h % (n + 1)``, which holds for ``n`` of every
    ``n (n + 1)`` hash values, so ``n / (n + 1)`` of keys move between ``n`` and ``n + 1``
    servers. Consistent hashing moves only the leaving (or joining) server's share:
    ``1 / n`` on removal from ``n``, ``1 / (n + 1)`` on adding to ``n``.
    """
    servers = _check_int("servers", servers, 2 if change == "remove" else 1)
    keys = _check_int("keys", keys, 1)
    small = servers - 1 if change == "remove" else servers  # the smaller of the two sizes
    big = small + 1
    if method == "modulo":
        return keys * small / big
    if method in ("ring", "rendezvous"):
        return keys / big
    raise ValueError(f"method must be 'modulo', 'ring' or 'rendezvous', got {method!r}")


# ----------------------------------------------------------------------------------------------
# Theory: closed forms, all with mean service time 1 at speed 1


def _speeds_or_ones(speeds, servers: int | None = None) -> np.ndarray:
    """Checked speeds as an array; all ones for ``servers`` servers when ``speeds`` is None."""
    if speeds is None:
        return np.ones(_check_int("servers", servers, 1))
    if isinstance(speeds, (str, bytes)) or not hasattr(speeds, "__len__"):
        raise ValueError(f"speeds must be a sequence of positive numbers, got {speeds!r}")
    checked = _check_weights(speeds, len(speeds), "speeds")
    if not checked:
        raise ValueError("speeds must not be empty")
    if servers is not None and len(checked) != servers:
        raise ValueError(f"speeds must have one entry per server ({servers}), got {len(checked)}")
    return np.asarray(checked, dtype=float)


def mm1_response_time(load: float) -> float:
    """Mean response time of an M/M/1 queue, ``1 / (1 - rho)`` service times."""
    return 1.0 / (1.0 - _check_load(load))


def mm1_percentile(load: float, q: float) -> float:
    """The q-quantile of M/M/1 response time: it is exponential with rate ``1 - rho``.

    Source: L. Kleinrock, Queueing Systems Vol. 1 (1975), eq. 3.28 (sojourn time density).
    """
    return -math.log1p(-_check_quantile(q)) / (1.0 - _check_load(load))


def _scv(service: str) -> float:
    if service not in SERVICES:
        raise ValueError(f"service must be one of {', '.join(SERVICES)}, got {service!r}")
    return SERVICES[service]


def random_routing_response_time(
    load: float, *, servers: int = 10, speeds=None, service: str = "exponential"
) -> float:
    """Mean response time when each request goes to a uniformly random server.

    Random splitting of a Poisson stream gives each server a Poisson stream of rate
    ``lambda / n``: each server is an M/G/1 queue, whose mean response time is the
    Pollaczek-Khinchine formula ``E[S] + lambda_i E[S^2] / (2 (1 - rho_i))`` (Kleinrock Vol. 1,
    eq. 5.101); with exponential service this is M/M/1, ``1 / (mu_i - lambda_i)``.

    Args:
        load: ``lambda / sum(speeds)``, in (0, 1).
        servers: how many servers (ignored when ``speeds`` is given).
        speeds: service rate of each server relative to 1 (default all 1).
        service: a key of :data:`SERVICES`; sets the squared coefficient of variation.

    Returns:
        The mean over requests, in mean service times; ``inf`` if a server is overloaded.
    """
    load = _check_load(load)
    mu = _speeds_or_ones(speeds, None if speeds is not None else servers)
    scv = _scv(service)
    lam_i = load * mu.sum() / len(mu)
    rho = lam_i / mu
    if np.any(rho >= 1):
        return math.inf
    es = 1.0 / mu
    es2 = (1.0 + scv) * es**2
    per_server = es + lam_i * es2 / (2.0 * (1.0 - rho))
    return float(per_server.mean())


def _mixture_quantile(rates: np.ndarray, probs: np.ndarray, q: float) -> float:
    """The q-quantile of a mixture of exponentials with the given rates and probabilities."""

    def survival(t):
        return float(np.dot(probs, np.exp(-rates * t))) - (1.0 - q)

    hi = -math.log1p(-q) / rates.min()
    from scipy import optimize

    return float(optimize.brentq(survival, 0.0, hi * 1.0000001 + 1e-12, xtol=1e-13, rtol=1e-13))


def random_routing_percentile(load: float, q: float, *, servers: int = 10, speeds=None) -> float:
    """The q-quantile of response time under uniform random routing, exponential service.

    Server ``i`` is M/M/1 with rates ``lambda / n`` and ``speeds[i]``, so a request's response
    time is exponential with rate ``speeds[i] - lambda / n`` with probability ``1 / n``; the
    quantile of that mixture is found by root finding.
    """
    load, q = _check_load(load), _check_quantile(q)
    mu = _speeds_or_ones(speeds, None if speeds is not None else servers)
    lam_i = load * mu.sum() / len(mu)
    if np.any(lam_i >= mu):
        return math.inf
    return _mixture_quantile(mu - lam_i, np.full(len(mu), 1.0 / len(mu)), q)


def _gm1_sigma(lam: float, stages: int, mu: float) -> float:
    """Root in (0, 1) of ``sigma = A*(mu (1 - sigma))`` for Erlang-``stages`` interarrivals.

    The interarrival time at one server under round robin over ``stages`` servers is the sum
    of ``stages`` exponentials of rate ``lam``, with Laplace transform ``(lam/(lam+s))**stages``.
    Source: Kleinrock Vol. 1, section 6.4 (G/M/1, eq. 6.21).
    """

    def h(sigma):
        return (lam / (lam + mu * (1.0 - sigma))) ** stages - sigma

    if stages == 1:
        return lam / mu
    # h is convex with h(0) > 0 and h(1) = 0, rising through 1 when stable: the wanted root
    # lies left of h's minimum.
    from scipy import optimize

    low = optimize.minimize_scalar(h, bounds=(0.0, 1.0), method="bounded", options={"xatol": 1e-12})
    return float(optimize.brentq(h, 0.0, low.x, xtol=1e-15, rtol=1e-15))


def _round_robin_rates(load, servers, speeds) -> np.ndarray | None:
    load = _check_load(load)
    servers = _check_int("servers", servers, 1)
    mu = _speeds_or_ones(speeds, servers)
    lam = load * mu.sum()
    if np.any(lam / servers >= mu):
        return None
    return np.array([mu_i * (1.0 - _gm1_sigma(lam, servers, mu_i)) for mu_i in mu])


def round_robin_response_time(load: float, servers: int = 10, *, speeds=None) -> float:
    """Mean response time under round robin with exponential service: E_n/M/1 per server.

    Round robin gives server ``i`` every n-th request of a Poisson stream, so its interarrival
    times are Erlang-n; a G/M/1 queue's response time is exponential with rate
    ``mu (1 - sigma)`` (Kleinrock Vol. 1, eq. 6.30). Returns ``inf`` if a server is overloaded
    (``lambda / n >= speeds[i]``): round robin ignores speed.
    """
    rates = _round_robin_rates(load, servers, speeds)
    return math.inf if rates is None else float(np.mean(1.0 / rates))


def round_robin_percentile(load: float, q: float, servers: int = 10, *, speeds=None) -> float:
    """The q-quantile of response time under round robin (E_n/M/1 per server, mixed)."""
    q = _check_quantile(q)
    rates = _round_robin_rates(load, servers, speeds)
    if rates is None:
        return math.inf
    return _mixture_quantile(rates, np.full(len(rates), 1.0 / len(rates)), q)


def erlang_c(servers: int, load: float) -> float:
    """Erlang C: the probability that a request waits in an M/M/c queue.

    Computed from Erlang B, ``B = Poisson.pmf(c; a) / Poisson.cdf(c; a)`` with offered traffic
    ``a = c rho``, then ``C = B / (1 - rho (1 - B))`` (Kleinrock Vol. 1, eq. 3.40;
    M. Harchol-Balter, Performance Modeling and Design of Computer Systems, 2013, ch. 14).
    """
    c = _check_int("servers", servers, 1)
    rho = _check_load(load)
    a = c * rho
    from scipy import stats

    b = float(stats.poisson.pmf(c, a) / stats.poisson.cdf(c, a))
    return b / (1.0 - rho * (1.0 - b))


def mmc_response_time(servers: int, load: float) -> float:
    """Mean response time of M/M/c (one central FIFO queue feeding ``servers`` servers).

    ``1 + C / (c (1 - rho))`` service times. No dispatcher that sends each request to a
    server's own queue at arrival does better: the central queue never leaves a server idle
    while a request waits.
    """
    c = _check_int("servers", servers, 1)
    return 1.0 + erlang_c(c, load) / (c * (1.0 - _check_load(load)))


def mmc_percentile(servers: int, load: float, q: float) -> float:
    """The q-quantile of M/M/c response time.

    Response = service (exponential, rate 1) + wait, where the wait is 0 with probability
    ``1 - C`` and otherwise exponential with rate ``theta = c (1 - rho)``. So
    ``P(T > t) = e^-t + C (e^-theta t - e^-t) / (1 - theta)`` (``e^-t (1 + C t)`` when
    ``theta = 1``), solved for t by root finding.
    """
    c = _check_int("servers", servers, 1)
    load, q = _check_load(load), _check_quantile(q)
    pw = erlang_c(c, load)
    theta = c * (1.0 - load)

    def survival(t):
        if abs(1.0 - theta) < 1e-9:
            tail = math.exp(-t) * (1.0 + pw * t)
        else:
            tail = math.exp(-t) + pw * (math.exp(-theta * t) - math.exp(-t)) / (1.0 - theta)
        return tail - (1.0 - q)

    hi = -math.log1p(-q) / min(1.0, theta) * 2.0 + 1.0
    from scipy import optimize

    return float(optimize.brentq(survival, 0.0, hi, xtol=1e-13, rtol=1e-13))


def supermarket_tail(load: float, i: int, d: int = 2) -> float:
    """Fraction of queues with at least ``i`` requests in the supermarket model's fixed point.

    ``s_i = lambda ** ((d**i - 1) / (d - 1))`` for ``d >= 2`` and ``lambda ** i`` for ``d = 1``
    (M/M/1). Source: Mitzenmacher 2001, Theorem 3 (the fixed point pi_i).
    """
    load = _check_load(load)
    i = _check_int("i", i, 0)
    d = _check_int("d", d, 1)
    exponent = i if d == 1 else (d**i - 1) // (d - 1)  # a whole number: d**i - 1 = (d - 1) * sum
    if exponent.bit_length() > 1100:  # beyond a float's range, and load < 1: the tail is 0
        return 0.0
    return load ** float(exponent)


def supermarket_response_time(load: float, d: int = 2) -> float:
    """Mean time in system of the supermarket model as the number of servers grows without bound.

    ``T_d(lambda) = sum_{i>=1} lambda ** ((d**i - d) / (d - 1))`` for ``d >= 2`` (Mitzenmacher,
    "The Power of Two Choices in Randomized Load Balancing", IEEE TPDS 12(10), 2001, the
    expected time corollary to Theorem 3), and ``1 / (1 - lambda)`` for ``d = 1``. Each request
    samples ``d`` queues and joins the shortest; service is exponential with mean 1.
    """
    load = _check_load(load)
    d = _check_int("d", d, 1)
    if d == 1:
        return 1.0 / (1.0 - load)
    total, i = 0.0, 1
    while True:
        term = load ** ((d**i - d) / (d - 1))
        total += term
        if term < 1e-17 * total:
            return total
        i += 1


def theory_survival(
    policy: str,
    t,
    *,
    servers: int = 10,
    load: float = 0.9,
    speeds=None,
) -> np.ndarray | None:
    """``P(response time > t)`` from the closed forms, with exponential service; None if none.

    * ``random``: a mixture over servers of M/M/1 tails ``exp(-(speeds[i] - lambda/n) t)``.
    * ``round_robin``: a mixture of E_n/M/1 tails ``exp(-speeds[i] (1 - sigma_i) t)``.
    * ``central_queue``: the M/M/c tail of :func:`mmc_percentile` (equal speeds only).

    An overloaded server (no steady state) makes the whole tail 1.

    Args:
        policy: ``"random"``, ``"round_robin"`` or ``"central_queue"``; others give None.
        t: times, in mean service times (scalar or array).
        servers, load, speeds: as in :func:`simulate`.
    """
    t = np.asarray(t, dtype=float)
    load = _check_load(load)
    mu = _speeds_or_ones(speeds, None if speeds is not None else servers)
    n = len(mu)
    if policy == "random":
        rates = mu - load * mu.sum() / n
        if np.any(rates <= 0):
            return np.ones_like(t)
    elif policy == "round_robin":
        rates = _round_robin_rates(load, n, mu)
        if rates is None:
            return np.ones_like(t)
    elif policy == "central_queue":
        if len(set(mu.tolist())) != 1:
            return None
        pw, theta = erlang_c(n, load), n * (1.0 - load)
        if abs(1.0 - theta) < 1e-9:
            return np.exp(-t) * (1.0 + pw * t)
        return np.exp(-t) + pw * (np.exp(-theta * t) - np.exp(-t)) / (1.0 - theta)
    else:
        return None
    return np.exp(-np.multiply.outer(t, rates)).mean(axis=-1)


def theory_response_time(
    policy: str,
    *,
    servers: int = 10,
    load: float = 0.9,
    speeds=None,
    service: str = "exponential",
    q: float | None = None,
) -> float:
    """The closed form for a policy's mean (or q-quantile) response time, ``nan`` where none.

    * ``random``: M/G/1 per server (mean), M/M/1 mixture (quantile).
    * ``round_robin``: E_n/M/1 per server (exponential service only).
    * ``power_of_two``: the supermarket limit, many equal servers, exponential service, mean.
    * ``central_queue``: M/M/c, the bound no dispatcher beats (equal speeds, exponential).

    Other policies (least connections, least response time, consistent hashing) have no
    simple closed form; they return ``nan``.
    """
    homogeneous = speeds is None or len(set(float(s) for s in speeds)) == 1
    exponential = service == "exponential"
    _scv(service)
    if policy == "random":
        if q is None:
            return random_routing_response_time(
                load, servers=servers, speeds=speeds, service=service
            )
        if exponential:
            return random_routing_percentile(load, q, servers=servers, speeds=speeds)
    elif policy == "round_robin" and exponential:
        if q is None:
            return round_robin_response_time(load, servers, speeds=speeds)
        return round_robin_percentile(load, q, servers, speeds=speeds)
    elif policy == "power_of_two" and exponential and homogeneous and q is None:
        return supermarket_response_time(load, 2)
    elif policy == "central_queue" and exponential and homogeneous:
        if q is None:
            return mmc_response_time(servers, load)
        return mmc_percentile(servers, load, q)
    elif policy not in POLICIES and policy != "central_queue":
        raise ValueError(
            f"unknown policy {policy!r}; known policies: {', '.join(POLICIES)}, central_queue"
        )
    return math.nan


# ----------------------------------------------------------------------------------------------
# Simulation

#: Service-time distributions (mean 1) and their squared coefficient of variation.
SERVICES: dict[str, float] = {
    "exponential": 1.0,
    "deterministic": 0.0,
    "lognormal": math.e - 1.0,  # sigma = 1: heavier tail than exponential
}


@dataclass(frozen=True, eq=False)
class SimulationResult:
    """What one :func:`simulate` run produced. Times are in mean service times.

    Attributes:
        policy: the policy's name.
        servers, load, seed, service: the run's parameters.
        speeds: service rate of each server, shape ``(servers,)``.
        arrival_times: arrival time of every request, shape ``(requests,)``.
        departure_times: when each request finished (or was lost), shape ``(requests,)``.
        server: the server each request was sent to (-1 if none was healthy).
        lost: ``True`` for requests lost to a failed server.
        response_times: departure minus arrival of the completed requests, in arrival order.
        counts: requests sent to each server, shape ``(servers,)``.
        utilization: fraction of the run each server was busy, shape ``(servers,)``.
        sample_times: evenly spaced times over the run, shape ``(samples,)``.
        queue_lengths: requests at each server (waiting + in service) at ``sample_times``,
            shape ``(servers, samples)``.
    """

    policy: str
    servers: int
    load: float
    seed: int
    service: str
    speeds: np.ndarray
    arrival_times: np.ndarray
    departure_times: np.ndarray
    server: np.ndarray
    lost: np.ndarray
    response_times: np.ndarray
    counts: np.ndarray
    utilization: np.ndarray
    sample_times: np.ndarray
    queue_lengths: np.ndarray

    @property
    def mean(self) -> float:
        """Mean response time of completed requests."""
        return float(self.response_times.mean())

    @property
    def p99(self) -> float:
        """99th percentile of response time."""
        return self.percentile(99)

    def percentile(self, p: float) -> float:
        """The ``p``-th percentile (0..100) of response time."""
        return float(np.percentile(self.response_times, p))

    @property
    def shares(self) -> np.ndarray:
        """Fraction of requests each server received (sums to 1)."""
        return self.counts / self.counts.sum()


def workload(
    *,
    requests: int,
    servers: int,
    load: float,
    speeds=None,
    service: str = "exponential",
    seed: int = 0,
    keys: int = 1000,
):
    """The random inputs of one run: the same for every policy with the same seed.

    Four independent streams are spawned from ``numpy.random.SeedSequence(seed)``: arrivals,
    service work, the policy's own choices, and request keys.

    Returns:
        ``(gaps, work, policy_rng, request_keys)``: interarrival times (``cumsum`` gives the
        arrival times), work per request (mean 1; a server of speed ``s`` takes ``work / s``),
        the generator to hand to the policy, and an integer key per request in ``[0, keys)``.
    """
    requests = _check_int("requests", requests, 1)
    servers = _check_int("servers", servers, 1)
    load = _check_load(load)
    mu = _speeds_or_ones(speeds, servers)
    _scv(service)
    keys = _check_int("keys", keys, 1)
    seed = _check_int("seed", seed, 0)
    seed = check_int("seed", seed, 0, None)
    arrivals_ss, work_ss, policy_ss, keys_ss = np.random.SeedSequence(seed).spawn(4)
    lam = load * float(mu.sum())
    gaps = np.random.default_rng(arrivals_ss).exponential(1.0 / lam, requests)
    work_rng = np.random.default_rng(work_ss)
    if service == "exponential":
        work = work_rng.exponential(1.0, requests)
    elif service == "deterministic":
        work = np.ones(requests)
    else:  # lognormal, sigma = 1, mean exp(mu + sigma^2 / 2) = 1
        work = work_rng.lognormal(-0.5, 1.0, requests)
    request_keys = np.random.default_rng(keys_ss).integers(0, keys, requests)
    return gaps, work, np.random.default_rng(policy_ss), request_keys


class _SimClock:
    """A clock that the simulator moves; policies call it like time.monotonic."""

    __slots__ = ("now",)

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _check_fail(fail, servers):
    if fail is None:
        return None
    try:
        parts = tuple(fail)
    except TypeError:
        raise ValueError("fail must be (server, at) or (server, at, detect)") from None
    if len(parts) not in (2, 3):
        raise ValueError("fail must be (server, at) or (server, at, detect)")
    server = _check_int("fail server", parts[0], 0)
    if server >= servers:
        raise ValueError(f"fail server must be in [0, {servers - 1}], got {server}")
    at = float(parts[1])
    detect = float(parts[2]) if len(parts) == 3 else 0.0
    if not (at >= 0 and math.isfinite(at)):
        raise ValueError(f"fail time must be >= 0, got {parts[1]!r}")
    if not (detect >= 0 and math.isfinite(detect)):
        raise ValueError(f"fail detect delay must be >= 0, got {parts[2]!r}")
    return server, at, detect


def simulate(
    policy: str | Policy,
    *,
    servers: int = 10,
    load: float = 0.9,
    requests: int = 100_000,
    speeds=None,
    seed: int = 0,
    service: str = "exponential",
    fail=None,
    weights=None,
    keys: int = 1000,
    samples: int = 200,
    **options,
) -> SimulationResult:
    """Route Poisson arrivals through a policy to servers, each one FIFO queue, and time them.

    Requests arrive as a Poisson stream of rate ``load * sum(speeds)``; each carries work drawn
    from ``service`` (mean 1), which server ``i`` finishes in ``work / speeds[i]``. The policy
    picks a server at each arrival from the requests in flight; with FIFO queues a request
    departs at ``max(arrival, previous departure on its server) + work / speed``. Completed
    requests are reported to ``policy.observe`` in departure order before the next arrival.

    Args:
        policy: a name from :data:`POLICIES` or a :class:`Policy` built for ``servers``.
        servers: how many servers, >= 1.
        load: ``lambda / sum(speeds)``, in (0, 1).
        requests: how many requests, >= 1.
        speeds: service rate per server (positive; default all 1).
        seed: the run's seed (>= 0); the same seed gives the same result, bit for bit.
        service: ``"exponential"``, ``"deterministic"`` or ``"lognormal"`` (see SERVICES).
        fail: ``(server, at)`` or ``(server, at, detect)``: the server crashes at time ``at``,
            losing the requests it holds; requests sent to it are lost until ``at + detect``,
            when the balancer marks it unhealthy and stops sending.
        weights: weights for the policy; default ``speeds`` for ``weighted_round_robin`` and
            none (equal) for the others.
        keys: distinct request keys (used by ``consistent_hash``).
        samples: how many points of ``queue_lengths`` over time.
        **options: policy options when ``policy`` is a name (e.g. ``decay=5``).

    Returns:
        A :class:`SimulationResult`; ``response_times`` is in mean service times.

    Raises:
        ValueError: an argument out of range, or an unknown policy name (the message lists
            the known ones).
    """
    servers = _check_int("servers", servers, 1)
    load = _check_load(load)
    requests = _check_int("requests", requests, 1)
    samples = _check_int("samples", samples, 1)
    mu = _speeds_or_ones(speeds, servers)
    crash = _check_fail(fail, servers)
    gaps, work, policy_rng, request_keys = workload(
        requests=requests,
        servers=servers,
        load=load,
        speeds=mu,
        service=service,
        seed=seed,
        keys=keys,
    )
    if isinstance(policy, Policy):
        if options or weights is not None:
            raise ValueError("weights and options apply only when policy is given by name")
        if policy.servers != servers:
            raise ValueError(f"policy was built for {policy.servers} servers, not {servers}")
        chooser = policy
    elif isinstance(policy, str):
        if weights is None and ALIASES.get(policy, policy) == "weighted_round_robin":
            weights = mu.tolist()
        if "clock" in POLICIES.get(ALIASES.get(policy, policy), Policy).options:
            options.setdefault("clock", _SimClock())
        chooser = make_policy(policy, servers, weights=weights, rng=policy_rng, **options)
    else:
        raise ValueError(f"policy must be a name or a Policy, got {type(policy).__name__}")

    arrivals = np.cumsum(gaps)
    del gaps  # the runs keep results in NumPy arrays: nothing per request they do not need
    if not isinstance(chooser, ConsistentHash):
        request_keys = None
    fast = crash is None and not isinstance(policy, Policy) and type(chooser) in _STATELESS
    if fast:  # the same picks and departures, routed first, then queued per server in NumPy
        departures = _run_stateless(chooser, arrivals, work, mu, request_keys)
    elif crash is None and not isinstance(policy, Policy) and type(chooser) is PowerOfTwo:
        departures = _run_power_of_two(chooser, arrivals, work, mu)
    elif (
        crash is None
        and not isinstance(policy, Policy)
        and type(chooser) is LeastConnections
        and not chooser.weighted
        and servers >= _BUCKETS_FROM  # below it the policy's own scan is as fast
    ):
        departures = _run_least_connections(chooser, arrivals, work, mu)
    else:
        departures = _run(chooser, arrivals, work, mu, request_keys, crash)
    server_arr, dep_arr, lost_arr = departures
    return _result(
        chooser.name,
        servers,
        load,
        seed,
        service,
        mu,
        arrivals,
        work,
        server_arr,
        dep_arr,
        lost_arr,
        samples,
    )


def _run(policy: Policy, arrivals, work, mu, request_keys, crash):
    """The event loop: one pass over arrivals, a heap of departures, FIFO per server."""
    n = len(mu)
    requests = len(arrivals)
    # Memoryviews of the NumPy arrays: indexed as fast as lists, 8 bytes a request, no copy.
    arrival_list = memoryview(np.ascontiguousarray(arrivals, dtype=float))
    service_list = memoryview(np.ascontiguousarray(work, dtype=float))
    inverse_speed = (1.0 / mu).tolist()
    keys = request_keys.tolist() if isinstance(policy, ConsistentHash) else None
    observing = type(policy).observe is not Policy.observe
    clock = _SimClock()
    saved_clock = getattr(policy, "clock", None)
    if saved_clock is not None:
        policy.clock = clock

    active = [0] * n
    last = [0.0] * n
    server_arr = np.full(requests, -1, dtype=np.int64)
    departure_arr = np.zeros(requests)
    lost_arr = np.zeros(requests, dtype=bool)
    server_of, departure, lost = (memoryview(a) for a in (server_arr, departure_arr, lost_arr))
    heap: list[tuple[float, int, int]] = []
    healthy = None
    pick = policy.pick
    observe = policy.observe
    push, pop = heapq.heappush, heapq.heappop
    crash_server, crash_at, detect_at = (
        (-1, math.inf, math.inf) if crash is None else (crash[0], crash[1], crash[1] + crash[2])
    )
    crashed = False
    try:
        for k in range(requests):
            t = arrival_list[k]
            if not crashed and t >= crash_at:
                # Finish what completed before the crash, then lose what the server holds.
                while heap and heap[0][0] <= crash_at:
                    d, s, j = pop(heap)
                    active[s] -= 1
                    if observing:
                        clock.now = d
                        observe(s, d - arrival_list[j])
                for _d, s, j in heap:
                    if s == crash_server:
                        lost[j] = True
                        departure[j] = crash_at
                active[crash_server] = 0
                last[crash_server] = crash_at
                crashed = True
            if healthy is None and t >= detect_at:
                healthy = [True] * n
                healthy[crash_server] = False
            while heap and heap[0][0] <= t:
                d, s, j = pop(heap)
                if lost[j]:
                    continue
                active[s] -= 1
                if observing:
                    clock.now = d
                    observe(s, d - arrival_list[j])
            clock.now = t
            try:
                s = pick(active, healthy, None if keys is None else keys[k])
            except LookupError:
                lost[k] = True
                departure[k] = t
                continue
            server_of[k] = s
            if crashed and s == crash_server:
                lost[k] = True
                departure[k] = t
                continue
            start = last[s] if last[s] > t else t
            d = start + service_list[k] * inverse_speed[s]
            last[s] = d
            departure[k] = d
            active[s] += 1
            push(heap, (d, s, k))
    finally:
        if saved_clock is not None:
            policy.clock = saved_clock
    return server_arr, departure_arr, lost_arr


def simulate_stale(
    policy: str,
    *,
    refresh: float,
    servers: int = 10,
    load: float = 0.9,
    requests: int = 100_000,
    seed: int = 0,
) -> SimulationResult:
    """:func:`simulate` with a balancer that sees an old snapshot of the servers' loads.

    Mitzenmacher's periodic-update ("bulletin board") model: the requests in flight per server
    are posted every ``refresh`` mean service times, and every pick in between uses the last
    posting instead of the true counts -- what happens when several balancers share a pool and
    learn the others' traffic only from periodic reports, or when load figures travel through
    a monitoring system. With stale counts, least connections sends everything in an interval
    to the servers that looked emptiest (herd behaviour), while power of two's random pairs
    spread the herd over many servers. Random and round robin ignore the counts and do not
    change. Source: M. Mitzenmacher, "How Useful Is Old Information?", IEEE Trans. Parallel
    and Distributed Systems 11(1), 2000.

    Args:
        policy: a name from :data:`POLICIES`.
        refresh: seconds of mean service time between postings, ``>= 0`` (0: always fresh,
            the same run as :func:`simulate` without a crash).
        servers, load, requests, seed: as for :func:`simulate` (exponential service).
    """
    if isinstance(refresh, bool) or not isinstance(refresh, (int, float)):
        raise ValueError(f"refresh must be a number of mean service times, got {refresh!r}")
    refresh = float(refresh)
    if not (0 <= refresh <= 1e6):
        raise ValueError(f"refresh must be in [0, 1e6] mean service times, got {refresh}")
    servers = _check_int("servers", servers, 1)
    load = _check_load(load)
    requests = _check_int("requests", requests, 1)
    mu = np.ones(servers)
    gaps, work, policy_rng, request_keys = workload(
        requests=requests, servers=servers, load=load, speeds=mu, seed=seed
    )
    options = {}
    if "clock" in POLICIES.get(ALIASES.get(policy, policy), Policy).options:
        options["clock"] = _SimClock()
    chooser = make_policy(policy, servers, rng=policy_rng, **options)
    arrivals = np.cumsum(gaps)
    server, departure = _run_stale(chooser, arrivals, work, request_keys, refresh)
    lost = np.zeros(requests, dtype=bool)
    return _result(
        chooser.name, servers, load, seed, "exponential", mu, arrivals, work, server,
        departure, lost, 200,
    )  # fmt: skip


STALE_REFRESH = (0, 0.25, 0.5, 1, 2, 5, 10, 20, 50)  # mean service times between posts; 0: fresh


def stale_means(
    policies=("least_connections", "power_of_two", "random"),
    refreshes=STALE_REFRESH,
    *,
    requests: int = 50_000,
    seed: int = 0,
) -> dict[str, list[float]]:
    """Mean response time of each policy for each refresh interval (:func:`simulate_stale`).

    Returns ``{policy: [mean at refreshes[0], ...]}``, in mean service times, at the
    defaults of :func:`simulate_stale` (10 servers, load 0.9).
    """
    return {
        name: [
            simulate_stale(name, refresh=r, requests=requests, seed=seed).mean for r in refreshes
        ]
        for name in policies
    }


def _run_stale(policy: Policy, arrivals, work, request_keys, refresh: float):
    """The event loop of :func:`simulate_stale`: picks see the counts posted at ``k·refresh``."""
    n, requests = policy.servers, len(arrivals)
    arrival_list, service_list = arrivals.tolist(), work.tolist()
    keys = request_keys.tolist() if isinstance(policy, ConsistentHash) else None
    observing = type(policy).observe is not Policy.observe
    clock = getattr(policy, "clock", None)
    active = [0] * n
    posted = active if refresh == 0 else [0] * n
    next_post = refresh if refresh > 0 else math.inf
    last = [0.0] * n
    server_of = [0] * requests
    departure = [0.0] * requests
    heap: list[tuple[float, int, int]] = []
    push, pop = heapq.heappush, heapq.heappop
    for k in range(requests):
        t = arrival_list[k]
        while True:
            due = heap[0][0] if heap else math.inf
            if next_post <= t and next_post <= due:
                posted = list(active)  # the bulletin board: a copy, read until the next post
                upto = min(t, due)
                next_post = max(next_post + refresh, math.ceil(upto / refresh) * refresh)
            elif due <= t:
                d, s, j = pop(heap)
                active[s] -= 1
                if observing:
                    if clock is not None:
                        clock.now = d
                    policy.observe(s, d - arrival_list[j])
            else:
                break
        if clock is not None:
            clock.now = t
        s = policy.pick(posted, None, None if keys is None else keys[k])
        begin = last[s] if last[s] > t else t
        d = begin + service_list[k]
        last[s] = d
        active[s] += 1
        push(heap, (d, s, k))
        server_of[k] = s
        departure[k] = d
    return np.array(server_of, dtype=np.int64), np.array(departure)


def _stateless_picks(policy: Policy, requests: int, request_keys) -> np.ndarray:
    """The servers a state-free policy picks for ``requests`` arrivals, all servers healthy.

    The picks are the ones :meth:`Policy.pick` would make, in order, from the same random
    numbers: :class:`Random` draws its uniforms from ``rng.random`` in chunks of ``_BUFFER``
    (one stream, so one long draw gives the same numbers), :class:`RoundRobin` counts from 0,
    :class:`ConsistentHash` maps each distinct key once. Smooth weighted round robin has state
    but no dependence on the queues, so its picks come from the policy itself, in a loop.
    """
    n = policy.servers
    if type(policy) is Random and not policy.weighted and not policy._buffer:
        chunks = -(-requests // _BUFFER)
        u = policy.rng.random(chunks * _BUFFER)[:requests]
        return (u * n).astype(np.int64)
    if type(policy) is RoundRobin and policy._next == 0:
        return np.arange(requests, dtype=np.int64) % n
    if type(policy) is ConsistentHash:
        distinct, inverse = np.unique(request_keys, return_inverse=True)
        table = np.array([policy.pick(None, None, int(k)) for k in distinct], dtype=np.int64)
        return table[inverse]
    pick = policy.pick
    return np.array([pick(None, None, None) for _ in range(requests)], dtype=np.int64)


def _run_stateless(policy: Policy, arrivals, work, mu, request_keys):
    """:func:`_run` for a policy that never looks at the queues, without a crash.

    Routing does not depend on the queues, so every pick is made first; then each server's
    FIFO queue follows Lindley's recursion ``d_k = max(a_k, d_{k-1}) + s_k``, which unrolls to
    ``d_k = C_k + max_{j <= k} (a_j - C_{j-1})`` with ``C`` the running sum of service times:
    a cumulative sum and a running maximum, in NumPy. The departures equal the event loop's
    up to rounding in the sums (tested to 1e-9 mean service times).
    """
    server = _stateless_picks(policy, len(arrivals), request_keys)
    departure = np.empty(len(arrivals))
    for s in range(len(mu)):
        mine = np.flatnonzero(server == s)
        if not len(mine):
            continue
        service = work[mine] / mu[s]
        done = np.cumsum(service)
        departure[mine] = done + np.maximum.accumulate(arrivals[mine] - (done - service))
    return server, departure, np.zeros(len(arrivals), dtype=bool)


_STATELESS = (Random, RoundRobin, WeightedRoundRobin, ConsistentHash)
_BUCKETS_FROM = 32  # servers from which least connections keeps buckets instead of scanning


def _run_least_connections(policy: LeastConnections, arrivals, work, mu):
    """:func:`_run` for unweighted :class:`LeastConnections` without a crash, bit for bit.

    The policy scans every server per pick (O(n)); here the servers are kept in buckets by
    their count in flight, each bucket a sorted list, so a pick is the first server at or
    after the policy's round-robin start in the lowest non-empty bucket (a bisection), and a
    count that changes moves one server between neighbouring buckets. Same winner, same tie
    rule, O(log n) a pick: 1,000 servers cost what 10 do.
    """
    n, requests = policy.servers, len(arrivals)
    arrival_list, service_list = memoryview(arrivals), memoryview(work)
    inverse_speed = (1.0 / mu).tolist()
    count = [0] * n
    buckets: dict[int, list[int]] = {0: list(range(n))}
    lowest = 0
    start_at = policy._start
    last = [0.0] * n
    server_arr, departure_arr = np.zeros(requests, dtype=np.int64), np.zeros(requests)
    server_of, departure = memoryview(server_arr), memoryview(departure_arr)
    heap: list[tuple[float, int]] = []
    push, pop = heapq.heappush, heapq.heappop

    def move(s: int, old: int, new: int) -> None:
        bucket = buckets[old]
        del bucket[bisect_left(bucket, s)]
        if not bucket:
            del buckets[old]
        if new in buckets:
            insort(buckets[new], s)
        else:
            buckets[new] = [s]
        count[s] = new

    for k in range(requests):
        t = arrival_list[k]
        while heap and heap[0][0] <= t:
            _, s = pop(heap)
            c = count[s]
            move(s, c, c - 1)
            if c - 1 < lowest:
                lowest = c - 1
        while lowest not in buckets:
            lowest += 1
        bucket = buckets[lowest]
        j = bisect_left(bucket, start_at)
        s = bucket[j] if j < len(bucket) else bucket[0]
        start_at = s + 1 if s + 1 < n else 0
        move(s, lowest, lowest + 1)
        begin = last[s] if last[s] > t else t
        d = begin + service_list[k] * inverse_speed[s]
        last[s] = d
        push(heap, (d, s))
        server_of[k] = s
        departure[k] = d
    policy._start = start_at
    return server_arr, departure_arr, np.zeros(requests, dtype=bool)


def _run_power_of_two(policy: PowerOfTwo, arrivals, work, mu):
    """:func:`_run` for :class:`PowerOfTwo` without a crash, bit for bit, about twice as fast.

    FIFO queues finish their requests in order, so each server keeps a list of its departure
    times and a cursor; a server's requests in flight at time ``t`` are the ones after the
    cursor once it has passed every departure ``<= t`` -- the count the event loop's heap gives,
    found only for the two servers drawn. The two draws come from the policy's own random
    stream, taken in one piece (the same numbers :meth:`Policy._uniform` hands out).
    """
    n, requests = policy.servers, len(arrivals)
    if n == 1 or policy._buffer:
        return _run(policy, arrivals, work, mu, None, None)
    weights, weighted = policy.weights, policy.weighted
    arrival_list, service_list = memoryview(arrivals), memoryview(work)
    inverse_speed = (1.0 / mu).tolist()
    deps: list[list[float]] = [[] for _ in range(n)]
    head = [0] * n
    last = [0.0] * n
    server_arr, departure_arr = np.zeros(requests, dtype=np.int64), np.zeros(requests)
    server_of, departure = memoryview(server_arr), memoryview(departure_arr)
    for k, (a, b) in enumerate(_pairs(policy.rng, n, requests)):
        t = arrival_list[k]
        da, db = deps[a], deps[b]
        ha, hb = head[a], head[b]
        while ha < len(da) and da[ha] <= t:
            ha += 1
        while hb < len(db) and db[hb] <= t:
            hb += 1
        if ha > _TRIM:  # forget departures passed: memory for what is in flight only
            del da[:ha]
            ha = 0
        if hb > _TRIM:
            del db[:hb]
            hb = 0
        head[a], head[b] = ha, hb
        load_a, load_b = len(da) - ha, len(db) - hb
        if weighted:
            s = b if load_b * weights[a] < load_a * weights[b] else a
        else:
            s = b if load_b < load_a else a
        start = last[s] if last[s] > t else t
        d = start + service_list[k] * inverse_speed[s]
        last[s] = d
        deps[s].append(d)
        server_of[k] = s
        departure[k] = d
    return server_arr, departure_arr, np.zeros(requests, dtype=bool)


_TRIM = 1024  # departures a server's list keeps behind its cursor before they are dropped
_BLOCK = 16 * _BUFFER  # random numbers power of two draws at a time (a multiple of _BUFFER)


def _pairs(rng: np.random.Generator, n: int, requests: int):
    """The two servers power of two draws for each request: the numbers Policy._uniform hands
    out (``rng.random`` in pieces of ``_BUFFER``, one stream), taken a block at a time so
    that only a block is held; ``_BUFFER * ceil(2 * requests / _BUFFER)`` are drawn in all."""
    total = -(-2 * requests // _BUFFER) * _BUFFER
    done = 0
    while done < total:
        u = rng.random(min(_BLOCK, total - done))
        pairs = min(len(u), 2 * requests - done) // 2
        first = (u[0 : 2 * pairs : 2] * n).astype(np.int64)
        second = first + 1 + (u[1 : 2 * pairs : 2] * (n - 1)).astype(np.int64)
        second[second >= n] -= n
        yield from zip(first.tolist(), second.tolist())
        done += len(u)


def _result(
    name, servers, load, seed, service, mu, arrivals, work, server, departure, lost, samples
) -> SimulationResult:
    if lost.any() or (server < 0).any():
        done = ~lost
        response = departure[done] - arrivals[done]
        sent = server >= 0
        counts = np.bincount(server[sent], minlength=servers)
        busy = np.bincount(server[done], weights=work[done] / mu[server[done]], minlength=servers)
    else:  # the same figures without copies of every array (memory: NumPy bytes only)
        response = departure - arrivals
        counts = np.bincount(server, minlength=servers)
        busy_time = mu[server]
        np.divide(work, busy_time, out=busy_time)
        busy = np.bincount(server, weights=busy_time, minlength=servers)
        del busy_time
    horizon = float(arrivals[-1]) if arrivals[-1] > 0 else 1.0
    sample_times = np.linspace(0.0, float(arrivals[-1]), samples)
    queue = np.zeros((servers, samples), dtype=np.int64)
    for s in range(servers):
        mine = server == s
        arr_s = arrivals[mine]
        dep_s = np.sort(departure[mine])
        queue[s] = np.searchsorted(arr_s, sample_times, "right") - np.searchsorted(
            dep_s, sample_times, "right"
        )
    return SimulationResult(
        policy=name,
        servers=servers,
        load=load,
        seed=seed,
        service=service,
        speeds=mu,
        arrival_times=arrivals,
        departure_times=departure,
        server=server,
        lost=lost,
        response_times=response,
        counts=counts,
        utilization=np.minimum(busy / horizon, 1.0),
        sample_times=sample_times,
        queue_lengths=queue,
    )
