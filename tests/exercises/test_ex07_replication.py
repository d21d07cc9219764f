"""Grader for exercise 07 (quorum read, read-your-writes, writes lost on promotion)."""

import itertools

EXERCISE = "ex07_replication"


def test_quorum_read(ex):
    got = ex.quorum_read([(3, "blue"), (5, "green"), (4, "red")])
    assert tuple(got) == (5, "green"), (
        f"replies versions 3, 5, 4 should give (5, 'green'), got {got!r}: a quorum read keeps "
        "the reply with the highest version, whatever order the replies came in"
    )
    got = ex.quorum_read([(7, "new"), (2, "old")])
    assert tuple(got) == (7, "new"), (
        f"replies [(7, 'new'), (2, 'old')] should give (7, 'new'), got {got!r}: the newest "
        "version wins even when it arrived first"
    )
    got = ex.quorum_read([(2, "old"), (2, "old"), (9, "slow but new")])
    assert tuple(got) == (9, "slow but new"), (
        f"the newest version may come from the slowest replica; expected (9, 'slow but new'), "
        f"got {got!r}: do not stop at the first reply"
    )
    got = ex.quorum_read([(4, "first"), (4, "second")])
    assert tuple(got) == (4, "first"), f"on a tie keep the first reply, got {got!r}"
    got = ex.quorum_read([(1, "only")])
    assert tuple(got) == (1, "only"), f"one reply is its own answer, got {got!r}"


def test_read_your_writes(ex):
    cases = [((3, 2, 2), True), ((3, 1, 1), False), ((3, 1, 3), True), ((3, 3, 1), True)]
    for (n, r, w), want in cases:
        got = ex.read_your_writes(n, r, w)
        assert got is want, (
            f"read_your_writes(n={n}, r={r}, w={w}) should be {want}, got {got!r}: a read meets "
            "the newest write for sure only if r + w > n"
        )
    got = ex.read_your_writes(4, 2, 2)
    assert got is False, (
        f"read_your_writes(4, 2, 2) should be False, got {got!r}: with 4 replicas the write may "
        "land on replicas 1 and 2 and the read ask 3 and 4; r + w = n is not enough, it must "
        "be r + w > n"
    )
    got = ex.read_your_writes(6, 3, 3)
    assert got is False, f"read_your_writes(6, 3, 3) should be False (3 + 3 = 6), got {got!r}"
    for n in range(1, 6):
        for r, w in itertools.product(range(1, n + 1), repeat=2):
            meet = all(
                set(a) & set(b)
                for a in itertools.combinations(range(n), r)
                for b in itertools.combinations(range(n), w)
            )
            got = ex.read_your_writes(n, r, w)
            assert got == meet, (
                f"read_your_writes(n={n}, r={r}, w={w}) should be {meet}, got {got!r}"
            )


def test_writes_lost(ex):
    got = ex.writes_lost([1.0, 1.96, 1.97, 2.0], 2.0, 0.05)
    assert got == 3, (
        f"writes acknowledged at 1.96, 1.97 and 2.0 s had not been shipped by a crash at 2.0 s "
        f"with a 50 ms lag: expected 3, got {got!r}. A write acknowledged at a is shipped at "
        "a + lag; it is lost if that is after the crash"
    )
    got = ex.writes_lost([1.0, 1.94, 1.99], 2.0, 0.0)
    assert got == 0, f"with no lag every write is shipped at once: expected 0, got {got!r}"
    got = ex.writes_lost([0.5, 1.1, 1.5, 1.8, 2.5, 3.0], 2.0, 1.0)
    assert got == 3, (
        f"acks at 1.1, 1.5 and 1.8 s are within the 1 s lag before a crash at 2.0 s: expected 3, "
        f"got {got!r}; the acks at 2.5 and 3.0 s came after the crash, from another primary"
    )
    got = ex.writes_lost([1.99, 1.5, 1.2], 2.0, 0.1)
    assert got == 1, f"ack times may come in any order: expected 1, got {got!r}"
    got = ex.writes_lost([], 2.0, 0.1)
    assert got == 0, f"no writes, nothing lost: expected 0, got {got!r}"
