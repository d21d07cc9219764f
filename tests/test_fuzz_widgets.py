"""Bad input gets a clear error from the widgets: every ``draw_*`` function and every panel or
control that takes arguments, fuzzed as the models are (tests/test_fuzz_public.py, machinery in
tests/fuzzing.py).

A drawing function hands its arguments to the models, so most bad values come back as the
model's ``ValueError``; what this finds is the rest: a value that reaches matplotlib, NumPy or
ipywidgets first and comes back as another exception. The valid values are small (few trials,
short horizons) so that a valid figure takes well under a second. The panel builders that take
no argument have nothing to fuzz: :func:`test_every_panel_builds` builds each once.
"""

from __future__ import annotations

import importlib
import inspect
import math

import matplotlib
import pytest
from fuzzing import (
    Make,
    draw_bad,
    expect_clear_error,
    fuzz_settings,
    nan_cases,
    parameters,
    shown,
)
from hypothesis import given
from hypothesis import strategies as st

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from halab import widgets  # noqa: E402


def _drill(victim=1, start=10.0):
    live = importlib.import_module("halab.live")
    records = [
        live.Record(start + k / 60, 0.002, 200, f"b{k % 3}", (f"b{k % 3}",)) for k in range(180)
    ]
    timeline = [
        live.Event(start + 1.0, "kill", victim),
        live.Event(start + 1.05, "removed", victim),
        live.Event(start + 1.8, "revive", victim),
        live.Event(start + 2.0, "readmitted", victim),
    ]
    return live.Drill(
        live.LoadResult(records, 0.0), timeline, victim, start + 1.0, start + 1.8, live.Settings()
    )


def _failover_drill():
    engines = importlib.import_module("halab.live.engines._base")
    trials = tuple(
        engines.FailoverTrial(k, 0, 1, 5.0 + 10 * k, 0.4 + 0.1 * k, 0.6 + 0.1 * k) for k in range(3)
    )
    simulated = {"leader_s": [0.5, 0.7, 0.9]}
    return engines.FailoverDrill("Etcd", {"heartbeat-interval": 100}, trials, (), 1.0, simulated)


def _expectation():
    from halab import capstone

    return capstone.drill_prediction(capstone.Design())


def _stale_means():
    from halab import balancing

    refreshes = balancing.STALE_REFRESH
    return {
        name: [2.0 + k for k in range(len(refreshes))]
        for name in ("least_connections", "power_of_two", "random")
    }


def _figure(**kwargs):
    fig, _ax = plt.subplots(figsize=(2, 1))
    return fig


VALID = {
    # lesson 01, 02
    "years": 2.0,
    "runs": 2,
    ("widgets.draw_structures", "max_n"): 3,
    # lesson 03
    ("widgets.draw_balancer", "requests"): 500,
    ("widgets.draw_balancer", "servers"): 4,
    ("widgets.draw_policies", "requests"): 500,
    ("widgets.draw_policies", "servers"): 4,
    ("widgets.draw_policies", "loads"): (0.5, 0.9),
    ("widgets.draw_keys_moved", "max_servers"): 5,
    ("widgets.draw_keys_moved", "keys"): 200,
    ("widgets.draw_keys_moved", "vnodes"): 10,
    # lesson 04
    ("widgets.draw_adaptation", "window"): 100,
    ("widgets.draw_qos", "beats"): 500,
    ("widgets.draw_tradeoff", "beats"): 500,
    # lesson 05
    ("widgets.draw_split_votes", "trials"): 20,
    ("widgets.draw_split_votes", "sizes"): (3, 5),
    ("widgets.draw_time_to_elect", "trials"): 20,
    ("widgets.draw_time_to_elect", "ranges"): ((0.15, 0.3),),
    ("widgets.draw_cluster", "duration"): 1.0,
    # lesson 06
    ("widgets.draw_detection", "trials"): 50,
    # lesson 07
    ("widgets.draw_quorum", "trials"): 30,
    ("widgets.draw_replication", "runs"): 2,
    # lesson 08
    ("widgets.draw_backoff", "clients"): 20,
    ("widgets.draw_crash_loop", "hours"): 0.5,
    ("widgets.draw_mttr", "workers"): 2,
    ("widgets.crash_loop_theory", "run_time"): 0.0,
    ("widgets.crash_loop_theory", "hours"): 0.5,
    # the controls
    ("widgets.slider", "value"): 0.5,
    ("widgets.slider", "low"): 0.0,
    ("widgets.slider", "high"): 1.0,
    ("widgets.slider", "step"): 0.1,
    ("widgets.int_slider", "value"): 2,
    ("widgets.int_slider", "low"): 1,
    ("widgets.int_slider", "high"): 5,
    ("widgets.choice", "value"): "a",
    ("widgets.choice", "options"): ("a", "b"),
    "description": "x",
    ("widgets.table", "header"): ("a", "b"),
    ("widgets.table", "rows"): (("1", "2"),),
    ("widgets.draw_outages", "years"): 20,
}

