"""A small deterministic discrete-event kernel: clock, seeded RNG, timers, network, faults, trace.

The lessons on failure detection, leader election and replication run their nodes here.
The design follows SimPy's scheduler (one heap of ``(time, sequence, item)``; the sequence
number, never object identity, orders events that share a time) and the simulated network of
"Clustering by Consensus" in *500 Lines or Less* (messages are small immutable records,
handlers are found by name, the network is seeded and may drop messages).

Vocabulary, and how each term is coded:

- **Simulation**: the clock (``sim.now``, seconds), one ``numpy.random.Generator``
  (``sim.rng``, made from ``seed``), the event heap, the :class:`Network` and the trace.
- **Node**: a subclass of :class:`Node` with a unique ``name``. It reacts to messages with
  ``on_<MessageClass>(self, msg, src)`` and to its named timers with ``on_timer_<name>(self)``.
- **Message**: any value, usually a frozen dataclass; its class name picks the handler.
- **Timer**: a named alarm of one node. ``set_timer(name, delay)`` arms it; arming a name that
  is already armed cancels the earlier one, so a heartbeat can re-arm a timeout on arrival.
- **Fault**: ``sim.crash(name)`` (the node receives nothing and its timers stop),
  ``sim.restart(name)`` (calls ``on_restart``; the node decides what state it keeps),
  ``sim.pause(name, seconds)`` (a stall, e.g. garbage collection: events wait, none are lost),
  and ``sim.network.partition(a, b, oneway=False)`` / ``heal()``. Any of them can be scheduled
  with ``sim.at(t, fn, *args)``.
- **Trace**: ``sim.trace``, a list of :class:`Record` ``(time, node, kind, detail)`` in the
  order things happened. Same seed, same trace.

A complete example: a sender heartbeats every second; a monitor suspects it when no heartbeat
came for 2.5 s. The sender crashes at 4.5 s and restarts at 8.2 s; from 11.7 s to 15.5 s a
one-way partition stops its heartbeats (messages back would still pass).

>>> from dataclasses import dataclass
>>> from halab.sim import Network, Node, Simulation
>>> @dataclass(frozen=True)
... class Heartbeat:
...     seq: int
>>> class Sender(Node):
...     def on_start(self):
...         self.seq = 0
...         self.set_timer("beat", 0.0)
...     def on_timer_beat(self):
...         self.seq += 1
...         self.send("monitor", Heartbeat(self.seq))
...         self.set_timer("beat", 1.0)
...     def on_restart(self):            # keep self.seq, start beating again
...         self.set_timer("beat", 0.0)
>>> class Monitor(Node):
...     def on_start(self):
...         self.suspected = False
...         self.set_timer("timeout", 2.5)
...     def on_Heartbeat(self, msg, src):
...         if self.suspected:
...             self.record("trust", src)
...             self.suspected = False
...         self.set_timer("timeout", 2.5)   # re-arming cancels the previous timeout
...     def on_timer_timeout(self):
...         self.suspected = True
...         self.record("suspect", "sender")
>>> sim = Simulation(seed=1, network=Network(latency=0.05))
>>> sender, monitor = sim.add(Sender("sender")), sim.add(Monitor("monitor"))
>>> _ = sim.at(4.5, sim.crash, "sender")
>>> _ = sim.at(8.2, sim.restart, "sender")
>>> _ = sim.at(11.7, sim.network.partition, "sender", "monitor", oneway=True)
>>> _ = sim.at(15.5, sim.network.heal)
>>> sim.run(until=20.0)
>>> for r in sim.records("crash", "restart", "suspect", "trust"):
...     print(r)
    4.5000  sender crash
    6.5500 monitor suspect sender
    8.2000  sender restart
    8.2500 monitor trust sender
   13.7500 monitor suspect sender
   16.2500 monitor trust sender
>>> sender.seq, len(sim.records("block"))   # beats 10-13 (12.2 s to 15.2 s) hit the cut
(17, 4)

Latency is a distribution: ``Network(latency=Latency(0.05, jitter=0.01, dist="lognormal"),
loss=0.01, duplicate=0.001)`` draws each delay from a lognormal with mean 50 ms and standard
deviation 10 ms; with jitter, messages may overtake each other. ``Simulation(trace=False)``
keeps only the faults (crash, restart, pause) and the records nodes write themselves
(``node.record``), and runs about three times faster.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import heapq
import math
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

import numpy as np

from halab.checks import make_rng

__all__ = [
    "Envelope",
    "Latency",
    "Network",
    "Node",
    "Record",
    "Simulation",
    "Timer",
]

_new = tuple.__new__  # builds a NamedTuple without its Python-level __new__ (hot path)

LATENCY_DISTRIBUTIONS = ("constant", "normal", "lognormal", "exponential", "uniform")


class Envelope(NamedTuple):
    """A message on the wire: who sent it, to whom, what, and when (simulated seconds)."""

    src: str
    dst: str
    msg: Any
    sent: float


class Record(NamedTuple):
    """One line of the trace.

    Attributes:
        time: simulated time in seconds.
        node: the node it concerns (for messages: the sender on ``send``/``drop``/``block``/
            ``duplicate``, the receiver on ``deliver``/``dead``).
        kind: what happened. The kernel writes ``start``, ``send``, ``deliver``, ``drop``
            (lost), ``block`` (partition), ``duplicate``, ``dead`` (arrived at a crashed node),
            ``timer``, ``crash``, ``restart``, ``pause``, ``log``; nodes add their own kinds
            with :meth:`Node.record`.
        detail: an :class:`Envelope` for message kinds, the timer name for ``timer``, the
            pause length for ``pause``, anything a node chose for its own kinds.
    """

    time: float
    node: str
    kind: str
    detail: Any = None

    def __str__(self) -> str:
        text = f"{self.time:10.4f} {self.node:>7} {self.kind}"
        if self.detail is None:
            return text
        detail = self.detail
        if isinstance(detail, Envelope):
            detail = f"{detail.src}->{detail.dst} {detail.msg!r}"
        return f"{text} {detail}"


class Latency:
    """A one-way network delay distribution with a given mean and standard deviation.

    Every shape has mean ``mean`` and standard deviation ``jitter`` (seconds), so shapes can be
    swapped without moving the average:

    - ``"constant"`` (or any shape with ``jitter == 0``): always ``mean``;
    - ``"normal"``: ``Normal(mean, jitter)`` clipped at 0 (the clip raises the mean slightly
      when ``jitter`` is not small against ``mean``);
    - ``"lognormal"``: ``exp(N(mu, s))`` with ``s**2 = ln(1 + (jitter/mean)**2)`` and
      ``mu = ln(mean) - s**2/2`` (the usual moment match), a long right tail;
    - ``"exponential"``: ``mean - jitter + Exp(jitter)``, a shifted exponential (a fixed
      propagation delay plus a memoryless queueing delay); needs ``jitter <= mean``, and
      ``jitter == mean`` is the plain exponential;
    - ``"uniform"``: uniform on ``mean ± sqrt(3)·jitter``; needs ``sqrt(3)·jitter <= mean``.

    Args:
        mean: mean delay in seconds, ``>= 0``.
        jitter: standard deviation of the delay in seconds, ``>= 0``.
        dist: one of ``LATENCY_DISTRIBUTIONS``.

    Raises:
        ValueError: on a negative mean or jitter, an unknown shape, or a shape that would
            produce negative delays.
    """

    __slots__ = ("mean", "jitter", "dist", "_a", "_b")

    def __init__(self, mean: float, jitter: float = 0.0, dist: str = "normal") -> None:
        mean, jitter = float(mean), float(jitter)
        if not (mean >= 0 and math.isfinite(mean)):
            raise ValueError(f"latency mean must be a finite number >= 0 seconds, got {mean}")
        if not (jitter >= 0 and math.isfinite(jitter)):
            raise ValueError(f"latency jitter must be a finite number >= 0 seconds, got {jitter}")
        if dist not in LATENCY_DISTRIBUTIONS:
            raise ValueError(f"latency dist must be one of {LATENCY_DISTRIBUTIONS}, got {dist!r}")
        if jitter == 0:
            dist = "constant"
        if dist == "constant" and jitter != 0:
            raise ValueError(f"latency jitter must be 0 for a constant delay, got {jitter}")
        if dist == "exponential" and jitter > mean:
            raise ValueError(
                f"latency jitter must be in [0, mean={mean}] for 'exponential', got {jitter}"
            )
        if dist == "uniform" and math.sqrt(3) * jitter > mean:
            raise ValueError(
                f"latency jitter must be in [0, mean/sqrt(3)={mean / math.sqrt(3):.6g}] "
                f"for 'uniform', got {jitter}"
            )
        self.mean, self.jitter, self.dist = mean, jitter, dist
        self._a, self._b = mean, jitter
        if dist == "lognormal":
            s2 = math.log1p((jitter / mean) ** 2)
            self._a, self._b = math.log(mean) - s2 / 2, math.sqrt(s2)
        elif dist == "exponential":
            self._a, self._b = mean - jitter, jitter
        elif dist == "uniform":
            self._a, self._b = mean - math.sqrt(3) * jitter, mean + math.sqrt(3) * jitter

    def sample(self, rng: np.random.Generator) -> float:
        """One delay in seconds, drawn from ``rng`` (no draw at all for a constant delay)."""
        dist = self.dist
        if dist == "constant":
            return self.mean
        if dist == "normal":
            x = self._a + self._b * rng.standard_normal()
            return x if x > 0 else 0.0
        if dist == "lognormal":
            return math.exp(self._a + self._b * rng.standard_normal())
        if dist == "exponential":
            return self._a + self._b * rng.standard_exponential()
        return self._a + (self._b - self._a) * rng.random()

    def __repr__(self) -> str:
        if self.dist == "constant":
            return f"Latency({self.mean!r})"
        return f"Latency({self.mean!r}, jitter={self.jitter!r}, dist={self.dist!r})"


def _names(group: str | Iterable[str]) -> tuple[str, ...]:
    return (group,) if isinstance(group, str) else tuple(group)


class Network:
    """The wire between nodes: latency, loss, duplication and partitions.

    Each message is, in this order: blocked if a partition separates sender and receiver
    (recorded as ``block``); lost with probability ``loss`` (``drop``); otherwise delivered
    after a delay drawn from ``latency``; and, with probability ``duplicate``, delivered a
    second time after an independent delay (``duplicate``). Random draws come from the
    simulation's generator and happen only when needed, so a lossless constant-delay network
    draws nothing.

    Args:
        latency: seconds (a constant), a :class:`Latency`, or a callable ``f(rng) -> seconds``.
        loss: probability in ``[0, 1)`` that a message is lost.
        duplicate: probability in ``[0, 1)`` that a delivered message arrives twice.

    Raises:
        ValueError: on a loss or duplication probability outside ``[0, 1)`` or a bad latency.
    """

    def __init__(
        self,
        latency: float | Latency | Callable[[np.random.Generator], float] = 0.001,
        loss: float = 0.0,
        duplicate: float = 0.0,
    ) -> None:
        self.latency = latency
        self.loss = loss
        self.duplicate = duplicate
        self._blocked: set[tuple[str, str]] = set()

    @property
    def latency(self) -> Latency | Callable[[np.random.Generator], float]:
        """The delay distribution (a :class:`Latency` or a callable)."""
        return self._latency

    @latency.setter
    def latency(self, value: float | Latency | Callable[[np.random.Generator], float]) -> None:
        if isinstance(value, Latency) or callable(value):
            self._latency = value
        else:
            self._latency = Latency(value)
        lat = self._latency
        self._constant = lat.mean if isinstance(lat, Latency) and lat.dist == "constant" else None
        self._draw = lat.sample if isinstance(lat, Latency) else lat

    @property
    def loss(self) -> float:
        """Probability that a message is lost."""
        return self._loss

    @loss.setter
    def loss(self, value: float) -> None:
        value = float(value)
        if not 0.0 <= value < 1.0:
            raise ValueError(f"loss must be in [0, 1), got {value}")
        self._loss = value

    @property
    def duplicate(self) -> float:
        """Probability that a delivered message is delivered twice."""
        return self._duplicate

    @duplicate.setter
    def duplicate(self, value: float) -> None:
        value = float(value)
        if not 0.0 <= value < 1.0:
            raise ValueError(f"duplicate must be in [0, 1), got {value}")
        self._duplicate = value

    def partition(
        self, a: str | Iterable[str], b: str | Iterable[str], *, oneway: bool = False
    ) -> None:
        """Cut the links from every node of ``a`` to every node of ``b`` (and back).

        Args:
            a: a node name or an iterable of names.
            b: a node name or an iterable of names.
            oneway: cut only ``a -> b``; messages ``b -> a`` still pass.
        """
        a, b = _names(a), _names(b)
        for x in a:
            for y in b:
                if x == y:
                    continue
                self._blocked.add((x, y))
                if not oneway:
                    self._blocked.add((y, x))

    def heal(self, a: str | Iterable[str] | None = None, b: str | Iterable[str] | None = None):
        """Restore links: all of them, or only those between ``a`` and ``b`` (both directions)."""
        if a is None and b is None:
            self._blocked.clear()
            return
        if a is None or b is None:
            raise ValueError("heal needs both groups a and b, or neither")
        for x in _names(a):
            for y in _names(b):
                self._blocked.discard((x, y))
                self._blocked.discard((y, x))

    def blocked(self, src: str, dst: str) -> bool:
        """Whether a partition currently stops messages from ``src`` to ``dst``."""
        return (src, dst) in self._blocked


class Timer:
    """A scheduled call: a node's named timer, or a ``sim.at`` callback.

    A timer is *armed* until it fires or is cancelled; :meth:`cancel` on a timer that has
    already fired does nothing.
    """

    __slots__ = ("time", "name", "node", "fn", "args", "cancelled")

    def __init__(self, time, name, node, fn, args) -> None:
        self.time = time
        self.name = name
        self.node = node
        self.fn = fn
        self.args = args
        self.cancelled = False

    def cancel(self) -> None:
        """Stop the timer from firing."""
        self.cancelled = True

    def __repr__(self) -> str:
        owner = f" of {self.node.name!r}" if self.node is not None else ""
        state = "cancelled" if self.cancelled else "armed"
        return f"<Timer {self.name!r}{owner} at {self.time:g} {state}>"


class Node:
    """Base class of a simulated process.

    Subclasses define handlers, found by name:

    - ``on_start(self)``: called once when the node is added (at the current time);
    - ``on_<MessageClass>(self, msg, src)``: a message of that class arrived from ``src``;
      ``on_message(self, msg, src)`` catches classes without their own handler;
    - ``on_timer_<name>(self)``: the timer ``name`` fired;
    - ``on_crash(self)``: the node just crashed (bookkeeping only: it cannot send);
    - ``on_restart(self)``: the node came back. By default it calls ``on_start`` (state is
      reset by whatever ``on_start`` sets); override it to keep state.

    Call ``super().__init__(name)`` in a subclass's ``__init__``.
    """

    sim: Simulation
    alive: bool

    def __init__(self, name: str) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f"name must be a non-empty string, got {name!r}")
        self.name = name

    # -- hooks ---------------------------------------------------------------------------

    def on_start(self) -> None:
        """Called when the node joins the simulation."""

    def on_restart(self) -> None:
        """Called when the node restarts after a crash; the default calls :meth:`on_start`."""
        self.on_start()

    def on_crash(self) -> None:
        """Called when the node crashes, after its timers were cancelled."""

    def on_message(self, msg: Any, src: str) -> None:
        """Called for a message class without its own ``on_<Class>`` handler."""
        raise TypeError(
            f"{type(self).__name__} {self.name!r} has no handler on_{type(msg).__name__} "
            f"(message {msg!r} from {src!r})"
        )

    # -- verbs ---------------------------------------------------------------------------

    @property
    def now(self) -> float:
        """The simulated time in seconds."""
        return self.sim.now

    @property
    def rng(self) -> np.random.Generator:
        """The simulation's random generator."""
        return self.sim.rng

    @property
    def peers(self) -> list[str]:
        """The names of every other node, in the order they were added."""
        return [n for n in self.sim.nodes if n != self.name]

    def send(self, dst: str, msg: Any) -> None:
        """Send ``msg`` to node ``dst`` over the network."""
        self.sim._send(self, dst, msg)

    def broadcast(self, msg: Any) -> None:
        """Send ``msg`` to every other node (each copy travels, and may be lost, on its own)."""
        send = self.sim._send
        for dst in self.sim.nodes:
            if dst != self.name:
                send(self, dst, msg)

    def set_timer(self, name: str, delay: float) -> Timer:
        """Arm timer ``name`` to call ``on_timer_<name>()`` in ``delay`` seconds.

        If a timer of that name is armed, it is cancelled first (re-arming).
        """
        if not delay >= 0:
            raise ValueError(f"delay must be >= 0 seconds, got {delay}")
        if not self.alive:
            raise RuntimeError(f"node {self.name!r} is crashed and cannot set timers")
        timers = self._timers
        old = timers.get(name)
        if old is not None:
            old.cancelled = True
        fn = getattr(self, "on_timer_" + name, None)
        if fn is None:
            raise AttributeError(f"{type(self).__name__} has no method on_timer_{name}")
        timer = Timer(self.sim.now + delay, name, self, fn, ())
        timers[name] = timer
        self.sim._push(timer.time, timer)
        return timer

    def cancel_timer(self, name: str) -> bool:
        """Cancel timer ``name``; return whether it was armed."""
        timer = self._timers.pop(name, None)
        if timer is None:
            return False
        timer.cancelled = True
        return True

    def timer_armed(self, name: str) -> bool:
        """Whether timer ``name`` is armed."""
        return name in self._timers

    def record(self, kind: str, detail: Any = None) -> None:
        """Add a record of this node's own kind to the trace (kept even with ``trace=False``)."""
        self.sim.trace.append(Record(self.sim.now, self.name, kind, detail))

    def log(self, text: str) -> None:
        """Record ``text`` as kind ``log``; print it with the time when the sim is verbose."""
        self.record("log", text)
        if self.sim.verbose:
            print(f"{self.sim.now:10.4f} {self.name}: {text}")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


