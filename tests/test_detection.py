"""Tests of halab.detection: φ against Akka and the normal CDF, detectors, QoS against theory."""

from __future__ import annotations

import doctest
import math

import numpy as np
import pytest
from scipy.stats import norm

import halab.detection
from halab.detection import (
    FixedTimeoutDetector,
    PhiAccrualDetector,
    akka_detection,
    haproxy_detection,
    k_missed_qos,
    kubernetes_detection,
    measure_qos,
    phi,
    phi_timeout,
    replay,
    simulate_heartbeats,
    timeline,
    zookeeper_detection,
)


def test_module_doctests_run_as_written():
    result = doctest.testmod(halab.detection, verbose=False)
    assert result.attempted >= 8
    assert result.failed == 0


# -- φ -------------------------------------------------------------------------------------


def _cdf(level):
    return 1.0 - 10.0 ** (-level)


# Published figures: Akka's own test suite, akka-remote/src/test/scala/akka/remote/
# AccrualFailureDetectorSpec.scala, "use good enough cumulative distribution function".
@pytest.mark.parametrize(
    ("elapsed", "mean", "std", "cdf", "tol"),
    [
        (0, 0, 10, 0.5, 0.001),
        (6, 0, 10, 0.7257, 0.001),
        (15, 0, 10, 0.9332, 0.001),
        (20, 0, 10, 0.97725, 0.001),
        (25, 0, 10, 0.99379, 0.001),
        (35, 0, 10, 0.99977, 0.001),
        (40, 0, 10, 0.99997, 0.0001),
        (22, 20.0, 3, 0.7475, 0.001),
    ],
)
def test_phi_matches_akka_cdf_figures(elapsed, mean, std, cdf, tol):
    assert _cdf(phi(elapsed, mean, std)) == pytest.approx(cdf, abs=tol)


# Same spec, "return realistic phi values": mean 1000 ms, std 100 ms, within 0.1.
@pytest.mark.parametrize(
    ("elapsed", "expected"),
    [(0, 0.0), (500, 0.1), (1000, 0.3), (1200, 1.6), (1400, 4.7), (1600, 10.8), (1700, 15.3)],
)
def test_phi_matches_akka_realistic_values(elapsed, expected):
    assert phi(elapsed, 1000.0, 100.0) == pytest.approx(expected, abs=0.1)


def test_phi_outliers_like_akka():
    # Akka spec "handle outliers without losing precision or hitting exceptions"
    assert phi(10, 0, 1) == pytest.approx(38.0, abs=1.0)
    assert phi(-25, 0, 1) == 0.0
    assert phi(1e6, 0, 1) == math.inf
    assert phi(1100, 1000.0, 500.0) < phi(1100, 1000.0, 100.0)


def test_phi_by_hand():
    # y = 0: e = 1, phi = -log10(1 - 1/2) = log10 2.
    assert phi(7.0, 7.0, 2.0) == pytest.approx(math.log10(2), rel=1e-12)
    # y = 10: e = exp(-10 (1.5976 + 7.0566)) = exp(-86.542) ~ 2.6e-38, so
    # phi = -log10(e/(1+e)) = 86.542 / ln 10 = 37.58463... (the log10(1+e) term is 1e-38).
    assert phi(10.0, 0.0, 1.0) == pytest.approx(86.542 / math.log(10), rel=1e-12)
    # y = 4 (elapsed 2 s, mean 1 s, std 0.25 s): exponent -4 (1.5976 + 0.070566*16) = -10.906624
    # e = 1.8323e-5, phi = 10.906624/ln10 + log10(1 + e) = 4.7366866 + 0.0000080 = 4.7366946
    assert phi(2.0, 1.0, 0.25) == pytest.approx(4.7366946, abs=1e-6)


def test_phi_two_branches_are_consistent():
    # The logistic F is symmetric, F(-y) = 1 - F(y), so 10^-phi(y) + 10^-phi(-y) = 1.
    # This checks the "elapsed > mean" branch against the other one (a sign slip breaks it).
    for y in np.linspace(0.05, 6.0, 40):
        total = 10.0 ** -phi(y, 0.0, 1.0) + 10.0 ** -phi(-y, 0.0, 1.0)
        assert total == pytest.approx(1.0, abs=1e-12), y


