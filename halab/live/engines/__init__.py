"""Real engines on 127.0.0.1, killed live beside the simulation's prediction.

A tour::

    >>> from halab.live.engines import Etcd, available          # doctest: +SKIP
    >>> available()                                              # doctest: +SKIP
    {'ZooKeeper': True, 'Etcd': True, 'MariaDB': True, 'RedisSentinel': True, 'RabbitMQ': True}
    >>> with Etcd(nodes=3) as etcd:                              # doctest: +SKIP
    ...     old = etcd.leader(); etcd.kill(old)                   # a real SIGKILL
    ...     etcd.wait_leader(exclude=old)                         # a new leader, a second later
    1

Each engine is a context manager built as ``Engine(nodes=3, **settings)``, with ``kill(i)``
(SIGKILL), ``revive(i)``, ``leader()``, ``pids``, ``timeline`` and ``drill(...)``; see
:mod:`halab.live.engines._base` for what they share (guards, ports, folders, cleanup). A missing
program gives :class:`EngineMissing`, whose message is the install command.
"""

from __future__ import annotations

import importlib

from halab.live.engines._base import Engine, EngineMissing, Footprint, check_number, kill_parent

# public class -> its module in this package; imported on first use (kazoo, PyMySQL, redis and
# pika are imported only by the engine that needs them)
ENGINES = {
    "ZooKeeper": "zookeeper",
    "Etcd": "etcd",
    "MariaDB": "mariadb",
    "RedisSentinel": "redis",
    "RabbitMQ": "rabbitmq",
}
__all__ = [
    "ENGINES",
    "Engine",
    "EngineMissing",
    "Footprint",
    "available",
    "kill_parent",
    "leader_drills",
    *ENGINES,
]


def __getattr__(name: str):
    if name in ENGINES:
        value = getattr(importlib.import_module(f"halab.live.engines.{ENGINES[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'halab.live.engines' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


class Availability(dict):
    """Engine name -> whether this machine can run it; ``message`` says how to install the
    missing ones (one line each), '' when nothing is missing."""

    message: str = ""

    def __repr__(self) -> str:
        return dict.__repr__(self)


def available() -> Availability:
    """Which engines this machine has: ``{"ZooKeeper": True, "Etcd": False, ...}``.

    The result's ``message`` holds the install command (``apt-get install ...`` and
    ``brew install ...``) for each missing engine.
    """
    found = Availability()
    lines = []
    for name in ENGINES:
        try:
            cls = __getattr__(name)
        except ImportError as exc:  # the engine's module is not there (or its client library)
            found[name] = False
            lines.append(f"{name}: halab cannot load it here ({exc})")
            continue
        found[name] = not cls.missing()
        if not found[name]:
            lines.append(cls.install_hint())
    found.message = "\n".join(lines)
    return found


def leader_drills(
    trials: int = 10, *, engines=("ZooKeeper", "Etcd"), sim_trials: int = 200, seed: int = 0
) -> dict:
    """Start each engine with its default settings, kill its leader ``trials`` times, stop it.

    Lesson 05's live cell. Returns engine name -> its
    :class:`~halab.live.engines._base.FailoverDrill` (``.table()`` prints it beside the
    simulation, ``.explain()`` where they part, ``.drills`` each kill as the record every
    live drill returns), or the install hint (a ``str``) when the engine is missing here.
    """
    check_number("trials", trials, 1, 1000, integer=True)
    check_number("sim_trials", sim_trials, 1, 100_000, integer=True)
    check_number("seed", seed, 0, 2**63 - 1, integer=True)
    engines = tuple(engines)
    for name in engines:
        if name not in ("ZooKeeper", "Etcd"):
            raise ValueError(f"engines must name ZooKeeper or Etcd, got {name!r}")
    out: dict = {}
    for name in engines:
        try:
            engine = __getattr__(name)()
        except EngineMissing as exc:
            out[name] = str(exc)
            continue
        with engine:
            out[name] = engine.drill(trials=trials, sim_trials=sim_trials, seed=seed)
    return out
