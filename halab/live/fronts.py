"""The fronts: what can stand in front of a cluster's backends, by name.

``"halab"`` is halab's own :class:`~halab.live.balancer.Balancer`; ``"haproxy"`` and ``"nginx"``
are the real servers of :mod:`halab.live.servers`, configured from the same
:class:`~halab.live.settings.Settings`. Their constructors match -- ``(ports, settings, *,
names=..., on_event=...)``, then each one's own keywords -- and so do their faces: ``start()``,
``stop()``, ``url``, ``with``, ``status()``. So a caller picks one by name:

>>> sorted(fronts())
['halab', 'haproxy', 'nginx']
>>> with front("nginx", cluster.ports, Settings(), names=cluster.names) as f:  # doctest: +SKIP
...     run_load(f.url, rate=100, duration=2.0).failed
0
"""

from __future__ import annotations

from collections.abc import Sequence

from halab.live import servers
from halab.live.balancer import Balancer
from halab.live.config import BALANCERS, _check_server
from halab.live.servers import HAProxy, Nginx, ProductionBalancer, ServerNotFound
from halab.live.settings import Settings

# the production servers by name (halab.live.production.FRONTS)
SERVER_FRONTS: dict[str, type[ProductionBalancer]] = {"haproxy": HAProxy, "nginx": Nginx}
_FRONTS: dict[str, type] = {"halab": Balancer, **SERVER_FRONTS}
assert tuple(_FRONTS) == BALANCERS


def fronts() -> dict[str, type]:
    """Each front's name and class, halab's own first: ``halab``, ``haproxy``, ``nginx``."""
    return dict(_FRONTS)


def _check_front(name: str) -> str:
    if name not in _FRONTS:
        raise ValueError(f"front must be one of {BALANCERS}, got {name!r}")
    return name


def front(name: str, ports: Sequence[int], settings: Settings | None = None, **kw):
    """The front ``name`` (not started) before the backends on ``ports``.

    Args:
        name: ``"halab"``, ``"haproxy"`` or ``"nginx"``.
        ports: the backends' ports on 127.0.0.1.
        settings: the balancer's settings (default ``Settings()``).
        **kw: the class's own keywords (``names``, ``on_event``; halab's ``secret`` and
            ``claims``; the servers' ``start_timeout``, ``edit``, ...).

    Raises:
        ServerNotFound: HAProxy or nginx is not installed.
    """
    return _FRONTS[_check_front(name)](ports, settings, **kw)


def check_front(front: str, settings: Settings, backends: int) -> None:
    """Fail early if ``front`` cannot stand in front of ``backends`` with ``settings``.

    Raises:
        ValueError: an unknown front, or settings it cannot express.
        ServerNotFound: HAProxy or nginx is not installed.
    """
    if _check_front(front) == "halab":
        return
    SERVER_FRONTS[front].writer(settings, list(range(1, backends + 1)), port=1)
    if servers.find_server(front) is None:
        raise ServerNotFound(servers.missing_message([front]))


def make_front(server: str, ports: Sequence[int], settings: Settings | None = None, **kw):
    """An :class:`HAProxy` or :class:`Nginx` (not started) by name."""
    return SERVER_FRONTS[_check_server(server)](ports, settings, **kw)


def available_balancers(balancers: Sequence[str] = BALANCERS) -> list[str]:
    """The balancers of ``balancers`` that can run here (halab always can)."""
    for b in balancers:
        if b != "halab":
            _check_server(b)
    return [b for b in balancers if b == "halab" or servers.find_server(b) is not None]
