"""halab.live.production: HAProxy and nginx configured from halab's Settings, run for real.

The configuration tests need no server. The tests marked ``live`` start HAProxy or nginx; they
skip with an install hint when the server is missing, except when the environment variable CI
is "true", where a missing server is a failure (CI installs both; see .ci/run).

Expected directives come from the manuals, not from the code: the HAProxy 2.6 Configuration
Manual (sections 4.2 and 5.2) and nginx's ngx_http_upstream_module / ngx_http_proxy_module.
"""

from __future__ import annotations

import doctest
import importlib.util
import json
import math
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import fields
from pathlib import Path

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st

import halab.live.guard as guard
import halab.live.production as production
import halab.live.servers as servers
from halab.live import IDEMPOTENT_METHODS, LiveCluster, Record, Settings, run_load
from halab.live._proc import LOOPBACK, child_env
from halab.live.cluster import Drill
from halab.live.events import Event
from halab.live.loadgen import LoadResult
from halab.live.production import (
    HAProxy,
    Nginx,
    ServerNotFound,
    annotated,
    config_text,
    drill_numbers,
    drill_through,
    find_server,
    haproxy_lines,
    integer_weights,
    make_front,
    missing_message,
    nginx_lines,
    nginx_out_window,
    readmission_bound,
    removal_bound,
    retry_wait_without_redispatch,
    unmapped,
)

PORTS = [41001, 41002, 41003]
SLACK = 0.15  # seconds, for scheduling on a busy two-core machine


def need(server: str) -> str:
    """The server's binary; skip (or fail under CI=true) when it is not installed."""
    path = find_server(server)
    if path is None:
        message = missing_message([server])
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {message}")
        pytest.skip(message)
    return path


def lines_of(pairs, setting=None):
    return [text.strip() for s, text in pairs if setting is None or s == setting]


# -- HAProxy's configuration ---------------------------------------------------------------------


def test_haproxy_defaults_line_by_line():
    s = Settings()  # inter 0.2 s, rise 2, fall 2, 3 consecutive failures, 2 retries
    pairs = haproxy_lines(s, PORTS, port=40000, tmpdir="/tmp/x")
    text = lines_of(pairs)
    assert "bind 127.0.0.1:40000" in text
    assert lines_of(pairs, "policy") == ["balance roundrobin"]
    assert lines_of(pairs, "check_path") == ["option httpchk GET /health"]
    assert lines_of(pairs, "connect_timeout") == ["timeout connect 500ms"]
    assert lines_of(pairs, "timeout") == ["timeout server 1000ms"]
    assert lines_of(pairs, "retries") == ["retries 2", "option redispatch 1"]
    assert lines_of(pairs, "retry_on_5xx") == [
        "retry-on conn-failure empty-response response-timeout 500 502 503 504"
    ]
    # unset check_timeout: HAProxy then uses inter for the whole check, as halab does
    assert not any(t.startswith("timeout check") for t in text)
    servers = [t for t in text if t.startswith("server ")]
    assert len(servers) == 3
    for i, (line, port) in enumerate(zip(servers, PORTS)):
        m = re.fullmatch(
            rf"server b{i} 127\.0\.0\.1:{port} weight 1 check inter (\d+)ms rise (\d+) "
            r"fall (\d+) observe layer7 error-limit (\d+) on-error mark-down",
            line,
        )
        assert m, line
        assert (int(m[1]), int(m[2]), int(m[3]), int(m[4])) == (200, 2, 2, 3)
    # only idempotent requests are retried once they reached a server
    (rule,) = [t for t in text if "disable-l7-retry" in t]
    methods = re.fullmatch(r"http-request disable-l7-retry unless \{ method (.*) \}", rule)[1]
    assert set(methods.split()) == set(IDEMPOTENT_METHODS)
    assert "http-response set-header X-Backend %[res.hdr(X-Served-By)]" in text
    assert config_text(pairs) == "\n".join(t for _, t in pairs) + "\n"
    # every path HAProxy writes is inside the private directory
    assert "pidfile /tmp/x/haproxy.pid" in text
    assert any(t.startswith("stats socket /tmp/x/haproxy.sock ") for t in text)


@pytest.mark.parametrize(
    ("policy", "haproxy", "nginx"),
    [  # HAProxy manual 4.2 "balance"; nginx ngx_http_upstream_module
        ("round_robin", ["balance roundrobin"], []),
        ("weighted_round_robin", ["balance roundrobin"], []),
        ("least_connections", ["balance leastconn"], ["least_conn;"]),
        ("power_of_two", ["balance random(2)"], ["random two least_conn;"]),
        ("random", ["balance random(1)"], ["random;"]),
        (
            "consistent_hash",
            ["balance hdr(X-Key)", "hash-type consistent"],
            ["hash $http_x_key consistent;"],
        ),
    ],
)
def test_policies_map_to_the_manuals_directives(policy, haproxy, nginx):
    s = Settings(policy=policy)
    assert lines_of(haproxy_lines(s, PORTS, port=40000), "policy") == haproxy
    got = [t for t in lines_of(nginx_lines(s, PORTS, port=40000), "policy") if t[0] != "#"]
    assert got == nginx


