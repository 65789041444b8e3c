"""The smooth and broken scaling laws of ``mirage-bayes meta``, per metric family.

Three families of metric, each with its own smooth null (the ``power_law`` trend) and a broken
alternative (``broken_power_law``, Caballero et al.'s smoothly broken form with the sharpness
fixed at about one step between sizes, as in :mod:`mirage_bayes.models.aggregate`). Sizes enter
as ``x``: log10 of the size axis standardized so the observed range spans [−1, 1].

``proportion`` (accuracy, exact match, multiple-choice grade over ``n`` items; the models of
:mod:`mirage_bayes.models.aggregate`, used as they are)::

    k_s ~ Binomial(n_s, p_s),   p_s = c + (1 − c)·exp(−exp(η_s)),   η = a + β·(x − x_c)

``continuous`` (bounded scores: BLEU, ROUGE, BERTScore, F1, ...). The curve is standardized,
``z = (y − mean y) / scale`` with ``scale = max(sd y, noise floor)``, oriented so that better is
up, and::

    z_s ~ Normal(a + β·(x − x_c), sqrt(σ² + f_s²))

where ``f_s`` is the noise floor of size ``s`` on the same scale: the ``stderr`` column where the
table has one, else the scatter estimated from the table
(:func:`mirage_bayes.meta.classify.pooled_floor`), never a fixed fraction of the curve's range.
A curve that moves by less than its noise floor stays small on this scale, and the extra noise
``σ ~ HalfNormal(1)`` absorbs what the floor misses.

``loss`` (perplexity, bits per byte, cross-entropy: lower is better). A power law with an
irreducible term, ``L = E + A·N^(−α)``, on the log scale::

    ℓ_s = log L_s − m ~ Normal(logaddexp(e, a + β·(x − x_c)), sqrt(σ² + f_s²))

with ``m`` the mean log loss, ``e = log E − m`` the irreducible loss, ``f_s`` the relative noise
floor (``stderr / L`` or estimated) and priors ``a ~ N(0, 2)``, ``β ~ N(−1, 2)``,
``e ~ N(−2, 2)``, ``σ ~ HalfNormal(0.5)``. An exact power law in perplexity is a straight line
here, so it is the null, not evidence against it.

Everything that depends on the data (curves at the sizes, pointwise log-likelihood, replicates)
is computed from the draws in NumPy, so one compiled model per (kind, trend) serves every curve.
"""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from scipy import stats
from scipy.special import gammaln

from mirage_bayes.models import aggregate
from mirage_bayes.models.aggregate import AGGREGATE_TRENDS
from mirage_bayes.models.trends import softplus
from mirage_bayes.settings import BROKEN_TREND, SMOOTH_TREND

__all__ = [
    "KINDS",
    "MIN_SCALES",
    "build_model",
    "curve_draws",
    "information_center",
    "log_predictive",
    "parameter_names",
    "pointwise_loglik",
    "replicate",
    "to_oriented",
    "to_value",
]

KINDS = ("proportion", "continuous", "loss")
TRENDS = AGGREGATE_TRENDS
MIN_SCALES = dict(aggregate.MIN_SCALES)
BREAK_SHARPNESS = aggregate.BREAK_SHARPNESS

# (a mean, a sd, beta mean, beta sd, departure sd) of the continuous and loss models.
_PRIORS = {"continuous": (0.0, 1.0, 0.0, 1.5, 1.5), "loss": (0.0, 2.0, -1.0, 2.0, 2.0)}
LOSS_E_PRIOR = (-2.0, 2.0)  # irreducible loss, log units relative to the mean loss
LOSS_SIGMA_SCALE = 0.5
CONTINUOUS_SIGMA_SCALE = 1.0


def parameter_names(kind: str, trend: str) -> tuple[str, ...]:
    """The sampled parameters of a model."""
    if kind == "proportion":
        return aggregate.parameter_names(kind, trend)
    names = ("a", "beta") if trend == SMOOTH_TREND else ("a", "beta", "departure", "x_break")
    return names + (("e",) if kind == "loss" else ()) + ("sigma",)


def build_model(kind: str, trend: str, n_scales: int = 8) -> pm.Model:
    """The PyMC model of one curve, as :func:`mirage_bayes.models.aggregate.build_model` (which
    builds the proportions' model), for ``kind`` ``"continuous"`` with a per-size noise
    ``floor`` (data ``x``, ``x_center``, ``z``, ``floor``) and ``"loss"`` (``ell`` instead of
    ``z``, an irreducible loss ``e`` added on the log scale)."""
    if kind not in KINDS or trend not in TRENDS:
        raise ValueError(f"unknown model {kind}/{trend}")
    if kind == "proportion":
        return aggregate.build_model(kind, trend, n_scales)
    with pm.Model() as model:
        x = pm.Data("x", np.linspace(-1.0, 1.0, n_scales))
        x_center = pm.Data("x_center", np.zeros(1))
        floor = pm.Data("floor", np.full(n_scales, 0.1))
        y = pm.Data("ell" if kind == "loss" else "z", np.zeros(n_scales))
        eta = aggregate.declare_curve(trend, x, x_center, _PRIORS[kind])
        if kind == "loss":
            e = pm.Normal("e", *LOSS_E_PRIOR)
            eta = pt.logaddexp(e, eta)
        scale = LOSS_SIGMA_SCALE if kind == "loss" else CONTINUOUS_SIGMA_SCALE
        sigma = pm.HalfNormal("sigma", scale)
        total = pt.sqrt(sigma**2 + floor**2)
        pm.Potential("likelihood", pm.logp(pm.Normal.dist(eta, total), y).sum())
    return model


