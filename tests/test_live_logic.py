"""Tests of halab.live's logic without a network: health counter, ejection, retries, settings."""

from __future__ import annotations

import doctest
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import halab.live.health
import halab.live.retry
from halab.live import (
    IDEMPOTENT_METHODS,
    Event,
    HealthCheck,
    LoadResult,
    OutlierDetector,
    Record,
    Settings,
    may_retry,
    retry_candidates,
)
from halab.live.balancer import Balancer

# -- HealthCheck: HAProxy's counter against a model written from the manual's words -----------


def consecutive_model(results, rise, fall, up=True, failures_used=None):
    """UP goes DOWN after `fall` failures in a row, DOWN goes UP after `rise` passes in a row.

    HAProxy starts a server at health = rise: UP, but DOWN at the first failure, i.e. as if
    fall - 1 failures were already counted (``failures_used``).
    """
    streak = fall - 1 if failures_used is None else failures_used
    states = []
    for ok in results:
        if up:
            streak = 0 if ok else streak + 1
            if streak >= fall:
                up, streak = False, 0
        else:
            streak = streak + 1 if ok else 0
            if streak >= rise:
                up, streak = True, 0
        states.append(up)
    return states


@settings(max_examples=300, deadline=None)
@given(
    rise=st.integers(1, 6),
    fall=st.integers(1, 6),
    results=st.lists(st.booleans(), max_size=60),
)
def test_health_counter_matches_consecutive_rise_fall(rise, fall, results):
    h = HealthCheck(rise, fall)
    got = []
    for ok in results:
        h.record(ok)
        got.append(h.up)
    want = consecutive_model(results, rise, fall)
    assert got == want, f"rise={rise} fall={fall} results={results}"


@settings(max_examples=200, deadline=None)
@given(rise=st.integers(1, 6), fall=st.integers(1, 6), results=st.lists(st.booleans(), max_size=60))
def test_fully_up_counter_needs_fall_failures(rise, fall, results):
    h = HealthCheck(rise, fall, health=rise + fall - 1)
    got = []
    for ok in results:
        h.record(ok)
        got.append(h.up)
    assert got == consecutive_model(results, rise, fall, failures_used=0), (rise, fall, results)


@pytest.mark.parametrize("rise,fall", [(2, 3), (1, 1), (3, 2), (5, 5)])
def test_transitions_are_reported_once_at_the_flip(rise, fall):
    h = HealthCheck(rise, fall, health=rise + fall - 1)
    changes = [h.record(False) for _ in range(fall + 2)]
    assert changes == [None] * (fall - 1) + ["DOWN", None, None]
    changes = [h.record(True) for _ in range(rise + 2)]
    assert changes == [None] * (rise - 1) + ["UP", None, None]


def test_haproxy_start_is_up_but_falls_at_first_failure():
    h = HealthCheck(rise=2, fall=3)
    assert h.up and h.health == 2
    assert h.record(False) == "DOWN"
    assert h.health == 0


def test_a_failure_while_down_restarts_the_rise_count():
    h = HealthCheck(rise=3, fall=2, health=0)
    assert [h.record(x) for x in (True, True, False, True, True)] == [None] * 5
    assert not h.up
    assert h.record(True) == "UP"


@pytest.mark.parametrize(
    "kwargs, word",
    [
        ({"rise": 0, "fall": 2}, "rise"),
        ({"rise": 2, "fall": 0}, "fall"),
        ({"rise": 2, "fall": 2, "health": 4}, "health"),
        ({"rise": 2.0, "fall": 2}, "rise"),
    ],
)
def test_health_check_rejects_bad_input(kwargs, word):
    with pytest.raises(ValueError, match=word):
        HealthCheck(**kwargs)


# -- OutlierDetector: Envoy's ejection algorithm -----------------------------------------------


def test_ejection_after_consecutive_failures_and_success_resets():
    d = OutlierDetector(3, consecutive_5xx=3, base_ejection_time=1.0, max_ejection_percent=100)
    assert [d.record(0, False, 0.0) for _ in range(2)] == [False, False]
    assert d.record(0, True, 0.0) is False  # a success resets the count
    assert [d.record(0, False, 0.1) for _ in range(3)] == [False, False, True]
    assert d.ejected(0, 0.5) and not d.ejected(1, 0.5)


