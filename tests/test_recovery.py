"""Tests of halab.recovery: backoff schedules, the kubelet's crash loop, MTTR and availability."""

from __future__ import annotations

import doctest
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

import halab.recovery
from halab import availability as av
from halab.recovery import (
    KUBERNETES,
    Backoff,
    BackoffPolicy,
    Recovery,
    backoff_delay,
    backoff_schedule,
    crash_loop,
    simulate_supervised,
    warm_up_time,
)

SEEDS = st.integers(min_value=0, max_value=2**32 - 1)
POLICIES = st.tuples(
    st.floats(0.01, 100.0),  # base
    st.floats(1.0, 1000.0),  # cap / base
    st.floats(1.0, 4.0),  # factor
)


def test_module_docstring_and_examples_run_as_written():
    result = doctest.testmod(halab.recovery)
    assert result.attempted >= 10 and result.failed == 0


# --- the kubelet's published numbers ------------------------------------------------------


def test_kubernetes_backoff_is_10s_doubling_capped_at_five_minutes():
    # kubernetes.io pod lifecycle: "10s, 20s, 40s, ... capped at five minutes"
    assert backoff_schedule(8).tolist() == [10, 20, 40, 80, 160, 300, 300, 300]
    assert KUBERNETES.reset_after == 10 * 60
    assert [backoff_delay(n) for n in (0, 1, 5, 50, 5000)] == [10, 20, 300, 300, 300]


def test_crash_loop_under_the_kubelet_matches_the_hand_computed_restarts():
    loop = crash_loop(2 * 3600.0, run_time=0.0)
    # first restart immediate (no backoff entry yet), then 10, 20, 40, 80, 160, 300, 300, ...
    assert loop.delays[:9].tolist() == [0, 10, 20, 40, 80, 160, 300, 300, 300]
    assert loop.restarts[:8].tolist() == [0, 10, 30, 70, 150, 310, 610, 910]
    # 610 + 300 k <= 3600: k = 0..9, plus the six before the cap: 16 in the first hour
    assert int(loop.restart_count(3600.0)) == 16
    # at the cap the restarts come every 300 s: 12 in the second hour
    assert int(loop.restart_count(7200.0)) - 16 == 12
    assert np.all(loop.gaps()[6:] == 300.0)
    assert np.all(np.diff(loop.gaps()) >= 0), "the time between restarts never shrinks"


def test_crash_loop_gaps_add_run_restart_detection_and_decision():
    r = Recovery(probe_period=0.0, decision=2.0, restart=3.0, warm_up=10.0)
    loop = crash_loop(5000.0, run_time=4.0, recovery=r)
    cycle = 3.0 + 4.0 + 2.0  # start, run, decide (the probe sees the exit at once)
    want_delays = [0, 10, 20, 40, 80, 160, 300, 300]
    assert loop.delays[:8].tolist() == want_delays
    # the first crash comes after the first start and run
    assert loop.crashes[0] == pytest.approx(cycle - 2.0)
    want = np.cumsum([cycle + d for d in want_delays])
    assert loop.restarts[:8] == pytest.approx(want)


def test_a_worker_that_runs_past_ten_minutes_restarts_at_once_every_time():
    loop = crash_loop(20_000.0, run_time=601.0)
    assert len(loop.delays) >= 30 and np.all(loop.delays == 0.0)
    loop = crash_loop(20_000.0, run_time=599.0)
    assert loop.delays[:5].tolist() == [0, 10, 20, 40, 80]


def test_crash_loop_without_a_cap_and_around_the_reset():
    # no cap: the waits keep doubling, 0, 10, 20, ..., 2560 s
    uncapped = crash_loop(7200.0, policy=BackoffPolicy(cap=math.inf))
    assert uncapped.restarts.tolist() == [0, 10, 30, 70, 150, 310, 630, 1270, 2550, 5110]
    # a day of crashes 540 s after each start: 540 + (0, 10, 20, 40, 80, 160), then 840 s apart
    short = crash_loop(86400.0, run_time=540.0)
    sixth = 6 * 540 + 10 + 20 + 40 + 80 + 160
    assert short.restarts[5] == sixth
    assert len(short.restarts) == 6 + (86400 - sixth) // 840
    # 660 s runs outlive the 600 s reset: restarted at once, every 660 s
    assert len(crash_loop(86400.0, run_time=660.0).restarts) == 86400 // 660


