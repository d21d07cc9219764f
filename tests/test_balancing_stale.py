"""simulate_stale: the periodic-update model (Mitzenmacher 2000), checked at both ends.

With ``refresh = 0`` the snapshot is the truth, so the run is :func:`simulate`'s, bit for bit.
With a snapshot that is never refreshed every count reads 0: least connections' round-robin
tie rule turns it into round robin exactly, and power of two into one random choice (M/M/1
per server). In between, least connections herds and power of two does not.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from halab import balancing as bal

N = 20_000


@pytest.mark.parametrize("policy", ["least_connections", "power_of_two", "random"])
def test_fresh_snapshot_is_the_ordinary_run(policy):
    fresh = bal.simulate(policy, requests=N, seed=4)
    stale = bal.simulate_stale(policy, refresh=0, requests=N, seed=4)
    assert np.array_equal(fresh.server, stale.server)
    assert np.allclose(fresh.departure_times, stale.departure_times, rtol=0, atol=1e-9)


def test_a_never_refreshed_snapshot_makes_least_connections_round_robin():
    stale = bal.simulate_stale("least_connections", refresh=1e6, requests=N, seed=4)
    assert np.array_equal(stale.server, np.arange(N) % 10)


def test_a_never_refreshed_snapshot_makes_power_of_two_one_random_choice():
    stale = bal.simulate_stale("power_of_two", refresh=1e6, requests=100_000, seed=4)
    assert stale.mean == pytest.approx(bal.random_routing_response_time(0.9), rel=0.15)


def test_least_connections_herds_on_old_information_and_power_of_two_does_not():
    lc = bal.simulate_stale("least_connections", refresh=10, requests=50_000, seed=0).mean
    p2 = bal.simulate_stale("power_of_two", refresh=10, requests=50_000, seed=0).mean
    rnd = bal.simulate_stale("random", refresh=10, requests=50_000, seed=0).mean
    assert lc > rnd > p2, (lc, rnd, p2)
    fresh_lc = bal.simulate("least_connections", requests=50_000, seed=0).mean
    assert fresh_lc < p2


@pytest.mark.parametrize("bad", [-1, math.nan, math.inf, "2", True, None, 1e7])
def test_refresh_must_be_a_sane_number(bad):
    with pytest.raises(ValueError, match="refresh"):
        bal.simulate_stale("power_of_two", refresh=bad, requests=100)


def test_the_stale_figure_draws_the_table_it_is_given():
    import matplotlib.pyplot as plt

    from halab.widgets import draw_stale

    means = bal.stale_means(requests=2_000)
    fig = draw_stale(means)
    lines = {line.get_label(): line for line in fig.axes[0].get_lines()}
    drawn = lines["least connections"].get_ydata()
    assert list(drawn) == means["least_connections"][1:]  # refresh 0 is printed, not drawn
    assert lines["random: M/M/1"].get_ydata()[0] == pytest.approx(10.0)
    plt.close(fig)
