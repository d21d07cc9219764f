"""Grade the exercises: a scoreboard for ``make grade`` and ``check("ex01")`` for the lessons.

The graders are pytest files, ``tests/exercises/test_exNN_<topic>.py``; each grades one
module, ``exercises/exNN_<topic>.py`` by default. This module runs them in a fresh Python
process (so a learner's latest edit is always the one graded), reads the outcome of each check
and reports one line per exercise::

    $ make grade
    ex01_availability  passed            5/5 checks
    ex02_redundancy    not attempted yet 0/4 checks

In a notebook, ``check("ex01")`` prints the same line and each failure's message, without a
traceback. ``python -m halab.grading --help`` lists the options; ``--report PATH`` also writes a
JSON list with one record per check (exercise, check, points, outcome, message).

How the outcome is kept out of the graded code's reach:

1. This process never imports learner code. It reads which checks each grader defines from the
   grader's source (``ast``), fingerprints the grader files, then runs one child ``pytest`` per
   exercise (``jobs`` at a time).
2. In that child the fixture ``ex`` is a :class:`halab.sandbox.RemoteModule`: the learner's
   file is loaded in a separate sandbox process and each call crosses a socket; only plain data
   comes back. The assertions, the outcomes and pytest itself are never in the learner's reach.
3. The child reports each outcome as a JSON line on a pipe that only it holds, prefixed with a
   random nonce sent to it on another pipe; it makes itself non-dumpable, so the sandbox (same
   user) cannot read its memory or open its pipes through ``/proc``.
4. The result counts only if the child exited normally (0 or 1, as its own last line says), its
   lines all carry the nonce, it ran exactly the checks of step 1, and no grader file changed;
   otherwise every check of that exercise is a ``"grader error"``.
5. The sandbox cannot write a non-empty file (``RLIMIT_FSIZE`` 0), its output goes nowhere, a
   call has :data:`halab.sandbox.CALL_TIMEOUT` seconds, and an audit hook reports every open or
   import of ``solutions/`` (outcome ``"used solutions/"``).

Limits: this is a local grader. Whoever edits this file, ``halab/sandbox.py`` or the graders
can make it say anything; code running as the learner's user may still kill the grading
processes (an error, not a pass), or rewrite the ``--report`` file after the grader exits; the
audit hook can be evaded by code written against it; and run as root, the sandbox can lift its
file-size limit and read the child's ``/proc`` entries, so grade as an ordinary user. An instructor who needs a trustworthy
score grades the learners' files on their own copy, with ``--tests`` pointing at a private
folder of graders (which may hold hidden checks that never ship to learners).

The exercises are made from the reference solutions: in ``solutions/`` the body of each
function that learners write sits between ``### BEGIN SOLUTION`` and ``### END SOLUTION``;
:func:`make_stub` replaces it by ``raise NotImplementedError``, which the graders report as
"not attempted yet". ``python -m halab.grading stubs`` writes the missing exercise files.
"""

from __future__ import annotations

import argparse
import ast
import concurrent.futures
import contextlib
import hashlib
import json
import os
import re
import secrets
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
NOT_ATTEMPTED = "not attempted yet"


def repo_root() -> Path:
    """The folder that holds ``tests/exercises``: next to the installed package, else above cwd."""
    here = Path(__file__).resolve().parents[1]
    for candidate in [here, *Path.cwd().resolve().parents, Path.cwd().resolve()]:
        if (candidate / "tests" / "exercises").is_dir():
            return candidate
    raise FileNotFoundError(
        "cannot find the halab repository (a folder with tests/exercises); run from inside it"
    )


def exercise_names(root: Path | None = None) -> list[str]:
    """The exercises there are graders for, e.g. ``["ex01_availability", ...]``."""
    root = root or repo_root()
    return sorted(
        p.stem.removeprefix("test_") for p in (root / "tests" / "exercises").glob("test_ex*.py")
    )


def resolve(name: str, root: Path | None = None) -> str:
    """The full exercise name for a short one: ``"ex01"`` → ``"ex01_availability"``."""
    names = exercise_names(root)
    matches = [n for n in names if n == name or n.split("_")[0] == name]
    if len(matches) != 1:
        raise ValueError(
            f"exercise must be one of {', '.join(names)} (or its exNN prefix), got {name!r}"
        )
    return matches[0]


# --- stubs from solutions ---------------------------------------------------------------------


