"""The live HTTP parser's fast paths give what its line-by-line rules give."""

from __future__ import annotations

import contextlib
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from halab.live import _http
from halab.live._http import Fields, HTTPError, Limits, parse_head, render

NAMES = st.sampled_from(["Host", "X-A", "content-type", "X-Request-Id", "Bad Name", "", "A\x01"])
VALUES = st.text(
    alphabet=st.sampled_from([" ", "\t", "a", "Z", "0", ";", ":", "\x01", "\x7f", "é", "ÿ"]),
    max_size=8,
)


def _outcome(fn, *args):
    try:
        return fn(*args)
    except (HTTPError, _http.BadResponse) as exc:
        return type(exc).__name__, getattr(exc, "status", None), str(exc)


@contextlib.contextmanager
def _line_by_line(name: str):
    """Make the fast path's pattern ``name`` match nothing: the line-by-line rules run."""
    saved = getattr(_http, name)
    setattr(_http, name, re.compile(rb"(?!)" if isinstance(saved.pattern, bytes) else r"(?!)"))
    try:
        yield
    finally:
        setattr(_http, name, saved)


def _request_fields(head: bytes):
    return _outcome(lambda: parse_head(head, Limits())[0].headers.items())


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(NAMES, VALUES), max_size=4))
def test_request_fields_fast_path_agrees_with_the_line_rules(fields):
    head = "\r\n".join(["GET /x HTTP/1.1", *(f"{k}:{v}" for k, v in fields)]).encode("latin-1")
    fast = _request_fields(head)
    with _line_by_line("_REQUEST_FIELDS"):
        assert fast == _request_fields(head)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(NAMES, VALUES), max_size=4))
def test_response_fields_fast_path_agrees_with_the_line_rules(fields):
    head = "\r\n".join(["HTTP/1.1 200 OK", *(f"{k}:{v}" for k, v in fields)]).encode("latin-1")
    fast = _outcome(_http._response_head, head)
    with _line_by_line("_RESPONSE_FIELDS"):
        assert fast == _outcome(_http._response_head, head)


@pytest.mark.parametrize(
    "target",
    [
        "/",
        "/a",
        "/A/b",
        "/a/",
        "//a",
        "/.",
        "/a/./b",
        "/a/../_lb",
        "/x.y",
        "/.x",
        "/...",
        "/_LB/status",
        "/a%2f",
        "/%5flb",
        "/a?b",
        "/a;b",
        "/a\\b",
        "/a-b_c~d",
    ],
)
def test_normalise_path_fast_path_agrees_with_the_full_rules(target):
    fast = _http.normalise_path(target)
    with _line_by_line("_PLAIN_PATH"):
        assert fast == _http.normalise_path(target)


def test_fields_render_as_the_same_list_does_and_refuse_a_split_head():
    items = [("Server", "halab-backend"), ("X-Served-By", "b0")]
    assert render(200, Fields(items), b"{}") == render(200, items, b"{}")
    assert list(Fields(items)) == items
    for bad in [("X-A", "a\r\nX-B: b"), ("X A", "b"), ("X-A", "a\nb")]:
        with pytest.raises(ValueError, match="items"):
            Fields([bad])
