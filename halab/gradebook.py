"""What an instructor collects from the grader: a JSON report, a CSV gradebook, a Gradescope file.

``python -m halab.grading`` grades; this module writes what it found, from the records of
:class:`halab.grading.Result` (one per check)::

    python -m halab.grading --target /home/ana/halab/exercises --learner ana \\
        --hidden /srv/halab-hidden --report ana.json --csv class.csv --gradescope results.json

**The JSON report** (``--report``) is a list with one record per check; :data:`REPORT_SCHEMA`
is its JSON Schema:

========== ================================================================================
exercise   ``"ex01_availability"``
check      the check's name, ``"test_series_multiplies"``
tier       ``"public"`` (the graders learners have) or ``"hidden"`` (the instructor's)
points     1 when the check passed, else 0
max_points 1
outcome    ``"passed"``, ``"failed"``, ``"not attempted yet"``, ``"used solutions/"`` or
           ``"grader error"``
message    what the learner needs to read ("" when passed); a hidden check's message never
           quotes its code (:func:`halab.grading.withheld`)
learner    whose work it is (``--learner``; the JupyterHub user or login name by default)
========== ================================================================================

**The gradebook** (``--csv``) has one row per learner: ``learner``, ``points``,
``max_points``, ``public_points``, ``public_max``, ``hidden_points``, ``hidden_max``, then
one column of points per exercise. Grading the next learner into the same file adds their row
(or replaces their old one); the other rows are kept.

**Gradescope** (``--gradescope``): the ``results.json`` that Gradescope's autograder
harness reads from ``/autograder/results/``, as its "Autograder Specifications" page
(gradescope-autograders.readthedocs.io, "Output format") documents it: a top-level
``score`` and ``output``, and ``tests``, each with ``name``, ``score``, ``max_score``,
``status`` (``"passed"``/``"failed"``), ``output``, ``tags`` and ``visibility``. Public
checks are ``"visible"``; hidden ones ``"after_published"`` (the learner sees them once the
instructor publishes the grades), and the top-level ``output`` gives each tier's count apart.
The keys and types are the ones ``gradescope_utils``' ``JSONTestRunner`` writes for a
unittest suite (checked in ``tests/test_gradebook.py``).
"""

from __future__ import annotations

import csv
import getpass
import io
import json
import os
import secrets
from collections.abc import Iterable
from pathlib import Path

OUTCOMES = ["passed", "failed", "not attempted yet", "used solutions/", "grader error"]
TIERS = ["public", "hidden"]
FIXED_COLUMNS = [
    "learner",
    "points",
    "max_points",
    "public_points",
    "public_max",
    "hidden_points",
    "hidden_max",
]

REPORT_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "halab grading report",
    "type": "array",
    "items": {
        "type": "object",
        "additionalProperties": False,
        "required": [
            "exercise",
            "check",
            "tier",
            "points",
            "max_points",
            "outcome",
            "message",
            "learner",
        ],
        "properties": {
            "exercise": {"type": "string", "pattern": "^ex[0-9]{2}_[a-z0-9_]+$"},
            "check": {"type": "string", "minLength": 1},
            "tier": {"enum": TIERS},
            "points": {"type": "integer", "minimum": 0},
            "max_points": {"type": "integer", "minimum": 1},
            "outcome": {"enum": OUTCOMES},
            "message": {"type": "string"},
            "learner": {"type": "string", "minLength": 1},
        },
    },
}

HIDDEN_VISIBILITY = "after_published"  # Gradescope: shown to the learner once grades are published