def test_ejection_time_is_base_times_number_of_ejections_capped():
    base, cap = 2.0, 5.0
    d = OutlierDetector(
        2,
        consecutive_5xx=1,
        base_ejection_time=base,
        max_ejection_percent=100,
        max_ejection_time=cap,
    )
    now = 0.0
    lengths = []
    for _ in range(4):
        assert d.record(0, False, now)
        t_end = now
        while d.ejected(0, t_end):
            t_end += 0.25
        lengths.append(t_end - now)
        assert d.expired(t_end) == [0]
        now = t_end + 1.0
    want = [min(base * k, cap) for k in range(1, 5)]  # 2, 4, 5, 5 seconds
    assert lengths == pytest.approx(want, abs=0.25), lengths


@pytest.mark.parametrize(
    "n, percent, allowed",
    [(3, 10, 1), (3, 50, 2), (3, 100, 2), (10, 10, 1), (10, 25, 3), (4, 0, 0)],
)
def test_max_ejection_percent_counts_like_envoy(n, percent, allowed):
    # Envoy ejects while 100 * ejected / n < max_ejection_percent; halab never ejects the last
    # backend in rotation, so with 100 % one stays.
    d = OutlierDetector(n, consecutive_5xx=1, base_ejection_time=60, max_ejection_percent=percent)
    ejected = sum(d.record(i, False, 0.0) for i in range(n))
    want = min(n - 1, sum(1 for k in range(n) if 100 * k / n < percent))
    assert ejected == allowed == want


def test_uneject_by_active_check_keeps_the_multiplier():
    d = OutlierDetector(2, consecutive_5xx=1, base_ejection_time=1.0, max_ejection_percent=100)
    assert d.record(0, False, 0.0)
    assert d.uneject(0) and not d.ejected(0, 0.1)
    assert d.uneject(0) is False
    assert d.record(0, False, 0.2)
    assert d.ejected(0, 2.1) and not d.ejected(0, 2.2)  # the second ejection lasts 2 s


def test_outlier_detector_rejects_bad_input():
    with pytest.raises(ValueError, match="consecutive_5xx"):
        OutlierDetector(3, consecutive_5xx=0)
    with pytest.raises(ValueError, match="max_ejection_percent"):
        OutlierDetector(3, max_ejection_percent=120)
    with pytest.raises(ValueError, match="backend index"):
        OutlierDetector(3).record(3, False, 0.0)


# -- the retry decision ------------------------------------------------------------------------

METHODS = ["GET", "HEAD", "PUT", "DELETE", "OPTIONS", "POST", "PATCH"]


@pytest.mark.parametrize(
    "method, reached, status, attempts, retries",
    list(itertools.product(METHODS, [True, False], [None, 500, 503, 404, 200], [1, 2, 3], [0, 2])),
)
def test_retry_table(method, reached, status, attempts, retries):
    got = may_retry(method, reached=reached, status=status, attempts=attempts, retries=retries)
    failed = status is None or status >= 500
    within_bound = attempts <= retries
    safe = (not reached) or method in {"GET", "HEAD", "PUT", "DELETE", "OPTIONS"}
    assert got == (failed and within_bound and safe)


def test_post_that_reached_the_backend_is_never_retried():
    for status in (None, 500, 502, 503, 504):
        assert not may_retry("POST", reached=True, status=status, attempts=1, retries=5)
    assert may_retry("post", reached=False, status=None, attempts=1, retries=1)


def test_retry_on_5xx_can_be_turned_off_but_not_for_timeouts():
    assert not may_retry("GET", reached=True, status=500, attempts=1, retries=2, retry_on_5xx=False)
    assert may_retry("GET", reached=True, status=None, attempts=1, retries=2, retry_on_5xx=False)


def test_idempotent_methods_are_rfc_9110s():
    assert {"GET", "HEAD", "PUT", "DELETE", "OPTIONS"} <= IDEMPOTENT_METHODS
    assert not {"POST", "PATCH", "CONNECT"} & IDEMPOTENT_METHODS


def test_retry_candidates_exclude_tried_and_unroutable():
    assert retry_candidates([True, False, True, True], [0, 3]) == [False, False, True, False]


# -- settings, events, load results ------------------------------------------------------------


