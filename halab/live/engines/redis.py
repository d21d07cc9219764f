"""Redis with Sentinel on 127.0.0.1: a primary, its replicas and three Sentinels, killed live.

Vocabulary, and how each term is coded:

- **node**: one ``redis-server`` (index ``0 .. nodes-1``), no persistence (``save ""``,
  ``appendonly no``), its own port and folder; node 0 starts as the primary, the others as its
  replicas (``replicaof``).
- **sentinel**: one ``redis-sentinel`` with its own writable config file (Sentinel rewrites it
  with what it learns: replicas, other sentinels, the current primary).
- **down-after-milliseconds** (``down_after_ms``): Sentinel's fixed timeout. The Redis
  Sentinel documentation (redis.io, "High availability with Redis Sentinel", configuration)
  defines it as the time an instance may fail to answer PING (or answer with an error) before a
  Sentinel marks it *subjectively down* (``+sdown``). A Sentinel PINGs every second, or every
  ``down_after_ms`` if that is shorter (``sentinel.c``, ``sentinelSendPeriodicCommands``:
  ``ping_period = min(down_after_period, SENTINEL_PING_PERIOD)``, 1000 ms).
- **quorum**: how many Sentinels must agree the primary is unreachable before it is
  *objectively down* (``+odown``) and a failover may start; the failover itself needs a majority
  of the Sentinels to elect one of them leader (same documentation, "quorum").
- **failover**: the leader Sentinel promotes the best replica (``REPLICAOF NO ONE``), waits for
  it to report ``role:master`` (it asks with INFO every second while the primary is down) and
  announces ``+switch-master``; the others are reconfigured to replicate from it.

The failover time is therefore the detection time of a fixed timeout
(:class:`halab.detection.FixedTimeoutDetector` with ``timeout = down_after_ms`` and heartbeats
every ``min(1 s, down_after_ms)``) plus Sentinel's agreement and promotion, which the model does
not have: about a second of ``is-master-down-by-addr`` polling and voting, and up to a second
until the promoted replica's INFO is read. :func:`model_detection` gives the model's part.

A short timeout buys a fast failover at the price of *spurious* ones: a primary that merely
stalls (a long command, a fork, a stopped VM -- here ``SIGSTOP``) for longer than
``down_after_ms`` is failed over although it never crashed. :meth:`RedisSentinel.sweep` measures
both against ``down_after_ms``, beside the same stalls replayed through the fixed-timeout model.

A restarted primary without persistence comes back *empty*; if it came back as a primary, its
replicas would copy the empty data set (Redis replication documentation, "Safety of replication
when master has persistence turned off"). :meth:`RedisSentinel.revive` therefore waits until the
Sentinels have promoted another node and restarts the old one as a replica of the new primary.

>>> with RedisSentinel(nodes=3, down_after_ms=1000) as rs:      # doctest: +SKIP
...     print(rs.drill(trials=2).table())
"""

from __future__ import annotations

import contextlib
import math
import os
import secrets
import signal
import threading
import time
import weakref
from dataclasses import dataclass

import numpy as np

from halab.checks import check_instance, check_real, make_rng
from halab.live._proc import LOOPBACK
from halab.live.engines._base import (
    Engine,
    FailoverDrill,
    FailoverTrial,
    Writer,
    check_number,
    free_ports,
    listening,
    wait_for,
)

MASTER = "halab"  # the name the Sentinels monitor the primary under
SENTINEL_PING_PERIOD = 1.0  # seconds, sentinel.c SENTINEL_PING_PERIOD
CLIENT_TIMEOUT = 0.5  # seconds, a socket timeout for our own questions
WRITE_EVERY = 0.02  # seconds between two write attempts after a kill
PAUSES_S = (0.3, 0.7, 1.5)  # default stalls of the primary in a sweep, seconds


