"""Binder builds the repository as it is, and its badge comes from one documented setting.

repo2docker (what mybinder.org runs) picks the first of its build packs whose ``detect()`` holds
in the repository's folder; its Python build pack installs ``requirements.txt`` on the Python
of ``runtime.txt``, and a ``binder/`` (or ``.binder/``) folder, if there were one, would be read
instead of the root files. With repo2docker installed (it installs without Docker) its own
detection runs here; without it, the documented rules are checked.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import binder  # noqa: E402

# the files that would make repo2docker choose another build pack, or read another folder
OTHER_SPECS = [
    "binder",
    ".binder",
    "environment.yml",
    "Pipfile",
    "Pipfile.lock",
    "Dockerfile",
    "Project.toml",
    "REQUIRE",
    "default.nix",
    "install.R",
    "DESCRIPTION",
]


def test_the_badge_is_made_from_pyproject():
    assert binder.main(["--check"]) == 0, "README.md's badge is stale: run make binder"
    got = binder.settings()
    readme = (ROOT / "README.md").read_text()
    assert f"mybinder.org/v2/gh/{got['repo']}/{got['ref']}?urlpath={got['urlpath']}" in readme
    assert (ROOT / got["urlpath"].removeprefix("lab/tree/")).is_file(), "the badge opens a file"
    fork = binder.badge("someone/halab-fork", "main", got["urlpath"])
    assert "/v2/gh/someone/halab-fork/main?" in binder.render(readme, fork)
    assert readme.count("mybinder.org/v2/gh/") == 1


def test_bad_settings_are_refused(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.halab.binder]\nrepo = "a b"\nref = "HEAD"\n')
    with pytest.raises(ValueError, match="repo must match"):
        binder.settings(tmp_path)
    with pytest.raises(ValueError, match="must hold the line"):
        binder.render("no marker here\n", "x")


def test_repo2docker_rules_hold():
    """The documented rules: the root requirements.txt and runtime.txt, nothing shadowing them."""
    for name in OTHER_SPECS:
        assert not (ROOT / name).exists(), f"{name} would change what repo2docker builds"
    runtime = (ROOT / "runtime.txt").read_text().strip()
    assert re.fullmatch(r"python-3\.\d+", runtime), runtime
    requirements = (ROOT / "requirements.txt").read_text().splitlines()
    assert "-e ." in requirements, "requirements.txt must install halab itself"
    assert any(line.startswith("jupyterlab") for line in requirements)


@contextlib.contextmanager
def _inside(folder: Path):
    here = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(here)


def test_repo2docker_detects_the_python_build_pack():
    if importlib.util.find_spec("repo2docker") is None:
        pytest.skip("jupyter-repo2docker is not installed (pip install jupyter-repo2docker)")
    from repo2docker.app import Repo2Docker
    from repo2docker.buildpacks import PythonBuildPack

    app = Repo2Docker()
    with _inside(ROOT):  # repo2docker detects from inside the checkout, as its build does
        picked = next(
            bp for bp in (B(base_image=app.base_image) for B in app.buildpacks) if bp.detect()
        )
        assert type(picked) is PythonBuildPack, type(picked).__name__
        assert picked.binder_dir == "", "a binder/ folder would shadow the root files"
        runtime = (ROOT / "runtime.txt").read_text().strip().removeprefix("python-")
        assert picked.python_version == runtime
        scripts = " ".join(script for _user, script in picked.get_assemble_scripts())
        assert '-r "requirements.txt"' in scripts, scripts