def test_least_response_time_has_no_open_source_equivalent():
    s = Settings(policy="least_response_time")
    with pytest.raises(ValueError, match="no balancing by response time"):
        haproxy_lines(s, PORTS, port=40000)
    with pytest.raises(ValueError, match="NGINX Plus"):
        nginx_lines(s, PORTS, port=40000)


def test_haproxy_variants():
    s = Settings(
        retries=0, checks=False, weights=(1, 2, 3), check_timeout=0.1, consecutive_5xx=None
    )
    text = lines_of(haproxy_lines(s, PORTS, port=40000))
    assert "retries 0" in text
    assert not any("redispatch" in t or "retry-on" in t or "check" in t for t in text)
    assert [t.split(" weight ")[1] for t in text if t.startswith("server ")] == ["1", "2", "3"]
    s = Settings(check_timeout=0.15, retry_on_5xx=False)
    text = lines_of(haproxy_lines(s, PORTS, port=40000))
    assert "timeout check 150ms" in text
    assert "retry-on conn-failure empty-response response-timeout" in text
    # retry-on and disable-l7-retry came with HAProxy 2.0: older ones get neither
    old = lines_of(haproxy_lines(Settings(), PORTS, port=40000, version=(1, 8, 30)))
    assert "option redispatch 1" in old
    assert not any("retry-on" in t or "disable-l7-retry" in t for t in old)


# -- nginx's configuration -----------------------------------------------------------------------


def test_nginx_defaults_line_by_line():
    s = Settings(base_ejection_time=1.5)
    pairs = nginx_lines(s, PORTS, port=40000, tmpdir="/tmp/y")
    text = lines_of(pairs)
    assert "listen 127.0.0.1:40000;" in text
    servers = [t for t in text if t.startswith("server 127.")]
    # max_fails = consecutive_5xx; fail_timeout in whole seconds, rounded up
    assert servers == [f"server 127.0.0.1:{p} weight=1 max_fails=3 fail_timeout=2s;" for p in PORTS]
    assert "proxy_connect_timeout 500ms;" in text
    assert "proxy_read_timeout 1000ms;" in text
    (next_upstream,) = [t for t in text if t.startswith("proxy_next_upstream ")]
    words = next_upstream.rstrip(";").split()[1:]
    assert words == ["error", "timeout", "http_500", "http_502", "http_503", "http_504"]
    assert "non_idempotent" not in next_upstream  # POST, LOCK, PATCH are never resent
    assert "proxy_next_upstream_tries 3;" in text  # the first try plus two retries
    assert "add_header X-Backend $upstream_http_x_served_by always;" in text
    paths = [
        w.rstrip(";")
        for t in text
        for w in t.split()
        if w.startswith("/") and w not in ("/", production.READY_PATH)
    ]
    assert paths and all(p.startswith("/tmp/y/") or p == "/dev/stderr" for p in paths), paths
    assert lines_of(nginx_lines(s, PORTS, port=1, access_log=False)).count("access_log off;") == 1


def test_nginx_without_retries_or_ejection():
    text = lines_of(nginx_lines(Settings(retries=0, consecutive_5xx=None), PORTS, port=40000))
    # proxy_next_upstream_tries 0 means "no limit", so no retries must be "off"
    assert "proxy_next_upstream off;" in text
    assert not any(t.startswith("proxy_next_upstream_tries") for t in text)
    assert all("max_fails=0 " in t for t in text if t.startswith("server 127."))
    text = lines_of(nginx_lines(Settings(retry_on_5xx=False), PORTS, port=40000))
    assert "proxy_next_upstream error timeout;" in text


def test_every_setting_named_is_a_real_one():
    known = {f.name for f in fields(Settings)} | {"IDEMPOTENT_METHODS"}
    for s in (Settings(), Settings(check_timeout=0.1, policy="consistent_hash")):
        for pairs in (haproxy_lines(s, PORTS, port=1), nginx_lines(s, PORTS, port=1)):
            named = {n.strip() for setting, _ in pairs if setting for n in setting.split(",")}
            assert named and named <= known, named - known


def test_unmapped_settings_say_why():
    nginx = dict(unmapped(Settings(), "nginx"))
    assert (
        "no active health checks" in nginx["checks, inter, rise, fall, check_timeout, check_path"]
    )
    assert "max_ejection_percent" in nginx
    haproxy = dict(unmapped(Settings(policy="power_of_two"), "haproxy"))
    assert "rise good checks" in haproxy["base_ejection_time, max_ejection_time"]
    assert "cannot be seeded" in haproxy["seed"]
    assert "checks, inter, rise, fall, check_timeout, check_path" not in haproxy


