"""Tests for halab.balancing: policies, closed forms, and the simulator against both."""

from __future__ import annotations

import importlib.util
import math
from itertools import islice
from pathlib import Path

import numpy as np
import pytest
from scipy import integrate

from halab import balancing as b

ROOT = Path(__file__).resolve().parents[1]


def _bench_module():
    """benchmarks/bench_balancing.py holds the SimPy model; load it by path."""
    import sys

    sys.path.insert(0, str(ROOT / "benchmarks"))
    spec = importlib.util.spec_from_file_location(
        "bench_balancing", ROOT / "benchmarks" / "bench_balancing.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ----------------------------------------------------------------------------------------------
# Smooth weighted round robin (nginx)


def test_nginx_example_sequence():
    # nginx's changeset that introduced smooth WRR gives a a b a c a a for 5, 1, 1.
    names = "".join(islice(b.smooth_weighted_round_robin({"a": 5, "b": 1, "c": 1}), 14))
    assert names == "aabacaa" * 2


def test_smooth_wrr_ties_go_to_first_name():
    assert list(islice(b.smooth_weighted_round_robin({"x": 1, "y": 1}), 4)) == list("xyxy")
    assert list(islice(b.smooth_weighted_round_robin({"y": 1, "x": 1}), 4)) == list("yxyx")


@pytest.mark.parametrize("seed", range(20))
def test_smooth_wrr_each_cycle_gives_each_name_its_weight(seed):
    rng = np.random.default_rng(seed)
    weights = {f"s{i}": int(w) for i, w in enumerate(rng.integers(1, 9, rng.integers(1, 7)))}
    total = sum(weights.values())
    stream = b.smooth_weighted_round_robin(weights)
    for cycle in range(3):
        picks = list(islice(stream, total))
        counts = {name: picks.count(name) for name in weights}
        assert counts == weights, f"seed={seed} cycle={cycle}: {counts} != {weights}"


def test_smooth_wrr_spreads_the_heavy_server():
    stream = b.smooth_weighted_round_robin({"a": 5, "b": 1, "c": 1})
    for cycle in range(10):
        picks = "".join(islice(stream, 7))
        longest = max(len(run) for run in picks.replace("b", " ").replace("c", " ").split())
        # Plain weighted round robin (older nginx: c b a a a a a; LVS: a a a a a b c): a run of five.
        assert longest == 2, f"cycle {cycle}: {picks} has a run of {longest} a's"


@pytest.mark.parametrize("bad", [{}, {"a": 0}, {"a": 2, "b": -1}, [("a", 1)]])
def test_smooth_wrr_rejects_bad_weights(bad):
    with pytest.raises(ValueError, match="weight"):
        b.smooth_weighted_round_robin(bad)


def test_weighted_round_robin_skips_unhealthy_and_keeps_proportions():
    policy = b.make_policy("weighted_round_robin", 3, weights=[5, 1, 1])
    healthy = [True, False, True]
    picks = [policy.pick([0, 0, 0], healthy) for _ in range(60)]
    assert 1 not in picks
    assert picks.count(0) == 50 and picks.count(2) == 10


# ----------------------------------------------------------------------------------------------
# The other policies


def test_round_robin_cycles_and_skips_unhealthy():
    policy = b.make_policy("round_robin", 4)
    assert [policy.pick([0] * 4) for _ in range(8)] == [0, 1, 2, 3, 0, 1, 2, 3]
    healthy = [True, False, True, False]
    assert [policy.pick([0] * 4, healthy) for _ in range(4)] == [0, 2, 0, 2]


@pytest.mark.parametrize("name", list(b.POLICIES))
@pytest.mark.parametrize("seed", range(5))
def test_no_policy_returns_an_unhealthy_server(name, seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 9))
    policy = b.make_policy(name, n, seed=seed, weights=rng.integers(1, 5, n).tolist())
    for step in range(300):
        active = rng.integers(0, 6, n).tolist()
        healthy = (rng.random(n) < 0.6).tolist()
        key = f"user-{rng.integers(0, 50)}"
        if not any(healthy):
            with pytest.raises(LookupError, match="no healthy server"):
                policy.pick(active, healthy, key)
            continue
        s = policy.pick(active, healthy, key)
        assert 0 <= s < n and healthy[s], f"seed={seed} step={step}: {name} picked {s}, {healthy}"
        policy.observe(s, float(rng.exponential()))


