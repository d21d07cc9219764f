"""Retries at scale: how they multiply across layers, and how a retry budget caps them.

A request crosses ``layers`` services in a chain (a gateway, an API, a database client...);
each retries a failed call up to ``tries`` attempts in all. When the bottom fails, every layer
retries what the layer below gave up on, so one request becomes up to ``tries ** layers``
attempts at the bottom: 3 layers of 3 tries make 27 (Google SRE book, chapter 22, "Addressing
Cascading Failures": retries at several layers multiply).

A *retry budget* caps retries as a share of requests: Finagle's ``RetryBudget`` (a token bucket:
each request deposits ``percentCanRetry`` = 0.2 of a token, each retry withdraws one) and
Envoy's ``retry_budget`` (``budget_percent``, 20% of active requests by default). With a
ratio r each layer adds at most r retries per request it receives, so the bottom sees at most
``(1 + r) ** layers`` attempts per request: 1.73 for three layers at 20%, not 27.

    >>> amplification(3, 3)
    27
    >>> round(bottom_attempts(1.0, 3, 3), 6)       # the bottom is down: every attempt fails
    27.0
    >>> round(budget_bound(0.2, 3), 3)
    1.728
"""

from __future__ import annotations

import numpy as np

from halab.checks import check_int, check_prob, check_real

__all__ = [
    "amplification",
    "bottom_attempts",
    "budget_bound",
    "simulate_retries",
]


def amplification(tries: int, layers: int) -> int:
    """Attempts at the bottom per request when every attempt fails: ``tries ** layers``."""
    tries = check_int("tries", tries, 1, 100)
    layers = check_int("layers", layers, 1, 10)
    return tries**layers


def bottom_attempts(p: float, tries: int, layers: int) -> float:
    """Mean attempts at the bottom per request when each bottom attempt fails with ``p``.

    A layer whose calls fail independently with probability q makes
    ``E(q) = 1 + q + … + q^(tries-1)`` calls per call it receives, and fails upward with
    probability ``q ** tries``; going up the chain, q₀ = p and q_{i+1} = q_i^tries, and the
    bottom's load is the product of the layers' ``E(q_i)``. Independence is the kind case:
    when the bottom is down (p = 1) every factor is ``tries``.
    """
    p = check_prob("p", p)
    tries = check_int("tries", tries, 1, 100)
    layers = check_int("layers", layers, 1, 10)
    load, q = 1.0, p
    for _ in range(layers):
        load *= sum(q**k for k in range(tries))
        q = q**tries
    return load


def budget_bound(ratio: float, layers: int) -> float:
    """The most attempts at the bottom per request with a retry budget: ``(1 + ratio) ** layers``."""
    ratio = check_real("ratio", ratio, 0.0, 10.0)
    layers = check_int("layers", layers, 1, 10)
    return (1.0 + ratio) ** layers


def simulate_retries(
    p: float,
    tries: int,
    layers: int,
    *,
    budget: float | None = None,
    requests: int = 20_000,
    seed: int = 0,
) -> tuple[float, float]:
    """Send ``requests`` through the chain; return (bottom attempts per request, success rate).

    Each bottom attempt fails with probability ``p`` (one seeded draw per attempt). With
    ``budget`` a ratio r, each layer keeps a Finagle-style token bucket: every call it receives
    deposits r tokens (at most 100 saved), and a retry needs and spends one; without tokens the
    layer gives up. ``budget=None``: no cap but ``tries``.
    """
    p = check_prob("p", p)
    tries = check_int("tries", tries, 1, 100)
    layers = check_int("layers", layers, 1, 10)
    requests = check_int("requests", requests, 1, 1_000_000)
    ratio = None if budget is None else check_real("budget", budget, 0.0, 10.0)
    if tries**layers * requests > 50_000_000:
        raise ValueError(
            f"requests must keep tries ** layers × requests at most 5e7, got {requests}"
        )
    rng = np.random.default_rng(seed)
    draws = iter(rng.random(tries**layers * requests).tolist())
    tokens = [0.0] * (layers + 1)
    attempts = 0

    def call(layer: int) -> bool:
        nonlocal attempts
        if layer == 0:
            attempts += 1
            return next(draws) >= p
        if ratio is not None:
            tokens[layer] = min(tokens[layer] + ratio, 100.0)
        for k in range(tries):
            if k > 0 and ratio is not None:
                if tokens[layer] < 1.0:
                    return False
                tokens[layer] -= 1.0
            if call(layer - 1):
                return True
        return False

    ok = sum(call(layers) for _ in range(requests))
    return attempts / requests, ok / requests