def test_phi_is_close_to_the_normal_tail():
    # Bowling et al. (2009): the logistic approximation's largest CDF error is about 1.4e-4.
    ys = np.linspace(-4, 4, 161)
    approx = np.array([_cdf(phi(y, 0.0, 1.0)) for y in ys])
    assert np.max(np.abs(approx - norm.cdf(ys))) < 1.5e-4
    # and phi is increasing in the elapsed time (Akka: x < y => phi(x) < phi(y))
    levels = [phi(x, 0, 10) for x in range(41)]
    assert all(a < b for a, b in zip(levels, levels[1:]))


def test_phi_is_log10_not_ln():
    # Near y = 2, phi is within 2 % of -log10(sf) of the normal; a natural log would be 2.3x.
    assert phi(2.0, 0.0, 1.0) == pytest.approx(-np.log10(norm.sf(2.0)), rel=0.02)


@pytest.mark.parametrize("std", [0.0, -1.0, math.nan, math.inf])
def test_phi_rejects_bad_std(std):
    with pytest.raises(ValueError, match="std must be"):
        phi(1.0, 1.0, std)


@pytest.mark.parametrize("threshold", [0.1, math.log10(2), 0.5, 1.0, 3.0, 8.0, 16.0, 30.0])
def test_phi_timeout_inverts_phi(threshold):
    x = phi_timeout(threshold, mean=4.0, std=0.3)
    assert phi(x, 4.0, 0.3) == pytest.approx(threshold, rel=1e-9)
    assert (x > 4.0) == (threshold > math.log10(2) + 1e-12)


# -- the φ accrual detector, scenarios from Akka's AccrualFailureDetectorSpec -----------------


def _akka(threshold=8.0, max_sample_size=1000, pause=0.0):
    # the spec's createFailureDetector: min std 100 ms, first estimate 1 s, pause 0 by default
    return PhiAccrualDetector(threshold, max_sample_size, 0.1, pause, 1.0)


def test_phi_detector_zero_before_any_heartbeat_and_guess_after_one():
    fd = _akka()
    assert fd.level(5.0) == 0.0 and not fd.suspects(1e9)
    fd.heartbeat(0.0)
    assert fd.level(1.0) == pytest.approx(0.3, abs=0.2)
    assert fd.level(2.0) == pytest.approx(4.5, abs=0.3)
    assert fd.level(3.0) > 15.0
    assert fd.mean == pytest.approx(1.0) and fd.std == pytest.approx(0.25)


def test_phi_detector_marks_dead_when_heartbeats_are_missed():
    fd = _akka(threshold=3)
    for t in (0.0, 1.0, 1.1):
        fd.heartbeat(t)
    assert not fd.suspects(1.2)
    assert fd.suspects(8.2)


def test_phi_detector_accepts_configured_missing_heartbeats():
    fd = _akka(pause=3.0)
    for t in (0.0, 1.0, 2.0, 3.0):
        fd.heartbeat(t)
    assert not fd.suspects(7.0)
    fd.heartbeat(8.0)
    assert not fd.suspects(9.0)


def test_phi_detector_fails_after_configured_acceptable_missing_heartbeats():
    fd = _akka(pause=3.0)
    for t in (0.0, 1.0, 2.0, 3.0, 4.0, 5.0):
        fd.heartbeat(t)
    assert not fd.suspects(5.5)
    fd.heartbeat(6.0)
    assert fd.suspects(11.0)


def test_phi_detector_recovers_and_ignores_the_gap_after_a_suspicion():
    fd = _akka(threshold=8, pause=3.0)
    for t in range(1000):
        fd.heartbeat(float(t))
    assert fd.suspects(1299.0)  # after a 5-minute pause
    fd.heartbeat(1299.1)
    assert len(fd.intervals) == 1000 and max(fd.intervals) < 2.0  # the 300 s gap was left out
    assert not fd.suspects(1300.0)
    fd.heartbeat(1300.1)
    assert fd.suspects(1307.1)  # after 7 s
    fd.heartbeat(1307.2)
    assert not fd.suspects(1308.1)
    fd.heartbeat(1308.2)
    assert not fd.suspects(1309.1)


def test_phi_detector_uses_only_max_sample_size_heartbeats():
    fd = _akka(max_sample_size=3)
    for t in (0.0, 0.1, 0.2, 0.3):
        fd.heartbeat(t)
    phi1 = fd.level(0.4)
    for t in (1.0, 1.5, 2.0, 2.5):
        fd.heartbeat(t)
    phi2 = fd.level(3.0)
    assert phi2 == pytest.approx(phi1, abs=0.001)