@contextlib.contextmanager
def gc_paused():
    """Switch Python's cyclic garbage collector off for a block, and back on after it.

    Reference counting still frees nearly everything a run makes; the collector only rescans
    the records a run keeps, ever more of them (issue 17: a run with a 1M-event trace took
    7.45 s with it and 4.46 s without). Results do not depend on it, bit for bit.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class Simulation:
    """The clock, the random generator, the event heap, the network and the trace.

    Args:
        seed: seed of the one ``numpy.random.Generator`` (``sim.rng``) every draw comes from.
        network: the :class:`Network`; a lossless one with 1 ms constant delay by default.
        trace: record kernel events (sends, deliveries, timers, ...). With ``False`` only the
            faults and the records nodes write themselves are kept, and the loop runs faster.
        verbose: print ``node.log`` lines as they happen.

    Attributes:
        now: simulated time in seconds.
        nodes: name -> :class:`Node`, in the order added.
        trace: the list of :class:`Record`.
        events: how many events (deliveries, timer firings, calls) have been processed.
    """

    def __init__(
        self,
        *,
        seed: int | None = 0,
        network: Network | None = None,
        trace: bool = True,
        verbose: bool = False,
    ) -> None:
        self.now = 0.0
        self.rng = make_rng(seed)
        self.network = network if network is not None else Network()
        self.nodes: dict[str, Node] = {}
        self.trace: list[Record] = []
        self.tracing = bool(trace)
        self.verbose = verbose
        self.events = 0
        self._heap: list[tuple[float, int, Any]] = []
        self._seq = 0
        self._handlers: dict[tuple[type, type], Callable] = {}
        self._stopped = False

    # -- building ------------------------------------------------------------------------

    def add(self, node: Node) -> Node:
        """Add ``node``; its ``on_start`` runs at the current time, in the order added."""
        if node.name in self.nodes:
            raise ValueError(f"node name must be unique, {node.name!r} is taken")
        node.sim = self
        node.alive = True
        node._timers = {}
        node._paused_until = -math.inf
        self.nodes[node.name] = node
        self._push(self.now, Timer(self.now, "start", None, self._start, (node,)))
        return node

    def _start(self, node: Node) -> None:
        if self.tracing:
            self.trace.append(Record(self.now, node.name, "start"))
        node.on_start()

    # -- scheduling ----------------------------------------------------------------------

    def _push(self, time: float, item: Any) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (time, self._seq, item))

    def at(self, time: float, fn: Callable, *args: Any, **kwargs: Any) -> Timer:
        """Call ``fn(*args, **kwargs)`` at simulated time ``time`` (seconds).

        Returns a handle whose ``cancel()`` stops the call.

        Calls at the same time run in the order they were scheduled.
        """
        if not time >= self.now:
            raise ValueError(f"time must be >= now ({self.now}), got {time}")
        name = getattr(fn, "__name__", "call")
        if kwargs:
            fn = functools.partial(fn, **kwargs)
        timer = Timer(float(time), name, None, fn, args)
        self._push(timer.time, timer)
        return timer

    def after(self, delay: float, fn: Callable, *args: Any, **kwargs: Any) -> Timer:
        """Call ``fn(*args, **kwargs)`` after ``delay`` seconds; return a cancellable handle."""
        if not delay >= 0:
            raise ValueError(f"delay must be >= 0 seconds, got {delay}")
        return self.at(self.now + delay, fn, *args, **kwargs)

    def inject(self, time: float, dst: str, msg: Any, src: str = "client") -> None:
        """Deliver ``msg`` to ``dst`` at ``time`` from outside (no loss, no partition)."""
        if not time >= self.now:
            raise ValueError(f"time must be >= now ({self.now}), got {time}")
        if dst not in self.nodes:
            raise ValueError(f"dst must be one of {list(self.nodes)}, got {dst!r}")
        self._push(float(time), Envelope(src, dst, msg, float(time)))

    def stop(self) -> None:
        """Make :meth:`run` return after the current event."""
        self._stopped = True

    # -- faults --------------------------------------------------------------------------

    def _node(self, name: str) -> Node:
        try:
            return self.nodes[name]
        except KeyError:
            raise ValueError(f"name must be one of {list(self.nodes)}, got {name!r}") from None

    def crash(self, name: str) -> None:
        """Crash node ``name``: its timers are cancelled and it receives nothing until restart.

        Crashing a crashed node does nothing.
        """
        node = self._node(name)
        if not node.alive:
            return
        node.alive = False
        for timer in node._timers.values():
            timer.cancelled = True
        node._timers.clear()
        self.trace.append(Record(self.now, name, "crash"))
        node.on_crash()

    def restart(self, name: str) -> None:
        """Restart crashed node ``name`` and call its ``on_restart``; a live node is left alone."""
        node = self._node(name)
        if node.alive:
            return
        node.alive = True
        node._paused_until = -math.inf
        self.trace.append(Record(self.now, name, "restart"))
        node.on_restart()

    def pause(self, name: str, seconds: float) -> None:
        """Stall node ``name`` for ``seconds`` (a GC pause, SIGSTOP, a VM migration).

        Nothing is lost: timers due and messages arriving during the stall are handled when
        it ends, in the order they were due.
        """
        if not seconds >= 0:
            raise ValueError(f"seconds must be >= 0, got {seconds}")
        node = self._node(name)
        node._paused_until = max(node._paused_until, self.now + seconds)
        self.trace.append(Record(self.now, name, "pause", float(seconds)))

    def isolate(self, name: str) -> None:
        """Partition node ``name`` from every other node, both directions."""
        self._node(name)
        self.network.partition(name, [n for n in self.nodes if n != name])

    # -- messages ------------------------------------------------------------------------

    def _send(self, node: Node, dst: str, msg: Any) -> None:
        if not node.alive:
            return
        if dst not in self.nodes:
            raise ValueError(f"dst must be one of {list(self.nodes)}, got {dst!r}")
        now = self.now
        env = _new(Envelope, (node.name, dst, msg, now))
        net = self.network
        tracing = self.tracing
        if net._blocked and (node.name, dst) in net._blocked:
            if tracing:
                self.trace.append(_new(Record, (now, node.name, "block", env)))
            return
        if net._loss and self.rng.random() < net._loss:
            if tracing:
                self.trace.append(_new(Record, (now, node.name, "drop", env)))
            return
        if tracing:
            self.trace.append(_new(Record, (now, node.name, "send", env)))
        delay = net._constant
        if delay is None:
            delay = net._draw(self.rng)
        self._seq += 1
        heapq.heappush(self._heap, (now + delay, self._seq, env))
        if net._duplicate and self.rng.random() < net._duplicate:
            if tracing:
                self.trace.append(_new(Record, (now, node.name, "duplicate", env)))
            delay = net._constant
            if delay is None:
                delay = net._draw(self.rng)
            self._seq += 1
            heapq.heappush(self._heap, (now + delay, self._seq, env))

    def _handler(self, node: Node, msg: Any) -> Callable:
        key = (type(node), type(msg))
        fn = self._handlers.get(key)
        if fn is None:
            fn = getattr(type(node), "on_" + type(msg).__name__, None) or type(node).on_message
            self._handlers[key] = fn
        return fn

    # -- the loop ------------------------------------------------------------------------

    def run(self, until: float | None = None, max_events: int | None = None) -> None:
        """Process events in (time, sequence) order.

        Args:
            until: stop before the first event at or after this time (seconds) and set the
                clock to it; ``None`` runs until no event is left.
            max_events: stop after this many events (a guard against endless protocols).
        """
        if until is not None and not until >= self.now:
            raise ValueError(f"until must be >= now ({self.now}), got {until}")
        heap = self._heap
        pop, push = heapq.heappop, heapq.heappush
        nodes = self.nodes
        trace = self.trace
        handlers = self._handlers
        limit = math.inf if until is None else until
        budget = math.inf if max_events is None else max_events
        done = 0
        self._stopped = False
        with gc_paused():  # a long trace would be rescanned by every collection
            while heap and done < budget and not self._stopped:
                if heap[0][0] >= limit:
                    break
                time, _, item = pop(heap)
                if item.__class__ is Envelope:
                    node = nodes[item.dst]
                    self.now = time
                    if not node.alive:
                        if self.tracing:
                            trace.append(Record(time, item.dst, "dead", item))
                        continue
                    if node._paused_until > time:
                        self._seq += 1
                        push(heap, (node._paused_until, self._seq, item))
                        continue
                    done += 1
                    if self.tracing:
                        trace.append(_new(Record, (time, item.dst, "deliver", item)))
                    msg = item.msg
                    fn = handlers.get((node.__class__, msg.__class__))
                    if fn is None:
                        fn = self._handler(node, msg)
                    fn(node, msg, item.src)
                else:
                    if item.cancelled:
                        continue
                    node = item.node
                    self.now = time
                    if node is not None:
                        if node._paused_until > time:
                            self._seq += 1
                            push(heap, (node._paused_until, self._seq, item))
                            continue
                        if node._timers.get(item.name) is item:
                            del node._timers[item.name]
                        if self.tracing:
                            trace.append(_new(Record, (time, node.name, "timer", item.name)))
                    done += 1
                    item.cancelled = True  # fired: a later cancel() is a no-op
                    item.fn(*item.args)
        self.events += done
        if until is not None and not self._stopped and done < budget:
            self.now = max(self.now, until)

    # -- reading the trace ---------------------------------------------------------------

    def records(self, *kinds: str, node: str | None = None) -> list[Record]:
        """The trace records of the given kinds (all kinds if none), optionally of one node."""
        return [
            r
            for r in self.trace
            if (not kinds or r.kind in kinds) and (node is None or r.node == node)
        ]
