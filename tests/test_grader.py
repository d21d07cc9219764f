"""The grader has teeth: every solution passes, every untouched stub is "not attempted yet",
every known-wrong answer (tests/mutants) is caught with a message, and exercises/ matches
what the generator makes from solutions/.

These checks call the grader's check functions directly, in this process, which is fast;
``make test`` also grades solutions/ through ``python -m halab.grading`` end to end.
"""

from __future__ import annotations

import ast
import importlib.util
import sys
import types
from pathlib import Path

import pytest

from halab import grading

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


def _mutants(exercise: str) -> dict:
    path = ROOT / "tests" / "mutants" / f"{exercise}.py"
    assert path.exists(), f"{exercise} has no mutants file at {path}"
    return _load_file(path, f"_mutants_{exercise}").MUTANTS


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


def test_resolve_short_names():
    assert grading.resolve("ex01", ROOT) == "ex01_availability"
    with pytest.raises(ValueError, match="exercise must be one of"):
        grading.resolve("ex99", ROOT)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
