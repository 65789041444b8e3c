"""Outputs of a model family simulated from the paper's mathematical model.

Per-token cross-entropy falls as a power law, ``L_CE = (N / c)^alpha`` (optionally with one
smooth break), each item has its own difficulty ``u_i ~ Normal(0, sigma_item)`` on the log
cross-entropy scale, and every target token is reproduced with probability
``exp(−L_CE · exp(u_i))``. A token that is not reproduced is replaced by a digit that does not
occur in the target, so the scored ``n_errors`` equals the number of corrupted tokens exactly and
the simulation truth is recoverable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mirage_bayes.models.generation import GRID_LIMIT

# GPT-3 family sizes (Brown et al. 2020), the family behind the paper's InstructGPT figures.
GPT3_SIZES = (1.25e8, 3.5e8, 7.6e8, 1.3e9, 2.7e9, 6.7e9, 1.3e10, 1.75e11)


@dataclass(frozen=True)
class Break:
    """One smooth break: beyond ``n_params`` the log-log slope changes by ``slope_change``."""

    n_params: float
    slope_change: float
    sharpness: float = 0.1


def log_cross_entropy(
    n_params: np.ndarray, c: float, alpha: float, brk: Break | None = None
) -> np.ndarray:
    """``log L_CE`` at each size: ``alpha·(log N − log c)`` plus the break's smooth kink."""
    log_n = np.log(np.asarray(n_params, dtype=float))
    eta = alpha * (log_n - np.log(c))
    if brk is not None:
        f = brk.sharpness * np.log(10)  # sharpness in decades
        eta = eta + brk.slope_change * f * np.logaddexp(0.0, (log_n - np.log(brk.n_params)) / f)
    return eta


def model_name(n_params: float) -> str:
    """Human-readable size label, e.g. ``1.3B`` or ``350M``."""
    for unit, scale in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n_params >= scale:
            return f"{n_params / scale:.3g}{unit}"
    return f"{n_params:.3g}"


def population_truth(
    eta: np.ndarray, sigma_item: float, lengths: Sequence[int], n_nodes: int = 2001
) -> pd.DataFrame:
    """Population ε and accuracy per scale and length, averaged over item difficulty."""
    nodes = np.linspace(-GRID_LIMIT, GRID_LIMIT, n_nodes)
    w = np.exp(-0.5 * nodes**2)
    w /= w.sum()
    l_ce = np.exp(eta[:, None] + sigma_item * nodes[None, :])
    rows = []
    for s, e in enumerate(eta):
        eps = float(((-np.expm1(-l_ce[s])) * w).sum())
        rows.append({"scale": s, "quantity": "epsilon", "length": np.nan, "value": eps})
        for length in lengths:
            acc = float((np.exp(-length * l_ce[s]) * w).sum())
            rows.append({"scale": s, "quantity": "accuracy", "length": length, "value": acc})
        del e
    return pd.DataFrame(rows)


def simulate_outputs(
    *,
    n_params: Sequence[float] = GPT3_SIZES,
    c: float = 3.0e8,
    alpha: float = -0.6,
    n_items: int = 200,
    lengths: Sequence[int] = (1, 2, 3, 4, 5),
    sigma_item: float = 0.5,
    brk: Break | None = None,
    task: str = "simulated_arithmetic",
    family: str = "simulated",
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Simulate per-item outputs of a model family on one test set.

    Parameters
    ----------
    n_params
        Model sizes.
    c, alpha
        Power law ``L_CE = (N / c)^alpha`` (``alpha < 0``: loss falls with size).
    n_items
        Test items, shared by every model; item ``i`` has target length ``lengths[i % len]``.
    lengths
        Target lengths in tokens (characters: digits).
    sigma_item
        Standard deviation of item difficulty on the log cross-entropy scale.
    brk
        Optional break in the power law.
    task, family
        Labels written to the output.
    seed
        Random seed.

    Returns
    -------
    outputs, truth
        ``outputs``: one row per (model, item) with ``task, family, model, n_params, item,
        target, output``. ``truth``: population ``epsilon`` and ``accuracy`` per model and length.
    """
    rng = np.random.default_rng(seed)
    sizes = np.sort(np.asarray(n_params, dtype=float))
    eta = log_cross_entropy(sizes, c, alpha, brk)
    item_lengths = np.resize(np.asarray(lengths, dtype=int), n_items)
    difficulty = rng.normal(0.0, sigma_item, n_items)
    digits = np.array(list("0123456789"))
    targets = [rng.choice(digits, size=length) for length in item_lengths]
    rows = []
    for s, size in enumerate(sizes):
        p_wrong = -np.expm1(-np.exp(eta[s] + difficulty))
        for i, target in enumerate(targets):
            wrong = rng.random(len(target)) < p_wrong[i]
            output = target.copy()
            if wrong.any():
                unused = np.setdiff1d(digits, target)
                output[wrong] = rng.choice(unused, size=int(wrong.sum()))
            rows.append(
                {
                    "task": task,
                    "family": family,
                    "model": model_name(size),
                    "n_params": size,
                    "item": f"q{i:05d}",
                    "target": "".join(target),
                    "output": "".join(output),
                }
            )
    truth = population_truth(eta, sigma_item, sorted(set(int(v) for v in lengths)))
    truth.insert(0, "model", [model_name(sizes[s]) for s in truth["scale"]])
    truth.insert(1, "n_params", sizes[truth["scale"].to_numpy()])
    return pd.DataFrame(rows), truth.drop(columns="scale")
