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
SERVERS = ["bench_throughput", "bench_balancers", "engines", "bench_load", "bench_browser"]


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
