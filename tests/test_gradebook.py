"""What an instructor collects: the JSON report (its schema), the CSV gradebook, the hidden tier,
and Gradescope's results.json checked against the format gradescope_utils writes."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import sys
import unittest
from pathlib import Path

import jsonschema
import pytest

from halab import gradebook, grading

ROOT = Path(__file__).resolve().parents[1]
EXERCISE = "ex01_availability"

# The instructor's hidden tier for ex01: one check with a message for learners, one bare assert
# (pytest would quote its code in the message: the report must withhold it).
HIDDEN_SOURCE = """
EXERCISE = "ex01_availability"


def test_mtbf_of_other_fleets(ex):
    got = ex.mtbf(1200.0, 0.25)
    assert abs(got - 1200.25) < 1e-9, f"mtbf(mttf=1200, mttr=0.25) should be 1200.25, got {got!r}"


def test_availability_secret_case(ex):
    assert ex.availability(7.0, 3.0) == 0.7 and ex.availability(1.0, 1.0) == 0.5
"""

# a learner who hard-coded the public checks' answers: the public tier passes, the hidden cannot
HARD_CODED = """

def mtbf(mttf, mttr):
    return 502 if (mttf, mttr) == (500, 2) else 0.0


def availability(mttf, mttr):
    known = {(500, 2): 500 / 502, (10, 10): 0.5, (3, 0): 1.0}
    return known.get((mttf, mttr), 0.0)
"""


@pytest.fixture(scope="module")
def hidden_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("instructor") / "hidden"
    folder.mkdir()
    (folder / f"test_{EXERCISE}.py").write_text(HIDDEN_SOURCE)
    return folder


@pytest.fixture(scope="module")
def learner_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ana") / "exercises"
    folder.mkdir()
    solution = (ROOT / "solutions" / f"{EXERCISE}.py").read_text()
    (folder / f"{EXERCISE}.py").write_text(solution + HARD_CODED)
    return folder


@pytest.fixture(scope="module")
def graded(hidden_dir, learner_dir, tmp_path_factory):
    """Grade the hard-coding learner with the hidden tier through the command line, once."""
    out = tmp_path_factory.mktemp("out")
    before = sorted(p.name for p in learner_dir.iterdir())
    argv = ["--target", str(learner_dir), "--only", "ex01", "--hidden", str(hidden_dir)]
    argv += ["--learner", "ana", "--report", str(out / "ana.json")]
    argv += ["--csv", str(out / "class.csv"), "--gradescope", str(out / "results.json")]
    code = grading.main(argv)
    assert sorted(p.name for p in learner_dir.iterdir()) == before, "the learner's copy changed"
    return code, out


def test_hidden_tier_changes_the_score_and_says_so(graded, hidden_dir, learner_dir, capsys):
    code, out = graded
    assert code == 1, "an exercise whose hidden checks failed has not passed"
    records = json.loads((out / "ana.json").read_text())
    public = [r for r in records if r["tier"] == "public"]
    hidden = [r for r in records if r["tier"] == "hidden"]
    assert public and all(r["outcome"] == "passed" for r in public), public
    assert [r["check"] for r in hidden] == grading.expected_checks(
        hidden_dir / f"test_{EXERCISE}.py"
    )
    assert all(r["outcome"] == "failed" and r["points"] == 0 for r in hidden), hidden
    assert "should be 1200.25, got 0.0" in hidden[0]["message"]
    assert hidden[1]["message"] == grading.WITHHELD
    (result,) = grading.grade(str(learner_dir), ["ex01"], root=ROOT, hidden=hidden_dir)
    line = result.line()
    assert result.status == "failed" and f"{len(public)}/{len(public)} public, 0/2 hidden" in line
    board = grading.scoreboard([result])
    assert "0 of 1 exercises passed" in board and "hidden checks: 0/2 passed" in board, board
    assert "✗ hidden: test_availability_secret_case" in board, board


def test_no_hidden_code_reaches_what_the_learner_sees(graded):
    """No line of the hidden grader's code appears in the report, gradebook or Gradescope file."""
    _code, out = graded
    code_lines = [
        line.strip()
        for line in HIDDEN_SOURCE.splitlines()
        if line.strip() and not line.strip().startswith(("def ", "EXERCISE"))
    ]
    for name in ("ana.json", "class.csv", "results.json"):
        text = (out / name).read_text()
        for line in code_lines:
            assert line not in text, f"{name} quotes the hidden check's code: {line}"
        assert "ex.availability(7.0" not in text and "1.0, 1.0" not in text, name


