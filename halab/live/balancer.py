"""The failover balancer: an HTTP reverse proxy on 127.0.0.1.

For each request it asks a ``halab.balancing`` policy for a backend among those in rotation,
forwards the request over a pooled keep-alive connection, and answers with the backend's
answer plus two headers: ``X-Backend`` (who answered) and ``X-Tried`` (everyone it asked, in
order). What keeps clients from seeing a failure:

- **active health checks** (:class:`~halab.live.health.HealthCheck`, HAProxy's rise/fall
  counter): one thread per backend sends ``GET /health`` and waits ``inter`` seconds after
  each check ends before the next, as HAProxy re-arms its check timer;
- **passive ejection** (:class:`~halab.live.health.OutlierDetector`, Envoy's outlier
  detection): ``consecutive_5xx`` failed requests in a row take a backend out at once;
- **bounded retries** (:func:`~halab.live.retry.may_retry`) on backends not yet tried;
- **timeouts**: ``connect_timeout`` to open a connection, ``timeout`` of silence per read;
- **a panic threshold** (Envoy's ``healthy_panic_threshold``): while fewer than
  ``panic_threshold`` percent of the backends are in rotation, route to every backend that is
  not known dead (nothing listens on its port), so that health checks timing out under
  overload cannot take the whole cluster out;
- **a prompt 503** with a body naming each backend's state when none is in rotation.

``Settings(naive=True)`` turns all of that off and routes like the balancer of many tutorials:
random choice (called "round robin"), a backend removed forever after one failed request, no
timeouts, and a spin loop when every backend is gone. Caps (``naive_cap`` seconds) keep the
spin and the waits finite and the answers say so; the tutorial code has no cap.

:class:`Balancer` runs in the calling process (threads). ``python -m halab.live.balancer``
runs one in its own process: it prints its port, then one JSON event per line, and exits with
its parent. Paths under ``/_lb/`` are the balancer's own: ``GET /_lb/status`` gives each
backend's state as JSON, to a client that sends the cluster's secret in ``X-Halab-Secret``
(read from the environment variable ``HALAB_SECRET``, or ``Balancer(..., secret=...)``; else
``403``). The fault switches ``/_fault`` are never forwarded (``403``), however the path is
spelled: it is percent-decoded, its slashes collapsed, its dot segments resolved and its case
folded before the check (:func:`~halab.live._http.normalise_path`); an ``X-Halab-Secret``
header from a client is never forwarded either.

The HTTP side is :mod:`halab.live._http`, shared with the backends: an event loop that reads
and checks each request (listen backlog, a connection cap like HAProxy's ``maxconn``,
header, keep-alive, body and send timeouts, a 1 MiB body limit, RFC 9112 framing with
chunked bodies decoded and forwarded with a ``Content-Length``). The same loop forwards, as
HAProxy's and nginx's do: :meth:`Balancer._route` and :meth:`Balancer._forward` are
generators that ``yield`` each connect and each exchange with a backend, and the loop resumes
them when the backend's socket is ready, so that one thread serves every client with no
hand-off between threads (read ``yield`` as "wait for this, then go on"). The naive
balancer, whose spin and waits need threads, runs the same generators on the server's worker
threads, each step blocking. Forwarding never raises: whatever goes wrong, the pooled
connection is closed or given back and the ``in_flight`` count released (a ``finally``). An
idle pooled connection is checked before reuse, and a request that meets a reused connection
the backend had already closed is sent once more on a fresh one (urllib3 checks idle
connections the same way).
"""

from __future__ import annotations

import argparse
import contextlib
import hmac
import http.client
import itertools
import json
import os
import secrets
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence

