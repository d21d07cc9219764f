"""Process management: a real HAProxy or nginx on 127.0.0.1, started and stopped by ``with``.

A :class:`~halab.live.settings.Settings` record is written out as an HAProxy or an nginx
configuration, line by line, each line paired with the halab setting it comes from; then the
real server is started on 127.0.0.1 (a port the OS picks) with its configuration, pid file and
temporary files in a private temporary directory, and stopped -- with everything it started --
when its ``with`` block ends.
The configuration comes from :mod:`halab.live.config`.

>>> with HAProxy(cluster.ports, Settings(), names=cluster.names) as front:  # doctest: +SKIP
...     run_load(front.url, rate=100, duration=2.0).failed
0

Both servers add an ``X-Backend`` header to each answer, copied from the ``X-Served-By`` header
with which each backend names itself, so that the load generator records who answered.

Neither server dies with its parent on its own. Each is started under a small guard process
(``python -m halab.live.guard``) that kills the server's whole process group when
its stdin reaches end of file -- when the block ends, or when this process dies however it
dies -- and then deletes the server's private folder, so that a killed notebook kernel leaves no
HAProxy or nginx, and no file of theirs, behind.
"""

from __future__ import annotations

import collections
import contextlib
import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import halab.live.guard as _guard
from halab.checks import check_instance, check_int, check_real
from halab.live._proc import LOOPBACK, child_env, stop_process, wait_ready
from halab.live.config import (
    NGINX_READY,
    READY_PATH,
    SERVERS,
    _check_server,
    _check_settings,
    _names,
    config_text,
    haproxy_lines,
    nginx_lines,
)
from halab.live.events import Event
from halab.live.settings import Settings

INSTALL_HINT = (
    "`sudo apt-get install haproxy nginx-light` (Debian, Ubuntu), "
    "`sudo dnf install haproxy nginx` (Fedora) or `brew install haproxy nginx` (macOS)"
)
# Where packages put the binaries when they are not on a non-root user's PATH.
SEARCH_DIRS = ("/usr/sbin", "/usr/local/sbin", "/opt/homebrew/bin", "/usr/local/bin", "/sbin")
PORT_ATTEMPTS = 5  # a port picked by binding port 0 may be taken before the server binds it
STOP_GRACE = 1.0  # seconds between SIGTERM and SIGKILL
# the line each server writes when a backend leaves or rejoins the rotation
_HAPROXY_STATE = re.compile(r"Server (\S+)/(\S+) is (DOWN|UP)\b(?:, reason: ([^,]*))?")
_NGINX_UPSTREAM = re.compile(r'upstream: "https?://[^:/"]+:(\d+)')
_NGINX_ACCESS = re.compile(r'^halab-access (\S+) "([^"]*)" "([^"]*)" (\d+)')


class ServerNotFound(RuntimeError):
    """HAProxy or nginx is not installed (the message says how to install it)."""


# -- finding the servers ----------------------------------------------------------------------


def find_server(server: str) -> str | None:
    """The path of the ``haproxy`` or ``nginx`` binary, or None when it is not installed."""
    _check_server(server)
    found = shutil.which(server)
    if found:
        return found
    for folder in SEARCH_DIRS:
        path = Path(folder) / server
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
    return None


def missing_message(servers: Sequence[str] = SERVERS) -> str:
    """A sentence saying which servers are missing and how to install them ('' if none)."""
    missing = [s for s in servers if find_server(s) is None]
    if not missing:
        return ""
    names = " and ".join({"haproxy": "HAProxy", "nginx": "nginx"}[s] for s in missing)
    verb = "is" if len(missing) == 1 else "are"
    return (
        f"{names} {verb} not installed on this machine; the lesson's live parts skip "
        f"{'it' if len(missing) == 1 else 'them'}. To install both: {INSTALL_HINT}, then "
        "restart the kernel."
    )