def make_stub(source: str) -> str:
    """The learner's version of a solution file: each marked body becomes NotImplementedError.

    The lines from ``### BEGIN SOLUTION`` to ``### END SOLUTION`` (inclusive) are replaced
    by one ``raise NotImplementedError("<function name>")`` at the marker's indentation.
    Everything else (imports, signatures, docstrings, helpers) is kept as it is, so the two
    never drift apart.
    """
    out: list[str] = []
    inside = False
    function = "this function"
    for number, line in enumerate(source.splitlines(keepends=True), 1):
        match = re.match(r"\s*def (\w+)", line)
        if match and not inside:
            function = match.group(1)
        stripped = line.strip()
        if stripped == BEGIN:
            if inside:
                raise ValueError(f"line {number}: {BEGIN} inside another solution block")
            inside = True
            indent = line[: len(line) - len(line.lstrip())]
            out.append(f'{indent}raise NotImplementedError("{function}: your code here")\n')
        elif stripped == END:
            if not inside:
                raise ValueError(f"line {number}: {END} without {BEGIN}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{BEGIN} is never closed by {END}")
    return "".join(out)


def write_stubs(root: Path | None = None, *, force: bool = False) -> list[Path]:
    """Write ``exercises/<name>.py`` for each solution; existing files are kept unless ``force``."""
    root = root or repo_root()
    written = []
    for solution in sorted((root / "solutions").glob("ex*.py")):
        target = root / "exercises" / solution.name
        if target.exists() and not force:
            continue
        target.write_text(make_stub(solution.read_text()))
        written.append(target)
    return written


# --- running the graders ----------------------------------------------------------------------

GRADER_ERROR = "grader error"
USED_SOLUTIONS = "used solutions/"
TIMEOUT = 300.0  # seconds: the longest one exercise's grader may run


@dataclass
class Result:
    """The outcome of one exercise's grader.

    Attributes:
        exercise: e.g. ``"ex01_availability"``.
        passed, failed, not_attempted: how many checks ended each way.
        errors: checks whose outcome the grader could not establish (``"grader error"``).
        used_solutions: checks during which the graded code read ``solutions/``.
        messages: the message of each check that did not pass, as ``(check, message)``.
    """

    exercise: str
    passed: int = 0
    failed: int = 0
    not_attempted: int = 0
    errors: int = 0
    used_solutions: int = 0
    messages: list[tuple[str, str]] = field(default_factory=list)
    records: list[dict] = field(default_factory=list, repr=False)

    @property
    def total(self) -> int:
        return self.passed + self.failed + self.not_attempted + self.errors + self.used_solutions

    @property
    def status(self) -> str:
        """``"passed"``, ``"failed"``, ``"not attempted yet"``, ``"used solutions/"`` or
        ``"grader error"``."""
        if self.errors or not self.total:
            return GRADER_ERROR
        if self.used_solutions:
            return USED_SOLUTIONS
        if self.total and self.passed == self.total:
            return "passed"
        if self.failed == 0 and self.passed == 0:
            return NOT_ATTEMPTED
        return "failed"

    def line(self, width: int = 20) -> str:
        """One scoreboard line."""
        detail = f"{self.passed}/{self.total} checks"
        if self.failed and self.not_attempted:
            detail += f", {self.not_attempted} not attempted yet"
        return f"{self.exercise:<{width}} {self.status:<17} {detail}"

    def add(self, check: str, outcome: str, message: str) -> None:
        """Count one check's outcome."""
        if outcome == "passed":
            self.passed += 1
        elif outcome == NOT_ATTEMPTED:
            self.not_attempted += 1
        elif outcome == GRADER_ERROR:
            self.errors += 1
        elif outcome == USED_SOLUTIONS:
            self.used_solutions += 1
        else:
            outcome = "failed"
            self.failed += 1
        if outcome != "passed":
            self.messages.append((check, message))
        self.records.append(
            {
                "exercise": self.exercise,
                "check": check,
                "points": 1 if outcome == "passed" else 0,
                "outcome": outcome,
                "message": message,
            }
        )


def expected_checks(test_file: Path) -> list[str]:
    """The checks a grader file defines, read from its source without running it."""
    tree = ast.parse(Path(test_file).read_text(), str(test_file))
    return [
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
    ]


