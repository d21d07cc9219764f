"""MariaDB: a primary and its replicas on 127.0.0.1, replicating through the crash proxy.

>>> with MariaDB(replicas=2, mode="semisync", wait_point="AFTER_SYNC") as db:   # doctest: +SKIP
...     result = db.drill(rate=200, duration=2.0, kills=1)
...     print(result)                  # acknowledged writes lost on the promoted replica: 0

What runs. Each node is ``mariadbd --no-defaults`` with its own port, socket, pid file and data
folder (a copy of one ``mariadb-install-db`` template made at start), bound to 127.0.0.1, with
``--server-id`` and ``--log-bin`` (``--log-slave-updates`` so that a promoted replica can serve
the others). Node 0 starts as the primary; every replica replicates with GTIDs
(``CHANGE MASTER TO ... MASTER_USE_GTID=slave_pos``) through a :class:`CrashProxy` in front of
its primary, which delays the primary -> replica bytes by ``delay`` seconds and drops the bytes
in flight when the primary is killed (over plain loopback a SIGKILL loses almost nothing: the
kernel still delivers the dead process's socket buffers; see :mod:`.crashproxy`). Root logs in
only through the unix socket in the engine's 0700 folder; replication uses its own user with a
random password over TCP, so nobody else on the machine can log in.

Facts, from the MariaDB Knowledge Base, "Semisynchronous Replication"
(https://mariadb.com/kb/en/semisynchronous-replication/):

- semi-sync is built into the server since 10.3.3 (no plugin to install): the primary sets
  ``rpl_semi_sync_master_enabled``, each replica ``rpl_semi_sync_slave_enabled`` (before its IO
  thread starts), and the primary then waits for one replica to acknowledge that it received
  and logged the transaction;
- ``rpl_semi_sync_master_wait_point`` says where it waits: ``AFTER_SYNC`` (after the binary log
  is synced, before the storage engine commits: nobody sees the row before a replica has it)
  or ``AFTER_COMMIT``, the default (after the commit: other sessions may already read the row
  while its own client still waits);
- after ``rpl_semi_sync_master_timeout`` milliseconds (default 10000) without an
  acknowledgement the primary switches to asynchronous replication, silently for its clients,
  and shows it as ``Rpl_semi_sync_master_status = OFF``; it switches back once a replica has
  caught up.

MariaDB has no automatic failover (MaxScale, MHA or Orchestrator do it for it). The drill does
what they do, and says so in its timeline: it waits until the most advanced replica has
applied every event it received, then ``STOP SLAVE; RESET SLAVE ALL; SET GLOBAL
read_only=OFF`` on it and points the other replicas at it.

Why the real numbers can differ from the model (:mod:`halab.replication`): the model ships
each write exactly ``lag`` seconds after its acknowledgement; here a write leaves the primary
when the binlog dump thread sends it (about when the client gets its OK), spends ``delay``
seconds in the proxy, then the replica's IO thread logs it and its SQL thread applies it.
The drill defines the lag as the *receive* lag: the median, over a trial's writes, of the time
the promoted replica's IO thread had the write (its ``Gtid_IO_Pos``, looked at every 5 ms)
minus the time the INSERT was acknowledged -- the proxy's one-way delay plus what the dump and
IO threads add -- and predicts ``rate x lag``. The apply lag (received -> visible, the SQL
thread) is measured and reported beside it but not counted: the promotion waits until the
relay log is applied, so only what had not *arrived* is lost.

Two more differences. The drill's writers are closed-loop (each waits for its OK before the
next INSERT), the model's client open-loop: under semi-sync a writer does at most one commit
per ``delay`` (only primary -> replica is delayed), and with AFTER_COMMIT at most one row per
writer can be seen on the primary and then lost, where the model's client loses the rows of a
whole round trip. And nothing detects the crash here: the drill promotes as soon as the kill
returns, so ``failover_s`` is the promotion alone (catch-up wait, ``STOP SLAVE``, ``CHANGE
MASTER`` on the others), not the model's detection plus promotion.
"""

from __future__ import annotations

import bisect
import contextlib
import itertools
import math
import os
import pwd
import secrets
import shutil
import statistics
import subprocess
import threading
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from halab import replication
from halab.checks import check_instance
from halab.live.engines._base import MAX_NODES, Engine, FailoverTrial, check_number, wait_for
from halab.live.engines.crashproxy import CrashProxy
from halab.live.events import Event

MODES = ("async", "semisync")
WAIT_POINTS = ("AFTER_SYNC", "AFTER_COMMIT")
DELAY = 0.02  # seconds, the crash proxy's one-way delay on the replication link
SEMISYNC_TIMEOUT_MS = 10_000  # MariaDB's rpl_semi_sync_master_timeout default
MAX_DELAY = 1.0  # seconds
MAX_TIMEOUT_MS = 600_000
MAX_RATE = 5000.0  # writes per second
MAX_DURATION = 600.0  # seconds
MAX_KILLS = 50
MAX_WRITERS = 16
DATABASE = "halab"
REPL_USER = "halab_repl"
SQL_TIMEOUT = 10.0  # seconds for one statement of the engine's own
CATCH_UP = 30.0  # seconds a replica may take to catch up before a trial
PROBE = 0.005  # seconds between two looks of a lag probe or a reader
RATE_WINDOW = 0.5  # seconds before a kill over which the prediction's write rate is measured
MASTER_CONNECT_RETRY = 1  # seconds between a replica's reconnection attempts


def _pymysql():
    """PyMySQL, imported on first use (``available()`` works without it)."""
    import pymysql
    import pymysql.cursors

    return pymysql


def _user() -> str:
    return pwd.getpwuid(os.geteuid()).pw_name


def _seq(position: str) -> int:
    """The highest sequence number of domain 0 in a GTID position (``"0-1-42,1-2-7"`` -> 42)."""
    best = 0
    for gtid in (position or "").split(","):
        parts = gtid.strip().split("-")
        if len(parts) == 3 and parts[0] == "0" and parts[2].isdigit():
            best = max(best, int(parts[2]))
    return best


