"""Grader for exercise 06 (health-check states, the retry decision, the retry's backend)."""

import itertools

import numpy as np

from halab.live.health import HealthCheck
from halab.live.retry import may_retry as reference_may_retry

EXERCISE = "ex06_failover"


def haproxy_states(results, rise, fall):
    """What HAProxy's counter says after each check, for a backend that starts fully UP."""
    h = HealthCheck(rise, fall, health=rise + fall - 1)
    out = []
    for ok in results:
        h.record(ok)
        out.append(h.state)
    return out


def show(results):
    return " ".join("pass" if ok else "FAIL" for ok in results)


def test_check_states_by_hand(ex):
    cases = [
        ([False, True, False, False, True, True], 2, 2, "the docstring's example"),
        ([False, False, False], 2, 3, "three failures in a row with fall 3"),
        ([False, False], 2, 3, "only two failures with fall 3: still UP"),
        ([False, False, True, False, False, False], 2, 3, "a pass between failures resets fall"),
        ([False, False, True, False, True, True], 2, 2, "a failure while DOWN resets rise"),
        ([False, True, True, True], 3, 1, "fall 1: one failure is enough; rise 3: three passes"),
        ([], 2, 2, "no checks at all"),
    ]
    for results, rise, fall, what in cases:
        want = haproxy_states(results, rise, fall)
        got = ex.check_states(results, rise, fall)
        assert got == want, (
            f"{what}: checks {show(results)} with rise={rise}, fall={fall} should give {want}, "
            f"got {got}. An UP backend goes DOWN only after `fall` failures in a row, and a "
            "DOWN one comes back only after `rise` passes in a row"
        )


def test_check_states_on_random_sequences(ex):
    seed = 606
    rng = np.random.default_rng(seed)
    for _ in range(300):
        rise, fall = int(rng.integers(1, 5)), int(rng.integers(1, 5))
        results = [bool(x) for x in rng.random(int(rng.integers(0, 25))) < rng.uniform(0.2, 0.8)]
        want = haproxy_states(results, rise, fall)
        got = ex.check_states(results, rise, fall)
        assert got == want, (
            f"checks {show(results)} with rise={rise}, fall={fall} should give {want}, got {got} "
            f"(random case, seed {seed})"
        )


def test_may_retry_by_hand(ex):
    cases = [
        (("GET", True, 503, 1, 2), True, "a GET answered 503 may try another backend"),
        (("GET", True, None, 1, 2), True, "a GET that timed out may try another backend"),
        (("POST", False, None, 1, 2), True, "a refused POST never reached anyone: retry it"),
        (("POST", True, None, 1, 2), False, "a POST that reached a backend may have run: never"),
        (("POST", True, 502, 1, 2), False, "a POST answered 502 reached a backend: never"),
        (("DELETE", True, 500, 1, 2), True, "DELETE is idempotent: deleting twice is fine"),
        (("PATCH", True, 500, 1, 2), False, "PATCH is not in IDEMPOTENT"),
        (
            ("GET", True, 404, 1, 2),
            False,
            "a 404 is the client's mistake: another backend says the same",
        ),
        (("GET", True, 200, 1, 2), False, "a success is never retried"),
        (("GET", True, 503, 2, 2), True, "two attempts with retries=2: one retry made, one left"),
        (("GET", True, 503, 3, 2), False, "three attempts with retries=2: no retry left"),
        (("GET", False, None, 1, 0), False, "retries=0 means no retry at all"),
    ]
    for (method, reached, status, attempts, retries), want, why in cases:
        got = ex.may_retry(method, reached, status, attempts, retries)
        assert got is want or got == want, (
            f"may_retry({method!r}, reached={reached}, status={status}, attempts={attempts}, "
            f"retries={retries}) should be {want}, got {got!r}: {why}"
        )


def test_may_retry_everywhere(ex):
    methods = ["GET", "HEAD", "PUT", "DELETE", "OPTIONS", "POST", "PATCH"]
    for method, reached, status, attempts, retries in itertools.product(
        methods, [True, False], [None, 200, 301, 404, 500, 503, 504], [1, 2, 3, 4], [0, 1, 3]
    ):
        want = reference_may_retry(
            method, reached=reached, status=status, attempts=attempts, retries=retries
        )
        got = ex.may_retry(method, reached, status, attempts, retries)
        assert bool(got) == want, (
            f"may_retry({method!r}, reached={reached}, status={status}, attempts={attempts}, "
            f"retries={retries}) should be {want}, got {got!r}"
        )


def test_retry_backend(ex):
    cases = [
        (([True, False, True, True], [2], 2), 3, "the docstring's example"),
        (([True, True, True], [0], 0), 1, "the next backend after the one tried"),
        (([True, True, True], [2], 2), 0, "going round: after the last backend comes 0"),
        (([False, True, True], [1], 1), 2, "skip the tried backend"),
        (([True, False, False], [1], 1), 0, "skip backends out of rotation"),
        (([True, True, False], [0, 1], 0), None, "every backend in rotation was tried: None"),
        (([False, False, False], [], 0), None, "nothing in rotation: None, not a loop"),
        (([True, True, True, True], [], 2), 2, "nothing tried yet: start where the pointer is"),
    ]
    for (in_rotation, tried, start), want, why in cases:
        got = ex.retry_backend(in_rotation, tried, start)
        assert got == want and (want is not None or got is None), (
            f"retry_backend({in_rotation}, tried={tried}, start={start}) should be {want}, "
            f"got {got!r}: {why}"
        )
