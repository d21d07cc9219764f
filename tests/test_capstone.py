"""The capstone's prediction, recomputed from the closed forms of the earlier lessons."""

from __future__ import annotations

import math

import pytest

from halab import availability as av
from halab import capstone, election, recovery
from halab.capstone import Design, predict
from halab.live import health


def test_default_prediction_is_the_tiers_in_series():
    d = capstone.Design()
    p = capstone.predict(d)
    # app tier: one replica's MTTR is the supervisor's detection + decision + restart + warm-up
    sup = recovery.Recovery(probe_period=d.probe_period, restart=d.restart, warm_up=d.warm_up)
    a_server = sup.availability(d.app_mttf * 3600)
    assert p.tiers["app"] == pytest.approx(av.k_of_n(d.app_needed, d.app_servers, a_server))
    # balancer: the active-passive Markov chain of lesson 02
    assert p.tiers["balancer"] == pytest.approx(
        av.active_passive(d.balancer_mttf, d.balancer_mttr, d.balancer_failover / 3600)
    )
    # database: a majority must be up, and each leader crash costs one election
    a_node = d.db_mttf / (d.db_mttf + d.db_mttr)
    no_majority = 3 * a_node * (1 - a_node) ** 2 + (1 - a_node) ** 3  # 2-of-3 fails
    t_elect = election.expected_election_time(d.election_timeout, nodes=d.db_nodes)
    assert p.db_failover == pytest.approx(t_elect)
    assert p.tiers["database"] == pytest.approx(1 - no_majority - t_elect / 3600 / d.db_mttf)
    assert p.availability == pytest.approx(math.prod(p.tiers.values()))
    assert p.yearly_downtime_minutes == pytest.approx((1 - p.availability) * 525_600)
    assert sum(p.downtime_minutes().values()) == pytest.approx(p.yearly_downtime_minutes, rel=1e-3)
    assert p.failovers_per_year == pytest.approx(8760 / d.db_mttf)


def test_recovery_point_and_client_errors():
    assert capstone.predict(capstone.Design(replication="sync")).rpo_writes_per_failover == 0
    assert capstone.predict(capstone.Design(replication="semisync")).rpo_writes_per_failover == 0
    p = capstone.predict(capstone.Design(replication="async", write_rate=200, lag=0.05))
    assert p.rpo_writes_per_failover == pytest.approx(10.0)
    one = capstone.predict(capstone.Design(replication="async", db_nodes=1))
    assert one.rpo_writes_per_failover == 0 and one.failovers_per_year == 0
    assert capstone.predict(capstone.Design(retries=2)).client_errors_per_app_crash == 0
    # without retries: the dead replica's share of the requests until the checks take it out
    d = capstone.Design(retries=0, inter=0.2, fall=2, app_servers=4, consecutive_5xx=None)
    p = capstone.predict(d, rate=100)
    assert p.client_errors_per_app_crash == pytest.approx(100 / 4 * (0.2 + 0.4) / 2)
    # ... or until passive ejection after consecutive_5xx failures, if that is sooner
    d = capstone.Design(retries=0, inter=0.2, fall=2, app_servers=4, consecutive_5xx=3)
    assert capstone.predict(d, rate=100).client_errors_per_app_crash == 3
    d = capstone.Design(retries=0, inter=0.2, fall=2, app_servers=4, consecutive_5xx=50)
    assert capstone.predict(d, rate=100).client_errors_per_app_crash == pytest.approx(7.5)


def test_more_redundancy_never_hurts_and_budget_adds_up():
    base = capstone.predict(capstone.Design()).availability
    assert capstone.predict(capstone.Design(app_servers=4)).availability >= base
    assert capstone.predict(capstone.Design(db_nodes=5)).availability > base
    assert capstone.predict(capstone.Design(db_nodes=1)).availability < base
    assert capstone.predict(capstone.Design(balancer_failover=60)).availability < base
    d = capstone.Design(slo=0.9999)
    b = capstone.budget(d)
    assert b.allowed_minutes == pytest.approx(4.32)
    assert b.spent_minutes == pytest.approx(
        av.downtime_hours(capstone.predict(d).availability, "month") * 60
    )


def test_drill_prediction_uses_lesson_06_bounds():
    d = capstone.Design(inter=0.25, fall=3, rise=2)
    e = capstone.drill_prediction(d)
    assert (
        e.removed_within
        == pytest.approx(health.detection_bounds(0.25, 3)[1])
        == pytest.approx(0.75)
    )
    assert e.readmitted_within == pytest.approx(0.5)
    assert e.failed == 0
    assert capstone.Design().live_options()["backends"] == 3


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("app_servers", 0),
        ("app_needed", 4),
        ("retries", -1),
        ("db_nodes", 0),
        ("app_mttf", 0),
        ("lag", -1),
        ("policy", "fastest"),
        ("replication", "eventual"),
        ("election_timeout", (0.3, 0.1)),
        ("slo", 1.0),
        ("inter", 0),
    ],
)
def test_bad_design_names_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        capstone.Design(**{field: value})


def test_semisync_loses_writes_only_after_its_timeout():
    from halab.capstone import writes_lost

    semi = Design()
    assert semi.replication == "semisync" and semi.semisync_timeout == 10.0
    assert writes_lost(semi) == 0.0 == predict(semi).rpo_writes_per_failover
    assert writes_lost(semi, cut_for=9.0) == 0.0  # the waiting writes were never acknowledged
    assert writes_lost(semi, cut_for=30.0) == pytest.approx(50.0 * 30.0, rel=1e-9)
    assert writes_lost(Design(semisync_timeout=60.0), cut_for=30.0) == 0.0
    assert writes_lost(Design(replication="sync"), cut_for=30.0) == 0.0
    assert writes_lost(Design(replication="async"), cut_for=30.0) == pytest.approx(50 * 30.2)
    assert writes_lost(Design(db_nodes=1, replication="async"), cut_for=30.0) == 0.0
    with pytest.raises(ValueError, match="cut_for"):
        writes_lost(semi, cut_for=-1.0)
    with pytest.raises(ValueError, match="semisync_timeout"):
        Design(semisync_timeout=0.0)


def test_recovery_point_is_a_time_and_the_writes_follow_from_it():
    p = predict(Design(replication="async"))
    assert p.recovery_point == pytest.approx(0.2)  # the lag, seconds
    assert p.rpo_writes_per_failover == pytest.approx(0.2 * 50.0)
    assert predict(Design()).recovery_point == 0.0
