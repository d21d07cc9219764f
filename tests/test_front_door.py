"""The front door: ``make lab`` serves the repository root and opens the welcome lesson.

A learner edits ``exercises/exNN_*.py`` in JupyterLab beside the lessons, so the server must be
rooted at the repository, not at ``notebooks/``; as root (a container) it must start at all.
This test runs the Makefile's own ``lab`` recipe (with ``LAB_EXTRA`` adding a port, a token and
``--no-browser``) and asks the server what a learner's browser would.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT = 120.0  # seconds for JupyterLab to answer


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _save_keeps_the_lesson_as_committed(base: str, headers: dict) -> None:
    """JupyterLab saving a run lesson (outputs, counts, the kernel's language_info) leaves the
    file byte for byte as it was: the save hook strips it (tools/nbclean.py pre_save)."""
    lesson = ROOT / "notebooks" / "01_availability.ipynb"
    before = lesson.read_bytes()
    url = f"{base}/api/contents/notebooks/{lesson.name}"
    model = requests.get(url, headers=headers, timeout=10).json()
    code = [c for c in model["content"]["cells"] if c["cell_type"] == "code"]
    for n, cell in enumerate(code, 1):
        cell["execution_count"] = n
        cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": f"out {n}\n"}]
    model["content"]["metadata"]["language_info"]["version"] = "3.11.2"
    try:
        saved = requests.put(
            url, json={"type": "notebook", "content": model["content"]}, headers=headers, timeout=10
        )
        assert saved.ok, saved.text
        assert lesson.read_bytes() == before, "a save changed the lesson on disk"
    finally:
        lesson.write_bytes(before)


@pytest.mark.slow
def test_make_lab_serves_the_repository_root():
    if not (ROOT / ".venv" / "bin" / "jupyter").exists():
        pytest.skip("no .venv with JupyterLab here: run `make lab` once")
    port, token = _free_port(), secrets.token_hex(16)
    extra = (
        f"--no-browser --ip=127.0.0.1 --port={port} --ServerApp.port_retries=0 "
        f"--IdentityProvider.token={token} --LabApp.news_url=None "
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"
    )
    with tempfile.TemporaryDirectory() as runtime:
        env = {**os.environ, "JUPYTER_RUNTIME_DIR": runtime}
        env.pop("MPLBACKEND", None)
        proc = subprocess.Popen(
            ["make", "--no-print-directory", "-C", str(ROOT), "lab", f"LAB_EXTRA={extra}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        base = f"http://127.0.0.1:{port}"
        headers = {"Authorization": f"token {token}"}
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while True:
                try:
                    if requests.get(f"{base}/api/status", headers=headers, timeout=2).ok:
                        break
                except requests.RequestException:
                    pass
                assert proc.poll() is None, proc.stdout.read().decode(errors="replace")
                assert time.monotonic() < deadline, "JupyterLab did not answer in time"
                time.sleep(0.5)
            listing = requests.get(f"{base}/api/contents/exercises", headers=headers, timeout=10)
            assert listing.status_code == 200, "the server is not rooted at the repository"
            names = sorted(e["name"] for e in listing.json()["content"])
            expected = sorted(p.name for p in (ROOT / "exercises").glob("ex*.py"))
            assert len(expected) == 10
            assert [n for n in names if n.startswith("ex")] == expected
            welcome = requests.get(
                f"{base}/api/contents/notebooks/00_welcome.ipynb", headers=headers, timeout=10
            ).json()
            assert welcome["content"]["metadata"]["kernelspec"]["name"] == "python3"
            _save_keeps_the_lesson_as_committed(base, headers)
            opened = requests.get(f"{base}/?token={token}", timeout=10, allow_redirects=False)
            where = opened.headers["Location"].split("?", 1)[0]
            assert where.endswith("/lab/tree/notebooks/00_welcome.ipynb"), where
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                out, _ = proc.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                out, _ = proc.communicate()
        if os.geteuid() == 0:
            assert b"--allow-root" in out, out.decode(errors="replace")


def test_a_learners_run_leaves_tracked_files_clean(tmp_path):
    """Outputs a learner's run saves into a lesson: the save hook of ``make lab`` keeps the file
    as committed (``git status`` clean, so ``git pull`` of a corrected lesson goes through),
    and the clean filter of ``make nbfilter`` hides outputs any other writer leaves."""
    import shutil
    import sys

    import nbformat

    sys.path.insert(0, str(ROOT / "tools"))
    import nbclean

    def git(*args):
        return subprocess.run(
            ["git", "-C", str(tmp_path), *args], capture_output=True, text=True, check=True
        ).stdout

    files = ("Makefile", ".gitattributes", "tools/nbclean.py", "notebooks/01_availability.ipynb")
    for name in files:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, tmp_path / name)
    git("init", "-q")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "course")
    lesson = tmp_path / "notebooks" / "01_availability.ipynb"

    def run_all():
        """What JupyterLab holds after "Run All": counts, outputs, the kernel's language_info."""
        nb = nbformat.read(lesson, as_version=4)
        for n, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
            cell.execution_count = n + 1
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"out {n}\n")]
        nb.metadata["language_info"]["version"] = "3.11.2"
        return nb

    nbformat.write(run_all(), lesson)  # saved as is: the probe can fail
    assert git("status", "--porcelain").strip(), "the probe should dirty an unfiltered clone"
    assert subprocess.run(["git", "-C", str(tmp_path), "diff", "--quiet"]).returncode == 1
    subprocess.run(
        [
            "make",
            "--no-print-directory",
            "-C",
            str(tmp_path),
            "nbfilter",
            f"BIN={Path(sys.executable).parent}",
        ],
        check=True,
    )
    assert "nbclean.py --filter" in git("config", "filter.halab-nbclean.clean")
    assert git("diff") == "", "the clean filter should hide a run's outputs from git diff"
    model = {"type": "notebook", "content": run_all()}
    nbclean.pre_save(model=model, path="notebooks/01_availability.ipynb")
    nbformat.write(model["content"], lesson)  # as Jupyter Server saves a notebook
    assert git("status", "--porcelain") == "", "a learner's save dirtied a tracked lesson"
