"""The retry decision of the failover balancer: which failed requests may go to another backend.

A retry is safe when sending the request twice cannot do harm:

- the request never reached a backend (the connection was refused or timed out while
  connecting): any method may be retried, POST included -- nothing was sent;
- it reached a backend but failed (reset, timeout, a 5xx answer): only an *idempotent* method
  may be retried (RFC 9110, section 9.2.2: PUT, DELETE and the safe methods GET, HEAD,
  OPTIONS, TRACE). A POST that reached a backend may have been executed; sending it again
  could charge a card twice.

HAProxy draws the same line: ``retry-on conn-failure`` is safe for every request, the
response-level conditions (``500``, ``503``, ``response-timeout``, ...) only for idempotent
ones unless forced. A retry goes to a backend not yet tried for this request (HAProxy's
``option redispatch``); the number of retries is bounded, so a request never loops.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from halab.checks import check_instance, check_int
from halab.live.settings import IDEMPOTENT_METHODS


@dataclass(frozen=True)
class Attempt:
    """What happened when one request was sent to one backend.

    Attributes:
        backend: the backend's index.
        status: the HTTP status it answered, or ``None`` if no answer came.
        reached: False only when the connection could not be opened (nothing was sent).
        error: why it failed, for the log and the 502/504 body; ``None`` on an answer.
        latency: seconds from sending to the end of the answer (or the failure).
        ran: True when the backend is known to have claimed the attempt (it ran, or runs:
            :mod:`halab.live.claims`), so that it is never sent anywhere else.
    """

    backend: int
    status: int | None
    reached: bool
    error: str | None = None
    latency: float = 0.0
    ran: bool = False

    @property
    def ok(self) -> bool:
        """An answer below 500: the backend did its job (404 is the client's problem)."""
        return self.status is not None and self.status < 500


def may_retry(
    method: str,
    *,
    reached: bool,
    status: int | None,
    attempts: int,
    retries: int,
    retry_on_5xx: bool = True,
) -> bool:
    """Whether a failed request may be sent to another backend.

    Args:
        method: the HTTP method, e.g. ``"GET"`` (case-insensitive).
        reached: whether the failed attempt reached the backend (False = connect failure).
        status: the status of the failed attempt, ``None`` if it got no answer.
        attempts: attempts made so far for this request (1 after the first).
        retries: the bound: at most ``retries`` attempts after the first.
        retry_on_5xx: whether a 5xx answer to an idempotent request is worth retrying.

    >>> may_retry("POST", reached=False, status=None, attempts=1, retries=2)
    True
    >>> may_retry("POST", reached=True, status=None, attempts=1, retries=2)
    False
    """
    check_instance("method", method, str)
    check_int("attempts", attempts, 1, 1000)
    check_int("retries", retries, 0, 100)
    if status is not None:
        check_int("status", status, 100, 599)
    if status is not None and status < 500:
        return False  # not a failure
    if attempts > retries:
        return False
    if not reached:
        return True
    if method.upper() not in IDEMPOTENT_METHODS:
        return False
    if status is None:
        return True
    return retry_on_5xx


def retry_candidates(routable: Sequence[bool], tried: Sequence[int]) -> list[bool]:
    """The backends a retry may go to: routable ones not tried yet for this request."""
    tried_set = set(tried)
    return [bool(ok) and i not in tried_set for i, ok in enumerate(routable)]
