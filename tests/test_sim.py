"""Tests of halab.sim: ordering, timers, network faults, crash/restart, determinism."""

from __future__ import annotations

import doctest
import math
from dataclasses import dataclass

import numpy as np
import pytest

import halab.sim
from halab.sim import Envelope, Latency, Network, Node, Record, Simulation


@dataclass(frozen=True)
class Ping:
    n: int


@dataclass(frozen=True)
class Pong:
    n: int


class Pinger(Node):
    """Sends Ping(n) to ``peer`` and answers each Pong with the next Ping."""

    def __init__(self, name, peer, count=None):
        super().__init__(name)
        self.peer = peer
        self.count = count
        self.got: list[tuple[float, int]] = []

    def on_start(self):
        self.send(self.peer, Ping(1))

    def on_Pong(self, msg, src):
        self.got.append((self.now, msg.n))
        if self.count is None or msg.n < self.count:
            self.send(self.peer, Ping(msg.n + 1))


class Ponger(Node):
    def __init__(self, name):
        super().__init__(name)
        self.got: list[tuple[float, int, str]] = []

    def on_Ping(self, msg, src):
        self.got.append((self.now, msg.n, src))
        self.send(src, Pong(msg.n))


class Beater(Node):
    """Sends Ping(k) to ``peer`` every ``period`` seconds."""

    def __init__(self, name, peer, period=1.0):
        super().__init__(name)
        self.peer, self.period, self.k = peer, period, 0

    def on_start(self):
        self.set_timer("beat", self.period)

    def on_Ping(self, msg, src):
        self.received = getattr(self, "received", 0) + 1

    def on_timer_beat(self):
        self.k += 1
        self.send(self.peer, Ping(self.k))
        self.set_timer("beat", self.period)


class Sink(Node):
    def __init__(self, name):
        super().__init__(name)
        self.got: list[tuple[float, object, str]] = []
        self.starts = 0

    def on_start(self):
        self.starts += 1

    def on_message(self, msg, src):
        self.got.append((self.now, msg, src))


def test_module_docstring_example_runs_as_written():
    result = doctest.testmod(halab.sim, verbose=False)
    assert result.attempted > 5
    assert result.failed == 0


def test_ping_pong_with_constant_latency_matches_closed_form():
    # One round trip takes 2 * latency, so by time T exactly floor(T / (2 latency)) pongs arrived.
    latency, horizon = 0.003, 1.0
    sim = Simulation(seed=0, network=Network(latency=latency))
    a = sim.add(Pinger("a", "b"))
    b = sim.add(Ponger("b"))
    sim.run(until=horizon)
    expected = math.floor(horizon / (2 * latency) + 1e-9)
    assert len(a.got) == expected
    assert [n for _, n in a.got] == list(range(1, expected + 1))
    assert a.got[-1][0] == pytest.approx(expected * 2 * latency)
    assert [t for t, _, _ in b.got][:3] == pytest.approx([0.003, 0.009, 0.015])
    assert sim.now == horizon
    # deliveries only: pings + pongs
    assert sim.events == len(a.got) + len(b.got) + 2  # + two on_start calls


def test_same_time_events_run_in_the_order_scheduled():
    sim = Simulation(seed=0)
    order = []
    for label in ["c", "a", "b", "z", "y"]:
        sim.at(1.0, order.append, label)
    sim.at(0.5, order.append, "first")
    sim.run()
    assert order == ["first", "c", "a", "b", "z", "y"]


def test_messages_arriving_together_are_delivered_in_send_order():
    sim = Simulation(seed=0, network=Network(latency=0.1))
    sink = sim.add(Sink("sink"))
    senders = [sim.add(Sink(f"s{i}")) for i in range(6)]
    for s in reversed(senders):  # send order: s5, s4, ..., s0, all at t = 0
        s.send("sink", Ping(int(s.name[1:])))
    sim.run()
    assert [m.n for _, m, _ in sink.got] == [5, 4, 3, 2, 1, 0]
    assert all(t == pytest.approx(0.1) for t, _, _ in sink.got)


def _noisy_run(seed):
    net = Network(latency=Latency(0.01, jitter=0.004, dist="lognormal"), loss=0.1, duplicate=0.05)
    sim = Simulation(seed=seed, network=net)
    sim.add(Beater("a", "b", period=0.05))
    sim.add(Beater("b", "a", period=0.07))
    sim.at(3.0, sim.crash, "b")
    sim.at(4.0, sim.restart, "b")
    sim.run(until=8.0)
    return sim


