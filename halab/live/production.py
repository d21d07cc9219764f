"""The same settings on production load balancers: HAProxy and nginx in front of halab's backends.

A :class:`~halab.live.settings.Settings` record is written out as an HAProxy or an nginx
configuration, line by line, each line paired with the halab setting it comes from; then the
real server is started on 127.0.0.1 (a port the OS picks) with its configuration, pid file and
temporary files in a private temporary directory, and stopped -- with everything it started --
when its ``with`` block ends.

>>> lines = haproxy_lines(Settings(), [8001, 8002, 8003], port=8000)
>>> [text.strip() for setting, text in lines if setting == "policy"]
['balance roundrobin']
>>> with HAProxy(cluster.ports, Settings(), names=cluster.names) as front:  # doctest: +SKIP
...     run_load(front.url, rate=100, duration=2.0).failed
0

How each setting is written (sources: the HAProxy 2.6 Configuration Manual,
``doc/configuration.txt``, sections 4.2 "balance", "option httpchk", "option redispatch",
"retries", "retry-on", "http-request disable-l7-retry", "timeout check/connect/server" and 5.2
"check", "inter", "rise", "fall", "weight", "observe", "error-limit", "on-error"; nginx's
``ngx_http_upstream_module`` ("server" with ``weight``, ``max_fails``, ``fail_timeout``;
"least_conn", "random", "hash", "keepalive") and ``ngx_http_proxy_module``
("proxy_next_upstream", "proxy_next_upstream_tries", "proxy_connect_timeout",
"proxy_read_timeout")), as *halab setting: HAProxy | nginx*:

- ``policy``: ``balance roundrobin | leastconn | random(2) | random(1) | hdr(X-Key)`` |
  the default weighted round robin, ``least_conn``, ``random two least_conn``, ``random``,
  ``hash $http_x_key consistent``;
- ``weights``: ``server ... weight W`` | ``server ... weight=W``;
- ``inter``, ``rise``, ``fall``, ``check_path``, ``check_timeout``: ``server ... check inter I
  rise R fall F``, ``option httpchk GET /health``, ``timeout check`` (unset: ``inter``) |
  nothing: nginx open source has no active checks;
- ``consecutive_5xx``: ``observe layer7 error-limit N on-error mark-down`` | ``max_fails=N``;
- ``base_ejection_time``: nothing (a marked-down server returns after ``rise`` good checks) |
  ``fail_timeout=T``;
- ``retries``: ``retries N`` + ``option redispatch 1`` (every retry on another server) |
  ``proxy_next_upstream_tries N+1`` (it counts the first try);
- ``retry_on_5xx``: ``retry-on conn-failure empty-response response-timeout 500 502 503 504``
  | ``proxy_next_upstream error timeout http_500 http_502 http_503 http_504``;
- idempotent methods only (RFC 9110): ``http-request disable-l7-retry unless { method ... }``
  | ``non_idempotent`` left out of ``proxy_next_upstream``;
- ``connect_timeout``, ``timeout``: ``timeout connect``, ``timeout server`` |
  ``proxy_connect_timeout``, ``proxy_read_timeout`` (both between two reads).

Both fronts answer ``403`` to the backends' fault switch and to halab's admin paths
(``/_fault``, ``/_lb``: any case, percent-encoded, with extra slashes; see
:data:`ADMIN_PATH_REGEX`), so that a client of the front cannot flip a backend's faults, and
every value written into a configuration file is checked first (:func:`config_value`: no line
break, blank, ``;``, ``#`` or brace can add a directive of its own).

Both servers add an ``X-Backend`` header to each answer, copied from the ``X-Served-By`` header
with which each backend names itself, so that the load generator records who answered.

Neither server dies with its parent on its own. Each is started under a small guard process
(``python -m halab.live.production --guard``) that kills the server's whole process group when
its stdin reaches end of file -- when the block ends, or when this process dies however it
dies -- and then deletes the server's private folder, so that a killed notebook kernel leaves no
HAProxy or nginx, and no file of theirs, behind.
"""

from __future__ import annotations

import collections
import contextlib
import http.client
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import halab.live.guard as _guard
from halab.checks import check_instance, check_int, check_real
from halab.live._proc import LOOPBACK, child_env, stop_process, wait_ready
from halab.live.events import Event
from halab.live.settings import IDEMPOTENT_METHODS, MAX_BACKENDS, Settings

SERVERS = ("haproxy", "nginx")
INSTALL_HINT = (
    "`sudo apt-get install haproxy nginx-light` (Debian, Ubuntu), "
    "`sudo dnf install haproxy nginx` (Fedora) or `brew install haproxy nginx` (macOS)"
)
# Where packages put the binaries when they are not on a non-root user's PATH.
SEARCH_DIRS = ("/usr/sbin", "/usr/local/sbin", "/opt/homebrew/bin", "/usr/local/bin", "/sbin")
PORT_ATTEMPTS = 5  # a port picked by binding port 0 may be taken before the server binds it
STOP_GRACE = 1.0  # seconds between SIGTERM and SIGKILL
CLIENT_TIMEOUT_MS = 30_000  # HAProxy's ``timeout client``: halab's balancer has none
READY_PATH = "/_halab/ready"  # answered by the server itself: proof that it, not another, listens
NGINX_READY = "nginx ready"  # HAProxy's monitor-uri answers "Service ready."
# Paths a front never forwards: the backends' fault switch and halab's admin pages, matched on
# the percent-decoded path in any case, as any segment ("/_fault", "//_FAULT", "/%5ffault",
# "/x/../_lb/status"). HAProxy matches ``path,url_dec`` with ``-i`` (its ``http-request
# normalize-uri`` is experimental up to 2.6, behind ``expose-experimental-directives``, so the
# pattern allows for extra slashes and dot segments itself); nginx matches ``$uri``, which it
# has already decoded, merged slashes in and resolved dot segments of, in a ``location ~*``.
ADMIN_PATH_REGEX = "(^|/)_(fault|lb)"
KEEPALIVE = 32  # idle keep-alive connections to the backends (nginx ``keepalive``)
# the line each server writes when a backend leaves or rejoins the rotation
_HAPROXY_STATE = re.compile(r"Server (\S+)/(\S+) is (DOWN|UP)\b(?:, reason: ([^,]*))?")
_NGINX_UPSTREAM = re.compile(r'upstream: "https?://[^:/"]+:(\d+)')
_NGINX_ACCESS = re.compile(r'^halab-access (\S+) "([^"]*)" "([^"]*)" (\d+)')