@pytest.mark.parametrize("name", list(b.POLICIES))
def test_every_policy_raises_lookup_error_when_none_is_healthy(name):
    policy = b.make_policy(name, 3, seed=0)
    with pytest.raises(LookupError, match="no healthy server"):
        policy.pick([0, 0, 0], [False, False, False], "k")


def test_least_connections_picks_the_fewest_and_rotates_ties():
    policy = b.make_policy("least_connections", 4)
    assert policy.pick([3, 1, 2, 5]) == 1
    assert policy.pick([3, 1, 2, 5], [True, False, True, True]) == 2
    # Equal servers take turns rather than all going to server 0.
    assert [policy.pick([0, 0, 0, 0]) for _ in range(4)] == [3, 0, 1, 2]
    weighted = b.make_policy("least_connections", 2, weights=[3, 1])
    assert weighted.pick([2, 1]) == 0  # 2/3 < 1/1: load per unit of weight decides


def test_power_of_two_never_picks_the_unique_busiest():
    policy = b.make_policy("power_of_two", 5, seed=3)
    picks = {policy.pick([1, 1, 9, 1, 1]) for _ in range(2000)}
    assert 2 not in picks and picks == {0, 1, 3, 4}


def test_power_of_two_finds_the_idle_server_with_probability_two_over_n():
    # Two distinct servers out of n include server 0 with probability 1 - C(n-1,2)/C(n,2) = 2/n.
    seed, n, trials = 11, 10, 20_000
    policy = b.make_policy("power_of_two", n, seed=seed)
    active = [0] + [5] * (n - 1)
    share = sum(policy.pick(active) == 0 for _ in range(trials)) / trials
    sd = math.sqrt(0.2 * 0.8 / trials)
    assert abs(share - 2 / n) < 5 * sd, f"seed={seed}: share {share:.4f} vs {2 / n}"


def test_random_follows_weights():
    seed, trials = 5, 40_000
    weights = [1, 2, 3, 4]
    policy = b.make_policy("random", 4, weights=weights, seed=seed)
    counts = np.bincount([policy.pick([0] * 4) for _ in range(trials)], minlength=4)
    for i, w in enumerate(weights):
        p = w / 10
        sd = math.sqrt(p * (1 - p) / trials)
        assert abs(counts[i] / trials - p) < 5 * sd, f"seed={seed} server {i}: {counts}"


def test_random_is_not_round_robin():
    # Three requests to three servers: round robin always covers all three; random does so
    # with probability 3!/3**3 = 2/9.
    seed, windows = 2, 30_000
    rnd = b.make_policy("random", 3, seed=seed)
    rr = b.make_policy("round_robin", 3)
    covered = sum(len({rnd.pick([0] * 3) for _ in range(3)}) == 3 for _ in range(windows))
    sd = math.sqrt(2 / 9 * 7 / 9 / windows)
    assert abs(covered / windows - 2 / 9) < 5 * sd, f"seed={seed}: {covered / windows:.4f}"
    assert all(len({rr.pick([0] * 3) for _ in range(3)}) == 3 for _ in range(100))


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_peak_ewma_follows_finagle_update_rule():
    clock = FakeClock()
    policy = b.make_policy("least_response_time", 2, decay=10.0, clock=clock)
    policy.observe(0, 2.0)
    assert policy.cost[0] == 2.0  # a peak replaces the average at once
    clock.now = 5.0
    policy.observe(0, 1.0)
    w = math.exp(-5.0 / 10.0)
    assert policy.cost[0] == pytest.approx(2.0 * w + 1.0 * (1 - w), rel=1e-12)
    clock.now = 6.0
    policy.observe(0, 7.0)
    assert policy.cost[0] == 7.0
    # With no new samples the cost decays towards zero with time constant `decay`.
    clock.now = 16.0
    assert policy.load(0, 0, clock.now) == pytest.approx(7.0 * math.exp(-1.0), rel=1e-12)


def test_peak_ewma_prefers_fast_servers_and_probes_new_ones():
    clock = FakeClock()
    policy = b.make_policy("least_response_time", 3, clock=clock)
    policy.observe(0, 5.0)
    policy.observe(1, 1.0)
    # Server 2 has no history: free while idle, heavily penalized once it has a request.
    assert policy.pick([0, 0, 0]) == 2
    assert policy.load(2, 1, 0.0) == b.PEAK_EWMA_PENALTY + 1
    assert policy.pick([0, 0, 1]) == 1
    # Cost is ewma * (active + 1): 1.0 * 6 > 5.0 * 1, so the slow but idle server wins.
    assert policy.pick([0, 5, 1]) == 0


