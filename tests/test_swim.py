import math

import pytest

from halab.swim import false_positive_probability, simulate_probes


def test_direct_probe_is_two_messages():
    assert false_positive_probability(0.1, 0) == pytest.approx(1 - 0.9**2)


def test_each_helper_multiplies_by_a_path_failure():
    p = 0.05
    path = 1 - (1 - p) ** 4
    for k in range(1, 6):
        ratio = false_positive_probability(p, k) / false_positive_probability(p, k - 1)
        assert ratio == pytest.approx(path)


def test_no_loss_no_false_positive():
    assert false_positive_probability(0.0, 3) == 0.0


@pytest.mark.parametrize("p,k,seed", [(0.05, 0, 1), (0.2, 1, 2), (0.3, 3, 3)])
def test_simulation_within_four_standard_errors(p, k, seed):
    n = 200_000
    theory = false_positive_probability(p, k)
    sim = simulate_probes(p, k, periods=n, seed=seed)
    se = math.sqrt(theory * (1 - theory) / n)
    assert abs(sim - theory) < 4 * se + 1e-12, f"seed={seed}: {sim} vs {theory}"


@pytest.mark.parametrize("bad", [-0.1, 1.0, math.nan, "x"])
def test_bad_p(bad):
    with pytest.raises(ValueError, match="p must"):
        false_positive_probability(bad, 1)


def test_bad_k():
    with pytest.raises(ValueError, match="k must"):
        simulate_probes(0.1, -1)
