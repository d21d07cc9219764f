"""Bad input gets a clear error everywhere: a fuzzer over every public function of the models.

Each public function (``__all__``, or the public names a module defines) is called with one or
two of its arguments replaced by a bad value (NaN, ±inf, -1, 0, a huge number, a string, None,
a bool, an empty list), the others set to a value that is valid for it. It may succeed (some bad
values are fine for some parameters), but it must not raise anything other than ``ValueError`` or
``TypeError``, and no call may take more than :data:`LIMIT` seconds. Records (dataclasses,
NamedTuples) that do not check their fields, exceptions and the kernel's node classes are left
out: they hold values and do not check them. ``halab.live`` and the widgets are fuzzed in
tests/test_fuzz_live.py and tests/test_fuzz_widgets.py, with the machinery of tests/fuzzing.py.

Deterministic: Hypothesis runs derandomized, so a failure comes back on every run; the message
names the call, which can be pasted into a shell to replay it.
"""

from __future__ import annotations

import importlib
import math
import threading

import numpy as np
import pytest
from fuzzing import (
    Make,
    call,
    draw_bad,
    expect_clear_error,
    fuzz_settings,
    nan_cases,
    parameters,
    public,
    shown,
)
from hypothesis import given
from hypothesis import strategies as st

MODULES = [
    "halab.availability",
    "halab.balancing",
    "halab.capstone",
    "halab.checks",
    "halab.detection",
    "halab.election",
    "halab.recovery",
    "halab.replication",
    "halab.retries",
    "halab.sim",
]
# Valid values for required (or expensive) parameters, by parameter name; ``(function, name)``
# wins over the name alone. Sizes are small so that a valid call takes milliseconds.
VALID = {
    "mttf": 500.0,
    "mttr": 2.0,
    "a": 0.99,
    "n": 3,
    "k": 2,
    "r": 2,
    "w": 2,
    "t": 1.0,
    "hours": 10.0,
    "failures": 3,
    "components": 10,
    "rate": 2.0,
    "beta": 0.1,
    "failover_time": 0.1,
    "horizon": 1000.0,
    "slo": 0.999,
    "incidents_minutes": [5.0, 10.0],
    "period": "month",
    "servers": 4,
    "load": 0.5,
    "q": 0.9,
    "i": 2,
    "d": 2,
    "skew": 2.0,
    "weights": {"a": 2, "b": 1},
    "shares": [0.5, 0.5],
    "speeds": None,
    "requests": 500,
    "policy": "round_robin",
    "name": "round_robin",
    "timeout": 1.0,
    "interval": 1.0,
    "duration": 5.0,
    "delay": 0.01,
    "loss": 0.1,
    "elapsed": 1.5,
    "mean": 1.0,
    "std": 0.2,
    "threshold": 8.0,
    "latency": 0.01,
    "nodes": 5,
    "alive": [1, 2, 3],
    "epoch": 1,
    "counter": 2,
    "last_log_term": 1,
    "last_log_index": 2,
    "my_last_log_term": 1,
    "my_last_log_index": 2,
    "lag": 0.5,
    "lags": [0.1, 0.5],
    "ack_times": [0.1, 0.2, 0.3],
    "crash_time": 0.25,
    "minority": 1,
    "times": [0.1, 1.0],
    "replies": [(1, "a"), (2, "b")],
    "attempt": 3,
    "attempts": 5,
    "data": 10.0,
    "copy_rate": 2.0,
    "crashes": 3,
    "value": 0.5,
    "options": ("a", "b"),
    "seed": 0,
    "runs": 3,
    "trials": 20,
    ("election.time_to_elect", "runs"): 5,
    ("election.simulate_election", "duration"): 1.0,
    ("replication.simulate_failover", "writes"): 50,
    ("recovery.crash_loop", "duration"): 100.0,
    ("recovery.simulate_supervised", "mttf"): 100.0,
    ("recovery.simulate_supervised", "horizon"): 2000.0,
    ("recovery.supervised_spread", "mttf"): 100.0,
    ("recovery.supervised_spread", "horizon"): 2000.0,
    ("replication.expected_lost_after_cut", "mode"): "semisync",
    ("replication.expected_lost_after_cut", "cut_for"): 12.0,
    ("balancing.workload", "requests"): 200,
    ("balancing.simulate", "requests"): 500,
    ("balancing.split_loads", "speeds"): [1.0, 1.0],
    ("balancing.theory_survival", "t"): 1.0,
    ("checks.check_real", "name"): "x",
    ("checks.check_int", "name"): "x",
    ("checks.check_prob", "name"): "x",
    ("checks.check_choice", "name"): "x",
    ("checks.positive", "name"): "x",
    ("checks.non_negative", "name"): "x",
    ("checks.negative", "name"): "x",
    ("checks.probability", "name"): "x",
    ("checks.check_choice", "value"): "a",
}


