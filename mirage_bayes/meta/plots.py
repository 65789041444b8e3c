"""Figures of ``mirage-bayes meta``: late jumps per metric, the null counts, p-values and curves.

Every figure is a :class:`matplotlib.figure.Figure` built without pyplot (no global state), so
worker processes and notebooks can draw them side by side.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from mirage_bayes.output.figures import new_figure
from mirage_bayes.output.formatting import format_number

__all__ = ["plot_by_metric", "plot_flagged", "plot_null_count", "plot_ppp", "plot_top_curves"]

DPI = 110
TOP = 12
_SCALE = {"proportion": "proportion", "continuous": "score (better ↑)", "loss": "−log loss"}


def plot_by_metric(by_metric: pd.DataFrame, *, max_metrics: int = 40) -> Figure:
    """Per metric: late jumps observed, the number the smooth null produces (mean and 94% HDI)
    and, for comparability, the curves whose Eq. 1 score exceeds the threshold."""
    frame = by_metric.sort_values(["n_late_jumps_observed", "n_emergent_observed"]).tail(
        max_metrics
    )
    height = 1.2 + 0.32 * max(len(frame), 1)
    fig = new_figure(figsize=(7.5, height), dpi=DPI)
    ax = fig.add_subplot()
    y = np.arange(len(frame))
    ax.barh(y + 0.27, frame["n_late_jumps_observed"], 0.26, color="#d62728",
            label="late jumps observed")  # fmt: skip
    expected = frame["n_late_jumps_expected_mean"].to_numpy(float)
    err = np.vstack([expected - frame["n_late_jumps_expected_hdi_low"],
                     frame["n_late_jumps_expected_hdi_high"] - expected])  # fmt: skip
    ax.barh(y, expected, 0.26, xerr=np.clip(err, 0, None), color="#7f7f7f", capsize=2,
            label="late jumps expected under the smooth null (94% HDI)")  # fmt: skip
    ax.barh(y - 0.27, frame["n_emergent_observed"], 0.26, color="#9ecae1",
            label="Eq. 1 score above threshold (paper)")  # fmt: skip
    ax.set_yticks(y, [m if len(m) <= 30 else m[:29] + "…" for m in frame["metric"].astype(str)])
    ax.set_xlabel("triplets")
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title("Late jumps per metric")
    return fig


def plot_null_count(counts: np.ndarray, *, observed: int, threshold: float | None = None,
                    label: str | None = None) -> Figure:  # fmt: skip
    """Distribution of a count under the smooth null (one per posterior draw) and the observed
    count. ``threshold`` labels the Eq. 1 count; ``label`` names another count."""
    fig = new_figure(figsize=(6.5, 3.6), dpi=DPI)
    ax = fig.add_subplot()
    counts = np.asarray(counts)
    if counts.size:
        bins = np.arange(counts.min(), max(counts.max(), observed) + 2) - 0.5
        ax.hist(counts, bins=bins if bins.size < 200 else 60, color="#7f7f7f", alpha=0.8,
                label="smooth null (one count per posterior draw)")  # fmt: skip
    ax.axvline(observed, color="#d62728", lw=2, label=f"observed ({int(observed)})")
    if label is None:
        label = f"triplets with emergence score > {format_number(threshold)}"
    ax.set_xlabel(label)
    ax.set_ylabel("draws")
    ax.legend(fontsize=8)
    return fig


def plot_ppp(ppp: np.ndarray, *, bins: int = 20, label: str | None = None) -> Figure:
    """Histogram of p-values (a smooth-law population piles up away from 0)."""
    fig = new_figure(figsize=(6.5, 3.4), dpi=DPI)
    ax = fig.add_subplot()
    values = np.asarray(ppp, float)
    ax.hist(values[np.isfinite(values)], bins=np.linspace(0, 1, bins + 1), color="#1f77b4")
    ax.axvline(0.05, color="black", ls=":", lw=1)
    ax.set_xlabel(label or "posterior predictive p-value of the Eq. 1 score (smooth law)")
    ax.set_ylabel("triplets")
    return fig


def _grid(n: int) -> tuple[Figure, np.ndarray]:
    columns = min(4, n)
    rows = math.ceil(n / columns)
    fig = new_figure(figsize=(3.1 * columns, 2.6 * rows), dpi=DPI)
    return fig, fig.subplots(rows, columns, squeeze=False)


def _title(ax, key: tuple[str, str, str], detail: str) -> None:
    family = key[0] if len(key[0]) <= 28 else key[0][:27] + "…"
    task = f"{key[1]} · {key[2]}"
    task = task if len(task) <= 40 else task[:39] + "…"
    ax.set_title(f"{task}\n{family} · {detail}", fontsize=7)


def _observed(ax, curve: dict) -> np.ndarray:
    n = np.asarray(curve["n_params"])
    value, se = np.asarray(curve["value"]), np.asarray(curve.get("se", np.zeros(len(n))))
    ax.errorbar(n, value, yerr=2 * se, fmt="o", color="black", ms=3.5, lw=0.8, capsize=1.5)
    ax.set_xscale("log")
    ax.set_ylabel(_SCALE.get(curve.get("kind"), "value"), fontsize=7)
    ax.tick_params(labelsize=7)
    return n


def _panels(ranked: pd.DataFrame, curves: dict, top: int, usable: Callable[[dict], bool]):
    """A grid for the first ``top`` triplets of ``ranked`` with a usable curve: the figure and
    ``(axes, key, curve, row)`` per panel (spare axes hidden), or ``None`` when there is none."""
    triples = zip(ranked["family"], ranked["task"], ranked["metric"], strict=True)
    keys = [k for k in triples if k in curves and usable(curves[k])][:top]
    if not keys:
        return None
    fig, axes = _grid(len(keys))
    for ax in list(axes.flat)[len(keys) :]:
        ax.set_visible(False)
    indexed = ranked.set_index(["family", "task", "metric"])
    panels = zip(axes.flat, keys, strict=False)  # the grid may have more axes than keys
    return fig, [(ax, key, curves[key], indexed.loc[key]) for ax, key in panels]


def plot_top_curves(table: pd.DataFrame, curves: dict, *, top: int = TOP) -> Figure | None:
    """Observed curves (±2 SE) of the lowest-ppp triplets with the smooth law's 94% band."""
    ranked = table[table["ppp"].notna()].sort_values(["q_value", "emergence_score"],
                                                     ascending=[True, False])  # fmt: skip
    panels = _panels(ranked, curves, top, lambda curve: True)
    if panels is None:
        return None
    fig, drawn = panels
    for ax, key, curve, row in drawn:
        n = _observed(ax, curve)
        ax.fill_between(n, curve["smooth_low"], curve["smooth_high"], color="#1f77b4", alpha=0.2,
                        lw=0)  # fmt: skip
        ax.plot(n, curve["smooth_mean"], color="#1f77b4", lw=1.2)
        _title(ax, key, f"{row['class']} · score {format_number(row['emergence_score'])} · "
                        f"ppp {format_number(row['ppp'])}")  # fmt: skip
    return fig