def test_phi_detector_window_statistics():
    # Akka spec "Statistics for heartbeats", samples in ms turned into seconds.
    fd = PhiAccrualDetector(max_sample_size=5)
    t = 0.0
    fd.heartbeat(t)
    for ms in (100, 200, 125, 340, 130):
        t += ms / 1000
        fd.heartbeat(t)
    assert fd.mean == pytest.approx(0.179, abs=1e-9)
    assert fd.std**2 == pytest.approx(7584e-6, rel=1e-6)
    fd = PhiAccrualDetector(max_sample_size=3)
    t = 0.0
    fd.heartbeat(t)
    expected = [(0.100, 66.6666667e-6), (0.11333333, 422.222222e-6), (0.10333333, 688.8888889e-6)]
    for i, ms in enumerate((100, 110, 90, 140, 80)):
        t += ms / 1000
        fd.heartbeat(t)
        if i >= 2:
            mean, var = expected[i - 2]
            assert fd.mean == pytest.approx(mean, abs=1e-8)
            assert fd.std**2 == pytest.approx(var, rel=1e-6)


def test_phi_detector_suspicion_time_is_where_phi_reaches_threshold():
    fd = PhiAccrualDetector(threshold=5.0, acceptable_heartbeat_pause=0.5)
    for t in np.arange(0, 20, 1.0):
        fd.heartbeat(float(t))
    s = fd.suspicion_time()
    assert fd.level(s) == pytest.approx(5.0, rel=1e-9)
    assert not fd.suspects(s - 1e-6) and fd.suspects(s + 1e-6)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"threshold": 0}, "threshold"),
        ({"max_sample_size": 0}, "max_sample_size"),
        ({"min_std_deviation": 0}, "min_std_deviation"),
        ({"acceptable_heartbeat_pause": -1}, "acceptable_heartbeat_pause"),
        ({"first_heartbeat_estimate": 0}, "first_heartbeat_estimate"),
    ],
)
def test_phi_detector_rejects_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        PhiAccrualDetector(**kwargs)


# -- the fixed timeout ----------------------------------------------------------------------


def test_fixed_timeout_detector():
    fd = FixedTimeoutDetector.k_missed(3, interval=2.0)
    assert fd.timeout == 7.0
    assert not fd.suspects(100.0)  # nothing heard yet
    fd.heartbeat(10.0)
    assert fd.suspicion_time() == 17.0
    assert not fd.suspects(16.999) and fd.suspects(17.0)
    assert fd.level(13.5) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="timeout"):
        FixedTimeoutDetector(0)
    with pytest.raises(ValueError, match="interval"):
        FixedTimeoutDetector.k_missed(2, interval=0)
    with pytest.raises(ValueError, match="k must be"):
        FixedTimeoutDetector.k_missed(0, interval=1)
    with pytest.raises(ValueError, match="margin"):
        FixedTimeoutDetector.k_missed(2, interval=1, margin=1.0)


# -- simulation, replay and the online monitor -----------------------------------------------


def test_simulate_heartbeats_constant_delay_is_exact():
    run = simulate_heartbeats(interval=0.5, duration=10.0, delay=0.02, seed=0)
    assert run.beats == 20  # at 0, 0.5, ..., 9.5
    assert run.arrivals == pytest.approx(np.arange(20) * 0.5 + 0.02)
    assert run.sent == pytest.approx(np.arange(20) * 0.5)


def test_simulate_heartbeats_is_deterministic_per_seed():
    kw = dict(interval=1.0, duration=500.0, jitter=0.005, loss=0.2)
    a, b, c = (simulate_heartbeats(**kw, seed=s) for s in (4, 4, 5))
    assert np.array_equal(a.arrivals, b.arrivals)
    assert not np.array_equal(a.arrivals, c.arrivals)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"interval": 0}, "interval"),
        ({"interval": -1}, "interval"),
        ({"loss": 1.0}, "loss must be in"),
        ({"loss": -0.1}, "loss must be in"),
        ({"duration": 0}, "duration"),
        ({"crash_at": 1e6}, "crash_at"),
    ],
)
def test_simulate_heartbeats_rejects_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        simulate_heartbeats(**{"duration": 10.0, **kwargs})