class ServerNotFound(RuntimeError):
    """HAProxy or nginx is not installed (the message says how to install it)."""


# -- finding the servers ----------------------------------------------------------------------


def _check_server(server: str) -> str:
    if server not in SERVERS:
        raise ValueError(f"server must be one of {SERVERS}, got {server!r}")
    return server


def find_server(server: str) -> str | None:
    """The path of the ``haproxy`` or ``nginx`` binary, or None when it is not installed."""
    _check_server(server)
    found = shutil.which(server)
    if found:
        return found
    for folder in SEARCH_DIRS:
        path = Path(folder) / server
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
    return None


def missing_message(servers: Sequence[str] = SERVERS) -> str:
    """A sentence saying which servers are missing and how to install them ('' if none)."""
    missing = [s for s in servers if find_server(s) is None]
    if not missing:
        return ""
    names = " and ".join({"haproxy": "HAProxy", "nginx": "nginx"}[s] for s in missing)
    verb = "is" if len(missing) == 1 else "are"
    return (
        f"{names} {verb} not installed on this machine; the lesson's live parts skip "
        f"{'it' if len(missing) == 1 else 'them'}. To install both: {INSTALL_HINT}, then "
        "restart the kernel."
    )


def server_version(server: str, binary: str | None = None) -> tuple[int, ...]:
    """The installed version as a tuple of integers, e.g. ``(2, 6, 12)``.

    Raises:
        ServerNotFound: the server is not installed.
    """
    _check_server(server)
    binary = binary or find_server(server)
    if binary is None:
        raise ServerNotFound(missing_message([server]))
    out = subprocess.run(
        [binary, "-v"], capture_output=True, text=True, timeout=10, check=False, env=child_env()
    )
    text = out.stdout + out.stderr
    pattern = (
        r"HA-?Proxy version (\d+(?:\.\d+)*)" if server == "haproxy" else r"nginx/(\d+(?:\.\d+)*)"
    )
    match = re.search(pattern, text)
    if match is None:
        raise RuntimeError(f"cannot read the version of {binary}: {text.strip()[:200]!r}")
    return tuple(int(x) for x in match.group(1).split("."))


# -- the configuration, line by line ----------------------------------------------------------


def _ms(seconds: float) -> str:
    """Seconds as whole milliseconds with a unit both servers read, e.g. ``"200ms"``."""
    return f"{max(1, round(seconds * 1000))}ms"


def _seconds(seconds: float) -> str:
    """Seconds rounded up to a whole number, e.g. ``"1s"``: nginx reads ``fail_timeout`` in
    whole seconds only (``ngx_parse_time(..., 1)`` in ``ngx_http_upstream.c``)."""
    return f"{max(1, math.ceil(seconds - 1e-9))}s"


def integer_weights(weights: Sequence[float] | None, n: int) -> list[int]:
    """halab's positive weights as the integers HAProxy (1..256) and nginx accept.

    Integer weights in [1, 256] are kept; other weights are scaled so that the largest is 100
    and rounded (at least 1), which keeps their ratios to within half a percent of the largest.
    """
    if weights is None:
        return [1] * n
    if len(weights) != n:
        raise ValueError(f"weights must have {n} entries, got {len(weights)}")
    if all(float(w).is_integer() and 1 <= w <= 256 for w in weights):
        return [int(w) for w in weights]
    top = max(weights)
    return [max(1, round(100 * w / top)) for w in weights]


def _names(ports: Sequence[int], names: Sequence[str] | None) -> list[str]:
    if isinstance(ports, (str, bytes)) or not 1 <= len(ports) <= MAX_BACKENDS:
        raise ValueError(f"ports must list 1 to {MAX_BACKENDS} backend ports, got {ports!r}")
    for p in ports:
        if isinstance(p, bool) or not isinstance(p, int) or not 1 <= p <= 65535:
            raise ValueError(f"each port must be an integer in [1, 65535], got {p!r}")
    names = [f"b{i}" for i in range(len(ports))] if names is None else list(names)
    if len(names) != len(ports):
        raise ValueError(f"names must have {len(ports)} entries, got {len(names)}")
    for name in names:
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_.-]{1,32}", name):
            raise ValueError(f"backend names must be 1-32 letters, digits, '_', '.', '-': {name!r}")
    return names


# Characters that end or split a configuration line or a token in HAProxy or nginx: line
# breaks, blanks, nginx's ";" and "{" "}", both servers' "#" comments, quotes and backslashes.
# A value with any of them could add directives of its own (a newline in check_path once did,
# and `haproxy -c` accepted the result).
_CONFIG_BREAKERS = frozenset("\n\r\t\v\f ;#{}\"'\\`$")


def config_value(setting: str, value: str) -> str:
    """``value`` as it may be written into an HAProxy or nginx file, or ``ValueError``.

    Args:
        setting: the name the error gives (``"check_path"``, ``"names"``, ``"tmpdir"``).
        value: the text to write.
    """
    if not isinstance(value, str) or not value:
        raise ValueError(f"{setting} must be a non-empty string, got {value!r}")
    bad = sorted({c for c in value if c in _CONFIG_BREAKERS or ord(c) < 32 or ord(c) == 127})
    if bad or not value.isascii():
        shown = ", ".join(repr(c) for c in bad) or "non-ASCII characters"
        raise ValueError(
            f"{setting} cannot be written into a configuration file: {value!r} contains {shown} "
            "(no line breaks, blanks, ';', '#', braces, quotes or backslashes)"
        )
    return value


def _check_settings(settings: Settings) -> Settings:
    if not isinstance(settings, Settings):
        raise ValueError(f"settings must be a halab.live.Settings, got {type(settings).__name__}")
    if settings.naive:
        raise ValueError(
            "settings.naive must be False: the tutorial balancer has no production equivalent"
        )
    config_value("check_path", settings.check_path)
    return settings


def _check_port(port: int) -> int:
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ValueError(f"port must be an integer in [1, 65535], got {port!r}")
    return port


