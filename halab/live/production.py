"""Lesson 09's module: the same settings, and the same drill, on HAProxy and nginx.

The drill through each front lives here (:func:`drill_through`, :func:`drills`); the rest of the
names lesson 09 imports from here come from the modules that hold them, and are re-exported:

- :mod:`halab.live.config`: a :class:`~halab.live.settings.Settings` written out as an HAProxy or
  an nginx configuration, each line paired with the halab setting it comes from (with the
  sources of each directive);
- :mod:`halab.live.servers`: the real server started on 127.0.0.1 under a guard, and stopped
  with everything it started when its ``with`` block ends;
- :mod:`halab.live.fronts`: the fronts by name (``halab``, ``haproxy``, ``nginx``);
- :mod:`halab.live.bounds`: what to expect, in closed form;
- :mod:`halab.live.drill`: the drill's script, its record and its numbers;
- :mod:`halab.live.guard`: the guard process (``python -m halab.live.production --guard
  <folder> -- <command>`` is its older name).

>>> lines = haproxy_lines(Settings(), [8001, 8002, 8003], port=8000)
>>> [text.strip() for setting, text in lines if setting == "policy"]
['balance roundrobin']
>>> with HAProxy(cluster.ports, Settings(), names=cluster.names) as front:  # doctest: +SKIP
...     run_load(front.url, rate=100, duration=2.0).failed
0
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Sequence

import halab.live.guard as _guard
from halab.checks import check_instance, check_int
from halab.live.bounds import (
    nginx_out_window,
    readmission_bound,
    removal_bound,
    retry_wait_without_redispatch,
)
from halab.live.cluster import LiveCluster
from halab.live.config import (
    ADMIN_PATH_REGEX,
    BALANCERS,
    CLIENT_TIMEOUT_MS,
    HAPROXY_POLICY,
    KEEPALIVE,
    NGINX_POLICY,
    NGINX_READY,
    READY_PATH,
    SERVERS,
    annotated,
    config_text,
    config_value,
    haproxy_lines,
    integer_weights,
    nginx_lines,
    unmapped,
)
from halab.live.drill import (
    FAULT_KINDS,
    FAULTS,
    SETTLE,
    Drill,
    _check_drill_times,
    drill_numbers,
    run_fault,
    since_start,
)
from halab.live.events import Event
from halab.live.fronts import SERVER_FRONTS as FRONTS
from halab.live.fronts import available_balancers, check_front, front, fronts, make_front
from halab.live.loadgen import LoadGenerator, check_load
from halab.live.servers import (
    INSTALL_HINT,
    PORT_ATTEMPTS,
    SEARCH_DIRS,
    STOP_GRACE,
    HAProxy,
    Nginx,
    ProductionBalancer,
    ServerNotFound,
    find_server,
    free_port,
    missing_message,
    server_version,
    wait_group_gone,
)
from halab.live.settings import Settings

__all__ = [
    "ADMIN_PATH_REGEX",
    "BALANCERS",
    "CLIENT_TIMEOUT_MS",
    "FAULTS",
    "FRONTS",
    "HAPROXY_POLICY",
    "INSTALL_HINT",
    "KEEPALIVE",
    "NGINX_POLICY",
    "NGINX_READY",
    "PORT_ATTEMPTS",
    "READY_PATH",
    "SEARCH_DIRS",
    "SERVERS",
    "STOP_GRACE",
    "HAProxy",
    "Nginx",
    "ProductionBalancer",
    "ServerNotFound",
    "Settings",
    "annotated",
    "available_balancers",
    "check_front",
    "config_text",
    "config_value",
    "drill_numbers",
    "drill_through",
    "drills",
    "find_server",
    "free_port",
    "front",
    "fronts",
    "guard",
    "haproxy_lines",
    "integer_weights",
    "make_front",
    "missing_message",
    "nginx_lines",
    "nginx_out_window",
    "readmission_bound",
    "removal_bound",
    "retry_wait_without_redispatch",
    "server_version",
    "unmapped",
    "wait_group_gone",
]


def drill_through(
    cluster,
    balancer: str,
    *,
    fault: str = "kill",
    victim: int = 1,
    rate: float = 100.0,
    kill_at: float = 1.0,
    revive_at: float = 2.5,
    duration: float = 4.0,
    concurrency: int = 4,
    timeout: float = 5.0,
    settle: float | None = None,
):
    """One drill under steady load through one balancer in front of ``cluster``'s backends.

    ``"halab"`` is the cluster's own balancer; ``"haproxy"`` and ``"nginx"`` are started for
    the drill with the cluster's settings and stopped after it. At ``kill_at`` seconds the
    victim is SIGKILLed (``fault="kill"``) or hung (``fault="hang"``: it accepts requests and
    never answers); at ``revive_at`` it is started again (or released).

    Args:
        cluster: a running :class:`halab.live.LiveCluster`.
        balancer: ``"halab"``, ``"haproxy"`` or ``"nginx"``.
        fault: ``"kill"`` or ``"hang"``.
        victim, rate, kill_at, revive_at, duration, concurrency, timeout, settle: as
            :meth:`halab.live.LiveCluster.drill` (the load goes on past ``duration``, up to
            ``settle`` s, until the victim answers again after the fault ends).

    Returns:
        A :class:`halab.live.Drill`: its ``kill_t`` and ``revive_t`` are when the fault began
        and ended; its timeline holds the balancer's events and the fault's.

    Raises:
        ServerNotFound: HAProxy or nginx is not installed.
    """
    check_instance("cluster", cluster, LiveCluster)
    if balancer not in BALANCERS:
        raise ValueError(f"balancer must be one of {BALANCERS}, got {balancer!r}")
    if fault not in FAULTS:
        raise ValueError(f"fault must be one of {FAULTS}, got {fault!r}")
    settle = SETTLE if settle is None else settle
    _check_drill_times(kill_at, revive_at, duration, settle)
    check_load(rate, concurrency, duration=duration + settle, timeout=timeout)
    check_int("victim", victim, 0, cluster.n - 1)
    victim = cluster._index(victim)  # and the cluster must be running
    settings = cluster.settings
    events: list[Event] = []
    with contextlib.ExitStack() as stack:
        if balancer == "halab":  # the cluster's own balancer, already running
            url = cluster.url
            _wait_all_in_rotation(cluster.status)
        else:
            server = front(
                balancer,
                cluster.ports,
                settings,
                names=cluster.names,
                on_event=lambda e: events.append(e.shifted(cluster.t0)),
            )
            stack.enter_context(server)
            url = server.url
            if settings.checks and balancer == "haproxy":
                # HAProxy starts a server at the lowest healthy level (health = rise); let
                # fall - 1 good checks lift it to full health, as a running balancer would be
                time.sleep(settings.inter * settings.fall + 0.05)
        gen = LoadGenerator(
            url,
            rate=rate,
            duration=duration + settle,
            concurrency=concurrency,
            timeout=timeout,
            t0=cluster.t0,
        )
        begin = time.monotonic()
        gen.start()
        stack.callback(gen.stop)
        kill_t, revive_t, (result,) = run_fault(
            cluster,
            victim,
            [gen],
            kill_at=kill_at,
            revive_at=revive_at,
            duration=duration,
            fault=fault,
            begin=begin,
        )
        time.sleep(0.05)  # the last log lines and events
    if balancer == "halab":
        timeline = since_start(cluster.timeline, result, kill_t)
    else:
        ours = [e for e in cluster.events(backend=victim) if e.kind in FAULT_KINDS[fault]]
        timeline = sorted(events + since_start(ours, result, kill_t), key=lambda e: e.t)
    return Drill(result, timeline, victim, kill_t, revive_t, settings)


def _wait_all_in_rotation(status: Callable[[], list[dict]], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(row.get("in_rotation", True) for row in status()):
            return
        time.sleep(0.02)


def drills(
    cluster,
    balancers: Sequence[str] = BALANCERS,
    **kwargs,
) -> dict:
    """The same drill through each balancer in turn (see :func:`drill_through`).

    Balancers that are not installed are left out (see :func:`available_balancers`).

    Returns:
        A dict from balancer name to its :class:`halab.live.Drill`, in the order given.
    """
    return {b: drill_through(cluster, b, **kwargs) for b in available_balancers(balancers)}


# -- the guard: ``python -m halab.live.production --guard <folder> -- <command>`` ----------------
# It lives in :mod:`halab.live.guard`; these two entry points, its older names, delegate to it.


def guard(argv: list[str]) -> int:
    """Run ``argv`` under :func:`halab.live.guard.guard` (its own process group, stopped when
    stdin closes); returns the command's exit code."""
    return _guard.guard(argv, grace=STOP_GRACE)


if __name__ == "__main__":
    if len(sys.argv) > 4 and sys.argv[1] == "--guard" and sys.argv[3] == "--":
        _guard.main(["--grace", str(STOP_GRACE), *sys.argv[2:]])  # deletes the folder, exits
    raise SystemExit("usage: python -m halab.live.production --guard <folder> -- <command> ...")
