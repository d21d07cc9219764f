"""Known-wrong answers to exercise 08; the grader must catch each one."""

import random


def _check(base, cap, factor):
    if not base > 0:
        raise ValueError(f"base must be > 0, got {base!r}")
    if not cap >= base:
        raise ValueError(f"cap must be >= base, got {cap!r}")
    if not factor >= 1:
        raise ValueError(f"factor must be >= 1, got {factor!r}")


def schedule_without_cap(attempts, base, cap, factor=2.0):
    _check(base, cap, factor)
    return [base * factor**n for n in range(attempts)]


def schedule_capped_before_doubling(attempts, base, cap, factor=2.0):
    # caps the previous wait, then doubles it: 10, 20, 40, 80, 160, 320, 600, 600, ...
    _check(base, cap, factor)
    waits, wait = [], float(base)
    for _ in range(attempts):
        waits.append(wait)
        wait = min(wait, cap) * factor
    return waits


def schedule_off_by_one(attempts, base, cap, factor=2.0):
    # counts attempts from 1: the first retry already waits base * 2
    _check(base, cap, factor)
    return [min(cap, base * factor ** (n + 1)) for n in range(attempts)]


def schedule_without_checks(attempts, base, cap, factor=2.0):
    return [min(cap, base * factor**n) for n in range(attempts)]


def full_jitter_past_the_cap(attempts, base, cap, rng):
    # draws from [0, base * 2**n], forgetting that the cap bounds the jittered wait too
    return [float(rng.uniform(0, base * 2.0**n)) for n in range(attempts)]


def full_jitter_added_after_cap(attempts, base, cap, rng):
    # jitter on top of the capped wait: min(cap, base * 2**n) + uniform(0, base)
    return [min(cap, base * 2.0**n) + float(rng.uniform(0, base)) for n in range(attempts)]


def full_jitter_one_draw(attempts, base, cap, rng):
    # one random number for the whole schedule: every client keeps its phase, attempts move together
    u = float(rng.random())
    return [u * min(cap, base * 2.0**n) for n in range(attempts)]


def full_jitter_global_random(attempts, base, cap, rng):
    return [random.uniform(0, min(cap, base * 2.0**n)) for n in range(attempts)]


def equal_jitter_from_zero(attempts, base, cap, rng):
    return [float(rng.uniform(0, min(cap, base * 2.0**n))) for n in range(attempts)]


def equal_jitter_past_the_cap(attempts, base, cap, rng):
    # the sure half and the random half both of the capped wait: up to 1.5 v
    return [
        min(cap, base * 2.0**n) / 2 + float(rng.uniform(0, min(cap, base * 2.0**n)))
        for n in range(attempts)
    ]


def equal_jitter_one_draw(attempts, base, cap, rng):
    # one random number reused for every attempt
    u = float(rng.random())
    return [min(cap, base * 2.0**n) * (1 + u) / 2 for n in range(attempts)]


MUTANTS = {
    "backoff without a cap": {"backoff_schedule": schedule_without_cap},
    "cap applied before the doubling": {"backoff_schedule": schedule_capped_before_doubling},
    "exponent off by one (first retry waits 2 x base)": {"backoff_schedule": schedule_off_by_one},
    "no ValueError for a cap below the base or a bad factor": {
        "backoff_schedule": schedule_without_checks
    },
    "full jitter that can exceed the cap": {"full_jitter": full_jitter_past_the_cap},
    "full jitter added on top of the capped wait": {"full_jitter": full_jitter_added_after_cap},
    "full jitter with one draw for all attempts": {"full_jitter": full_jitter_one_draw},
    "full jitter from the global random module": {"full_jitter": full_jitter_global_random},
    "equal jitter drawn from zero": {"equal_jitter": equal_jitter_from_zero},
    "equal jitter that can exceed the cap": {"equal_jitter": equal_jitter_past_the_cap},
    "equal jitter with one draw for all attempts": {"equal_jitter": equal_jitter_one_draw},
}

# What the grader must say to each of them (a piece of one of its messages).
MESSAGES = {
    "full jitter with one draw for all attempts": "one random draw reused for several attempts",
    "equal jitter with one draw for all attempts": "one random draw reused for several attempts",
}
