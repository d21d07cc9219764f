"""Known-wrong answers to exercise 02; the grader must catch each one."""

import math


def series_weakest_link(*a):
    return min(a)


def parallel_best_part(*a):
    return max(a)


def parallel_adds_unavailability(*a):
    return 1 - sum(1 - x for x in a) / len(a) ** 2


def k_of_n_exactly_k(k, n, a):
    return math.comb(n, k) * a**k * (1 - a) ** (n - k)


def k_of_n_more_than_k(k, n, a):
    return sum(math.comb(n, i) * a**i * (1 - a) ** (n - i) for i in range(k + 1, n + 1))


def shared_rack_ignored(a_replica, a_rack, n=2):
    return 1 - (1 - a_replica) ** n


def shared_rack_as_another_replica(a_replica, a_rack, n=2):
    return 1 - (1 - a_replica) ** n * (1 - a_rack)


MUTANTS = {
    "series is as good as its weakest part": {"series": series_weakest_link},
    "parallel is as good as its best part": {"parallel": parallel_best_part},
    "parallel averages unavailability": {"parallel": parallel_adds_unavailability},
    "k-of-n counts exactly k parts up": {"k_of_n": k_of_n_exactly_k},
    "k-of-n off by one (more than k)": {"k_of_n": k_of_n_more_than_k},
    "the shared rack ignored: 1 - (1 - A)^n": {"shared_rack": shared_rack_ignored},
    "the rack taken as one more redundant part": {"shared_rack": shared_rack_as_another_replica},
}
