"""Benchmarks for ``halab.live``: the failover balancer's cost, and how it holds under load.

``bench_throughput``: the same load generator (``requests``, one session per worker) sends the
same number of GETs straight to one backend, then through the balancer (in its own process)
to three backends. Cluster start and a drill are timed too.

``bench_load``: keep-alive load at 1, 8, 32 and 128 clients, in one run, through halab's
balancer, HAProxy and nginx (:mod:`halab.live.production`, in front of the same three
backends) and straight to one backend; throughput as a ratio to direct, p50 and p99 latency,
errors. Two load clients: the benchmark's own, a bounded pool of Python threads with one
keep-alive connection each (it costs CPU like the servers do, so it measures itself too), and
``wrk --latency`` when it is installed (a C load generator; at 1, 4, 8, 32 and 128 clients).
The bars are the issues': halab's balancer at least 0.5x direct at 32 clients with the Python
client and at 4 clients with wrk, no error at 128. On a machine whose cores are shared with
other work, the ratios move by tens of percent from run to run. ``python benchmarks/run.py
--quick`` runs each point for a second instead of three.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import subprocess
import threading
import time

import numpy as np
from common import Row, at_least, below, median_seconds

from halab.live import LiveCluster, run_load
from halab.live._proc import LOOPBACK, spawn, stop_process

COUNT = 2000  # requests per measurement
CONCURRENCY = 4  # client worker threads
LOAD_CLIENTS = (1, 8, 32, 128)  # concurrent keep-alive connections
WRK_CLIENTS = (1, 4, 8, 32, 128)  # wrk's too: issue 17's bar is at 4
LOAD_SECONDS = 3.0  # per measurement; 1 s with --quick (HALAB_BENCH_QUICK=1)


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
    import matplotlib.pyplot as plt

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
        widgets.render_png(fig)
        plt.close(fig)

    rows.append(
        below(group, "drill figure, drawn and rendered", median_seconds(draw, repeat=5), 300)
    )
    return rows


# -- load: halab vs HAProxy vs nginx vs direct ----------------------------------------------------


def _wrk(url: str, clients: int, seconds: float) -> dict:
    """One ``wrk --latency`` run: requests/s, p50 and p99 in seconds, errors."""
    threads = min(2, clients)
    out = subprocess.run(
        [
            shutil.which("wrk"),
            f"-t{threads}",
            f"-c{clients}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "5s",
            "--latency",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 30,
    ).stdout
    units = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}

    def latency(pct: str) -> float:
        m = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M)
        return float(m.group(1)) * units[m.group(2)] if m else float("nan")

    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors += int(non2xx.group(1)) if non2xx else 0
    return {
        "rps": float(rps.group(1)) if rps else 0.0,
        "p50": latency("50"),
        "p99": latency("99"),
        "errors": errors,
    }


def _threaded(url: str, clients: int, seconds: float) -> dict:
    """The fallback client: ``clients`` threads, one keep-alive connection each."""
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client() -> None:
        conn = http.client.HTTPConnection(LOOPBACK, port, timeout=5)
        mine = []
        while time.monotonic() < stop:
            t = time.perf_counter()
            try:
                conn.request("GET", "/")
                resp = conn.getresponse()
                resp.read()
                ok = resp.status < 400
            except (OSError, http.client.HTTPException):
                ok = False
                conn.close()
                conn = http.client.HTTPConnection(LOOPBACK, port, timeout=5)
            if ok:
                mine.append(time.perf_counter() - t)
            else:
                with lock:
                    errors[0] += 1
        conn.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 10)
    lat = np.array(latencies) if latencies else np.array([np.nan])
    return {
        "rps": len(latencies) / seconds,
        "p50": float(np.percentile(lat, 50)),
        "p99": float(np.percentile(lat, 99)),
        "errors": errors[0],
    }


def _fronts(ports: list[int], stack) -> dict[str, str]:
    """Start every front that this machine has; name -> url."""
    from halab.live.production import HAProxy, Nginx, ServerNotFound

    urls = {"direct": f"http://{LOOPBACK}:{ports[0]}/"}
    for name, cls in (("HAProxy", HAProxy), ("nginx", Nginx)):
        try:
            front = stack.enter_context(cls(ports, access_log=False))
        except (ServerNotFound, RuntimeError, OSError) as exc:
            print(f"bench_load: no {name} ({type(exc).__name__}); skipped", flush=True)
            continue
        urls[name] = front.url + "/"
    return urls


def bench_load(
    clients: tuple[int, ...] = LOAD_CLIENTS,
    wrk_clients: tuple[int, ...] = WRK_CLIENTS,
    seconds: float | None = None,
) -> list[Row]:
    """Throughput and latency at 1 to 128 keep-alive clients, as ratios to direct.

    Two load clients, each against every front in turn, in one run: the benchmark's own
    (Python threads, one keep-alive connection each) at 1, 8, 32 and 128 clients, and ``wrk``
    (when installed) at 1, 4, 8, 32 and 128. The bars: halab's balancer at least 0.5x direct
    at 32 clients with the Python client and at 4 clients with wrk, no error at 128 with
    either. ``clients``, ``wrk_clients`` and ``seconds`` (per point) make it smaller for a
    test.
    """
    import contextlib

    group = "live load"
    quick = bool(os.environ.get("HALAB_BENCH_QUICK"))
    if seconds is None:
        seconds = 1.0 if quick else LOAD_SECONDS
    tools = [("Python threads", _threaded, clients, 32)]
    if shutil.which("wrk"):
        tools.append(("wrk", _wrk, wrk_clients, 4))
    else:
        print("bench_load: no wrk on this machine; its rows are skipped", flush=True)
    procs = []
    env = {"HALAB_SECRET": os.urandom(16).hex()}
    rows: list[Row] = []
    with contextlib.ExitStack() as stack:
        try:
            ports = []
            for i in range(3):
                proc, info = spawn("halab.live.backend", ["--name", f"b{i}"], env=env)
                procs.append(proc)
                ports.append(int(info["port"]))
            args = ["--ports", ",".join(map(str, ports)), "--settings", json.dumps({})]
            proc, info = spawn("halab.live.balancer", args, env=env)
            procs.append(proc)
            urls = {"halab": f"http://{LOOPBACK}:{info['port']}/", **_fronts(ports, stack)}
            time.sleep(1.0)  # every front's checks see the backends up
            results: dict[tuple[str, str, int], dict] = {}
            for tool, measure, counts, _ in tools:
                for n in counts:
                    for name, url in urls.items():  # interleaved: drift hits every front alike
                        measure(url, n, min(seconds, 1.0) / 2)  # warm-up
                        before = [_cpu_seconds(p.pid) for p in procs]
                        r = measure(url, n, seconds)
                        spent = [_cpu_seconds(p.pid) - b for p, b in zip(procs, before)]
                        served = r["rps"] * seconds
                        # CPU per request: the balancer's (procs[3]), and the backends' together
                        r["cpu_balancer"] = spent[3] / served if served else float("nan")
                        r["cpu_backends"] = sum(spent[:3]) / served if served else float("nan")
                        results[tool, name, n] = r
        finally:
            for proc in procs:
                stop_process(proc)
    for tool, _, counts, bar_at in tools:
        for n in counts:
            rows += _load_rows(group, tool, n, urls, results, bar_at, max(counts))
    return rows


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (Linux ``/proc``; else NaN)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _load_rows(group, tool, clients, urls, results, bar_at, most) -> list[Row]:
    direct = results[tool, "direct", clients]
    halab = results[tool, "halab", clients]
    tag = f"{clients} client{'s' if clients > 1 else ''} ({tool})"
    rows = [Row(group, f"direct, {tag}", direct["rps"], "req/s")]
    if clients in (4, 32):  # where the CPU goes, a request: the balancer, and a backend
        rows.append(
            Row(group, f"CPU a request, backend, direct, {tag}", direct["cpu_backends"] * 1e6, "us")
        )
        rows.append(
            Row(group, f"CPU a request, halab balancer, {tag}", halab["cpu_balancer"] * 1e6, "us")
        )
        rows.append(
            Row(
                group,
                f"CPU a request, backend behind halab, {tag}",
                halab["cpu_backends"] * 1e6,
                "us",
            )
        )
    for name in urls:
        r = results[tool, name, clients]
        ratio = r["rps"] / direct["rps"] if direct["rps"] else float("nan")
        if name == "halab" and clients == bar_at:
            rows.append(at_least(group, f"{name}/direct, {tag}", ratio, "x", 0.5))
        elif name != "direct":
            rows.append(Row(group, f"{name}/direct, {tag}", ratio, "x"))
        rows.append(Row(group, f"{name} p50, {tag}", r["p50"] * 1e3, "ms"))
        rows.append(Row(group, f"{name} p99, {tag}", r["p99"] * 1e3, "ms"))
        if name == "halab" and clients == most:
            ok = r["errors"] == 0
            rows.append(Row(group, f"{name} errors, {tag}", r["errors"], "", "= 0", ok))
        else:
            rows.append(Row(group, f"{name} errors, {tag}", r["errors"], ""))
    return rows
