"""Grader for exercise 04 (k-missed detector, suspicion periods, φ). Messages say what to fix.

Reference values come from ``halab.detection.phi``, which ``tests/test_detection.py`` checks
against Akka's own test figures and the normal distribution, and from worked examples.
"""

import math

from scipy.optimize import brentq

from halab.detection import phi as reference_phi

EXERCISE = "ex04_detection"


def close(x, y, rel=1e-9):
    return isinstance(x, (int, float)) and math.isclose(x, y, rel_tol=rel, abs_tol=1e-12)


def normal_phi(elapsed, mean, std):
    """φ from the exact normal tail, the mistake of reading φ as a normal tail literally."""
    return -math.log10(0.5 * math.erfc((elapsed - mean) / std / math.sqrt(2)))


def sigmas_to(level_of, level):
    """How many standard deviations late a heartbeat is when ``level_of`` reaches ``level``."""
    return brentq(lambda y: level_of(y, 0.0, 1.0) - level, 0.0, 20.0)


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


def test_k_missed_suspects(ex):
    f = ex.k_missed_suspects
    got = call(f, 10.0, 13.5, 1.0, 3)
    assert got is True or got == True, (  # noqa: E712 - accept numpy booleans too
        f"last heartbeat at 10 s, interval 1 s, k = 3: at 13.5 s three heartbeats (due at 11, "
        f"12, 13) are missed and the half-interval grace is over, so it should suspect; got {got!r}"
    )
    got = call(f, 10.0, 13.4, 1.0, 3)
    assert not got, (
        f"at 13.4 s the grace (k + margin) x interval = 3.5 s has not run out: it should not "
        f"suspect yet; got {got!r}"
    )
    got = call(f, 10.0, 11.2, 1.0, 3)
    assert not got, (
        f"at 11.2 s only one heartbeat is late (by 0.2 s): a k = 3 detector must wait for three "
        f"missed heartbeats, it should not suspect on the first late one; got {got!r}"
    )
    got = call(f, 0.0, 3.0, 2.0, 1)
    assert got, (
        f"interval 2 s, k = 1: (1 + 0.5) x 2 = 3 s of silence is enough to suspect; got {got!r}"
    )
    got = call(f, 0.0, 2.6, 2.0, 1, 0.25)
    assert got, f"with margin 0.25 the timeout is (1 + 0.25) x 2 = 2.5 s; at 2.6 s got {got!r}"
    for now, margin in [(2.8, 0.5), (2.4, 0.25)]:
        got = call(f, 0.0, now, 2.0, 1, margin)
        assert not got, (
            f"interval 2 s, k = 1, margin {margin}: the grace is margin x interval = "
            f"{margin * 2:g} s, so it suspects only from (1 + {margin}) x 2 = {(1 + margin) * 2:g} s;"
            f" at {now} s it suspected (got {got!r})"
            + (
                f": k x interval + margin = {2 + margin:g} s reads the margin in seconds, "
                "but it is a fraction of an interval"
                if now >= 2 + margin
                else ""
            )
        )
    got = call(f, None, 100.0, 1.0, 3)
    assert not got, f"before any heartbeat arrived the detector does not suspect; got {got!r}"


def test_suspicions(ex):
    f = ex.suspicions
    got = call(f, [0.0, 1.0, 5.0, 6.0], 2.5, 10.0)
    want = [(3.5, 5.0), (8.5, 10.0)]
    assert isinstance(got, list) and len(got) == 2, (
        f"suspicions([0, 1, 5, 6], timeout=2.5, end=10) should be {want}: one suspicion from "
        f"1 + 2.5 until the heartbeat at 5, one from 6 + 2.5 until the end; got {got!r}"
    )
    for (a, b), (x, y) in zip(got, want):
        assert close(a, x) and close(b, y), f"expected {want}, got {got!r}"
    beats = [float(i) for i in range(20)]
    got = call(f, beats, 2.5, 19.5)
    assert got == [], (
        f"heartbeats every second and a 2.5 s timeout never leave 2.5 s of silence before the "
        f"end (19.5): expected [], got {got!r}"
    )
    got = call(f, [0.0, 2.5], 2.5, 3.0)
    assert got == [], (
        "a heartbeat that arrives exactly when the timeout runs out (2.5 s) leaves no time "
        f"suspected, and 2.5 + 2.5 is after the end: expected [], got {got!r}"
    )
    got = call(f, [0.0, 0.5, 9.0], 1.0, 12.0)
    assert len(got) == 2 and close(got[0][0], 1.5) and close(got[0][1], 9.0), (
        f"arrivals [0, 0.5, 9], timeout 1: suspected from 1.5 until 9, then from 10 until 12; "
        f"got {got!r}"
    )
    assert close(got[1][0], 10.0) and close(got[1][1], 12.0), (
        f"after the last heartbeat (9) the suspicion from 10 lasts until the end, 12; got {got!r}"
    )
    got = call(f, [], 1.0, 5.0)
    assert got == [], f"no heartbeats at all: nothing was ever trusted, expected [], got {got!r}"


