"""Live failover on your own machine: real backends, a real balancer, real kills.

A tour::

    >>> from halab.live import LiveCluster                        # doctest: +SKIP
    >>> with LiveCluster(backends=3, policy="round_robin") as cluster:  # doctest: +SKIP
    ...     drill = cluster.drill(victim=1, rate=100, kill_at=1.0, revive_at=2.5, duration=4.0)
    >>> drill.failed, drill.summary()["removed_after_kill_s"]     # doctest: +SKIP
    (0, 0.02)

Vocabulary, and how each word is coded:

* **backend**: an HTTP server in its own OS process on 127.0.0.1 (``python -m
  halab.live.backend``), named ``b0``, ``b1``, ...; killed with a real SIGKILL.
* **balancer**: a threaded reverse proxy on 127.0.0.1 (:class:`Balancer`) that routes with the
  policies of :mod:`halab.balancing`; its knobs are a :class:`Settings`.
* **health check**: ``GET /health`` every ``inter`` seconds; :class:`HealthCheck` counts
  ``rise`` passes to come UP and ``fall`` failures to go DOWN (HAProxy).
* **ejection**: :class:`OutlierDetector` takes a backend out after ``consecutive_5xx``
  failed requests, for a time that grows with each ejection (Envoy); never the last one in
  rotation.
* **panic**: while fewer than ``panic_threshold`` percent of the backends are in rotation,
  the balancer routes to every backend that is not known dead (Envoy's panic threshold).
* **secret**: each :class:`LiveCluster` has its own; only it flips a backend's fault switch.
* **retry**: :func:`may_retry` says whether a failed request may go to another backend.
* **record**: one client request as :class:`LoadGenerator` saw it (:class:`Record`).
* **timeline**: :class:`Event` records: kill, revive, down, up, eject, removed, readmitted.
"""

from __future__ import annotations

import importlib

# name -> module; imported on first use, so that ``python -m halab.live.backend`` starts fast
# (the balancer's policies pull in NumPy and SciPy; a backend needs neither).
_EXPORTS = {
    "Attempt": "retry",
    "Balancer": "balancer",
    "Drill": "cluster",
    "Event": "events",
    "HealthCheck": "health",
    "IDEMPOTENT_METHODS": "settings",
    "LiveCluster": "cluster",
    "LoadGenerator": "loadgen",
    "LoadResult": "loadgen",
    "OutlierDetector": "health",
    "Record": "loadgen",
    "Settings": "settings",
    "may_retry": "retry",
    "retry_candidates": "retry",
    "run_load": "loadgen",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f"halab.live.{_EXPORTS[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'halab.live' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