HAPROXY_POLICY = {
    "round_robin": ["balance roundrobin"],
    "weighted_round_robin": ["balance roundrobin"],
    "least_connections": ["balance leastconn"],
    "power_of_two": ["balance random(2)"],
    "random": ["balance random(1)"],
    "consistent_hash": ["balance hdr(X-Key)", "hash-type consistent"],
}
NGINX_POLICY = {
    "round_robin": ["# weighted round robin is nginx's default: no directive"],
    "weighted_round_robin": ["# weighted round robin is nginx's default: no directive"],
    "least_connections": ["least_conn;"],
    "power_of_two": ["random two least_conn;"],
    "random": ["random;"],
    "consistent_hash": ["hash $http_x_key consistent;"],
}
_NO_EQUIVALENT = {
    "least_response_time": {
        "haproxy": "HAProxy has no balancing by response time",
        "nginx": "least_time is in NGINX Plus only, not in nginx open source",
    },
}


def _policy(settings: Settings, table: dict, server: str) -> list[str]:
    name = {"join_shortest_queue": "least_connections", "peak_ewma": "least_response_time"}.get(
        settings.policy, settings.policy
    )
    if name in _NO_EQUIVALENT:
        raise ValueError(f"policy {settings.policy!r}: {_NO_EQUIVALENT[name][server]}")
    if name not in table:
        raise ValueError(f"policy must be one of {sorted(table)} for {server}, got {name!r}")
    return table[name]


def _methods() -> str:
    return " ".join(sorted(IDEMPOTENT_METHODS))


def haproxy_lines(
    settings: Settings,
    ports: Sequence[int],
    *,
    port: int,
    names: Sequence[str] | None = None,
    tmpdir: str = "/tmp/halab-haproxy",
    version: tuple[int, ...] = (2, 6),
) -> list[tuple[str, str]]:
    """HAProxy's configuration for ``settings``: ``(halab setting, config line)`` pairs.

    The setting is ``""`` for plumbing (section headers, the listening address, the state
    socket). ``"\\n".join(line for _, line in pairs)`` is the file.

    Args:
        settings: the balancer's settings (``naive`` must be False).
        ports: the backends' ports on 127.0.0.1.
        port: where HAProxy listens on 127.0.0.1.
        names: the backends' names (default ``b0``, ``b1``, ...).
        tmpdir: the private directory for the pid file and the state socket.
        version: HAProxy's version; ``retry-on`` and ``disable-l7-retry`` need 2.0 or later.
    """
    settings = _check_settings(settings)
    names = _names(ports, names)
    port = _check_port(port)
    tmpdir = config_value("tmpdir", tmpdir)
    modern = tuple(version) >= (2, 0)
    policy = _policy(settings, HAPROXY_POLICY, "haproxy")
    if not modern and settings.policy in ("power_of_two", "random"):
        raise ValueError(f"policy {settings.policy!r} needs HAProxy 2.0 or later for random(<n>)")
    out: list[tuple[str, str]] = [
        ("", "global"),
        ("", "    nbthread 1"),
        ("", f"    pidfile {tmpdir}/haproxy.pid"),
        ("", f"    stats socket {tmpdir}/haproxy.sock mode 600 level user"),
        ("", "defaults"),
        ("", "    mode http"),
        ("", f"    timeout client {CLIENT_TIMEOUT_MS}ms"),
        ("connect_timeout", f"    timeout connect {_ms(settings.connect_timeout)}"),
        ("timeout", f"    timeout server {_ms(settings.timeout)}"),
        ("", "frontend fe"),
        ("", f"    bind {LOOPBACK}:{port}"),
        ("", f"    monitor-uri {READY_PATH}"),
        ("", f"    acl halab_admin path,url_dec -m reg -i {ADMIN_PATH_REGEX}"),
        ("", "    http-request deny deny_status 403 if halab_admin"),
        ("", "    default_backend be"),
        ("", "backend be"),
    ]
    out += [("policy", f"    {line}") for line in policy]
    if settings.checks:
        out.append(("check_path", f"    option httpchk GET {settings.check_path}"))
        if settings.check_timeout is not None:
            out.append(("check_timeout", f"    timeout check {_ms(settings.check_timeout)}"))
    out.append(("retries", f"    retries {settings.retries}"))
    if settings.retries > 0:
        out.append(("retries", "    option redispatch 1"))
        if modern:
            on = "conn-failure empty-response response-timeout"
            if settings.retry_on_5xx:
                on += " 500 502 503 504"
            out.append(("retry_on_5xx", f"    retry-on {on}"))
            out.append(
                (
                    "IDEMPOTENT_METHODS",
                    f"    http-request disable-l7-retry unless {{ method {_methods()} }}",
                )
            )
    out.append(("", "    http-response set-header X-Backend %[res.hdr(X-Served-By)]"))
    weights = integer_weights(settings.weights, len(ports))
    for name, p, w in zip(names, ports, weights):
        line = f"    server {name} {LOOPBACK}:{p} weight {w}"
        used = ["weights"]
        if settings.checks:
            line += f" check inter {_ms(settings.inter)} rise {settings.rise} fall {settings.fall}"
            used += ["inter", "rise", "fall"]
            if settings.consecutive_5xx is not None:
                line += f" observe layer7 error-limit {settings.consecutive_5xx} on-error mark-down"
                used.append("consecutive_5xx")
        out.append((", ".join(used), line))
    return out