def _fingerprint(paths: list[Path]) -> dict[str, str]:
    out = {}
    for path in paths:
        try:
            out[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError:
            out[str(path)] = "missing"
    return out


def _grader_files(tests: Path) -> list[Path]:
    package = Path(__file__).resolve().parent
    return sorted(tests.glob("*.py")) + sorted(package.rglob("*.py"))


def _run_grader(name: str, folder: Path, tests: Path, root: Path, expected: list[str]) -> Result:
    """Run one exercise's grader in a child pytest and trust only what it says on a private pipe.

    ``expected`` are the checks its file defined before grading began.
    """
    result = Result(name)
    test_file = tests / f"test_{name}.py"
    nonce = secrets.token_hex(16)
    nonce_read, nonce_write = os.pipe()
    out_read, out_write = os.pipe()
    package_root = str(Path(__file__).resolve().parents[1])  # the halab that grades
    path = os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH")) if p)
    env = {
        **os.environ,
        "PYTHONPATH": path,
        "HALAB_TARGET": str(folder),
        "HALAB_SOLUTIONS": str(root / "solutions"),
        "HALAB_GRADER_FDS": f"{nonce_read},{out_write}",
        "MPLBACKEND": "Agg",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",  # nbval, hypothesis, ...: seconds each, unused here
    }
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "--no-header",
        "-o",
        "addopts=",
        "--tb=no",
        "-W",
        "ignore::pytest.PytestConfigWarning",
        "--rootdir",
        str(tests),
        str(test_file),
    ]
    try:
        child = subprocess.Popen(
            command,
            cwd=root,
            env=env,
            pass_fds=[nonce_read, out_write],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    finally:
        os.close(nonce_read)
        os.close(out_write)
    os.write(nonce_write, nonce.encode())
    os.close(nonce_write)
    lines: list[bytes] = []
    output: list[bytes] = []
    reader = threading.Thread(target=lambda: output.append(child.stdout.read()), daemon=True)
    reader.start()
    with os.fdopen(out_read, "rb") as pipe:
        deadline = time.monotonic() + TIMEOUT
        timer = threading.Timer(TIMEOUT, lambda: _kill(child))
        timer.start()
        try:
            lines = pipe.read().splitlines()
        finally:
            timer.cancel()
    try:
        code = child.wait(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        _kill(child)
        code = child.wait()
    _kill(child)  # anything left in its process group
    reader.join(timeout=5)
    log = b"".join(output).decode(errors="replace")

    def error(why: str) -> Result:
        bad = Result(name)
        tail = "\n".join(log.strip().splitlines()[-8:])
        for check in expected:
            bad.add(check, GRADER_ERROR, why + (f"\n{tail}" if tail else ""))
        return bad

    records, done, collected = [], None, None
    prefix = nonce.encode() + b" "
    for line in lines:
        if not line.startswith(prefix):
            return error("the grader's channel carried a line it did not write")
        try:
            record = json.loads(line[len(prefix) :])
        except ValueError:
            return error("the grader's channel carried a line it cannot read")
        if record.get("kind") == "collected":
            collected = record.get("checks")
        elif record.get("kind") == "done":
            done = record.get("exitstatus")
        elif record.get("kind") == "check":
            records.append(record)
    if code not in (0, 1) or done != code:
        how = f"killed by signal {-code}" if code < 0 else f"exit status {code}"
        return error(f"the grader did not finish ({how}); it ran {test_file.name}")
    base = [c.split("[")[0] for c in collected or []]
    if sorted(set(base)) != sorted(expected) or len(records) != len(collected or []):
        return error(
            f"the grader ran {len(records)} of the {len(expected)} checks of {test_file.name}"
        )
    if [r.get("check") for r in records] != collected:
        return error("the grader reported checks out of order")
    for record in records:
        result.add(str(record["check"]), str(record.get("outcome")), str(record.get("message")))
    return result


def _kill(child: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.pid, 9)


def grade(
    target: str = "exercises",
    only: list[str] | None = None,
    *,
    root: Path | None = None,
    tests: str | Path | None = None,
    jobs: int | None = None,
    progress=None,
) -> list[Result]:
    """Run the graders on ``target`` (a folder of exercise modules) and return one result each.

    Each exercise is graded by its own child ``pytest``, and the learner's module runs in a
    sandbox process below that (``halab.sandbox``); up to ``jobs`` exercises at once.

    Args:
        target: ``"exercises"`` (the learner's work), ``"solutions"``, or a path to a folder
            holding modules with the same names.
        only: exercise names or ``exNN`` prefixes to grade; all of them when None.
        root: the repository; found from the package's location by default.
        tests: the folder of graders, ``tests/exercises`` by default; an instructor can point it
            at a private copy with hidden checks.
        jobs: how many exercises to grade at once; the number of CPUs by default.
        progress: called with each :class:`Result` as soon as it is known.
    """
    root = root or repo_root()
    tests = Path(tests).resolve() if tests else root / "tests" / "exercises"
    if not (tests / "conftest.py").is_file():
        raise ValueError(
            f"tests must be a folder of graders with a conftest.py, {tests} is not one"
        )
    names = [resolve(n, root) for n in only] if only else exercise_names(root)
    folder = Path(target) if Path(target).is_absolute() else root / target
    if not folder.is_dir():
        raise ValueError(f"target must be a folder of exercise modules, {folder} is not one")
    missing = [n for n in names if not (tests / f"test_{n}.py").is_file()]
    if missing:
        raise ValueError(f"{tests} has no grader for {', '.join(missing)}")
    folder = folder.resolve()
    watched = _grader_files(tests)
    before = _fingerprint(watched)
    expected = {n: expected_checks(tests / f"test_{n}.py") for n in names}
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(names)))
    results: dict[str, Result] = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(_run_grader, n, folder, tests, root, expected[n]): n for n in names}
        for future in concurrent.futures.as_completed(futures):
            result = future.result()
            results[result.exercise] = result
            if progress is not None:
                progress(result)
    changed = [p for p, h in _fingerprint(watched).items() if before.get(p) != h]
    if changed:
        for name in names:
            bad = Result(name)
            for check in expected[name]:
                bad.add(
                    check, GRADER_ERROR, f"the grader's own file {changed[0]} changed while grading"
                )
            results[name] = bad
    return [results[n] for n in names]


