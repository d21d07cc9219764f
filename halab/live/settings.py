"""The balancer's settings: one frozen record, named after the knobs of real load balancers.

Every field maps onto a setting of HAProxy (configuration manual, sections 4.2 and 5.2), nginx
(``ngx_http_upstream_module``, ``ngx_http_proxy_module``) or Envoy, so that the same record can
later be written out as their configuration (``to_dict`` is the neutral form):

- ``policy``: HAProxy ``balance roundrobin | leastconn | random(2) | hash``; nginx
  ``least_conn``, ``random two``, ``hash``; Envoy ``lb_policy``.
- ``weights``: HAProxy ``server ... weight W``; nginx ``server ... weight=W``.
- ``inter``, ``rise``, ``fall``: HAProxy ``server ... check inter I rise R fall F``
  (nginx open source has no active checks).
- ``check_timeout``: HAProxy ``timeout check`` (``inter`` when unset).
- ``check_path``: HAProxy ``option httpchk GET /health``.
- ``consecutive_5xx``, ``base_ejection_time``, ``max_ejection_percent``: Envoy
  ``outlier_detection``; nginx's passive ``max_fails`` / ``fail_timeout``; HAProxy's
  ``observe layer7 error-limit N on-error mark-down``.
- ``retries``, ``retry_on_5xx``: HAProxy ``retries N``, ``option redispatch``,
  ``retry-on conn-failure 500 502 503 504 response-timeout``; nginx ``proxy_next_upstream
  error timeout http_500 http_502 http_503 http_504`` and ``proxy_next_upstream_tries``.
- ``connect_timeout``, ``timeout``: HAProxy ``timeout connect``, ``timeout server``; nginx
  ``proxy_connect_timeout``, ``proxy_read_timeout`` (both between two reads, not in total).
- ``panic_threshold``: Envoy's ``common_lb_config.healthy_panic_threshold`` (default 50 %;
  architecture overview, "Load balancing", "Panic threshold"); HAProxy and nginx have none.

Defaults are sized for a lesson: checks every 0.2 s, two failures to go DOWN and two successes
to come back UP, so a kill-and-revive drill takes seconds. Production defaults are slower
(HAProxy: ``inter 2s``, ``rise 2``, ``fall 3``; Envoy: ``consecutive_5xx`` 5,
``base_ejection_time`` 30 s, ``max_ejection_percent`` 10).
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, fields

from halab.checks import check_int

# Request methods that RFC 9110, section 9.2.2, defines as idempotent: sending one twice has
# the same effect on the server as sending it once, so a balancer may retry it elsewhere.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"})

MAX_BACKENDS = 16  # a lesson-sized cluster; each backend is one OS process
# A health-check path: RFC 3986 path and query characters, less ';' and '$' (which mean
# something in an nginx or HAProxy file), so that it can be written into one unchanged.
_URI_PATH = re.compile(r"/[A-Za-z0-9\-._~!&'()*+,=:@%/?]{0,199}")


@dataclass(frozen=True)
class Settings:
    """How the failover balancer routes, checks, ejects, retries and times out.

    Attributes:
        policy: a name from ``halab.balancing.POLICIES`` (``"round_robin"``, ...).
        weights: one positive weight per backend for the weighted policies, or ``None``.
        seed: seeds the policy's random choices (``random``, ``power_of_two``).
        checks: run active health checks (HAProxy semantics).
        inter: seconds between the end of one health check and the start of the next.
        rise: consecutive successful checks that bring a DOWN backend UP.
        fall: consecutive failed checks that take an UP backend DOWN.
        check_timeout: seconds a check may take (connect + response); ``None`` means ``inter``,
            as HAProxy does when ``timeout check`` is unset.
        check_path: the path a check requests; a 2xx or 3xx answer is a success.
        consecutive_5xx: consecutive failed requests (5xx, connect failure, reset, timeout)
            that eject a backend (Envoy outlier detection); ``None`` turns passive ejection off.
        base_ejection_time: seconds of the first ejection; the n-th lasts n times as long.
        max_ejection_time: cap on one ejection, seconds (Envoy's default is 300 s).
        max_ejection_percent: a backend is ejected only while fewer than this percentage
            of backends are ejected.
        retries: how many more backends a failed idempotent request may try (0 = none).
        retry_on_5xx: also retry idempotent requests answered with a 5xx status.
        connect_timeout: seconds to open a connection to a backend.
        timeout: seconds of silence from a backend before the request is abandoned.
        naive: route like the tutorial balancer instead (random, one strike and out, no
            timeouts, spins when everything is out); every other field is then ignored.
        naive_cap: seconds the naive balancer may wait for one backend or spin with none,
            so that the lesson never hangs (the tutorial code has no such cap).
        panic_threshold: a percentage in [0, 100]; while fewer than this percentage of the
            backends are in rotation, the balancer is in *panic* and routes to every backend
            not known to be dead, whatever its health (Envoy's ``healthy_panic_threshold``,
            default 50 %, as here; 0 turns panic off). Known dead means nothing listens on
            its port: its last health check, or the last request sent to it, was refused. A
            backend that is DOWN or ejected because its checks or connects *timed out* stays
            a candidate: under overload that is what a busy, live backend looks like, and
            routing to it beats answering 503 while it could serve (Envoy routes to all hosts;
            halab leaves out only those a request cannot possibly reach).
    """

    policy: str = "round_robin"
    weights: tuple[float, ...] | None = None
    seed: int = 0
    checks: bool = True
    inter: float = 0.2
    rise: int = 2
    fall: int = 2
    check_timeout: float | None = None
    check_path: str = "/health"
    consecutive_5xx: int | None = 3
    base_ejection_time: float = 1.0
    max_ejection_time: float = 300.0
    max_ejection_percent: float = 50.0
    retries: int = 2
    retry_on_5xx: bool = True
    connect_timeout: float = 0.5
    timeout: float = 1.0
    naive: bool = False
    naive_cap: float = 5.0
    panic_threshold: float = 50.0

    def __post_init__(self) -> None:
        if not isinstance(self.policy, str) or not self.policy:
            raise ValueError(f"policy must be a policy name, got {self.policy!r}")
        if self.weights is not None:
            weights = tuple(float(w) for w in self.weights)
            if not weights or any(not math.isfinite(w) or w <= 0 for w in weights):
                raise ValueError(f"weights must be positive numbers, got {self.weights!r}")
            object.__setattr__(self, "weights", weights)
        check_int("seed", self.seed, 0, None)
        _positive("inter", self.inter, upper=60.0)
        _count("rise", self.rise)
        _count("fall", self.fall)
        if self.check_timeout is not None:
            _positive("check_timeout", self.check_timeout, upper=60.0)
        if not isinstance(self.check_path, str) or not self.check_path.startswith("/"):
            raise ValueError(f"check_path must start with '/', got {self.check_path!r}")
        if not _URI_PATH.fullmatch(self.check_path):
            raise ValueError(
                "check_path must be a URI path of at most 200 characters, letters, digits and "
                f"-._~!&'()*+,=:@%/? only (no blank, line break, ';' or '#'), "
                f"got {self.check_path!r}"
            )
        if self.consecutive_5xx is not None:
            _count("consecutive_5xx", self.consecutive_5xx)
        _positive("base_ejection_time", self.base_ejection_time, upper=3600.0)
        _positive("max_ejection_time", self.max_ejection_time, upper=86400.0)
        if not 0 <= self.max_ejection_percent <= 100:
            raise ValueError(
                f"max_ejection_percent must be in [0, 100], got {self.max_ejection_percent}"
            )
        if not isinstance(self.retries, int) or isinstance(self.retries, bool):
            raise ValueError(f"retries must be an integer in [0, 10], got {self.retries!r}")
        if not 0 <= self.retries <= 10:
            raise ValueError(f"retries must be in [0, 10], got {self.retries}")
        _positive("connect_timeout", self.connect_timeout, upper=60.0)
        _positive("timeout", self.timeout, upper=600.0)
        _positive("naive_cap", self.naive_cap, upper=600.0)
        if (
            isinstance(self.panic_threshold, bool)
            or not isinstance(self.panic_threshold, (int, float))
            or not 0 <= self.panic_threshold <= 100
        ):
            raise ValueError(
                f"panic_threshold must be a percentage in [0, 100], got {self.panic_threshold!r}"
            )

    @property
    def effective_check_timeout(self) -> float:
        """Seconds a health check may take: ``check_timeout``, or ``inter`` when unset."""
        return self.inter if self.check_timeout is None else self.check_timeout

    def to_dict(self) -> dict:
        """The settings as plain JSON-ready values (tuples become lists)."""
        out = asdict(self)
        if out["weights"] is not None:
            out["weights"] = list(out["weights"])
        return out

    @classmethod
    def from_dict(cls, data: dict) -> Settings:
        """The inverse of :meth:`to_dict`; unknown keys raise ``ValueError``."""
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown settings {sorted(unknown)}; known: {sorted(known)}")
        data = dict(data)
        if data.get("weights") is not None:
            data["weights"] = tuple(data["weights"])
        return cls(**data)


def _positive(name: str, value: float, *, upper: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number of seconds in (0, {upper:g}], got {value!r}")
    if not (0 < value <= upper):
        raise ValueError(f"{name} must be in (0, {upper:g}] seconds, got {value}")


def _count(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 100:
        raise ValueError(f"{name} must be an integer in [1, 100], got {value!r}")