def test_settings_round_trip_and_defaults():
    s = Settings(policy="least_connections", weights=[1, 2, 3], inter=0.5)
    assert Settings.from_dict(s.to_dict()) == s
    assert Settings.from_dict(Settings(panic_threshold=25.0).to_dict()).panic_threshold == 25.0
    assert Settings().panic_threshold == 50.0  # Envoy's healthy_panic_threshold default
    assert s.effective_check_timeout == 0.5  # HAProxy: `inter` when `timeout check` is unset
    assert Settings(check_timeout=0.1).effective_check_timeout == 0.1


@pytest.mark.parametrize(
    "kwargs, word",
    [
        ({"inter": 0}, "inter"),
        ({"rise": 0}, "rise"),
        ({"fall": 1.5}, "fall"),
        ({"retries": -1}, "retries"),
        ({"timeout": -2}, "timeout"),
        ({"weights": [1, 0]}, "weights"),
        ({"max_ejection_percent": 101}, "max_ejection_percent"),
        ({"check_path": "health"}, "check_path"),
        ({"check_path": "/health\n    server evil 127.0.0.1:9"}, "check_path"),
        ({"check_path": "/a b"}, "check_path"),
        ({"check_path": "/a;b"}, "check_path"),
        ({"check_path": "/a#b"}, "check_path"),
        ({"panic_threshold": 101}, "panic_threshold"),
        ({"panic_threshold": -1}, "panic_threshold"),
    ],
)
def test_settings_reject_bad_values(kwargs, word):
    with pytest.raises(ValueError, match=word):
        Settings(**kwargs)


def test_settings_from_dict_rejects_unknown_keys():
    with pytest.raises(ValueError, match="unknown settings"):
        Settings.from_dict({"inter": 0.2, "interval": 1})


def test_event_round_trip_and_shift():
    e = Event(12.5, "kill", 1, "SIGKILL")
    assert Event.from_dict(e.to_dict()) == e
    assert e.shifted(10.0).t == pytest.approx(2.5)
    assert "kill" in str(e) and "b1" in str(e)


def test_load_result_counts_and_rates():
    recs = [
        Record(0.05, 0.01, 200, "b0", ("b0",)),
        Record(0.10, 0.01, 200, "b1", ("b1",)),
        Record(0.30, 0.01, 502, None, ("b2", "b0")),
        Record(0.35, 0.01, 0, None, (), "ConnectionError"),
        Record(0.60, 0.01, 200, "b0", ("b2", "b0")),
    ]
    r = LoadResult(recs, t0=0.0)
    assert (r.ok, r.failed) == (3, 2)
    assert r.count_by_backend() == {"b0": 2, "b1": 1}
    assert list(r.tried("b2")) == [0.30, 0.60]
    edges, per, bad = r.rates(bin_width=0.25, end=0.75)
    assert list(edges) == [0.0, 0.25, 0.5, 0.75]
    assert list(per["b0"]) == [4.0, 0.0, 4.0]  # one answer in a 0.25 s bin = 4 per second
    assert list(bad) == [0.0, 8.0, 0.0]


def test_doctests():
    for module in (halab.live.health, halab.live.retry):
        result = doctest.testmod(module)
        assert result.failed == 0 and result.attempted > 0, module.__name__


# -- detection delays: closed forms against the simulated check loop ---------------------------


@pytest.mark.parametrize(
    "inter, fall, rise, check_time", [(0.2, 2, 2, 0.0), (1.0, 3, 2, 0.0), (0.5, 1, 4, 0.1)]
)
def test_simulated_check_loop_matches_the_uniform_closed_form(inter, fall, rise, check_time):
    seed, trials = 11, 4000
    down, up = halab.live.health.simulate_checks(
        inter, fall, rise, check_time=check_time, trials=trials, seed=seed
    )
    for delays, (low, high) in (
        (down, halab.live.health.detection_bounds(inter, fall, check_time)),
        (up, halab.live.health.readmission_bounds(inter, rise, check_time)),
    ):
        assert low - 1e-12 <= delays.min() and delays.max() < high + 1e-12, f"seed {seed}"
        sd = (high - low) / np.sqrt(12 * trials)  # standard error of a uniform mean
        assert abs(delays.mean() - (low + high) / 2) < 4 * sd, f"seed {seed}"
        quartiles = np.quantile(delays, [0.25, 0.75])
        want = [low + 0.25 * (high - low), low + 0.75 * (high - low)]
        assert quartiles == pytest.approx(want, abs=0.03 * (high - low)), f"seed {seed}"


