"""Tests of halab.replication: closed forms against brute force, simulations against theory."""

from __future__ import annotations

import doctest
import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import halab.replication
from halab import replication as rp

PROPERTY = settings(max_examples=25, deadline=None)


def test_module_docstring_tour_runs_as_written():
    result = doctest.testmod(halab.replication, verbose=False)
    assert result.attempted >= 5
    assert result.failed == 0


# --- closed forms -------------------------------------------------------------------------


def _miss_by_enumeration(n: int, r: int, w: int) -> Fraction:
    """The share of (write quorum, read quorum) pairs that do not intersect, counted."""
    replicas = range(n)
    pairs = disjoint = 0
    for wq in itertools.combinations(replicas, w):
        for rq in itertools.combinations(replicas, r):
            pairs += 1
            disjoint += not set(wq) & set(rq)
    return Fraction(disjoint, pairs)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 6])
def test_stale_read_probability_is_the_share_of_disjoint_quorum_pairs(n):
    for r in range(1, n + 1):
        for w in range(1, n + 1):
            want = _miss_by_enumeration(n, r, w)
            got = rp.stale_read_probability(n, r, w)
            assert got == pytest.approx(float(want), abs=1e-15), (n, r, w)
            assert (got == 0) == (r + w > n), (n, r, w)


def test_stale_read_probability_known_values_and_powers():
    # N = 3, R = W = 1 (Cassandra's old default ONE/ONE): C(2,1)/C(3,1) = 2/3.
    assert rp.stale_read_probability(3, 1, 1) == pytest.approx(2 / 3)
    # N = 5, R = 1, W = 2: C(3,1)/C(5,1) = 3/5; missing 3 writes in a row (3/5)^3.
    assert rp.stale_read_probability(5, 1, 2) == pytest.approx(0.6)
    assert rp.stale_read_probability(5, 1, 2, k=3) == pytest.approx(0.216)
    # N = 10, R = 2, W = 3: C(7,2)/C(10,2) = 21/45.
    assert rp.stale_read_probability(10, 2, 3) == pytest.approx(21 / 45)


def test_stale_read_probability_decays_with_anti_entropy():
    tau = 0.05
    p0 = rp.stale_read_probability(5, 2, 1)
    assert p0 == pytest.approx(math.comb(4, 2) / math.comb(5, 2))
    for t in (0.01, 0.05, 0.2):
        got = rp.stale_read_probability(5, 2, 1, t, propagation=tau)
        assert got == pytest.approx(p0 * math.exp(-2 * t / tau))
    # without anti-entropy, time does not help
    assert rp.stale_read_probability(5, 2, 1, 10.0) == pytest.approx(p0)


@pytest.mark.parametrize(
    "kwargs, word",
    [
        ({"n": 3, "r": 4, "w": 1}, "r must be"),
        ({"n": 3, "r": 1, "w": 4}, "w must be"),
        ({"n": 3, "r": 0, "w": 1}, "r must be"),
        ({"n": 0, "r": 1, "w": 1}, "n must be"),
        ({"n": 3, "r": 1, "w": 1, "t": -1.0}, "t must be"),
        ({"n": 3, "r": 1, "w": 1, "t": 1.0, "propagation": 0.0}, "propagation must be"),
        ({"n": 3, "r": 1, "w": 1, "t": 1.0, "propagation": 1.0, "k": 2}, "k must be 1"),
    ],
)
def test_stale_read_probability_rejects_bad_input(kwargs, word):
    with pytest.raises(ValueError, match=word):
        rp.stale_read_probability(**kwargs)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 6])
def test_read_your_writes_iff_every_read_quorum_meets_every_write_quorum(n):
    for r in range(1, n + 1):
        for w in range(1, n + 1):
            always_meet = all(
                set(a) & set(b)
                for a in itertools.combinations(range(n), r)
                for b in itertools.combinations(range(n), w)
            )
            assert rp.read_your_writes(n, r, w) == always_meet, (n, r, w)


