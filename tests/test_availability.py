"""halab.availability against closed forms and published figures."""

from __future__ import annotations

import datetime
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from halab import availability as av


def test_steady_state_and_the_common_mistake():
    # MTTF 500 h, MTTR 2 h: 500/502, which rounds to 99.60%, not 99.8%
    assert av.availability(500, 2) == pytest.approx(500 / 502, rel=1e-15)
    assert f"{av.availability(500, 2):.2%}" == "99.60%"
    assert av.mtbf(500, 2) == 502
    assert av.availability(1, 0) == 1.0


def test_downtime_budgets_published_figures():
    # The usual table (e.g. Google SRE book, "Embracing Risk", table 3-1, with a 365-day year):
    # 99.9% allows 8.76 hours a year and 43.2 minutes a 30-day month; 99.99% 52.56 minutes a year.
    assert av.downtime(0.999, "year") == datetime.timedelta(hours=8.76)
    assert av.downtime(0.999, "month") == datetime.timedelta(minutes=43.2)
    assert av.downtime(0.9999, "year") == datetime.timedelta(minutes=52.56)
    assert av.downtime(0.99999, "year") == datetime.timedelta(minutes=5.256)
    assert av.downtime(0.99, "day") == datetime.timedelta(minutes=14.4)
    assert av.downtime(0.99, "week") == datetime.timedelta(hours=1.68)
    # the mistake the lesson corrects: 99.8% is 17.52 hours a year, not 43.2
    assert av.downtime_hours(0.998, "year") == pytest.approx(17.52, rel=1e-12)


def test_nines():
    assert av.nines(0.999) == 3.0  # exactly, as the design promises (0.999 → 3.0)
    assert av.nines(0.99999) == 5.0
    assert av.nines(0.9) == pytest.approx(1.0)
    assert av.nines(0.0) == 0.0
    assert av.nines(1.0) == math.inf
    assert av.from_nines(3) == pytest.approx(0.999)


def test_failure_rate_and_mttf():
    assert av.failure_rate(12, 200, 1000) == pytest.approx(6e-5)
    assert av.mttf_from_rate(av.failure_rate(3, 1, 3000)) == pytest.approx(1000)


def test_structures():
    assert av.series(0.99, 0.99) == pytest.approx(0.9801)
    assert av.parallel(0.99, 0.99) == pytest.approx(0.9999)
    assert av.k_of_n(2, 3, 0.9) == pytest.approx(0.972)
    assert av.k_of_n(1, 4, 0.9) == pytest.approx(av.parallel(*[0.9] * 4))
    assert av.k_of_n(4, 4, 0.9) == pytest.approx(av.series(*[0.9] * 4))
    assert av.n_plus_one(3, 0.99) == pytest.approx(av.k_of_n(3, 4, 0.99))
    # lesson 02's table: N+0 is all four in series; N+2 fails only when three of six are down
    assert av.n_plus_one(4, 0.99, spares=0) == pytest.approx(0.99**4)
    down = sum(math.comb(6, i) * 0.01**i * 0.99 ** (6 - i) for i in range(3, 7))
    assert av.n_plus_one(4, 0.99, spares=2) == pytest.approx(1 - down)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 12), k=st.integers(1, 12), a=st.floats(0, 1))
def test_k_of_n_is_the_binomial_tail(n, k, a):
    k = min(k, n)
    exact = sum(math.comb(n, i) * a**i * (1 - a) ** (n - i) for i in range(k, n + 1))
    assert av.k_of_n(k, n, a) == pytest.approx(exact, abs=1e-12)


def test_common_cause_limits_and_block_model():
    a = av.availability(500, 24)
    assert av.common_cause(500, 24, 0.0, 2) == pytest.approx(av.parallel(a, a))
    assert av.common_cause(500, 24, 1.0, 3) == pytest.approx(a)
    # beta-factor model as blocks: own failures in parallel, the shared part in series
    own, shared = av.availability(500 / 0.9, 24), av.availability(5000, 24)
    assert av.common_cause(500, 24, 0.1, 2) == pytest.approx(
        av.series(av.parallel(own, own), shared)
    )
    # the measured availability of such a system converges to the model (seeded)
    seed = 7
    sim = av.simulate_system(
        [(500 / 0.9, 24)] * 2 + [(5000, 24)],
        lambda up: (up[0] | up[1]) & up[2],
        horizon=2e7,
        seed=seed,
    )
    unavail = 1 - av.common_cause(500, 24, 0.1, 2)
    assert 1 - sim == pytest.approx(unavail, rel=0.08), f"seed={seed}"


