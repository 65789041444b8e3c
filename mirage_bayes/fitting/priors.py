"""Prior predictive check of the trends: what per-token error rates do the priors imply?

A weakly informative prior should let ε range from near 0 to near 1 across the observed sizes
without piling up at either edge (a cloglog prior that is too wide puts most of its mass at
ε ≈ 0 and ε ≈ 1, which is informative in the wrong way).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt

from mirage_bayes.models import TRENDS
from mirage_bayes.models.generation import population_quantities

EDGE = 0.01  # ε below EDGE or above 1 − EDGE counts as "at an edge"


def prior_predictive_epsilon(
    trend: str, *, n_scales: int = 8, draws: int = 2000, seed: int = 0
) -> np.ndarray:
    """Population ε implied by the priors at ``n_scales`` sizes evenly spread over [-1, 1].

    Returns an array ``(draws, n_scales)``.
    """
    x = np.linspace(-1.0, 1.0, n_scales)
    with pm.Model(coords={"scale": [f"s{i}" for i in range(n_scales)]}) as model:
        mu = pm.Deterministic("mu", TRENDS[trend].build(pt.as_tensor(x), n_scales), dims="scale")
        pm.HalfNormal("sigma_item", 1.0)
        del mu
    prior = pm.sample_prior_predictive(draws=draws, model=model, random_seed=seed).prior
    mu_draws = prior["mu"].values.reshape(draws, n_scales)
    sigma = prior["sigma_item"].values.reshape(draws)
    return population_quantities(mu_draws, sigma, [1])["epsilon"]


def prior_predictive_table(*, n_scales: int = 8, draws: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Per trend: prior quantiles of ε and the share of draws at either edge."""
    rows = []
    for name in TRENDS:
        eps = prior_predictive_epsilon(name, n_scales=n_scales, draws=draws, seed=seed).ravel()
        q05, q50, q95 = np.quantile(eps, [0.05, 0.5, 0.95])
        rows.append(
            {
                "trend": name,
                "q05": q05,
                "median": q50,
                "q95": q95,
                "share_below_0.01": float(np.mean(eps < EDGE)),
                "share_above_0.99": float(np.mean(eps > 1 - EDGE)),
            }
        )
    return pd.DataFrame(rows)