def test_peak_ewma_two_choices_option():
    policy = b.make_policy("least_response_time", 4, choices=2, seed=1, clock=FakeClock())
    for s, rtt in enumerate([1.0, 2.0, 3.0, 4.0]):
        policy.observe(s, rtt)
    picks = {policy.pick([0, 0, 0, 0]) for _ in range(500)}
    assert 3 not in picks and picks == {0, 1, 2}
    with pytest.raises(ValueError, match="choices"):
        b.make_policy("least_response_time", 4, choices=3)
    with pytest.raises(ValueError, match="decay"):
        b.make_policy("least_response_time", 4, decay=0)


# ----------------------------------------------------------------------------------------------
# Consistent hashing


@pytest.mark.parametrize("method", ["ring", "rendezvous"])
def test_consistent_hash_moves_only_the_lost_servers_keys(method):
    n = 8
    policy = b.make_policy("consistent_hash", n, method=method)
    keys = [f"user-{k}" for k in range(3000)]
    before = [policy.pick(None, None, k) for k in keys]
    assert before == [policy.pick(None, None, k) for k in keys]  # same key, same server
    healthy = [True] * n
    healthy[3] = False
    after = [policy.pick(None, healthy, k) for k in keys]
    moved = {k for k, x, y in zip(keys, before, after, strict=True) if x != y}
    assert moved == {k for k, x in zip(keys, before, strict=True) if x == 3}
    assert 3 not in after
    healthy[3] = True
    assert [policy.pick(None, healthy, k) for k in keys] == before


def test_hash_placements_do_not_depend_on_the_process():
    # BLAKE2b, not Python's salted hash(): fixed values that any run must reproduce.
    policy = b.make_policy("consistent_hash", 5)
    again = b.make_policy("consistent_hash", 5)
    keys = [f"k{i}" for i in range(200)]
    assert [policy.pick(None, None, k) for k in keys] == [again.pick(None, None, k) for k in keys]
    assert policy._points == sorted(policy._points) and len(policy._points) == 500


def test_modulo_formula_by_enumeration():
    # h % n == h % (n+1) for exactly n of every n(n+1) consecutive h: n/(n+1) of keys move.
    for n in range(1, 12):
        span = n * (n + 1) * 3
        moved = sum(h % n != h % (n + 1) for h in range(span))
        assert moved == pytest.approx(
            b.expected_keys_moved(n, keys=span, change="add", method="modulo")
        )


@pytest.mark.parametrize("change", ["remove", "add"])
def test_keys_moved_ring_versus_modulo(change):
    n, keys = 10, 10_000
    modulo = b.keys_moved(n, keys=keys, change=change, method="modulo")
    ring = b.keys_moved(n, keys=keys, change=change, method="ring")
    hrw = b.keys_moved(n, keys=keys, change=change, method="rendezvous")
    p = b.expected_keys_moved(n, keys=keys, change=change, method="modulo") / keys
    assert abs(modulo - p * keys) < 5 * math.sqrt(keys * p * (1 - p)), modulo
    share = b.expected_keys_moved(n, keys=keys, change=change, method="ring") / keys
    assert abs(hrw - share * keys) < 5 * math.sqrt(keys * share * (1 - share)), hrw
    # A ring of 100 points per server gives each server its share to within about 10 %.
    assert abs(ring - share * keys) < 0.35 * share * keys, ring
    assert modulo > 7 * ring


def test_keys_moved_rejects_bad_input():
    with pytest.raises(ValueError, match="change"):
        b.keys_moved(5, change="swap")
    with pytest.raises(ValueError, match="method"):
        b.keys_moved(5, method="md5")
    with pytest.raises(ValueError, match="servers"):
        b.keys_moved(1, change="remove")


# ----------------------------------------------------------------------------------------------
# Registry and bad input


def test_registry_has_the_seven_policies():
    assert set(b.POLICIES) >= {
        "random",
        "round_robin",
        "weighted_round_robin",
        "least_connections",
        "least_response_time",
        "power_of_two",
        "consistent_hash",
    }
    for name, cls in b.POLICIES.items():
        assert cls.name == name and issubclass(cls, b.Policy)
    assert isinstance(b.make_policy("join_shortest_queue", 2), b.LeastConnections)