def _write(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` in one step (a temporary file, then a rename)."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    temporary.write_text(text)
    temporary.replace(path)
    return path


def default_learner() -> str:
    """Whose work this is by default: ``$JUPYTERHUB_USER`` on a hub, else the login name."""
    return os.environ.get("JUPYTERHUB_USER") or getpass.getuser()


def learner_name(learner: str | None) -> str:
    learner = default_learner() if learner is None else learner
    if not isinstance(learner, str) or not learner.strip() or "\n" in learner:
        raise ValueError(f"learner must be a non-empty name on one line, got {learner!r}")
    return learner.strip()


def records(results: Iterable, learner: str | None = None) -> list[dict]:
    """Every check of ``results`` (:class:`halab.grading.Result`) as a report record."""
    learner = learner_name(learner)
    return [{**record, "learner": learner} for result in results for record in result.records]


def write_report(results: Iterable, path: str | Path, learner: str | None = None) -> Path:
    """Write the JSON report (:data:`REPORT_SCHEMA`): one record per check."""
    return _write(path, json.dumps(records(results, learner), indent=1) + "\n")


def _tier_sums(rows: list[dict], tier: str | None = None) -> tuple[int, int]:
    mine = [r for r in rows if tier is None or r["tier"] == tier]
    return sum(r["points"] for r in mine), sum(r["max_points"] for r in mine)


def gradebook_row(results: Iterable, learner: str | None = None) -> dict[str, str | int]:
    """One learner's row of the gradebook: totals, each tier's, and points per exercise."""
    rows = records(results, learner)
    points, top = _tier_sums(rows)
    row: dict[str, str | int] = {"learner": learner_name(learner)}
    row.update(points=points, max_points=top)
    for tier in TIERS:
        row[f"{tier}_points"], row[f"{tier}_max"] = _tier_sums(rows, tier)
    for record in rows:
        row[record["exercise"]] = int(row.get(record["exercise"], 0)) + record["points"]
    return row


def write_gradebook(results: Iterable, path: str | Path, learner: str | None = None) -> Path:
    """Add (or replace) ``learner``'s row in the CSV gradebook at ``path``; keep the others."""
    new = gradebook_row(results, learner)
    path = Path(path)
    rows = []
    if path.exists():
        with path.open(newline="") as handle:
            rows = [r for r in csv.DictReader(handle) if r.get("learner") != new["learner"]]
    rows.append(new)
    exercises = sorted({k for r in rows for k in r if k not in FIXED_COLUMNS})
    rows.sort(key=lambda r: str(r["learner"]))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=FIXED_COLUMNS + exercises, restval="")
    writer.writeheader()
    writer.writerows(rows)
    return _write(path, out.getvalue())


def summary(results: Iterable) -> str:
    """One line with each tier's count apart: ``public checks 40/45 passed; hidden 9/15``."""
    rows = [record for result in results for record in result.records]
    public, public_max = _tier_sums(rows, "public")
    text = f"public checks: {public}/{public_max} passed"
    hidden, hidden_max = _tier_sums(rows, "hidden")
    if hidden_max:
        text += f"; hidden checks: {hidden}/{hidden_max} passed"
    return text


def gradescope(results: Iterable) -> dict:
    """The Gradescope ``results.json`` for one submission (the module docstring's format)."""
    results = list(results)
    tests = []
    for result in results:
        for record in result.records:
            test = {
                "name": f"{record['exercise']}: {record['check']}",
                "score": record["points"],
                "max_score": record["max_points"],
                "status": "passed" if record["outcome"] == "passed" else "failed",
                "tags": [record["exercise"], record["tier"]],
                "visibility": "visible" if record["tier"] == "public" else HIDDEN_VISIBILITY,
            }
            if record["message"]:
                test["output"] = f"{record['outcome']}: {record['message']}"
            tests.append(test)
    score = sum(t["score"] for t in tests)
    output = summary(results)
    if any(t["visibility"] != "visible" for t in tests):
        output += " (hidden checks are shown once the grades are published)"
    return {"score": score, "output": output, "visibility": "visible", "tests": tests}


def write_gradescope(results: Iterable, path: str | Path) -> Path:
    """Write :func:`gradescope` to ``path`` (``/autograder/results/results.json``)."""
    return _write(path, json.dumps(gradescope(results), indent=1) + "\n")