@dataclass(frozen=True)
class ReplicationTrial:
    """One kill of the primary under a steady writer, and what the promoted replica lacked.

    Attributes:
        mode: ``"async"`` or ``"semisync"``.
        wait_point: ``"AFTER_SYNC"`` or ``"AFTER_COMMIT"`` (``None`` in async mode).
        rate: writes per second asked of the writers.
        achieved: acknowledged writes per second actually done (under semi-sync each commit
            waits for a replica's acknowledgement, one proxy delay here, so it falls short of
            ``rate``).
        recent_rate: acknowledged writes per second in the last :data:`RATE_WINDOW` seconds
            before the kill: the λ of the prediction (a loaded machine stalls writers now
            and then; the crash loses what was written just before it).
        acked: writes whose INSERT returned OK before the kill.
        lost: acknowledged writes missing on the promoted replica.
        lost_visible: writes a reader on the primary had already seen that the promoted
            replica lacks (with AFTER_COMMIT it can exceed ``lost``).
        predicted: the model's acknowledged writes lost: ``recent_rate * lag`` for async (and for
            a semi-sync primary that had fallen back), 0 for semi-sync
            (:func:`halab.replication.expected_lost_writes`, :func:`~halab.replication.simulate_failover`).
        predicted_visible: the model's visible writes lost (``simulate_failover``'s
            ``lost_visible_ids`` with these settings, an open-loop client; for async the same
            as ``predicted``).
        counted: the model applied to this trial's own acknowledgement times:
            :func:`halab.replication.lost_on_promotion` (the writes acknowledged within
            ``lag`` before the kill) for async or a fallen-back semi-sync, else 0.
        lag: seconds, the measured receive lag: the median over the trial's writes of the
            time the promoted replica's IO thread had the write (``Gtid_IO_Pos``) minus the
            time its INSERT was acknowledged: the proxy's one-way ``delay`` plus what the
            dump and IO threads add (negative under semi-sync: the ack waits for it).
        apply_lag: seconds from received to visible on the replica (its SQL thread), median
            (0 when below the probe's 5 ms resolution); not part of the loss: the promotion
            waits until the relay log is applied.
        delay: the proxy's one-way delay, seconds.
        seconds: seconds of writing before the kill.
        failover_s: seconds from the SIGKILL until the promoted replica took writes.
        killed, promoted: the old and the new primary's indices.
        fallback: whether semi-sync had fallen back to async when the primary was killed.
        kill_t: when the SIGKILL was sent, seconds since the engine started.
        writes: every write, ``(id, sent, done, ok)`` in seconds since the engine started:
            the writers' INSERTs (the one each writer had in flight at the kill failed) and,
            last, id 0, the first write on the promoted primary.
        lost_ids: the ids of the acknowledged writes the promoted replica lacks.
        write_s: seconds from the SIGKILL until that first write on the promoted primary was
            acknowledged (``failover_s`` plus one INSERT).
        revive_t: when the old primary served again (as a replica), seconds (``nan``: not
            revived).
    """

    mode: str
    wait_point: str | None
    rate: float
    achieved: float
    recent_rate: float
    acked: int
    lost: int
    lost_visible: int
    predicted: float
    predicted_visible: float
    counted: int
    lag: float
    apply_lag: float
    delay: float
    seconds: float
    failover_s: float
    killed: int
    promoted: int
    fallback: bool
    kill_t: float
    writes: tuple[tuple[int, float, float, bool], ...] = ()
    lost_ids: tuple[int, ...] = ()
    write_s: float = math.nan
    revive_t: float = math.nan

    def record(self, timeline=(), settings: dict | None = None):
        """This kill as the record every live drill returns (:class:`halab.live.Drill`): its
        writes, the ``promote`` event as the new primary, the lost writes by send time."""
        trial = FailoverTrial(
            trial=0,
            killed=self.killed,
            new_leader=self.promoted,
            kill_t=self.kill_t,
            leader_s=self.failover_s,
            write_s=self.write_s,
            writes=self.writes,
            lost=self.lost_ids,
            revive_t=self.revive_t,
        )
        settings = settings or {"mode": self.mode, "wait_point": self.wait_point}
        return trial.record(timeline, settings)

    @property
    def steady(self) -> bool:
        """Whether the writers kept their pace (the model's premise: a steady rate).

        On a machine loaded by other work, a process can stall for a fraction of a second;
        the writers then fall behind and burst to catch up, and the lag swells. A trial whose
        writers kept at least 80% of the asked rate overall, and between half and one and a
        half times it just before the kill, is steady.
        """
        return self.achieved >= 0.8 * self.rate and 0.5 <= self.recent_rate / self.rate <= 1.5

    @property
    def label(self) -> str:
        """``"async"``, ``"semisync AFTER_SYNC"`` or ``"semisync AFTER_COMMIT"``."""
        return self.mode if self.wait_point is None else f"{self.mode} {self.wait_point}"

    def __str__(self) -> str:
        if self.mode == "async" or self.fallback:
            model = f"{self.recent_rate:.0f} w/s x {self.lag * 1000:.1f} ms lag"
        else:
            model = "semi-sync: acknowledged once a replica has it"
        return (
            f"{self.label:<21} {self.achieved:4.0f} w/s  acked {self.acked:5d}  "
            f"lost {self.lost:3d} (seen on the primary: {self.lost_visible:3d})  "
            f"predicted {self.predicted:5.1f} ({model})  failover {self.failover_s:.2f} s"
        )


