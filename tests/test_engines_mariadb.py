"""halab.live.engines.MariaDB: a real primary and two replicas behind the crash proxy, killed.

The tests marked ``live`` need Debian's ``mariadb-server`` package; they skip with the install
hint when it is missing, except under CI=true, where that is a failure. One engine serves the
module (starting one takes seconds); ``set_mode`` switches it between async and semi-sync.
"""

from __future__ import annotations

import math
import os

import matplotlib
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from halab import replication  # noqa: E402
from halab.live.engines import EngineMissing, Footprint, MariaDB, kill_parent  # noqa: E402
from halab.live.engines.mariadb import _seq, lesson_drill  # noqa: E402
from halab.widgets import draw_drills  # noqa: E402

KILLS = 5  # the bar: semi-sync AFTER_SYNC loses nothing over 5 kills
# One-way delay on the replication links. 50 ms rather than the engine's 20 ms: a loaded
# 2-core CI box stalls a process for tens of milliseconds now and then, and the longer delay
# keeps the loss window (what the prediction counts) larger than those stalls.
DELAY = 0.05
ASYNC_STEADY = 3  # async trials with steady writers that the bar is judged on
ASYNC_ATTEMPTS = 6  # at most this many async trials on a loaded machine


def need_mariadb() -> None:
    missing = MariaDB.missing()
    if missing:
        message = MariaDB.install_hint()
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {message}")
        pytest.skip(message)


# -- no server needed ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kw, word",
    [
        ({"replicas": 0}, "replicas"),
        ({"replicas": 9}, "replicas"),
        ({"replicas": 1.5}, "replicas"),
        ({"mode": "sync"}, "mode"),
        ({"wait_point": "BEFORE_COMMIT"}, "wait_point"),
        ({"semisync_timeout_ms": 0}, "semisync_timeout_ms"),
        ({"semisync_timeout_ms": math.inf}, "semisync_timeout_ms"),
        ({"delay": -0.01}, "delay"),
        ({"delay": math.nan}, "delay"),
    ],
)
def test_bad_settings_name_the_parameter(kw, word):
    with pytest.raises(ValueError, match=word):
        MariaDB(**kw)


@pytest.mark.parametrize(
    "kw, word",
    [
        ({"rate": 0}, "rate"),
        ({"rate": math.nan}, "rate"),
        ({"duration": -1}, "duration"),
        ({"kills": 0}, "kills"),
        ({"writers": 17}, "writers"),
        ({"kills": 2, "revive": False}, "revive"),
    ],
)
def test_bad_drill_arguments_name_the_parameter(kw, word):
    need_mariadb()
    with pytest.raises(ValueError, match=word):
        MariaDB().drill(**kw)  # checked before anything runs


def test_bad_mode_switch_names_the_parameter():
    need_mariadb()
    engine = MariaDB()
    with pytest.raises(ValueError, match="mode"):
        engine.set_mode("sync")
    with pytest.raises(ValueError, match="wait_point"):
        engine.set_mode("semisync", "AFTER_FLUSH")
    with pytest.raises(ValueError, match="semisync_timeout_ms"):
        engine.set_mode("semisync", semisync_timeout_ms=-5)


def test_gtid_sequence_of_domain_zero():
    assert _seq("0-1-42") == 42
    assert _seq("1-2-7,0-3-19") == 19
    assert _seq("") == 0


def test_missing_server_gives_the_install_hint(monkeypatch):
    monkeypatch.setattr(MariaDB, "programs", ("halab-no-such-mariadbd",))
    with pytest.raises(EngineMissing, match="apt-get install mariadb-server"):
        MariaDB()


# -- live: the real thing ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def db():
    need_mariadb()
    with MariaDB(replicas=2, mode="async", semisync_timeout_ms=2000, delay=DELAY) as engine:
        yield engine, Footprint.of(engine)


def show(title: str, trials) -> None:
    print(f"\n{title}")
    for trial in trials:
        print(
            f"  {trial}  (receive lag {trial.lag * 1000:.1f} ms, apply lag "
            f"{trial.apply_lag * 1000:.1f} ms)"
        )


@pytest.mark.live
@pytest.mark.engine
def test_primary_and_two_replicas_replicate(db):
    engine, _ = db
    assert engine.leader() == 0
    assert engine.replica_indices() == [1, 2]
    assert len(engine.pids) == 7  # 3 servers, 3 guards, 1 folder guard
    for i in (1, 2):
        status = engine._slave_status(i)
        assert status["Slave_IO_Running"] == status["Slave_SQL_Running"] == "Yes"
        assert status["Using_Gtid"] == "Slave_Pos"
        assert status["Master_Port"] == engine.proxies[0].port  # through the crash proxy
    print(f"\nMariaDB: primary + 2 replicas ready in {engine.start_s:.2f} s")


@pytest.mark.live
@pytest.mark.engine
def test_kill_and_revive_a_replica_and_the_primary_without_promotion(db):
    engine, _ = db
    engine.kill(2)
    assert not engine.alive(2) and engine.leader() == 0
    engine.revive(2)
    engine.kill(0)  # the primary, and no promotion: nobody takes writes
    assert engine.leader() is None
    engine.revive(0)  # it comes back as the primary; the replicas reconnect through the proxy
    assert engine.leader() == 0
    table = engine._new_table()  # waits until both replicas have it
    engine.sql(0, f"INSERT INTO {table} (id) VALUES (1)")
    engine._wait_replicas(30)
    for i in (1, 2):
        assert engine.sql(i, f"SELECT id FROM {table}") == [(1,)]


