"""Figures of a fit: the per-token error rate ε, the metrics it implies and the trend comparison.

Each function draws one task, takes keyword-only options and ``ax=None`` and returns the Figure
(the ArviZ convention). New figures are plain :class:`matplotlib.figure.Figure` objects, not
pyplot ones: the global backend is neither read nor changed, no figure stays registered in
pyplot (a batch run cannot leak them) and saving renders with Agg, which needs no display.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from mirage_bayes.models.trends import TRENDS
from mirage_bayes.output.figures import new_figure
from mirage_bayes.output.filenames import file_stems
from mirage_bayes.settings import SMOOTH_TREND, TREND_NAMES

__all__ = [
    "figure_stems", "plot_comparison", "plot_epsilon", "plot_metric", "plot_resolution",
    "save_figures",
]  # fmt: skip

TREND_ORDER = TREND_NAMES  # the reference first, then the smooth law, then the broken one
METRICS = {
    "accuracy": "exact-match accuracy",
    "token_edit_distance": "token edit distance",
    "brier": "Brier score",
}
FIGURE_KINDS = ("epsilon", *METRICS, "comparison")
MAX_PANELS = 6
DPI = 110

_SCALE_FREE_OFFSET = 1.07  # multiplicative x shift so scale-free bars do not hide observed points
_BAND = dict(alpha=0.18, lw=0)
_SCALE_FREE = dict(fmt="s", ms=4, elinewidth=1.2, capsize=2)
_OBSERVED = dict(fmt="o", ms=4.5, mec="black", ecolor="black", elinewidth=1, capsize=2)


class FitCurves(NamedTuple):
    """The tables one task's figure reads, bundled to keep helper signatures short."""

    summary: pd.DataFrame
    curves: pd.DataFrame
    observed: pd.DataFrame
    task: str


def trend_label(trend: str) -> str:
    """Human-readable trend name, e.g. ``"broken power law"`` for ``"broken_power_law"``."""
    known = TRENDS.get(str(trend))
    return known.label if known else str(trend).replace("_", " ")


def trend_color(trend: str) -> str:
    known = TRENDS.get(str(trend))
    return known.color if known else "grey"


def trend_linestyle(trend: str) -> str:
    known = TRENDS.get(str(trend))
    return known.linestyle if known else "-"


def _rows(frame: pd.DataFrame, task: str, **equal: object) -> pd.DataFrame:
    """Rows of ``frame`` for ``task`` whose columns equal the given values (None: any)."""
    keep = frame["task"] == task
    for column, value in equal.items():
        if value is not None:
            keep &= frame[column] == value
    return frame.loc[keep]


def _trends_of(*frames: pd.DataFrame) -> list[str]:
    """Trends present in the frames, the known ones in their canonical order."""
    found = set().union(*(frame["trend"].dropna().astype(str) for frame in frames))
    return [t for t in TREND_ORDER if t in found] + sorted(found - set(TREND_ORDER))


def _figure_axes(ax: Axes | None, n_panels: int = 1) -> tuple[Figure, list[Axes]]:
    """``ax``'s top-level figure, or a new figure with ``n_panels`` axes sharing y."""
    if ax is not None:
        fig = ax.figure
        while not isinstance(fig, Figure):  # an axis inside a SubFigure
            fig = fig.figure
        return fig, [ax] * n_panels
    ncols = n_panels if n_panels <= 3 else math.ceil(n_panels / 2)
    nrows = math.ceil(n_panels / ncols)
    size = (6.4, 4.4) if n_panels == 1 else (3.4 * ncols, 2.9 * nrows)
    fig = new_figure(figsize=size)
    axes = list(fig.subplots(nrows, ncols, sharey=True, squeeze=False).ravel())
    for extra in axes[n_panels:]:
        fig.delaxes(extra)  # e.g. 5 lengths on a 2×3 grid: no empty panel
    return fig, axes[:n_panels]


