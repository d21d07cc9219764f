"""halab.live.engines.ZooKeeper: a real 3-server ensemble, its leader SIGKILLed under a writer.

The tests marked ``live`` need Debian's ``zookeeper`` package and a JRE; they skip with the
install hint when these are missing, except under CI=true, where that is a failure.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
from test_engines_drill_figure import check_live_records

from halab.live.engines import EngineMissing, Footprint, ZooKeeper, kill_parent
from halab.live.engines.zookeeper import mode, simulated_failover


def need_zookeeper() -> None:
    missing = ZooKeeper.missing()
    if missing:
        message = ZooKeeper.install_hint()
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {message}")
        pytest.skip(message)


# -- no server needed ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kw, word",
    [
        ({"tick_time": 0}, "tick_time"),
        ({"tick_time": math.nan}, "tick_time"),
        ({"tick_time": 2000.5}, "tick_time"),
        ({"init_limit": 0}, "init_limit"),
        ({"sync_limit": math.inf}, "sync_limit"),
        ({"nodes": 0}, "nodes"),
        ({"nodes": 10}, "nodes"),
    ],
)
def test_bad_settings(kw, word):
    with pytest.raises(ValueError, match=word):
        ZooKeeper(**kw)


def test_a_missing_jre_says_how_to_install(monkeypatch):
    monkeypatch.setattr(ZooKeeper, "programs", ("halab-no-such-java",))
    with pytest.raises(EngineMissing, match="apt-get install zookeeper default-jre-headless"):
        ZooKeeper()


def test_the_configuration_stays_on_loopback():
    need_zookeeper()
    zk = ZooKeeper(nodes=3, tick_time=500, init_limit=4, sync_limit=3)
    zk.tmpdir = "/nowhere"
    zk.ports = [{"client": 10 + i, "quorum": 20 + i, "election": 30 + i} for i in range(3)]
    text = zk.config_text(1)
    for line in (
        "tickTime=500",
        "initLimit=4",
        "syncLimit=3",
        "clientPort=11",
        "clientPortAddress=127.0.0.1",
        "admin.enableServer=false",
        "4lw.commands.whitelist=srvr,ruok,mntr",
        "server.1=127.0.0.1:20:30",
        "server.3=127.0.0.1:22:32",
    ):
        assert line in text.splitlines()
    assert "dataDir=/nowhere/n1/data" in text


def test_the_simulation_runs_on_zookeepers_settings():
    sim = simulated_failover(trials=20, tick_time=200, sync_limit=5, seed=1)
    leader, election = sim["leader_s"], sim["election_s"]
    assert leader.shape == election.shape == (20,)
    ok = np.isfinite(leader)
    assert ok.sum() >= 15
    # a silent crash costs the followers' timeout, syncLimit x tickTime = 1 s, before the election
    assert np.all(leader[ok] >= 1.0)
    # FLE waits finalizeWait (200 ms) before it decides
    assert np.all(election[np.isfinite(election)] >= 0.2)
    decided = sim["decided_s"]
    assert np.all(decided[np.isfinite(decided)] >= 0.2) and np.nanmedian(decided) < 0.5
    again = simulated_failover(trials=20, tick_time=200, sync_limit=5, seed=1)
    assert np.array_equal(again["leader_s"], leader, equal_nan=True)


def test_mode_of_a_closed_port_is_none():
    from halab.live.engines._base import free_ports

    assert mode(free_ports(1)[0]) is None


# -- live: the real ensemble ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def ensemble():
    need_zookeeper()
    with ZooKeeper(nodes=3) as zk:
        yield zk, Footprint.of(zk)


@pytest.mark.live
@pytest.mark.engine
def test_one_leader_two_followers(ensemble):
    zk, _ = ensemble
    modes = sorted(zk.mode(i) for i in range(3))
    assert modes == ["follower", "follower", "leader"]
    assert zk.mode(zk.leader()) == "leader"
    assert len(zk.pids) == 7
    print(f"\nZooKeeper: 3 servers ready in {zk.start_s:.2f} s")


@pytest.mark.live
@pytest.mark.engine
def test_killing_the_leader_elects_another_and_writes_resume(ensemble):
    zk, _ = ensemble
    drill = zk.drill(trials=5, sim_trials=100)
    print("\n" + drill.table())
    check_live_records(drill)
    for trial in drill.trials:
        assert trial.new_leader is not None and trial.new_leader != trial.killed
        assert math.isfinite(trial.leader_s) and math.isfinite(trial.write_s)
        assert 0 < trial.leader_s < 30 and 0 < trial.write_s < 30
    kinds = [e.kind for e in drill.timeline]
    assert kinds.count("kill") == kinds.count("leader") == kinds.count("write") == 5
    assert kinds.count("revive") == 5
    assert zk.leader() is not None and all(zk.alive(i) for i in range(3))


@pytest.mark.live
@pytest.mark.engine
def test_nothing_left_after_the_block(ensemble):
    zk, footprint = ensemble
    zk.stop()
    assert footprint.wait_gone(30) == []


@pytest.mark.live
@pytest.mark.engine
def test_nothing_left_after_sigkill_of_the_parent():
    need_zookeeper()
    footprint, left = kill_parent("ZooKeeper(nodes=3)", timeout=240)
    assert len(footprint.pids) == 7
    assert left == [], left
