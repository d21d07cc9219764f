"""What every real engine shares: nodes under guards, free ports, a private folder, a timeline.

An engine (ZooKeeper, etcd, MariaDB, Redis Sentinel, RabbitMQ) is a subclass of :class:`Engine`
that says how to configure, start and ask its nodes; the base does the rest:

- **ports**: chosen free on 127.0.0.1 when it starts (all at once, so no two nodes share one);
  if a node fails because a port was taken meanwhile ("address already in use" in its log),
  the whole engine is started again on fresh ports, :data:`PORT_ATTEMPTS` times at most;
- **folders**: ``tmpdir`` is a private ``tempfile.mkdtemp`` folder (mode 0700) with one
  subfolder per node (``n0``, ``n1``, ...), each holding the node's data, configuration and its
  log (``halab.log``); a node's folder survives :meth:`Engine.kill` and :meth:`Engine.revive`;
- **the guard** (:mod:`halab.live.guard`): each node runs under a guard process that stops the
  node's process group when the engine stops or the Python process that started it dies
  however it dies (kernel restart, SIGKILL); a *folder guard* deletes ``tmpdir`` then. A
  ``weakref.finalize`` stops everything when the engine is garbage-collected;
- **faults**: :meth:`Engine.kill` sends SIGKILL to the node's own process (not its guard), as a
  crash would; :meth:`Engine.revive` starts it again on the same ports and folder;
- **timeline**: :class:`~halab.live.events.Event` records, times in seconds since the engine
  started (:meth:`Engine.now`).

>>> class Sleeper(Engine):                                   # doctest: +SKIP
...     def _command(self, i):
...         return [sys.executable, "-m", "http.server", "--bind", "127.0.0.1",
...                 str(self.port(i))]
>>> with Sleeper(nodes=2) as e:                               # doctest: +SKIP
...     e.kill(0); e.revive(0)
>>> len(set(free_ports(3)))                                  # distinct, free a moment ago
3
>>> check_number("nodes", 0, 1, 9, integer=True)
Traceback (most recent call last):
ValueError: nodes must be an integer in [1, 9], got 0
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from halab.live._proc import LOOPBACK, child_env, stop_process, wait_ready
from halab.live.events import KINDS, Event
from halab.live.guard import GUARDS_DIR, alive

PORT_ATTEMPTS = 3  # fresh-port restarts of a whole engine whose node found a port taken
REVIVE_ATTEMPTS = 10  # a revived node that finds its old port still taken: tries, 0.3 s apart
MAX_NODES = 9
LOG_NAME = "halab.log"  # each node's stdout and stderr, in its folder
SEARCH_DIRS = ("/usr/sbin", "/usr/local/sbin", "/usr/local/bin", "/opt/homebrew/bin", "/sbin")
_CLASH = ("address already in use", "address in use", "eaddrinuse", "bindexception")


class EngineMissing(RuntimeError):
    """An engine's program is not installed; the message says how to install it."""


# -- small helpers ------------------------------------------------------------------------------