def plot_flagged(table: pd.DataFrame, curves: dict, *, top: int = TOP) -> Figure | None:
    """Late jumps (else the smallest ``p_late``): observed points (±2 SE), the smooth law fitted
    to the smaller sizes (blue band) and its forecast of the largest sizes (orange, 94%)."""
    has = table[table["p_late"].notna()]
    late = has[has["class"] == "late_jump"].sort_values("p_late")
    ranked = late if len(late) else has.sort_values("p_late")
    panels = _panels(ranked, curves, top, lambda curve: "forecast_low" in curve)
    if panels is None:
        return None
    fig, drawn = panels
    for ax, key, curve, row in drawn:
        n = _observed(ax, curve)
        h = int(curve["n_future"])
        low, high, mean = (np.asarray(curve[f"forecast_{s}"]) for s in ("low", "high", "mean"))
        past, future = slice(None, len(n) - h), slice(len(n) - h - 1, None)
        ax.fill_between(n[past], low[past], high[past], color="#1f77b4", alpha=0.2, lw=0)
        ax.plot(n[past], mean[past], color="#1f77b4", lw=1.2)
        ax.fill_between(n[future], low[future], high[future], color="#ff7f0e", alpha=0.25, lw=0)
        ax.plot(n[future], mean[future], color="#ff7f0e", lw=1.2, ls="--")
        _title(ax, key, f"{row['class']} · p_late {format_number(row['p_late'])}")
    return fig
