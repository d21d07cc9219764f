"""LiveCluster: real backends and the failover balancer on 127.0.0.1, in one ``with`` block.

>>> with LiveCluster(backends=3, policy="round_robin") as cluster:     # doctest: +SKIP
...     load = cluster.load_in_background(rate=100, duration=4.0)
...     time.sleep(1.0); cluster.kill(1)                               # a real SIGKILL
...     time.sleep(1.5); cluster.revive(1)                             # same port, new process
...     result = load.join()
>>> result.failed                                                      # doctest: +SKIP
0

Leaving the block -- normally, on an exception, on ``KeyboardInterrupt`` -- kills every process
the cluster started, closes every pipe and joins every thread it started. A
``weakref.finalize`` does the same when the cluster is garbage-collected or the interpreter
exits without leaving the block; and each child exits by itself when this process dies
(see :mod:`halab.live._proc`), so a killed kernel leaves nothing behind either. For the
finaliser to run, nothing the cluster starts may hold the cluster: the event reader thread
and the balancer's event callback hold only its :class:`_Timeline`, and the finaliser only its
:class:`_Resources`. So ``c = LiveCluster().start()`` run again in a notebook cell stops the
previous cluster's processes as soon as the name ``c`` lets go of it.

**Fault switches are the learner's.** Every cluster makes its own random secret
(``secrets.token_urlsafe``), gives it to each backend and to the balancer's process in the
environment variable ``HALAB_SECRET`` -- never on the command line, which every local user can
read in ``ps`` -- and sends it as the header ``X-Halab-Secret`` with each fault switch
(:meth:`LiveCluster.slow`, ``fail``, ``hang``, ``heal``, ``faults``) and each
``GET /_lb/status``. Loopback is shared by every user of the machine (a lab box, a JupyterHub):
the backends' fault switch and the balancer's admin paths answer only that secret, and no
balancer forwards them.

**What ran where.** Each backend writes the ``X-Request-Id`` of every request it executes to a
ledger file in a private temporary directory of the cluster's (see
:mod:`halab.live.backend`); a SIGKILL loses no line. :meth:`LiveCluster.executions` reads them
all, across every process each backend has had, and :meth:`LiveCluster.executed_twice` names
any request that ran more than once: "no request executed twice", checked at the servers.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import secrets
import shutil
import tempfile
import threading
import time
import weakref
from collections import Counter
from collections.abc import Mapping
from dataclasses import fields

import numpy as np

from halab.balancing import make_policy
from halab.checks import check_instance, check_real, make_rng
from halab.live._proc import LOOPBACK, launch, stop_process, wait_ready
from halab.live.balancer import Balancer
from halab.live.drill import (  # Drill, served_again, LEADER_KINDS: re-exported from here
    LEADER_KINDS,  # noqa: F401
    SETTLE,
    Drill,
    _check_drill_times,
    run_fault,
    served_again,  # noqa: F401
    since_start,
)
from halab.live.events import KINDS, Event
from halab.live.fronts import check_front, front
from halab.live.loadgen import LoadGenerator, LoadResult, check_load
from halab.live.settings import MAX_BACKENDS, Settings

REVIVE_ATTEMPTS = 20  # binding the old port again: tries, 0.1 s apart
CONTROL_TIMEOUT = 2.0  # seconds for a fault-switch request
SECRET_HEADER = "X-Halab-Secret"  # carries the cluster's secret to the switches and admin paths
SECRET_ENV = "HALAB_SECRET"  # the environment variable that hands it to each child process
_SETTING_NAMES = frozenset(f.name for f in fields(Settings))


class _Timeline:
    """A cluster's events; what its threads and callbacks hold instead of the cluster itself."""

    def __init__(self) -> None:
        self.t0 = 0.0
        self.events: list[Event] = []
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)

    def record(self, event: Event) -> None:
        with self.changed:
            self.events.append(event.shifted(self.t0))
            self.changed.notify_all()