def server_version(server: str, binary: str | None = None) -> tuple[int, ...]:
    """The installed version as a tuple of integers, e.g. ``(2, 6, 12)``.

    Raises:
        ServerNotFound: the server is not installed.
    """
    _check_server(server)
    binary = binary or find_server(server)
    if binary is None:
        raise ServerNotFound(missing_message([server]))
    out = subprocess.run(
        [binary, "-v"], capture_output=True, text=True, timeout=10, check=False, env=child_env()
    )
    text = out.stdout + out.stderr
    pattern = (
        r"HA-?Proxy version (\d+(?:\.\d+)*)" if server == "haproxy" else r"nginx/(\d+(?:\.\d+)*)"
    )
    match = re.search(pattern, text)
    if match is None:
        raise RuntimeError(f"cannot read the version of {binary}: {text.strip()[:200]!r}")
    return tuple(int(x) for x in match.group(1).split("."))


# -- running the real server ------------------------------------------------------------------


def free_port() -> int:
    """A port on 127.0.0.1 that was free a moment ago (bind port 0, read it, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def _answers(port: int) -> bool:
    """Whether HAProxy or nginx itself answers its readiness path on ``port``.

    Connecting is not enough: another process that took the port meanwhile would accept the
    connection while our server fails to bind it and exits.
    """
    conn = http.client.HTTPConnection(LOOPBACK, port, timeout=0.3)
    try:
        conn.request("GET", READY_PATH)
        resp = conn.getresponse()
        body = resp.read()
        return resp.status == 200 and (b"Service ready" in body or NGINX_READY.encode() in body)
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


class ProductionBalancer:
    """A real HAProxy or nginx on 127.0.0.1 in front of halab's backends; use :class:`HAProxy`
    or :class:`Nginx`.

    It has the face of :class:`halab.live.Balancer`: ``start()``, ``stop()``, ``url``, ``port``,
    ``with``, an ``on_event`` callback receiving :class:`~halab.live.events.Event` records
    (``removed`` / ``readmitted`` and the server's own ``down`` / ``up`` / ``eject``), and
    ``status()``.

    Args:
        ports: the backends' ports on 127.0.0.1.
        settings: the settings to write out (default ``Settings()``).
        names: the backends' names (default ``b0``, ``b1``, ...).
        on_event: called (from a reader thread) with each event, times on
            ``time.monotonic()``.
        binary: the server's path (default: found on PATH or in the usual sbin folders).
        start_timeout: seconds the server may take to listen.
        access_log: log each request (needed to see when nginx uses a backend again).
        edit: a function that changes the generated ``(setting, line)`` pairs before they are
            written, e.g. to leave a line out and watch what breaks.

    Attributes:
        url: ``http://127.0.0.1:<port>`` once started.
        tmpdir: the private directory holding the configuration and the pid file.
        config: the configuration text.
        lines: the configuration as ``(halab setting, line)`` pairs.
        pid: the server's process id while it runs.
        version: the server's version tuple.
    """

    server = ""
    writer: Callable[..., list[tuple[str, str]]]

    def __init__(
        self,
        ports: Sequence[int],
        settings: Settings | None = None,
        *,
        names: Sequence[str] | None = None,
        on_event: Callable[[Event], None] | None = None,
        binary: str | None = None,
        start_timeout: float = 10.0,
        access_log: bool = True,
        edit: Callable[[list[tuple[str, str]]], list[tuple[str, str]]] | None = None,
    ) -> None:
        self.settings = _check_settings(Settings() if settings is None else settings)
        for what, fn in (("on_event", on_event), ("edit", edit)):
            if fn is not None and not callable(fn):
                raise TypeError(f"{what} must be callable, got {fn!r}")
        if binary is not None:
            check_instance("binary", binary, str)
        self.edit = edit
        self.names = _names(ports, names)
        self.ports = list(ports)
        if not 0 < start_timeout <= 120:
            raise ValueError(f"start_timeout must be in (0, 120] seconds, got {start_timeout}")
        self.binary = binary or find_server(self.server)
        if self.binary is None:
            raise ServerNotFound(missing_message([self.server]))
        self.version = server_version(self.server, self.binary)
        self.on_event = on_event
        self.start_timeout = start_timeout
        self.access_log = access_log
        self._lines(port=1)  # check the settings now, before anything starts
        self.port = 0
        self.url = ""
        self.tmpdir = ""
        self.lines: list[tuple[str, str]] = []
        self.config = ""
        self.pid: int | None = None
        self.events: list[Event] = []
        self.log: collections.deque[str] = collections.deque(maxlen=200)
        self._guard: subprocess.Popen | None = None
        self._reader: threading.Thread | None = None
        self._lock = threading.Lock()
        self._out: set[int] = set()  # backends out of rotation, as the server's log tells
        self._started = False
        self._stopped = False

    # -- what each server writes ---------------------------------------------------------------

    def _lines(self, port: int, tmpdir: str = "/tmp/halab") -> list[tuple[str, str]]:
        raise NotImplementedError

    def _command(self, config_path: str) -> list[str]:
        raise NotImplementedError

    def _parse(self, line: str, now: float) -> None:
        raise NotImplementedError

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> ProductionBalancer:
        """Write the configuration, start the server, return once it listens."""
        if self._started:
            raise RuntimeError(f"this {self.server} was already started; make a new one")
        self._started = True
        error = ""
        try:
            for _ in range(PORT_ATTEMPTS):
                error = self._try_start()
                if not error:
                    return self
                self._cleanup()
                if "in use" not in error:
                    break
            raise RuntimeError(f"{self.server} did not start: {error}")
        except BaseException:
            self.stop()
            raise

    def _try_start(self) -> str:
        """One attempt on a fresh port; '' on success, else the server's complaint."""
        self.port = free_port()
        self.tmpdir = tempfile.mkdtemp(prefix=f"halab-{self.server}-")
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            os.chmod(self.tmpdir, 0o711)  # nginx's workers run as nobody when started by root
        self.lines = self._lines(self.port, self.tmpdir)
        if self.edit is not None:
            self.lines = list(self.edit(list(self.lines)))
        self.config = config_text(self.lines)
        path = Path(self.tmpdir) / f"{self.server}.cfg"
        path.write_text(self.config)
        self.log.clear()
        guard = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "halab.live.guard",
                "--grace",
                str(STOP_GRACE),
                self.tmpdir,
                "--",
                *self._command(path),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=child_env(),
            close_fds=True,
            cwd=self.tmpdir,
        )
        self._guard = guard
        info = wait_ready(guard, self.start_timeout)  # stops the guard itself on failure
        self.pid = int(info["pid"])
        self._reader = threading.Thread(
            target=self._read, args=(guard,), name=f"halab-{self.server}-log", daemon=True
        )
        self._reader.start()
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if guard.poll() is not None:
                self._reader.join(2.0)
                return " | ".join(self.log) or f"exited with code {guard.returncode}"
            if _answers(self.port):
                self.url = f"http://{LOOPBACK}:{self.port}"
                return ""
            time.sleep(0.01)
        return f"not listening on port {self.port} after {self.start_timeout} s"

    def _read(self, guard: subprocess.Popen) -> None:
        try:
            for raw in guard.stderr:
                now = time.monotonic()
                line = raw.decode(errors="replace").rstrip()
                if not line:
                    continue
                if not line.startswith("halab-access"):
                    self.log.append(line)
                try:
                    self._parse(line, now)
                except Exception as exc:  # a line we misread must not stop the reader
                    self.log.append(f"halab: could not read that line: {exc!r}")
        except (OSError, ValueError):
            return

    def _emit(self, kind: str, i: int, detail: str, t: float) -> None:
        event = Event(t, kind, i, detail)
        with self._lock:
            self.events.append(event)
        if self.on_event is not None:
            self.on_event(event)

    def _leave(self, i: int, detail: str, t: float, kind: str) -> None:
        """The server took backend ``i`` out: its own event, then ``removed`` (once)."""
        self._emit(kind, i, detail, t)
        if i not in self._out:
            self._out.add(i)
            self._emit("removed", i, f"{self.server}: {detail}", t)

    def _rejoin(self, i: int, detail: str, t: float, kind: str | None) -> None:
        if kind is not None:
            self._emit(kind, i, detail, t)
        if i in self._out:
            self._out.discard(i)
            self._emit("readmitted", i, f"{self.server}: {detail}", t)

    def _cleanup(self) -> None:
        guard, self._guard = self._guard, None
        if guard is not None:
            _stop_guard(guard, self.pid)
        if self._reader is not None:
            self._reader.join(5.0)
            self._reader = None
        if guard is not None:
            for pipe in (guard.stdout, guard.stderr):
                with contextlib.suppress(OSError, AttributeError):
                    pipe.close()
        if self.tmpdir:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
        self.pid = None

    def stop(self) -> None:
        """Stop the server and its guard, remove the temporary directory. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        self._cleanup()

    @property
    def running(self) -> bool:
        """Whether the server process is alive."""
        return self.pid is not None and _guard.alive(self.pid)

    def __enter__(self) -> ProductionBalancer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def in_rotation(self) -> list[bool]:
        """Each backend's place in the rotation, as the server's log has told so far."""
        return [i not in self._out for i in range(len(self.ports))]

    def status(self) -> list[dict]:
        """Each backend: name, port, and whether it is in rotation (as far as we can tell)."""
        return [
            {"name": n, "port": p, "in_rotation": ok}
            for n, p, ok in zip(self.names, self.ports, self.in_rotation())
        ]

    def __repr__(self) -> str:
        state = "running" if self.running else ("stopped" if self._stopped else "not started")
        return f"{type(self).__name__}({len(self.ports)} backends, {state} {self.url})"


class HAProxy(ProductionBalancer):
    """HAProxy in front of halab's backends, configured from a :class:`Settings` (see module)."""

    server = "haproxy"
    writer = staticmethod(haproxy_lines)  # the configuration writer (halab.live.config)

    def _lines(self, port: int, tmpdir: str = "/tmp/halab") -> list[tuple[str, str]]:
        return self.writer(
            self.settings,
            self.ports,
            port=port,
            names=self.names,
            tmpdir=tmpdir,
            version=self.version,
        )

    def _command(self, config_path) -> list[str]:
        # -W: master-worker, as HAProxy's own service files run it (and the master writes the
        # pid file); -db: stay in the foreground, no daemon, so the guard owns the process group
        return [self.binary, "-W", "-db", "-f", str(config_path)]

    def _parse(self, line: str, now: float) -> None:
        m = _HAPROXY_STATE.search(line)
        if m is None or m.group(2) not in self.names:
            return
        i = self.names.index(m.group(2))
        reason = (m.group(4) or "").strip()
        if m.group(3) == "DOWN":
            self._leave(i, f"DOWN ({reason})" if reason else "DOWN", now, "down")
        else:
            self._rejoin(i, f"UP ({reason})" if reason else "UP", now, "up")

    def status(self) -> list[dict]:
        """Each backend as HAProxy's runtime API tells (``show stat``): name, port, state."""
        if not self.running:
            return super().status()
        try:
            rows = _haproxy_show_stat(str(Path(self.tmpdir) / "haproxy.sock"))
        except OSError:
            return super().status()
        state = {r.get("svname"): r.get("status", "") for r in rows if r.get("pxname") == "be"}
        return [
            {
                "name": n,
                "port": p,
                "state": state.get(n, "?"),
                "in_rotation": state.get(n, "").startswith(("UP", "NOLB")),
            }
            for n, p in zip(self.names, self.ports)
        ]


