"""Exercise 03: load balancing — four ways to pick a server.

Write the bodies of the functions below (replace each ``raise NotImplementedError``). Check your
work with ``check("ex03")`` in lesson 03, or ``make grade EX=ex03`` in a terminal. Use only the
standard library and, where one is given, the random generator ``rng``.

Servers are numbered ``0 .. n-1``. ``active[i]`` is how many requests server ``i`` has in
flight right now (waiting or being served).
"""


def round_robin(servers):
    """An endless iterator of server numbers, in turn: 0, 1, ..., servers-1, 0, 1, ...

    ``list(itertools.islice(round_robin(3), 7))`` is ``[0, 1, 2, 0, 1, 2, 0]``.

    Args:
        servers: how many servers, at least 1.
    """
    raise NotImplementedError("round_robin: your code here")


def smooth_weighted_round_robin(weights):
    """nginx's smooth weighted round robin: an endless iterator of server names.

    Every name keeps a score, 0 at the start. For each request: add each name's weight to its
    score; pick the name with the highest score (on a tie, the one that comes first in
    ``weights``); subtract the total of all weights from the winner's score.

    ``{"a": 5, "b": 1, "c": 1}`` gives a a b a c a a, then the same again: every 7 picks,
    a five times, b and c once each, and the a's spread out instead of coming in a run.

    Args:
        weights: a dict from name to a positive whole number.
    """
    raise NotImplementedError("smooth_weighted_round_robin: your code here")


def least_connections(active):
    """The server with the fewest requests in flight; on a tie, the lowest number.

    ``least_connections([3, 1, 2, 1])`` is 1.

    Args:
        active: requests in flight per server, a list of whole numbers.
    """
    raise NotImplementedError("least_connections: your code here")


def power_of_two(active, rng):
    """The power of two choices: draw two different servers at random, keep the less loaded.

    Draw the two servers uniformly at random with ``rng`` (a ``numpy.random.Generator``;
    ``rng.choice(n, size=2, replace=False)`` gives two different numbers below ``n``), and
    return the one with fewer requests in flight (the first one drawn on a tie).

    Args:
        active: requests in flight per server, at least two servers.
        rng: the random generator to draw with (never the global ``random`` module).
    """
    raise NotImplementedError("power_of_two: your code here")