@pytest.mark.parametrize(
    "make",
    [
        lambda: FixedTimeoutDetector.k_missed(2, 1.0),
        lambda: PhiAccrualDetector(threshold=3.0, acceptable_heartbeat_pause=0.5),
    ],
)
def test_online_monitor_agrees_with_replay(make):
    seed = 5
    run = simulate_heartbeats(
        interval=1.0,
        duration=2000.0,
        delay=0.05,
        jitter=0.2,
        dist="lognormal",
        loss=0.1,
        pauses=[(500.0, 4.0)],
        detector=make(),
        seed=seed,
    )
    online = run.sim.records("suspect", "trust")
    sus = replay(make(), run.arrivals)
    inside = sus.start < run.duration
    starts = [r.time for r in online if r.kind == "suspect"]
    stops = [r.time for r in online if r.kind == "trust"]
    assert len(starts) > 10, f"seed={seed}"
    assert np.array_equal(starts, sus.start[inside]), f"seed={seed}"
    assert np.array_equal(stops, sus.stop[inside & (sus.stop < run.duration)]), f"seed={seed}"


def test_real_crash_is_detected_timeout_plus_delay_after_the_last_send():
    interval, d, timeout, crash = 1.0, 0.03, 2.5, 40.3
    run = simulate_heartbeats(
        interval=interval,
        duration=60.0,
        delay=d,
        crash_at=crash,
        detector=FixedTimeoutDetector(timeout),
    )
    suspects = run.sim.records("suspect")
    assert len(suspects) == 1
    last_send = 40.0
    # T_D = T + d - (crash - last send) = 2.5 + 0.03 - 0.3
    assert suspects[0].time - crash == pytest.approx(timeout + d - (crash - last_send))


def test_gc_pause_makes_one_wrong_suspicion_of_known_length():
    run = simulate_heartbeats(
        interval=1.0,
        duration=200.0,
        delay=0.01,
        pauses=[(100.5, 5.0)],
        detector=FixedTimeoutDetector(2.5),
    )
    # last beat before the stall at 100 (arrives 100.01); the beat due at 101 runs at 105.5.
    sus = replay(FixedTimeoutDetector(2.5), run.arrivals)
    inside = sus.start < run.duration
    assert sus.start[inside] == pytest.approx([102.51])
    assert sus.stop[inside] == pytest.approx([105.51])


def test_timeline_levels():
    arrivals = [0.0, 1.0, 2.0]
    levels = timeline(FixedTimeoutDetector(2.0), arrivals, [0.5, 1.0, 1.5, 4.0])
    assert levels == pytest.approx([0.25, 0.0, 0.25, 1.0])
    fd = _akka()
    got = timeline(fd, arrivals, [2.5])
    fd.reset()
    for t in arrivals:
        fd.heartbeat(t)
    assert got[0] == pytest.approx(fd.level(2.5))


# -- QoS: simulation against the closed forms ------------------------------------------------


@pytest.mark.parametrize(
    ("loss", "k", "delay", "seed"),
    [(0.1, 2, 0.01, 1), (0.3, 3, 0.2, 2), (0.2, 1, 1.7, 3), (0.05, 1, 0.05, 4)],
)
def test_k_missed_detector_matches_closed_forms(loss, k, delay, seed):
    interval, duration, crashes = 1.0, 40_000.0, 4000
    run = simulate_heartbeats(
        interval=interval, duration=duration, delay=delay, loss=loss, seed=seed
    )
    fd = FixedTimeoutDetector.k_missed(k, interval)
    got = measure_qos(fd, run, crashes=crashes, seed=seed)
    th = k_missed_qos(interval, fd.timeout, delay, loss)
    msg = f"seed={seed} loss={loss} k={k}: measured {got}, theory {th}"
    # mistakes: about Poisson with mean duration / E(T_MR)
    expected = duration / th.mistake_recurrence
    assert abs(got.mistakes - expected) < 5 * math.sqrt(expected), msg
    # mistake duration: T_M = J*eta - delta, sd(J) = sqrt(p)/(1-p)
    se = interval * math.sqrt(loss) / (1 - loss) / math.sqrt(got.mistakes)
    assert abs(got.mistake_duration - th.mistake_duration) < 5 * se + 1e-9, msg
    assert 1 - got.query_accuracy == pytest.approx(1 - th.query_accuracy, rel=0.15), msg
    assert abs(got.detection_time - th.detection_time) < 4 * (fd.timeout + delay) / math.sqrt(
        crashes
    ), msg
    assert got.detection_time_max <= th.detection_time_max + 1e-9, msg


