"""One backend: a small HTTP server in its own OS process, with fault switches.

Run it as ``python -m halab.live.backend --name b0`` (``--port 0`` lets the OS pick). It binds
127.0.0.1 only, prints ``{"port": ..., "pid": ..., "name": ...}`` as its first line, and
exits when its parent does (see :mod:`halab.live._proc`).

Every path answers ``200`` with a short JSON body naming the backend, for every method
(GET, HEAD, POST, PUT, DELETE, OPTIONS). ``/health`` is the path the balancer checks.
The faults apply to every path except the switch itself, ``/_fault``:

- ``GET /_fault``: the current faults as JSON;
- ``POST /_fault`` with a JSON object: set any of ``slow`` (seconds added to each answer),
  ``fail`` (the fraction of answers that are ``500``) and ``hang`` (true: accept requests and
  never answer, until ``hang`` is set false again); ``{}`` with ``"reset": true`` clears all.

The switch answers only clients on 127.0.0.1 (``403`` otherwise). ``fail`` is deterministic:
an accumulator adds ``fail`` per request and fails the request when it reaches 1, so
``fail=0.25`` fails exactly every fourth request and ``fail=1`` every one.

Killing a backend is the parent's job: ``Popen.kill()``, a real SIGKILL.
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from halab.live._proc import LOOPBACK, announce, watch_parent

HANG_LIMIT_SECONDS = 3600.0  # a hung request gives up after an hour at most


class Faults:
    """The fault switches of one backend; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.slow = 0.0
        self.fail = 0.0
        self._acc = 0.0
        self._released = threading.Event()
        self._released.set()

    @property
    def hang(self) -> bool:
        return not self._released.is_set()

    def update(self, changes: dict) -> dict:
        """Apply ``changes`` (keys ``slow``, ``fail``, ``hang``, ``reset``); return the state."""
        unknown = set(changes) - {"slow", "fail", "hang", "reset"}
        if unknown:
            raise ValueError(f"unknown fault switches {sorted(unknown)}")
        with self._lock:
            if changes.get("reset"):
                self.slow, self.fail, self._acc = 0.0, 0.0, 0.0
                self._released.set()
            if "slow" in changes:
                slow = float(changes["slow"])
                if not 0 <= slow <= HANG_LIMIT_SECONDS:
                    raise ValueError(f"slow must be in [0, {HANG_LIMIT_SECONDS:g}] s, got {slow}")
                self.slow = slow
            if "fail" in changes:
                fail = float(changes["fail"])
                if not 0 <= fail <= 1:
                    raise ValueError(f"fail must be in [0, 1], got {fail}")
                self.fail, self._acc = fail, 0.0
            if "hang" in changes:
                if changes["hang"]:
                    self._released.clear()
                else:
                    self._released.set()
        return self.state()

    def state(self) -> dict:
        return {"slow": self.slow, "fail": self.fail, "hang": self.hang}

    def decide(self) -> tuple[float, bool]:
        """For one request: ``(seconds to delay, whether to answer 500)``."""
        with self._lock:
            self._acc += self.fail
            failing = self._acc >= 1.0 - 1e-12
            if failing:
                self._acc -= 1.0
            return self.slow, failing

    def wait_released(self) -> None:
        self._released.wait(HANG_LIMIT_SECONDS)


class BackendServer(ThreadingHTTPServer):
    """The backend's HTTP server; knows its name and faults."""

    daemon_threads = True
    block_on_close = False
    request_queue_size = 128  # listen backlog (socketserver's 5 overflows at 32 clients)

    def __init__(self, name: str, port: int = 0) -> None:
        self.name = name
        self.faults = Faults()
        self.served = 0
        self._count_lock = threading.Lock()
        super().__init__((LOOPBACK, port), BackendHandler)

    def count(self) -> int:
        with self._count_lock:
            self.served += 1
            return self.served


class BackendHandler(BaseHTTPRequestHandler):
    """Answers every method; honours the faults; serves the ``/_fault`` switch."""

    protocol_version = "HTTP/1.1"
    # One send per answer: buffer the headers and the body (flushed after each request) and
    # turn Nagle's algorithm off, or delayed ACKs add 40 ms to every keep-alive request.
    wbufsize = 64 * 1024
    disable_nagle_algorithm = True
    server_version = "halab-backend"
    server: BackendServer

    def log_message(self, format, *args):  # noqa: A002 - the stdlib's signature
        pass

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, status: int, payload: dict) -> None:
        body = (json.dumps(payload) + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Served-By", self.server.name)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _fault_switch(self, body: bytes) -> None:
        if self.client_address[0] != LOOPBACK:
            self._send(403, {"error": "the fault switch answers 127.0.0.1 only"})
            return
        if self.command in ("POST", "PUT"):
            try:
                changes = json.loads(body or b"{}")
                if not isinstance(changes, dict):
                    raise ValueError("send a JSON object")
                state = self.server.faults.update(changes)
            except ValueError as exc:
                self._send(400, {"error": str(exc)})
                return
        else:
            state = self.server.faults.state()
        self._send(200, {"backend": self.server.name, **state})

    def _serve(self) -> None:
        body = self._read_body()
        if self.path.split("?", 1)[0] == "/_fault":
            self._fault_switch(body)
            return
        faults = self.server.faults
        if faults.hang:
            faults.wait_released()
        delay, failing = faults.decide()
        if delay > 0:
            time.sleep(delay)
        n = self.server.count()
        payload = {"backend": self.server.name, "pid": os.getpid(), "request": n}
        if failing:
            self._send(500, {**payload, "error": "injected fault"})
        else:
            self._send(200, {**payload, "method": self.command, "path": self.path})

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_OPTIONS = do_PATCH = _serve


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``python -m halab.live.backend``."""
    parser = argparse.ArgumentParser(description="a halab backend on 127.0.0.1")
    parser.add_argument("--name", default="b0")
    parser.add_argument("--port", type=int, default=0, help="0 lets the OS pick")
    parser.add_argument("--no-watch", action="store_true", help="do not exit with the parent")
    args = parser.parse_args(argv)
    server = BackendServer(args.name, args.port)
    if not args.no_watch:
        watch_parent()
    announce(port=server.server_address[1], pid=os.getpid(), name=args.name)
    server.serve_forever(poll_interval=0.5)


if __name__ == "__main__":
    main()