def nginx_lines(
    settings: Settings,
    ports: Sequence[int],
    *,
    port: int,
    names: Sequence[str] | None = None,
    tmpdir: str = "/tmp/halab-nginx",
    access_log: bool = True,
) -> list[tuple[str, str]]:
    """nginx's configuration for ``settings``: ``(halab setting, config line)`` pairs.

    Args:
        settings: the balancer's settings (``naive`` must be False).
        ports: the backends' ports on 127.0.0.1.
        port: where nginx listens on 127.0.0.1.
        names: the backends' names (nginx knows servers by address; used for checks only).
        tmpdir: the private directory for the pid file and nginx's temporary files.
        access_log: log one line per request to stderr (the runner reads it to see when a
            backend serves again); off for benchmarks.
    """
    settings = _check_settings(settings)
    _names(ports, names)
    port = _check_port(port)
    tmpdir = config_value("tmpdir", tmpdir)
    policy = _policy(settings, NGINX_POLICY, "nginx")
    out: list[tuple[str, str]] = [
        ("", "worker_processes 1;"),
        ("", f"pid {tmpdir}/nginx.pid;"),
        ("", "error_log stderr warn;"),
        ("", "events {"),
        ("", "    worker_connections 1024;"),
        ("", "}"),
        ("", "http {"),
    ]
    for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        out.append(("", f"    {kind}_temp_path {tmpdir}/{kind};"))
    if access_log:
        fmt = '\'halab-access $msec "$upstream_addr" "$upstream_status" $status\''
        out.append(("", f"    log_format halab {fmt};"))
        out.append(("", "    access_log /dev/stderr halab;"))
    else:
        out.append(("", "    access_log off;"))
    out.append(("", "    upstream backends {"))
    out += [("policy", f"        {line}") for line in policy]
    weights = integer_weights(settings.weights, len(ports))
    # max_fails=0 turns the accounting of failures off
    max_fails = 0 if settings.consecutive_5xx is None else settings.consecutive_5xx
    for p, w in zip(ports, weights):
        out.append(
            (
                "weights, consecutive_5xx, base_ejection_time",
                f"        server {LOOPBACK}:{p} weight={w} max_fails={max_fails} "
                f"fail_timeout={_seconds(settings.base_ejection_time)};",
            )
        )
    out += [
        ("", f"        keepalive {KEEPALIVE};"),
        ("", "    }"),
        ("", "    server {"),
        ("", f"        listen {LOOPBACK}:{port};"),
        ("", f'        location = {READY_PATH} {{ return 200 "{NGINX_READY}\\n"; }}'),
        ("", f'        location ~* "{ADMIN_PATH_REGEX}" {{ return 403; }}'),
        ("", "        location / {"),
        ("", "            proxy_pass http://backends;"),
        ("", "            proxy_http_version 1.1;"),
        ("", '            proxy_set_header Connection "";'),
        ("connect_timeout", f"            proxy_connect_timeout {_ms(settings.connect_timeout)};"),
        ("timeout", f"            proxy_read_timeout {_ms(settings.timeout)};"),
        ("timeout", f"            proxy_send_timeout {_ms(settings.timeout)};"),
    ]
    if settings.retries > 0:
        on = "error timeout"
        if settings.retry_on_5xx:
            on += " http_500 http_502 http_503 http_504"
        # non_idempotent is left out on purpose: POST, LOCK, PATCH are not retried once sent
        out.append(("retry_on_5xx, IDEMPOTENT_METHODS", f"            proxy_next_upstream {on};"))
        out.append(("retries", f"            proxy_next_upstream_tries {settings.retries + 1};"))
    else:
        # proxy_next_upstream_tries 0 would mean "no limit", so no retries is written as off
        out.append(("retries", "            proxy_next_upstream off;"))
    out += [
        ("", "            add_header X-Backend $upstream_http_x_served_by always;"),
        ("", "        }"),
        ("", "    }"),
        ("", "}"),
    ]
    return out


def _check_pairs(name: str, pairs) -> list[tuple[str, str]]:
    """``pairs`` as a list of ``(setting, line)`` string pairs, else a clear error."""
    out = list(check_instance(name, pairs, (list, tuple)))
    for pair in out:
        if not (
            isinstance(pair, tuple) and len(pair) == 2 and all(isinstance(x, str) for x in pair)
        ):
            raise ValueError(f"{name} must hold (setting, line) pairs of strings, got {pair!r}")
    return out


def config_text(lines: Sequence[tuple[str, str]]) -> str:
    """The configuration file made of ``(setting, line)`` pairs."""
    return "\n".join(line for _, line in _check_pairs("lines", lines)) + "\n"


def unmapped(settings: Settings, server: str) -> list[tuple[str, str]]:
    """The halab settings that ``server`` cannot express, each with the reason.

    Args:
        settings: the balancer's settings.
        server: ``"haproxy"`` or ``"nginx"``.
    """
    _check_server(server)
    settings = _check_settings(settings)
    out = []
    if server == "nginx":
        if settings.checks:
            out.append(
                (
                    "checks, inter, rise, fall, check_timeout, check_path",
                    "nginx open source has no active health checks (health_check is NGINX Plus); "
                    "it learns that a backend failed, or is back, only from real requests",
                )
            )
        out.append(
            (
                "base_ejection_time, max_ejection_time",
                "fail_timeout is both the window in which max_fails failures must happen and "
                "the time out; it does not grow with each ejection",
            )
        )
    else:
        if settings.consecutive_5xx is not None:
            out.append(
                (
                    "base_ejection_time, max_ejection_time",
                    "a server marked down by observe/on-error comes back after rise good "
                    "checks, not after an ejection time",
                )
            )
        if settings.consecutive_5xx is not None and not settings.checks:
            out.append(
                ("consecutive_5xx", "observe/on-error needs active checks on the server line")
            )
    out.append(("max_ejection_percent", f"{server} has no cap on the share of backends taken out"))
    if settings.panic_threshold > 0:
        if server == "haproxy":
            why = (
                "HAProxy has no panic mode: with every server DOWN it answers 503 (only a "
                "'backup' server, or 'option allbackups', would take over)"
            )
        else:
            why = (
                "nginx has no panic threshold; when every server is disabled it answers 502 "
                "('no live upstreams') and clears their failure counts, so that later requests "
                "try them all again: its 'panic' begins only when none is left"
            )
        out.append(("panic_threshold", why))
    if settings.policy in ("random", "power_of_two"):
        out.append(("seed", f"{server}'s random choices cannot be seeded"))
    return out


# -- what to expect: closed forms ------------------------------------------------------------


def nginx_out_window(settings: Settings) -> tuple[float, float]:
    """Seconds nginx keeps a backend out after disabling it: ``(low, high]``.

    nginx tests ``now - peer->checked <= peer->fail_timeout`` with ``now = ngx_time()``, a
    clock of whole seconds (``src/http/ngx_http_upstream_round_robin.c``), and ``fail_timeout``
    is written in whole seconds F. A backend disabled at time t (``checked = floor(t)``) is
    chosen again from ``floor(t) + F + 1`` on: after more than F seconds, at most F + 1.
    """
    f = math.ceil(_check_settings(settings).base_ejection_time - 1e-9)
    return float(f), float(f + 1)