@dataclass(frozen=True)
class ReplicationDrill:
    """A drill's trials and the engine's timeline (times in seconds since the engine started)."""

    trials: tuple[ReplicationTrial, ...]
    timeline: tuple[Event, ...]

    @property
    def lost(self) -> list[int]:
        return [t.lost for t in self.trials]

    @property
    def drills(self) -> tuple:
        """Each kill as the record every live drill returns (:meth:`ReplicationTrial.record`)."""
        return tuple(t.record(self.timeline) for t in self.trials)

    @property
    def predicted(self) -> list[float]:
        return [t.predicted for t in self.trials]

    def table(self) -> str:
        """One line per trial: what was acknowledged, lost and predicted."""
        return "\n".join(str(t) for t in self.trials)

    def __str__(self) -> str:
        return self.table()


@dataclass(frozen=True)
class FallbackRecord:
    """Semi-sync falling back to async, live (see :meth:`MariaDB.fallback_drill`).

    Attributes:
        timeout_s: ``rpl_semi_sync_master_timeout``, seconds.
        status_before: ``Rpl_semi_sync_master_status`` before the replicas stopped listening.
        waited_s: how long the first write after that took (about ``timeout_s``).
        status_after: the status after that write (``False``: fallen back to async).
        later_s: the median time of the next writes (async: milliseconds).
        back_s: seconds from restarting the replicas' IO threads until the status was ON
            again (``None`` if it did not come back in time).
        timeline: the engine's events.
    """

    timeout_s: float
    status_before: bool
    waited_s: float
    status_after: bool
    later_s: float
    back_s: float | None
    timeline: tuple[Event, ...]

    def __str__(self) -> str:
        back = "not within the wait" if self.back_s is None else f"after {self.back_s:.2f} s"
        return (
            f"semi-sync ON={self.status_before}; replicas' IO threads stopped: the next write "
            f"waited {self.waited_s:.2f} s (timeout {self.timeout_s:.2f} s),\n"
            f"  then ON={self.status_after} and later writes took {self.later_s * 1000:.1f} ms "
            f"each (async); IO threads restarted: ON again {back}"
        )


class _Writers:
    """``writers`` threads inserting numbered rows at ``rate`` per second in all, autocommit.

    Writer ``j`` writes ids ``j + 1, j + 1 + writers, ...`` on a fixed schedule, staggered so
    that the writes are evenly spaced (it does not skip ids when it falls behind); an id is
    *acknowledged* when its INSERT returned OK. The first error (the primary died) ends that
    writer.
    """

    def __init__(self, connect, table: str, rate: float, writers: int, t0: float) -> None:
        self.connect, self.table, self.t0 = connect, table, t0
        self.rate, self.writers = rate, writers
        self.acks: dict[int, float] = {}  # id -> monotonic time of its OK
        self.sent: dict[int, float] = {}  # id -> monotonic time its INSERT was sent
        self.failed: list[tuple[int, float, float]] = []  # (id, sent, failed), monotonic
        self.seqs: dict[int, int] = {}  # id -> its transaction's GTID sequence number
        self.errors: list[str] = []
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.threads = [
            threading.Thread(target=self._run, args=(j,), name=f"mariadb-writer{j}", daemon=True)
            for j in range(writers)
        ]

    def start(self) -> _Writers:
        for t in self.threads:
            t.start()
        return self

    def _run(self, j: int) -> None:
        try:
            conn = self.connect()
        except Exception as exc:
            self.errors.append(repr(exc))
            return
        period = self.writers / self.rate
        n = 0
        row, sent = None, 0.0
        try:
            with conn.cursor() as cur:
                while not self.stop.is_set():
                    due = self.t0 + (n + j / self.writers) * period  # staggered: evenly spaced
                    wait = due - time.monotonic()
                    if wait > 0 and self.stop.wait(wait):
                        break
                    row = j + 1 + n * self.writers
                    sent = time.monotonic()
                    with self.lock:
                        self.sent[row] = sent
                    cur.execute(f"INSERT INTO {self.table} (id) VALUES ({row})")
                    t = time.monotonic()
                    with self.lock:
                        self.acks[row] = t
                    n += 1
                    cur.execute("SELECT @@last_gtid")  # after the ack: it does not delay it
                    seq = _seq(str(cur.fetchone()[0]))
                    with self.lock:
                        self.seqs[row] = seq
        except Exception as exc:  # the primary died under us: this INSERT was not acknowledged
            self.errors.append(type(exc).__name__)
            if row is not None and row not in self.acks:
                with self.lock:
                    self.failed.append((row, sent, time.monotonic()))
        finally:
            with contextlib.suppress(Exception):
                conn.close()

    def join(self, timeout: float = 15.0) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout)


class _Probe:
    """A thread looking at a node every :data:`PROBE` seconds: when each row first showed and,
    on a replica, how far its IO thread had *received* (``Gtid_IO_Pos``)."""

    def __init__(self, connect, table: str, replica: bool) -> None:
        self.connect, self.table, self.replica = connect, table, replica
        self.first_seen: dict[int, float] = {}  # id -> estimated monotonic time it showed
        self.received: list[tuple[float, int]] = []  # (time, received GTID seq), in order
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="mariadb-probe", daemon=True)

    def start(self) -> _Probe:
        self.thread.start()
        return self

    def _run(self) -> None:
        try:
            conn = self.connect()
        except Exception:
            return
        try:
            with conn.cursor(_pymysql().cursors.DictCursor) as cur:
                prev = time.monotonic()
                while not self.stop.is_set():
                    # the server reads its state just after we send: ``asked`` dates the look
                    # (the answer may reach this thread late when the machine is loaded)
                    asked = time.monotonic()
                    if self.replica:
                        cur.execute("SHOW SLAVE STATUS")
                        io_seq = _seq(str((cur.fetchone() or {}).get("Gtid_IO_Pos", "")))
                    cur.execute(f"SELECT id FROM {self.table} ORDER BY id DESC LIMIT 400")
                    rows = cur.fetchall()
                    seen = (prev + asked) / 2  # it happened between the last look and this one
                    if self.replica:
                        self.received.append((seen, io_seq))
                    for row in rows:
                        self.first_seen.setdefault(row["id"], seen)
                    prev = asked
                    self.stop.wait(PROBE)
        except Exception:
            pass
        finally:
            with contextlib.suppress(Exception):
                conn.close()

    def join(self, timeout: float = 10.0) -> None:
        self.stop.set()
        self.thread.join(timeout)


