"""Tables that a notebook renders as tables, not monospace text that wraps mid-word.

A lesson formats its numbers itself, with the same f-strings and the same tested functions it
would print them with, and hands the cells to :func:`table`; the result is an
``IPython.display.Markdown`` object, which JupyterLab (and GitHub) render as an HTML table that
wraps between words and scrolls sideways when it must. nbval compares its ``text/markdown``, so
a checked cell still pins every number::

    >>> t = table(["level", "per year"], [["99.9%", "8.76 hours"], ["99.99%", "52.6 minutes"]])
    >>> print(t.data)
    | level | per year |
    | ---: | ---: |
    | 99.9% | 8.76 hours |
    | 99.99% | 52.6 minutes |

Markdown rather than pandas: the course's numbers stay formatted by the lesson (pandas would
reformat floats) and nothing heavier than IPython is imported.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from IPython.display import Markdown

_NUMERIC = re.compile(r"^[-−+~≈<>]?\s*[\d.,]+\s*(%|[a-zA-Zµ/]{0,8}|×.*)?$")


def _cell(value: object) -> str:
    return str(value).replace("|", r"\|").replace("\n", " ")


def table(
    header: Sequence[str], rows: Iterable[Sequence[object]], *, caption: str = ""
) -> Markdown:
    """A Markdown table: one row per item of ``rows``, cells as ``str()`` of each value.

    Args:
        header: the column titles.
        rows: the rows, each as long as ``header``.
        caption: a line above the table (bold), or nothing.

    Columns whose cells all read as numbers (with a unit or %) are right-aligned.

    Raises:
        ValueError: a row whose length is not the header's.
    """
    header = [_cell(h) for h in header]
    body = [[_cell(v) for v in row] for row in rows]
    for n, row in enumerate(body):
        if len(row) != len(header):
            raise ValueError(
                f"rows must have {len(header)} cells like the header, row {n} has {len(row)}"
            )
    numeric = [
        bool(body) and all(_NUMERIC.match(row[i].strip()) for row in body)
        for i in range(len(header))
    ]
    lines = [f"**{_cell(caption)}**", ""] if caption else []
    lines.append("| " + " | ".join(header) + " |")
    lines.append("| " + " | ".join("---:" if n else ":---" for n in numeric) + " |")
    lines.extend("| " + " | ".join(row) + " |" for row in body)
    return Markdown("\n".join(lines))
