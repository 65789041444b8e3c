"""Simulated aggregate results with a known truth, for the tests, the benchmark and validation.

Proportion shapes (accuracy over ``n_items`` items at each model size; ``x`` is the standardized
log size, −1 at the smallest model and 1 at the largest):

* ``"smooth"``: the null of :mod:`mirage_bayes.models.aggregate` holds — ``η`` is linear in
  ``x``, ``p = c + (1 − c)·exp(−exp(η))``. Slopes go up to ``β = −6`` per half range, so some of
  these curves look sharply "emergent" while being smooth laws.
* ``"sharp"``: a plateau above chance, then a break inside the observed range after which ``η``
  falls steeply (``β`` between −12 and −6 after the break, 0 before it).
* ``"late_jump"``: flat near chance (within 0.5% of the above-chance range) for at least half
  the sizes, creeping up by at most 5% until the third largest, then a rise of 0.3 or more in
  accuracy within the last two sizes: the emergence claim.
* ``"saturating"``: rises over the first sizes and then stays flat at a plateau between 0.6 and
  0.95 (sciq, BLiMP: 0.61 → 0.92 → flat).
* ``"step"``: 0 at every size but the largest, which is near 1 (0, 0, 0, 0.992).
* ``"irregular"``: a steady rise (from 0.2–0.5 to 0.6–0.9 above chance) with one size, neither
  the smallest nor the largest, that fails: its accuracy above chance falls to a tenth (a
  formatting failure).
* ``"worse"``: a steady rise whose largest size falls back by 0.15 to 0.4.

Other kinds:

* ``"continuous"``: a smooth law on a continuous metric, ``y = a + b·x + noise``
  (``kind = continuous``).
* ``"loss"``: a power law with an irreducible term, ``L = E + A·(N/N_0)^(−α)`` with
  ``α ∈ (0.3, 1)``, multiplicative noise of 0.2–2% (``kind`` left empty: the metric is named
  ``perplexity``, and a stderr column is given).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mirage_bayes.models.trends import softplus

__all__ = ["SHAPES", "simulate_triplets"]

SHAPES = ("smooth", "sharp", "late_jump", "saturating", "step", "irregular", "worse",
          "continuous", "loss")  # fmt: skip
_CONTINUOUS = ("continuous", "loss")


def simulate_triplets(
    n_triplets: int,
    *,
    shape: str = "smooth",
    n_scales: int = 8,
    n_items: int = 200,
    chance: float = 0.0,
    sizes: tuple[float, float] = (1e8, 1e11),
    family: str = "sim",
    metric: str | None = None,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Simulate ``n_triplets`` scaling curves in the ``mirage-bayes meta`` input format.

    Parameters
    ----------
    n_triplets
        Number of (family, task, metric) curves; tasks are named ``task_0000``, ...
    shape
        One of :data:`SHAPES` (see the module docstring).
    n_scales
        Model sizes per curve, log-spaced over ``sizes``.
    n_items
        Test items at every size (proportions).
    chance
        Chance level of the proportion.
    sizes
        Smallest and largest parameter count.
    family, metric
        Labels (metric defaults to ``accuracy``, ``score`` or ``perplexity``).
    seed
        Random seed.

    Returns
    -------
    (pandas.DataFrame, pandas.DataFrame)
        The table (``family, model, n_params, task, metric, score`` and, for proportions,
        ``n_items, chance, kind``; ``kind`` for continuous curves; ``stderr`` for losses) and
        the truth per triplet and size (``task, n_params, true_mean``).
    """
    if shape not in SHAPES:
        raise ValueError(f"shape must be one of {SHAPES}")
    rng = np.random.default_rng(seed)
    n_params = np.logspace(np.log10(sizes[0]), np.log10(sizes[1]), n_scales)
    x = np.linspace(-1.0, 1.0, n_scales)
    default = {"continuous": "score", "loss": "perplexity"}.get(shape, "accuracy")
    metric = metric or default
    rows, truth = [], []
    for t in range(n_triplets):
        task = f"task_{t:04d}"
        extra: list[dict] = [{} for _ in range(n_scales)]
        if shape == "continuous":
            a, b, noise = rng.uniform(0.2, 0.6), rng.uniform(-0.05, 0.3), rng.uniform(0.01, 0.05)
            mean = a + b * x
            values = mean + noise * rng.standard_normal(n_scales)
            extra = [{"kind": "continuous"} for _ in range(n_scales)]
        elif shape == "loss":
            mean, values, se = _loss(n_params, rng)
            extra = [{"stderr": s} for s in se]
        else:
            mean = chance + (1 - chance) * _above_chance(shape, x, rng, chance)
            values = rng.binomial(n_items, mean) / n_items
            extra = [{"n_items": n_items, "chance": chance, "kind": "proportion"}] * n_scales
        for s in range(n_scales):
            rows.append({"family": family, "model": f"m{s}", "n_params": n_params[s],
                         "task": task, "metric": metric, "score": values[s],
                         **extra[s]})  # fmt: skip
            truth.append({"task": task, "n_params": n_params[s], "true_mean": mean[s]})
    return pd.DataFrame(rows), pd.DataFrame(truth)