from halab.balancing import make_policy
from halab.checks import check_instance
from halab.live import claims as claiming
from halab.live._http import (
    Connect,
    Exchange,
    Limits,
    Request,
    Server,
    Upstream,
    UpstreamClosed,
    is_under,
    normalise_path,
    run_blocking,
)
from halab.live._proc import LOOPBACK, announce, watch_parent
from halab.live.events import Event
from halab.live.health import DOWN, UP, HealthCheck, OutlierDetector
from halab.live.retry import Attempt, may_retry
from halab.live.settings import IDEMPOTENT_METHODS, MAX_BACKENDS, Settings

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
        "server",
        "date",
    }
)
MAX_IDLE_PER_BACKEND = 64
POOL_IDLE_SECONDS = 5.0  # an idle pooled connection older than this is closed, not reused
# (shorter than the backends' keep-alive timeout, so that we close first, as nginx's upstream
# ``keepalive_timeout`` is meant to be set below the server's)
SECRET_ENV = "HALAB_SECRET"
SECRET_HEADER = "X-Halab-Secret"
REQUEST_ID_HEADER = "X-Request-Id"
# never forwarded in a request: the secret is the lesson's, and ``Expect`` is answered here
NOT_FORWARDED = HOP_BY_HOP | {"expect", SECRET_HEADER.lower(), claiming.ATTEMPT_HEADER.lower()}
NAIVE_SPIN_SLEEP = 0.001  # seconds between spins; a tutorial's loop does not even sleep


class _Pool:
    """Keep-alive connections to one backend, shared by whoever forwards (the loop, or the
    naive balancer's worker threads).

    An idle connection is checked before it is reused, as urllib3 does: if its socket is
    readable the backend has closed it (or sent bytes nobody asked for), and it is dropped.
    """

    def __init__(self, port: int) -> None:
        self.port = port
        self._idle: list[Upstream] = []
        self._all: set[Upstream] = set()
        self._lock = threading.Lock()
        self.closed = False

    def acquire(self) -> tuple[Upstream, bool]:
        """An idle connection that still looks open (``reused``), else a new unconnected one."""
        now = time.monotonic()
        while True:
            with self._lock:
                conn = self._idle.pop() if self._idle else None
                if conn is None:
                    conn = Upstream(self.port, LOOPBACK)
                    self._all.add(conn)
                    return conn, False
            if now - conn.idle_since < POOL_IDLE_SECONDS and not conn.stale():
                return conn, True
            self.discard(conn)

    def acquire_fresh(self) -> Upstream:
        """A new unconnected connection, never an idle one."""
        conn = Upstream(self.port, LOOPBACK)
        with self._lock:
            self._all.add(conn)
        return conn

    def release(self, conn: Upstream) -> None:
        conn.idle_since = time.monotonic()
        with self._lock:
            if not self.closed and len(self._idle) < MAX_IDLE_PER_BACKEND:
                self._idle.append(conn)
                return
            self._all.discard(conn)
        conn.close()

    def discard(self, conn: Upstream) -> None:
        with self._lock:
            self._all.discard(conn)
        conn.close()

    def clear(self) -> None:
        """Close the idle connections (they point at a process that may be gone)."""
        with self._lock:
            idle, self._idle = self._idle, []
            for conn in idle:
                self._all.discard(conn)
        for conn in idle:
            conn.close()

    def shutdown_all(self) -> None:
        """Shut every connection down (a request waiting on one fails at once); close none."""
        with self._lock:
            self.closed = True
            conns = list(self._all)
        for conn in conns:
            conn.shutdown()

    def close_all(self) -> None:
        """Close every connection, idle or in use (an in-use one fails its request at once)."""
        with self._lock:
            self.closed = True
            conns, self._all, self._idle = list(self._all), set(), []
        for conn in conns:
            conn.shutdown()
            conn.close()


