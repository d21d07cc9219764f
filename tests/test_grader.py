"""The grader has teeth: every solution passes, every untouched stub is "not attempted yet",
every known-wrong answer (tests/mutants) is caught with a message, and exercises/ matches
what the generator makes from solutions/.

These checks call the grader's check functions directly, in this process, which is fast;
``make test`` also grades solutions/ through ``python -m halab.grading`` end to end.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import re
import shutil
import sys
import types
from pathlib import Path

import pytest

from halab import gradebook, grading

ROOT = Path(__file__).resolve().parents[1]
EXERCISES = grading.exercise_names(ROOT)


def _load_file(path: Path, name: str) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _from_source(source: str, name: str) -> types.ModuleType:
    module = types.ModuleType(name)
    exec(compile(source, f"<{name}>", "exec"), module.__dict__)
    return module


def _checks(exercise: str):
    grader = _load_file(ROOT / "tests" / "exercises" / f"test_{exercise}.py", f"_grader_{exercise}")
    checks = [(n, f) for n, f in vars(grader).items() if n.startswith("test_") and callable(f)]
    assert checks, f"the grader for {exercise} has no checks"
    return checks


def _solution(exercise: str) -> types.ModuleType:
    return _load_file(ROOT / "solutions" / f"{exercise}.py", f"_solution_{exercise}")


def _mutants_module(exercise: str) -> types.ModuleType:
    path = ROOT / "tests" / "mutants" / f"{exercise}.py"
    assert path.exists(), f"{exercise} has no mutants file at {path}"
    return _load_file(path, f"_mutants_{exercise}")


def _mutants(exercise: str) -> dict:
    """description -> the functions that replace the solution's."""
    return _mutants_module(exercise).MUTANTS


def _messages(exercise: str) -> dict:
    """description -> a piece of text that one of the grader's messages to it must hold."""
    return getattr(_mutants_module(exercise), "MESSAGES", {})


def test_every_exercise_has_solution_grader_and_mutants():
    solutions = sorted(p.stem for p in (ROOT / "solutions").glob("ex*.py"))
    assert solutions == EXERCISES, "solutions/ and tests/exercises/ must name the same exercises"
    for exercise in EXERCISES:
        assert len(_mutants(exercise)) >= 3, (
            f"{exercise} should keep at least 3 known-wrong answers"
        )


@pytest.mark.parametrize("exercise", EXERCISES)
def test_solutions_pass(exercise):
    module = _solution(exercise)
    for _name, check in _checks(exercise):
        check(module)  # raises, and fails this test, if the solution does not pass


@pytest.mark.parametrize("exercise", EXERCISES)
def test_stubs_are_not_attempted(exercise):
    source = (ROOT / "solutions" / f"{exercise}.py").read_text()
    stub = _from_source(grading.make_stub(source), f"_stub_{exercise}")
    for _name, check in _checks(exercise):
        with pytest.raises(NotImplementedError):
            check(stub)


def _mutant_cases():
    for exercise in EXERCISES:
        for description in _mutants(exercise):
            yield pytest.param(exercise, description, id=f"{exercise}: {description}")


@pytest.mark.parametrize(("exercise", "description"), list(_mutant_cases()))
def test_mutants_are_caught(exercise, description):
    overrides = _mutants(exercise)[description]
    solution = _solution(exercise)
    mutant = types.ModuleType(f"_mutant_{exercise}")
    mutant.__dict__.update(vars(solution))
    mutant.__dict__.update(overrides)
    caught = []
    for name, check in _checks(exercise):
        try:
            check(mutant)
        except AssertionError as error:
            caught.append((name, str(error)))
    assert caught, f"the grader for {exercise} passes a known-wrong answer: {description}"
    for name, message in caught:
        assert len(message) > 20, f"{name} catches '{description}' but says too little: {message!r}"
    wanted = _messages(exercise).get(description)
    assert wanted is None or any(wanted in message for _, message in caught), (
        f"the grader for {exercise} catches '{description}' without saying {wanted!r}: "
        + "; ".join(f"{name}: {message}" for name, message in caught)
    )


def test_every_expected_message_names_a_mutant():
    for exercise in EXERCISES:
        unknown = set(_messages(exercise)) - set(_mutants(exercise))
        assert not unknown, f"tests/mutants/{exercise}.py: MESSAGES for no mutant: {unknown}"


