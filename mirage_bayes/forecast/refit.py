"""What one leave-future-out refit says about the sizes it held out.

Tables of :mod:`mirage_bayes.forecast.run`: population and predictive forecasts of every held-out
size beside the observed values, the held-out log predictive density, and bands on a grid of
sizes for the figure. See :mod:`mirage_bayes.forecast.run` for the definitions.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.special import logsumexp

from mirage_bayes.fitting.base import CURVE_DRAWS, hdi
from mirage_bayes.fitting.data import TaskData
from mirage_bayes.models import TRENDS, population_quantities
from mirage_bayes.models.chance_link import effective_chance, scored_error
from mirage_bayes.models.generation import (
    draw_grid,
    epsilon_from_eta,
    pattern_log_binom_by_scale,
    scale_or_ones,
)
from mirage_bayes.models.likelihood import held_out_loglik_draws, sample_item_nodes

FORECAST_COLUMNS = [
    "task", "trend", "fitted_scales", "model", "n_params", "quantity", "length",
    "observed", "mean", "hdi_low", "hdi_high", "log_pred_density",
]  # fmt: skip
CURVE_COLUMNS = [
    "task", "trend", "fitted_scales", "n_params", "quantity", "length", "mean", "hdi_low",
    "hdi_high",
]  # fmt: skip
CURVE_POINTS = 40  # fewer than a fit's: a forecast draws one curve per refit
PREDICTIVE_VALUES = 4_000_000  # draws × items × sizes per block of predictive simulation


def refit_weights(n_scales: int, fitted_scales: int) -> np.ndarray:
    """Likelihood weight per size: 1 for the ``fitted_scales`` smallest, 0 for the rest."""
    return (np.arange(n_scales) < fitted_scales).astype(np.float64)


def verdict_length(data: TaskData) -> int:
    """The longest target length among the items the largest model was tested on."""
    largest = data.item_length[:, -1]
    return int(largest[largest > 0].max())


def held_out_log_density(
    data: TaskData,
    mu: np.ndarray,
    sigma: np.ndarray,
    fitted_scales: int,
    chance_scale: np.ndarray | None = None,
) -> np.ndarray:
    """``log mean_draws p(y_h | y_fitted, draw)`` for every held-out size ``h``.

    Parameters
    ----------
    data
        The task.
    mu, sigma
        ``(draws, scales)`` trend values at every size and ``(draws,)`` item spreads.
    fitted_scales
        How many of the smallest sizes were fitted.
    chance_scale
        ``(draws,)`` factors ``κ`` on the chance rates (``None``: 1).
    """
    nodes, log_w = draw_grid(data, None, len(mu))
    held = np.arange(fitted_scales, data.n_scales)
    per_draw = held_out_loglik_draws(
        np.ascontiguousarray(mu, dtype=np.float64), np.asarray(sigma, dtype=np.float64),
        nodes, log_w, data.pattern_errors, data.pattern_trials - data.pattern_errors,
        data.pattern_counts, data.chance_groups, data.pattern_group,
        refit_weights(data.n_scales, fitted_scales), held, scale_or_ones(chance_scale, len(mu)),
    )  # fmt: skip
    constants = data.pattern_counts @ pattern_log_binom_by_scale(data)[:, held]
    return logsumexp(per_draw, axis=0) - np.log(len(per_draw)) + constants


def predictive_test_set(
    data: TaskData,
    mu: np.ndarray,
    sigma: np.ndarray,
    fitted_scales: int,
    rng: np.random.Generator,
    chance_scale: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """What the held-out sizes' own test sets would show, per draw.

    Each item's difficulty is drawn from its distribution given its fitted-size data and the
    draw, then its errors at each held-out size from the binomial with its number of tokens
    there. Returns ``epsilon`` ``(draws, held)`` (pooled errors / tokens) and
    ``accuracy_<L>`` ``(draws, held)`` (share of the items of length ``L`` without error; NaN
    where a size has no such item) for every length tested at a held-out size. Chance rates
    are scaled by each draw's ``chance_scale`` (default 1).
    """
    nodes, log_w = draw_grid(data, None, len(mu))
    weights = refit_weights(data.n_scales, fitted_scales)
    held = np.arange(fitted_scales, data.n_scales)
    trials = data.trials[:, held]
    chance = data.chance[:, held]  # a produced-wrong token may still score as right
    lengths = sorted(int(v) for v in np.unique(trials[trials > 0]))
    out = {"epsilon": []} | {f"accuracy_{n}": [] for n in lengths}
    mu = np.ascontiguousarray(mu, dtype=np.float64)
    sigma = np.asarray(sigma, dtype=np.float64)
    scale = scale_or_ones(chance_scale, len(mu))
    # In blocks of draws, so that memory stays bounded on test sets of many items.
    chunk = max(1, PREDICTIVE_VALUES // (len(data.items) * len(held)))
    for start in range(0, len(mu), chunk):
        block = slice(start, start + chunk)
        picks = sample_item_nodes(
            mu[block], sigma[block], nodes, log_w[block], data.pattern_errors * weights,
            (data.pattern_trials - data.pattern_errors) * weights, data.chance_groups,
            data.pattern_group, data.pattern_of_item.astype(np.int64),
            rng.random((len(mu[block]), len(data.items))), scale[block],
        )  # fmt: skip
        u = sigma[block, None] * nodes[picks]  # (draws, items)
        eta = mu[block][:, None, held] + u[..., None]  # (draws, items, held)
        # Scored as the scorer counts: chance matches included.
        rates = effective_chance(chance[None], scale[block, None, None])
        errors = rng.binomial(trials[None], scored_error(epsilon_from_eta(eta), rates))
        out["epsilon"].append(errors.sum(1) / trials.sum(0))
        for n in lengths:
            tested = trials == n  # (items, held)
            with np.errstate(invalid="ignore", divide="ignore"):
                share = ((errors == 0) & tested[None]).sum(1) / tested.sum(0)
            out[f"accuracy_{n}"].append(share)
    return {name: np.concatenate(parts) for name, parts in out.items()}


def observed_table(data: TaskData) -> pd.DataFrame:
    """Observed accuracy, edit distance and pooled ε per (model, length) of one task."""
    table = data.observed_by_length()
    eps = pd.Series(data.observed_epsilon(), index=data.models)
    return table.assign(epsilon=table["model"].map(eps)).set_index(["model", "length"])


def _interval_rows(draws: np.ndarray) -> dict[str, np.ndarray]:
    """Mean and 94% HDI of ``(draws, sizes)``, ignoring sizes without values (all NaN)."""
    mean, low, high = (np.full(draws.shape[1], np.nan) for _ in range(3))
    for j in range(draws.shape[1]):
        values = draws[:, j][np.isfinite(draws[:, j])]
        if values.size > 1:
            mean[j] = values.mean()
            low[j], high[j] = hdi(values)
    return {"mean": mean, "hdi_low": low, "hdi_high": high}


def refit_table(
    data: TaskData,
    trend: str,
    fitted_scales: int,
    mu: np.ndarray,
    sigma: np.ndarray,
    lengths: Sequence[int],
    rng: np.random.Generator,
    chance_scale: np.ndarray | None = None,
) -> pd.DataFrame:
    """The forecast rows (:data:`FORECAST_COLUMNS`) of one refit, for every held-out size.

    ``chance_scale`` holds the refit's draws of ``κ``, the factor on the chance rates (``None``
    for a model without one).
    """
    held = np.arange(fitted_scales, data.n_scales)
    models = [data.models[h] for h in held]
    observed = observed_table(data)
    lpd = held_out_log_density(data, mu, sigma, fitted_scales, chance_scale)
    population = population_quantities(mu[:, held], sigma, list(lengths))
    predictive = predictive_test_set(data, mu, sigma, fitted_scales, rng, chance_scale)
    eps_observed = data.observed_epsilon()[held]

    def look(length: int, column: str) -> np.ndarray:
        keys = pd.MultiIndex.from_arrays([models, [length] * len(models)])
        return observed[column].reindex(keys).to_numpy(float)

    blocks = [
        ("epsilon", None, eps_observed, population["epsilon"]),
        ("epsilon_predictive", None, eps_observed, predictive["epsilon"]),
    ]
    for j, length in enumerate(lengths):
        blocks += [
            ("accuracy", length, look(length, "accuracy"), population["accuracy"][..., j]),
            (
                "token_edit_distance", length, look(length, "mean_edit_distance"),
                length * population["epsilon"],
            ),
        ]  # fmt: skip
        if f"accuracy_{length}" in predictive:
            accuracy = predictive[f"accuracy_{length}"]
            blocks.append(("accuracy_predictive", length, look(length, "accuracy"), accuracy))
    frames = [
        pd.DataFrame(
            {
                "task": data.task,
                "trend": trend,
                "fitted_scales": fitted_scales,
                "model": models,
                "n_params": data.n_params[held],
                "quantity": quantity,
                "length": np.nan if length is None else float(length),
                "observed": obs,
                **_interval_rows(draws),
                "log_pred_density": lpd,
            }
        )  # fmt: skip
        for quantity, length, obs, draws in blocks
    ]
    table = pd.concat(frames, ignore_index=True)
    # A size without items of some length has no observed value and no predictive forecast.
    return table[~(table["quantity"].eq("accuracy_predictive") & table["mean"].isna())]


def refit_curves(
    data: TaskData,
    trend: str,
    fitted_scales: int,
    posterior: dict[str, np.ndarray],
    lengths: Sequence[int],
) -> pd.DataFrame:
    """Population ε and accuracy on a grid from the largest fitted size to the largest size."""
    every = max(1, len(posterior["sigma_item"]) // CURVE_DRAWS)
    post = {name: values[::every] for name, values in posterior.items()}
    grid = np.geomspace(data.n_params[fitted_scales - 1], data.n_params[-1], CURVE_POINTS)
    mu = TRENDS[trend].mu(post, data.standardize(grid))
    draws = population_quantities(mu, post["sigma_item"], list(lengths))
    series = [("epsilon", None, draws["epsilon"])]
    series += [("accuracy", n, draws["accuracy"][..., j]) for j, n in enumerate(lengths)]
    frames = []
    for quantity, length, values in series:
        interval = hdi(values)
        frames.append(
            pd.DataFrame(
                {
                    "task": data.task,
                    "trend": trend,
                    "fitted_scales": fitted_scales,
                    "n_params": grid,
                    "quantity": quantity,
                    "length": np.nan if length is None else float(length),
                    "mean": values.mean(0),
                    "hdi_low": interval[:, 0],
                    "hdi_high": interval[:, 1],
                }
            )  # fmt: skip
        )
    return pd.concat(frames, ignore_index=True)