def test_read_your_writes_rejects_quorums_larger_than_n():
    with pytest.raises(ValueError, match=r"w must be an integer in \[1, 3\], got 4"):
        rp.read_your_writes(3, 1, 4)
    with pytest.raises(ValueError, match=r"r must be an integer in \[1, 3\], got 5"):
        rp.read_your_writes(3, 5, 1)
    with pytest.raises(ValueError, match="r must be"):
        rp.read_your_writes(3, 1.5, 1)


def test_quorum_read_returns_the_newest_version():
    assert rp.quorum_read([(3, "a"), (7, "b"), (5, "c")]) == (7, "b")
    assert rp.quorum_read([(2, "x")]) == (2, "x")
    assert rp.quorum_read([(4, "first"), (4, "second"), (1, "old")]) == (4, "first")
    assert rp.quorum_read(iter([(0, None), (1, "one")])) == (1, "one")
    with pytest.raises(ValueError, match="replies must hold at least one"):
        rp.quorum_read([])


def test_expected_lost_writes_is_rate_times_lag():
    assert rp.expected_lost_writes(200, 0.05) == pytest.approx(10.0)
    assert rp.expected_lost_writes(1.0, 0.0) == 0.0
    with pytest.raises(ValueError, match="lag must be"):
        rp.expected_lost_writes(10.0, -0.1)
    with pytest.raises(ValueError, match="rate must be"):
        rp.expected_lost_writes(0.0, 0.1)


def test_lost_on_promotion_counts_writes_not_yet_shipped():
    acks = [1.0, 1.94, 1.96, 1.99, 2.0, 2.5]  # 2.5: acknowledged after the crash, elsewhere
    assert rp.lost_on_promotion(acks, 2.0, 0.05) == 3  # 1.96, 1.99, 2.0
    assert rp.lost_on_promotion(acks, 2.0, 0.0) == 0
    assert rp.lost_on_promotion(acks, 2.0, 10.0) == 5
    assert rp.lost_on_promotion([], 2.0, 0.05) == 0
    with pytest.raises(ValueError, match="lag must be a finite number >= 0, got -0.01"):
        rp.lost_on_promotion(acks, 2.0, -0.01)


def test_partition_sides():
    # majority quorums: only the majority side serves (consistency chosen)
    sides = rp.partition_sides(5, 3, 3, minority=2)
    assert sides["majority"] == rp.Side(3, True, True)
    assert sides["minority"] == rp.Side(2, False, False)
    # R = W = 1: both sides serve (availability chosen), and may diverge
    sides = rp.partition_sides(3, 1, 1, minority=1)
    assert sides["minority"].can_write and sides["majority"].can_write
    # W = N: no side can write during any partition
    sides = rp.partition_sides(3, 1, 3, minority=1)
    assert not sides["majority"].can_write and sides["minority"].can_read
    with pytest.raises(ValueError, match="minority must be"):
        rp.partition_sides(4, 2, 2, minority=3)


def test_real_systems_name_their_sources():
    names = " ".join(s.system for s in rp.REAL_SYSTEMS)
    for system in ("MySQL", "semisynchronous", "RabbitMQ", "ZooKeeper"):
        assert system in names
    for s in rp.REAL_SYSTEMS:
        assert len(s.source) > 20, s.system


# --- primary/backup failover --------------------------------------------------------------


@PROPERTY
@given(
    seed=st.integers(0, 10_000),
    backups=st.integers(1, 3),
    rate=st.floats(20, 400),
    jitter=st.sampled_from([0.0, 0.0005, 0.002]),
    crash_at=st.floats(0.2, 1.5),
    partition=st.booleans(),
)
def test_sync_replication_never_loses_an_acknowledged_write(
    seed, backups, rate, jitter, crash_at, partition
):
    res = rp.simulate_failover(
        "sync",
        backups=backups,
        rate=rate,
        jitter=jitter,
        crash_at=crash_at,
        detection=0.2,
        promotion=0.1,
        partition_at=crash_at / 2 if partition else None,
        seed=seed,
    )
    assert res.lost == 0, f"seed={seed}: sync lost acknowledged writes {res.lost_ids.tolist()}"
    assert len(res.lost_visible_ids) == 0, f"seed={seed}"
    assert len(res.ack_ids) > 0 or partition, f"seed={seed}: nothing was acknowledged"


