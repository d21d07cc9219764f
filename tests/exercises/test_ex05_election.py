"""Grader for exercise 05 (Raft's vote, ZooKeeper's vote order, the Bully outcome).

Each rule is checked on worked examples taken from the Raft paper's figure 2 and section
5.4.1, ``FastLeaderElection.totalOrderPredicate`` and the Bully algorithm's definition, and
then plugged into the simulated clusters of ``halab.election`` (``tests/test_election.py``
checks those against the dissertation's closed forms), whose traces must never show two
leaders in one term.
"""

from halab.election import (
    RequestVote,
    SplitBrainError,
    Voter,
    ZabVote,
    check_safety,
    make_zxid,
    simulate_election,
)

EXERCISE = "ex05_election"


def call(fn, *args, hint=""):
    """Run the learner's function; an error other than NotImplementedError becomes a message."""
    try:
        return fn(*args)
    except NotImplementedError:
        raise
    except Exception as error:  # noqa: BLE001 - any crash is reported as a failed check
        raise AssertionError(
            f"{fn.__name__}{args} raised {type(error).__name__}: {error}. {hint}"
        ) from None


def run(algorithm, **kwargs):
    """A simulation with the learner's rule; their exceptions become messages."""
    try:
        return simulate_election(algorithm, **kwargs)
    except NotImplementedError:
        raise
    except Exception as error:  # noqa: BLE001
        raise AssertionError(
            f"the {algorithm} cluster crashed with your rule: {type(error).__name__}: {error}"
        ) from None


def test_log_up_to_date(ex):
    f = ex.log_up_to_date
    cases = [
        ((3, 1, 2, 9), True, "a last entry from a later term wins however short the log"),
        ((2, 9, 3, 1), False, "a log ending in an older term is behind however long it is"),
        ((2, 5, 2, 4), True, "same last term: the longer log wins"),
        ((2, 4, 2, 5), False, "same last term: the shorter log is behind"),
        ((2, 5, 2, 5), True, "equal logs are at least as up-to-date"),
        ((0, 0, 0, 0), True, "two empty logs are equal"),
    ]
    for args, want, why in cases:
        got = call(f, *args)
        assert got == want, (
            f"log_up_to_date(candidate=({args[0]}, {args[1]}), voter=({args[2]}, {args[3]})) "
            f"should be {want}: {why}; got {got!r}"
        )


def _vote(ex, voter, term, candidate, last=(0, 0)):
    request = RequestVote(term, candidate, *last)
    got = call(ex.handle_request_vote, voter, request)
    assert isinstance(got, tuple) and len(got) == 2 and isinstance(got[0], Voter), (
        f"handle_request_vote must return (Voter, bool); got {got!r}"
    )
    return got


def test_vote_rule(ex):
    fresh = Voter(term=1, voted_for=None, last_log_term=1, last_log_index=3)
    v, granted = _vote(ex, fresh, 2, "s2", (1, 3))
    assert granted and v.voted_for == "s2" and v.term == 2, (
        f"a follower in term 1 that has not voted, asked by s2 for term 2 with an equal log, "
        f"should adopt term 2 and vote for s2; got {(v, granted)!r}"
    )
    v2, again = _vote(ex, v, 2, "s2", (1, 3))
    assert again and v2.voted_for == "s2", (
        "a retried request from the candidate it already voted for gets the vote again "
        f"(votedFor is null or candidateId); got {(v2, again)!r}"
    )
    v3, other = _vote(ex, v, 2, "s3", (1, 9))
    assert not other and v3.voted_for == "s2", (
        "it already voted for s2 in term 2, so s3's request for term 2 must be refused, even "
        "with a longer log: one vote per term is what makes two leaders of one term "
        f"impossible; got {(v3, other)!r}"
    )
    stale = Voter(term=5, voted_for=None, last_log_term=1, last_log_index=1)
    v4, old = _vote(ex, stale, 4, "s2", (4, 9))
    assert not old and v4.term == 5 and v4.voted_for is None, (
        f"a request from term 4 reaching a server in term 5 is stale: refuse it and change "
        f"nothing; got {(v4, old)!r}"
    )
    behind = Voter(term=2, voted_for=None, last_log_term=2, last_log_index=6)
    v5, short = _vote(ex, behind, 3, "s4", (2, 5))
    assert not short and v5.term == 3 and v5.voted_for is None, (
        "a candidate whose log is behind the voter's (2, 5) < (2, 6) must not get the vote, "
        f"though the voter still adopts its newer term 3; got {(v5, short)!r}"
    )