def test_report_follows_its_schema(graded):
    _code, out = graded
    records = json.loads((out / "ana.json").read_text())
    jsonschema.validate(records, gradebook.REPORT_SCHEMA)
    assert {r["learner"] for r in records} == {"ana"}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate([{**records[0], "outcome": "maybe"}], gradebook.REPORT_SCHEMA)


def test_gradebook_has_one_row_per_learner(graded, tmp_path):
    _code, out = graded
    book = tmp_path / "class.csv"
    book.write_text((out / "class.csv").read_text())
    (solved,) = grading.grade("solutions", ["ex01"], root=ROOT)
    gradebook.write_gradebook([solved], book, "ben")
    gradebook.write_gradebook([solved], book, "ana")  # ana resubmits: her row is replaced
    rows = list(csv.DictReader(io.StringIO(book.read_text())))
    assert [r["learner"] for r in rows] == ["ana", "ben"]
    assert rows[0]["points"] == rows[0]["max_points"] == str(solved.total)
    assert rows[0]["hidden_max"] == "0" and rows[0][EXERCISE] == str(solved.total)
    first = list(csv.DictReader(io.StringIO((out / "class.csv").read_text())))
    assert len(first) == 1 and first[0]["hidden_points"] == "0" and first[0]["hidden_max"] == "2"
    assert int(first[0]["public_points"]) == int(first[0]["public_max"]) >= 3
    with pytest.raises(ValueError, match="learner must be"):
        gradebook.write_gradebook([solved], book, "a\nb")


def test_solutions_pass_both_tiers(hidden_dir):
    (result,) = grading.grade("solutions", ["ex01"], root=ROOT, hidden=hidden_dir)
    assert result.status == "passed", result.messages
    assert result.tally(grading.HIDDEN) == (2, 2) and result.points == result.total


def test_hidden_folder_is_checked(tmp_path):
    with pytest.raises(ValueError, match="hidden must be a folder"):
        grading.grade("solutions", ["ex01"], root=ROOT, hidden=tmp_path / "nowhere")
    (tmp_path / "test_ex99_typo.py").write_text("EXERCISE = 'ex99_typo'\n")
    with pytest.raises(ValueError, match="grade no exercise"):
        grading.grade("solutions", ["ex01"], root=ROOT, hidden=tmp_path)


def test_withheld_keeps_only_what_the_author_wrote():
    assert grading.withheld("mtbf(1, 2) should be 3, got 0") == "mtbf(1, 2) should be 3, got 0"
    assert grading.withheld("assert 0.0 == 0.7\n  +  where 0.0 = f(7.0)") == grading.WITHHELD
    assert grading.withheld("") == grading.WITHHELD
    assert grading.withheld("raised ZeroDivisionError: x (at f.py line 3)").startswith("raised")


# --- Gradescope ------------------------------------------------------------------------------

# Gradescope's "Autograder Specifications", "Output format": the fields and values it documents.
VISIBILITY = ["hidden", "after_due_date", "after_published", "visible"]
GRADESCOPE_SCHEMA = {
    "type": "object",
    "properties": {
        "score": {"type": "number"},
        # the docs show 136 (seconds); gradescope_utils writes a string ("0.00"): both accepted
        "execution_time": {"type": ["number", "string"]},
        "output": {"type": "string"},
        "visibility": {"enum": VISIBILITY},
        "stdout_visibility": {"enum": VISIBILITY},
        "extra_data": {"type": "object"},
        "tests": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name"],
                "properties": {
                    "score": {"type": "number"},
                    "max_score": {"type": "number"},
                    "status": {"enum": ["passed", "failed"]},
                    "name": {"type": "string"},
                    "number": {"type": "string"},
                    "output": {"type": "string"},
                    "tags": {"type": "array", "items": {"type": "string"}},
                    "visibility": {"enum": VISIBILITY},
                    "extra_data": {"type": "object"},
                },
                "additionalProperties": False,
            },
        },
        "leaderboard": {"type": "array"},
    },
    "additionalProperties": False,
}