def test_backoff_state_follows_kubelets_has_expired_rule():
    b = Backoff(KUBERNETES)
    waits = [b.next(ran) for ran in (0, 5, 5, 700, 1, 1, 600, 600.5)]
    # a run longer than 600 s starts afresh; exactly 600 s does not (strict ">" in hasExpired)
    assert waits == [0, 10, 20, 0, 10, 20, 40, 0]


# --- schedules: exact bounds and properties over seeds -------------------------------------


@settings(max_examples=60, deadline=None)
@given(POLICIES)
def test_no_jitter_schedule_is_monotone_capped_and_reaches_the_cap(params):
    base, ratio, factor = params
    cap = base * ratio
    waits = backoff_schedule(80, base=base, cap=cap, factor=factor, jitter="none")
    assert waits[0] == pytest.approx(min(base, cap))
    assert np.all(np.diff(waits) >= 0), f"not monotone for {params}"
    assert np.all(waits <= cap) and np.all(waits >= base)
    # the same schedule, built by repeated multiplication instead of powers
    d, want = base, []
    for _ in range(80):
        want.append(min(cap, d))
        d = min(cap, d * factor)
    assert waits == pytest.approx(want, rel=1e-12)
    if factor >= 1.1:
        assert waits[-1] == cap, f"the cap {cap} is not reached in 80 attempts for {params}"


@settings(max_examples=60, deadline=None)
@given(SEEDS, st.sampled_from(["full", "equal", "decorrelated"]), POLICIES)
def test_every_jittered_wait_lies_within_its_bounds(seed, jitter, params):
    base, ratio, factor = params
    cap = base * ratio
    waits = backoff_schedule(40, base=base, cap=cap, factor=factor, jitter=jitter, seed=seed)
    ceilings = np.minimum(cap, base * factor ** np.arange(40.0))
    msg = f"seed={seed} jitter={jitter} base={base} cap={cap} factor={factor}"
    assert np.all((waits >= 0) & (waits <= cap)), msg
    if jitter == "full":
        assert np.all(waits <= ceilings), msg
    elif jitter == "equal":
        assert np.all((waits >= ceilings / 2) & (waits <= ceilings)), msg
    else:  # decorrelated: in [base, cap], at most three times the previous wait
        assert np.all(waits >= base), msg
        prev = np.concatenate([[base], waits[:-1]])
        assert np.all(waits <= 3 * prev * (1 + 1e-12)), msg


def test_same_seed_same_schedule_and_different_seeds_differ():
    for jitter in ("full", "equal", "decorrelated"):
        a = backoff_schedule(12, jitter=jitter, seed=7)
        assert np.array_equal(a, backoff_schedule(12, jitter=jitter, seed=7))
        assert not np.array_equal(a, backoff_schedule(12, jitter=jitter, seed=8))
        rng = np.random.default_rng(7)
        assert np.array_equal(a, backoff_schedule(12, jitter=jitter, rng=rng))


@pytest.mark.parametrize(
    "jitter, low, high",
    [("full", 0.0, 1.0), ("equal", 0.5, 1.0)],
)
def test_jittered_waits_are_uniform_on_their_interval(jitter, low, high):
    seed = 20240
    rng = np.random.default_rng(seed)
    waits = np.array([backoff_schedule(6, jitter=jitter, rng=rng) for _ in range(4000)])
    ceilings = backoff_schedule(6)
    for n, v in enumerate(ceilings):
        p = stats.kstest(waits[:, n], stats.uniform(low * v, (high - low) * v).cdf).pvalue
        assert p > 1e-4, f"attempt {n} of {jitter} jitter is not uniform (p={p:.2g}, seed={seed})"
    mean = waits.mean(axis=0) / ceilings
    assert mean == pytest.approx((low + high) / 2, abs=0.02), f"seed={seed}"


def test_decorrelated_jitter_follows_its_recurrence():
    # the first wait is uniform(base, 3 base); KS over many seeds
    base = 10.0
    first = np.array([backoff_schedule(1, jitter="decorrelated", seed=s)[0] for s in range(3000)])
    p = stats.kstest(first, stats.uniform(base, 2 * base).cdf).pvalue
    assert p > 1e-4, f"first decorrelated wait not uniform on [10, 30] (p={p:.2g}, seeds 0-2999)"
    # with a huge cap its mean grows by E[uniform(base, 3 s)] = (base + 3 E[s]) / 2 each step
    rng = np.random.default_rng(5)
    w = np.array(
        [backoff_schedule(4, jitter="decorrelated", cap=1e9, rng=rng) for _ in range(20000)]
    )
    want = [20.0]
    for _ in range(3):
        want.append((base + 3 * want[-1]) / 2)
    assert w.mean(axis=0) == pytest.approx(want, rel=0.03), "seed=5"


