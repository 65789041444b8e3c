"""The emergence score of a scaling curve, Benjamini–Hochberg q-values and count intervals.

The emergence score is BIG-bench's "breakthroughness" (Srivastava et al. 2022, appendix B), which
Schaeffer et al. (2023) write as their Eq. 1::

    score(y) = sign(argmax y − argmin y) · (max y − min y) / sqrt(median_i (y_i − y_{i−1})²)

with the scales sorted by size. It is large when most of the change happens in a few steps and
the other steps are flat, positive when the best value comes after the worst (improvement with
scale) and negative otherwise. A straight line over ``S`` scales scores exactly ``S − 1``.

Degenerate curves. Finite test sets make flat stretches common (``0, 0, 0, 0, 0, 27/204``): the
median squared step is then 0 and Eq. 1 is infinite. mirage-bayes adds a *resolution* term::

    score(y) = sign(...) · (max y − min y) / sqrt(median_i (y_i − y_{i−1})² + r²)

where ``r`` is the smallest change the measurement can show: one item, ``1/n``, for a
proportion over ``n`` items (the median ``n`` of the triplet's scales), and the noise floor for a
continuous metric or a loss (its ``stderr``, else the scatter estimated from the table:
:attr:`mirage_bayes.meta.io.Triplet.resolution`). A fixed fraction of the observed range
(:func:`continuous_resolution`, kept for comparison) made a BERTScore moving from 0 to 0.0003
score 1000. A curve whose values are all equal scores 0. The same
``r`` is used for the observed curve and for every posterior predictive replicate, so the
posterior predictive p-value compares like with like. Ties in ``argmax``/``argmin`` resolve to
the first (smallest) scale, as in NumPy.
"""

from __future__ import annotations

import numpy as np

from mirage_bayes.settings import DEFAULT_THRESHOLD, HDI_PROB

__all__ = [
    "DEFAULT_THRESHOLD",
    "CONTINUOUS_RESOLUTION",
    "emergence_score",
    "proportion_resolution",
    "continuous_resolution",
    "bh_qvalues",
    "count_summary",
]

# BIG-bench ranks tasks by breakthroughness and the paper counts "emergent" triplets, but neither
# text we could check fixes a numeric cut-off. 20 is twice the score of a straight line over
# BIG-G's 12 sizes (11) and more than three times that over Pythia's 7 (6): a curve must put its
# whole change into a few steps to pass it. ``--threshold`` changes it.

# A continuous metric's resolution, as a fraction of the observed range (see the module text).
CONTINUOUS_RESOLUTION = 1e-3


def proportion_resolution(n_items: np.ndarray) -> float:
    """One item's worth, ``1 / median(n)``, for a proportion over ``n`` items per scale."""
    return 1.0 / float(np.median(np.asarray(n_items, dtype=float)))


def continuous_resolution(values: np.ndarray) -> float:
    """A thousandth of the observed range (0 when every value is the same)."""
    values = np.asarray(values, dtype=float)
    return CONTINUOUS_RESOLUTION * float(np.ptp(values))


def emergence_score(y: np.ndarray, resolution: float = 0.0) -> np.ndarray:
    """Emergence score (Eq. 1) of curves over scales sorted by size, with a resolution term.

    Parameters
    ----------
    y
        Values oriented so that higher is better, shape ``(..., n_scales)``; the last axis runs
        over scales from the smallest model to the largest. ``n_scales`` must be at least 2.
    resolution
        ``r`` in ``sqrt(median(Δy²) + r²)``; keeps flat-then-jump curves finite.

    Returns
    -------
    numpy.ndarray
        One score per curve (shape ``y.shape[:-1]``); 0 where every value is the same.
    """
    y = np.asarray(y, dtype=float)
    if y.shape[-1] < 2:
        raise ValueError("the emergence score needs at least two scales")
    spread = y.max(axis=-1) - y.min(axis=-1)
    sign = np.sign(np.argmax(y, axis=-1) - np.argmin(y, axis=-1))
    steps = np.median(np.diff(y, axis=-1) ** 2, axis=-1)
    denominator = np.sqrt(steps + resolution**2)
    with np.errstate(divide="ignore", invalid="ignore"):
        score = np.where(spread > 0, sign * spread / denominator, 0.0)
    return score


def bh_qvalues(p_values: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values (q-values); NaN entries stay NaN and are not counted.

    Parameters
    ----------
    p_values
        One p-value per hypothesis.

    Returns
    -------
    numpy.ndarray
        ``q_i = min_{j ≥ i} (M / j) · p_(j)`` in the original order, capped at 1, where ``M``
        counts the finite p-values (SciPy's ``false_discovery_control``).
    """
    from scipy.stats import false_discovery_control

    p = np.asarray(p_values, dtype=float)
    q = np.full(p.shape, np.nan)
    finite = np.isfinite(p)
    if finite.any():
        q[finite] = false_discovery_control(np.clip(p[finite], 0.0, 1.0), method="bh")
    return q


def count_summary(counts: np.ndarray, hdi_prob: float = HDI_PROB) -> dict[str, float | list]:
    """Mean and highest-density interval of a distribution of counts (one per joint draw).

    Returns
    -------
    dict
        ``mean`` and ``hdi`` (``[low, high]``, ArviZ's HDI at ``hdi_prob``).
    """
    import arviz as az

    counts = np.asarray(counts, dtype=float)
    if counts.size == 0:
        return {"mean": float("nan"), "hdi": [float("nan"), float("nan")]}
    if np.ptp(counts) == 0:
        return {"mean": float(counts[0]), "hdi": [float(counts[0]), float(counts[0])]}
    low, high = az.hdi(counts, hdi_prob=hdi_prob)
    return {"mean": float(counts.mean()), "hdi": [float(low), float(high)]}