def free_ports(n: int) -> list[int]:
    """``n`` distinct ports on 127.0.0.1 that were free a moment ago (bound at once, closed)."""
    n = int(check_number("n", n, 0, 1000, integer=True))
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            socks.append(s)
            s.bind((LOOPBACK, 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def listening(port: int, timeout: float = 0.2) -> bool:
    """Whether something accepts TCP connections on 127.0.0.1:``port``."""
    check_number("port", port, 1, 65535, integer=True)
    check_number("timeout", timeout, 1e-3, 60.0)
    try:
        with socket.create_connection((LOOPBACK, port), timeout=timeout):
            return True
    except OSError:
        return False


def find_binary(name: str) -> str | None:
    """The path of program ``name``: on PATH, in the usual sbin folders, or ``name`` if a path."""
    if os.sep in name:
        return name if os.access(name, os.X_OK) else None
    found = shutil.which(name)
    if found:
        return found
    for folder in SEARCH_DIRS:
        path = os.path.join(folder, name)
        if os.access(path, os.X_OK):
            return path
    return None


def check_number(name: str, value, low: float, high: float, *, integer: bool = False) -> float:
    """``value`` if it is a finite number in [low, high] (an int when ``integer``), else
    ``ValueError`` naming ``name`` and the range."""
    kind = "an integer" if integer else "a number"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be {kind} in [{low}, {high}], got {value!r}")
    if integer and not isinstance(value, int):
        raise ValueError(f"{name} must be {kind} in [{low}, {high}], got {value!r}")
    if not math.isfinite(value) or not low <= value <= high:
        raise ValueError(f"{name} must be {kind} in [{low}, {high}], got {value!r}")
    return value


def wait_for(predicate: Callable[[], object], timeout: float, interval: float = 0.05):
    """Call ``predicate`` until it returns something truthy (returned) or ``timeout`` s pass
    (``None``). Exceptions count as falsy."""
    if not callable(predicate):
        raise TypeError(f"predicate must be callable, got {predicate!r}")
    check_number("timeout", timeout, 0.0, 3600.0)
    check_number("interval", interval, 1e-4, 60.0)
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = predicate()
        except Exception:
            value = None
        if value:
            return value
        if time.monotonic() >= deadline:
            return None
        time.sleep(interval)


# -- "nothing left": what a test checks after an engine stopped ---------------------------------


@dataclass(frozen=True)
class Footprint:
    """What an engine holds on the machine: its processes, ports and folder.

    Attributes:
        pids: every process it started that was alive when the footprint was taken.
        ports: every port it chose.
        tmpdir: its private folder.
    """

    pids: tuple[int, ...]
    ports: tuple[int, ...]
    tmpdir: str

    @classmethod
    def of(cls, engine: Engine) -> Footprint:
        return cls(tuple(engine.pids), tuple(engine.all_ports()), engine.tmpdir)

    def left(self) -> list[str]:
        """What is still there: one sentence per live process, listening port, existing folder."""
        out = [f"process {pid} alive" for pid in self.pids if alive(pid)]
        out += [f"port {port} listening" for port in self.ports if listening(port)]
        if self.tmpdir and os.path.exists(self.tmpdir):
            out.append(f"folder {self.tmpdir} exists")
        return out

    def wait_gone(self, timeout: float = 30.0) -> list[str]:
        """Wait (at most ``timeout`` s) until nothing is left; return what still is."""
        deadline = time.monotonic() + timeout
        while (left := self.left()) and time.monotonic() < deadline:
            time.sleep(0.1)
        return left


def kill_parent(
    expr: str,
    *,
    module: str = "halab.live.engines",
    timeout: float = 120.0,
    settle: float = 30.0,
) -> tuple[Footprint, list[str]]:
    """Start an engine in a child Python, SIGKILL that child, and see what is left.

    ``expr`` builds the engine from a class of ``module``, e.g. ``"Etcd(nodes=3)"``.
    The child starts it, prints its :class:`Footprint` and waits; it is SIGKILLed as soon as the
    footprint arrives. Returns ``(footprint, left)``: ``left`` lists what was still there
    ``settle`` seconds later (empty: the guards cleaned up). Raises ``RuntimeError`` if the
    child could not start the engine, ``EngineMissing`` if its program is missing.
    """
    for what, text in (("expr", expr), ("module", module)):
        if not isinstance(text, str) or not text:
            raise TypeError(f"{what} must be a non-empty string, got {text!r}")
    check_number("timeout", timeout, 1e-3, 3600.0)
    check_number("settle", settle, 0.0, 600.0)
    name = expr.split("(", 1)[0].strip()
    code = (
        "import json, sys, time\n"
        f"from {module} import {name}\n"
        "from halab.live.engines._base import EngineMissing\n"
        "try:\n"
        f"    engine = {expr}.start()\n"
        "except EngineMissing as exc:\n"
        "    print(json.dumps({'missing': str(exc)}), flush=True); sys.exit(3)\n"
        "print(json.dumps({'pids': engine.pids, 'ports': engine.all_ports(),"
        " 'tmpdir': engine.tmpdir}), flush=True)\n"
        "time.sleep(600)\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=child_env(),
    )
    try:
        info = wait_ready(child, timeout)
    except RuntimeError as exc:
        raise RuntimeError(f"the child could not start {expr}: {exc}") from None
    if "missing" in info:
        stop_process(child)
        raise EngineMissing(info["missing"])
    footprint = Footprint(tuple(info["pids"]), tuple(info["ports"]), info["tmpdir"])
    os.kill(child.pid, signal.SIGKILL)
    child.wait(10)
    left = footprint.wait_gone(settle)
    stop_process(child)
    return footprint, left


# -- the engine ---------------------------------------------------------------------------------


class _Resources:
    """Everything an engine must release; shared with its finalizer (which must not hold it)."""

    def __init__(self, grace: float) -> None:
        self.lock = threading.RLock()
        self.guards: dict[int, subprocess.Popen] = {}  # node index -> its guard
        self.pids: dict[int, int] = {}  # node index -> the node's own process
        self.folder_guard: subprocess.Popen | None = None
        self.tmpdir = ""
        self.grace = grace
        self.closed = False

    def stop_nodes(self, nodes: Sequence[int] | None = None, grace: float | None = None) -> None:
        """Stop these nodes (all by default) at once: SIGTERM, ``grace`` s, SIGKILL."""
        grace = self.grace if grace is None else grace
        with self.lock:
            which = list(self.guards) if nodes is None else [i for i in nodes if i in self.guards]
            pairs = [(i, self.guards.pop(i), self.pids.pop(i, None)) for i in which]
        for _, guard, pid in pairs:
            if grace <= 0 and pid is not None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)
            with contextlib.suppress(OSError):
                guard.stdin.close()  # the guard then stops the node's group
        for _, guard, pid in pairs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                guard.wait(grace + 5.0)
            if pid is not None and alive(pid):  # the guard failed us: kill the group ourselves
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)
            stop_process(guard)

    def close(self) -> None:
        with self.lock:
            if self.closed:
                return
            self.closed = True
        self.stop_nodes()
        folder = self.folder_guard
        if folder is not None:
            with contextlib.suppress(OSError):
                folder.stdin.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                folder.wait(10.0)
            stop_process(folder)
        if self.tmpdir:
            shutil.rmtree(self.tmpdir, ignore_errors=True)


