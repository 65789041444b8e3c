"""Is an observed zero evidence of no ability? The resolution of a finite test set, in numbers.

A test set of ``n`` items of ``L`` target tokens cannot resolve small rates: an exact-match
accuracy below about ``1/n`` usually shows as "0 of n", and a per-token error rate is resolved
to about ``1/(n·L)``. This module turns a fit's posterior into the numbers behind that argument.

Which items. The question is "would a test set of this size show zero?", so the default reading
is a test set of ``n`` *new* items drawn from the item population: per posterior draw ``d`` each
item has difficulty ``u_i ~ Normal(0, σ_item)``, per-token error ``ε_i = 1 − exp(−exp(μ_s +
u_i))`` and is answered exactly right with probability ``(1 − ε_i)^L``. Given the draw the items
are independent and identically distributed, so the number correct is exactly
``Binomial(n, a_d)`` with ``a_d = E_u[(1 − ε_u)^L]`` — the population accuracy the fit already
integrates over item difficulty — and ``P(0 correct | draw) = (1 − a_d)^n`` with no Monte Carlo
noise. This is the item-level model (the spread of difficulty makes ``a_d`` larger than the
independence approximation ``(1 − ε̄)^L``), not a shortcut through ``ε̄``.

:func:`p_zero_same_items` offers the other reading: the *same* items re-run, each with the
difficulty its own data imply (its conditional posterior on the quadrature grid). Because those
posteriors already condition on the observed outcome, that number is a posterior predictive check
of the test set as it was, not a statement about test sets of this size.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np
import pandas as pd
from scipy.stats import binom

from mirage_bayes.fitting.data import TaskData
from mirage_bayes.fitting.inference import item_shape_of, stacked
from mirage_bayes.models.generation import draw_grid, epsilon_from_eta, population_quantities
from mirage_bayes.settings import DEFAULT_MAX_ITEMS


class FitLike(Protocol):
    """What :func:`resolution_table` reads of a fit
    (:class:`mirage_bayes.fitting.result.FitResult`)."""

    tasks: list[TaskData]
    idatas: dict

    def summary(self) -> pd.DataFrame: ...

    def lengths(self, data: TaskData) -> list[int]: ...


PREDICTIVE_PROB = 0.94
CONSISTENT_ZERO = 0.05  # P(0 correct) above this: an observed zero is what the law predicts
SAME_ITEMS_DRAWS = 200  # thinned draws for the item-by-item variant (it costs items × nodes)

RESOLUTION_COLUMNS = [
    "task", "trend", "model", "n_params", "length", "n_items", "n_correct", "observed_accuracy",
    "accuracy_mean", "accuracy_low", "accuracy_high", "p_zero_correct", "p_zero_low",
    "p_zero_high", "p_zero_same_items", "predicted_correct_low", "predicted_correct_high",
    "floor_accuracy", "floor_token_rate", "items_any_correct",
]  # fmt: skip


def p_zero_draws(accuracy: np.ndarray, n_items: np.ndarray | float) -> np.ndarray:
    """``P(0 of n new items correct)`` for each posterior draw: ``(1 − a_d)^n``.

    Parameters
    ----------
    accuracy
        Population exact-match accuracy ``a_d`` per draw (any shape; the last axes broadcast
        against ``n_items``).
    n_items
        Test-set size(s); NaN gives NaN.

    Returns
    -------
    numpy.ndarray
        Computed as ``exp(n·log1p(−a))`` so that tiny accuracies and large ``n`` stay exact.
    """
    a = np.clip(np.asarray(accuracy, dtype=float), 0.0, 1.0)
    n = np.asarray(n_items, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        log_p = n * np.log1p(-a)
    # n = 0 items: nothing can be correct (0·log 0 would be NaN).
    return np.where(n == 0, 1.0, np.exp(log_p))


def p_zero_correct(accuracy: np.ndarray, n_items: float) -> float:
    """Posterior predictive ``P(0 of n correct)``: the mean of :func:`p_zero_draws` over draws."""
    return float(np.mean(p_zero_draws(accuracy, n_items)))


def predictive_count_pmf(accuracy: np.ndarray, n_items: int) -> np.ndarray:
    """Posterior predictive distribution of the number correct out of ``n_items`` new items.

    Parameters
    ----------
    accuracy
        ``(draws,)`` population accuracy per draw.
    n_items
        Test-set size.

    Returns
    -------
    numpy.ndarray
        ``(n_items + 1,)`` probabilities of 0, 1, …, n correct: the mixture over draws of
        ``Binomial(n, a_d)``. The observed accuracy is this count divided by ``n``.
    """
    k = np.arange(int(n_items) + 1)
    a = np.asarray(accuracy, dtype=float).reshape(-1, 1)
    return binom.pmf(k[None, :], int(n_items), a).mean(0)


def predictive_count_quantile(accuracy: np.ndarray, n_items: int, q: float) -> int:
    """Smallest count ``k`` with ``P(count ≤ k) ≥ q`` under the posterior predictive mixture.

    Bisection over ``k`` on the mixture's CDF, so a large ``n`` costs ``log2 n`` CDF passes over
    the draws instead of the whole distribution.
    """
    a = np.asarray(accuracy, dtype=float).ravel()
    n = int(n_items)
    lo, hi = -1, n  # cdf(lo) < q ≤ cdf(hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if binom.cdf(mid, n, a).mean() >= q:
            hi = mid
        else:
            lo = mid
    return hi


def predictive_accuracy(
    accuracy: np.ndarray, n_items: int, prob: float = PREDICTIVE_PROB
) -> dict[str, float]:
    """Posterior predictive distribution of the *observed* accuracy at a test-set size.

    Returns
    -------
    dict
        ``mean`` (expected observed accuracy, equal to the posterior mean accuracy), ``low`` and
        ``high`` (equal-tailed ``prob`` interval of the observed count, divided by ``n``) and
        ``p_zero`` (probability of observing 0 correct).
    """
    tail = (1.0 - prob) / 2.0
    n = int(n_items)
    return {
        "mean": float(np.mean(accuracy)),
        "low": predictive_count_quantile(accuracy, n, tail) / n,
        "high": predictive_count_quantile(accuracy, n, 1.0 - tail) / n,
        "p_zero": p_zero_correct(accuracy, n),
    }


def smallest_n(ok: Callable[[int], bool], max_items: int = DEFAULT_MAX_ITEMS) -> int | None:
    """Smallest ``n`` in ``1 … max_items`` with ``ok(n)``, for ``ok`` monotone in ``n``.

    Doubles ``n`` until ``ok`` holds, then bisects: about ``2·log2(n)`` evaluations. Returns
    ``None`` when ``ok(max_items)`` is false.
    """
    if ok(1):
        return 1
    lo, hi = 1, 2
    while True:
        hi = min(hi, max_items)
        if ok(hi):
            break
        if hi >= max_items:
            return None
        lo, hi = hi, 2 * hi
    while hi - lo > 1:  # invariant: not ok(lo), ok(hi)
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid
    return hi


def p_any_correct(accuracy: np.ndarray, n_items: int) -> float:
    """``P(at least one of n new items correct)``, averaged over the posterior draws."""
    return 1.0 - float(np.mean(p_zero_draws(accuracy, n_items)))


def items_for_any_correct(
    accuracy: np.ndarray, *, prob: float = 0.95, max_items: int = DEFAULT_MAX_ITEMS
) -> int | None:
    """Criterion (a): the smallest ``n`` with ``P(≥ 1 correct) ≥ prob``; ``None`` past the cap.

    Parameters
    ----------
    accuracy
        Posterior draws of the population accuracy (one value for a known accuracy).
    prob
        Required probability of at least one exact match.
    max_items
        Largest test set considered.
    """
    a = np.asarray(accuracy, dtype=float).ravel()
    return smallest_n(lambda n: p_any_correct(a, n) >= prob, max_items)


def resolution_floors(n_items: np.ndarray, length: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The resolution of a test set: ``1/n`` for accuracy and ``1/(n·L)`` for a per-token rate."""
    n = np.asarray(n_items, dtype=float)
    with np.errstate(divide="ignore"):
        return 1.0 / n, 1.0 / (n * np.asarray(length, dtype=float))


