"""The paper's mathematical model in closed form (Schaeffer et al. 2023, Fig. 2).

Per-token cross-entropy ``L_CE = (N/c)^alpha`` → per-token error ``ε = 1 − exp(−L_CE)`` →
exact match ``(1 − ε)^L`` (sharp), token edit distance ``L·ε`` (smooth), multiple-choice grade
(a step: the right option wins once ``1 − ε > ε/(K − 1)``) and Brier score ``ε²·K/(K − 1)``
(smooth). A test set of ``n`` items of ``L`` tokens cannot resolve per-token rates below
``1/(n·L)`` nor accuracies below ``1/n``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from mirage_bayes.fitting.transforms import accuracy_independent, brier_score, token_edit_distance
from mirage_bayes.output.figures import new_figure


def per_token_error(n_params: np.ndarray, c: float, alpha: float) -> np.ndarray:
    """``ε = 1 − exp(−(N/c)^alpha)``."""
    return -np.expm1(-((np.asarray(n_params, dtype=float) / c) ** alpha))


def mc_grade(epsilon: np.ndarray, choices: int = 2) -> np.ndarray:
    """Multiple-choice grade when ``1 − ε`` sits on the right option and ``ε`` is spread evenly:
    1 when the right option has the largest probability, else 0 (ties count as wrong)."""
    eps = np.asarray(epsilon)
    return ((1 - eps) > eps / (choices - 1)).astype(float)


def metric_curves(
    n_params: np.ndarray,
    *,
    c: float,
    alpha: float,
    lengths: Sequence[int] = (1, 2, 3, 4, 5),
    choices: int = 2,
) -> pd.DataFrame:
    """Every metric of the mathematical model on a grid of sizes, one row per size and length."""
    n_params = np.asarray(n_params, dtype=float)
    eps = per_token_error(n_params, c, alpha)
    frames = [
        pd.DataFrame(
            {
                "n_params": n_params,
                "length": length,
                "cross_entropy": (n_params / c) ** alpha,
                "epsilon": eps,
                "accuracy": accuracy_independent(eps, length),
                "token_edit_distance": token_edit_distance(eps, length),
                "mc_grade": mc_grade(eps, choices),
                "brier": brier_score(eps, choices),
            }
        )
        for length in lengths
    ]
    return pd.concat(frames, ignore_index=True)


def flat_fraction(n_params: np.ndarray, values: np.ndarray, tol: float = 0.1) -> float:
    """Share of the log-size window over which a curve stays within ``tol`` of its total change
    from its value at the smallest size.

    A yardstick of "emergence": a curve that sits flat (say at zero accuracy) over most of the
    window and then moves looks emergent; a curve that moves from the start looks smooth.
    """
    values = np.asarray(values, dtype=float)
    log_n = np.log10(np.asarray(n_params, dtype=float))
    span = np.abs(values - values[0]).max()
    if span == 0:
        return 1.0
    moved = np.nonzero(np.abs(values - values[0]) > tol * span)[0]
    first = moved[0] if moved.size else len(values) - 1
    return float((log_n[first] - log_n[0]) / (log_n[-1] - log_n[0]))


def plot_mirage_model(
    *,
    c: float = 3.0e8,
    alpha: float = -0.6,
    lengths: Sequence[int] = (1, 2, 3, 4, 5),
    choices: int = 4,
    n_items: int = 100,
    n_params: np.ndarray | None = None,
    axes=None,
) -> Figure:
    """The paper's Fig. 2: one smooth law seen through four metrics, with resolution floors.

    Panels: per-token cross-entropy and error rate (with the per-token resolution ``1/(nL)``);
    exact-match accuracy per length (sharp, with the accuracy resolution ``1/n``); token edit
    distance per length (smooth); multiple-choice grade (step) and Brier score (smooth).

    Parameters
    ----------
    c, alpha
        ``L_CE = (N/c)^alpha``.
    lengths
        Target lengths in tokens.
    choices
        Options of the multiple-choice question.
    n_items
        Test-set size behind the resolution floors.
    n_params
        Sizes to draw (default: 1e7 … 1e12).
    axes
        Four matplotlib axes to draw on (default: a new 2×2 figure).
    """
    grid = np.geomspace(1e7, 1e12, 300) if n_params is None else np.asarray(n_params, float)
    curves = metric_curves(grid, c=c, alpha=alpha, lengths=lengths, choices=choices)
    if axes is None:
        fig = new_figure(figsize=(10, 7.5))
        axes = fig.subplots(2, 2).ravel()
    else:
        axes = np.asarray(axes).ravel()
        fig = axes[0].figure
    first = curves[curves["length"] == lengths[0]]
    ax = axes[0]
    ax.loglog(grid, first["cross_entropy"], label="cross-entropy $L_{CE}$")
    ax.loglog(grid, first["epsilon"], label="per-token error ε")
    for length in (min(lengths), max(lengths)):
        ax.axhline(1 / (n_items * length), ls=":", color="grey")
    ax.text(grid[0], 1 / (n_items * max(lengths)), f" 1/(nL), n={n_items}", va="bottom")
    ax.set(title="smooth in scale", xlabel="parameters", ylabel="per token")
    ax.legend()
    for ax, column, title in (
        (axes[1], "accuracy", "exact match (sharp)"),
        (axes[2], "token_edit_distance", "token edit distance (smooth)"),
    ):
        for length in lengths:
            rows = curves[curves["length"] == length]
            ax.plot(grid, rows[column], label=f"L = {length}")
        ax.set(xscale="log", title=title, xlabel="parameters", ylabel=column.replace("_", " "))
        ax.legend(fontsize="small")
    axes[1].axhline(1 / n_items, ls=":", color="grey")
    ax = axes[3]
    ax.plot(grid, first["mc_grade"], label=f"multiple-choice grade (K={choices})")
    ax.plot(grid, first["brier"], label="Brier score")
    ax.set(xscale="log", title="multiple choice", xlabel="parameters", ylabel="score")
    ax.legend(fontsize="small")
    return fig