# --- the mean backoff per crash ------------------------------------------------------------


def _truncated_series(policy: BackoffPolicy, q: float, terms: int = 4000) -> float:
    m1 = {"none": 1.0, "full": 0.5, "equal": 0.75}[policy.jitter]
    shift = 1 if policy.first_immediate else 0
    total, ceiling = 0.0, policy.base
    for j in range(terms):
        if j >= shift:
            total += (1 - q) * q**j * m1 * ceiling
            ceiling = min(policy.cap, ceiling * policy.factor)
    return total


@pytest.mark.parametrize("q", [0.0, 0.1, 0.5, 0.9, 0.99])
@pytest.mark.parametrize("jitter", ["none", "full", "equal"])
@pytest.mark.parametrize("first_immediate", [True, False])
def test_mean_wait_closed_form_matches_the_series(q, jitter, first_immediate):
    policy = BackoffPolicy(jitter=jitter, first_immediate=first_immediate)
    mean, second = policy.wait_moments(q)
    assert mean == pytest.approx(_truncated_series(policy, q), rel=1e-9, abs=1e-12)
    assert second >= mean**2 - 1e-9


def test_mean_wait_matches_a_simulated_streak():
    seed, q = 11, 0.8
    rng = np.random.default_rng(seed)
    policy = BackoffPolicy(jitter="full")
    b = Backoff(policy, rng)
    ran = np.where(rng.random(100_000) < q, 1.0, 10_000.0)  # short or long runs
    waits = np.array([b.next(r) for r in ran])
    mean, second = policy.wait_moments(q)
    assert waits.mean() == pytest.approx(mean, rel=0.02), f"seed={seed}"
    assert (waits**2).mean() == pytest.approx(second, rel=0.03), f"seed={seed}"


def test_mean_wait_edges():
    assert KUBERNETES.wait_moments(0.0) == (0.0, 0.0)  # isolated crashes: restart at once
    assert KUBERNETES.wait_moments(1.0) == (300.0, 90000.0)  # a crash loop sits at the cap
    assert BackoffPolicy(first_immediate=False).wait_moments(0.0) == (10.0, 100.0)
    with pytest.raises(ValueError, match="jitter"):
        BackoffPolicy(jitter="decorrelated").wait_moments(0.5)


# --- detection, MTTR, availability ------------------------------------------------------------


def test_probe_detection_time_matches_probes_at_a_random_phase():
    seed = 3
    rng = np.random.default_rng(seed)
    r = Recovery(probe_period=10.0, failure_threshold=3)
    # probes every 10 s from a random phase; a crash at a random time; the third probe after
    crash = rng.uniform(0, 1000, 20000)
    phase = rng.uniform(0, 10, 20000)
    first = phase + 10.0 * np.ceil((crash - phase) / 10.0)
    probed = first + 2 * 10.0 - crash
    drawn = np.array([r.detection_delay(rng) for _ in range(20000)])
    assert r.mean_detection() == 25.0
    assert probed.mean() == pytest.approx(25.0, abs=0.1), f"seed={seed}"
    assert drawn.mean() == pytest.approx(25.0, abs=0.1), f"seed={seed}"
    assert drawn.var() == pytest.approx(r.detection_variance(), rel=0.05), f"seed={seed}"
    p = stats.ks_2samp(probed, drawn).pvalue
    assert p > 1e-4, f"detection times differ from probes (p={p:.2g}, seed={seed})"


def test_mttr_is_the_sum_of_its_parts_and_availability_reuses_lesson_01():
    r = Recovery(probe_period=10, failure_threshold=3, decision=2, restart=8, warm_up=45)
    mttf = 7 * 86400.0
    parts = r.parts(mttf)
    assert list(parts) == ["detection", "decision", "backoff", "restart", "warm-up"]
    assert parts["detection"] == 25.0
    assert r.mttr(mttf) == pytest.approx(25 + 2 + parts["backoff"] + 8 + 45)
    assert r.availability(mttf) == av.availability(mttf, r.mttr(mttf))
    assert r.downtime_per_year(mttf) == pytest.approx(
        av.downtime(r.availability(mttf), "year").total_seconds() / 3600
    )