def _heartbeat_run():
    from halab import detection

    return detection.simulate_heartbeats(1.0, 30.0, seed=1)


OBJECTS = {
    "design": Make(lambda: importlib.import_module("halab.capstone").Design()),
    "detector": Make(lambda: importlib.import_module("halab.detection").FixedTimeoutDetector(2.0)),
    "detectors": Make(
        lambda: [importlib.import_module("halab.detection").FixedTimeoutDetector(2.0)]
    ),
    "run": Make(_heartbeat_run),
    "arrivals": [0.0, 1.0, 2.5, 3.0],
    "model": Make(
        lambda: importlib.import_module("halab.availability").active_passive_model(500, 2, 0.1)
    ),
    ("availability.simulate_system", "components"): [(500.0, 2.0), (400.0, 3.0)],
    ("availability.simulate_system", "structure"): all,
    "recovery": Make(lambda: importlib.import_module("halab.recovery").Recovery()),
    ("recovery.Backoff", "policy"): Make(
        lambda: importlib.import_module("halab.recovery").BackoffPolicy()
    ),
    "voter": Make(
        lambda: importlib.import_module("halab.election").Voter(
            term=1, voted_for=None, last_log_term=1, last_log_index=2
        )
    ),
    "request": Make(lambda: importlib.import_module("halab.election").RequestVote(2, "s2", 1, 2)),
    "new": Make(lambda: importlib.import_module("halab.election").ZabVote(1, 5, 2)),
    "current": Make(lambda: importlib.import_module("halab.election").ZabVote(1, 4, 3)),
    "trace": [],
    ("election.fenced_writes", "result"): Make(
        lambda: importlib.import_module("halab.election").simulate_election(
            "raft", duration=1.0, faults=[(0.5, "split"), (0.8, "heal")]
        )
    ),
    ("detection.phi_waits", "detector"): Make(
        lambda: importlib.import_module("halab.detection").PhiAccrualDetector()
    ),
}


FUNCTIONS = [pair for m in MODULES for pair in public(importlib.import_module(m))]


def _parameters(qualname, fn):
    return parameters(qualname, fn, VALID, OBJECTS)


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(), reason="SIGALRM")
@pytest.mark.parametrize(("qualname", "fn"), FUNCTIONS, ids=[q for q, _ in FUNCTIONS])
@fuzz_settings(max_examples=25)
@given(data=st.data())
def test_bad_values_get_value_or_type_errors(qualname, fn, data):
    names, valid = _parameters(qualname, fn)
    if names:
        expect_clear_error(qualname, fn, draw_bad(data, names, valid))


def test_every_model_is_fuzzed():
    modules = {q.split(".")[0] for q, _ in FUNCTIONS}
    assert modules == {m.removeprefix("halab.") for m in MODULES}
    assert len(FUNCTIONS) >= 80, len(FUNCTIONS)