def draw_trends(
    ax: Axes, fit: FitCurves, quantity: str, length: float | None, color: str | None
) -> None:
    """Band and mean per trend: a curve where ``curves`` has one, else points at the scales."""
    at_scales = _rows(fit.summary, fit.task, quantity=quantity, length=length)
    on_grid = _rows(fit.curves, fit.task, quantity=quantity, length=length)
    for trend in _trends_of(at_scales, on_grid):
        colour = color or trend_color(trend)
        # A caller-chosen colour means overlay mode, whose legend is built from proxies.
        label = trend_label(trend) if color is None else None
        grid = on_grid[on_grid["trend"] == trend].sort_values("n_params")
        if not grid.empty:
            x, style = grid["n_params"], trend_linestyle(trend)
            ax.fill_between(x, grid["hdi_low"], grid["hdi_high"], color=colour, **_BAND)
            ax.plot(x, grid["mean"], color=colour, lw=1.8, ls=style, label=label)
            continue
        # No curve (scale_free, by construction): the posterior only exists at observed scales.
        points = at_scales[at_scales["trend"] == trend].sort_values("n_params")
        mean = points["mean"].to_numpy(float)
        bars = np.clip([mean - points["hdi_low"], points["hdi_high"] - mean], 0.0, None)
        x = points["n_params"] * _SCALE_FREE_OFFSET
        ax.errorbar(x, mean, yerr=bars, color=colour, label=label, **_SCALE_FREE)


def _draw_observed(
    ax: Axes, fit: FitCurves, quantity: str, length: float | None, color: str | None
) -> None:
    """Observed points of one panel: accuracy with its Jeffreys bars, else the plain values."""
    obs = fit.observed.iloc[:0] if length is None else _rows(fit.observed, fit.task, length=length)
    obs, bars, label = obs.sort_values("n_params"), None, "observed"
    if quantity == "accuracy" and not obs.empty:
        y = obs["accuracy"].to_numpy(float)
        bars = np.clip([y - obs["accuracy_low"], obs["accuracy_high"] - y], 0.0, None)
        label = "observed (94% Jeffreys)"
    elif quantity == "token_edit_distance" and not obs.empty:
        y = obs["mean_edit_distance"].to_numpy(float)
    else:  # Brier, or a table without the row: the observed value the summary carries
        obs = _rows(fit.summary, fit.task, quantity=quantity, length=length)
        obs = obs.dropna(subset=["observed"]).drop_duplicates("n_params").sort_values("n_params")
        y = obs["observed"].to_numpy(float)
    if len(y):
        label = label if color is None else None
        ax.errorbar(obs["n_params"], y, yerr=bars, color=color or "k", label=label, **_OBSERVED)


def plot_epsilon(
    summary: pd.DataFrame,
    curves: pd.DataFrame,
    observed: pd.DataFrame,
    *,
    task: str,
    ax: Axes | None = None,
) -> Figure:
    """Per-token error rate ε against model size on log–log axes.

    Parameters
    ----------
    summary, curves, observed
        Tables of a fit: posterior at the observed scales, posterior on a fine size grid
        (parametric trends only), observed counts per scale and length.
    task
        Task to draw.
    ax
        Axes to draw on; a new figure is created when None.

    Returns
    -------
    matplotlib.figure.Figure
        One band (94% HDI) and mean line per parametric trend, the scale-free posterior as
        points with HDI bars (slightly offset right) and the observed pooled ε as black points.
    """
    if _rows(summary, task, quantity="epsilon").empty:
        raise ValueError(f"summary has no 'epsilon' rows for task {task!r}")
    fig, (ax,) = _figure_axes(ax)
    draw_trends(ax, FitCurves(summary, curves, observed, task), "epsilon", None, None)
    obs = _rows(observed, task).drop_duplicates("n_params").sort_values("n_params")
    corrected = obs.get("epsilon_corrected", obs["epsilon_observed"])
    if np.allclose(corrected, obs["epsilon_observed"], equal_nan=True):
        ax.plot(obs["n_params"], obs["epsilon_observed"], "ko", ms=5, label="observed (pooled)")
    else:  # chance matches lower the scored rate; the trends model the rate without them
        ax.plot(obs["n_params"], corrected, "ko", ms=5, label="observed, chance matches out")
        ax.plot(
            obs["n_params"], obs["epsilon_observed"], "o", mfc="none", mec="k", ms=5,
            label="observed as scored",
        )  # fmt: skip
    ax.set(xscale="log", yscale="log", xlabel="parameters", ylabel="per-token error rate ε")
    ax.set_title(f"{task}: ε (mean, 94% HDI)")
    ax.legend(fontsize="small")
    return fig


def _choose_lengths(
    summary: pd.DataFrame, task: str, quantity: str, lengths: Iterable[float] | None
) -> list[float | None]:
    """Lengths to draw; ``[None]`` for a quantity without lengths (Brier)."""
    rows = _rows(summary, task, quantity=quantity)
    if rows.empty:
        raise ValueError(f"summary has no {quantity!r} rows for task {task!r}")
    available = sorted(set(rows["length"].dropna()))
    if not available:
        return [None]
    if lengths is None:
        # Evenly spread picks keep the shortest and longest targets, where contrast is largest.
        picks = np.linspace(0, len(available) - 1, min(len(available), MAX_PANELS))
        return [available[i] for i in np.unique(picks.round().astype(int))]
    chosen = [float(length) for length in lengths]
    missing = [length for length in chosen if length not in available]
    if missing or not chosen:
        raise ValueError(f"task {task!r} has no {quantity!r} rows at length(s) {missing or chosen}")
    return chosen


