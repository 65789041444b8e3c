"""The priors' implied per-token error rates span (0, 1) without piling up at the edges."""

import numpy as np
import pytest

from mirage_bayes.fitting.priors import prior_predictive_epsilon


@pytest.mark.parametrize("trend", ["scale_free", "power_law", "broken_power_law"])
def test_prior_predictive_covers_the_unit_interval_without_edge_pileup(trend):
    eps = prior_predictive_epsilon(trend, n_scales=6, draws=1500, seed=3)
    assert eps.shape == (1500, 6)
    assert np.all((eps >= 0) & (eps <= 1))
    q05, q95 = np.quantile(eps, [0.05, 0.95])
    assert q05 < 0.05 and q95 > 0.85  # near 0 to near 1
    assert np.mean(eps < 0.01) < 0.10 and np.mean(eps > 0.99) < 0.10  # no edge pile-up
    # Every decile of (0, 1) gets some prior mass.
    counts, _ = np.histogram(eps, bins=10, range=(0, 1))
    assert counts.min() > 0.02 * eps.size
