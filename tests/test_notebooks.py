"""The lessons as files: clean, navigable, and shaped like the house lesson.

nbval runs them (``make test``'s last step); this checks what a learner meets on opening one.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import nbclean  # noqa: E402

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
LESSONS = [p for p in NOTEBOOKS if not p.name.startswith("00_")]


def test_the_welcome_and_some_lessons_exist():
    names = [p.name for p in NOTEBOOKS]
    assert "00_welcome.ipynb" in names
    assert {"01_availability.ipynb", "02_redundancy.ipynb"} <= set(names)
    assert all(re.fullmatch(r"\d\d_[a-z0-9_]+\.ipynb", n) for n in names), names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_clean(path):
    nb = nbformat.read(path, as_version=4)
    assert nbclean.problems(nb, path.name) == [], (
        f"{path.name}: run `python tools/nbclean.py {path}`"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_opens_as_a_learner_expects(path):
    nb = nbformat.read(path, as_version=4)
    first = nb.cells[0]
    assert first.cell_type == "markdown" and "00_welcome.ipynb" in first.source, (
        f"{path.name}: the first cell should be the navigation line (previous | contents | next)"
    )
    for cell in nb.cells:
        assert "sys.path" not in cell.source, (
            f"{path.name}: import halab as installed, not via sys.path"
        )
    links = re.findall(
        r"\]\(([^)#]+\.ipynb)", "".join(c.source for c in nb.cells if c.cell_type == "markdown")
    )
    known = {p.name for p in NOTEBOOKS}
    planned = {f"{n:02d}_" for n in range(11)}
    for link in links:
        assert link in known or link[:3] in planned, (
            f"{path.name} links to {link}, which is not a lesson"
        )


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_lesson_follows_the_arc(path):
    """Scenario, vocabulary, ..., common mistakes, exercise, summary (see CONTRIBUTING.md)."""
    nb = nbformat.read(path, as_version=4)
    headings = [
        line
        for c in nb.cells
        if c.cell_type == "markdown"
        for line in c.source.splitlines()
        if line.startswith("#")
    ]
    text = "\n".join(headings).lower()
    for part in ("vocabulary", "common mistakes", "exercise", "summary"):
        assert part in text, f"{path.name} has no '{part}' section; headings: {headings}"
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "check(" in code, f"{path.name} should let the learner check its exercise"
    assert any(nbclean.checked(c) for c in nb.cells), (
        f"{path.name}: pin the numbers the lesson states in cells tagged {nbclean.TAG}"
    )


def test_recorded_outputs_are_those_of_tagged_cells():
    """tests/notebook_outputs.json holds an entry for every tagged cell and nothing else."""
    expected = nbclean.load_expected()
    assert set(expected) <= {p.name for p in NOTEBOOKS}
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        tagged = {c.id for c in nb.cells if nbclean.checked(c)}
        assert set(expected.get(path.name, {})) == tagged, path.name
        assert all(expected[path.name][i] for i in tagged), f"{path.name}: an empty record"


def test_nbval_compares_the_recorded_outputs(tmp_path):
    """The plugin can fail: a wrong recorded output and a missing one fail, the right one
    passes, an untagged cell is only run (nbval's lax mode)."""
    cells = [
        nbformat.v4.new_code_cell("print(6 * 7)", id="right"),
        nbformat.v4.new_code_cell("print(6 * 7)", id="wrong"),
        nbformat.v4.new_code_cell("print(6 * 7)", id="missing"),
        nbformat.v4.new_code_cell("print('anything')", id="untagged"),
    ]
    for cell in cells[:3]:
        cell.metadata["tags"] = [nbclean.TAG]
    nb = nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": nbclean.KERNELSPEC})
    nbformat.write(nb, tmp_path / "probe.ipynb")
    out = {"output_type": "stream", "name": "stdout"}
    record = {
        "probe.ipynb": {"right": [{**out, "text": "42\n"}], "wrong": [{**out, "text": "41\n"}]}
    }
    nbclean.save_expected(record, tmp_path / "expected.json")
    run = subprocess.run(
        [
            *(sys.executable, "-m", "pytest", *nbclean.NBVAL_ARGS),
            f"--nbval-expected={tmp_path / 'expected.json'}",
            "-rA",
            "-q",
            "probe.ipynb",
        ],
        cwd=tmp_path,
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        },
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = run.stdout
    assert run.returncode == 1, report
    for cell, outcome in [(0, "PASSED"), (1, "FAILED"), (2, "ERROR"), (3, "PASSED")]:
        assert f"{outcome} probe.ipynb::Cell {cell}" in report, report
    assert "Cell outputs differ" in report and "no recorded output" in report, report
