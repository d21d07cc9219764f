"""The course on a real JupyterHub: three learners, lesson 06's drill in each at once, isolated.

A JupyterHub from PyPI with its configurable-http-proxy from npm, both on 127.0.0.1, loads
``deploy/jupyterhub_config.py`` (the course's hand-out, its start page, its process limit) and
overrides only what a test machine needs: free ports, a dummy authenticator and JupyterHub's
``SimpleLocalProcessSpawner``, which runs each learner's server as the hub's own user with a
home folder of its own. Not one system user per learner, because the interpreter the tests run
on may live where other users cannot execute it (a pyenv under ``/root``, mode 700, on the
machines this course is built on); the isolation checked here is the course's own: a
learner's fault switches and admin paths answer only their cluster's secret, whoever sends.

Through the hub's API and proxy only (REST and websocket to ``/user/<name>/api/kernels``), the
test spawns the three servers, starts lesson 06's cluster in each, has each learner's kernel
send ``POST /_fault`` to another learner's backends and balancer with no secret and with its own
(wrong) secret, runs the three drills at the same time, and checks: every forged switch
refused, 0 requests lost in each drill, and once the servers are stopped (clusters left open,
as a learner who just logs out would) no process of any learner is left. It skips when
jupyterhub or configurable-http-proxy is missing; CI installs both (``.ci/run``).
"""

from __future__ import annotations

import concurrent.futures
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from hub_support import DRILL, START_CLUSTER, Kernel, free_port, wait_http

ROOT = Path(__file__).resolve().parents[1]
USERS = ["ana", "ben", "chi"]

pytestmark = [pytest.mark.hub, pytest.mark.live, pytest.mark.slow]


def _need():
    """jupyterhub, psutil and configurable-http-proxy, or a skip (a failure when CI is "true")."""
    import importlib.util

    missing = [m for m in ("jupyterhub", "psutil") if importlib.util.find_spec(m) is None]
    proxy = shutil.which("configurable-http-proxy")
    if proxy is None:
        missing.append("configurable-http-proxy (npm install -g configurable-http-proxy)")
    if missing:
        reason = f"the JupyterHub test needs {', '.join(missing)}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and {reason}")
        pytest.skip(reason)
    import psutil

    return proxy, psutil


def _processes_of(psutil, user: str) -> list:
    """Every process whose environment says it belongs to ``user``'s server."""
    found = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if proc.environ().get("JUPYTERHUB_USER") == user:
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


