"""CrashProxy: a TCP proxy on 127.0.0.1 that makes a SIGKILL over loopback look like a host crash.

Why it exists. When a process is SIGKILLed, the kernel closes its sockets but still delivers what
it had already handed to them: over loopback, every byte a dying primary wrote to its replication
socket reaches the replica, and an asynchronous replica loses almost nothing. A real host crash
is different: what sat in the dying host's buffers and on the wire is gone, so an asynchronous
replica lacks the writes of the last *lag* seconds. This proxy puts that back. It sits on the
replication link, delays the primary -> replica direction by ``delay`` seconds (the bytes in the
delay line are "in flight") and, on :meth:`CrashProxy.crash`, discards the bytes in flight and
resets both sides at once, as a host that vanished would (:meth:`CrashProxy.freeze`, called
just before the SIGKILL, stops deliveries at the very instant of the kill).

    >>> with CrashProxy(target_port=3306, delay=0.02) as proxy:   # doctest: +SKIP
    ...     replica_connects_to(proxy.port)
    ...     proxy.crash()                      # with the primary's SIGKILL: in-flight bytes lost
    4096

Each accepted connection gets its own upstream connection and three threads: client -> target
(copied at once), target -> delay line, delay line -> client. The delay line is bounded
(``max_in_flight`` bytes per connection): when it is full the proxy stops reading from the
target, so TCP's own flow control pushes back, as a slow link does. The listener stays open
after a crash, so a revived target is reached again through the same port. :meth:`close`
stops the listener, crashes every link, joins every thread and closes every socket.
"""

from __future__ import annotations

import collections
import contextlib
import math
import select
import socket
import struct
import threading
import time

LOOPBACK = "127.0.0.1"
CHUNK = 64 * 1024  # bytes read at a time
MAX_IN_FLIGHT = 4 * 1024 * 1024  # bytes a connection's delay line holds before reads pause
CONNECT_TIMEOUT = 1.0  # seconds to reach the target for a new connection
POLL = 0.05  # seconds between checks of the stop flag in blocking loops
JOIN_TIMEOUT = 5.0  # seconds to wait for a thread at close
MAX_DELAY = 10.0  # seconds: a longer one-way delay is refused as a mistake


def _check_delay(delay: float) -> float:
    if isinstance(delay, bool) or not isinstance(delay, int | float) or not math.isfinite(delay):
        raise ValueError(
            f"delay must be a finite number of seconds in [0, {MAX_DELAY}], got {delay!r}"
        )
    if not 0 <= delay <= MAX_DELAY:
        raise ValueError(f"delay must be in [0, {MAX_DELAY}] seconds, got {delay}")
    return float(delay)


def _check_port(port: int) -> int:
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ValueError(f"target_port must be an integer in [1, 65535], got {port!r}")
    return port