def test_lossless_detection_time_is_uniform_between_its_bounds():
    interval, delay, timeout = 2.0, 0.1, 5.0
    run = simulate_heartbeats(interval=interval, duration=5000.0, delay=delay, seed=0)
    got = measure_qos(FixedTimeoutDetector(timeout), run, crashes=3000, seed=0)
    th = k_missed_qos(interval, timeout, delay, 0.0)
    assert th.detection_time == pytest.approx(timeout + delay - interval / 2)
    assert th.detection_time_max == timeout + delay
    assert got.mistakes == 0 and got.query_accuracy == 1.0
    assert timeout + delay - 0.01 < got.detection_time_max <= timeout + delay + 1e-9
    # uniform on [T + d - eta, T + d]: sd = eta / sqrt(12)
    se = interval / math.sqrt(12) / math.sqrt(3000)
    assert abs(got.detection_time - th.detection_time) < 4 * se


def test_closed_forms_obey_chen_identities_and_hand_values():
    th = k_missed_qos(interval=1.0, timeout=2.5, delay=0.0, loss=0.1)
    # E(T_MR) = 1 / (0.9 * 0.01) = 111.1 s; E(T_M) = 1/0.9 - 0.5 = 0.6111 s
    assert th.mistake_recurrence == pytest.approx(1 / 0.009)
    assert th.mistake_duration == pytest.approx(1 / 0.9 - 0.5)
    # P_A = 1 - E(T_M) / E(T_MR)
    assert th.query_accuracy == pytest.approx(1 - th.mistake_duration / th.mistake_recurrence)
    assert th.mistakes_per_hour == pytest.approx(32.4)
    # E(T_D) by hand, eta = 1, d = 0, delta = 0.5, k = 2:
    # m=0: c=2.5 -> 2.0; m=1: c=1.5 -> 1.0; m=2: c=0.5 -> 0.125; m>=3: 0
    by_hand = 0.9 * (2.0 + 0.1 * 1.0 + 0.01 * 0.125)
    assert th.detection_time == pytest.approx(by_hand)


def test_closed_forms_reject_bad_input():
    with pytest.raises(ValueError, match="whole multiple"):
        k_missed_qos(1.0, 3.0, 0.01, 0.1)
    with pytest.raises(ValueError, match="interval"):
        k_missed_qos(0.0, 3.5, 0.01, 0.1)
    with pytest.raises(ValueError, match="loss must be in"):
        k_missed_qos(1.0, 3.5, 0.01, 1.0)
    with pytest.raises(ValueError, match="delay"):
        k_missed_qos(1.0, 3.5, -0.01, 0.1)


def test_measure_qos_needs_a_crash_free_run():
    run = simulate_heartbeats(duration=30.0, crash_at=10.0)
    with pytest.raises(ValueError, match="crash-free"):
        measure_qos(FixedTimeoutDetector(2.5), run)


def test_reordered_heartbeats_still_give_exact_detection_times():
    # With heavy jitter heartbeats overtake each other; check a few crash times by hand.
    seed = 9
    run = simulate_heartbeats(
        interval=0.2, duration=300.0, delay=0.3, jitter=0.25, dist="exponential", seed=seed
    )
    assert np.any(np.diff(run.sent) < 0), f"seed={seed}: expected some reordering"
    q = measure_qos(FixedTimeoutDetector(1.1), run, crashes=50, seed=seed)
    rng = np.random.default_rng(seed)
    times = np.sort(rng.uniform(run.arrivals[0], run.duration, 50))
    tds = [max(0.0, run.arrivals[run.sent <= tc].max() + 1.1 - tc) for tc in times]
    assert q.detection_time == pytest.approx(np.mean(tds), rel=1e-12)


# -- the settings calculator ------------------------------------------------------------------