def plot_metric(
    summary: pd.DataFrame,
    curves: pd.DataFrame,
    observed: pd.DataFrame,
    *,
    task: str,
    quantity: str,
    lengths: Iterable[float] | None = None,
    ax: Axes | None = None,
) -> Figure:
    """A metric implied by ε against model size, one panel per target length.

    Parameters
    ----------
    summary, curves, observed
        Tables of a fit.
    task
        Task to draw.
    quantity
        ``"accuracy"`` (exact match: the "emergent" picture), ``"token_edit_distance"`` (the
        smooth picture) or ``"brier"`` (no lengths: one panel).
    lengths
        Target lengths to draw; None draws all in the data (thinned evenly to at most 6).
    ax
        Axes to draw on. Several lengths then share this one axis, a colour per length and a
        line style per trend. When None a figure of small multiples sharing y is created.

    Returns
    -------
    matplotlib.figure.Figure
        x log scale, y linear; per trend a band and mean (points for scale-free), observed
        points (with 94% Jeffreys bars for accuracy) and, for accuracy, a dashed power-law
        ``accuracy_independent`` line (tokens erring independently) where present.
    """
    if quantity not in METRICS:
        raise ValueError(f"quantity must be one of {sorted(METRICS)}, not {quantity!r}")
    chosen = _choose_lengths(summary, task, quantity, lengths)
    if len(chosen) > MAX_PANELS and ax is None:
        raise ValueError(f"at most {MAX_PANELS} panels; pass ax to overlay {len(chosen)} lengths")
    overlay = ax is not None and len(chosen) > 1
    fig, axes = _figure_axes(ax, len(chosen))
    fit = FitCurves(summary, curves, observed, task)
    colors = [f"C{i % 10}" if overlay else None for i in range(len(chosen))]
    for axis, length, color in zip(axes, chosen, colors, strict=True):
        draw_trends(axis, fit, quantity, length, color)
        if quantity == "accuracy":
            independent = _rows(
                curves, task, trend=SMOOTH_TREND, quantity="accuracy_independent", length=length
            ).sort_values("n_params")
            label = None if overlay else "power law, independent tokens"
            x, y = independent["n_params"], independent["mean"]
            if len(x):  # an empty line would still claim a legend entry
                axis.plot(
                    x, y, ls="--", lw=1.3, color=color or trend_color(SMOOTH_TREND), label=label
                )
        _draw_observed(axis, fit, quantity, length, color)
        if not overlay and length is not None:
            axis.set_title(f"target length {length:g}", fontsize="medium")
        axis.set(xscale="log", xlabel="parameters")
        if quantity == "accuracy":
            axis.set_ylim(-0.03, 1.03)
    axes[0].set_ylabel(METRICS[quantity])
    handles = _overlay_legend(fit, quantity, chosen, colors) if overlay else None
    axes[0].legend(handles=handles, fontsize="x-small")
    if ax is None:
        fig.suptitle(f"{task}: {METRICS[quantity]} (mean, 94% HDI)")
    elif overlay:
        ax.set_title(f"{task}: {METRICS[quantity]}")
    return fig


def _overlay_legend(fit: FitCurves, quantity: str, lengths: list, colors: list) -> list[Line2D]:
    """Proxy handles for overlay mode: colour encodes the length, line style the trend."""
    handles = [
        Line2D([], [], color=c, lw=6, alpha=0.6, label=f"length {length:g}")
        for length, c in zip(lengths, colors, strict=True)
    ]
    on_grid = _rows(fit.curves, fit.task, quantity=quantity)
    for trend in _trends_of(_rows(fit.summary, fit.task, quantity=quantity), on_grid):
        curve = (on_grid["trend"] == trend).any()
        style = dict(ls=trend_linestyle(trend)) if curve else dict(ls="none", marker="s")
        handles.append(Line2D([], [], color="k", label=trend_label(trend), **style))
    independent = _rows(fit.curves, fit.task, quantity="accuracy_independent")
    if quantity == "accuracy" and not independent.empty:
        handles.append(Line2D([], [], color="k", ls="--", label="independent tokens"))
    observed = Line2D([], [], color="grey", mec="k", marker="o", ls="none", label="observed")
    return [*handles, observed]


