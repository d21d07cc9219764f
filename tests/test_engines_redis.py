"""halab.live.engines.RedisSentinel: a primary, two replicas and three Sentinels, killed live.

The tests marked ``live`` need Debian's ``redis-server`` and ``redis-sentinel``; they skip with
the install hint when these are missing, except under CI=true, where that is a failure. One
engine serves the whole module (it starts in a few seconds, but the Sentinels take a while to
agree); each test leaves it settled for the next.
"""

from __future__ import annotations

import math
import os

import matplotlib
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from halab.live.engines import EngineMissing, Footprint, RedisSentinel, kill_parent  # noqa: E402
from halab.live.engines.redis import (  # noqa: E402
    SentinelEvent,
    failovers,
    model_detection,
    sweep_table,
)
from halab.widgets import draw_drills  # noqa: E402


def need_redis() -> None:
    missing = RedisSentinel.missing()
    if missing:
        message = RedisSentinel.install_hint()
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {message}")
        pytest.skip(message)


# -- no server needed ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kw, word",
    [
        ({"nodes": 1}, "nodes"),
        ({"nodes": 10}, "nodes"),
        ({"sentinels": 0}, "sentinels"),
        ({"down_after_ms": 10}, "down_after_ms"),
        ({"down_after_ms": math.nan}, "down_after_ms"),
        ({"down_after_ms": 500.5}, "down_after_ms"),
        ({"failover_timeout_ms": math.inf}, "failover_timeout_ms"),
        ({"quorum": 4}, "quorum"),
        ({"quorum": 0}, "quorum"),
    ],
)
def test_bad_settings(kw, word):
    with pytest.raises(ValueError, match=word):
        RedisSentinel(**kw)


def test_a_missing_redis_says_how_to_install(monkeypatch):
    monkeypatch.setattr(RedisSentinel, "programs", ("halab-no-such-redis",))
    with pytest.raises(EngineMissing, match="apt-get install redis-server redis-sentinel"):
        RedisSentinel()


def test_the_model_detects_in_down_after_plus_up_to_one_ping():
    for ms in (250, 1000, 2000):
        qos, expected = model_detection(ms)
        ping = min(1.0, ms / 1000)
        assert ms / 1000 <= qos.detection_time <= ms / 1000 + ping
        assert expected == 0.0


def test_the_model_suspects_a_stall_by_its_length_and_phase():
    # 1000 ms: timeout 2 s after the last reply, PINGs every 1 s: a stall of p s is suspected
    # when it starts later than 2 - p into the period
    assert model_detection(1000, (0.7,), sentinels=1)[1] == 0.0
    assert model_detection(1000, (3.5,), sentinels=1)[1] == 1.0
    half = model_detection(1000, (1.5,), sentinels=1, repeats=400)[1]
    assert 0.4 < half < 0.6
    three = model_detection(1000, (1.5,), sentinels=3, repeats=400)[1]
    assert three == pytest.approx(1 - (1 - half) ** 3)


def test_bad_model_settings():
    with pytest.raises(ValueError, match="stalls_s"):
        model_detection(1000, (math.nan,))
    with pytest.raises(ValueError, match="down_after_ms"):
        model_detection(0)


def test_a_failover_announced_by_every_sentinel_counts_once():
    switch = "halab 127.0.0.1 1 127.0.0.1 2"
    events = [
        SentinelEvent(0.9, 1, "+promoted-slave", "slave 127.0.0.1:2 127.0.0.1 2 @ halab"),
        SentinelEvent(1.0, 0, "+switch-master", switch),
        SentinelEvent(1.1, 1, "+switch-master", switch),
        SentinelEvent(6.0, 2, "+switch-master", switch),
    ]
    assert [e.t for e in failovers(events, 0.0)] == [0.9]
    assert failovers(events, 1.0) == []


# -- a real Redis ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def redis_set():
    need_redis()
    with RedisSentinel(nodes=3, sentinels=3, down_after_ms=1000) as rs:
        footprint = Footprint.of(rs)
        yield rs
    assert footprint.wait_gone(30) == []


