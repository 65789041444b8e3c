"""Aggregate-level scaling models of one (family, task, metric) curve, for ``mirage-bayes meta``.

Unlike :mod:`.generation`, which sees every test item, these models see one number per model
size. Sizes enter as ``x``, log10 N standardized so the observed range spans [−1, 1] (as in
:mod:`.trends`), which lets one set of priors serve every family.

Proportions (accuracy, exact match, multiple-choice grade over ``n`` items)::

    k_s ~ Binomial(n_s, p_s),   p_s = c + (1 − c) · exp(−exp(η_s))

``η`` is the complementary log-log of the above-chance error, ``c`` the chance level (0 for a
generative task). ``exp(η) = L`` plays the part of the paper's cross-entropy: a power law
``L = (N/c0)^α`` is ``η`` linear in ``x`` — the smooth null. That null includes steep
(Gompertz-shaped) accuracy curves: a sharp-looking curve is *not* evidence against it unless its
shape is one a single power law cannot make.

Continuous metrics (BLEU, edit distance, Brier score): the curve is standardized (``z``: mean 0,
sd 1 over scales, oriented so that better is up) and ``z_s ~ Normal(μ_s, σ)`` with ``σ`` the
estimated noise scale, ``μ`` linear in ``x`` for the smooth law.

Trends of ``η`` (or ``μ``):

* ``power_law``: ``a + β·x``.
* ``broken_power_law``: ``a + β·x + δ·f·[softplus((x − x_b)/f) − softplus(−x_b/f)]``, Caballero
  et al.'s smoothly broken power law in :mod:`.trends`' parametrization (the sampler sees the
  departure of the largest size from the unbroken line, which sets ``δ``). The sharpness is
  fixed at ``f = 0.25`` half-ranges, about one step between observed sizes: one curve of 5–12
  points cannot tell a sharper kink from this one, and with a free ``f`` NUTS diverged in most
  fits of simulated smooth and sharp curves and ran markedly slower.

The intercept ``a`` is ``η`` at ``x_c``, where the data pin the curve down
(:func:`information_center`; for an accuracy that is 0 at every size but the last two it lies
near the top of the range), so ``a`` and ``β`` are close to uncorrelated in the posterior: with
``a`` at the middle of the range, such curves made them nearly collinear and NUTS needed a
low-rank mass matrix and about three times the steps.

Priors (weakly informative; wider than ``fit``'s item-level ones because one aggregate curve may
legitimately be steep): ``a ~ N(0, 2)``, ``β ~ N(−1, 2.5)`` (proportions) or ``a ~ N(0, 1)``,
``β ~ N(0, 1.5)``, ``σ ~ HalfNormal(1)`` (continuous); ``departure ~ N(0, 2.5)`` (proportions)
or ``N(0, 1.5)`` (continuous), ``x_b ~ Uniform(−1.25, 1.25)``.

Why ``pm.Data`` and no deterministics: the model is compiled once (nutpie, Numba backend) and
reused for every triplet through ``with_data``. PyTensor gives shared variables a dynamic
length, so curves with any number of scales share one compiled function without padding; what
depends on the data (means, pointwise log-likelihood, replicates) is computed afterwards from the
draws in NumPy (:func:`eta_draws`, :func:`pointwise_loglik`).
"""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from scipy import stats
from scipy.special import gammaln

from mirage_bayes.models.trends import softplus

KINDS = ("proportion", "continuous")
AGGREGATE_TRENDS = ("power_law", "broken_power_law")
MIN_SCALES = {"power_law": 3, "broken_power_law": 5}
BREAK_SHARPNESS = 0.25  # f of the broken power law, in half-ranges of x (see the module text)

# Priors per kind: (a mean, a sd, beta mean, beta sd, departure sd).
_PRIORS = {"proportion": (0.0, 2.0, -1.0, 2.5, 2.5), "continuous": (0.0, 1.0, 0.0, 1.5, 1.5)}


