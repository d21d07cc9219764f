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
