"""Known-wrong answers to exercise 07, as they circulate; the grader must catch each one.

``MUTANTS`` maps a description to the functions that replace the solution's.
"""


def read_your_writes_at_least_n(n, r, w):
    return r + w >= n


def quorum_read_oldest(replies):
    return min(replies, key=lambda reply: reply[0])


def quorum_read_first_reply(replies):
    return replies[0]


def writes_lost_counts_later_acks(ack_times, crash_time, lag):
    return sum(1 for a in ack_times if a + lag > crash_time)


def writes_lost_ignores_lag(ack_times, crash_time, lag):
    return sum(1 for a in ack_times if a == crash_time)


MUTANTS = {
    "R + W >= N taken as strong consistency": {"read_your_writes": read_your_writes_at_least_n},
    "the oldest version returned": {"quorum_read": quorum_read_oldest},
    "the first (fastest) reply returned": {"quorum_read": quorum_read_first_reply},
    "acknowledgements after the crash counted as lost": {
        "writes_lost": writes_lost_counts_later_acks
    },
    "only the write at the crash instant counted": {"writes_lost": writes_lost_ignores_lag},
}
