"""Benchmarks for ``halab.live``: the failover balancer's cost, in one run, with one client.

The same load generator (``requests``, one session per worker) sends the same number of GETs
straight to one backend, then through the balancer (in its own process) to three backends.
The balancer adds one hop: the client's throughput should stay at least half of direct
access, and the added median latency is reported. Cluster start and a drill are timed too.
"""

from __future__ import annotations

import io
import time

import numpy as np
from common import Row, at_least, below, median_seconds

from halab.live import LiveCluster, run_load

COUNT = 2000  # requests per measurement
CONCURRENCY = 4  # client worker threads


def _measure(url: str, concurrency: int, count: int) -> tuple[float, float]:
    run_load(url, concurrency=concurrency, count=200)  # warm-up: connections, caches
    result = run_load(url, concurrency=concurrency, count=count)
    assert result.failed == 0, f"{result.failed} failed requests to {url}"
    return result.throughput(), float(np.median(result.latencies))


def bench_throughput() -> list[Row]:
    group = "live balancer"
    rows = []
    start = time.perf_counter()
    with LiveCluster(backends=3) as cluster:
        started = time.perf_counter() - start
        direct = f"http://127.0.0.1:{cluster.ports[0]}"
        for conc in (1, CONCURRENCY):
            d_rps, d_med = _measure(direct, conc, COUNT)
            b_rps, b_med = _measure(cluster.url, conc, COUNT)
            tag = f"{conc} client thread{'s' if conc > 1 else ''}"
            rows.append(Row(group, f"direct to one backend, {tag}", d_rps, "req/s"))
            rows.append(Row(group, f"through the balancer, {tag}", b_rps, "req/s"))
            rows.append(at_least(group, f"ratio balancer/direct, {tag}", b_rps / d_rps, "x", 0.5))
            rows.append(Row(group, f"added median latency, {tag}", (b_med - d_med) * 1e3, "ms"))
        t = time.perf_counter()
        drill = cluster.drill(victim=1, rate=100, kill_at=1.0, revive_at=2.5, duration=4.0)
        drill_s = time.perf_counter() - t
    rows.append(below(group, "cluster start (3 backends + balancer)", started, 3000))
    rows.append(
        Row(
            group,
            "kill-and-revive drill, failed requests",
            drill.failed,
            "requests",
            "= 0",
            drill.failed == 0,
        )
    )
    rows.append(below(group, "kill-and-revive drill, wall time", drill_s, 6000))
    return rows


def bench_panels() -> list[Row]:
    """Redraw time of lesson 06's slider panel and of a drill's figure (no processes)."""
    import matplotlib

    matplotlib.use("Agg")
    from halab import widgets
    from halab.live import Drill, Event, LoadResult, Record, Settings

    group = "panel 06"
    panel = widgets.detection_panel()
    values = iter([0.3, 0.2] * 20)
    rows = [
        below(
            group,
            "detection panel update",
            median_seconds(lambda: panel.set(inter=next(values)), repeat=7),
            300,
        )
    ]
    records = [Record(k / 100, 0.002, 200, f"b{k % 3}", (f"b{k % 3}",)) for k in range(400)]
    drill = Drill(
        LoadResult(records, t0=0.0),
        [Event(1.0, "kill", 1), Event(1.05, "removed", 1), Event(2.5, "revive", 1)],
        1,
        1.0,
        2.5,
        Settings(),
    )

    def draw():
        fig = widgets.draw_drill(drill=drill)
        fig.savefig(io.BytesIO(), format="png", dpi=widgets.RENDER_DPI)
        widgets.plt.close(fig)

    rows.append(
        below(group, "drill figure, drawn and rendered", median_seconds(draw, repeat=5), 300)
    )
    return rows
