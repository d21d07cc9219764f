"""Benchmarks for the real ZooKeeper and etcd (``halab.live.engines``): start and failover.

Each engine is started ``trials`` times (median and maximum seconds until every node serves
and one leads); in the last start its leader is SIGKILLed ``trials`` times under a writer:
median and maximum seconds until a new leader is seen and until the first write sent after the
kill succeeds, beside halab's own simulation (ZAB, Raft) run on the engine's settings.
``HALAB_BENCH_QUICK=1`` runs 3 trials instead of 10. An engine that is not installed is reported
as missing. Loopback, 2 shared cores: orders of magnitude.
"""

from __future__ import annotations

import math
import os
import statistics

from common import Row

TRIALS = 10
QUICK_TRIALS = 3
SIM_TRIALS = 200


def _trials() -> int:
    return QUICK_TRIALS if os.environ.get("HALAB_BENCH_QUICK") == "1" else TRIALS


def _rows(group: str, drill, starts: list[float]) -> list[Row]:
    s = drill.summary()
    n = f"{len(starts)} starts"
    rows = [
        Row(group, f"start (all nodes ready): median ({n})", statistics.median(starts), "s"),
        Row(group, "start (all nodes ready): max", max(starts), "s"),
    ]
    for name, value in s.items():
        if not isinstance(value, dict):
            continue
        label = name.replace("leader_s", "new leader").replace("write_s", "first write")
        label = label.replace("election_s", "election only").replace("decided_s", "FLE decided")
        n = f"{value['n']} trials" + (f", {value['missing']} without" if value["missing"] else "")
        rows.append(Row(group, f"{label}: median ({n})", value["median"], "s"))
        rows.append(Row(group, f"{label}: max", value["max"], "s"))
    return rows


def _bench(name: str, make, trials: int | None) -> list[Row]:
    from halab.live.engines import EngineMissing

    group = f"engine {name}"
    try:
        engine = make()
    except EngineMissing as exc:
        return [Row(group, f"not installed: {exc}", math.nan, "", "", False)]
    trials = trials or _trials()
    starts = []
    for _ in range(trials - 1):
        with engine:
            starts.append(engine.start_s)
        engine = make()
    with engine:
        starts.append(engine.start_s)
        drill = engine.drill(trials=trials, sim_trials=SIM_TRIALS)
    return _rows(group, drill, starts)


def bench_zookeeper(trials: int | None = None) -> list[Row]:
    """A 3-server ZooKeeper (tickTime 2000 ms, initLimit 10, syncLimit 5) beside ZAB."""
    from halab.live.engines import ZooKeeper

    return _bench("zookeeper", lambda: ZooKeeper(nodes=3), trials)


def bench_etcd(trials: int | None = None) -> list[Row]:
    """A 3-member etcd (heartbeat 100 ms, election timeout 1000 ms) beside Raft."""
    from halab.live.engines import Etcd

    return _bench("etcd", lambda: Etcd(nodes=3), trials)