@PROPERTY
@given(
    seed=st.integers(0, 10_000),
    backups=st.integers(1, 3),
    jitter=st.sampled_from([0.0, 0.0005, 0.002]),
)
def test_semisync_after_sync_loses_nothing_while_it_has_not_fallen_back(seed, backups, jitter):
    res = rp.simulate_failover(
        "semisync", backups=backups, rate=300, jitter=jitter, crash_at=0.8, seed=seed
    )
    assert res.fallback_at is None, f"seed={seed}"
    assert res.lost == 0, f"seed={seed}: lost {res.lost_ids.tolist()}"


@pytest.mark.parametrize("seed", range(8))
def test_async_loses_exactly_the_writes_not_yet_shipped(seed):
    lag = 0.05
    res = rp.simulate_failover("async", lag=lag, rate=300, seed=seed)
    acks = dict(zip(res.ack_ids.tolist(), res.ack_times.tolist()))
    want = {i for i, a in acks.items() if a + lag > res.crash_at}
    assert set(res.lost_ids.tolist()) == want, f"seed={seed}"
    assert res.lost == rp.lost_on_promotion(res.ack_times, res.crash_at, lag), f"seed={seed}"
    assert res.recovery_point <= lag + 1e-12, f"seed={seed}"


def test_async_mean_loss_is_rate_times_lag_and_poisson():
    rate, lag, runs = 100.0, 0.08, 300
    lost = rp.lost_writes_vs_lag([lag], rate=rate, runs=runs, seed=11)[0]
    mean = rp.expected_lost_writes(rate, lag)  # 8 writes
    sd = math.sqrt(mean / runs)  # Poisson: variance = mean
    assert abs(lost.mean() - mean) < 4 * sd, (lost.mean(), mean)
    # Poisson dispersion: the sample variance is near the mean (ratio within ~25 %)
    assert 0.75 < lost.var(ddof=1) / mean < 1.3, lost.var(ddof=1)


def test_lost_writes_vs_lag_shape_and_zero_lag():
    table = rp.lost_writes_vs_lag([0.0, 0.02, 0.1], rate=150, runs=6, seed=3)
    assert table.shape == (3, 6)
    assert (table[0] == 0).all()
    assert table[2].mean() > table[1].mean()


def test_recovery_time_is_detection_plus_promotion_and_the_best_backup_wins():
    res = rp.simulate_failover("async", backups=3, detection=0.7, promotion=0.3, seed=5)
    assert res.recovery_time == pytest.approx(1.0)
    assert res.detected_at == pytest.approx(res.crash_at + 0.7)
    assert res.promoted in {"backup1", "backup2", "backup3"}
    assert res.unavailable >= res.recovery_time  # no write succeeds while nobody is primary
    kinds = {r.kind for r in res.records}
    assert {"submit", "ack", "receive", "crash", "detect", "promote"} <= kinds


def test_commit_wait_is_the_else_latency_of_each_mode():
    latency = 0.002
    sync = rp.simulate_failover("sync", latency=latency, seed=1)
    semi = rp.simulate_failover("semisync", latency=latency, seed=1)
    asyn = rp.simulate_failover("async", latency=latency, seed=1)
    assert sync.commit_wait == pytest.approx(2 * latency)  # a round trip to the backups
    assert semi.commit_wait == pytest.approx(2 * latency)
    assert (asyn.commit_wait == 0).all()


