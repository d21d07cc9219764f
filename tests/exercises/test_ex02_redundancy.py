"""Grader for exercise 02 (series, parallel, k-of-n, a shared rack)."""

import math

EXERCISE = "ex02_redundancy"


def close(x, y, rel=1e-9):
    return isinstance(x, (int, float)) and math.isclose(x, y, rel_tol=rel, abs_tol=1e-15)


def test_series(ex):
    got = ex.series(0.99, 0.99)
    assert close(got, 0.9801), (
        f"two 99% parts in series should give 98.01%, got {got!r}: in series every part must be "
        "up, so multiply the availabilities"
    )
    got = ex.series(0.9, 0.99, 0.999)
    assert close(got, 0.9 * 0.99 * 0.999), (
        f"series(0.9, 0.99, 0.999) should be 0.890109, got {got!r}"
    )
    assert close(ex.series(0.95), 0.95), "a single part in series is just that part"


def test_parallel(ex):
    got = ex.parallel(0.99, 0.99)
    assert close(got, 0.9999), (
        f"two 99% parts in parallel should give 99.99%, got {got!r}: the service is down only when "
        "both are down, 0.01 × 0.01 of the time"
    )
    got = ex.parallel(0.9, 0.9, 0.9)
    assert close(got, 0.999), f"three 90% replicas give 1 - 0.1³ = 0.999, got {got!r}"
    got = ex.parallel(0.5, 0.8)
    assert close(got, 0.9), f"parallel(0.5, 0.8) should be 1 - 0.5 × 0.2 = 0.9, got {got!r}"


def test_k_of_n(ex):
    got = ex.k_of_n(2, 3, 0.9)
    assert close(got, 0.972), (
        f"2 of 3 parts at 90% should give 0.972 (all three up 0.729, exactly two up 3 × 0.081), "
        f"got {got!r}: count every outcome with at least k parts up"
    )
    got = ex.k_of_n(1, 2, 0.99)
    assert close(got, 0.9999), f"1-of-2 is plain parallel, 0.9999, got {got!r}"
    got = ex.k_of_n(3, 3, 0.99)
    assert close(got, 0.99**3), f"3-of-3 is plain series, 0.970299, got {got!r}"
    got = ex.k_of_n(3, 5, 0.95)
    want = sum(math.comb(5, i) * 0.95**i * 0.05 ** (5 - i) for i in (3, 4, 5))
    assert close(got, want), f"3 of 5 at 95% should be {want:.9f}, got {got!r}"


def test_shared_rack(ex):
    got = ex.shared_rack(0.99, 0.999, n=2)
    assert close(got, 0.999 * 0.9999), (
        f"two 99% replicas in one 99.9% rack should give 0.999 × 0.9999 = 0.9989001, got {got!r}: "
        "the rack is in series with the pair"
    )
    got = ex.shared_rack(0.9, 0.99, n=3)
    assert close(got, 0.99 * 0.999), f"shared_rack(0.9, 0.99, n=3) should be 0.98901, got {got!r}"
    got = ex.shared_rack(0.99, 1.0, n=2)
    assert close(got, 0.9999), (
        f"with a perfect rack, two replicas are plain parallel (0.9999), got {got!r}"
    )
