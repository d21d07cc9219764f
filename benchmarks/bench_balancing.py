"""Benchmarks for ``halab.balancing``: simulate() against the same model written for SimPy.

Both runs draw the same workload (``halab.balancing.workload``) and route it with the same
policy class, so they produce the same response times; only the engine differs. The SimPy
model is the textbook one: a process per request, one ``simpy.Resource(capacity=1)`` per
server as its FIFO queue. ``tests/test_balancing.py`` checks that the two agree.
"""

from __future__ import annotations

import time

import numpy as np
from common import Row, at_least, below, median_seconds

from halab import balancing

SERVERS, LOAD, REQUESTS, POLICY = 10, 0.9, 100_000, "power_of_two"


def simulate_simpy(
    policy: str = POLICY,
    *,
    servers: int = SERVERS,
    load: float = LOAD,
    requests: int = REQUESTS,
    speeds=None,
    seed: int = 0,
    service: str = "exponential",
) -> np.ndarray:
    """The model of :func:`halab.balancing.simulate` in SimPy; returns the response times."""
    import simpy

    speeds = np.ones(servers) if speeds is None else np.asarray(speeds, dtype=float)
    gaps, work, policy_rng, request_keys = balancing.workload(
        requests=requests, servers=servers, load=load, speeds=speeds, service=service, seed=seed
    )
    env = simpy.Environment()
    options = {"clock": lambda: env.now} if policy == "least_response_time" else {}
    weights = speeds.tolist() if policy == "weighted_round_robin" else None
    chooser = balancing.make_policy(policy, servers, weights=weights, rng=policy_rng, **options)
    queues = [simpy.Resource(env, capacity=1) for _ in range(servers)]
    active = [0] * servers
    response = np.empty(requests)
    arrived = np.empty(requests)
    keys = request_keys.tolist()
    use_keys = policy == "consistent_hash"

    def request(k: int, s: int):
        with queues[s].request() as turn:
            yield turn
            yield env.timeout(work[k] / speeds[s])
        active[s] -= 1
        response[k] = env.now - arrived[k]
        chooser.observe(s, env.now - arrived[k])

    def source():
        for k in range(requests):
            yield env.timeout(gaps[k])
            arrived[k] = env.now
            s = chooser.pick(active, None, keys[k] if use_keys else None)
            active[s] += 1
            env.process(request(k, s))

    env.process(source())
    env.run()
    return response


# speed-up over SimPy each policy must reach (issue "Speed a learner feels"): the state-free
# ones take the routed-first NumPy path, power of two the event loop
SIMPY_BARS = {"power_of_two": 15, "random": 50, "round_robin": 50}


def bench_simulate_vs_simpy() -> list[Row]:
    """halab.simulate vs SimPy on 10 servers, load 0.9, 100k requests, for each policy above."""
    rows = []
    for policy, bar in SIMPY_BARS.items():
        group = f"balancing {policy} {REQUESTS // 1000}k req"
        ours = balancing.simulate(policy, servers=SERVERS, load=LOAD, requests=REQUESTS, seed=0)
        halab_s = median_seconds(lambda policy=policy: balancing.simulate(policy, seed=0), repeat=3)
        start = time.perf_counter()
        theirs = simulate_simpy(policy, seed=0)
        simpy_s = time.perf_counter() - start
        same = bool(np.allclose(ours.response_times, theirs, rtol=0, atol=1e-9))
        rows += [
            Row(group, "halab simulate()", halab_s * 1000, "ms"),
            Row(group, "SimPy, same model", simpy_s * 1000, "ms"),
            at_least(group, "speed-up over SimPy", simpy_s / halab_s, "x", bar),
            Row(group, "same response times (1e-9)", float(same), "bool", "= 1", same),
        ]
    return rows


def bench_least_connections_1000() -> list[Row]:
    """Least connections at 1,000 servers, 100k requests: buckets instead of a scan per pick."""
    seconds = median_seconds(
        lambda: balancing.simulate("least_connections", servers=1000, seed=0), repeat=3
    )
    return [below("balancing least_connections", "1,000 servers, 100k req", seconds, 1000)]


def bench_policies() -> list[Row]:
    """Seconds per simulate() run for each policy at the defaults (10 servers, 100k requests)."""
    rows = []
    for name in balancing.POLICIES:
        seconds = median_seconds(lambda name=name: balancing.simulate(name, seed=0), repeat=3)
        rows.append(Row("balancing simulate 100k", name, seconds * 1000, "ms"))
    return rows


PANEL_BAR_MS = 300


def bench_panel() -> list[Row]:
    """Lesson 03's slider panel: one move of the seed slider at the defaults, re-simulate + PNG."""
    from halab import widgets

    panel = widgets.balancer_panel()
    moves = iter(list(range(1, 8)) * 3)
    seconds = median_seconds(lambda: panel.set(seed=next(moves)), repeat=9)
    rows = [below("panel balancer_panel", "median update", seconds, PANEL_BAR_MS)]
    panel.set(policy="least_response_time")
    seconds = median_seconds(lambda: panel.set(seed=next(moves)), repeat=5)
    rows.append(
        Row("panel balancer_panel", "median update, least_response_time", seconds * 1000, "ms")
    )
    return rows


if __name__ == "__main__":
    for row in bench_simulate_vs_simpy() + bench_policies():
        print(row)
