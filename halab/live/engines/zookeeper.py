"""A real ZooKeeper ensemble on 127.0.0.1, its leader killed beside halab's ZAB simulation.

>>> with ZooKeeper(nodes=3) as zk:                                # doctest: +SKIP
...     drill = zk.drill(trials=5)
>>> print(drill.table())                                         # doctest: +SKIP
>>> ZooKeeper(tick_time=0)
Traceback (most recent call last):
ValueError: tick_time must be an integer in [10, 60000], got 0

Each server is ``java ... org.apache.zookeeper.server.quorum.QuorumPeerMain zoo.cfg`` from
Debian's ``zookeeper`` package, with its own ``zoo.cfg``, ``myid`` and data folder. The
settings and what they mean, from the ZooKeeper Administrator's Guide ("Configuration
Parameters": minimum, advanced and cluster options) and ``QuorumPeerMain``'s javadoc:

- ``tickTime`` (``tick_time``, ms): "the basic time unit used by ZooKeeper"; it regulates
  heartbeats and timeouts (the minimum session timeout is two ticks, the maximum twenty). The
  guide's and Debian's sample configuration use 2000 ms.
- ``initLimit`` (``init_limit``, ticks): how long followers may take to connect and sync to a
  leader (sample: 10).
- ``syncLimit`` (``sync_limit``, ticks): how long followers may lag behind the leader; a
  follower waits that long for a message (heartbeats included) from the leader before it gives
  up on it (sample: 5).
- ``4lw.commands.whitelist``: only ``srvr``, ``ruok`` and ``mntr`` are allowed here; ``srvr``
  reports ``Mode: leader`` or ``Mode: follower`` (:meth:`ZooKeeper.leader`).
- ``admin.enableServer=false`` (otherwise the AdminServer takes port 8080),
  ``clientPortAddress=127.0.0.1`` and every ``server.N=127.0.0.1:quorum:election`` line keep it
  on loopback.

How the simulation is configured (:func:`simulated_failover`): halab's :class:`~halab.election.
ZabNode` runs FastLeaderElection and ZAB's epoch establishment; its followers give up on a
silent leader after ``syncLimit x tickTime`` and its leader pings every ``tickTime / 2`` (the
leader's loop in ``Leader.lead`` wakes twice a tick). Where they differ: a SIGKILLed JVM's
sockets are closed by the kernel at once, so the real followers learn of the crash from a
reset connection, not from the timeout -- the real failover is the simulation's election part
(FLE's 200 ms ``finalizeWait`` and the epoch round) plus the JVM's work and the sync of the
followers; the simulated silent crash (a host that vanishes, a cut cable) costs the whole
``syncLimit x tickTime`` first. The first write then waits for the client to notice, reconnect
and re-establish its session (kazoo's retry, below).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import re
import socket
import time

import numpy as np

from halab.checks import make_rng
from halab.live._proc import LOOPBACK
from halab.live.engines._base import (
    Engine,
    EngineMissing,
    FailoverDrill,
    check_number,
    leader_kills,
    wait_for,
)

JARS = "/usr/share/java"
CLASSPATH_JARS = ("zookeeper.jar", "slf4j-log4j12.jar", "log4j-1.2.jar")
MAIN = "org.apache.zookeeper.server.quorum.QuorumPeerMain"
TICK_TIME = 2000  # ms, the sample zoo.cfg's tickTime
INIT_LIMIT = 10  # ticks, the sample's initLimit
SYNC_LIMIT = 5  # ticks, the sample's syncLimit
SESSION_TIMEOUT = 10.0  # s, kazoo's default session timeout
JVM_OPTIONS = ("-Xms16m", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1")
LOG4J = """log4j.rootLogger=INFO, CONSOLE
log4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender
log4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout
log4j.appender.CONSOLE.layout.ConversionPattern=%d{ISO8601} %-5p [%t:%C{1}@%L] - %m%n
"""
NOTES = (
    "The kernel closes a killed JVM's sockets, so the real followers start looking at once; "
    "the simulated crash is silent and waits syncLimit x tickTime first, so compare the real "
    "failover with the model's election alone (election_s)."
)
# Leader.lead() logs this first thing, with end_fle - start_fle: the time from LOOKING until
# FastLeaderElection decided, before the epoch round and the followers' sync (ZooKeeper 3.8,
# org.apache.zookeeper.server.quorum.Leader#lead; Follower#followLeader logs "FOLLOWING - ...")
ELECTION_TOOK = re.compile(r"LEADING - LEADER ELECTION TOOK - (\d+) MS")
SIM_LATENCY = 0.0002  # s, one way on loopback, for the simulation
SIM_JITTER = 0.0001  # s


def srvr(port: int, timeout: float = 0.5) -> str:
    """The answer of ZooKeeper's ``srvr`` four-letter command on 127.0.0.1:``port`` ('' if
    none)."""
    check_number("port", port, 1, 65535, integer=True)
    check_number("timeout", timeout, 1e-3, 60.0)
    try:
        with socket.create_connection((LOOPBACK, port), timeout=timeout) as s:
            s.sendall(b"srvr")
            chunks = []
            while chunk := s.recv(4096):
                chunks.append(chunk)
    except OSError:
        return ""
    return b"".join(chunks).decode(errors="replace")


def mode(port: int, timeout: float = 0.5) -> str | None:
    """``"leader"``, ``"follower"``, ``"standalone"`` (from ``srvr``), or None if not serving."""
    for line in srvr(port, timeout).splitlines():
        if line.startswith("Mode:"):
            return line.split(":", 1)[1].strip()
    return None


class ZooKeeper(Engine):
    """A ZooKeeper ensemble of ``nodes`` servers on 127.0.0.1 (Debian's ``zookeeper``).

    Args:
        nodes: servers, 1 to 9 (1: standalone); 3 is the smallest that survives a kill.
        tick_time: ``tickTime``, ms, in [10, 60000].
        init_limit: ``initLimit``, ticks, in [1, 1000].
        sync_limit: ``syncLimit``, ticks, in [1, 1000].
        start_timeout: seconds the ensemble may take to elect its first leader.
        java: the ``java`` program (default: found on PATH).

    Attributes:
        settings: ``{"tickTime": ..., "initLimit": ..., "syncLimit": ...}``.
    """

    programs = ("java",)
    apt = "zookeeper default-jre-headless"
    brew = "zookeeper"
    port_names = ("client", "quorum", "election")
    stop_grace = 3.0

    def __init__(
        self,
        nodes: int = 3,
        *,
        tick_time: int = TICK_TIME,
        init_limit: int = INIT_LIMIT,
        sync_limit: int = SYNC_LIMIT,
        start_timeout: float = 120.0,
    ) -> None:
        check_number("tick_time", tick_time, 10, 60_000, integer=True)
        check_number("init_limit", init_limit, 1, 1000, integer=True)
        check_number("sync_limit", sync_limit, 1, 1000, integer=True)
        self.settings = {"tickTime": tick_time, "initLimit": init_limit, "syncLimit": sync_limit}
        super().__init__(nodes, start_timeout=start_timeout)

    @classmethod
    def missing(cls) -> list[str]:
        out = super().missing()
        out += [jar for jar in CLASSPATH_JARS if not os.path.exists(os.path.join(JARS, jar))]
        return out

    # -- configuration -----------------------------------------------------------------------

    def config_text(self, i: int) -> str:
        """Node ``i``'s ``zoo.cfg``."""
        lines = [
            f"tickTime={self.settings['tickTime']}",
            f"initLimit={self.settings['initLimit']}",
            f"syncLimit={self.settings['syncLimit']}",
            f"dataDir={self.node_dir(i) / 'data'}",
            f"clientPort={self.port(i, 'client')}",
            f"clientPortAddress={LOOPBACK}",
            "admin.enableServer=false",
            "4lw.commands.whitelist=srvr,ruok,mntr",
        ]
        if self.nodes > 1:
            lines.append("standaloneEnabled=false")
            for j in range(self.nodes):
                q, e = self.port(j, "quorum"), self.port(j, "election")
                lines.append(f"server.{j + 1}={LOOPBACK}:{q}:{e}")
        return "\n".join(lines) + "\n"

    def _configure(self) -> None:
        for i in range(self.nodes):
            folder = self.node_dir(i)
            (folder / "data").mkdir(parents=True, exist_ok=True)
            (folder / "data" / "myid").write_text(f"{i + 1}\n")
            (folder / "zoo.cfg").write_text(self.config_text(i))
            (folder / "log4j.properties").write_text(LOG4J)

    def _command(self, i: int) -> list[str]:
        folder = self.node_dir(i)
        classpath = ":".join([*(os.path.join(JARS, j) for j in CLASSPATH_JARS), str(folder)])
        return [
            self.binaries["java"],
            *JVM_OPTIONS,
            "-Djava.net.preferIPv4Stack=true",
            f"-Dlog4j.configuration=file:{folder / 'log4j.properties'}",
            f"-Dzookeeper.log.dir={folder}",
            "-cp",
            classpath,
            MAIN,
            str(folder / "zoo.cfg"),
        ]

    # -- state -------------------------------------------------------------------------------

    def mode(self, i: int) -> str | None:
        """Node ``i``'s role from ``srvr``: leader, follower, standalone, or None."""
        return mode(self.port(i, "client")) if self.alive(i) else None

    def _node_ready(self, i: int) -> bool:
        return self.mode(i) is not None

    def _ready(self) -> bool:
        modes = [self.mode(i) for i in range(self.nodes)]
        return None not in modes and sum(m in ("leader", "standalone") for m in modes) == 1

    def leader(self) -> int | None:
        for i in range(self.nodes):
            if self.mode(i) in ("leader", "standalone"):
                return i
        return None

    def election_took(self, i: int) -> float | None:
        """Seconds server ``i``'s log says its last election took, as leader (``None``: it
        has not led): ZooKeeper's own "LEADING - LEADER ELECTION TOOK - N MS", the time from
        LOOKING until FastLeaderElection decided (finalizeWait included), without the epoch
        round and the followers' sync that follow."""
        found = ELECTION_TOOK.findall(self.log(i, tail=5000))
        return int(found[-1]) / 1000.0 if found else None

    def hosts(self) -> str:
        """The connect string of every server: ``127.0.0.1:p0,127.0.0.1:p1,...``."""
        return ",".join(f"{LOOPBACK}:{self.port(i, 'client')}" for i in range(self.nodes))

    def client(self, *, timeout: float = SESSION_TIMEOUT, **kw):
        """A connected ``kazoo`` client to the whole ensemble (close it with ``.stop()``).

        It reconnects quickly: ``KazooRetry(max_tries=-1, delay=0.05, backoff=1.5,
        max_delay=0.5)`` (kazoo's default starts at 0.1 s and doubles).
        """
        from kazoo.client import KazooClient
        from kazoo.retry import KazooRetry

        retry = KazooRetry(max_tries=-1, delay=0.05, backoff=1.5, max_jitter=0.05, max_delay=0.5)
        kw.setdefault("connection_retry", retry)
        kw.setdefault("logger", _quiet_logger())
        client = KazooClient(hosts=self.hosts(), timeout=timeout, **kw)
        client.start(timeout=self.start_timeout)
        return client

    # -- the drill ---------------------------------------------------------------------------

    def drill(
        self,
        trials: int = 10,
        *,
        timeout: float = 60.0,
        sim_trials: int = 200,
        seed: int = 0,
    ) -> FailoverDrill:
        """Kill the leader ``trials`` times under a kazoo client writing; the simulation beside.

        Each write creates its own znode (``/halab-drill/<drill>/w<id>``); after each trial
        the drill lists them, so an acknowledged write that the new leader lacks is counted lost.

        Args:
            trials: leader kills, 1 to 1000.
            timeout: seconds to wait for each new leader, write and revival.
            sim_trials: simulated kills with :func:`simulated_failover`.
            seed: the simulation's seed.

        Returns:
            A :class:`~halab.live.engines._base.FailoverDrill`; its ``simulated`` holds
            ``"leader_s"`` (silent crash: the followers' timeout, then the election) and
            ``"election_s"`` (from the first follower looking to the new leader).
        """
        check_number("trials", trials, 1, 1000, integer=True)
        if self.nodes < 3:
            raise ValueError(f"nodes must be >= 3 to survive a leader's kill, got {self.nodes}")
        client = self.client()
        path = f"/halab-drill/{time.monotonic_ns()}"  # this drill's own: ids restart at 0
        try:
            client.ensure_path(path)

            def write(n: int) -> None:
                client.create_async(f"{path}/w{n}").get(timeout=timeout)

            def present(ids: list[int]) -> set[int]:
                return {int(c[1:]) for c in client.retry(client.get_children, path)}

            start = len(self.timeline)

            def detail(new: int) -> dict:
                took = wait_for(lambda: self.election_took(new), 5.0)
                return {} if took is None else {"fle_s": took}

            records = leader_kills(
                self, write, trials=trials, timeout=timeout, present=present, detail=detail
            )
        finally:
            with contextlib.suppress(Exception):
                client.stop()
                client.close()
        sim = simulated_failover(
            trials=sim_trials, nodes=self.nodes, seed=seed, **_sim_settings(self.settings)
        )
        return FailoverDrill(
            engine="ZooKeeper",
            settings=dict(self.settings),
            trials=tuple(records),
            timeline=tuple(self.timeline[start:]),
            start_s=float(self.start_s or math.nan),
            simulated=sim,
            notes=NOTES,
        )


def _quiet_logger() -> logging.Logger:
    """kazoo's logger for our clients: its 'Connection dropped' lines are the drill itself."""
    logger = logging.getLogger("halab.live.engines.kazoo")
    logger.setLevel(logging.CRITICAL)
    logger.propagate = False
    return logger


def _sim_settings(settings: dict) -> dict:
    return {
        "tick_time": settings["tickTime"],
        "init_limit": settings["initLimit"],
        "sync_limit": settings["syncLimit"],
    }


def simulated_failover(
    *,
    trials: int = 200,
    nodes: int = 3,
    tick_time: int = TICK_TIME,
    init_limit: int = INIT_LIMIT,
    sync_limit: int = SYNC_LIMIT,
    seed: int = 0,
) -> dict:
    """halab's ZAB (:func:`halab.election.simulate_election`, ``"zab"``) on ZooKeeper's settings.

    Each trial starts with ``s{nodes}`` leading (the highest id wins FLE among equal logs),
    crashes it at a random moment within a tick, and reads from the trace when a new leader
    established its epoch. The followers give up on the leader after ``sync_limit x tick_time``
    (the simulation's election timeout, fixed), the leader pings every ``tick_time / 2``.
    ``init_limit`` is not used by the model: its leader waits one election timeout for a
    quorum to accept the new epoch (ZooKeeper allows ``initLimit`` ticks to connect and sync).

    Returns:
        ``{"leader_s": ..., "election_s": ..., "decided_s": ...}``, NumPy arrays of seconds:
        from the crash to the new leader; from the first follower's return to LOOKING to the
        new leader; and from then until FLE's first decision (a server FOLLOWING), the part
        that neither the timeouts nor the epoch round touch.
    """
    from halab.election import CANDIDATE, FOLLOWER, simulate_election

    check_number("trials", trials, 1, 100_000, integer=True)
    check_number("tick_time", tick_time, 10, 60_000, integer=True)
    check_number("init_limit", init_limit, 1, 1000, integer=True)
    check_number("sync_limit", sync_limit, 1, 1000, integer=True)
    timeout = sync_limit * tick_time / 1000.0
    heartbeat = tick_time / 2000.0
    rng = make_rng(seed)
    leader = f"s{nodes}"
    leader_s = np.full(trials, np.nan)
    election_s = np.full(trials, np.nan)
    decided_s = np.full(trials, np.nan)
    for k in range(trials):
        crash_at = 1.0 + float(rng.uniform(0.0, heartbeat))
        result = simulate_election(
            "zab",
            nodes=nodes,
            timeout=(timeout, timeout),
            heartbeat=heartbeat,
            latency=SIM_LATENCY,
            jitter=SIM_JITTER,
            seed=int(rng.integers(2**31)),
            duration=crash_at + 3 * timeout + 10.0,
            initial_leader=leader,
            faults=[(crash_at, "crash", leader)],
        )
        after = [r for r in result.reigns if r.start > crash_at]
        looking = [
            r.time
            for r in result.trace
            if r.kind == "state" and r.time >= crash_at and r.detail[0] == CANDIDATE
        ]
        if looking:
            decided = [
                r.time
                for r in result.trace
                if r.kind == "state" and r.time > min(looking) and r.detail[0] == FOLLOWER
            ]
            if decided:
                decided_s[k] = min(decided) - min(looking)
        if after:
            leader_s[k] = after[0].start - crash_at
            if looking:
                election_s[k] = after[0].start - min(looking)
    return {"leader_s": leader_s, "election_s": election_s, "decided_s": decided_s}


__all__ = ["EngineMissing", "ZooKeeper", "mode", "simulated_failover", "srvr"]
