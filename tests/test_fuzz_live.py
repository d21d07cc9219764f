"""Bad input gets a clear error in ``halab.live`` too, and is refused before anything starts.

The fuzzer of tests/test_fuzz_public.py (machinery in tests/fuzzing.py), over the public
callables of ``halab.live``: the constructors (:class:`LiveCluster`, :class:`LoadGenerator`,
:class:`Settings`, the health checks, the production balancers, every engine), the bounds
and the configuration writers. Each call runs with process creation (``fork``, ``exec``,
``posix_spawn``) and thread starts replaced by :class:`WouldStart`: a call that raises it got
past its argument checks and began real work, which counts as "accepted", so the fuzzing
itself starts nothing; a connection to any address but 127.0.0.1 fails the test. After each
test no child process is left.

NaN in any numeric parameter must be refused with ``ValueError``/``TypeError`` where the valid
call is accepted: that is the check that bad values are refused *before* a process starts.

Left out, with the reason: the entry points of the processes halab starts
(``backend.main``, ``balancer.main``, ``guard.main``, ``guard.guard``, ``guard.folder_guard``,
``production.guard``: they take a command line), and :class:`~halab.live.backend.BackendServer`,
which is the backend process's own server.
"""

from __future__ import annotations

import contextlib
import importlib
import ipaddress
import math
import os
import socket
import subprocess
import threading
from pathlib import Path

import pytest
from fuzzing import (
    LIMIT,
    Make,
    Timeout,
    call,
    draw_bad,
    fuzz_settings,
    names_a_parameter,
    nan_cases,
    parameters,
    public,
    shown,
)
from hypothesis import given
from hypothesis import strategies as st

MODULES = [
    "halab.live.balancer",
    "halab.live.bounds",
    "halab.live.cluster",
    "halab.live.config",
    "halab.live.drill",
    "halab.live.fronts",
    "halab.live.guard",
    "halab.live.health",
    "halab.live.loadgen",
    "halab.live.production",
    "halab.live.retry",
    "halab.live.servers",
    "halab.live.settings",
    "halab.live.engines",
    "halab.live.engines._base",
    "halab.live.engines.crashproxy",
    "halab.live.engines.etcd",
    "halab.live.engines.mariadb",
    "halab.live.engines.rabbitmq",
    "halab.live.engines.redis",
    "halab.live.engines.zookeeper",
]
ENTRY_POINTS = {
    "live.balancer.main",
    "live.guard.main",
    "live.guard.guard",
    "live.guard.folder_guard",
    "live.production.guard",
}
CLOSED_PORT = 9  # the discard port: nothing listens on it here, so a connection is refused


def _settings():
    return importlib.import_module("halab.live.settings").Settings()


def _drill():
    live = importlib.import_module("halab.live")
    records = [live.Record(k / 30, 0.002, 200, f"b{k % 3}", (f"b{k % 3}",)) for k in range(90)]
    timeline = [live.Event(1.0, "kill", 1), live.Event(2.0, "revive", 1)]
    return live.Drill(live.LoadResult(records, 0.0), timeline, 1, 1.0, 2.0, live.Settings())