def _abort(sock: socket.socket) -> None:
    """Reset a socket (RST, no FIN: the peer sees the link vanish) and wake its threads."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


class _Link:
    """One proxied connection: client <-> target, with the target -> client side delayed."""

    def __init__(self, proxy: CrashProxy, client: socket.socket, target: socket.socket) -> None:
        self.proxy = proxy
        self.client = client
        self.target = target
        self.cond = threading.Condition()
        self.queue: collections.deque[tuple[float, bytes]] = collections.deque()
        self.queued = 0  # bytes in the delay line
        self.target_eof = False
        self.done = False  # crashed or finished: every thread leaves
        self.threads = [
            threading.Thread(target=self._upstream, name="crashproxy-up", daemon=True),
            threading.Thread(target=self._fill, name="crashproxy-fill", daemon=True),
            threading.Thread(target=self._drain, name="crashproxy-drain", daemon=True),
        ]

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def in_flight(self) -> int:
        with self.cond:
            return self.queued

    def _upstream(self) -> None:
        """Client -> target, at once (the replica's acknowledgements are not delayed)."""
        try:
            while True:
                data = self.client.recv(CHUNK)
                if not data:
                    break
                self.target.sendall(data)
        except OSError:
            pass
        self.finish()

    def _fill(self) -> None:
        """Target -> delay line, stamped with the time each chunk arrived."""
        try:
            while True:
                with self.cond:
                    while self.queued >= self.proxy.max_in_flight and not self.done:
                        self.cond.wait(POLL)
                    if self.done:
                        return
                data = self.target.recv(CHUNK)
                if not data:
                    break
                with self.cond:
                    if self.done:
                        return
                    self.queue.append((time.monotonic() + self.proxy.delay, data))
                    self.queued += len(data)
                    self.cond.notify_all()
        except OSError:
            pass
        with self.cond:
            self.target_eof = True  # deliver what is queued, then end
            self.cond.notify_all()

    def _drain(self) -> None:
        """Delay line -> client, each chunk once its time has come."""
        try:
            while True:
                with self.cond:
                    while not self.queue and not self.target_eof and not self.done:
                        self.cond.wait(POLL)
                    if self.done or not self.queue:
                        break  # crashed, or the target closed and everything was delivered
                    due, data = self.queue[0]
                    wait = POLL if self.proxy.frozen else due - time.monotonic()
                    if wait > 0:
                        self.cond.wait(wait)  # a crash wakes us early
                        continue
                    self.queue.popleft()
                    self.queued -= len(data)
                    self.cond.notify_all()
                self.client.sendall(data)
                self.proxy._count_forwarded(len(data))
        except OSError:
            pass
        self.finish()

    def finish(self) -> None:
        """End the link normally: both sockets shut with a FIN, not a reset, threads leave.

        One side closed, or everything queued was delivered after the target closed: the other
        side must read all it was sent and then an end of file. A reset here (as :meth:`crash`
        sends) could reach the client before it has read the last bytes, and Linux then reports
        ``ECONNRESET`` instead of the end of the stream.
        """
        with self.cond:
            if self.done:
                return
            self.done = True
            self.queue.clear()
            self.queued = 0
            self.cond.notify_all()
        for sock in (self.client, self.target):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def crash(self) -> int:
        """Discard the delay line, reset both sockets, wake every thread: bytes discarded."""
        with self.cond:
            if self.done:
                return 0
            self.done = True
            dropped = self.queued
            self.queue.clear()
            self.queued = 0
            self.cond.notify_all()
        _abort(self.client)
        _abort(self.target)
        return dropped

    def join(self, timeout: float) -> None:
        for t in self.threads:
            if t.ident is not None and t is not threading.current_thread():
                t.join(timeout)
        for s in (self.client, self.target):
            with contextlib.suppress(OSError):
                s.close()


class CrashProxy:
    """A TCP proxy from ``127.0.0.1:port`` to ``127.0.0.1:target_port`` that can crash the link.

    Args:
        target_port: where the proxy forwards to (the primary's port), in ``[1, 65535]``.
        delay: one-way delay added to the target -> client direction, seconds, in ``[0, 10]``
            (the client -> target direction is not delayed).
        max_in_flight: bytes a connection's delay line may hold, ``>= CHUNK`` (64 KiB).

    Attributes:
        port: the port the proxy listens on (chosen by the kernel at start).
        bytes_forwarded: bytes delivered target -> client so far.
        bytes_dropped: bytes discarded by crashes so far.
        crashes: times :meth:`crash` was called.

    Raises:
        ValueError: on a port, delay or buffer size outside its range.
    """

    def __init__(
        self, target_port: int, *, delay: float = 0.02, max_in_flight: int = MAX_IN_FLIGHT
    ) -> None:
        self.target_port = _check_port(target_port)
        self.delay = _check_delay(delay)
        if isinstance(max_in_flight, bool) or not isinstance(max_in_flight, int):
            raise ValueError(f"max_in_flight must be an integer >= {CHUNK}, got {max_in_flight!r}")
        if max_in_flight < CHUNK:
            raise ValueError(f"max_in_flight must be >= {CHUNK} bytes, got {max_in_flight}")
        self.max_in_flight = max_in_flight
        self.port: int | None = None
        self.bytes_forwarded = 0
        self.bytes_dropped = 0
        self.crashes = 0
        self.frozen = False  # delivering nothing (see :meth:`freeze`)
        self._lock = threading.Lock()
        self._links: list[_Link] = []
        self._listener: socket.socket | None = None
        self._acceptor: threading.Thread | None = None
        self._stop = threading.Event()

    # --- life cycle -------------------------------------------------------------------

    def start(self) -> CrashProxy:
        """Listen on a free port of 127.0.0.1 and start accepting; returns ``self``."""
        if self._listener is not None:
            return self
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind((LOOPBACK, 0))
            sock.listen(16)
        except OSError:
            sock.close()
            raise
        self._listener = sock
        self.port = sock.getsockname()[1]
        self._acceptor = threading.Thread(
            target=self._accept, name="crashproxy-accept", daemon=True
        )
        self._acceptor.start()
        return self

    def close(self) -> None:
        """Stop listening, crash every link, join every thread, close every socket (idempotent)."""
        self._stop.set()
        if self._acceptor is not None:
            self._acceptor.join(JOIN_TIMEOUT)
            self._acceptor = None
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.close()
            self._listener = None
        self._crash_links()

    def __enter__(self) -> CrashProxy:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    # --- the faults -------------------------------------------------------------------

    def freeze(self) -> None:
        """Deliver nothing more until :meth:`crash` (call it just before killing the target).

        A crash is one instant; killing a process and then calling :meth:`crash` takes a few
        milliseconds (another thread may hold the GIL), during which bytes that fell due would
        still be delivered. Freezing first makes the instant of the kill the instant the link
        dies.
        """
        self.frozen = True

    def crash(self) -> int:
        """The target's host crashed: discard every byte in flight, reset every connection.

        The listener stays open: later connections reach the target again (once it is back);
        a :meth:`freeze` ends here.

        Returns:
            The bytes discarded from the delay lines.
        """
        with self._lock:
            self.crashes += 1
        try:
            return self._crash_links()
        finally:
            self.frozen = False

    def in_flight(self) -> int:
        """Bytes now in the delay lines (received from the target, not yet delivered)."""
        with self._lock:
            links = list(self._links)
        return sum(link.in_flight() for link in links)

    def connections(self) -> int:
        """Open proxied connections."""
        with self._lock:
            return sum(1 for link in self._links if not link.done)

    # --- internals --------------------------------------------------------------------

    def _crash_links(self) -> int:
        with self._lock:
            links, self._links = self._links, []
        dropped = sum(link.crash() for link in links)
        for link in links:
            link.join(JOIN_TIMEOUT)
        with self._lock:
            self.bytes_dropped += dropped
        return dropped

    def _count_forwarded(self, n: int) -> None:
        with self._lock:
            self.bytes_forwarded += n

    def _accept(self) -> None:
        listener = self._listener
        while not self._stop.is_set():
            ready, _, _ = select.select([listener], [], [], POLL)
            if not ready:
                self._reap()
                continue
            try:
                client, _ = listener.accept()
            except OSError:
                continue
            try:
                target = socket.create_connection((LOOPBACK, self.target_port), CONNECT_TIMEOUT)
            except OSError:
                _abort(client)  # the target is down: the client sees a reset, as from a dead host
                client.close()
                continue
            target.settimeout(None)
            for s in (client, target):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            link = _Link(self, client, target)
            with self._lock:
                if self._stop.is_set():
                    link.crash()
                    link.join(0)
                    break
                self._links.append(link)
            link.start()

    def _reap(self) -> None:
        """Join the threads of links that ended by themselves, and drop them."""
        with self._lock:
            ended = [link for link in self._links if link.done]
            self._links = [link for link in self._links if not link.done]
        for link in ended:
            link.join(JOIN_TIMEOUT)