def test_partition_then_crash_each_mode_chooses_differently():
    kw = {"rate": 200, "partition_at": 1.0, "crash_at": 2.0, "timeout": 0.4, "seed": 2}
    sync = rp.simulate_failover("sync", **kw)
    semi = rp.simulate_failover("semisync", **kw)
    asyn = rp.simulate_failover("async", **kw)
    # sync chose consistency: nothing acknowledged after the link broke, nothing lost
    assert sync.lost == 0 and sync.ack_times.max() < 1.0 + 0.01
    assert sync.unavailable >= sync.promoted_at - 1.0 - 0.01
    # async chose availability: it kept acknowledging and lost what the backups never saw
    assert asyn.lost > 0.8 * 200 * 1.0, asyn.lost
    assert set(asyn.ack_ids[asyn.ack_times > 1.0].tolist()) <= set(asyn.lost_ids.tolist())
    # semi-sync waited one timeout, fell back, and from then on lost writes like async
    assert 1.0 + 0.4 - 0.01 < semi.fallback_at < 1.0 + 0.4 + 0.05, semi.fallback_at
    lost_times = semi.ack_times[np.isin(semi.ack_ids, semi.lost_ids)]
    assert (lost_times >= semi.fallback_at).all()
    assert 0 < semi.lost < asyn.lost


def test_after_commit_exposes_writes_that_a_failover_then_loses():
    kw = {"rate": 200, "partition_at": 1.0, "crash_at": 1.3, "timeout": 0.5, "seed": 4}
    after_sync = rp.simulate_failover("semisync", wait_point="after_sync", **kw)
    after_commit = rp.simulate_failover("semisync", wait_point="after_commit", **kw)
    for res in (after_sync, after_commit):
        assert res.fallback_at is None and res.lost == 0  # nothing acknowledged was lost
    assert len(after_sync.lost_visible_ids) == 0
    assert len(after_commit.lost_visible_ids) > 0.8 * 200 * 0.3  # seen by readers, then gone


def test_failover_is_deterministic_per_seed():
    one = rp.simulate_failover("async", jitter=0.001, seed=9)
    two = rp.simulate_failover("async", jitter=0.001, seed=9)
    other = rp.simulate_failover("async", jitter=0.001, seed=10)
    assert one.ack_times.tolist() == two.ack_times.tolist()
    assert one.lost_ids.tolist() == two.lost_ids.tolist()
    assert one.ack_times.tolist() != other.ack_times.tolist()


@pytest.mark.parametrize(
    "kwargs, word",
    [
        ({"mode": "eventual"}, "mode must be one of"),
        ({"lag": -0.1}, "lag must be a finite number >= 0"),
        (
            {"mode": "semisync", "backups": 2, "wait_for": 3},
            r"wait_for must be an integer in \[1, 2\]",
        ),
        ({"backups": 0}, "backups must be"),
        ({"rate": 0}, "rate must be"),
        ({"wait_point": "before"}, "wait_point must be"),
        ({"partition_at": 5.0, "crash_at": 3.0}, "partition_at must be in"),
        ({"duration": 1.0}, "duration must be >"),
        ({"timeout": 0.0}, "timeout must be"),
    ],
)
def test_simulate_failover_rejects_bad_input(kwargs, word):
    with pytest.raises(ValueError, match=word):
        rp.simulate_failover(**kwargs)


# --- quorums ------------------------------------------------------------------------------


@PROPERTY
@given(
    seed=st.integers(0, 10_000),
    nrw=st.sampled_from([(3, 2, 2), (3, 1, 3), (3, 3, 1), (5, 3, 3), (5, 2, 4), (5, 1, 5)]),
    jitter=st.sampled_from([0.0, 0.002, 0.008]),
    partition=st.booleans(),
)
def test_strict_quorums_never_return_a_value_older_than_the_last_completed_write(
    seed, nrw, jitter, partition
):
    n, r, w = nrw
    res = rp.simulate_quorum(
        n,
        r,
        w,
        duration=1.5,
        write_rate=60,
        read_rate=120,
        jitter=jitter,
        partition=(0.5, 1.0) if partition else None,
        minority=n // 2,
        seed=seed,
    )
    assert res.read_ok.sum() > 50, f"seed={seed}"
    stale = int(res.stale.sum())
    assert stale == 0, f"seed={seed}, (n, r, w)={nrw}: {stale} stale reads with r + w > n"


