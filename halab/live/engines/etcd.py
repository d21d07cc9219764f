"""A real etcd cluster on 127.0.0.1, its leader killed beside halab's Raft simulation.

>>> with Etcd(nodes=3, heartbeat_interval=100, election_timeout=1000) as etcd:  # doctest: +SKIP
...     drill = etcd.drill(trials=5)
>>> print(drill.table())                                                      # doctest: +SKIP
>>> Etcd(heartbeat_interval=100, election_timeout=400)  # etcd wants >= 5 heartbeats
Traceback (most recent call last):
ValueError: election_timeout must be an integer in [500, 50000], got 400

Each member is Debian's ``etcd`` (3.4) with its own name, data folder, client and peer URLs on
127.0.0.1. The two timing flags keep etcd's own names and defaults, from etcd's "Tuning"
document (section "Time parameters"):

- ``--heartbeat-interval`` (``heartbeat_interval``, ms, default 100): how often the leader tells
  the followers it is alive; best set around the round-trip time between members.
- ``--election-timeout`` (``election_timeout``, ms, default 1000): how long a follower waits
  without hearing the leader before it stands for election itself; at least ten round-trip
  times, at most 50000 ms. etcd itself refuses one under five heartbeat intervals, and so do we.

Inside etcd, Raft counts in ticks of one heartbeat interval, and each follower draws its timeout
anew in ``[election_timeout, 2 x election_timeout)`` (``randomizedElectionTimeout`` in
``raft/raft.go``); the leader steps down without a quorum (etcd sets ``CheckQuorum``) and 3.4
does not pre-vote unless ``--pre-vote`` is given. halab's :class:`~halab.election.RaftNode` is
configured the same way (:func:`simulated_failover`).

The client is ``requests`` on etcd's v3 JSON gateway (``/v3/kv/put``, keys and values in
base64; the ``etcd3`` package on PyPI fails on current protobuf). :meth:`Etcd.leader` asks
``/v3/maintenance/status`` on each member: the leader is the one whose ``leader`` field is its
own ``member_id``.

Where real and simulated differ: nothing tells etcd's followers that the leader died -- they
wait out their election timeout as the model's do, so the two agree well; on top, the real
candidate writes its vote to disk (fsync) before it asks for votes, each tick is a Go timer,
and the first write waits for the client's request timeout (0.2 s here) on a member that still
forwards to the dead leader.
"""

from __future__ import annotations

import base64
import contextlib
import math
import secrets
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
)

HEARTBEAT_INTERVAL = 100  # ms, etcd's default --heartbeat-interval
ELECTION_TIMEOUT = 1000  # ms, etcd's default --election-timeout
MAX_ELECTION_TIMEOUT = 50_000  # ms, etcd's upper limit
REQUEST_TIMEOUT = 0.2  # s, the drill client's timeout per request
STATUS_TIMEOUT = 0.3  # s, for /v3/maintenance/status
FSYNC_METRIC = "etcd_disk_wal_fsync_duration_seconds"  # a Prometheus histogram on /metrics
SIM_LATENCY = 0.0002  # s, one way on loopback, for the simulation
SIM_JITTER = 0.0001  # s
NOTES = (
    "etcd's followers learn of the leader's death only by their election timeout, as the "
    "model's do; the real candidate also fsyncs its vote, and the first write waits for the "
    "client's 0.2 s request timeout on a member still forwarding to the dead leader."
)


def b64(text: str | bytes) -> str:
    """``text`` in base64, as etcd's JSON gateway wants keys and values."""
    raw = text.encode() if isinstance(text, str) else text
    return base64.b64encode(raw).decode()


def _session():
    import requests

    session = requests.Session()
    session.trust_env = False  # 127.0.0.1 only: never through a proxy from the environment
    return session


def _check_timing(heartbeat_interval: int, election_timeout: int) -> None:
    """etcd's two timing flags, in ms: the election timeout at least 5 heartbeats."""
    check_number("heartbeat_interval", heartbeat_interval, 1, 10_000, integer=True)
    check_number(
        "election_timeout",
        election_timeout,
        5 * heartbeat_interval,
        MAX_ELECTION_TIMEOUT,
        integer=True,
    )


