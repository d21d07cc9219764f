"""Benchmarks for lesson 09: halab's balancer, HAProxy and nginx in front of the same backends.

One run, one client (the ``requests`` load generator of ``halab.live``, a closed loop of
``CONCURRENCY`` threads), the same three backend processes: the client's throughput and median
latency straight to one backend, then through each balancer, reported as ratios to direct
access. HAProxy and nginx each get one thread / one worker process, as halab's balancer is one
process; nginx's access log is off. A balancer that is not installed is reported as missing.
"""

from __future__ import annotations

import numpy as np
from common import Row

from halab.live import LiveCluster, run_load
from halab.live.production import SERVERS, find_server, make_front

COUNT = 2000  # requests per measurement
CONCURRENCY = 4  # client worker threads
GROUP = "production balancers"


def _measure(url: str) -> tuple[float, float]:
    run_load(url, concurrency=CONCURRENCY, count=200)  # warm-up: connections, caches
    result = run_load(url, concurrency=CONCURRENCY, count=COUNT)
    assert result.failed == 0, f"{result.failed} failed requests to {url}"
    return result.throughput(), float(np.median(result.latencies))


def _rows(label: str, rps: float, med: float, d_rps: float, d_med: float) -> list[Row]:
    return [
        Row(GROUP, f"{label}: throughput", rps, "req/s"),
        Row(GROUP, f"{label}: throughput / direct", rps / d_rps, "x"),
        Row(GROUP, f"{label}: median latency", med * 1e3, "ms"),
        Row(GROUP, f"{label}: median latency / direct", med / d_med, "x"),
    ]


def bench_balancers() -> list[Row]:
    """Throughput and median latency through each balancer, as ratios to direct access."""
    rows = []
    with LiveCluster(backends=3) as cluster:
        direct = f"http://127.0.0.1:{cluster.ports[0]}"
        d_rps, d_med = _measure(direct)
        rows.append(
            Row(GROUP, f"direct to one backend: throughput ({CONCURRENCY} threads)", d_rps, "req/s")
        )
        rows.append(Row(GROUP, "direct to one backend: median latency", d_med * 1e3, "ms"))
        rps, med = _measure(cluster.url)
        rows += _rows("halab balancer", rps, med, d_rps, d_med)
        for server in SERVERS:
            if find_server(server) is None:
                rows.append(Row(GROUP, f"{server}: not installed", float("nan"), "", "", False))
                continue
            front = make_front(
                server, cluster.ports, cluster.settings, names=cluster.names, access_log=False
            )
            with front:
                rps, med = _measure(front.url)
            rows += _rows(server, rps, med, d_rps, d_med)
    return rows


def bench_panel() -> list[Row]:
    """Lesson 09's slider panel (closed forms only): one redraw, default and moved."""
    from common import below, median_seconds

    from halab.widgets import windows_panel

    panel = windows_panel()
    values = iter([0.3, 0.2] * 20)
    return [
        below("panel 09 windows", "median update", median_seconds(panel.update), 300),
        below(
            "panel 09 windows",
            "median slider move",
            median_seconds(lambda: panel.set(inter=next(values))),
            300,
        ),
    ]
