"""check() grades the exercises beside the notebook, and says which file it graded."""

from __future__ import annotations

import shutil
from pathlib import Path

from halab import grading

ROOT = Path(__file__).resolve().parents[1]


def test_check_grades_the_copy_beside_the_notebook(tmp_path, monkeypatch, capsys):
    course = tmp_path / "my-course"
    (course / "notebooks").mkdir(parents=True)
    shutil.copytree(ROOT / "tests" / "exercises", course / "tests" / "exercises")
    (course / "exercises").mkdir()
    for stub in (ROOT / "exercises").glob("ex*.py"):
        shutil.copy(stub, course / "exercises" / stub.name)
    # this learner has finished ex01: their copy holds the reference answer
    shutil.copy(ROOT / "solutions" / "ex01_availability.py", course / "exercises")
    shutil.copy(ROOT / "notebooks" / "02_redundancy.ipynb", course / "notebooks")
    monkeypatch.chdir(course / "notebooks")
    assert grading.course_beside() == course.resolve()
    result = grading.check("ex01")
    out = capsys.readouterr().out
    assert str(course.resolve() / "exercises" / "ex01_availability.py") in out
    assert result.status == "passed", out
    assert "Next: Lesson 02 — Redundancy (notebooks/02_redundancy.ipynb)" in out, out
    # the repository's own exercises/ (an untouched stub) would not have passed
    assert (ROOT / "exercises" / "ex01_availability.py").read_text() != (
        course / "exercises" / "ex01_availability.py"
    ).read_text()


def test_without_a_course_beside_the_installed_one_is_graded(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert grading.course_beside() is None


def test_the_scoreboard_says_where_to_start_and_go_next():
    names = grading.exercise_names(ROOT)
    fresh = [grading.Result(n, not_attempted=3) for n in names]
    assert grading.next_step(fresh, ROOT) == (
        f"0 of {len(names)} attempted — start with exercises/{names[0]}.py"
        " (lesson: notebooks/01_availability.ipynb)"
    )
    one_done = [grading.Result(names[0], passed=3), *fresh[1:]]
    assert grading.next_step(one_done, ROOT) == (
        f"next: exercises/{names[1]}.py (lesson: notebooks/02_redundancy.ipynb)"
    )
    assert grading.next_step([grading.Result(n, passed=2) for n in names], ROOT) == ""
    board = grading.scoreboard(fresh, step=grading.next_step(fresh, ROOT))
    assert board.splitlines()[-1].startswith("0 of 10 attempted — start with")
    assert "exercises passed" not in board
    assert grading.scoreboard(one_done, step="next: x").splitlines()[-2:] == [
        "1 of 10 exercises passed",
        "next: x",
    ]


def test_a_pass_names_the_next_lesson_and_the_last_says_done():
    names = grading.exercise_names(ROOT)
    assert grading._after_a_pass(names[2], ROOT) == (
        "  Next: Lesson 04 — Failure detection (notebooks/04_failure_detection.ipynb)"
    )
    assert "the course is done" in grading._after_a_pass(names[-1], ROOT)
