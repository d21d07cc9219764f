"""Run every benchmark and print one table (``make bench``).

Usage: ``python benchmarks/run.py [--quick] [--list] [name-substring ...]`` runs the
``bench_*`` functions of ``benchmarks/bench_*.py`` whose module or function name contains one
of the substrings (all of them when none is given); ``--skip SUBSTRING`` leaves some out.
``--quick`` sets ``HALAB_BENCH_QUICK=1``: fewer repeats and trials (``tests/test_bench.py``
runs it so that no benchmark rots). A benchmark that raises
becomes an ``ERROR`` row and the others still run; the exit status is then 1.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _benchmarks(selected: list[str], skipped: list[str] = ()):
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
            if any(s in label for s in skipped):
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
                "-"
                if r.value != r.value
                # NaN: an ERROR row
                else (f"{r.value:,.3g}" if abs(r.value) < 1000 else f"{r.value:,.0f}"),
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
    parser = argparse.ArgumentParser(description="Run halab's benchmarks; print one table.")
    parser.add_argument("names", nargs="*", help="run only benchmarks whose name has one of these")
    parser.add_argument("--quick", action="store_true", help="fewer repeats and trials")
    parser.add_argument("--list", action="store_true", help="list the benchmarks, run none")
    parser.add_argument(
        "--skip", action="append", default=[], help="leave out benchmarks whose name has this"
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("MPLBACKEND", "Agg")
    if args.quick:
        os.environ["HALAB_BENCH_QUICK"] = "1"
    if args.list:
        for label, _ in _benchmarks(args.names, args.skip):
            print(label)
        return 0
    from common import Row

    rows, errors = [], 0
    start = time.perf_counter()
    for label, fn in _benchmarks(args.names, args.skip):
        print(f"running {label} ...", file=sys.stderr, flush=True)
        try:
            rows.extend(fn())
        except Exception as exc:  # one broken benchmark must not hide the others' figures
            errors += 1
            why = f"{type(exc).__name__}: {exc}".splitlines()[0][:60]
            rows.append(Row(label, f"ERROR {why}", float("nan"), "", "runs", False))
    print(_format(rows))
    mode = " (quick)" if args.quick else ""
    print(
        f"\n{len(rows)} figures{mode} in {time.perf_counter() - start:.1f} s on "
        f"{os.cpu_count()} cores, Python {sys.version.split()[0]}"
    )
    if errors:
        print(f"{errors} benchmark(s) raised: see the ERROR rows", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
