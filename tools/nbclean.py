"""Keep the lessons clean: no outputs on disk; the outputs nbval checks kept under tests/.

Every notebook is committed without outputs or execution counts, so a lesson opens clean (never
half-run) in JupyterLab and on GitHub. The outputs that nbval compares, those of the code cells
tagged ``nbval-check-output`` (a cell tag, so the learner's code carries no test marker), live
in :data:`EXPECTED` (``tests/notebook_outputs.json``), keyed by notebook file and cell id.
``--check`` also refuses a cell whose source says ``NBVAL_``, a code line longer than
:data:`MAX_LINE` characters (JupyterLab cuts it off), and a tagged cell without a recorded
output (or a recorded output whose cell is gone or untagged).

    python tools/nbclean.py notebooks/01_availability.ipynb           # strip in place
    python tools/nbclean.py --execute notebooks/01_availability.ipynb # run, record, strip
    python tools/nbclean.py --check notebooks/*.ipynb                 # exit 1 if not clean
    python tools/nbclean.py --filter < in.ipynb > out.ipynb           # git's clean filter
    python -m pytest -p tools.nbclean --nbval-lax notebooks           # nbval, comparing

The same module is the pytest plugin (``-p tools.nbclean``, as ``make test`` loads it) that
gives nbval those outputs back: before the run it puts each tagged cell's recorded outputs
(and an execution count) into the notebook nbval has read, in memory, and fails a tagged cell
that has none. nbval then runs and compares exactly as it did when the outputs were committed:
its own kernel, its own cell-by-cell execution, stream coalescing and key-by-key comparison
(``metadata``, ``execution_count``, images and widget views skipped), in parallel by file with
pytest-xdist. This design was chosen over a new runner (nbclient plus a comparison of our own)
because nbval's checks are then kept, not re-implemented: the only new code is where the
expected outputs are read from.

``--execute`` runs a notebook in a fresh kernel in its own folder (nbclient, as before), records
the tagged cells' outputs into :data:`EXPECTED`, and strips the notebook. ``make lab``
registers ``--filter`` as the git clean filter ``halab-nbclean`` that ``.gitattributes`` names
for ``notebooks/*.ipynb``: the outputs a learner's run autosaves stay in their files but never
show as changes, so ``git pull`` of a corrected lesson does not conflict. Without the filter
registered (a fresh clone), git ignores the attribute.

Written here rather than taken from nbstripout because nbstripout has no place to keep the
outputs it strips, and nbval has no option to read them from anywhere but the notebook.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import nbformat

TAG = "nbval-check-output"
MAX_LINE = 88  # characters in a code line that a laptop's JupyterLab shows uncut
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
LANGUAGE_INFO = {"name": "python", "pygments_lexer": "ipython3"}
EXPECTED = Path(__file__).resolve().parents[1] / "tests" / "notebook_outputs.json"
# ``python -m pytest`` with these runs nbval as ``make test`` does (from the repository root)
NBVAL_ARGS = [
    *("-p", "no:cacheprovider", "-p", "tools.nbclean"),
    *("--nbval-lax", "--nbval-current-env", "--nbval-cell-timeout=300"),
]


def checked(cell) -> bool:
    """Whether nbval compares this cell's outputs."""
    return cell.cell_type == "code" and TAG in cell.metadata.get("tags", [])


def _lines(value):
    """A multi-line string as a list of lines (readable diffs); other values unchanged."""
    return value.splitlines(keepends=True) if isinstance(value, str) and "\n" in value else value


def _joined(value):
    return "".join(value) if isinstance(value, list) else value


def _each_text(data: dict, convert) -> dict:
    """Apply ``convert`` to every output text and mime value of the recorded outputs."""
    for cells in data.values():
        for outputs in cells.values():
            for out in outputs:
                if "text" in out:
                    out["text"] = convert(out["text"])
                for mime, value in out.get("data", {}).items():
                    out["data"][mime] = convert(value)
    return data


def load_expected(path: Path = EXPECTED) -> dict[str, dict[str, list]]:
    """The recorded outputs: ``{notebook file name: {cell id: [nbformat outputs]}}``."""
    if not Path(path).exists():
        return {}
    return _each_text(json.loads(Path(path).read_text()), _joined)


def save_expected(data: dict, path: Path = EXPECTED) -> None:
    """Write the recorded outputs, sorted, multi-line strings as lists of lines."""
    plain = _each_text(json.loads(json.dumps(data)), _lines)
    Path(path).write_text(json.dumps(plain, indent=1, sort_keys=True, ensure_ascii=False) + "\n")


def recorded_outputs(cell) -> list[dict]:
    """A tagged cell's outputs as they are recorded: no metadata, execution count 1."""
    outputs = []
    for output in cell.outputs:
        out = {k: v for k, v in output.items() if k != "metadata"}
        if out.get("output_type") == "execute_result":
            out["execution_count"] = 1
        if out.get("output_type") in ("execute_result", "display_data"):
            out["metadata"] = {}
        outputs.append(out)
    return outputs


