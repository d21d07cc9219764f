"""The fast path of ``simulate``: state-free policies routed first, then queued in NumPy.

It must give the event loop's answer: the same server for every request and the same
departures up to rounding. The event loop runs when the policy is handed in as an object,
which is how these tests get the reference from the same inputs.
"""

from __future__ import annotations

import numpy as np
import pytest

from halab import balancing as bal

CASES = [
    ("random", None),
    ("random", [1, 2, 3, 1, 1, 1, 1, 1, 1, 1.5]),
    ("round_robin", None),
    ("round_robin", [2, 1, 1, 1, 1, 1, 1, 1, 1, 1]),
    ("weighted_round_robin", [1, 2, 3, 1, 1, 1, 1, 1, 1, 1.5]),
    ("consistent_hash", None),
]


@pytest.mark.parametrize("seed", [0, 7])
@pytest.mark.parametrize(("name", "speeds"), CASES)
def test_fast_path_equals_the_event_loop(name, speeds, seed):
    kw = {"servers": 10, "load": 0.9, "requests": 20_000, "seed": seed, "speeds": speeds}
    fast = bal.simulate(name, **kw)
    _, _, rng, _ = bal.workload(requests=20_000, servers=10, load=0.9, speeds=speeds, seed=seed)
    weights = speeds if name == "weighted_round_robin" else None
    loop = bal.simulate(bal.make_policy(name, 10, weights=weights, rng=rng), **kw)
    assert np.array_equal(fast.server, loop.server), f"seed={seed}"
    assert np.abs(fast.departure_times - loop.departure_times).max() < 1e-9, f"seed={seed}"
    assert np.abs(fast.response_times - loop.response_times).max() < 1e-9
    assert np.array_equal(fast.counts, loop.counts)
    assert np.array_equal(fast.queue_lengths, loop.queue_lengths)


def test_a_crash_still_takes_the_event_loop():
    """With ``fail=`` the fast path would not lose the crashed server's requests."""
    res = bal.simulate("round_robin", requests=5_000, fail=(0, 100.0, 5.0), seed=1)
    assert res.lost.any()
    assert (res.server[res.arrival_times > 106.0] != 0).all()


@pytest.mark.parametrize("seed", [0, 5])
@pytest.mark.parametrize(
    ("servers", "weights"), [(10, None), (10, [1, 2, 3, 1, 1, 1, 1, 1, 1, 1.5]), (2, None)]
)
def test_power_of_two_per_server_departures_are_bit_identical(servers, weights, seed):
    kw = {"servers": servers, "load": 0.9, "requests": 20_000, "seed": seed}
    fast = bal.simulate("power_of_two", weights=weights, **kw)
    _, _, rng, _ = bal.workload(requests=20_000, servers=servers, load=0.9, seed=seed)
    loop = bal.simulate(bal.make_policy("power_of_two", servers, weights=weights, rng=rng), **kw)
    assert np.array_equal(fast.server, loop.server), f"seed={seed}"
    assert fast.departure_times.tobytes() == loop.departure_times.tobytes(), f"seed={seed}"


@pytest.mark.parametrize("servers", [32, 200])
def test_least_connections_buckets_are_bit_identical(servers):
    kw = {"servers": servers, "load": 0.9, "requests": 20_000, "seed": 2}
    fast = bal.simulate("least_connections", **kw)
    _, _, rng, _ = bal.workload(requests=20_000, servers=servers, load=0.9, seed=2)
    loop = bal.simulate(bal.make_policy("least_connections", servers, rng=rng), **kw)
    assert np.array_equal(fast.server, loop.server)
    assert fast.departure_times.tobytes() == loop.departure_times.tobytes()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_least_response_time_pick_shares_one_exp_and_matches_load_bit_for_bit(seed):
    """pick() decays servers with the same stamp by one factor; it must equal the per-server
    load() it inlines: the same choice and the same costs, float for float."""
    import copy
    import random

    from halab.balancing import LeastResponseTime

    print(f"seed={seed}")
    rnd = random.Random(seed)
    now = [0.0]
    policy = LeastResponseTime(6, clock=lambda: now[0])
    for _ in range(300):
        now[0] += rnd.expovariate(5.0)
        if rnd.random() < 0.5:
            policy.observe(rnd.randrange(6), rnd.expovariate(1.0))
        active = [rnd.randrange(4) for _ in range(6)]
        reference = copy.deepcopy(policy)
        loads = [reference.load(i, active[i], now[0]) for i in range(6)]
        assert policy.pick(active) == loads.index(min(loads))
        assert policy.cost == reference.cost and policy.stamp == reference.stamp


@pytest.mark.parametrize(
    "policy, requests",
    [
        ("random", 1_000_000),
        ("round_robin", 1_000_000),
        pytest.param("power_of_two", 1_000_000, marks=pytest.mark.slow),
        ("least_connections", 200_000),
        ("least_response_time", 100_000),
    ],
)
def test_simulate_keeps_at_most_60_bytes_a_request(policy, requests):
    """Results live in NumPy arrays (memoryviews in the loops), not Python lists: the peak
    that tracemalloc sees, per request, stays under 60 bytes (it was ~180 with lists)."""
    import tracemalloc

    tracemalloc.start()
    try:
        result = bal.simulate(policy, servers=10, load=0.9, requests=requests, seed=1)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(result.response_times) == requests
    assert peak / requests <= 60, f"{policy}: {peak / requests:.1f} bytes a request"
