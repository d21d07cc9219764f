"""A load generator on ``requests`` that records every request it sends.

Two ways to send load, both bounded by a count and/or a duration:

- **rate** (open loop): request ``k`` is due at ``k / rate`` seconds after the start, whoever is
  free sends it; if every worker is busy the request goes late, and its latency is measured
  from when it was *sent* (note that this hides queueing at the client, the "coordinated
  omission" of closed-loop benchmarks, when the server stalls all workers at once).
- **concurrency** (closed loop): each worker sends its next request as soon as the previous
  one ends.

Every request carries a header ``X-Request-Id`` (the generator's random prefix and the
request's number), and each record keeps it, with the ``(pid, request)`` numbers that halab's
backends put in each JSON answer: a test can then check that no answer was delivered twice and
that no request was served twice.

``url`` must point at this machine: ``http://`` (or ``https://``) to a host in 127.0.0.0/8,
``localhost`` or ``[::1]``, without user information. It is parsed with ``urllib.parse``, so
that ``http://localhost@example.com`` (user ``localhost`` at host ``example.com``) or
``http://127.0.0.1.example.com`` is refused rather than sent to another machine.

Each worker thread has its own ``requests.Session`` (a session's connection pool is not meant
to be shared between threads), with ``trust_env = False`` so that no proxy from the
environment is used for 127.0.0.1.

>>> result = run_load(url, rate=100, duration=2.0)          # doctest: +SKIP
>>> result.failed, result.count_by_backend()                 # doctest: +SKIP
(0, {'b0': 67, 'b1': 67, 'b2': 66})
"""

from __future__ import annotations

import ipaddress
import json
import secrets
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import requests

from halab.checks import check_instance, check_real

MAX_DURATION = 600.0  # seconds
MAX_REQUESTS = 1_000_000
MAX_WORKERS = 64
REQUEST_ID_HEADER = "X-Request-Id"
LOCAL_NAMES = frozenset({"localhost"})


def check_local_url(url: str, parameter: str = "url") -> str:
    """``url`` if it is plain HTTP(S) to this machine, else ``ValueError`` naming ``parameter``.

    Allowed hosts: any address in 127.0.0.0/8, ``localhost`` and ``[::1]``; refused: user
    information (``user@host``), any other host name or address, a bad port.

    >>> check_local_url("http://127.0.0.1:8080/x")
    'http://127.0.0.1:8080/x'
    >>> check_local_url("http://localhost@example.com")
    Traceback (most recent call last):
    ...
    ValueError: url must not carry user information (user@host), got 'http://localhost@example.com'
    """
    want = f"{parameter} must be http://127.0.0.1:<port> (or localhost, [::1])"
    if not isinstance(url, str):
        raise ValueError(f"{want}, got {url!r}")
    if any(ord(c) < 33 or ord(c) == 127 for c in url):
        raise ValueError(f"{parameter} must not contain blanks or control characters, got {url!r}")
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"{want}, got {url!r}")
    if "@" in parts.netloc or parts.username is not None or parts.password is not None:
        raise ValueError(f"{parameter} must not carry user information (user@host), got {url!r}")
    try:
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise ValueError(f"{parameter} has a bad port: {url!r}") from None
    host = parts.hostname or ""
    if host not in LOCAL_NAMES:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            raise ValueError(f"{want}, got host {host!r} in {url!r}") from None
        local = address in ipaddress.ip_network("127.0.0.0/8") or address == ipaddress.ip_address(
            "::1"
        )
        if not local:
            raise ValueError(f"{want}, got host {host!r} in {url!r}")
    return url


