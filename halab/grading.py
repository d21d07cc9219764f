"""Grade the exercises: a scoreboard for ``make grade`` and ``check("ex01")`` for the lessons.

The graders are pytest files, ``tests/exercises/test_exNN_<topic>.py``; each grades one
module, ``exercises/exNN_<topic>.py`` by default. This module runs them in a fresh Python
process (so a learner's latest edit is always the one graded), reads the outcome of each check
and reports one line per exercise::

    $ make grade
    ex01_availability  passed            5/5 checks
    ex02_redundancy    not attempted yet 0/4 checks

In a notebook, ``check("ex01")`` prints the same line and each failure's message, without a
traceback. ``python -m halab.grading --help`` lists the options. For an instructor,
``--report PATH`` also writes a JSON list with one record per check (exercise, check, tier,
points, outcome, message: :mod:`halab.gradebook` documents the schema), ``--csv`` a gradebook
row per learner, ``--gradescope`` Gradescope's ``results.json``, and ``--hidden DIR`` adds a
tier of hidden checks kept outside the learners' copy: reported apart from the public ones in
every line, without their code (:func:`withheld`).

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
score grades the learners' files on their own copy, with ``--hidden`` pointing at a private
folder of hidden checks that never ships to learners (``docs/instructor.md``).

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
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from halab import gradebook
from halab.gradebook import write_report  # noqa: F401  (the name the course documents)

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
    """The outcome of one exercise's grader, over both tiers of checks.

    The *public* tier is ``tests/exercises/`` (or ``--tests``), which learners have; the
    *hidden* tier is an instructor's folder (``--hidden``) that never ships to them. An
    exercise passes only when every check of both tiers passed.

    Attributes:
        exercise: e.g. ``"ex01_availability"``.
        passed, failed, not_attempted: how many checks ended each way.
        errors: checks whose outcome the grader could not establish (``"grader error"``).
        used_solutions: checks during which the graded code read ``solutions/``.
        messages: the message of each check that did not pass, as ``(check, message)``; a
            hidden check is named ``"hidden: <check>"``.
        records: one dict per check, the report's records (see :mod:`halab.gradebook`).
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

    def tally(self, tier: str) -> tuple[int, int]:
        """(checks passed, checks) of one tier, ``"public"`` or ``"hidden"``."""
        mine = [r for r in self.records if r["tier"] == tier]
        return sum(r["outcome"] == "passed" for r in mine), len(mine)

    @property
    def points(self) -> int:
        """Points earned: one per check passed, both tiers."""
        return sum(r["points"] for r in self.records)

    def line(self, width: int = 20) -> str:
        """One scoreboard line; with a hidden tier, each tier's count is shown apart."""
        hidden_passed, hidden = self.tally(HIDDEN)
        if hidden:
            public_passed, public = self.tally(PUBLIC)
            detail = f"{public_passed}/{public} public, {hidden_passed}/{hidden} hidden checks"
        else:
            detail = f"{self.passed}/{self.total} checks"
        if self.failed and self.not_attempted:
            detail += f", {self.not_attempted} not attempted yet"
        return f"{self.exercise:<{width}} {self.status:<17} {detail}"

    def add(self, check: str, outcome: str, message: str, tier: str = "public") -> None:
        """Count one check's outcome; a hidden check's message is :func:`withheld`."""
        if tier not in (PUBLIC, HIDDEN):
            raise ValueError(f"tier must be {PUBLIC!r} or {HIDDEN!r}, got {tier!r}")
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
        if tier == HIDDEN:
            message = withheld(message)
        if outcome != "passed":
            self.messages.append((check if tier == PUBLIC else f"hidden: {check}", message))
        self.records.append(
            {
                "exercise": self.exercise,
                "check": check,
                "tier": tier,
                "points": 1 if outcome == "passed" else 0,
                "max_points": 1,
                "outcome": outcome,
                "message": message,
            }
        )

    def merge(self, other: Result) -> None:
        """Add another run's checks of the same exercise (the hidden tier's) to this one."""
        for record in other.records:
            self.add(record["check"], record["outcome"], record["message"], record["tier"])


PUBLIC, HIDDEN = "public", "hidden"
WITHHELD = "a hidden check failed; its message is withheld (it would show the check's code)"


def withheld(message: str) -> str:
    """A hidden check's message as the report shows it: what its author wrote for learners,
    never the code of the check.

    pytest rewrites a bare ``assert f(3) == 2`` into the message ``assert 1 == 2`` followed by
    ``where`` lines that quote the call: such a message, and anything from the grader's log,
    is replaced by :data:`WITHHELD`. An ``assert x, "message"`` keeps its message; an
    exception raised by the learner's code keeps its type, text and line in their file.
    """
    first = message.lstrip()
    if not first or first.startswith(("assert ", "assert\n")) or "\n  +  where " in message:
        return WITHHELD
    return message


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