# The plot functions share a docstring layout (task, ax, the figure returned), ArviZ style.
def plot_comparison(comparison: pd.DataFrame, *, task: str, ax: Axes | None = None) -> Figure:
    """LOO comparison of the trends of one task, drawn from the comparison table.

    Parameters
    ----------
    comparison
        ArviZ ``compare`` output plus ``task`` and ``trend`` columns. ``elpd_loo`` gets ±SE bars
        when an ``se`` column is present; ``elpd_diff`` ± ``dse`` is drawn for every trend but
        the best.
    task
        Task to draw.
    ax
        Axes to draw on; a new figure is created when None.

    Returns
    -------
    matplotlib.figure.Figure
        Best trend on top with a dashed line at its ELPD; trends with a Pareto-k warning are
        marked in their tick label.
    """
    rows = _rows(comparison, task).sort_values("rank").reset_index(drop=True)
    if rows.empty:
        raise ValueError(f"comparison has no rows for task {task!r}")
    if ax is None:
        fig = new_figure(figsize=(6.4, 1.4 + 0.55 * len(rows)))
        ax = fig.add_subplot()
    fig, _ = _figure_axes(ax)
    y = np.arange(len(rows), 0, -1, dtype=float)  # best (rank 0) on top
    best = float(rows["elpd_loo"].iloc[0])
    se = rows["se"].to_numpy(float) if "se" in rows else None
    ax.axvline(best, color="grey", ls="--", lw=1)
    label = "ELPD ± SE" if se is not None else "ELPD"
    ax.errorbar(rows["elpd_loo"], y, xerr=se, fmt="o", mfc="white", c="k", capsize=3, label=label)
    rest = rows.index > 0
    if rest.any():
        # elpd_diff is measured from the best; drawing it at best − diff puts it at the trend's
        # own ELPD with the (smaller, paired) standard error of the difference.
        x, xerr = best - rows.loc[rest, "elpd_diff"], rows.loc[rest, "dse"]
        label = "difference to best ± dSE"
        ax.errorbar(x, y[rest] - 0.22, xerr=xerr, fmt="^", c="grey", capsize=3, label=label)
    warned = rows.get("warning", pd.Series(False, index=rows.index)).astype("boolean").fillna(False)
    flag = {True: " (Pareto k!)", False: ""}
    labels = [trend_label(t) + flag[bool(w)] for t, w in zip(rows["trend"], warned, strict=True)]
    ax.set_yticks(y, labels)
    ax.set_ylim(0.4, len(rows) + 0.6)
    ax.set_xlabel("ELPD (PSIS-LOO log score; higher is better)")
    ax.set_title(f"{task}: trend comparison")
    ax.legend(fontsize="x-small")
    return fig


