"""Exercise 04: a k-missed heartbeat detector and the φ accrual level.

Write the bodies of the functions below (replace each ``raise NotImplementedError``). Check your
work with ``check("ex04")`` in lesson 04, or ``make grade EX=ex04`` in a terminal. Use only the
standard library (``math``).

Vocabulary (times in seconds, as floats): a *heartbeat* arrives at the monitor at an *arrival*
time; the sender beats every *interval*; the monitor *suspects* the sender when the silence
since the last arrival is long enough; *φ* (phi) measures how surprising that silence is:
φ = 1 means a 10% chance the next heartbeat is still on its way, φ = 2 one percent.
"""

import math


def k_missed_suspects(last_arrival, now, interval, k, margin=0.5):
    """Whether a k-missed detector suspects at time ``now``.

    The detector suspects once ``k`` heartbeats have been missed since the last one that
    arrived, with a grace of ``margin`` intervals: when ``now - last_arrival`` has reached
    ``(k + margin) * interval``. Before any heartbeat (``last_arrival is None``) it does not
    suspect. Example: interval 1 s, k = 3, last arrival at 10.0 s: it suspects from 13.5 s on.

    Args:
        last_arrival: time of the last heartbeat that arrived, or None.
        now: the time of the question, >= last_arrival.
        interval: the heartbeat period, > 0.
        k: how many missed heartbeats it takes, >= 1.
        margin: grace, as a fraction of an interval, in (0, 1).
    """
    raise NotImplementedError("k_missed_suspects: your code here")


def suspicions(arrivals, timeout, end):
    """The periods during which a fixed-timeout detector suspected, given the arrivals.

    After each arrival ``a`` the detector waits ``timeout``; if the next arrival comes later
    than ``a + timeout`` (or never comes before ``end``), it suspects from ``a + timeout``
    until that next arrival (or until ``end``). Only suspicions that start before ``end``
    count. Example: arrivals [0, 1, 5, 6], timeout 2.5, end 10 → [(3.5, 5), (8.5, 10)].

    Args:
        arrivals: sorted arrival times.
        timeout: seconds of silence before suspecting, > 0.
        end: when observation stops.

    Returns:
        A list of ``(start, stop)`` tuples, in time order.
    """
    raise NotImplementedError("suspicions: your code here")


def phi(elapsed, mean, std):
    """The φ suspicion level, as Akka computes it.

    With ``y = (elapsed - mean) / std`` and ``e = exp(-y * (1.5976 + 0.070566 * y * y))``
    (a logistic approximation of the normal distribution), the probability that a heartbeat
    is still to come is ``1 - 1/(1 + e)``, which equals ``e/(1 + e)``, and
    ``φ = -log10(that probability)``. Use ``e/(1 + e)`` when ``elapsed > mean``: there ``e`` is
    tiny and ``1 - 1/(1 + e)`` rounds to 0. Examples: φ(1.0, 1.0, 0.1) = log10(2) = 0.30103;
    φ(2.0, 1.0, 0.25) = 4.7367.

    Args:
        elapsed: seconds since the last heartbeat.
        mean: mean interval between heartbeats, seconds.
        std: standard deviation of the intervals, seconds, > 0.
    """
    raise NotImplementedError("phi: your code here")


def phi_from_history(intervals, elapsed, min_std=0.1, pause=0.0):
    """φ from a window of past inter-arrival times, the way Akka's detector uses it.

    Take the mean of ``intervals`` and their *population* standard deviation (divide by n,
    not n - 1); raise the deviation to at least ``min_std``; add ``pause`` (the acceptable
    heartbeat pause) to the mean; return ``phi(elapsed, mean, std)``. Example: intervals
    [1, 1, 1, 1], elapsed 1.3 s: mean 1, deviation 0 raised to 0.1, φ(1.3, 1, 0.1) = 2.909.

    Args:
        intervals: a non-empty list of past intervals, seconds.
        elapsed: seconds since the last heartbeat.
        min_std: the floor of the standard deviation, seconds, > 0.
        pause: seconds added to the mean, >= 0.
    """
    raise NotImplementedError("phi_from_history: your code here")