def phi_hint(args, got):
    """What a wrong φ most likely did, read from the number it gave for ``phi(*args)``."""
    want = reference_phi(*args)
    if not isinstance(got, float) or math.isclose(got, want, rel_tol=1e-9):
        return ""
    for base, name in [(math.e, "the natural logarithm"), (2, "log base 2")]:
        if close(got, want * math.log(10) / math.log(base), rel=1e-6):
            return f" — that is {name}: phi uses log10"
    normal = normal_phi(*args)
    if close(got, normal, rel=1e-6) and not close(normal, want, rel=1e-6):
        return (
            f" — {normal:.4f} is the exact normal tail, -log10(P(Z > y)): the exercise asks for"
            " Akka's logistic approximation, e = exp(-y * (1.5976 + 0.070566 * y * y)), so that"
            " the levels are Akka's; the two differ in the tail (phi = 8 comes at"
            f" {sigmas_to(reference_phi, 8):.2f} standard deviations with Akka's,"
            f" {sigmas_to(normal_phi, 8):.2f} with the normal)"
        )
    if args[0] > args[1] and got < 1:
        return " — below 1: check the sign of y = (elapsed - mean) / std"
    return ""


def test_phi(ex):
    f = ex.phi
    got = call(f, 1.0, 1.0, 0.1)
    assert close(got, math.log10(2), rel=1e-9), (
        f"phi(1.0, mean=1.0, std=0.1) is right on time: y = 0, e = 1, the chance a heartbeat "
        f"is still coming is 1/2, so phi = -log10(1/2) = 0.30103; got {got!r}"
        + phi_hint((1.0, 1.0, 0.1), got)
    )
    got = call(f, 2.0, 1.0, 0.25)
    want = reference_phi(2.0, 1.0, 0.25)
    assert close(got, want, rel=1e-9), (
        f"phi(2.0, mean=1.0, std=0.25) should be {want:.4f} (4 standard deviations late); got "
        f"{got!r}" + phi_hint((2.0, 1.0, 0.25), got)
    )
    got = call(f, 0.5, 1.0, 0.25)
    want = reference_phi(0.5, 1.0, 0.25)
    assert close(got, want, rel=1e-9), (
        f"phi(0.5, mean=1.0, std=0.25) is early (y = -2) and should be small, {want:.6f}; "
        f"got {got!r}" + phi_hint((0.5, 1.0, 0.25), got)
    )
    got = call(
        f,
        10.0,
        0.0,
        1.0,
        hint="At 10 standard deviations e is about 1e-38 and 1 - 1/(1 + e) rounds to 0: "
        "use e / (1 + e) when elapsed > mean, as Akka does.",
    )
    want = reference_phi(10.0, 0.0, 1.0)
    assert close(got, want, rel=1e-6), (
        f"phi(10, mean=0, std=1) should be {want:.2f}; got {got!r}. Far after the mean, "
        "1 - 1/(1 + e) loses every digit: compute e / (1 + e) there"
    )
    levels = [call(f, x / 10, 1.0, 0.2) for x in range(0, 31)]
    assert all(a < b for a, b in zip(levels, levels[1:])), (
        "phi must grow with the elapsed time: the longer the silence, the stronger the "
        f"suspicion; got {[round(v, 3) for v in levels]}"
    )


def test_phi_from_history(ex):
    f = ex.phi_from_history
    got = call(
        f,
        [1.0, 1.0, 1.0, 1.0],
        1.3,
        hint="Equal intervals have a standard deviation of 0: raise it to min_std.",
    )
    want = reference_phi(1.3, 1.0, 0.1)
    assert close(got, want, rel=1e-9), (
        f"intervals [1, 1, 1, 1]: mean 1, deviation 0 raised to min_std = 0.1, so phi(1.3) = "
        f"{want:.4f}; got {got!r}"
    )
    window = [0.9, 1.1, 0.95, 1.05]
    got = call(f, window, 1.2, 0.01)
    std = math.sqrt(sum((x - 1.0) ** 2 for x in window) / 4)
    want = reference_phi(1.2, 1.0, std)
    sample = reference_phi(1.2, 1.0, math.sqrt(sum((x - 1.0) ** 2 for x in window) / 3))
    assert close(got, want, rel=1e-9), (
        f"intervals {window}: mean 1, population deviation {std:.5f}, so phi(1.2) = "
        f"{want:.4f}; got {got!r}"
        + (
            " — that is the sample deviation (n - 1): Akka divides by n"
            if isinstance(got, float) and close(got, sample, rel=1e-6)
            else ""
        )
    )
    got = call(f, [1.0, 1.0], 1.5, 0.1, 0.5)
    assert close(got, math.log10(2), rel=1e-9), (
        f"with pause 0.5 the expected gap is 1 + 0.5 = 1.5 s, so 1.5 s of silence is right on "
        f"time: phi = log10(2) = 0.30103; got {got!r}"
    )
