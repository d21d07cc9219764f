"""Grader for exercise 08 (the backoff schedule, with a cap, full jitter and equal jitter).

The schedules without jitter are checked exactly; the jittered ones by exact bounds and by
their distribution over many seeds (any correct way of drawing from ``rng`` passes).
"""

import math

import numpy as np
from scipy import stats

EXERCISE = "ex08_recovery"

SEEDS = range(300)


def ceilings(attempts, base, cap):
    """min(cap, base * 2**n), written out for the grader."""
    return [min(cap, base * 2.0**n) for n in range(attempts)]


def as_floats(waits, attempts, what):
    waits = list(waits)
    assert len(waits) == attempts, f"{what} should return {attempts} waits, got {len(waits)}"
    assert all(isinstance(x, (int, float, np.floating, np.integer)) for x in waits), (
        f"{what} should return numbers (seconds), got {waits[:3]!r}..."
    )
    return [float(x) for x in waits]


def test_schedule_without_jitter_is_exact(ex):
    got = as_floats(ex.backoff_schedule(7, 10, 300), 7, "backoff_schedule(7, 10, 300)")
    want = [10, 20, 40, 80, 160, 300, 300]
    if got and got[0] != 10:
        raise AssertionError(
            f"the first retry (attempt 0) waits base * 2**0 = 10 s, got {got[0]:g}: is your "
            f"exponent off by one? (got {got})"
        )
    assert got[:5] == want[:5], (
        f"the waits double from 10 s: {want[:5]}, got {got[:5]}: the wait before attempt n is "
        "base * factor**n"
    )
    assert got == want, (
        f"Kubernetes' schedule is {want} (10 s doubling, capped at 300 s), got {got}: the cap "
        "bounds every wait, min(cap, base * 2**n); 320 s must become 300 s, and it stays 300 s"
    )
    got = as_floats(ex.backoff_schedule(5, 1, 1000, 3), 5, "backoff_schedule(5, 1, 1000, 3)")
    assert got == [1, 3, 9, 27, 81], f"with factor 3 the waits triple: [1, 3, 9, 27, 81], got {got}"
    got = as_floats(ex.backoff_schedule(6, 0.5, 3, 2), 6, "backoff_schedule(6, 0.5, 3, 2)")
    assert got == [0.5, 1, 2, 3, 3, 3], (
        f"base 0.5 s capped at 3 s gives [0.5, 1, 2, 3, 3, 3], got {got}"
    )
    assert list(ex.backoff_schedule(0, 10, 300)) == [], "zero attempts: an empty schedule"
    got = as_floats(ex.backoff_schedule(4, 10, 10), 4, "backoff_schedule(4, 10, 10)")
    assert got == [10, 10, 10, 10], f"a cap equal to the base keeps every wait at 10 s, got {got}"


def test_long_schedule_reaches_and_keeps_the_cap(ex):
    got = as_floats(ex.backoff_schedule(200, 10, 300), 200, "backoff_schedule(200, 10, 300)")
    assert all(b >= a for a, b in zip(got, got[1:])), "without jitter the waits never shrink"
    assert max(got) <= 300, (
        f"a wait of {max(got):g} s exceeds the cap of 300 s: apply the cap to every wait"
    )
    assert got[-1] == 300, f"after 200 attempts the wait is the cap, 300 s, got {got[-1]:g}"


def test_bad_input_raises_value_error_naming_the_parameter(ex):
    cases = [
        ((5, 10, 5), "cap", "a cap below the base delay"),
        ((5, 0, 300), "base", "a base delay of 0"),
        ((5, -10, 300), "base", "a negative base delay"),
        ((5, 10, 300, 0), "factor", "a factor of 0"),
        ((5, 10, 300, -2), "factor", "a negative factor"),
        ((5, 10, 300, 0.5), "factor", "a factor below 1 (waits that shrink)"),
    ]
    for args, name, what in cases:
        try:
            ex.backoff_schedule(*args)
        except ValueError as error:
            assert name in str(error), (
                f"backoff_schedule{args} ({what}) raised ValueError({str(error)!r}), which "
                f"should name the parameter '{name}'"
            )
        else:
            raise AssertionError(f"backoff_schedule{args} should raise ValueError: {what}")