@dataclass(frozen=True)
class Record:
    """One request as the client saw it.

    Attributes:
        start: seconds (since ``t0``) when it was sent.
        latency: seconds until the whole answer arrived, or until the client gave up.
        status: the HTTP status, or 0 when no answer came (refused, reset, client timeout).
        backend: the ``X-Backend`` header of the answer, or ``None``.
        tried: the backends the balancer tried, from ``X-Tried`` (empty if absent).
        error: the client-side error's name when ``status == 0``.
        request_id: the ``X-Request-Id`` the request was sent with.
        served: ``(pid, request)`` from a halab backend's JSON answer: the process that
            served it and its number for the request; ``None`` for other answers.
    """

    start: float
    latency: float
    status: int
    backend: str | None = None
    tried: tuple[str, ...] = ()
    error: str | None = None
    request_id: str | None = None
    served: tuple[int, int] | None = None

    @property
    def ok(self) -> bool:
        """A 2xx or 3xx answer."""
        return 200 <= self.status < 400


class LoadResult:
    """Every record of a load run, in send order, with NumPy views for plotting.

    Attributes:
        records: the :class:`Record` list.
        t0: the clock reading (``time.monotonic()``) that ``start`` is measured from.
    """

    def __init__(self, records: list[Record], t0: float) -> None:
        records = [check_instance("records", r, Record) for r in records]
        self.records = sorted(records, key=lambda r: r.start)
        self.t0 = check_real("t0", t0, unit="seconds")

    def __len__(self) -> int:
        return len(self.records)

    @property
    def starts(self) -> np.ndarray:
        """Send times, seconds since ``t0``."""
        return np.array([r.start for r in self.records], dtype=float)

    @property
    def latencies(self) -> np.ndarray:
        """Latencies, seconds."""
        return np.array([r.latency for r in self.records], dtype=float)

    @property
    def statuses(self) -> np.ndarray:
        """HTTP statuses (0 = no answer)."""
        return np.array([r.status for r in self.records], dtype=int)

    @property
    def backends(self) -> list[str | None]:
        return [r.backend for r in self.records]

    @property
    def ok(self) -> int:
        """How many requests got a 2xx/3xx answer."""
        return sum(r.ok for r in self.records)

    @property
    def failed(self) -> int:
        """How many requests did not (5xx, 4xx, or no answer)."""
        return len(self.records) - self.ok

    def count_by_backend(self) -> dict[str, int]:
        """Successful answers per backend name, sorted by name."""
        counts = Counter(r.backend for r in self.records if r.ok and r.backend is not None)
        return dict(sorted(counts.items()))

    def tried(self, name: str) -> np.ndarray:
        """Send times of the requests that the balancer sent (or tried to send) to ``name``."""
        return np.array([r.start for r in self.records if name in r.tried], dtype=float)

    def throughput(self) -> float:
        """Answered requests per second over the span of the run."""
        if not self.records:
            return 0.0
        end = max(r.start + r.latency for r in self.records)
        span = end - min(r.start for r in self.records)
        return self.ok / span if span > 0 else float("nan")

    def rates(self, bin_width: float = 0.25, end: float | None = None):
        """Requests per second in bins of ``bin_width`` seconds, by backend and failures.

        Returns:
            ``(edges, per_backend, failures)``: bin edges (seconds since ``t0``), a dict from
            backend name to an array of answered requests per second, and an array of failed
            requests per second, each of length ``len(edges) - 1``.
        """
        if not bin_width > 0:
            raise ValueError(f"bin_width must be > 0 seconds, got {bin_width}")
        starts = self.starts
        if end is None:
            end = float(starts.max()) if len(starts) else bin_width
        nbins = max(1, int(np.ceil(end / bin_width)))
        edges = np.arange(nbins + 1) * bin_width
        per_backend = {}
        for name in sorted({r.backend for r in self.records if r.ok and r.backend}):
            t = [r.start for r in self.records if r.ok and r.backend == name]
            per_backend[name] = np.histogram(t, bins=edges)[0] / bin_width
        bad = [r.start for r in self.records if not r.ok]
        failures = np.histogram(bad, bins=edges)[0] / bin_width
        return edges, per_backend, failures


