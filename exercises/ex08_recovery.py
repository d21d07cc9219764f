"""Exercise 08: the backoff schedule of a supervisor, with a cap and jitter.

Write the bodies of the functions below (replace each ``raise NotImplementedError``). Check your
work with ``check("ex08")`` in lesson 08, or ``make grade EX=ex08`` in a terminal.

Attempts count from 0: attempt 0 is the first retry. Waits are in seconds. The jitter
functions get a ``numpy.random.Generator`` as ``rng``; draw every random number from it
(``rng.uniform(low, high)``, ``rng.random()``), never from the ``random`` module, so the same
seed always gives the same schedule. The jitter variants are those of Marc Brooker's post
"Exponential Backoff And Jitter" on the AWS Architecture Blog (2015).
"""


def backoff_schedule(attempts, base, cap, factor=2.0):
    """The waits before ``attempts`` retries in a row, without jitter: a list of floats.

    The wait before attempt n is ``min(cap, base * factor**n)``. Kubernetes restarts a
    crashing container with base 10 s, factor 2 and cap 300 s:
    ``backoff_schedule(7, 10, 300)`` is ``[10, 20, 40, 80, 160, 300, 300]``.

    Raise ``ValueError`` naming the parameter when ``base <= 0`` ("base must be > 0, got ..."),
    when ``cap < base`` ("cap must be >= base, got ...") or when ``factor < 1``
    ("factor must be >= 1, got ..."). ``attempts`` is a whole number >= 0.
    """
    raise NotImplementedError("backoff_schedule: your code here")


def full_jitter(attempts, base, cap, rng):
    """Backoff with "full jitter": the wait before attempt n is uniform in [0, v_n].

    ``v_n = min(cap, base * 2**n)`` is the wait without jitter. Each wait gets its own random
    draw from ``rng``. Returns a list of ``attempts`` floats.
    """
    raise NotImplementedError("full_jitter: your code here")


def equal_jitter(attempts, base, cap, rng):
    """Backoff with "equal jitter": half of v_n for sure, plus uniform in [0, v_n / 2].

    ``v_n = min(cap, base * 2**n)``. Each wait lies in [v_n / 2, v_n]; each gets its own
    random draw from ``rng``. Returns a list of ``attempts`` floats.
    """
    raise NotImplementedError("equal_jitter: your code here")
