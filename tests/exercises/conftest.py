"""The grader's plumbing: which module is graded, and how each check's outcome is reported.

Each ``test_exNN_<topic>.py`` sets ``EXERCISE = "exNN_<topic>"`` and takes the fixture ``ex``:
that module, loaded afresh for each check from the folder named by ``HALAB_TARGET`` (default
``exercises/``) in a separate sandbox process (``halab.sandbox``). The checks call it as if it
were local, but the learner's code never runs in this process, so it cannot touch the test
module, pytest or the outcomes below. A check that meets ``NotImplementedError`` is reported as
"not attempted yet"; any other failure keeps only its message (no traceback).

Under ``python -m halab.grading`` (``HALAB_GRADER_FDS`` set) each outcome is written as one JSON
line, prefixed with a nonce that the grading process sends on a private pipe, to a pipe that
only this process holds; the process also makes itself non-dumpable, so that no other process
of the same user can read its memory or open its pipes through ``/proc``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from halab.sandbox import CALL_TIMEOUT, RemoteModule, SandboxClient

ROOT = Path(__file__).resolve().parents[2]
NOT_ATTEMPTED = "not attempted yet"
USED_SOLUTIONS = "used solutions/"


def _private_channel():
    """(nonce, write fd) from the grading process, or (None, None) outside ``halab.grading``."""
    fds = os.environ.pop("HALAB_GRADER_FDS", "")
    if not fds:
        return None, None
    try:  # PR_SET_DUMPABLE = 4: /proc/<pid>/mem, fd and environ become unreadable to others
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        pass
    read_fd, write_fd = (int(x) for x in fds.split(","))
    with os.fdopen(read_fd, "rb") as pipe:
        nonce = pipe.read(64).decode()
    return nonce, write_fd


_NONCE, _OUT = _private_channel()


def _emit(record: dict) -> None:
    if _OUT is not None:
        os.write(_OUT, f"{_NONCE} {json.dumps(record)}\n".encode())


def target_folder() -> Path:
    """The folder whose modules are graded."""
    target = Path(os.environ.get("HALAB_TARGET", "exercises"))
    return target if target.is_absolute() else ROOT / target


def _watched_solutions() -> Path | None:
    """``solutions/``, whose files the graded code must not read, unless it is what is graded."""
    solutions = Path(os.environ.get("HALAB_SOLUTIONS", ROOT / "solutions")).resolve()
    return None if target_folder().resolve() == solutions else solutions


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory):
    """The sandbox process, started in an empty folder of its own (relative paths land there)."""
    timeout = float(os.environ.get("HALAB_CALL_TIMEOUT", CALL_TIMEOUT))
    cwd = tmp_path_factory.mktemp("sandbox")
    client = SandboxClient(solutions=_watched_solutions(), cwd=cwd, timeout=timeout)
    yield client
    client.stop()


@pytest.fixture
def ex(request, sandbox):
    """The module under grading, named by the test file's ``EXERCISE``, run in the sandbox."""
    path = target_folder() / f"{request.module.EXERCISE}.py"
    if not path.exists():
        pytest.fail(f"{path} does not exist: copy it from the repository or run `make stubs`")
    return RemoteModule(sandbox, path)


def describe(excinfo) -> tuple[str, str]:
    """(outcome, message) for a failed check: what a learner needs, without the traceback."""
    error = excinfo.value
    if isinstance(error, NotImplementedError):
        return NOT_ATTEMPTED, f"{NOT_ATTEMPTED}: {error}"
    if isinstance(error, AssertionError):
        return "failed", str(error).split("\nassert ")[0].strip() or "a check failed"
    # an exception raised by the learner's code: name it and where it happened
    where = getattr(error, "halab_where", None)
    at = f" (at {where[0]} line {where[1]})" if where else ""
    return "failed", f"raised {type(error).__name__}: {error}{at}"


def pytest_collection_finish(session):
    _emit({"kind": "collected", "checks": [item.name for item in session.items]})


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    exercise = getattr(item.module, "EXERCISE", None)
    # one outcome per check: its call, or the setup that failed before it (a missing file)
    if exercise is None or (report.when != "call" and not report.failed):
        return
    record = {"kind": "check", "exercise": exercise, "check": item.name}
    client = item.funcargs.get("sandbox") if hasattr(item, "funcargs") else None
    flags = list(client.flags) if client is not None else []
    if flags:
        record.update(outcome=USED_SOLUTIONS, message=f"{USED_SOLUTIONS}: your code {flags[0]}")
        report.outcome, report.longrepr = "failed", record["message"]
    elif report.passed:
        record.update(outcome="passed", message="")
    elif call.excinfo is not None:
        kind, message = describe(call.excinfo)
        record.update(outcome=kind, message=message)
        report.longrepr = message
    else:
        return
    _emit(record)


def pytest_sessionfinish(session, exitstatus):
    _emit({"kind": "done", "exitstatus": int(exitstatus)})