OBJECTS = {
    "drill": Make(_drill),
    "drills": Make(lambda: {"halab": _drill()}),
    ("widgets.draw_leader_failover", "drills"): Make(lambda: {"etcd": _failover_drill()}),
    "load": Make(lambda: _drill().load),
    "expectation": Make(_expectation),
    "measured": {0.2: [[0.3, 0.2], [0.35, 0.25]]},
    "cluster": Make(lambda: importlib.import_module("halab.live").LiveCluster()),
    "draw": _figure,
    ("widgets.render_png", "fig"): Make(_figure),
    ("widgets.draw_stale", "means"): Make(_stale_means),
    "controls": Make(lambda: {"x": widgets.slider(0.5, 0.0, 1.0, 0.1, "x")}),
}

FUNCTIONS = [
    (f"widgets.{name}", getattr(widgets, name))
    for name in sorted(widgets.__all__)
    if callable(getattr(widgets, name)) and not name.isupper()
]


# Values that are valid but slow, never drawn: draw_stale(means=None) runs its simulation
# (9 s on a loaded machine); the fuzz gives it figures computed beforehand instead.
SLOW_VALID = {("widgets.draw_stale", "means"): None}


def _parameters(qualname, fn):
    return parameters(qualname, fn, VALID, OBJECTS, always=("requests", "duration", "years"))


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.mark.parametrize(("qualname", "fn"), FUNCTIONS, ids=[q for q, _ in FUNCTIONS])
@fuzz_settings(max_examples=12)
@given(data=st.data())
def test_bad_values_get_value_or_type_errors(qualname, fn, data):
    names, valid = _parameters(qualname, fn)
    if names:
        kwargs = draw_bad(data, names, valid)
        if any(kwargs.get(n, ...) is v for (q, n), v in SLOW_VALID.items() if q == qualname):
            return
        expect_clear_error(qualname, fn, kwargs)
        plt.close("all")


def test_every_drawing_function_is_fuzzed():
    names = {q.removeprefix("widgets.") for q, _ in FUNCTIONS}
    draws = {n for n in widgets.__all__ if n.startswith("draw_")}
    assert draws and draws <= names
    assert {"Panel", "slider", "int_slider", "choice", "ClusterPanel", "LivePanel"} <= names


_BASELINE: dict[str, bool] = {}


def _accepts(qualname, fn, valid) -> bool:
    if qualname not in _BASELINE:
        try:
            fn(**valid)
            _BASELINE[qualname] = True
        except (ValueError, TypeError):
            _BASELINE[qualname] = False
        plt.close("all")
    return _BASELINE[qualname]


def test_the_valid_values_are_valid():
    refused = []
    for qualname, fn in FUNCTIONS:
        names, valid = _parameters(qualname, fn)
        if names and not _accepts(qualname, fn, valid):
            refused.append(shown(qualname, valid))
    assert not refused, "\n".join(refused)


# NaN is never a valid number of a figure either, a seed's included.
@pytest.mark.parametrize(
    ("qualname", "fn", "valid", "name"), list(nan_cases(FUNCTIONS, _parameters))
)
def test_nan_is_refused(qualname, fn, valid, name):
    if not _accepts(qualname, fn, valid):
        pytest.skip("the valid values are not valid for this function")
    with pytest.raises((ValueError, TypeError)):
        fn(**{**valid, name: math.nan})


@pytest.mark.slow
def test_every_panel_builds():
    """Each lesson's panel, built as the lesson builds it: its first figure, and no error (the
    controls check their values now, so a panel whose sliders started out of range would fail)."""
    built = 0
    for name in widgets.__all__:
        fn = getattr(widgets, name)
        if name.endswith("_panel") and not inspect.signature(fn).parameters:
            panel = fn()
            assert panel.error is None and panel.updates >= 1, f"{name}(): {panel.error}"
            built += 1
            plt.close("all")
    assert built >= 20, built