def test_partial_quorums_do_return_stale_reads():
    # the check above can fail: with r + w <= n and a long-tailed delay some reads are stale
    res = rp.simulate_quorum(
        3, 1, 1, duration=3.0, write_rate=60, read_rate=120, jitter=0.01, seed=1
    )
    assert res.stale.sum() > 10
    # with a tight delay almost every write lands everywhere before the next read (PBS's point)
    tight = rp.simulate_quorum(3, 1, 1, duration=3.0, write_rate=60, read_rate=120, seed=1)
    assert tight.stale.mean() < res.stale.mean()


def test_partition_sides_in_simulation_match_the_closed_form():
    part = (1.0, 2.0)
    strict = rp.simulate_quorum(3, 2, 2, duration=3.0, partition=part, seed=7)
    assert strict.availability("write", "majority", during=True) == 1.0
    assert strict.availability("write", "minority", during=True) == 0.0
    assert strict.availability("read", "minority", during=True) == 0.0
    assert strict.stale.sum() == 0
    loose = rp.simulate_quorum(3, 1, 1, duration=3.0, partition=part, seed=7)
    assert loose.availability("write", "minority", during=True) == 1.0
    assert loose.availability("read", "minority", during=True) == 1.0
    during = (loose.read_start >= 1.0) & (loose.read_start < 2.0) & (loose.read_side == "minority")
    assert loose.stale[during].mean() > 0.3  # the minority misses the majority's writes


def test_simulate_quorum_rejects_bad_input():
    with pytest.raises(ValueError, match="w must be"):
        rp.simulate_quorum(3, 1, 4)
    with pytest.raises(ValueError, match="minority must be"):
        rp.simulate_quorum(3, 2, 2, minority=2)
    with pytest.raises(ValueError, match="partition must be"):
        rp.simulate_quorum(3, 2, 2, partition=(2.0, 1.0))


@pytest.mark.parametrize("n, r, w", [(5, 1, 2), (3, 1, 1), (6, 2, 2)])
def test_staleness_curve_matches_the_closed_form(n, r, w):
    times = [0.0, 0.01, 0.05, 0.15]
    trials, tau = 1500, 0.05
    got = rp.staleness_curve(n, r, w, times, propagation=tau, trials=trials, seed=n + r + w)
    for t, p_sim in zip(times, got):
        p = rp.stale_read_probability(n, r, w, t, propagation=tau)
        sd = math.sqrt(p * (1 - p) / trials)
        assert abs(p_sim - p) < 4 * sd + 1e-3, (t, p_sim, p)


def test_staleness_curve_is_zero_for_strict_quorums():
    got = rp.staleness_curve(3, 2, 2, [0.0, 0.01], trials=200)
    assert got.tolist() == [0.0, 0.0]


# --- the lesson's panels (halab/widgets/lesson07.py) ------------------------------------------


def _panel_line(fig, ax_index: int, label_start: str):
    for line in fig.axes[ax_index].get_lines():
        if line.get_label().startswith(label_start):
            return np.asarray(line.get_xdata()), np.asarray(line.get_ydata())
    raise AssertionError(f"no line labelled {label_start!r}")


def test_replication_panel_draws_the_model():
    import matplotlib.pyplot as plt

    from halab import widgets

    before = plt.get_fignums()
    panel = widgets.replication_panel()
    for name, value in [("mode", "semisync"), ("lag", 0.1), ("partition", True), ("rate", 50)]:
        updates = panel.updates
        panel.set(**{name: value})
        assert panel.updates == updates + 1 and panel.error is None, name
    assert plt.get_fignums() == before, "the panel must close its figures"
    x, y = _panel_line(panel.figure, 1, "λ·L")
    assert np.allclose(y, 50 * x / 1000)  # the theory line is rate × lag (lag drawn in ms)
    markers = panel.figure.axes[1].containers[0].lines[0].get_ydata()
    table = rp.lost_writes_vs_lag(widgets.REP_LAGS, rate=50.0, runs=12, seed=0)
    assert np.allclose(markers, table.mean(axis=1))
    res = rp.simulate_failover(
        "semisync", lag=0.1, rate=50, partition_at=1.0, seed=0, **widgets.REP_FAILOVER
    )
    title = panel.figure.axes[0].get_title()
    assert title.startswith(f"semisync: {res.lost} acknowledged writes lost"), title


