"""Benchmarks for the real MariaDB replication (``halab.live.engines.MariaDB``): start, failover, loss.

The engine (a primary and two replicas, 20 ms one way on the crash proxy) is started ``trials``
times (median and maximum seconds until the primary and both replicas replicate); in the last
start, for async, semi-sync AFTER_SYNC and semi-sync AFTER_COMMIT its primary is SIGKILLed
``trials`` times under 4 writers at 500 writes/s: median and maximum seconds from the
kill until the promoted replica takes writes (halab promotes: MariaDB has no automatic failover),
and acknowledged writes lost, beside lesson 07's model (``rate x lag`` for async, 0 for
semi-sync). ``HALAB_BENCH_QUICK=1`` runs 3 trials instead of 10. A missing MariaDB is reported.
Loopback, 2 shared cores: orders of magnitude.
"""

from __future__ import annotations

import math
import os
import statistics

from common import Row

TRIALS = 10
QUICK_TRIALS = 3
RATE = 500.0  # writes per second asked
DURATION = 1.5  # seconds of writing before each kill
MODES = (("async", "AFTER_COMMIT"), ("semisync", "AFTER_SYNC"), ("semisync", "AFTER_COMMIT"))


def _trials() -> int:
    return QUICK_TRIALS if os.environ.get("HALAB_BENCH_QUICK") == "1" else TRIALS


def _rows(group: str, drill) -> list[Row]:
    trials = drill.trials
    fail = [t.failover_s for t in trials]
    lost = [t.lost for t in trials]
    predicted = [t.predicted for t in trials]
    n = f"{len(trials)} trials"
    rows = [
        Row(group, f"failover (kill -> promoted): median ({n})", statistics.median(fail), "s"),
        Row(group, "failover: max", max(fail), "s"),
        Row(group, "acknowledged writes lost: median", statistics.median(lost), "writes"),
        Row(group, "acknowledged writes lost: max", max(lost), "writes"),
        Row(
            group, "model (rate x lag; 0 semi-sync): median", statistics.median(predicted), "writes"
        ),
        Row(
            group,
            "model on the trials' own acks (lost_on_promotion): median",
            statistics.median(t.counted for t in trials),
            "writes",
        ),
        Row(
            group,
            "rows seen on the primary, lost: max",
            max(t.lost_visible for t in trials),
            "rows",
        ),
        Row(group, "acknowledged writes/s", statistics.median(t.achieved for t in trials), "w/s"),
    ]
    if trials[0].mode == "async":
        total, model = sum(lost), sum(predicted)
        ok = model > 0 and model / 2 <= total <= 2 * model
        rows.append(Row(group, "lost / model, all trials", total / model if model else math.nan,
                        "x", "in [0.5, 2]", ok))  # fmt: skip
    elif trials[0].wait_point == "AFTER_SYNC":
        rows.append(Row(group, "acknowledged writes lost, all trials", sum(lost), "writes",
                        "= 0", sum(lost) == 0))  # fmt: skip
    return rows


def bench_mariadb(trials: int | None = None) -> list[Row]:
    """A MariaDB primary and 2 replicas behind the crash proxy: start, failover and loss."""
    from halab.live.engines import EngineMissing, MariaDB

    group = "engine mariadb"
    trials = trials or _trials()
    try:
        engine = MariaDB(replicas=2)
    except EngineMissing as exc:
        return [Row(group, f"not installed: {exc}", math.nan, "", "", False)]
    starts = []
    for _ in range(trials - 1):
        with engine:
            starts.append(engine.start_s)
        engine = MariaDB(replicas=2)
    rows = []
    with engine:
        starts.append(engine.start_s)
        n = f"{len(starts)} starts"
        rows.append(Row(group, f"start (primary + 2 replicas ready): median ({n})",
                        statistics.median(starts), "s"))  # fmt: skip
        rows.append(Row(group, "start (primary + 2 replicas ready): max", max(starts), "s"))
        for mode, wait_point in MODES:
            engine.set_mode(mode, wait_point)
            label = mode if mode == "async" else f"{mode} {wait_point}"
            drill = engine.drill(rate=RATE, duration=DURATION, kills=trials)
            rows += _rows(f"{group} {label}", drill)
    return rows