def _run_grader(
    name: str, folder: Path, tests: Path, root: Path, expected: list[str], tier: str = PUBLIC
) -> Result:
    """Run one exercise's grader in a child pytest and trust only what it says on a private pipe.

    ``expected`` are the checks its file defined before grading began; ``tier`` marks them
    public or hidden (a hidden tier's errors carry no log: it could quote the check's code).
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
        tail = "\n".join(log.strip().splitlines()[-8:]) if tier == PUBLIC else ""
        for check in expected:
            bad.add(check, GRADER_ERROR, why + (f"\n{tail}" if tail else ""), tier)
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
        result.add(
            str(record["check"]), str(record.get("outcome")), str(record.get("message")), tier
        )
    return result


def _kill(child: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.pid, 9)


def hidden_graders(hidden: str | Path, names: list[str], known: list[str]) -> dict[str, Path]:
    """The hidden tier's grader file of each exercise in ``names`` that has one in ``hidden``.

    The folder holds files named as the public graders (``test_ex01_availability.py``) that
    set the same ``EXERCISE`` and take the same ``ex`` fixture; a ``conftest.py`` there is not
    used (the public one runs them). An exercise without a file there has no hidden checks; a
    file that names no exercise of ``known`` is refused (a typo would drop checks silently).
    """
    folder = Path(hidden).resolve()
    if not folder.is_dir():
        raise ValueError(f"hidden must be a folder of hidden graders, {folder} is not one")
    stray = sorted(
        p.name for p in folder.glob("test_*.py") if p.stem.removeprefix("test_") not in known
    )
    if stray:
        raise ValueError(
            f"hidden holds {', '.join(stray)}, which grade no exercise ({', '.join(known)})"
        )
    return {n: folder / f"test_{n}.py" for n in names if (folder / f"test_{n}.py").is_file()}


def grade(
    target: str = "exercises",
    only: list[str] | None = None,
    *,
    root: Path | None = None,
    tests: str | Path | None = None,
    hidden: str | Path | None = None,
    jobs: int | None = None,
    progress=None,
) -> list[Result]:
    """Run the graders on ``target`` (a folder of exercise modules) and return one result each.

    Each exercise is graded by its own child ``pytest``, and the learner's module runs in a
    sandbox process below that (``halab.sandbox``); up to ``jobs`` exercises at once. With
    ``hidden``, each exercise that has a hidden grader gets a second child, run from a private
    temporary folder that holds a copy of the public ``conftest.py`` beside a copy of the
    hidden file, under the same guarantees; its records are marked ``"hidden"``.

    Args:
        target: ``"exercises"`` (the learner's work), ``"solutions"``, or a path to a folder
            holding modules with the same names.
        only: exercise names or ``exNN`` prefixes to grade; all of them when None.
        root: the repository; found from the package's location by default.
        tests: the folder of graders, ``tests/exercises`` by default; an instructor can point it
            at a private copy.
        hidden: an instructor's folder of hidden graders (:func:`hidden_graders`), kept out of
            the copy learners have; None for the public tier only.
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
    known = exercise_names(root)
    secret_files = hidden_graders(hidden, names, known) if hidden is not None else {}
    with contextlib.ExitStack() as stack:
        private = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="halab-hidden-")))
        if secret_files:
            shutil.copy(tests / "conftest.py", private / "conftest.py")
            for path in secret_files.values():
                shutil.copy(path, private / path.name)
        watched = _grader_files(tests) + list(secret_files.values()) + sorted(private.glob("*"))
        before = _fingerprint(watched)
        plan = [(n, tests, PUBLIC, expected_checks(tests / f"test_{n}.py")) for n in names]
        plan += [
            (n, private, HIDDEN, expected_checks(private / f"test_{n}.py")) for n in secret_files
        ]
        return _grade_plan(names, plan, folder, root, jobs, progress, watched, before)


def _grade_plan(names, plan, folder, root, jobs, progress, watched, before) -> list[Result]:
    """Run each (exercise, graders folder, tier, checks) of ``plan``; one Result per name."""
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(plan)))
    results = {n: Result(n) for n in names}
    waiting = {n: sum(p[0] == n for p in plan) for n in names}
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {
            pool.submit(_run_grader, n, folder, graders, root, checks, tier): n
            for n, graders, tier, checks in plan
        }
        for future in concurrent.futures.as_completed(futures):
            name = futures[future]
            results[name].merge(future.result())
            waiting[name] -= 1
            if progress is not None and not waiting[name]:
                progress(results[name])
    changed = [p for p, h in _fingerprint(watched).items() if before.get(p) != h]
    if changed:
        for name in names:
            bad = Result(name)
            for _, _, tier, checks in (p for p in plan if p[0] == name):
                for check in checks:
                    why = f"the grader's own file {changed[0]} changed while grading"
                    bad.add(check, GRADER_ERROR, why, tier)
            results[name] = bad
    return [_in_order(results[n]) for n in names]


def _in_order(result: Result) -> Result:
    """The public tier's records first, then the hidden tier's (runs finish in any order)."""
    result.records.sort(key=lambda r: r["tier"] != PUBLIC)
    result.messages.sort(key=lambda m: m[0].startswith("hidden: "))
    return result


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
        line = f"{passed} of {len(results)} exercises passed"
        if any(r.tally(HIDDEN)[1] for r in results):
            line += f" ({gradebook.summary(results)})"
        lines.append(line)
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
        "--csv", metavar="PATH", help="add (or replace) the learner's row in this CSV gradebook"
    )
    parser.add_argument(
        "--gradescope", metavar="PATH", help="also write Gradescope's results.json there"
    )
    parser.add_argument(
        "--learner",
        default=None,
        help="whose work it is, in the report and gradebook (default: $JUPYTERHUB_USER or login)",
    )
    parser.add_argument(
        "--hidden",
        metavar="DIR",
        help="the instructor's folder of hidden graders (kept out of the learners' copy)",
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
        learner = gradebook.learner_name(args.learner)
        results = grade(
            args.target,
            only or None,
            tests=args.tests,
            hidden=args.hidden,
            jobs=args.jobs,
            progress=progress,
        )
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(scoreboard(results, step=next_step(results, target=args.target)))
    for path, write, what in [
        (args.report, gradebook.write_report, "report"),
        (args.csv, gradebook.write_gradebook, "gradebook"),
    ]:
        if path:
            write(results, path, learner)
            print(f"{what}: {path} (learner {learner})")
    if args.gradescope:
        gradebook.write_gradescope(results, args.gradescope)
        print(f"gradescope: {args.gradescope}")
    return 0 if all(r.status == "passed" for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
