"""What to expect of each front: closed forms for its removal and readmission of a backend.

The bounds lessons 06 and 09 draw under the measured drills (:mod:`halab.live.drill`); each
states its source.
"""

from __future__ import annotations

import math

from halab.checks import check_int, check_real
from halab.live.config import BALANCERS, _check_settings
from halab.live.drill import FAULTS
from halab.live.health import detection_bounds, ejection_bounds, readmission_bounds
from halab.live.settings import MAX_BACKENDS, Settings


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
