"""The grader's plumbing: which module is graded, and how each check's outcome is reported.

Each ``test_exNN_<topic>.py`` sets ``EXERCISE = "exNN_<topic>"`` and takes the fixture
``ex``: that module, loaded afresh from the folder named by ``HALAB_TARGET`` (default
``exercises/``). A check that meets ``NotImplementedError`` is reported as "not attempted
yet"; any other failure keeps only its message (no traceback) for the scoreboard, which
``halab.grading`` reads from the JSON file named by ``HALAB_REPORT``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import traceback
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOT_ATTEMPTED = "not attempted yet"
_outcomes: list[dict] = []


def target_folder() -> Path:
    """The folder whose modules are graded."""
    target = Path(os.environ.get("HALAB_TARGET", "exercises"))
    return target if target.is_absolute() else ROOT / target


def load(name: str, folder: Path | None = None):
    """Import ``<folder>/<name>.py`` afresh, under a private module name."""
    path = (folder or target_folder()) / f"{name}.py"
    if not path.exists():
        pytest.fail(f"{path} does not exist: copy it from the repository or run `make stubs`")
    spec = importlib.util.spec_from_file_location(f"_graded_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def ex(request):
    """The module under grading, named by the test file's ``EXERCISE``."""
    return load(request.module.EXERCISE)


def describe(excinfo) -> tuple[str, str]:
    """(outcome, message) for a failed check: what a learner needs, without the traceback."""
    error = excinfo.value
    if isinstance(error, NotImplementedError):
        return NOT_ATTEMPTED, f"{NOT_ATTEMPTED}: {error}"
    if isinstance(error, AssertionError):
        return "failed", str(error).split("\nassert ")[0].strip() or "a check failed"
    # an exception raised by the learner's code: name it and where it happened
    frames = [f for f in traceback.extract_tb(excinfo.tb) if "tests" not in Path(f.filename).parts]
    where = f" (at {Path(frames[-1].filename).name} line {frames[-1].lineno})" if frames else ""
    return "failed", f"raised {type(error).__name__}: {error}{where}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    exercise = getattr(item.module, "EXERCISE", None)
    # one outcome per check: its call, or the setup that failed before it (a missing file)
    if exercise is None or (report.when != "call" and not report.failed):
        return
    if report.passed:
        _outcomes.append(
            {"exercise": exercise, "check": item.name, "outcome": "passed", "message": ""}
        )
    elif call.excinfo is not None:
        kind, message = describe(call.excinfo)
        _outcomes.append(
            {"exercise": exercise, "check": item.name, "outcome": kind, "message": message}
        )
        report.longrepr = message


def pytest_sessionfinish(session, exitstatus):
    path = os.environ.get("HALAB_REPORT")
    if path:
        Path(path).write_text(json.dumps(_outcomes, indent=1))