def _interface(tree: ast.Module):
    """Each top-level function's name, arguments and docstring; the module docstring."""
    out = {"__doc__": ast.get_docstring(tree)}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            out[node.name] = (ast.dump(node.args), ast.get_docstring(node))
    return out


@pytest.mark.parametrize("exercise", EXERCISES)
def test_exercises_match_solutions(exercise):
    """exercises/ keeps the generated signatures and docstrings (learners edit only bodies)."""
    made = grading.make_stub((ROOT / "solutions" / f"{exercise}.py").read_text())
    path = ROOT / "exercises" / f"{exercise}.py"
    assert path.exists(), f"{path} is missing: run `make stubs`"
    have = path.read_text()
    assert _interface(ast.parse(have)) == _interface(ast.parse(made)), (
        f"{path} has drifted from solutions/{exercise}.py: regenerate it with "
        "`python -m halab.grading stubs --force` (this overwrites learners' work)"
    )


def test_make_stub_replaces_only_marked_bodies():
    source = (
        'import math\n\n\ndef f(x):\n    """Doc."""\n    ### BEGIN SOLUTION\n'
        "    return math.sqrt(x)\n    ### END SOLUTION\n\n\nHELPER = 1\n"
    )
    stub = grading.make_stub(source)
    assert "math.sqrt" not in stub and "HELPER = 1" in stub and '"""Doc."""' in stub
    assert 'raise NotImplementedError("f: your code here")' in stub
    with pytest.raises(ValueError, match="never closed"):
        grading.make_stub("def f():\n    ### BEGIN SOLUTION\n    return 1\n")
    with pytest.raises(ValueError, match="without"):
        grading.make_stub("def f():\n    ### END SOLUTION\n")


def test_scoreboard_end_to_end(tmp_path):
    """grade() runs pytest in a subprocess and classifies passed / failed / not attempted."""
    exercise = EXERCISES[0]
    source = (ROOT / "solutions" / f"{exercise}.py").read_text()
    (tmp_path / "stubs").mkdir()
    (tmp_path / "stubs" / f"{exercise}.py").write_text(grading.make_stub(source))
    (result,) = grading.grade(str(tmp_path / "stubs"), [exercise], root=ROOT)
    assert result.status == grading.NOT_ATTEMPTED and result.passed == 0
    (result,) = grading.grade("solutions", [exercise], root=ROOT)
    assert result.status == "passed" and result.failed == 0 and result.total >= 3
    # a learner's file that is half done: the first function returns a wrong number, the rest raise
    stub = grading.make_stub(source)
    first = stub.index("    raise NotImplementedError(")
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / f"{exercise}.py").write_text(
        stub[:first] + "    return -1.0\n" + stub[first:]
    )
    (result,) = grading.grade(str(tmp_path / "half"), [exercise], root=ROOT)
    assert result.status == "failed" and result.failed >= 1 and result.not_attempted >= 1, result
    assert any("should be" in m for _, m in result.messages), result.messages
    board = grading.scoreboard([result])
    assert exercise in board and "✗" in board and "Traceback" not in board


# --- the graded code cannot fool the grader --------------------------------------------------
#
# Each cheat is a prelude run when the learner's module is imported, followed by the exercise's
# stub with every `raise NotImplementedError` turned into `return None` (wrong answers): if a
# cheat worked, the exercise would show "passed".