def problems(nb, name: str | None = None, expected: dict | None = None) -> list[str]:
    """What is not clean about a notebook (empty when it is).

    Args:
        nb: the notebook.
        name: its file name; with it, the tagged cells are checked against ``expected``.
        expected: the recorded outputs (:func:`load_expected` when None).
    """
    found = []
    if nb.metadata.get("kernelspec", {}).get("name") != "python3":
        found.append("no python3 kernelspec")
    recorded = None
    if name is not None:
        recorded = (load_expected() if expected is None else expected).get(name, {})
    tagged = set()
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if "NBVAL_" in cell.source:
            found.append(f"cell {i} carries an nbval marker in its code; tag it {TAG!r}")
        for n, line in enumerate(cell.source.splitlines(), 1):
            if len(line) > MAX_LINE:
                found.append(f"cell {i} line {n} has {len(line)} characters (> {MAX_LINE})")
        if cell.outputs or cell.execution_count is not None:
            found.append(f"cell {i} has outputs or an execution count on disk")
        if checked(cell):
            tagged.add(cell.get("id"))
            if recorded is not None and cell.get("id") not in recorded:
                found.append(
                    f"cell {i} (id {cell.get('id')}) is tagged {TAG} but has no recorded "
                    f"output in {EXPECTED.name}"
                )
    if recorded is not None:
        for cell_id in sorted(set(recorded) - tagged):
            found.append(f"{EXPECTED.name} holds outputs of cell id {cell_id}, not a tagged cell")
    return found


def clean(nb):
    """Strip a notebook in place: every output and execution count, volatile metadata."""
    nb.metadata["kernelspec"] = KERNELSPEC
    nb.metadata["language_info"] = LANGUAGE_INFO
    for key in ("widgets", "toc", "varInspector"):
        nb.metadata.pop(key, None)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return nb


def pre_save(model, path, **kwargs):
    """JupyterLab's save hook (``make lab``): a lesson under ``notebooks/`` is saved clean.

    A clean filter alone is not enough: git takes a file whose size changed for modified
    (``git status`` lists it, ``git pull`` of a corrected lesson refuses to overwrite it) even
    when the filtered content is the committed one. Saving the lesson as :func:`clean` makes
    it, so the file on disk stays the committed bytes; the outputs stay on the learner's
    screen, and the lesson reopens clean. The hook is Jupyter Server's
    ``ContentsManager.pre_save_hook`` (its documentation's own example strips outputs).
    """
    if model.get("type") != "notebook" or not str(path).startswith("notebooks/"):
        return
    nb = nbformat.from_dict(model["content"])
    if nb.get("nbformat") == 4:
        model["content"] = clean(nb)


def execute(nb, folder: Path, timeout: int = 300):
    """Run every cell in a fresh kernel started in ``folder`` (where the lessons run)."""
    from nbclient import NotebookClient

    NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
    ).execute()
    return nb


def record(nb, name: str, path: Path = EXPECTED) -> int:
    """Record the outputs of an executed notebook's tagged cells; how many cells."""
    data = load_expected(path)
    data[name] = {cell.id: recorded_outputs(cell) for cell in nb.cells if checked(cell)}
    save_expected(data, path)
    return len(data[name])


# The pytest plugin: ``-p tools.nbclean`` hands nbval the recorded outputs.


def pytest_addoption(parser):
    parser.getgroup("nbval").addoption(
        "--nbval-expected",
        default=str(EXPECTED),
        help="JSON file of the outputs of the cells tagged nbval-check-output (tools/nbclean.py)",
    )


def pytest_collection_modifyitems(config, items):
    """Give each tagged cell nbval collected its recorded outputs, as if committed."""
    try:
        from nbval.plugin import IPyNbCell
    except ImportError:
        return
    expected = load_expected(Path(config.getoption("nbval_expected")))
    for item in items:
        if not isinstance(item, IPyNbCell) or not checked(item.cell):
            continue
        outputs = expected.get(item.path.name, {}).get(item.cell.get("id"))
        if outputs is None:
            item.nbclean_missing = (
                f"{item.path.name} cell id {item.cell.get('id')} is tagged {TAG} but has no "
                f"recorded output: run `python tools/nbclean.py --execute {item.path}`"
            )
            continue
        item.cell.outputs = [nbformat.from_dict(out) for out in outputs]
        item.cell.execution_count = 1


def pytest_runtest_setup(item):
    """Fail a tagged cell that has no recorded output (its check would silently vanish)."""
    missing = getattr(item, "nbclean_missing", None)
    if missing:
        import pytest

        pytest.fail(missing, pytrace=False)


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
        "--execute",
        action="store_true",
        help=f"run each notebook, record its tagged outputs in {EXPECTED.name}, then strip it",
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
    expected = load_expected()
    for path in args.notebooks:
        nb = nbformat.read(path, as_version=4)
        if args.check:
            for problem in problems(nb, path.name, expected):
                print(f"{path}: {problem}")
                status = 1
            continue
        if args.execute:
            execute(nb, path.resolve().parent)
            print(f"recorded {record(nb, path.name)} checked cells of {path}")
        nbformat.write(clean(nb), path)
        print(f"cleaned {path}")
    return status


if __name__ == "__main__":
    sys.exit(main())