def test_short_crash_probability():
    r = Recovery(restart=5.0, warm_up=95.0)
    # it must serve less than 600 - 100 = 500 s for the streak to go on
    assert r.short_crash(1000.0) == pytest.approx(1 - math.exp(-0.5))
    assert Recovery(restart=300.0, warm_up=300.0).short_crash(10.0) == 0.0
    never = Recovery(policy=BackoffPolicy(reset_after=math.inf))
    assert never.short_crash(1e9) == 1.0


@pytest.mark.parametrize(
    "mttf, recovery, days",
    [
        (86400.0, Recovery(probe_period=10, decision=1, restart=5, warm_up=60), 365),
        # crashes every few minutes: the backoff dominates the repair time
        (120.0, Recovery(probe_period=2, decision=0.5, restart=1, warm_up=4), 5),
        (
            300.0,
            Recovery(
                probe_period=5,
                decision=1,
                restart=2,
                warm_up=10,
                policy=BackoffPolicy(jitter="equal"),
            ),
            5,
        ),
    ],
)
def test_simulated_availability_matches_the_formula(mttf, recovery, days):
    seed, workers = 17, 20
    run = simulate_supervised(mttf, recovery, horizon=days * 86400.0, workers=workers, seed=seed)
    measured = run.availabilities()
    want = recovery.availability(mttf)
    # a t-statistic from the workers' own spread: valid even when outages are correlated
    z = (measured.mean() - want) / (measured.std(ddof=1) / math.sqrt(workers))
    assert abs(z) < 4, (
        f"mean measured availability {measured.mean():.6f} vs formula {want:.6f} (z={z:.1f}, "
        f"seed={seed})"
    )
    # the mean outage is the MTTR
    downs = run.downtimes()
    assert downs.mean() == pytest.approx(recovery.mttr(mttf), rel=0.05), f"seed={seed}"


def test_band_covers_about_95_percent_of_workers():
    seed, mttf = 4, 6 * 3600.0
    r = Recovery(probe_period=10, decision=1, restart=5, warm_up=60)
    horizon = 60 * 86400.0
    measured = simulate_supervised(
        mttf, r, horizon=horizon, workers=200, seed=seed
    ).availabilities()
    low, high = r.band(mttf, horizon)
    inside = np.mean((measured >= low) & (measured <= high))
    # 200 workers, p = 0.95: 3 binomial standard deviations is about +-4.6 %
    assert 0.89 <= inside <= 1.0, f"{inside:.1%} inside the 95% band (seed={seed})"


def test_supervised_run_is_deterministic_and_records_its_decisions():
    r = Recovery(probe_period=10, decision=1, restart=5, warm_up=60)
    a = simulate_supervised(3600.0, r, horizon=86400.0, workers=3, seed=9)
    b = simulate_supervised(3600.0, r, horizon=86400.0, workers=3, seed=9)
    c = simulate_supervised(3600.0, r, horizon=86400.0, workers=3, seed=10)
    assert np.array_equal(a.availabilities(), b.availabilities())
    assert not np.array_equal(a.availabilities(), c.availabilities())
    decisions = [rec for rec in a.trace if rec.kind == "backoff"]
    crashes = [rec for rec in a.trace if rec.kind == "crash"]
    restarts = sum(len(x) for x in a.restarts)
    assert len(decisions) >= restarts >= len(crashes) - 3 > 0
    for t in a.timelines:
        assert np.all(t.repairs > t.failures)
        assert np.all(t.failures[1:] >= t.repairs[:-1]), "outages overlap"


# --- warm-up: persistent volume versus a fresh replica ---------------------------------------


def _copy_until_caught_up(missing: float, copy_rate: float, write_rate: float, dt=1e-3):
    """Step the copy forward until what was copied covers what is missing plus new writes."""
    copied, t = 0.0, 0.0
    while copied < missing + write_rate * t:
        copied += copy_rate * dt
        t += dt
    return t


def test_warm_up_matches_stepping_the_copy():
    fresh = warm_up_time(2000.0, copy_rate=100.0, write_rate=20.0)
    assert fresh == pytest.approx(_copy_until_caught_up(2000.0, 100.0, 20.0), abs=2e-3)
    kept = warm_up_time(2000.0, copy_rate=100.0, write_rate=20.0, persistent=True, outage=40.0)
    assert kept == pytest.approx(_copy_until_caught_up(20.0 * 40.0, 100.0, 20.0), abs=2e-3)
    assert warm_up_time(5000.0, copy_rate=50.0) == 100.0  # no writes: data / rate
    assert warm_up_time(5000.0, copy_rate=50.0, persistent=True, outage=60.0) == 0.0