def _client(port: int, password: str | None, timeout: float = CLIENT_TIMEOUT):
    """A redis-py client that does not retry (redis-py retries with backoff by default)."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return redis.Redis(
        host=LOOPBACK,
        port=port,
        password=password,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
        decode_responses=True,
    )


@dataclass(frozen=True)
class SentinelEvent:
    """One message a Sentinel published on its pub/sub channels.

    Attributes:
        t: seconds since the engine started (when we read it).
        sentinel: which Sentinel said it (0-based).
        channel: the event, e.g. ``"+sdown"``, ``"+odown"``, ``"+switch-master"``.
        data: the message, e.g. ``"master halab 127.0.0.1 6379"``.
    """

    t: float
    sentinel: int
    channel: str
    data: str

    @property
    def about_master(self) -> bool:
        """Whether it concerns the primary (not a replica or another Sentinel)."""
        return self.channel == "+switch-master" or self.data.startswith("master ")


@dataclass(frozen=True)
class DownAfterResult:
    """One ``down-after-milliseconds`` value of a sweep: failover time against spurious ones.

    Attributes:
        down_after_ms: the Sentinels' timeout, milliseconds.
        failover_s: per kill, seconds from the SIGKILL to ``+switch-master`` (``nan``: none).
        write_s: per kill, seconds from the SIGKILL to the first successful write.
        pauses_s: the stalls (SIGSTOP .. SIGCONT) of a healthy primary, seconds.
        spurious_sdown: stalls after which a Sentinel said ``+sdown`` of the primary.
        spurious_odown: stalls after which a Sentinel said ``+odown``.
        spurious_failovers: failovers with no crash: the ``+promoted-slave`` seen beyond one
            per kill (after a stall, or a new primary failed over again at once).
        model_detection_s: the fixed-timeout model's mean detection time, seconds.
        model_mistakes: the stalls the model expects some Sentinel to suspect (random phases,
            see :func:`model_detection`).
        drills: each kill as the record every live drill returns (:class:`halab.live.Drill`).
    """

    down_after_ms: int
    failover_s: tuple[float, ...]
    write_s: tuple[float, ...]
    pauses_s: tuple[float, ...]
    spurious_sdown: int
    spurious_odown: int
    spurious_failovers: int
    model_detection_s: float
    model_mistakes: float
    drills: tuple = ()

    @property
    def failover_median_s(self) -> float:
        """Median of :attr:`failover_s` (``nan`` without a kill)."""
        finite = [x for x in self.failover_s if math.isfinite(x)]
        return float(np.median(finite)) if finite else math.nan


@dataclass(frozen=True)
class AsyncLossTrial:
    """One kill of the primary behind the crash proxy: acknowledged writes a failover lost.

    Attributes:
        mode: ``"async"`` (a write is acknowledged once the primary has it) or ``"wait"``
            (acknowledged once ``WAIT 1`` says a replica has it too).
        delay_s: the proxy's one-way delay on the primary -> replica link, seconds.
        rate: acknowledged writes per second before the kill.
        acked: writes acknowledged before the kill.
        lost: of those, writes the promoted replica lacks.
        expected: halab's model for ``"async"``: the writes acknowledged in the last
            ``delay_s`` before the kill (:func:`halab.replication.lost_on_promotion` on this
            trial's acknowledgement times), which is λ × lag on average
            (:func:`~halab.replication.expected_lost_writes`); 0 for ``"wait"``.
        killed: the primary that was killed; ``promoted``: the node that took over.
        dropped_bytes: replication bytes the proxies dropped at the kill (in flight).
        proxied: replicas that followed the primary through a proxy at the kill.
    """

    mode: str
    delay_s: float
    rate: float
    acked: int
    lost: int
    expected: float
    killed: int
    promoted: int | None
    dropped_bytes: int = 0
    proxied: int = 0


def sweep_table(rows) -> str:
    """A :meth:`RedisSentinel.sweep` result as a small text table."""
    lines = [
        f"{'down-after':>10} {'failover s':>10} {'write s':>8} {'model T_D':>9}  "
        f"{'stalls':>6} {'sdown':>5} {'odown':>5} {'failover':>8} {'model':>5}",
    ]
    for r in rows:
        check_instance("rows", r, DownAfterResult)
        write = [x for x in r.write_s if math.isfinite(x)]
        lines.append(
            f"{r.down_after_ms:>8} ms {r.failover_median_s:>10.2f} "
            f"{(np.median(write) if write else math.nan):>8.2f} {r.model_detection_s:>9.2f}  "
            f"{len(r.pauses_s):>6} {r.spurious_sdown:>5} {r.spurious_odown:>5} "
            f"{r.spurious_failovers:>8} {r.model_mistakes:>5.1f}"
        )
    return "\n".join(lines)


def model_detection(
    down_after_ms: float,
    stalls_s=(),
    *,
    sentinels: int = 3,
    repeats: int = 50,
    crashes: int = 200,
    seed: int = 0,
):
    """halab's fixed-timeout model of the Sentinels watching the primary.

    Sentinel sends a PING ``ping_period = min(1 s, down_after)`` after the last reply and marks
    the primary down once a PING stays unanswered for ``down_after`` (``sentinel.c``:
    ``elapsed = now - act_ping_time``, the oldest pending PING). Measured from the last reply,
    that is a fixed timeout of ``down_after + ping_period`` on heartbeats every
    ``ping_period``: :class:`~halab.detection.FixedTimeoutDetector` on
    :func:`~halab.detection.simulate_heartbeats` over a 0.2 ms loopback.

    A stall of ``p`` seconds is suspected or not depending on where in the PING period it
    starts, so each stall length is tried ``repeats`` times at seeded random phases (the
    kernel's ``sim.pause``); ``sentinels`` Sentinels watch at independent phases, and a stall
    counts when at least one of them suspects it: ``1 - (1 - f) ** sentinels`` for a fraction
    ``f`` of phases.

    Args:
        down_after_ms: ``down-after-milliseconds``, 1 to 3600000.
        stalls_s: stall lengths, seconds (each in (0, 60]).
        sentinels: independent watchers, 1 to 9.
        repeats: phases tried per stall length, 1 to 1000.
        crashes: crash times :func:`~halab.detection.measure_qos` tries, ``>= 1``.
        seed: seed of the runs and of the phases.

    Returns:
        ``(qos, expected)``: the :class:`~halab.detection.QoS` of a stall-free run (its
        ``detection_time`` is the mean T_D of a silent crash, between ``down_after`` and
        ``down_after + ping_period``), and the expected number of ``stalls_s`` some Sentinel
        suspects.
    """
    from halab.detection import FixedTimeoutDetector, measure_qos, replay, simulate_heartbeats

    down_after = check_number("down_after_ms", down_after_ms, 1, 3_600_000) / 1000.0
    stalls = [float(check_number("stalls_s", p, 1e-6, 60.0)) for p in stalls_s]
    check_number("sentinels", sentinels, 1, 9, integer=True)
    check_number("repeats", repeats, 1, 1000, integer=True)
    interval = min(SENTINEL_PING_PERIOD, down_after)
    detector = FixedTimeoutDetector(down_after + interval)
    run = simulate_heartbeats(interval=interval, duration=60.0, delay=0.0002, seed=seed)
    qos = measure_qos(detector, run, crashes=crashes, seed=seed)
    rng = make_rng(seed)
    expected = 0.0
    for p in stalls:
        gap = 2.0 * (p + down_after + interval) + 1.0
        starts = gap * np.arange(1, repeats + 1) + rng.uniform(0.0, interval, size=repeats)
        run = simulate_heartbeats(
            interval=interval,
            duration=float(starts[-1] + gap),
            delay=0.0002,
            pauses=[(float(t), p) for t in starts],
            seed=seed,
        )
        sus = replay(detector, run.arrivals)
        hit = [bool(np.any((sus.start >= t) & (sus.start <= t + p + interval))) for t in starts]
        f = float(np.mean(hit))
        expected += 1.0 - (1.0 - f) ** sentinels
    return qos, expected


def failovers(events, after: float, before: float = math.inf) -> list[SentinelEvent]:
    """The failovers in [after, before): one ``+promoted-slave`` each. Every Sentinel announces
    ``+switch-master``, some of them seconds late; only the leader of a failover promotes."""
    check_real("after", after, finite=False)
    check_real("before", before, finite=False)
    events = [check_instance("events", e, SentinelEvent) for e in events]
    return [e for e in events if e.channel == "+promoted-slave" and after <= e.t < before]


class RedisSentinel(Engine):
    """A Redis primary with ``nodes - 1`` replicas and ``sentinels`` Sentinels on 127.0.0.1.

    Args:
        nodes: redis-server processes, 2 to 9 (node 0 starts as the primary).
        sentinels: redis-sentinel processes, 1 to 9.
        down_after_ms: Sentinel's ``down-after-milliseconds``, 50 to 60000 ms.
        failover_timeout_ms: Sentinel's ``failover-timeout``, 1000 to 600000 ms.
        quorum: Sentinels that must agree the primary is down, 1 to ``sentinels``.
        start_timeout: seconds to wait for the whole set-up, Sentinels agreeing included.

    Node indices ``0 .. nodes-1`` are the redis-servers; the Sentinels run as the engine's
    processes ``nodes .. nodes+sentinels-1`` (folders ``n3``, ``n4``, ... for three nodes).
    """

    programs = ("redis-server", "redis-sentinel")
    apt = "redis-server redis-sentinel"
    brew = "redis"
    port_names = ("client",)
    stop_grace = 1.0
    min_nodes = 2

    def __init__(
        self,
        nodes: int = 3,
        sentinels: int = 3,
        *,
        down_after_ms: int = 1000,
        failover_timeout_ms: int = 10_000,
        quorum: int = 2,
        start_timeout: float = 60.0,
    ) -> None:
        check_number("sentinels", sentinels, 1, 9, integer=True)
        check_number("down_after_ms", down_after_ms, 50, 60_000, integer=True)
        check_number("failover_timeout_ms", failover_timeout_ms, 1000, 600_000, integer=True)
        check_number("quorum", quorum, 1, sentinels, integer=True)
        super().__init__(nodes, start_timeout=start_timeout)
        self.sentinels = sentinels
        self.down_after_ms = down_after_ms
        self.failover_timeout_ms = failover_timeout_ms
        self.quorum = quorum
        # loopback is shared by every user of the machine: every server and Sentinel asks for
        # this password (requirepass; masterauth and sentinel auth-pass to reach the others)
        self.password = secrets.token_urlsafe(18)
        self.sentinel_ports: list[int] = []
        self.events: list[SentinelEvent] = []  # every Sentinel pub/sub message, in order read
        self._replica_of: dict[int, int | None] = {}
        self._listen_stop = threading.Event()
        self._listeners: list[threading.Thread] = []

    # -- settings and processes ----------------------------------------------------------------

    @property
    def settings(self) -> dict:
        """The Sentinels' timing settings, by their own names."""
        return {
            "down-after-milliseconds": self.down_after_ms,
            "failover-timeout": self.failover_timeout_ms,
            "quorum": self.quorum,
            "sentinels": self.sentinels,
        }

    def _pick_ports(self) -> None:
        chosen = free_ports(self.nodes + self.sentinels)
        self.ports = [{"client": p} for p in chosen[: self.nodes]]
        self.sentinel_ports = chosen[self.nodes :]

    def all_ports(self) -> list[int]:
        return super().all_ports() + list(self.sentinel_ports)

    def _sentinel_conf(self, k: int) -> str:
        folder = self.node_dir(self.nodes + k)
        return "\n".join(
            [
                f"port {self.sentinel_ports[k]}",
                f"bind {LOOPBACK}",
                "protected-mode no",
                "daemonize no",
                f'dir "{folder}"',
                f"requirepass {self.password}",
                f"sentinel monitor {MASTER} {LOOPBACK} {self.port(0)} {self.quorum}",
                f"sentinel auth-pass {MASTER} {self.password}",
                f"sentinel down-after-milliseconds {MASTER} {self.down_after_ms}",
                f"sentinel failover-timeout {MASTER} {self.failover_timeout_ms}",
                f"sentinel parallel-syncs {MASTER} {self.nodes}",
                "",
            ]
        )

    def _configure(self) -> None:
        self._replica_of = {i: (0 if i else None) for i in range(self.nodes)}
        for k in range(self.sentinels):
            folder = self.node_dir(self.nodes + k)
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "sentinel.conf").write_text(self._sentinel_conf(k))
            (folder / "sentinel.conf").chmod(0o600)

    def _command(self, i: int) -> list[str]:
        if i >= self.nodes:  # a Sentinel
            conf = self.node_dir(i) / "sentinel.conf"
            return [self.binaries["redis-sentinel"], str(conf)]
        # a config file, not arguments: the password must not show in `ps` to other users
        lines = [
            f"port {self.port(i)}",
            f"bind {LOOPBACK}",
            "protected-mode no",
            f'dir "{self.node_dir(i)}"',
            'save ""',
            "appendonly no",
            "daemonize no",
            f"requirepass {self.password}",
            f"masterauth {self.password}",
        ]
        master = self._replica_of.get(i)
        if master is not None:
            lines.append(f"replicaof {LOOPBACK} {self.port(master)}")
        conf = self.node_dir(i) / "redis.conf"
        conf.write_text("\n".join(lines) + "\n")
        conf.chmod(0o600)
        return [self.binaries["redis-server"], str(conf)]

    def _node_ready(self, i: int) -> bool:
        port = self.port(i) if i < self.nodes else self.sentinel_ports[i - self.nodes]
        if not listening(port):
            return False
        with contextlib.closing(_client(port, self.password)) as c:
            return bool(c.ping())

    def _ready(self) -> bool:
        if not all(self._node_ready(i) for i in range(self.nodes)):
            return False
        with contextlib.closing(_client(self.port(0), self.password)) as c:
            return int(c.info("replication").get("connected_slaves", 0)) == self.nodes - 1

    def _after_start(self) -> None:
        for k in range(self.sentinels):
            self._start_sentinel(k)
        for k in range(self.sentinels):
            self._listeners.append(self._listen(k))
        deadline = time.monotonic() + self.start_timeout
        if not wait_for(self.settled, max(1.0, deadline - time.monotonic()), 0.1):
            raise RuntimeError(f"the Sentinels did not agree within {self.start_timeout} s")

    def _start_sentinel(self, k: int) -> None:
        """Launch Sentinel ``k``; on a port taken meanwhile, move it to a fresh port."""
        j = self.nodes + k
        for _ in range(3):
            self._launch(j)
            if wait_for(lambda: self._node_ready(j) or self._exited(j), 10.0) and not self._exited(
                j
            ):
                return
            self._res.stop_nodes([j], grace=0)
            if not self._clash(j):
                break
            self.sentinel_ports[k] = free_ports(1)[0]
            (self.node_dir(j) / "sentinel.conf").write_text(self._sentinel_conf(k))
        raise RuntimeError(f"Sentinel {k} did not start: {self.log(j, 5)}")

    def _agreed(self) -> bool:
        """Every Sentinel knows every replica and every other Sentinel, and they agree on the
        primary, which none thinks down."""
        primaries = set()
        for k in range(self.sentinels):
            info = self.sentinel_master(k)
            if info is None:
                return False
            flags = info.get("flags", "")
            if "down" in flags or "failover" in flags:
                return False
            if int(info.get("num-other-sentinels", 0)) < self.sentinels - 1:
                return False
            if int(info.get("num-slaves", 0)) < self.nodes - 1:
                return False
            primaries.add(int(info["port"]))
        return len(primaries) == 1

    def _listen(self, k: int) -> threading.Thread:
        """A daemon thread that records Sentinel ``k``'s pub/sub messages (holding the engine
        only through a weak reference)."""
        ref = weakref.ref(self)
        port, stop, log = self.sentinel_ports[k], self._listen_stop, self.events
        password = self.password

        def run() -> None:
            while not stop.is_set() and ref() is not None:  # an engine dropped unstopped: end
                sub = None
                try:
                    sub = _client(port, password).pubsub(ignore_subscribe_messages=True)
                    sub.psubscribe("*")
                    while not stop.is_set():
                        msg = sub.get_message(timeout=0.2)
                        engine = ref()
                        if engine is None:
                            return
                        if msg is not None and msg.get("type") == "pmessage":
                            event = SentinelEvent(engine.now(), k, msg["channel"], str(msg["data"]))
                            log.append(event)
                            engine._note(event)
                        del engine
                except Exception:
                    stop.wait(0.2)
                finally:
                    if sub is not None:
                        with contextlib.suppress(Exception):
                            sub.close()

        thread = threading.Thread(target=run, name=f"halab-sentinel-{k}", daemon=True)
        thread.start()
        return thread

    def _note(self, event: SentinelEvent) -> None:
        """Put the Sentinel events that matter on the timeline."""
        parts = event.data.split()
        if event.channel == "+switch-master" and len(parts) >= 5:
            self.emit(
                "failover",
                self._index(parts[4]),
                f"sentinel {event.sentinel}: +switch-master {event.data}",
            )
        elif event.about_master and len(parts) >= 4:  # "master <name> <ip> <port> ..."
            kind = {"+sdown": "down", "+odown": "down", "-sdown": "up", "-odown": "up"}
            if event.channel in kind:
                self.emit(
                    kind[event.channel],
                    self._index(parts[3]),
                    f"sentinel {event.sentinel}: {event.channel} {event.data}",
                )

    def _index(self, port: str) -> int | None:
        try:
            return [p["client"] for p in self.ports].index(int(port))
        except ValueError:
            return None

    def _before_stop(self) -> None:
        self._listen_stop.set()
        for thread in self._listeners:
            thread.join(1.0)

    # -- questions ---------------------------------------------------------------------------

    def client(self, i: int, timeout: float = CLIENT_TIMEOUT):
        """A redis-py client of node ``i`` (no retries)."""
        return _client(self.port(i), self.password, timeout)

    def sentinel_master(self, k: int) -> dict | None:
        """Sentinel ``k``'s ``SENTINEL MASTER`` answer as a dict (``None`` if it cannot say)."""
        try:
            with contextlib.closing(_client(self.sentinel_ports[k], self.password)) as c:
                return c.execute_command("SENTINEL", "MASTER", MASTER)
        except Exception:
            return None

    def leader(self) -> int | None:
        """The node the Sentinels name as primary (``SENTINEL get-master-addr-by-name``): the
        first Sentinel that answers decides; ``None`` if none answers."""
        for port in self.sentinel_ports:
            try:
                with contextlib.closing(_client(port, self.password)) as c:
                    addr = c.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER)
            except Exception:
                continue
            if addr:
                return self._index(addr[1])
        return None

    def master_client(self, timeout: float = CLIENT_TIMEOUT):
        """A client that asks the Sentinels for the primary on each new connection
        (``redis.sentinel.Sentinel.master_for``, no retries)."""
        from redis.backoff import NoBackoff
        from redis.retry import Retry
        from redis.sentinel import Sentinel

        sentinel = Sentinel(
            [(LOOPBACK, p) for p in self.sentinel_ports],
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            sentinel_kwargs={
                "socket_timeout": timeout,
                "socket_connect_timeout": timeout,
                "password": self.password,
            },
        )
        return sentinel.master_for(
            MASTER,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
            decode_responses=True,
            password=self.password,
        )

    def set_down_after(self, ms: int) -> None:
        """Change ``down-after-milliseconds`` on every Sentinel at run time (``SENTINEL SET``)."""
        check_number("ms", ms, 50, 60_000, integer=True)
        for port in self.sentinel_ports:
            with contextlib.closing(_client(port, self.password)) as c:
                c.execute_command("SENTINEL", "SET", MASTER, "down-after-milliseconds", ms)
        self.down_after_ms = ms

    def settled(self) -> bool:
        """The Sentinels agree on a primary none thinks down, and every live node replicates
        from it, synced (``state=online`` in the primary's INFO)."""
        if not self._agreed():
            return False
        primary = self.leader()
        if primary is None or not self.alive(primary):
            return False
        with contextlib.closing(self.client(primary)) as c:
            info = c.info("replication")
        live = sum(self.alive(i) for i in range(self.nodes))
        replicas = [v for k, v in info.items() if k.startswith("slave") and isinstance(v, dict)]
        online = sum(r.get("state") == "online" for r in replicas)  # synced, not syncing
        return info.get("role") == "master" and online == live - 1

    def wait_settled(self, timeout: float = 30.0) -> bool:
        """Wait (at most ``timeout`` s) for :meth:`settled`."""
        return bool(wait_for(self.settled, timeout, 0.1))

    # -- faults --------------------------------------------------------------------------------

    def revive(self, i: int, *, timeout: float | None = None) -> float:
        """Start node ``i`` again -- as a replica of the current primary.

        Without persistence the old primary comes back empty; were it to come back as the
        primary, its replicas would copy the empty data set. So if the Sentinels still name
        ``i`` the primary, this waits for them to promote another node first (at most
        ``down_after_ms`` plus the failover timeout), then starts ``i`` with ``--replicaof``
        the new primary.
        """
        self._check_node(i)
        wait = self.down_after_ms / 1000 + self.failover_timeout_ms / 1000 + 5.0
        primary = self.leader()
        if primary == i or primary is None:
            primary = self.wait_leader(wait, exclude=i)
        if primary is None:
            raise RuntimeError(f"no other primary than node {i} after {wait:.0f} s: not reviving")
        self._replica_of[i] = primary
        return super().revive(i, timeout=timeout)

    def pause(self, i: int, seconds: float) -> None:
        """Stall node ``i`` for ``seconds`` (SIGSTOP, sleep, SIGCONT): alive but silent, as in
        a long command, a fork or a stopped virtual machine."""
        check_number("seconds", seconds, 0.0, 60.0)
        pid = self.pid(i)
        if pid is None:
            raise RuntimeError(f"node {i} is not running")
        self.emit("hang", i, f"SIGSTOP for {seconds:g} s")
        try:
            os.kill(pid, signal.SIGSTOP)
            time.sleep(seconds)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        self.emit("heal", i, "SIGCONT")

    # -- drills --------------------------------------------------------------------------------

    def _first_event(self, channel: str, after: float, *, master: bool = True) -> float:
        times = [
            e.t
            for e in list(self.events)
            if e.channel == channel and e.t >= after and (e.about_master or not master)
        ]
        return min(times) if times else math.nan

    def kill_and_measure(
        self, trial: int = 0, *, timeout: float = 30.0, before: float = 0.3, after: float = 0.3
    ) -> FailoverTrial:
        """SIGKILL the primary under a writer; time the ``+switch-master`` and the first write
        that succeeds through a Sentinel-aware client; read the writes back; revive the old
        primary as a replica; wait until settled.

        The writer (:class:`~halab.live.engines._base.Writer`) sets one key per write
        (``halab:<kill>:w<id>``) every :data:`WRITE_EVERY` seconds, ``before`` seconds before the kill
        and ``after`` seconds after its first success; the trial's ``lost`` are the
        acknowledged keys the new primary lacks (asynchronous replication on loopback: few or
        none, see :meth:`async_loss` for a host crash).
        """
        check_number("timeout", timeout, 1.0, 600.0)
        if not self.wait_settled(timeout):
            raise RuntimeError("the Sentinels were not settled before the kill")
        old = self.leader()
        if old is None:
            raise RuntimeError("no Sentinel names a primary")
        client = self.master_client()
        tag = time.monotonic_ns()  # this kill's own keys: a key left by another never counts

        def write(n: int) -> None:
            client.set(f"halab:{tag}:w{n}", n)

        writer = Writer(write, self.t0, WRITE_EVERY, retry_pause=WRITE_EVERY)
        try:
            writer.start()
            if wait_for(lambda: writer.first_ok(0.0), timeout) is None:
                raise RuntimeError(f"no write succeeded within {timeout} s before the kill")
            time.sleep(before)
            kill_t = self.kill(old)
            write_t = wait_for(lambda: writer.first_ok(kill_t), timeout, 0.01)
            if write_t is not None:
                time.sleep(max(0.0, self.t0 + write_t + after - time.monotonic()))
        finally:
            writer.stop()
        write_t = math.nan if write_t is None else write_t
        wait_for(lambda: math.isfinite(self._first_event("+switch-master", kill_t)), 2.0)
        switch_t = self._first_event("+switch-master", kill_t)
        new = self.leader()
        acked = writer.acked()
        lost = None
        with contextlib.suppress(Exception):
            keys = [f"halab:{tag}:w{n}" for n in acked]
            values = client.mget(keys) if keys else []
            lost = tuple(n for n, v in zip(acked, values) if v is None)
        with contextlib.suppress(Exception):
            client.close()
        revive_t = self.revive(old)
        self.wait_settled(timeout)
        if math.isfinite(write_t):
            self.emit("write", new, f"first write {write_t - kill_t:.3f} s after the kill", write_t)
        return FailoverTrial(
            trial=trial,
            killed=old,
            new_leader=new,
            kill_t=kill_t,
            leader_s=switch_t - kill_t,
            write_s=write_t - kill_t,
            failed_writes=writer.failed(kill_t, write_t if math.isfinite(write_t) else math.inf),
            writes=tuple(writer.records),
            lost=lost,
            revive_t=revive_t,
        )

    def drill(self, trials: int = 3, *, timeout: float = 30.0, seed: int = 0) -> FailoverDrill:
        """Kill the primary ``trials`` times; beside it, the fixed-timeout model's detection.

        ``simulated["detect_s"]`` are the model's detection times: a fixed timeout of
        ``down_after + ping_period`` after the last reply (see :func:`model_detection`), the
        crash at a uniform phase of the PING period, so T_D is uniform on
        ``[down_after, down_after + ping_period]`` (:func:`halab.detection.k_missed_qos`, no
        loss). The real failover exceeds it by Sentinel's agreement (``+odown``, a leader vote)
        and the promotion (INFO every second); its detection is nearer ``down_after`` than the
        model's mean, because the killed node's connection closes at once and Sentinel's
        reconnection sends a PING that no one answers, which starts its clock at the crash.
        """
        check_number("trials", trials, 1, 100, integer=True)
        records = tuple(self.kill_and_measure(n, timeout=timeout) for n in range(trials))
        timeout_s = self.down_after_ms / 1000
        interval = min(SENTINEL_PING_PERIOD, timeout_s)
        rng = make_rng(seed)
        detect = timeout_s + interval - rng.uniform(0.0, interval, size=200)
        return FailoverDrill(
            engine="RedisSentinel",
            settings=self.settings,
            trials=records,
            timeline=tuple(self.timeline),
            start_s=float(self.start_s or math.nan),
            simulated={"detect_s": detect},
            notes=(
                "The model is the detection alone (a fixed timeout of down-after-milliseconds "
                "on PINGs every min(1 s, down-after)); the real failover adds the Sentinels' "
                "agreement (is-master-down-by-addr, a leader vote) and the promotion, which "
                "Sentinel confirms by INFO once a second."
            ),
        )

    def sweep(
        self,
        down_after_ms=(250, 500, 1000, 2000),
        *,
        kills: int = 1,
        pauses_s=PAUSES_S,
        settle: float = 2.0,
        timeout: float = 30.0,
    ) -> tuple[DownAfterResult, ...]:
        """For each ``down-after-milliseconds``: the failover time of ``kills`` kills, and how
        many of the stalls ``pauses_s`` (SIGSTOP of a healthy primary) Sentinel took for a
        crash; beside each, the fixed-timeout model with the same timeout and stalls.

        Args:
            down_after_ms: the values to try, milliseconds (50 to 60000 each).
            kills: primary kills per value, 0 to 20.
            pauses_s: stall lengths, seconds (each in (0, 10]), tried in turn per value.
            settle: seconds to watch after a stall for a failover it may cause.
            timeout: seconds to wait for each recovery.
        """
        values = tuple(down_after_ms)
        if not values:
            raise ValueError("down_after_ms must hold at least one value")
        for v in values:
            check_number("down_after_ms", v, 50, 60_000, integer=True)
        check_number("kills", kills, 0, 20, integer=True)
        pauses = tuple(float(check_number("pauses_s", p, 0.001, 10.0)) for p in pauses_s)
        check_number("settle", settle, 0.0, 60.0)
        rows = []
        for ms in values:
            self.set_down_after(ms)
            self.wait_settled(timeout)
            row_t = self.now()
            kill_trials = [self.kill_and_measure(n, timeout=timeout) for n in range(kills)]
            sdown = odown = switch = 0
            for p in pauses:
                self.wait_settled(timeout)
                t = self.now()
                self.pause(self.leader(), p)
                time.sleep(settle + ms / 1000)
                sdown += math.isfinite(self._first_event("+sdown", t))
                odown += math.isfinite(self._first_event("+odown", t))
                failed_over = math.isfinite(self._first_event("+promoted-slave", t, master=False))
                switch += failed_over
                if failed_over:
                    self.emit("failover", self.leader(), f"spurious: a {p:g} s stall, no crash")
            self.wait_settled(timeout)
            switch = max(switch, len(failovers(self.events, row_t)) - kills)
            qos, mistakes = model_detection(ms, pauses, sentinels=self.sentinels)
            rows.append(
                DownAfterResult(
                    down_after_ms=ms,
                    failover_s=tuple(t.leader_s for t in kill_trials),
                    write_s=tuple(t.write_s for t in kill_trials),
                    pauses_s=pauses,
                    spurious_sdown=sdown,
                    spurious_odown=odown,
                    spurious_failovers=switch,
                    model_detection_s=qos.detection_time,
                    model_mistakes=mistakes,
                    drills=tuple(t.record(self.timeline, self.settings) for t in kill_trials),
                )
            )
        self.wait_settled(timeout)
        return tuple(rows)

    def async_loss(
        self,
        mode: str = "async",
        *,
        delay: float = 0.02,
        duration: float = 2.0,
        timeout: float = 30.0,
    ) -> AsyncLossTrial:
        """Write to the primary, kill it as a host crash would, count what the promoted
        replica lacks.

        Over plain loopback a SIGKILLed primary's socket buffers still reach its replicas, so
        asynchronous replication loses almost nothing. Here every replica replicates through a
        :class:`~halab.live.engines.crashproxy.CrashProxy` that delays the primary -> replica
        bytes by ``delay`` and drops those in flight when the primary is killed: the writes of
        the last ``delay`` seconds are lost, λ × lag on average (Redis replication is
        asynchronous; ``WAIT`` blocks until that many replicas acknowledged, Redis ``WAIT``
        documentation). Sentinel reconfigures a replica that follows the wrong address only
        after ``failover-timeout`` (``+fix-slave-config``), longer than this drill.

        Args:
            mode: ``"async"`` or ``"wait"`` (each write followed by ``WAIT 1``).
            delay: the proxy's one-way delay, seconds, in (0, 1].
            duration: seconds of writing before the kill, in (0, 30].
            timeout: seconds to wait for the failover and for the Sentinels to settle.
        """
        from halab.live.engines.crashproxy import CrashProxy
        from halab.replication import lost_on_promotion

        if mode not in ("async", "wait"):
            raise ValueError(f"mode must be 'async' or 'wait', got {mode!r}")
        check_number("delay", delay, 1e-3, 1.0)
        check_number("duration", duration, 1e-3, 30.0)
        if not self.wait_settled(timeout):
            raise RuntimeError("the Sentinels were not settled before the drill")
        old = self.leader()
        replicas = [i for i in range(self.nodes) if i != old and self.alive(i)]
        proxies = [CrashProxy(self.port(old), delay=delay).start() for _ in replicas]
        key = f"halab:log:{time.monotonic_ns()}"
        try:
            for i, proxy in zip(replicas, proxies):
                with contextlib.closing(self.client(i)) as c:
                    c.replicaof(LOOPBACK, proxy.port)
            if not self.wait_settled(timeout):
                raise RuntimeError("the replicas did not sync through the proxies")
            acked, ack_times = 0, []
            with contextlib.closing(self.client(old, timeout=5.0)) as c:
                start = time.monotonic()
                while time.monotonic() - start < duration:
                    c.rpush(key, acked)
                    if mode == "wait" and c.wait(1, 1000) < 1:
                        continue  # not on a replica within 1 s: not acknowledged
                    acked += 1
                    ack_times.append(time.monotonic())
                elapsed = time.monotonic() - start
            proxied = 0
            for i, proxy in zip(replicas, proxies):
                with contextlib.closing(self.client(i)) as c:
                    proxied += int(c.info("replication").get("master_port", 0)) == proxy.port
            for proxy in proxies:
                proxy.freeze()
            crash_t = time.monotonic()
            self.kill(old)
            dropped = sum(proxy.crash() for proxy in proxies)
            promoted = self.wait_leader(timeout, exclude=old)
            lost = acked
            if promoted is not None:
                with contextlib.closing(self.client(promoted, timeout=5.0)) as c:
                    present = {int(v) for v in c.lrange(key, 0, -1)}
                lost = sum(1 for n in range(acked) if n not in present)
        finally:
            for proxy in proxies:
                proxy.close()
        if lost:
            self.emit("lost", promoted, f"{lost} acknowledged writes missing after the failover")
        self.revive(old)
        self.wait_settled(timeout)
        rate = acked / elapsed if elapsed > 0 else math.nan
        return AsyncLossTrial(
            mode=mode,
            delay_s=delay,
            rate=rate,
            acked=acked,
            lost=lost,
            expected=float(lost_on_promotion(ack_times, crash_t, delay))
            if mode == "async"
            else 0.0,
            killed=old,
            promoted=promoted,
            dropped_bytes=dropped,
            proxied=proxied,
        )