@given(st.lists(st.floats(0.01, 1000.0), min_size=1, max_size=16))
def test_integer_weights_keep_the_ratios(weights):
    ints = integer_weights(weights, len(weights))
    assert all(isinstance(w, int) and 1 <= w <= 256 for w in ints), ints
    top, k_top = max(weights), max(ints)
    for w, k in zip(weights, ints):
        if w / top >= 0.01:  # below 1/100 of the largest, the floor of 1 takes over
            assert abs(k / k_top - w / top) <= 0.005 + 1e-12, (weights, ints)


def test_integer_weights_keep_small_integers():
    assert integer_weights([1, 2, 3], 3) == [1, 2, 3]
    assert integer_weights(None, 2) == [1, 1]
    assert integer_weights([0.5, 1.0], 2) == [50, 100]


@pytest.mark.parametrize(
    ("call", "word"),
    [
        (lambda: haproxy_lines(Settings(naive=True), PORTS, port=1), "naive"),
        (lambda: haproxy_lines(Settings(), [], port=1), "ports"),
        (lambda: haproxy_lines(Settings(), [0, 1], port=1), "port"),
        (lambda: haproxy_lines(Settings(), PORTS, port=70000), "port must be"),
        (lambda: nginx_lines(Settings(), PORTS, port=1, names=["a"]), "names"),
        (lambda: haproxy_lines(Settings(), PORTS, port=1, names=["a b", "c", "d"]), "names"),
        (lambda: nginx_lines({"policy": "random"}, PORTS, port=1), "settings"),
        (lambda: integer_weights([1, 2], 3), "weights"),
        (lambda: find_server("apache"), "server must be"),
        (lambda: unmapped(Settings(), "envoy"), "server must be"),
        (lambda: drill_numbers(None, slow=0), "slow"),
    ],
)
def test_bad_input(call, word):
    with pytest.raises(ValueError, match=word):
        call()


def test_missing_servers_say_how_to_install(monkeypatch):
    monkeypatch.setattr(servers, "find_server", lambda server: None)
    message = production.missing_message()
    assert message.startswith("HAProxy and nginx are not installed")
    assert "sudo apt-get install haproxy nginx-light" in message and "brew" in message
    assert production.available_balancers() == ["halab"]
    with pytest.raises(ServerNotFound, match="apt-get install"):
        HAProxy(PORTS)
    with pytest.raises(ServerNotFound, match="nginx is not installed"):
        make_front("nginx", PORTS)


def test_drill_numbers_by_hand():
    # 10 requests, 10 ms apart; one failed, two slow; the victim out 0.3 s after the kill
    records = [Record(0.1 * k, 0.002, 200, "b0") for k in range(10)]
    records[3] = Record(0.3, 0.9, 200, "b2")
    records[4] = Record(0.4, 0.6, 0, None, (), "ReadTimeout")
    events = [Event(0.25, "kill", 1), Event(0.55, "removed", 1), Event(0.7, "revive", 1)]
    events.append(Event(1.2, "readmitted", 1))
    drill = Drill(LoadResult(records, 0.0), events, 1, 0.25, 0.7, Settings())
    n = drill_numbers(drill)
    assert (n["requests"], n["failed"], n["slow"]) == (10, 1, 2)
    assert n["removed_s"] == pytest.approx(0.3) and n["readmitted_s"] == pytest.approx(0.5)
    assert n["p50_ms"] == pytest.approx(2.0)
    lat = sorted([0.002] * 8 + [0.6, 0.9])  # numpy's linear interpolation at rank 0.99 * 9
    assert n["p99_ms"] == pytest.approx((lat[8] + 0.91 * (lat[9] - lat[8])) * 1e3)
    assert n["answered_per_s"] == pytest.approx(9 / 0.9)


def test_doctests():
    failures, tried = doctest.testmod(production, optionflags=doctest.ELLIPSIS)
    assert tried >= 2 and failures == 0


def test_the_guard_needs_a_command():
    out = subprocess.run(
        [sys.executable, "-m", "halab.live.production"],
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=30,
    )
    assert out.returncode != 0 and "usage" in out.stderr


# -- what to expect: the closed forms ----------------------------------------------------------


