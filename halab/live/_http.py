"""Hardened HTTP/1.1 for halab's backends and balancer: one event loop, a bounded worker pool.

Both halab servers (:mod:`halab.live.backend`, :mod:`halab.live.balancer`) are a
:class:`Server`: one thread runs an ``epoll`` loop that accepts connections, reads each
request head *and body* without blocking, parses and checks them, and answers them itself or
hands them to a small pool of worker threads that run the handler (see "Speed"). Each connection is armed for one
event at a time (``EPOLLONESHOT``), so a worker that has answered can re-arm its connection
itself, without a trip through the loop. Idle keep-alive connections, slow
clients and half-sent requests cost a few hundred bytes in the loop, never a thread: 3,000
idle clients are 3,000 dictionary entries, as in HAProxy and nginx. The stdlib's
``ThreadingHTTPServer`` spends one thread per connection, listens with a backlog of 5 and has
no timeouts; its ``email``-based header parser was 38% of the balancer's CPU.

Why a small parser of our own rather than ``h11`` or a hardened ``http.server`` subclass: the
rules below are a few dozen lines, each one citable, and each limit answers the exact status
the lesson teaches; ``http.server`` would keep its per-connection threads and slow parser, and
``h11`` would add an event object and a state machine per request and still need the loop.

Speed, in CPython terms: every system call is a turn at the GIL and every hand-off between
threads a context switch, so the design counts them. A handler that can answer without
waiting answers on the loop thread itself (``quick``: a backend with no fault set); one that
forwards (the balancer) gives the loop a generator that yields each upstream connect and
exchange, which the loop carries out on non-blocking sockets beside its clients' (as HAProxy
and nginx do); only what may block (a backend's ``slow`` and ``hang``, the naive balancer)
goes to a worker. Measured with wrk through the balancer at 32 clients, a backend's CPU time
a request went from about 200 µs (loop, then a worker) to about 100 µs. A worker that has answered a keep-alive client and sees no request waiting
polls that client for ``HOT_WAIT_MS`` and serves its next request itself (no trip through the
loop); the pool starts small (``workers``) because each extra runnable thread costs CPU on
every request; a worker's upstream sockets block with a kernel timeout, one call per read.

Where each rule comes from (RFC 9112 is HTTP/1.1 message syntax):

- **backlog** ``BACKLOG`` (511): nginx's ``listen ... backlog`` default on Linux; HAProxy uses
  ``maxconn``. socketserver's 5 overflowed at 128 clients (SYN retransmits of 1-7 s).
- **connection cap** ``max_connections``: HAProxy ``maxconn``; over it, ``503`` and close.
- **worker pool** ``workers`` to ``max_workers`` threads: requests beyond them wait in a queue,
  as HAProxy queues requests beyond a server's ``maxconn``. The pool stays small while the
  queue flows (fewer threads contend for the GIL: each thread more costs CPU on every request)
  and grows by ``workers`` when no worker has taken a request for ``GROW_AFTER_S`` while some
  wait (a backend that hangs holds workers); workers beyond ``workers`` leave after
  ``IDLE_WORKER_S`` idle.
- **header timeout** ``header_timeout_s``: HAProxy ``timeout http-request``, nginx
  ``client_header_timeout``: a request head not complete in time gets ``408`` and a close.
- **idle keep-alive timeout** ``keepalive_timeout_s``: HAProxy ``timeout http-keep-alive``,
  nginx ``keepalive_timeout``: an idle connection is closed (no answer; nothing was asked).
- **body timeout** ``body_timeout_s``: nginx ``client_body_timeout``; HAProxy ``timeout
  http-request`` with ``option http-buffer-request``: the whole body, else ``408``.
- **send timeout** ``send_timeout_s``: HAProxy ``timeout client``, nginx ``send_timeout``.
- **body limit** ``max_body_bytes`` (1 MiB): nginx ``client_max_body_size`` (default 1m):
  ``413``.
- **head limits** ``max_line_bytes`` (8 KiB) and ``max_head_bytes`` (16 KiB), at most
  ``max_headers`` fields: nginx ``large_client_header_buffers 4 8k`` (a longer request line is
  ``414``), HAProxy ``tune.bufsize`` 16384 for the whole head and ``tune.http.maxhdr`` 101
  (beyond: ``431``, RFC 6585 §5).
- **framing**, RFC 9112: a malformed request line (§3), a request in HTTP/0.9 form, a target
  that is not origin-form or has bytes outside visible ASCII, bad percent-escapes, invalid
  UTF-8 or control characters once decoded: ``400``; other versions than 1.0/1.1: ``505``;
  whitespace before a field's colon or an obsolete line fold (§5.1, §5.2): ``400``; a
  ``Content-Length`` that is not digits, or several that differ (§6.3 ¶5): ``400``; a
  ``Transfer-Encoding`` other than ``chunked`` (§6.1): ``501``; ``chunked`` not alone and last
  (§6.3 ¶4), or in an HTTP/1.0 request (§6.1): ``400``; both ``Transfer-Encoding`` and
  ``Content-Length`` (§6.1 lets a server reject the message): ``400``, as nginx does since
  1.21.1 (HAProxy instead drops the ``Content-Length``, decodes the chunks and closes the
  connection after the answer: tried on this course's machine, nginx 1.22.1 answered 400,
  HAProxy 2.6.12 forwarded the request and answered 200). Chunked bodies are decoded (§7.1) and handed on whole, so the
  balancer forwards them with a ``Content-Length``. Without either field a request has no body
  (§6.3 ¶7), as nginx and HAProxy assume, so no ``411``.
- ``Expect`` other than ``100-continue``: ``417`` (RFC 9110 §10.1.1); ``100-continue`` gets
  its interim ``100`` before the body is read.
- **after an error** the connection is closed, and the loop reads and drops what the client
  still sends for ``LINGER_S`` seconds first, so that the status line is not lost to a reset
  (nginx ``lingering_close``). Nothing after a rejected head is ever parsed as a request.
"""

from __future__ import annotations

import contextlib
import errno
import heapq
import os
import queue
import re
import select
import selectors
import socket
import struct
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass
from types import GeneratorType
from urllib.parse import unquote_to_bytes

BACKLOG = 511  # nginx's default listen backlog on Linux
LINGER_S = 2.0  # seconds an errored connection is drained before its close (nginx lingering_time)
LINGER_MAX = 256  # lingering connections beyond the cap; more are closed at once
SWEEP_S = 0.25  # seconds between two checks of every connection's deadline
RECV_BYTES = 65536
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"})
REASONS = {
    100: "Continue",
    200: "OK",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    408: "Request Timeout",
    411: "Length Required",
    413: "Content Too Large",
    414: "URI Too Long",
    417: "Expectation Failed",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
    505: "HTTP Version Not Supported",
}

_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_TARGET = re.compile(rb"/[\x21-\x7e]*\Z")  # origin-form, visible ASCII only (RFC 9112 §3.2.1)
_BAD_ESCAPE = re.compile(rb"%(?![0-9A-Fa-f]{2})")
_VALUE = re.compile(rb"[\t\x20-\x7e\x80-\xff]*\Z")  # field-vchar, SP, HTAB, obs-text (§5.5)
_FIELD = re.compile(rb"([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*([\t\x20-\x7e\x80-\xff]*?)[ \t]*\Z")
_DIGITS = re.compile(r"[0-9]{1,18}\Z")
_REQUEST_FIELDS = re.compile(rb"(?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[\t\x20-\x7e\x80-\xff]*\r\n)*\Z")
_FIELD_LINE = re.compile(rb"([!#$%&'*+\-.^_`|~0-9A-Za-z]+):([\t\x20-\x7e\x80-\xff]*)\r\n")
_RESPONSE_FIELDS = re.compile(rb"(?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[^\r\n]*\r\n)*\Z")
_RESPONSE_LINE = re.compile(rb"([!#$%&'*+\-.^_`|~0-9A-Za-z]+):([^\r\n]*)\r\n")
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,15})[ \t]*(;[\t\x20-\x7e]*)?\Z")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_PLAIN_PATH = re.compile(r"(?:/[A-Za-z0-9_~-]*[A-Za-z0-9_~-][A-Za-z0-9_~.-]*)+\Z|/\Z")


