"""A JupyterLab server and a headless Chromium for tests/test_browser.py.

The browser test opens every lesson as a learner would: JupyterLab in Debian's Chromium,
driven through Python's ``playwright`` with ``executable_path`` pointing at the system browser
(never ``playwright install``, never a downloaded browser). The flags and the traps come from
``shared/notes/jupyter.md``; the ones this module handles:

- the server works on copies of the notebooks in a temporary root, so autosave (switched off
  here as well) never writes into the repository;
- a fresh settings folder sets the notebook's windowing mode to ``"none"``, so JupyterLab puts
  every cell of a long notebook in the page, not only the visible ones;
- each notebook opens in its own named workspace, so no tab of a previous notebook reopens;
- the kernel counts as ready when the status bar reads ``| Idle`` (the toolbar's indicator
  shows idle before any kernel is attached);
- ``MPLBACKEND`` is removed from the server's environment: tests/conftest.py sets it to Agg,
  and a kernel that inherits it draws no inline figure.
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
INSTALL_HINT = "sudo apt-get install chromium"

# Without the networking flags Chromium keeps trying to reach the internet (jupyter.md).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# User settings of the test server: file name under the settings folder -> settings.
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
    "@jupyterlab/apputils-extension/notification": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}

SERVER_START_TIMEOUT = 120.0  # seconds until the server answers /api/status


def missing_requirement() -> str | None:
    """Why the browser test cannot run here, or None when it can."""
    if not CHROMIUM.exists():
        return (
            f"no Chromium at {CHROMIUM}; install Debian's browser with `{INSTALL_HINT}` "
            "(the test uses the system Chromium, never a downloaded one)"
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return (
            "Python package `playwright` is missing; `make test` installs it with the test "
            "extras (or: .venv/bin/pip install playwright; no `playwright install` needed)"
        )
    try:
        import jupyterlab  # noqa: F401
    except ImportError:
        return "JupyterLab is missing; run `make lab` or pip install -r requirements.txt"
    return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that the OS says is free now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _write_settings(folder: Path) -> None:
    for name, values in LAB_SETTINGS.items():
        path = folder / f"{name}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values, indent=2))


@dataclass
class LabServer:
    """A JupyterLab server on 127.0.0.1 serving a copy of ``notebooks/``.

    Attributes:
        url: ``http://127.0.0.1:<port>``.
        token: the random token the server requires.
        folder: the temporary folder holding the root, workspaces, settings and log.
        process: the server process (leader of its own process group).
    """

    url: str
    token: str
    folder: Path
    process: subprocess.Popen

    @property
    def log_path(self) -> Path:
        return self.folder / "jupyterlab.log"

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the server's log, for failure messages."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no server log)"
        return "\n".join(text.splitlines()[-lines:])

    def notebook_url(self, name: str, workspace: str) -> str:
        """The address that opens ``notebooks/<name>`` in a workspace of its own."""
        return f"{self.url}/lab/workspaces/{workspace}/tree/notebooks/{name}?token={self.token}"

    def api(self, method: str, path: str, **kwargs) -> requests.Response:
        """Call the server's REST API with the token."""
        headers = {"Authorization": f"token {self.token}"}
        return requests.request(method, self.url + path, headers=headers, timeout=30, **kwargs)

    def shut_down_kernels_of(self, name: str) -> None:
        """Delete the sessions (and so the kernels) of ``notebooks/<name>``: frees memory."""
        try:
            sessions = self.api("GET", "/api/sessions").json()
            for session in sessions:
                if session.get("path", "").endswith(name):
                    self.api("DELETE", f"/api/sessions/{session['id']}")
        except (requests.RequestException, ValueError):
            pass  # the server is going away anyway; stop() kills the whole group

    def stop(self) -> None:
        """Stop the server and its kernels (their whole process group), then remove the folder."""
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=20)
            except ProcessLookupError:
                pass
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)  # kernels left after the server
        shutil.rmtree(self.folder, ignore_errors=True)

    def keep_log(self) -> Path:
        """Copy the server log into test-artifacts/ and return its path."""
        ARTIFACTS.mkdir(exist_ok=True)
        target = ARTIFACTS / "browser-jupyterlab.log"
        if self.log_path.exists():
            shutil.copyfile(self.log_path, target)
        return target


