"""Retries across layers and retry budgets (halab.retries)."""

from __future__ import annotations

import doctest
import math

import pytest

import halab.retries
from halab.retries import amplification, bottom_attempts, budget_bound, simulate_retries


def test_doctests():
    assert doctest.testmod(halab.retries).failed == 0


def test_closed_forms_by_hand():
    assert amplification(3, 3) == 27 == bottom_attempts(1.0, 3, 3)
    assert bottom_attempts(0.0, 3, 3) == 1.0
    # one layer: 1 + p + p^2; two layers: E(p) E(p^3)
    assert bottom_attempts(0.5, 3, 1) == pytest.approx(1.75)
    assert bottom_attempts(0.5, 3, 2) == pytest.approx(1.75 * (1 + 0.125 + 0.125**2))
    assert budget_bound(0.2, 3) == pytest.approx(1.728)
    for bad, name in [(1.5, "p"), (math.nan, "p")]:
        with pytest.raises(ValueError, match=name):
            bottom_attempts(bad, 3, 3)
    with pytest.raises(ValueError, match="tries"):
        amplification(0, 3)
    with pytest.raises(ValueError, match="ratio"):
        budget_bound(-0.1, 3)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9, 1.0])
def test_simulation_matches_the_chain_and_the_budget_caps_it(p):
    seed = 7
    attempts, ok = simulate_retries(p, 3, 3, requests=4000, seed=seed)
    want = bottom_attempts(p, 3, 3)
    print(f"p={p}, seed {seed}: simulated {attempts:.3f}, formula {want:.3f}")
    assert attempts == pytest.approx(want, rel=0.05)
    assert ok == pytest.approx(1 - p ** (3**3), abs=0.03)  # fails only if all 27 fail
    capped, capped_ok = simulate_retries(p, 3, 3, budget=0.2, requests=4000, seed=seed)
    assert capped <= budget_bound(0.2, 3) + 0.01
    assert capped <= attempts + 1e-9 and capped_ok <= ok + 1e-9  # the budget sheds retries
    with pytest.raises(ValueError, match="budget"):
        simulate_retries(p, 3, 3, budget=-1.0)