class Engine:
    """Real server processes on 127.0.0.1, one per node, each under a guard; a context manager.

    A subclass sets the class attributes and implements :meth:`_command`; usually also
    :meth:`_configure`, :meth:`_ready` and :meth:`leader`.

    Args:
        nodes: how many nodes, 1 to :data:`MAX_NODES` (a subclass may narrow this).
        start_timeout: seconds the engine may take to be ready, in (0, 600].

    Attributes:
        nodes: the number of nodes.
        ports: one dict per node, port name (:attr:`port_names`) -> port, chosen at start.
        tmpdir: the private folder ('' before start).
        timeline: :class:`~halab.live.events.Event` records, seconds since the start.
        start_s: seconds the engine took to be ready (``None`` before).
        binaries: program name -> its path on this machine.
    """

    #: program names that must be installed (the first found path of each is in ``binaries``)
    programs: ClassVar[tuple[str, ...]] = ()
    #: Debian and Homebrew package names, for the install hint
    apt: ClassVar[str] = ""
    brew: ClassVar[str] = ""
    #: the names of each node's ports
    port_names: ClassVar[tuple[str, ...]] = ("client",)
    #: seconds between SIGTERM and SIGKILL when the engine stops
    stop_grace: ClassVar[float] = 1.0
    min_nodes: ClassVar[int] = 1

    def __init__(self, nodes: int = 3, *, start_timeout: float = 60.0) -> None:
        check_number("nodes", nodes, self.min_nodes, MAX_NODES, integer=True)
        check_number("start_timeout", start_timeout, 1e-3, 600.0)
        self.binaries = self.find()
        self.nodes = nodes
        self.start_timeout = float(start_timeout)
        self.ports: list[dict[str, int]] = []
        self.tmpdir = ""
        self.timeline: list[Event] = []
        self.start_s: float | None = None
        self.t0 = time.monotonic()
        self._events_lock = threading.Lock()
        self._res = _Resources(self.stop_grace)
        self._finalizer = weakref.finalize(self, _Resources.close, self._res)
        self._started = False
        self._stopped = False

    # -- what a subclass provides --------------------------------------------------------------

    def _configure(self) -> None:
        """Write every node's configuration into its folder (ports are chosen by now). Called
        again, on fresh ports, when a start is retried."""

    def _command(self, i: int) -> list[str]:
        """The command line that runs node ``i`` in the foreground."""
        raise NotImplementedError

    def _env(self, i: int) -> dict[str, str]:
        """Node ``i``'s environment (default: ours)."""
        return child_env()

    def _node_ready(self, i: int) -> bool:
        """Whether node ``i`` serves (default: its first port accepts connections)."""
        return listening(self.port(i))

    def _ready(self) -> bool:
        """Whether the engine as a whole is ready (default: every node serves)."""
        return all(self._node_ready(i) for i in range(self.nodes))

    def _after_start(self) -> None:
        """Called once the engine is ready, before ``start()`` returns (join a cluster, ...)."""

    def _before_stop(self) -> None:
        """Called first thing in ``stop()`` (close clients, ...); errors are ignored."""

    def _on_kill(self, i: int) -> None:
        """Called right after node ``i``'s SIGKILL, before anything else (e.g. to cut a proxy
        in the same instant, as a host crash would)."""

    def _extra_pids(self) -> list[int]:
        """Processes the nodes spawned outside their groups (e.g. a daemon), to report in
        :attr:`pids`; the subclass stops them in :meth:`_before_stop`."""
        return []

    def leader(self) -> int | None:
        """The index of the current leader (or primary), ``None`` if there is none."""
        return None

    # -- installation ------------------------------------------------------------------------

    @classmethod
    def install_hint(cls) -> str:
        """How to install this engine's programs (apt and brew)."""
        return (
            f"{cls.__name__} needs {', '.join(cls.programs)}: install it with "
            f"`sudo apt-get install {cls.apt}` (Debian, Ubuntu) or `brew install {cls.brew}` "
            "(macOS)"
        )

    @classmethod
    def missing(cls) -> list[str]:
        """The programs this engine needs that this machine lacks."""
        return [p for p in cls.programs if find_binary(p) is None]

    @classmethod
    def find(cls) -> dict[str, str]:
        """Program name -> path; ``EngineMissing`` (with the install hint) if one is missing."""
        if cls.missing():
            raise EngineMissing(cls.install_hint())
        return {p: find_binary(p) for p in cls.programs}

    # -- paths and ports ---------------------------------------------------------------------

    def node_dir(self, i: int) -> Path:
        """Node ``i``'s folder (kept across kill and revive)."""
        return Path(self.tmpdir) / f"n{i}"

    def log_path(self, i: int) -> Path:
        return self.node_dir(i) / LOG_NAME

    def log(self, i: int, tail: int = 20) -> str:
        """The last ``tail`` lines of node ``i``'s output."""
        try:
            lines = self.log_path(i).read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-tail:])

    def port(self, i: int, name: str | None = None) -> int:
        """Node ``i``'s port called ``name`` (default the first of :attr:`port_names`)."""
        return self.ports[i][name or self.port_names[0]]

    def all_ports(self) -> list[int]:
        return [p for ports in self.ports for p in ports.values()]

    def _pick_ports(self) -> None:
        chosen = iter(free_ports(self.nodes * len(self.port_names)))
        self.ports = [{name: next(chosen) for name in self.port_names} for _ in range(self.nodes)]

    # -- time and events ---------------------------------------------------------------------

    def now(self) -> float:
        """Seconds since the engine started."""
        return time.monotonic() - self.t0

    def emit(self, kind: str, node: int | None = None, detail: str = "", t: float | None = None):
        """Add an event (``kind`` from :data:`halab.live.events.KINDS`) to the timeline."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        event = Event(self.now() if t is None else t, kind, node, detail)
        with self._events_lock:
            self.timeline.append(event)
        return event

    # -- processes ---------------------------------------------------------------------------

    @property
    def pids(self) -> list[int]:
        """Every process the engine started that is alive: nodes, their guards, the folder
        guard and any :meth:`_extra_pids`."""
        res = self._res
        with res.lock:
            found = list(res.pids.values()) + [g.pid for g in res.guards.values()]
            if res.folder_guard is not None:
                found.append(res.folder_guard.pid)
        found += self._extra_pids()
        return sorted(pid for pid in set(found) if alive(pid))

    def pid(self, i: int) -> int | None:
        """Node ``i``'s own process id while it runs."""
        pid = self._res.pids.get(i)
        return pid if pid is not None and alive(pid) else None

    def alive(self, i: int) -> bool:
        """Whether node ``i``'s process is running."""
        return self.pid(i) is not None

    def _check_node(self, i: int) -> int:
        check_number("i", i, 0, self.nodes - 1, integer=True)
        return i

    def _launch(self, i: int) -> int:
        """Start node ``i`` under its guard; return its pid (it may not serve yet)."""
        folder = self.node_dir(i)
        folder.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable,
            "-m",
            "halab.live.guard",
            "--keep",
            "--grace",
            str(self.stop_grace),
            "--log",
            str(self.log_path(i)),
            "--register",
            str(Path(self.tmpdir) / GUARDS_DIR),
            str(folder),
            "--",
            *self._command(i),
        ]
        debug = bool(os.environ.get("HALAB_LIVE_DEBUG"))
        guard = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None if debug else subprocess.DEVNULL,
            env=self._env(i),
            cwd=folder,
            close_fds=True,
        )
        info = wait_ready(guard, 30.0)  # the guard's own start; it stops the guard on failure
        with self._res.lock:
            self._res.guards[i] = guard
            self._res.pids[i] = int(info["pid"])
        return int(info["pid"])

    def _exited(self, i: int) -> bool:
        guard = self._res.guards.get(i)
        return guard is None or guard.poll() is not None

    def _clash(self, i: int) -> bool:
        """Whether node ``i``'s log says a port was taken."""
        text = self.log(i, tail=200).lower()
        return any(word in text for word in _CLASH)

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Engine:
        """Make the folders, choose ports, start every node; return once the engine is ready."""
        if self._started:
            raise RuntimeError(f"this {type(self).__name__} was already started; make a new one")
        self._started = True
        self.t0 = time.monotonic()
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        self.tmpdir = tempfile.mkdtemp(prefix=f"halab-{type(self).__name__.lower()}-")
        os.chmod(self.tmpdir, 0o700)
        self._res.tmpdir = self.tmpdir
        folder_guard = subprocess.Popen(
            [sys.executable, "-m", "halab.live.guard", self.tmpdir],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=child_env(),
            close_fds=True,
        )
        self._res.folder_guard = folder_guard
        wait_ready(folder_guard, 30.0)
        for attempt in range(PORT_ATTEMPTS):
            self._pick_ports()
            for i in range(self.nodes):
                shutil.rmtree(self.node_dir(i), ignore_errors=True)
                self.node_dir(i).mkdir(parents=True)
            self._configure()
            for i in range(self.nodes):
                self._launch(i)
            error = self._wait_ready()
            if not error:
                break
            clash = any(self._clash(i) for i in range(self.nodes))
            self._res.stop_nodes(grace=0)
            if not clash or attempt == PORT_ATTEMPTS - 1:
                raise RuntimeError(f"{type(self).__name__} did not start: {error}")
            self.emit("start", None, f"a port was taken: attempt {attempt + 2} on fresh ports")
        self._after_start()
        self.start_s = self.now()
        self.emit("ready", None, f"{self.nodes} nodes ready in {self.start_s:.2f} s")

    def _wait_ready(self) -> str:
        """'' once :meth:`_ready`; else why not (a node exited, or the time ran out)."""
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            for i in range(self.nodes):
                if self._exited(i):
                    return f"node {i} exited: {self.log(i, 5) or 'no output'}"
            try:
                if self._ready():
                    return ""
            except Exception:  # a node half up may answer nonsense; ask again
                pass
            time.sleep(0.1)
        logs = " | ".join(f"n{i}: {self.log(i, 3)}" for i in range(self.nodes))
        return f"not ready after {self.start_timeout} s ({logs})"

    def stop(self) -> None:
        """Stop every process (SIGTERM, :attr:`stop_grace` s, SIGKILL), delete every file.
        Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        with contextlib.suppress(Exception):
            self._before_stop()
        if self._started:
            self.emit("stop", None, "engine stopped")
        self._finalizer()

    def __enter__(self) -> Engine:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def kill(self, i: int) -> float:
        """SIGKILL node ``i``'s own process, as a crash would; return when (engine seconds)."""
        self._check_node(i)
        pid = self.pid(i)
        if pid is None:
            raise RuntimeError(f"node {i} is not running")
        t = self.now()
        os.kill(pid, signal.SIGKILL)
        self._on_kill(i)
        self.emit("kill", i, f"SIGKILL to pid {pid}", t)
        guard = self._res.guards.get(i)
        if guard is not None:  # the guard sees its child die, clears its group and exits
            with contextlib.suppress(subprocess.TimeoutExpired):
                guard.wait(5.0)
        self._res.stop_nodes([i], grace=0)
        return t

    def revive(self, i: int, *, timeout: float | None = None) -> float:
        """Start node ``i`` again (same ports, same folder); return when it serves (engine s)."""
        self._check_node(i)
        if self.alive(i):
            raise RuntimeError(f"node {i} is running; kill it first")
        self._res.stop_nodes([i], grace=0)  # a guard left over from a node that died alone
        timeout = self.start_timeout if timeout is None else timeout
        for _ in range(REVIVE_ATTEMPTS):
            self._launch(i)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and not self._exited(i):
                with contextlib.suppress(Exception):
                    if self._node_ready(i):
                        t = self.now()
                        self.emit("revive", i, f"pid {self.pid(i)} serves again", t)
                        return t
                time.sleep(0.05)
            clash = self._exited(i) and self._clash(i)
            self._res.stop_nodes([i], grace=0)
            if not clash:
                break
            time.sleep(0.3)
        raise RuntimeError(f"node {i} did not come back: {self.log(i, 5)}")

    def wait_leader(self, timeout: float = 30.0, *, exclude: int | None = None) -> int | None:
        """Wait for a leader other than ``exclude``; its index, or ``None`` after ``timeout``."""

        def found():
            who = self.leader()
            return None if who is None or who == exclude else (who,)

        got = wait_for(found, timeout, 0.02)
        return None if got is None else got[0]

    def __repr__(self) -> str:
        state = "stopped" if self._stopped else ("running" if self._started else "not started")
        return f"{type(self).__name__}(nodes={self.nodes}, {state})"


