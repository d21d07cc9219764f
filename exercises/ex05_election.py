"""Exercise 05: the rules at the heart of leader election.

Write the bodies of the functions below (replace each ``raise NotImplementedError``). Check your
work with ``check("ex05")`` in lesson 05, or ``make grade EX=ex05`` in a terminal. The grader
also plugs your rules into the simulated clusters of ``halab.election`` and checks that they
never elect two leaders in one term.

Vocabulary: a Raft server has a *term* (an ``int`` that only grows), the candidate it *voted
for* in that term (a name such as ``"s2"``, or ``None``) and a log whose last entry has a
*last log term* and a *last log index*. A :class:`halab.election.Voter` holds these and the
server's *role* (``"follower"``, ``"candidate"`` or ``"leader"``); a
:class:`halab.election.RequestVote` is a candidate's ballot request (``term``, ``candidate``,
``last_log_term``, ``last_log_index``). Both are frozen dataclasses: make a changed copy with
``replace(voter, term=5)``. A ZooKeeper vote is a :class:`halab.election.ZabVote`
``(epoch, zxid, server)``. Bully processes are numbered; the highest live one should lead.
"""

from dataclasses import replace


def log_up_to_date(last_log_term, last_log_index, my_last_log_term, my_last_log_index):
    """Whether a candidate's log is at least as up-to-date as the voter's (Raft, section 5.4.1).

    Compare the last entries: if their terms differ, the log whose last entry has the later
    term is more up-to-date, however short it is; if the terms are equal, the longer log (the
    larger last index) is. Equal logs count as up-to-date. Examples: a candidate ending at
    (term 3, index 1) beats a voter ending at (2, 9); (2, 5) beats (2, 4); (2, 5) vs (2, 5): True.

    Args:
        last_log_term, last_log_index: the candidate's last entry.
        my_last_log_term, my_last_log_index: the voter's last entry.
    """
    raise NotImplementedError("log_up_to_date: your code here")


def handle_request_vote(voter, request):
    """Raft's RequestVote receiver: the voter's new state, and whether it grants its vote.

    From figure 2 of the Raft paper, in this order:

    1. If ``request.term`` is larger than ``voter.term``, the voter first adopts that term,
       forgets its vote (``voted_for=None``) and becomes a follower, whatever it was.
    2. A request from an older term (``request.term < voter.term``) is refused.
    3. The vote is granted only if the voter has not voted in this term, or voted for this same
       candidate already (a retried request), and the candidate's log is at least as
       up-to-date as the voter's (use :func:`log_up_to_date`). Granting records the vote.

    Example: ``Voter(term=3, voted_for="s1", last_log_term=3, last_log_index=7, role="leader")``
    receiving ``RequestVote(term=4, candidate="s2", last_log_term=3, last_log_index=7)`` returns
    ``(Voter(4, "s2", 3, 7, "follower"), True)``.

    Args:
        voter: a :class:`halab.election.Voter`.
        request: a :class:`halab.election.RequestVote`.

    Returns:
        ``(new_voter, granted)``: the updated Voter and a bool.
    """
    raise NotImplementedError("handle_request_vote: your code here")


def zab_vote_wins(new, current):
    """Whether ZooKeeper vote ``new`` beats vote ``current`` (``totalOrderPredicate``).

    A vote names a server and what it knows: ``epoch`` (the last epoch it followed), ``zxid``
    (its last transaction id) and ``server`` (its id). The higher epoch wins; with equal epochs
    the higher zxid wins (the server with more history must lead, or acknowledged writes are
    lost); only with equal zxids does the higher server id win. A vote does not beat itself.
    Example: ``ZabVote(1, 700, 2)`` beats ``ZabVote(1, 500, 9)``.

    Args:
        new, current: :class:`halab.election.ZabVote` tuples ``(epoch, zxid, server)``.
    """
    raise NotImplementedError("zab_vote_wins: your code here")


def bully_outcome(alive, groups=None):
    """The coordinator each live process ends up with under the Bully algorithm.

    Every live process follows the highest live id it can reach. With ``groups=None`` the
    network is whole. Otherwise ``groups`` lists the sides of a partition (each an iterable of
    ids); a process reaches only its own side, so each side gets its own coordinator. Every
    live id appears in exactly one group (you need not check). Example:
    ``bully_outcome([1, 2, 3, 5], groups=[[1, 5], [2, 3, 4]])`` is ``{1: 5, 5: 5, 2: 3, 3: 3}``.

    Args:
        alive: the ids (ints) of the live processes.
        groups: None, or the sides of a partition.

    Returns:
        A dict from each live id to its coordinator's id (``{}`` if nobody is alive).
    """
    raise NotImplementedError("bully_outcome: your code here")