class Etcd(Engine):
    """An etcd cluster of ``nodes`` members on 127.0.0.1 (Debian's ``etcd-server``).

    Args:
        nodes: members, 1 to 9; 3 is the smallest that survives a kill.
        heartbeat_interval: ``--heartbeat-interval``, ms, in [1, 10000].
        election_timeout: ``--election-timeout``, ms, in [5 x heartbeat_interval, 50000].
        start_timeout: seconds the cluster may take to elect its first leader.

    Attributes:
        settings: ``{"heartbeat-interval": ..., "election-timeout": ...}`` (ms).
    """

    programs = ("etcd",)
    apt = "etcd-server etcd-client"
    brew = "etcd"
    port_names = ("client", "peer")
    stop_grace = 10.0  # a SIGTERMed leader whose peers are gone takes ~5 s to exit

    def __init__(
        self,
        nodes: int = 3,
        *,
        heartbeat_interval: int = HEARTBEAT_INTERVAL,
        election_timeout: int = ELECTION_TIMEOUT,
        start_timeout: float = 60.0,
    ) -> None:
        _check_timing(heartbeat_interval, election_timeout)
        self.settings = {
            "heartbeat-interval": heartbeat_interval,
            "election-timeout": election_timeout,
        }
        super().__init__(nodes, start_timeout=start_timeout)
        self.token = f"halab-{secrets.token_hex(6)}"
        self._ids: dict[int, str] = {}
        self._http = None

    # -- configuration -----------------------------------------------------------------------

    def url(self, i: int) -> str:
        """Member ``i``'s client URL."""
        return f"http://{LOOPBACK}:{self.port(i, 'client')}"

    def peer_url(self, i: int) -> str:
        return f"http://{LOOPBACK}:{self.port(i, 'peer')}"

    def _command(self, i: int) -> list[str]:
        cluster = ",".join(f"n{j}={self.peer_url(j)}" for j in range(self.nodes))
        return [
            self.binaries["etcd"],
            f"--name=n{i}",
            f"--data-dir={self.node_dir(i) / 'data'}",
            f"--listen-client-urls={self.url(i)}",
            f"--advertise-client-urls={self.url(i)}",
            f"--listen-peer-urls={self.peer_url(i)}",
            f"--initial-advertise-peer-urls={self.peer_url(i)}",
            f"--initial-cluster={cluster}",
            f"--initial-cluster-token={self.token}",
            "--initial-cluster-state=new",
            f"--heartbeat-interval={self.settings['heartbeat-interval']}",
            f"--election-timeout={self.settings['election-timeout']}",
            "--logger=zap",
            "--log-outputs=stderr",
        ]

    # -- state -------------------------------------------------------------------------------

    def _post(self, i: int, path: str, body: dict, timeout: float) -> dict:
        if self._http is None:
            self._http = _session()
        resp = self._http.post(self.url(i) + path, json=body, timeout=timeout)
        resp.raise_for_status()
        return resp.json()

    def status(self, i: int) -> dict | None:
        """Member ``i``'s ``/v3/maintenance/status`` (None if it does not answer)."""
        if not self.alive(i):
            return None
        try:
            return self._post(i, "/v3/maintenance/status", {}, STATUS_TIMEOUT)
        except Exception:
            return None

    def _node_ready(self, i: int) -> bool:
        status = self.status(i)
        return status is not None and status.get("leader", "0") not in ("", "0")

    def _ready(self) -> bool:
        return all(self._node_ready(i) for i in range(self.nodes)) and self.leader() is not None

    def leader(self) -> int | None:
        best = None
        for i in range(self.nodes):
            status = self.status(i)
            if status is None:
                continue
            me = status.get("header", {}).get("member_id")
            if me and status.get("leader") == me:
                term = int(status.get("raftTerm", 0))
                if best is None or term > best[0]:
                    best = (term, i)
        return None if best is None else best[1]

    def fsync_s(self, i: int, timeout: float = 2.0) -> float | None:
        """Member ``i``'s mean WAL fsync since it started, seconds (``None``: none yet).

        From its Prometheus histogram ``etcd_disk_wal_fsync_duration_seconds`` (``_sum`` over
        ``_count``) on ``/metrics``: etcd fsyncs its write-ahead log before it answers a vote
        or acknowledges an entry (etcd's tuning guide: "Disk"), so each election round waits
        for it on the voters.
        """
        if self._http is None:
            self._http = _session()
        text = self._http.get(self.url(i) + "/metrics", timeout=timeout).text
        found = {}
        for line in text.splitlines():
            name, _, value = line.partition(" ")
            if name in (FSYNC_METRIC + "_sum", FSYNC_METRIC + "_count"):
                found[name[len(FSYNC_METRIC) + 1 :]] = float(value)
        count = found.get("count", 0.0)
        return found["sum"] / count if count > 0 else None

    def put(self, key: str, value: str, *, i: int = 0, timeout: float = 2.0) -> dict:
        """Write ``key = value`` through member ``i`` (``/v3/kv/put``); raises on failure."""
        return self._post(i, "/v3/kv/put", {"key": b64(key), "value": b64(value)}, timeout)

    def get(self, key: str, *, i: int = 0, timeout: float = 2.0) -> str | None:
        """Read ``key`` through member ``i`` (``/v3/kv/range``); None if it is not there."""
        out = self._post(i, "/v3/kv/range", {"key": b64(key)}, timeout)
        kvs = out.get("kvs") or []
        return base64.b64decode(kvs[0]["value"]).decode() if kvs else None

    def _before_stop(self) -> None:
        """Stop the leader first, then the next one: a SIGTERMed etcd leader hands its office
        to a live follower at once, while one whose peers are gone waits ~5 s before it exits;
        the base then stops whoever is left."""
        for _ in range(self.nodes):
            who = self.leader()
            if who is None:
                break
            self._res.stop_nodes([who])
        if self._http is not None:
            self._http.close()

    # -- the drill ---------------------------------------------------------------------------

    def drill(
        self,
        trials: int = 10,
        *,
        timeout: float = 60.0,
        sim_trials: int = 200,
        seed: int = 0,
    ) -> FailoverDrill:
        """Kill the leader ``trials`` times under a writer; halab's Raft on the same timing.

        The writer puts a key of its own for each write (``halab-drill/<drill>/<id>``) through one
        member at a time, moving on to the next member after a failure or a request timeout
        of :data:`REQUEST_TIMEOUT` seconds; after each trial the drill reads the keys back from
        the leader (a linearizable range), so an acknowledged write that it lacks is counted
        lost.

        Args:
            trials: leader kills, 1 to 1000.
            timeout: seconds to wait for each new leader, write and revival.
            sim_trials: simulated kills with :func:`simulated_failover`.
            seed: the simulation's seed.

        Returns:
            A :class:`~halab.live.engines._base.FailoverDrill`; its ``simulated`` holds
            ``"leader_s"``: seconds from the crash to the new leader in the model.
        """
        check_number("trials", trials, 1, 1000, integer=True)
        if self.nodes < 3:
            raise ValueError(f"nodes must be >= 3 to survive a leader's kill, got {self.nodes}")
        urls = [self.url(i) + "/v3/kv/put" for i in range(self.nodes)]
        session = _session()
        state = {"at": 0}
        prefix = f"halab-drill/{time.monotonic_ns()}/"  # this drill's own: ids restart at 0

        def write(n: int) -> None:
            at = state["at"]
            body = {"key": b64(f"{prefix}{n}"), "value": b64(str(n))}
            try:
                resp = session.post(urls[at], json=body, timeout=REQUEST_TIMEOUT)
                resp.raise_for_status()
                if "error" in resp.json():
                    raise RuntimeError(resp.json()["error"])
            except Exception:
                state["at"] = (at + 1) % len(urls)
                raise

        def present(ids: list[int]) -> set[int]:
            leader = self.wait_leader(timeout)
            body = {"key": b64(prefix), "range_end": b64(prefix[:-1] + "0"), "keys_only": True}
            kvs = self._post(leader, "/v3/kv/range", body, timeout).get("kvs") or []
            return {int(base64.b64decode(kv["key"]).decode()[len(prefix) :]) for kv in kvs}

        def detail(new: int) -> dict:
            fsync = self.fsync_s(new)
            return {} if fsync is None else {"fsync_s": fsync}

        start = len(self.timeline)
        try:
            records = leader_kills(
                self, write, trials=trials, timeout=timeout, present=present, detail=detail
            )
        finally:
            with contextlib.suppress(Exception):
                session.close()
        sim = simulated_failover(
            trials=sim_trials,
            nodes=self.nodes,
            heartbeat_interval=self.settings["heartbeat-interval"],
            election_timeout=self.settings["election-timeout"],
            seed=seed,
        )
        return FailoverDrill(
            engine="Etcd",
            settings=dict(self.settings),
            trials=tuple(records),
            timeline=tuple(self.timeline[start:]),
            start_s=float(self.start_s or math.nan),
            simulated=sim,
            notes=NOTES,
        )


