"""Exercise 02: redundancy — series, parallel, k-of-n and a shared part.

Write the bodies of the functions below (replace each ``raise NotImplementedError``). Check your
work with ``check("ex02")`` in lesson 02, or ``make grade EX=ex02`` in a terminal. Use only the
standard library (``math.prod`` and ``math.comb`` help).

Every availability is a float in [0, 1]; parts fail and are repaired independently unless the
docstring says otherwise.
"""

import math


def series(*a):
    """Availability of parts in series: the service needs every one of them up.

    ``series(0.99, 0.99)`` is 0.9801.
    """
    raise NotImplementedError("series: your code here")


def parallel(*a):
    """Availability of redundant parts: the service is up while at least one part is up.

    ``parallel(0.99, 0.99)`` is 0.9999.
    """
    raise NotImplementedError("parallel: your code here")


def k_of_n(k, n, a):
    """Availability of n identical parts, each up with probability ``a``, when k must be up.

    Args:
        k: how many parts the service needs, 1 <= k <= n.
        n: how many parts there are.
        a: availability of each part.
    """
    raise NotImplementedError("k_of_n: your code here")


def shared_rack(a_replica, a_rack, n=2):
    """Availability of n replicas that all sit in one rack.

    Each replica is up with probability ``a_replica`` on its own; the rack (its power, its
    switch) is up with probability ``a_rack``, and when the rack is down, every replica is.

    Args:
        a_replica: availability of one replica, counting only its own failures.
        a_rack: availability of the rack they share.
        n: how many replicas.
    """
    raise NotImplementedError("shared_rack: your code here")
