"""What one learner's server costs during lesson 06: the figures the hub's limits are set from.

A Jupyter server (the ``jupyter_server`` a hub starts for each learner, with JupyterLab's
extensions) is started on 127.0.0.1; a kernel is opened over its REST API and every code cell
of ``notebooks/06_failover_live.ipynb`` is run in it, over the websocket, as JupyterLab would.
Meanwhile the server's process tree (server, kernel, the cluster's backends and balancer) is
sampled every 0.25 s with psutil:

- memory: the largest sum over the tree of PSS (proportional set size: a shared page counted
  once across the processes that share it, as a memory cgroup charges it) and of RSS (each
  process's resident pages; shared ones counted in every process: an upper bound);
- CPU: the tree's CPU seconds over the run's wall-clock seconds (mean cores) and the largest
  one-second window (peak cores);
- processes and tasks: the most processes, and the most tasks (threads), at once; Linux's
  ``RLIMIT_NPROC`` (``prlimit --nproc``) counts tasks.

``bench_learner_engine_lessons`` does the same for the lessons that start real engines (04,
05, 07, 08). ``deploy/z2jh-values.yaml`` and ``deploy/jupyterhub_config.py`` quote these rows.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from common import Row

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
LESSON = ROOT / "notebooks" / "06_failover_live.ipynb"
INTERVAL = 0.25  # seconds between samples


class TreeSampler(threading.Thread):
    """Samples the memory, CPU, processes and tasks of a process and its descendants."""

    def __init__(self, pid: int, interval: float = INTERVAL) -> None:
        super().__init__(daemon=True)
        import psutil

        self.psutil, self.root, self.interval = psutil, psutil.Process(pid), interval
        self.stop_event = threading.Event()
        self.cpu: dict[int, float] = {}  # pid -> last CPU seconds seen (dead ones kept)
        self.samples: list[tuple[float, float, float, int, int, float]] = []

    def run(self) -> None:
        psutil = self.psutil
        while not self.stop_event.is_set():
            pss = rss = 0.0
            procs = tasks = 0
            try:
                tree = [self.root, *self.root.children(recursive=True)]
            except psutil.NoSuchProcess:
                break
            for proc in tree:
                try:
                    with proc.oneshot():
                        if proc.status() == psutil.STATUS_ZOMBIE:  # exited, holds no memory
                            continue
                        info = proc.memory_full_info()
                        times = proc.cpu_times()
                        threads = proc.num_threads()
                except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                    continue
                pss += getattr(info, "pss", info.rss)
                rss += info.rss
                procs += 1
                tasks += threads
                self.cpu[proc.pid] = times.user + times.system
            if procs:  # none: the tree has ended (the root is a zombie, not yet reaped)
                self.samples.append(
                    (time.monotonic(), pss, rss, procs, tasks, sum(self.cpu.values()))
                )
            self.stop_event.wait(self.interval)

    def stop(self) -> None:
        self.stop_event.set()
        self.join(10)


def _code_cells(path: Path) -> list[str]:
    import nbformat

    return [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


def measure_lesson(path: Path = LESSON) -> dict[str, float]:
    """Run ``path``'s code cells in a fresh Jupyter server's kernel; the tree's peak figures."""
    from hub_support import Kernel, free_port, wait_http

    port, token = free_port(), secrets.token_hex(24)
    with tempfile.TemporaryDirectory(prefix="halab-learner-") as home:
        (Path(home) / "notebooks").mkdir()
        command = [sys.executable, "-m", "jupyter_server", "--no-browser", "--ip=127.0.0.1"]
        command += [f"--port={port}", "--ServerApp.port_retries=0", f"--ServerApp.root_dir={home}"]
        command += [f"--IdentityProvider.token={token}"]
        command += ["--allow-root"] if os.geteuid() == 0 else []
        env = {**os.environ, "HOME": home, "MPLBACKEND": "Agg", "PYTHONPATH": str(ROOT)}
        server = subprocess.Popen(
            command,
            cwd=Path(home) / "notebooks",
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        sampler = TreeSampler(server.pid)
        try:
            base = f"http://127.0.0.1:{port}"
            wait_http(f"{base}/api/status", 60, headers={"Authorization": f"token {token}"})
            sampler.start()
            kernel = Kernel(base, token)
            began = time.monotonic()
            for code in _code_cells(path):
                kernel.run(code, timeout=300)
            ended = time.monotonic()
            kernel.close()
        finally:
            sampler.stop()
            server.terminate()
            try:
                server.wait(20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
    s = sampler.samples
    window = max(1, round(1.0 / INTERVAL))
    peaks = [
        (s[i][5] - s[i - window][5]) / (s[i][0] - s[i - window][0]) for i in range(window, len(s))
    ]
    mib = 1024 * 1024
    return {
        "seconds": ended - began,
        "pss_mib": max(x[1] for x in s) / mib,
        "rss_mib": max(x[2] for x in s) / mib,
        "processes": max(x[3] for x in s),
        "tasks": max(x[4] for x in s),
        "mean_cores": (s[-1][5] - s[0][5]) / (s[-1][0] - s[0][0]),
        "peak_cores": max(peaks) if peaks else float("nan"),
    }


def _rows(group: str, m: dict[str, float]) -> list[Row]:
    return [
        Row(group, "every code cell, wall time", m["seconds"], "s"),
        Row(group, "peak memory, PSS summed over the tree", m["pss_mib"], "MiB"),
        Row(group, "peak memory, RSS summed (upper bound)", m["rss_mib"], "MiB"),
        Row(group, "mean CPU over the lesson", m["mean_cores"], "cores"),
        Row(group, "peak CPU, busiest second", m["peak_cores"], "cores"),
        Row(group, "peak processes at once", m["processes"], "processes"),
        Row(group, "peak tasks (threads) at once", m["tasks"], "tasks"),
    ]


def bench_learner_server() -> list[Row]:
    return _rows("learner server, lesson 06", measure_lesson())


# the lessons that start real engines (ZooKeeper, etcd, MariaDB, Redis, RabbitMQ): the heaviest
ENGINE_LESSONS = [
    "04_failure_detection",
    "05_leader_election",
    "07_replication",
    "08_auto_recovery",
]


def bench_learner_engine_lessons() -> list[Row]:
    """The same figures for each lesson with real engines (a few minutes; an engine that is not
    installed makes its lesson's cells skip it, so its memory is then missing here)."""
    rows = []
    for name in ENGINE_LESSONS:
        m = measure_lesson(ROOT / "notebooks" / f"{name}.ipynb")
        rows += _rows(f"learner server, lesson {name[:2]}", m)
    return rows