CONFIG = """
c = get_config()  # noqa
load_subconfig({deploy!r})
import os, sys
from halab.handout import hand_out

c.JupyterHub.bind_url = "http://127.0.0.1:{port}"
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {hub_port}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{api_port}"
c.ConfigurableHTTPProxy.command = [{proxy!r}]
c.ConfigurableHTTPProxy.pid_file = {tmp!r} + "/proxy.pid"
c.JupyterHub.db_url = "sqlite:///" + {tmp!r} + "/hub.sqlite"
c.JupyterHub.cookie_secret_file = {tmp!r} + "/cookie_secret"
c.JupyterHub.pid_file = {tmp!r} + "/hub.pid"
c.JupyterHub.authenticator_class = "dummy"
c.Authenticator.allowed_users = set({users!r})
c.JupyterHub.services = [{{"name": "grader", "api_token": {token!r}}}]
c.JupyterHub.load_roles = [{{"name": "admin", "services": ["grader"]}}]
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = {tmp!r} + "/home/{{username}}"
c.Spawner.cmd = c.Spawner.cmd[:-1] + [sys.executable, "-m", "jupyterhub.singleuser"]  # prlimit kept
c.Spawner.args = {args!r}
c.Spawner.environment = {{"PYTHONPATH": {root!r}, "HALAB_COURSE": {root!r}}}
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120


def hand_out_here(spawner):  # the deploy hook runs as the learner; here all run as the hub
    hand_out({root!r}, os.path.join(spawner.home_dir, "halab"))


c.Spawner.pre_spawn_hook = hand_out_here
"""


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    proxy, psutil = _need()
    tmp = tmp_path_factory.mktemp("hub")
    port, token = free_port(), secrets.token_hex(32)
    args = ["--allow-root"] if os.geteuid() == 0 else []
    (tmp / "jupyterhub_config.py").write_text(
        CONFIG.format(
            deploy=str(ROOT / "deploy" / "jupyterhub_config.py"),
            port=port,
            hub_port=free_port(),
            api_port=free_port(),
            proxy=proxy,
            tmp=str(tmp),
            users=USERS,
            token=token,
            args=args,
            root=str(ROOT),
        )
    )
    log = (tmp / "hub.log").open("wb")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    hub = subprocess.Popen(
        [sys.executable, "-m", "jupyterhub", "-f", str(tmp / "jupyterhub_config.py")],
        cwd=tmp,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    api = {"Authorization": f"token {token}"}
    try:
        wait_http(f"{base}/hub/api/", 60)
        yield base, api, tmp, psutil, hub
    finally:
        proxy_pid = int((tmp / "proxy.pid").read_text()) if (tmp / "proxy.pid").exists() else None
        hub.send_signal(signal.SIGTERM)
        try:
            hub.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(hub.pid, signal.SIGKILL)
            hub.wait()
        log.close()
        print((tmp / "hub.log").read_text()[-3000:])
        deadline = time.monotonic() + 10
        while proxy_pid and psutil.pid_exists(proxy_pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not (proxy_pid and psutil.pid_exists(proxy_pid)), "the hub left its proxy running"


def _spawn(base, api, user) -> str:
    # JupyterHub picks a random port for each server; on a busy machine another process may
    # take it before the server binds it (seen once here): the start fails, and one retry
    # picks another
    for attempt in range(2):
        reply = requests.post(f"{base}/hub/api/users/{user}/server", headers=api, timeout=60)
        if reply.status_code in (201, 202) or attempt:
            break
        print(f"{user}'s server did not start ({reply.status_code}): retrying once")
        time.sleep(1)
    assert reply.status_code in (201, 202), reply.text
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        model = requests.get(f"{base}/hub/api/users/{user}", headers=api, timeout=30).json()
        if model.get("servers", {}).get("", {}).get("ready"):
            break
        time.sleep(0.5)
    else:
        raise TimeoutError(f"{user}'s server was not ready in 120 s")
    reply = requests.post(
        f"{base}/hub/api/users/{user}/tokens",
        headers=api,
        json={"note": "test", "scopes": [f"access:servers!user={user}"]},
        timeout=30,
    )
    assert reply.status_code in (200, 201), reply.text
    return reply.json()["token"]


def _stop(base, api, user) -> None:
    reply = requests.delete(f"{base}/hub/api/users/{user}/server", headers=api, timeout=60)
    assert reply.status_code in (202, 204), reply.text
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        model = requests.get(f"{base}/hub/api/users/{user}", headers=api, timeout=30).json()
        if "" not in model.get("servers", {}):
            return
        time.sleep(0.5)
    raise TimeoutError(f"{user}'s server did not stop in 60 s")


FORGE = """
import http.client, json
codes = {{}}
for name, port in {targets!r}:
    for label, headers in (("no secret", {{}}), ("my secret", {{"X-Halab-Secret": cluster.secret}})):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("POST", "/_fault", body=json.dumps({{"fail": 1}}),
                     headers={{"Content-Type": "application/json", **headers}})
        codes[f"{{name}} {{label}}"] = conn.getresponse().status
        conn.close()
print(json.dumps(codes))
"""

STATE = """
import http.client, json
faults = []
for port in cluster.ports:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", "/_fault", headers={"X-Halab-Secret": cluster.secret})
    faults.append(json.loads(conn.getresponse().read()))
    conn.close()
print(json.dumps(faults))
"""


def test_three_learners_drill_at_once_isolated_and_leave_nothing(hub):
    base, api, tmp, psutil, hub_process = hub
    reply = requests.post(
        f"{base}/hub/api/users", headers=api, json={"usernames": USERS}, timeout=30
    )
    assert reply.status_code in (201, 409), reply.text
    tokens = {user: _spawn(base, api, user) for user in USERS}
    for user in USERS:  # the hand-out ran: each learner has their own course copy
        assert (tmp / "home" / user / "halab" / "notebooks" / "06_failover_live.ipynb").is_file()
        assert (tmp / "home" / user / "halab" / "exercises" / "ex06_failover.py").is_file()
    kernels = {user: Kernel(f"{base}/user/{user}", tokens[user]) for user in USERS}
    with pytest.raises(requests.HTTPError):  # ana's token does not open ben's server
        Kernel(f"{base}/user/ben", tokens["ana"])
    clusters = {user: kernels[user].last_json(START_CLUSTER) for user in USERS}
    before = {user: kernels[user].last_json(STATE) for user in USERS}
    # each learner's kernel tries the next learner's backends and balancer
    for user, victim in zip(USERS, USERS[1:] + USERS[:1]):
        targets = [(f"b{i}", p) for i, p in enumerate(clusters[victim]["ports"])]
        targets.append(("balancer", int(clusters[victim]["url"].rsplit(":", 1)[1])))
        codes = kernels[user].last_json(FORGE.format(targets=targets))
        print(f"{user} -> {victim}: {codes}")
        assert all(400 <= code < 500 for code in codes.values()), codes
        assert all(
            codes[f"b{i} {label}"] == 403 for i in range(3) for label in ("no secret", "my secret")
        )
    after = {user: kernels[user].last_json(STATE) for user in USERS}
    assert after == before, "a forged request changed another learner's fault switches"
    # lesson 06's drill, in the three servers at the same time
    with concurrent.futures.ThreadPoolExecutor(len(USERS)) as pool:
        drills = dict(zip(USERS, pool.map(lambda u: kernels[u].last_json(DRILL, 180), USERS)))
    print(drills)
    for user, drill in drills.items():
        assert drill["requests"] >= 300, (user, drill)
        assert drill["failed"] == 0, f"{user}'s drill lost {drill['failed']} requests: {drill}"
    owned = {user: _processes_of(psutil, user) for user in USERS}
    for user, procs in owned.items():  # server, kernel, 3 backends, balancer at least
        assert len(procs) >= 6, (user, [p.cmdline() for p in procs])
        # deploy's prlimit wrapper applies to every one of them (root ignores RLIMIT_NPROC,
        # an ordinary learner's user does not)
        limits = {p.rlimit(psutil.RLIMIT_NPROC) for p in procs}
        assert limits == {(1024, 1024)}, (user, limits)
    for kernel in kernels.values():
        kernel.ws.close()  # the clusters stay open: stopping the server must end them
    for user in USERS:
        _stop(base, api, user)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(_processes_of(psutil, u) for u in USERS):
        time.sleep(0.25)
    left = {u: [p.cmdline() for p in _processes_of(psutil, u)] for u in USERS}
    assert not any(left.values()), f"processes left after the servers stopped: {left}"
    assert hub_process.poll() is None
