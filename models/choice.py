"""The model of multiple-choice tasks: the probability on the correct choice, per item and scale.

Observation. For item ``i`` at scale ``s`` the data are the model's log-probabilities of the
choices; softmax-normalised over the choices they give ``q_is``, the probability on the correct
choice, and its cross-entropy ``L_CE = −log q_is``. The model describes ``y_is = log L_CE``:

``y_is = μ_s + u_i + e_is``,  ``u_i ~ Normal(0, σ_item)``,  ``e_is ~ Normal(0, σ_obs)``,

``μ_s = log(−log(c + (1 − c)·exp(−exp(η(x_s)))))`` (:func:`guessing_log_ce`).

Guessing. The trend ``η(x)`` is the log cross-entropy of the model's *skill*; a model without
the skill still guesses, and puts about ``c = 1/K`` on the correct choice. Without this floor a
curve that sits at chance for the small sizes and then rises is not one power law in
``−log q`` (flat, then falling), and the broken law wins by hundreds of ELPD on data whose
logit margin grows smoothly in log N (``validation/run_margin_check.py``). Where the skill is
well above chance ``μ ≈ η + log(1 − c)``, the same power law shifted.

Why this link. ``log L_CE`` is the quantity the paper's mathematical model makes linear in log
size (``L_CE = (N/c)^α``), so the trend families of :mod:`.trends`, their priors and their
natural parameters (α and c of the power law, Caballero et al.'s parameters of the broken power
law) carry over unchanged: the generation model's η is the log cross-entropy of a token, this one
is the log cross-entropy of the correct choice. It maps ``(0, 1)`` onto the real line, with
``q = exp(−exp(y))`` rising as ``y`` falls, and its Gaussian noise keeps item effects in closed
form. A Beta likelihood on ``q`` would be the alternative; it needs the item effects integrated
numerically and has no such link to the scaling law.

Item effects. ``u_i`` is shared across the scales an item was evaluated at (item ids link them),
so an item's observations are one multivariate normal with covariance
``σ_obs²·I + σ_item²·11ᵀ``. Its log-density has a closed form (matrix determinant lemma and
Sherman–Morrison), written with the item's residual sum ``s1`` and sum of squares ``s2``:

``log p(y_i) = −½ [n log 2π + (n − 1) log σ_obs² + log(σ_obs² + n σ_item²)
+ (s2 − σ_item² s1² / (σ_obs² + n σ_item²)) / σ_obs²]``.

NUTS then samples only the trend parameters and the two spreads, and the pointwise
log-likelihood for LOO is the item's marginal one (leave-one-item-out), as for generation tasks.
When no item is seen at two scales, ``σ_item`` and ``σ_obs`` cannot be told apart and only
``σ_obs`` (the total spread) is fitted.

Propagation. Grade and Brier score depend on ``q`` and on how the wrong mass ``1 − q`` is split:
with ``m`` the largest wrong share and ``h`` the sum of squared wrong shares, the item is right
iff ``q > (1 − q)·m`` — iff ``y < log(−log(m/(1 + m)))`` — and its Brier score is
``(1 − q)²·(1 + h)``. The expected metrics at a scale are those of a new item from the
population: ``y ~ Normal(μ(x), τ)`` with ``τ² = σ_item² + σ_obs²``, its wrong mass split like
one of the test set's items at that scale (drawn uniformly: the observed shapes are the model of
the split), independently of ``y``. These expectations are what a posterior predictive simulation
of items would estimate; they are computed exactly instead, the grade as an average of normal
probabilities over the observed thresholds and ``E[q]``, ``E[(1 − q)²]`` by quadrature.
"""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from scipy.special import ndtr

from mirage_bayes.models.generation import population_grid
from mirage_bayes.models.protocols import ChoiceData
from mirage_bayes.models.trends import Trend

LOG_2PI = float(np.log(2 * np.pi))


def guessing_log_ce(eta, chance: float, *, tensor: bool = False):
    """``log L_CE`` of the correct choice for a model whose skill has log cross-entropy ``η``.

    A model that cannot do the task still guesses: the probability on the correct choice is
    ``q = c + (1 − c)·exp(−exp(η))`` with ``c`` the chance level, so ``L_CE = −log q`` rises
    with ``η`` to the ceiling ``−log c`` (``log K``) instead of without bound. Small ``λ = e^η``:
    ``L_CE = λ − log1p(c·expm1(λ))``; large: ``−log c − log1p((1 − c)/c · e^−λ)``; each branch
    sees ``λ`` clipped to its side of 1, so neither overflows (nor its gradient) where unused.
    NumPy, or PyTensor with ``tensor=True``.
    """
    lib = pt if tensor else np
    lam = lib.exp(lib.minimum(eta, 30.0))  # beyond, q is c to double precision: flat
    small = lib.minimum(lam, 1.0)
    large = lib.maximum(lam, 1.0)
    near = small - lib.log1p(chance * lib.expm1(small))
    far = -np.log(chance) - lib.log1p((1.0 - chance) / chance * lib.exp(-large))
    if tensor:
        return pt.log(pt.switch(lam < 1.0, near, far))
    return np.log(np.where(lam < 1.0, near, far))


