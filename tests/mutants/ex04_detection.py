"""Known-wrong answers to exercise 04; the grader must catch each one.

``MUTANTS`` maps a description to the functions that replace the solution's.
"""

import math


def never_suspects(last_arrival, now, interval, k, margin=0.5):
    return False


def no_suspicions(arrivals, timeout, end):
    return []


def suspects_on_first_late_heartbeat(last_arrival, now, interval, k, margin=0.5):
    return last_arrival is not None and now - last_arrival > interval


def suspicions_forget_the_last(arrivals, timeout, end):
    out = []
    for a, b in zip(arrivals, arrivals[1:]):
        if a + timeout < b:
            out.append((a + timeout, b))
    return out


def _e(elapsed, mean, std):
    y = (elapsed - mean) / std
    return math.exp(-y * (1.5976 + 0.070566 * y * y))


def phi_sign_flipped(elapsed, mean, std):
    y = (mean - elapsed) / std
    e = math.exp(-y * (1.5976 + 0.070566 * y * y))
    if elapsed > mean:
        return -math.log10(e / (1.0 + e))
    return -math.log10(1.0 - 1.0 / (1.0 + e))


def phi_natural_log(elapsed, mean, std):
    e = _e(elapsed, mean, std)
    if elapsed > mean:
        return -math.log(e / (1.0 + e))
    return -math.log(1.0 - 1.0 / (1.0 + e))


def phi_log2(elapsed, mean, std):
    e = _e(elapsed, mean, std)
    if elapsed > mean:
        return -math.log2(e / (1.0 + e))
    return -math.log2(1.0 - 1.0 / (1.0 + e))


def phi_without_the_branch(elapsed, mean, std):
    e = _e(elapsed, mean, std)
    return -math.log10(1.0 - 1.0 / (1.0 + e))


def phi_of_the_cdf(elapsed, mean, std):
    e = _e(elapsed, mean, std)
    return -math.log10(1.0 / (1.0 + e))


def _phi(elapsed, mean, std):
    e = _e(elapsed, mean, std)
    if elapsed > mean:
        return -math.log10(e / (1.0 + e))
    return -math.log10(1.0 - 1.0 / (1.0 + e))


def history_sample_std(intervals, elapsed, min_std=0.1, pause=0.0):
    n = len(intervals)
    mean = sum(intervals) / n
    std = max(math.sqrt(sum((x - mean) ** 2 for x in intervals) / (n - 1)), min_std)
    return _phi(elapsed, mean + pause, std)


def history_without_pause(intervals, elapsed, min_std=0.1, pause=0.0):
    n = len(intervals)
    mean = sum(intervals) / n
    std = max(math.sqrt(sum((x - mean) ** 2 for x in intervals) / n), min_std)
    return _phi(elapsed, mean, std)


def history_without_floor(intervals, elapsed, min_std=0.1, pause=0.0):
    n = len(intervals)
    mean = sum(intervals) / n
    std = math.sqrt(sum((x - mean) ** 2 for x in intervals) / n)
    return _phi(elapsed, mean + pause, std)


def suspects_after_margin_seconds(last_arrival, now, interval, k, margin=0.5):
    # reads the grace as seconds: k * interval + margin
    return last_arrival is not None and now - last_arrival >= k * interval + margin


def phi_exact_normal(elapsed, mean, std):
    # the exact normal tail instead of Akka's logistic approximation
    return -math.log10(0.5 * math.erfc((elapsed - mean) / std / math.sqrt(2)))


MUTANTS = {
    "a detector that never suspects": {
        "k_missed_suspects": never_suspects,
        "suspicions": no_suspicions,
    },
    "suspects on the first late heartbeat": {
        "k_missed_suspects": suspects_on_first_late_heartbeat,
    },
    "forgets the suspicion after the last heartbeat": {"suspicions": suspicions_forget_the_last},
    "phi with the sign of y flipped": {"phi": phi_sign_flipped},
    "phi with the natural logarithm": {"phi": phi_natural_log},
    "phi with log base 2": {"phi": phi_log2},
    "phi from 1 - 1/(1 + e) everywhere (cancellation)": {"phi": phi_without_the_branch},
    "phi of the CDF instead of its complement": {"phi": phi_of_the_cdf},
    "history with the sample standard deviation": {"phi_from_history": history_sample_std},
    "history ignoring the acceptable pause": {"phi_from_history": history_without_pause},
    "history without the minimum deviation": {"phi_from_history": history_without_floor},
    "grace period read in seconds, not intervals": {
        "k_missed_suspects": suspects_after_margin_seconds
    },
    "phi from the exact normal tail": {"phi": phi_exact_normal},
}

# What the grader must say to each of them (a piece of one of its messages).
MESSAGES = {
    "grace period read in seconds, not intervals": "reads the margin in seconds",
    "phi from the exact normal tail": "the exercise asks for Akka's logistic approximation",
    "phi with the natural logarithm": "that is the natural logarithm",
}