def test_unknown_policy_lists_known_names():
    with pytest.raises(ValueError) as info:
        b.make_policy("fastest", 3)
    for name in b.POLICIES:
        assert name in str(info.value)
    with pytest.raises(ValueError, match="round_robin"):
        b.simulate("fastest", requests=10)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"servers": 0}, "servers"),
        ({"servers": 2.5}, "servers"),
        ({"servers": 3, "weights": [1, 2]}, "weights"),
        ({"servers": 2, "weights": [1, 0]}, "weights"),
        ({"servers": 2, "weights": [1, -3]}, "weights"),
        ({"servers": 2, "vnodes": 3}, "unknown option"),
        ({"servers": 2, "rng": 42}, "rng"),
    ],
)
def test_make_policy_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        b.make_policy("round_robin", **kwargs)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"servers": 0}, "servers"),
        ({"load": 0}, "load"),
        ({"load": -0.5}, "load"),
        ({"load": 1.0}, "load"),
        ({"load": 1.5}, r"load must be in \(0, 1\), got 1.5"),
        ({"requests": 0}, "requests"),
        ({"speeds": [1, -1, 1]}, "speeds"),
        ({"speeds": [1, 1]}, "speeds"),
        ({"service": "uniform"}, "service"),
        ({"seed": -1}, "seed"),
        ({"fail": (7, 10.0)}, "fail server"),
        ({"fail": (0, -1.0)}, "fail time"),
        ({"fail": (0, 1.0, -2)}, "detect"),
        ({"fail": 3}, "fail"),
    ],
)
def test_simulate_rejects_bad_input(kwargs, match):
    args = {"servers": 3, "requests": 100} | kwargs
    with pytest.raises(ValueError, match=match):
        b.simulate("random", **args)


def test_simulate_rejects_a_policy_built_for_other_servers():
    with pytest.raises(ValueError, match="servers"):
        b.simulate(b.make_policy("random", 4), servers=3, requests=10)


# ----------------------------------------------------------------------------------------------
# Closed forms


@pytest.mark.parametrize("rho", [0.1, 0.5, 0.9, 0.99])
def test_erlang_c_small_cases(rho):
    assert b.erlang_c(1, rho) == pytest.approx(rho, rel=1e-12)
    assert b.erlang_c(2, rho) == pytest.approx(2 * rho**2 / (1 + rho), rel=1e-12)
    assert b.mmc_response_time(1, rho) == pytest.approx(1 / (1 - rho), rel=1e-12)
    assert b.mmc_response_time(2, rho) == pytest.approx(1 / (1 - rho**2), rel=1e-12)


def test_erlang_c_worked_example():
    # 2 erlangs offered to 3 servers: B = (8/6)/(1+2+2+8/6) = 4/19, C = B/(1-(2/3)(1-B)) = 4/9.
    assert b.erlang_c(3, 2 / 3) == pytest.approx(4 / 9, rel=1e-12)


def test_mm1_percentile():
    assert b.mm1_percentile(0.9, 0.99) == pytest.approx(math.log(100) / 0.1, rel=1e-12)
    assert b.mmc_percentile(1, 0.9, 0.99) == pytest.approx(math.log(100) / 0.1, rel=1e-9)


@pytest.mark.parametrize("c, rho, q", [(4, 0.8, 0.99), (10, 0.9, 0.95), (3, 2 / 3, 0.9)])
def test_mmc_percentile_by_numerical_convolution(c, rho, q):
    # P(T <= t) = (1-C) P(S <= t) + C P(S + W' <= t), S ~ Exp(1), W' ~ Exp(c(1-rho)).
    t = b.mmc_percentile(c, rho, q)
    pw, theta = b.erlang_c(c, rho), c * (1 - rho)
    conv, _ = integrate.quad(lambda s: math.exp(-s) * (1 - math.exp(-theta * (t - s))), 0, t)
    cdf = (1 - pw) * (1 - math.exp(-t)) + pw * conv
    assert cdf == pytest.approx(q, abs=1e-9)


def test_random_routing_is_mm1_or_pollaczek_khinchine():
    for rho in (0.3, 0.9):
        assert b.random_routing_response_time(rho) == pytest.approx(1 / (1 - rho))
        # M/D/1: 1 + rho / (2 (1 - rho)).
        md1 = 1 + rho / (2 * (1 - rho))
        assert b.random_routing_response_time(rho, service="deterministic") == pytest.approx(md1)
        q = b.random_routing_percentile(rho, 0.99)
        assert q == pytest.approx(b.mm1_percentile(rho, 0.99), rel=1e-9)


