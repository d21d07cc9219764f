"""Argument checks shared by every model: one rule for what a number, a count or a choice is.

Every public function of the models checks its arguments with these, so bad input gets the same
answer everywhere: a ``ValueError`` that names the parameter, the allowed range and the value::

    >>> check_real("mttf", 500, 0, lo_open=True)
    500.0
    >>> check_real("mttf", float("nan"), 0, lo_open=True)
    Traceback (most recent call last):
    ...
    ValueError: mttf must be a finite number > 0, got nan

The rules:

- a number is an ``int``, a ``float`` or a NumPy integer or float; ``True``/``False`` and strings
  (even ``"2"``) are refused, as is anything else;
- NaN is always refused; ±inf only where ``finite=False`` is asked for and the range allows it;
- a count is a whole number (an ``int``, a NumPy integer, or a float with no fractional part);
- ranges are closed unless ``lo_open``/``hi_open``; every public size also has an upper bound
  (see :data:`MAX_COUNT`), so that no call runs for minutes because a huge value slipped in.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

__all__ = [
    "MAX_COUNT",
    "check_choice",
    "check_instance",
    "check_int",
    "check_prob",
    "check_real",
    "is_number",
    "make_rng",
    "negative",
    "non_negative",
    "positive",
    "probability",
]

MAX_COUNT = 10**7
"""The default upper bound of a count (servers, requests, samples, repetitions)."""


def is_number(value: Any) -> bool:
    """Whether ``value`` is a real number as the models accept one (not a bool, not a string)."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    )


def _fmt(x: float) -> str:
    if isinstance(x, float) and x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    return f"{x:g}" if isinstance(x, float) else str(x)


def _range(lo: float, hi: float, lo_open: bool, hi_open: bool) -> str:
    low = lo is not None and lo > -math.inf
    high = hi is not None and hi < math.inf
    if low and high:
        return f"in {'(' if lo_open else '['}{_fmt(lo)}, {_fmt(hi)}{')' if hi_open else ']'}"
    if low:
        return f"{'>' if lo_open else '>='} {_fmt(lo)}"
    if high:
        return f"{'<' if hi_open else '<='} {_fmt(hi)}"
    return ""


def check_real(
    name: str,
    value: Any,
    lo: float = -math.inf,
    hi: float = math.inf,
    *,
    lo_open: bool = False,
    hi_open: bool = False,
    finite: bool = True,
    unit: str = "",
) -> float:
    """``value`` as a ``float``, if it is a number in the range; else a ValueError naming it.

    Args:
        name: the parameter's name, as the caller spells it.
        value: what was passed.
        lo, hi: the bounds of the allowed range.
        lo_open, hi_open: whether the bound itself is excluded.
        finite: refuse ±inf (the default); with ``finite=False`` an infinite value passes if the
            range allows it (e.g. ``hi=math.inf`` for "never").
        unit: appended to the message, e.g. ``"seconds"``.
    """
    if math.isnan(lo) or math.isnan(hi):
        raise ValueError(f"the bounds of {name} must be numbers, got lo={lo!r}, hi={hi!r}")
    where = _range(lo, hi, lo_open, hi_open)
    kind = "a finite number" if finite else "a number"
    if where.startswith("in "):  # both ends bounded: the range says it all
        what = f"{name} must be {where}{' ' + unit if unit else ''}"
    else:
        what = f"{name} must be {kind}{' ' + where if where else ''}{' ' + unit if unit else ''}"
    if not is_number(value):
        raise ValueError(f"{what}, got {value!r}")
    try:
        v = float(value)
    except OverflowError:  # an int too large for a float
        raise ValueError(f"{what}, got {value!r}") from None
    if math.isnan(v) or (finite and math.isinf(v)):
        raise ValueError(f"{what}, got {value!r}")
    below = v <= lo if lo_open else v < lo
    above = v >= hi if hi_open else v > hi
    if below or above:
        raise ValueError(f"{what}, got {value!r}")
    return v


def check_int(name: str, value: Any, lo: int | None = 0, hi: int | None = MAX_COUNT) -> int:
    """``value`` as an ``int``, if it is a whole number in ``[lo, hi]``; else a ValueError.

    A float with no fractional part (``3.0``) counts as whole; ``True`` and ``"3"`` do not.
    ``hi=None`` lifts the upper bound (only for values that cost nothing, like a seed).
    """
    low = -math.inf if lo is None else lo
    high = math.inf if hi is None else hi
    where = _range(low, high, False, False)
    what = f"{name} must be an integer{' ' + where if where else ''}"
    if (
        isinstance(value, (int, np.integer))
        and is_number(value)
        or is_number(value)
        and math.isfinite(value)
        and float(value).is_integer()
    ):
        v = int(value)
    else:
        raise ValueError(f"{what}, got {value!r}")
    if v < low or v > high:
        raise ValueError(f"{what}, got {value!r}")
    return v


def check_prob(name: str, value: Any, *, lo_open: bool = False, hi_open: bool = False) -> float:
    """``value`` as a probability in [0, 1] (either end excluded on request)."""
    return check_real(name, value, 0.0, 1.0, lo_open=lo_open, hi_open=hi_open)


def check_choice(name: str, value: Any, options: Iterable[Any]) -> Any:
    """``value`` if it is one of ``options``; else a ValueError listing them."""
    options = tuple(options)
    try:
        ok = value in options and isinstance(value, (str, int, float, type(None)))
    except TypeError:  # an unhashable or uncomparable value
        ok = False
    if not ok:
        known = ", ".join(repr(o) for o in options)
        raise ValueError(f"{name} must be one of {known}, got {value!r}")
    return value


def check_instance(name: str, value: Any, kind: type | tuple[type, ...]) -> Any:
    """``value`` if it is an instance of ``kind``; else a TypeError naming the parameter."""
    if not isinstance(value, kind):
        kinds = kind if isinstance(kind, tuple) else (kind,)
        wanted = " or ".join(k.__name__ for k in kinds)
        raise TypeError(f"{name} must be a {wanted}, got {value!r}")
    return value


def make_rng(seed: Any, name: str = "seed") -> np.random.Generator:
    """``numpy.random.default_rng(seed)`` for a ``seed`` that is a whole number >= 0 (``None``:
    fresh entropy); else a ValueError naming the parameter, where NumPy's own message would say
    only "expected non-negative integer"."""
    return np.random.default_rng(None if seed is None else check_int(name, seed, 0, None))


# --- the shapes the models use most --------------------------------------------------------------


def positive(name: str, value: Any, unit: str = "") -> float:
    """A finite number > 0."""
    return check_real(name, value, 0.0, lo_open=True, unit=unit)


def non_negative(name: str, value: Any, unit: str = "") -> float:
    """A finite number >= 0."""
    return check_real(name, value, 0.0, unit=unit)


def negative(name: str, value: Any, unit: str = "") -> float:
    """A finite number < 0."""
    return check_real(name, value, hi=0.0, hi_open=True, unit=unit)


def probability(name: str, value: Any) -> float:
    """A probability in [0, 1]."""
    return check_prob(name, value)