def test_removal_bounds_by_hand():
    s = Settings()  # inter 0.2, fall 2, 3 consecutive failures, timeout 1.0
    # killed: checks by fall * inter = 0.4 s; ejection by the 3rd failed request: the victim
    # gets its first within 0.03 s (every 3rd request at 100/s), then, since each retry takes
    # the next backend's turn, every 2nd request: 2 * 0.02 + 0.03 = 0.07 s (lesson 06's 40 to
    # 70 ms, health.ejection_bounds); the earlier wins
    for b in ("halab", "haproxy", "nginx"):
        assert removal_bound(b, s, rate=100, backends=3) == pytest.approx(0.07)
        no_retry = Settings(retries=0)
        assert removal_bound(b, no_retry, rate=100, backends=3) == pytest.approx(0.09)
    from halab.live.health import ejection_bounds

    assert ejection_bounds(100, 3, 3, retries=s.retries) == pytest.approx((0.04, 0.07))
    # hung: each failing check waits inter (no timeout check): (2-1)(0.2+0.2)+0.2+0.2 = 0.8 s;
    # a request fails only at timeout: 1.0 + 0.09 s (the three were sent at b1's usual turn,
    # before any failed, so retries do not speed it up); nginx has only the latter
    assert removal_bound("haproxy", s, fault="hang", rate=100, backends=3) == pytest.approx(0.8)
    assert removal_bound("nginx", s, fault="hang", rate=100, backends=3) == pytest.approx(1.09)
    quiet = Settings(consecutive_5xx=None)
    assert removal_bound("halab", quiet, rate=100, backends=3) == pytest.approx(0.4)
    assert removal_bound("nginx", quiet, rate=100, backends=3) == math.inf  # max_fails=0
    with pytest.raises(ValueError, match="fault"):
        removal_bound("nginx", s, fault="slow", rate=100, backends=3)
    with pytest.raises(ValueError, match="balancer"):
        removal_bound("envoy", s, rate=100, backends=3)


def test_readmission_bounds_and_nginx_clock():
    s = Settings(base_ejection_time=1.0)
    assert readmission_bound("halab", s) == pytest.approx(0.4)  # rise * inter
    assert readmission_bound("haproxy", Settings(inter=2.0, rise=3)) == pytest.approx(6.0)
    assert nginx_out_window(s) == (1.0, 2.0)
    assert nginx_out_window(Settings(base_ejection_time=2.5)) == (3.0, 4.0)
    assert readmission_bound("nginx", s) == 2.0
    assert readmission_bound("haproxy", Settings(checks=False)) == math.inf
    # the manual's turn-around: min(timeout connect, 1 s) before each retry on the same server
    assert retry_wait_without_redispatch(Settings()) == pytest.approx(2 * 0.5)
    assert retry_wait_without_redispatch(Settings(connect_timeout=3.0, retries=3)) == 3.0


def test_annotated_configuration_is_still_the_configuration():
    s = Settings()
    pairs = haproxy_lines(s, PORTS, port=40000)
    text = annotated(pairs, s)
    plain = [line.split("#")[0].rstrip() for line in text.splitlines()]
    assert plain == [line.rstrip() for _, line in pairs]
    assert "# halab: weights=None, inter=0.2, rise=2, fall=2, consecutive_5xx=3" in text
    assert "# halab: idempotent methods only" in text


def test_the_exercise_solution_agrees_with_the_generator():
    spec = importlib.util.spec_from_file_location(
        "_sol09", Path(__file__).resolve().parents[1] / "solutions" / "ex09_production.py"
    )
    sol = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sol)
    s = Settings(consecutive_5xx=None, inter=0.35, rise=3, fall=4)
    (server,) = [t for t in lines_of(haproxy_lines(s, [8001], port=1)) if t.startswith("server")]
    assert server == sol.haproxy_server_line("b0", 8001, 0.35, 3, 4)
    for retries, on in [(0, True), (1, False), (3, True)]:
        s = Settings(retries=retries, retry_on_5xx=on)
        text = [t for t in lines_of(nginx_lines(s, PORTS, port=1)) if "next_upstream" in t]
        assert text == sol.nginx_retry_lines(retries, on)
    for fail_timeout in (0.3, 1.0, 2.5, 7.0):
        low, high = nginx_out_window(Settings(base_ejection_time=fail_timeout))
        for at in (3.0, 3.25, 3.999):
            out = sol.nginx_time_out(fail_timeout, at) - at
            assert low < out <= high + 1e-9, (fail_timeout, at, out)


# -- the generated files, checked by the servers themselves ----------------------------------------

VARIANTS = [
    Settings(policy=p, retries=r, checks=c, check_timeout=t, weights=w)
    for p, r, c, t, w in [
        ("round_robin", 2, True, None, None),
        ("weighted_round_robin", 1, True, 0.1, (1.0, 2.5, 4.0)),
        ("least_connections", 0, False, None, None),
        ("power_of_two", 2, True, None, None),
        ("random", 3, False, None, None),
        ("consistent_hash", 2, True, 0.3, None),
    ]
]


@pytest.mark.parametrize("server", ["haproxy", "nginx"])
def test_generated_configurations_pass_the_servers_own_check(server):
    binary = need(server)
    version = production.server_version(server, binary)
    for s in VARIANTS:
        with tempfile.TemporaryDirectory(prefix="halab-test-") as tmp:
            if server == "haproxy":
                pairs = haproxy_lines(s, PORTS, port=40000, tmpdir=tmp, version=version)
                cmd = [binary, "-c", "-q", "-f", f"{tmp}/cfg"]
            else:
                pairs = nginx_lines(s, PORTS, port=40000, tmpdir=tmp)
                cmd = [binary, "-t", "-q", "-c", f"{tmp}/cfg", "-p", tmp + "/"]
                if version >= (1, 19, 5):
                    cmd += ["-e", "stderr"]
            Path(tmp, "cfg").write_text(config_text(pairs))
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
            assert out.returncode == 0, (s, out.stdout + out.stderr)


