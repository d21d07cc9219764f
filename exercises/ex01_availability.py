"""Exercise 01: availability, nines and downtime budgets.

Write the bodies of the functions below (replace each ``raise NotImplementedError``). Check your
work with ``check("ex01")`` in lesson 01, or ``make grade EX=ex01`` in a terminal. Use only the
standard library: the point is the formula, not a package that knows it.

Vocabulary: *MTTF*, mean time to failure (hours); *MTTR*, mean time to repair (hours);
*availability*, the long-run fraction of time up, a float in [0, 1].
"""

import math

HOURS_PER = {"year": 365 * 24, "month": 30 * 24, "week": 7 * 24, "day": 24}


def availability(mttf, mttr):
    """The steady-state availability of one component.

    Args:
        mttf: mean time to failure, hours, > 0.
        mttr: mean time to repair, hours, >= 0.

    Returns:
        The fraction of time up: an up period divided by a whole up-and-down cycle.
        For MTTF = 500 h and MTTR = 2 h that is 500 / 502 = 0.99602.
    """
    raise NotImplementedError("availability: your code here")


def mtbf(mttf, mttr):
    """Mean time between failures, hours: from one failure to the next (up, then down)."""
    raise NotImplementedError("mtbf: your code here")


def nines(a):
    """How many nines availability ``a`` has: 0.999 → 3.0, 0.995 → about 2.3.

    Args:
        a: availability in [0, 1).
    """
    raise NotImplementedError("nines: your code here")


def downtime_hours(a, period="year"):
    """The hours of downtime availability ``a`` allows per period.

    Args:
        a: availability in [0, 1].
        period: a key of ``HOURS_PER``: "year" (365 days), "month" (30 days), "week", "day".
    """
    raise NotImplementedError("downtime_hours: your code here")


def failure_rate(failures, components, hours):
    """Failures per component per hour (λ), from a fleet's record.

    Args:
        failures: how many failures were seen in the fleet.
        components: how many components the fleet has.
        hours: how long the fleet was watched.
    """
    raise NotImplementedError("failure_rate: your code here")
