"""PowerOfTwo's weighted branch: load is requests in flight divided by weight (issue 18)."""

from __future__ import annotations

import pytest

from halab import balancing as bal


@pytest.mark.parametrize("healthy", [None, [True, True]])
@pytest.mark.parametrize("seed", range(5))
def test_power_of_two_compares_active_over_weight(seed, healthy):
    # Two servers: both are always drawn, so the pick is the smaller active / weight.
    policy = bal.PowerOfTwo(2, weights=[1, 100], seed=seed)
    assert policy.pick([5, 10], healthy) == 1, f"seed {seed}"  # 10/100 < 5/1
    assert policy.pick([1, 200], healthy) == 0, f"seed {seed}"  # 1/1 < 200/100
