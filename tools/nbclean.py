"""Keep the lessons clean: strip outputs, except the cells whose outputs nbval checks.

A code cell tagged ``nbval-check-output`` (a cell tag, so the learner's code carries no test
marker) keeps its outputs: nbval compares them in ``--nbval-lax`` mode. Every other code cell is
committed without outputs or execution count. ``--check`` also refuses a cell whose source says
``NBVAL_`` and a code line longer than :data:`MAX_LINE` characters (JupyterLab cuts it off).

    python tools/nbclean.py notebooks/01_availability.ipynb           # strip in place
    python tools/nbclean.py --execute notebooks/01_availability.ipynb # run, then strip
    python tools/nbclean.py --check notebooks/*.ipynb                 # exit 1 if not clean
    python tools/nbclean.py --filter < in.ipynb > out.ipynb           # git's clean filter

``make lab`` registers ``--filter`` as the git clean filter ``halab-nbclean`` that
``.gitattributes`` names for ``notebooks/*.ipynb``: the outputs a learner's run autosaves stay in
their files but never show as changes, so ``git pull`` of a corrected lesson does not conflict.
Without the filter registered (a fresh clone), git ignores the attribute.

Written here rather than taken from nbstripout because nbstripout keeps outputs by a metadata
flag, while nbval marks the cells it checks by a comment in the source; one marker is simpler.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

TAG = "nbval-check-output"
MAX_LINE = 88  # characters in a code line that a laptop's JupyterLab shows uncut
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
LANGUAGE_INFO = {"name": "python", "pygments_lexer": "ipython3"}


def checked(cell) -> bool:
    """Whether nbval compares this cell's outputs."""
    return cell.cell_type == "code" and TAG in cell.metadata.get("tags", [])


def problems(nb) -> list[str]:
    """What is not clean about a notebook (empty when it is)."""
    found = []
    if nb.metadata.get("kernelspec", {}).get("name") != "python3":
        found.append("no python3 kernelspec")
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if "NBVAL_" in cell.source:
            found.append(f"cell {i} carries an nbval marker in its code; tag it {TAG!r}")
        for n, line in enumerate(cell.source.splitlines(), 1):
            if len(line) > MAX_LINE:
                found.append(f"cell {i} line {n} has {len(line)} characters (> {MAX_LINE})")
        if checked(cell):
            if not cell.outputs:
                found.append(f"cell {i} is tagged {TAG} but has no stored output")
        elif cell.outputs or cell.execution_count is not None:
            found.append(f"cell {i} has outputs that nbval does not check")
    return found


def clean(nb):
    """Strip a notebook in place: outputs of unchecked cells, counts, volatile metadata."""
    nb.metadata["kernelspec"] = KERNELSPEC
    nb.metadata["language_info"] = LANGUAGE_INFO
    for key in ("widgets", "toc", "varInspector"):
        nb.metadata.pop(key, None)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type != "code":
            continue
        if checked(cell):
            cell.execution_count = 1
            for output in cell.outputs:
                if "execution_count" in output:
                    output["execution_count"] = 1
                output.pop("metadata", None) if output.get("output_type") == "stream" else None
        else:
            cell.outputs = []
            cell.execution_count = None
    return nb


def execute(nb, folder: Path, timeout: int = 300):
    """Run every cell in a fresh kernel started in ``folder`` (where the lessons run)."""
    from nbclient import NotebookClient

    NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
    ).execute()
    return nb


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument(
        "--filter", action="store_true", help="read a notebook on stdin, write it clean to stdout"
    )
    parser.add_argument(
        "--check", action="store_true", help="report, do not change; exit 1 if any is not clean"
    )
    parser.add_argument(
        "--execute", action="store_true", help="run each notebook before stripping it"
    )
    args = parser.parse_args(argv)
    if args.filter:
        text = sys.stdin.read()
        try:
            nb = nbformat.reads(text, as_version=4)
        except Exception:  # not a notebook git can clean: hand it back unchanged
            sys.stdout.write(text)
            return 0
        sys.stdout.write(nbformat.writes(clean(nb)) + "\n")
        return 0
    if not args.notebooks:
        parser.error("name at least one notebook (or use --filter)")
    status = 0
    for path in args.notebooks:
        nb = nbformat.read(path, as_version=4)
        if args.check:
            for problem in problems(nb):
                print(f"{path}: {problem}")
                status = 1
            continue
        if args.execute:
            execute(nb, path.resolve().parent)
        nbformat.write(clean(nb), path)
        print(f"cleaned {path}")
    return status


if __name__ == "__main__":
    sys.exit(main())
