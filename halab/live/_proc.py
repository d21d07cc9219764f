"""Child-process plumbing shared by the backends and the balancer process.

A child started by :func:`spawn` prints one JSON line (its port and pid) on stdout when it is
ready, and dies when its parent does: :func:`watch_parent` ends it when its stdin reaches end of
file (the parent's end of the pipe closes when the parent exits, however it exits) or when its
parent process id changes (it was re-parented). ``prctl(PR_SET_PDEATHSIG)`` is not used: Linux
fires it when the *thread* that forked the child ends, which would kill a backend revived from
a short-lived thread.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import subprocess
import sys
import threading
import time
from pathlib import Path

LOOPBACK = "127.0.0.1"
PARENT_POLL_SECONDS = 0.5


def watch_parent(poll: float = PARENT_POLL_SECONDS) -> None:
    """In a child: exit at once (``os._exit``) when the parent goes away."""
    parent = os.getppid()

    def stdin_closed() -> None:
        try:
            while sys.stdin.buffer.read(4096):
                pass
        except (OSError, ValueError):
            pass
        os._exit(0)

    def reparented() -> None:
        while True:
            time.sleep(poll)
            if os.getppid() != parent:
                os._exit(0)

    threading.Thread(target=stdin_closed, name="halab-stdin-watch", daemon=True).start()
    threading.Thread(target=reparented, name="halab-ppid-watch", daemon=True).start()


def announce(**info) -> None:
    """In a child: print the ready line (one JSON object) and flush it."""
    sys.stdout.write(json.dumps(info) + "\n")
    sys.stdout.flush()


def child_env() -> dict:
    """The environment for a child: ours, with halab's source tree first on ``PYTHONPATH``."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def launch(module: str, args: list[str], *, env: dict | None = None) -> subprocess.Popen:
    """Start ``python -m module *args`` with stdin and stdout as pipes; do not wait.

    ``env`` adds variables to the child's environment (``HALAB_SECRET``, say): unlike argv,
    the environment of a process is readable only by its own user.
    """
    debug = bool(os.environ.get("HALAB_LIVE_DEBUG"))
    return subprocess.Popen(
        [sys.executable, "-m", module, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=None if debug else subprocess.DEVNULL,
        env={**child_env(), **(env or {})},
        close_fds=True,
    )


def wait_ready(proc: subprocess.Popen, timeout: float = 10.0) -> dict:
    """Wait for a launched child's ready line and return it as a dict.

    Raises:
        RuntimeError: the child exited or stayed silent for ``timeout`` seconds; it is
            stopped before the error is raised.
    """
    try:
        return json.loads(_read_line(proc, timeout))
    except Exception as exc:
        stop_process(proc)
        raise RuntimeError(f"{' '.join(proc.args[2:])} did not start: {exc}") from None


def spawn(module: str, args: list[str], *, ready_timeout: float = 10.0, env: dict | None = None):
    """Start ``python -m module *args`` and wait for its ready line: ``(process, info)``."""
    proc = launch(module, args, env=env)
    return proc, wait_ready(proc, ready_timeout)


def _read_line(proc: subprocess.Popen, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    buf = b""
    fd = proc.stdout.fileno()
    while not buf.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"no ready line within {timeout} s")
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        chunk = os.read(fd, 1)  # one byte at a time: leave later lines in the pipe
        if not chunk:
            raise RuntimeError(f"exited with code {proc.wait()}")
        buf += chunk
    return buf.decode()


def stop_process(proc: subprocess.Popen | None, *, grace: float = 0.0) -> None:
    """Stop a child for good and close its pipes: close stdin, wait ``grace`` s, then SIGKILL."""
    if proc is None:
        return
    for pipe in (proc.stdin,):
        try:
            if pipe is not None:
                pipe.close()
        except OSError:
            pass
    if proc.poll() is None and grace > 0:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(grace)
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):  # a SIGKILLed child always goes
        proc.wait(5.0)
    if proc.stdout is not None:
        with contextlib.suppress(OSError):
            proc.stdout.close()