def _read_events(proc, timeline: _Timeline) -> None:
    """The reader thread: the balancer process's event lines, into ``timeline``."""
    try:
        for line in proc.stdout:
            try:
                data = json.loads(line)
                timeline.record(Event.from_dict(data["event"]))
            except (ValueError, KeyError, TypeError):
                continue
    except (OSError, ValueError):
        return


class _Resources:
    """Everything a cluster must release; shared with its finalizer (which must not hold it)."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.backends: list = []  # Popen or None, by index
        self.balancer_proc = None
        self.balancer: Balancer | None = None
        self.reader: threading.Thread | None = None
        self.ledgers: str | None = None  # the directory of the backends' ledgers
        self.closed = False

    def close(self) -> None:
        with self.lock:
            if self.closed:
                return
            self.closed = True
            if self.balancer is not None:
                self.balancer.stop()
            proc = self.balancer_proc
            if proc is not None:
                if proc.stdin is not None:
                    with contextlib.suppress(OSError):
                        proc.stdin.close()  # the balancer exits on end of file
                try:
                    proc.wait(2.0)
                except Exception:
                    proc.kill()
                    proc.wait(5.0)
                if self.reader is not None and self.reader is not threading.current_thread():
                    self.reader.join(5.0)
                stop_process(proc)
            for p in self.backends:
                stop_process(p)
            if self.ledgers is not None:
                shutil.rmtree(self.ledgers, ignore_errors=True)


class LiveCluster:
    """Real backends and a failover balancer on 127.0.0.1, started and stopped by ``with``.

    Args:
        backends: how many backend processes, 1 to 16.
        policy: a name from ``halab.balancing.POLICIES``.
        settings: a full :class:`~halab.live.settings.Settings`; or pass its fields as keyword
            arguments (``inter=0.2, rise=2, fall=2, retries=2, naive=False, ...``).
        balancer_process: run the balancer in its own process (default) rather than as
            threads of this one. Its own process keeps it off this interpreter's lock, as a
            real balancer would be.
        front: ``"halab"`` (default), or ``"haproxy"`` / ``"nginx"`` to put that server in
            front of the backends instead, configured from the same settings (see
            :mod:`halab.live.production`; raises ``ServerNotFound`` if it is not installed).
        start_timeout: seconds each process may take to start.

    Attributes:
        url: the balancer's address, ``http://127.0.0.1:<port>``.
        ports: each backend's port (kept across kill and revive).
        t0: ``time.monotonic()`` when the cluster started; timeline times count from it.
        secret: this cluster's random secret (``secrets.token_urlsafe(32)``), the one that
            its backends' fault switches and its balancer's admin paths answer; it reaches
            them in the environment, never in a command line.
    """

    def __init__(
        self,
        backends: int = 3,
        policy: str = "round_robin",
        *,
        settings: Settings | None = None,
        balancer_process: bool = True,
        start_timeout: float = 10.0,
        front: str = "halab",
        **options,
    ) -> None:
        if isinstance(backends, bool) or not isinstance(backends, int):
            raise ValueError(
                f"backends must be an integer in [1, {MAX_BACKENDS}], got {backends!r}"
            )
        if not 1 <= backends <= MAX_BACKENDS:
            raise ValueError(f"backends must be in [1, {MAX_BACKENDS}], got {backends}")
        unknown = set(options) - _SETTING_NAMES
        if unknown:
            raise ValueError(
                f"unknown option(s) {sorted(unknown)}; settings are {sorted(_SETTING_NAMES)}"
            )
        if settings is None:
            settings = Settings(policy=policy, **options)
        elif options or policy != "round_robin":
            raise ValueError("give either settings= or policy/options, not both")
        check_instance("settings", settings, Settings)
        if settings.weights is not None and len(settings.weights) != backends:
            raise ValueError(f"weights must have {backends} entries, got {len(settings.weights)}")
        make_policy(settings.policy, backends, weights=settings.weights, seed=settings.seed)
        if not 0 < start_timeout <= 120:
            raise ValueError(f"start_timeout must be in (0, 120] seconds, got {start_timeout}")
        check_front(front, settings, backends)
        self.front = front
        self.settings = settings
        self.n = backends
        self.names = [f"b{i}" for i in range(backends)]
        self.ports: list[int] = []
        self.balancer_process = balancer_process
        self.start_timeout = start_timeout
        self.t0 = 0.0
        self.url = ""
        self._timeline = _Timeline()
        self._events = self._timeline.events
        self._events_lock = self._timeline.lock
        self._changed = self._timeline.changed
        self.secret = secrets.token_urlsafe(32)
        self._res = _Resources()
        self._finalizer = weakref.finalize(self, _Resources.close, self._res)
        self._started = False

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> LiveCluster:
        """Start the backends, then the balancer; return when all of them listen."""
        if self._started:
            raise RuntimeError("this cluster was already started; make a new one")
        self._started = True
        self.t0 = self._timeline.t0 = time.monotonic()
        try:
            self._res.ledgers = tempfile.mkdtemp(prefix="halab-ledgers-")  # mode 0700
            os.mkdir(self._claims(), 0o700)  # halab.live.claims: who runs a late attempt
            procs = [
                self._launch("halab.live.backend", ["--name", name, *self._ledger_args(name)])
                for name in self.names
            ]
            self._res.backends = list(procs)
            for p in procs:
                self.ports.append(int(wait_ready(p, self.start_timeout)["port"]))
            if self.front == "halab" and self.balancer_process:
                self._start_balancer_process()
            else:
                own = (
                    {"secret": self.secret, "claims": self._claims()}
                    if self.front == "halab"
                    else {"start_timeout": self.start_timeout}
                )
                self._res.balancer = front(
                    self.front,
                    self.ports,
                    self.settings,
                    names=self.names,
                    on_event=self._timeline.record,
                    **own,
                ).start()
                self.url = self._res.balancer.url
            self._record(Event(time.monotonic(), "start", None, f"{self.n} backends, {self.url}"))
        except BaseException:
            self.close()
            raise
        return self

    def _start_balancer_process(self) -> None:
        args = [
            "--ports",
            ",".join(map(str, self.ports)),
            "--names",
            ",".join(self.names),
            "--settings",
            json.dumps(self.settings.to_dict()),
            "--claims",
            self._claims(),
        ]
        proc = self._launch("halab.live.balancer", args)
        self._res.balancer_proc = proc
        info = wait_ready(proc, self.start_timeout)
        self.url = f"http://{LOOPBACK}:{int(info['port'])}"
        reader = threading.Thread(
            target=_read_events, args=(proc, self._timeline), name="halab-events", daemon=True
        )
        self._res.reader = reader
        reader.start()

    def _claims(self) -> str:
        """The folder where the backends and halab's balancer settle late attempts."""
        return os.path.join(self._res.ledgers, "claims")

    def _ledger_args(self, name: str) -> list[str]:
        return ["--ledger", os.path.join(self._res.ledgers, f"{name}.ids")]

    def executions(self) -> Counter:
        """How many times each request id was executed, over every backend and every process
        each has had (killed ones too): a :class:`collections.Counter` of ids."""
        counts: Counter = Counter()
        for name in self.names:
            counts.update(request_id for _, request_id in self._ledger(name))
        return counts

    def executed_twice(self) -> dict[str, list[tuple[str, int]]]:
        """The requests executed more than once: id -> ``[(backend, pid), ...]`` (empty when
        no request ran twice)."""
        where: dict[str, list[tuple[str, int]]] = {}
        for name in self.names:
            for pid, request_id in self._ledger(name):
                where.setdefault(request_id, []).append((name, pid))
        return {k: v for k, v in where.items() if len(v) > 1}

    def _ledger(self, name: str) -> list[tuple[int, str]]:
        if self._res.ledgers is None:
            raise RuntimeError("the cluster is not started")
        path = os.path.join(self._res.ledgers, f"{name}.ids")
        try:
            with open(path, "rb") as f:
                lines = f.read().decode("latin-1").splitlines()
        except FileNotFoundError:
            return []
        out = []
        for line in lines:
            pid, _, request_id = line.partition(" ")
            out.append((int(pid), request_id))
        return out

    def _launch(self, module: str, args: list[str]):
        """Start a child with the cluster's secret in its environment (not in its argv)."""
        return launch(module, args, env={SECRET_ENV: self.secret})

    def close(self) -> None:
        """Stop every process and thread the cluster started. Idempotent."""
        self._res.close()

    def __enter__(self) -> LiveCluster:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        return self._res.closed

    # -- the timeline -----------------------------------------------------------------------

    def _record(self, event: Event) -> None:
        self._timeline.record(event)

    def now(self) -> float:
        """Seconds since the cluster started."""
        return time.monotonic() - self.t0

    @property
    def timeline(self) -> list[Event]:
        """Every event so far, in time order, times in seconds since the cluster started."""
        with self._events_lock:
            return sorted(self._events, key=lambda e: e.t)

    def events(self, kind: str | None = None, backend: int | None = None) -> list[Event]:
        """The events of one kind and/or one backend."""
        return [
            e
            for e in self.timeline
            if (kind is None or e.kind == kind) and (backend is None or e.backend == backend)
        ]

    def wait_for(
        self, kind: str, backend: int | None = None, *, after: float = 0.0, timeout: float = 5.0
    ) -> Event | None:
        """Block until an event of ``kind`` (for ``backend``) at or after ``after`` s; or None.

        ``timeout`` is in seconds, in ``[0, 3600]`` (NaN and inf refused: a wait must end).
        """
        check_real("timeout", timeout, 0, 3600)
        check_real("after", after, -1e9, 1e9)
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for e in self._events:
                    if (
                        e.kind == kind
                        and e.t >= after
                        and (backend is None or e.backend == backend)
                    ):
                        return e
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._changed.wait(left)

    # -- the backends -----------------------------------------------------------------------

    def _index(self, i: int) -> int:
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not 0 <= i < self.n:
            raise ValueError(f"backend index must be in [0, {self.n - 1}], got {i!r}")
        if not self._started or self.closed:
            raise RuntimeError("the cluster is not running; use it inside its with block")
        return int(i)

    def alive(self, i: int) -> bool:
        """Whether backend ``i``'s process is running."""
        i = self._index(i)
        p = self._res.backends[i]
        return p is not None and p.poll() is None

    def pid(self, i: int) -> int | None:
        """Backend ``i``'s process id, or None while it is dead."""
        i = self._index(i)
        p = self._res.backends[i]
        return p.pid if p is not None and p.poll() is None else None

    def kill(self, i: int) -> bool:
        """SIGKILL backend ``i`` (no goodbye, like a power cut); False if it was already dead."""
        i = self._index(i)
        with self._res.lock:
            p = self._res.backends[i]
            if p is None or p.poll() is not None:
                return False
            p.kill()
            self._record(Event(time.monotonic(), "kill", i, f"SIGKILL pid {p.pid}"))
            stop_process(p)
            self._res.backends[i] = None
            return True

    def revive(self, i: int) -> bool:
        """Start backend ``i`` again on its old port; False if it was alive."""
        i = self._index(i)
        with self._res.lock:
            if self.alive(i):
                return False
            args = ["--name", self.names[i], "--port", str(self.ports[i])]
            args += self._ledger_args(self.names[i])
            error = None
            for _ in range(REVIVE_ATTEMPTS):
                proc = self._launch("halab.live.backend", args)
                self._res.backends[i] = proc
                try:
                    wait_ready(proc, self.start_timeout)
                except RuntimeError as exc:  # the port is still held: try again shortly
                    self._res.backends[i] = None
                    error = exc
                    time.sleep(0.1)
                    continue
                self._record(Event(time.monotonic(), "revive", i, f"pid {proc.pid}"))
                return True
            raise RuntimeError(f"could not revive {self.names[i]} on port {self.ports[i]}: {error}")

    def _switch(self, i: int, changes: dict) -> dict:
        i = self._index(i)
        if not self.alive(i):
            raise RuntimeError(f"{self.names[i]} is not running; revive it first")
        conn = http.client.HTTPConnection(LOOPBACK, self.ports[i], timeout=CONTROL_TIMEOUT)
        try:
            conn.request(
                "POST",
                "/_fault",
                body=json.dumps(changes),
                headers={"Connection": "close", SECRET_HEADER: self.secret},
            )
            resp = conn.getresponse()
            data = json.loads(resp.read() or b"{}")
        finally:
            conn.close()
        if resp.status != 200:
            raise ValueError(data.get("error", f"fault switch answered {resp.status}"))
        return data

    def slow(self, i: int, seconds: float) -> None:
        """Make backend ``i`` wait ``seconds`` before each answer (0 to undo)."""
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
            raise ValueError(f"seconds must be a number in [0, 3600], got {seconds!r}")
        if not 0 <= seconds <= 3600:
            raise ValueError(f"seconds must be in [0, 3600], got {seconds}")
        self._switch(i, {"slow": float(seconds)})
        self._record(Event(time.monotonic(), "slow", int(i), f"+{seconds:g} s per answer"))

    def fail(self, i: int, rate: float) -> None:
        """Make backend ``i`` answer 500 to a fraction ``rate`` of requests (0 to undo)."""
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
            raise ValueError(f"rate must be in [0, 1], got {rate!r}")
        self._switch(i, {"fail": float(rate)})
        self._record(Event(time.monotonic(), "fail", int(i), f"{rate:.0%} of answers are 500"))

    def hang(self, i: int, on: bool = True) -> None:
        """Make backend ``i`` accept requests and never answer (``on=False`` releases them)."""
        self._switch(i, {"hang": bool(on)})
        self._record(Event(time.monotonic(), "hang" if on else "heal", int(i), ""))

    def heal(self, i: int) -> None:
        """Clear every fault of backend ``i``."""
        self._switch(i, {"reset": True})
        self._record(Event(time.monotonic(), "heal", int(i), "faults cleared"))

    def faults(self, i: int) -> dict:
        """Backend ``i``'s fault switches."""
        i = self._index(i)
        conn = http.client.HTTPConnection(LOOPBACK, self.ports[i], timeout=CONTROL_TIMEOUT)
        try:
            conn.request("GET", "/_fault", headers={SECRET_HEADER: self.secret})
            resp = conn.getresponse()
            data = json.loads(resp.read() or b"{}")
            if resp.status != 200:
                raise ValueError(data.get("error", f"fault switch answered {resp.status}"))
            return data
        finally:
            conn.close()

    # -- the balancer -----------------------------------------------------------------------

    def status(self) -> list[dict]:
        """Each backend's state as the balancer sees it (health, ejection, traffic)."""
        if not self._started or self.closed:
            raise RuntimeError("the cluster is not running; use it inside its with block")
        if self._res.balancer is not None:
            return self._res.balancer.status()
        conn = http.client.HTTPConnection(LOOPBACK, int(self.url.rsplit(":", 1)[1]), timeout=2.0)
        try:
            conn.request("GET", "/_lb/status", headers={SECRET_HEADER: self.secret})
            return json.loads(conn.getresponse().read())["backends"]
        finally:
            conn.close()

    # -- load -------------------------------------------------------------------------------

    def load_in_background(self, **kwargs) -> LoadGenerator:
        """Start a :class:`~halab.live.loadgen.LoadGenerator` on ``url``; times count from t0."""
        if not self._started or self.closed:
            raise RuntimeError("the cluster is not running; use it inside its with block")
        kwargs.setdefault("t0", self.t0)
        return LoadGenerator(self.url, **kwargs).start()

    def load(self, **kwargs) -> LoadResult:
        """Send bounded load through the balancer and return every record."""
        gen = self.load_in_background(**kwargs)
        try:
            return gen.join()
        finally:
            gen.stop()

    def drill(
        self,
        victim: int = 1,
        *,
        rate: float = 100.0,
        kill_at: float = 1.0,
        revive_at: float = 2.5,
        duration: float = 4.0,
        concurrency: int = 4,
        timeout: float = 5.0,
        settle: float = SETTLE,
    ) -> Drill:
        """Kill backend ``victim`` under steady load, revive it, and return what happened.

        Args:
            victim: the backend to kill.
            rate: requests per second during the whole drill.
            kill_at: seconds after the load starts when the SIGKILL is sent.
            revive_at: seconds after the load starts when the backend is started again.
            duration: seconds of load planned.
            concurrency: client worker threads.
            timeout: the client's timeout per request, seconds.
            settle: seconds the load may go on after ``duration`` until the revived victim has
                answered a request (then 0.3 s more), so that a slow machine stretches the
                drill instead of ending it before the readmission it shows; in ``[0, 60]``.
        """
        victim = self._index(victim)
        _check_drill_times(kill_at, revive_at, duration, settle)
        gen = self.load_in_background(
            rate=rate, duration=duration + settle, concurrency=concurrency, timeout=timeout
        )
        try:
            kill_t, revive_t, (result,) = run_fault(
                self, victim, [gen], kill_at=kill_at, revive_at=revive_at, duration=duration
            )
        finally:
            gen.stop()
        time.sleep(0.05)  # let the last events arrive from the balancer's process
        timeline = since_start(self.timeline, result, 0.0)
        return Drill(result, timeline, victim, kill_t, revive_t, self.settings)

    def compare(
        self,
        variants: Mapping[str, Settings],
        *,
        victim: int = 1,
        rate: float = 100.0,
        kill_at: float = 1.0,
        revive_at: float = 2.5,
        duration: float = 4.0,
        concurrency: int = 4,
        timeout: float = 5.0,
        settle: float = SETTLE,
    ) -> dict[str, Drill]:
        """One kill-and-revive drill seen through several balancers at once.

        Each variant gets its own balancer (threads of this process) in front of the same
        backends, and its own load generator at ``rate``; the one SIGKILL and the one revival
        hit them all at the same instant, so their answers can be compared side by side.

        Args:
            variants: a label for each balancer, and its settings.
            victim, rate, kill_at, revive_at, duration, concurrency, timeout, settle: as
                :meth:`drill` (each balancer's load settles on its own; one that never serves
                the victim again, as the naive one, runs ``settle`` seconds more).

        Returns:
            A :class:`Drill` per label, in the order given.
        """
        victim = self._index(victim)
        if not variants:
            raise ValueError("variants must name at least one balancer's settings")
        _check_drill_times(kill_at, revive_at, duration, settle)
        check_load(rate, concurrency, duration=duration + settle, timeout=timeout)
        events: dict[str, list[Event]] = {name: [] for name in variants}
        with contextlib.ExitStack() as stack:
            urls = {}
            for name, settings in variants.items():
                urls[name] = stack.enter_context(self._side_balancer(settings, events[name])).url
            gens = {
                name: LoadGenerator(
                    url,
                    rate=rate,
                    duration=duration + settle,
                    concurrency=concurrency,
                    timeout=timeout,
                    t0=self.t0,
                )
                for name, url in urls.items()
            }
            for gen in gens.values():
                stack.callback(gen.stop)
                gen.start()
            kill_t, revive_t, settled = run_fault(
                self,
                victim,
                list(gens.values()),
                kill_at=kill_at,
                revive_at=revive_at,
                duration=duration,
            )
            results = dict(zip(gens, settled))
        ours = [e for e in self.events(backend=victim) if e.kind in ("kill", "revive")]
        ours = [e for e in ours if e.t >= kill_t - 1e-9]
        return {
            name: Drill(
                results[name],
                sorted(events[name] + ours, key=lambda e: e.t),
                victim,
                kill_t,
                revive_t,
                settings,
            )
            for name, settings in variants.items()
        }

    def _side_balancer(self, settings: Settings, events: list[Event]) -> Balancer:
        """Another halab balancer (threads of this process, not started) in front of the same
        backends, its events into ``events`` on the cluster's clock."""
        return Balancer(
            self.ports,
            settings,
            names=self.names,
            on_event=lambda e: events.append(e.shifted(self.t0)),
            secret=self.secret,
            claims=self._claims(),
        )

    def detection_trials(
        self,
        variants: Mapping[str, Settings],
        *,
        victim: int = 0,
        trials: int = 3,
        seed: int = 0,
        timeout: float = 10.0,
    ) -> dict[str, np.ndarray]:
        """Measure, without load, how long each balancer takes to drop and readmit a backend.

        Each variant gets its own balancer in front of the same backends. Each trial waits a
        random fraction of the longest check interval (so that the death falls anywhere in the
        check cycle), kills ``victim``, waits until every balancer has removed it, waits
        again, revives it, and waits until every balancer has readmitted it.

        Args:
            variants: a label for each balancer, and its settings (checks on).
            victim: the backend to kill and revive.
            trials: how many deaths and returns.
            seed: seeds the random waits (``numpy.random.default_rng``).
            timeout: seconds to wait for each removal or readmission.

        Returns:
            Per label, an array of shape ``(trials, 2)``: seconds from kill to removal and
            from revive to readmission.
        """
        victim = self._index(victim)
        if not variants:
            raise ValueError("variants must name at least one balancer's settings")
        if isinstance(trials, bool) or not isinstance(trials, int) or not 1 <= trials <= 100:
            raise ValueError(f"trials must be an integer in [1, 100], got {trials!r}")
        if any(not s.checks or s.naive for s in variants.values()):
            raise ValueError("every variant needs health checks on (checks=True, naive=False)")
        rng = make_rng(seed)
        longest = max(s.inter for s in variants.values())
        events: dict[str, list[Event]] = {name: [] for name in variants}
        out = {name: np.full((trials, 2), np.nan) for name in variants}

        def wait(kind: str, after: float) -> dict[str, float | None]:
            deadline = time.monotonic() + timeout
            found: dict[str, float | None] = dict.fromkeys(variants)
            while time.monotonic() < deadline:
                for name in variants:
                    if found[name] is None:
                        times = [
                            e.t
                            for e in list(events[name])
                            if e.kind == kind and e.backend == victim and e.t >= after
                        ]
                        found[name] = min(times) if times else None
                if all(t is not None for t in found.values()):
                    break
                time.sleep(0.005)
            return found

        with contextlib.ExitStack() as stack:
            for name, settings in variants.items():
                stack.enter_context(self._side_balancer(settings, events[name]))
            time.sleep(0.1)  # one passing check lifts every counter to full health
            for k in range(trials):
                time.sleep(rng.uniform(0.0, longest))
                self.kill(victim)
                kill_t = self.events("kill", victim)[-1].t
                removed = wait("removed", kill_t)
                time.sleep(rng.uniform(0.0, longest))
                self.revive(victim)
                revive_t = self.events("revive", victim)[-1].t
                back = wait("readmitted", revive_t)
                for name in variants:
                    if removed[name] is not None:
                        out[name][k, 0] = removed[name] - kill_t
                    if back[name] is not None:
                        out[name][k, 1] = back[name] - revive_t
        return out

    def __repr__(self) -> str:
        state = "closed" if self.closed else ("running" if self._started else "not started")
        return (
            f"LiveCluster(backends={self.n}, policy={self.settings.policy!r}, {state} {self.url})"
        )
