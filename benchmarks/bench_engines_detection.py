"""Benchmarks for the real Redis Sentinel and RabbitMQ (``halab.live.engines``): start, failover.

Redis Sentinel: started ``trials`` times (median and maximum seconds until the primary, its two
replicas and three Sentinels agree); in the last start the primary is SIGKILLed ``trials``
times: seconds until ``+switch-master`` and until the first write through a Sentinel-aware
client, beside halab's fixed-timeout model of the detection alone; then the
``down-after-milliseconds`` sweep (failover time against failovers of a merely stalled primary,
beside the model's count), and the acknowledged writes lost behind the crash proxy,
asynchronous and with ``WAIT 1``, beside halab's λ × lag. RabbitMQ: a 3-node cluster started
``trials`` times; in the last, the quorum queue's leader is killed ``trials`` times under a
publisher with confirms: seconds to the first confirm after the kill, confirmed messages lost
(0 is the bar), and the classic queue's loss, beside halab's replication model.
``HALAB_BENCH_QUICK=1`` runs 3 trials instead of 10. An engine that is not installed is
reported as missing. Loopback, 2 shared cores: orders of magnitude.
"""

from __future__ import annotations

import math
import os
import statistics

from common import Row

TRIALS = 10
QUICK_TRIALS = 3
SWEEP_MS = (250, 500, 1000, 2000)


def _trials() -> int:
    return QUICK_TRIALS if os.environ.get("HALAB_BENCH_QUICK") == "1" else TRIALS


def _spread(group: str, label: str, values: list[float], unit: str = "s") -> list[Row]:
    finite = [v for v in values if math.isfinite(v)]
    missing = len(values) - len(finite)
    n = f"{len(values)} trials" + (f", {missing} without" if missing else "")
    if not finite:
        return [Row(group, f"{label}: none ({n})", math.nan, unit, "", False)]
    return [
        Row(group, f"{label}: median ({n})", statistics.median(finite), unit),
        Row(group, f"{label}: max", max(finite), unit),
    ]


def _starts(make, trials: int) -> tuple[list[float], object]:
    """Start ``trials - 1`` engines and stop them; return their start times and a fresh one."""
    starts = []
    for _ in range(trials - 1):
        with make() as engine:
            starts.append(engine.start_s)
    return starts, make()


def bench_redis_sentinel(trials: int | None = None) -> list[Row]:
    """Redis, two replicas, three Sentinels (down-after 1000 ms, quorum 2) beside the model."""
    from halab.live.engines import EngineMissing, RedisSentinel

    group = "engine redis sentinel"
    trials = trials or _trials()
    try:
        starts, engine = _starts(lambda: RedisSentinel(nodes=3, down_after_ms=1000), trials)
    except EngineMissing as exc:
        return [Row(group, f"not installed: {exc}", math.nan, "", "", False)]
    with engine:
        starts.append(engine.start_s)
        drill = engine.drill(trials=trials)
        sweep = engine.sweep(SWEEP_MS, kills=1 if trials <= QUICK_TRIALS else 3)
        losses = [engine.async_loss(mode) for mode in ("async", "wait")]
    rows = _spread(group, "start (Sentinels agree)", starts)
    rows += _spread(group, "kill -> +switch-master", list(drill.measured("leader_s")))
    rows += _spread(group, "kill -> first write", list(drill.measured("write_s")))
    rows += _spread(group, "model: detection alone", list(drill.simulated["detect_s"]))
    for r in sweep:
        label = f"down-after {r.down_after_ms} ms"
        rows.append(Row(group, f"{label}: failover median", r.failover_median_s, "s"))
        rows.append(Row(group, f"{label}: model detection mean", r.model_detection_s, "s"))
        stalls = f"of {len(r.pauses_s)} stalls {r.pauses_s} s"
        rows.append(Row(group, f"{label}: +sdown {stalls}", r.spurious_sdown, "stalls"))
        rows.append(Row(group, f"{label}: model suspects", r.model_mistakes, "stalls"))
        rows.append(
            Row(group, f"{label}: failovers with no crash", r.spurious_failovers, "failovers")
        )
    for t in losses:
        label = f"crash proxy {t.delay_s * 1000:g} ms, {t.mode}, {t.rate:.0f} writes/s"
        rows.append(Row(group, f"{label}: acked writes lost (of {t.acked})", t.lost, "writes"))
        rows.append(Row(group, f"{label}: model (acked in the last lag)", t.expected, "writes"))
    return rows


def bench_rabbitmq(trials: int | None = None) -> list[Row]:
    """A 3-node RabbitMQ and a quorum queue whose leader is killed under confirms."""
    from halab.live.engines import EngineMissing, RabbitMQ

    group = "engine rabbitmq"
    trials = trials or _trials()
    try:
        starts, engine = _starts(lambda: RabbitMQ(nodes=3), trials)
    except EngineMissing as exc:
        return [Row(group, f"not installed: {exc}", math.nan, "", "", False)]
    with engine:
        starts.append(engine.start_s)
        drill = engine.drill(trials=trials, before=1.0, after=0.5)
    sim = drill.simulated
    rows = _spread(group, "start (3 brokers, one cluster)", starts)
    rows += _spread(group, "kill -> first confirm", [t.first_confirm_s for t in drill.trials])
    confirmed = sum(t.confirmed for t in drill.trials)
    rows.append(
        Row(
            group,
            f"confirmed lost ({confirmed} confirmed)",
            drill.lost,
            "msgs",
            "= 0",
            not drill.lost,
        )
    )
    classic = sum(t.classic_confirmed for t in drill.trials)
    rows.append(
        Row(
            group,
            f"classic queue lost (of {classic})",
            sum(t.classic_lost for t in drill.trials),
            "msgs",
        )
    )
    rows.append(Row(group, "model: quorum lost", sim["quorum_lost"], "msgs"))
    rows.append(
        Row(
            group,
            f"model: classic lost (of {sim['classic_confirmed']})",
            sim["classic_lost"],
            "msgs",
        )
    )
    return rows