def test_round_robin_closed_forms():
    # One server: E_1/M/1 is M/M/1.
    assert b.round_robin_response_time(0.7, 1) == pytest.approx(1 / 0.3, rel=1e-9)
    assert b.round_robin_percentile(0.7, 0.99, 1) == pytest.approx(b.mm1_percentile(0.7, 0.99))
    # Two servers: sigma solves a quadratic; 1 - sigma = (1 - 2 lam + sqrt(1 + 4 lam)) / 2.
    for rho in (0.2, 0.5, 0.9):
        lam = 2 * rho
        x = (1 - 2 * lam + math.sqrt(1 + 4 * lam)) / 2
        assert b.round_robin_response_time(rho, 2) == pytest.approx(1 / x, rel=1e-9)
    # Many servers: interarrivals become nearly constant, D/M/1: sigma = exp(-(1 - sigma)/rho).
    rho = 0.9
    from scipy.optimize import brentq

    sigma = brentq(lambda s: math.exp(-(1 - s) / rho) - s, 0, 0.999)
    assert b.round_robin_response_time(rho, 2000) == pytest.approx(1 / (1 - sigma), rel=2e-3)


def test_a_slow_server_has_no_steady_state_under_round_robin():
    speeds = [1] * 9 + [0.5]
    assert b.round_robin_response_time(0.9, 10, speeds=speeds) == math.inf
    assert b.random_routing_response_time(0.9, speeds=speeds) == math.inf
    assert math.isfinite(b.round_robin_response_time(0.4, 10, speeds=speeds))


def test_supermarket_formula():
    # d = 1 is M/M/1.
    assert b.supermarket_response_time(0.8, 1) == pytest.approx(5.0)
    # The series, written out for d = 2, lambda = 0.9: exponents 2^i - 2.
    terms = [0.9 ** (2**i - 2) for i in range(1, 9)]
    assert b.supermarket_response_time(0.9, 2) == pytest.approx(sum(terms), rel=1e-12)
    assert b.supermarket_response_time(0.9, 2) == pytest.approx(2.6141, abs=1e-4)
    # Little's law links it to the fixed-point tails: lambda T = sum_i s_i.
    for lam in (0.5, 0.9, 0.99):
        for d in (2, 3, 5):
            tails = sum(b.supermarket_tail(lam, i, d) for i in range(1, 40))
            assert lam * b.supermarket_response_time(lam, d) == pytest.approx(tails, rel=1e-12)
    values = [b.supermarket_response_time(0.95, d) for d in (1, 2, 3, 4)]
    assert values == sorted(values, reverse=True)


def test_theory_dispatch():
    assert math.isnan(b.theory_response_time("least_connections"))
    assert b.theory_response_time("central_queue", servers=10, load=0.9) == pytest.approx(
        b.mmc_response_time(10, 0.9)
    )
    assert b.theory_response_time("random", load=0.5, q=0.99) == pytest.approx(
        b.mm1_percentile(0.5, 0.99)
    )
    with pytest.raises(ValueError, match="known policies"):
        b.theory_response_time("nope")
    with pytest.raises(ValueError, match="load"):
        b.mm1_response_time(1.2)
    with pytest.raises(ValueError, match="q must be"):
        b.mm1_percentile(0.5, 1.0)


# ----------------------------------------------------------------------------------------------
# The simulator


@pytest.mark.parametrize("name", list(b.POLICIES))
def test_same_seed_same_result_to_the_last_bit(name):
    one = b.simulate(name, requests=5000, seed=7, speeds=[1, 2, 1, 1, 0.5], servers=5)
    two = b.simulate(name, requests=5000, seed=7, speeds=[1, 2, 1, 1, 0.5], servers=5)
    assert one.response_times.tobytes() == two.response_times.tobytes()
    assert np.array_equal(one.queue_lengths, two.queue_lengths)
    other = b.simulate(name, requests=5000, seed=8, speeds=[1, 2, 1, 1, 0.5], servers=5)
    assert one.response_times.tobytes() != other.response_times.tobytes()


@pytest.mark.parametrize(
    "name, speeds",
    [
        ("power_of_two", None),
        ("least_response_time", None),
        ("round_robin", None),
        ("consistent_hash", None),
        ("weighted_round_robin", [1, 1, 2, 0.5]),
        ("least_connections", [1, 1, 2, 0.5]),
    ],
)
def test_matches_the_simpy_model(name, speeds):
    pytest.importorskip("simpy")
    bench = _bench_module()
    servers = 4 if speeds else 10
    ours = b.simulate(name, servers=servers, load=0.8, requests=3000, speeds=speeds, seed=3)
    theirs = bench.simulate_simpy(
        name, servers=servers, load=0.8, requests=3000, speeds=speeds, seed=3
    )
    if name in ("round_robin", "consistent_hash", "weighted_round_robin", "random"):
        # the fast path sums service times in NumPy: equal up to rounding, not bit for bit
        np.testing.assert_allclose(ours.response_times, theirs, rtol=0, atol=1e-9)
    else:
        np.testing.assert_array_equal(ours.response_times, theirs)