def write_report(results: list[Result], path: str | Path) -> None:
    """The JSON report: one record per check (exercise, check, points, outcome, message)."""
    records = [record for result in results for record in result.records]
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    temporary.write_text(json.dumps(records, indent=1) + "\n")
    temporary.replace(path)


def scoreboard(results: list[Result], *, messages: bool = True, step: str = "") -> str:
    """The scoreboard: one line per exercise, then each failure's message, indented; ``step``
    (:func:`next_step`) last."""
    width = max([len(r.exercise) for r in results] + [8])
    lines = []
    for r in results:
        lines.append(r.line(width))
        if messages and r.status in ("failed", USED_SOLUTIONS, GRADER_ERROR):
            for check, message in r.messages[:1] if r.status == GRADER_ERROR else r.messages:
                if message.startswith(NOT_ATTEMPTED):
                    continue
                first, *rest = message.splitlines() or [""]
                lines.append(f"    ✗ {check}: {first}")
                lines.extend(f"      {x}" for x in rest[:6])
    passed = sum(r.status == "passed" for r in results)
    if not step or any(r.status != NOT_ATTEMPTED for r in results):
        lines.append(f"{passed} of {len(results)} exercises passed")
    if step:
        lines.append(step)  # alone when nothing is attempted: "0 of 10 attempted — start with"
    return "\n".join(lines)


def course_beside(start: Path | None = None) -> Path | None:
    """The course folder that holds the notebook being run: ``start`` (the kernel's working
    directory, ``notebooks/`` in JupyterLab) or its parent, whichever has ``exercises/`` and
    ``tests/exercises/``; ``None`` when neither does."""
    here = Path.cwd() if start is None else Path(start)
    for folder in (here, here.parent):
        if (folder / "exercises").is_dir() and (folder / "tests" / "exercises").is_dir():
            return folder.resolve()
    return None


def lesson(number: int, root: Path | None = None) -> tuple[Path, str] | None:
    """Lesson ``number``'s notebook and its short title (``"Lesson 02 — Redundancy"``, the
    first heading up to its colon), or None when there is no such lesson."""
    root = root or repo_root()
    found = sorted((root / "notebooks").glob(f"{number:02d}_*.ipynb"))
    if not found:
        return None
    title = found[0].stem
    with contextlib.suppress(OSError, ValueError, KeyError):
        for cell in json.loads(found[0].read_text())["cells"]:
            heads = [x for x in "".join(cell["source"]).splitlines() if x.startswith("# ")]
            if cell["cell_type"] == "markdown" and heads:
                title = heads[0][2:].split(":")[0].strip()
                break
    return found[0], title