def _item_loglik(log, n, s1, s2, var_item, var_obs):
    """The closed-form marginal log-density of one item (module docstring); NumPy or PyTensor."""
    total = var_obs + n * var_item
    quad = (s2 - var_item * s1**2 / total) / var_obs
    return -0.5 * (n * LOG_2PI + (n - 1) * log(var_obs) + log(total) + quad)


def _sufficient(data: ChoiceData) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Mask, masked observations, and per item their count and sum of squares."""
    mask = data.observed.astype(np.float64)
    y = np.where(data.observed, data.log_ce, 0.0)
    return mask, y, mask.sum(1), (y**2).sum(1)


def _pattern_statistics(data: ChoiceData) -> dict[str, np.ndarray]:
    """What the summed log-likelihood needs, per scale and per pattern of observed scales.

    Items evaluated at the same scales (usually all items) share ``n`` and ``Σ_s μ_s``, so the
    total over items needs only, per pattern ``p``: its scales, item count ``c_p``, and the sum
    and sum of squares over its items of ``Y_i = Σ_s y_is``; per scale: ``Σ_i y``, ``Σ_i y²`` and
    the number of items. The sampler's cost then no longer grows with the number of items.
    """
    mask, y, _, _ = _sufficient(data)
    patterns, inverse = np.unique(mask, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    totals = y.sum(1)
    return {
        "pattern_scales": patterns,
        "pattern_items": np.bincount(inverse, minlength=len(patterns)).astype(np.float64),
        "pattern_sum": np.bincount(inverse, totals, minlength=len(patterns)),
        "pattern_sum_sq": np.bincount(inverse, totals**2, minlength=len(patterns)),
        "scale_sum": y.sum(0),
        "scale_sum_sq": (y**2).sum(0),
        "scale_items": mask.sum(0),
    }


def total_log_likelihood(stats: dict[str, np.ndarray], mu, var_item, var_obs):
    """Σ over items of the closed-form marginal log-density (module docstring), in PyTensor.

    With ``M_p = Σ_{s in p} μ_s``: ``Σ_i s2_i = Σ_s (Σy² − 2μ_s Σy + μ_s² n_s)`` and, within a
    pattern, ``Σ s1² = ΣY² − 2 M_p ΣY + c_p M_p²``.
    """
    n = stats["pattern_scales"].sum(1)
    count = stats["pattern_items"]
    level = (stats["pattern_scales"] * mu[None, :]).sum(1)
    s1_sq = stats["pattern_sum_sq"] - 2 * level * stats["pattern_sum"] + count * level**2
    s2 = (stats["scale_sum_sq"] - 2 * mu * stats["scale_sum"] + mu**2 * stats["scale_items"]).sum()
    total = var_obs + n * var_item
    log_det = count * (n * LOG_2PI + (n - 1) * pt.log(var_obs) + pt.log(total))
    return -0.5 * (log_det.sum() + s2 / var_obs - (var_item / var_obs) * (s1_sq / total).sum())


def build_choice_model(data: ChoiceData, trend: Trend) -> pm.Model:
    """The PyMC model of one multiple-choice task under one trend.

    Parameters
    ----------
    data
        The task's ``log L_CE`` of the correct choice per item and scale.
    trend
        Curve ``η(x)`` of the skill's ``log L_CE`` in standardized log size; the mean of the
        observed ``log L_CE`` is ``μ = guessing_log_ce(η, chance)``, which levels off at the
        chance level of the task (mean ``1/K``) where the skill is gone.
    """
    stats = _pattern_statistics(data)
    with pm.Model(coords={"scale": data.models}) as model:
        skill = trend.build(pt.as_tensor(data.x), data.n_scales)
        eta = pm.Deterministic("eta", skill, dims="scale")
        mu = pm.Deterministic("mu", guessing_log_ce(eta, data.chance, tensor=True), dims="scale")
        sigma_obs = pm.HalfNormal("sigma_obs", 1.0)
        if data.item_effects:
            var_item = pm.HalfNormal("sigma_item", 1.0) ** 2
        else:
            var_item = pt.constant(0.0)
        pm.Potential("item_loglik", total_log_likelihood(stats, mu, var_item, sigma_obs**2))
    return model


# --- NumPy counterparts, evaluated on posterior draws after sampling --------------------------


def _residual_sums(data: ChoiceData, mu: np.ndarray):
    """``n``, ``s1``, ``s2`` per item for every draw: shapes ``(items, 1)``, ``(items, draws)``."""
    mask, y, n, y2 = _sufficient(data)
    mu_t = np.asarray(mu, dtype=np.float64).T  # (scales, draws)
    s1 = y.sum(1)[:, None] - mask @ mu_t
    s2 = y2[:, None] - 2 * (y @ mu_t) + mask @ mu_t**2
    return n[:, None], s1, s2


# Named and shaped as models.generation.item_log_likelihood: LOO reads either kind alike.
def item_log_likelihood(
    data: ChoiceData, mu: np.ndarray, sigma_item: np.ndarray, sigma_obs: np.ndarray
) -> np.ndarray:
    """Marginal log-likelihood of every item's observations for every draw: ``(draws, items)``.

    Parameters
    ----------
    data
        The task.
    mu
        ``(draws, scales)`` trend values at the observed scales.
    sigma_item, sigma_obs
        ``(draws,)`` spreads (``sigma_item`` zeros when there are no item effects).
    """
    n, s1, s2 = _residual_sums(data, mu)
    var_item = np.asarray(sigma_item, dtype=float) ** 2
    var_obs = np.asarray(sigma_obs, dtype=float) ** 2
    return _item_loglik(np.log, n, s1, s2, var_item, var_obs).T


def item_effect_posterior(
    data: ChoiceData, mu: np.ndarray, sigma_item: np.ndarray, sigma_obs: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance of each item's effect ``u_i`` given the draw: ``(draws, items)`` each.

    Normal–normal conjugacy: precision ``1/σ_item² + n/σ_obs²``, mean ``s1/σ_obs²`` over it.
    """
    n, s1, _ = _residual_sums(data, mu)
    var_item = np.asarray(sigma_item, dtype=float) ** 2
    var_obs = np.asarray(sigma_obs, dtype=float) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        variance = np.where(var_item > 0, 1.0 / (1.0 / var_item + n / var_obs), 0.0)
    return (variance * s1 / var_obs).T, np.broadcast_to(variance, s1.shape).T