class Nginx(ProductionBalancer):
    """nginx in front of halab's backends, configured from a :class:`Settings` (see module).

    nginx open source checks nothing by itself: a backend leaves the rotation when
    ``max_fails`` real requests to it failed within ``fail_timeout`` (its log says "upstream
    server temporarily disabled"), and is tried again with a real request ``fail_timeout``
    later. The runner marks it ``readmitted`` when its access log shows that backend answering
    again.
    """

    server = "nginx"
    writer = staticmethod(nginx_lines)

    def _lines(self, port: int, tmpdir: str = "/tmp/halab") -> list[tuple[str, str]]:
        return self.writer(
            self.settings,
            self.ports,
            port=port,
            names=self.names,
            tmpdir=tmpdir,
            access_log=self.access_log,
        )

    def _command(self, config_path) -> list[str]:
        cmd = [self.binary]
        if self.version >= (1, 19, 5):
            cmd += ["-e", "stderr"]  # the error log before the configuration is read
        return [*cmd, "-c", str(config_path), "-p", self.tmpdir + "/", "-g", "daemon off;"]

    def _index(self, port: str) -> int | None:
        p = int(port)
        return self.ports.index(p) if p in self.ports else None

    def _parse(self, line: str, now: float) -> None:
        access = _NGINX_ACCESS.match(line)
        if access is not None:
            addrs = [a.strip() for a in access.group(2).split(",") if a.strip()]
            codes = [c.strip() for c in access.group(3).split(",") if c.strip()]
            if addrs and codes and codes[-1].isdigit() and 200 <= int(codes[-1]) < 400:
                i = self._index(addrs[-1].rsplit(":", 1)[-1])
                if i is not None and i in self._out:
                    self._rejoin(i, "answered a request again", now, None)
            return
        if "upstream server temporarily disabled" in line:
            m = _NGINX_UPSTREAM.search(line)
            i = None if m is None else self._index(m.group(1))
            if i is not None:
                detail = "max_fails failed requests within fail_timeout, out for fail_timeout"
                self._leave(i, detail, now, "eject")


