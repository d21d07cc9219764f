"""The lesson's bars on a real cluster: a kill-and-revive drill loses nothing, and the block
leaves no process, thread or port behind.

Timing bars come from the issue: the killed backend stops receiving traffic within
``inter * fall + inter`` seconds, and is back in rotation within ``inter * rise`` seconds of
listening again. ``SLACK`` seconds are allowed on top for thread scheduling on a busy
two-core machine.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from halab.live import LiveCluster, Settings
from halab.live._proc import LOOPBACK, child_env

pytestmark = [pytest.mark.live, pytest.mark.slow]

SLACK = 0.1  # seconds


def listening(port: int) -> bool:
    try:
        with socket.create_connection((LOOPBACK, port), timeout=0.5):
            return True
    except OSError:
        return False


def pid_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is gone for our purposes only once reaped; check /proc where there is one
    stat = Path(f"/proc/{pid}/stat")
    if stat.exists():
        try:
            return stat.read_text().split(") ")[1][0] != "Z"
        except (OSError, IndexError):
            return False
    return True


def test_kill_and_revive_under_load_loses_no_request():
    s = Settings()  # the lesson's defaults: inter 0.2 s, rise 2, fall 2, retries 2
    with LiveCluster(backends=3, settings=s) as cluster:
        drill = cluster.drill(victim=1, rate=100, kill_at=1.0, revive_at=2.5, duration=4.0)
        status = cluster.status()
    summary = drill.summary()
    assert summary["requests"] >= 390, summary
    assert drill.failed == 0, summary
    stop_bar = s.inter * s.fall + s.inter
    assert drill.removed_t is not None and drill.removed_t - drill.kill_t <= stop_bar + SLACK
    assert drill.last_tried_after_kill - drill.kill_t <= stop_bar + SLACK, summary
    back_bar = s.inter * s.rise
    assert drill.readmitted_t is not None, summary
    assert drill.readmitted_t - drill.revive_t <= back_bar + SLACK, summary
    assert drill.first_served_after_revive - drill.revive_t <= back_bar + SLACK, summary
    # no request was tried on the victim between its removal and its readmission
    tried = drill.load.tried("b1")
    assert not ((tried > drill.removed_t + 0.01) & (tried < drill.readmitted_t - 0.01)).any()
    assert [row["in_rotation"] for row in status] == [True, True, True]
    kinds = [e.kind for e in drill.timeline if e.backend == 1]
    assert kinds[0] == "kill" and "revive" in kinds and kinds[-1] == "readmitted", kinds


def test_health_checks_alone_detect_within_the_bar_but_clients_see_errors():
    s = Settings(retries=0, consecutive_5xx=None)
    with LiveCluster(backends=3, settings=s, balancer_process=False) as cluster:
        drill = cluster.drill(victim=2, rate=100, kill_at=0.8, revive_at=2.0, duration=3.0)
    assert drill.removed_t - drill.kill_t <= s.inter * s.fall + s.inter + SLACK
    assert drill.failed > 0
    bad = [r.start for r in drill.load.records if not r.ok]
    # every failure falls between the kill and the removal: nothing lost outside that window
    assert min(bad) >= drill.kill_t - 0.05 and max(bad) <= drill.removed_t + 0.05, bad
    assert drill.readmitted_t - drill.revive_t <= s.inter * s.rise + SLACK


def test_naive_balancer_loses_requests_and_never_readmits():
    with LiveCluster(backends=3, naive=True, balancer_process=False) as cluster:
        drill = cluster.drill(victim=0, rate=100, kill_at=0.5, revive_at=1.2, duration=2.0)
    assert drill.failed >= 1
    assert drill.readmitted_t is None
    assert drill.first_served_after_revive is None


@pytest.mark.parametrize("how", ["normally", "on an exception", "on KeyboardInterrupt"])
def test_leaving_the_block_leaves_nothing_behind(how):
    threads_before = set(threading.enumerate())
    pids, ports = [], []
    exc = {
        "normally": None,
        "on an exception": RuntimeError,
        "on KeyboardInterrupt": KeyboardInterrupt,
    }
    try:
        with LiveCluster(backends=2) as cluster:
            pids = [cluster.pid(i) for i in range(2)] + [cluster._res.balancer_proc.pid]
            ports = [*cluster.ports, int(cluster.url.rsplit(":", 1)[1])]
            gen = cluster.load_in_background(rate=50, duration=10.0)
            time.sleep(0.3)
            if exc[how] is not None:
                raise exc[how]("boom")
            gen.stop()
    except (RuntimeError, KeyboardInterrupt):
        gen.stop()  # the load generator is the caller's; stop it as a caller would
    assert cluster.closed
    assert [p for p in pids if pid_running(p)] == []
    assert [p for p in ports if listening(p)] == []
    leftover = [t for t in threading.enumerate() if t not in threads_before and t.is_alive()]
    assert leftover == []


def test_everything_listens_on_loopback_only():
    if not Path("/proc/net/tcp").exists():
        pytest.skip("needs Linux /proc/net/tcp")
    with LiveCluster(backends=2, balancer_process=True) as cluster:
        ports = [*cluster.ports, int(cluster.url.rsplit(":", 1)[1])]
        listeners = {}
        for path in ("/proc/net/tcp", "/proc/net/tcp6"):
            if not Path(path).exists():
                continue
            for line in Path(path).read_text().splitlines()[1:]:
                fields = line.split()
                local, state = fields[1], fields[3]
                addr, port = local.rsplit(":", 1)
                if state == "0A":  # LISTEN
                    listeners.setdefault(int(port, 16), []).append(addr)
    for port in ports:
        assert listeners.get(port) == ["0100007F"], (port, listeners.get(port))  # 127.0.0.1


def test_children_die_with_their_parent():
    script = textwrap.dedent(
        """
        import json, sys, time
        from halab.live import LiveCluster
        cluster = LiveCluster(backends=2).start()
        pids = [cluster.pid(0), cluster.pid(1), cluster._res.balancer_proc.pid]
        print(json.dumps(pids), flush=True)
        time.sleep(60)
        """
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, env=child_env(), text=True
    )
    try:
        pids = eval(parent.stdout.readline())  # a JSON list of ints
        assert all(pid_running(p) for p in pids)
        parent.send_signal(signal.SIGKILL)  # no atexit, no finalizer: the children must notice
        parent.wait(5)
        deadline = time.monotonic() + 3.0
        while any(pid_running(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [p for p in pids if pid_running(p)] == []
    finally:
        parent.kill()
        parent.wait()
        parent.stdout.close()


def test_kill_revive_and_faults_through_the_cluster():
    with LiveCluster(backends=2, balancer_process=False) as cluster:
        port, pid = cluster.ports[0], cluster.pid(0)
        assert cluster.kill(0) is True and cluster.kill(0) is False
        assert not cluster.alive(0) and not listening(port)
        with pytest.raises(RuntimeError, match="revive it first"):
            cluster.slow(0, 1.0)
        assert cluster.revive(0) is True and cluster.revive(0) is False
        assert cluster.ports[0] == port and listening(port) and cluster.pid(0) != pid
        cluster.fail(1, 0.5)
        cluster.slow(1, 0.1)
        assert cluster.faults(1) == {"backend": "b1", "slow": 0.1, "fail": 0.5, "hang": False}
        cluster.heal(1)
        assert cluster.faults(1)["fail"] == 0.0
        mine = {"start", "kill", "revive", "fail", "slow", "hang", "heal"}
        kinds = [e.kind for e in cluster.timeline if e.kind in mine]
        assert kinds == ["start", "kill", "revive", "fail", "slow", "heal"]
        with pytest.raises(ValueError, match="backend index"):
            cluster.kill(2)
        with pytest.raises(ValueError, match="rate"):
            cluster.fail(1, 1.5)
    with pytest.raises(RuntimeError, match="not running"):
        cluster.kill(0)


def test_cluster_rejects_bad_input():
    with pytest.raises(ValueError, match="backends"):
        LiveCluster(backends=0)
    with pytest.raises(ValueError, match="unknown policy"):
        LiveCluster(policy="fastest")
    with pytest.raises(ValueError, match="unknown option"):
        LiveCluster(interval=0.2)
    with pytest.raises(ValueError, match="inter"):
        LiveCluster(inter=-1)


def test_compare_runs_one_drill_through_three_balancers():
    variants = {
        "naive": Settings(naive=True),
        "checks only": Settings(retries=0, consecutive_5xx=None),
        "checks + retries": Settings(),
    }
    with LiveCluster(backends=3, balancer_process=False) as cluster:
        drills = cluster.compare(variants, victim=1, kill_at=0.6, revive_at=1.6, duration=2.4)
    assert list(drills) == list(variants)
    kill_times = {d.kill_t for d in drills.values()}
    assert len(kill_times) == 1  # one SIGKILL seen by all three
    naive, checks, full = drills.values()
    assert naive.failed >= 1 and naive.readmitted_t is None
    assert checks.failed >= 1 and checks.readmitted_t is not None
    assert full.failed == 0 and full.readmitted_t is not None
    s = variants["checks only"]
    assert checks.removed_t - checks.kill_t <= s.inter * s.fall + s.inter + SLACK


def test_detection_trials_fall_between_the_bounds():
    from halab.live.health import detection_bounds, readmission_bounds

    variants = {inter: Settings(inter=inter, consecutive_5xx=None) for inter in (0.1, 0.3)}
    with LiveCluster(backends=2, balancer_process=False) as cluster:
        measured = cluster.detection_trials(variants, victim=0, trials=2, seed=1)
    for inter, rows in measured.items():
        assert rows.shape == (2, 2) and not np.isnan(rows).any(), (inter, rows)
        low, high = detection_bounds(inter, 2)
        assert (rows[:, 0] >= low - 0.02).all() and (rows[:, 0] <= high + SLACK).all(), rows
        low, high = readmission_bounds(inter, 2)
        assert (rows[:, 1] >= low - 0.02).all() and (rows[:, 1] <= high + SLACK).all(), rows


def test_a_kernel_restart_leaves_nothing_behind():
    jupyter_client = pytest.importorskip("jupyter_client")
    km = jupyter_client.KernelManager(kernel_name="python3")
    km.start_kernel(env=child_env())
    try:
        kc = km.client()
        kc.start_channels()
        kc.wait_for_ready(timeout=60)
        code = (
            "from halab.live import LiveCluster\n"
            "cluster = LiveCluster(backends=2).start()\n"
            "print([cluster.pid(0), cluster.pid(1), cluster._res.balancer_proc.pid])\n"
        )
        out = []
        kc.execute_interactive(
            code,
            timeout=60,
            output_hook=lambda msg: out.append(msg["content"].get("text", "")),
        )
        pids = eval("".join(out).strip())  # a printed list of ints
        assert len(pids) == 3 and all(pid_running(p) for p in pids)
        km.restart_kernel(now=False)  # a graceful restart, as JupyterLab's menu does
        deadline = time.monotonic() + 5.0
        while any(pid_running(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [p for p in pids if pid_running(p)] == []
        kc.stop_channels()
    finally:
        km.shutdown_kernel(now=True)


def child_pids() -> set[int]:
    """Live (not zombie) processes whose parent is this process."""
    me, out = str(os.getpid()), set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(") ", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[1] == me and fields[0] != "Z":
            out.add(int(stat.parent.name))
    return out


@pytest.mark.parametrize("balancer_process", [True, False])
def test_a_dropped_cluster_stops_its_processes(balancer_process):
    # a notebook cell `c = LiveCluster(backends=2).start()` run five times
    if not Path("/proc/self/stat").exists():
        pytest.skip("needs Linux /proc")
    import gc

    before = child_pids()
    threads_before = set(threading.enumerate())
    for _ in range(5):
        c = LiveCluster(backends=2, balancer_process=balancer_process).start()
        assert len(child_pids() - before) == 2 + balancer_process  # the previous one is gone
    ports = list(c.ports)
    del c
    gc.collect()
    deadline = time.monotonic() + 5.0
    while child_pids() - before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert child_pids() - before == set()
    assert not any(listening(p) for p in ports)
    leftover = [t for t in threading.enumerate() if t not in threads_before and t.is_alive()]
    assert leftover == []


def test_the_secret_reaches_the_children_in_their_environment_only():
    with LiveCluster(backends=2) as cluster:
        pids = [cluster.pid(0), cluster.pid(1), cluster._res.balancer_proc.pid]
        assert len(cluster.secret) >= 32
        for pid in pids:
            env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            assert f"HALAB_SECRET={cluster.secret}".encode() in env
            assert cluster.secret.encode() not in Path(f"/proc/{pid}/cmdline").read_bytes()
        cluster.fail(0, 0.5)  # the switches send it, and still work
        assert cluster.faults(0)["fail"] == 0.5
        cluster.heal(0)
        assert [row["in_rotation"] for row in cluster.status()] == [True, True]
    assert LiveCluster(backends=1).secret != LiveCluster(backends=1).secret


def _get(port: int, request_id: str | None = None) -> tuple[int, dict]:
    """A GET to 127.0.0.1:port (with ``X-Request-Id`` when given): (status, headers)."""
    import http.client

    conn = http.client.HTTPConnection(LOOPBACK, port, timeout=5)
    try:
        conn.request("GET", "/", headers={"X-Request-Id": request_id} if request_id else {})
        resp = conn.getresponse()
        resp.read()
        return resp.status, dict(resp.getheaders())
    finally:
        conn.close()


def test_the_ledger_counts_executions_and_catches_a_request_run_twice():
    with LiveCluster(backends=2) as cluster:
        port = int(cluster.url.rsplit(":", 1)[1])
        assert _get(port)[0] == 200  # no id given: the balancer adds one
        assert _get(port, "mine-1")[0] == 200  # given: it is kept
        runs = cluster.executions()
        assert runs["mine-1"] == 1 and sum(runs.values()) == 2, runs
        (added,) = set(runs) - {"mine-1"}
        assert added.startswith("lb"), added
        assert cluster.executed_twice() == {}
        # a forced double execution: the same request sent to both backends (what retrying a
        # POST that had run would do); the server-side check must name it and where it ran
        for p in cluster.ports:
            assert _get(p, "twice-1")[0] == 200
        pids = [cluster.pid(0), cluster.pid(1)]
        assert cluster.executed_twice() == {"twice-1": [("b0", pids[0]), ("b1", pids[1])]}
        # a killed process's lines survive it (one write(2) per execution)
        cluster.kill(0)
        assert cluster.executions()["twice-1"] == 2


def test_a_request_its_client_gave_up_on_is_not_executed():
    # b0 is slower than the balancer's timeout (1 s): the balancer gives up, closes, and sends
    # the GET to b1; b0 must not run it when its sleep ends
    with LiveCluster(backends=2) as cluster:
        port = int(cluster.url.rsplit(":", 1)[1])
        cluster.slow(0, 1.5)
        tried = {}
        for k in range(2):  # round robin: one of the two goes to b0 first
            status, headers = _get(port, f"slow-{k}")
            assert status == 200
            tried[f"slow-{k}"] = headers["X-Tried"]
        (first_b0,) = [k for k, v in tried.items() if v == "b0,b1"]
        time.sleep(1.0)  # b0's sleep is over
        runs = cluster.executions()
        assert runs[first_b0] == 1, (tried, runs)
        assert cluster.executed_twice() == {}