def plot_resolution(
    resolution: pd.DataFrame,
    curves: pd.DataFrame,
    *,
    task: str,
    trend: str = SMOOTH_TREND,
    lengths: Iterable[float] | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Is an observed zero evidence of no ability? Accuracy against size on log–log axes.

    Parameters
    ----------
    resolution
        A fit's resolution table (:func:`mirage_bayes.fitting.resolution.resolution_table`).
    curves
        A fit's curves (the accuracy band of a parametric trend between the scales).
    task, trend
        Task and trend to draw.
    lengths
        Target lengths, one panel each; None: the lengths in the data (at most 6, spread evenly).
    ax
        Axes to draw on (one length only); a new figure is created when None.

    Returns
    -------
    matplotlib.figure.Figure
        Per length: the trend's 94% band and mean of the true accuracy, the observed accuracy
        (black points; a zero, which a log axis cannot show, as a red triangle at ``1/n``), the
        resolution floor ``1/n`` of the test set and ``1/(n·L)``, the floor of a per-token rate.
    """
    rows = _rows(resolution, task, trend=trend)
    if rows.empty:
        raise ValueError(f"resolution table has no {trend!r} rows for task {task!r}")
    seen = sorted(set(rows.loc[rows["n_correct"].notna(), "length"])) or sorted(set(rows["length"]))
    if lengths is None:
        picks = np.linspace(0, len(seen) - 1, min(len(seen), MAX_PANELS)).round().astype(int)
        chosen = [seen[i] for i in np.unique(picks)]
    else:
        chosen = [float(length) for length in lengths]
        if not chosen or any(length not in set(rows["length"]) for length in chosen):
            raise ValueError(f"task {task!r} has no resolution rows at length(s) {chosen}")
    if ax is not None and len(chosen) > 1:
        raise ValueError("pass lengths=[L] to draw a single length on a given ax")
    fig, axes = _figure_axes(ax, len(chosen))
    colour = trend_color(trend)
    for axis, length in zip(axes, chosen, strict=True):
        cells = rows[rows["length"] == length].sort_values("n_params")
        x = cells["n_params"].to_numpy(float)
        grid = _rows(curves, task, trend=trend, quantity="accuracy", length=length)
        grid = grid.sort_values("n_params")
        label = f"{trend_label(trend)}: true accuracy (94% HDI)"
        if grid.empty:  # scale-free: the posterior exists at the observed scales only
            mean = cells["accuracy_mean"].to_numpy(float)
            bars = np.clip([mean - cells["accuracy_low"], cells["accuracy_high"] - mean], 0, None)
            axis.errorbar(x, mean, yerr=bars, color=colour, label=label, **_SCALE_FREE)
        else:
            axis.fill_between(grid["n_params"], grid["hdi_low"], grid["hdi_high"], color=colour,
                              **_BAND)  # fmt: skip
            axis.plot(grid["n_params"], grid["mean"], color=colour, lw=1.8, label=label)
        axis.plot(x, cells["floor_accuracy"], "k:", marker="_", ms=10, label="resolution 1/n")
        axis.plot(x, cells["floor_token_rate"], color="grey", ls="-.", lw=1,
                  label="per-token floor 1/(n·L)")  # fmt: skip
        correct = cells["n_correct"].to_numpy(float)
        some, none = correct > 0, correct == 0
        axis.plot(x[some], cells["observed_accuracy"].to_numpy(float)[some], "ko", ms=5,
                  label="observed")  # fmt: skip
        axis.plot(x[none], cells["floor_accuracy"].to_numpy(float)[none], "v", color="#d62728",
                  mec="k", ms=7, ls="none", label="observed 0 of n (drawn at 1/n)")  # fmt: skip
        floor = float(np.nanmin(cells["floor_token_rate"]))
        axis.set(xscale="log", yscale="log", xlabel="parameters", ylim=(0.3 * floor, 1.6))
        if ax is None or len(chosen) > 1:
            axis.set_title(f"target length {length:g}", fontsize="medium")
    axes[0].set_ylabel("exact-match accuracy")
    if ax is None:
        # Below the panels: inside, it would cover the small accuracies the figure is about.
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncols=3, fontsize="x-small")
        fig.suptitle(f"{task}: is an observed zero evidence of no ability?")
    else:
        ax.legend(fontsize="x-small")
    return fig


def figure_stems(tasks: Iterable[str]) -> dict[str, str]:
    """File-name stem per task: safe, bounded and unique (see
    :mod:`mirage_bayes.output.filenames`)."""

    return file_stems(tasks)


def save_figures(
    summary: pd.DataFrame,
    curves: pd.DataFrame,
    observed: pd.DataFrame,
    comparison: pd.DataFrame,
    *,
    tasks: Iterable[str] | None = None,
    directory: str | Path,
) -> dict[str, list[Path]]:
    """Write every figure of every task as PNG into ``directory/figures``.

    Parameters
    ----------
    summary, curves, observed, comparison
        Tables of a fit.
    tasks
        Tasks to draw; None draws every task in ``summary``.
    directory
        Output directory; the PNGs go into its ``figures`` subdirectory (created if needed).

    Returns
    -------
    dict of str to list of pathlib.Path
        Per task the files written, in the order of :data:`FIGURE_KINDS`, named
        ``<stem>_<kind>.png`` (stem from :func:`figure_stems`). A figure whose data is absent
        (e.g. no Brier score for a free-form task, no comparison with a single trend) is skipped.
    """
    tasks = list(dict.fromkeys(summary["task"]) if tasks is None else tasks)
    folder = Path(directory) / "figures"
    folder.mkdir(parents=True, exist_ok=True)
    written: dict[str, list[Path]] = {}
    for task, stem in figure_stems(tasks).items():
        written[task] = []
        for kind in FIGURE_KINDS:
            if kind == "comparison":
                if _rows(comparison, task).empty:
                    continue
                fig = plot_comparison(comparison, task=task)
            elif _rows(summary, task, quantity=kind).empty:
                continue
            elif kind == "epsilon":
                fig = plot_epsilon(summary, curves, observed, task=task)
            else:
                fig = plot_metric(summary, curves, observed, task=task, quantity=kind)
            path = folder / f"{stem}_{kind}.png"
            fig.savefig(path, dpi=DPI)
            fig.clear()  # free the artists now rather than at garbage collection
            written[task].append(path)
    return written