def _lags(probe: _Probe, acks: dict, seqs: dict, end: float, delay: float) -> tuple[float, float]:
    """(receive lag, apply lag) in seconds, medians over the trial's acknowledged writes.

    The receive lag of a write is when the replica's IO thread had it (the first look at
    ``Gtid_IO_Pos`` that covered it) minus when its INSERT was acknowledged: the proxy's delay
    plus the dump and IO threads' own time (negative under semi-sync, which acknowledges only
    once a replica has the write). A write still not received at ``end`` (the kill) counts
    with ``end`` minus its acknowledgement, a lower bound. The apply lag is when the row
    showed on the replica minus when the IO thread had it.
    """
    receive, apply = [], []
    looks = [(t, seq) for t, seq in probe.received if t <= end]  # in time order
    times = [t for t, _ in looks]
    peaks = list(itertools.accumulate((seq for _, seq in looks), max))
    for row, acked_at in acks.items():
        if row not in seqs or acked_at > end:
            continue
        k = bisect.bisect_left(peaks, seqs[row])
        if k == len(peaks):
            receive.append(end - acked_at)
            continue
        got = times[k]
        receive.append(got - acked_at)
        if row in probe.first_seen:
            apply.append(probe.first_seen[row] - got)
    if not receive:
        return delay, 0.0
    return statistics.median(receive), (statistics.median(apply) if apply else 0.0)


