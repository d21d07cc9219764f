"""One figure for every drill: a balancer's and an engine's records, drawn by draw_drills.

No server is needed: the balancer's drill and the engine's trial are made up, with known
times, and the test reads back what the figure plots (lines, bars, titles), not pixels. The
live version (a real etcd's trial in the same figure) is in tests/test_engines_etcd.py.
"""

from __future__ import annotations

import math

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from halab.live import Drill, Event, LoadResult, Record, Settings  # noqa: E402
from halab.live.engines._base import FailoverDrill, FailoverTrial  # noqa: E402
from halab.widgets import draw_drills, drill_series  # noqa: E402


def balancer_drill():
    """100 requests a second for 3 s round robin; b1 killed at 1.0 s, out at 1.05, back 2.3."""
    records = []
    for k in range(300):
        t = k / 100
        name = f"b{k % 3}"
        if name == "b1" and 1.05 <= t < 2.3:
            name = "b2"
        records.append(Record(t, 0.002, 200, name))
    events = [
        Event(1.0, "kill", 1),
        Event(1.05, "removed", 1),
        Event(2.0, "revive", 1),
        Event(2.3, "readmitted", 1),
    ]
    return Drill(LoadResult(records, 0.0), events, 1, 1.0, 2.0, Settings())


def engine_trial(lost=(31, 32)):
    """A write every 20 ms from 10.0 s; n2 led and was killed at 10.6 s; writes fail until
    n0 leads at 11.4 s; the first write sent after the kill is acknowledged at 11.5 s."""
    writes = []
    for n in range(100):
        sent = 10.0 + n * 0.02
        if sent < 10.6 - 1e-9:
            writes.append((n, sent, sent + 0.005, True))
        elif sent < 11.5 - 1e-9:
            writes.append((n, sent, sent + 0.005, False))
        else:
            writes.append((n, sent, sent + 0.005, True))
    first = min(done for _, sent, done, ok in writes if ok and sent >= 10.6)
    return FailoverTrial(
        trial=0,
        killed=2,
        new_leader=0,
        kill_t=10.6,
        leader_s=0.8,
        write_s=first - 10.6,
        failed_writes=sum(1 for w in writes if not w[3]),
        writes=tuple(writes),
        lost=tuple(lost),
        revive_t=13.0,
    )


def engine_timeline():
    return (
        Event(10.6, "kill", 2),
        Event(11.4, "leader", 0, "leads after node 2 was killed"),
        Event(11.505, "write", None),
        Event(13.0, "revive", 2),
    )


def marks(ax):
    return {
        ln.get_label(): round(float(ln.get_xdata()[0]), 3)
        for ln in ax.get_lines()
        if ln.get_linestyle() in ("--", ":", "-.")
    }


def bars(ax):
    """Bar series label -> the bars' heights."""
    return {c.get_label(): [p.get_height() for p in c.patches] for c in ax.containers}


def test_an_engine_trial_is_the_record_every_drill_returns():
    drill = engine_trial().record(engine_timeline(), {"election-timeout": 1000})
    assert isinstance(drill, Drill)
    assert drill.name == "n2" and drill.kill_t == 10.6 and drill.revive_t == 13.0
    assert drill.leader_t == pytest.approx(11.4)
    assert drill.first_ok_t == pytest.approx(11.505)
    s = drill.summary()
    assert s["leader_after_kill_s"] == pytest.approx(0.8)
    assert s["first_ok_after_kill_s"] == pytest.approx(0.905)
    assert s["failed"] == 45 and s["lost"] == 2
    # the writes acknowledged before the kill were led by the victim, after it by n0
    assert set(drill.load.count_by_backend()) == {"n0", "n2"}
    assert drill.load.count_by_backend()["n2"] == 30
    assert drill.lost == pytest.approx((10.62, 10.64))
    # a trial that did not read its writes back says nothing about loss
    unread = FailoverTrial(0, 2, 0, 10.6, 0.8, 0.9, writes=engine_trial().writes)
    assert unread.record().lost is None and unread.record().summary()["lost"] is None