# -- a leader's kill, measured: the records a drill returns -------------------------------------


DETAIL_LABELS = {  # a trial's detail -> (what :meth:`FailoverDrill.explain` calls it, unit)
    "fle_s": ("ZooKeeper's log, LEADER ELECTION TOOK (FastLeaderElection alone)", "s"),
    "fsync_s": ("the new leader's mean WAL fsync (each vote and entry waits for one)", "ms"),
}


@dataclass(frozen=True)
class FailoverTrial:
    """One SIGKILL of the leader, and how long the engine took to recover.

    Attributes:
        trial: the trial's number, from 0.
        killed: the index of the node that led and was killed.
        new_leader: the index of the node seen leading next (``None``: none within the time).
        kill_t: when the SIGKILL was sent, seconds since the engine started.
        leader_s: seconds from the kill until a new leader was seen (``nan``: never); seen
            by polling :meth:`Engine.leader`, so up to a poll (tens of ms) late -- a write can
            be acknowledged before the poll that finds its leader.
        write_s: seconds from the kill until the first write sent after it succeeded
            (``nan``: none did).
        failed_writes: client writes that failed between the kill and that first success.
        writes: every write of the trial, ``(id, sent, done, ok)``: its number, when it was
            sent and when it returned (seconds since the engine started), and whether it was
            acknowledged.
        lost: the ids of acknowledged writes that the engine no longer had after the
            failover (read back from it); ``None`` when the drill did not read them back.
        revive_t: when the killed node served again, seconds (``nan``: not revived).
        detail: what the engine itself measured of this failover, name -> seconds (e.g.
            ZooKeeper's own "LEADER ELECTION TOOK", ``fle_s``; etcd's mean WAL fsync,
            ``fsync_s``); empty when it measured nothing.
    """

    trial: int
    killed: int
    new_leader: int | None
    kill_t: float
    leader_s: float
    write_s: float
    failed_writes: int = 0
    writes: tuple[tuple[int, float, float, bool], ...] = ()
    lost: tuple[int, ...] | None = None
    revive_t: float = math.nan
    detail: dict = field(default_factory=dict)

    def record(self, timeline: Sequence[Event] = (), settings: dict | None = None):
        """This trial as the record every live drill returns (:class:`halab.live.Drill`).

        Its requests are the trial's writes, each under the name of the node that led when it
        returned (``n<killed>`` before the kill, ``n<new_leader>`` after; a failed write has
        none); its timeline the events of ``timeline`` from the first write to the revival;
        its ``lost`` the send times of the acknowledged writes found missing (``None`` if
        the trial did not read them back).
        """
        from halab.live.cluster import Drill
        from halab.live.loadgen import LoadResult, Record

        records = []
        for _, sent, done, ok in self.writes:
            node = self.killed if done < self.kill_t else self.new_leader
            name = f"n{node}" if ok and node is not None else None
            error = None if ok else "write failed"
            records.append(Record(sent, done - sent, 200 if ok else 0, name, error=error))
        sent_of = {n: sent for n, sent, _, _ in self.writes}
        lost = None
        if self.lost is not None:
            lost = tuple(sorted(sent_of[n] for n in self.lost if n in sent_of))
        begin = min((w[1] for w in self.writes), default=self.kill_t)
        revive_t = self.revive_t if math.isfinite(self.revive_t) else math.inf
        events = [e for e in timeline if begin - 1e-9 <= e.t <= revive_t + 1e-9]
        return Drill(
            LoadResult(records, 0.0),
            events,
            self.killed,
            self.kill_t,
            revive_t,
            dict(settings or {}),
            lost=lost,
            prefix="n",
        )