def parameter_names(kind: str, trend: str) -> tuple[str, ...]:
    """The sampled parameters of a model (what the diagnostics look at)."""
    names = ("a", "beta") if trend == "power_law" else ("a", "beta", "departure", "x_break")
    return names + (("sigma",) if kind == "continuous" else ())


def line_prior(kind: str) -> tuple[tuple[float, float], tuple[float, float]]:
    """``((a mean, a sd), (beta mean, beta sd))``: the normal priors of the line's intercept and
    slope, for samplers that evaluate the posterior outside PyMC."""
    a_mu, a_sd, b_mu, b_sd, _ = _PRIORS[kind]
    return (a_mu, a_sd), (b_mu, b_sd)


def kink(x, x_break, f, softplus_fn):
    """``f·[softplus((x − x_b)/f) − softplus(−x_b/f)]``: 0 at x = 0, slope 0 before, 1 after."""
    return f * (softplus_fn((x - x_break) / f) - softplus_fn(-x_break / f))


def build_model(kind: str, trend: str, n_scales: int = 8) -> pm.Model:
    """The PyMC model of one curve, with its data as ``pm.Data`` placeholders.

    Parameters
    ----------
    kind
        ``"proportion"`` (data ``x``, ``k``, ``n``, ``chance``) or ``"continuous"``
        (data ``x``, ``z``).
    trend
        ``"power_law"`` or ``"broken_power_law"``.
    n_scales
        Length of the placeholder data; any length can be set later.

    Returns
    -------
    pymc.Model
    """
    if kind not in KINDS or trend not in AGGREGATE_TRENDS:
        raise ValueError(f"unknown model {kind}/{trend}")
    with pm.Model() as model:
        x = pm.Data("x", np.linspace(-1.0, 1.0, n_scales))
        x_center = pm.Data("x_center", np.zeros(1))
        eta = declare_curve(trend, x, x_center, _PRIORS[kind])
        if kind == "proportion":
            k = pm.Data("k", np.zeros(n_scales))
            n = pm.Data("n", np.full(n_scales, 100.0))
            chance = pm.Data("chance", np.zeros(1))
            pm.Potential("likelihood", _binomial_kernel(eta, k, n, chance[0]).sum())
        else:
            z = pm.Data("z", np.zeros(n_scales))
            sigma = pm.HalfNormal("sigma", 1.0)
            pm.Potential("likelihood", pm.logp(pm.Normal.dist(eta, sigma), z).sum())
    return model


def declare_curve(trend: str, x, x_center, priors: tuple[float, ...]):
    """Declare, in the current PyMC model, the line ``a + β·(x − x_c)`` and for the broken law
    its kink, with ``priors`` ``(a mean, a sd, β mean, β sd, departure sd)``; return the curve.
    Shared by every metric family of ``meta`` (:mod:`mirage_bayes.meta.laws`)."""
    a_mu, a_sd, b_mu, b_sd, dep_sd = priors
    a = pm.Normal("a", a_mu, a_sd)
    beta = pm.Normal("beta", b_mu, b_sd)
    eta = a + beta * (x - x_center[0])
    if trend == "broken_power_law":
        departure = pm.Normal("departure", 0.0, dep_sd)
        x_break = pm.Uniform("x_break", -1.25, 1.25)
        delta = departure / kink(1.0, x_break, BREAK_SHARPNESS, pt.softplus)
        eta = eta + delta * kink(x, x_break, BREAK_SHARPNESS, pt.softplus)
    return eta


def _binomial_kernel(eta, k, n, chance):
    """``k·log p + (n − k)·log(1 − p)`` without the binomial coefficient, stable in the tails.

    ``log p = logaddexp(log c, log(1 − c) − e^η)`` never underflows to −inf (p ≥ c, and with
    c = 0 the tiny floor 1e-300 stands in, far below any probability a count can resolve);
    ``log(1 − p) = log(1 − c) + log(1 − exp(−e^η))``.
    """
    hazard = pt.exp(eta)
    floor = pt.maximum(chance, 1e-300)
    log_p = pt.logaddexp(pt.log(floor), pt.log1p(-chance) - hazard)
    log_q = pt.log1p(-chance) + pt.log1mexp(-hazard)
    return k * log_p + (n - k) * log_q