@pytest.mark.live
@pytest.mark.engine
def test_async_loses_about_rate_times_lag(db):
    engine, _ = db
    engine.set_mode("async")
    trials = []
    for _ in range(ASYNC_ATTEMPTS):  # steady trials only: the model assumes a steady rate
        trials += engine.drill(rate=500, duration=2.0, kills=1).trials
        if sum(t.steady for t in trials) >= ASYNC_STEADY:
            break
    show(f"async behind the crash proxy ({DELAY * 1000:.0f} ms one way):", trials)
    for trial in trials:
        assert trial.promoted != trial.killed
        # the prediction is the closed form of lesson 07, on the measured rate and lag
        assert trial.predicted == pytest.approx(
            replication.expected_lost_writes(trial.recent_rate, trial.lag)
        )
    steady = [t for t in trials if t.steady]
    assert len(steady) >= ASYNC_STEADY, "the machine is too loaded for steady writers"
    lost = sum(t.lost for t in steady)
    predicted = sum(t.predicted for t in steady)
    counted = sum(t.counted for t in steady)  # the model on the trials' own ack times
    print(f"  steady trials: lost {lost}, rate x lag {predicted:.1f}, lost_on_promotion {counted}")
    assert all(t.lag >= engine.delay * 0.9 for t in steady)  # it arrives after the delay
    assert lost > 0
    assert predicted / 2 <= lost <= predicted * 2, (lost, predicted)
    assert counted / 2 <= lost <= counted * 2, (lost, counted)


@pytest.mark.live
@pytest.mark.engine
def test_semisync_after_sync_loses_nothing_over_five_kills(db):
    engine, _ = db
    engine.set_mode("semisync", "AFTER_SYNC")
    drill = engine.drill(rate=300, duration=1.5, kills=KILLS)
    show(f"semi-sync AFTER_SYNC, {KILLS} kills:", drill.trials)
    assert len(drill.trials) == KILLS
    for trial in drill.trials:
        assert not trial.fallback
        assert trial.acked > 0
        assert trial.lost == 0
        assert trial.lost_visible == 0  # nobody saw a row the promoted replica lacks
        assert trial.predicted == 0


@pytest.mark.live
@pytest.mark.engine
def test_semisync_after_commit_acknowledged_writes_survive_but_seen_rows_may_not(db):
    engine, _ = db
    engine.set_mode("semisync", "AFTER_COMMIT")
    drill = engine.drill(rate=300, duration=1.5, kills=2)
    show("semi-sync AFTER_COMMIT (MariaDB's default wait point):", drill.trials)
    for trial in drill.trials:
        # the client's OK still waits for a replica: no acknowledged write is lost ...
        assert trial.lost == 0
        # ... but the row was committed, and readable, before that wait: a reader may have
        # seen rows the promoted replica lacks (at most one per writer in flight)
        assert 0 <= trial.lost_visible <= 4
    print(f"  rows seen on the primary and lost: {[t.lost_visible for t in drill.trials]}")


@pytest.mark.live
@pytest.mark.engine
def test_semisync_falls_back_to_async_after_its_timeout(db):
    engine, _ = db
    engine.set_mode("semisync", "AFTER_SYNC", semisync_timeout_ms=1000)
    record = engine.fallback_drill(later_writes=5)
    print(f"\n{record}")
    assert record.status_before is True
    assert record.status_after is False
    assert record.waited_s >= 0.9 * record.timeout_s
    assert record.waited_s < record.timeout_s + 10
    assert record.later_s < record.timeout_s / 2  # async: no waiting
    assert record.back_s is not None  # semi-sync comes back once a replica caught up


@pytest.mark.live
@pytest.mark.engine
def test_lesson_drill_one_kill_per_mode_and_the_fallback(db):
    engine, _ = db
    run = lesson_drill(engine, rate=300, duration=1.0, timeout_ms=800)
    print(f"\n{run}")
    assert [t.label for t in run.trials] == [
        "async",
        "semisync AFTER_COMMIT",
        "semisync AFTER_SYNC",
    ]
    assert run.trials[2].lost == 0 and run.trials[1].lost == 0
    assert run.fallback.status_after is False
    assert "model" in str(run) and "fallback" in str(run)
    # each kill is the record every drill returns: its lost writes, promotion and first write
    assert list(run.drills) == [t.label for t in run.trials]
    for t, drill in zip(run.trials, run.drills.values()):
        assert len(drill.lost) == t.lost and drill.name == f"n{t.killed}"
        assert drill.kill_t == t.kill_t and drill.failed == sum(not w[3] for w in t.writes) > 0
        assert 0 < drill.leader_t - drill.kill_t <= t.failover_s
        assert drill.first_ok_t - drill.kill_t == pytest.approx(t.write_s)
        assert drill.load.count_by_backend()[f"n{t.killed}"] == t.acked
        assert drill.load.count_by_backend()[f"n{t.promoted}"] == 1  # the first write on it
    fig = draw_drills(drills=run.drills)
    assert [ax.get_title().split(":")[0] for ax in fig.axes] == list(run.drills)
    assert fig.axes[0].get_title().endswith(f", {run.trials[0].lost} lost")
    plt.close(fig)


@pytest.mark.live
@pytest.mark.engine
def test_nothing_left_after_the_block(db):
    engine, footprint = db
    engine.stop()
    assert footprint.wait_gone(30) == []
    assert all(p.connections() == 0 for p in engine.proxies)


@pytest.mark.live
@pytest.mark.engine
def test_nothing_left_after_sigkill_of_the_parent():
    need_mariadb()
    footprint, left = kill_parent("MariaDB(replicas=2)", timeout=240)
    assert len(footprint.pids) == 7
    assert left == [], left
