"""Grade the exercises: a scoreboard for ``make grade`` and ``check("ex01")`` for the lessons.

The graders are pytest files, ``tests/exercises/test_exNN_<topic>.py``; each grades one
module, ``exercises/exNN_<topic>.py`` by default. This module runs them in a fresh Python
process (so a learner's latest edit is always the one graded), reads the outcome of each check
and reports one line per exercise::

    $ make grade
    ex01_availability  passed            5/5 checks
    ex02_redundancy    not attempted yet 0/4 checks

In a notebook, ``check("ex01")`` prints the same line and each failure's message, without a
traceback. ``python -m halab.grading --help`` lists the options.

The exercises are made from the reference solutions: in ``solutions/`` the body of each
function that learners write sits between ``### BEGIN SOLUTION`` and ``### END SOLUTION``;
:func:`make_stub` replaces it by ``raise NotImplementedError``, which the graders report as
"not attempted yet". ``python -m halab.grading stubs`` writes the missing exercise files.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
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


@dataclass
class Result:
    """The outcome of one exercise's grader.

    Attributes:
        exercise: e.g. ``"ex01_availability"``.
        passed, failed, not_attempted: how many checks ended each way.
        messages: the message of each check that did not pass, as ``(check, message)``.
    """

    exercise: str
    passed: int = 0
    failed: int = 0
    not_attempted: int = 0
    messages: list[tuple[str, str]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.passed + self.failed + self.not_attempted

    @property
    def status(self) -> str:
        """``"passed"``, ``"failed"`` or ``"not attempted yet"``."""
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


def grade(
    target: str = "exercises", only: list[str] | None = None, *, root: Path | None = None
) -> list[Result]:
    """Run the graders on ``target`` (a folder of exercise modules) and return one result each.

    Args:
        target: ``"exercises"`` (the learner's work), ``"solutions"``, or a path to a folder
            holding modules with the same names.
        only: exercise names or ``exNN`` prefixes to grade; all of them when None.
        root: the repository; found from the package's location by default.
    """
    root = root or repo_root()
    names = [resolve(n, root) for n in only] if only else exercise_names(root)
    folder = Path(target) if Path(target).is_absolute() else root / target
    if not folder.is_dir():
        raise ValueError(f"target must be a folder of exercise modules, {folder} is not one")
    files = [str(root / "tests" / "exercises" / f"test_{n}.py") for n in names]
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        env = {
            **os.environ,
            "HALAB_TARGET": str(folder),
            "HALAB_REPORT": str(report),
            "MPLBACKEND": "Agg",
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
            *files,
        ]
        run = subprocess.run(
            command, cwd=root, env=env, capture_output=True, text=True, timeout=600
        )
        if not report.exists():
            raise RuntimeError(
                f"the grader did not run:\n{run.stdout[-2000:]}\n{run.stderr[-2000:]}"
            )
        outcomes = json.loads(report.read_text())
    results = {n: Result(n) for n in names}
    for item in outcomes:
        result = results[item["exercise"]]
        if item["outcome"] == "passed":
            result.passed += 1
        elif item["outcome"] == NOT_ATTEMPTED:
            result.not_attempted += 1
            result.messages.append((item["check"], item["message"]))
        else:
            result.failed += 1
            result.messages.append((item["check"], item["message"]))
    return list(results.values())


def scoreboard(results: list[Result], *, messages: bool = True) -> str:
    """The scoreboard: one line per exercise, then each failure's message, indented."""
    width = max([len(r.exercise) for r in results] + [8])
    lines = []
    for r in results:
        lines.append(r.line(width))
        if messages and r.status == "failed":
            for check, message in r.messages:
                if message.startswith(NOT_ATTEMPTED):
                    continue
                first, *rest = message.splitlines() or [""]
                lines.append(f"    ✗ {check}: {first}")
                lines.extend(f"      {x}" for x in rest[:6])
    passed = sum(r.status == "passed" for r in results)
    lines.append(f"{passed} of {len(results)} exercises passed")
    return "\n".join(lines)


def check(name: str, target: str = "exercises") -> Result:
    """Grade one exercise from a notebook and print its result and messages, no traceback.

    Args:
        name: ``"ex01"`` or ``"ex01_availability"``.
        target: which folder to grade; the learner's ``exercises`` by default.
    """
    (result,) = grade(target, [name])
    print(result.line(len(result.exercise)))
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
        "--force", action="store_true", help="with stubs: overwrite existing exercise files"
    )
    args = parser.parse_args(argv)
    if args.command == "stubs":
        for path in write_stubs(force=args.force):
            print(f"wrote {path}")
        return 0
    only = [x for item in args.only for x in item.replace(",", " ").split()]
    try:
        results = grade(args.target, only or None)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"grading {args.target}/")
    print(scoreboard(results))
    return 0 if all(r.status == "passed" for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