def test_counts_and_shares():
    rr = b.simulate("round_robin", servers=4, requests=4000, seed=1)
    assert rr.counts.tolist() == [1000] * 4
    assert rr.shares.sum() == pytest.approx(1.0)
    speeds = [2, 1, 1]
    wrr = b.simulate("weighted_round_robin", servers=3, speeds=speeds, requests=4000, seed=1)
    assert wrr.counts.tolist() == [2000, 1000, 1000]
    assert len(wrr.response_times) == 4000 and not wrr.lost.any()


# Mean and p99 against the closed forms. One run of 200k requests at load 0.7 estimates the
# mean to about 1.5 %; the bars allow several standard errors.
@pytest.mark.parametrize(
    "name, service, theory_mean, theory_p99",
    [
        ("random", "exponential", 1 / 0.3, b.mm1_percentile(0.7, 0.99)),
        ("random", "deterministic", 1 + 0.7 / 0.6, None),
        ("random", "lognormal", b.random_routing_response_time(0.7, service="lognormal"), None),
        ("round_robin", "exponential", b.round_robin_response_time(0.7, 10), None),
    ],
)
def test_simulation_matches_theory(name, service, theory_mean, theory_p99):
    seed = 21
    r = b.simulate(name, load=0.7, requests=200_000, service=service, seed=seed)
    assert r.mean == pytest.approx(theory_mean, rel=0.05), f"seed={seed}: {r.mean} vs {theory_mean}"
    if theory_p99 is not None:
        assert r.p99 == pytest.approx(theory_p99, rel=0.07), f"seed={seed}: {r.p99}"
    if name == "round_robin":
        p99 = b.round_robin_percentile(0.7, 0.99, 10)
        assert r.p99 == pytest.approx(p99, rel=0.07), f"seed={seed}: {r.p99} vs {p99}"


def test_power_of_two_approaches_the_supermarket_limit():
    # Mitzenmacher's limit is for infinitely many servers; 100 servers sit a little above it.
    seed, load = 4, 0.7
    r = b.simulate("power_of_two", servers=100, load=load, requests=200_000, seed=seed)
    limit = b.supermarket_response_time(load, 2)
    assert limit * 0.98 < r.mean < limit * 1.06, f"seed={seed}: {r.mean} vs {limit}"


def test_policies_rank_as_theory_says_at_high_load():
    seed = 5
    means = {
        name: b.simulate(name, load=0.9, requests=100_000, seed=seed).mean
        for name in ("random", "round_robin", "power_of_two", "least_connections")
    }
    bound = b.mmc_response_time(10, 0.9)
    assert means["random"] > means["round_robin"] > means["power_of_two"], f"seed={seed} {means}"
    assert means["power_of_two"] > means["least_connections"] > 0.98 * bound, f"seed={seed} {means}"


def test_round_robin_overloads_a_slow_server_and_weights_fix_it():
    seed, speeds = 6, [1] * 9 + [0.5]
    rr = b.simulate("round_robin", speeds=speeds, requests=50_000, seed=seed)
    wrr = b.simulate("weighted_round_robin", speeds=speeds, requests=50_000, seed=seed)
    slow = rr.server == 9
    # The slow server gets 1/10 of the traffic but can serve only 0.5 / 9.5 of it: its queue grows.
    assert rr.queue_lengths[9, -1] > 50 * rr.queue_lengths[:9, -1].mean() + 50, f"seed={seed}"
    assert rr.response_times[slow[~rr.lost]].mean() > 20 * wrr.mean, f"seed={seed}"
    assert wrr.shares[9] == pytest.approx(0.5 / 9.5, abs=1e-3)


def test_queue_lengths_obey_littles_law():
    seed, load = 9, 0.8
    r = b.simulate("least_connections", load=load, requests=100_000, seed=seed, samples=5000)
    in_system = r.queue_lengths.sum(axis=0).mean()
    lam = load * 10
    assert in_system == pytest.approx(lam * r.mean, rel=0.1), f"seed={seed}"
    assert r.queue_lengths.min() >= 0
    assert r.utilization.mean() == pytest.approx(load, rel=0.03), f"seed={seed}"