class Balancer:
    """A failover reverse proxy in front of backends on 127.0.0.1.

    Args:
        ports: the backends' ports on 127.0.0.1, in index order.
        settings: a :class:`~halab.live.settings.Settings` (defaults sized for a lesson).
        names: the backends' names for ``X-Backend`` (default ``b0``, ``b1``, ...).
        on_event: called with each :class:`~halab.live.events.Event` (from any thread).
        clock: seconds, monotonic; events carry its readings.
        secret: what ``X-Halab-Secret`` must carry for ``GET /_lb/status``; default the
            ``HALAB_SECRET`` environment variable, else a random one (``.secret``).
        limits: the HTTP server's :class:`~halab.live._http.Limits` (timeouts, sizes, workers).

    Use it as a context manager, or call :meth:`start` and :meth:`stop`.
    """

    def __init__(
        self,
        ports: Sequence[int],
        settings: Settings | None = None,
        *,
        names: Sequence[str] | None = None,
        on_event: Callable[[Event], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        secret: str | None = None,
        limits: Limits | None = None,
        claims: str | None = None,
    ) -> None:
        ports = list(ports)
        if claims is not None and not os.path.isdir(check_instance("claims", claims, str)):
            raise ValueError(f"claims must be an existing folder, got {claims!r}")
        self._claims = claims
        if not 1 <= len(ports) <= MAX_BACKENDS:
            raise ValueError(f"ports must list 1 to {MAX_BACKENDS} backends, got {len(ports)}")
        for p in ports:
            if isinstance(p, bool) or not isinstance(p, int) or not 1 <= p <= 65535:
                raise ValueError(f"each port must be an integer in [1, 65535], got {p!r}")
        self.settings = settings = settings if settings is not None else Settings()
        check_instance("settings", settings, Settings)
        for what, fn in (("on_event", on_event), ("clock", clock)):
            if fn is not None and not callable(fn):
                raise TypeError(f"{what} must be callable, got {fn!r}")
        self.n = n = len(ports)
        self.ports = ports
        self.names = list(names) if names is not None else [f"b{i}" for i in range(n)]
        if len(self.names) != n:
            raise ValueError(f"names must have {n} entries, got {len(self.names)}")
        if settings.weights is not None and len(settings.weights) != n:
            raise ValueError(f"weights must have {n} entries, got {len(settings.weights)}")
        self._on_event = on_event
        self._clock = clock
        self._lock = threading.Lock()
        self._stop = threading.Event()
        if settings.naive:
            self.policy = make_policy("random", n, seed=settings.seed)  # "round robin", it says
        else:
            self.policy = make_policy(
                settings.policy, n, weights=settings.weights, seed=settings.seed
            )
        self.checks = [HealthCheck(settings.rise, settings.fall) for _ in range(n)]
        self.outliers = (
            OutlierDetector(
                n,
                consecutive_5xx=settings.consecutive_5xx,
                base_ejection_time=settings.base_ejection_time,
                max_ejection_percent=settings.max_ejection_percent,
                max_ejection_time=settings.max_ejection_time,
            )
            if settings.consecutive_5xx is not None and not settings.naive
            else None
        )
        # known dead: the last check or request found nothing listening (connection refused);
        # panic mode routes to every backend but these (see Settings.panic_threshold)
        self.refused = [False] * n
        self.removed_forever: set[int] = set()  # the naive balancer's memory
        self.in_flight = [0] * n
        self.attempts = [0] * n  # requests sent to each backend
        self.served = [0] * n  # answers below 500 from each backend
        self._in_rotation = [True] * n
        self._pools = [_Pool(p) for p in ports]
        self.secret = secret or os.environ.get(SECRET_ENV) or secrets.token_urlsafe(24)
        self._id_prefix = f"lb{secrets.token_hex(4)}"
        self._ids = itertools.count(1)
        self.limits = limits if limits is not None else Limits()
        self._server: Server | None = None
        self._threads: list[threading.Thread] = []
        self.port: int | None = None

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` once started."""
        if self.port is None:
            raise RuntimeError("the balancer is not started")
        return f"http://{LOOPBACK}:{self.port}"

    def start(self) -> Balancer:
        """Bind 127.0.0.1 on a port the OS picks, and start serving and checking."""
        if self._server is not None:
            raise RuntimeError("the balancer is already started")
        self._server = Server(
            self._serve,
            host=LOOPBACK,
            port=0,
            limits=self.limits,
            quick=self._quick,
            name="halab-balancer",
        )
        self.port = self._server.server_address[1]
        self._server.start()
        if self.settings.checks and not self.settings.naive:
            for i in range(self.n):
                t = threading.Thread(
                    target=self._check_loop, args=(i,), name=f"halab-check-b{i}", daemon=True
                )
                self._threads.append(t)
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        """Stop serving and checking; close every socket; join every thread. Idempotent."""
        self._stop.set()
        server, self._server = self._server, None
        for pool in self._pools:  # requests in flight fail at once
            pool.shutdown_all()
        if server is not None:
            server.stop()
        for pool in self._pools:  # once the server's loop no longer uses them
            pool.close_all()
        for t in self._threads:
            t.join()
        self._threads = []

    def __enter__(self) -> Balancer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- state ------------------------------------------------------------------------------

    def _emit(self, kind: str, i: int | None, detail: str = "", t: float | None = None) -> None:
        if self._on_event is not None:
            self._on_event(Event(self._clock() if t is None else t, kind, i, detail))

    def _routable(self, i: int, now: float) -> bool:
        if self.settings.naive:
            return i not in self.removed_forever
        if self.settings.checks and not self.checks[i].up:
            return False
        return not (self.outliers is not None and self.outliers.ejected(i, now))

    def _down(self) -> set[int]:
        """Backends taken DOWN by active health checks (out of rotation, not ejected)."""
        if not self.settings.checks:
            return set()
        return {j for j in range(self.n) if not self.checks[j].up}

    def _candidates(self) -> tuple[list[bool], bool]:
        """Under the lock, after :meth:`_refresh`: who may be picked, and whether in panic.

        Envoy's panic threshold: while fewer than ``panic_threshold`` percent of the backends
        are in rotation, route to every backend not known to be dead (nothing listening on its
        port), whatever its health checks or ejection say. Above it, only those in rotation.
        """
        share = 100.0 * sum(self._in_rotation) / self.n
        if share < self.settings.panic_threshold:
            return [not self.refused[j] for j in range(self.n)], True
        return list(self._in_rotation), False

    def _refresh(self, now: float, reason: dict[int, str] | None = None) -> None:
        """Under the lock: return expired ejections, and note who entered or left rotation."""
        reason = dict(reason or {})
        if self.outliers is not None:
            for i in self.outliers.expired(now):
                self._emit("uneject", i, "ejection time over", now)
                reason.setdefault(i, "ejection time over")
        for i in range(self.n):
            now_in = self._routable(i, now)
            if now_in != self._in_rotation[i]:
                self._in_rotation[i] = now_in
                why = reason.get(i, "")
                self._emit("readmitted" if now_in else "removed", i, why, now)
                if not now_in:
                    self._pools[i].clear()

    def in_rotation(self) -> list[bool]:
        """Which backends may receive traffic now."""
        with self._lock:
            now = self._clock()
            self._refresh(now)
            return list(self._in_rotation)

    def status(self) -> list[dict]:
        """Each backend's state: health counter, ejection, traffic counters."""
        with self._lock:
            now = self._clock()
            self._refresh(now)
            out = []
            for i in range(self.n):
                row = {
                    "backend": i,
                    "name": self.names[i],
                    "port": self.ports[i],
                    "in_rotation": self._in_rotation[i],
                    "check": self.checks[i].state if self.settings.checks else "off",
                    "health": self.checks[i].health,
                    "in_flight": self.in_flight[i],
                    "attempts": self.attempts[i],
                    "served": self.served[i],
                }
                if self.outliers is not None:
                    row.update(self.outliers.snapshot(i, now))
                if self.settings.naive:
                    row["removed_forever"] = i in self.removed_forever
                out.append(row)
            return out

    def _why_out(self, i: int, now: float) -> str:
        if self.settings.naive:
            return "removed forever after one failed request"
        parts = []
        if self.settings.checks and not self.checks[i].up:
            parts.append(f"DOWN (health checks failing, rise {self.settings.rise} to return)")
        if self.outliers is not None and self.outliers.ejected(i, now):
            left = self.outliers.snapshot(i, now)["ejected_for"]
            parts.append(f"ejected after consecutive failures, {left:.1f} s left")
        return " and ".join(parts) or "in rotation"

    # -- health checks ----------------------------------------------------------------------

    def _probe(self, i: int) -> tuple[bool, str]:
        """One active check: ``GET check_path`` within ``check_timeout``; 2xx/3xx passes."""
        timeout = self.settings.effective_check_timeout
        deadline = time.monotonic() + timeout
        conn = http.client.HTTPConnection(LOOPBACK, self.ports[i], timeout=timeout)
        try:
            conn.connect()
            conn.sock.settimeout(max(1e-3, deadline - time.monotonic()))
            conn.request("GET", self.settings.check_path, headers={"Connection": "close"})
            resp = conn.getresponse()
            resp.read()
            if 200 <= resp.status < 400:
                return True, f"check answered {resp.status}"
            return False, f"check answered {resp.status}"
        except TimeoutError:
            return False, f"check timed out after {timeout:g} s"
        except ConnectionRefusedError:
            return False, "check: connection refused"
        except (OSError, http.client.HTTPException) as exc:
            return False, f"check failed: {type(exc).__name__}"
        finally:
            conn.close()

    def _check_loop(self, i: int) -> None:
        s = self.settings
        while not self._stop.is_set():
            ok, why = self._probe(i)
            if self._stop.is_set():
                break
            with self._lock:
                self.refused[i] = why == "check: connection refused"
                now = self._clock()
                change = self.checks[i].record(ok)
                reason = {}
                if change == DOWN:
                    self._emit("down", i, f"health checks failed; last: {why}", now)
                    reason[i] = "health check DOWN"
                elif change == UP:
                    self._emit("up", i, f"{s.rise} checks passed in a row", now)
                    reason[i] = "health check UP"
                up_now = ok and self.checks[i].up
                if up_now and self.outliers is not None and self.outliers.uneject(i):
                    self._emit("uneject", i, "an active check passed", now)
                    reason.setdefault(i, "an active check passed")
                self._refresh(now, reason)
            self._stop.wait(s.inter)

    # -- forwarding -------------------------------------------------------------------------

    def _forward(
        self,
        i: int,
        method: str,
        path: str,
        headers: list,
        body: bytes | None,
        connect_timeout: float,
        timeout: float,
        claim: claiming.Claim | None = None,
    ):
        """Send one request to backend ``i``; never raises, always gives its connection back.

        A generator, to be run with ``yield from``: it yields each :class:`~halab.live._http.
        Connect` and :class:`~halab.live._http.Exchange` and is resumed with its result (the
        server's loop does them without blocking; a worker thread with ``run_blocking``),
        then returns ``(attempt, response or None, body)``. ``claim`` settles, when the answer
        is late, whether the backend runs the attempt or it is given up
        (:mod:`halab.live.claims`).

        A request that fails on a *reused* keep-alive connection before any byte of an answer
        (the backend had closed it: killed, or its idle timeout) is sent once more on a fresh
        connection to the same backend, whatever its method, as HTTP client libraries do with
        a stale pooled connection. It cannot run twice: a backend that closed an idle
        connection never read the request, and a fresh connection to a killed backend is
        refused. In that last case the attempt counts as *reached* unless the connection was
        reset (see :class:`~halab.live._http.UpstreamClosed`: a clean close means the backend
        may have read and run the request before it died), so that a request that is not
        idempotent is never sent to a second backend after it may have run on the first.
        """
        pool = self._pools[i]
        start = time.monotonic()
        if pool.closed:
            return Attempt(i, None, False, "the balancer is stopping", 0.0), None, b""
        conn, reused = pool.acquire()
        keep = False
        exchange = None
        try:
            if not reused:
                why = yield from self._connect(conn, connect_timeout)
                if why is not None:
                    return Attempt(i, None, False, why, time.monotonic() - start), None, b""
            exchange = Exchange(conn, method, path, headers, body or b"", timeout, claim)
            try:
                resp = yield exchange
            except UpstreamClosed as exc:
                if not reused:
                    raise
                pool.discard(conn)  # stale: try once on a fresh connection
                conn, reused = pool.acquire_fresh(), False
                why = yield from self._connect(conn, connect_timeout)
                if why is not None:  # it died; if it may have read the request first, say
                    # "reached", so that a request that is not idempotent goes nowhere else
                    why = f"{why}, after a kept-alive connection closed"
                    reached = exc.may_have_run
                    return Attempt(i, None, reached, why, time.monotonic() - start), None, b""
                exchange = Exchange(conn, method, path, headers, body or b"", timeout, claim)
                resp = yield exchange
            keep = not resp.will_close
            latency = time.monotonic() - start
            return Attempt(i, resp.status, True, None, latency), resp, resp.body
        except UpstreamClosed as exc:  # on a fresh connection: reset means never read
            why = f"closed before an answer ({'kept-alive' if reused else 'new'} connection)"
            reached = exc.may_have_run
            return Attempt(i, None, reached, why, time.monotonic() - start), None, b""
        except TimeoutError:
            why = f"no answer within {timeout:g} s"
            # the loop asked the claim already (and waited once more if the backend runs
            # it); a worker thread's blocking exchange asks it here
            ran = exchange is not None and (
                exchange.ran or (exchange.claim is not None and not exchange.claim.give_up())
            )
            if ran:
                why += " (the backend claimed it: it ran, so it is not retried)"
            return Attempt(i, None, True, why, time.monotonic() - start, ran), None, b""
        except Exception as exc:  # whatever it is, the connection and the count come back
            why = f"{type(exc).__name__} ({'kept-alive' if reused else 'new'} connection)"
            return Attempt(i, None, True, why, time.monotonic() - start), None, b""
        finally:
            if keep:
                pool.release(conn)
            else:
                pool.discard(conn)

    @staticmethod
    def _connect(conn: Upstream, connect_timeout: float):
        """Open ``conn`` (a generator, like :meth:`_forward`): ``None``, or why it failed
        (the request was not sent)."""
        try:
            yield Connect(conn, connect_timeout)
        except TimeoutError:
            return "connect timed out"
        except ConnectionRefusedError:
            return "connect refused"
        except OSError as exc:
            return f"connect failed: {type(exc).__name__}"
        return None

    def _reply(
        self,
        h: Request,
        status: int,
        body: bytes,
        headers: Sequence[tuple[str, str]] = (),
    ) -> None:
        """Set the answer the server sends for ``h`` (``Content-Length`` is added there)."""
        h.response = (status, [("Server", "halab-balancer"), *headers], body)

    def _text(self, h, status: int, message: str, tried: Sequence[int], extra=()) -> None:
        headers = [("Content-Type", "text/plain; charset=utf-8"), *extra]
        headers.append(("X-Tried", ",".join(self.names[j] for j in tried)))
        self._reply(h, status, (message.rstrip() + "\n").encode(), headers)

    def _pass_through(self, h, resp, data: bytes, i: int, tried: Sequence[int]) -> None:
        headers = [(k, v) for k, v in resp.getheaders() if k.lower() not in HOP_BY_HOP]
        headers.append(("X-Backend", self.names[i]))
        headers.append(("X-Tried", ",".join(self.names[j] for j in tried)))
        self._reply(h, resp.status, data, headers)

    def _read_request(self, h: Request) -> tuple[list, bytes | None, str]:
        """The fields to forward, the body (already read, de-chunked, size-checked) and the
        request's ``X-Request-Id``.

        Hop-by-hop fields, the ones ``Connection`` names, ``Expect`` and ``X-Halab-Secret``
        stay here (RFC 9110 §7.6.1); the body goes on with a ``Content-Length``. A request
        without ``X-Request-Id`` gets one (this balancer's random prefix and a counter), so
        that the backends can say which requests they ran; Envoy does the same
        (``generate_request_id``, on by default), nginx has ``$request_id`` for it.
        """
        named = {t.strip().lower() for v in h.headers.get_all("connection") for t in v.split(",")}
        dropped = NOT_FORWARDED | named if named else NOT_FORWARDED
        headers = [(k, v) for k, v in h.headers if k.lower() not in dropped]
        headers.append(("X-Forwarded-For", h.client_address[0]))
        request_id = h.headers.get(REQUEST_ID_HEADER)
        if request_id is None:
            request_id = f"{self._id_prefix}-{next(self._ids)}"
            headers.append((REQUEST_ID_HEADER, request_id))
        return headers, (h.body or None), request_id

    def _serve(self, h: Request) -> tuple[int, list, bytes]:
        """The server's handler on a worker thread (the naive balancer's): each connect and
        exchange blocks."""
        return run_blocking(self._answer(h))

    def _quick(self, h: Request):
        """The server's handler on its loop thread: the answer's generator, which the loop
        resumes as the backend's sockets become ready; ``None`` for the naive balancer, whose
        spin and waits need a thread of their own (:meth:`_serve`)."""
        return None if self.settings.naive else self._answer(h)

    def _answer(self, h: Request):
        """Route ``h`` and return the answer (a generator: see :meth:`_forward`)."""
        h.response = None
        yield from self._handle(h)
        if h.response is None:  # a bug; the server answers 500 and closes
            raise RuntimeError("no answer was set")
        return h.response

    def _handle(self, h: Request):
        if self._stop.is_set():
            self._text(h, 503, "halab balancer: stopping", [])
            h.keep_alive = False
            return
        headers, body, request_id = self._read_request(h)
        path = normalise_path(h.path)
        if is_under(path, "/_lb"):
            self._admin(h)
        elif is_under(path, "/_fault"):
            self._text(h, 403, "halab balancer: the fault switches are not forwarded", [])
        elif self.settings.naive:
            yield from self._route_naive(h, headers, body)
        else:
            yield from self._route(h, headers, body, request_id)

    def _admin(self, h) -> None:
        """``/_lb/...``: the balancer's own paths, for the cluster's secret only."""
        given = h.headers.get(SECRET_HEADER) or ""
        if not hmac.compare_digest(given.encode(), self.secret.encode()):
            self._text(h, 403, f"halab balancer: /_lb/ needs the {SECRET_HEADER} header", [])
        elif normalise_path(h.path) == "/_lb/status":
            body = json.dumps({"settings": self.settings.to_dict(), "backends": self.status()})
            self._reply(h, 200, body.encode(), [("Content-Type", "application/json")])
        else:
            self._text(h, 404, "halab balancer: unknown admin path; try /_lb/status", [])

    def _route(self, h, headers: list, body: bytes | None, request_id: str) -> None:
        s = self.settings
        method = h.command
        key = h.headers.get("X-Key")
        tried: list[int] = []
        failures: list[Attempt] = []
        last_resp = None
        for _ in range(1 + s.retries):
            with self._lock:
                now = self._clock()
                self._refresh(now)
                candidates, _ = self._candidates()
                healthy = [candidates[j] and j not in tried for j in range(self.n)]
                if not any(healthy):
                    break
                i = self.policy.pick(list(self.in_flight), healthy, key)
                self.in_flight[i] += 1
                self.attempts[i] += 1
            tried.append(i)
            claim, sent = None, headers
            if self._claims is not None:
                tag = claiming.attempt_tag(len(tried))
                claim = claiming.Claim(self._claims, request_id, tag)
                sent = [*headers, (claiming.ATTEMPT_HEADER, tag)]
            try:
                attempt, resp, data = yield from self._forward(
                    i, method, h.path, sent, body, s.connect_timeout, s.timeout, claim
                )
            finally:
                with self._lock:
                    self.in_flight[i] -= 1
            with self._lock:
                now = self._clock()
                if attempt.status is not None:
                    self.policy.observe(i, attempt.latency)
                if attempt.ok:
                    self.served[i] += 1
                if attempt.reached:
                    self.refused[i] = False
                elif attempt.error == "connect refused":
                    self.refused[i] = True
                if self.outliers is not None and self.outliers.record(
                    i, attempt.ok, now, out=self._down()
                ):
                    n_fail = s.consecutive_5xx
                    self._emit("eject", i, f"{n_fail} failed requests in a row", now)
                    self._refresh(now, {i: f"ejected after {n_fail} failed requests in a row"})
            if attempt.ok:
                self._pass_through(h, resp, data, i, tried)
                return
            failures.append(attempt)
            last_resp = (resp, data) if resp is not None else None
            if attempt.ran or (attempt.reached and claim is not None and not claim.give_up()):
                break  # the backend claimed this attempt: it ran, so it goes nowhere else
            if not may_retry(
                method,
                reached=attempt.reached,
                status=attempt.status,
                attempts=len(tried),
                retries=s.retries,
                retry_on_5xx=s.retry_on_5xx,
            ):
                break
        if not tried:
            with self._lock:
                now = self._clock()
                states = "; ".join(
                    f"{self.names[j]} {self._why_out(j, now)}" for j in range(self.n)
                )
            self._text(h, 503, f"halab balancer: no backend is in rotation: {states}.", [])
            return
        last = failures[-1]
        if last_resp is not None and last.status is not None and last.backend == tried[-1]:
            self._pass_through(h, last_resp[0], last_resp[1], last.backend, tried)
            return
        story = "; ".join(f"{self.names[a.backend]}: {a.error or a.status}" for a in failures)
        if len(tried) > s.retries:
            why = f"no retry left (retries={s.retries})"
        elif last.ran:
            why = "the backend ran it (it claimed the attempt), so it is not retried"
        elif last.reached and method.upper() not in IDEMPOTENT_METHODS:
            why = f"{method} is not idempotent and reached the backend, so it is not retried"
        else:
            why = "no other backend in rotation to retry on"
        status = 504 if last.error and last.error.startswith("no answer") else 502
        self._text(h, status, f"halab balancer: {method} {h.path} failed ({story}); {why}.", tried)

    def _route_naive(self, h, headers: list, body: bytes | None) -> None:
        """The tutorial balancer, with caps so that it cannot hang the lesson."""
        s = self.settings
        start = time.monotonic()
        spins = 0
        while True:
            with self._lock:
                healthy = [j not in self.removed_forever for j in range(self.n)]
                if any(healthy):
                    i = self.policy.pick(list(self.in_flight), healthy, None)
                    self.in_flight[i] += 1
                    self.attempts[i] += 1
                    break
            spins += 1
            if time.monotonic() - start >= s.naive_cap or self._stop.wait(NAIVE_SPIN_SLEEP):
                self._text(
                    h,
                    502,
                    f"naive balancer: spun {spins} times for {s.naive_cap:g} s looking for a "
                    "server, but every backend was removed after one failure and none ever "
                    "comes back (the tutorial loop would spin forever; a real balancer "
                    "answers 503 at once and keeps checking).",
                    [],
                )
                return
        attempt, resp, data = yield from self._forward(
            i, h.command, h.path, headers, body, s.naive_cap, s.naive_cap
        )
        with self._lock:
            self.in_flight[i] -= 1
            if attempt.ok:
                self.served[i] += 1
            elif i not in self.removed_forever:
                self.removed_forever.add(i)
                now = self._clock()
                self._refresh(
                    now, {i: f"naive: one failed request ({attempt.error or attempt.status})"}
                )
        if resp is not None:
            self._pass_through(h, resp, data, i, [i])
        else:
            self._text(h, 502, f"naive balancer: {self.names[i]} failed: {attempt.error}", [i])


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``python -m halab.live.balancer``: one balancer in its own process.

    Args (command line): ``--ports 8001,8002,...``, ``--names b0,b1,...``, ``--settings JSON``.
    Prints ``{"port": ..., "pid": ...}``, then each event as one JSON line.
    """
    parser = argparse.ArgumentParser(description="a halab failover balancer on 127.0.0.1")
    parser.add_argument("--ports", required=True, help="comma-separated backend ports")
    parser.add_argument("--names", default=None, help="comma-separated backend names")
    parser.add_argument("--settings", default="{}", help="Settings as JSON")
    parser.add_argument("--no-watch", action="store_true", help="do not exit with the parent")
    parser.add_argument("--claims", default=None, help="the folder of halab.live.claims")
    args = parser.parse_args(argv)
    ports = [int(p) for p in args.ports.split(",")]
    names = args.names.split(",") if args.names else None
    settings = Settings.from_dict(json.loads(args.settings))
    out_lock = threading.Lock()

    def emit(event: Event) -> None:
        line = json.dumps({"event": event.to_dict()}) + "\n"
        with out_lock:
            try:
                sys.stdout.write(line)
                sys.stdout.flush()
            except (OSError, ValueError):
                os._exit(0)

    given = os.environ.get(SECRET_ENV) or None
    balancer = Balancer(
        ports, settings, names=names, on_event=emit, secret=given, claims=args.claims
    )
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    balancer.start()
    if not args.no_watch:
        watch_parent()
    info = {"port": balancer.port, "pid": os.getpid()}
    if given is None:  # only the parent reads this pipe
        info["secret"] = balancer.secret
    with out_lock:
        announce(**info)
    with contextlib.suppress(KeyboardInterrupt):
        done.wait()
    balancer.stop()


if __name__ == "__main__":
    main()
