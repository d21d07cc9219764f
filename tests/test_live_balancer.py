"""The balancer against real backend processes: routing, retries, timeouts, checks, ejection.

The balancer runs in this process (threads) so that tests can read its counters; the backends
are real processes started once for the module. Faults are cleared after each test.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time

import pytest
import requests

from halab.live import Balancer, Settings
from halab.live._proc import LOOPBACK, spawn, stop_process

pytestmark = pytest.mark.live

QUIET = {"checks": False, "consecutive_5xx": None}  # routing only: no checks, no ejection
SECRETS: dict[int, str] = {}  # port -> the secret each backend printed in its ready line


@pytest.fixture(scope="module")
def backends():
    procs, ports = [], []
    try:
        for i in range(3):
            proc, info = spawn("halab.live.backend", ["--name", f"b{i}"])
            procs.append(proc)
            ports.append(int(info["port"]))
            SECRETS[int(info["port"])] = info["secret"]
        yield ports
    finally:
        for p in procs:
            stop_process(p)


@pytest.fixture(autouse=True)
def healed(request):
    yield
    if "backends" in request.fixturenames:
        for port in request.getfixturevalue("backends"):
            fault(port, reset=True)


def fault(port: int, **changes) -> dict:
    conn = http.client.HTTPConnection(LOOPBACK, port, timeout=2)
    try:
        conn.request(
            "POST",
            "/_fault",
            body=json.dumps(changes),
            headers={"X-Halab-Secret": SECRETS[port]},
        )
        return json.loads(conn.getresponse().read())
    finally:
        conn.close()


def dead_port() -> int:
    """A port on 127.0.0.1 where nothing listens (connections are refused)."""
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def session() -> requests.Session:
    s = requests.Session()
    s.trust_env = False
    return s


def test_round_robin_spreads_exactly_and_names_the_backend(backends):
    with Balancer(backends, Settings(**QUIET)) as lb, session() as s:
        answers = [s.get(lb.url + "/x", timeout=2) for _ in range(30)]
    assert all(r.status_code == 200 for r in answers)
    names = [r.headers["X-Backend"] for r in answers]
    assert names[:6] == ["b0", "b1", "b2", "b0", "b1", "b2"]
    assert {n: names.count(n) for n in set(names)} == {"b0": 10, "b1": 10, "b2": 10}
    for r in answers:  # the header names the process that really answered
        assert r.json()["backend"] == r.headers["X-Backend"] == r.headers["X-Served-By"]
        assert r.headers["X-Tried"] == r.headers["X-Backend"]


def test_requests_to_a_dead_backend_are_retried_elsewhere(backends):
    ports = [dead_port(), backends[1], backends[2]]
    with Balancer(ports, Settings(retries=2, **QUIET)) as lb, session() as s:
        answers = [s.get(lb.url, timeout=2) for _ in range(12)]
        posts = [s.post(lb.url, data=b"pay", timeout=2) for _ in range(6)]
        attempts = list(lb.attempts)
    assert [r.status_code for r in answers + posts] == [200] * 18
    assert all(r.headers["X-Backend"] != "b0" for r in answers + posts)
    # a refused connection never reached b0, so even a POST may go elsewhere
    assert any(r.headers["X-Tried"].startswith("b0,") for r in posts)
    assert attempts[0] >= 4


def test_a_post_that_reached_a_failing_backend_is_not_retried(backends):
    fault(backends[0], fail=1.0)
    with Balancer(backends, Settings(retries=2, **QUIET)) as lb, session() as s:
        post = s.post(lb.url, data=b"pay", timeout=2)  # round robin: b0 first
        get = s.get(lb.url, timeout=2)  # b1
        s.get(lb.url, timeout=2)  # b2
        get_b0 = s.get(lb.url, timeout=2)  # b0 fails, retried on b1
    assert post.status_code == 500 and post.headers["X-Tried"] == "b0"
    assert get.status_code == 200
    assert get_b0.status_code == 200 and get_b0.headers["X-Tried"] == "b0,b1"


def test_retries_are_bounded_and_the_answer_says_why(backends):
    ports = [dead_port(), dead_port(), dead_port()]
    with Balancer(ports, Settings(retries=1, **QUIET)) as lb, session() as s:
        t = time.monotonic()
        r = s.get(lb.url, timeout=5)
        elapsed = time.monotonic() - t
    assert r.status_code == 502
    assert len(r.headers["X-Tried"].split(",")) == 2  # one try + one retry, then stop
    assert "no retry left (retries=1)" in r.text
    assert elapsed < 0.5


def test_a_slow_backend_times_out_and_the_get_goes_elsewhere(backends):
    fault(backends[0], slow=0.8)
    with Balancer(backends, Settings(timeout=0.2, **QUIET)) as lb, session() as s:
        t = time.monotonic()
        get = s.get(lb.url, timeout=5)
        get_elapsed = time.monotonic() - t
        s.get(lb.url, timeout=5)  # round robin: b0 and b1 were used, so b2
        post = s.post(lb.url, data=b"x", timeout=5)  # b0 again
    assert get.status_code == 200 and get.headers["X-Tried"] == "b0,b1"
    assert 0.2 <= get_elapsed < 0.6
    assert post.status_code == 504 and "no answer within 0.2 s" in post.text
    assert "not idempotent" in post.text


def test_when_nothing_is_healthy_the_answer_is_a_prompt_503(backends):
    events = []
    ports = [dead_port(), dead_port()]
    s = Settings(inter=0.05, rise=2, fall=2)
    with Balancer(ports, s, on_event=events.append) as lb, session() as sess:
        deadline = time.monotonic() + 2
        while sum(e.kind == "removed" for e in events) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        t = time.monotonic()
        r = sess.get(lb.url, timeout=5)
        elapsed = time.monotonic() - t
    assert r.status_code == 503
    assert "no backend is in rotation" in r.text and "b0 DOWN" in r.text and "b1 DOWN" in r.text
    assert elapsed < 0.1, f"503 took {elapsed:.3f} s"


def test_health_checks_take_a_hung_backend_down_and_bring_it_back(backends):
    events = []
    s = Settings(inter=0.1, rise=2, fall=2, consecutive_5xx=None)
    with Balancer(backends, s, on_event=events.append) as lb:
        time.sleep(0.35)  # a few passing checks: every backend fully UP
        t_hang = time.monotonic()
        fault(backends[1], hang=True)
        down = wait_event(events, "down", 1, timeout=2)
        assert down is not None
        # each failed check waits check_timeout (= inter) and then inter: 2 checks
        assert down.t - t_hang <= s.fall * 2 * s.inter + s.inter + 0.1
        assert lb.in_rotation() == [True, False, True]
        t_heal = time.monotonic()
        fault(backends[1], hang=False)
        up = wait_event(events, "up", 1, timeout=2)
        assert up is not None and up.t - t_heal <= s.rise * s.inter + s.inter + 0.1
        assert lb.in_rotation() == [True, True, True]


def wait_event(events, kind, backend, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for e in list(events):
            if e.kind == kind and e.backend == backend:
                return e
        time.sleep(0.005)
    return None


def test_ejected_backend_gets_no_traffic_until_its_time_is_up(backends):
    fault(backends[1], fail=1.0)
    events = []
    s = Settings(checks=False, consecutive_5xx=3, base_ejection_time=30.0, retries=2)
    with Balancer(backends, s, on_event=events.append) as lb, session() as sess:
        answers = [sess.get(lb.url, timeout=2) for _ in range(60)]
        attempts = list(lb.attempts)
        status = lb.status()
    assert [r.status_code for r in answers] == [200] * 60  # every 500 was retried
    assert attempts[1] == 3, attempts  # three strikes, then never again
    assert [e.kind for e in events if e.backend == 1] == ["eject", "removed"]
    assert status[1]["ejections"] == 1 and status[1]["ejected_for"] > 25


def test_naive_balancer_shows_its_defects(backends):
    # random called round robin: 30 requests are not 10/10/10
    with Balancer(backends, Settings(naive=True)) as lb, session() as s:
        names = [s.get(lb.url, timeout=2).headers["X-Backend"] for _ in range(30)]
    counts = sorted(names.count(n) for n in ("b0", "b1", "b2"))
    assert counts != [10, 10, 10] and sum(counts) == 30
    # one failed request removes a backend forever, even after it heals
    events = []
    with (
        Balancer(backends, Settings(naive=True, seed=3), on_event=events.append) as lb,
        session() as s,
    ):
        fault(backends[0], fail=1.0)
        first = [s.get(lb.url, timeout=2) for _ in range(10)]
        fault(backends[0], reset=True)
        later = [s.get(lb.url, timeout=2) for _ in range(30)]
    assert sum(r.status_code == 500 for r in first) == 1  # the client sees the failure
    assert all(r.headers["X-Backend"] != "b0" for r in later)
    assert [e.kind for e in events] == ["removed"] and events[0].backend == 0


def test_naive_balancer_spins_when_everything_is_removed_but_is_capped(backends):
    ports = [dead_port(), dead_port()]
    with Balancer(ports, Settings(naive=True, naive_cap=0.3)) as lb, session() as s:
        first = [s.get(lb.url, timeout=5) for _ in range(2)]  # each removes one backend
        t = time.monotonic()
        r = s.get(lb.url, timeout=5)
        elapsed = time.monotonic() - t
    assert [x.status_code for x in first] == [502, 502]
    assert r.status_code == 502 and "spun" in r.text and "every backend was removed" in r.text
    assert 0.3 <= elapsed < 1.0


def test_consistent_hash_keeps_a_key_on_one_backend(backends):
    s = Settings(policy="consistent_hash", **QUIET)
    with Balancer(backends, s) as lb, session() as sess:
        for key in ("alice", "bob", "carol"):
            names = {
                sess.get(lb.url, headers={"X-Key": key}, timeout=2).headers["X-Backend"]
                for _ in range(5)
            }
            assert len(names) == 1, (key, names)


def test_status_endpoint_and_stop_leaves_no_thread(backends):
    before = set(threading.enumerate())
    lb = Balancer(backends, Settings(inter=0.05)).start()
    try:
        with session() as s:
            s.get(lb.url, timeout=2)
            secret = {"X-Halab-Secret": lb.secret}
            data = s.get(lb.url + "/_lb/status", headers=secret, timeout=2).json()
            keep_alive = s.get(lb.url, timeout=2)  # leaves an idle keep-alive connection
            assert keep_alive.status_code == 200
            assert [b["name"] for b in data["backends"]] == ["b0", "b1", "b2"]
            assert data["settings"]["inter"] == 0.05
            lb.stop()
    finally:
        lb.stop()
    leftover = [t for t in threading.enumerate() if t not in before and t.is_alive()]
    assert leftover == []
    with pytest.raises(OSError), socket.create_connection((LOOPBACK, lb.port), timeout=1):
        pass


def test_balancer_rejects_bad_input():
    with pytest.raises(ValueError, match="ports"):
        Balancer([])
    with pytest.raises(ValueError, match="port"):
        Balancer([0])
    with pytest.raises(ValueError, match="weights"):
        Balancer([1000, 1001], Settings(weights=(1, 2, 3)))
    with pytest.raises(ValueError, match="unknown policy"):
        Balancer([1000], Settings(policy="fastest"))


def test_fault_switch_validates_and_reports(backends):
    assert fault(backends[2], slow=0.25, fail=0.5) == {
        "backend": "b2",
        "slow": 0.25,
        "fail": 0.5,
        "hang": False,
    }
    conn = http.client.HTTPConnection(LOOPBACK, backends[2], timeout=2)
    conn.request(
        "POST",
        "/_fault",
        body=json.dumps({"fail": 2}),
        headers={"X-Halab-Secret": SECRETS[backends[2]]},
    )
    resp = conn.getresponse()
    assert resp.status == 400 and b"fail must be in [0, 1]" in resp.read()
    conn.close()


def test_fail_fraction_is_exact(backends):
    fault(backends[2], fail=0.25)
    with session() as s:
        codes = [
            s.get(f"http://{LOOPBACK}:{backends[2]}/", timeout=2).status_code for _ in range(40)
        ]
    assert codes.count(500) == 10
    assert codes[:8] == [200, 200, 200, 500, 200, 200, 200, 500]