class MariaDB(Engine):
    """A MariaDB primary (node 0 at start) and ``replicas`` replicas, each behind a crash proxy.

    Args:
        replicas: replicas of the primary, in ``[1, 8]``.
        mode: ``"async"`` or ``"semisync"``.
        wait_point: semi-sync's ``rpl_semi_sync_master_wait_point``, ``"AFTER_SYNC"`` or
            ``"AFTER_COMMIT"`` (MariaDB's default; lower case accepted).
        semisync_timeout_ms: ``rpl_semi_sync_master_timeout``, milliseconds in
            ``[1, 600000]`` (MariaDB's default 10000).
        delay: the crash proxy's one-way delay on every replication link, seconds in ``[0, 1]``.
        start_timeout: seconds the engine may take to start, in ``(0, 600]``.

    Raises:
        ValueError: on an argument outside its range.
        EngineMissing: when ``mariadbd`` or ``mariadb-install-db`` is not installed.
    """

    programs: ClassVar[tuple[str, ...]] = ("mariadbd", "mariadb-install-db")
    apt: ClassVar[str] = "mariadb-server"
    brew: ClassVar[str] = "mariadb"
    port_names: ClassVar[tuple[str, ...]] = ("client",)
    stop_grace: ClassVar[float] = 0.5  # the data is deleted anyway: no need for a clean shutdown
    min_nodes: ClassVar[int] = 2

    def __init__(
        self,
        replicas: int = 2,
        *,
        mode: str = "async",
        wait_point: str = "AFTER_COMMIT",
        semisync_timeout_ms: int = SEMISYNC_TIMEOUT_MS,
        delay: float = DELAY,
        start_timeout: float = 120.0,
    ) -> None:
        check_number("replicas", replicas, 1, MAX_NODES - 1, integer=True)
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if not isinstance(wait_point, str) or wait_point.upper() not in WAIT_POINTS:
            raise ValueError(f"wait_point must be one of {WAIT_POINTS}, got {wait_point!r}")
        check_number("semisync_timeout_ms", semisync_timeout_ms, 1, MAX_TIMEOUT_MS, integer=True)
        check_number("delay", delay, 0.0, MAX_DELAY)
        super().__init__(nodes=replicas + 1, start_timeout=start_timeout)
        self.replicas = replicas
        self.mode = mode
        self.wait_point = wait_point.upper()
        self.semisync_timeout_ms = semisync_timeout_ms
        self.delay = float(delay)
        self.proxies: list[CrashProxy] = []
        self.primary = 0
        self._secret = secrets.token_hex(16)
        self._diverged: set[int] = set()  # former primaries: their binlog may hold lost writes
        self._promotion_pos = ""  # the new primary's GTID position when it was promoted
        self._tables = 0
        self._user = _user()

    # -- configuration -------------------------------------------------------------------

    def data_dir(self, i: int) -> Path:
        return self.node_dir(i) / "data"

    def socket_path(self, i: int) -> str:
        return str(self.node_dir(i) / "mysqld.sock")

    def _configure(self) -> None:
        template = Path(self.tmpdir) / "template"
        if not template.exists():
            out = subprocess.run(
                [
                    self.binaries["mariadb-install-db"],
                    "--no-defaults",
                    f"--user={self._user}",
                    "--auth-root-authentication-method=socket",
                    f"--auth-root-socket-user={self._user}",
                    "--skip-test-db",
                    f"--datadir={template}",
                    "--innodb-log-file-size=8M",
                ],
                capture_output=True,
                text=True,
                timeout=120,
            )
            if out.returncode != 0:
                shutil.rmtree(template, ignore_errors=True)
                raise RuntimeError(
                    f"mariadb-install-db failed: {(out.stderr or out.stdout)[-800:]}"
                )
        for i in range(self.nodes):
            shutil.copytree(template, self.data_dir(i), symlinks=True)

    def _command(self, i: int) -> list[str]:
        semi = "ON" if self.mode == "semisync" else "OFF"
        return [
            self.binaries["mariadbd"],
            "--no-defaults",
            f"--user={self._user}",
            f"--datadir={self.data_dir(i)}",
            f"--port={self.port(i)}",
            f"--socket={self.socket_path(i)}",
            f"--pid-file={self.node_dir(i) / 'mysqld.pid'}",
            "--bind-address=127.0.0.1",
            f"--server-id={i + 1}",
            "--log-bin=mysql-bin",
            "--relay-log=relay-bin",
            "--log-slave-updates",
            "--skip-slave-start",
            "--skip-name-resolve",
            "--performance-schema=OFF",
            "--innodb-buffer-pool-size=32M",
            "--innodb-log-file-size=8M",
            # a SIGKILLed process keeps what the page cache has; the host crash is the proxy's
            "--innodb-flush-log-at-trx-commit=2",
            "--max-connections=60",
            f"--rpl-semi-sync-slave-enabled={semi}",
            f"--rpl-semi-sync-master-wait-point={self.wait_point}",
            f"--rpl-semi-sync-master-timeout={self.semisync_timeout_ms}",
        ]

    # -- SQL -----------------------------------------------------------------------------

    def connect(self, i: int, *, timeout: float = SQL_TIMEOUT):
        """A new autocommit PyMySQL connection to node ``i`` (as root, on its unix socket).

        No TLS on a unix socket: PyMySQL 2.2 would otherwise build a default TLS context for
        every connection (about 50 ms of CPU holding the GIL), which stalls the drill's writers.
        """
        return _pymysql().connect(
            unix_socket=self.socket_path(i),
            user=self._user,
            autocommit=True,
            ssl_disabled=True,
            connect_timeout=timeout,
            read_timeout=timeout + 5,
            write_timeout=timeout + 5,
        )

    def sql(self, i: int, *statements: str, timeout: float = SQL_TIMEOUT) -> list[tuple]:
        """Run ``statements`` on node ``i``; the rows of the last one."""
        conn = self.connect(i, timeout=timeout)
        try:
            with conn.cursor() as cur:
                rows: tuple = ()
                for statement in statements:
                    cur.execute(statement)
                    rows = cur.fetchall()
                return list(rows)
        finally:
            conn.close()

    def _status(self, i: int, name: str) -> str:
        rows = self.sql(i, f"SHOW GLOBAL STATUS LIKE '{name}'")
        return str(rows[0][1]) if rows else ""

    def _slave_status(self, i: int) -> dict:
        conn = self.connect(i)
        try:
            with conn.cursor(_pymysql().cursors.DictCursor) as cur:
                cur.execute("SHOW SLAVE STATUS")
                return cur.fetchone() or {}
        finally:
            conn.close()

    def semisync_on(self) -> bool:
        """Whether the primary now runs semi-sync: ``Rpl_semi_sync_master_status`` is ON."""
        return self._status(self.primary, "Rpl_semi_sync_master_status") == "ON"

    def _node_ready(self, i: int) -> bool:
        return bool(self.sql(i, "SELECT 1", timeout=1.0))

    # -- roles ---------------------------------------------------------------------------

    def _after_start(self) -> None:
        self.proxies = []
        for i in range(self.nodes):
            proxy = CrashProxy(self.port(i), delay=self.delay).start()
            weakref.finalize(self, proxy.close)  # the finalizer holds the proxy, not the engine
            self.proxies.append(proxy)
        self.sql(
            0,
            f"CREATE DATABASE {DATABASE}",
            f"CREATE USER '{REPL_USER}'@'127.0.0.1' IDENTIFIED BY '{self._secret}'",
            f"GRANT REPLICATION SLAVE ON *.* TO '{REPL_USER}'@'127.0.0.1'",
        )
        self._make_primary(0)
        for i in range(1, self.nodes):
            self._follow(i, 0)
        self._wait_replicas(CATCH_UP)

    def _make_primary(self, i: int) -> None:
        statements = ["SET GLOBAL read_only=OFF"]
        if self.mode == "semisync":
            statements.append("SET GLOBAL rpl_semi_sync_master_enabled=ON")
        self.sql(i, *statements)
        self.primary = i

    def _follow(self, i: int, primary: int, gtid_pos: str | None = None) -> None:
        """Make node ``i`` a replica of ``primary``, through that primary's crash proxy."""
        statements = [
            "STOP SLAVE",
            "SET GLOBAL read_only=ON",
            "SET GLOBAL rpl_semi_sync_master_enabled=OFF",
        ]
        if gtid_pos is not None:
            statements.append(f"SET GLOBAL gtid_slave_pos='{gtid_pos}'")
        statements += [
            f"CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={self.proxies[primary].port}, "
            f"MASTER_USER='{REPL_USER}', MASTER_PASSWORD='{self._secret}', "
            f"MASTER_CONNECT_RETRY={MASTER_CONNECT_RETRY}, MASTER_USE_GTID=slave_pos",
            "START SLAVE",
        ]
        self.sql(i, *statements)

    def _caught_up(self, i: int) -> bool:
        status = self._slave_status(i)
        if status.get("Slave_IO_Running") != "Yes" or status.get("Slave_SQL_Running") != "Yes":
            return False
        target = _seq(self.sql(self.primary, "SELECT @@gtid_binlog_pos")[0][0])
        return _seq(self.sql(i, "SELECT @@gtid_slave_pos")[0][0]) >= target

    def _wait_replicas(self, timeout: float) -> None:
        for i in self.replica_indices():
            if not wait_for(lambda i=i: self._caught_up(i), timeout, 0.05):
                status = self._slave_status(i)
                raise RuntimeError(
                    f"replica {i} did not catch up with primary {self.primary} in {timeout} s: "
                    f"IO {status.get('Slave_IO_Running')} ({status.get('Last_IO_Error')}), "
                    f"SQL {status.get('Slave_SQL_Running')} ({status.get('Last_SQL_Error')})"
                )
        if self.mode == "semisync" and self.replica_indices():
            wait_for(self.semisync_on, timeout, 0.05)

    def replica_indices(self) -> list[int]:
        """The running replicas' indices."""
        return [i for i in range(self.nodes) if i != self.primary and self.alive(i)]

    def leader(self) -> int | None:
        """The primary's index while it runs; ``None`` after its kill, until a promotion."""
        return self.primary if self.alive(self.primary) else None

    def all_ports(self) -> list[int]:
        return super().all_ports() + [p.port for p in self.proxies if p.port is not None]

    # -- faults --------------------------------------------------------------------------

    def kill(self, i: int) -> float:
        """SIGKILL node ``i`` and crash its replication link in the same instant (engine s).

        The link is frozen just before the SIGKILL (nothing more is delivered), and right after
        it (:meth:`_on_kill`) the bytes in flight are dropped and both sides reset: what a host
        crash does to its link.
        """
        self._check_node(i)
        proxy = self.proxies[i] if self.proxies else None
        if proxy is not None:
            proxy.freeze()
        try:
            return super().kill(i)
        finally:
            if proxy is not None:
                proxy.frozen = False  # a failed kill must not leave the link frozen

    def _on_kill(self, i: int) -> None:
        """Right after the SIGKILL: the host is gone, so is what was in flight on its link."""
        if self.proxies:
            dropped = self.proxies[i].crash()
            self.emit("crash", i, f"crash proxy dropped {dropped} bytes in flight")

    def revive(self, i: int, *, timeout: float | None = None) -> float:
        """Start node ``i`` again and make it a replica of the current primary (engine s).

        A former primary may hold writes nobody else got (async): it resumes from the
        position its successor had when promoted, so those rows stay on it alone.
        If no primary runs (the primary was killed and nobody promoted), node ``i`` being the
        old primary comes back as the primary.
        """
        t = super().revive(i, timeout=timeout)
        if i == self.primary:
            self._make_primary(i)
            return t
        if self.leader() is None:
            raise RuntimeError(f"node {i} is back, but no primary runs to follow: promote first")
        self._follow(i, self.primary, self._promotion_pos if i in self._diverged else None)
        self._diverged.discard(i)
        return t

    def promote(self, i: int | None = None, *, timeout: float = CATCH_UP) -> int:
        """Promote replica ``i`` (default: the most advanced running one) to primary.

        What MariaDB leaves to a tool: wait until it has applied every event it received,
        ``STOP SLAVE; RESET SLAVE ALL; SET GLOBAL read_only=OFF`` (and semi-sync master ON),
        then point every other running replica at it. Returns its index.
        """
        old = self.primary
        candidates = self.replica_indices()
        if not candidates:
            raise RuntimeError("no running replica to promote")
        received = {j: _seq(self._slave_status(j).get("Gtid_IO_Pos", "")) for j in candidates}
        if i is None:
            i = max(candidates, key=lambda j: (received[j], -j))
        elif i not in candidates:
            raise ValueError(f"i must be a running replica, one of {candidates}, got {i!r}")

        def applied() -> bool:
            return _seq(self.sql(i, "SELECT @@gtid_slave_pos")[0][0]) >= received[i]

        wait_for(applied, timeout, 0.01)
        self.sql(i, "STOP SLAVE", "RESET SLAVE ALL")
        self._make_primary(i)
        self._promotion_pos = str(self.sql(i, "SELECT @@gtid_current_pos")[0][0])
        self._diverged.add(old)
        self.emit("promote", i, f"halab promoted replica {i} (MariaDB has no automatic failover)")
        for j in candidates:
            if j != i:
                self._follow(j, i)
        return i

    def set_mode(
        self,
        mode: str,
        wait_point: str | None = None,
        *,
        semisync_timeout_ms: int | None = None,
    ) -> None:
        """Switch the running engine to ``mode`` (and ``wait_point``, timeout) on every node.

        The settings are dynamic (``SET GLOBAL``); each replica's IO thread is restarted,
        since ``rpl_semi_sync_slave_enabled`` takes effect when it connects (MariaDB KB,
        "Semisynchronous Replication"). Faster than starting a new engine.
        """
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        wait_point = self.wait_point if wait_point is None else wait_point
        if not isinstance(wait_point, str) or wait_point.upper() not in WAIT_POINTS:
            raise ValueError(f"wait_point must be one of {WAIT_POINTS}, got {wait_point!r}")
        if semisync_timeout_ms is None:
            semisync_timeout_ms = self.semisync_timeout_ms
        check_number("semisync_timeout_ms", semisync_timeout_ms, 1, MAX_TIMEOUT_MS, integer=True)
        self.mode, self.wait_point = mode, wait_point.upper()
        self.semisync_timeout_ms = semisync_timeout_ms
        semi = "ON" if mode == "semisync" else "OFF"
        running = [i for i in range(self.nodes) if self.alive(i)]
        for i in running:
            self.sql(
                i,
                f"SET GLOBAL rpl_semi_sync_master_wait_point={self.wait_point}",
                f"SET GLOBAL rpl_semi_sync_master_timeout={semisync_timeout_ms}",
                f"SET GLOBAL rpl_semi_sync_slave_enabled={semi}",
            )
        if self.primary in running:
            self.sql(self.primary, f"SET GLOBAL rpl_semi_sync_master_enabled={semi}")
        for i in running:
            if i != self.primary:
                self.sql(i, "STOP SLAVE IO_THREAD", "START SLAVE IO_THREAD")
        self._wait_replicas(CATCH_UP)

    # -- the drills ----------------------------------------------------------------------

    def _new_table(self) -> str:
        self._tables += 1
        table = f"{DATABASE}.w{self._tables}"
        self.sql(
            self.primary,
            f"CREATE TABLE {table} (id INT PRIMARY KEY, t TIMESTAMP(6) DEFAULT NOW(6))",
        )
        self._wait_replicas(CATCH_UP)
        return table

    def _prediction(self, rate: float, lag: float, fallback: bool) -> tuple[float, float]:
        """(acknowledged, visible) writes the model loses with these settings."""
        if rate <= 0:
            return 0.0, 0.0
        if self.mode == "async" or fallback:
            expected = replication.expected_lost_writes(rate, max(lag, 0.0))
            return expected, expected
        sim = replication.simulate_failover(
            "semisync",
            backups=self.replicas,
            rate=rate,
            latency=self.delay / 2,  # the sim's delay is symmetric; ours is one way
            timeout=self.semisync_timeout_ms / 1000,
            wait_point=self.wait_point.lower(),
            crash_at=2.0,
            detection=0.0,
            promotion=0.1,
            seed=0,
        )
        return float(sim.lost), float(len(sim.lost_visible_ids))

    def drill(
        self,
        *,
        rate: float = 300.0,
        duration: float = 2.0,
        kills: int = 1,
        writers: int = 4,
        revive: bool = True,
    ) -> ReplicationDrill:
        """Kill the primary under steady writes ``kills`` times; count what each promotion lost.

        Each trial: a fresh table; ``writers`` threads insert numbered rows at ``rate`` per
        second in all (PyMySQL, autocommit; acknowledged = the INSERT returned OK) while a
        reader on the primary and a probe on each replica note when each row shows; after
        ``duration`` seconds the primary is SIGKILLed and its crash proxy drops the bytes in
        flight; the most advanced replica is promoted; the trial counts the acknowledged rows
        (and the rows the reader saw) that the promoted replica lacks, beside the model's
        prediction. With ``revive`` the old primary then comes back as a replica, ready for
        the next trial.

        Args:
            rate: writes per second, in ``(0, 5000]``.
            duration: seconds of writing before each kill, in ``(0, 600]``.
            kills: trials, in ``[1, 50]``.
            writers: writing threads, in ``[1, 16]``.
            revive: bring each killed primary back as a replica (needed for ``kills > 1``).

        Returns:
            A :class:`ReplicationDrill`.
        """
        check_number("rate", rate, 1e-6, MAX_RATE)
        check_number("duration", duration, 1e-3, MAX_DURATION)
        check_number("kills", kills, 1, MAX_KILLS, integer=True)
        check_number("writers", writers, 1, MAX_WRITERS, integer=True)
        if kills > 1 and not revive:
            raise ValueError(f"revive must be True for kills > 1 (got kills={kills})")
        first = len(self.timeline)
        trials = [self._trial(float(rate), float(duration), writers, revive) for _ in range(kills)]
        return ReplicationDrill(tuple(trials), tuple(self.timeline[first:]))

    def _trial(self, rate: float, duration: float, writers: int, revive: bool) -> ReplicationTrial:
        table = self._new_table()
        old = self.primary
        replicas = self.replica_indices()
        reader = _Probe(lambda: self.connect(old), table, replica=False).start()
        probes = {j: _Probe(lambda j=j: self.connect(j), table, True).start() for j in replicas}
        t0 = time.monotonic() + 0.05
        load = _Writers(lambda: self.connect(old), table, rate, writers, t0).start()
        self.emit("write", old, f"{writers} writers at {rate:g} writes/s into {table}")
        time.sleep(max(0.0, t0 + duration - time.monotonic()))
        fallback = self.mode == "semisync" and not self.semisync_on()
        kill_t = self.kill(old)
        killed_at = self.t0 + kill_t  # the instant of the SIGKILL, on time.monotonic()
        load.join()
        reader.join()
        new = self.promote()
        failover_s = self.now() - kill_t
        first_sent = self.now()
        self.sql(new, f"INSERT INTO {table} (id) VALUES (0)")  # the first write after it
        first_done = self.now()
        self.emit("write", new, "the first write on the promoted primary", first_done)
        for probe in probes.values():
            probe.join()
        kept = {row for (row,) in self.sql(new, f"SELECT id FROM {table}")}
        acks = dict(load.acks)
        acked_ids = {row for row, t in acks.items() if t <= killed_at}
        lost_ids = tuple(sorted(acked_ids - kept))
        lost = len(lost_ids)
        t0_engine = self.t0
        writes = [(row, load.sent[row] - t0_engine, t - t0_engine, True) for row, t in acks.items()]
        writes += [(row, a - t0_engine, b - t0_engine, False) for row, a, b in load.failed]
        writes = sorted(writes, key=lambda w: w[1]) + [(0, first_sent, first_done, True)]
        lost_visible = len(set(reader.first_seen) - kept)
        lag, apply_lag = _lags(probes[new], acks, dict(load.seqs), killed_at, self.delay)
        seconds = killed_at - t0
        achieved = len(acked_ids) / seconds if seconds > 0 else 0.0
        window = min(RATE_WINDOW, seconds)  # the rate the crash met: the writes just before it
        recent = sum(1 for t in acks.values() if killed_at - window < t <= killed_at) / window
        predicted, predicted_visible = self._prediction(recent, lag, fallback)
        counted = 0
        if self.mode == "async" or fallback:
            ack_times = [t for t in acks.values() if t <= killed_at]
            counted = replication.lost_on_promotion(ack_times, killed_at, max(lag, 0.0))
        self.emit("lost", new, f"{lost} acknowledged writes lost ({lost_visible} seen)")
        revive_t = self.revive(old) if revive else math.nan
        return ReplicationTrial(
            mode=self.mode,
            wait_point=self.wait_point if self.mode == "semisync" else None,
            rate=rate,
            achieved=achieved,
            recent_rate=recent,
            acked=len(acked_ids),
            lost=lost,
            lost_visible=lost_visible,
            predicted=predicted,
            predicted_visible=predicted_visible,
            counted=counted,
            lag=lag,
            apply_lag=apply_lag,
            delay=self.delay,
            seconds=seconds,
            failover_s=failover_s,
            killed=old,
            promoted=new,
            fallback=fallback,
            kill_t=kill_t,
            writes=tuple(writes),
            lost_ids=lost_ids,
            write_s=first_done - kill_t,
            revive_t=revive_t,
        )

    def fallback_drill(self, *, later_writes: int = 5, wait: float = 30.0) -> FallbackRecord:
        """Show semi-sync falling back to async after ``rpl_semi_sync_master_timeout``, live.

        Stops every replica's IO thread; the next write waits the timeout, then
        ``Rpl_semi_sync_master_status`` is OFF and ``later_writes`` more writes go through at
        async speed; then restarts the IO threads and waits (at most ``wait`` s) until the
        status is ON again. Needs ``mode="semisync"``.
        """
        if self.mode != "semisync":
            raise ValueError(f"mode must be 'semisync' for a fallback drill, got {self.mode!r}")
        check_number("later_writes", later_writes, 1, 1000, integer=True)
        check_number("wait", wait, 0.1, 600.0)
        table = self._new_table()
        first = len(self.timeline)
        before = self.semisync_on()
        replicas = self.replica_indices()
        for j in replicas:
            self.sql(j, "STOP SLAVE IO_THREAD")
        self.emit("fail", None, "every replica's IO thread stopped")
        timeout = self.semisync_timeout_ms / 1000
        conn = self.connect(self.primary, timeout=timeout + SQL_TIMEOUT)
        try:
            with conn.cursor() as cur:
                start = time.monotonic()
                cur.execute(f"INSERT INTO {table} (id) VALUES (1)")
                waited = time.monotonic() - start
                after = self.semisync_on()
                self.emit("fallback", self.primary, f"semi-sync OFF after {waited:.2f} s")
                times = []
                for n in range(later_writes):
                    start = time.monotonic()
                    cur.execute(f"INSERT INTO {table} (id) VALUES ({n + 2})")
                    times.append(time.monotonic() - start)
        finally:
            conn.close()
        restart = time.monotonic()
        for j in replicas:
            self.sql(j, "START SLAVE IO_THREAD")
        back = wait_for(self.semisync_on, wait, 0.02)
        back_s = time.monotonic() - restart if back else None
        if back:
            self.emit("up", self.primary, f"semi-sync ON again after {back_s:.2f} s")
        return FallbackRecord(
            timeout_s=timeout,
            status_before=before,
            waited_s=waited,
            status_after=after,
            later_s=statistics.median(times),
            back_s=back_s,
            timeline=tuple(self.timeline[first:]),
        )

    def _before_stop(self) -> None:
        for proxy in self.proxies:
            proxy.close()


