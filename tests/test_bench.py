"""``make bench`` must always run: its quick mode, here, on every benchmark that needs no server.

The live, engine and browser benchmarks start real processes and have their own tests; they are left out
of this smoke run (``--skip``), every other benchmark runs with fewer repeats and must print its
rows without an ERROR row, and ``--list`` must name them all.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RUN = ROOT / "benchmarks" / "run.py"
SERVERS = [
    "bench_throughput",
    "bench_balancers",
    "engines",
    "bench_load",
    "bench_learner",
    "bench_browser",
]


def test_bench_lists_its_benchmarks():
    out = subprocess.run(
        [sys.executable, str(RUN), "--list"], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    names = out.stdout.split()
    assert "bench_balancing.bench_simulate_vs_simpy" in names
    assert len(names) >= 15


@pytest.mark.slow
def test_bench_quick_runs_and_prints_its_table():
    skips = [arg for name in SERVERS for arg in ("--skip", name)]
    out = subprocess.run(
        [sys.executable, str(RUN), "--quick", *skips],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "ERROR" not in out.stdout
    assert "figures (quick) in" in out.stdout
    assert "speed-up over SimPy" in out.stdout


def test_learner_sampler_sees_a_whole_process_tree():
    """bench_learner's sampler counts a parent and its child, their tasks, memory and CPU."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_learner import TreeSampler

    code = (
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(3)'])\n"
        "while time.process_time() < 1.2:  # 1.2 s of CPU, however busy the machine\n"
        "    pass\n"
        "child.wait()\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", code])
    sampler = TreeSampler(parent.pid, interval=0.1)
    sampler.start()
    parent.wait(timeout=30)
    sampler.stop()
    assert max(s[3] for s in sampler.samples) == 2, sampler.samples
    assert max(s[4] for s in sampler.samples) >= 2
    assert min(s[1] for s in sampler.samples) > 1024 * 1024  # a Python process holds > 1 MiB
    cpu = sampler.samples[-1][5] - sampler.samples[0][5]
    assert cpu > 0.5, f"the parent spun 1.2 s of CPU, the sampler saw {cpu:.2f} s"


@pytest.mark.live
@pytest.mark.slow
def test_bench_load_runs_small_and_says_where_the_time_goes():
    # the load benchmark starts processes, so the smoke run above skips it: run it small here
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import bench_live
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    rows = bench_live.bench_load(clients=(4,), wrk_clients=(4,), seconds=0.5)
    figures = {r.figure: r for r in rows}
    for tool in ["Python threads"] + (["wrk"] if bench_live.shutil.which("wrk") else []):
        tag = f"4 clients ({tool})"
        assert figures[f"direct, {tag}"].value > 0
        assert 0 < figures[f"halab/direct, {tag}"].value < 10
        errors = figures[f"halab errors, {tag}"]
        assert errors.ok is True and errors.value == 0  # 4 is the most clients of this run
        if sys.platform.startswith("linux"):
            for who in ("halab balancer", "backend behind halab", "backend, direct"):
                assert 1 < figures[f"CPU a request, {who}, {tag}"].value < 10_000
    if bench_live.shutil.which("wrk"):  # issue 17's bar is at 4 wrk clients
        assert figures["halab/direct, 4 clients (wrk)"].target == ">= 0.5 x"
