"""Grader for exercise 01 (availability, nines, downtime). Each message says what went wrong."""

import math

EXERCISE = "ex01_availability"


def close(x, y, rel=1e-9):
    return isinstance(x, (int, float)) and math.isclose(x, y, rel_tol=rel, abs_tol=1e-12)


def test_availability(ex):
    got = ex.availability(500, 2)
    assert close(got, 500 / 502), (
        f"availability(mttf=500, mttr=2) should be 500/502 = 0.996016, got {got!r}: the fraction of "
        "a whole cycle (up for MTTF, then down for MTTR) that is spent up is MTTF / (MTTF + MTTR)"
    )
    got = ex.availability(10, 10)
    assert close(got, 0.5), (
        f"availability(mttf=10, mttr=10) should be 0.5 (up half the time), got {got!r}"
    )
    got = ex.availability(3, 0)
    assert close(got, 1.0), f"with MTTR = 0 a component is never down: expected 1.0, got {got!r}"


def test_mtbf(ex):
    got = ex.mtbf(500, 2)
    assert close(got, 502), (
        f"mtbf(mttf=500, mttr=2) should be 502 hours, got {got!r}: between one failure and the "
        "next the component is repaired (MTTR) and then runs until it fails again (MTTF)"
    )


def _nines_hint(want, got):
    """What a wrong ``nines`` most likely did, from the number it gave."""
    if not isinstance(got, (int, float)) or isinstance(got, bool):
        return "return a float: -log10(1 - a)"
    for base, name in [(math.e, "the natural logarithm"), (2, "log base 2")]:
        if close(got, want * math.log(10) / math.log(base), rel=1e-6):
            return f"that is {name}: nines are counted in base 10, -log10(1 - a)"
    if any(close(got, round(want, digits)) for digits in range(4)):
        return (
            "that is a rounded value: return -log10(1 - a) as it comes (round only when you "
            "print it); 0.995 has 2.30103 nines, not 2.3"
        )
    return "the number of nines is -log10(1 - a), counted in base 10"


def test_nines(ex):
    for a in [0.9, 0.99, 0.999, 0.99999, 0.995, 0.9995]:
        got = ex.nines(a)
        want = -math.log10(1 - a)
        assert close(got, want, rel=1e-6), (
            f"nines({a}) should be -log10({1 - a:.4g}) = {want:.5f}, got {got!r}: "
            + _nines_hint(want, got)
        )


def test_downtime_hours(ex):
    got = ex.downtime_hours(0.998, "year")
    assert close(got, 17.52), (
        f"99.8% allows 0.2% of 8760 hours = 17.52 hours a year, got {got!r}"
        + (
            " — 43.2 is the minutes a 30-day month allows at 99.9%"
            if close(got, 43.2, 1e-3)
            else ""
        )
    )
    got = ex.downtime_hours(0.999, "month")
    assert close(got, 0.72), (
        f"99.9% of a 30-day month allows 0.72 hours (43.2 minutes), got {got!r}"
    )
    for period, hours in [("week", 168), ("day", 24)]:
        got = ex.downtime_hours(0.99, period)
        assert close(got, 0.01 * hours), (
            f"99% of a {period} allows {0.01 * hours:g} hours, got {got!r}"
        )


def test_failure_rate(ex):
    got = ex.failure_rate(failures=12, components=200, hours=1000)
    assert close(got, 12 / 200_000), (
        f"12 failures among 200 disks watched for 1000 hours is 12 / (200 × 1000) = 6e-05 "
        f"failures per disk-hour, got {got!r}: divide by the component-hours, not just the hours"
    )
    got = 1 / ex.failure_rate(failures=3, components=1, hours=3000)
    assert close(got, 1000), (
        f"3 failures in 3000 hours of one part is an MTTF of 1000 hours, got {got!r}"
    )
