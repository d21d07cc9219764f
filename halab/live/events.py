"""The timeline of a live cluster: small immutable records of what happened, and when.

Times are seconds on ``time.monotonic()``, which on Linux and macOS is one clock for every
process of the machine, so the balancer's process, the backends and the notebook agree.
A cluster shifts them so that 0 is the moment it started.

Kinds of events, and who writes them:

========================  ==========================================================
``kill``, ``revive``      the cluster: a backend SIGKILLed / started again
``slow``, ``fail``,       the cluster: a fault switched on a backend
``hang``, ``heal``
``down``, ``up``          the balancer: active health checks took a backend DOWN / UP
``eject``, ``uneject``    the balancer: passive outlier detection ejected / returned it
``removed``,              the balancer: the backend left / re-entered the rotation
``readmitted``            (for whatever reason: the moment traffic stops / resumes)
``ready``, ``stop``       an engine (:mod:`halab.live.engines`): all its nodes serve / it stopped
``leader``                an engine: a node was seen leading (``backend`` is the node's index)
``write``                 an engine: a client's write succeeded (e.g. the first after a kill)
``promote``               an engine: a replica was made primary
``failover``              an engine: its own failover finished (a sentinel's switch, ...)
``lost``                  an engine: acknowledged writes or messages found missing
``fallback``              an engine: semi-sync replication fell back to async
``crash``                 a crash proxy dropped the bytes in flight on a link
========================  ==========================================================
"""

from __future__ import annotations

from dataclasses import dataclass

KINDS = (
    "start",
    "kill",
    "revive",
    "slow",
    "fail",
    "hang",
    "heal",
    "down",
    "up",
    "eject",
    "uneject",
    "removed",
    "readmitted",
    "ready",
    "stop",
    "leader",
    "write",
    "promote",
    "failover",
    "lost",
    "fallback",
    "crash",
)


@dataclass(frozen=True)
class Event:
    """One thing that happened to one backend (or to the cluster, ``backend=None``).

    Attributes:
        t: seconds (since the cluster started, once a cluster has shifted it).
        kind: one of :data:`KINDS`.
        backend: the backend's index, or ``None``.
        detail: a human sentence: why it happened.
    """

    t: float
    kind: str
    backend: int | None = None
    detail: str = ""

    def to_dict(self) -> dict:
        return {"t": self.t, "kind": self.kind, "backend": self.backend, "detail": self.detail}

    @classmethod
    def from_dict(cls, data: dict) -> Event:
        return cls(float(data["t"]), str(data["kind"]), data.get("backend"), data.get("detail", ""))

    def shifted(self, t0: float) -> Event:
        """The same event with ``t0`` subtracted from its time."""
        return Event(self.t - t0, self.kind, self.backend, self.detail)

    def __str__(self) -> str:
        who = "" if self.backend is None else f" b{self.backend}"
        return f"{self.t:8.3f} s  {self.kind:<10}{who}  {self.detail}".rstrip()
