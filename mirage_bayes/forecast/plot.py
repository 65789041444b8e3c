"""The figure of a leave-future-out forecast: what the smaller models foretold of the larger.

Like :mod:`mirage_bayes.output.plots`: keyword-only options, a plain
:class:`matplotlib.figure.Figure` (no pyplot state) returned to the caller.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib import colormaps, ticker
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from mirage_bayes.fitting.transforms import jeffreys_interval
from mirage_bayes.output.figures import new_figure
from mirage_bayes.output.plots import trend_label
from mirage_bayes.simulate.generation import model_name

LABELS = {"accuracy": "exact-match accuracy", "epsilon": "per-token error rate ε"}


def plot_forecast(
    table: pd.DataFrame,
    curves: pd.DataFrame,
    observed: pd.DataFrame,
    *,
    task: str,
    length: int,
    quantities: Sequence[str] = ("accuracy", "epsilon"),
) -> Figure:
    """Forecast bands beyond the fitted sizes, one colour per number of fitted sizes ``k``.

    Parameters
    ----------
    table
        Forecast rows (``ForecastResult.table()``): which trends and ``k`` there are.
    curves
        Forecast bands on a size grid (``ForecastResult.curves()``).
    observed
        Observed values per model and length: columns ``model``, ``n_params``, ``length``,
        ``n_items``, ``n_correct``, ``accuracy``, ``epsilon``.
    task
        Task to draw.
    length
        Target length of the accuracy panels.
    quantities
        Rows of panels: ``accuracy`` (at ``length``) and/or ``epsilon``.

    Returns
    -------
    matplotlib.figure.Figure
        One column per trend and one row per quantity; in each panel the 94% band and mean of
        every refit from its largest fitted size to the largest size, and the observed values
        (black; accuracy with 94% Jeffreys bars).
    """
    unknown = [q for q in quantities if q not in LABELS]
    if unknown or not quantities:
        raise ValueError(f"quantities must be among {sorted(LABELS)}, not {list(quantities)}")
    rows = table[table["task"] == task]
    if rows.empty:
        raise ValueError(f"no forecasts for task {task!r}")
    trends = list(dict.fromkeys(rows["trend"]))
    ks = sorted(set(rows["fitted_scales"]))
    colours = colormaps["viridis"](np.linspace(0.0, 0.85, max(len(ks), 2)))
    colour_of = dict(zip(ks, colours, strict=False))
    fig = new_figure(figsize=(3.6 * len(trends) + 0.6, 2.9 * len(quantities)))
    axes = fig.subplots(len(quantities), len(trends), squeeze=False, sharex=True)
    obs = observed.sort_values("n_params")
    for i, quantity in enumerate(quantities):
        wanted = np.nan if quantity == "epsilon" else float(length)
        for j, trend in enumerate(trends):
            ax = axes[i, j]
            mine = curves[
                (curves["task"] == task) & (curves["trend"] == trend)
                & (curves["quantity"] == quantity)
                & ((curves["length"] == wanted) | (np.isnan(wanted) & curves["length"].isna()))
            ]  # fmt: skip
            for k, band in mine.groupby("fitted_scales"):
                band = band.sort_values("n_params")
                c = colour_of[k]
                ax.fill_between(band["n_params"], band["hdi_low"], band["hdi_high"], color=c,
                                alpha=0.2, lw=0)  # fmt: skip
                ax.plot(band["n_params"], band["mean"], color=c, lw=1.5)
            _draw_observed(ax, obs, quantity, length)
            ax.set_xscale("log")
            _log_ticks(ax.xaxis, *ax.get_xlim(), _size_label)
            if quantity == "epsilon":
                ax.set_yscale("log")
                _log_ticks(ax.yaxis, *ax.get_ylim(), _rate_label)
            else:
                ax.set_ylim(-0.03, 1.03)
            if i == 0:
                ax.set_title(trend_label(trend), fontsize="medium")
            if i == len(quantities) - 1:
                ax.set_xlabel("parameters")
            if j == 0:
                suffix = f" (L = {length})" if quantity == "accuracy" else ""
                ax.set_ylabel(LABELS[quantity] + suffix)
    # One legend for the figure: a trend may lack some k (the broken power law needs more sizes).
    handles = [Line2D([], [], color=colour_of[k], lw=2, label=f"k = {k}") for k in ks]
    handles.append(
        Line2D([], [], color="k", marker="o", ls="none", ms=4.5, label="observed (94% bars)")
    )
    fig.legend(handles=handles, loc="outside right center", fontsize="small",
               title="fitted to the\nk smallest", title_fontsize="small")  # fmt: skip
    fig.suptitle(f"{task}: forecasts of the larger models from the k smallest (94% bands)")
    return fig


def _log_ticks(axis, low: float, high: float, label) -> None:
    """Labels that do not run into each other on a narrow panel: the decades and their 2× and
    5× while the axis spans at most two decades, the decades alone (at most six) beyond."""
    span = np.log10(high / low) if low > 0 and high > low else 3.0
    subs = (1.0, 2.0, 5.0) if span <= 2.0 else (1.0,)
    axis.set_major_locator(ticker.LogLocator(base=10, subs=subs, numticks=7))
    axis.set_minor_locator(ticker.LogLocator(base=10, subs="auto"))
    axis.set_major_formatter(ticker.FuncFormatter(label))
    axis.set_minor_formatter(ticker.NullFormatter())


def _leading(value: float) -> int:
    return round(value / 10 ** np.floor(np.log10(value))) if value > 0 else 0


def _size_label(value: float, _position=None) -> str:
    """``2B``, ``500M``: on log axes, at the decades and their 2× and 5× only."""
    return model_name(value) if _leading(value) in (1, 2, 5, 10) else ""


def _rate_label(value: float, _position=None) -> str:
    return f"{value:g}" if _leading(value) in (1, 2, 5, 10) else ""


def _draw_observed(ax, observed: pd.DataFrame, quantity: str, length: int) -> None:
    if quantity == "epsilon":
        points = observed.drop_duplicates("model")
        ax.plot(points["n_params"], points["epsilon"], "ko", ms=4.5)
        return
    points = observed[observed["length"] == length]
    if points.empty:
        return
    y = points["accuracy"].to_numpy(float)
    low, high = jeffreys_interval(points["n_correct"], points["n_items"])
    bars = np.clip([y - low, high - y], 0.0, None)
    ax.errorbar(points["n_params"], y, yerr=bars, fmt="o", color="k", ms=4.5, elinewidth=1,
                capsize=2)  # fmt: skip
