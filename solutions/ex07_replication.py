"""Exercise 07: quorum reads, read-your-writes, and the writes a failover loses.

Write the bodies of the functions below (replace each ``raise NotImplementedError``). Check your
work with ``check("ex07")`` in lesson 07, or ``make grade EX=ex07`` in a terminal. Use only the
standard library.

Vocabulary: *N* replicas hold each value; a write waits for *W* of them to acknowledge, a read
for *R* of them to reply. Every write carries a *version* (an integer that grows with each
write), so a reader can tell the newest reply. An *asynchronous* primary acknowledges a write at
once and ships it to its backup ``lag`` seconds later.
"""


def quorum_read(replies):
    """The answer of a quorum read: the reply that carries the newest version.

    Args:
        replies: a non-empty list of ``(version, value)`` pairs, one per replica that answered,
            in the order they arrived.

    Returns:
        The ``(version, value)`` pair with the highest version; on a tie, the one that arrived
        first. ``quorum_read([(3, "blue"), (5, "green"), (4, "red")])`` is ``(5, "green")``.
    """
    ### BEGIN SOLUTION
    best = replies[0]
    for reply in replies[1:]:
        if reply[0] > best[0]:
            best = reply
    return best
    ### END SOLUTION


def read_your_writes(n, r, w):
    """Whether every read is sure to see the newest completed write.

    True when any R replicas and any W replicas must share at least one replica, whichever
    replicas answer.

    Args:
        n: replicas, an integer >= 1.
        r: replies a read waits for, 1 <= r <= n.
        w: acknowledgements a write waits for, 1 <= w <= n.

    Returns:
        ``True`` or ``False``. ``read_your_writes(3, 2, 2)`` is ``True``.
    """
    ### BEGIN SOLUTION
    return r + w > n
    ### END SOLUTION


def writes_lost(ack_times, crash_time, lag):
    """How many acknowledged writes a backup lacks when it is promoted after a crash.

    The primary acknowledged each write at a time in ``ack_times`` and shipped it ``lag``
    seconds later; it crashed at ``crash_time`` and shipped nothing after that. A write is lost
    if it was acknowledged (at or before the crash) but not yet shipped at the crash.

    Args:
        ack_times: acknowledgement times, seconds (a list of floats, in any order; times after
            the crash belong to another primary and do not count).
        crash_time: when the primary crashed, seconds.
        lag: the replication lag, seconds, >= 0.

    Returns:
        The number of lost writes, an ``int``.
        ``writes_lost([1.0, 1.96, 1.97, 2.0], crash_time=2.0, lag=0.05)`` is 3.
    """
    ### BEGIN SOLUTION
    return sum(1 for a in ack_times if a <= crash_time < a + lag)
    ### END SOLUTION
