"""The item-difficulty families: standardized weights, the PyTensor and NumPy forms agree, the
kernel's gradient in the shape, and a skewed population told from a normal one by LOO."""

import numpy as np
import pymc as pm
import pytensor.tensor as pt
import pytest
from scipy import special, stats

from mirage_bayes.models.generation import (
    grid_nodes,
    population_quantities,
    quadrature_grid,
)
from mirage_bayes.models.item_families import ITEM_FAMILIES, family_of, grid_log_weights
from mirage_bayes.settings import ITEM_CHOICES


def _standardized_log_gamma(q: float, size: int, seed: int) -> np.ndarray:
    """Draws of the standardized generalized log-gamma by its definition ``log(Q²G)/Q``."""
    k = 1 / q**2
    w = np.log(q**2 * np.random.default_rng(seed).gamma(k, 1.0, size)) / q
    mean, sd = (special.digamma(k) - np.log(k)) / q, np.sqrt(k * special.polygamma(1, k))
    return (w - mean) / sd


@pytest.mark.parametrize("q", [-1.0, -0.3, -0.01, 0.0, 0.45, 1.0, 1.5])
def test_log_gamma_weights_are_standardized(q):
    """σ_item keeps its meaning: on the grid z has mean 0 and variance 1 for every shape."""
    nodes = grid_nodes(100, "log_gamma")
    w = np.exp(grid_log_weights(nodes, np.array([q]), 1))[0]
    assert w.sum() == pytest.approx(1.0)
    mean = w @ nodes
    assert mean == pytest.approx(0.0, abs=2e-3)
    assert w @ (nodes - mean) ** 2 == pytest.approx(1.0, abs=5e-3)
    # Q > 0: a long easy-item (lower) tail; Q < 0 its mirror; skewness about −Q near 0.
    skew = w @ (nodes - mean) ** 3
    assert skew == pytest.approx(-np.sign(q) * abs(skew), abs=1e-6)
    assert abs(skew + q) < 0.02 if abs(q) < 0.05 else np.sign(skew) == -np.sign(q)


@pytest.mark.parametrize("q", [1 / np.sqrt(2), -0.5])
def test_log_gamma_matches_sampled_quantiles(q):
    """The weights are the distribution of standardized ``log(Q²G)/Q`` draws."""
    z = _standardized_log_gamma(q, 400_000, 0)
    nodes = grid_nodes(400, "log_gamma")
    w = np.exp(grid_log_weights(nodes, np.array([q]), 1))[0]
    cdf = np.cumsum(w) - w / 2  # the trapezoid rule's CDF at each node
    for p in (0.01, 0.1, 0.5, 0.9, 0.99):
        assert np.interp(p, cdf, nodes) == pytest.approx(np.quantile(z, p), abs=0.03)


def test_zero_shape_is_the_normal():
    """Q = 0 is the normal exactly, and the weights move continuously through it and through
    the switch from series to exact expressions."""
    nodes = grid_nodes(100, "log_gamma")
    at_zero = grid_log_weights(nodes, np.array([0.0]), 1)[0]
    normal = ITEM_FAMILIES["normal"].log_weights(nodes, None)[0]
    assert at_zero == pytest.approx(normal, abs=1e-12)
    for q in (0.0, 0.02, -0.02):
        below, above = grid_log_weights(nodes, np.array([q - 1e-9, q + 1e-9]), 2)
        assert np.abs(np.exp(above) - np.exp(below)).max() < 1e-9


@pytest.mark.parametrize("q", [-0.7, -0.02, 0.0, 0.01, 0.02 + 1e-7, 0.3, 1.3])
def test_pytensor_weights_and_gradient_equal_numpy(q):
    nodes = grid_nodes(50, "log_gamma")
    with pm.Model() as model:
        log_w = ITEM_FAMILIES["log_gamma"].build(nodes)
    shape = model["item_shape"]
    # The sampler sees the weights and their gradient in Q; compare where the weight is not 0.
    weights = model.compile_fn([pt.exp(log_w), pt.grad(pt.exp(log_w) @ nodes**2, shape)],
                               inputs=[shape], point_fn=False)  # fmt: skip
    got, grad = weights(q)
    expected = np.exp(grid_log_weights(nodes, np.array([q]), 1)[0])
    assert got == pytest.approx(expected, rel=1e-6, abs=1e-12)
    step = 1e-6
    second = [np.exp(grid_log_weights(nodes, np.array([q + d]), 1)[0]) @ nodes**2
              for d in (-step, step)]  # fmt: skip
    assert grad == pytest.approx((second[1] - second[0]) / (2 * step), abs=1e-5)


def test_the_cli_choices_are_the_families_and_compare():
    """``fit --items`` is parsed without importing the models: its choices live in settings."""
    assert ITEM_CHOICES == ("auto", *ITEM_FAMILIES, "compare")


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


@pytest.mark.parametrize("q", [1.0, -0.6])
def test_log_gamma_population_average_against_monte_carlo(q):
    mu, sigma = np.array([[-0.5]]), np.array([0.9])
    got = population_quantities(mu, sigma, [4], item_shape=np.array([q]))["accuracy"][0, 0, 0]
    z = _standardized_log_gamma(q, 1_000_000, 1)
    expected = np.exp(-4 * np.exp(mu[0, 0] + sigma[0] * z)).mean()
    assert got == pytest.approx(expected, abs=2e-3)