def test_failed_server_loses_requests_until_detected():
    seed = 12
    fail = (0, 1000.0, 50.0)
    rr = b.simulate("round_robin", requests=20_000, seed=seed, fail=fail)
    lc = b.simulate("least_connections", requests=20_000, seed=seed, fail=fail)
    for r in (rr, lc):
        after = r.arrival_times >= 1050.0
        assert not np.any(r.server[after] == 0), f"seed={seed}: routed to a detected failure"
        before = r.arrival_times < 1000.0
        assert not r.lost[before & (r.departure_times < 1000.0)].any()
        assert np.all(r.departure_times[r.lost & before] == 1000.0)
        assert len(r.response_times) == 20_000 - r.lost.sum()
    window = (rr.arrival_times >= 1000.0) & (rr.arrival_times < 1050.0)
    # Round robin sends 1 in 10 to the dead server; least connections sees it idle (0 in
    # flight) and sends it every request that finds no other idle server: a "black hole".
    assert rr.lost[window].mean() == pytest.approx(0.1, abs=0.03), f"seed={seed}"
    assert lc.lost[window].mean() > 2 * rr.lost[window].mean(), f"seed={seed}"


def test_simulate_restores_a_policy_clock():
    clock = FakeClock()
    policy = b.make_policy("least_response_time", 3, clock=clock)
    b.simulate(policy, servers=3, requests=500, seed=0)
    assert policy.clock is clock
    assert any(c > 0 for c in policy.cost)


# ----------------------------------------------------------------------------------------------
# The lesson's common mistakes


def test_proportional_to_connections_feeds_the_busiest():
    seed, trials = 13, 20_000
    policy = b.ProportionalToConnections(4, seed=seed)
    active = [0, 1, 3, 6]
    counts = np.bincount([policy.pick(active) for _ in range(trials)], minlength=4)
    assert counts[0] == 0, "an idle server gets nothing under this rule"
    for i, share in enumerate([0, 0.1, 0.3, 0.6]):
        sd = math.sqrt(share * (1 - share) / trials) or 1e-9
        assert abs(counts[i] / trials - share) <= 5 * sd, f"seed={seed}: {counts}"
    assert b.make_policy("least_connections", 4).pick(active) == 0
    assert "proportional_to_connections" in b.MISTAKES
    assert "proportional_to_connections" not in b.POLICIES
    # In a run, the first busy server takes everything: one server gets the whole stream.
    r = b.simulate(b.ProportionalToConnections(10, seed=seed), load=0.3, requests=5000, seed=seed)
    assert r.shares.max() > 0.99, f"seed={seed}: {r.shares}"
    assert r.mean > 100 * b.random_routing_response_time(0.3), f"seed={seed}: {r.mean}"


def test_shares_and_split_loads():
    assert b.shares_from_weights([5, 1, 1]).tolist() == pytest.approx([5 / 7, 1 / 7, 1 / 7])
    speeds = b.skewed_speeds(10, 0.5)
    assert speeds.tolist() == [1.0] * 9 + [0.5]
    # Round robin's equal shares: 0.9 * 9.5 / 10 = 0.855 per server, 1.71 for the slow one.
    loads = b.split_loads([0.1] * 10, 0.9, speeds)
    assert loads[:9] == pytest.approx([0.855] * 9) and loads[9] == pytest.approx(1.71)
    # Shares in proportion to speed put every server at the overall load.
    assert b.split_loads(b.shares_from_weights(speeds), 0.9, speeds) == pytest.approx([0.9] * 10)
    with pytest.raises(ValueError, match="shares must sum to 1, got 1.75"):
        b.split_loads([1, 1 / 2, 1 / 4], 0.5, [1, 1, 1])
    with pytest.raises(ValueError, match="one entry per server"):
        b.split_loads([0.5, 0.5], 0.5, [1, 1, 1])
    with pytest.raises(ValueError, match="non-negative"):
        b.split_loads([1.5, -0.5], 0.5, [1, 1])
    with pytest.raises(ValueError, match="skew"):
        b.skewed_speeds(3, 1.0)


@pytest.mark.parametrize("policy", ["random", "round_robin", "central_queue"])
@pytest.mark.parametrize("speeds", [None, [1, 1, 1, 2]])
def test_theory_survival_agrees_with_the_percentiles(policy, speeds):
    servers, load = 4, 0.7
    for q in (0.5, 0.9, 0.99):
        t = b.theory_response_time(policy, servers=servers, load=load, speeds=speeds, q=q)
        tail = b.theory_survival(policy, t, servers=servers, load=load, speeds=speeds)
        if policy == "central_queue" and speeds is not None:
            assert math.isnan(t) and tail is None
            continue
        assert tail == pytest.approx(1 - q, rel=1e-8), (policy, q)
    assert b.theory_survival("least_connections", 1.0) is None
    assert b.theory_survival("round_robin", [0.0, 5.0], speeds=[1] * 9 + [0.5])[1] == 1.0


