"""Edge regimes of the generation model: data at the boundaries of what a test set can show.

Each case is a pre-scored outputs table (``n_tokens``, ``n_errors``) built from the paper's model
with the extremes forced in; ``run_case`` fits it and reports what a user would need to know:
time, peak memory, whether any summary value is missing, and the sampler diagnostics. Used by
``validation/run_validation.py edge`` (the full table, 10⁶ items included) and by
``tests/simulate/test_edge_regimes.py`` (the small cases).
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable

import numpy as np
import pandas as pd

from mirage_bayes.fitting.generation import fit
from mirage_bayes.settings import SMOOTH_TREND

SIZES = (1e8, 1e9, 1e10, 1e11, 1e12)


def prescored(errors: np.ndarray, tokens: np.ndarray, sizes=SIZES, task="edge") -> pd.DataFrame:
    """A pre-scored outputs table from ``(items, scales)`` error and token matrices."""
    n_items, n_scales = errors.shape
    items = np.arange(n_items).astype(str)
    frame = pd.DataFrame(
        {
            "task": task,
            "model": np.repeat([f"m{i}" for i in range(n_scales)], n_items),
            "n_params": np.repeat(np.asarray(sizes, dtype=float)[:n_scales], n_items),
            "item": np.tile(items, n_scales),
            "family": None,
            "n_tokens": tokens.T.reshape(-1).astype(np.int64),
            "n_errors": errors.T.reshape(-1).astype(np.int64),
        }
    )
    frame.attrs.update(prescored=True, item_ids=True, source=f"edge case {task}")
    return frame


def _power_law_errors(n_items: int, length: int, seed: int, sizes=SIZES) -> np.ndarray:
    rng = np.random.default_rng(seed)
    u = rng.normal(0.0, 0.5, size=(n_items, 1))
    eta = -0.6 * np.log(np.asarray(sizes) / 3e8)[None, :] + u
    return rng.binomial(length, -np.expm1(-np.exp(eta)))


def perfect_and_hopeless(n_items: int = 60, seed: int = 0) -> pd.DataFrame:
    """The two smallest models get every token wrong, the two largest every token right."""
    errors = _power_law_errors(n_items, 4, seed)
    errors[:, :2] = 4
    errors[:, -2:] = 0
    return prescored(errors, np.full_like(errors, 4), task="perfect_and_hopeless")


def one_item(seed: int = 0) -> pd.DataFrame:
    """A test set of a single item of 5 tokens."""
    errors = _power_law_errors(1, 5, seed)
    return prescored(errors, np.full_like(errors, 5), task="one_item")


def one_token(n_items: int = 60, seed: int = 0) -> pd.DataFrame:
    """Every target is a single token."""
    errors = _power_law_errors(n_items, 1, seed)
    return prescored(errors, np.ones_like(errors), task="one_token")


def many_items(n_items: int = 1_000_000, seed: int = 0) -> pd.DataFrame:
    """A very large test set (3-token targets), held as per-pattern sufficient statistics."""
    errors = _power_law_errors(n_items, 3, seed, sizes=SIZES[:4])
    return prescored(errors, np.full_like(errors, 3), sizes=SIZES[:4], task="many_items")


CASES: dict[str, Callable[[], pd.DataFrame]] = {
    "perfect_and_hopeless": perfect_and_hopeless,
    "one_item": one_item,
    "one_token": one_token,
    "many_items": many_items,
}


def run_case(
    outputs: pd.DataFrame, *, draws: int = 300, seed: int = 0, memory: bool = True
) -> dict:
    """Fit one case (scale-free and power law) and report time, memory and diagnostics.

    ``memory=False`` leaves out the peak memory (``peak_memory_mb`` is then NaN): tracing every
    allocation slows the fit's own work in this process several times over.
    """
    if memory:
        tracemalloc.start()
    start = time.perf_counter()
    try:
        result = fit(
            outputs, trends=(SMOOTH_TREND,), draws=draws, tune=draws, chains=2, seed=seed,
            progressbar=False, log=None,
        )  # fmt: skip
        summary = result.summary()
        diagnostics = result.diagnostics()
        comparison = result.comparisons[0]
    finally:
        peak = tracemalloc.get_traced_memory()[1] if memory else float("nan")
        if memory:
            tracemalloc.stop()
    values = summary[["mean", "hdi_low", "hdi_high"]].to_numpy()
    return {
        "items": int(outputs["item"].nunique()),
        "sizes": int(outputs["model"].nunique()),
        "patterns": int(result.tasks[0].pattern_counts.size),
        "seconds": round(time.perf_counter() - start, 1),
        "peak_memory_mb": round(peak / 1e6) if memory else float("nan"),
        "missing_values": int(np.isnan(values).sum()),
        "max_rhat": float(diagnostics["max_rhat"].max()),
        "min_ess_bulk": float(diagnostics["min_ess_bulk"].min()),
        "divergences": int(diagnostics["divergences"].sum()),
        "diagnostics_ok": bool(result.ok),
        "loo_points": int(comparison.attrs["n_points"][SMOOTH_TREND]),
        "result": result,
    }
