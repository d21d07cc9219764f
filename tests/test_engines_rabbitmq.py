"""halab.live.engines.RabbitMQ: a real 3-node cluster, its quorum queue's leader SIGKILLed.

The tests marked ``live`` need Debian's ``rabbitmq-server``; they skip with the install hint
when it is missing, except under CI=true, where that is a failure. A broker takes 20 s or more
to start on 2 cores, so one cluster serves the whole module.
"""

from __future__ import annotations

import math
import os

import pytest

from halab.live.engines import EngineMissing, Footprint, RabbitMQ, kill_parent
from halab.live.engines._base import listening

KILLS = 5


def need_rabbitmq() -> None:
    missing = RabbitMQ.missing()
    if missing:
        message = RabbitMQ.install_hint()
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {message}")
        pytest.skip(message)


# -- no broker needed ----------------------------------------------------------------------------


@pytest.mark.parametrize("nodes", [2, 6, 3.0, math.nan, True])
def test_bad_node_counts(nodes):
    with pytest.raises(ValueError, match="nodes"):
        RabbitMQ(nodes=nodes)


def test_a_missing_rabbitmq_says_how_to_install(monkeypatch):
    monkeypatch.setattr(RabbitMQ, "programs", ("halab-no-such-rabbitmq-server",))
    with pytest.raises(EngineMissing, match="apt-get install rabbitmq-server"):
        RabbitMQ()


def test_the_configuration_stays_on_loopback_with_a_private_user():
    need_rabbitmq()
    mq = RabbitMQ(nodes=3)
    mq.ports = [{"amqp": 10 + i, "dist": 20 + i} for i in range(3)]
    lines = mq.config_text(1).splitlines()
    assert "listeners.tcp.default = 127.0.0.1:11" in lines
    assert "cluster_formation.peer_discovery_backend = classic_config" in lines
    assert "cluster_formation.classic_config.nodes.3 = halab2@localhost" in lines
    assert f"default_user = {mq.user}" in lines and mq.user != "guest"
    mq.tmpdir, mq.home, mq.epmd_port = "/nowhere", "/nowhere/home", 4369
    env = mq._env(1)
    assert env["RABBITMQ_NODE_IP_ADDRESS"] == env["ERL_EPMD_ADDRESS"] == "127.0.0.1"
    assert env["RABBITMQ_NODENAME"] == "halab1@localhost"
    assert env["HOME"] == "/nowhere/home"


# -- a real cluster ----------------------------------------------------------------------------------


@pytest.mark.live
@pytest.mark.engine
def test_nothing_is_left_when_the_parent_is_killed():
    # first, before the module's cluster starts: two clusters at once are slow on 2 cores
    need_rabbitmq()
    footprint, left = kill_parent("RabbitMQ(nodes=3)", timeout=240.0, settle=60.0)
    assert footprint.pids and left == []


@pytest.fixture(scope="module")
def cluster():
    need_rabbitmq()
    with RabbitMQ(nodes=3) as mq:
        footprint = Footprint.of(mq)
        yield mq
    assert footprint.wait_gone(60) == []
    assert not listening(mq.epmd_port)  # our epmd went with it, and no node spawned another


@pytest.mark.live
@pytest.mark.engine
def test_three_brokers_form_one_cluster(cluster):
    mq = cluster
    assert sorted(mq.running_nodes()) == [mq.name(i) for i in range(3)]
    mq.declare(1)
    assert mq.leader() == 1  # declared with the client-local leader locator
    print(f"\nRabbitMQ: 3 brokers in one cluster after {mq.start_s:.1f} s")


@pytest.mark.live
@pytest.mark.engine
def test_no_confirmed_message_is_lost_over_five_leader_kills(cluster):
    drill = cluster.drill(trials=KILLS, before=1.0, after=0.5)
    print("\n" + drill.table())
    assert len(drill.trials) == KILLS
    assert drill.lost == 0  # Raft: a confirm means a majority has it
    assert drill.simulated["quorum_lost"] == 0
    assert drill.simulated["classic_lost"] == drill.simulated["classic_confirmed"] > 0
    for t in drill.trials:
        assert t.confirmed > 0
        assert t.new_leader is not None and t.new_leader != t.killed
        assert math.isfinite(t.first_confirm_s)
        assert t.classic_confirmed > 0 and t.classic_lost == t.classic_confirmed
    # each kill is the record every drill returns, the classic queue's beside it
    for t, quorum, classic in zip(drill.trials, drill.drills, drill.classic_drills):
        assert quorum.lost == () and quorum.load.ok == t.confirmed
        assert quorum.first_ok_t - quorum.kill_t == pytest.approx(t.first_confirm_s, abs=0.05)
        assert len(classic.lost) == t.classic_lost and classic.load.ok == t.classic_confirmed