VALID = {
    "inter": 0.2,
    "fall": 2,
    "rise": 2,
    "n": 3,
    "rate": 100.0,
    "backends": 3,
    "consecutive_5xx": 3,
    "trials": 20,
    "sim_trials": 20,
    "repeats": 5,
    "crashes": 20,
    "method": "GET",
    "reached": True,
    "status": 503,
    "attempts": 1,
    "retries": 2,
    "routable": [True, False, True],
    "tried": [0],
    "url": f"http://127.0.0.1:{CLOSED_PORT}/",
    "count": 5,
    "records": [],
    "t0": 0.0,
    "victim": 1,
    "after": 1.0,
    "ports": [CLOSED_PORT, CLOSED_PORT + 1],
    "port": CLOSED_PORT,
    "pairs": [("timeout", "1s")],
    "lines": [("timeout", "1s")],
    "setting": "check_path",
    "value": "/health",
    "front": "haproxy",
    "server": "haproxy",
    "balancer": "haproxy",
    "weights": [1.0, 2.0],
    "pgid": 2**22 - 3,  # near Linux's largest pid: no such group here
    "pid": 2**22 - 3,
    "folder": "/nonexistent/halab-fuzz",
    "timeout": 0.5,
    "text": "x",
    "before": 1.0,
    "down_after_ms": 1000,
    "events": [],
    "rows": [],
    "target_port": CLOSED_PORT,
    "name": "x",
    "low": 0.0,
    "high": 10.0,
    "expr": "1",
    "interval": 0.01,
    ("live.engines._base.check_number", "value"): 1.0,
    ("live.engines._base.wait_for", "timeout"): 0.2,
    ("live.health.simulate_checks", "trials"): 20,
    ("live.loadgen.LoadGenerator", "rate"): 10.0,
    ("live.loadgen.LoadGenerator", "count"): 5,
    ("live.loadgen.check_load", "count"): 5,
    ("live.config.integer_weights", "n"): 2,
    ("live.loadgen.LoadResult", "t0"): 0.0,
    ("live.bounds.removal_bound", "rate"): 100.0,
    ("live.engines.rabbitmq.simulated_loss", "rate"): 100.0,
    ("live.engines.etcd.b64", "text"): "x",
    ("live.engines._base.find_binary", "name"): "sh",
    ("live.engines._base.free_ports", "n"): 2,
}

OBJECTS = {
    "settings": Make(_settings),
    "cluster": Make(lambda: importlib.import_module("halab.live").LiveCluster()),
    "drill": Make(_drill),
    "predicate": lambda: True,
    "write": lambda i: None,
    "engine": Make(lambda: importlib.import_module("halab.live.engines").ZooKeeper()),
    "trials": [],
}


FUNCTIONS = [
    pair
    for m in MODULES
    for pair in public(importlib.import_module(m))
    if pair[0] not in ENTRY_POINTS
]


def _parameters(qualname, fn):
    return parameters(qualname, fn, VALID, OBJECTS)


class WouldStart(BaseException):
    """The call got past its checks and began to start a process or a thread."""


def _refuse(*args, **kwargs):
    raise WouldStart


def _children() -> set[int]:
    """This process's children (Linux: /proc/<pid>/task/<tid>/children)."""
    out: set[int] = set()
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        with contextlib.suppress(OSError):
            out.update(int(x) for x in (task / "children").read_text().split())
    return out


_REAL_CONNECT = socket.socket.connect
_REAL_CONNECT_EX = socket.socket.connect_ex


def _loopback_only(real):
    def connect(sock, address):
        host = address[0] if isinstance(address, tuple) else None
        if host is not None and not (host == "localhost" or ipaddress.ip_address(host).is_loopback):
            raise AssertionError(f"a fuzzed call connected to {address!r}, not 127.0.0.1")
        return real(sock, address)

    return connect


@contextlib.contextmanager
def nothing_starts():
    """No process or thread can start inside; connections go to 127.0.0.1 only."""
    servers = importlib.import_module("halab.live.servers")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(subprocess.Popen, "_execute_child", _refuse)
        for name in ("fork", "forkpty", "posix_spawn", "posix_spawnp", "execv", "execve"):
            if hasattr(os, name):
                patch.setattr(os, name, _refuse)
        patch.setattr(threading.Thread, "start", _refuse)
        patch.setattr(socket.socket, "connect", _loopback_only(_REAL_CONNECT))
        patch.setattr(socket.socket, "connect_ex", _loopback_only(_REAL_CONNECT_EX))
        # a balancer's constructor reads its server's version (`haproxy -v`): a fixed one here
        patch.setattr(servers, "server_version", lambda server, binary=None: (2, 6))
        yield


@pytest.fixture(autouse=True)
def no_child_left():
    before = _children()
    yield
    left = _children() - before
    assert not left, f"the fuzzed calls left child processes {sorted(left)}"