def test_one_figure_draws_a_balancer_drill_and_an_engine_drill():
    balancer = balancer_drill()
    engine = engine_trial().record(engine_timeline(), {})
    fig = draw_drills(drills={"halab": balancer, "Etcd": engine}, bin_width=0.1)
    top, bottom = fig.axes
    # the balancer's row: the marks and title of lesson 09
    assert marks(top) == {
        "kill": 1.0,
        "out of rotation": 1.05,
        "revive": 2.0,
        "back in rotation": 2.3,
    }
    assert top.get_title() == "halab: 0 failed, 0 slow; out after 50 ms, back after 300 ms"
    # the engine's row, on the same axis: 0 is its first write (10.0 s)
    assert marks(bottom) == {
        "kill": 0.6,
        "new leader (primary)": 1.4,
        "first write after the kill": 1.505,
        "revive": 3.0,  # the axis ends at the balancer's last whole bin, 3.0 s
    }
    assert bottom.get_title() == (
        "Etcd: new leader after 800 ms, first write after 905 ms; 45 failed, 2 lost"
    )
    # its bars are its writes: failed between the kill and the first write, lost at 0.6 s
    series = drill_series(engine, bin_width=0.1, end=2.0)
    by_label = bars(bottom)
    failed = np.array(by_label["failed"])
    assert failed[:20] == pytest.approx(series["failed"])
    assert failed.sum() * 0.1 == pytest.approx(45)
    lost = np.array(by_label["acknowledged, then lost"])
    assert lost.sum() * 0.1 == pytest.approx(2) and lost[6] == pytest.approx(20)
    victim = [ln for ln in bottom.get_lines() if ln.get_label() == "n2 answered"][0]
    x, y = victim.get_data()
    assert (y[(x >= 0.6) & (x < 2.0)] == 0).all() and y[x < 0.55].sum() * 0.1 == pytest.approx(30)
    others = [ln for ln in bottom.get_lines() if ln.get_label() == "the others answered"][0]
    x, y = others.get_data()
    assert (y[(x > 0.05) & (x < 1.45)] == 0).all() and y[x > 1.45].sum() * 0.1 == pytest.approx(25)
    # the balancer's row draws no lost bars: its requests store nothing
    assert set(bars(top)) == {"failed", "slower than 0.5 s"}


def test_a_failover_drill_gives_one_record_per_trial():
    trial = engine_trial()
    drill = FailoverDrill(
        engine="Etcd",
        settings={"heartbeat-interval": 100},
        trials=(trial, trial),
        timeline=engine_timeline(),
        start_s=1.0,
        simulated={"leader_s": np.array([1.2, 1.5])},
    )
    records = drill.drills
    assert len(records) == 2 and all(isinstance(r, Drill) for r in records)
    assert records[0].settings == {"heartbeat-interval": 100}
    assert drill.lost == 4
    slow = FailoverTrial(1, 0, 1, 20.0, 3.0, 3.1, writes=trial.writes, lost=())
    fast = FailoverTrial(2, 1, 2, 30.0, 0.5, 0.6, writes=trial.writes, lost=())
    three = FailoverDrill("Etcd", {}, (trial, slow, fast), (), 1.0, {})
    assert three.typical().kill_t == trial.kill_t  # leader_s 0.8: the median of 0.5, 0.8, 3
    assert "acknowledged writes read back: 110, lost: 4" in drill.table()


def test_bad_bins_are_refused():
    with pytest.raises(ValueError, match="bin_width"):
        drill_series(balancer_drill(), bin_width=0)
    with pytest.raises(ValueError, match="slow"):
        drill_series(balancer_drill(), slow=math.nan)
    with pytest.raises(ValueError, match="drills"):
        draw_drills(drills={})


def check_live_records(drill) -> None:
    """What a live leader drill's records must show (used by the ZooKeeper and etcd tests):
    every acknowledged write read back, none lost; each trial a record whose marks are its own
    kill, new leader and first write; and the figure draws it beside a balancer's drill."""
    assert drill.lost == 0, drill.table()
    records = drill.drills
    assert len(records) == len(drill.trials)
    for trial, record in zip(drill.trials, records):
        assert sum(ok for *_, ok in trial.writes) > 0 and trial.lost == ()
        assert record.kill_t == trial.kill_t and record.summary()["lost"] == 0
        assert record.first_ok_t - record.kill_t == pytest.approx(trial.write_s)
        assert record.leader_t - record.kill_t == pytest.approx(trial.leader_s)
    record = records[-1]
    fig = draw_drills(drills={"halab": balancer_drill(), drill.engine: record})
    got = marks(fig.axes[1])
    assert got["kill"] == pytest.approx(record.kill_t - record.start, abs=1e-3)
    assert got["new leader (primary)"] == pytest.approx(record.leader_t - record.start, abs=1e-3)
    assert got["first write after the kill"] == pytest.approx(
        record.first_ok_t - record.start, abs=1e-3
    )
    assert fig.axes[1].get_title().endswith(", 0 lost")
    plt.close(fig)


