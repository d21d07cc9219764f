"""Configuration writers: a :class:`~halab.live.settings.Settings` as an HAProxy or an nginx file.

Each writer returns ``(halab setting, config line)`` pairs, so that every line says which setting
it comes from; :mod:`halab.live.servers` writes them to a private folder and starts the server.

>>> lines = haproxy_lines(Settings(), [8001, 8002, 8003], port=8000)
>>> [text.strip() for setting, text in lines if setting == "policy"]
['balance roundrobin']


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
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from halab.checks import check_instance
from halab.live._proc import LOOPBACK
from halab.live.settings import IDEMPOTENT_METHODS, MAX_BACKENDS, Settings

SERVERS = ("haproxy", "nginx")
BALANCERS = ("halab", *SERVERS)  # every front a drill can go through (halab's own first)
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


def _check_server(server: str) -> str:
    if server not in SERVERS:
        raise ValueError(f"server must be one of {SERVERS}, got {server!r}")
    return server


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
