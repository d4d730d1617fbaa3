"""Common random numbers: named streams and binomial draws by inversion."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from conftest import indexed, run_model
from povsim.streams import RandomStreams, binomial_from_uniform


def test_uniform_identical_for_equal_arguments():
    a = RandomStreams(123).uniform("illness", 2016, 1000)
    b = RandomStreams(123).uniform("illness", 2016, 1000)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (1000,)
    assert ((a >= 0) & (a < 1)).all()


def test_uniform_differs_across_names_years_and_seeds():
    s = RandomStreams(123)
    base = s.uniform("illness", 2016, 1000)
    assert not np.array_equal(base, s.uniform("job_loss", 2016, 1000))
    assert not np.array_equal(base, s.uniform("illness", 2017, 1000))
    assert not np.array_equal(base, RandomStreams(124).uniform("illness", 2016, 1000))
    # different streams are not just shifted copies: they are uncorrelated
    assert abs(np.corrcoef(base, s.uniform("job_loss", 2016, 1000))[0, 1]) < 0.1


def test_uniform_prefix_stable_in_n():
    """A household's draw does not depend on how many draws are taken after it."""
    s = RandomStreams(5)
    short = s.uniform("exit_verification", 2018, 50)
    np.testing.assert_array_equal(short, s.uniform("exit_verification", 2018, 80)[:50])


def test_binomial_from_uniform_moments():
    n, p, draws = 5, 0.3, 200_000
    u = RandomStreams(2024).uniform("test_binomial", 0, draws)
    k = binomial_from_uniform(u, np.full(draws, n), p)
    assert k.min() >= 0 and k.max() <= n
    assert k.mean() == pytest.approx(n * p, abs=0.01)
    assert k.var() == pytest.approx(n * p * (1 - p), abs=0.02)
    freq = np.bincount(k, minlength=n + 1) / draws
    np.testing.assert_allclose(freq, stats.binom.pmf(np.arange(n + 1), n, p), atol=0.005)


def test_binomial_from_uniform_is_monotone_in_u():
    u = np.linspace(0.0, 1.0, 10_001, endpoint=False)
    for n, p in ((5, 0.3), (8, 0.05), (3, 0.9)):
        k = binomial_from_uniform(u, np.full(u.shape, n), p)
        assert (np.diff(k) >= 0).all()
        assert k[0] == 0
        assert k[-1] == int(stats.binom.ppf(u[-1], n, p))


def test_binomial_from_uniform_matches_binomial_quantiles():
    """Inversion: the draw is the smallest k whose CDF reaches u."""
    u = np.array([0.01, 0.2, 0.5, 0.8, 0.99])
    k = binomial_from_uniform(u, np.full(u.shape, 6), 0.4)
    np.testing.assert_array_equal(k, stats.binom.ppf(u, 6, 0.4).astype(int))


def test_binomial_from_uniform_vector_n_and_p_and_edge_cases():
    u = RandomStreams(1).uniform("edge", 0, 10)
    n = np.arange(10)
    assert (binomial_from_uniform(u, n, 0.0) == 0).all()
    assert (binomial_from_uniform(u, np.zeros(10, int), 0.5) == 0).all()
    k = binomial_from_uniform(u, n, np.linspace(0.0, 1.0, 10))
    assert ((k >= 0) & (k <= n)).all()


def test_parameter_change_keeps_common_random_numbers():
    """Under common random numbers a change that acts only on the registry (which updates
    after measurement) leaves 2014 and 2015 income poverty identical, and a change in
    income growth leaves the 2014 state identical."""
    base = indexed(run_model(seed=21, scale=5000, end_year=2016).results())
    no_exit_model = run_model(seed=21, scale=5000, end_year=2016, **{"registry.exit.verification_prob": 0.0})
    no_exit = indexed(no_exit_model.results())
    slow = indexed(run_model(seed=21, scale=5000, end_year=2016, **{"economy.growth.farm": 0.0}).results())
    for region in ("national", "east", "central", "west"):
        for year in (2014, 2015):
            assert base[(year, region, "poor_people")] == no_exit[(year, region, "poor_people")]
        assert base[(2014, region, "poor_people")] == slow[(2014, region, "poor_people")]
        assert base[(2014, region, "registered_poor_people")] == slow[(2014, region, "registered_poor_people")]
    assert base[(2015, "national", "exits_people")] > 0
    assert no_exit[(2015, "national", "exits_people")] == 0
