"""Hand the course out: a learner's own copy of the lessons and exercises, updated without
overwriting their work.

On a shared JupyterHub the course is installed once (say ``/opt/halab``, where ``halab`` is
imported from) and each learner works in a copy of its ``notebooks/``, ``exercises/`` and
``tests/exercises/`` (the public graders, which ``check("ex01")`` runs beside the notebook)::

    python -m halab.handout /opt/halab ~/halab

``deploy/jupyterhub_config.py`` runs that as the learner before each start of their server.
Each run, for every file of those folders:

- missing in the copy (first login, a new lesson, a file the learner deleted): copied;
- in the copy exactly as it was handed out, and changed in the course since: replaced by the
  new version (the learner loses nothing: they had not touched it);
- changed by the learner (an exercise they wrote, a notebook they ran and saved): kept, and
  when the course's version changed too, the new one is written beside it as
  ``NAME.updated.EXT`` (``06_failover_live.updated.ipynb``) for the learner to compare.

What was handed out is remembered in ``.halab-handout.json`` in the copy (a SHA-256 per file),
which is how "as it was handed out" is told from "changed by the learner". Nothing is ever
deleted, and a path in the copy that is a symbolic link is left alone.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

FOLDERS = ("notebooks", "exercises", "tests/exercises")
MANIFEST = ".halab-handout.json"
SKIP = {"__pycache__", ".ipynb_checkpoints"}


@dataclass
class Handout:
    """What one run did, as paths relative to the copy."""

    copied: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # the learner's; a .updated copy beside it
    skipped: list[str] = field(default_factory=list)  # symbolic links in the copy

    def __str__(self) -> str:
        return (
            f"{len(self.copied)} copied, {len(self.updated)} updated, "
            f"{len(self.kept)} kept with the course's new version beside them"
            + (f", {len(self.skipped)} links left alone" if self.skipped else "")
        )


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def course_files(course: Path, folders=FOLDERS) -> list[str]:
    """The files handed out, relative to ``course``, in a stable order."""
    out = []
    for folder in folders:
        base = course / folder
        if not base.is_dir():
            raise ValueError(f"course must hold {folder}/, {course} does not")
        for path in sorted(base.rglob("*")):
            parts = set(path.relative_to(course).parts)
            if path.is_file() and not parts & SKIP and not path.name.endswith(".pyc"):
                out.append(path.relative_to(course).as_posix())
    return out


def _linked(copy: Path, rel: str) -> bool:
    """Whether any part of ``copy/rel`` below ``copy`` is a symbolic link."""
    path = copy
    for part in Path(rel).parts:
        path = path / part
        if path.is_symlink():
            return True
    return False


def _updated_name(rel: str) -> str:
    path = Path(rel)
    return str(path.with_name(f"{path.stem}.updated{path.suffix}"))


def hand_out(course: str | Path, copy: str | Path, folders=FOLDERS) -> Handout:
    """Make or update the learner's ``copy`` of ``course``'s folders (see the module doc).

    Args:
        course: the installed course, a folder holding ``notebooks/``, ``exercises/`` and
            ``tests/exercises/``.
        copy: the learner's folder (``~/halab``); made if missing.
        folders: which of the course's folders to hand out.
    """
    course, copy = Path(course).resolve(), Path(copy)
    if copy.is_symlink():
        raise ValueError(f"copy must be a folder, not a symbolic link: {copy}")
    if copy.resolve() == course:
        raise ValueError(f"copy must be another folder than the course, got {copy}")
    copy.mkdir(parents=True, exist_ok=True)
    manifest_path = copy / MANIFEST
    try:
        handed = json.loads(manifest_path.read_text())
    except (OSError, ValueError):
        handed = {}
    done = Handout()
    for rel in course_files(course, folders):
        source, target = course / rel, copy / rel
        if _linked(copy, rel):
            done.skipped.append(rel)
            continue
        new = _digest(source)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            done.copied.append(rel)
        elif (have := _digest(target)) == new:
            pass
        elif have == handed.get(rel):
            shutil.copyfile(source, target)
            done.updated.append(rel)
        else:
            done.kept.append(rel)
            if handed.get(rel) != new:
                beside = copy / _updated_name(rel)
                if not _linked(copy, _updated_name(rel)):
                    shutil.copyfile(source, beside)
            new = handed.get(rel, "")  # still the learner's: judge the next update from here
        handed[rel] = new
    temporary = manifest_path.with_name(f"{MANIFEST}.tmp")
    temporary.write_text(json.dumps(handed, indent=1, sort_keys=True) + "\n")
    os.replace(temporary, manifest_path)
    return done


def main(argv: list[str] | None = None) -> int:
    """``python -m halab.handout COURSE COPY``: make or update a learner's copy."""
    parser = argparse.ArgumentParser(
        prog="python -m halab.handout", description=__doc__.split("\n")[0]
    )
    parser.add_argument("course", help="the installed course (holds notebooks/ and exercises/)")
    parser.add_argument("copy", help="the learner's folder, e.g. ~/halab")
    args = parser.parse_args(argv)
    try:
        print(f"{args.copy}: {hand_out(args.course, args.copy)}")
    except ValueError as error:
        print(f"error: {error}")
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