def test_stepping_down_on_a_higher_term(ex):
    for role in ("leader", "candidate"):
        voter = Voter(term=3, voted_for="s1", last_log_term=3, last_log_index=7, role=role)
        v, granted = _vote(ex, voter, 4, "s2", (3, 7))
        assert v.role == "follower" and v.term == 4, (
            f"a {role} of term 3 that sees a request for term 4 must adopt term 4 and step down "
            f"to follower (figure 2: 'If RPC request or response contains term T > "
            f"currentTerm: set currentTerm = T, convert to follower'); got {v!r}"
        )
        assert granted and v.voted_for == "s2", (
            f"after stepping down it has no vote in term 4 yet, so s2 gets it; got {(v, granted)}"
        )
        v, granted = _vote(ex, voter, 9, "s3", (2, 50))
        assert v.role == "follower" and v.term == 9, (
            f"even when it refuses the vote (the candidate's log is behind), a {role} must adopt "
            f"the higher term and step down; got {v!r}"
        )
        assert not granted and v.voted_for is None, (
            f"s3's log ends in term 2, behind the voter's last entry from term 3, however long "
            f"it is (50 entries): no vote; got {(v, granted)!r}"
        )


def test_vote_rule_in_a_cluster(ex):
    for kwargs in ({"timeout": (0.150, 0.155)}, {"loss": 0.2}):
        for seed in range(4):
            r = run("raft", seed=seed, duration=3.0, vote_rule=ex.handle_request_vote, **kwargs)
            try:
                check_safety(r)
            except SplitBrainError as err:
                raise AssertionError(
                    f"with your handle_request_vote a simulated Raft cluster (seed {seed}, "
                    f"{kwargs}) elected two leaders in one term: {err}"
                ) from None
            assert r.reigns, (
                f"with your handle_request_vote no leader was ever elected in 3 s (seed {seed}, "
                f"{kwargs}): a candidate with an up-to-date log must get the votes it asks for"
            )


def test_zab_vote_order(ex):
    f = ex.zab_vote_wins
    cases = [
        ((2, 0, 1), (1, make_zxid(1, 99), 9), True, "a higher epoch wins whatever its zxid and id"),
        (
            (1, make_zxid(1, 5), 1),
            (1, make_zxid(1, 4), 9),
            True,
            "same epoch: the higher zxid wins even from a lower server id",
        ),
        (
            (1, make_zxid(1, 4), 9),
            (1, make_zxid(1, 5), 1),
            False,
            "same epoch: a lower zxid loses even with a higher server id",
        ),
        ((1, 7, 3), (1, 7, 2), True, "same epoch and zxid: the higher server id wins"),
        ((1, 7, 2), (1, 7, 3), False, "same epoch and zxid: the lower server id loses"),
        ((1, 7, 2), (1, 7, 2), False, "a vote does not beat itself"),
        ((1, make_zxid(1, 9), 1), (2, 0, 1), False, "an older epoch loses whatever its zxid"),
    ]
    for new, current, want, why in cases:
        got = call(f, ZabVote(*new), ZabVote(*current))
        assert bool(got) == want, (
            f"zab_vote_wins(new={new}, current={current}) should be {want}: {why}; got {got!r}"
        )
    logs = [(1, 4), (1, 9), (1, 4), (1, 4), (1, 8)]
    r = run("zab", logs=logs, seed=0, duration=2.0, vote_order=f)
    assert r.leader == "s2", (
        f"servers with last zxids (epoch 1, counters {[c for _, c in logs]}) elected "
        f"{r.leader} with your order; s2 holds the most history and must lead, or the writes "
        f"only it has are lost"
    )


def test_bully_outcome(ex):
    f = ex.bully_outcome
    got = call(f, [1, 2, 4])
    assert got == {1: 4, 2: 4, 4: 4}, (
        f"with 1, 2 and 4 alive and no partition everyone follows 4; got {got!r}"
    )
    got = call(f, [1, 2, 3, 5], [[1, 5], [2, 3, 4]])
    want = {1: 5, 5: 5, 2: 3, 3: 3}
    assert got == want, (
        f"cut into {{1, 5}} and {{2, 3, 4}} with 4 down, each side follows its own highest "
        f"live id: expected {want}, got {got!r} (Bully has no quorum: both sides lead)"
    )
    got = call(f, [])
    assert got == {}, f"nobody alive: expected {{}}, got {got!r}"
    # the simulated Bully cluster: s5 crashes, then s1 and s2 are cut off from s3 and s4
    r = run(
        "bully",
        seed=1,
        duration=4.0,
        faults=[(1.0, "crash", "s5"), (2.0, "partition", ["s1", "s2"], ["s3", "s4", "s5"])],
    )
    simulated = {int(n[1:]): int(v[0][1:]) for n, v in r.followers().items() if v}
    got = call(f, [1, 2, 3, 4], [[1, 2], [3, 4, 5]])
    assert got == simulated, (
        f"the simulated Bully cluster ended with {simulated} (node: coordinator); your "
        f"bully_outcome([1, 2, 3, 4], [[1, 2], [3, 4, 5]]) gives {got!r}"
    )