def _gradescope_utils_results() -> dict:
    """What gradescope_utils' JSONTestRunner writes for a passed, a failed and a hidden test."""
    decorators = pytest.importorskip("gradescope_utils.autograder_utils.decorators")
    runner_module = pytest.importorskip("gradescope_utils.autograder_utils.json_test_runner")

    class Checks(unittest.TestCase):
        @decorators.weight(1)
        @decorators.tags("ex01_availability", "public")
        def test_passes(self):
            pass

        @decorators.weight(1)
        @decorators.visibility("after_published")
        @decorators.tags("ex01_availability", "hidden")
        def test_fails(self):
            self.fail("should be 1200.25, got 0.0")

    stream = io.StringIO()
    runner = runner_module.JSONTestRunner(stream=stream, visibility="visible")
    runner.run(unittest.defaultTestLoader.loadTestsFromTestCase(Checks))
    return json.loads(stream.getvalue())


def test_gradescope_export_matches_the_documented_format_and_gradescope_utils(graded):
    _code, out = graded
    ours = json.loads((out / "results.json").read_text())
    jsonschema.validate(ours, GRADESCOPE_SCHEMA)
    theirs = _gradescope_utils_results()
    jsonschema.validate(theirs, GRADESCOPE_SCHEMA)  # the schema accepts the real tool's output
    for test in ours["tests"]:
        twin = next(t for t in theirs["tests"] if t["status"] == test["status"])
        for key in set(test) & set(twin):
            assert type(test[key]) is type(twin[key]) or {type(test[key]), type(twin[key])} <= {
                int,
                float,
            }, key
        assert {"name", "score", "max_score", "status"} <= set(test) & set(twin)
    hidden = [t for t in ours["tests"] if "hidden" in t["tags"]]
    assert hidden and all(t["visibility"] == "after_published" for t in hidden)
    assert ours["score"] == sum(t["score"] for t in ours["tests"])
    assert re.search(r"public checks: (\d+)/\1 passed; hidden checks: 0/2 passed", ours["output"])


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))


@pytest.mark.slow  # grades all ten exercises of one submission: about 20 s
def test_gradescope_run_autograder_in_its_folder_layout(hidden_dir, tmp_path):
    """deploy/gradescope/run_autograder, in Gradescope's /autograder layout (made in a temporary
    folder from the zip make_zip.sh builds), writes a results.json of the documented format."""
    import subprocess
    import zipfile

    if shutil.which("git") is None:
        pytest.skip("make_zip.sh takes the course's committed files with git archive")
    made = subprocess.run(
        [
            str(ROOT / "deploy" / "gradescope" / "make_zip.sh"),
            str(hidden_dir),
            str(tmp_path / "a.zip"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert made.returncode == 0, made.stderr
    autograder = tmp_path / "autograder"
    with zipfile.ZipFile(tmp_path / "a.zip") as archive:
        names = archive.namelist()
        assert "setup.sh" in names and "run_autograder" in names
        mode = archive.getinfo("run_autograder").external_attr >> 16
        assert mode & 0o111, "run_autograder must stay executable in the zip"
        assert not any(n.startswith("halab/solutions") for n in names), "no solutions/"
        assert any(n.startswith("hidden/test_") for n in names)
        archive.extractall(autograder / "source")  # where Gradescope unpacks it
    submission = autograder / "submission" / "my work"
    submission.mkdir(parents=True)
    solution = (ROOT / "solutions" / f"{EXERCISE}.py").read_text()
    (submission / f"{EXERCISE}.py").write_text(solution + HARD_CODED)
    # setup.sh would pip install the course in a venv; here its copy goes first on the path
    env = {**os.environ, "AUTOGRADER": str(autograder), "HALAB_PYTHON": sys.executable}
    env["PYTHONPATH"] = str(autograder / "source" / "halab")
    ran = subprocess.run(
        ["bash", str(autograder / "source" / "run_autograder")],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    results = json.loads((autograder / "results" / "results.json").read_text())
    jsonschema.validate(results, GRADESCOPE_SCHEMA)
    mine = [t for t in results["tests"] if t["name"].startswith(EXERCISE)]
    others = [t for t in results["tests"] if not t["name"].startswith(EXERCISE)]
    assert sum(t["score"] for t in mine if "public" in t["tags"]) == len(
        grading.expected_checks(ROOT / "tests" / "exercises" / f"test_{EXERCISE}.py")
    )
    assert [t["status"] for t in mine if "hidden" in t["tags"]] == ["failed", "failed"]
    assert others and all(t["score"] == 0 and "does not exist" in t["output"] for t in others)
