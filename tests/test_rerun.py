"""A lesson run twice in one kernel still works: no port clash, no leftover process or figure.

Learners press "Run All" again, or re-run a cell they changed. The live lessons must then start
a second cluster beside no leftover of the first, and no lesson may pile up figures. Each
notebook here runs top to bottom twice in one kernel (nbval covers the fresh-kernel case), and a
probe cell then counts matplotlib's open figures and this kernel's child processes.
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell

ROOT = Path(__file__).resolve().parents[1]
# the lessons that start processes, plus one that only simulates
RERUN = ["01_availability", "06_failover_live", "09_production", "10_capstone"]

PROBE = """
import os, matplotlib.pyplot as plt
children = [p for p in os.listdir('/proc') if p.isdigit()
            and open(f'/proc/{p}/stat').read().split(') ')[1].split()[1] == str(os.getpid())]
print(len(plt.get_fignums()), len(children))
"""


def run_twice(nb) -> list[tuple[int, int]]:
    """Run a notebook's code cells twice in one kernel; (open figures, child processes) after each."""
    probe = new_code_cell(PROBE)
    nb.cells.append(probe)
    code = [(i, c) for i, c in enumerate(nb.cells[:-1]) if c.cell_type == "code"]
    client = NotebookClient(
        nb,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(ROOT / "notebooks")}},
    )
    counts = []
    env = {
        k: v for k, v in os.environ.items() if k != "MPLBACKEND"
    }  # draw inline, as in JupyterLab
    with client.setup_kernel(env=env):
        for _ in range(2):
            for index, cell in code:
                client.execute_cell(cell, index)  # raises CellExecutionError on an error
            client.execute_cell(probe, len(nb.cells) - 1)
            figures, children = map(int, probe.outputs[-1]["text"].split()[-2:])
            counts.append((figures, children))
    return counts


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in RERUN if (ROOT / "notebooks" / f"{n}.ipynb").exists()])
def test_lesson_runs_twice_in_one_kernel(name):
    nb = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    for run, (figures, children) in enumerate(run_twice(nb), 1):
        assert figures == 0, f"{name}: {figures} figures left open after run {run}"
        assert children == 0, f"{name}: {children} child processes left after run {run}"


def test_the_probe_sees_leftovers():
    """The check above can fail: a notebook that leaks a figure and a process is caught."""
    leaky = nbformat.v4.new_notebook(
        cells=[
            new_code_cell(
                "import subprocess, matplotlib.pyplot as plt\n"
                "p = subprocess.Popen(['sleep', '30'])\n"
                "fig = plt.figure(); plt.close = None"  # a figure kept open, closing disabled
            )
        ]
    )
    first, second = run_twice(leaky)
    assert first[0] >= 1 and first[1] == 1
    assert second[1] == 2