def test_same_seed_same_trace_and_different_seed_different_trace():
    one, two, other = _noisy_run(7), _noisy_run(7), _noisy_run(8)
    assert len(one.trace) > 300
    assert one.trace == two.trace
    assert one.trace != other.trace
    kinds = {r.kind for r in one.trace}
    assert {"send", "deliver", "drop", "duplicate", "timer", "crash", "restart"} <= kinds


def test_rearming_a_named_timer_cancels_the_previous_one():
    class Watchdog(Node):
        def on_start(self):
            self.fired = []
            self.set_timer("t", 1.0)

        def on_timer_t(self):
            self.fired.append(self.now)

    sim = Simulation(seed=0)
    w = sim.add(Watchdog("w"))
    sim.at(0.5, w.set_timer, "t", 1.0)  # re-arm: now due at 1.5, not 1.0
    sim.at(1.2, w.set_timer, "t", 1.0)  # re-arm again: due at 2.2
    sim.run()
    assert w.fired == [pytest.approx(2.2)]
    assert not w.timer_armed("t")


def test_cancel_timer_and_timer_armed():
    class T(Node):
        def on_start(self):
            self.fired = 0
            self.set_timer("x", 1.0)

        def on_timer_x(self):
            self.fired += 1

    sim = Simulation(seed=0)
    t = sim.add(T("t"))
    sim.run(until=0.5)
    assert t.timer_armed("x")
    assert t.cancel_timer("x") is True
    assert t.cancel_timer("x") is False
    sim.run(until=5.0)
    assert t.fired == 0
    handle = sim.at(6.0, t.set_timer, "x", 0.0)
    handle.cancel()
    sim.run()
    assert t.fired == 0


def test_set_timer_without_handler_fails_at_arm_time():
    sim = Simulation(seed=0)
    n = sim.add(Sink("n"))
    with pytest.raises(AttributeError, match="on_timer_nope"):
        n.set_timer("nope", 1.0)


def test_crash_stops_receiving_and_timers_and_restart_calls_on_restart():
    sim = Simulation(seed=0, network=Network(latency=0.01))
    a = sim.add(Beater("a", "b", period=1.0))
    b = sim.add(Sink("b"))
    sim.at(2.5, sim.crash, "a")  # a's beats: 1, 2 then silence
    sim.at(5.5, sim.restart, "a")  # default on_restart -> on_start -> beat at 6.5, 7.5, ...
    sim.at(7.8, sim.crash, "b")  # b receives nothing from 7.8 on
    sim.run(until=10.0)
    got = [(round(t, 6), m.n) for t, m, _ in b.got]
    assert got == [(1.01, 1), (2.01, 2), (6.51, 3), (7.51, 4)]
    dead = sim.records("dead")
    assert [round(r.time, 6) for r in dead] == [8.51, 9.51]
    assert all(r.node == "b" and isinstance(r.detail, Envelope) for r in dead)
    assert a.k == 6  # timers kept running on a after its restart
    assert [r.kind for r in sim.records("crash", "restart")] == ["crash", "restart", "crash"]


def test_restart_hook_may_keep_state():
    class Counter(Node):
        def on_start(self):
            self.boots = 1

        def on_restart(self):
            self.boots += 1

    sim = Simulation(seed=0)
    c = sim.add(Counter("c"))
    for t in (1, 3, 5):
        sim.at(t, sim.crash, "c")
        sim.at(t + 1, sim.restart, "c")
    sim.run()
    assert c.boots == 4
    assert c.alive


def test_crashed_node_cannot_send():
    sim = Simulation(seed=0)
    a = sim.add(Sink("a"))
    b = sim.add(Sink("b"))
    sim.crash("a")
    a.send("b", Ping(1))
    sim.run()
    assert b.got == []
    with pytest.raises(RuntimeError):
        a.set_timer("x", 1.0)


def test_partitions_two_way_one_way_and_heal():
    sim = Simulation(seed=0, network=Network(latency=0.001))
    nodes = {n: sim.add(Sink(n)) for n in "abcde"}
    net = sim.network
    net.partition(["a", "b"], ["c", "d", "e"])
    assert net.blocked("a", "c") and net.blocked("e", "b")
    assert not net.blocked("a", "b") and not net.blocked("c", "e")
    net.heal()
    net.partition("a", ["b", "c"], oneway=True)
    assert net.blocked("a", "b") and not net.blocked("b", "a")
    for src in "abc":
        for dst in "abc":
            if src != dst:
                nodes[src].send(dst, Ping(ord(src)))
    sim.run()
    assert [src for _, _, src in nodes["b"].got] == ["c"]
    assert sorted(src for _, _, src in nodes["a"].got) == ["b", "c"]
    assert len(sim.records("block")) == 2
    net.heal("a", "c")
    assert not net.blocked("a", "c") and net.blocked("a", "b")
    sim.isolate("e")
    assert all(net.blocked("e", x) and net.blocked(x, "e") for x in "abcd")


