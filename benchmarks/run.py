"""Run every benchmark and print one table (``make bench``).

Usage: ``python benchmarks/run.py [--quick] [name-substring ...]`` runs the ``bench_*``
functions of ``benchmarks/bench_*.py`` whose module or function name contains one of the
substrings (all of them when none is given). ``--quick`` sets ``HALAB_BENCH_QUICK=1``, which
the long benchmarks read to measure for less time.
"""

from __future__ import annotations

import importlib
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _benchmarks(selected: list[str]):
    sys.path.insert(0, str(HERE))
    for path in sorted(HERE.glob("bench_*.py")):
        module = importlib.import_module(path.stem)
        for name in sorted(dir(module)):
            fn = getattr(module, name)
            if not (name.startswith("bench_") and callable(fn)):
                continue
            label = f"{path.stem}.{name}"
            if selected and not any(s in label for s in selected):
                continue
            yield label, fn


def _format(rows) -> str:
    header = ("benchmark", "figure", "value", "unit", "bar", "")
    lines = [header]
    for r in rows:
        mark = "" if r.ok is None else ("ok" if r.ok else "MISSED")
        lines.append(
            (
                r.group,
                r.figure,
                f"{r.value:,.3g}" if abs(r.value) < 1000 else f"{r.value:,.0f}",
                r.unit,
                r.target,
                mark,
            )
        )
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(header))]
    out = []
    for k, line in enumerate(lines):
        cells = [
            str(c).ljust(w) if i != 2 else str(c).rjust(w)
            for i, (c, w) in enumerate(zip(line, widths))
        ]
        out.append("  ".join(cells).rstrip())
        if k == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def main(argv: list[str]) -> int:
    os.environ.setdefault("MPLBACKEND", "Agg")
    if "--quick" in argv:
        argv = [a for a in argv if a != "--quick"]
        os.environ["HALAB_BENCH_QUICK"] = "1"
    rows = []
    start = time.perf_counter()
    for label, fn in _benchmarks(argv):
        print(f"running {label} ...", file=sys.stderr, flush=True)
        rows.extend(fn())
    print(_format(rows))
    print(
        f"\n{len(rows)} figures in {time.perf_counter() - start:.1f} s on {os.cpu_count()} cores, "
        f"Python {sys.version.split()[0]}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
