"""The fuzzer's machinery, shared by tests/test_fuzz_public.py (models), test_fuzz_live.py
(halab.live) and test_fuzz_widgets.py (halab.widgets).

Each public callable is called with one or two of its arguments replaced by a bad value
(:data:`BAD`), the others set to a valid value from a table kept by each test file. It may
succeed, but it must raise nothing other than ``ValueError`` or ``TypeError``, and no call may
take more than :data:`LIMIT` seconds.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import re
import signal

LIMIT = 10  # seconds a single call may take
BAD = [
    math.nan,
    math.inf,
    -math.inf,
    -1,
    0,
    -1e-9,
    1e308,
    10**30,
    "2",
    None,
    True,
    [],
]


class Make:
    """A valid object built when first needed (a detector, a run, a design)."""

    def __init__(self, build):
        self.build = build
        self.value = None

    def get(self):
        if self.value is None:
            self.value = self.build()
        return self.value


def is_record(obj) -> bool:
    """A class that only holds values (a dataclass that checks nothing, a tuple, an error)."""
    return inspect.isclass(obj) and (
        (dataclasses.is_dataclass(obj) and not hasattr(obj, "__post_init__"))
        or issubclass(obj, (tuple, BaseException))
        or any(c.__name__ == "Node" for c in obj.__mro__)
    )


def public(module, prefix: str = "halab."):
    """(qualified name, callable) for each public callable that ``module`` defines itself."""
    names = getattr(module, "__all__", None) or [
        n
        for n, v in vars(module).items()
        if not n.startswith("_") and getattr(v, "__module__", None) == module.__name__
    ]
    for name in sorted(names):
        obj = getattr(module, name)
        if (
            callable(obj)
            and not is_record(obj)
            and getattr(obj, "__module__", "") == module.__name__
        ):
            yield f"{module.__name__.removeprefix(prefix)}.{name}", obj


def parameters(qualname, fn, valid_values: dict, objects: dict, always=("requests", "duration")):
    """The names ``fn`` takes, and a valid value for each that needs one.

    ``objects`` (objects to build) and ``valid_values`` are keyed by parameter name, or by
    ``(qualname, name)``, which wins. A required parameter without an entry gets 1.
    """
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):  # pragma: no cover
        return [], {}
    names, valid = [], {}
    for p in sig.parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or p.name in ("self", "rng"):
            continue
        names.append(p.name)
        made = objects.get((qualname, p.name), objects.get(p.name))
        if made is not None and ((qualname, p.name) in objects or p.default is p.empty):
            valid[p.name] = made.get() if isinstance(made, Make) else made
        elif (qualname, p.name) in valid_values:
            valid[p.name] = valid_values[(qualname, p.name)]
        elif p.name in valid_values and (p.default is p.empty or p.name in always):
            valid[p.name] = valid_values[p.name]
        elif p.default is p.empty:
            valid[p.name] = 1
    return names, valid


class Timeout(BaseException):
    """Raised in the main thread when a call runs over its limit."""


def call(fn, kwargs, limit: float = LIMIT):
    """``fn(**kwargs)``, stopped by :class:`Timeout` after ``limit`` seconds."""

    def alarm(signum, frame):
        raise Timeout

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        return fn(**kwargs)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def shown(qualname, kwargs, prefix: str = "halab."):
    args = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
    return f"{prefix}{qualname}({args})"


def draw_bad(data, names, valid):
    """The valid keyword arguments with one or two replaced by a bad value (Hypothesis draws)."""
    from hypothesis import strategies as st

    kwargs = dict(valid)
    for name in data.draw(st.lists(st.sampled_from(names), min_size=1, max_size=2, unique=True)):
        kwargs[name] = data.draw(st.sampled_from(BAD), label=name)
    return kwargs


def names_a_parameter(message: str, names) -> bool:
    """Whether a ValueError's message names what was wrong: one of the parameters (or its
    singular), or a name the house style puts first ("inter must be in (0, 60] seconds")."""
    return bool(re.match(r"\S+ must ", message)) or any(n.rstrip("s") in message for n in names)


def expect_clear_error(qualname, fn, kwargs, *, allowed=(), limit: float = LIMIT):
    """Call; only ValueError, TypeError (or an ``allowed`` exception) may come out, in time; a
    ValueError names the parameter."""
    try:
        call(fn, kwargs, limit)
    except ValueError as error:
        assert names_a_parameter(str(error), kwargs), (
            f"{shown(qualname, kwargs)} raised ValueError without naming a parameter: {error}"
        )
    except (TypeError, *allowed):
        pass
    except Timeout:
        raise AssertionError(f"{shown(qualname, kwargs)} ran for more than {limit} s") from None
    except Exception as error:  # noqa: BLE001 - any other exception is the bug this finds
        raise AssertionError(
            f"{shown(qualname, kwargs)} raised {type(error).__name__}: {error}"
        ) from error


def numeric_parameters(fn, names, valid):
    """The parameters whose valid (or default) value is a number: NaN must be refused there."""
    sig = inspect.signature(fn)
    for name in names:
        base = valid.get(name, sig.parameters[name].default)
        if isinstance(base, (int, float)) and not isinstance(base, bool):
            yield name


def nan_cases(functions, params, exempt=frozenset()):
    """One pytest case per numeric parameter of each function: ``(qualname, fn, valid, name)``.

    ``params(qualname, fn)`` gives the names and valid values; ``exempt`` holds qualified names
    or ``(qualname, parameter)`` pairs where NaN means something.
    """
    import pytest

    for qualname, fn in functions:
        if qualname in exempt:
            continue
        names, valid = params(qualname, fn)
        for name in numeric_parameters(fn, names, valid):
            if (qualname, name) not in exempt:
                yield pytest.param(qualname, fn, valid, name, id=f"{qualname}({name}=nan)")


def fuzz_settings(max_examples: int):
    """Hypothesis settings for the fuzzers: derandomized (a failure comes back on every run),
    no deadline (the :data:`LIMIT` alarm is the deadline), no example database."""
    from hypothesis import HealthCheck, settings

    return settings(
        derandomize=True,
        max_examples=max_examples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
