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
    ### BEGIN SOLUTION
    return math.prod(a)
    ### END SOLUTION


def parallel(*a):
    """Availability of redundant parts: the service is up while at least one part is up.

    ``parallel(0.99, 0.99)`` is 0.9999.
    """
    ### BEGIN SOLUTION
    return 1 - math.prod(1 - x for x in a)
    ### END SOLUTION


def k_of_n(k, n, a):
    """Availability of n identical parts, each up with probability ``a``, when k must be up.

    Args:
        k: how many parts the service needs, 1 <= k <= n.
        n: how many parts there are.
        a: availability of each part.
    """
    ### BEGIN SOLUTION
    return sum(math.comb(n, i) * a**i * (1 - a) ** (n - i) for i in range(k, n + 1))
    ### END SOLUTION


def shared_rack(a_replica, a_rack, n=2):
    """Availability of n replicas that all sit in one rack.

    Each replica is up with probability ``a_replica`` on its own; the rack (its power, its
    switch) is up with probability ``a_rack``, and when the rack is down, every replica is.

    Args:
        a_replica: availability of one replica, counting only its own failures.
        a_rack: availability of the rack they share.
        n: how many replicas.
    """
    ### BEGIN SOLUTION
    return a_rack * (1 - (1 - a_replica) ** n)
    ### END SOLUTION
