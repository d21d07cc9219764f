"""Benchmarks for ``halab.sim``: events per second of the kernel, and the same model in SimPy.

The model is a ping-pong over a 1 ms constant-latency link: node ``a`` sends ``Ping(n)``,
node ``b`` answers ``Pong(n)``, and so on. One event is one message delivery. The SimPy
model has one process per node, a ``simpy.Store`` as each inbox, and a timeout for the
flight of each message; both models deliver the same number of messages in the same
simulated time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from common import Row, at_least

from halab.sim import Latency, Network, Node, Simulation

LATENCY = 0.001  # seconds, one way
HORIZON = 100.0  # simulated seconds: 50,000 round trips, 100,000 deliveries


@dataclass(frozen=True)
class Ping:
    n: int


@dataclass(frozen=True)
class Pong:
    n: int


class Pinger(Node):
    def on_start(self):
        self.send("b", Ping(1))

    def on_Pong(self, msg, src):
        self.send(src, Ping(msg.n + 1))


class Ponger(Node):
    def on_Ping(self, msg, src):
        self.send(src, Pong(msg.n))


def ping_pong(trace: bool, horizon: float = HORIZON, latency=LATENCY) -> int:
    """Run the ping-pong on halab.sim; return the number of deliveries."""
    sim = Simulation(seed=0, network=Network(latency=latency), trace=trace)
    sim.add(Pinger("a"))
    sim.add(Ponger("b"))
    sim.run(until=horizon)
    return sim.events - 2  # minus the two on_start calls


def ping_pong_simpy(horizon: float = HORIZON, latency: float = LATENCY) -> int:
    """The same ping-pong in SimPy; return the number of deliveries."""
    import simpy

    env = simpy.Environment()
    inbox = {"a": simpy.Store(env), "b": simpy.Store(env)}
    delivered = [0]

    def node(name: str, peer: str, first: bool):
        if first:
            yield env.timeout(latency)
            yield inbox[peer].put(("Ping", 1))
        while True:
            kind, n = yield inbox[name].get()
            delivered[0] += 1
            yield env.timeout(latency)
            reply = ("Pong", n) if kind == "Ping" else ("Ping", n + 1)
            yield inbox[peer].put(reply)

    env.process(node("a", "b", True))
    env.process(node("b", "a", False))
    env.run(until=horizon)
    return delivered[0]


def _rate(fn) -> tuple[float, int]:
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        events = fn()
        best = min(best, time.perf_counter() - start)
    return events / best, events


def bench_kernel_events_per_second() -> list[Row]:
    """Deliveries per second of wall time: halab.sim with and without the trace, and SimPy."""
    group = "sim ping-pong 1 ms link"
    traced, n1 = _rate(lambda: ping_pong(trace=True))
    bare, n2 = _rate(lambda: ping_pong(trace=False))
    jittered, _ = _rate(
        lambda: ping_pong(trace=False, latency=Latency(LATENCY, LATENCY / 4, "lognormal"))
    )
    theirs, n3 = _rate(ping_pong_simpy)
    assert n1 == n2, (n1, n2)
    assert abs(n3 - n1) <= 1, (n1, n3)  # same model, same count (SimPy's until is exclusive)
    return [
        at_least(group, "halab.sim, trace on", traced, "events/s", 100_000),
        at_least(group, "halab.sim, trace off", bare, "events/s", 200_000),
        at_least(group, "halab.sim, lognormal jitter", jittered, "events/s", 100_000),
        Row(group, "SimPy 4 (Store + timeout)", theirs, "events/s"),
        at_least(group, "speed-up over SimPy, trace off", bare / theirs, "x", 2.0),
        Row(group, "speed-up over SimPy, trace on", traced / theirs, "x"),
    ]