def observed_test_sets(data: TaskData, lengths: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Test-set size and whether 0 were correct, per scale and length: two ``(scales, lengths)``.

    At an observed (scale, length) the size is the number of items of that length evaluated at
    that scale and the indicator is 1.0 when none of them was an exact match, else 0.0. At a
    length with no items at a scale (a ``--lengths`` extra) the size is the whole test set at that
    scale — "what if every item had this length" — and the indicator is NaN.
    """
    table = data.observed_by_length().set_index(["model", "length"])
    evaluated = (data.trials > 0).sum(0)
    sizes = np.empty((data.n_scales, len(lengths)))
    zero = np.full((data.n_scales, len(lengths)), np.nan)
    for s, model in enumerate(data.models):
        for j, length in enumerate(lengths):
            key = (model, int(length))
            if key in table.index:
                sizes[s, j] = table.at[key, "n_items"]
                zero[s, j] = float(table.at[key, "n_correct"] == 0)
            else:
                sizes[s, j] = evaluated[s]
    return sizes, zero


def p_zero_same_items(
    data: TaskData,
    mu: np.ndarray,
    sigma: np.ndarray,
    lengths: Sequence[int],
    *,
    max_draws: int = SAME_ITEMS_DRAWS,
    item_shape: np.ndarray | None = None,
) -> np.ndarray:
    """``P(0 correct)`` when the test set's own items are re-run, per scale and length.

    Each item's difficulty is taken from its conditional posterior given the draw (grid weights
    times the item's likelihood over every scale, as in
    :func:`mirage_bayes.models.generation.posterior_predictive_errors`), and the product over
    the items of ``1 − P(item correct)`` is computed exactly per draw. Items with identical data
    share a posterior, so the work is per pattern of outcomes, not per item.

    Parameters
    ----------
    data
        The task.
    mu, sigma
        ``(draws, scales)`` and ``(draws,)`` posterior draws; thinned evenly to ``max_draws``.
    lengths
        Target lengths; the test set at a scale and length is the items with that many tokens.
    max_draws
        At most this many draws are used (the cost is draws × patterns × grid nodes).
    item_shape
        ``(draws,)`` shapes of the log-gamma item family (``None``: normal items).

    Returns
    -------
    numpy.ndarray
        ``(scales, lengths)`` posterior predictive probabilities; NaN where no item has the length.
    """
    every = max(1, len(sigma) // max_draws)
    mu, sigma = np.asarray(mu, dtype=float)[::every], np.asarray(sigma, dtype=float)[::every]
    if item_shape is not None:
        item_shape = np.asarray(item_shape, dtype=float)[::every]
    nodes, log_w = draw_grid(data, item_shape, len(sigma))
    errors, correct = data.pattern_errors, data.pattern_trials - data.pattern_errors
    # members[p, s, j]: how many items of pattern p are in the test set at scale s, length j.
    members = np.stack([data.pattern_trials == length for length in lengths], -1)
    members = members * data.pattern_counts[:, None, None]
    totals = np.zeros((data.n_scales, len(lengths)))
    for start in range(0, len(sigma), 50):  # chunks of draws bound the memory
        eta = mu[start : start + 50, :, None] + sigma[start : start + 50, None, None] * nodes
        lam = np.exp(eta)  # (draws, scales, nodes)
        # log ε = log(1 − e^−λ) is η itself to double precision once λ < 1e-10.
        log_eps = np.where(lam < 1e-10, eta, np.log(epsilon_from_eta(eta)))
        per_node = log_w[start : start + 50, None, :] + errors @ log_eps - correct @ lam
        weights = np.exp(per_node - per_node.max(-1, keepdims=True))
        weights /= weights.sum(-1, keepdims=True)
        for j, length in enumerate(lengths):
            p_right = weights @ np.exp(-float(length) * lam).transpose(0, 2, 1)  # (d, p, s)
            log_none = np.log1p(-np.clip(p_right, 0.0, 1.0))
            totals[:, j] += np.exp(np.einsum("dps,ps->ds", log_none, members[..., j])).sum(0)
    result = totals / len(sigma)
    result[members.sum(0) == 0] = np.nan
    return result


def floors_by_task(observed: pd.DataFrame) -> dict[str, list[dict]]:
    """Resolution floors per task for ``summary.json``: one record per observed scale and length.

    Records hold ``model, n_params, length, n_items, floor_accuracy`` (``1/n``) and
    ``floor_token_rate`` (``1/(n·L)``); where items were attempted several times also
    ``attempts_per_item`` and ``floor_attempts`` (``1/(n·attempts)``, the accuracy the attempts
    resolve).
    """
    out: dict[str, list[dict]] = {}
    for task, rows in observed.groupby("task", sort=False):
        acc, tok = resolution_floors(rows["n_items"].to_numpy(), rows["length"].to_numpy())
        per_item = rows.get("attempts_per_item", pd.Series(1.0, index=rows.index)).to_numpy()
        repeated = bool((per_item > 1).any())
        out[str(task)] = []
        for r, fa, ft, a in zip(rows.itertuples(index=False), acc, tok, per_item, strict=True):
            record = {
                "model": str(r.model),
                "n_params": float(r.n_params),
                "length": int(r.length),
                "n_items": int(r.n_items),
                "floor_accuracy": float(fa),
                "floor_token_rate": float(ft),
            }
            if repeated:
                record |= {"attempts_per_item": float(a), "floor_attempts": float(fa / a)}
            out[str(task)].append(record)
    return out


def resolution_table(result: FitLike, *, prob: float = 0.95) -> pd.DataFrame:
    """Per task, trend, scale and length: what a test set of the observed size can resolve.

    Columns (:data:`RESOLUTION_COLUMNS`): the test-set size ``n_items`` and ``n_correct``
    (NaN at a length not in the data, see :func:`observed_test_sets`); the posterior of the
    population accuracy (``accuracy_mean/low/high``, the summary's ``accuracy`` rows); the
    posterior predictive ``p_zero_correct`` for new items with the 94% HDI of the per-draw
    probability; ``p_zero_same_items`` (the same items re-run, observed lengths only); the 94%
    equal-tailed predictive interval of the number correct; the floors ``1/n`` and ``1/(n·L)``;
    and ``items_any_correct``, the smallest test set with ``P(≥ 1 correct) ≥ prob`` (NaN when
    more than :data:`mirage_bayes.settings.DEFAULT_MAX_ITEMS` items would be needed).
    """

    summary = result.summary()
    tail = (1.0 - PREDICTIVE_PROB) / 2.0
    records = []
    for data in result.tasks:
        lengths = result.lengths(data)
        sizes, _ = observed_test_sets(data, lengths)
        table = data.observed_by_length().set_index(["model", "length"])
        for trend, idata in result.idatas[data.task].items():
            mu, sigma = stacked(idata, "mu"), stacked(idata, "sigma_item")
            shape = item_shape_of(idata)
            accuracy = population_quantities(mu, sigma, lengths, item_shape=shape)["accuracy"]
            rows = summary[(summary["task"] == data.task) & (summary["trend"] == trend)]
            same = p_zero_same_items(data, mu, sigma, lengths, item_shape=shape)
            for j, length in enumerate(lengths):
                at = rows[rows["length"] == float(length)].set_index(["quantity", "model"])
                for s, model in enumerate(data.models):
                    n = int(sizes[s, j])
                    seen = (model, int(length)) in table.index
                    correct = table.at[(model, int(length)), "n_correct"] if seen else np.nan
                    draws = accuracy[:, s, j]
                    needed = items_for_any_correct(draws, prob=prob, max_items=DEFAULT_MAX_ITEMS)
                    floor_acc, floor_tok = resolution_floors(n, length)
                    records.append(
                        {
                            "task": data.task,
                            "trend": trend,
                            "model": model,
                            "n_params": float(data.n_params[s]),
                            "length": float(length),
                            "n_items": n,
                            "n_correct": float(correct),
                            "observed_accuracy": float(correct) / n if seen else np.nan,
                            "accuracy_mean": at.at[("accuracy", model), "mean"],
                            "accuracy_low": at.at[("accuracy", model), "hdi_low"],
                            "accuracy_high": at.at[("accuracy", model), "hdi_high"],
                            "p_zero_correct": at.at[("p_zero_correct", model), "mean"],
                            "p_zero_low": at.at[("p_zero_correct", model), "hdi_low"],
                            "p_zero_high": at.at[("p_zero_correct", model), "hdi_high"],
                            "p_zero_same_items": same[s, j],
                            "predicted_correct_low": predictive_count_quantile(draws, n, tail),
                            "predicted_correct_high": predictive_count_quantile(draws, n, 1 - tail),
                            "floor_accuracy": float(floor_acc),
                            "floor_token_rate": float(floor_tok),
                            "items_any_correct": np.nan if needed is None else float(needed),
                        }
                    )
    if not records:
        return pd.DataFrame(columns=RESOLUTION_COLUMNS)
    return pd.DataFrame(records)[RESOLUTION_COLUMNS]
