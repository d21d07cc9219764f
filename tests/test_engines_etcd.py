"""halab.live.engines.Etcd: a real 3-member cluster, its leader SIGKILLed under a writer.

The tests marked ``live`` need Debian's ``etcd-server`` package; they skip with the install
hint when it is missing, except under CI=true, where that is a failure.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
from test_engines_drill_figure import check_live_records

from halab.live.engines import EngineMissing, Etcd, Footprint, kill_parent, leader_drills
from halab.live.engines.etcd import b64, simulated_failover


def need_etcd() -> None:
    if Etcd.missing():
        message = Etcd.install_hint()
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {message}")
        pytest.skip(message)


# -- no server needed ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kw, word",
    [
        ({"heartbeat_interval": 0}, "heartbeat_interval"),
        ({"heartbeat_interval": math.nan}, "heartbeat_interval"),
        ({"election_timeout": 400}, "election_timeout"),  # under 5 heartbeats of 100 ms
        ({"election_timeout": 50_001}, "election_timeout"),
        ({"election_timeout": math.inf}, "election_timeout"),
        ({"nodes": 0}, "nodes"),
    ],
)
def test_bad_settings(kw, word):
    with pytest.raises(ValueError, match=word):
        Etcd(**kw)


def test_a_missing_etcd_says_how_to_install(monkeypatch):
    monkeypatch.setattr(Etcd, "programs", ("halab-no-such-etcd",))
    with pytest.raises(EngineMissing, match="apt-get install etcd-server"):
        Etcd()


def test_base64_keys():
    assert b64("foo") == "Zm9v"


def test_the_command_line_stays_on_loopback():
    need_etcd()
    etcd = Etcd(nodes=3, heartbeat_interval=50, election_timeout=500)
    etcd.tmpdir = "/nowhere"
    etcd.ports = [{"client": 10 + i, "peer": 20 + i} for i in range(3)]
    args = etcd._command(1)
    for flag in (
        "--name=n1",
        "--listen-client-urls=http://127.0.0.1:11",
        "--listen-peer-urls=http://127.0.0.1:21",
        "--initial-cluster=n0=http://127.0.0.1:20,n1=http://127.0.0.1:21,n2=http://127.0.0.1:22",
        "--heartbeat-interval=50",
        "--election-timeout=500",
        "--data-dir=/nowhere/n1/data",
    ):
        assert flag in args


def test_the_simulation_runs_on_etcds_timing():
    sim = simulated_failover(trials=40, heartbeat_interval=100, election_timeout=1000, seed=2)
    leader = sim["leader_s"]
    assert leader.shape == (40,) and np.all(np.isfinite(leader))
    # a follower waits [1, 2) s after the last heartbeat, which came < 0.1 s before the crash
    assert np.all(leader > 0.9) and np.all(leader < 2.5)
    # the first of two uniform timeouts on [1, 2): mean 1 + 1/3 s, less the heartbeat's age
    assert 1.1 < float(np.mean(leader)) < 1.5
    again = simulated_failover(trials=40, heartbeat_interval=100, election_timeout=1000, seed=2)
    assert np.array_equal(again["leader_s"], leader)


# -- live: the real cluster ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster():
    need_etcd()
    with Etcd(nodes=3) as etcd:
        yield etcd, Footprint.of(etcd)


@pytest.mark.live
@pytest.mark.engine
def test_one_leader_and_a_write_survives_a_follower_restart(cluster):
    etcd, _ = cluster
    leader = etcd.leader()
    assert leader is not None and len(etcd.pids) == 7
    follower = (leader + 1) % 3
    etcd.put("halab", "kept", i=leader)
    etcd.kill(follower)
    etcd.revive(follower)
    assert etcd.get("halab", i=follower) == "kept"
    print(f"\netcd: 3 members ready in {etcd.start_s:.2f} s")


@pytest.mark.live
@pytest.mark.engine
def test_killing_the_leader_elects_another_and_writes_resume(cluster):
    etcd, _ = cluster
    drill = etcd.drill(trials=5, sim_trials=100)
    print("\n" + drill.table())
    check_live_records(drill)
    for trial in drill.trials:
        assert trial.new_leader is not None and trial.new_leader != trial.killed
        assert 0 < trial.leader_s < 30 and 0 < trial.write_s < 30
    kinds = [e.kind for e in drill.timeline]
    assert kinds.count("kill") == kinds.count("leader") == kinds.count("write") == 5
    # the followers wait their election timeout (>= 1 s, less a heartbeat) before voting
    assert min(t.leader_s for t in drill.trials) > 0.8


@pytest.mark.live
@pytest.mark.engine
def test_nothing_left_after_the_block(cluster):
    etcd, footprint = cluster
    etcd.stop()
    assert footprint.wait_gone(30) == []


@pytest.mark.live
@pytest.mark.engine
def test_nothing_left_after_sigkill_of_the_parent():
    need_etcd()
    footprint, left = kill_parent("Etcd(nodes=3)", timeout=120)
    assert len(footprint.pids) == 7
    assert left == [], left


def test_lesson_drills_name_only_zookeeper_and_etcd():
    with pytest.raises(ValueError, match="engines"):
        leader_drills(engines=("MariaDB",))


def test_lesson_drills_give_the_hint_when_missing(monkeypatch):
    monkeypatch.setattr(Etcd, "programs", ("halab-no-such-etcd",))
    out = leader_drills(trials=1, engines=("Etcd",))
    assert "apt-get install etcd-server" in out["Etcd"]


@pytest.mark.live
@pytest.mark.engine
def test_lesson_drills_run_the_real_etcd():
    need_etcd()
    out = leader_drills(trials=1, engines=("Etcd",), sim_trials=10)
    drill = out["Etcd"]
    assert len(drill.trials) == 1 and drill.trials[0].new_leader is not None
    assert "sim leader_s" in drill.table() and "each real write_s" in drill.table()
