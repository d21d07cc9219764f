"""Grader for exercise 10 (the capstone's arithmetic)."""

import math

EXERCISE = "ex10_capstone"


def close(x, y, rel=1e-9):
    return isinstance(x, (int, float)) and math.isclose(x, y, rel_tol=rel, abs_tol=1e-12)


def test_service_availability(ex):
    got = ex.service_availability(0.9999, 0.99, 3, 2, 0.9995)
    app = 0.99**3 + 3 * 0.99**2 * 0.01
    want = 0.9999 * app * 0.9995
    assert close(got, want), (
        f"a 99.99% balancer, 2 of 3 replicas at 99% and a 99.95% database should give {want:.8f}, "
        f"got {got!r}: the tiers are in series (multiply), and the app tier is up while at least "
        "2 of its 3 replicas are up (a k-of-n sum, not plain parallel)"
    )
    got = ex.service_availability(1.0, 0.9, 2, 1, 1.0)
    assert close(got, 0.99), (
        f"with perfect balancer and database, 1 of 2 replicas at 90% is 0.99, got {got!r}"
    )
    got = ex.service_availability(0.999, 0.9, 2, 2, 1.0)
    assert close(got, 0.999 * 0.81), (
        f"needing both of 2 replicas is a series of them: 0.999 × 0.81 = 0.80919, got {got!r}"
    )


def test_yearly_downtime_minutes(ex):
    got = ex.yearly_downtime_minutes(0.9999)
    assert close(got, 52.56), (
        f"99.99% leaves 0.01% of 525,600 minutes = 52.56 minutes a year, got {got!r}"
    )
    assert close(ex.yearly_downtime_minutes(1.0), 0.0), "a service that is always up is never down"


def test_monthly_budget_left(ex):
    got = ex.monthly_budget_left(0.9995, 5.0)
    assert close(got, 16.6), (
        f"99.95% of a 30-day month allows 21.6 minutes; after 5 minutes down, 16.6 are left, got {got!r}"
    )
    got = ex.monthly_budget_left(0.999, 50.0)
    assert close(got, 43.2 - 50.0), (
        f"a 99.9% month allows 43.2 minutes; 50 down leaves -6.8, got {got!r}"
    )


def test_writes_lost_per_failover(ex):
    got = ex.writes_lost_per_failover("async", 200.0, 0.05)
    assert close(got, 10.0), (
        f"an async backup 50 ms behind at 200 writes/s lacks 200 × 0.05 = 10 writes, got {got!r}"
    )
    for mode in ("sync", "semisync"):
        got = ex.writes_lost_per_failover(mode, 200.0, 0.05)
        assert close(got, 0.0), (
            f"after a plain crash a {mode} backup has every acknowledged write: nothing is "
            f"lost, got {got!r}"
        )


def test_writes_lost_after_a_cut(ex):
    got = ex.writes_lost_per_failover("semisync", 50.0, 0.2, cut_for=30.0, timeout=10.0)
    assert close(got, 1500.0, rel=1e-6), (
        "a semi-sync primary whose backups were cut off 30 s before it crashed lost "
        f"50 × 30 = 1500 writes, got {got!r}: after its 10 s timeout it falls back to async "
        "and acknowledges every write since the cut, the 10 s of waiting ones included, "
        "and no backup has any of them"
    )
    got = ex.writes_lost_per_failover("semisync", 50.0, 0.2, cut_for=4.0, timeout=10.0)
    assert close(got, 0.0), (
        f"a cut 4 s before the crash is shorter than the 10 s timeout: the waiting writes "
        f"were never acknowledged, so nothing acknowledged is lost, got {got!r}"
    )
    got = ex.writes_lost_per_failover("async", 50.0, 0.2, cut_for=30.0, timeout=10.0)
    assert close(got, 50.0 * 30.2, rel=1e-6), (
        "an async primary cut off 30 s before its crash lost every write acknowledged since "
        f"the cut and the 0.2 s of lag before it: 50 × 30.2 = 1510, got {got!r}"
    )
    got = ex.writes_lost_per_failover("sync", 50.0, 0.2, cut_for=30.0, timeout=10.0)
    assert close(got, 0.0), (
        f"a sync primary acknowledges nothing without its backups (it stalls), got {got!r}"
    )
