"""Who runs an attempt that the balancer may give up on: the backend, or nobody.

A balancer that times out on a GET and retries it on another backend can run it twice: the
first backend may start it just before the balancer gives up. HTTP allows that for idempotent
methods (RFC 9110 §9.2.2), and production proxies do it: nginx's ``proxy_next_upstream timeout``
and HAProxy's ``retry-on response-timeout`` resend a request that may already have run.
halab's live cluster promises more, so that a lesson can count executions and find none twice.

Each attempt that could be given up on is settled by one atomic file creation
(``open(O_CREAT | O_EXCL)``) in the cluster's private directory, named after the request id and
the attempt's number. A backend claims the attempt before running it; the balancer claims it
before giving up on it. Whoever creates the file first wins, and the other backs off: the
backend answers 503 without running the request, or the balancer waits for the answer instead
of retrying elsewhere. This is the idempotency key of a payment API (one unique row per key in
a shared store, as Stripe documents for its ``Idempotency-Key`` header), with the file system
as the store.

A retry (attempt 2 or later) also reads the backends' ledgers
(:class:`halab.live.backend.BackendServer`) before it runs: a backend killed after running an
attempt and before answering leaves its line there, and the retry is answered without running
the request again (:func:`ran_before`), as a second request with a used idempotency key is.

A backend claims when the request waited (a ``slow`` or ``hang`` fault) or arrived more than
:data:`CLAIM_AGE_S` after the balancer sent it; a fresh request runs at once, without a file.
What is left open: a backend stalled for longer than the balancer's timeout between reading the
request's age and writing its ledger can still run an attempt that the balancer has given up.
"""

from __future__ import annotations

import hashlib
import os
import time

ATTEMPT_HEADER = "X-Halab-Attempt"  # "<attempt number> <time.monotonic() when sent>"
CLAIM_AGE_S = 0.1  # a request older than this when a backend reads it is claimed first


def attempt_tag(number: int, sent: float | None = None) -> str:
    """The value of :data:`ATTEMPT_HEADER` for attempt ``number`` sent now (or at ``sent``)."""
    return f"{number} {time.monotonic() if sent is None else sent:.6f}"


def is_old(tag: str, age: float = CLAIM_AGE_S) -> bool:
    """Whether the attempt ``tag`` names was sent more than ``age`` seconds ago (a tag that
    does not parse counts as old: it is claimed)."""
    try:
        sent = float(tag.split()[1])
    except (IndexError, ValueError):
        return True
    return time.monotonic() - sent > age


def claim(folder: str, request_id: str, tag: str) -> bool:
    """Claim the attempt: True if this call created its file (the caller wins), False if
    someone had (the caller backs off). The name is a hash, so any request id is safe."""
    number = tag.partition(" ")[0]
    name = hashlib.blake2b(f"{request_id}\n{number}".encode(), digest_size=16).hexdigest()
    try:
        fd = os.open(os.path.join(folder, name), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return False
    os.close(fd)
    return True


def ran_before(ledgers: str, request_id: str) -> bool:
    """Whether a ledger (``*.ids`` in the folder ``ledgers``: one ``pid request-id`` line per
    execution) already names ``request_id``. Read on retries only, which are rare."""
    line = f" {request_id}\n".encode("latin-1", "replace")
    for name in os.listdir(ledgers):
        if name.endswith(".ids"):
            with open(os.path.join(ledgers, name), "rb") as f:
                if line in f.read():
                    return True
    return False


class Claim:
    """The balancer's side of one attempt: :meth:`give_up` claims it once and remembers."""

    __slots__ = ("folder", "request_id", "tag", "_won")

    def __init__(self, folder: str, request_id: str, tag: str) -> None:
        self.folder, self.request_id, self.tag = folder, request_id, tag
        self._won: bool | None = None

    def give_up(self) -> bool:
        """True: the backend will not run this attempt (it may be retried elsewhere); False:
        the backend claimed it first, so it runs or has run (wait for it; never retry)."""
        if self._won is None:
            self._won = claim(self.folder, self.request_id, self.tag)
        return self._won
