"""One backend: a small HTTP server in its own OS process, with fault switches.

Run it as ``python -m halab.live.backend --name b0`` (``--port 0`` lets the OS pick). It binds
127.0.0.1 only, prints ``{"port": ..., "pid": ..., "name": ...}`` as its first line, and
exits when its parent does (see :mod:`halab.live._proc`). Its HTTP server is the hardened one
of :mod:`halab.live._http` (backlog, connection cap, worker pool, timeouts, size limits, strict
RFC 9112 framing). A request that no fault delays is answered on the server's loop thread
(:meth:`BackendServer.answer_now`); a ``slow`` or ``hang`` one on a worker; the switch below
on a worker of its own, so that it still answers when every other worker waits in a ``hang``.

Every path answers ``200`` with a short JSON body naming the backend, for every method
(GET, HEAD, POST, PUT, DELETE, OPTIONS). ``/health`` is the path the balancer checks.
The faults apply to every path except the switch itself, ``/_fault``:

- ``GET /_fault``: the current faults as JSON;
- ``POST /_fault`` with a JSON object: set any of ``slow`` (seconds added to each answer),
  ``fail`` (the fraction of answers that are ``500``) and ``hang`` (true: accept requests and
  never answer, until ``hang`` is set false again); ``{}`` with ``"reset": true`` clears all.

The switch answers only clients on 127.0.0.1 that send the cluster's secret in the
``X-Halab-Secret`` header (``403`` otherwise; compared with ``hmac.compare_digest``). The secret
comes from the environment variable ``HALAB_SECRET`` (not argv, which every local user can
read in ``ps``); without it the backend makes a random one and adds ``"secret"`` to its ready
line, which only the parent reads. Any spelling of the path that normalises to ``/_fault``
(``//_fault``, ``/%5Ffault``, ``/x/../_FAULT``) is the switch. ``fail`` is deterministic:
an accumulator adds ``fail`` per request and fails the request when it reaches 1, so
``fail=0.25`` fails exactly every fourth request and ``fail=1`` every one.

**What it executed.** With ``--ledger PATH`` a backend appends one line ``pid request-id`` to
``PATH`` for each request it *executes* (answers 200), naming the request by its
``X-Request-Id`` (halab's load generator sends one, and the balancer adds one when a client
did not; requests without one, like health checks, are not written). Each line is one
``write(2)`` on a file opened with ``O_APPEND``, so a SIGKILL loses none: the kernel has it.
:meth:`~halab.live.cluster.LiveCluster.executions` reads them, so that "no request ran twice"
is checked where requests run, not only where answers arrive. An injected ``500`` is not an
execution (the fault stands for an application that failed before doing the work), and a
request that waited in a ``slow`` or ``hang`` fault is not executed if its client has closed
the connection meanwhile (the balancer's timeout gave up on it, and may have sent it
elsewhere): HAProxy's ``option abortonclose`` drops a queued request whose client went away
in the same way. That check and the execution are not atomic, so an attempt from halab's
balancer that waited, or arrived late, is also claimed before it runs
(:mod:`halab.live.claims`): if the balancer gave it up first, it is not run.

Killing a backend is the parent's job: ``Popen.kill()``, a real SIGKILL.
"""

from __future__ import annotations

import argparse
import hmac
import json
import os
import secrets
import threading
import time

from halab.live import claims
from halab.live._http import Fields, Limits, Request, Server, is_under, normalise_path
from halab.live._proc import LOOPBACK, announce, watch_parent

HANG_LIMIT_SECONDS = 3600.0  # a hung request gives up after an hour at most
REQUEST_ID_HEADER = "X-Request-Id"
SECRET_ENV = "HALAB_SECRET"  # the cluster's secret reaches its processes in the environment
SECRET_HEADER = "X-Halab-Secret"


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


