"""pass@k of a task whose items were attempted several times: the posterior beside the data.

The posterior of pass@k comes from the fitted per-token model (:mod:`mirage_bayes.models.attempts`);
what the data say directly is the unbiased estimator of Chen et al. (2021): for an item attempted
``n`` times with ``c`` exact matches, ``1 − C(n − c, k) / C(n, k)``, averaged over the items
(defined for ``k ≤ n``). Both are per model size and target length; summary quantities are named
``pass_at_<k>``, and ``pass_exponent`` is ``b`` of ``−log pass@k ≈ A·k^(−b)`` fitted over the
``k`` of the grid where pass@k is below 0.999 (Schaeffer et al. 2025: the hardest items' share
sets it; a size where fewer than two ``k`` are left has none).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import arviz as az
import numpy as np
from scipy.special import gammaln

from mirage_bayes.fitting.data import TaskData
from mirage_bayes.fitting.inference import chance_scale_of, item_shape_of, stacked
from mirage_bayes.models.attempts import default_ks, exponent_ks, log_pass_exponent, pass_at_k

__all__ = [
    "attempt_ks", "attempt_quantities", "exponent_draws", "observed_pass_at_k",
    "pass_quantity", "unbiased_pass_at_k", "unit_note",
]  # fmt: skip


def pass_quantity(k: int) -> str:
    """The summary's name of pass@k: ``pass_at_<k>``."""
    return f"pass_at_{int(k)}"


def unit_note(data: TaskData) -> str:
    """What ε counts when attempts were given as counts (empty otherwise), for the task's note in
    the log and the report."""
    if "n_attempts" not in data.rows:
        return ""
    how = "attempted until the first exact match" if data.until_pass else "counted attempts"
    return (
        f"{how}: the unit of ε is one attempt (the whole answer), so ε is the share of attempts "
        "that fail and accuracy (length 1) is pass@1"
    )


def attempt_ks(data: TaskData, requested: Sequence[int] | None = None) -> list[int]:
    """The ``k`` grid of a task: ``requested``, else 1, 2, 5, 10, ... up to the most attempts any
    item had at a size."""
    if requested:
        return sorted({int(k) for k in requested})
    return default_ks(int(data.attempts.max()))


def unbiased_pass_at_k(n: np.ndarray, c: np.ndarray, k: int) -> np.ndarray:
    """``1 − C(n − c, k) / C(n, k)`` elementwise, through log-gamma (vectorised; exact to
    rounding where the ratio is tiny); NaN where ``n < k``."""
    n, c = np.asarray(n, dtype=np.float64), np.asarray(c, dtype=np.float64)
    fail = n - c
    with np.errstate(invalid="ignore"):
        # log C(n − c, k) − log C(n, k); gammaln of a negative argument (n − c < k) is not used.
        log_ratio = (gammaln(fail + 1) - gammaln(np.maximum(fail - k, 0) + 1)
                     - gammaln(n + 1) + gammaln(np.maximum(n - k, 0) + 1))  # fmt: skip
    out = np.where(fail < k, 1.0, -np.expm1(log_ratio))
    return np.where(n >= k, out, np.nan)


def observed_pass_at_k(data: TaskData, lengths: Sequence[int], ks: Sequence[int]) -> np.ndarray:
    """The unbiased estimator averaged over the items of each length: ``(scales, lengths, ks)``,
    NaN where no item of that length had ``k`` attempts at that size. Items attempted until
    their first pass count as passed within ``k`` or not."""
    out = np.full((data.n_scales, len(lengths), len(ks)), np.nan)
    item_length = data.item_length
    for m, k in enumerate(ks):
        if data.until_pass:
            # Attempted until the first pass: "passed within k" is Bernoulli(pass@k) per item
            # for k up to the cap; beyond an item's cap without a pass it is unknown.
            evaluated = data.attempts > 0
            passed = (data.successes > 0) & (data.attempts <= k)
            known = evaluated & (passed | (data.attempts >= k))
            per_item = np.where(known, passed.astype(float), np.nan)
        else:
            per_item = unbiased_pass_at_k(data.attempts, data.successes, k)
        for j, length in enumerate(lengths):
            cells = np.where(item_length == length, per_item, np.nan)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # no item: NaN, said above
                out[:, j, m] = np.nanmean(cells, axis=0)
    return out


def exponent_draws(
    ks: Sequence[int], draws: np.ndarray, observed: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``pass_exponent`` per draw and from the data, per scale (``draws``: ``(draws, scales,
    ks)``, ``observed``: ``(scales, ks)``), each over the ``k`` where the posterior mean of
    pass@k is not saturated (:func:`~mirage_bayes.models.attempts.exponent_ks`); NaN where
    fewer than two ``k`` are left, or, for the data, where an estimate there is 0 or 1."""
    ks = np.asarray(ks)
    out = np.full(draws.shape[:2], np.nan)
    seen = np.full(draws.shape[1], np.nan)
    for s in range(draws.shape[1]):
        keep = exponent_ks(draws[:, s].mean(0))
        if keep.sum() < 2:
            continue
        out[:, s] = log_pass_exponent(ks[keep], draws[:, s][:, keep])
        values = observed[s, keep]
        if ((values > 0) & (values < 1)).all():
            seen[s] = log_pass_exponent(ks[keep], values)
    return out, seen


def attempt_quantities(
    data: TaskData,
    idata: az.InferenceData,
    lengths: Sequence[int],
    chance: np.ndarray,
    ks: Sequence[int],
) -> list[tuple[str, int, np.ndarray, np.ndarray]]:
    """``(quantity, length, observed per scale, draws (draws, scales))`` of pass@k for every
    ``k`` and of ``pass_exponent``, per target length, for the summary table; ``chance`` is
    ``(scales, lengths)``."""
    mu, sigma = stacked(idata, "mu"), stacked(idata, "sigma_item")
    draws = pass_at_k(mu, sigma, lengths, chance, ks, chance_scale_of(idata), item_shape_of(idata))
    observed = observed_pass_at_k(data, lengths, ks)
    out = []
    for j, length in enumerate(lengths):
        for m, k in enumerate(ks):
            out.append((pass_quantity(k), length, observed[:, j, m], draws[:, :, j, m]))
        if len(ks) >= 2:
            exponent, seen = exponent_draws(ks, draws[:, :, j, :], observed[:, j])
            out.append(("pass_exponent", length, seen, exponent))
    return out