def removal_bound(
    balancer: str, settings: Settings, *, fault: str = "kill", rate: float, backends: int
) -> float:
    """The latest a balancer takes a failed backend out of rotation, seconds after the fault.

    Active checks (halab, HAProxy): a killed backend refuses each check at once, so DOWN comes
    by ``fall * inter`` (:func:`halab.live.health.detection_bounds`); a hung one makes each
    failing check wait its timeout (``check_timeout``, else ``inter``). Passive ejection (all
    three): the ``consecutive_5xx``-th failed request to the victim, which gets every
    ``backends``-th request at ``rate``, and, with ``retries``, every ``(backends - 1)``-th after
    its first failure, since each retry asks the same round robin for another backend and takes
    that one's turn (halab's retry, HAProxy's ``option redispatch 1``, nginx's
    ``proxy_next_upstream`` all pick through the balancing algorithm):
    :func:`halab.live.health.ejection_bounds`, the one derivation lesson 06 and lesson 09 read
    (40 to 70 ms at 100 requests/s over 3 backends). A request to a hung backend fails only at
    ``timeout``, and the requests sent to it before the first one failed came at its usual
    turn: there retries do not speed the ejection. The bound is the earlier of the two; nginx,
    with no active checks, has only the passive one (``inf`` when ``consecutive_5xx`` is None:
    ``max_fails=0`` never disables a backend).

    Args:
        balancer: ``"halab"``, ``"haproxy"`` or ``"nginx"``.
        settings: the shared settings.
        fault: ``"kill"`` or ``"hang"``.
        rate: requests per second through the balancer.
        backends: how many backends share them.
    """
    from halab.live.health import detection_bounds, ejection_bounds

    if balancer not in BALANCERS:
        raise ValueError(f"balancer must be one of {BALANCERS}, got {balancer!r}")
    if fault not in FAULTS:
        raise ValueError(f"fault must be one of {FAULTS}, got {fault!r}")
    settings = _check_settings(settings)
    check_real("rate", rate, 0, lo_open=True, unit="requests per second")
    check_int("backends", backends, 1, MAX_BACKENDS)
    bounds = [math.inf]
    if settings.checks and balancer != "nginx":
        wait = settings.effective_check_timeout if fault == "hang" else 0.0
        bounds.append(detection_bounds(settings.inter, settings.fall, wait)[1])
    if settings.consecutive_5xx is not None:
        late = settings.timeout if fault == "hang" else 0.0
        # a hung backend's requests were all sent at its usual turn before the first one timed
        # out, so retries speed up nothing there
        retries = settings.retries if fault == "kill" else 0
        bounds.append(
            late + ejection_bounds(rate, backends, settings.consecutive_5xx, retries=retries)[1]
        )
    return min(bounds)


def readmission_bound(balancer: str, settings: Settings) -> float:
    """The latest a balancer puts a backend back, seconds after it answers again.

    halab and HAProxy: ``rise`` passed checks, by ``rise * inter``
    (:func:`halab.live.health.readmission_bounds`). nginx: the next real request it sends the
    backend once the out window (:func:`nginx_out_window`) has passed, by ``F + 1`` seconds --
    less the time between requests, which this bound leaves out.
    """
    from halab.live.health import readmission_bounds

    if balancer not in BALANCERS:
        raise ValueError(f"balancer must be one of {BALANCERS}, got {balancer!r}")
    settings = _check_settings(settings)
    if balancer == "nginx":
        return nginx_out_window(settings)[1]
    if not settings.checks:
        return math.inf
    return readmission_bounds(settings.inter, settings.rise)[1]


def retry_wait_without_redispatch(settings: Settings) -> float:
    """Seconds HAProxy spends retrying a dead server when ``option redispatch`` is missing.

    Without redispatch every retry goes to the same server, after "a turn-around timer of
    min("timeout connect", one second)" (HAProxy manual, ``retries``): ``retries`` such waits,
    then the client gets a 503.
    """
    settings = _check_settings(settings)
    return settings.retries * min(settings.connect_timeout, 1.0)


def annotated(pairs: Sequence[tuple[str, str]], settings: Settings) -> str:
    """The configuration with each line's halab setting(s) and value(s) as a trailing comment.

    Both HAProxy and nginx read ``#`` to the end of a line as a comment, so the text is still
    a valid configuration.
    """
    settings = _check_settings(settings)
    pairs = _check_pairs("pairs", pairs)
    width = min(
        64, max([len(line) for s, line in pairs if s], default=0) + 2
    )  # long lines: 2 spaces
    out = []
    for setting, line in pairs:
        if not setting:
            out.append(line)
            continue
        parts = []
        for name in (x.strip() for x in setting.split(",")):
            if name == "IDEMPOTENT_METHODS":
                parts.append("idempotent methods only")
            else:
                parts.append(f"{name}={getattr(settings, name)!r}")
        out.append(f"{line.ljust(width - 2)}  # halab: {', '.join(parts)}")
    return "\n".join(out) + "\n"


# -- running the real server ------------------------------------------------------------------