LESSON_MODES = (("async", "AFTER_COMMIT"), ("semisync", "AFTER_COMMIT"), ("semisync", "AFTER_SYNC"))


@dataclass(frozen=True)
class LessonRun:
    """Lesson 07's "real thing": one kill per mode on one engine, and the fallback, live.

    Attributes:
        start_s: seconds the engine took to start (``None`` if it was given, already running).
        delay: the crash proxy's one-way delay, seconds.
        trials: one :class:`ReplicationTrial` per mode of :data:`LESSON_MODES`.
        fallback: the :class:`FallbackRecord`.
        drills: each trial as the record every live drill returns (:class:`halab.live.Drill`),
            by its label (``"async"``, ``"semisync AFTER_COMMIT"``, ...).
    """

    start_s: float | None
    delay: float
    trials: tuple[ReplicationTrial, ...]
    fallback: FallbackRecord
    drills: dict = field(default_factory=dict)

    def __str__(self) -> str:
        started = "" if self.start_s is None else f", ready in {self.start_s:.1f} s"
        lines = [
            f"MariaDB: a primary and 2 replicas, {self.delay * 1000:.0f} ms one way on the crash "
            f"proxy{started}",
            f"{'mode':<22}{'writes/s':>9}{'acked':>7}{'lost':>6}{'seen, lost':>12}   model",
        ]
        for t in self.trials:
            if t.mode == "async" or t.fallback:
                model = f"{t.predicted:.1f} = {t.recent_rate:.0f} w/s x {t.lag * 1000:.1f} ms lag"
            else:
                model = "0 (acknowledged after a replica has it)"
            lines.append(
                f"{t.label:<22}{t.achieved:9.0f}{t.acked:7d}{t.lost:6d}{t.lost_visible:12d}   {model}"
            )
        lines.append(f"fallback: {self.fallback}")
        return "\n".join(lines)


