"""The item-difficulty families: standardized weights, the PyTensor and NumPy forms agree, the
kernel's gradient in the shape, and a skewed population told from a normal one by LOO."""

import numpy as np
import pymc as pm
import pytest
from scipy import special, stats

from mirage_bayes.models.generation import (
    grid_nodes,
    population_quantities,
    population_weights,
    quadrature_grid,
)
from mirage_bayes.models.item_families import ITEM_FAMILIES, family_of, grid_log_weights
from mirage_bayes.settings import ITEM_CHOICES


@pytest.mark.parametrize("k", [0.5, 1.0, 3.0, 20.0])
def test_log_gamma_weights_are_standardized(k):
    """σ_item keeps its meaning: on the grid z has mean 0 and variance 1 for every shape."""
    nodes = grid_nodes(100, "log_gamma")
    w = np.exp(grid_log_weights(nodes, np.array([k]), 1))[0]
    assert w.sum() == pytest.approx(1.0)
    mean = w @ nodes
    assert mean == pytest.approx(0.0, abs=2e-3)
    assert w @ (nodes - mean) ** 2 == pytest.approx(1.0, abs=5e-3)
    # Skewed towards easy items (a long lower tail), as a log-gamma variable is.
    assert w @ (nodes - mean) ** 3 < 0


def test_log_gamma_matches_sampled_quantiles():
    """The weights are the distribution of standardized log Gamma(k) draws."""
    k = 2.0
    y = np.log(np.random.default_rng(0).gamma(k, 1.0, 400_000))
    z = (y - special.digamma(k)) / np.sqrt(special.polygamma(1, k))
    nodes = grid_nodes(400, "log_gamma")
    cdf = np.cumsum(np.exp(grid_log_weights(nodes, np.array([k]), 1))[0])
    for q in (0.01, 0.1, 0.5, 0.9, 0.99):
        assert np.interp(q, cdf, nodes) == pytest.approx(np.quantile(z, q), abs=0.03)


def test_large_shape_tends_to_the_normal():
    nodes, w = population_weights(161, np.array([400.0]), 1)
    normal_nodes, normal_w = population_weights(161, None, 1)
    assert np.interp(normal_nodes, nodes, w[0] / np.diff(nodes)[0]) == pytest.approx(
        normal_w[0] / np.diff(normal_nodes)[0], abs=0.01
    )


def test_pytensor_weights_equal_numpy():
    nodes = grid_nodes(50, "log_gamma")
    with pm.Model() as model:
        log_w = ITEM_FAMILIES["log_gamma"].build(nodes)
    point = {"log_item_shape": np.log(1.7)}
    got = model.compile_fn(log_w, inputs=[model["log_item_shape"]])(point)
    assert got == pytest.approx(grid_log_weights(nodes, np.array([1.7]), 1)[0], rel=1e-8)


def test_the_cli_choices_are_the_families_and_compare():
    """``fit --items`` is parsed without importing the models: its choices live in settings."""
    assert ITEM_CHOICES == (*ITEM_FAMILIES, "compare")


def test_family_of_a_posterior():
    assert family_of(None).name == "normal"
    assert family_of(np.ones(3)).name == "log_gamma"
    with pytest.raises(ValueError, match="shape"):
        ITEM_FAMILIES["log_gamma"].log_weights(np.zeros(3), None)


def test_normal_family_unchanged():
    """The normal grid and its population averages are those of the normal integral."""
    nodes, log_w = quadrature_grid(100)
    assert nodes[0] == -5.5 and nodes[-1] == 5.5
    mu, sigma = np.array([[-1.0, 0.5]]), np.array([0.8])
    eps = population_quantities(mu, sigma, [1])["epsilon"][0]
    z = np.linspace(-8, 8, 20001)
    for s in range(2):
        expected = np.trapezoid(-np.expm1(-np.exp(mu[0, s] + 0.8 * z)) * stats.norm.pdf(z), z)
        assert eps[s] == pytest.approx(expected, rel=1e-6)


def test_log_gamma_population_average_against_monte_carlo():
    k, mu, sigma = 1.0, np.array([[-0.5]]), np.array([0.9])
    got = population_quantities(mu, sigma, [4], item_shape=np.array([k]))["accuracy"][0, 0, 0]
    y = np.log(np.random.default_rng(1).gamma(k, 1.0, 1_000_000))
    z = (y - special.digamma(k)) / np.sqrt(special.polygamma(1, k))
    expected = np.exp(-4 * np.exp(mu[0, 0] + sigma[0] * z)).mean()
    assert got == pytest.approx(expected, abs=2e-3)