def made_up_failover(engine="ZooKeeper"):
    """Three kills with known times, and a model whose medians are known."""
    trials = tuple(
        FailoverTrial(
            trial=k,
            killed=2,
            new_leader=0,
            kill_t=10.0 * k,
            leader_s=leader,
            write_s=write,
            detail={"fle_s": fle, "fsync_s": 0.002},
        )
        for k, (leader, write, fle) in enumerate(
            ((0.5, 0.6, 0.2), (0.4, 0.45, 0.25), (0.7, 0.9, 0.3))
        )
    )
    simulated = {
        "leader_s": np.array([9.5, 9.7, 10.1]),
        "election_s": np.array([0.3, 0.3, 0.7]),
        "decided_s": np.array([0.2, 0.2, 0.4]),
    }
    return FailoverDrill(engine, {"tickTime": 2000}, trials, (), 3.0, simulated)


def test_the_differences_are_medians_of_the_trials():
    d = made_up_failover().differences()
    assert d["real_leader_s"] == pytest.approx(0.5) and d["real_write_s"] == pytest.approx(0.6)
    assert d["sim_leader_s"] == pytest.approx(9.7) and d["sim_decided_s"] == pytest.approx(0.2)
    # the model's part a reset connection leaves to do: its election alone
    assert d["model_s"] == pytest.approx(0.3) and d["beyond_model_s"] == pytest.approx(0.2)
    # first write minus new leader, per trial: 0.1, 0.05, 0.2
    assert d["client_s"] == pytest.approx(0.1)
    assert d["fle_s"] == pytest.approx(0.25) and d["fsync_s"] == pytest.approx(0.002)
    # leader_s - fle_s per trial: 0.3, 0.15, 0.4
    assert d["after_fle_s"] == pytest.approx(0.3)
    # the first kill of a fresh engine apart from the later ones
    assert d["first_leader_s"] == pytest.approx(0.5) and d["later_leader_s"] == pytest.approx(0.55)
    assert d["first_fle_s"] == pytest.approx(0.2) and d["later_fle_s"] == pytest.approx(0.275)
    text = made_up_failover().explain()
    assert "new leader 0.50 s after the SIGKILL (median of 3)" in text
    assert "a silent crash: 9.70 s" in text and "+0.20 s beyond it" in text
    assert "FastLeaderElection alone): 0.25 s" in text and "WAL fsync" in text and "2.0 ms" in text
    assert "our poll): 0.30 s" in text and "new leader): +0.10 s" in text
    assert "the first kill (a fresh engine): 0.50 s to a new leader, the later ones 0.55 s" in text
    assert "of it FastLeaderElection 0.20 s, later 0.28 s" in text
    # without an election_s the model's whole failover is the comparison
    etcd = FailoverDrill("Etcd", {}, made_up_failover().trials, (), 1.0, {"leader_s": [0.3]})
    assert etcd.differences()["beyond_model_s"] == pytest.approx(0.2)
    assert "real minus model: +0.20 s" in etcd.explain()


def test_the_failover_figure_plots_the_trials_and_the_model():
    from halab.widgets import draw_leader_failover

    drill = made_up_failover()
    fig = draw_leader_failover(drills={"ZooKeeper": drill, "MariaDB": "not installed"})
    (ax,) = fig.axes
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    x, y = lines["real: new leader (3 kills)"].get_data()
    assert list(x) == [0.4, 0.5, 0.7] and list(y) == pytest.approx([1 / 3, 2 / 3, 1])
    x, _ = lines["real: first write (3 kills)"].get_data()
    assert list(x) == [0.45, 0.6, 0.9]
    x, y = lines["model: kill to new leader (silent crash)"].get_data()
    assert list(x) == [9.5, 9.7, 10.1] and y[-1] == 1
    assert "model: the election alone" in lines
    assert ax.get_xscale() == "log" and ax.get_title().startswith("ZooKeeper: tickTime 2000")
    with pytest.raises(ValueError, match="drills"):
        draw_leader_failover(drills={"Etcd": "not installed"})


def test_a_title_says_only_what_the_drill_measured():
    from halab.widgets.drills import drill_title

    # a classic queue: confirmed before the kill, nothing published after it, all lost
    writes = tuple((n, 10.0 + n * 0.1, 10.01 + n * 0.1, True) for n in range(5))
    trial = FailoverTrial(0, 1, None, 10.6, math.nan, math.nan, writes=writes, lost=(0, 1, 2))
    record = trial.record((Event(10.6, "kill", 1),), {})
    assert drill_title("classic", record) == "classic: 0 failed, 3 lost"
    # a promoted replica is a primary; a drill that did not read back says nothing of loss
    timeline = (Event(10.6, "kill", 1), Event(10.9, "promote", 0))
    after = writes + ((9, 11.0, 11.01, True),)
    promoted = FailoverTrial(0, 1, 0, 10.6, 0.3, 0.41, writes=after).record(timeline, {})
    assert drill_title("async", promoted) == (
        "async: new primary after 300 ms, first write after 410 ms; 0 failed"
    )