def test_loss_rate_matches_binomial():
    p, n, seed = 0.2, 20_000, 11
    sim = Simulation(seed=seed, network=Network(latency=0.001, loss=p))
    a = sim.add(Sink("a"))
    b = sim.add(Sink("b"))
    for _ in range(n):
        a.send("b", Ping(0))
    sim.run()
    lost = len(sim.records("drop"))
    sd = math.sqrt(n * p * (1 - p))
    assert abs(lost - n * p) < 4 * sd, f"seed={seed}: lost {lost}, expected {n * p} ± {4 * sd:.0f}"
    assert len(b.got) == n - lost


def test_duplication_rate_matches_binomial():
    p, n, seed = 0.1, 20_000, 12
    sim = Simulation(seed=seed, network=Network(latency=0.001, duplicate=p))
    a = sim.add(Sink("a"))
    b = sim.add(Sink("b"))
    for i in range(n):
        a.send("b", Ping(i))
    sim.run()
    extra = len(b.got) - n
    sd = math.sqrt(n * p * (1 - p))
    assert extra == len(sim.records("duplicate"))
    assert abs(extra - n * p) < 4 * sd, f"seed={seed}: {extra} duplicates, expected {n * p}"


@pytest.mark.parametrize("dist", ["normal", "lognormal", "exponential", "uniform"])
def test_latency_shapes_have_the_requested_mean_and_std(dist):
    mean, jitter, n, seed = 0.05, 0.01, 40_000, 3
    lat = Latency(mean, jitter, dist)
    rng = np.random.default_rng(seed)
    x = np.array([lat.sample(rng) for _ in range(n)])
    assert x.min() >= 0
    # standard error of the mean is jitter / sqrt(n) = 5e-5 s
    assert abs(x.mean() - mean) < 4 * jitter / math.sqrt(n), f"seed={seed} {dist}: {x.mean()}"
    assert abs(x.std() - jitter) < 0.03 * jitter, f"seed={seed} {dist}: std {x.std()}"


def test_latency_shapes_have_their_shape():
    rng = np.random.default_rng(5)
    ex = np.array([Latency(0.05, 0.02, "exponential").sample(rng) for _ in range(20_000)])
    assert ex.min() >= 0.03 and ex.min() < 0.0301  # shift mean - jitter
    un = np.array([Latency(0.05, 0.01, "uniform").sample(rng) for _ in range(20_000)])
    half = math.sqrt(3) * 0.01
    assert 0.05 - half <= un.min() < 0.05 - half + 1e-3 and 0.05 + half - 1e-3 < un.max()
    ln = np.array([Latency(0.05, 0.05, "lognormal").sample(rng) for _ in range(20_000)])
    assert np.median(ln) < 0.05  # right-skewed: median below mean
    assert Latency(0.05, 0.0, "lognormal").dist == "constant"


def test_jitter_delivers_with_sampled_delays_and_can_reorder():
    sim = Simulation(seed=4, network=Network(latency=Latency(0.05, 0.02, "exponential")))
    a = sim.add(Sink("a"))
    b = sim.add(Sink("b"))
    for i in range(200):
        sim.at(i * 0.001, a.send, "b", Ping(i))
    sim.run()
    order = [m.n for _, m, _ in b.got]
    assert sorted(order) == list(range(200))
    assert order != list(range(200))  # some overtook others
    for r in sim.records("deliver"):
        assert r.time - r.detail.sent >= 0.03 - 1e-12


def test_pause_delays_but_loses_nothing():
    sim = Simulation(seed=0, network=Network(latency=0.01))
    beater = sim.add(Beater("a", "b", period=1.0))
    sink = sim.add(Sink("b"))
    sim.at(2.5, sim.pause, "a", 3.0)  # a stalls 2.5 .. 5.5: the beat due at 3 runs at 5.5
    sim.at(7.2, sim.pause, "b", 1.0)  # b stalls 7.2 .. 8.2: the beat arriving at 7.51 waits
    sim.run(until=10.0)
    # a beats at 1, 2, (3 -> 5.5), 6.5, 7.5, 8.5, 9.5; each arrives 10 ms later
    times = [round(t, 6) for t, _, _ in sink.got]
    assert times == [1.01, 2.01, 5.51, 6.51, 8.2, 8.51, 9.51]
    assert [m.n for _, m, _ in sink.got] == list(range(1, 8))
    assert beater.k == 7
    assert [r.detail for r in sim.records("pause")] == [3.0, 1.0]


