"""Known-wrong answers to exercise 03; the grader must catch each one."""

import random


def round_robin_random(servers):
    chance = random.Random(0)
    while True:
        yield chance.randrange(servers)


def round_robin_from_one(servers):
    while True:
        yield from [*range(1, servers), 0]


def swrr_plain(weights):
    while True:
        for name, weight in weights.items():
            for _ in range(weight):
                yield name


def swrr_ties_to_last(weights):
    score = dict.fromkeys(weights, 0)
    total = sum(weights.values())
    while True:
        for name, weight in weights.items():
            score[name] += weight
        best = max(reversed(score), key=score.get)
        score[best] -= total
        yield best


def swrr_forgets_to_subtract(weights):
    score = dict.fromkeys(weights, 0)
    while True:
        for name, weight in weights.items():
            score[name] += weight
        best = max(score, key=score.get)
        score[best] -= weights[best]
        yield best


def least_connections_proportional(active):
    chance = random.Random(0)
    if sum(active) == 0:
        return chance.randrange(len(active))
    return chance.choices(range(len(active)), weights=active)[0]


def least_connections_busiest(active):
    return max(range(len(active)), key=lambda i: active[i])


def least_connections_ties_to_last(active):
    return min(reversed(range(len(active))), key=lambda i: active[i])


def power_of_two_more_loaded(active, rng):
    first, second = (int(i) for i in rng.choice(len(active), size=2, replace=False))
    return second if active[second] > active[first] else first


def power_of_two_with_replacement(active, rng):
    first, second = (int(i) for i in rng.integers(0, len(active), size=2))
    return second if active[second] < active[first] else first


def power_of_two_ignores_load(active, rng):
    return int(rng.integers(0, len(active)))


def power_of_two_global_random(active, rng):
    first, second = random.sample(range(len(active)), 2)
    return second if active[second] < active[first] else first


def power_of_two_first_two(active, rng):
    return 1 if active[1] < active[0] else 0


def power_of_two_returns_a_load(active, rng):
    # draws two loads, not two servers, and returns the smaller load
    first, second = (int(x) for x in rng.choice(active, size=2, replace=False))
    return second if second < first else first


def power_of_two_ties_to_the_second(active, rng):
    first, second = (int(i) for i in rng.choice(len(active), size=2, replace=False))
    return second if active[second] <= active[first] else first


MUTANTS = {
    "random choice posing as round robin": {"round_robin": round_robin_random},
    "round robin that starts at server 1": {"round_robin": round_robin_from_one},
    "plain weighted round robin (a run of five a's)": {"smooth_weighted_round_robin": swrr_plain},
    "smooth weighted round robin with ties to the last name": {
        "smooth_weighted_round_robin": swrr_ties_to_last
    },
    "smooth weighted round robin that subtracts the weight, not the total": {
        "smooth_weighted_round_robin": swrr_forgets_to_subtract
    },
    "traffic in proportion to connections": {"least_connections": least_connections_proportional},
    "least connections sends to the busiest": {"least_connections": least_connections_busiest},
    "least connections with ties to the highest number": {
        "least_connections": least_connections_ties_to_last
    },
    "power of two keeps the more loaded": {"power_of_two": power_of_two_more_loaded},
    "power of two draws with replacement": {"power_of_two": power_of_two_with_replacement},
    "power of two ignores the load": {"power_of_two": power_of_two_ignores_load},
    "power of two uses the global random module": {"power_of_two": power_of_two_global_random},
    "power of two always compares servers 0 and 1": {"power_of_two": power_of_two_first_two},
    "power of two draws loads and returns a load": {"power_of_two": power_of_two_returns_a_load},
    "power of two breaks ties toward the second draw": {
        "power_of_two": power_of_two_ties_to_the_second
    },
}

# What the grader must say to each of them (a piece of one of its messages).
MESSAGES = {
    "power of two draws loads and returns a load": "those are loads, not server numbers",
    "power of two breaks ties toward the second draw": "on a tie keep the FIRST one drawn",
    "power of two draws with replacement": "draw two DIFFERENT servers",
}