def _outcome(qualname, fn, kwargs):
    """ "accepted" or "refused" (ValueError, TypeError); anything else fails the test."""
    with nothing_starts():
        try:
            call(fn, kwargs)
        except WouldStart:
            return "accepted"
        except ValueError as error:
            assert names_a_parameter(str(error), kwargs), (
                f"{shown(qualname, kwargs)} raised ValueError without naming a parameter: {error}"
            )
            return "refused"
        except TypeError:
            return "refused"
        except RuntimeError as error:
            if not {"cluster", "engine"} & set(kwargs) or "not running" not in str(error):
                raise AssertionError(
                    f"{shown(qualname, kwargs)} raised RuntimeError: {error}"
                ) from error
            return "accepted"  # its arguments passed; it needs a running cluster or engine
        except Timeout:
            raise AssertionError(f"{shown(qualname, kwargs)} ran for more than {LIMIT} s") from None
        except AssertionError:
            raise
        except Exception as error:  # noqa: BLE001 - any other exception is the bug this finds
            raise AssertionError(
                f"{shown(qualname, kwargs)} raised {type(error).__name__}: {error}"
            ) from error
    return "accepted"


@pytest.mark.parametrize(("qualname", "fn"), FUNCTIONS, ids=[q for q, _ in FUNCTIONS])
@fuzz_settings(max_examples=20)
@given(data=st.data())
def test_bad_values_get_value_or_type_errors(qualname, fn, data):
    names, valid = _parameters(qualname, fn)
    if names:
        _outcome(qualname, fn, draw_bad(data, names, valid))


def test_every_live_module_is_fuzzed():
    modules = {q.rsplit(".", 1)[0] for q, _ in FUNCTIONS}
    assert modules == {m.removeprefix("halab.") for m in MODULES}
    assert len(FUNCTIONS) >= 50, len(FUNCTIONS)
    names = {q for q, _ in FUNCTIONS}
    for must in (
        "live.cluster.LiveCluster",
        "live.loadgen.LoadGenerator",
        "live.settings.Settings",
        "live.config.haproxy_lines",
        "live.config.nginx_lines",
        "live.health.detection_bounds",
        "live.engines.zookeeper.ZooKeeper",
        "live.engines.etcd.Etcd",
        "live.engines.mariadb.MariaDB",
        "live.engines.redis.RedisSentinel",
        "live.engines.rabbitmq.RabbitMQ",
    ):
        assert must in names, must


_BASELINE: dict[str, str] = {}


def _accepts(qualname, fn, valid) -> bool:
    if qualname not in _BASELINE:
        _BASELINE[qualname] = _outcome(qualname, fn, valid)
    return _BASELINE[qualname] == "accepted"


def test_the_valid_values_are_valid():
    """The baseline is worth something only if most callables accept it as it is."""
    refused = []
    for qualname, fn in FUNCTIONS:
        _names, valid = _parameters(qualname, fn)
        if not _accepts(qualname, fn, valid):
            refused.append(shown(qualname, valid))
    assert len(refused) <= len(FUNCTIONS) // 5, "\n".join(refused)


# Every numeric parameter of halab.live refuses NaN: a pid, a port, a seed, a timeout alike.
@pytest.mark.parametrize(
    ("qualname", "fn", "valid", "name"), list(nan_cases(FUNCTIONS, _parameters))
)
def test_nan_is_refused_before_anything_starts(qualname, fn, valid, name):
    if not _accepts(qualname, fn, valid):
        pytest.skip("the valid values are not valid for this callable")
    got = _outcome(qualname, fn, {**valid, name: math.nan})
    assert got == "refused", f"{shown(qualname, {**valid, name: math.nan})} was accepted"


def test_the_guard_itself_refuses_processes_and_threads():
    with nothing_starts():
        with pytest.raises(WouldStart):
            subprocess.run(["true"], check=False)
        with pytest.raises(WouldStart):
            threading.Thread(target=print).start()
        with pytest.raises(AssertionError, match="not 127.0.0.1"):
            socket.create_connection(("192.0.2.1", 80), timeout=0.1)
