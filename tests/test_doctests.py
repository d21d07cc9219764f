"""Every module's docstring tour runs as written."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import halab

MODULES = sorted(
    m.name
    for m in pkgutil.walk_packages(halab.__path__, "halab.")
    if not m.name.endswith("__main__")
    and m.name not in {"halab.live.backend", "halab.live.balancer"}
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} failed"