class BackendServer:
    """The backend's HTTP server (a hardened :class:`~halab.live._http.Server`).

    Args:
        name: the name in every answer (``X-Served-By``).
        port: the port on 127.0.0.1; 0 lets the OS pick.
        secret: what ``X-Halab-Secret`` must carry for ``/_fault``; a random one when ``None``.
        limits: the server's :class:`~halab.live._http.Limits` (timeouts, sizes, workers).
        ledger: a file to append ``pid request-id`` to for each request executed (see the
            module), or ``None``. Beside it, the folder ``claims`` settles an attempt that the
            balancer may give up on (:mod:`halab.live.claims`).
    """

    def __init__(
        self,
        name: str,
        port: int = 0,
        *,
        secret: str | None = None,
        limits: Limits | None = None,
        ledger: str | None = None,
    ) -> None:
        self.name = name
        self._fields = Fields(  # the same on every answer: rendered once
            [
                ("Server", "halab-backend"),
                ("Content-Type", "application/json"),
                ("X-Served-By", name),
            ]
        )
        self._ledger = (
            None
            if ledger is None
            else os.open(ledger, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        )
        self._claims = None
        if ledger is not None:
            self._claims = os.path.join(os.path.dirname(os.path.abspath(ledger)), "claims")
            os.makedirs(self._claims, mode=0o700, exist_ok=True)
        self.faults = Faults()
        self.served = 0
        self.secret = secret or secrets.token_urlsafe(24)
        self._count_lock = threading.Lock()
        self.http = Server(
            self.handle,
            host=LOOPBACK,
            port=port,
            limits=limits or Limits(),
            control=lambda req: is_under(normalise_path(req.path), "/_fault"),
            quick=self.answer_now,
            name="halab-backend",
        )
        self.server_address = self.http.server_address

    def start(self) -> BackendServer:
        self.http.start()
        return self

    def stop(self) -> None:
        self.faults.update({"reset": True})  # let hung requests go
        self.http.stop()
        ledger, self._ledger = self._ledger, None
        if ledger is not None:
            os.close(ledger)

    def count(self) -> int:
        with self._count_lock:
            self.served += 1
            return self.served

    def _send(self, status: int, payload: dict) -> tuple[int, list, bytes]:
        return status, self._fields, (json.dumps(payload) + "\n").encode()

    def _fault_switch(self, req: Request) -> tuple[int, list, bytes]:
        if req.client_address is None or req.client_address[0] != LOOPBACK:
            return self._send(403, {"error": "the fault switch answers 127.0.0.1 only"})
        given = req.headers.get(SECRET_HEADER) or ""
        if not hmac.compare_digest(given.encode(), self.secret.encode()):
            return self._send(403, {"error": f"the fault switch needs the {SECRET_HEADER} header"})
        if req.command in ("POST", "PUT"):
            try:
                changes = json.loads(req.body or b"{}")
                if not isinstance(changes, dict):
                    raise ValueError("send a JSON object")
                state = self.faults.update(changes)
            except ValueError as exc:
                return self._send(400, {"error": str(exc)})
        else:
            state = self.faults.state()
        return self._send(200, {"backend": self.name, **state})

    def handle(self, req: Request) -> tuple[int, list, bytes]:
        """Answer one request (on a worker thread): the switch, or a fault, or a 200."""
        if is_under(normalise_path(req.path), "/_fault"):
            return self._fault_switch(req)
        faults = self.faults
        waited = faults.hang
        if waited:
            faults.wait_released()
        delay, failing = faults.decide()
        if delay > 0:
            time.sleep(delay)
            waited = True
        if waited and req.client_gone():  # nobody waits for it: not executed (see the module)
            req.keep_alive = False
            return self._send(503, {"backend": self.name, "error": "the client went away"})
        return self._answer(req, failing, waited)

    def answer_now(self, req: Request) -> tuple[int, list, bytes] | None:
        """The answer, on the server's loop thread, when no fault makes it wait; else ``None``
        (a worker runs :meth:`handle`). The switch never comes here (``control``)."""
        faults = self.faults
        if faults.hang or faults.slow > 0:
            return None
        _, failing = faults.decide()  # a ``slow`` set since the line above: not this one
        return self._answer(req, failing)

    def _answer(self, req: Request, failing: bool, waited: bool = False):
        n = self.count()
        payload = {"backend": self.name, "pid": os.getpid(), "request": n}
        if failing:
            return self._send(500, {**payload, "error": "injected fault"})
        request_id = req.headers.get(REQUEST_ID_HEADER)
        tag = req.headers.get(claims.ATTEMPT_HEADER) if self._claims else None
        if (
            tag is not None
            and request_id is not None
            and (waited or claims.is_old(tag))
            and not claims.claim(self._claims, request_id, tag)
        ):  # the balancer gave this attempt up first, and may have sent it elsewhere
            req.keep_alive = False
            return self._send(503, {**payload, "error": "the balancer gave this attempt up"})
        if (
            tag is not None
            and request_id is not None
            and not tag.startswith("1 ")
            and claims.ran_before(os.path.dirname(self._claims), request_id)
        ):  # a retry of a request that another backend ran before it died: answered as an
            # idempotency key is, with the outcome and without running it again
            return self._send(200, {**payload, "replayed": True, "path": req.path})
        if self._ledger is not None and request_id is not None:
            os.write(self._ledger, f"{os.getpid()} {request_id}\n".encode("latin-1"))
        return self._send(200, {**payload, "method": req.command, "path": req.path})


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``python -m halab.live.backend``."""
    parser = argparse.ArgumentParser(description="a halab backend on 127.0.0.1")
    parser.add_argument("--name", default="b0")
    parser.add_argument("--port", type=int, default=0, help="0 lets the OS pick")
    parser.add_argument("--no-watch", action="store_true", help="do not exit with the parent")
    parser.add_argument("--ledger", default=None, help="append 'pid request-id' per execution")
    args = parser.parse_args(argv)
    given = os.environ.get(SECRET_ENV) or None
    server = BackendServer(
        args.name, args.port, secret=given, ledger=args.ledger
    )  # listening, not serving yet
    if not args.no_watch:
        watch_parent()
    info = {"port": server.server_address[1], "pid": os.getpid(), "name": args.name}
    if given is None:  # the parent reads it over the private pipe of the ready line
        info["secret"] = server.secret
    announce(**info)
    server.start()  # what arrived since listen() waited in the backlog, as before the line
    threading.Event().wait()


if __name__ == "__main__":
    main()