def free_port() -> int:
    """A port on 127.0.0.1 that was free a moment ago (bind port 0, read it, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def _answers(port: int) -> bool:
    """Whether HAProxy or nginx itself answers its readiness path on ``port``.

    Connecting is not enough: another process that took the port meanwhile would accept the
    connection while our server fails to bind it and exits.
    """
    conn = http.client.HTTPConnection(LOOPBACK, port, timeout=0.3)
    try:
        conn.request("GET", READY_PATH)
        resp = conn.getresponse()
        body = resp.read()
        return resp.status == 200 and (b"Service ready" in body or NGINX_READY.encode() in body)
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


class ProductionBalancer:
    """A real HAProxy or nginx on 127.0.0.1 in front of halab's backends; use :class:`HAProxy`
    or :class:`Nginx`.

    It has the face of :class:`halab.live.Balancer`: ``start()``, ``stop()``, ``url``, ``port``,
    ``with``, an ``on_event`` callback receiving :class:`~halab.live.events.Event` records
    (``removed`` / ``readmitted`` and the server's own ``down`` / ``up`` / ``eject``), and
    ``status()``.

    Args:
        ports: the backends' ports on 127.0.0.1.
        settings: the settings to write out (default ``Settings()``).
        names: the backends' names (default ``b0``, ``b1``, ...).
        on_event: called (from a reader thread) with each event, times on
            ``time.monotonic()``.
        binary: the server's path (default: found on PATH or in the usual sbin folders).
        start_timeout: seconds the server may take to listen.
        access_log: log each request (needed to see when nginx uses a backend again).
        edit: a function that changes the generated ``(setting, line)`` pairs before they are
            written, e.g. to leave a line out and watch what breaks.

    Attributes:
        url: ``http://127.0.0.1:<port>`` once started.
        tmpdir: the private directory holding the configuration and the pid file.
        config: the configuration text.
        lines: the configuration as ``(halab setting, line)`` pairs.
        pid: the server's process id while it runs.
        version: the server's version tuple.
    """

    server = ""

    def __init__(
        self,
        ports: Sequence[int],
        settings: Settings | None = None,
        *,
        names: Sequence[str] | None = None,
        on_event: Callable[[Event], None] | None = None,
        binary: str | None = None,
        start_timeout: float = 10.0,
        access_log: bool = True,
        edit: Callable[[list[tuple[str, str]]], list[tuple[str, str]]] | None = None,
    ) -> None:
        self.settings = _check_settings(Settings() if settings is None else settings)
        for what, fn in (("on_event", on_event), ("edit", edit)):
            if fn is not None and not callable(fn):
                raise TypeError(f"{what} must be callable, got {fn!r}")
        if binary is not None:
            check_instance("binary", binary, str)
        self.edit = edit
        self.names = _names(ports, names)
        self.ports = list(ports)
        if not 0 < start_timeout <= 120:
            raise ValueError(f"start_timeout must be in (0, 120] seconds, got {start_timeout}")
        self.binary = binary or find_server(self.server)
        if self.binary is None:
            raise ServerNotFound(missing_message([self.server]))
        self.version = server_version(self.server, self.binary)
        self.on_event = on_event
        self.start_timeout = start_timeout
        self.access_log = access_log
        self._lines(port=1)  # check the settings now, before anything starts
        self.port = 0
        self.url = ""
        self.tmpdir = ""
        self.lines: list[tuple[str, str]] = []
        self.config = ""
        self.pid: int | None = None
        self.events: list[Event] = []
        self.log: collections.deque[str] = collections.deque(maxlen=200)
        self._guard: subprocess.Popen | None = None
        self._reader: threading.Thread | None = None
        self._lock = threading.Lock()
        self._out: set[int] = set()  # backends out of rotation, as the server's log tells
        self._started = False
        self._stopped = False

    # -- what each server writes ---------------------------------------------------------------

    def _lines(self, port: int, tmpdir: str = "/tmp/halab") -> list[tuple[str, str]]:
        raise NotImplementedError

    def _command(self, config_path: str) -> list[str]:
        raise NotImplementedError

    def _parse(self, line: str, now: float) -> None:
        raise NotImplementedError

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> ProductionBalancer:
        """Write the configuration, start the server, return once it listens."""
        if self._started:
            raise RuntimeError(f"this {self.server} was already started; make a new one")
        self._started = True
        error = ""
        try:
            for _ in range(PORT_ATTEMPTS):
                error = self._try_start()
                if not error:
                    return self
                self._cleanup()
                if "in use" not in error:
                    break
            raise RuntimeError(f"{self.server} did not start: {error}")
        except BaseException:
            self.stop()
            raise

    def _try_start(self) -> str:
        """One attempt on a fresh port; '' on success, else the server's complaint."""
        self.port = free_port()
        self.tmpdir = tempfile.mkdtemp(prefix=f"halab-{self.server}-")
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            os.chmod(self.tmpdir, 0o711)  # nginx's workers run as nobody when started by root
        self.lines = self._lines(self.port, self.tmpdir)
        if self.edit is not None:
            self.lines = list(self.edit(list(self.lines)))
        self.config = config_text(self.lines)
        path = Path(self.tmpdir) / f"{self.server}.cfg"
        path.write_text(self.config)
        self.log.clear()
        guard = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "halab.live.production",
                "--guard",
                self.tmpdir,
                "--",
                *self._command(path),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=child_env(),
            close_fds=True,
            cwd=self.tmpdir,
        )
        self._guard = guard
        info = wait_ready(guard, self.start_timeout)  # stops the guard itself on failure
        self.pid = int(info["pid"])
        self._reader = threading.Thread(
            target=self._read, args=(guard,), name=f"halab-{self.server}-log", daemon=True
        )
        self._reader.start()
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if guard.poll() is not None:
                self._reader.join(2.0)
                return " | ".join(self.log) or f"exited with code {guard.returncode}"
            if _answers(self.port):
                self.url = f"http://{LOOPBACK}:{self.port}"
                return ""
            time.sleep(0.01)
        return f"not listening on port {self.port} after {self.start_timeout} s"

    def _read(self, guard: subprocess.Popen) -> None:
        try:
            for raw in guard.stderr:
                now = time.monotonic()
                line = raw.decode(errors="replace").rstrip()
                if not line:
                    continue
                if not line.startswith("halab-access"):
                    self.log.append(line)
                try:
                    self._parse(line, now)
                except Exception as exc:  # a line we misread must not stop the reader
                    self.log.append(f"halab: could not read that line: {exc!r}")
        except (OSError, ValueError):
            return

    def _emit(self, kind: str, i: int, detail: str, t: float) -> None:
        event = Event(t, kind, i, detail)
        with self._lock:
            self.events.append(event)
        if self.on_event is not None:
            self.on_event(event)

    def _leave(self, i: int, detail: str, t: float, kind: str) -> None:
        """The server took backend ``i`` out: its own event, then ``removed`` (once)."""
        self._emit(kind, i, detail, t)
        if i not in self._out:
            self._out.add(i)
            self._emit("removed", i, f"{self.server}: {detail}", t)

    def _rejoin(self, i: int, detail: str, t: float, kind: str | None) -> None:
        if kind is not None:
            self._emit(kind, i, detail, t)
        if i in self._out:
            self._out.discard(i)
            self._emit("readmitted", i, f"{self.server}: {detail}", t)

    def _cleanup(self) -> None:
        guard, self._guard = self._guard, None
        if guard is not None:
            _stop_guard(guard, self.pid)
        if self._reader is not None:
            self._reader.join(5.0)
            self._reader = None
        if guard is not None:
            for pipe in (guard.stdout, guard.stderr):
                with contextlib.suppress(OSError, AttributeError):
                    pipe.close()
        if self.tmpdir:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
        self.pid = None

    def stop(self) -> None:
        """Stop the server and its guard, remove the temporary directory. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        self._cleanup()

    @property
    def running(self) -> bool:
        """Whether the server process is alive."""
        return self.pid is not None and _guard.alive(self.pid)

    def __enter__(self) -> ProductionBalancer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def in_rotation(self) -> list[bool]:
        """Each backend's place in the rotation, as the server's log has told so far."""
        return [i not in self._out for i in range(len(self.ports))]

    def status(self) -> list[dict]:
        """Each backend: name, port, and whether it is in rotation (as far as we can tell)."""
        return [
            {"name": n, "port": p, "in_rotation": ok}
            for n, p, ok in zip(self.names, self.ports, self.in_rotation())
        ]

    def __repr__(self) -> str:
        state = "running" if self.running else ("stopped" if self._stopped else "not started")
        return f"{type(self).__name__}({len(self.ports)} backends, {state} {self.url})"


class HAProxy(ProductionBalancer):
    """HAProxy in front of halab's backends, configured from a :class:`Settings` (see module)."""

    server = "haproxy"

    def _lines(self, port: int, tmpdir: str = "/tmp/halab") -> list[tuple[str, str]]:
        return haproxy_lines(
            self.settings,
            self.ports,
            port=port,
            names=self.names,
            tmpdir=tmpdir,
            version=self.version,
        )

    def _command(self, config_path) -> list[str]:
        # -W: master-worker, as HAProxy's own service files run it (and the master writes the
        # pid file); -db: stay in the foreground, no daemon, so the guard owns the process group
        return [self.binary, "-W", "-db", "-f", str(config_path)]

    def _parse(self, line: str, now: float) -> None:
        m = _HAPROXY_STATE.search(line)
        if m is None or m.group(2) not in self.names:
            return
        i = self.names.index(m.group(2))
        reason = (m.group(4) or "").strip()
        if m.group(3) == "DOWN":
            self._leave(i, f"DOWN ({reason})" if reason else "DOWN", now, "down")
        else:
            self._rejoin(i, f"UP ({reason})" if reason else "UP", now, "up")

    def status(self) -> list[dict]:
        """Each backend as HAProxy's runtime API tells (``show stat``): name, port, state."""
        if not self.running:
            return super().status()
        try:
            rows = _haproxy_show_stat(str(Path(self.tmpdir) / "haproxy.sock"))
        except OSError:
            return super().status()
        state = {r.get("svname"): r.get("status", "") for r in rows if r.get("pxname") == "be"}
        return [
            {
                "name": n,
                "port": p,
                "state": state.get(n, "?"),
                "in_rotation": state.get(n, "").startswith(("UP", "NOLB")),
            }
            for n, p in zip(self.names, self.ports)
        ]