@pytest.mark.live
@pytest.mark.engine
def test_it_starts_on_loopback_with_node_0_primary(redis_set):
    rs = redis_set
    assert rs.leader() == 0
    assert rs.wait_settled(30)
    assert len(rs.sentinel_ports) == 3
    conf = (rs.node_dir(3) / "sentinel.conf").read_text()
    assert "bind 127.0.0.1" in conf
    assert f"sentinel down-after-milliseconds halab {rs.down_after_ms}" in conf
    with rs.client(0) as c:
        assert c.config_get("bind")["bind"] == "127.0.0.1"
        assert c.config_get("save")["save"] == ""
    import redis

    with pytest.raises(redis.exceptions.AuthenticationError), redis.Redis(port=rs.port(0)) as c:
        c.ping()  # loopback is shared: no password, no answer
    print(f"\nRedis + 3 Sentinels ready in {rs.start_s:.2f} s")


@pytest.mark.live
@pytest.mark.engine
def test_killing_the_primary_promotes_a_replica(redis_set):
    rs = redis_set
    drill = rs.drill(trials=2)
    print("\n" + drill.table())
    for t in drill.trials:
        print(t)
        assert t.new_leader is not None and t.new_leader != t.killed
        assert math.isfinite(t.leader_s) and math.isfinite(t.write_s)
        assert t.leader_s > rs.down_after_ms / 1000 * 0.5  # not before the timeout could fire
    assert rs.settled() or rs.wait_settled(30)


@pytest.mark.live
@pytest.mark.engine
def test_a_revived_primary_comes_back_a_replica_with_the_data(redis_set):
    rs = redis_set
    assert rs.wait_settled(30)
    old = rs.leader()
    with rs.master_client(timeout=5.0) as c:
        c.set("halab:kept", "yes")
        c.wait(rs.nodes - 1, 2000)
    rs.kill(old)
    rs.revive(old)  # waits for the Sentinels to promote another node first
    assert rs.leader() != old
    assert rs.wait_settled(30)
    with rs.client(old) as c:
        assert c.info("replication")["role"] == "slave"
        assert c.get("halab:kept") == "yes"  # copied from the new primary, not empty


@pytest.mark.live
@pytest.mark.engine
def test_a_short_timeout_fails_over_a_stalled_primary(redis_set):
    rs = redis_set
    rows = rs.sweep((250, 2000), kills=1, pauses_s=(1.0,), settle=2.0)
    print("\n" + sweep_table(rows))
    short, long = rows
    assert short.spurious_sdown == 1 and short.model_mistakes == 1.0  # 1 s > 0.5 s
    assert long.spurious_sdown == 0 and long.spurious_failovers == 0  # 1 s < 2 s
    assert long.model_mistakes == 0.0
    assert short.failover_median_s < long.failover_median_s
    # each kill is the record every drill returns, drawn by the figure every drill shares
    fig = draw_drills(drills={f"{r.down_after_ms} ms": r.drills[0] for r in rows})
    for ax, r in zip(fig.axes, rows):
        drill = r.drills[0]
        assert drill.leader_t - drill.kill_t == pytest.approx(r.failover_s[0], abs=0.1)
        assert drill.first_ok_t - drill.kill_t == pytest.approx(r.write_s[0])
        assert drill.summary()["lost"] is not None and drill.failed > 0
        assert ax.get_title().startswith(f"{r.down_after_ms} ms: new primary after")
    plt.close(fig)
    rs.set_down_after(1000)


@pytest.mark.live
@pytest.mark.engine
def test_behind_the_crash_proxy_async_loses_what_was_in_flight_and_wait_nothing(redis_set):
    rs = redis_set
    lossy = rs.async_loss("async", delay=0.02, duration=1.5)
    safe = rs.async_loss("wait", delay=0.02, duration=1.5)
    print(f"\n{lossy}\n{safe}")
    assert lossy.proxied == 2 and lossy.lost > 0
    assert lossy.expected / 2 <= lossy.lost <= 2 * lossy.expected + 2  # the model: λ x lag
    assert safe.acked > 0 and safe.lost == 0  # WAIT 1: a replica had each one
    assert rs.wait_settled(30)


@pytest.mark.live
@pytest.mark.engine
def test_nothing_is_left_when_the_parent_is_killed():
    need_redis()
    footprint, left = kill_parent("RedisSentinel(nodes=3)")
    assert footprint.pids and left == []