CHEATS = {
    "imports solutions/": (
        "import sys\nsys.path.insert(0, {root!r})\nfrom solutions.{exercise} import *  # noqa\n",
        {grading.USED_SOLUTIONS},
    ),
    "patches the test module": (
        "import gc, sys\n"
        "for m in list(sys.modules.values()):\n"
        "    if hasattr(m, 'EXERCISE') or hasattr(m, 'close'):\n"
        "        m.close = lambda *a, **k: True\n"
        "for f in gc.get_objects():\n"
        "    if callable(f) and getattr(f, '__name__', '').startswith('test_'):\n"
        "        f.__code__ = (lambda ex: None).__code__\n",
        {"failed"},
    ),
    "forges the report, then os._exit(0)": (
        "import json, os\n"
        "fake = [{{'exercise': {exercise!r}, 'check': 'test_x', 'outcome': 'passed', 'message': ''}}]\n"
        "for path in (os.environ.get('HALAB_REPORT', 'report.json'), 'junit.xml'):\n"
        "    try:\n"
        "        open(path, 'w').write(json.dumps(fake))\n"
        "    except OSError:\n"
        "        pass\n"
        "print('collected 1 item', json.dumps(fake), '1 passed', flush=True)\n"
        "os._exit(0)\n",
        {"failed"},
    ),
    "replaces conftest._outcomes": (
        "import importlib.util, sys\n"
        "spec = importlib.util.spec_from_file_location('conftest', "
        "{root!r} + '/tests/exercises/conftest.py')\n"
        "c = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(c)\n"
        "sys.modules['conftest'] = c\n"
        "c._outcomes = [{{'exercise': {exercise!r}, 'check': 't', 'outcome': 'passed'}}] * 99\n"
        "c._emit({{'kind': 'check', 'exercise': {exercise!r}, 'outcome': 'passed'}})\n",
        {"failed"},
    ),
    "calls sys.exit(0) at import": ("import sys\nsys.exit(0)\n", {"failed"}),
    "patches pytest's report hooks": (
        "import _pytest.reports, _pytest.runner\n"
        "_pytest.reports.TestReport.passed = property(lambda self: True)\n"
        "_pytest.runner.call_and_report = lambda *a, **k: None\n",
        {"failed"},
    ),
    "writes fake lines to every file descriptor": (
        "import os\n"
        "for fd in range(0, 64):\n"
        "    try:\n"
        '        os.write(fd, b\'0\' * 64 + b\' {{"kind": "done", "exitstatus": 0}}\\n\')\n'
        "    except OSError:\n"
        "        pass\n",
        {"failed"},
    ),
    "kills the grader": ("import os\nos.kill(os.getppid(), 9)\n", {grading.GRADER_ERROR}),
    "returns values that equal everything": (
        "class Yes(float):\n"
        "    def __eq__(self, other):\n        return True\n"
        "    __hash__ = float.__hash__\n"
        "class Anything:\n"
        "    def __eq__(self, other):\n        return True\n"
        "    def __bool__(self):\n        return True\n"
        "RETURN = Anything()\n",
        {"failed"},
    ),
    "loops forever at import": ("while True:\n    pass\n", {"failed"}),
}


def _cheat_source(exercise: str, prelude: str) -> str:
    stub = grading.make_stub((ROOT / "solutions" / f"{exercise}.py").read_text())
    body = re.sub(r"raise NotImplementedError\(.*\)", "return globals().get('RETURN')", stub)
    return prelude.format(root=str(ROOT), exercise=exercise) + "\n" + body


def test_cheats_are_caught(tmp_path, monkeypatch):
    """Every cheat comes out "failed", "grader error" or "used solutions/", never "passed"."""
    assert len(CHEATS) <= len(EXERCISES)
    monkeypatch.setenv("HALAB_CALL_TIMEOUT", "8")
    folder = tmp_path / "cheats"
    folder.mkdir()
    plan = dict(zip(EXERCISES, CHEATS.items()))
    for exercise, (_cheat, (prelude, _allowed)) in plan.items():
        (folder / f"{exercise}.py").write_text(_cheat_source(exercise, prelude))
    results = {r.exercise: r for r in grading.grade(str(folder), list(plan), root=ROOT)}
    report = []
    for exercise, (cheat, (_prelude, allowed)) in plan.items():
        result = results[exercise]
        report.append(f"{cheat}: {result.status} ({result.messages[:1]})")
        assert result.passed == 0 and result.status in allowed, "\n".join(report)
    print("\n".join(report))
    used = results[EXERCISES[0]]
    assert used.used_solutions == used.total, "every check of a module that read solutions/"
    assert "used solutions/: your code" in str(used.messages)