def test_haproxy_defaults():
    s = haproxy_detection()  # inter 2 s, fall 3, rise 2, timeout = inter
    assert s.worst_case == 2 + 2 * 2 + 3 * 2
    assert s.best_case == 4.0 and s.recovery == 4.0
    s = haproxy_detection(inter=5.0, fall=2, check_timeout=1.0, fastinter=0.5, downinter=10.0)
    assert s.worst_case == 5 + 0.5 + 2 * 1.0
    assert s.recovery == 10 + 0.5


def test_kubernetes_defaults():
    s = kubernetes_detection()  # period 10, timeout 1, failureThreshold 3
    assert (s.worst_case, s.best_case, s.recovery) == (31.0, 20.0, 10.0)
    assert kubernetes_detection(period_seconds=2, timeout_seconds=5).worst_case == 2 + 2 * 5 + 5


def test_zookeeper_defaults_and_clamping():
    assert zookeeper_detection().worst_case == 40 + 2  # max 20 ticks + a tick
    assert zookeeper_detection(2.0, 1.0).worst_case == 4 + 2  # clamped up to 2 ticks
    assert zookeeper_detection(2.0, 100.0).worst_case == 40 + 2  # clamped down to 20 ticks
    s = zookeeper_detection(2.0, 6.0)
    assert s.worst_case == 8.0 and s.best_case == pytest.approx(4.0)
    assert zookeeper_detection(2.0, 6.0, min_session_timeout=10.0).worst_case == 12.0


def test_akka_default_is_the_phi_timeout():
    s = akka_detection()
    assert s.worst_case == pytest.approx(phi_timeout(8.0, 1.0 + 3.0, 0.1))
    assert 4.4 < s.worst_case < 4.6  # ~0.52 s beyond interval + acceptable pause


@pytest.mark.parametrize(
    ("fn", "kwargs", "match"),
    [
        (haproxy_detection, {"inter": 0}, "inter"),
        (haproxy_detection, {"fall": 0}, "fall"),
        (haproxy_detection, {"rise": 1.5}, "rise"),
        (kubernetes_detection, {"period_seconds": 0}, "period_seconds"),
        (kubernetes_detection, {"timeout_seconds": 0.5}, "timeout_seconds"),
        (kubernetes_detection, {"failure_threshold": 0}, "failure_threshold"),
        (zookeeper_detection, {"tick_time": 0}, "tick_time"),
        (zookeeper_detection, {"min_session_timeout": 9, "max_session_timeout": 5}, "min_session"),
        (akka_detection, {"heartbeat_interval": -1}, "heartbeat_interval"),
    ],
)
def test_calculators_reject_bad_input(fn, kwargs, match):
    with pytest.raises(ValueError, match=match):
        fn(**kwargs)


# -- the lesson's scenarios -------------------------------------------------------------------


def test_zombie_server_fools_heartbeats_but_not_an_end_to_end_probe():
    got = halab.detection.simulate_zombie(
        stuck_at=30.55, duration=90.05, interval=1.0, k=3, rate=10.0, delay=0.01
    )
    assert got.heartbeat_detected_at is None
    # last answered probe: sent at 30.0, answered at 30.02; then (3 + 0.5) s of silence
    assert got.probe_detected_at == pytest.approx(30.02 + 3.5)
    # client requests every 0.1 s: those at 30.6, 30.7, ..., 90.0 come after the stall
    assert got.requests_after == 595 and got.answered_after == 0
    with pytest.raises(ValueError, match="stuck_at"):
        halab.detection.simulate_zombie(stuck_at=100.0, duration=50.0)


def test_jitter_changes_switch_the_delay_spread():
    seed = 2
    run = simulate_heartbeats(
        interval=1.0,
        duration=4000.0,
        delay=0.5,
        jitter=0.01,
        jitter_changes=[(2000.0, 0.2)],
        seed=seed,
    )
    delays = run.arrivals - run.sent
    before, after = delays[run.sent < 2000], delays[run.sent >= 2000]
    # standard error of a standard deviation from n = 2000 normal samples: s / sqrt(2n) ~ 1.6 %
    assert before.std() == pytest.approx(0.01, rel=0.08), f"seed={seed}"
    assert after.std() == pytest.approx(0.2, rel=0.08), f"seed={seed}"
    assert after.mean() == pytest.approx(0.5, abs=0.02), f"seed={seed}"