class Nginx(ProductionBalancer):
    """nginx in front of halab's backends, configured from a :class:`Settings` (see module).

    nginx open source checks nothing by itself: a backend leaves the rotation when
    ``max_fails`` real requests to it failed within ``fail_timeout`` (its log says "upstream
    server temporarily disabled"), and is tried again with a real request ``fail_timeout``
    later. The runner marks it ``readmitted`` when its access log shows that backend answering
    again.
    """

    server = "nginx"

    def _lines(self, port: int, tmpdir: str = "/tmp/halab") -> list[tuple[str, str]]:
        return nginx_lines(
            self.settings,
            self.ports,
            port=port,
            names=self.names,
            tmpdir=tmpdir,
            access_log=self.access_log,
        )

    def _command(self, config_path) -> list[str]:
        cmd = [self.binary]
        if self.version >= (1, 19, 5):
            cmd += ["-e", "stderr"]  # the error log before the configuration is read
        return [*cmd, "-c", str(config_path), "-p", self.tmpdir + "/", "-g", "daemon off;"]

    def _index(self, port: str) -> int | None:
        p = int(port)
        return self.ports.index(p) if p in self.ports else None

    def _parse(self, line: str, now: float) -> None:
        access = _NGINX_ACCESS.match(line)
        if access is not None:
            addrs = [a.strip() for a in access.group(2).split(",") if a.strip()]
            codes = [c.strip() for c in access.group(3).split(",") if c.strip()]
            if addrs and codes and codes[-1].isdigit() and 200 <= int(codes[-1]) < 400:
                i = self._index(addrs[-1].rsplit(":", 1)[-1])
                if i is not None and i in self._out:
                    self._rejoin(i, "answered a request again", now, None)
            return
        if "upstream server temporarily disabled" in line:
            m = _NGINX_UPSTREAM.search(line)
            i = None if m is None else self._index(m.group(1))
            if i is not None:
                detail = "max_fails failed requests within fail_timeout, out for fail_timeout"
                self._leave(i, detail, now, "eject")


FRONTS: dict[str, type[ProductionBalancer]] = {"haproxy": HAProxy, "nginx": Nginx}


def check_front(front: str, settings: Settings, backends: int) -> None:
    """Fail early if ``front`` cannot stand in front of ``backends`` with ``settings``.

    Raises:
        ValueError: an unknown front, or settings it cannot express.
        ServerNotFound: HAProxy or nginx is not installed.
    """
    if front == "halab":
        return
    if front not in FRONTS:
        raise ValueError(f"front must be one of {BALANCERS}, got {front!r}")
    lines = haproxy_lines if front == "haproxy" else nginx_lines
    lines(settings, list(range(1, backends + 1)), port=1)
    if find_server(front) is None:
        raise ServerNotFound(missing_message([front]))


def make_front(server: str, ports: Sequence[int], settings: Settings | None = None, **kw):
    """An :class:`HAProxy` or :class:`Nginx` (not started) by name."""
    return FRONTS[_check_server(server)](ports, settings, **kw)


# -- the same drill through each balancer -------------------------------------------------------

BALANCERS = ("halab", "haproxy", "nginx")
FAULTS = ("kill", "hang")