def _draws(fn, attempts=12, base=10, cap=300):
    rows = [
        as_floats(fn(attempts, base, cap, np.random.default_rng(s)), attempts, fn.__name__)
        for s in SEEDS
    ]
    return np.array(rows), np.array(ceilings(attempts, base, cap))


def test_full_jitter_lies_within_zero_and_the_capped_ceiling(ex):
    waits, v = _draws(ex.full_jitter)
    over = np.argwhere(waits > v * (1 + 1e-12))
    if len(over):
        seed, n = over[0]
        raise AssertionError(
            f"with seed {seed}, attempt {n} waited {waits[seed, n]:.1f} s, above "
            f"min(cap, base * 2**n) = {v[n]:g} s: full jitter draws from [0, min(cap, base*2**n)], "
            "so it can never exceed the cap"
        )
    assert waits.min() >= 0, f"a negative wait ({waits.min():.3f} s): draw from [0, v]"


def assert_independent(u, name):
    """Each attempt's random part (``u``, one row per seed) must not follow the one before."""
    for n in range(u.shape[1] - 1):
        r = np.corrcoef(u[:, n], u[:, n + 1])[0, 1]
        assert abs(r) < 0.25, (
            f"{name}: the waits of attempts {n} and {n + 1} move together (correlation "
            f"{r:.2f} over seeds 0-299): one random draw reused for several attempts? Draw a "
            "new random number for every attempt"
        )


def test_full_jitter_is_uniform_and_independent(ex):
    waits, v = _draws(ex.full_jitter)
    u = waits / v  # each should be uniform on [0, 1]
    assert_independent(u, "full_jitter")
    assert abs(u.mean() - 0.5) < 0.03, (
        f"full jitter waits half the ceiling on average, got {u.mean():.3f} of it over "
        f"{len(SEEDS)} seeds: draw uniformly from [0, v_n]"
    )
    p = stats.kstest(u.ravel(), "uniform").pvalue
    assert p > 1e-4, f"full jitter should be uniform on [0, v_n] (KS p = {p:.1e}, seeds 0-299)"


def test_jitter_is_deterministic_given_rng(ex):
    for name in ("full_jitter", "equal_jitter"):
        fn = getattr(ex, name)
        a = as_floats(fn(8, 10, 300, np.random.default_rng(42)), 8, name)
        b = as_floats(fn(8, 10, 300, np.random.default_rng(42)), 8, name)
        assert a == b, (
            f"{name} gave two schedules for the same seed (42): draw only from `rng`, "
            "not from the random module"
        )
        c = as_floats(fn(8, 10, 300, np.random.default_rng(43)), 8, name)
        assert a != c, f"{name} gave the same schedule for seeds 42 and 43: use `rng`"


def test_equal_jitter_keeps_half_and_draws_the_other_half(ex):
    waits, v = _draws(ex.equal_jitter)
    low = np.argwhere(waits < v / 2 * (1 - 1e-12))
    if len(low):
        seed, n = low[0]
        raise AssertionError(
            f"with seed {seed}, attempt {n} waited {waits[seed, n]:.1f} s, below half of "
            f"v_n = {v[n]:g} s: equal jitter waits v/2 plus a draw from [0, v/2]"
        )
    assert np.all(waits <= v * (1 + 1e-12)), (
        f"an equal-jitter wait exceeded v_n = min(cap, base*2**n) (max ratio "
        f"{(waits / v).max():.3f}): the random half is at most v/2"
    )
    u = (waits - v / 2) / (v / 2)
    assert_independent(u, "equal_jitter")
    assert math.isclose(u.mean(), 0.5, abs_tol=0.03), (
        f"equal jitter waits 3/4 of v_n on average, got {(waits / v).mean():.3f} of it"
    )
    p = stats.kstest(u.ravel(), "uniform").pvalue
    assert p > 1e-4, f"the random half should be uniform on [0, v/2] (KS p = {p:.1e}, seeds 0-299)"