def test_detection_bounds_by_hand():
    assert halab.live.health.detection_bounds(0.2, 2) == pytest.approx((0.2, 0.4))
    assert halab.live.health.readmission_bounds(2.0, 2) == pytest.approx((2.0, 4.0))  # HAProxy
    # failing checks that take 0.1 s: 2 cycles of 0.6 s, the third check's 0.1 s, then inter
    assert halab.live.health.detection_bounds(0.5, 3, 0.1) == pytest.approx((1.3, 1.8))


@pytest.mark.parametrize(
    "inter, fall, rise, timeout", [(2.0, 3, 2, 2.0), (0.2, 2, 2, 0.0), (1.0, 5, 3, 0.5)]
)
def test_bounds_agree_with_lesson_04s_haproxy_calculator(inter, fall, rise, timeout):
    from halab.detection import haproxy_detection

    if timeout > 0:
        worst = haproxy_detection(inter, fall, rise, check_timeout=timeout).worst_case
        assert halab.live.health.detection_bounds(inter, fall, timeout)[1] == pytest.approx(worst)
    calc = haproxy_detection(inter, fall, rise, check_timeout=inter)
    assert halab.live.health.detection_bounds(inter, fall)[0] == pytest.approx(calc.best_case)
    assert halab.live.health.readmission_bounds(inter, rise)[1] == pytest.approx(calc.recovery)


def test_ejection_bounds_against_round_robin_arrivals():
    rate, n, k, seed = 90.0, 3, 3, 5
    rng = np.random.default_rng(seed)
    delays = []
    for phase in rng.uniform(0, 1 / rate, size=2000):
        arrivals = phase + np.arange(60) / rate - 0.3  # a steady stream around the death at 0
        owner = (np.arange(60) + rng.integers(n)) % n  # round robin, random starting server
        victim = arrivals[(owner == 0) & (arrivals >= 0)]
        delays.append(victim[k - 1])
    low, high = halab.live.health.ejection_bounds(rate, n, k)
    assert low - 1e-9 <= min(delays) and max(delays) < high + 1e-9, f"seed {seed}"
    assert np.mean(delays) == pytest.approx((low + high) / 2, rel=0.05), f"seed {seed}"


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_ejection_bounds_with_retries_against_the_real_round_robin(n):
    # The balancer's loop: each request picks from the policy; a failed one (on the dead
    # backend) is retried on a backend not yet tried, picked from the same policy.
    from halab.balancing import make_policy

    rate, k, seed = 100.0, 3, 6
    rng = np.random.default_rng(seed)
    victim = n // 2
    delays = []
    for _ in range(500):
        policy = make_policy("round_robin", n)
        for _ in range(int(rng.integers(n))):  # a random place in the rotation
            policy.pick([0] * n, [True] * n)
        t, failures = -0.3 + rng.uniform(0, 1 / rate), 0
        while failures < k:
            i = policy.pick([0] * n, [True] * n)
            if i == victim and t >= 0:
                failures += 1
                if failures == k:
                    delays.append(t)
                elif n > 1:
                    policy.pick([0] * n, [j != i for j in range(n)])  # the retry
            t += 1 / rate
    low, high = halab.live.health.ejection_bounds(rate, n, k, retries=2)
    assert low - 1e-9 <= min(delays) and max(delays) < high + 1e-9, f"n={n}, seed {seed}"
    if n > 2:  # retries take turns, so ejection comes sooner than without them
        assert high < halab.live.health.ejection_bounds(rate, n, k)[1]


def test_detection_functions_reject_bad_input():
    with pytest.raises(ValueError, match="inter"):
        halab.live.health.detection_bounds(0, 2)
    with pytest.raises(ValueError, match="check_time"):
        halab.live.health.readmission_bounds(0.2, 2, -1)
    with pytest.raises(ValueError, match="rate"):
        halab.live.health.ejection_bounds(0, 3, 3)
    with pytest.raises(ValueError, match="retries"):
        halab.live.health.ejection_bounds(100, 3, 3, retries=-1)
    with pytest.raises(ValueError, match="trials"):
        halab.live.health.simulate_checks(0.2, 2, 2, trials=0)


