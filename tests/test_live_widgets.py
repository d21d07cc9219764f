"""Lesson 06's figures and panels: assert on the data drawn, not on pixels."""

from __future__ import annotations

import threading
import time

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from halab import widgets  # noqa: E402
from halab.live import Drill, Event, LiveCluster, LoadResult, Record, Settings  # noqa: E402
from halab.live.health import detection_bounds, readmission_bounds  # noqa: E402


def synthetic_drill(failures_at=(), victim=1, start=10.0):
    """Three backends at 30 requests/s each for 3 s; b1 dead in [start+1, start+2)."""
    records = []
    for k in range(270):
        t = start + k / 90
        name = f"b{k % 3}"
        if name == f"b{victim}" and start + 1 <= t < start + 2:
            continue
        records.append(Record(t, 0.002, 200, name, (name,)))
    for t in failures_at:
        records.append(Record(start + t, 0.5, 502, None, (f"b{victim}",)))
    timeline = [
        Event(start + 1.0, "kill", victim),
        Event(start + 1.05, "removed", victim),
        Event(start + 1.8, "revive", victim),
        Event(start + 2.0, "readmitted", victim),
    ]
    load = LoadResult(records, t0=0.0)
    return Drill(load, timeline, victim, start + 1.0, start + 1.8, Settings())


def test_draw_detection_puts_theory_under_the_simulated_check_loop():
    inter, fall, rise = 0.3, 3, 2
    fig = widgets.draw_detection(inter=inter, fall=fall, rise=rise, trials=300, seed=4)
    left, right = fig.axes
    for ax, (low, high), bar in (
        (left, detection_bounds(inter, fall), inter * fall + inter),
        (right, readmission_bounds(inter, rise), inter * rise),
    ):
        theory, sim, ref = ax.lines[:3]
        x, y = theory.get_data()
        mid = np.interp((low + high) / 2, x, y)
        assert mid == pytest.approx(0.5, abs=0.01)  # a uniform delay: half way at the middle
        sx, sy = sim.get_data()
        assert low - 1e-9 <= sx.min() and sx.max() <= high + 1e-9, "seed 4"
        assert np.abs(sy - (sx - low) / (high - low)).max() < 0.1, "seed 4"
        assert ref.get_xdata()[0] == pytest.approx(bar)


def test_detection_panel_moves_with_inter():
    panel = widgets.detection_panel()
    panel.set(inter=0.5)
    assert panel.error is None
    titles = [ax.get_title() for ax in panel.figure.axes]
    assert "between 0.5 and 1 s" in titles[0] and "between 0.5 and 1 s" in titles[1]


def test_draw_traffic_counts_per_bin_and_marks_events():
    drill = synthetic_drill(failures_at=(1.02, 1.03))
    fig = widgets.draw_drill(drill=drill, bin_width=0.5)
    top = fig.axes[0]
    steps = {line.get_label(): line for line in top.lines if "answered" in line.get_label()}
    assert set(steps) == {"b0 answered", "b1 answered", "b2 answered"}
    x, y = steps["b0 answered"].get_data()
    assert x[0] == pytest.approx(0.0)  # the drill's start is drawn as 0
    assert y[0] == pytest.approx(30.0)  # 15 answers in half a second
    x, y = steps["b1 answered"].get_data()
    assert y[2] == pytest.approx(0.0) and y[1] == pytest.approx(30.0)  # dead in [1, 2)
    bars = [p.get_height() for p in top.patches]
    assert max(bars) == pytest.approx(4.0)  # two failures in a 0.5 s bin
    marks = {
        line.get_label(): line.get_xdata()[0]
        for line in top.lines
        if "answered" not in line.get_label()
    }
    assert marks["kill"] == pytest.approx(1.0) and marks["back in rotation"] == pytest.approx(2.0)
    assert "2 failed" in top.get_title() and "out after 50 ms" in top.get_title()


def test_draw_compare_has_one_row_per_balancer():
    drills = {"naive": synthetic_drill(failures_at=(1.0,)), "full": synthetic_drill()}
    fig = widgets.draw_compare(drills=drills, bin_width=0.25)
    assert len(fig.axes) == 2
    assert fig.axes[0].get_title().startswith("naive: 1 of")
    assert fig.axes[1].get_title().startswith("full: 0 of")
    with pytest.raises(ValueError, match="drills"):
        widgets.draw_compare(drills={})


def test_draw_detection_sweep_plots_measurements_over_the_bounds():
    measured = {0.1: np.array([[0.15, 0.12], [0.18, 0.19]]), 0.3: np.array([[0.5, 0.4]])}
    fig = widgets.draw_detection_sweep(measured=measured, fall=2, rise=2)
    left = fig.axes[0]
    points = [line for line in left.lines if line.get_label() == "measured live"][0]
    assert list(points.get_xdata()) == [0.1, 0.1, 0.3]
    assert list(points.get_ydata()) == [0.15, 0.18, 0.5]
    mean = [line for line in left.lines if line.get_label() == "theory: mean"][0]
    x, y = mean.get_data()
    assert np.interp(0.3, x, y) == pytest.approx(np.mean(detection_bounds(0.3, 2)), rel=0.02)


@pytest.mark.live
def test_live_panel_buttons_drive_a_real_cluster():
    before = set(threading.enumerate())
    with LiveCluster(backends=2, balancer_process=False) as cluster:
        panel = widgets.live_panel(cluster, rate=40)
        assert len(panel.widget.children) == 4  # two rows of buttons, load + message, output
        panel.start_load()
        time.sleep(0.6)
        kill_b1 = [b for b in panel.widget.children[1].children if b.description == "kill b1"][0]
        kill_b1.click()  # as a learner would
        assert not cluster.alive(1) and panel.message.value == "kill b1"
        panel.act("kill", 1)
        assert panel.message.value == "kill b1: nothing to do"
        panel.act("slow", 1)
        assert panel.message.value.startswith("⚠") and "revive it first" in panel.message.value
        time.sleep(0.5)
        panel.act("revive", 1)
        time.sleep(0.5)
        panel.stop_load()
        assert panel.figure is not None and "requests failed" in panel.figure.axes[0].get_title()
        assert cluster.alive(1)
        panel.close()
    leftover = [t for t in threading.enumerate() if t not in before and t.is_alive()]
    assert leftover == []