def test_sweep_is_measure_qos_of_each():
    run = simulate_heartbeats(duration=2000.0, loss=0.2, seed=1)
    ds = [FixedTimeoutDetector(1.5), PhiAccrualDetector(threshold=2.0)]
    assert halab.detection.sweep(run, ds, crashes=50, seed=3) == [
        measure_qos(d, run, crashes=50, seed=3) for d in ds
    ]


# -- the lesson's panels (halab.widgets, lesson 04 section) ----------------------------------

LESSON04_PANELS = [
    "heartbeats_panel",
    "qos_panel",
    "tradeoff_panel",
    "adaptation_panel",
    "gc_pause_panel",
    "settings_panel",
]


@pytest.fixture
def widgets():
    import matplotlib

    matplotlib.use("Agg")
    from halab import widgets

    return widgets


def _line(ax, label_start):
    for line in ax.get_lines():
        if line.get_label().startswith(label_start):
            return np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)
    raise AssertionError(f"no line {label_start!r} in {[x.get_label() for x in ax.get_lines()]}")


@pytest.mark.slow
@pytest.mark.parametrize("name", LESSON04_PANELS)
def test_lesson04_panels_redraw_at_every_slider_end(widgets, name):
    import matplotlib.pyplot as plt

    panel = getattr(widgets, name)()
    before = plt.get_fignums()
    for control_name, control in panel.controls.items():
        for value in (control.max, control.min):
            changed = value != control.value
            updates = panel.updates
            panel.set(**{control_name: value})
            assert panel.error is None, f"{name}: {control_name}={value}: {panel.error}"
            assert panel.updates == updates + changed, f"{name}: moving {control_name} did nothing"
    assert plt.get_fignums() == before, f"{name} leaks figures"


def test_heartbeats_figure_draws_the_k_missed_timeout(widgets):
    fig = widgets.draw_heartbeats(interval=0.5, k=4, threshold=6.0, seed=1)
    _, y = _line(fig.axes[0], "timeout")
    assert np.allclose(y, (4 + 0.5) * 0.5)
    _, y = _line(fig.axes[1], "threshold")
    assert np.allclose(y, 6.0)


def test_qos_figure_theory_line_is_the_closed_form(widgets):
    fig = widgets.draw_qos(interval=2.0, loss=0.2, beats=2000, seed=0)
    k, y = _line(fig.axes[0], "closed form")
    want = [
        k_missed_qos(2.0, (kk + 0.5) * 2.0, widgets.FD_DELAY, 0.2).mistakes_per_hour for kk in k
    ]
    assert np.allclose(y, want)
    _, y = _line(fig.axes[1], "E(T_D), closed form")
    want = [k_missed_qos(2.0, (kk + 0.5) * 2.0, widgets.FD_DELAY, 0.2).detection_time for kk in k]
    assert np.allclose(y, want)


def test_settings_bars_run_from_best_to_worst_case(widgets):
    fig = widgets.draw_settings(inter=3.0, fall=2, period_seconds=5, failure_threshold=4)
    bars = fig.axes[0].patches
    want = [
        haproxy_detection(inter=3.0, fall=2),
        kubernetes_detection(period_seconds=5, failure_threshold=4),
        zookeeper_detection(2.0, 40.0),
        akka_detection(),
    ]
    assert [b.get_x() for b in bars] == pytest.approx([s.best_case for s in want])
    assert [b.get_x() + b.get_width() for b in bars] == pytest.approx([s.worst_case for s in want])


# -- Akka's logistic φ against the normal tail; the bootstrap's waits --------------------


def test_normal_phi_is_the_true_normal_tail():
    from scipy.stats import norm

    from halab.detection import normal_phi

    for y in (-2.0, 0.0, 1.0, 3.0, 5.6, 8.0):
        assert normal_phi(10.0 + 2.0 * y, 10.0, 2.0) == pytest.approx(
            -np.log10(norm.sf(y)), rel=1e-9
        )
    with pytest.raises(ValueError, match="std"):
        normal_phi(1.0, 0.0, 0.0)


