"""The per-token error model for generation tasks, with item difficulty integrated out.

For item ``i`` at scale ``s`` with ``T`` target tokens, ``n_errors ~ Binomial(T, r_si)`` with
``r = ε·(1 − g·ε^m)``, ``η_si = log L_CE = μ(x_s) + u_i`` and ``ε = 1 − exp(−exp(η))`` — the
paper's ``p(token correct) = exp(−L_CE)``, a complementary log-log link. ``g`` is the
chance-match rate of the item's scale and target length (:mod:`mirage_bayes.inputs.chance`),
measured where nearly every token is wrong; a wrong token among right ones is rarely matched by
chance, hence the factor ``ε^m`` (:mod:`mirage_bayes.models.chance_link`). The measured rates enter
scaled by a task-level factor ``κ`` (``chance_scale``, ``log κ ~ Normal(0, 0.5)``): the permutation
null cannot see an output's chance alignment with its own target, such as an echoed operand's digits
that its answer shares. Treating chance matches as
independent across the tokens of one output is an approximation (an echoed operand matches
several tokens at once); ``tests/inputs/test_chance.py`` checks the posterior predictive of the
scored counts against data simulated with real alignments. Item difficulty
``u_i = σ_item·z_i`` is shared across scales when item ids match; ``z`` is standard normal, or
a standardized log-gamma variable with a learnt shape (``items="log_gamma"``,
:mod:`mirage_bayes.models.item_families`), whose weights on the grid are then parameters.

Instead of sampling one ``u_i`` per item, each item's likelihood is integrated over ``u`` on a
fixed grid (trapezoid rule, which is spectrally accurate for smooth peaked integrands):
``p(y_i) = Σ_q w_q Π_s Binomial(y_is | T_is, ε(μ_s + σ z_q))``. The sampler then sees only the
handful of trend parameters and ``σ_item``, the per-item log-likelihood needed for LOO is the
marginal one (leave-one-item-out, stable under PSIS), and identical items collapse to patterns.
"""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from scipy.special import gammaln

from mirage_bayes.models.chance_link import (
    CHANCE_CAP,
    CHANCE_SCALE_SD,
    effective_chance,
    scored_error,
)
from mirage_bayes.models.item_families import (
    ITEM_FAMILIES,
    SHAPE_PARAMETER,
    family_of,
    grid_log_weights,
)
from mirage_bayes.models.likelihood import (
    MarginalItemLogLik,
    pattern_loglik_draws,
    sample_item_nodes,
)
from mirage_bayes.models.protocols import GenerationData
from mirage_bayes.models.trends import Trend

# Grids are sized for the normal family's range; a family with a wider range gets as many nodes
# per unit of z, so its integrals are as accurate.
NORMAL_WIDTH = np.ptp(ITEM_FAMILIES["normal"].limits)
MAX_NORMAL_NODES = 801  # the finest quadrature grid over the normal family's range


def _widened(n_nodes: int, low: float, high: float) -> int:
    """Nodes over ``[low, high]`` as finely spaced as ``n_nodes`` over the normal range."""
    return int(round((n_nodes - 1) * (high - low) / NORMAL_WIDTH)) + 1


def grid_nodes(max_trials_per_item: float, family: str = "normal") -> np.ndarray:
    """Equally spaced standardized nodes over the family's range (:mod:`.item_families`).

    The trapezoid rule is spectrally accurate while the grid is finer than the narrowest peak
    it integrates. An item's likelihood in ``z = u / sigma`` is at least
    ``1 / (sigma·sqrt(0.65·T))`` wide (0.65 bounds the Fisher information of one token on the
    cloglog scale), so a spacing of ``0.9/sqrt(T)`` keeps the per-item error below 1e-3 up to
    ``sigma = 2`` (a value its prior exceeds with probability 0.045);
    ``tests/models/test_models.py`` checks this on a fine grid.
    """
    low, high = ITEM_FAMILIES[family].limits
    spacing = min(0.35, 0.9 / np.sqrt(max(max_trials_per_item, 1.0)))
    n_nodes = min(int(np.ceil((high - low) / spacing)) + 1, _widened(MAX_NORMAL_NODES, low, high))
    return np.linspace(low, high, n_nodes)


def quadrature_grid(max_trials_per_item: float) -> tuple[np.ndarray, np.ndarray]:
    """Standard-normal grid nodes (:func:`grid_nodes`) and normalised log weights: the
    trapezoid rule with Gaussian weights (the end nodes' weight is below 1e-7)."""
    nodes = grid_nodes(max_trials_per_item)
    return nodes, ITEM_FAMILIES["normal"].log_weights(nodes, None)[0]