@dataclass(frozen=True)
class Limits:
    """How much one client may ask of a :class:`Server`, and for how long (see the module)."""

    header_timeout_s: float = 5.0
    keepalive_timeout_s: float = 15.0
    body_timeout_s: float = 10.0
    send_timeout_s: float = 10.0
    max_body_bytes: int = 1 << 20
    max_line_bytes: int = 8 * 1024
    max_head_bytes: int = 16 * 1024
    max_headers: int = 100
    max_connections: int = 4096
    workers: int = 8
    max_workers: int = 64


class HTTPError(Exception):
    """A request the server refuses: answered with ``status`` and closed."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Headers:
    """Request or response fields, in order; names compared case-insensitively."""

    __slots__ = ("_items", "_index")

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._items = list(items)
        self._index: dict[str, list[str]] = {}
        for k, v in self._items:
            self._index.setdefault(k.lower(), []).append(v)

    def get(self, name: str, default: str | None = None) -> str | None:
        values = self._index.get(name.lower())
        return values[0] if values else default

    def get_all(self, name: str) -> list[str]:
        return self._index.get(name.lower(), [])

    def items(self) -> list[tuple[str, str]]:
        return list(self._items)

    def __contains__(self, name: str) -> bool:
        return self.get(name) is not None

    def __iter__(self):
        return iter(self._items)


class Request:
    """One parsed request, named as ``http.server`` names them (``command``, ``path``)."""

    __slots__ = (
        "command",
        "path",
        "version",
        "headers",
        "body",
        "client_address",
        "keep_alive",
        "response",
        "peer",
    )

    def __init__(self, command, path, version, headers, client_address) -> None:
        self.command: str = command
        self.path: str = path
        self.version: str = version
        self.headers: Headers = headers
        self.body: bytes = b""
        self.client_address = client_address
        self.keep_alive: bool = True
        self.response = None  # for a handler's own use (the balancer sets its answer here)
        self.peer: socket.socket | None = None  # the client's socket, while a worker has it

    def client_gone(self) -> bool:
        """Whether the client has closed its connection (or reset it) since it sent this.

        For a handler that waited (a backend's ``slow`` or ``hang``): a client that gave up
        is not waiting for the answer. Bytes of a next request are not a close.
        """
        sock = self.peer
        if sock is None:
            return False
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        if not poller.poll(0):
            return False
        try:
            return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:
            return True


# -- parsing -----------------------------------------------------------------------------------


def check_target(target: bytes) -> str:
    """An origin-form request target as text, or :class:`HTTPError` 400 (see the module)."""
    if not _TARGET.match(target) or _BAD_ESCAPE.search(target):
        raise HTTPError(400, "the request target must be a path of visible ASCII characters")
    if b"%" not in target:  # visible ASCII, nothing to decode
        return target.decode("ascii")
    try:
        decoded = unquote_to_bytes(target.split(b"?", 1)[0]).decode("utf-8")
    except UnicodeDecodeError:
        raise HTTPError(400, "the request path is not valid UTF-8 once decoded") from None
    if _CONTROL.search(decoded):
        raise HTTPError(400, "the request path has control characters once decoded")
    return target.decode("ascii")


def parse_head(head: bytes, limits: Limits, client_address=None) -> tuple[Request, int | None]:
    """Parse a request head (without its final empty line): ``(request, body framing)``.

    The framing is the ``Content-Length``, or ``None`` for a chunked body.

    Raises:
        HTTPError: the head breaks a rule of RFC 9112 or a limit (see the module).
    """
    lines = head.split(b"\r\n")
    line = lines[0]
    if len(line) > limits.max_line_bytes:
        raise HTTPError(414, f"the request line is longer than {limits.max_line_bytes} bytes")
    if head.count(b"\r") != len(lines) - 1 or head.count(b"\n") != len(lines) - 1:
        raise HTTPError(400, "a line ends in a bare CR or LF")
    parts = line.split(b" ")
    if len(parts) != 3:
        raise HTTPError(400, "the request line must be: method SP target SP HTTP-version")
    method, target, version = parts
    if not _TOKEN.match(method):
        raise HTTPError(400, "the method is not a token")
    if version not in (b"HTTP/1.1", b"HTTP/1.0"):
        if re.fullmatch(rb"HTTP/[0-9]\.[0-9]", version):
            raise HTTPError(505, "only HTTP/1.0 and HTTP/1.1 are served")
        raise HTTPError(400, "the HTTP version is malformed")
    path = check_target(target)
    if len(lines) - 1 > limits.max_headers:
        raise HTTPError(431, f"more than {limits.max_headers} header fields")
    if len(lines) > 1 and max(map(len, lines)) > limits.max_line_bytes:  # the line is <= it
        raise HTTPError(431, f"a header field is longer than {limits.max_line_bytes} bytes")
    block = head[len(line) + 2 :] + b"\r\n" if len(lines) > 1 else b""
    if _REQUEST_FIELDS.match(block):  # every field well formed: one pass in C
        fields = [
            (k.decode("ascii"), v.strip(b" \t").decode("latin-1"))
            for k, v in _FIELD_LINE.findall(block)
        ]
    else:  # which rule it breaks, field by field
        fields = _fields(lines[1:])
    headers = Headers(fields)
    req = Request(method.decode("ascii"), path, version.decode("ascii"), headers, client_address)
    connection = {t.strip().lower() for v in headers.get_all("connection") for t in v.split(",")}
    if version == b"HTTP/1.1":
        req.keep_alive = "close" not in connection
    else:
        req.keep_alive = "keep-alive" in connection
    if len(headers.get_all("host")) > 1:
        raise HTTPError(400, "more than one Host field")
    if req.command not in METHODS:
        raise HTTPError(501, f"method {req.command} is not implemented")
    return req, _framing(req, limits)


def _fields(lines: list[bytes]) -> list[tuple[str, str]]:
    """Parse field lines one by one; :class:`HTTPError` 400 names the first rule broken."""
    fields = []
    for raw in lines:
        m = _FIELD.match(raw)
        if m is None:
            if raw[:1] in (b" ", b"\t"):
                raise HTTPError(400, "obsolete line folding is not accepted")
            name, colon, value = raw.partition(b":")
            if not colon or not _TOKEN.match(name):
                raise HTTPError(400, "a header field name is malformed (or has space before ':')")
            raise HTTPError(400, "a header field value has control characters")
        fields.append((m.group(1).decode("ascii"), m.group(2).decode("latin-1")))
    return fields


def _framing(req: Request, limits: Limits) -> int | None:
    """The body length from ``Content-Length``, or ``None`` for chunked (RFC 9112 §6)."""
    te_fields = req.headers.get_all("transfer-encoding")
    cl_fields = req.headers.get_all("content-length")
    if not te_fields and not cl_fields:
        return 0  # no body (most requests)
    te = [t.strip().lower() for v in te_fields for t in v.split(",")]
    cl = [t.strip() for v in cl_fields for t in v.split(",")]
    if te:
        if cl:
            raise HTTPError(400, "Content-Length and Transfer-Encoding together are refused")
        if req.version == "HTTP/1.0":
            raise HTTPError(400, "Transfer-Encoding in an HTTP/1.0 request")
        if any(t != "chunked" for t in te):
            raise HTTPError(501, "only Transfer-Encoding: chunked is implemented")
        if te != ["chunked"]:
            raise HTTPError(400, "chunked must be the one and last transfer coding")
        return None
    if not cl:
        return 0
    if not all(_DIGITS.match(v) for v in cl) or len(set(map(int, cl))) != 1:
        raise HTTPError(400, "Content-Length must be one non-negative decimal number")
    length = int(cl[0])
    if length > limits.max_body_bytes:
        raise HTTPError(413, f"the body is larger than {limits.max_body_bytes} bytes")
    return length


def decode_chunks(buf: bytes | bytearray, pos: int, out: bytearray, limit: int) -> tuple[int, bool]:
    """Decode the complete chunks of ``buf[pos:]`` into ``out``: ``(new pos, finished)``.

    Stops before an incomplete chunk; ``finished`` once the last chunk and the trailer
    section (dropped) are complete.

    Raises:
        HTTPError: 400 for a malformed chunk, 413 when ``out`` would exceed ``limit`` bytes.
    """
    while True:
        eol = buf.find(b"\r\n", pos)
        if eol < 0:
            if len(buf) - pos > 1024:
                raise HTTPError(400, "a chunk-size line is too long")
            return pos, False
        m = _CHUNK_SIZE.match(bytes(buf[pos:eol]))
        if not m:
            raise HTTPError(400, "a chunk-size line is malformed")
        size = int(m.group(1), 16)
        if size == 0:
            end = buf.find(b"\r\n\r\n", eol)
            if end < 0:
                if len(buf) - eol > limit:
                    raise HTTPError(431, "the trailer section is too large")
                return pos, False
            return end + 4, True
        if len(out) + size > limit:
            raise HTTPError(413, f"the body is larger than {limit} bytes")
        start = eol + 2
        if len(buf) < start + size + 2:
            return pos, False
        if buf[start + size : start + size + 2] != b"\r\n":
            raise HTTPError(400, "chunk data is not followed by CRLF")
        out += buf[start : start + size]
        pos = start + size + 2


def status_line(status: int) -> bytes:
    return f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}\r\n".encode()


_STATUS_LINES = {status: status_line(status) for status in REASONS}


class Fields:
    """Response fields rendered to bytes once, for an answer sent many times (same fields).

    Iterating gives the ``(name, value)`` pairs, as a list of fields does.
    """

    __slots__ = ("items", "data")

    def __init__(self, items: Iterable[tuple[str, str]]) -> None:
        self.items = tuple(items)
        for k, v in self.items:
            if not _TOKEN.match(k.encode("latin-1")) or _CONTROL.search(v):
                raise ValueError(
                    f"items: a name must be a token and a value free of control characters, got {k!r}: {v!r}"
                )
        self.data = "".join(f"{k}: {v}\r\n" for k, v in self.items).encode("latin-1")

    def __iter__(self):
        return iter(self.items)


def render(
    status: int,
    headers: Iterable[tuple[str, str]],
    body: bytes,
    *,
    head_only: bool = False,
    close: bool = False,
) -> bytes:
    """One response as bytes: status line, fields, ``Content-Length``, body.

    ``headers`` may also be :class:`Fields`, rendered once beforehand (a backend's own).
    """
    out = [_STATUS_LINES.get(status) or status_line(status)]
    if isinstance(headers, Fields):
        out.append(headers.data)
    else:
        for k, v in headers:
            if "\r" in k or "\n" in k or "\r" in v or "\n" in v:
                continue  # never let a value split the head
            out.append(f"{k}: {v}\r\n".encode("latin-1", "replace"))
    out.append(b"Content-Length: %d\r\n" % len(body))
    if close:
        out.append(b"Connection: close\r\n")
    out.append(b"\r\n")
    if not head_only:
        out.append(body)
    return b"".join(out)


def error_bytes(status: int, message: str, server_name: str = "halab") -> bytes:
    body = f"{status} {REASONS.get(status, '')}: {message}\n".encode()
    headers = [("Server", server_name), ("Content-Type", "text/plain; charset=utf-8")]
    return render(status, headers, body, close=True)


# -- the server --------------------------------------------------------------------------------


def fd_of(conn) -> int:
    return conn.sock.fileno()


_READ, _BODY, _WRITE, _LINGER = range(4)


class _PollOneShot:
    """``select.epoll``'s face with ``EPOLLONESHOT``, over ``select.poll`` (macOS, BSD).

    ``poll`` has no one-shot flag: each reported descriptor is disarmed here (taken out of the
    poll set) before its event is returned, and re-armed by ``modify``. A ``poll()`` already
    running does not see a descriptor re-armed from another thread, so ``modify`` from a worker
    is followed by a wake-up of the loop (``wake``, set by the server).
    """

    def __init__(self) -> None:
        self._poll = select.poll()
        self._masks: dict[int, int] = {}  # fd -> mask while armed
        self._oneshot: set[int] = set()
        self._lock = threading.Lock()
        self.wake = None

    def register(self, fd: int, mask: int) -> None:
        with self._lock:
            self._arm(fd, mask)

    def modify(self, fd: int, mask: int) -> None:
        with self._lock:
            self._arm(fd, mask)
        if self.wake is not None and threading.current_thread() is not self.loop_thread:
            self.wake()

    loop_thread: threading.Thread | None = None

    def _arm(self, fd: int, mask: int) -> None:
        if mask & ONESHOT:
            self._oneshot.add(fd)
        else:
            self._oneshot.discard(fd)
        self._masks[fd] = mask & ~ONESHOT
        self._poll.register(fd, mask & ~ONESHOT)

    def unregister(self, fd: int) -> None:
        with self._lock:
            self._oneshot.discard(fd)
            if self._masks.pop(fd, None) is not None:
                self._poll.unregister(fd)

    def poll(self, timeout: float) -> list[tuple[int, int]]:
        events = self._poll.poll(timeout * 1000)
        out = []
        with self._lock:
            for fd, mask in events:
                if fd not in self._masks:
                    continue  # disarmed since poll() began
                if fd in self._oneshot:
                    del self._masks[fd]
                    self._oneshot.discard(fd)
                    self._poll.unregister(fd)
                out.append((fd, mask))
        return out

    def close(self) -> None:
        with self._lock:
            self._masks.clear()


# epoll where there is one (Linux); poll with the one-shot emulated elsewhere. The environment
# variable HALAB_HTTP_POLL=poll forces the second, so that Linux tests cover it too.
if hasattr(select, "epoll") and os.environ.get("HALAB_HTTP_POLL") != "poll":
    IN, OUT, ONESHOT = select.EPOLLIN, select.EPOLLOUT, select.EPOLLONESHOT
    _poller = select.epoll
else:
    IN, OUT, ONESHOT = select.POLLIN, select.POLLOUT, 1 << 30
    _poller = _PollOneShot
_NOTHING = object()  # what an idle worker's wait for a request gave
_PENDING = object()  # a handler's generator waits for an upstream socket
GROW_AFTER_S = 0.05  # seconds the queue may stand still before the pool grows
IDLE_WORKER_S = 10.0  # seconds an extra worker waits for work before it leaves
HOT_WAIT_MS = 2  # a worker with nothing queued waits this long for the next request itself


class _Conn:
    """One client connection, owned by the loop except while a worker has it (``busy``)."""

    __slots__ = (
        "sock",
        "addr",
        "buf",
        "state",
        "deadline",
        "request",
        "length",
        "pos",
        "body",
        "out",
        "close_after",
        "registered",
        "busy",
    )

    def __init__(self, sock: socket.socket, addr, deadline: float) -> None:
        self.sock = sock
        self.addr = addr
        self.buf = bytearray()
        self.state = _READ
        self.deadline = deadline
        self.request: Request | None = None
        self.length: int | None = 0
        self.pos = 0
        self.body = bytearray()
        self.out = b""
        self.close_after = False
        self.registered = False
        self.busy = False


Handler = Callable[[Request], tuple[int, list, bytes]]


class _Pending:
    """A :class:`Connect` or :class:`Exchange` the loop carries out for a waiting handler."""

    __slots__ = ("op", "conn", "gen", "fd", "rest", "deadline")

    def __init__(self, op, conn: _Conn, gen: Generator, rest: bytes) -> None:
        self.op, self.conn, self.gen = op, conn, gen
        self.fd = op.upstream.sock.fileno()
        self.rest = rest  # request bytes not yet sent
        self.deadline = 0.0


class Server:
    """A bounded HTTP/1.1 server on ``(host, port)``.

    Args:
        handler: called on a worker thread with each :class:`Request`; returns ``(status,
            [(name, value), ...], body)``. It may set ``request.keep_alive = False`` to close.
            An exception is answered ``500`` and closes the connection.
        limits: the :class:`Limits`.
        control: requests for which it returns true run on a worker of their own, so that a
            pool busy with hung requests (a backend's ``hang`` fault) still answers them.
        quick: answers a request on the loop thread itself when it can do so without waiting
            (no sleep, no lock held long), or returns ``None`` to hand it to a worker. It may
            return a generator instead of the answer: one that yields :class:`Connect` and
            :class:`Exchange` operations on upstream connections, which the loop carries out
            without blocking (they are its sockets too), resuming the generator with each
            result, until it returns the answer. That is how the balancer forwards: one thread,
            no hand-off between threads per request (with its worker pool the balancer made
            about three context switches a request under wrk, this way about one; its CPU time
            a request stayed within the noise of a shared two-core machine). A request
            ``control`` picks never goes here.
        name: the ``Server`` field of error answers, and the threads' name prefix.
    """

    def __init__(
        self,
        handler: Handler,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        limits: Limits | None = None,
        control: Callable[[Request], bool] | None = None,
        quick: Callable[[Request], tuple[int, list, bytes] | None] | None = None,
        name: str = "halab",
    ) -> None:
        self.handler = handler
        self.limits = limits or Limits()
        self.control = control
        self.quick = quick
        self.name = name
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._listener.bind((host, port))
            self._listener.listen(BACKLOG)
        except OSError:
            self._listener.close()
            raise
        self._listener.setblocking(False)
        self.server_address = self._listener.getsockname()
        self._ep = _poller()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._woken = False
        self._returns: deque = deque()
        self._conns: dict[int, _Conn] = {}
        self._lingering = 0
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._control_jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._stopping = False
        self._workers: set[threading.Thread] = set()
        self._pool_lock = threading.Lock()
        self._loop_thread: threading.Thread | None = None
        self._control_thread: threading.Thread | None = None
        self._last_take = time.monotonic()  # when a worker last took a request
        self._pending: dict[int, _Pending] = {}  # upstream fd -> what waits on it
        self._deadlines: list = []  # heap of (deadline, sequence number, _Pending)
        self._seq = 0
        self._idle_workers = 0  # workers waiting for a request (under _pool_lock)

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Server:
        """Start the loop and the workers (threads, daemon); return at once."""
        self._loop_thread = self._thread(self._loop, (), "loop")
        if self.control is not None:  # one worker, serving only what ``control`` picked
            self._control_thread = self._thread(self._work, (self._control_jobs, False), "control")
        self._grow(self.limits.workers)
        return self

    def _thread(self, target, args, role: str) -> threading.Thread:
        t = threading.Thread(target=target, args=args, name=f"{self.name}-{role}", daemon=True)
        t.start()
        return t

    def _grow(self, n: int) -> None:
        with self._pool_lock:
            n = min(n, self.limits.max_workers - len(self._workers))
            for _ in range(max(0, n)):
                t = threading.Thread(
                    target=self._work, args=(self._jobs,), name=f"{self.name}-worker", daemon=True
                )
                self._workers.add(t)
                t.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop accepting, close every connection, join every thread. Idempotent."""
        if self._stopping:
            return
        self._stopping = True
        self._wake()
        deadline = time.monotonic() + timeout
        for t in (self._loop_thread, self._control_thread):
            if t is not None:
                if t is self._control_thread:
                    self._control_jobs.put(None)
                t.join(max(0.0, deadline - time.monotonic()))
        with self._pool_lock:
            workers = list(self._workers)
        for _ in workers:
            self._jobs.put(None)
        for t in workers:
            t.join(max(0.0, deadline - time.monotonic()))

    def worker_count(self) -> int:
        with self._pool_lock:
            return len(self._workers)

    # -- the loop ----------------------------------------------------------------------------

    def _wake(self) -> None:
        if not self._woken:
            self._woken = True
            with contextlib.suppress(OSError):
                self._wake_w.send(b"x")

    def _wake_anyway(self) -> None:
        """Wake the loop even if a wake-up is pending (poll's re-arm from a worker needs it)."""
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    def _loop(self) -> None:
        ep = self._ep
        if isinstance(ep, _PollOneShot):
            ep.wake, ep.loop_thread = self._wake_anyway, threading.current_thread()
        listener, wake = self._listener.fileno(), self._wake_r.fileno()
        ep.register(listener, IN)
        ep.register(wake, IN)
        next_sweep = time.monotonic() + SWEEP_S
        deadlines = self._deadlines
        try:
            while not self._stopping:
                wait = SWEEP_S
                while deadlines and not self._live(deadlines[0]):
                    heapq.heappop(deadlines)  # settled already: no need to wake for it
                if deadlines:
                    wait = min(wait, max(0.0, deadlines[0][0] - time.monotonic()))
                for fd, mask in ep.poll(wait):
                    conn = None
                    try:
                        if fd == listener:
                            self._accept()
                        elif fd == wake:
                            self._drain_wake()
                        else:
                            conn = self._conns.get(fd)
                            if conn is None:
                                pending = self._pending.get(fd)
                                if pending is not None:
                                    conn = pending.conn
                                    self._on_upstream(pending)
                                continue
                            if conn.busy:
                                continue  # its worker (or an upstream socket) re-arms it
                            if mask & OUT:
                                self._on_writable(conn)
                            else:
                                self._on_readable(conn)
                    except Exception:  # one connection's trouble must not end the loop
                        self._report()
                        if conn is not None:
                            self._drop(conn)
                now = time.monotonic()
                if deadlines and deadlines[0][0] <= now:
                    try:
                        self._expire(now)
                    except Exception:
                        self._report()
                if now >= next_sweep:
                    next_sweep = now + SWEEP_S
                    try:
                        self._sweep(now)
                    except Exception:
                        self._report()
        finally:
            self._close_everything()

    @staticmethod
    def _report() -> None:
        if os.environ.get("HALAB_LIVE_DEBUG"):
            traceback.print_exc()

    def _close_everything(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self._ep.unregister(self._listener.fileno())
        self._listener.close()
        for pending in list(self._pending.values()):  # their ``finally`` blocks run now
            self._pending.pop(pending.fd, None)
            with contextlib.suppress(OSError, ValueError):
                self._ep.unregister(pending.fd)
            with contextlib.suppress(Exception):
                pending.gen.close()
            pending.conn.busy = False
        for conn in list(self._conns.values()):
            if not conn.busy:
                self._drop(conn)
            else:  # its worker sees the server stopping and closes it
                with contextlib.suppress(OSError):
                    conn.sock.shutdown(socket.SHUT_RDWR)
        self._ep.close()
        self._wake_r.close()
        self._wake_w.close()

    def _accept(self) -> None:
        for _ in range(64):
            try:
                sock, addr = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # EMFILE and friends: leave the rest in the backlog for now
                return
            try:
                sock.setblocking(False)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:  # reset already
                sock.close()
                continue
            now = time.monotonic()
            if len(self._conns) - self._lingering >= self.limits.max_connections:
                conn = _Conn(sock, addr, now)
                self._conns[sock.fileno()] = conn
                self._register(conn, selectors.EVENT_READ)
                self._fail(conn, 503, "too many connections (maxconn); try again")
                continue
            conn = _Conn(sock, addr, now + self.limits.header_timeout_s)
            self._conns[sock.fileno()] = conn
            self._register(conn, selectors.EVENT_READ)

    def _drain_wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_r.recv(4096)
        self._woken = False
        while self._returns:
            conn, out, close, error = self._returns.popleft()
            self._resume(conn, out, close, error)

    def _resume(self, conn: _Conn, out: bytes, close: bool, error: HTTPError | None) -> None:
        """A worker is done with ``conn``: write what is left, then read the next request.

        The worker may have read part of the next request already (``conn.state``, ``buf``),
        or found it bad (``error``).
        """
        conn.busy = False
        if self._stopping:
            self._drop(conn)
            return
        if error is not None:
            self._fail(conn, error.status, str(error))
            return
        conn.close_after = close
        if out:
            conn.out = out
            conn.state = _WRITE
            conn.deadline = time.monotonic() + self.limits.send_timeout_s
            self._register(conn, selectors.EVENT_WRITE)
            return
        if close:
            self._drop(conn, graceful=True)
            return
        if conn.state == _READ and not conn.buf:
            conn.deadline = time.monotonic() + self.limits.keepalive_timeout_s
        self._register(conn, selectors.EVENT_READ)
        if conn.buf:
            self._parse(conn)

    def _next_request(self, conn: _Conn) -> None:
        conn.state = _READ
        now = time.monotonic()
        conn.deadline = now + (
            self.limits.header_timeout_s if conn.buf else self.limits.keepalive_timeout_s
        )
        self._register(conn, selectors.EVENT_READ)
        if conn.buf:  # a pipelined request already arrived
            self._parse(conn)

    def _register(self, conn: _Conn, events: int) -> None:
        """Arm ``conn`` for one event (``EPOLLONESHOT``): whoever handles it re-arms it."""
        mask = (OUT if events == selectors.EVENT_WRITE else IN) | ONESHOT
        if conn.registered:
            self._ep.modify(conn.sock.fileno(), mask)
        else:
            self._ep.register(conn.sock.fileno(), mask)
            conn.registered = True

    def _unregister(self, conn: _Conn) -> None:
        if conn.registered:
            conn.registered = False
            with contextlib.suppress(ValueError, OSError):
                self._ep.unregister(conn.sock.fileno())

    def _on_readable(self, conn: _Conn) -> None:
        try:
            data = conn.sock.recv(RECV_BYTES)
        except (BlockingIOError, InterruptedError):
            self._register(conn, selectors.EVENT_READ)
            return
        except OSError:
            self._drop(conn)
            return
        if conn.state == _LINGER:
            if not data:
                self._drop(conn)
            else:
                self._register(conn, selectors.EVENT_READ)
            return
        if not data:
            self._drop(conn)  # the client closed (possibly mid-request: nothing to answer)
            return
        if conn.state == _READ and not conn.buf:
            conn.deadline = time.monotonic() + self.limits.header_timeout_s
        conn.buf += data
        self._parse(conn)
        if not conn.busy and conn.state in (_READ, _BODY) and self._conns.get(fd_of(conn)) is conn:
            self._register(conn, selectors.EVENT_READ)  # the rest of the request

    def _parse(self, conn: _Conn) -> None:
        try:
            while self._advance(conn) and self._dispatch(conn):
                pass  # answered here, and the next request may already be in the buffer
        except HTTPError as exc:
            self._fail(conn, exc.status, str(exc))

    def _advance(self, conn: _Conn) -> bool:
        """Parse what ``conn.buf`` holds; True once a whole request is in ``conn.request``."""
        if conn.state == _READ:
            self._parse_head(conn)
        return conn.state == _BODY and self._parse_body(conn)

    def _parse_head(self, conn: _Conn) -> None:
        lim = self.limits
        buf = conn.buf
        while buf[:2] == b"\r\n":  # RFC 9112 §2.2: ignore empty lines before a request
            del buf[:2]
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            first = buf.find(b"\r\n")
            if first < 0 and len(buf) > lim.max_line_bytes:
                raise HTTPError(414, f"the request line is longer than {lim.max_line_bytes} bytes")
            if first >= 0 and buf[:first].count(b" ") != 2:  # HTTP/0.9 "GET /" among them
                raise HTTPError(400, "the request line must be: method SP target SP HTTP-version")
            if len(buf) > lim.max_head_bytes:
                raise HTTPError(431, f"the request head is longer than {lim.max_head_bytes} bytes")
            return
        if end > lim.max_head_bytes:
            raise HTTPError(431, f"the request head is longer than {lim.max_head_bytes} bytes")
        req, length = parse_head(bytes(buf[:end]), lim, conn.addr)
        del buf[: end + 4]
        conn.request = req
        conn.length = length
        conn.pos = 0
        conn.state = _BODY
        conn.deadline = time.monotonic() + lim.body_timeout_s
        expect = req.headers.get("expect")
        if expect is not None:
            if expect.lower() != "100-continue":
                raise HTTPError(417, "only Expect: 100-continue is understood")
            if (length is None or length > len(buf)) and req.version == "HTTP/1.1":
                with contextlib.suppress(OSError):
                    conn.sock.send(status_line(100) + b"\r\n")

    def _parse_body(self, conn: _Conn) -> bool:
        req = conn.request
        buf = conn.buf
        if conn.length is not None:
            if len(buf) < conn.length:
                return False
            req.body = bytes(buf[: conn.length])
            del buf[: conn.length]
        else:
            limit = self.limits.max_body_bytes
            conn.pos, done = decode_chunks(buf, conn.pos, conn.body, limit)
            if not done:
                if len(buf) > 2 * limit + RECV_BYTES:  # tiny chunks, long extensions
                    raise HTTPError(413, f"the chunked body is larger than {2 * limit} bytes")
                return False
            req.body = bytes(conn.body)
            del buf[: conn.pos]
            conn.pos = 0
            conn.body = bytearray()
        return True

    def _dispatch(self, conn: _Conn) -> bool:
        """Answer ``conn.request`` here (``quick``) or hand it to a worker.

        True when it was answered here, wholly sent, and the connection waits for its next
        request (the caller then parses what the buffer holds).
        """
        req = conn.request
        if self.control is not None and self.control(req):
            conn.busy = True  # ONESHOT: no event for it until it is re-armed
            self._control_jobs.put(conn)
            return False
        answer = None
        if self.quick is not None:
            try:
                answer = self.quick(req)
            except Exception:
                answer = None  # a worker runs the handler, and answers 500 if it fails too
        if answer is None:
            conn.busy = True
            self._jobs.put(conn)
            return False
        if type(answer) is GeneratorType:  # (an ABC's isinstance costs more, on every answer)
            conn.busy = True
            answer = self._drive(conn, answer)
            if answer is _PENDING:
                return False
            conn.busy = False
        out, close = self._send_answer(conn, req, answer)
        conn.state, conn.request = _READ, None
        if out or close:
            self._resume(conn, out, close, None)
            return False
        conn.deadline = time.monotonic() + (
            self.limits.header_timeout_s if conn.buf else self.limits.keepalive_timeout_s
        )
        return True

    # -- upstream sockets, for a handler's generator ------------------------------------------

    def _drive(self, conn: _Conn, gen: Generator, value=None, exc=None):
        """Resume ``gen`` until it yields an operation that must wait (``_PENDING``) or ends
        (its answer, or the exception it raised, which is answered 500)."""
        while True:
            try:
                op = gen.send(value) if exc is None else gen.throw(exc)
            except StopIteration as stop:
                return stop.value
            except Exception as e:
                return e
            value = exc = None
            try:
                if self._start(op, conn, gen):
                    return _PENDING
            except Exception as e:  # raised in the generator, at its ``yield``
                exc = e

    def _start(self, op, conn: _Conn, gen: Generator) -> bool:
        """Begin ``op`` without blocking; True if it must wait for its socket (then armed)."""
        up = op.upstream
        if isinstance(op, Connect):
            if up.connect_nowait():
                return False
            pending = _Pending(op, conn, gen, b"")
            mask = OUT
        else:
            data = request_bytes(op.method, op.target, op.headers, op.body)
            pending = _Pending(op, conn, gen, up.send_nowait(data))
            mask = OUT if pending.rest else IN
        self._pending[pending.fd] = pending
        if up.armed:  # still in the poll set from its last exchange, disarmed: one call
            self._ep.modify(pending.fd, mask | ONESHOT)
        else:
            self._ep.register(pending.fd, mask | ONESHOT)
            up.armed = True
        self._arm_deadline(pending, time.monotonic() + op.timeout)
        return True

    def _arm_deadline(self, pending: _Pending, deadline: float) -> None:
        pending.deadline = deadline
        self._seq += 1
        heapq.heappush(self._deadlines, (deadline, self._seq, pending))

    def _on_upstream(self, pending: _Pending) -> None:
        op, up = pending.op, pending.op.upstream
        try:
            if isinstance(op, Connect):
                up.connect_done()
                result = None
            elif pending.rest:
                pending.rest = up.send_nowait(pending.rest)
                self._ep.modify(pending.fd, (OUT if pending.rest else IN) | ONESHOT)
                self._arm_deadline(pending, time.monotonic() + op.timeout)
                return
            else:
                result = up.receive_nowait(op.method)
                if result is None:  # more to come: ``timeout`` of silence from now
                    self._ep.modify(pending.fd, IN | ONESHOT)
                    self._arm_deadline(pending, time.monotonic() + op.timeout)
                    return
        except Exception as exc:
            self._settle(pending, None, exc)
            return
        self._settle(pending, result, None)

    def _live(self, entry: tuple) -> bool:
        deadline, _, pending = entry
        return self._pending.get(pending.fd) is pending and pending.deadline == deadline

    def _expire(self, now: float) -> None:
        deadlines = self._deadlines
        while deadlines and deadlines[0][0] <= now:
            entry = heapq.heappop(deadlines)
            if self._live(entry):
                pending = entry[2]
                op = pending.op
                if isinstance(op, Exchange) and op.claim is not None:
                    claim, op.claim = op.claim, None
                    if not claim.give_up():  # the upstream runs it: its answer is coming
                        op.ran = True
                        self._arm_deadline(pending, now + op.timeout)
                        continue
                what = "connect" if isinstance(op, Connect) else "no answer within"
                self._settle(pending, None, TimeoutError(f"{what} timed out"))

    def _settle(self, pending: _Pending, value, exc) -> None:
        """``pending`` is done: resume its generator; send the answer once there is one."""
        del self._pending[pending.fd]
        if exc is not None:  # it may still be armed; an answer's event has disarmed it
            pending.op.upstream.armed = False  # (then it stays in the set for its next exchange)
            with contextlib.suppress(OSError, ValueError):
                self._ep.unregister(pending.fd)
        conn = pending.conn
        answer = self._drive(conn, pending.gen, value, exc)
        if answer is _PENDING:
            return
        if self._conns.get(fd_of(conn)) is not conn:
            return  # dropped meanwhile (the server is stopping)
        out, close = self._send_answer(conn, conn.request, answer)
        conn.state, conn.request = _READ, None
        self._resume(conn, out, close, None)

    def _on_writable(self, conn: _Conn) -> None:
        try:
            n = conn.sock.send(conn.out)
        except (BlockingIOError, InterruptedError):
            self._register(conn, selectors.EVENT_WRITE)
            return
        except OSError:
            self._drop(conn)
            return
        conn.out = conn.out[n:]
        if conn.out:
            self._register(conn, selectors.EVENT_WRITE)
            return
        if conn.state == _LINGER:
            self._linger(conn)
        elif conn.close_after:
            self._drop(conn, graceful=True)
        else:
            self._next_request(conn)

    def _fail(self, conn: _Conn, status: int, message: str) -> None:
        """Answer an error, then drain and close: nothing after it is parsed as a request."""
        conn.state = _LINGER
        conn.buf = bytearray()
        data = error_bytes(status, message, self.name)
        try:
            n = conn.sock.send(data)
        except (BlockingIOError, InterruptedError):
            n = 0
        except OSError:
            self._drop(conn)
            return
        conn.out = data[n:]
        self._lingering += 1
        if self._lingering > LINGER_MAX:
            self._drop(conn)
            return
        conn.deadline = time.monotonic() + LINGER_S
        if conn.out:
            self._register(conn, selectors.EVENT_WRITE)
        else:
            self._linger(conn)

    def _linger(self, conn: _Conn) -> None:
        with contextlib.suppress(OSError):
            conn.sock.shutdown(socket.SHUT_WR)
        self._register(conn, selectors.EVENT_READ)

    def _sweep(self, now: float) -> None:
        if not self._jobs.empty() and now - self._last_take > GROW_AFTER_S:
            self._grow(self.limits.workers)
        for conn in list(self._conns.values()):
            if conn.busy or now < conn.deadline:
                continue
            if conn.state == _READ and conn.buf:
                self._fail(conn, 408, "the request head did not arrive in time")
            elif conn.state == _BODY:
                self._fail(conn, 408, "the request body did not arrive in time")
            else:  # idle keep-alive, a stuck write, or a linger that is over
                self._drop(conn)

    def _drop(self, conn: _Conn, graceful: bool = False) -> None:
        if self._conns.get(conn.sock.fileno()) is not conn:
            return
        del self._conns[conn.sock.fileno()]
        if conn.state == _LINGER:
            self._lingering -= 1
        self._unregister(conn)
        if graceful:
            with contextlib.suppress(OSError):
                conn.sock.shutdown(socket.SHUT_WR)
        conn.sock.close()

    # -- the workers -------------------------------------------------------------------------

    def _work(self, jobs: queue.SimpleQueue, hot: bool = True) -> None:
        me = threading.current_thread()
        while True:
            if hot:
                with self._pool_lock:
                    self._idle_workers += 1
            try:
                conn = jobs.get(timeout=IDLE_WORKER_S)
            except queue.Empty:
                conn = _NOTHING
            finally:
                if hot:
                    with self._pool_lock:
                        self._idle_workers -= 1
            if conn is _NOTHING:
                with self._pool_lock:
                    if me in self._workers and len(self._workers) > self.limits.workers:
                        self._workers.discard(me)
                        return
                continue
            if conn is None:
                with self._pool_lock:
                    self._workers.discard(me)
                return
            self._last_take = time.monotonic()
            while True:
                out, close = self._serve(conn)
                conn.state, conn.request = _READ, None
                error = None
                if out or close or conn.buf or self._stopping or not self._may_wait(hot, jobs):
                    break
                try:
                    if not self._next_here(conn):
                        break
                except HTTPError as exc:
                    error = exc
                    break
                except OSError:
                    close = True
                    break
            if self._stopping:
                with contextlib.suppress(OSError):
                    conn.sock.close()
                continue
            if not (out or close or error or conn.buf or conn.state != _READ):
                # the usual case: wait for the next request; re-arm it here, sparing the loop
                conn.close_after = False
                conn.deadline = time.monotonic() + self.limits.keepalive_timeout_s
                conn.busy = False
                try:
                    self._ep.modify(conn.sock.fileno(), IN | ONESHOT)
                    continue
                except (OSError, ValueError):
                    conn.busy = True
            self._returns.append((conn, out, close, error))
            self._wake()

    def _may_wait(self, hot: bool, jobs: queue.SimpleQueue) -> bool:
        """Whether a worker may wait for its client's next request: only while nothing is
        queued and another worker is idle, so that a waiting worker never delays a request
        that came on another connection (as a proxy's pool of keep-alive connections does)."""
        return hot and jobs.empty() and self._idle_workers > 0

    def _next_here(self, conn: _Conn) -> bool:
        """Wait ``HOT_WAIT_MS`` for the next request on ``conn``; True if it is whole.

        A busy keep-alive client sends its next request right after it read the answer:
        reading it here spares two thread hand-offs. Only when no other request waits.
        """
        poller = select.poll()
        poller.register(conn.sock, select.POLLIN)
        if not poller.poll(HOT_WAIT_MS):
            return False
        data = conn.sock.recv(RECV_BYTES)
        if not data:
            raise ConnectionResetError("the client closed")
        conn.deadline = time.monotonic() + self.limits.header_timeout_s
        conn.buf += data
        return self._advance(conn)

    def _serve(self, conn: _Conn) -> tuple[bytes, bool]:
        """Run the handler; send what the socket takes now; return ``(unsent, close)``."""
        req = conn.request
        req.peer = conn.sock
        try:
            answer = self.handler(req)
        except Exception as exc:  # a handler bug must not cost the connection its answer
            answer = exc
        return self._send_answer(conn, req, answer)

    def _send_answer(self, conn: _Conn, req: Request, answer) -> tuple[bytes, bool]:
        """Render ``(status, headers, body)`` (or a handler's exception: ``500``), send what
        the socket takes now; return ``(unsent, close)``."""
        try:
            if isinstance(answer, Exception):
                raise answer
            status, headers, body = answer
            close = not req.keep_alive or self._stopping
            data = render(status, headers, body, head_only=req.command == "HEAD", close=close)
        except Exception as exc:
            close = True
            data = error_bytes(500, f"the handler failed: {type(exc).__name__}", self.name)
        try:
            n = conn.sock.send(data)
        except (BlockingIOError, InterruptedError):
            n = 0
        except OSError:
            return b"", True
        return data[n:], close


# -- a client for the balancer's side ----------------------------------------------------------


class UpstreamClosed(ConnectionError):
    """The backend closed the connection before any byte of an answer.

    ``may_have_run`` is False when the backend cannot have read the whole request: the write
    failed, or the connection was *reset* (Linux resets a connection closed with unread bytes
    in it, and answers a write to a closed one with a reset). A clean end of file instead
    means the process had read everything sent before it closed, or died: it may have run
    the request.
    """

    def __init__(self, message: str, *, may_have_run: bool) -> None:
        super().__init__(message)
        self.may_have_run = may_have_run


class BadResponse(ValueError):
    """The backend's answer is not valid HTTP/1.1 (or larger than the limit)."""


class Response:
    """A backend's answer: ``status``, ``getheaders()``, ``will_close``, ``body``."""

    __slots__ = ("status", "headers", "body", "will_close")

    def __init__(self, status: int, headers: list, body: bytes, will_close: bool) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self.will_close = will_close

    def getheaders(self) -> list[tuple[str, str]]:
        return self.headers


MAX_RESPONSE_BYTES = 64 << 20  # a larger answer from a backend is a 502 (memory bound)
MAX_RESPONSE_HEAD = 65536
_STATUS_LINE = re.compile(rb"HTTP/1\.[01] ([1-9][0-9]{2})(?: [^\r\n]*)?\Z")


def request_bytes(method: str, target: str, headers: Iterable[tuple[str, str]], body: bytes):
    """One request as bytes, framed with a ``Content-Length`` when it has a body."""
    lines = [f"{method} {target} HTTP/1.1\r\n"]
    lines.extend(f"{k}: {v}\r\n" for k, v in headers)
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}\r\n")
    lines.append("\r\n")
    return "".join(lines).encode("latin-1") + body


def _response_head(head: bytes) -> tuple[int, list, bool]:
    lines = head.split(b"\r\n")
    m = _STATUS_LINE.match(lines[0])
    if not m:
        raise BadResponse("malformed status line")
    close = lines[0].startswith(b"HTTP/1.0")
    block = head[len(lines[0]) + 2 :] + b"\r\n" if len(lines) > 1 else b""
    if _RESPONSE_FIELDS.match(block):  # every line is name ":" value: one pass in C
        pairs = _RESPONSE_LINE.findall(block)
    else:  # line by line (a bare CR or LF in a value passes here)
        pairs = []
        for raw in lines[1:]:
            name, colon, value = raw.partition(b":")
            if not colon or not _TOKEN.match(name):
                raise BadResponse("malformed header field")
            pairs.append((name, value))
    fields = [(k.decode("ascii"), v.strip(b" \t").decode("latin-1")) for k, v in pairs]
    for k, v in fields:
        if k.lower() == "connection" and "close" in v.lower():
            close = True
    return int(m.group(1)), fields, close


def parse_response(buf: bytearray, method: str, eof: bool) -> Response | None:
    """Take one whole answer off the front of ``buf``; ``None`` while more bytes are needed.

    Interim (1xx) answers are dropped. ``eof``: the backend has closed its side, so ``buf``
    holds all there will be (a body framed by neither length nor chunks ends there).

    Raises:
        BadResponse: the answer is malformed, larger than the limit, or cut short.
    """
    while True:
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            if len(buf) > MAX_RESPONSE_HEAD:
                raise BadResponse("the response head is too large")
            if eof and buf:
                raise BadResponse("the response head was cut short")
            return None
        status, fields, close = _response_head(bytes(buf[:end]))
        if status >= 200:
            break
        del buf[: end + 4]  # an interim answer (100 Continue): the real one follows
    start = end + 4
    te = cl = None
    for k, v in fields:
        low = k.lower()
        if low == "content-length":
            cl = v.strip() if cl is None or cl == v.strip() else "mismatch"
        elif low == "transfer-encoding":
            te = v
    if method == "HEAD" or status in (204, 304):
        body, used = b"", start
    elif te is not None:
        if not eof and not buf.endswith(b"\r\n\r\n"):  # the last chunk and trailers end so
            return None
        out = bytearray()
        try:
            used, done = decode_chunks(buf, start, out, MAX_RESPONSE_BYTES)
        except HTTPError as exc:
            raise BadResponse(str(exc)) from None
        if not done:
            if eof:
                raise BadResponse("the chunked body was cut short")
            return None
        body = bytes(out)
    elif cl is not None:
        if not _DIGITS.match(cl):
            raise BadResponse("bad Content-Length")
        n = int(cl)
        if n > MAX_RESPONSE_BYTES:
            raise BadResponse("the response is too large")
        if len(buf) - start < n:
            if eof:
                raise BadResponse("the body was cut short")
            return None
        body, used = bytes(buf[start : start + n]), start + n
    else:  # delimited by the close
        if len(buf) - start > MAX_RESPONSE_BYTES:
            raise BadResponse("the response is too large")
        if not eof:
            return None
        body, used, close = bytes(buf[start:]), len(buf), True
    del buf[:used]
    return Response(status, fields, body, close or eof)


def _connect_error(err: int) -> OSError:
    if err == errno.ECONNREFUSED:
        return ConnectionRefusedError(err, os.strerror(err))
    return OSError(err, os.strerror(err))


class Upstream:
    """One keep-alive connection to a backend on 127.0.0.1.

    Two ways to use it. A worker thread calls :meth:`connect` and :meth:`request`, which
    block: the socket blocks, with the kernel's ``SO_RCVTIMEO``/``SO_SNDTIMEO`` as the timeout
    of silence per read or write (one system call per ``recv``, where a Python socket timeout
    costs a ``poll`` before each call as well). The server's loop instead uses the
    ``*_nowait`` methods on a non-blocking socket, for a handler that yields :class:`Connect`
    and :class:`Exchange` (see :meth:`Server._drive`).
    """

    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self.port = port
        self.host = host
        self.sock: socket.socket | None = None
        self._buf = bytearray()
        self._timeout: float | None = None
        self._eof = False
        self._answered = False  # a byte of the current answer has arrived
        self.idle_since = 0.0
        self.armed = False  # in the server loop's poll set (see ``Server._start``)

    def connect(self, timeout: float) -> None:
        self.sock = socket.create_connection((self.host, self.port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.settimeout(None)

    def _set_timeout(self, timeout: float) -> None:
        if timeout != self._timeout:
            sec = int(timeout)
            tv = struct.pack("ll", sec, int((timeout - sec) * 1e6))
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, tv)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, tv)
            self._timeout = timeout

    def stale(self) -> bool:
        """True when an idle connection is closed or has bytes nobody asked for.

        urllib3 checks the same before reusing a pooled connection (``wait_for_read(sock,
        timeout=0)``): a readable idle socket means the peer closed it (or sent garbage).
        """
        if self.sock is None or self._buf:
            return True
        poller = select.poll()
        poller.register(self.sock, select.POLLIN)
        return bool(poller.poll(0))

    def close(self) -> None:
        sock, self.sock, self.armed = self.sock, None, False
        if sock is not None:
            sock.close()

    def shutdown(self) -> None:
        sock = self.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def request(
        self, method: str, target: str, headers: Iterable[tuple[str, str]], body: bytes, timeout
    ) -> Response:
        """Send one request and read its answer; ``timeout`` seconds of silence per read.

        Raises:
            UpstreamClosed: the connection ended before any byte of the answer.
            TimeoutError, OSError: from the socket.
            BadResponse: the answer is malformed.
        """
        self._set_timeout(timeout)
        self._answered = False
        try:
            self.sock.sendall(request_bytes(method, target, headers, body))
        except BlockingIOError:  # SO_SNDTIMEO ran out
            raise TimeoutError("the backend read nothing within the timeout") from None
        except (BrokenPipeError, ConnectionResetError):
            raise UpstreamClosed("closed before the request was sent", may_have_run=False) from None
        while True:
            try:
                data = self.sock.recv(RECV_BYTES)
            except BlockingIOError:  # SO_RCVTIMEO ran out
                raise TimeoutError("no answer within the timeout") from None
            except ConnectionResetError:
                data = None
            resp = self.feed(data, method)
            if resp is not None:
                return resp

    def feed(self, data: bytes | None, method: str) -> Response | None:
        """Take what one read gave (``b""`` at the end of file, ``None`` for a reset).

        Raises:
            UpstreamClosed: the connection ended before any byte of the answer.
            ConnectionResetError: it was reset during the answer.
            BadResponse: the answer is malformed or cut short.
        """
        if data is None:
            if not self._answered:
                raise UpstreamClosed("reset before an answer", may_have_run=False)
            raise ConnectionResetError("reset during the answer")
        if not data:
            self._eof = True
            if not self._answered:
                raise UpstreamClosed("closed before an answer", may_have_run=True)
        else:
            self._answered = True
            self._buf += data
        return parse_response(self._buf, method, self._eof)

    # -- the loop's side: non-blocking ---------------------------------------------------------

    def connect_nowait(self) -> bool:
        """Start connecting; True if connected already (often so on loopback).

        Raises:
            ConnectionRefusedError, OSError: it failed at once.
        """
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock, self.armed = sock, False
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        err = sock.connect_ex((self.host, self.port))
        if err == 0:
            return True
        if err in (errno.EINPROGRESS, errno.EAGAIN, errno.EWOULDBLOCK):
            return False
        raise _connect_error(err)

    def connect_done(self) -> None:
        """After the socket turned writable: raise if the connect failed."""
        err = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            raise _connect_error(err)

    def send_nowait(self, data: bytes) -> bytes:
        """Send what the socket takes now; return the rest (``b""`` once all is sent)."""
        self._answered = False
        try:
            n = self.sock.send(data)
        except (BlockingIOError, InterruptedError):
            n = 0
        except (BrokenPipeError, ConnectionResetError):
            raise UpstreamClosed("closed before the request was sent", may_have_run=False) from None
        return data[n:]

    def receive_nowait(self, method: str) -> Response | None:
        """Read what has arrived; the whole answer, or ``None`` while it is incomplete."""
        try:
            data = self.sock.recv(RECV_BYTES)
        except (BlockingIOError, InterruptedError):
            return None
        except ConnectionResetError:
            data = None
        return self.feed(data, method)


class Connect:
    """What a handler's generator yields to have ``upstream`` connected (the server's loop
    does it without blocking; :func:`run_blocking` with ``Upstream.connect``)."""

    __slots__ = ("upstream", "timeout")

    def __init__(self, upstream: Upstream, timeout: float) -> None:
        self.upstream, self.timeout = upstream, timeout

    def run(self) -> None:
        self.upstream.connect(self.timeout)


class Exchange:
    """What a handler's generator yields to send a request on ``upstream`` and be resumed
    with its :class:`Response` (or have the exception raised at the ``yield``); ``timeout``
    is the seconds of silence allowed per read.

    ``claim``, if given, is asked when ``timeout`` runs out (:class:`halab.live.claims.Claim`):
    if the upstream claimed the attempt first, it runs, so the loop waits one ``timeout`` more
    for its answer instead of raising, and ``ran`` is set."""

    __slots__ = ("upstream", "method", "target", "headers", "body", "timeout", "claim", "ran")

    def __init__(
        self, upstream: Upstream, method, target, headers, body, timeout, claim=None
    ) -> None:
        self.upstream, self.method, self.target = upstream, method, target
        self.headers, self.body, self.timeout = headers, body, timeout
        self.claim, self.ran = claim, False

    def run(self) -> Response:
        return self.upstream.request(
            self.method, self.target, self.headers, self.body, self.timeout
        )


def run_blocking(gen: Generator):
    """Run a handler's generator on the calling thread, each :class:`Connect` and
    :class:`Exchange` blocking in turn; return what the generator returns."""
    value = exc = None
    while True:
        try:
            op = gen.send(value) if exc is None else gen.throw(exc)
        except StopIteration as stop:
            return stop.value
        value = exc = None
        try:
            value = op.run()
        except Exception as e:  # raised in the generator, at its ``yield``
            exc = e


# -- paths that are the lesson's own -----------------------------------------------------------


def normalise_path(target: str) -> str:
    """The path a target names, in the one form used to match reserved paths.

    Drops the query, percent-decodes (again, up to three times, so ``%255f`` is caught too),
    turns ``\\`` into ``/``, collapses repeated slashes, drops ``;parameters``, resolves ``.``
    and ``..`` (RFC 3986 §5.2.4) and case-folds: ``//_LB/./x/../status`` is ``/_lb/status``.
    """
    if _PLAIN_PATH.match(target):  # nothing to decode, drop or resolve (most requests)
        return target.lower()
    path = target.split("?", 1)[0].split("#", 1)[0]
    for _ in range(3):
        decoded = unquote_to_bytes(path).decode("utf-8", "replace")
        if decoded == path:
            break
        path = decoded
    segments: list[str] = []
    for seg in path.replace("\\", "/").split("/"):
        seg = seg.split(";", 1)[0]
        if seg in ("", "."):
            continue
        if seg == "..":
            if segments:
                segments.pop()
            continue
        segments.append(seg)
    return ("/" + "/".join(segments)).casefold()


def is_under(path: str, prefix: str) -> bool:
    """Whether a normalised ``path`` is ``prefix`` or below it."""
    return path == prefix or path.startswith(prefix + "/")
