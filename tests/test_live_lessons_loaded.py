"""The live lessons on a loaded machine: their checked outputs still match with both cores busy.

Lessons 06 and 09 kill and revive real servers and print what happened; their drills last until
what they wait for has happened (a readmission, a 503), bounded, so a slow machine changes the
timings, not the outcome. This runs them under nbval, comparing the recorded outputs of their
tagged cells (``-p tools.nbclean``, as ``make test`` does), while two processes spin on the CPU.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import nbclean  # noqa: E402

LIVE = ["06_failover_live.ipynb", "09_production.ipynb"]
SPINNERS = 2  # the course's reference machine has two cores
SPIN_LIMIT = 1800.0  # seconds a spinner runs at most, even if this test is killed
RUN_TIMEOUT = 1500.0  # seconds for nbval on both notebooks under load
SPIN = (
    f"import time\nend = time.monotonic() + {SPIN_LIMIT}\nwhile time.monotonic() < end:\n    pass\n"
)


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process, from /proc (None where there is no /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.slow
@pytest.mark.live
def test_live_lessons_pass_nbval_with_both_cores_busy():
    spinners = [subprocess.Popen([sys.executable, "-c", SPIN]) for _ in range(SPINNERS)]
    started = time.monotonic()
    try:
        run = subprocess.run(
            [
                *(sys.executable, "-m", "pytest", *nbclean.NBVAL_ARGS, "-q"),
                *(f"notebooks/{name}" for name in LIVE),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
        )
        elapsed = time.monotonic() - started
        busy = [_cpu_seconds(s.pid) for s in spinners]
        alive = [s.poll() is None for s in spinners]
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()
    print(f"nbval on {', '.join(LIVE)}: {elapsed:.0f} s; spinners' CPU seconds: {busy}")
    assert all(alive), "a spinner stopped before the lessons did"
    for seconds in busy:  # the load was real (a core shared with other work still counts)
        assert seconds is None or seconds > 0.1 * elapsed, (busy, elapsed)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert " passed" in run.stdout and " failed" not in run.stdout, run.stdout[-3000:]
