"""A 3-node RabbitMQ cluster on 127.0.0.1 with a quorum queue, its leader killed mid-publish.

Vocabulary, and how each term is coded:

- **node**: one RabbitMQ broker (an Erlang VM, ``beam.smp``), started as
  ``/usr/lib/rabbitmq/bin/rabbitmq-server`` in the foreground with its own name
  (``halab<i>@localhost``), AMQP port, distribution port, data folder and config file; the nodes
  find each other through ``cluster_formation.peer_discovery_backend = classic_config``
  (RabbitMQ clustering guide, "Cluster Formation and Peer Discovery"). All share one Erlang cookie
  in a private ``HOME`` and one ``epmd`` (Erlang's port mapper) on a port of their own, which the
  engine starts itself so that no node spawns a daemon outside its guard.
- **quorum queue** (``x-queue-type: quorum``): a durable queue replicated with Raft over the
  nodes; RabbitMQ's quorum queue documentation says a message is confirmed to the publisher only
  once a majority of the queue's members have written it to disk, and that the queue stays
  available while a majority is up. Its **leader** is the member that takes every publish;
  :meth:`RabbitMQ.leader` asks ``rabbitmqctl list_queues name leader`` (about 1 s: it starts an
  Erlang VM).
- **publisher confirms** (pika ``channel.confirm_delivery()``): ``basic_publish`` returns only
  when the broker has confirmed the message (it raises on a nack or a lost connection), so the
  publisher knows exactly which messages it may count on.
- **classic non-durable queue**: lives on one node only, in memory; when that node dies it is
  gone with its messages (RabbitMQ queues guide, "Durability"; a transient queue is deleted
  when its node goes down).

The drill (:meth:`RabbitMQ.drill`) publishes numbered messages with confirms to the quorum
queue through the leader's node (and every other one to a classic queue on the same node),
SIGKILLs that node, reconnects to a survivor and publishes on; it records when the first confirm
after the kill came, then consumes the quorum queue and counts the confirmed numbers missing:
Raft's promise is that this is 0. Beside it, :func:`simulated_loss` runs halab's replication
model (:func:`halab.replication.simulate_failover`) on the same rate: a primary that
acknowledges once one of two backups has the write loses nothing; a single copy loses all.
The classic queue beside it loses every message it held.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import secrets
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from halab.checks import check_instance
from halab.live._proc import LOOPBACK, child_env
from halab.live.engines._base import (
    Engine,
    FailoverTrial,
    check_number,
    free_ports,
    listening,
    wait_for,
)

SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"  # not /usr/sbin's wrapper: it drops our env
CTL = "/usr/lib/rabbitmq/bin/rabbitmqctl"
QUORUM_QUEUE = "halab.quorum"
CLASSIC_QUEUE = "halab.classic"
CTL_TIMEOUT = 30.0  # seconds for one rabbitmqctl call
RECONNECT_EVERY = 0.05  # seconds between two reconnection attempts


@dataclass(frozen=True)
class QueueTrial:
    """One kill of the quorum queue's leader while a publisher with confirms publishes.

    Attributes:
        trial: the trial's number, from 0.
        killed: the node that led the quorum queue (and held the classic queue).
        new_leader: the quorum queue's leader after the kill (``None``: none found).
        kill_t: when the SIGKILL was sent, seconds since the engine started.
        first_confirm_s: seconds from the kill to the first confirm after it (``nan``: none).
        confirmed: messages the quorum queue confirmed in the trial.
        lost: confirmed messages that were not in the queue afterwards (Raft: 0).
        duplicates: messages found in the queue that were never confirmed (published while the
            node died: the broker had them, the confirm never reached the publisher).
        failed_publishes: publishes that raised (nack or connection lost) after the kill.
        classic_confirmed: messages the classic non-durable queue confirmed before the kill.
        classic_lost: of those, how many were gone after the kill (its node died: all).
        writes: every publish to the quorum queue, ``(seq, sent, done, confirmed)``, seconds
            since the engine started.
        lost_ids: the sequence numbers of the confirmed messages missing afterwards.
        classic_writes: the same for the classic queue (every second message, before the
            kill).
        classic_lost_ids: its confirmed messages gone after the kill (``None`` when only
            some were: the count is known, not which).
        revive_t: when the killed node served again, seconds (``nan``: not revived).
    """

    trial: int
    killed: int
    new_leader: int | None
    kill_t: float
    first_confirm_s: float
    confirmed: int
    lost: int
    duplicates: int
    failed_publishes: int
    classic_confirmed: int
    classic_lost: int
    writes: tuple[tuple[int, float, float, bool], ...] = ()
    lost_ids: tuple[int, ...] = ()
    classic_writes: tuple[tuple[int, float, float, bool], ...] = ()
    classic_lost_ids: tuple[int, ...] | None = ()
    revive_t: float = math.nan

    def record(self, timeline=(), *, classic: bool = False):
        """This kill as the record every live drill returns (:class:`halab.live.Drill`): the
        quorum queue's publishes (or, with ``classic``, the classic queue's), the first
        confirm after the kill, the confirmed messages lost by send time."""
        trial = FailoverTrial(
            trial=self.trial,
            killed=self.killed,
            new_leader=self.new_leader,
            kill_t=self.kill_t,
            leader_s=math.nan,
            write_s=self.first_confirm_s,
            writes=self.classic_writes if classic else self.writes,
            lost=self.classic_lost_ids if classic else self.lost_ids,
            revive_t=self.revive_t,
        )
        queue = "classic, non-durable" if classic else "quorum"
        return trial.record(timeline, {"queue": queue})


def trials_table(trials) -> str:
    """:class:`QueueTrial` records as a small text table."""
    lines = [
        f"{'trial':>5} {'killed':>6} {'new':>4} {'1st confirm s':>13} {'confirmed':>9} "
        f"{'lost':>5} {'dup':>4} {'classic':>7} {'lost':>5}"
    ]
    for t in trials:
        check_instance("trials", t, QueueTrial)
        lines.append(
            f"{t.trial:>5} {t.killed:>6} {t.new_leader!s:>4} {t.first_confirm_s:>13.3f} "
            f"{t.confirmed:>9} {t.lost:>5} {t.duplicates:>4} {t.classic_confirmed:>7} "
            f"{t.classic_lost:>5}"
        )
    return "\n".join(lines)


def simulated_loss(rate: float, before: float, *, seed: int = 0) -> dict:
    """halab's replication model of the two queues, at the drill's publish rate.

    The quorum queue confirms once the leader and one of its two followers have the message:
    :func:`halab.replication.simulate_failover` in ``"semisync"`` mode, ``backups=2``,
    ``wait_for=1``, ``wait_point="after_sync"`` (the leader confirms only what a follower
    holds). The classic non-durable queue has no copy at all: ``"async"`` with a lag longer
    than the run, so nothing ever leaves the node.

    Args:
        rate: confirmed messages per second before the kill, ``> 0``.
        before: seconds of publishing before the kill, ``> 0``.
        seed: the simulation's seed.

    Returns:
        ``{"quorum_confirmed", "quorum_lost", "classic_confirmed", "classic_lost"}``.
    """
    from halab.replication import simulate_failover

    check_number("rate", rate, 1e-3, 1e6)
    check_number("before", before, 1e-3, 600.0)
    common = {"backups": 2, "rate": rate, "crash_at": before, "latency": 0.0005, "seed": seed}
    quorum = simulate_failover("semisync", wait_for=1, wait_point="after_sync", **common)
    classic = simulate_failover("async", lag=before + 10.0, **common)
    return {
        "quorum_confirmed": len(quorum.ack_ids),
        "quorum_lost": quorum.lost,
        "classic_confirmed": len(classic.ack_ids),
        "classic_lost": classic.lost,
    }


@dataclass(frozen=True)
class QueueDrill:
    """Leader kills of a quorum queue, beside halab's replication model of it.

    Attributes:
        trials: one :class:`QueueTrial` per kill.
        timeline: the engine's events (seconds since it started).
        start_s: seconds the cluster took to start.
        simulated: :func:`simulated_loss` at the first trial's publish rate.
        notes: where the real queue and the model differ, and why.
    """

    trials: tuple[QueueTrial, ...]
    timeline: tuple
    start_s: float
    simulated: dict
    notes: str = ""

    @property
    def lost(self) -> int:
        """Confirmed messages lost over all trials (Raft's promise: 0)."""
        return sum(t.lost for t in self.trials)

    @property
    def drills(self) -> tuple:
        """Each kill as the record every live drill returns: the quorum queue's publishes."""
        return tuple(t.record(self.timeline) for t in self.trials)

    @property
    def classic_drills(self) -> tuple:
        """Each kill as seen by the classic queue beside it."""
        return tuple(t.record(self.timeline, classic=True) for t in self.trials)

    def table(self) -> str:
        """The trials, then the model's figures, as text."""
        sim = self.simulated
        return (
            trials_table(self.trials)
            + f"\nmodel (halab.replication, same rate): quorum {sim['quorum_lost']} of "
            f"{sim['quorum_confirmed']} confirmed lost; classic {sim['classic_lost']} of "
            f"{sim['classic_confirmed']}"
        )


class RabbitMQ(Engine):
    """A RabbitMQ cluster of ``nodes`` brokers on 127.0.0.1 and a quorum queue on all of them.

    Args:
        nodes: brokers, 3 to 5 (a quorum queue needs 3 to survive a kill).
        start_timeout: seconds for the whole cluster (each broker takes 20 s or so on 2 cores).

    The engine's processes are the brokers (``0 .. nodes-1``) and, as process ``nodes``, the
    cluster's own ``epmd``.
    """

    programs = (SERVER, CTL, "epmd")
    apt = "rabbitmq-server"
    brew = "rabbitmq"
    port_names = ("amqp", "dist")
    stop_grace = 10.0
    min_nodes = 3

    def __init__(self, nodes: int = 3, *, start_timeout: float = 180.0) -> None:
        check_number("nodes", nodes, 3, 5, integer=True)
        super().__init__(nodes, start_timeout=start_timeout)
        self.epmd_port = 0
        self.home = ""
        # loopback is shared by every user of the machine: a random Erlang cookie (whoever has it
        # can run code in the brokers) and a random AMQP user instead of guest/guest
        self.user = f"halab-{secrets.token_hex(4)}"
        self.password = secrets.token_urlsafe(18)
        self._cookie = secrets.token_hex(20).upper()

    # -- configuration -------------------------------------------------------------------------

    def name(self, i: int) -> str:
        """Node ``i``'s Erlang node name."""
        return f"halab{i}@localhost"

    def _pick_ports(self) -> None:
        super()._pick_ports()
        self.epmd_port = free_ports(1)[0]

    def all_ports(self) -> list[int]:
        return super().all_ports() + ([self.epmd_port] if self.epmd_port else [])

    def _base_env(self) -> dict:
        env = child_env()
        env.update(
            HOME=self.home,
            ERL_EPMD_PORT=str(self.epmd_port),
            ERL_EPMD_ADDRESS=LOOPBACK,
            RABBITMQ_CONF_ENV_FILE=str(Path(self.home) / "rabbitmq-env.conf"),
            LC_ALL="C.UTF-8",
        )
        return env

    def config_text(self, i: int) -> str:
        """Node ``i``'s ``rabbitmq.conf``: AMQP on 127.0.0.1, the peers listed for
        ``classic_config`` peer discovery."""
        peers = [
            f"cluster_formation.classic_config.nodes.{j + 1} = {self.name(j)}"
            for j in range(self.nodes)
        ]
        return "\n".join(
            [
                "cluster_formation.peer_discovery_backend = classic_config",
                *peers,
                f"listeners.tcp.default = {LOOPBACK}:{self.port(i, 'amqp')}",
                f"default_user = {self.user}",
                f"default_pass = {self.password}",
                "",
            ]
        )

    def _configure(self) -> None:
        self.home = str(Path(self.tmpdir) / "home")
        os.makedirs(self.home, exist_ok=True)
        cookie = Path(self.home) / ".erlang.cookie"
        if not cookie.exists():
            cookie.write_text(self._cookie)
            cookie.chmod(0o400)
        (Path(self.home) / "rabbitmq-env.conf").write_text("")
        for i in range(self.nodes):
            (self.node_dir(i) / "rabbitmq.conf").write_text(self.config_text(i))
            (self.node_dir(i) / "enabled_plugins").write_text("[].\n")
        # our own epmd first, as process `nodes`: a node that finds none spawns a daemon
        self._launch(self.nodes)
        if not wait_for(lambda: listening(self.epmd_port), 10.0):
            raise RuntimeError(f"epmd did not start: {self.log(self.nodes, 5)}")

    def _command(self, i: int) -> list[str]:
        if i == self.nodes:
            return [self.binaries["epmd"], "-port", str(self.epmd_port), "-address", LOOPBACK]
        return [self.binaries[SERVER]]

    def _env(self, i: int) -> dict:
        env = self._base_env()
        if i == self.nodes:
            return env
        folder = self.node_dir(i)
        env.update(
            RABBITMQ_NODENAME=self.name(i),
            RABBITMQ_NODE_IP_ADDRESS=LOOPBACK,
            RABBITMQ_NODE_PORT=str(self.port(i, "amqp")),
            RABBITMQ_DIST_PORT=str(self.port(i, "dist")),
            RABBITMQ_PID_FILE=str(folder / "rabbit.pid"),
            RABBITMQ_MNESIA_BASE=str(folder / "mnesia"),
            RABBITMQ_LOG_BASE=str(folder / "log"),
            RABBITMQ_CONFIG_FILE=str(folder / "rabbitmq.conf"),
            RABBITMQ_ADVANCED_CONFIG_FILE=str(folder / "advanced.config"),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(folder / "enabled_plugins"),
            # exec the Erlang VM in place of the script (so SIGKILL reaches the broker itself);
            # -noinput keeps its shell off our /dev/null; distribution on loopback only
            RABBITMQ_ALLOW_INPUT="1",
            RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-noinput -kernel inet_dist_use_interface "
            "{127,0,0,1}",
        )
        return env

    def _node_ready(self, i: int) -> bool:
        if not listening(self.port(i, "amqp")):
            return False
        with contextlib.closing(self.connect(i, timeout=2.0)):
            return True

    def _after_start(self) -> None:
        members = wait_for(lambda: len(self.running_nodes()) == self.nodes, 60.0, 1.0)
        if not members:
            raise RuntimeError(f"the brokers did not form one cluster: {self.running_nodes()}")

    def _extra_pids(self) -> list[int]:
        return []

    # -- clients and questions -------------------------------------------------------------------

    def connect(self, i: int, *, timeout: float = 5.0):
        """A pika ``BlockingConnection`` to node ``i`` (one attempt, no retries)."""
        import pika

        params = pika.ConnectionParameters(
            LOOPBACK,
            self.port(i, "amqp"),
            credentials=pika.PlainCredentials(self.user, self.password),
            connection_attempts=1,
            socket_timeout=timeout,
            stack_timeout=timeout,
            blocked_connection_timeout=timeout,
            heartbeat=0,
        )
        return pika.BlockingConnection(params)

    def ctl(self, *args: str, node: int | None = None, timeout: float = CTL_TIMEOUT) -> str:
        """Run ``rabbitmqctl -n <node> args...`` (about a second each); its stdout."""
        if node is None:
            node = next((i for i in range(self.nodes) if self.alive(i)), 0)
        result = subprocess.run(
            [self.binaries[CTL], "-n", self.name(node), "-q", *args],
            env=self._base_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)}: {result.stderr.strip()[-300:]}")
        return result.stdout

    def running_nodes(self) -> list[str]:
        """The node names the cluster says are running (one ``rabbitmqctl`` call)."""
        import json

        try:
            out = self.ctl("cluster_status", "--formatter", "json")
            return list(json.loads(out).get("running_nodes", []))
        except Exception:
            return []

    def declare(self, i: int | None = None) -> None:
        """Declare the quorum queue (its first leader on node ``i``, default 0)."""
        i = 0 if i is None else i
        with contextlib.closing(self.connect(i)) as conn:
            conn.channel().queue_declare(
                QUORUM_QUEUE,
                durable=True,
                arguments={"x-queue-type": "quorum", "x-queue-leader-locator": "client-local"},
            )

    def leader(self) -> int | None:
        """The node leading the quorum queue (``rabbitmqctl list_queues name leader``), or
        ``None`` (no such queue yet, no leader, or no node answers)."""
        for node in [i for i in range(self.nodes) if self.alive(i)]:
            try:
                out = self.ctl("list_queues", "--no-table-headers", "name", "leader", node=node)
            except Exception:
                continue
            for line in out.splitlines():
                parts = line.split("\t")
                if len(parts) == 2 and parts[0] == QUORUM_QUEUE:
                    names = [self.name(j) for j in range(self.nodes)]
                    return names.index(parts[1]) if parts[1] in names else None
            return None
        return None

    # -- the drill -------------------------------------------------------------------------------

    def kill_leader(
        self, trial: int = 0, *, before: float = 1.5, after: float = 2.0, revive: bool = True
    ) -> QueueTrial:
        """Publish with confirms, kill the quorum queue's leader, publish on from a survivor.

        Args:
            trial: the trial's number.
            before: seconds of publishing before the kill, 0.1 to 60.
            after: seconds of publishing after the first confirm that follows the kill.
            revive: start the killed node again (and wait until it rejoined) before returning.

        Returns:
            a :class:`QueueTrial`.
        """
        import pika

        check_number("before", before, 0.1, 60.0)
        check_number("after", after, 0.0, 60.0)
        self.declare(next(i for i in range(self.nodes) if self.alive(i)))
        old = self.leader()
        if old is None:
            raise RuntimeError("the quorum queue has no leader")
        tag = f"t{trial}-{time.monotonic_ns()}"  # message ids unique to this trial
        conn = self.connect(old)
        ch = conn.channel()
        ch.queue_purge(QUORUM_QUEUE)
        ch.queue_declare(CLASSIC_QUEUE, durable=False, arguments={"x-queue-type": "classic"})
        ch.queue_purge(CLASSIC_QUEUE)
        ch.confirm_delivery()
        state = {"conn": conn, "ch": ch, "node": old, "stop": False, "kill_t": None}
        confirmed: list[int] = []
        classic: list[int] = []
        writes: list[tuple[int, float, float, bool]] = []
        classic_writes: list[tuple[int, float, float, bool]] = []
        failed = [0]
        first = [math.nan]
        seen: set[str] = set()

        def note(exc: Exception) -> None:
            if state["kill_t"] is not None:
                failed[0] += 1
            kind = type(exc).__name__
            if kind not in seen:  # the first error of each kind goes on the timeline
                seen.add(kind)
                self.emit("fail", state["node"], f"publish: {kind}: {str(exc)[:80]}")

        survivors = [i for i in range(self.nodes) if i != old]

        def reconnect() -> None:
            with contextlib.suppress(Exception):
                state["conn"].close()
            for n in range(200):
                node = survivors[n % len(survivors)]
                try:
                    c = self.connect(node)
                    ch = c.channel()
                    ch.confirm_delivery()
                except Exception:
                    time.sleep(RECONNECT_EVERY)
                    continue
                state.update(conn=c, ch=ch, node=node)
                return
            state["stop"] = True

        def publish() -> None:
            seq = 0
            while not state["stop"]:
                seq += 1
                body = f"{tag}:{seq}".encode()
                sent = self.now()
                try:
                    state["ch"].basic_publish(
                        "",
                        QUORUM_QUEUE,
                        body,
                        pika.BasicProperties(delivery_mode=2),
                        mandatory=True,
                    )
                except Exception as exc:  # a nack too: the channel may hold the dead leader
                    writes.append((seq, sent, self.now(), False))
                    note(exc)
                    reconnect()
                    continue
                writes.append((seq, sent, self.now(), True))
                confirmed.append(seq)
                kill_t = state["kill_t"]
                if kill_t is not None and math.isnan(first[0]):
                    first[0] = self.now() - kill_t
                if kill_t is None and state["node"] == old and seq % 2 == 0:
                    sent = self.now()
                    try:
                        state["ch"].basic_publish("", CLASSIC_QUEUE, body, mandatory=True)
                    except Exception:
                        classic_writes.append((seq, sent, self.now(), False))
                    else:
                        classic_writes.append((seq, sent, self.now(), True))
                        classic.append(seq)

        thread = threading.Thread(target=publish, name="halab-rabbit-publisher", daemon=True)
        thread.start()
        time.sleep(before)
        classic_before = len(classic)
        state["kill_t"] = self.kill(old)
        wait_for(lambda: not math.isnan(first[0]) or state["stop"], 60.0)
        time.sleep(after)
        state["stop"] = True
        thread.join(30.0)
        with contextlib.suppress(Exception):
            state["conn"].close()
        if math.isfinite(first[0]):
            self.emit(
                "write",
                state["node"],
                f"first confirm {first[0]:.3f} s after the kill",
                state["kill_t"] + first[0],
            )
        new = self.leader()
        got = self._drain(survivors[0], tag)
        sent = set(confirmed)
        lost = len(sent - got)
        classic_left = self._classic_left(survivors[0])
        if lost:
            self.emit("lost", None, f"{lost} confirmed messages missing from the quorum queue")
        revive_t = math.nan
        if revive:
            revive_t = self.revive(old)
            wait_for(lambda: len(self.running_nodes()) == self.nodes, 60.0, 1.0)
        before_kill = set(classic[:classic_before])
        if classic_left == 0:  # the whole queue died with its node
            classic_lost_ids = tuple(sorted(before_kill))
        else:
            classic_lost_ids = () if classic_left >= classic_before else None
        return QueueTrial(
            trial=trial,
            killed=old,
            new_leader=new,
            kill_t=state["kill_t"],
            first_confirm_s=first[0],
            confirmed=len(sent),
            lost=lost,
            duplicates=len(got - sent),
            failed_publishes=failed[0],
            classic_confirmed=classic_before,
            classic_lost=classic_before - min(classic_left, classic_before),
            writes=tuple(writes),
            lost_ids=tuple(sorted(sent - got)),
            classic_writes=tuple(w for w in classic_writes if w[0] in before_kill or not w[3]),
            classic_lost_ids=classic_lost_ids,
            revive_t=revive_t,
        )

    def _drain(self, node: int, tag: str, *, idle: float = 2.0) -> set[int]:
        """Consume the quorum queue on ``node`` until it is ``idle`` seconds quiet; the sequence
        numbers of this trial's messages."""
        got: set[int] = set()
        with contextlib.closing(self.connect(node)) as conn:
            ch = conn.channel()
            ch.basic_qos(prefetch_count=1000)
            for method, _, body in ch.consume(QUORUM_QUEUE, auto_ack=True, inactivity_timeout=idle):
                if method is None:
                    break
                prefix, _, seq = body.decode().rpartition(":")
                if prefix == tag:
                    got.add(int(seq))
            ch.cancel()
        return got

    def _classic_left(self, node: int) -> int:
        """Messages left in the classic queue, asked on ``node`` (0 if the queue is gone)."""
        import pika

        try:
            with contextlib.closing(self.connect(node)) as conn:
                ok = conn.channel().queue_declare(CLASSIC_QUEUE, passive=True)
                return int(ok.method.message_count)
        except pika.exceptions.ChannelClosedByBroker:
            return 0  # 404 NOT_FOUND: the queue died with its node

    def drill(
        self, trials: int = 1, *, before: float = 1.5, after: float = 2.0, revive: bool = True
    ) -> QueueDrill:
        """Kill the quorum queue's leader ``trials`` times (see :meth:`kill_leader`); beside
        it, :func:`simulated_loss` at the first trial's rate. Every killed node but the last
        is revived before the next kill (a quorum of 3 survives one loss, not two); the last
        only if ``revive``."""
        check_number("trials", trials, 1, 20, integer=True)
        with _quiet("pika"):
            records = tuple(
                self.kill_leader(n, before=before, after=after, revive=revive or n < trials - 1)
                for n in range(trials)
            )
        first = records[0]
        rate = max(first.classic_confirmed * 2, 1) / before  # every 2nd went to the classic queue
        return QueueDrill(
            trials=records,
            timeline=tuple(self.timeline),
            start_s=float(self.start_s or math.nan),
            simulated=simulated_loss(rate, before),
            notes=(
                "The model and the broker agree on what is lost (nothing confirmed, on the "
                "quorum queue; everything, on the classic one). The model does not have Raft's "
                "election: the first confirm after the kill waits for the followers to notice "
                "the dead leader (Erlang distribution sees the closed connection at once on "
                "loopback) and elect a new one, and for the publisher to reconnect."
            ),
        )


@contextlib.contextmanager
def _quiet(name: str):
    """Silence logger ``name`` for a while: pika logs every nack and the killed connection."""
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)