def next_step(results: list[Result], root: Path | None = None, target: str = "exercises") -> str:
    """What to do next, for the scoreboard's last line: start with the first exercise when
    none is attempted, else the first one not passed; empty when every one passed."""
    root = root or repo_root()
    attempted = [r for r in results if r.status != NOT_ATTEMPTED]
    todo = [r for r in results if r.status != "passed"]
    if not todo:
        return ""
    first = todo[0].exercise
    where = lesson(int(first[2:4]), root)
    read = f" (lesson: notebooks/{where[0].name})" if where else ""
    if not attempted:
        return f"0 of {len(results)} attempted — start with {target}/{first}.py{read}"
    return f"next: {target}/{first}.py{read}"


def _after_a_pass(exercise: str, root: Path) -> str:
    """The line a passing check() ends with: the next lesson, or the end of the course."""
    names = exercise_names(root)
    later = names[names.index(exercise) + 1 :] if exercise in names else []
    if not later:
        return "  That was the last exercise: the course is done."
    nxt = lesson(int(later[0][2:4]), root)
    return f"  Next: {nxt[1]} (notebooks/{nxt[0].name})" if nxt else f"  Next: {later[0]}"


def check(name: str, target: str = "exercises", *, tests: str | Path | None = None) -> Result:
    """Grade one exercise from a notebook and print its result and messages, no traceback.

    The exercises graded are the ones beside the notebook (:func:`course_beside`), so a
    learner's own copy of the course is graded even when halab was installed from another;
    the line "grading ..." names the file.

    Args:
        name: ``"ex01"`` or ``"ex01_availability"``.
        target: which folder to grade; the learner's ``exercises`` by default.
        tests: the folder of graders, ``tests/exercises`` by default.
    """
    root = course_beside() or repo_root()
    folder = Path(target) if Path(target).is_absolute() else root / target
    files = sorted(folder.glob(f"{name}*.py"))
    where = files[0] if files else folder
    print(f"grading {where} ...", flush=True)
    (result,) = grade(target, [name], root=root, tests=tests)
    print(result.line(len(result.exercise)))
    if result.status == "passed":
        print(_after_a_pass(result.exercise, root))
    if result.status == GRADER_ERROR:
        print(f"  ✗ {result.messages[0][1]}")
        return result
    for check_name, message in result.messages:
        if result.status == NOT_ATTEMPTED:
            print(
                f"  Open exercises/{result.exercise}.py, replace each `raise NotImplementedError`"
                " with your code, save, and run this cell again."
            )
            break
        print(f"  ✗ {check_name}: {message}")
    return result


def main(argv: list[str] | None = None) -> int:
    """``python -m halab.grading``: print the scoreboard; exit 1 unless every exercise passed."""
    parser = argparse.ArgumentParser(
        prog="python -m halab.grading", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "command",
        nargs="?",
        default="grade",
        choices=["grade", "stubs"],
        help="grade (default) or write missing exercise stubs from solutions/",
    )
    parser.add_argument(
        "--target",
        default="exercises",
        help="folder to grade: exercises (default), solutions, or a path",
    )
    parser.add_argument(
        "--only", action="append", default=[], help="an exercise to grade, e.g. ex01 (repeatable)"
    )
    parser.add_argument(
        "--report", metavar="PATH", help="also write the JSON report, one record per check"
    )
    parser.add_argument(
        "--tests",
        metavar="PATH",
        help="folder of graders (default tests/exercises); e.g. an instructor's private copy",
    )
    parser.add_argument(
        "--jobs", type=int, default=None, help="exercises graded at once (default: CPU count)"
    )
    parser.add_argument(
        "--force", action="store_true", help="with stubs: overwrite existing exercise files"
    )
    args = parser.parse_args(argv)
    if args.command == "stubs":
        for path in write_stubs(force=args.force):
            print(f"wrote {path}")
        return 0
    only = [x for item in args.only for x in item.replace(",", " ").split()]
    print(f"grading {args.target}/", flush=True)
    width = max([len(n) for n in exercise_names()] + [8])

    def progress(result: Result) -> None:
        print(f"  done: {result.line(width)}", flush=True)

    try:
        results = grade(
            args.target, only or None, tests=args.tests, jobs=args.jobs, progress=progress
        )
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(scoreboard(results, step=next_step(results, target=args.target)))
    if args.report:
        write_report(results, args.report)
        print(f"report: {args.report}")
    return 0 if all(r.status == "passed" for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