def check_load(
    rate: float | None = None,
    concurrency: int = 4,
    count: int | None = None,
    duration: float | None = None,
    method: str = "GET",
    timeout: float = 5.0,
) -> None:
    """``ValueError`` (or ``TypeError``) naming the first of :class:`LoadGenerator`'s load
    settings that is out of range; the drills call it before they start anything."""
    if not isinstance(method, str) or not method.isalpha() or len(method) > 16:
        raise ValueError(f"method must be an HTTP method such as 'GET', got {method!r}")
    if rate is not None and not (0 < rate <= 100_000):
        raise ValueError(f"rate must be in (0, 100000] requests/s, got {rate}")
    if isinstance(concurrency, bool) or not isinstance(concurrency, int):
        raise ValueError(f"concurrency must be an integer in [1, {MAX_WORKERS}]")
    if not 1 <= concurrency <= MAX_WORKERS:
        raise ValueError(f"concurrency must be in [1, {MAX_WORKERS}], got {concurrency}")
    if count is None and duration is None:
        raise ValueError("count must be given, or duration, or both: the load must be bounded")
    if count is not None and not (1 <= count <= MAX_REQUESTS):
        raise ValueError(f"count must be in [1, {MAX_REQUESTS}], got {count}")
    if duration is not None and not (0 < duration <= MAX_DURATION):
        raise ValueError(f"duration must be in (0, {MAX_DURATION:g}] seconds, got {duration}")
    if not 0 < timeout <= 600:
        raise ValueError(f"timeout must be in (0, 600] seconds, got {timeout}")