def test_warm_up_grows_with_data_only_without_a_volume():
    sizes = [1e3, 1e4, 1e5]
    fresh = [warm_up_time(d, copy_rate=100, write_rate=5) for d in sizes]
    kept = [warm_up_time(d, copy_rate=100, write_rate=5, persistent=True, outage=60) for d in sizes]
    assert fresh[1] == pytest.approx(10 * fresh[0]) and fresh[2] == pytest.approx(10 * fresh[1])
    assert kept[0] == kept[1] == kept[2]


def test_the_lessons_volume_versus_fresh_figures():
    mttf = 86400.0
    outage = 25.0 + 1.0 + 5.0  # mean detection (10 s probes x 3) + decision + restart
    fresh = warm_up_time(50_000, copy_rate=100, write_rate=5)
    kept = warm_up_time(50_000, copy_rate=100, write_rate=5, persistent=True, outage=outage)
    assert fresh == pytest.approx(50_000 / 95) and kept == pytest.approx(5 * 31 / 95)
    for warm, hours in ((fresh, 56.14), (kept, 3.31)):
        r = Recovery(decision=1.0, restart=5.0, warm_up=warm)
        q = 1 - math.exp(-max(0.0, 600 - 5 - warm) / mttf)
        backoff = sum((1 - q) * q**j * min(300, 10 * 2 ** (j - 1)) for j in range(1, 60))
        mttr = outage + backoff + warm
        assert r.downtime_per_year(mttf) == pytest.approx(mttr / (mttf + mttr) * 8760)
        assert r.downtime_per_year(mttf) == pytest.approx(hours, abs=0.005)


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: backoff_schedule(5, base=10, cap=5), "cap"),
        (lambda: backoff_schedule(5, base=-1), "base"),
        (lambda: backoff_schedule(5, base=0), "base"),
        (lambda: backoff_schedule(5, factor=0), "factor"),
        (lambda: backoff_schedule(5, factor=-2), "factor"),
        (lambda: backoff_schedule(5, factor=0.5), "factor"),
        (lambda: backoff_schedule(-1), "attempts"),
        (lambda: backoff_schedule(2.5), "attempts"),
        (lambda: backoff_schedule(5, jitter="gaussian"), "jitter"),
        (lambda: backoff_schedule(5, cap=float("nan")), "cap"),
        (lambda: backoff_delay(-1), "attempt"),
        (lambda: BackoffPolicy(base=30, cap=10), "cap"),
        (lambda: BackoffPolicy(reset_after=0), "reset_after"),
        (lambda: BackoffPolicy(factor=0), "factor"),
        (lambda: Recovery(decision=-1), "decision"),
        (lambda: Recovery(probe_period=-5), "probe_period"),
        (lambda: Recovery(failure_threshold=0), "failure_threshold"),
        (lambda: Recovery(restart=math.inf), "restart"),
        (lambda: Recovery(warm_up=-0.1), "warm_up"),
        (lambda: Recovery(policy="kubelet"), "policy"),
        (lambda: Recovery().availability(0), "mttf"),
        (lambda: Backoff(KUBERNETES).next(-1), "ran"),
        (lambda: simulate_supervised(-1.0), "mttf"),
        (lambda: simulate_supervised(10.0, workers=0), "workers"),
        (lambda: simulate_supervised(10.0, horizon=0), "horizon"),
        (lambda: crash_loop(0.0), "duration"),
        (lambda: crash_loop(10.0, run_time=-1), "run_time"),
        (lambda: warm_up_time(-1, copy_rate=10), "data"),
        (lambda: warm_up_time(10, copy_rate=10, write_rate=10), "copy_rate"),
        (lambda: warm_up_time(10, copy_rate=10, write_rate=-1), "write_rate"),
        (lambda: warm_up_time(10, copy_rate=10, outage=-1), "outage"),
    ],
)
def test_bad_input_raises_value_error_naming_the_parameter(call, name):
    with pytest.raises(ValueError, match=rf"^{name} must"):
        call()


# --- the lesson's panels (halab.widgets, lesson 08 section) --------------------------------


def _panels():
    from halab import widgets

    return [
        widgets.backoff_panel,
        widgets.crash_loop_panel,
        widgets.mttr_panel,
        widgets.warm_up_panel,
    ]