@dataclass(frozen=True)
class FailoverDrill:
    """Leader kills on a real engine, beside halab's simulation run with the engine's settings.

    Attributes:
        engine: the engine's class name.
        settings: the engine's timing settings, by its own names and units.
        trials: one :class:`FailoverTrial` per kill.
        timeline: the engine's events during the drill (seconds since it started).
        start_s: seconds the engine took to start.
        simulated: name -> the simulation's seconds per simulated trial (a NumPy array), e.g.
            ``"leader_s"``.
        notes: a sentence or two: where real and simulated differ, and why.
    """

    engine: str
    settings: dict
    trials: tuple[FailoverTrial, ...]
    timeline: tuple[Event, ...]
    start_s: float
    simulated: dict
    notes: str = ""

    @property
    def drills(self) -> tuple:
        """Each trial as the record every live drill returns (:meth:`FailoverTrial.record`)."""
        return tuple(t.record(self.timeline, self.settings) for t in self.trials)

    def typical(self):
        """The record (:meth:`FailoverTrial.record`) of the trial whose ``leader_s`` is
        nearest the median (the earlier one on a tie): a kill to draw as the drill's face."""
        import numpy as np

        leader_s = self.measured("leader_s")
        finite = leader_s[np.isfinite(leader_s)]
        if not finite.size:
            return self.drills[0]
        k = int(
            np.argmin(np.where(np.isfinite(leader_s), abs(leader_s - np.median(finite)), np.inf))
        )
        return self.trials[k].record(self.timeline, self.settings)

    @property
    def lost(self) -> int | None:
        """Acknowledged writes found missing over all trials (``None``: not read back)."""
        if any(t.lost is None for t in self.trials):
            return None
        return sum(len(t.lost) for t in self.trials)

    def differences(self) -> dict:
        """Where the real failover and the model part, in seconds (medians over the trials).

        Returns:
            ``real_leader_s`` and ``real_write_s``: kill to new leader, to first write;
            ``sim_leader_s``: the model's kill to new leader (a silent crash), and
            ``sim_<name>`` for each other figure of ``simulated``;
            ``model_s``: the model's part that the real engine went through: its election
            alone (``simulated["election_s"]``) when the model has it -- a killed process's
            connections are reset by the kernel, so real followers need not wait out a
            timeout first -- else ``sim_leader_s``;
            ``beyond_model_s``: ``real_leader_s - model_s``, what the real engine spent that
            the model does not have (a JVM's work, fsync, scheduling on a busy machine);
            ``client_s``: the median over the trials of ``write_s - leader_s``, the client's
            own part (noticing, reconnecting, retrying) after the new leader was seen
            (negative: the write was acknowledged before the poll saw the leader);
            the median of each name of the trials' ``detail``; ``first_leader_s`` (the first
            kill's ``leader_s``: the first failover of a freshly started engine) and
            ``later_leader_s`` (the median of the others), and ``first_<name>`` and
            ``later_<name>`` for each name of ``detail``; and with ZooKeeper's
            ``fle_s``, ``after_fle_s``: the median of ``leader_s - fle_s``, the time outside
            FastLeaderElection (noticing the crash, the epoch round, the followers' sync, the
            poll that saw the leader).
        """
        import numpy as np

        def median(values) -> float:
            values = np.asarray(values, dtype=float)
            values = values[np.isfinite(values)]
            return float(np.median(values)) if values.size else math.nan

        out = {
            "real_leader_s": median(self.measured("leader_s")),
            "real_write_s": median(self.measured("write_s")),
            "sim_leader_s": median(self.simulated.get("leader_s", [])),
        }
        out.update({f"sim_{k}": median(v) for k, v in self.simulated.items()})
        out["model_s"] = median(
            self.simulated.get("election_s", self.simulated.get("leader_s", []))
        )
        out["beyond_model_s"] = out["real_leader_s"] - out["model_s"]
        out["client_s"] = median(self.measured("write_s") - self.measured("leader_s"))
        names = sorted({name for t in self.trials for name in t.detail})
        for name in names:
            out[name] = median([t.detail.get(name, math.nan) for t in self.trials])
        leader_s = self.measured("leader_s")
        out["first_leader_s"] = float(leader_s[0]) if leader_s.size else math.nan
        out["later_leader_s"] = median(leader_s[1:])
        for name in names:
            out[f"first_{name}"] = self.trials[0].detail.get(name, math.nan)
            out[f"later_{name}"] = median([t.detail.get(name, math.nan) for t in self.trials[1:]])
        if "fle_s" in names:  # ZooKeeper: what followed its FastLeaderElection
            out["after_fle_s"] = median(
                [t.leader_s - t.detail.get("fle_s", math.nan) for t in self.trials]
            )
        return out

    def explain(self) -> str:
        """:meth:`differences` in sentences: the real failover, the model's, and the parts."""
        d = self.differences()
        n = len(self.trials)
        lines = [
            f"{self.engine}: new leader {d['real_leader_s']:.2f} s after the SIGKILL (median "
            f"of {n}); the model, a silent crash: {d['sim_leader_s']:.2f} s"
        ]
        if "election_s" in self.simulated:
            lines.append(
                f"  the model's election alone: {d['model_s']:.2f} s; the real failover took "
                f"{d['beyond_model_s']:+.2f} s beyond it"
            )
        else:
            lines.append(f"  real minus model: {d['beyond_model_s']:+.2f} s")
        for name, (label, unit) in DETAIL_LABELS.items():
            if name in d:
                scale = 1000.0 if unit == "ms" else 1.0
                lines.append(f"  {label}: {d[name] * scale:.{1 if unit == 'ms' else 2}f} {unit}")
        if n > 1:
            first = f"the first kill (a fresh engine): {d['first_leader_s']:.2f} s to a new "
            first += f"leader, the later ones {d['later_leader_s']:.2f} s (median)"
            if "fle_s" in d:
                first += (
                    f"; of it FastLeaderElection {d['first_fle_s']:.2f} s, later "
                    f"{d['later_fle_s']:.2f} s"
                )
            lines.append(f"  {first}")
        if "sim_decided_s" in d:
            lines.append(f"  the model's FastLeaderElection alone: {d['sim_decided_s']:.2f} s")
        if "after_fle_s" in d:
            lines.append(
                "  outside FastLeaderElection (the crash noticed, the epoch round, the "
                f"followers' sync, our poll): {d['after_fle_s']:.2f} s"
            )
        lines.append(
            f"  the client's own part (first write minus new leader): {d['client_s']:+.2f} s"
        )
        return "\n".join(lines)

    def measured(self, name: str):
        """The trials' ``name`` (``"leader_s"`` or ``"write_s"``) as a NumPy array."""
        import numpy as np

        return np.array([getattr(t, name) for t in self.trials], dtype=float)

    def summary(self) -> dict:
        """Median and maximum, seconds, of each measured and simulated figure."""
        import numpy as np

        out: dict = {"start_s": self.start_s, "trials": len(self.trials)}
        columns = {f"real {n}": self.measured(n) for n in ("leader_s", "write_s")}
        columns.update({f"sim {n}": np.asarray(v, dtype=float) for n, v in self.simulated.items()})
        for name, values in columns.items():
            finite = values[np.isfinite(values)]
            out[name] = {
                "median": float(np.median(finite)) if finite.size else math.nan,
                "max": float(np.max(finite)) if finite.size else math.nan,
                "n": int(values.size),
                "missing": int(values.size - finite.size),
            }
        return out

    def table(self) -> str:
        """The summary as a small text table, seconds."""
        s = self.summary()
        lines = [
            f"{self.engine} {self.settings}: started in {self.start_s:.2f} s, "
            f"{s['trials']} leader kills",
            f"{'':28}{'median':>8}{'max':>8}{'n':>6}",
        ]
        for name, v in s.items():
            if isinstance(v, dict):
                miss = f"  ({v['missing']} without)" if v["missing"] else ""
                lines.append(f"{name:28}{v['median']:8.3f}{v['max']:8.3f}{v['n']:6d}{miss}")
        for name in ("leader_s", "write_s"):
            each = " ".join(f"{x:.2f}" for x in self.measured(name))
            lines.append(f"each real {name}: {each}")
        if self.lost is not None:
            acked = sum(ok for t in self.trials for *_, ok in t.writes)
            lines.append(f"acknowledged writes read back: {acked}, lost: {self.lost}")
        return "\n".join(lines)