def posterior_predictive_log_ce(
    data: ChoiceData,
    mu: np.ndarray,
    sigma_item: np.ndarray,
    sigma_obs: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Replicated ``log L_CE`` ``(draws, items, scales)`` of the items as observed (NaN where an
    item was not evaluated at a scale); each item's effect is drawn from its conditional
    posterior, so replicates respect what the item showed. Single precision: this array is the
    largest in the saved posterior and needs no more."""
    mean, variance = item_effect_posterior(data, mu, sigma_item, sigma_obs)
    u = mean + np.sqrt(variance) * rng.standard_normal(mean.shape)
    noise = rng.standard_normal((*mean.shape, data.n_scales))
    replicate = mu[:, None, :] + u[..., None] + np.asarray(sigma_obs)[:, None, None] * noise
    replicate[:, ~data.observed] = np.nan
    return replicate.astype(np.float32)


def grade_thresholds(max_wrong_share: np.ndarray) -> np.ndarray:
    """``log(−log t)`` with ``t = m/(1 + m)``: the item is graded right iff ``log L_CE`` is below.

    ``m`` lies in ``[1/(K − 1), 1]``, so ``t`` in ``[1/K, 1/2]`` and the threshold is finite.
    """
    m = np.asarray(max_wrong_share, dtype=float)
    return np.log(-np.log(m / (1.0 + m)))


def expected_grade(mu: np.ndarray, tau: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """``mean_j Φ((c_j − μ)/τ)``: the expected grade of a population item whose wrong mass is
    split like a test item drawn uniformly from those with thresholds ``c_j``.

    Parameters
    ----------
    mu
        ``(draws, points)`` trend values.
    tau
        ``(draws,)`` total spread ``sqrt(σ_item² + σ_obs²)``.
    thresholds
        ``(items,)`` thresholds from :func:`grade_thresholds`.
    """
    mu = np.asarray(mu, dtype=float)
    total = np.zeros(mu.shape)
    scale = np.asarray(tau, dtype=float)[:, None, None]
    for start in range(0, len(thresholds), 128):  # chunks bound the temporary's memory
        chunk = np.asarray(thresholds[start : start + 128], dtype=float)
        total += ndtr((chunk[None, None, :] - mu[..., None]) / scale).sum(-1)
    return total / max(len(thresholds), 1)


def expected_q_moments(
    mu: np.ndarray, tau: np.ndarray, n_nodes: int = 161
) -> dict[str, np.ndarray]:
    """``E[q]`` and ``E[(1 − q)²]`` for ``log L_CE ~ Normal(μ, τ)``, ``q = exp(−L_CE)``: ``(draws,
    points)`` each, by the trapezoid rule on ±5.5 standard deviations (as the generation model)."""
    nodes, w = population_grid(n_nodes)
    eta = (
        np.asarray(mu, dtype=float)[..., None] + np.asarray(tau, dtype=float)[:, None, None] * nodes
    )
    q = np.exp(-np.exp(eta))
    return {"p_correct": q @ w, "wrong_squared": (1.0 - q) ** 2 @ w}
