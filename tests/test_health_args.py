"""The health-check bounds refuse what no health check can be (issue: bad input everywhere)."""

from __future__ import annotations

import math

import pytest

from halab.live.health import detection_bounds, readmission_bounds


@pytest.mark.parametrize("fall", [-5, 0, 2.5, True, "3", None])
def test_fall_must_be_a_whole_number_of_checks(fall):
    with pytest.raises((ValueError, TypeError), match="fall"):
        detection_bounds(0.2, fall)


@pytest.mark.parametrize("inter", [0, -1, math.nan, math.inf, "2"])
def test_inter_must_be_a_positive_finite_number_of_seconds(inter):
    with pytest.raises((ValueError, TypeError), match="inter"):
        readmission_bounds(inter, 2)


def test_bounds_are_never_negative():
    low, high = detection_bounds(0.2, 1)
    assert 0 <= low < high
    assert readmission_bounds(0.2, 2) == pytest.approx((0.2, 0.4))


@pytest.mark.parametrize("timeout", [math.nan, math.inf, -1, "1"])
def test_a_cluster_wait_must_end(timeout):
    from halab.live import LiveCluster

    cluster = LiveCluster(backends=1)  # not started: the check comes before any wait
    with pytest.raises((ValueError, TypeError), match="timeout"):
        cluster.wait_for("kill", timeout=timeout)


def test_a_cluster_waits_only_for_known_kinds():
    from halab.live import LiveCluster

    with pytest.raises(ValueError, match="kind"):
        LiveCluster(backends=1).wait_for("kil", timeout=0)
