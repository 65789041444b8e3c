"""What kind of curve a triplet is, in words, and the noise floor of continuous metrics.

Emergence, as claimed, is "sharp and unpredictable from smaller models". The classes below say
which curves fit that claim and which look abrupt for another reason. Every rule works on the
*analysis scale* ``v`` of a curve (better upwards: the proportion ``k/n``, the oriented score of a
continuous metric, ``−log L`` of a loss) with a standard error ``se`` per size (binomial for a
proportion, the noise floor otherwise), sizes sorted from smallest to largest. In order:

``worse``
    the largest size is below an earlier size by more than ``Z_DROP`` standard errors of the
    difference (accuracy falling at the largest model);
``irregular``
    some other size is below an earlier one by more than ``Z_DROP`` standard errors
    (a formatting failure at one size: 0.51, 0.50, 0.05, 0.47);
``too_few``
    fewer than ``MIN_SIZES_LATE`` sizes: a steep smooth law and a step look alike (validation:
    ``validation/README.md``);
``late_jump``
    the largest ``h`` sizes (``h = 2`` from 6 sizes on, else 1) are more than the smooth law fitted
    to the smaller sizes forecasts (leave-future-out posterior predictive p-value
    ``p_late < LATE_ALPHA``), and the largest size keeps the jump: it gains more than ``Z_GAIN``
    standard errors over the best smaller size, and at least ``LATE_SHARE`` of the curve's whole
    range (a spike at the second largest size that falls back at the largest is no late jump);
``accelerating``
    beyond the forecast, and the largest size gains more than ``Z_GAIN`` standard errors over the
    best smaller size, but less than ``LATE_SHARE`` of the range: most of the rise came earlier.
    Beyond the forecast without such a gain at the largest size (within noise of the best
    smaller size, or fallen back to it), the curve gets the class the rules below give it;
``flat``
    no rise between any two sizes beyond ``Z_RISE`` standard errors;
``saturating``
    at least ``EARLY_SHARE`` of the rise is reached by the middle size (0.61 → 0.92 → flat);
``smooth``
    the rest: rises over the range as a smooth law forecasts it.

Only ``late_jump`` counts as emergent in the population numbers.

Noise floor of a continuous metric or a loss without a ``stderr`` column: the scatter of each
curve around the straight line through its neighbours (:func:`local_scatter`, which a smooth
curve sampled densely makes small and noise makes large); the larger of the curve's own scatter
and the median over every curve of the same metric (:func:`pooled_floor`), and never below the
table's reporting precision.
"""

from __future__ import annotations

import numpy as np

from mirage_bayes.settings import LATE_ALPHA

__all__ = [
    "CLASSES",
    "LATE_ALPHA",
    "MIN_SIZES_LATE",
    "classify",
    "has_drop",
    "late_shape",
    "local_scatter",
    "n_future",
    "pooled_floor",
    "proportion_se",
]

CLASSES = {
    "late_jump": "late jump beyond the smooth law",
    "accelerating": "beyond the smooth forecast, but most of the rise came earlier",
    # What the check tests is the largest sizes: a step between smaller sizes can land here.
    "smooth": "rises as the smooth law forecasts its largest sizes",
    "saturating": "saturating: rises early, then flat",
    "flat": "flat: no change beyond noise",
    "worse": "getting worse at the largest size",
    "irregular": "irregular: non-monotone beyond noise",
    "too_few": "too few sizes to tell a step from a steep smooth law",
    "not_analysed": "not analysed (see note)",
}
Z_DROP = 3.5
Z_RISE = 3.0
Z_GAIN = 2.0
LATE_SHARE = 0.5
EARLY_SHARE = 0.8
MIN_SIZES_LATE = 6


def n_future(n_scales: int) -> int:
    """How many of the largest sizes the leave-future-out check forecasts (2 from 6 sizes on)."""
    return 2 if n_scales >= 6 else 1