class Writer:
    """Writes in a loop on a thread of its own and records each ``(id, sent, done, ok)``.

    The thread holds the ``write`` callable and the engine's start time, never the engine, so
    an engine dropped mid-drill can still be garbage-collected.

    Args:
        write: called with a growing integer, the write's id; returns when the write is
            acknowledged, raises when it failed.
        t0: the engine's start (``time.monotonic()``); times are seconds since then.
        interval: seconds to pause after each write.
        first: the first id (so that the ids of several writers in turn never repeat).
        retry_pause: seconds to pause after a failed write.
    """

    def __init__(
        self,
        write: Callable[[int], object],
        t0: float,
        interval: float = 0.01,
        first: int = 0,
        retry_pause: float = 0.005,
    ):
        if not callable(write):
            raise TypeError(f"write must be callable, got {write!r}")
        check_number("t0", t0, -math.inf, math.inf)
        check_number("interval", interval, 0.0, 60.0)
        check_number("first", first, 0, 2**62, integer=True)
        check_number("retry_pause", retry_pause, 0.0, 60.0)
        self.write = write
        self.t0 = t0
        self.interval = interval
        self.first = first
        self.retry_pause = retry_pause
        self.records: list[tuple[int, float, float, bool]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="halab-writer", daemon=True)

    def start(self) -> Writer:
        self._thread.start()
        return self

    def _run(self) -> None:
        n = self.first
        while not self._stop.is_set():
            sent = time.monotonic() - self.t0
            try:
                self.write(n)
                ok = True
            except Exception:
                ok = False
            self.records.append((n, sent, time.monotonic() - self.t0, ok))
            n += 1
            self._stop.wait(self.interval if ok else self.retry_pause)

    def first_ok(self, after: float) -> float | None:
        """When the first write sent after ``after`` was acknowledged (seconds), or None."""
        done = [d for _, s, d, ok in list(self.records) if ok and s >= after]
        return min(done) if done else None

    def failed(self, after: float, until: float) -> int:
        """Writes that failed, sent in ``[after, until]``."""
        return sum(1 for _, s, _, ok in list(self.records) if not ok and after <= s <= until)

    def acked(self) -> list[int]:
        """The ids of the acknowledged writes."""
        return [n for n, _, _, ok in list(self.records) if ok]

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30.0)