def population_grid(n_nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Equally spaced standard-normal nodes on the normal family's range and their normalised
    weights: the trapezoid rule for averages over the item population (smooth integrands)."""
    nodes, w = population_weights(n_nodes, None, 1)
    return nodes, w[0]


def population_weights(
    n_nodes: int, item_shape: np.ndarray | None, n_draws: int
) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and normalised weights ``(n_draws, nodes)`` of a posterior's item family for
    averages over the item population: ``n_nodes`` over the normal family's range, and as
    finely spaced over a wider one."""
    low, high = family_of(item_shape).limits
    nodes = np.linspace(low, high, _widened(n_nodes, low, high))
    return nodes, np.exp(grid_log_weights(nodes, item_shape, n_draws))


def draw_grid(
    data: GenerationData, item_shape: np.ndarray | None, n_draws: int
) -> tuple[np.ndarray, np.ndarray]:
    """The quadrature grid of ``data`` for every draw of a posterior: nodes and
    ``(n_draws, nodes)`` log weights of its item family."""
    nodes = grid_nodes(data.trials.sum(1).max(), family_of(item_shape).name)
    return nodes, grid_log_weights(nodes, item_shape, n_draws)


def build_model(
    data: GenerationData, trend: Trend, *, swappable: bool = False, items: str = "normal"
) -> pm.Model:
    """The PyMC model of one task under one trend.

    Parameters
    ----------
    data
        The task's item × scale matrices.
    trend
        Mean curve of η in standardized log size.
    swappable
        Hold the data in ``pm.Data`` containers (named in :data:`DATA_NAMES`), with a
        likelihood weight per scale (``scale_weight``, all 1 here), so that
        :func:`set_task_data` can give the model new data or weights and an already compiled
        log density sees them without being rebuilt. The log density equals the default
        model's while every weight is 1.
    items
        The item-difficulty family, a key of :data:`~.item_families.ITEM_FAMILIES`.
    """
    family = ITEM_FAMILIES[items]
    nodes = grid_nodes(data.trials.sum(1).max(), items)
    coords = {"scale": data.models}
    with pm.Model(coords=coords) as model:
        if swappable:
            values = model_data(data, items=items)
            box = {name: pm.Data(name, value) for name, value in values.items()}
            x, weight = box["scale_x"], box["scale_weight"]
            inputs = (
                box["grid_nodes"], box["grid_log_w"],
                box["pattern_errors"] * weight[None, :], box["pattern_correct"] * weight[None, :],
                box["pattern_counts"], (box["pattern_log_binom"] * weight[None, :]).sum(1),
                box["chance_groups"], box["pattern_group"],
            )  # fmt: skip
        else:
            x = pt.as_tensor(data.x)
            inputs = (
                nodes, None, data.pattern_errors, data.pattern_trials - data.pattern_errors,
                data.pattern_counts, data.pattern_log_binom,
                data.chance_groups, data.pattern_group.astype(np.float64),
            )  # fmt: skip
        mu = pm.Deterministic("mu", trend.build(x, data.n_scales), dims="scale")
        sigma = pm.HalfNormal("sigma_item", 1.0)
        grid, _, *counts, chance, group = inputs
        # Normal weights are data (a swappable model's grid changes with the task); a family
        # with a shape makes them a function of its parameter.
        log_w = inputs[1] if swappable and not family.parameters else family.build(grid)
        if has_chance(data):
            chance = pt.minimum(chance * chance_scale_prior(), CHANCE_CAP)
        value, *_ = MarginalItemLogLik()(mu, sigma, grid, log_w, *counts, chance, group)
        pm.Potential("item_loglik", value)
    return model


def chance_scale_prior() -> pt.TensorVariable:
    """Add the factor ``κ`` on the chance rates to the model in context and return it:
    ``log_chance_scale ~ Normal(0, CHANCE_SCALE_SD)``, ``chance_scale = exp(log_chance_scale)``."""
    log_scale = pm.Normal("log_chance_scale", 0.0, CHANCE_SCALE_SD)
    return pm.Deterministic("chance_scale", pt.exp(log_scale))


def has_chance(data: GenerationData) -> bool:
    """Whether the task has chance matches, and so the factor ``chance_scale`` in its model."""
    return bool(np.any(data.chance_groups > 0))


def scale_or_ones(chance_scale: np.ndarray | None, n_draws: int) -> np.ndarray:
    """Per-draw chance factors ``κ``: ``chance_scale`` as ``(draws,)`` floats, or ones."""
    if chance_scale is None:
        return np.ones(n_draws)
    return np.ascontiguousarray(chance_scale, dtype=np.float64).reshape(n_draws)


DATA_NAMES = (
    "scale_x", "scale_weight", "grid_nodes", "grid_log_w",
    "pattern_errors", "pattern_correct", "pattern_counts", "pattern_log_binom",
    "chance_groups", "pattern_group",
)  # fmt: skip
"""The ``pm.Data`` containers of a swappable model (:func:`build_model`)."""


def pattern_log_binom_by_scale(data: GenerationData) -> np.ndarray:
    """``log C(T, k)`` of every pattern at every scale: ``(patterns, scales)``.

    Summed over scales it is ``data.pattern_log_binom``; kept per scale so that a scale's
    likelihood weight applies to its constant too.
    """
    t, k = data.pattern_trials, data.pattern_errors
    return gammaln(t + 1) - gammaln(k + 1) - gammaln(t - k + 1)


def model_data(
    data: GenerationData, weights: np.ndarray | None = None, items: str = "normal"
) -> dict[str, np.ndarray]:
    """Values of the containers of a swappable model for ``data`` and per-scale ``weights``.

    ``weights`` (default all 1) multiplies each scale's log-likelihood; 0 leaves the scale out.
    The grid spans the range of the item family ``items``.
    """
    if weights is None:
        weights = np.ones(data.n_scales)
    weights = np.asarray(weights, dtype=np.float64)
    if weights.shape != (data.n_scales,) or not np.all((weights >= 0) & np.isfinite(weights)):
        raise ValueError(f"weights must be {data.n_scales} finite non-negative numbers")
    nodes = grid_nodes(data.trials.sum(1).max(), items)
    log_w = ITEM_FAMILIES["normal"].log_weights(nodes, None)[0]
    return {
        "scale_x": data.x,
        "scale_weight": weights,
        "grid_nodes": nodes,
        "grid_log_w": log_w,
        "pattern_errors": data.pattern_errors,
        "pattern_correct": data.pattern_trials - data.pattern_errors,
        "pattern_counts": data.pattern_counts,
        "pattern_log_binom": pattern_log_binom_by_scale(data),
        "chance_groups": data.chance_groups,
        "pattern_group": data.pattern_group.astype(np.float64),
    }


def set_task_data(model: pm.Model, data: GenerationData, weights: np.ndarray | None = None) -> None:
    """Give a swappable model (``build_model(..., swappable=True)``) new data and weights.

    The new task must have as many scales as the model (the trend's parameters are per model,
    not per data set); the number of items and patterns may differ. Functions compiled from
    the model read the new values on their next call.
    """
    if len(model.coords["scale"]) != data.n_scales:
        raise ValueError(
            f"the model has {len(model.coords['scale'])} scales, the data {data.n_scales}"
        )
    items = family_of(model.named_vars.get(SHAPE_PARAMETER)).name
    pm.set_data(model_data(data, weights, items), model=model)


# --- NumPy counterparts, evaluated on posterior draws after sampling --------------------------


def epsilon_from_eta(eta: np.ndarray) -> np.ndarray:
    """Per-token error rate from log cross-entropy: ``1 − exp(−exp(η))``."""
    return -np.expm1(-np.exp(eta))


def item_log_likelihood(
    data: GenerationData,
    mu: np.ndarray,
    sigma: np.ndarray,
    chance_scale: np.ndarray | None = None,
    item_shape: np.ndarray | None = None,
) -> np.ndarray:
    """Marginal log-likelihood of every item's data for every draw: ``(draws, items)``.

    Parameters
    ----------
    data
        The task.
    mu
        ``(draws, scales)`` trend values at the observed scales.
    sigma
        ``(draws,)`` item difficulty standard deviations.
    chance_scale
        ``(draws,)`` factors ``κ`` on the chance rates (``None``: 1).
    item_shape
        ``(draws,)`` shapes of the log-gamma item family (``None``: normal items).
    """
    loglik = pattern_log_likelihood(data, mu, sigma, chance_scale, item_shape)
    return loglik[:, data.pattern_of_item]


# Same arguments as item_log_likelihood, which reads this per-pattern form per item.
def pattern_log_likelihood(
    data: GenerationData,
    mu: np.ndarray,
    sigma: np.ndarray,
    chance_scale: np.ndarray | None = None,
    item_shape: np.ndarray | None = None,
) -> np.ndarray:
    """Marginal log-likelihood of one item of every pattern: ``(draws, patterns)``.

    Items with the same pattern have the same value, so this is the sufficient form of
    :func:`item_log_likelihood` for test sets too large to hold ``draws × items`` values.
    """
    nodes, log_w = draw_grid(data, item_shape, mu.shape[0])
    return pattern_loglik_draws(
        np.ascontiguousarray(mu, dtype=np.float64), np.asarray(sigma, dtype=np.float64),
        nodes, log_w, data.pattern_errors, data.pattern_trials - data.pattern_errors,
        data.pattern_log_binom, data.chance_groups, data.pattern_group,
        scale_or_ones(chance_scale, mu.shape[0]),
    )  # fmt: skip


def population_quantities(
    mu: np.ndarray,
    sigma: np.ndarray,
    lengths: list[int],
    n_nodes: int = 161,
    item_shape: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Averages over the item-difficulty distribution, per draw and scale.

    Returns ``epsilon`` ``(draws, scales)``: mean per-token error rate; ``accuracy``
    ``(draws, scales, lengths)``: ``E_items[(1 − ε_i)^L]``, the expected exact-match rate for
    targets of ``L`` tokens. ``item_shape`` (per draw) selects the log-gamma item family.
    """
    nodes, w = population_weights(n_nodes, item_shape, mu.shape[0])
    eta = mu[..., None] + sigma[:, None, None] * nodes
    l_ce = np.exp(eta)
    epsilon = population_mean(epsilon_from_eta(eta), w)
    accuracy = np.stack(
        [population_mean(np.exp(-float(length) * l_ce), w) for length in lengths], -1
    )
    return {"epsilon": epsilon, "accuracy": accuracy}


def population_mean(values: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``values`` ``(draws, scales, nodes)`` averaged over the nodes with each draw's weights
    ``w`` ``(draws, nodes)``."""
    return np.einsum("dsq,dq->ds", values, w)


def scored_quantities(
    mu: np.ndarray,
    sigma: np.ndarray,
    lengths: list[int],
    chance: np.ndarray,
    n_nodes: int = 161,
    chance_scale: np.ndarray | None = None,
    item_shape: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """What the scorer counts, chance matches included, averaged over item difficulty.

    ``chance`` is ``(scales, lengths)``: the chance-match rate ``g`` of each scale and length.
    Returns ``(draws, scales, lengths)`` arrays: ``accuracy``, ``E_items[(1 − r_i)^L]``, the
    expected share of exact matches a test set shows, and ``epsilon``, ``E_items[r_i]``, the
    share of tokens scored wrong, where ``r = ε·(1 − g·ε^m)`` is the scored error rate
    (:mod:`mirage_bayes.models.chance_link`), ``g`` scaled by each draw's ``chance_scale`` (``κ``,
    default 1). With ``g = 0`` they are the quantities of :func:`population_quantities`.
    """
    nodes, w = population_weights(n_nodes, item_shape, mu.shape[0])
    eps = epsilon_from_eta(mu[..., None] + sigma[:, None, None] * nodes)  # (draws, scales, nodes)
    scale = scale_or_ones(chance_scale, mu.shape[0])[:, None, None]
    accuracy, epsilon = [], []
    for j, length in enumerate(lengths):
        rate = scored_error(eps, effective_chance(np.asarray(chance)[None, :, j, None], scale))
        with np.errstate(divide="ignore"):  # ε = 1 without chance: log 0, accuracy exactly 0
            accuracy.append(population_mean(np.exp(float(length) * np.log1p(-rate)), w))
        epsilon.append(population_mean(rate, w))
    return {"accuracy": np.stack(accuracy, -1), "epsilon": np.stack(epsilon, -1)}


def posterior_predictive_errors(
    data: GenerationData,
    mu: np.ndarray,
    sigma: np.ndarray,
    rng: np.random.Generator,
    *,
    per_pattern: bool = False,
    chance_scale: np.ndarray | None = None,
    item_shape: np.ndarray | None = None,
) -> np.ndarray:
    """Replicated scored error counts ``(draws, items, scales)`` for the items as observed.

    Each item's difficulty is drawn from its conditional posterior given the draw (the grid
    weights times the item's likelihood), so replicates respect what the item showed. A token
    is scored wrong with probability ``ε·(1 − g·ε^m)``, chance matches included, as the scorer
    would count it, ``g`` scaled by each draw's ``chance_scale``. With ``per_pattern`` the
    replicates are of one item of each pattern: ``(draws, patterns, scales)``.
    ``item_shape`` (per draw) selects the log-gamma item family.
    """
    nodes, log_w = draw_grid(data, item_shape, mu.shape[0])
    mu = np.ascontiguousarray(mu, dtype=np.float64)
    scale = scale_or_ones(chance_scale, mu.shape[0])
    if per_pattern:
        which, trials = np.arange(len(data.pattern_counts)), data.pattern_trials.astype(np.int64)
    else:
        which, trials = data.pattern_of_item.astype(np.int64), data.trials
    picks = sample_item_nodes(
        mu, np.asarray(sigma, dtype=np.float64), nodes, log_w, data.pattern_errors,
        data.pattern_trials - data.pattern_errors, data.chance_groups, data.pattern_group,
        which, rng.random((mu.shape[0], len(which))), scale,
    )  # fmt: skip
    eta = mu[:, None, :] + np.asarray(sigma)[:, None, None] * nodes[picks][..., None]
    chance = data.chance_groups[data.pattern_group[which]]  # (items, scales)
    rate = scored_error(epsilon_from_eta(eta), effective_chance(chance[None], scale[:, None, None]))
    return rng.binomial(trials[None], rate).astype(np.int32)