def proportion_se(k: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Binomial standard error of ``k/n`` with ``p̃ = (k + ½)/(n + 1)`` (never 0)."""
    k, n = np.asarray(k, float), np.asarray(n, float)
    p = (k + 0.5) / (n + 1.0)
    return np.sqrt(p * (1.0 - p) / n)


def _pair_z(v: np.ndarray, se: np.ndarray) -> np.ndarray:
    """``(v_i − v_j) / sqrt(se_i² + se_j²)`` for every pair; positive where i is higher."""
    diff = v[:, None] - v[None, :]
    return diff / np.sqrt(se[:, None] ** 2 + se[None, :] ** 2)


def has_drop(v: np.ndarray, se: np.ndarray) -> bool:
    """Whether some size is below an earlier one by more than ``Z_DROP`` standard errors."""
    v, se = np.asarray(v, float), np.asarray(se, float)
    return v.size >= 2 and bool(np.triu(_pair_z(v, se), k=1).max() > Z_DROP)


def _late_gain(
    v_past: np.ndarray,
    se_past: np.ndarray,
    v_future: np.ndarray,
    se_future: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Whether the largest size gains beyond noise over the best smaller size (more than
    ``Z_GAIN`` standard errors), and whether that gain is at least ``LATE_SHARE`` of the whole
    range; one entry per row of ``v_future`` (which may carry a leading replicate axis)."""
    v_future, se_future = np.atleast_2d(v_future), np.atleast_2d(se_future)
    best = int(np.argmax(v_past))
    gain = v_future[:, -1] - v_past[best]
    low = np.minimum(v_past.min(), v_future.min(axis=-1))
    span = np.maximum(v_past.max(), v_future.max(axis=-1)) - low
    noise = np.sqrt(se_past[best] ** 2 + se_future[:, -1] ** 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        return gain > Z_GAIN * noise, (gain >= LATE_SHARE * span) & (span > 0)


def late_shape(
    v_past: np.ndarray,
    se_past: np.ndarray,
    v_future: np.ndarray,
    se_future: np.ndarray,
) -> np.ndarray:
    """Whether the largest sizes rise late and the largest keeps the rise: it gains over the
    best smaller size beyond ``Z_GAIN`` standard errors and at least ``LATE_SHARE`` of the
    whole range.

    ``v_future`` and ``se_future`` may carry leading axes (one row per replicate); the null
    counts of :mod:`mirage_bayes.meta.triplet` apply the same rule to each forecast.
    """
    real, large = _late_gain(v_past, se_past, v_future, se_future)
    return real & large


def classify(
    v: np.ndarray,
    se: np.ndarray,
    p_late: float | None,
    alpha: float = LATE_ALPHA,
) -> str:
    """The class of one curve (see the module docstring).

    Parameters
    ----------
    v, se
        Values on the analysis scale (better upwards) and their standard errors, smallest size
        first.
    p_late
        Leave-future-out p-value of the largest sizes (``None`` when it was not computed).
    alpha
        The late-jump threshold: ``p_late < alpha`` (``MetaConfig.late_alpha``).

    Returns
    -------
    str
        A key of :data:`CLASSES`.
    """
    v, se = np.asarray(v, float), np.asarray(se, float)
    n = v.size
    z = _pair_z(v, se)
    earlier_higher = np.triu(z, k=1)  # i < j and v_i above v_j
    if n >= 2 and earlier_higher[:, -1].max() > Z_DROP:
        return "worse"
    if n >= 3 and earlier_higher.max() > Z_DROP:
        return "irregular"
    if n < MIN_SIZES_LATE:
        return "too_few"
    h = n_future(n)
    if p_late is not None and np.isfinite(p_late) and p_late < alpha:
        real, large = (flag[0] for flag in _late_gain(v[:-h], se[:-h], v[-h:], se[-h:]))
        if real:
            return "late_jump" if large else "accelerating"
    later_higher = np.triu(-z, k=1)
    if later_higher.max() <= Z_RISE:
        return "flat"
    low = v[: int(np.argmax(v)) + 1].min()  # the lowest point before the best one
    rise = v.max() - low
    middle = (n - 1) // 2
    if rise > 0 and v[: middle + 1].max() - low >= EARLY_SHARE * rise:
        return "saturating"
    return "smooth"


def local_scatter(x: np.ndarray, v: np.ndarray) -> float:
    """Noise scale of one curve: RMS distance of each inner point from the straight line
    through its two neighbours, divided by that distance's standard deviation under pure noise
    (``sqrt(1 + w² + (1 − w)²)`` for a point at fraction ``w`` between its neighbours).

    Returns NaN for fewer than 3 distinct sizes.
    """
    x, v = np.asarray(x, float), np.asarray(v, float)
    if x.size < 3:
        return float("nan")
    left, mid, right = slice(None, -2), slice(1, -1), slice(2, None)
    width = x[right] - x[left]
    ok = width > 0
    if not ok.any():
        return float("nan")
    w = (x[mid] - x[left])[ok] / width[ok]
    line = v[left][ok] + w * (v[right][ok] - v[left][ok])
    ratio = (v[mid][ok] - line) / np.sqrt(1 + w**2 + (1 - w) ** 2)
    return float(np.sqrt(np.mean(ratio**2)))


def pooled_floor(scatters: np.ndarray, values: np.ndarray) -> float:
    """The noise floor of a metric: the median scatter of its curves, at least the reporting
    precision (the smallest non-zero difference between its values over √12).

    Parameters
    ----------
    scatters
        :func:`local_scatter` of each curve of the metric (NaN entries ignored).
    values
        Every value of the metric in the table (on the analysis scale).
    """
    scatters = np.asarray(scatters, float)
    scatters = scatters[np.isfinite(scatters)]
    median = float(np.median(scatters)) if scatters.size else 0.0
    steps = np.diff(np.unique(np.asarray(values, float)))
    steps = steps[steps > 0]
    precision = float(steps.min()) / np.sqrt(12.0) if steps.size else 0.0
    return max(median, precision)