class LoadGenerator:
    """Sends bounded load to ``url`` from worker threads; runs in the background.

    Args:
        url: where to send, e.g. ``cluster.url`` (must be on 127.0.0.1 or localhost).
        rate: requests per second (open loop), or ``None`` for a closed loop.
        concurrency: worker threads (each with its own session).
        count: stop after this many requests (``None``: no count bound).
        duration: stop sending after this many seconds (``None``: no time bound).
        method: HTTP method.
        path: path appended to ``url``.
        timeout: the client's own timeout per request, seconds.
        t0: the clock reading that record times count from (default: when it starts).

    Use :meth:`run` to block until done, or :meth:`start` / :meth:`stop` (or ``with``) to send
    load while doing something else (killing a backend, say).
    """

    def __init__(
        self,
        url: str,
        *,
        rate: float | None = None,
        concurrency: int = 4,
        count: int | None = None,
        duration: float | None = None,
        method: str = "GET",
        path: str = "/",
        timeout: float = 5.0,
        t0: float | None = None,
    ) -> None:
        check_local_url(url)
        if not isinstance(path, str) or not path.startswith("/"):
            raise ValueError(f"path must start with '/', got {path!r}")
        if any(ord(c) < 33 or ord(c) == 127 for c in path) or "@" in path:
            raise ValueError(f"path must not contain blanks, control characters or '@': {path!r}")
        check_load(rate, concurrency, count, duration, method, timeout)
        if t0 is not None:
            check_real("t0", t0, unit="seconds")
        self.url = check_local_url(url.rstrip("/") + path)
        self.rate = rate
        self.concurrency = concurrency
        self.limit = count
        self.duration = duration
        self.method = method.upper()
        self.timeout = timeout
        self.t0 = t0
        self._records: list[Record] = []
        self._lock = threading.Lock()
        self._next = 0
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._begin = 0.0
        self.id_prefix = secrets.token_hex(4)  # tells this generator's requests from others'

    def _ticket(self) -> int | None:
        with self._lock:
            k = self._next
            if self.limit is not None and k >= self.limit:
                return None
            self._next += 1
            return k

    def _worker(self) -> None:
        with requests.Session() as session:
            session.trust_env = False
            while not self._stop.is_set():
                k = self._ticket()
                if k is None:
                    return
                if self.rate is not None:
                    due = self._begin + k / self.rate
                    if self.duration is not None and due - self._begin >= self.duration:
                        return
                    wait = due - time.monotonic()
                    if wait > 0 and self._stop.wait(wait):
                        return
                elif self.duration is not None and time.monotonic() - self._begin >= self.duration:
                    return
                self._one(session, k)

    def _one(self, session: requests.Session, k: int = 0) -> None:
        rid = f"{self.id_prefix}-{k}"
        sent = time.monotonic()
        try:
            r = session.request(
                self.method, self.url, timeout=self.timeout, headers={REQUEST_ID_HEADER: rid}
            )
            body = r.content
            end = time.monotonic()
            tried = tuple(t for t in r.headers.get("X-Tried", "").split(",") if t)
            rec = Record(
                sent - self.t0,
                end - sent,
                r.status_code,
                r.headers.get("X-Backend"),
                tried,
                request_id=rid,
                served=_served(body),
            )
        except requests.RequestException as exc:
            end = time.monotonic()
            rec = Record(sent - self.t0, end - sent, 0, None, (), type(exc).__name__, rid)
        with self._lock:
            self._records.append(rec)

    def start(self) -> LoadGenerator:
        """Start the workers and return at once."""
        if self._threads:
            raise RuntimeError("this load generator was already started")
        self._begin = time.monotonic()
        if self.t0 is None:
            self.t0 = self._begin
        for w in range(self.concurrency):
            t = threading.Thread(target=self._worker, name=f"halab-load-{w}", daemon=True)
            self._threads.append(t)
            t.start()
        return self

    def join(self, timeout: float | None = None) -> LoadResult:
        """Wait for the workers to finish (each bound is reached); return the records so far."""
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            for t in self._threads:
                t.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        except BaseException:
            self.stop()
            raise
        return self.result()

    def finish_when(
        self,
        done: Callable[[LoadResult], bool],
        *,
        planned: float,
        margin: float = 0.3,
        poll: float = 0.05,
    ) -> LoadResult:
        """Send until ``planned`` seconds, then on until ``done(records)`` holds, then stop.

        The generator must have been made with a ``duration`` longer than ``planned``: that
        duration is the bound. Once ``done`` holds (checked every ``poll`` s after ``planned``),
        the load goes on ``margin`` s more and stops, so that a drill lasts until what it waits
        for has happened -- a slow machine changes the times it prints, not its outcome.
        """
        if self.duration is None or not 0 < planned <= self.duration:
            raise ValueError(f"planned must be in (0, duration], got {planned}")
        end = self._begin + self.duration
        time.sleep(max(0.0, self._begin + planned - time.monotonic()))
        while time.monotonic() < end and not done(self.result()):
            if self._stop.wait(poll):
                break
        with self._lock:  # workers read the bound at each ticket: lowering it stops them
            self.duration = min(self.duration, time.monotonic() - self._begin + margin)
        return self.join()

    def stop(self) -> LoadResult:
        """Stop sending (requests in flight finish or time out), join the workers."""
        self._stop.set()
        for t in self._threads:
            t.join()
        return self.result()

    def result(self) -> LoadResult:
        """The records collected so far."""
        with self._lock:
            return LoadResult(list(self._records), self.t0 or self._begin)

    def run(self) -> LoadResult:
        """Start, wait until a bound is reached, and return the records."""
        self.start()
        try:
            return self.join()
        finally:
            self.stop()

    def __enter__(self) -> LoadGenerator:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _served(body: bytes) -> tuple[int, int] | None:
    """``(pid, request)`` from a halab backend's JSON answer, or None."""
    if not body.startswith(b"{") or len(body) > 4096:
        return None
    try:
        data = json.loads(body)
        return int(data["pid"]), int(data["request"])
    except (ValueError, KeyError, TypeError):
        return None


def run_load(url: str, **kwargs) -> LoadResult:
    """Send bounded load to ``url`` and return every record (see :class:`LoadGenerator`)."""
    return LoadGenerator(url, **kwargs).run()