def test_run_until_is_exclusive_and_sets_the_clock():
    sim = Simulation(seed=0)
    seen = []
    sim.at(1.0, seen.append, 1)
    sim.at(2.0, seen.append, 2)
    sim.run(until=2.0)
    assert seen == [1] and sim.now == 2.0
    sim.run(until=3.0)
    assert seen == [1, 2] and sim.now == 3.0


def test_max_events_and_stop():
    sim = Simulation(seed=0, network=Network(latency=0.001))
    a = sim.add(Pinger("a", "b"))
    sim.add(Ponger("b"))
    sim.run(max_events=10)
    assert sim.events == 10
    sim.at(sim.now + 0.0105, sim.stop)
    sim.run()
    assert sim.now == pytest.approx(len(a.got) * 0.002 + 0.0005, abs=0.0011)


def test_unhandled_message_raises_with_the_handler_name():
    sim = Simulation(seed=0)
    sim.add(Ponger("b"))
    sim.inject(0.5, "b", Pong(1))
    with pytest.raises(TypeError, match="on_Pong"):
        sim.run()


def test_inject_delivers_from_outside():
    sim = Simulation(seed=0, network=Network(loss=0.5))
    sink = sim.add(Sink("s"))
    sim.network.partition("client", "s")
    sim.inject(1.5, "s", Ping(9))
    sim.run()
    assert sink.got == [(1.5, Ping(9), "client")]


def test_trace_false_keeps_only_faults_and_node_records():
    class Noter(Beater):
        def on_timer_beat(self):
            super().on_timer_beat()
            self.record("beat", self.k)

    sim = Simulation(seed=0, trace=False)
    sim.add(Noter("a", "b"))
    sim.add(Sink("b"))
    sim.at(3.5, sim.crash, "a")
    sim.run(until=5)
    assert [(r.kind, r.detail) for r in sim.trace] == [
        ("beat", 1),
        ("beat", 2),
        ("beat", 3),
        ("crash", None),
    ]
    assert sim.events == 2 + 3 + 3 + 1  # starts, timers, deliveries, the crash call


def test_broadcast_and_peers_follow_insertion_order():
    sim = Simulation(seed=0)
    nodes = [sim.add(Sink(n)) for n in ["n3", "n1", "n2"]]
    assert nodes[0].peers == ["n1", "n2"]
    nodes[1].broadcast(Ping(1))
    sim.run()
    assert [len(n.got) for n in nodes] == [1, 0, 1]
    assert [r.detail.dst for r in sim.records("send")] == ["n3", "n2"]


def test_log_prints_with_time_when_verbose(capsys):
    sim = Simulation(seed=0, verbose=True)
    n = sim.add(Sink("n"))
    sim.at(1.25, n.log, "hello")
    sim.run()
    assert capsys.readouterr().out == "    1.2500 n: hello\n"
    assert sim.records("log") == [Record(1.25, "n", "log", "hello")]


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: Network(loss=1.0), "loss must be in"),
        (lambda: Network(loss=-0.1), "loss must be in"),
        (lambda: Network(duplicate=1.0), "duplicate must be in"),
        (lambda: Network(latency=-1), "latency mean"),
        (lambda: Latency(0.1, -0.01), "jitter"),
        (lambda: Latency(0.1, 0.01, "pareto"), "dist must be one of"),
        (lambda: Latency(0.1, 0.2, "exponential"), "jitter must be in"),
        (lambda: Latency(0.1, 0.1, "uniform"), "jitter must be in"),
        (lambda: Latency(0.1, 0.01, "constant"), "jitter must be 0"),
        (lambda: Node(""), "name must be"),
    ],
)
def test_bad_input_raises_value_error(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_bad_scheduling_raises_value_error():
    sim = Simulation(seed=0)
    n = sim.add(Sink("n"))
    sim.run(until=2.0)
    with pytest.raises(ValueError, match="time must be >= now"):
        sim.at(1.0, print)
    with pytest.raises(ValueError, match="delay must be >= 0"):
        sim.after(-1, print)
    with pytest.raises(ValueError, match="delay must be >= 0"):
        n.set_timer("x", -1)
    with pytest.raises(ValueError, match="unique"):
        sim.add(Sink("n"))
    with pytest.raises(ValueError, match="name must be one of"):
        sim.crash("ghost")
    with pytest.raises(ValueError, match="dst must be one of"):
        n.send("ghost", Ping(1))
    with pytest.raises(ValueError, match="until must be"):
        sim.run(until=1.0)


def test_run_pauses_the_garbage_collector_and_always_restores_it():
    import gc

    sim = Simulation(seed=0)
    seen = []
    sim.at(1.0, lambda: seen.append(gc.isenabled()))
    sim.run()
    assert seen == [False] and gc.isenabled()
    sim.at(2.0, lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        sim.run()
    assert gc.isenabled(), "a handler that raised left the collector off"