def information_center(kind: str, data: dict[str, np.ndarray]) -> float:
    """Where along ``x`` the data pin the curve down: the centre ``x_c`` of the intercept.

    For a proportion, the mean of ``x`` weighted by ``k̃(n − k̃)/n`` with ``k̃ = k + ½`` (about
    the binomial information at each size); for a continuous curve, the mean of ``x``.
    """
    x = np.asarray(data["x"], dtype=float)
    if kind != "proportion":
        return float(x.mean())
    k, n = data["k"] + 0.5, data["n"] + 1.0
    weights = k * (n - k) / n
    return float((weights * x).sum() / weights.sum())


def eta_draws(kind: str, trend: str, posterior: dict[str, np.ndarray], data: dict[str, np.ndarray]):
    """η (proportions) or μ (continuous) for every draw at the data's sizes: ``(draws, sizes)``."""
    x = np.asarray(data["x"], dtype=float)[None, :]
    a, beta = posterior["a"][:, None], posterior["beta"][:, None]
    eta = a + beta * (x - float(data["x_center"][0]))
    if trend == "broken_power_law":
        dep, xb = (posterior[p][:, None] for p in ("departure", "x_break"))
        f = BREAK_SHARPNESS
        delta = dep / kink(1.0, xb, f, softplus)
        eta = eta + delta * kink(x, xb, f, softplus)
    return eta


def success_probability(eta: np.ndarray, chance: float) -> np.ndarray:
    """``p = c + (1 − c)·exp(−exp(η))``."""
    return chance + (1.0 - chance) * np.exp(-np.exp(np.minimum(eta, 700.0)))


def pointwise_loglik(
    kind: str, eta: np.ndarray, posterior: dict[str, np.ndarray], data: dict[str, np.ndarray]
) -> np.ndarray:
    """Log-likelihood of each scale's observation for every draw: ``(draws, scales)``.

    The binomial coefficient is included, so the values are proper log densities of the counts.
    """
    if kind == "proportion":
        # The same tail-stable form as the sampled kernel: p itself underflows to 0 (or rounds
        # to 1) for steep curves, which made PSIS-LOO return NaN.
        chance = float(data["chance"][0])
        k, n = data["k"][None, :], data["n"][None, :]
        hazard = np.exp(np.minimum(eta, 700.0))
        log_p = np.logaddexp(np.log(max(chance, 1e-300)), np.log1p(-chance) - hazard)
        with np.errstate(divide="ignore"):
            log_q = np.log1p(-chance) + np.log(-np.expm1(-np.maximum(hazard, 1e-300)))
        log_choose = gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1)
        return log_choose + k * log_p + (n - k) * log_q
    sigma = posterior["sigma"][:, None]
    return stats.norm.logpdf(data["z"][None, :], eta, sigma)


def replicate(
    kind: str,
    eta: np.ndarray,
    posterior: dict[str, np.ndarray],
    data: dict[str, np.ndarray],
    rng: np.random.Generator,
) -> np.ndarray:
    """One posterior predictive curve per draw at the observed test-set sizes: ``(draws, scales)``.

    Proportions come back as ``k_rep / n`` (the same finite-``n`` resolution as the data);
    continuous curves on the standardized scale.
    """
    if kind == "proportion":
        p = success_probability(eta, float(data["chance"][0]))
        n = data["n"].astype(np.int64)
        return rng.binomial(n[None, :], p) / n[None, :]
    sigma = posterior["sigma"][:, None]
    return eta + sigma * rng.standard_normal(eta.shape)