def test_phi_sigmas_logistic_is_thinner_than_the_normal_tail():
    from scipy.stats import norm

    from halab.detection import phi_sigmas

    akka, exact = phi_sigmas(8.0), phi_sigmas(8.0, exact=True)
    assert akka == pytest.approx(5.226, abs=1e-3)  # phi_timeout(8, 1, 0.1) = 1.5226 s
    assert exact == pytest.approx(norm.isf(1e-8), abs=1e-9)  # 5.612
    assert phi(akka, 0.0, 1.0) == pytest.approx(8.0, rel=1e-9)
    # near the mean the two agree; far out the logistic tail is thinner (reaches 8 sooner)
    assert phi_sigmas(1.0) == pytest.approx(phi_sigmas(1.0, exact=True), abs=0.02)
    assert exact - akka > 0.35
    assert round(phi(exact, 0.0, 1.0), 2) == 9.31  # Akka's φ where the normal tail gives 8
    for bad in (0.0, -1.0, math.nan, math.inf):
        with pytest.raises(ValueError, match="threshold"):
            phi_sigmas(bad)


def test_phi_waits_start_at_the_bootstrap_and_settle_at_the_floor():
    from halab.detection import phi_waits

    beats = np.arange(0.0, 40.0, 1.0)
    waits = phi_waits(PhiAccrualDetector(8.0, acceptable_heartbeat_pause=0.0), beats)
    # two made-up gaps 0.75 and 1.25: std 0.25, wait 1 + 0.25 * 5.226 = 2.306 s
    assert waits[0] == pytest.approx(1.0 + 0.25 * 5.226, abs=1e-3)
    assert waits[0] == pytest.approx(phi_timeout(8.0, 1.0, 0.25), rel=1e-12)
    assert np.all(np.diff(waits) <= 1e-12)  # punctual gaps only shrink the deviation
    assert waits[-1] == pytest.approx(phi_timeout(8.0, 1.0, 0.1), rel=1e-9)  # the floor
    # std = sqrt(0.125 / (n + 2)) reaches the 0.1 floor once n + 2 >= 12.5
    assert waits[10] > waits[-1] + 1e-3 and waits[11] == pytest.approx(waits[-1])
    with pytest.raises(TypeError, match="PhiAccrualDetector"):
        phi_waits(FixedTimeoutDetector(1.0), beats)


def test_lesson04_heartbeat_run_waits():
    """The waits lesson 04 reads off its minute of heartbeats (seed 0)."""
    from halab.detection import phi_waits

    run = simulate_heartbeats(
        interval=1.0,
        duration=60.0,
        delay=0.05,
        jitter=0.05,
        dist="lognormal",
        loss=0.05,
        crash_at=45.3,
        seed=0,
    )
    waits = phi_waits(PhiAccrualDetector(8.0, acceptable_heartbeat_pause=0.0), run.arrivals)
    before_loss = np.flatnonzero(np.diff(run.arrivals) > 1.5)  # a heartbeat lost after these
    assert [round(float(run.arrivals[i]), 2) for i in before_loss] == [0.03, 10.08]
    assert [round(float(waits[i]), 2) for i in before_loss] == [2.31, 1.64]
    assert round(float(waits[-1]), 2) == 1.52  # the last heartbeat before the crash


def test_zookeeper_code_default_tick():
    from halab.detection import ZOOKEEPER_DEFAULT_TICK, ZOOKEEPER_SAMPLE_TICK

    assert (ZOOKEEPER_SAMPLE_TICK, ZOOKEEPER_DEFAULT_TICK) == (2.0, 3.0)
    assert zookeeper_detection(ZOOKEEPER_DEFAULT_TICK).worst_case == 60 + 3  # 20 ticks + 1
    assert zookeeper_detection().worst_case == 40 + 2


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sweep_shares_the_phi_history_and_gives_measure_qos_bit_for_bit(seed):
    """sweep replays φ once for every threshold and pause; each QoS equals measure_qos's."""
    print(f"seed={seed}")
    run = halab.detection.simulate_heartbeats(
        interval=1.0, duration=3000, delay=0.05, jitter=0.1, dist="lognormal", loss=0.01, seed=seed
    )
    detectors = [
        halab.detection.PhiAccrualDetector(
            threshold=th,
            min_std_deviation=0.1,
            acceptable_heartbeat_pause=pause,
            first_heartbeat_estimate=1.0,
        )
        for pause in (0.0, 2.0)
        for th in (0.5, 2.0, 8.0, 16.0)
    ]
    swept = halab.detection.sweep(run, detectors, seed=seed)
    alone = [halab.detection.measure_qos(d, run, seed=seed) for d in detectors]
    assert swept == alone
    assert any(q.mistakes == 0 for q in swept) and any(q.mistakes > 0 for q in swept)
