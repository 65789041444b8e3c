"""Simulated aggregate results with a known truth, for the tests, the benchmark and validation.

Two kinds of proportion triplets (accuracy over ``n_items`` items at each model size):

* ``"smooth"``: the null of :mod:`mirage_bayes.models.aggregate` holds — ``η`` is linear in the
  standardized log size, ``p = c + (1 − c)·exp(−exp(η))``. Slopes go up to ``β = −6`` per half
  range, so some of these curves look sharply "emergent" while being smooth laws.
* ``"sharp"``: a plateau above chance, then a break inside the observed range after which ``η``
  falls steeply (``β`` between −12 and −6 after the break, 0 before it): a shape that a single
  power law cannot make.

``"continuous"`` triplets are a smooth law on a continuous metric: ``y = a + b·x + noise``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mirage_bayes.models.trends import softplus

__all__ = ["simulate_triplets"]

SHAPES = ("smooth", "sharp", "continuous")


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
        ``"smooth"``, ``"sharp"`` or ``"continuous"`` (see the module docstring).
    n_scales
        Model sizes per curve, log-spaced over ``sizes``.
    n_items
        Test items at every size (proportions).
    chance
        Chance level of the proportion.
    sizes
        Smallest and largest parameter count.
    family, metric
        Labels (metric defaults to ``accuracy`` or ``score`` for continuous curves).
    seed
        Random seed.

    Returns
    -------
    (pandas.DataFrame, pandas.DataFrame)
        The table (``family, model, n_params, task, metric, score`` and, for proportions,
        ``n_items, chance, kind``) and the truth per triplet (``task``, the true curve per size
        as ``p_true`` or ``mu_true`` in long form).
    """
    if shape not in SHAPES:
        raise ValueError(f"shape must be one of {SHAPES}")
    rng = np.random.default_rng(seed)
    n_params = np.logspace(np.log10(sizes[0]), np.log10(sizes[1]), n_scales)
    x = np.linspace(-1.0, 1.0, n_scales)
    metric = metric or ("score" if shape == "continuous" else "accuracy")
    rows, truth = [], []
    for t in range(n_triplets):
        task = f"task_{t:04d}"
        if shape == "continuous":
            a, b, noise = rng.uniform(0.2, 0.6), rng.uniform(-0.05, 0.3), rng.uniform(0.01, 0.05)
            mean = a + b * x
            values = mean + noise * rng.standard_normal(n_scales)
        else:
            eta = _eta(shape, x, rng)
            mean = chance + (1 - chance) * np.exp(-np.exp(eta))
            values = rng.binomial(n_items, mean) / n_items
        for s in range(n_scales):
            row = {"family": family, "model": f"m{s}", "n_params": n_params[s], "task": task,
                   "metric": metric, "score": values[s]}  # fmt: skip
            if shape != "continuous":
                row |= {"n_items": n_items, "chance": chance, "kind": "proportion"}
            rows.append(row)
            truth.append({"task": task, "n_params": n_params[s], "true_mean": mean[s]})
    return pd.DataFrame(rows), pd.DataFrame(truth)


def _eta(shape: str, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    if shape == "smooth":
        beta = rng.uniform(-6.0, -0.5)
        # Where the curve crosses η = 0 (p' = 1/e), anywhere from before to past the range.
        crossing = rng.uniform(-1.2, 1.2)
        return beta * (x - crossing)
    plateau = rng.uniform(0.15, 0.35)  # above-chance accuracy before the break
    x_break = rng.uniform(-0.3, 0.35)
    slope = rng.uniform(-12.0, -6.0)
    sharpness = 0.02
    kink = sharpness * softplus((x - x_break) / sharpness)
    return np.log(-np.log(plateau)) + slope * kink