def test_two_state_markov_point_availability():
    assert av.availability_at(0, 500, 24) == pytest.approx(1.0, abs=1e-15)
    assert av.availability_at(1e6, 500, 24) == pytest.approx(av.availability(500, 24))
    # the Markov chain's stationary solution equals the closed form
    lam, mu = 1 / 500, 1 / 24
    model = av.MarkovModel(("up", "down"), np.array([[0, lam], [mu, 0]]), (True, False))
    assert model.availability() == pytest.approx(av.availability(500, 24), rel=1e-12)
    # A(t) from the matrix exponential of the generator, independently of the closed form
    from scipy.linalg import expm

    p = np.array([1.0, 0.0]) @ expm(model.generator() * 30.0)
    assert av.availability_at(30.0, 500, 24) == pytest.approx(p[0], rel=1e-12)


def test_active_passive():
    a = av.availability(1000, 4)
    assert av.active_passive(1000, 4, 0.0) == pytest.approx(av.parallel(a, a), rel=1e-12)
    values = [av.active_passive(1000, 4, m / 60) for m in (0, 1, 5, 30, 60)]
    assert all(x > y for x, y in zip(values, values[1:])), "a longer failover is never better"
    # small failover times: about one failover per MTTF of the active, each costing its length
    fo = 1 / 60
    approx = 1 - av.parallel(a, a) + fo / 1000
    assert 1 - av.active_passive(1000, 4, fo) == pytest.approx(approx, rel=0.02)
    model = av.active_passive_model(1000, 4, 5 / 60)
    seed = 3
    t = av.simulate_markov(model, horizon=5e7, seed=seed)
    measured = 1 - t[list(model.up)].sum() / t.sum()
    assert measured == pytest.approx(1 - model.availability(), rel=0.1), f"seed={seed}"


@pytest.mark.parametrize("repair", av.REPAIR_DISTRIBUTIONS)
def test_timeline_converges_to_formula_whatever_the_repair(repair):
    seed = 11
    runs = av.simulated_availability(
        200, 10, horizon=2e5, runs=40, repair=repair, repair_cv=0.5, seed=seed
    )
    a = av.availability(200, 10)
    low, high = av.availability_band(200, 10, 2e5, repair=repair, repair_cv=0.5)
    assert runs.mean() == pytest.approx(a, abs=(high - low) / 4), f"seed={seed}"
    inside = np.mean((runs > low) & (runs < high))
    assert inside >= 0.85, f"{inside:.0%} of runs inside the 95% band (seed={seed})"
    # the band is about right, not just wide: its width matches the runs' spread
    assert np.std(runs) == pytest.approx((high - low) / (2 * 1.96), rel=0.35), f"seed={seed}"


def test_timeline_is_deterministic_and_consistent():
    one = av.simulate_timeline(500, 24, horizon=1e5, seed=5)
    two = av.simulate_timeline(500, 24, horizon=1e5, seed=5)
    assert np.array_equal(one.failures, two.failures) and np.array_equal(one.repairs, two.repairs)
    assert np.all(np.diff(one.failures) > 0) and np.all(one.repairs > one.failures)
    assert one.running_availability(np.array([1e5]))[0] == pytest.approx(one.availability())
    grid = np.linspace(1, 1e5, 200_001)
    assert one.is_up(grid).mean() == pytest.approx(one.availability(), abs=2e-3)


def test_simulate_system_structures():
    seed = 2
    a = av.availability(500, 24)
    got = av.simulate_system(
        [(500, 24)] * 3, lambda up: up.sum(axis=0) >= 2, horizon=5e6, seed=seed
    )
    assert 1 - got == pytest.approx(1 - av.k_of_n(2, 3, a), rel=0.1), f"seed={seed}"
    got = av.simulate_system([(500, 24)] * 2, lambda up: up.all(axis=0), horizon=5e6, seed=seed)
    assert got == pytest.approx(av.series(a, a), abs=3e-3), f"seed={seed}"