def test_quorum_panel_draws_the_model_and_keeps_r_and_w_within_n():
    from halab import widgets

    panel = widgets.quorum_panel()
    panel.set(n=5, w=2, r=1)
    x, y = _panel_line(panel.figure, 0, "C(N−W,R)")
    want = [rp.stale_read_probability(5, 1, 2, t / 1000, propagation=0.05) for t in x]
    assert np.allclose(y, want)
    panel.set(partition=True)
    assert panel.error is None
    diamonds = panel.figure.axes[1].get_lines()[0].get_ydata()
    sides = rp.partition_sides(5, 1, 2, minority=2)
    assert (
        list(diamonds)
        == [1.0, 1.0, 1.0, 1.0]
        == [
            float(sides[s].can_write if k == "write" else sides[s].can_read)
            for s in ("majority", "minority")
            for k in ("write", "read")
        ]
    )
    panel.set(n=7, w=7)
    panel.set(n=3)  # R and W follow N down
    assert panel.controls["w"].value == 3 and panel.controls["w"].max == 3
    assert panel.error is None


# -- when semi-sync loses writes: after its timeout ----------------------------------------


def test_expected_lost_after_cut_matches_the_simulated_failovers():
    from halab.replication import expected_lost_after_cut

    for mode, rate, cut_for, timeout in [
        ("semisync", 200.0, 1.0, 0.4),
        ("semisync", 20.0, 0.5, 0.4),
        ("semisync", 200.0, 0.3, 0.4),
        ("async", 200.0, 1.0, 0.4),
        ("sync", 200.0, 1.0, 0.4),
    ]:
        lost = np.array(
            [
                rp.simulate_failover(
                    mode,
                    rate=rate,
                    lag=0.05,
                    partition_at=2.0 - cut_for,
                    crash_at=2.0,
                    timeout=timeout,
                    seed=seed,
                ).lost
                for seed in range(40)
            ]
        )
        want = expected_lost_after_cut(mode, rate, cut_for, lag=0.05, timeout=timeout)
        se = max(lost.std(ddof=1) / np.sqrt(len(lost)), 0.2)
        print(mode, rate, cut_for, timeout, "seeds 0-39:", lost.mean(), "formula", want)
        assert abs(lost.mean() - want) < 4 * se + 0.5  # + writes on the wire at the cut


def test_expected_lost_after_cut_edges_and_arguments():
    from halab.replication import SEMISYNC_TIMEOUT, expected_lost_after_cut

    assert SEMISYNC_TIMEOUT == 10.0
    assert expected_lost_after_cut("semisync", 50.0, 0.0) == 0.0
    assert expected_lost_after_cut("semisync", 50.0, 10.0) == 0.0  # not yet fallen back
    assert expected_lost_after_cut("semisync", 50.0, 30.0) == pytest.approx(1500.0, rel=1e-6)
    assert expected_lost_after_cut("async", 50.0, 0.0, lag=0.2) == pytest.approx(10.0)
    assert expected_lost_after_cut("sync", 50.0, 30.0) == 0.0
    for kwargs, name in [
        ({"mode": "raft", "rate": 1.0, "cut_for": 1.0}, "mode"),
        ({"mode": "async", "rate": 0.0, "cut_for": 1.0}, "rate"),
        ({"mode": "async", "rate": 1.0, "cut_for": -1.0}, "cut_for"),
        ({"mode": "async", "rate": 1.0, "cut_for": math.nan}, "cut_for"),
        ({"mode": "semisync", "rate": 1.0, "cut_for": 1.0, "timeout": 0.0}, "timeout"),
    ]:
        with pytest.raises(ValueError, match=name):
            expected_lost_after_cut(**kwargs)
