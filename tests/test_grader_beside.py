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
    monkeypatch.chdir(course / "notebooks")
    assert grading.course_beside() == course.resolve()
    result = grading.check("ex01")
    out = capsys.readouterr().out
    assert str(course.resolve() / "exercises" / "ex01_availability.py") in out
    assert result.status == "passed", out
    # the repository's own exercises/ (an untouched stub) would not have passed
    assert (ROOT / "exercises" / "ex01_availability.py").read_text() != (
        course / "exercises" / "ex01_availability.py"
    ).read_text()


def test_without_a_course_beside_the_installed_one_is_graded(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert grading.course_beside() is None