# ----------------------------------------------------------------------------------------------
# Lesson 03's figures and panel (halab.widgets, lesson 03 section)


def _labelled(ax, start):
    for line in ax.get_lines():
        if line.get_label().startswith(start):
            return np.asarray(line.get_xdata()), np.asarray(line.get_ydata())
    raise AssertionError(f"no line labelled {start!r}: {[x.get_label() for x in ax.get_lines()]}")


def test_balancer_panel_every_control_redraws_without_leaking_figures():
    widgets = pytest.importorskip("halab.widgets")
    import matplotlib.pyplot as plt

    panel = widgets.balancer_panel()
    before = plt.get_fignums()
    moves = {
        "policy": "least_connections",
        "servers": 4,
        "load": 0.5,
        "skew": 0.5,
        "service": "lognormal",
        "seed": 3,
    }
    assert set(moves) == set(panel.controls)
    for name, value in moves.items():
        updates = panel.updates
        panel.set(**{name: value})
        assert panel.updates == updates + 1 and panel.error is None, (name, panel.error)
        assert panel.png.startswith(b"\x89PNG")
    assert plt.get_fignums() == before


def test_balancer_figure_draws_theory_where_it_exists():
    widgets = pytest.importorskip("halab.widgets")
    fig = widgets.draw_balancer(policy="random", servers=5, load=0.7, requests=4000, seed=1)
    tail = fig.axes[0]
    x, y = _labelled(tail, "random, theory")
    assert np.allclose(y, b.theory_survival("random", x, servers=5, load=0.7))
    x, y = _labelled(tail, "central queue")
    assert np.allclose(y, b.theory_survival("central_queue", x, servers=5, load=0.7))
    # The markers are the simulated run's quantiles, at P(T > t) = 1 - q.
    r = b.simulate("random", servers=5, load=0.7, requests=4000, seed=1)
    x, y = _labelled(tail, "random, simulated")
    assert np.allclose(x, np.percentile(r.response_times, 100 * (1 - y)))
    assert "theory 3.33" in tail.get_title()


def test_balancer_figure_shows_the_overloaded_slow_server():
    widgets = pytest.importorskip("halab.widgets")
    fig = widgets.draw_balancer(policy="round_robin", load=0.9, skew=0.5, requests=20_000)
    tail, util, queue = fig.axes
    assert "no steady state" in tail.get_title()
    assert not [ln for ln in tail.get_lines() if ln.get_label() == "round_robin, theory"]
    heights = [bar.get_height() for bar in util.patches]
    assert heights[-1] > 0.99 and max(heights[:-1]) < 0.95, heights
    _, slow = _labelled(queue, "server 9")
    assert slow[-1] > 100, "the slow server's queue should grow through the run"


def test_policies_figure_lines_are_the_closed_forms():
    widgets = pytest.importorskip("halab.widgets")
    fig = widgets.draw_policies(servers=10, loads=(0.5, 0.8), requests=3000)
    mean_ax, p99_ax = fig.axes
    lines = [ln for ln in mean_ax.get_lines() if ln.get_linestyle() == "-"]
    x = np.asarray(lines[0].get_xdata())
    heights = {tuple(np.round(ln.get_ydata(), 9)) for ln in lines}
    assert tuple(np.round(1 / (1 - x), 9)) in heights, "random routing is M/M/1"
    rr = [b.round_robin_response_time(v, 10) for v in x]
    assert tuple(np.round(rr, 9)) in heights, "round robin is E_10/M/1"
    _, bound = _labelled(mean_ax, "central queue")
    assert np.allclose(bound, [b.mmc_response_time(10, v) for v in x])
    markers = [ln for ln in mean_ax.get_lines() if ln.get_label() == "random"]
    assert len(markers) == 1 and len(markers[0].get_xdata()) == 2


def test_keys_moved_figure():
    widgets = pytest.importorskip("halab.widgets")
    fig = widgets.draw_keys_moved(max_servers=6, keys=3000)
    ax = fig.axes[0]
    n, y = _labelled(ax, "hash % n")
    assert np.allclose(y, n / (n + 1))
    n, y = _labelled(ax, "modulo, measured")
    assert np.allclose(y, n / (n + 1), atol=5 * np.sqrt(0.25 / 3000)), y
