"""The smooth law of a proportion, sampled on a grid instead of by NUTS.

The power law of a proportion (:mod:`mirage_bayes.models.aggregate`) has two parameters, the
intercept ``a`` and the slope ``β``, so its posterior can be computed outright: the log
posterior (normal priors plus the binomial log-likelihood of every size) on a square grid, the
grid moved in on the region that holds the mass until that region spans most of it, and the
draws taken cell by cell in proportion to the posterior mass, each placed uniformly within its
cell. There is no Markov chain: the draws are independent, nothing is compiled, and a curve
whose smaller sizes sit flat at chance (where the slope is free and the posterior is a wide
plateau against the prior, the geometry NUTS likes least) is as easy as any other.

``mirage-bayes fit`` uses it for its late-jump check (:mod:`mirage_bayes.fitting.late_check`):
with NUTS, most of that check's time was nutpie compiling its model with Numba, once per process.
"""

from __future__ import annotations

import numpy as np

from mirage_bayes.fitting.inference import Diagnostics
from mirage_bayes.models.aggregate import eta_draws, line_prior, pointwise_loglik
from mirage_bayes.settings import SMOOTH_TREND

__all__ = ["GRID_POINTS", "grid_posterior", "log_posterior"]

GRID_POINTS = 201  # per axis, at first
MAX_POINTS = 1001  # per axis, where the mass needs finer cells
TARGET_CELLS = 2000.0  # cells the mass should spread over (1 / Σ p²): a resolved posterior
# Cells below the peak's log density minus this hold less than e^-30 of it each: the region
# above it is where the mass is.
LOG_DENSITY_SPAN = 30.0
PRIOR_SDS = 12.0  # the first grid: each prior's mean ± this many standard deviations
MIN_CELLS = 40  # zoom in while the mass region spans fewer cells than this along an axis
MAX_ZOOMS = 10


def log_posterior(a: np.ndarray, beta: np.ndarray, data: dict[str, np.ndarray]) -> np.ndarray:
    """Unnormalized log posterior of ``(a, β)`` pairs (``-inf`` where it is not finite)."""
    (a_mu, a_sd), (b_mu, b_sd) = line_prior("proportion")
    posterior = {"a": a, "beta": beta}
    eta = eta_draws("proportion", SMOOTH_TREND, posterior, data)
    loglik = pointwise_loglik("proportion", eta, posterior, data).sum(axis=1)
    prior = -0.5 * (((a - a_mu) / a_sd) ** 2 + ((beta - b_mu) / b_sd) ** 2)
    out = loglik + prior
    return np.where(np.isfinite(out), out, -np.inf)


def _grid(low: np.ndarray, high: np.ndarray, points: int, data: dict[str, np.ndarray]):
    axes = [np.linspace(lo, hi, points) for lo, hi in zip(low, high, strict=True)]
    a, beta = np.meshgrid(*axes, indexing="ij")
    return axes, log_posterior(a.ravel(), beta.ravel(), data).reshape(a.shape)


def grid_posterior(
    data: dict[str, np.ndarray], draws: int, rng: np.random.Generator
) -> tuple[dict[str, np.ndarray], Diagnostics]:
    """Independent draws of ``a`` and ``β`` of a proportion's power law, from a grid.

    Parameters
    ----------
    data
        The curve as :func:`mirage_bayes.meta.fit.model_data` gives it (``x``, ``x_center``,
        ``k``, ``n``, ``chance``).
    draws
        Number of draws.
    rng
        Random stream for the draws.

    Returns
    -------
    (dict, Diagnostics)
        Draws of ``a`` and ``beta``; diagnostics with r̂ 1, no divergences and, in place of the
        bulk ESS, the number of grid cells the mass is spread over (``1 / Σ p²``, at most
        ``draws``): below 400 the grid did not resolve the posterior.
    """
    (a_mu, a_sd), (b_mu, b_sd) = line_prior("proportion")
    low = np.array([a_mu - PRIOR_SDS * a_sd, b_mu - PRIOR_SDS * b_sd])
    high = np.array([a_mu + PRIOR_SDS * a_sd, b_mu + PRIOR_SDS * b_sd])
    points = GRID_POINTS
    for _ in range(MAX_ZOOMS):
        axes, log_density = _grid(low, high, points, data)
        if not np.isfinite(log_density).any():
            empty = {"a": np.full(draws, np.nan), "beta": np.full(draws, np.nan)}
            return empty, Diagnostics(max_rhat=float("nan"), min_ess_bulk=0.0, divergences=0)
        inside = np.argwhere(log_density > log_density.max() - LOG_DENSITY_SPAN)
        first, last = inside.min(axis=0), inside.max(axis=0)
        cells = _spread(log_density)
        if (last - first + 1 >= MIN_CELLS).all() and cells >= TARGET_CELLS:
            break
        # One cell of margin on each side keeps the edge of the mass inside the new grid; a
        # region that already spans the grid needs finer cells, not a smaller box.
        step = (high - low) / (points - 1)
        low, high = low + (first - 1) * step, low + (last + 1) * step
        if (last - first + 1 >= MIN_CELLS).all():
            points = min(MAX_POINTS, int(points * np.sqrt(TARGET_CELLS / cells) * 1.2) + 1)
    weights = np.exp(log_density - log_density.max()).ravel()
    weights /= weights.sum()
    cells = rng.choice(weights.size, size=draws, p=weights)
    i, j = np.unravel_index(cells, log_density.shape)
    steps = [axis[1] - axis[0] for axis in axes]
    jitter = rng.uniform(-0.5, 0.5, size=(2, draws))
    posterior = {
        "a": axes[0][i] + jitter[0] * steps[0],
        "beta": axes[1][j] + jitter[1] * steps[1],
    }
    spread = min(float(draws), _spread(log_density))
    return posterior, Diagnostics(max_rhat=1.0, min_ess_bulk=spread, divergences=0)


def _spread(log_density: np.ndarray) -> float:
    """How many cells the mass is spread over: ``1 / Σ p²``."""
    weights = np.exp(log_density - log_density.max())
    return float(weights.sum() ** 2 / np.sum(weights**2))
