"""Exercise 06: failover -- the health-check state machine and the retry decision.

Write the bodies of the functions below (replace each ``raise NotImplementedError``). Check your
work with ``check("ex06")`` in lesson 06, or ``make grade EX=ex06`` in a terminal. Use only the
standard library.

Vocabulary: a *check* is one ``GET /health`` the balancer sends to a backend; it passes
(``True``) or fails (``False``). A backend is ``"UP"`` (it may receive traffic) or ``"DOWN"``.
Backends are numbered ``0 .. n-1``.
"""

IDEMPOTENT = {"GET", "HEAD", "PUT", "DELETE", "OPTIONS"}


def check_states(results, rise, fall):
    """The state after each check, for a backend that starts UP (HAProxy's rise and fall).

    An UP backend goes DOWN after ``fall`` failed checks *in a row*; a DOWN backend comes back
    UP after ``rise`` passed checks *in a row*. A pass while UP, or a failure while DOWN,
    starts the count again from zero.

    ``check_states([False, True, False, False, True, True], rise=2, fall=2)`` is
    ``["UP", "UP", "UP", "DOWN", "DOWN", "UP"]``: the first failure is forgiven by the pass
    that follows it.

    Args:
        results: the checks' outcomes in order, a list of booleans (True = passed).
        rise: passed checks in a row that bring a DOWN backend UP, at least 1.
        fall: failed checks in a row that take an UP backend DOWN, at least 1.

    Returns:
        A list of ``"UP"`` / ``"DOWN"``, one per check: the state right after it.
    """
    ### BEGIN SOLUTION
    state, streak, out = "UP", 0, []
    for ok in results:
        if state == "UP":
            streak = 0 if ok else streak + 1
            if streak == fall:
                state, streak = "DOWN", 0
        else:
            streak = streak + 1 if ok else 0
            if streak == rise:
                state, streak = "UP", 0
        out.append(state)
    return out
    ### END SOLUTION


def may_retry(method, reached, status, attempts, retries):
    """Whether a failed request may be sent again, to another backend.

    A request failed if it got no answer (``status`` is None: refused, reset, timed out) or
    an answer of 500 or more. A 4xx answer is the client's mistake and is never retried, nor
    is a success. A failed request may be retried only while fewer than ``retries`` retries
    have been made (``attempts`` counts the first try too), and only when sending it twice is
    harmless:

    - it never reached a backend (``reached`` is False: the connection was refused) -- then any
      method may be retried, even a POST, since nothing was sent;
    - or its method is idempotent (``IDEMPOTENT``: doing it twice is the same as once).

    A POST that reached a backend is never retried: it may have charged a card already.

    Args:
        method: the HTTP method, upper case, e.g. ``"GET"``.
        reached: whether the failed attempt reached the backend.
        status: the HTTP status of the failed attempt, or None when no answer came.
        attempts: attempts made so far for this request, at least 1.
        retries: the most retries allowed after the first attempt, at least 0.
    """
    ### BEGIN SOLUTION
    failed = status is None or status >= 500
    if not failed or attempts > retries:
        return False
    return not reached or method in IDEMPOTENT
    ### END SOLUTION


def retry_backend(in_rotation, tried, start):
    """The backend a retry goes to, or None when there is none.

    Look at the backends in round-robin order from ``start``: ``start``, ``start + 1``, ...,
    ``n - 1``, ``0``, ..., ``start - 1``, and return the first that is in rotation and has not
    been tried yet for this request. A request never goes twice to the same backend, and never
    to one out of rotation.

    ``retry_backend([True, False, True, True], tried=[2], start=2)`` is 3.

    Args:
        in_rotation: one boolean per backend: may it receive traffic now?
        tried: the backends this request already went to.
        start: where the round-robin pointer is, ``0 <= start < n``.
    """
    ### BEGIN SOLUTION
    n = len(in_rotation)
    for k in range(n):
        i = (start + k) % n
        if in_rotation[i] and i not in tried:
            return i
    return None
    ### END SOLUTION