# -- the load generator's loopback guard --------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000",
        "http://127.0.0.1:8000/x?y=1",
        "http://127.5.6.7:1",
        "http://localhost:8000",
        "http://LOCALHOST:8000",
        "http://[::1]:8000",
    ],
)
def test_load_generator_takes_local_urls(url):
    from halab.live.loadgen import LoadGenerator

    assert LoadGenerator(url, count=1).url.startswith(url.rstrip("/"))


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost@example.com",
        "http://localhost:80@example.com/",
        "http://user:pw@127.0.0.1:8000",
        "http://127.0.0.1.example.com",
        "http://localhost.example.com",
        "http://example.com",
        "http://10.0.0.1:80",
        "http://[::2]:80",
        "http://0.0.0.0:80",
        "ftp://127.0.0.1/",
        "127.0.0.1:8000",
        "http://127.0.0.1:99999",
        "http://127.0.0.1:80\n/x",
        None,
    ],
)
def test_load_generator_refuses_urls_that_leave_the_machine(url):
    from halab.live.loadgen import LoadGenerator

    with pytest.raises(ValueError, match="url"):
        LoadGenerator(url, count=1)


def test_load_generator_refuses_a_path_that_changes_the_host():
    from halab.live.loadgen import LoadGenerator

    for path in ("@example.com", "/x y", "/a\r\nHost: evil"):
        with pytest.raises(ValueError, match="path"):
            LoadGenerator("http://127.0.0.1:8000", count=1, path=path)


# -- ejection never finishes what health checks began; the panic threshold ----------------------


def test_the_cap_counts_backends_down_by_health_checks():
    d = OutlierDetector(4, consecutive_5xx=1, base_ejection_time=60, max_ejection_percent=50)
    assert d.record(0, False, 0.0, out={1})  # 1 of 4 out: 25 % < 50 %
    assert not d.record(2, False, 0.0, out={1})  # b0 ejected, b1 DOWN: 50 %, the cap
    assert not d.record(3, False, 0.0, out={1})


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_the_last_backend_in_rotation_is_never_ejected(n):
    # the revive at 64 clients: every other backend is out, and the one left times
    # out on connects because its listen backlog overflows; ejecting it would answer 503 to all
    d = OutlierDetector(n, consecutive_5xx=3, base_ejection_time=1.0, max_ejection_percent=100)
    down = set(range(1, n))
    for k in range(50):
        assert not d.record(0, False, 0.01 * k, out=down)
    assert not d.ejected(0, 0.5) and d.active_ejections(0.5) == 0


def _balancer(n: int, **settings) -> Balancer:
    """A balancer that is never started: its routing state, driven by hand."""
    return Balancer(list(range(40001, 40001 + n)), Settings(**settings), clock=lambda: 0.0)


def _down(b: Balancer, i: int, refused: bool) -> None:
    b.checks[i].health = 0
    b.refused[i] = refused


def test_panic_routes_to_every_backend_not_known_dead():
    b = _balancer(3)
    _down(b, 1, refused=False)  # DOWN: its checks time out (busy, alive)
    b._refresh(0.0)
    assert b._candidates() == ([True, False, True], False)  # 2 of 3 in rotation: no panic
    _down(b, 2, refused=True)  # DOWN: nothing listens
    b._refresh(0.0)
    assert b._candidates() == ([True, True, False], True)  # 1 of 3 < 50 %: panic
    _down(b, 0, refused=True)
    b._refresh(0.0)
    assert b._candidates() == ([False, True, False], True)
    b.refused[1] = True
    assert b._candidates() == ([False, False, False], True)  # every one dead: a 503


def test_panic_threshold_zero_turns_panic_off_and_ejected_backends_count():
    b = _balancer(3, panic_threshold=0.0)
    _down(b, 1, refused=False)
    _down(b, 2, refused=False)
    b._refresh(0.0)
    assert b._candidates() == ([True, False, False], False)
    b = _balancer(2)
    assert b.outliers.record(1, False, 0.0) is False  # 1 of 3 failures
    for _ in range(2):
        b.outliers.record(1, False, 0.0)
    b._refresh(0.0)
    assert b.outliers.ejected(1, 0.0)
    assert b._candidates() == ([True, False], False)  # 1 of 2 = 50 %: not below the threshold
    assert _balancer(2, panic_threshold=60.0)._candidates() == ([True, True], False)
