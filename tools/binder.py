"""The Binder badge, from one place: ``[tool.halab.binder]`` in ``pyproject.toml``.

    [tool.halab.binder]
    repo = "halab-course/halab"     # the GitHub owner/name Binder builds (mybinder.org/v2/gh/...)
    ref = "HEAD"                    # a branch, tag or commit
    urlpath = "lab/tree/notebooks/00_welcome.ipynb"   # what JupyterLab opens

A fork changes ``repo`` there and runs ``make binder`` (``python tools/binder.py``), which
rewrites the badge line of README.md; ``--check`` exits 1 when the README's badge is not the
one those settings make (``tests/test_binder.py`` runs it). The URL form is mybinder.org's
``/v2/gh/<owner>/<repo>/<ref>?urlpath=<path>``.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
MARK = "<!-- the Binder badge: set [tool.halab.binder] in pyproject.toml, then make binder -->"
REPO = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}")
REF = re.compile(r"[A-Za-z0-9._/-]{1,200}")
PATH = re.compile(r"[A-Za-z0-9._/-]{1,300}")


def settings(root: Path = ROOT) -> dict[str, str]:
    """``repo``, ``ref`` and ``urlpath`` from ``[tool.halab.binder]``, each checked."""
    table = tomllib.loads((root / "pyproject.toml").read_text())
    binder = table.get("tool", {}).get("halab", {}).get("binder", {})
    out = {}
    for key, pattern in (("repo", REPO), ("ref", REF), ("urlpath", PATH)):
        value = binder.get(key)
        if not isinstance(value, str) or not pattern.fullmatch(value):
            raise ValueError(
                f"[tool.halab.binder] {key} must match {pattern.pattern}, got {value!r}"
            )
        out[key] = value
    return out


def badge(repo: str, ref: str, urlpath: str) -> str:
    """The README's Markdown badge for Binder's ``gh`` provider."""
    url = f"https://mybinder.org/v2/gh/{repo}/{ref}?urlpath={urlpath}"
    return f"[![Binder](https://mybinder.org/badge_logo.svg)]({url})"


def render(readme: str, line: str) -> str:
    """``readme`` with the line after :data:`MARK` replaced by ``line``."""
    lines = readme.splitlines(keepends=True)
    where = [i for i, x in enumerate(lines) if x.strip() == MARK]
    if len(where) != 1 or where[0] + 1 >= len(lines):
        raise ValueError(f"README.md must hold the line {MARK!r} once, with the badge after it")
    lines[where[0] + 1] = line + "\n"
    return "".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if README.md is stale")
    args = parser.parse_args(argv)
    readme = ROOT / "README.md"
    want = render(readme.read_text(), badge(**settings()))
    if args.check:
        if want != readme.read_text():
            print("README.md's Binder badge differs from [tool.halab.binder]: run make binder")
            return 1
        return 0
    readme.write_text(want)
    print(f"README.md: {badge(**settings())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