# -- live: the real servers in front of real backends --------------------------------------------


@pytest.fixture(scope="module")
def cluster():
    with LiveCluster(backends=3, balancer_process=False) as c:
        yield c


@pytest.fixture
def healthy(cluster):
    yield cluster
    for i in range(cluster.n):
        if not cluster.alive(i):
            cluster.revive(i)
        else:
            cluster.heal(i)


def session() -> requests.Session:
    s = requests.Session()
    s.trust_env = False
    return s


@pytest.mark.live
@pytest.mark.slow
def test_haproxy_drill_loses_no_request(healthy):
    need("haproxy")
    s = healthy.settings
    drill = drill_through(healthy, "haproxy", rate=100, kill_at=0.8, revive_at=2.0, duration=3.0)
    n = drill_numbers(drill)
    assert n["failed"] == 0, n
    assert n["requests"] >= 290, n
    # out by active checks within inter * fall + inter (or sooner, by observe layer7)
    assert n["removed_s"] is not None and n["removed_s"] <= s.inter * (s.fall + 1) + SLACK, n
    # back within inter * rise (+ one interval: the revival falls anywhere in a check cycle)
    assert n["readmitted_s"] is not None and n["readmitted_s"] <= s.inter * (s.rise + 1) + SLACK
    kinds = [e.kind for e in drill.timeline if e.backend == drill.victim]
    assert kinds[0] == "kill" and "down" in kinds and kinds[-1] == "readmitted", kinds
    served = [r.start for r in drill.load.records if r.backend == "b1"]
    assert not any(drill.removed_t + 0.01 < t < drill.revive_t for t in served)


@pytest.mark.live
@pytest.mark.slow
def test_nginx_drill_loses_no_request_and_readmits_by_traffic(healthy):
    need("nginx")
    s = healthy.settings
    drill = drill_through(healthy, "nginx", rate=100, kill_at=0.8, revive_at=1.8, duration=4.2)
    n = drill_numbers(drill)
    assert n["failed"] == 0, n
    assert n["removed_s"] is not None and n["removed_s"] <= 0.5, n  # 3 failed requests
    # nginx counts fail_timeout on a clock of whole seconds (ngx_time() in
    # ngx_http_upstream_round_robin.c): out for more than fail_timeout, less than it + 1 s;
    # a try that fails just before the revival starts the wait again
    bound = math.ceil(s.base_ejection_time) + 1.0 + SLACK
    assert n["readmitted_s"] is not None and n["readmitted_s"] <= bound, n
    assert any(e.kind == "eject" for e in drill.timeline)


@pytest.mark.live
@pytest.mark.parametrize("server", ["haproxy", "nginx"])
def test_x_backend_passes_through_and_round_robin_is_exact(healthy, server):
    need(server)
    with (
        make_front(server, healthy.ports, Settings(), names=healthy.names) as front,
        session() as c,
    ):
        answers = [c.get(front.url + "/x", timeout=2) for _ in range(30)]
    assert [r.status_code for r in answers] == [200] * 30
    names = [r.headers["X-Backend"] for r in answers]
    assert {n: names.count(n) for n in set(names)} == {"b0": 10, "b1": 10, "b2": 10}
    assert all(r.json()["backend"] == r.headers["X-Backend"] for r in answers)


@pytest.mark.live
@pytest.mark.parametrize("server", ["haproxy", "nginx"])
def test_only_idempotent_requests_are_retried_after_a_500(healthy, server):
    need(server)
    healthy.fail(0, 1.0)  # b0 answers 500 to everything
    s = Settings(checks=False, consecutive_5xx=None, retries=2)
    with make_front(server, healthy.ports, s, names=healthy.names) as front, session() as c:
        gets = [c.get(front.url, timeout=3) for _ in range(6)]
        posts = [c.post(front.url, data=b"pay", timeout=3) for _ in range(6)]
    assert [r.status_code for r in gets] == [200] * 6  # retried on another backend
    failed_posts = [r for r in posts if r.status_code == 500]
    assert len(failed_posts) == 2, [r.status_code for r in posts]  # b0's turns: not resent
    assert all(r.status_code == 200 for r in posts if r not in failed_posts)