def _line(fig, label_start, ax_index):
    for line in fig.axes[ax_index].get_lines():
        if line.get_label().startswith(label_start):
            return np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)
    raise AssertionError(f"no line labelled {label_start!r}")


@pytest.mark.parametrize("factory", _panels(), ids=lambda f: f.__name__)
def test_every_control_redraws_and_no_figure_leaks(factory):
    import matplotlib.pyplot as plt

    panel = factory()
    before = plt.get_fignums()
    for name, control in panel.controls.items():
        updates = panel.updates
        if hasattr(control, "options"):
            options = list(control.options)
            new = options[-1] if control.value != options[-1] else options[0]
        else:
            new = control.max if control.value != control.max else control.min
        panel.set(**{name: new})
        assert panel.updates == updates + 1, f"moving {name} did not redraw"
        assert panel.error is None, f"moving {name} to {new!r}: {panel.error}"
    assert plt.get_fignums() == before, "panels must close their figures"


def test_mttr_panel_draws_the_formula_and_one_marker_per_worker():
    from halab import widgets

    panel = widgets.mttr_panel()
    panel.set(warm_up=300.0)
    mttf = 24 * 3600.0
    backoff = Recovery(warm_up=300.0, decision=1.0, restart=5.0).expected_backoff(mttf)
    want = (1 - av.availability(mttf, 25 + 1 + backoff + 5 + 300)) * 8760
    _, y = _line(panel.figure, "formula", 1)
    assert y == pytest.approx([want, want])
    x, y = _line(panel.figure, "simulated", 1)
    assert len(x) == 16 and np.all(y > 0)
    assert abs(y.mean() - want) < 4 * 0.5 * want / math.sqrt(16), "seed=0: markers far off"


def test_crash_loop_panel_theory_and_simulation_coincide_without_jitter():
    from halab import widgets

    fig = widgets.draw_crash_loop(run_time=30.0, hours=2.0, jitter="none")
    x_sim, gaps = _line(fig, "simulated", 1)
    _, theory = _line(fig, "theory", 1)
    assert gaps == pytest.approx(theory[: len(gaps)])
    assert gaps[:7].tolist() == [30, 40, 50, 70, 110, 190, 330]


def test_backoff_panel_shows_the_thundering_herd_only_without_jitter():
    from halab import widgets

    fig = widgets.draw_backoff(jitter="none", clients=200)
    assert "200 of 200" in fig.axes[1].get_title()
    fig = widgets.draw_backoff(jitter="full", clients=200)
    _, counts = _line(fig, "retries", 1)
    # the first retries spread over [0, 10] s: about 20 a second, never all 200 at once
    assert counts.max() < 60, "seed=0"


def test_warm_up_panel_lines_are_the_closed_form():
    from halab import widgets

    fig = widgets.draw_warm_up(data_gb=50.0, copy_rate=100.0, write_rate=5.0)
    x, fresh = _line(fig, "fresh", 0)
    i = int(np.argmin(abs(x - 50.0)))
    assert fresh[i] == pytest.approx(50_000 / 95 / 60)
    _, kept = _line(fig, "persistent", 0)
    assert np.allclose(kept, 5 * 31 / 95 / 60)  # the outage: 25 s detection + 1 s + 5 s


def test_supervised_spread_reads_lesson_08s_figure():
    from halab.recovery import Recovery, supervised_spread

    r = Recovery(probe_period=10, failure_threshold=3, decision=1, restart=5, warm_up=60)
    mttf = 24 * 3600.0
    small = supervised_spread(mttf, r, workers=16, seed=0)  # draw_mttr's default run
    assert (round(small.mean, 2), round(small.formula, 2), small.above) == (9.44, 9.22, 11)
    assert round(small.worker_sd, 2) == 0.48 and round(small.standard_error, 2) == 0.12
    assert 1.5 < small.z < 2.0  # within 2 standard errors: chance, not a biased model
    # the simulated spread of one worker-year is the band's
    assert np.std(small.measured, ddof=1) == pytest.approx(small.worker_sd, rel=0.4)
    big = supervised_spread(mttf, r, workers=100, seed=1)
    print("seed 1, 100 workers:", big.mean, big.formula, big.z)
    assert abs(big.z) < 3 and round(big.mean, 2) == 9.22
    with pytest.raises(ValueError, match="recovery"):
        supervised_spread(mttf, None)