def leader_kills(
    engine: Engine,
    write: Callable[[int], object],
    *,
    trials: int = 10,
    timeout: float = 60.0,
    interval: float = 0.01,
    ready: Callable[[], object] | None = None,
    before: float = 0.3,
    after: float = 0.3,
    present: Callable[[list[int]], Iterable[int]] | None = None,
    detail: Callable[[int], dict] | None = None,
) -> list[FailoverTrial]:
    """SIGKILL the leader ``trials`` times under a writer; time the new leader and first write.

    Each trial: wait for a leader and for a write to succeed; write ``before`` seconds more;
    SIGKILL the leader; poll :meth:`Engine.leader` until another node leads (``leader``
    event); wait until a write sent after the kill is acknowledged (``write`` event); write
    ``after`` seconds more and stop the writer; ask ``present`` which acknowledged writes the
    engine still has (their ids given, the ids found returned; the rest are the trial's
    ``lost``); ask ``detail`` (given the new leader's index) what the engine measured of
    the failover itself (the trial's ``detail``); revive the old leader and wait until the
    engine is whole again (``ready``, default the engine's own readiness). The ids of the
    writes never repeat over the trials.
    """
    check_number("trials", trials, 1, 1000, integer=True)
    check_number("timeout", timeout, 1e-3, 3600.0)
    check_number("before", before, 0.0, 60.0)
    check_number("after", after, 0.0, 60.0)
    check_number("interval", interval, 1e-4, 60.0)
    if not isinstance(engine, Engine):
        raise TypeError(f"engine must be an Engine (ZooKeeper, Etcd, ...), got {engine!r}")
    if not engine._started or engine._stopped:
        raise RuntimeError("the engine is not running; use it inside its with block")
    ready = ready or engine._ready
    out = []
    first_id = 0
    for k in range(trials):
        old = engine.wait_leader(timeout)
        if old is None:
            raise RuntimeError(f"no leader within {timeout} s before trial {k}")
        writer = Writer(write, engine.t0, interval, first=first_id).start()
        try:
            if wait_for(functools.partial(writer.first_ok, 0.0), timeout) is None:
                raise RuntimeError(f"no write succeeded within {timeout} s before trial {k}")
            time.sleep(before)
            kill_t = engine.kill(old)
            new = engine.wait_leader(timeout, exclude=old)
            leader_t = engine.now()
            if new is not None:
                engine.emit("leader", new, f"leads after node {old} was killed", leader_t)
            first = wait_for(functools.partial(writer.first_ok, kill_t), timeout, 0.01)
            if first is not None:
                time.sleep(max(0.0, engine.t0 + first + after - time.monotonic()))
        finally:
            writer.stop()
        if first is not None:
            engine.emit("write", None, "the first write sent after the kill succeeded", first)
        writes = tuple(writer.records)
        first_id = max((w[0] for w in writes), default=first_id) + 1
        lost = None
        if present is not None:
            acked = writer.acked()
            lost = tuple(sorted(set(acked) - set(present(acked))))
            if lost:
                engine.emit("lost", new, f"{len(lost)} acknowledged writes missing")
        measured = {}
        if detail is not None and new is not None:
            with contextlib.suppress(Exception):  # a figure the engine could not give: none
                measured = dict(detail(new))
        revive_t = engine.revive(old)
        out.append(
            FailoverTrial(
                trial=k,
                killed=old,
                new_leader=new,
                kill_t=kill_t,
                leader_s=leader_t - kill_t if new is not None else math.nan,
                write_s=first - kill_t if first is not None else math.nan,
                failed_writes=writer.failed(kill_t, first if first is not None else math.inf),
                writes=writes,
                lost=lost,
                revive_t=revive_t,
                detail=measured,
            )
        )
        if wait_for(ready, timeout, 0.05) is None:
            raise RuntimeError(
                f"{type(engine).__name__} not whole again {timeout} s after trial {k}"
            )
    return out
