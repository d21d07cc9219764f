"""The guard: a small process that stops a server, and deletes its files, when its parent goes.

Neither HAProxy, nginx nor a database dies with the Python process that started it. Each is
therefore started under a guard::

    python -m halab.live.guard [options] <folder> -- <command> ...

which runs ``command`` in a process group of its own, prints ``{"pid": ...}`` on stdout once it
runs, and stops the group -- SIGTERM, ``--grace`` seconds, then SIGKILL -- when

- its stdin reaches end of file: the parent closed the pipe, or died however it died (its end of
  the pipe closes with it, also on SIGKILL);
- it is re-parented (its parent process id changes);
- it gets SIGTERM;
- the command exits by itself (any worker left in its group goes with it).

Then it deletes ``folder``, unless ``--keep`` is given: a database node's data must survive a
kill and a revive, so its folder belongs to the engine, whose own *folder guard* (the same
program without a command) deletes the engine's top folder when the engine stops or its parent
dies. A node guard started with ``--register DIR`` leaves a file named after its pid in ``DIR``
while it runs; a folder guard waits (a bounded time) until every guard registered in
``<folder>/.guards`` is gone before it deletes the folder, so that no node writes into a
folder being deleted.

Options: ``--grace S`` (seconds between SIGTERM and SIGKILL, default 1), ``--log FILE`` (the
command's stdout and stderr are appended to FILE instead of going to our stderr), ``--keep``,
``--register DIR``.

``python -m halab.live.production --guard <folder> -- <command>`` is the same guard under its
older name.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

STOP_GRACE = 1.0  # seconds between SIGTERM and SIGKILL
GUARDS_DIR = ".guards"  # inside an engine's top folder: one file per running node guard
FOLDER_WAIT = 30.0  # seconds a folder guard waits for the node guards before deleting anyway
POLL = 0.5  # seconds between two looks at the parent's pid
MAX_PID = 2**22  # PID_MAX_LIMIT of 64-bit Linux (include/linux/threads.h): no pid is larger
USAGE = (
    "usage: python -m halab.live.guard [--grace S] [--log FILE] [--keep] [--register DIR] "
    "<folder> [-- <command> ...]"
)


def alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie."""
    if isinstance(pid, bool) or not isinstance(pid, int) or not 1 <= pid <= MAX_PID:
        raise ValueError(f"pid must be an integer in [1, {MAX_PID}], got {pid!r}")
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    if stat.exists():
        try:
            return stat.read_text().rsplit(") ", 1)[1][0] != "Z"
        except (OSError, IndexError):
            return False
    return True


def _watch(end) -> None:
    """Call ``end`` when stdin reaches end of file or we are re-parented (daemon threads)."""
    parent = os.getppid()

    def stdin_closed() -> None:
        with contextlib.suppress(OSError):
            while os.read(0, 4096):  # raw reads: no buffer lock held at interpreter exit
                pass
        end()

    def reparented() -> None:
        while True:
            time.sleep(POLL)
            if os.getppid() != parent:
                end()
                return

    threading.Thread(target=stdin_closed, daemon=True).start()
    threading.Thread(target=reparented, daemon=True).start()


def guard(argv: list[str], *, grace: float = STOP_GRACE, log: str | None = None) -> int:
    """Run ``argv`` in its own process group; stop the group when stdin closes or we are told.

    Prints ``{"pid": ...}`` when the command has started. The command's stdout and stderr go to
    ``log`` (appended) or, without one, to our stderr. Returns the command's exit code.
    """
    out = open(log, "ab") if log else sys.stderr  # noqa: SIM115 -- kept open while it runs
    child = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True
    )
    done = threading.Event()

    def end(*_) -> None:
        if done.is_set():
            return
        done.set()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(grace)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.pid, signal.SIGKILL)  # the leader and any worker left in its group

    signal.signal(signal.SIGTERM, end)
    _watch(end)
    sys.stdout.write(json.dumps({"pid": child.pid}) + "\n")
    sys.stdout.flush()
    code = child.wait()
    end()  # the leader exited: take any worker left in its group with it
    return code


def wait_for_guards(folder: str, timeout: float = FOLDER_WAIT) -> None:
    """Wait until no guard registered in ``folder/.guards`` is alive (at most ``timeout`` s)."""
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, (int, float))
        or not 0 <= timeout <= 3600
    ):
        raise ValueError(f"timeout must be a number of seconds in [0, 3600], got {timeout!r}")
    deadline = time.monotonic() + timeout
    registry = Path(folder) / GUARDS_DIR
    while time.monotonic() < deadline:
        try:
            pids = [int(p.name) for p in registry.iterdir() if p.name.isdigit()]
        except OSError:
            return
        if not any(alive(pid) for pid in pids):
            return
        time.sleep(0.05)


def folder_guard(folder: str) -> int:
    """Without a command: wait for our parent to go (or SIGTERM), then delete ``folder``."""
    gone = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: gone.set())
    _watch(gone.set)
    sys.stdout.write(json.dumps({"pid": os.getpid()}) + "\n")
    sys.stdout.flush()
    while not gone.wait(POLL):
        pass
    wait_for_guards(folder)
    shutil.rmtree(folder, ignore_errors=True)
    return 0


def _parse(args: list[str]) -> tuple[dict, str, list[str]]:
    opts: dict = {"grace": STOP_GRACE, "log": None, "keep": False, "register": None}
    args = list(args)
    while args and args[0].startswith("--") and args[0] != "--":
        flag = args.pop(0)
        if flag == "--keep":
            opts["keep"] = True
        elif flag in ("--grace", "--log", "--register") and args:
            value = args.pop(0)
            opts[flag[2:]] = float(value) if flag == "--grace" else value
        else:
            raise ValueError(f"unknown option {flag}")
    if not args:
        raise ValueError("no folder")
    folder, rest = args[0], args[1:]
    if rest and rest[0] != "--":
        raise ValueError("expected -- before the command")
    command = rest[1:]
    if rest and not command:
        raise ValueError("no command after --")
    if not (0 <= opts["grace"] <= 600):
        raise ValueError("--grace must be in [0, 600] seconds")
    return opts, folder, command


def main(args: list[str]) -> None:
    """The command line (see the module docstring); never returns."""
    try:
        opts, folder, command = _parse(args)
    except ValueError as exc:
        sys.stderr.write(f"{exc}\n{USAGE}\n")
        os._exit(2)
    if not command:
        code = folder_guard(folder)
    else:
        mark = None
        if opts["register"]:
            mark = Path(opts["register"]) / str(os.getpid())
            with contextlib.suppress(OSError):
                mark.parent.mkdir(parents=True, exist_ok=True)
                mark.touch()
        code = guard(command, grace=opts["grace"], log=opts["log"])
        if not opts["keep"]:  # the server is gone: its folder too, even when our parent died
            shutil.rmtree(folder, ignore_errors=True)
        if mark is not None:
            with contextlib.suppress(OSError):
                mark.unlink()
    sys.stderr.flush()
    os._exit(code if 0 <= code < 256 else 1)  # do not wait for the watcher threads


if __name__ == "__main__":
    main(sys.argv[1:])