def group_members(pgid: int) -> list[int]:
    """Process ids whose process group is ``pgid`` (Linux /proc)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields_ = stat.read_text().rsplit(") ", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields_[2]) == pgid and fields_[0] != "Z":
            out.append(int(stat.parent.name))
    return out


def listening(port: int) -> bool:
    try:
        with socket.create_connection((LOOPBACK, port), timeout=0.3):
            return True
    except OSError:
        return False


@pytest.mark.live
@pytest.mark.parametrize("server", ["haproxy", "nginx"])
@pytest.mark.parametrize("how", ["normally", "on an exception", "on KeyboardInterrupt"])
def test_nothing_survives_the_block(healthy, server, how):
    need(server)
    if not Path("/proc/self/stat").exists():
        pytest.skip("needs Linux /proc")
    raised = {
        "normally": None,
        "on an exception": RuntimeError,
        "on KeyboardInterrupt": KeyboardInterrupt,
    }
    front = make_front(server, healthy.ports, Settings(), names=healthy.names)
    members, port, tmpdir = [], 0, ""
    try:
        with front:
            members, port, tmpdir = group_members(front.pid), front.port, front.tmpdir
            assert front.pid in members and listening(port)
            assert sorted(os.listdir(tmpdir))[:1] and Path(tmpdir, f"{server}.pid").exists()
            if raised[how] is not None:
                raise raised[how]("boom")
    except (RuntimeError, KeyboardInterrupt):
        pass
    assert len(members) >= 2  # the master and its worker
    assert [p for p in members if guard.alive(p)] == []
    assert not listening(port)
    assert not Path(tmpdir).exists()
    assert not front.running


@pytest.mark.live
@pytest.mark.parametrize("server", ["haproxy", "nginx"])
def test_the_server_dies_with_its_parent(server):
    need(server)
    script = textwrap.dedent(
        f"""
        import json, time
        from halab.live.production import make_front
        front = make_front({server!r}, [1, 2]).start()  # nothing listens there: no matter
        print(json.dumps([front.pid, front.port, front.tmpdir]), flush=True)
        time.sleep(60)
        """
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, env=child_env(), text=True
    )
    try:
        pid, port, tmpdir = json.loads(parent.stdout.readline())
        assert guard.alive(pid) and listening(port)
        parent.send_signal(signal.SIGKILL)  # no finalizer, no atexit: the guard must notice
        parent.wait(5)
        deadline = time.monotonic() + 5.0
        # the whole group, not the leader: HAProxy's worker may outlive its master by a few
        # ms, holding the port (issue 17: this test checked the master's pid only)
        assert production.wait_group_gone(pid, 5.0)
        assert not guard.alive(pid)
        assert not listening(port)
        while Path(tmpdir).exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not Path(tmpdir).exists()  # the guard deletes the private folder too
    finally:
        parent.kill()
        parent.wait()
        parent.stdout.close()


@pytest.mark.live
def test_a_port_taken_meanwhile_is_retried(healthy, monkeypatch):
    need("haproxy")
    with socket.socket() as taken:
        taken.bind((LOOPBACK, 0))
        taken.listen()
        busy = taken.getsockname()[1]
        ports = iter([busy])
        real = servers.free_port
        monkeypatch.setattr(servers, "free_port", lambda: next(ports, None) or real())
        with HAProxy(healthy.ports, names=healthy.names) as front:
            assert front.port != busy
            assert session().get(front.url, timeout=2).status_code == 200
            assert [row["in_rotation"] for row in front.status()] == [True] * 3


@pytest.mark.live
def test_nginx_rejects_what_it_cannot_start(healthy):
    need("nginx")
    front = Nginx(healthy.ports, names=healthy.names)
    front._lines = lambda port, tmpdir="": [("", "this is not nginx;")]
    with pytest.raises(RuntimeError, match="nginx did not start.*unknown directive"):
        front.start()
    assert front.pid is None and not Path(front.tmpdir).exists()


# -- the lesson's figures (halab.widgets, lesson 09), on made-up drills ----------------------------


def made_up_drill(removed=1.05, readmitted=2.3, failed_at=()):
    """100 requests a second for 3 s, round robin; b1 killed at 1.0 s and revived at 2.0 s."""
    records = []
    for k in range(300):
        t = k / 100
        name = f"b{k % 3}"
        if name == "b1" and removed <= t < readmitted:
            name = "b2"
        if any(abs(t - f) < 1e-9 for f in failed_at):
            records.append(Record(t, 0.01, 502, None))
        else:
            records.append(Record(t, 0.002 if t < 2.5 else 0.7, 200, name))
    events = [
        Event(1.0, "kill", 1),
        Event(removed, "removed", 1),
        Event(2.0, "revive", 1),
        Event(readmitted, "readmitted", 1),
    ]
    return Drill(LoadResult(records, 0.0), events, 1, 1.0, 2.0, Settings())


def test_draw_production_rows_and_titles():
    from halab.widgets import draw_production

    drills = {"halab": made_up_drill(), "nginx": made_up_drill(1.2, 2.9, failed_at=(1.01,))}
    fig = draw_production(drills=drills, bin_width=0.1)
    axes = fig.axes
    assert len(axes) == 2
    assert axes[0].get_title().startswith("halab: 0 failed, 50 slow; out after 50 ms")
    assert (
        axes[1].get_title().startswith("nginx: 1 failed, 50 slow; out after 200 ms, back after 900")
    )
    victim = [ln for ln in axes[0].get_lines() if ln.get_label() == "b1 answered"][0]
    x, y = victim.get_data()
    out = (x >= 1.1) & (x < 2.2)
    assert (y[out] == 0).all() and (y[x < 1.0] > 0).any()
    marks = sorted(
        round(ln.get_xdata()[0], 3)
        for ln in axes[0].get_lines()
        if ln.get_linestyle() in ("--", ":")
    )
    assert marks == [1.0, 1.05, 2.0, 2.3]
    with pytest.raises(ValueError, match="drills"):
        draw_production(drills={})


def test_draw_drill_numbers_bars_are_the_numbers():
    from halab.widgets import draw_drill_numbers

    drills = {"halab": made_up_drill(), "haproxy": made_up_drill(1.09, 2.4)}
    bounds = {"halab": (0.09, 0.4), "haproxy": (0.09, 0.4)}
    fig = draw_drill_numbers(drills=drills, bounds=bounds)
    heights = [[round(p.get_height(), 6) for p in ax.patches] for ax in fig.axes]
    want = [drill_numbers(d) for d in drills.values()]
    assert heights[0] == [0, 0]
    assert heights[1] == pytest.approx([n["removed_s"] * 1e3 for n in want])
    assert heights[2] == pytest.approx([n["readmitted_s"] * 1e3 for n in want])
    assert heights[4] == pytest.approx([n["p99_ms"] for n in want])
    ticks = [seg[0][1] for c in fig.axes[1].collections for seg in c.get_segments()]
    assert ticks == pytest.approx([90.0, 90.0])


def test_windows_panel_draws_the_closed_forms():
    from halab.widgets import draw_windows, windows_panel

    fig = draw_windows(measured={"halab": (0.05, 0.3), "nginx": (0.08, None)})
    left, right = fig.axes
    bounds = sorted(ln.get_xdata()[0] for ln in left.get_lines() if ln.get_color() == "black")
    # 3 failed requests in a row at 100 requests/s over 3 backends: the first at the victim's
    # turn (30 ms at most), the next two each at the retry's turn (every 2nd request, 20 ms)
    assert bounds == pytest.approx([0.07, 0.07, 0.07])
    backs = sorted(ln.get_xdata()[0] for ln in right.get_lines() if ln.get_color() == "black")
    assert backs == pytest.approx([0.4, 0.4, 2.0])
    markers = [ln.get_xdata()[0] for ln in right.get_lines() if ln.get_marker() == "o"]
    assert markers == [0.3]
    panel = windows_panel()
    panel.set(inter=0.5, fault="hang", consecutive_5xx=10)
    right = panel.figure.axes[1]
    backs = sorted(ln.get_xdata()[0] for ln in right.get_lines() if ln.get_color() == "black")
    assert backs == pytest.approx([1.0, 1.0, 2.0])  # rise * inter; nginx: fail_timeout + 1
    left = panel.figure.axes[0]
    outs = sorted(ln.get_xdata()[0] for ln in left.get_lines() if ln.get_color() == "black")
    # hang: checks (2-1)(0.5+0.5)+0.5+0.5 = 2.0 s against 1.0 + 10 * 0.03 = 1.3 s by ejection
    assert outs == pytest.approx([1.3, 1.3, 1.3])


@pytest.mark.live
@pytest.mark.slow
def test_without_redispatch_haproxy_retries_the_dead_server(healthy):
    need("haproxy")
    # fall=5: b1 stays in rotation 0.8-1.0 s after the kill, so the load reaches it even when
    # a busy machine starts the load generator late (with fall=2 the window is 0.2-0.4 s)
    s = Settings(consecutive_5xx=None, fall=5)
    without = lambda pairs: [(k, line) for k, line in pairs if "redispatch" not in line]  # noqa: E731
    with HAProxy(healthy.ports, s, names=healthy.names, edit=without) as front:
        assert "redispatch" not in front.config
        time.sleep(s.inter * s.fall + 0.1)
        healthy.kill(1)
        load = run_load(front.url, rate=100, duration=1.0, concurrency=16)
    bad = [r for r in load.records if not r.ok]
    assert bad, "without redispatch, requests sent to b1 before its DOWN must fail"
    assert {r.status for r in bad} == {503}
    wait = retry_wait_without_redispatch(s)  # 2 retries x min(0.5 s, 1 s)
    assert all(abs(r.latency - wait) < 0.15 for r in bad), [r.latency for r in bad]


# -- LiveCluster(front=...): the same cluster behind HAProxy or nginx --------------------------


def test_live_cluster_checks_its_front_early(monkeypatch):
    with pytest.raises(ValueError, match="front must be one of"):
        LiveCluster(front="envoy")
    with pytest.raises(ValueError, match="naive"):
        LiveCluster(front="haproxy", naive=True)
    with pytest.raises(ValueError, match="NGINX Plus"):
        LiveCluster(front="nginx", policy="least_response_time")
    monkeypatch.setattr(servers, "find_server", lambda server: None)
    with pytest.raises(ServerNotFound, match="apt-get install"):
        LiveCluster(front="haproxy")


@pytest.mark.live
@pytest.mark.slow
def test_live_cluster_fronted_by_haproxy_drills_and_cleans_up():
    need("haproxy")
    with LiveCluster(backends=3, front="haproxy") as c:
        front = c._res.balancer
        pid, port = front.pid, front.port
        assert c.url == front.url and isinstance(front, HAProxy)
        time.sleep(c.settings.inter * c.settings.fall + 0.05)  # full health, as drill_through
        drill = c.drill(victim=1, rate=100, kill_at=0.6, revive_at=1.6, duration=2.4)
        status = c.status()
    assert drill.failed == 0, drill.summary()
    assert drill.removed_t is not None and drill.readmitted_t is not None, drill.summary()
    assert drill.readmitted_t - drill.revive_t <= readmission_bound("haproxy", c.settings) + SLACK
    assert [row["in_rotation"] for row in status] == [True] * 3
    assert not guard.alive(pid) and not listening(port)


# -- guards: configuration values, the admin paths ----------------------------------------------


@pytest.mark.parametrize(
    "check_path",
    ["/health\n    server evil 10.0.0.1:80", "/health\r\n", "/a;b", "/a#b", "/a{b}", "/a b"],
)
def test_values_that_would_break_a_configuration_line_are_refused(check_path):
    s = Settings()
    bad = Settings()
    object.__setattr__(bad, "check_path", check_path)  # past Settings' own check
    for writer in (haproxy_lines, nginx_lines):
        with pytest.raises(ValueError, match="check_path"):
            writer(bad, PORTS, port=1)
    with pytest.raises(ValueError, match="tmpdir"):
        haproxy_lines(s, PORTS, port=1, tmpdir="/tmp/x\n    stats socket /tmp/y")
    with pytest.raises(ValueError, match="names"):
        haproxy_lines(s, PORTS, port=1, names=["b0", "b1\n", "b2"])


def test_haproxy_check_rejects_what_a_newline_would_have_injected(tmp_path):
    # the injection this guard stops: before it, `haproxy -c` accepted the extra server line
    need("haproxy")
    s = Settings()
    object.__setattr__(s, "check_path", "/health\n    server evil 127.0.0.1:9")
    with pytest.raises(ValueError, match="check_path"):
        haproxy_lines(s, PORTS, port=40000)
    binary = production.find_server("haproxy")
    lines = haproxy_lines(Settings(), PORTS, port=40000, tmpdir=str(tmp_path))
    ok, injected = tmp_path / "ok.cfg", tmp_path / "injected.cfg"
    ok.write_text(config_text(lines))
    # what writing the value unchecked gave: an extra server, which `haproxy -c` accepts
    evil = [(k, v.replace("GET /health", "GET " + s.check_path)) for k, v in lines]
    injected.write_text(config_text(evil))
    assert "server evil" in injected.read_text()
    for path in (ok, injected):
        assert subprocess.run([binary, "-c", "-f", str(path)], capture_output=True).returncode == 0


def test_unmapped_names_the_panic_threshold():
    for server in ("haproxy", "nginx"):
        assert "panic_threshold" in dict(unmapped(Settings(), server))
    assert "panic_threshold" not in dict(unmapped(Settings(panic_threshold=0), "haproxy"))


ADMIN_PATHS = [
    "/_fault",
    "/_FAULT",
    "//_fault",
    "/%5ffault",
    "/%5Ffault",
    "/./_fault",
    "/x/../_fault",
    "/_lb/status",
    "/_LB/status",
    "//_lb/status",
    "/%5flb/status",
    "/_fault?x=1",
]


def raw_status(port: int, request: bytes) -> int:
    with socket.create_connection((LOOPBACK, port), timeout=5) as s:
        s.sendall(request)
        data = b""
        while b"\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    return int(data.split(b" ", 2)[1])


@pytest.mark.live
@pytest.mark.parametrize("server", ["haproxy", "nginx"])
def test_fronts_refuse_the_fault_switch_and_admin_paths(healthy, server):
    need(server)
    with make_front(server, healthy.ports, Settings(), names=healthy.names) as front:
        for path in ADMIN_PATHS:
            for method in ("GET", "POST"):
                body = b'{"fail": 1}' if method == "POST" else b""
                request = (
                    f"{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n"
                ).encode() + body
                assert raw_status(front.port, request) == 403, (server, method, path)
        ok = b"GET /fine HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        assert raw_status(front.port, ok) == 200
    for i in range(len(healthy.ports)):
        assert healthy.faults(i)["fail"] == 0.0  # no switch was flipped through the front