def test_the_valid_values_are_valid():
    """The baseline is worth something only if most functions accept it as it is."""
    failures = []
    for qualname, fn in FUNCTIONS:
        _names, valid = _parameters(qualname, fn)
        try:
            call(fn, valid)
        except (ValueError, TypeError) as error:
            failures.append(f"{shown(qualname, valid)}: {error}")
    assert len(failures) <= len(FUNCTIONS) // 3, "\n".join(failures)


def test_numpy_values_are_numbers():
    from halab import availability

    assert availability.availability(np.float64(500), np.int64(2)) == pytest.approx(500 / 502)


# NaN is never a valid number: where the valid call succeeds, NaN in any numeric parameter must
# be refused. (Infinity is fine where it means "never", e.g. a backoff cap.) is_number only
# classifies; sim.Timer is the kernel's own handle; a seed is unused without jitter;
# theory_survival takes the NaN that theory_response_time gives where there is no closed form.
NAN_EXEMPT = {
    "checks.is_number",
    "sim.Timer",
    ("recovery.backoff_schedule", "seed"),
    ("balancing.theory_survival", "t"),
}


_BASELINE: dict[str, bool] = {}  # qualname -> whether its valid values are accepted


def _accepts(qualname, fn, valid) -> bool:
    if qualname not in _BASELINE:
        try:
            call(fn, valid)
            _BASELINE[qualname] = True
        except (ValueError, TypeError):
            _BASELINE[qualname] = False
    return _BASELINE[qualname]


@pytest.mark.parametrize(
    ("qualname", "fn", "valid", "name"), list(nan_cases(FUNCTIONS, _parameters, NAN_EXEMPT))
)
def test_nan_is_refused(qualname, fn, valid, name):
    if not _accepts(qualname, fn, valid):
        pytest.skip("the valid values are not valid for this function")
    with pytest.raises((ValueError, TypeError)):
        call(fn, {**valid, name: math.nan})


def test_one_rule_for_numbers():
    """halab.checks: the rule every model follows, with the parameter and range in the message."""
    from halab import availability, balancing, detection, recovery, replication
    from halab.checks import check_int, check_real

    for calling in (
        lambda v: availability.availability(v, 2),
        lambda v: detection.phi(v, 1.0, 0.2),
        lambda v: replication.expected_lost_writes(v, 0.5),
        lambda v: recovery.backoff_delay(3, base=v),
        lambda v: balancing.erlang_c(4, v),
    ):
        for bad in ("2", True, math.nan, None):
            with pytest.raises((ValueError, TypeError)):
                calling(bad)
    with pytest.raises(ValueError, match=r"mttf must be a finite number > 0, got '2'"):
        availability.availability("2", 2)
    with pytest.raises(ValueError, match=r"loss must be in \[0, 1\), got nan"):
        detection.simulate_heartbeats(loss=math.nan)
    assert check_real("cap", math.inf, 0, finite=False) == math.inf
    with pytest.raises(ValueError, match=r"cap must be a finite number >= 0, got inf"):
        check_real("cap", math.inf, 0)
    assert check_int("n", 3.0, 1) == 3 and check_int("n", np.int64(3), 1) == 3
    with pytest.raises(ValueError, match=r"n must be an integer in \[1, 10\], got 11"):
        check_int("n", 11, 1, 10)


def test_the_hangs_of_issue_15_are_refused_at_once():
    from halab import availability, balancing, capstone, election

    with pytest.raises(ValueError, match="jitter"):
        election.time_to_elect(jitter=1e308)
    assert balancing.supermarket_tail(0.5, i=100_000) == 0.0
    with pytest.raises(ValueError, match="i must be"):
        balancing.supermarket_tail(0.5, i=10**30)
    with pytest.raises(ValueError, match="rate"):
        capstone.predict(capstone.Design(), rate=math.nan)
    got = availability.simulate_system([(500, 2), (400, 3)], all, horizon=1000)
    assert 0.9 < got <= 1.0