def information_center(kind: str, data: dict[str, np.ndarray]) -> float:
    """Where along ``x`` the data pin the curve down (the centre of the intercept ``a``)."""
    if kind == "proportion":
        return aggregate.information_center(kind, data)
    return float(np.mean(np.asarray(data["x"], dtype=float)))


def curve_draws(
    kind: str, trend: str, posterior: dict[str, np.ndarray], data: dict[str, np.ndarray]
) -> np.ndarray:
    """The fitted curve for every draw at the data's sizes, ``(draws, sizes)``, on the model's
    scale: ``η`` (proportions), ``μ`` of ``z`` (continuous) or of ``ℓ`` (loss)."""
    if kind == "proportion":
        return aggregate.eta_draws(kind, trend, posterior, data)
    x = np.asarray(data["x"], dtype=float)[None, :]
    a, beta = posterior["a"][:, None], posterior["beta"][:, None]
    eta = a + beta * (x - float(data["x_center"][0]))
    if trend == BROKEN_TREND:
        dep, xb = (posterior[p][:, None] for p in ("departure", "x_break"))
        delta = dep / aggregate.kink(1.0, xb, BREAK_SHARPNESS, softplus)
        eta = eta + delta * aggregate.kink(x, xb, BREAK_SHARPNESS, softplus)
    if kind == "loss":
        eta = np.logaddexp(posterior["e"][:, None], eta)
    return eta


def _total_sd(posterior: dict[str, np.ndarray], data: dict[str, np.ndarray]) -> np.ndarray:
    return np.sqrt(posterior["sigma"][:, None] ** 2 + np.asarray(data["floor"])[None, :] ** 2)


def pointwise_loglik(
    kind: str, curve: np.ndarray, posterior: dict[str, np.ndarray], data: dict[str, np.ndarray]
) -> np.ndarray:
    """Log density of each size's observation for every draw: ``(draws, sizes)``."""
    if kind == "proportion":
        return aggregate.pointwise_loglik(kind, curve, posterior, data)
    observed = data["ell" if kind == "loss" else "z"][None, :]
    return stats.norm.logpdf(observed, curve, _total_sd(posterior, data))


# The signature mirrors models.aggregate.replicate, to which proportions are handed on.
def replicate(
    kind: str,
    curve: np.ndarray,
    posterior: dict[str, np.ndarray],
    data: dict[str, np.ndarray],
    rng: np.random.Generator,
) -> np.ndarray:
    """One posterior predictive curve per draw, ``(draws, sizes)``, on the model's data scale:
    ``k/n`` (proportions, at the observed test-set sizes), ``z`` or ``ℓ``."""
    if kind == "proportion":
        return aggregate.replicate(kind, curve, posterior, data, rng)
    return curve + _total_sd(posterior, data) * rng.standard_normal(curve.shape)


def to_value(kind: str, model_scale: np.ndarray, data: dict[str, np.ndarray]) -> np.ndarray:
    """Replicates (or fitted curves) back on the analysis scale, better upwards.

    Proportions: the proportion itself (pass ``k/n`` or ``p``); continuous: the oriented score
    (``z·scale + centre``); loss: minus the log loss (``−(ℓ + m)``).
    """
    if kind == "proportion":
        return model_scale
    center, scale = float(data["center"][0]), float(data["scale"][0])
    if kind == "continuous":
        return model_scale * scale + center
    return -(model_scale + center)


def to_oriented(kind: str, model_scale: np.ndarray, data: dict[str, np.ndarray]) -> np.ndarray:
    """Replicates on the scale of the emergence score: ``k/n``, the oriented score, ``−L``."""
    if kind == "loss":
        return -np.exp(model_scale + float(data["center"][0]))
    return to_value(kind, model_scale, data)


def fitted_value(kind: str, curve: np.ndarray, data: dict[str, np.ndarray]) -> np.ndarray:
    """The fitted curve (``curve_draws``) on the analysis scale (see :func:`to_value`)."""
    if kind == "proportion":
        return aggregate.success_probability(curve, float(data["chance"][0]))
    return to_value(kind, curve, data)


def log_predictive(
    kind: str,
    observed: np.ndarray,
    curve: np.ndarray,
    posterior: dict[str, np.ndarray],
    data: dict[str, np.ndarray],
) -> np.ndarray:
    """``log p(y_r | θ_d)`` summed over sizes, for every curve ``r`` and draw ``d``: ``(R, D)``.

    ``observed`` (``(R, sizes)``) is on the model's data scale: counts ``k`` for a proportion
    (with ``data["n"]``), ``z`` or ``ℓ`` otherwise; ``curve`` (``(D, sizes)``) is
    :func:`curve_draws` at the same sizes. Matrix products keep ``R × D`` cheap.
    """
    observed = np.atleast_2d(np.asarray(observed, float))
    if kind == "proportion":
        p = aggregate.success_probability(curve, float(data["chance"][0]))
        p = np.clip(p, 1e-300, 1.0 - 1e-16)
        n = np.asarray(data["n"], float)[None, :]
        log_choose = (gammaln(n + 1) - gammaln(observed + 1) - gammaln(n - observed + 1)).sum(1)
        return observed @ np.log(p).T + (n - observed) @ np.log1p(-p).T + log_choose[:, None]
    precision = 1.0 / _total_sd(posterior, data) ** 2  # (D, sizes)
    quadratic = -0.5 * (observed**2) @ precision.T + observed @ (curve * precision).T
    constant = (-0.5 * curve**2 * precision + 0.5 * np.log(precision / (2 * np.pi))).sum(1)
    return quadratic + constant[None, :]
