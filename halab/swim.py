"""SWIM's indirect probing: how k helpers cut the false suspicions of a lossy network.

A member pings a target; if no ack comes back within the protocol period, instead of
suspecting the target at once it asks ``k`` other members to ping the target for it
(``ping-req``), and each helper relays an ack it gets. The target is suspected only if the
direct probe and all ``k`` indirect paths fail.

Source: A. Das, I. Gupta, A. Motivala, "SWIM: Scalable Weakly-consistent Infection-style
Process Group Membership Protocol", DSN 2002, §3.1 (the failure detector: ping, ping-req to
k members, ack relayed) and §4 (its analysis under independent message loss).

With each message lost independently with probability ``p``:

- a direct probe (ping, ack) fails with ``1 - (1 - p)**2``;
- an indirect path (ping-req, ping, ack, relayed ack: four messages) fails with
  ``1 - (1 - p)**4``;
- a live target is falsely suspected with ``(1 - (1 - p)**2) * (1 - (1 - p)**4)**k``.

>>> round(false_positive_probability(0.05, 0), 4)
0.0975
>>> round(false_positive_probability(0.05, 3), 6)
0.000622
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["false_positive_probability", "simulate_probes"]


def _check_p(p) -> float:
    try:
        p = float(p)
    except (TypeError, ValueError):
        raise ValueError(f"p must be a number in [0, 1), got {p!r}") from None
    if not (0.0 <= p < 1.0):
        raise ValueError(f"p must be in [0, 1), got {p!r}")
    return p


def _check_count(name: str, value, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def false_positive_probability(p: float, k: int) -> float:
    """Probability that a live member is suspected in one protocol period (SWIM §3.1, §4).

    Args:
        p: probability that one message is lost, in [0, 1); losses are independent.
        k: how many helpers are sent a ``ping-req`` after a failed direct probe, >= 0
            (0: a plain ping-ack detector).

    Returns:
        ``(1 - (1 - p)**2) * (1 - (1 - p)**4)**k``.
    """
    p = _check_p(p)
    k = _check_count("k", k, 0)
    direct = -math.expm1(2.0 * math.log1p(-p))
    path = -math.expm1(4.0 * math.log1p(-p))
    return direct * path**k


def simulate_probes(p: float, k: int, *, periods: int = 100_000, seed: int = 0) -> float:
    """Fraction of protocol periods in which a live target is suspected, by drawing each message.

    Each period draws the two messages of the direct probe and the four of each of the ``k``
    indirect paths, every one lost with probability ``p``; the target is suspected when the
    direct probe and every indirect path lost at least one message.

    Args:
        p: loss probability of one message, in [0, 1).
        k: helpers per failed probe, >= 0.
        periods: protocol periods simulated, >= 1.
        seed: seed of ``numpy.random.default_rng``, >= 0.

    Returns:
        The simulated false-positive frequency, in [0, 1].
    """
    p = _check_p(p)
    k = _check_count("k", k, 0)
    periods = _check_count("periods", periods, 1)
    seed = _check_count("seed", seed, 0)
    rng = np.random.default_rng(seed)
    lost = rng.random((periods, 2 + 4 * k)) < p
    suspected = lost[:, :2].any(axis=1)
    for i in range(k):
        suspected &= lost[:, 2 + 4 * i : 6 + 4 * i].any(axis=1)
    return float(suspected.mean())