def simulated_failover(
    *,
    trials: int = 200,
    nodes: int = 3,
    heartbeat_interval: int = HEARTBEAT_INTERVAL,
    election_timeout: int = ELECTION_TIMEOUT,
    seed: int = 0,
) -> dict:
    """halab's Raft (:func:`halab.election.simulate_election`, ``"raft"``) on etcd's timing.

    Each trial starts with ``s1`` leading, crashes it at a random moment within a heartbeat
    interval, and reads when the next leader won its term. The followers' timeouts are drawn in
    ``[election_timeout, 2 x election_timeout)`` as etcd's Raft draws them, the leader heartbeats
    every ``heartbeat_interval``, CheckQuorum is on.

    Returns:
        ``{"leader_s": ...}``: a NumPy array of seconds from the crash to the new leader.
    """
    from halab.election import simulate_election

    check_number("trials", trials, 1, 100_000, integer=True)
    _check_timing(heartbeat_interval, election_timeout)
    lo = election_timeout / 1000.0
    heartbeat = heartbeat_interval / 1000.0
    rng = make_rng(seed)
    leader_s = np.full(trials, np.nan)
    for k in range(trials):
        crash_at = 1.0 + float(rng.uniform(0.0, heartbeat))
        result = simulate_election(
            "raft",
            nodes=nodes,
            timeout=(lo, 2 * lo),
            heartbeat=heartbeat,
            latency=SIM_LATENCY,
            jitter=SIM_JITTER,
            seed=int(rng.integers(2**31)),
            duration=crash_at + 10 * lo + 5.0,
            initial_leader="s1",
            faults=[(crash_at, "crash", "s1")],
            check_quorum=True,
            trace=False,
        )
        after = [r for r in result.reigns if r.start > crash_at]
        if after:
            leader_s[k] = after[0].start - crash_at
    return {"leader_s": leader_s}


__all__ = ["Etcd", "EngineMissing", "b64", "simulated_failover"]
