"""Known-wrong answers to exercise 05; the grader must catch each one.

``MUTANTS`` maps a description to the functions that replace the solution's.
"""

from dataclasses import replace


def _up_to_date(last_log_term, last_log_index, my_last_log_term, my_last_log_index):
    if last_log_term != my_last_log_term:
        return last_log_term > my_last_log_term
    return last_log_index >= my_last_log_index


def grant_every_request(voter, request):
    if request.term > voter.term:
        voter = replace(voter, term=request.term, voted_for=None, role="follower")
    return replace(voter, voted_for=request.candidate), True


def forget_to_step_down(voter, request):
    if request.term > voter.term:
        voter = replace(voter, term=request.term, voted_for=None)  # keeps its role
    if request.term < voter.term or voter.voted_for not in (None, request.candidate):
        return voter, False
    if not _up_to_date(
        request.last_log_term, request.last_log_index, voter.last_log_term, voter.last_log_index
    ):
        return voter, False
    return replace(voter, voted_for=request.candidate), True


def grant_stale_terms(voter, request):
    if request.term > voter.term:
        voter = replace(voter, term=request.term, voted_for=None, role="follower")
    if voter.voted_for not in (None, request.candidate):
        return voter, False
    if not _up_to_date(
        request.last_log_term, request.last_log_index, voter.last_log_term, voter.last_log_index
    ):
        return voter, False
    return replace(voter, voted_for=request.candidate), True


def refuse_retried_requests(voter, request):
    if request.term > voter.term:
        voter = replace(voter, term=request.term, voted_for=None, role="follower")
    if request.term < voter.term or voter.voted_for is not None:
        return voter, False
    if not _up_to_date(
        request.last_log_term, request.last_log_index, voter.last_log_term, voter.last_log_index
    ):
        return voter, False
    return replace(voter, voted_for=request.candidate), True


def ignore_the_logs(voter, request):
    if request.term > voter.term:
        voter = replace(voter, term=request.term, voted_for=None, role="follower")
    if request.term < voter.term or voter.voted_for not in (None, request.candidate):
        return voter, False
    return replace(voter, voted_for=request.candidate), True


def longer_log_wins(last_log_term, last_log_index, my_last_log_term, my_last_log_index):
    return last_log_index >= my_last_log_index


def server_id_before_zxid(new, current):
    return (new.epoch, new.server, new.zxid) > (current.epoch, current.server, current.zxid)


def zxid_before_epoch(new, current):
    return (new.zxid, new.epoch, new.server) > (current.zxid, current.epoch, current.server)


def lowest_id_wins(alive, groups=None):
    alive = set(alive)
    sides = [alive] if groups is None else [set(g) & alive for g in groups]
    return {i: min(side) for side in sides for i in side}


def ignore_the_partition(alive, groups=None):
    alive = set(alive)
    return {i: max(alive) for i in alive}


MUTANTS = {
    "grants every request (two leaders in one term)": {"handle_request_vote": grant_every_request},
    "forgets to step down on a higher term": {"handle_request_vote": forget_to_step_down},
    "grants requests from older terms": {"handle_request_vote": grant_stale_terms},
    "refuses a retried request from the same candidate": {
        "handle_request_vote": refuse_retried_requests
    },
    "grants votes without comparing logs": {"handle_request_vote": ignore_the_logs},
    "up-to-date means longer, whatever the last term": {"log_up_to_date": longer_log_wins},
    "compares the server id before the zxid": {"zab_vote_wins": server_id_before_zxid},
    "compares the zxid before the epoch": {"zab_vote_wins": zxid_before_epoch},
    "bully: the lowest id wins": {"bully_outcome": lowest_id_wins},
    "bully: one coordinator despite the partition": {"bully_outcome": ignore_the_partition},
}
