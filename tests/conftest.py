"""Shared test set-up: no screen, and the exercise graders only when grading."""

from __future__ import annotations

import os

os.environ.setdefault("MPLBACKEND", "Agg")

# The graders in tests/exercises grade the learner's exercises/, which start as stubs that
# fail. `make test` checks the graders through tests/test_grader.py and grades solutions/
# with `make grade TARGET=solutions`; `make grade` (which sets HALAB_TARGET) grades exercises/.
collect_ignore = [] if os.environ.get("HALAB_TARGET") else ["exercises"]
