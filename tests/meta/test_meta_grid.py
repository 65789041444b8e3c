"""The grid posterior of a proportion's power law: the right posterior, and the same late-jump
p-values as NUTS."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize

from mirage_bayes.meta.fit import MetaConfig, model_data, subset
from mirage_bayes.meta.grid import grid_posterior, log_posterior
from mirage_bayes.meta.io import Triplet
from mirage_bayes.meta.triplet import fit_triplet

SIZES = np.logspace(7, 11, 8)


def _triplet(counts, n_items: int, chance: float) -> Triplet:
    counts = np.asarray(counts, float)
    return Triplet(
        family="F", task="t", metric="m", kind="proportion", higher_is_better=True,
        models=tuple(f"m{i}" for i in range(counts.size)), n_params=SIZES[: counts.size],
        values=counts / n_items, n_items=np.full(counts.size, float(n_items)), chance=chance,
        counts=counts,
    )  # fmt: skip


def test_matches_the_laplace_approximation_where_the_posterior_is_normal():
    # A million items per size: the posterior is close to normal around the mode, with the
    # inverse Hessian as covariance, which an optimizer finds without any grid.
    rng = np.random.default_rng(0)
    p = np.exp(-np.exp(-0.5 - 1.2 * np.linspace(-1, 1, 8)))
    data = model_data(_triplet(rng.binomial(1_000_000, p), 1_000_000, 0.0))

    def negative(theta):
        return -log_posterior(np.array([theta[0]]), np.array([theta[1]]), data)[0]

    mode = optimize.minimize(negative, [0.0, -1.0], method="Nelder-Mead",
                             options={"xatol": 1e-10, "fatol": 1e-10}).x  # fmt: skip
    step = 1e-4
    hessian = np.empty((2, 2))
    for i in range(2):
        for j in range(2):
            ei, ej = np.eye(2)[i] * step, np.eye(2)[j] * step
            plus = negative(mode + ei + ej) + negative(mode - ei - ej)
            minus = negative(mode + ei - ej) + negative(mode - ei + ej)
            hessian[i, j] = (plus - minus) / (4 * step**2)
    sd = np.sqrt(np.diag(np.linalg.inv(hessian)))
    draws, diag = grid_posterior(data, 20_000, np.random.default_rng(1))
    assert diag.ok
    for name, m, s in zip(("a", "beta"), mode, sd, strict=True):
        assert abs(draws[name].mean() - m) < 0.05 * s, name
        assert abs(draws[name].std() / s - 1.0) < 0.05, name


def test_a_curve_flat_at_chance_is_resolved():
    # The smaller sizes sit at chance: the slope is free and the posterior a wide plateau.
    data = subset("proportion", model_data(_triplet([50, 52, 49, 51, 50, 53, 48, 51], 200, 0.25)),
                  np.arange(6))  # fmt: skip
    draws, diag = grid_posterior(data, 2000, np.random.default_rng(2))
    assert diag.ok and diag.min_ess_bulk == 2000
    assert np.ptp(draws["beta"]) > 3.0  # the plateau is wide, not one cell


@pytest.mark.slow
@pytest.mark.parametrize(
    ("counts", "chance"),
    [([0, 0, 1, 4, 15, 40, 90, 150], 0.0), ([50, 52, 49, 51, 50, 53, 90, 150], 0.25),
     ([50, 55, 62, 75, 95, 120, 150, 175], 0.25)],
)  # fmt: skip
def test_same_late_jump_p_value_as_nuts(counts, chance):
    triplet = _triplet(counts, 200, chance)
    config = MetaConfig(seed=3, broken=False, draws=1000, chains=2)
    grid = fit_triplet(triplet, MetaConfig(**{**config.to_dict(), "sampler": "grid"}))
    nuts = fit_triplet(triplet, config)
    assert grid["class"] == nuts["class"]
    assert abs(grid["p_late"] - nuts["p_late"]) < 0.03
    assert abs(grid["ppp"] - nuts["ppp"]) < 0.05