def test_error_budget():
    b = av.error_budget(0.999, [12, 7.5, 20], "month")
    assert b.allowed_minutes == pytest.approx(43.2)
    assert b.remaining_minutes == pytest.approx(3.7)
    assert b.spent_fraction == pytest.approx(39.5 / 43.2)


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: av.availability(0, 1), "mttf"),
        (lambda: av.availability(-5, 1), "mttf"),
        (lambda: av.availability(5, -1), "mttr"),
        (lambda: av.availability(float("nan"), 1), "mttf"),
        (lambda: av.nines(1.5), "a"),
        (lambda: av.downtime(0.99, "fortnight"), "period"),
        (lambda: av.downtime(-0.1), "a"),
        (lambda: av.series(), "at least one"),
        (lambda: av.parallel(0.9, 2), "availability"),
        (lambda: av.k_of_n(4, 3, 0.9), "k"),
        (lambda: av.k_of_n(1, 0, 0.9), "n"),
        (lambda: av.common_cause(500, 24, 1.2), "beta"),
        (lambda: av.failure_rate(3, 0, 10), "components"),
        (lambda: av.simulate_timeline(500, 24, horizon=0), "horizon"),
        (lambda: av.simulate_timeline(500, 24, horizon=10, repair="weibull"), "repair"),
        (lambda: av.error_budget(1.0, []), "slo"),
        (lambda: av.active_passive(500, 24, -1), "failover_time"),
    ],
)
def test_bad_input_names_the_parameter(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_downtime_table_and_format():
    rows = av.downtime_table((0.9, 0.999, 0.99999))
    for a, year, month, day in rows:
        assert year == pytest.approx((1 - a) * 8760)
        assert month == pytest.approx((1 - a) * 720)
        assert day == pytest.approx((1 - a) * 24)
    assert av.format_duration(8.76) == "8.76 hours"
    assert av.format_duration(0.72) == "43.2 minutes"
    assert av.format_duration(36.5 * 24) == "36.5 days"
    assert av.format_duration(5.256 / 60) == "5.3 minutes"
    assert av.format_duration(0.00024) == "0.9 seconds"


# -- the same availability, different outages --------------------------------------------


def test_outage_profile_by_hand():
    from halab.availability import outage_profile

    short, long = outage_profile(0.99949, 0.25), outage_profile(0.99949, 24.0)
    assert short.outages_per_year == pytest.approx(0.00051 * 8760 / 0.25)  # 17.87
    assert round(short.outages_per_year) == 18
    assert long.outages_per_year == pytest.approx(0.00051 * 8760 / 24)  # 0.186
    assert round(long.years_between_outages, 1) == 5.4
    assert long.no_outage_year == pytest.approx(math.exp(-long.outages_per_year))
    assert long.over_budget_year == pytest.approx(1 - math.exp(-long.outages_per_year))
    assert (short.bad_year, long.bad_year) == (7.0, 48.0)
    for bad, name in [(1.0, "a"), (0.0, "a"), (math.nan, "a")]:
        with pytest.raises(ValueError, match=name):
            outage_profile(bad, 1.0)
    with pytest.raises(ValueError, match="mttr"):
        outage_profile(0.999, 0.0)


@pytest.mark.parametrize("mttr", [0.25, 24.0])
def test_outage_profile_matches_simulated_years(mttr):
    from halab.availability import outage_profile, simulate_yearly_downtime

    p = outage_profile(0.99949, mttr)
    years = 20_000
    hours = simulate_yearly_downtime(0.99949, mttr, years=years, seed=3)
    budget = 0.00051 * 8760
    print(f"mttr {mttr} h, seed 3, {years} years: mean {hours.mean():.3f} h")
    assert hours.mean() == pytest.approx(budget, rel=0.05)
    for sim, want in [
        (np.mean(hours <= 1e-9), p.no_outage_year),
        (np.mean(hours > budget + 1e-9), p.over_budget_year),
    ]:
        se = math.sqrt(max(want * (1 - want), 1e-4) / years)
        assert abs(sim - want) < 4 * se + 0.01  # + outages cut by a year's end
    assert np.quantile(hours, 0.99) == pytest.approx(p.bad_year, abs=mttr + 0.5)


# -- failover coverage ---------------------------------------------------------------------


def test_active_passive_coverage():
    from halab.availability import (
        active_passive,
        active_passive_model,
        availability,
        nines,
        parallel,
        simulate_markov,
    )

    # full coverage is the old chain
    assert active_passive(500, 4, 5 / 60, coverage=1.0) == active_passive(500, 4, 5 / 60)
    assert active_passive(500, 4, 0.0, 1.0) == pytest.approx(
        parallel(availability(500, 4), availability(500, 4)), rel=1e-12
    )
    # lesson 02's figures
    got = {c: round(nines(active_passive(500, 4, 5 / 60, coverage=c)), 2) for c in (1, 0.99, 0.9)}
    assert got == {1: 3.65, 0.99: 3.52, 0.9: 3.0}
    # 90% coverage costs about what a half-hour failover does
    assert nines(active_passive(500, 4, 0.5)) == pytest.approx(got[0.9], abs=0.05)
    # each failure of the active server adds about (1 - c) MTTR: (1 - c) λ MTTR of the time
    for ft in (0.0, 5 / 60):
        extra = (1 - active_passive(500, 4, ft, 0.95)) - (1 - active_passive(500, 4, ft))
        assert extra == pytest.approx(0.05 * 4 / 500, rel=0.05)
    # the chain against its own simulation
    model = active_passive_model(500, 4, 5 / 60, 0.9)
    time_in = simulate_markov(model, horizon=2e6, seed=5)
    sim = time_in[list(model.up)].sum() / time_in.sum()
    assert 1 - sim == pytest.approx(1 - model.availability(), rel=0.1)  # seed 5
    for bad in (-0.1, 1.1, math.nan):
        with pytest.raises(ValueError, match="coverage"):
            active_passive(500, 4, 0.1, bad)