def start_lab(notebooks: Path = NOTEBOOKS, *, attempts: int = 3) -> LabServer:
    """Start JupyterLab on a free port with a random token, and wait until it answers.

    The root is a temporary folder holding a copy of ``notebooks`` (as ``notebooks/``, so the
    kernel's working directory is a folder named like the repository's). Jupyter's config,
    data and runtime folders and IPython's are temporary too: no user setting leaks in.

    Raises:
        RuntimeError: with the server log's tail, if it never answered.
    """
    error = ""
    for _ in range(attempts):  # the port may be taken between free_port() and the bind
        folder = Path(tempfile.mkdtemp(prefix="halab-browser-"))
        root, workspaces, settings = folder / "root", folder / "workspaces", folder / "settings"
        shutil.copytree(notebooks, root / "notebooks", ignore=shutil.ignore_patterns(".ipynb_*"))
        workspaces.mkdir()
        _write_settings(settings)
        port, token = free_port(), secrets.token_hex(24)
        env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
        for var, sub in [
            ("JUPYTER_CONFIG_DIR", "config"),
            ("JUPYTER_DATA_DIR", "data"),
            ("JUPYTER_RUNTIME_DIR", "runtime"),
            ("IPYTHONDIR", "ipython"),
        ]:
            env[var] = str(folder / sub)
        command = [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}",
            f"--LabApp.workspaces_dir={workspaces}",
            f"--LabApp.user_settings_dir={settings}",
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            # a guard against orphans: a server nobody talks to for 15 minutes stops itself
            "--ServerApp.shutdown_no_activity_timeout=900",
        ]
        if os.geteuid() == 0:
            command.append("--allow-root")
        with open(folder / "jupyterlab.log", "wb") as log:
            process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=root,
                start_new_session=True,
            )
        server = LabServer(f"http://127.0.0.1:{port}", token, folder, process)
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if server.api("GET", "/api/status").ok:
                    return server
            except requests.RequestException:
                pass
            time.sleep(0.25)
        error = server.log_tail()
        server.stop()
    raise RuntimeError(f"JupyterLab did not answer within {SERVER_START_TIMEOUT:.0f} s:\n{error}")


# --- what a notebook should show ------------------------------------------------------------

_PANEL_CALL = re.compile(r"_panel$")


def _displays_a_panel(source: str) -> bool:
    """True when a cell's last statement is an expression that shows a ``*_panel(...)``."""
    if source.rstrip().endswith(";"):  # IPython shows nothing after a trailing semicolon
        return False
    try:
        body = ast.parse(source).body
    except SyntaxError:  # IPython magics and the like: no expectation
        return False
    if not body or not isinstance(body[-1], ast.Expr):
        return False
    call = body[-1].value
    if (
        isinstance(call, ast.Call)
        and isinstance(call.func, ast.Name)
        and call.func.id == "display"  # display(thing_panel(...))
        and call.args
    ):
        call = call.args[0]
    if not isinstance(call, ast.Call):
        return False
    func = call.func
    name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
    return bool(_PANEL_CALL.search(name))


@dataclass(frozen=True)
class Expectations:
    """What a notebook's code cells should show after Run All.

    Attributes:
        code_cells: how many code cells the notebook has (the page shows them in this order).
        executed: indices (among code cells) of the cells with code, which get a count.
        panels: indices (among code cells) of the cells that show a slider panel.
    """

    code_cells: int
    executed: tuple[int, ...]
    panels: tuple[int, ...]


def expectations(path: Path) -> Expectations:
    """Read a notebook file and say which code cells run and which show a panel."""
    cells = json.loads(path.read_text())["cells"]
    sources = [
        "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
        for c in cells
        if c["cell_type"] == "code"
    ]
    executed = tuple(i for i, s in enumerate(sources) if s.strip())
    panels = tuple(i for i, s in enumerate(sources) if _displays_a_panel(s))
    return Expectations(len(sources), executed, panels)