def lesson_drill(
    engine: MariaDB | None = None,
    *,
    rate: float = 500.0,
    duration: float = 1.5,
    delay: float = DELAY,
    timeout_ms: int = 1000,
) -> LessonRun:
    """One kill per mode (async, semi-sync AFTER_COMMIT, AFTER_SYNC), then semi-sync's fallback.

    Starts a MariaDB with 2 replicas (or uses ``engine``, already running), runs
    :meth:`MariaDB.drill` once per mode of :data:`LESSON_MODES` (``rate`` writes/s for
    ``duration`` s) and :meth:`MariaDB.fallback_drill` with ``rpl_semi_sync_master_timeout`` =
    ``timeout_ms``. About 30 s in all on a quiet 2-core machine.

    Raises:
        EngineMissing: when MariaDB is not installed (the message is the install command).
    """
    check_number("timeout_ms", timeout_ms, 1, MAX_TIMEOUT_MS, integer=True)
    check_number("rate", rate, 1e-3, 100_000.0)
    check_number("duration", duration, 1e-3, 600.0)
    if engine is not None:
        check_instance("engine", engine, MariaDB)
    own = engine is None
    db = MariaDB(replicas=2, delay=delay).start() if own else engine
    try:
        trials, drills = [], {}
        for mode, wait_point in LESSON_MODES:
            db.set_mode(mode, wait_point, semisync_timeout_ms=timeout_ms)
            drill = db.drill(rate=rate, duration=duration, kills=1)
            trials += drill.trials
            drills[drill.trials[0].label] = drill.drills[0]
        db.set_mode("semisync", "AFTER_SYNC", semisync_timeout_ms=timeout_ms)
        fallback = db.fallback_drill()
        start_s = db.start_s if own else None
        return LessonRun(start_s, db.delay, tuple(trials), fallback, drills)
    finally:
        if own:
            db.stop()
