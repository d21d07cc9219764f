"""Known-wrong answers to exercise 06; the grader must catch each one."""

IDEMPOTENT = {"GET", "HEAD", "PUT", "DELETE", "OPTIONS"}


def _states(
    results,
    rise,
    fall,
    *,
    reset_on_pass=True,
    reset_on_fail=True,
    down_at=None,
    up_at=None,
    start="UP",
):
    state, streak, out = start, 0, []
    for ok in results:
        if state == "UP":
            if ok:
                streak = 0 if reset_on_pass else streak
            else:
                streak += 1
            if streak == (fall if down_at is None else down_at(fall)):
                state, streak = "DOWN", 0
        else:
            if ok:
                streak += 1
            elif reset_on_fail:
                streak = 0
            if up_at is not None and up_at(rise) is None:
                pass  # never comes back
            elif streak == (rise if up_at is None else up_at(rise)):
                state, streak = "UP", 0
        out.append(state)
    return out


def states_swapped(results, rise, fall):
    return _states(results, fall, rise)


def states_counting_all_failures(results, rise, fall):
    return _states(results, rise, fall, reset_on_pass=False)


def states_one_failure_early(results, rise, fall):
    return _states(results, rise, fall, down_at=lambda f: max(1, f - 1))


def states_never_back(results, rise, fall):
    return _states(results, rise, fall, up_at=lambda r: None)


def states_back_at_first_pass(results, rise, fall):
    return _states(results, rise, fall, up_at=lambda r: 1)


def states_rise_not_reset(results, rise, fall):
    return _states(results, rise, fall, reset_on_fail=False)


def retry_post_always(method, reached, status, attempts, retries):
    failed = status is None or status >= 500
    return failed and attempts <= retries


def retry_one_too_few(method, reached, status, attempts, retries):
    failed = status is None or status >= 500
    if not failed or attempts >= retries:
        return False
    return not reached or method in IDEMPOTENT


def retry_4xx_too(method, reached, status, attempts, retries):
    if status is not None and status < 400 or attempts > retries:
        return False
    return not reached or method in IDEMPOTENT


def retry_never_post(method, reached, status, attempts, retries):
    failed = status is None or status >= 500
    return failed and attempts <= retries and method in IDEMPOTENT


def retry_unbounded(method, reached, status, attempts, retries):
    failed = status is None or status >= 500
    return failed and (not reached or method in IDEMPOTENT)


def backend_may_repeat(in_rotation, tried, start):
    n = len(in_rotation)
    for k in range(n):
        i = (start + k) % n
        if in_rotation[i]:
            return i
    return None


def backend_ignores_rotation(in_rotation, tried, start):
    n = len(in_rotation)
    for k in range(n):
        i = (start + k) % n
        if i not in tried:
            return i
    return None


def backend_from_zero(in_rotation, tried, start):
    for i, ok in enumerate(in_rotation):
        if ok and i not in tried:
            return i
    return None


def backend_loops(in_rotation, tried, start):
    n = len(in_rotation)
    for k in range(10 * n):  # "until one works": a tutorial's loop, capped here
        i = (start + k) % n
        if in_rotation[i] and i not in tried:
            return i
    return start  # gives up by sending it to the same place again


MUTANTS = {
    "rise and fall swapped": {"check_states": states_swapped},
    "failures counted in total, not in a row": {"check_states": states_counting_all_failures},
    "DOWN one failure too early": {"check_states": states_one_failure_early},
    "a DOWN backend never comes back (the tutorial's 'remove forever')": {
        "check_states": states_never_back
    },
    "UP again at the first passed check": {"check_states": states_back_at_first_pass},
    "a failure while DOWN does not restart the rise count": {"check_states": states_rise_not_reset},
    "a POST retried after it reached a backend": {"may_retry": retry_post_always},
    "one retry fewer than allowed": {"may_retry": retry_one_too_few},
    "4xx answers retried": {"may_retry": retry_4xx_too},
    "a refused POST not retried": {"may_retry": retry_never_post},
    "no bound on retries": {"may_retry": retry_unbounded},
    "a retry may go back to a backend already tried": {"retry_backend": backend_may_repeat},
    "a retry may go to a backend out of rotation": {"retry_backend": backend_ignores_rotation},
    "retries always start from backend 0": {"retry_backend": backend_from_zero},
    "with nothing left, the request goes back where it failed": {"retry_backend": backend_loops},
}