def test_a_cheat_that_edits_the_grader_is_a_grader_error(tmp_path):
    """Learner code that empties a grader file (it cannot write one: RLIMIT_FSIZE is 0) while
    grading is caught by the fingerprint of the graders taken before and after."""
    tests = tmp_path / "graders"
    shutil.copytree(ROOT / "tests" / "exercises", tests)
    exercise = EXERCISES[0]
    prelude = (
        f"open({str(tests / f'test_{exercise}.py')!r}, 'w').close()\n"
        f"open({str(tests / 'forged.py')!r}, 'w').write('x = 1')\n"
    )
    (tmp_path / "cheat").mkdir()
    (tmp_path / "cheat" / f"{exercise}.py").write_text(_cheat_source(exercise, prelude))
    (result,) = grading.grade(str(tmp_path / "cheat"), [exercise], root=ROOT, tests=tests)
    assert result.status == grading.GRADER_ERROR and result.passed == 0, result
    assert "changed while grading" in result.messages[0][1]
    assert not (tests / "forged.py").exists() or (tests / "forged.py").read_text() == ""


def test_check_in_a_notebook_shows_a_cheat_without_traceback(tmp_path, capsys):
    exercise = EXERCISES[0]
    (tmp_path / "x").mkdir()
    prelude = CHEATS["forges the report, then os._exit(0)"][0]
    (tmp_path / "x" / f"{exercise}.py").write_text(_cheat_source(exercise, prelude))
    result = grading.check(exercise, target=str(tmp_path / "x"))
    shown = capsys.readouterr().out
    assert result.status == "failed" and "Traceback" not in shown, shown
    assert "exit status 0" in shown, shown


READS_SOLUTIONS = (
    "import pathlib\n"
    "answer = pathlib.Path({root!r}, 'solutions', {exercise!r} + '.py').read_text()\n"
    "exec(compile(answer, 'answer', 'exec'))\n"
)


@pytest.mark.parametrize(
    "prelude", [CHEATS["imports solutions/"][0], READS_SOLUTIONS], ids=["imports", "reads"]
)
def test_using_solutions_is_reported_by_make_grade_and_check(tmp_path, capsys, prelude):
    """`make grade` (python -m halab.grading) and check() both say "used solutions/", whether
    the module imports a solution or reads its file and runs it: never "passed"."""
    exercise = EXERCISES[0]
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / f"{exercise}.py").write_text(_cheat_source(exercise, prelude))
    assert grading.main(["--target", str(tmp_path / "x"), "--only", exercise]) == 1
    board = capsys.readouterr().out
    line = next(x for x in board.splitlines() if x.startswith(exercise))
    assert "used solutions/" in line, board
    assert "✗" in board and "used solutions/: your code" in board, board
    result = grading.check(exercise, target=str(tmp_path / "x"))
    shown = capsys.readouterr().out
    assert result.status == grading.USED_SOLUTIONS and result.passed == 0, result
    assert "used solutions/: your code" in shown and "Traceback" not in shown, shown


@pytest.mark.parametrize(
    "cheat",
    [
        "patches the test module",
        "forges the report, then os._exit(0)",
        "replaces conftest._outcomes",
    ],
)
def test_check_reports_the_in_process_cheats_as_failed(tmp_path, capsys, cheat):
    """The three cheats of issue 15, through check() as a notebook calls it."""
    exercise = EXERCISES[1]
    prelude, allowed = CHEATS[cheat]
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / f"{exercise}.py").write_text(_cheat_source(exercise, prelude))
    result = grading.check(exercise, target=str(tmp_path / "x"))
    shown = capsys.readouterr().out
    assert result.passed == 0 and result.status in allowed | {grading.GRADER_ERROR}, shown
    assert "Traceback" not in shown, shown


def test_report_has_one_record_per_check(tmp_path):
    exercise = EXERCISES[0]
    path = tmp_path / "report.json"
    assert grading.main(["--target", "solutions", "--only", exercise, "--report", str(path)]) == 0
    records = json.loads(path.read_text())
    assert [r["check"] for r in records] == grading.expected_checks(
        ROOT / "tests" / "exercises" / f"test_{exercise}.py"
    )
    for record in records:
        assert set(record) == set(gradebook.REPORT_SCHEMA["items"]["required"])
        assert record["tier"] == "public" and record["max_points"] == 1
        assert record["outcome"] == "passed" and record["points"] == 1


def test_resolve_short_names():
    assert grading.resolve("ex01", ROOT) == "ex01_availability"
    with pytest.raises(ValueError, match="exercise must be one of"):
        grading.resolve("ex99", ROOT)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