# -- helpers ------------------------------------------------------------------------------------


def _group_alive(pgid: int) -> bool:
    """Whether any live (not zombie) process is left in process group ``pgid``.

    The server's pid is its group's leader -- HAProxy's master, nginx's master -- and its
    workers are other processes of the group. A dead leader says nothing about them: both get
    the guard's signal at once, and HAProxy's master often exits a few milliseconds before its
    worker has closed the listening socket (longer on a loaded machine). So whoever must know
    that the server is gone -- its port closed -- waits for the whole group.
    """
    proc = Path("/proc")
    if not (proc / "self" / "stat").exists():
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    for stat in proc.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(") ", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] != "Z":
            return True
    return False


def wait_group_gone(pgid: int, timeout: float = 5.0) -> bool:
    """Wait up to ``timeout`` seconds until process group ``pgid`` is empty; True if it is."""
    check_int("pgid", pgid, 1, _guard.MAX_PID)
    check_real("timeout", timeout, 0, 3600, unit="seconds")
    deadline = time.monotonic() + timeout
    while _group_alive(pgid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)
    return True


def _stop_guard(guard: subprocess.Popen, pid: int | None) -> None:
    """Close the guard's stdin (it then stops the server's group); make sure of both.

    The guard returns when the group's leader has exited; its workers may take a moment more
    (see :func:`_group_alive`), so this waits for the whole group, and kills what is left.
    """
    with contextlib.suppress(OSError):
        guard.stdin.close()
    with contextlib.suppress(subprocess.TimeoutExpired):
        guard.wait(STOP_GRACE + 3.0)
    if pid is not None and not wait_group_gone(pid, STOP_GRACE):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)  # the guard failed us: kill the group ourselves
        wait_group_gone(pid, 5.0)
    stop_process(guard)


def _haproxy_show_stat(path: str) -> list[dict]:
    """Rows of HAProxy's ``show stat`` (CSV) from its runtime API on a UNIX socket."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(2.0)
        s.connect(path)
        s.sendall(b"show stat\n")
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    text = b"".join(chunks).decode(errors="replace").splitlines()
    if not text or not text[0].startswith("# "):
        return []
    header = text[0][2:].split(",")
    return [dict(zip(header, row.split(","))) for row in text[1:] if row]