def available_balancers(balancers: Sequence[str] = BALANCERS) -> list[str]:
    """The balancers of ``balancers`` that can run here (halab always can)."""
    for b in balancers:
        if b != "halab":
            _check_server(b)
    return [b for b in balancers if b == "halab" or find_server(b) is not None]


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
    from halab.live.cluster import SETTLE, Drill, LiveCluster, _check_drill_times, served_again
    from halab.live.loadgen import LoadGenerator, check_load

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
    begin_kind, end_kind = ("kill", "revive") if fault == "kill" else ("hang", "heal")
    events: list[Event] = []
    with contextlib.ExitStack() as stack:
        if balancer == "halab":
            url = cluster.url
            _wait_all_in_rotation(cluster.status)
        else:
            front = make_front(
                balancer,
                cluster.ports,
                settings,
                names=cluster.names,
                on_event=lambda e: events.append(e.shifted(cluster.t0)),
            )
            stack.enter_context(front)
            url = front.url
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
        time.sleep(max(0.0, begin + kill_at - time.monotonic()))
        if fault == "kill":
            cluster.kill(victim)
        else:
            cluster.hang(victim)
        kill_t = cluster.events(begin_kind, victim)[-1].t
        time.sleep(max(0.0, begin + revive_at - time.monotonic()))
        if fault == "kill":
            cluster.revive(victim)
        else:
            cluster.heal(victim)
        revive_t = cluster.events(end_kind, victim)[-1].t
        result = gen.finish_when(served_again(victim, revive_t), planned=duration)
        time.sleep(0.05)  # the last log lines and events
    start = float(result.starts.min()) if len(result) else kill_t
    if balancer == "halab":
        timeline = [e for e in cluster.timeline if e.t >= start - 1e-3]
    else:
        ours = [e for e in cluster.events(backend=victim) if e.kind in (begin_kind, end_kind)]
        timeline = sorted(events + [e for e in ours if e.t >= start - 1e-3], key=lambda e: e.t)
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


def drill_numbers(drill, *, slow: float = 0.5) -> dict:
    """What the lesson compares: failures, time out of rotation, time back, latency.

    Args:
        drill: a :class:`halab.live.Drill`.
        slow: the latency above which a request counts as slow, seconds.

    Returns:
        ``requests``, ``failed``, ``slow`` (requests slower than ``slow``), ``removed_s``
        (seconds from the fault to the balancer taking the victim out, None if never),
        ``readmitted_s`` (from the end of the fault to its return, None if never),
        ``p50_ms`` and ``p99_ms`` (latency percentiles, ms), ``answered_per_s``.
    """
    import numpy as np

    from halab.live.cluster import Drill

    if not slow > 0:
        raise ValueError(f"slow must be > 0 seconds, got {slow}")
    check_instance("drill", drill, Drill)
    lat = drill.load.latencies
    starts = drill.load.starts
    span = float(starts.max() - starts.min()) if len(starts) > 1 else float("nan")

    def delay(t, ref):
        return None if t is None else float(t - ref)

    return {
        "requests": len(drill.load),
        "failed": drill.failed,
        "slow": int((lat > slow).sum()),
        "removed_s": delay(drill.removed_t, drill.kill_t),
        "readmitted_s": delay(drill.readmitted_t, drill.revive_t),
        "p50_ms": float(np.percentile(lat, 50) * 1e3) if len(lat) else float("nan"),
        "p99_ms": float(np.percentile(lat, 99) * 1e3) if len(lat) else float("nan"),
        "answered_per_s": drill.load.ok / span if span > 0 else float("nan"),
    }


# -- helpers ------------------------------------------------------------------------------------


def _group_alive(pgid: int) -> bool:
    """Whether any live (not zombie) process is left in process group ``pgid``.

    The server's pid is its group's leader -- HAProxy's master, nginx's master -- and its
    workers are other processes of the group. A dead leader says nothing about them: both get
    the guard's signal at once, and HAProxy's master often exits a few milliseconds before its
    worker has closed the listening socket (longer on a loaded machine). So whoever must know
    that the server is gone -- its port closed -- waits for the whole group.
    """
    proc = Path("/proc")
    if not (proc / "self" / "stat").exists():
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    for stat in proc.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(") ", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] != "Z":
            return True
    return False


def wait_group_gone(pgid: int, timeout: float = 5.0) -> bool:
    """Wait up to ``timeout`` seconds until process group ``pgid`` is empty; True if it is."""
    check_int("pgid", pgid, 1, _guard.MAX_PID)
    check_real("timeout", timeout, 0, 3600, unit="seconds")
    deadline = time.monotonic() + timeout
    while _group_alive(pgid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)
    return True


def _stop_guard(guard: subprocess.Popen, pid: int | None) -> None:
    """Close the guard's stdin (it then stops the server's group); make sure of both.

    The guard returns when the group's leader has exited; its workers may take a moment more
    (see :func:`_group_alive`), so this waits for the whole group, and kills what is left.
    """
    with contextlib.suppress(OSError):
        guard.stdin.close()
    with contextlib.suppress(subprocess.TimeoutExpired):
        guard.wait(STOP_GRACE + 3.0)
    if pid is not None and not wait_group_gone(pid, STOP_GRACE):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)  # the guard failed us: kill the group ourselves
        wait_group_gone(pid, 5.0)
    stop_process(guard)


def _haproxy_show_stat(path: str) -> list[dict]:
    """Rows of HAProxy's ``show stat`` (CSV) from its runtime API on a UNIX socket."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(2.0)
        s.connect(path)
        s.sendall(b"show stat\n")
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    text = b"".join(chunks).decode(errors="replace").splitlines()
    if not text or not text[0].startswith("# "):
        return []
    header = text[0][2:].split(",")
    return [dict(zip(header, row.split(","))) for row in text[1:] if row]


# -- the guard: ``python -m halab.live.production --guard <folder> -- <command>`` ----------------
# It lives in :mod:`halab.live.guard` now; these two entry points delegate to it.


def guard(argv: list[str]) -> int:
    """Run ``argv`` under :func:`halab.live.guard.guard` (its own process group, stopped when
    stdin closes); returns the command's exit code."""
    return _guard.guard(argv, grace=STOP_GRACE)


if __name__ == "__main__":
    if len(sys.argv) > 4 and sys.argv[1] == "--guard" and sys.argv[3] == "--":
        _guard.main(["--grace", str(STOP_GRACE), *sys.argv[2:]])  # deletes the folder, exits
    raise SystemExit("usage: python -m halab.live.production --guard <folder> -- <command> ...")