def _loss(n_params: np.ndarray, rng: np.random.Generator):
    alpha = rng.uniform(0.3, 1.0)
    floor = rng.uniform(0.0, 0.5)  # irreducible part, relative to the loss of the largest model
    scale = rng.uniform(2.0, 50.0)
    reducible = (n_params / n_params[-1]) ** (-alpha)
    mean = scale * (floor + reducible) / (floor + 1.0)
    relative = rng.uniform(0.002, 0.02)
    values = mean * np.exp(relative * rng.standard_normal(mean.size))
    return mean, values, relative * values


def _above_chance(shape: str, x: np.ndarray, rng: np.random.Generator,
                  chance: float = 0.0) -> np.ndarray:  # fmt: skip
    """The true success probability above chance, as a fraction of ``1 − c``."""
    n = x.size
    if shape == "smooth":
        beta = rng.uniform(-6.0, -0.5)
        # Where the curve crosses η = 0 (p' = 1/e), anywhere from before to past the range.
        crossing = rng.uniform(-1.2, 1.2)
        return np.exp(-np.exp(beta * (x - crossing)))
    if shape in ("irregular", "worse"):
        p = np.linspace(rng.uniform(0.2, 0.5), rng.uniform(0.6, 0.9), n)
        if shape == "irregular":
            p[rng.integers(1, n - 1)] *= 0.1
        else:
            p[-1] = p[-2] - rng.uniform(0.15, 0.4)
        return p
    if shape == "sharp":
        plateau = rng.uniform(0.15, 0.35)  # above-chance accuracy before the break
        x_break = rng.uniform(-0.3, 0.35)
        slope = rng.uniform(-12.0, -6.0)
        kink = 0.02 * softplus((x - x_break) / 0.02)
        return np.exp(-np.exp(np.log(-np.log(plateau)) + slope * kink))
    if shape == "late_jump":
        p = rng.uniform(0.0, 0.005, n)  # flat near chance ...
        flat = rng.integers((n + 1) // 2, n - 1)  # ... for at least half the sizes,
        p[flat : n - 2] += np.linspace(0.0, rng.uniform(0.0, 0.05), n - 2 - flat)  # then creeps
        # A rise of at least 0.3 (in accuracy, chance included) within the last two sizes.
        least = p[-3] + 0.3 / (1.0 - chance) + 0.02
        top = rng.uniform(min(least, 0.95), 0.97)
        share = rng.uniform(0.0, 0.6)  # how much of the rise the second-largest size shows
        p[-1] = top
        p[-2] = p[-3] + share * (top - p[-3])
        return p
    if shape == "saturating":
        plateau = rng.uniform(0.6, 0.95)
        start = rng.uniform(0.2, 0.6) * plateau
        tau = rng.uniform(0.15, 0.4)  # in units of the whole range of x
        return plateau - (plateau - start) * np.exp(-(x + 1.0) / tau)
    if shape == "step":
        p = np.zeros(n)
        p[-1] = rng.uniform(0.95, 1.0)
        return p
    raise ValueError(shape)
