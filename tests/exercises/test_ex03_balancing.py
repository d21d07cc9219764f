"""Grader for exercise 03 (round robin, smooth weighted round robin, least connections, power of two)."""

import math
from itertools import islice

import numpy as np

EXERCISE = "ex03_balancing"


def take(iterator, n):
    return list(islice(iterator, n))


def test_round_robin(ex):
    got = take(ex.round_robin(3), 7)
    assert got == [0, 1, 2, 0, 1, 2, 0], (
        f"round_robin(3) should start 0, 1, 2, 0, 1, 2, 0, got {got}: round robin is a fixed "
        "rotation, not a random draw, so every server gets its turn once per round"
    )
    got = take(ex.round_robin(1), 4)
    assert got == [0, 0, 0, 0], f"with one server every request goes to server 0, got {got}"
    stream = ex.round_robin(5)
    for window in range(100):
        turn = take(stream, 5)
        assert sorted(turn) == [0, 1, 2, 3, 4], (
            f"round {window}: 5 requests to 5 servers should reach each server once, got {turn}"
        )


def test_smooth_weighted_round_robin(ex):
    got = "".join(take(ex.smooth_weighted_round_robin({"a": 5, "b": 1, "c": 1}), 14))
    hint = (
        "five a's in a row is plain weighted round robin, which nginx replaced"
        if "aaaaa" in got
        else "add each weight to its score, pick the highest score (first on a tie), then "
        "take the total of the weights (7) off the winner's score"
    )
    assert got == "aabacaa" * 2, (
        f"weights a=5, b=1, c=1 should give a a b a c a a, twice, got {' '.join(got)}: {hint}"
    )
    got = take(ex.smooth_weighted_round_robin({"x": 1, "y": 1}), 4)
    assert got == ["x", "y", "x", "y"], (
        f"equal weights x=1, y=1 should alternate x, y, x, y, got {got}: on a tie the name that "
        "comes first wins"
    )
    weights = {"p": 3, "q": 2, "r": 4}
    stream = ex.smooth_weighted_round_robin(weights)
    for cycle in range(3):
        picks = take(stream, 9)
        counts = {name: picks.count(name) for name in weights}
        assert counts == weights, (
            f"every 9 picks with weights {weights} should hold each name as many times as its "
            f"weight, got {counts} in cycle {cycle}"
        )


def test_least_connections(ex):
    cases = [([3, 1, 2, 5], 1), ([0, 4, 2], 0), ([5, 5, 0], 2), ([9, 2, 7, 4], 1), ([6], 0)]
    for active, want in cases:
        got = ex.least_connections(active)
        assert got == want, (
            f"least_connections({active}) should be {want}, got {got!r}: send the request to the "
            "server with the fewest requests in flight (a rule that favours busy servers only "
            "makes them busier)"
        )
    for active, want in [([2, 1, 1], 1), ([0, 0, 0], 0), ([4, 3, 5, 3], 1)]:
        got = ex.least_connections(active)
        assert got == want, (
            f"least_connections({active}) should be {want} (ties: lowest number), got {got!r}"
        )


def test_power_of_two(ex):
    seed = 2024
    rng = np.random.default_rng(seed)
    active = [5, 7, 6, 8]  # every load is above every server number
    picks = [ex.power_of_two(active, rng) for _ in range(50)]
    loads = sorted({int(p) for p in picks if isinstance(p, (int, np.integer)) and p in active})
    assert not loads, (
        f"power_of_two({active}) returned {loads}: those are loads, not server numbers "
        "(0..3). rng.choice(active, ...) draws loads; draw server numbers, "
        "rng.choice(len(active), size=2, replace=False), and return the number"
    )
    active = [1, 1, 9, 1, 1]
    picks = [ex.power_of_two(active, rng) for _ in range(2000)]
    assert all(isinstance(p, (int, np.integer)) and 0 <= p < 5 for p in picks), (
        f"power_of_two should return a server number 0..4, got {sorted(set(map(repr, picks)))[:5]}"
    )
    assert 2 not in picks, (
        f"power_of_two({active}) sent {picks.count(2)} of 2000 requests to server 2, the busiest "
        f"(seed {seed}): draw two DIFFERENT servers and keep the one with FEWER requests in "
        "flight; then the busiest can never win"
    )
    # Three servers, one idle: two different servers include it 2 times in 3.
    rng = np.random.default_rng(seed)
    trials = 3000
    share = sum(ex.power_of_two([0, 4, 4], rng) == 0 for _ in range(trials)) / trials
    sd = math.sqrt(2 / 3 * 1 / 3 / trials)
    assert abs(share - 2 / 3) < 5 * sd, (
        f"with active [0, 4, 4] the idle server should win 2/3 of the time (two DIFFERENT "
        f"servers drawn include it 2 times in 3), got {share:.3f} (seed {seed}); drawing with "
        "replacement gives 5/9. Mitzenmacher's analysis draws with replacement, but this "
        "exercise asks for two different servers: rng.choice(n, size=2, replace=False)"
    )
    picks = {ex.power_of_two([0, 0, 0, 0], np.random.default_rng(s)) for s in range(200)}
    assert picks == {0, 1, 2, 3}, (
        f"with equal loads every server should sometimes be chosen, got only {sorted(picks)}: "
        "draw the two servers at random with rng"
    )
    rng_one, rng_two = np.random.default_rng(7), np.random.default_rng(7)
    one = [ex.power_of_two([0] * 10, rng_one) for _ in range(20)]
    two = [ex.power_of_two([0] * 10, rng_two) for _ in range(20)]
    assert one == two, (
        "the same rng seed should give the same choice: draw with the rng you are given, "
        f"not the random module (got {one} and {two})"
    )


def test_power_of_two_ties_go_to_the_first_drawn(ex):
    """On a tie the first server drawn wins. Which one was drawn first is seen only when the
    learner draws as the text suggests, rng.choice(n, size=2, replace=False): the pair that
    comes back with loads that rise (the lower number wins) and fall (the higher wins) must
    then be that draw. Another way of drawing leaves the order unknown, and this check says
    nothing about it."""
    n, seeds = 6, range(40)
    rising, falling, level = list(range(n)), list(range(n, 0, -1)), [3] * n
    firsts, seconds, ties = [], [], []
    for seed in seeds:
        drawn = np.random.default_rng(seed).choice(n, size=2, replace=False)
        first, second = int(drawn[0]), int(drawn[1])
        low = ex.power_of_two(rising, np.random.default_rng(seed))
        high = ex.power_of_two(falling, np.random.default_rng(seed))
        if (low, high) != (min(first, second), max(first, second)):
            return  # drawn some other way: which server came first is not known here
        firsts.append(first)
        seconds.append(second)
        ties.append(ex.power_of_two(level, np.random.default_rng(seed)))
    wrong = [s for s, (t, f) in zip(seeds, zip(ties, firsts)) if t != f]
    to_second = sum(t == s for t, s in zip(ties, seconds))
    assert not wrong, (
        f"with equal loads {level} and seed {wrong[0]}, rng.choice({n}, size=2, replace=False) "
        f"draws {firsts[wrong[0]]} then {seconds[wrong[0]]}, and power_of_two returned "
        f"{ties[wrong[0]]}"
        + (
            f" (the second one drawn, for {to_second} of {len(ties)} seeds): on a tie keep the "
            "FIRST one drawn, so compare with a strict <"
            if to_second
            else ": on a tie keep the first one drawn"
        )
    )
