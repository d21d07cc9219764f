"""The hand-out: a learner's copy is made once, updated where untouched, never overwritten."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from halab import handout

ROOT = Path(__file__).resolve().parents[1]


def _course(tmp_path: Path) -> Path:
    course = tmp_path / "opt" / "halab"
    for folder in handout.FOLDERS:
        (course / folder).mkdir(parents=True)
    (course / "notebooks" / "00_welcome.ipynb").write_text('{"v": 1}')
    (course / "notebooks" / "06_live.ipynb").write_text('{"v": 1}')
    (course / "exercises" / "ex01_availability.py").write_text("def f():\n    raise X\n")
    (course / "tests" / "exercises" / "conftest.py").write_text("# plumbing\n")
    (course / "exercises" / "__pycache__").mkdir()
    (course / "exercises" / "__pycache__" / "x.pyc").write_bytes(b"\0")
    return course


def test_first_login_copies_everything_once(tmp_path):
    course, copy = _course(tmp_path), tmp_path / "home" / "ana" / "halab"
    done = handout.hand_out(course, copy)
    assert sorted(done.copied) == sorted(handout.course_files(course))
    assert len(done.copied) == 4
    assert not (copy / "exercises" / "__pycache__").exists()
    again = handout.hand_out(course, copy)
    assert again.copied == again.updated == again.kept == []


def test_an_update_replaces_untouched_files_and_keeps_the_learners(tmp_path):
    course, copy = _course(tmp_path), tmp_path / "ana"
    handout.hand_out(course, copy)
    (copy / "exercises" / "ex01_availability.py").write_text("def f():\n    return 1\n")  # hers
    (copy / "notebooks" / "00_welcome.ipynb").unlink()  # she wants a fresh one
    (course / "exercises" / "ex01_availability.py").write_text("def f():\n    raise Y\n")
    (course / "notebooks" / "06_live.ipynb").write_text('{"v": 2}')  # a corrected lesson
    (course / "notebooks" / "07_new.ipynb").write_text('{"v": 1}')  # a new lesson
    done = handout.hand_out(course, copy)
    assert done.updated == ["notebooks/06_live.ipynb"]
    assert sorted(done.copied) == ["notebooks/00_welcome.ipynb", "notebooks/07_new.ipynb"]
    assert done.kept == ["exercises/ex01_availability.py"]
    assert (copy / "exercises" / "ex01_availability.py").read_text().endswith("return 1\n")
    beside = copy / "exercises" / "ex01_availability.updated.py"
    assert beside.read_text().endswith("raise Y\n")
    assert (copy / "notebooks" / "06_live.ipynb").read_text() == '{"v": 2}'
    manifest = json.loads((copy / handout.MANIFEST).read_text())
    assert set(manifest) == set(handout.course_files(course))
    # a second run changes nothing more, and her answer is still hers
    assert handout.hand_out(course, copy).updated == []
    assert (copy / "exercises" / "ex01_availability.py").read_text().endswith("return 1\n")


def test_links_in_the_copy_are_not_followed(tmp_path):
    course, copy = _course(tmp_path), tmp_path / "ana"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    copy.mkdir()
    (copy / "notebooks").symlink_to(elsewhere)
    done = handout.hand_out(course, copy)
    assert sorted(done.skipped) == ["notebooks/00_welcome.ipynb", "notebooks/06_live.ipynb"]
    assert list(elsewhere.iterdir()) == []
    with pytest.raises(ValueError, match="copy must be another folder"):
        handout.hand_out(course, course)
    with pytest.raises(ValueError, match="course must hold"):
        handout.hand_out(tmp_path / "nothing", copy)


def test_the_real_course_hands_out_what_check_needs(tmp_path, monkeypatch):
    """The repository's own folders make a copy that check() grades (it finds tests/exercises)."""
    copy = tmp_path / "halab"
    assert handout.main([str(ROOT), str(copy)]) == 0
    from halab import grading

    monkeypatch.chdir(copy / "notebooks")
    assert grading.course_beside() == copy.resolve()
    assert sorted(p.name for p in (copy / "notebooks").glob("*.ipynb")) == sorted(
        p.name for p in (ROOT / "notebooks").glob("*.ipynb")
    )
    shutil.rmtree(copy)
