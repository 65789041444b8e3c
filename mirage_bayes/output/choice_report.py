"""Figures and report of a multiple-choice fit (the paper's Fig. 6: grade sharp, Brier smooth).

The report reuses the generation report's Jinja environment, number formatting and tables
(:mod:`mirage_bayes.output.report`) with its own templates, ``choice_report.html.j2``
(self-contained: inline CSS, figures as ``data:`` URIs) and ``choice_report.md.j2``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from mirage_bayes.output.figures import figure_entries, new_figure
from mirage_bayes.output.formatting import format_number, format_params, hdi_text
from mirage_bayes.output.plots import (
    DPI,
    FitCurves,
    draw_trends,
    figure_stems,
    plot_comparison,
    trend_label,
)
from mirage_bayes.output.protocols import FitLike
from mirage_bayes.output.report import (
    ordered_trends,
    split_warnings,
    table_block,
    task_section_head,
    write_fit_report,
)

__all__ = ["plot_choice_metrics", "render_choice_report"]

LABELS = {
    "mc_grade": "multiple-choice grade",
    "brier": "Brier score",
    "p_correct": "probability on the correct choice",
}
# Observed column that carries each quantity's chance level (a uniform guess over K choices).
CHANCE = {"mc_grade": "chance_grade", "brier": "chance_brier", "p_correct": "chance_grade"}
_OBSERVED = dict(fmt="o", ms=4.5, mec="black", ecolor="black", elinewidth=1, capsize=2)

FIGURES = {  # kind: (title, caption)
    "choice_metrics": (
        "Multiple-choice grade and Brier score",
        "The same posterior of the probability on the correct choice seen through two metrics: "
        "the grade (an argmax, all or nothing per item) and the Brier score (continuous). Lines "
        "and bands: each trend's posterior mean and 94% HDI of the expected metric of an item "
        "from the task; squares: the scale-free estimate at each size; black points: observed "
        "means (94% Jeffreys intervals for the grade); dotted: a uniform guess over the choices.",
    ),
    "p_correct": (
        "Probability on the correct choice",
        "The modelled quantity itself: the mean probability on the correct choice, with the "
        "posterior of every trend, the observed means and the chance level 1/K.",
    ),
    "comparison": (
        "Trend comparison (PSIS-LOO)",
        "Expected log predictive density of each trend (higher is better), leaving one item out, "
        "with each trend's difference to the best and the standard error of that difference.",
    ),
}
PARAMETER_LABELS = {
    "sigma_obs": "σ_obs (item-by-size spread of log L_CE)",
    "sigma_item": "σ_item (spread of item difficulty in log L_CE)",
    "alpha": "α (power-law exponent of L_CE of the correct choice)",
}


def _axes(axes: Axes | Sequence[Axes] | None, n: int) -> tuple[Figure, list[Axes]]:
    if axes is None:
        fig = new_figure(figsize=(4.6 * n, 4.0))
        return fig, list(np.atleast_1d(fig.subplots(1, n)))
    listed = [axes] if isinstance(axes, Axes) else list(axes)
    if len(listed) != n:
        raise ValueError(f"axes must hold {n} axes, one per quantity, not {len(listed)}")
    fig = listed[0].figure
    while not isinstance(fig, Figure):  # an axis inside a SubFigure
        fig = fig.figure
    return fig, listed


def plot_choice_metrics(
    summary: pd.DataFrame,
    curves: pd.DataFrame,
    observed: pd.DataFrame,
    *,
    task: str,
    quantities: Sequence[str] | None = None,
    axes: Axes | Sequence[Axes] | None = None,
) -> Figure:
    """Multiple-choice grade and Brier score against model size, side by side.

    Parameters
    ----------
    summary, curves, observed
        Tables of a multiple-choice fit
        (:class:`mirage_bayes.fitting.choice_result.ChoiceFitResult`).
    task
        Task to draw.
    quantities
        Panels, from ``mc_grade``, ``brier`` and ``p_correct`` (default: the first two).
    axes
        One axis per quantity to draw on; a new figure is created when None.

    Returns
    -------
    matplotlib.figure.Figure
        Per panel: each trend's posterior mean and 94% HDI band (points with bars for the
        scale-free reference), the observed means as black points (94% Jeffreys intervals for
        the grade) and the chance level of a uniform guess as a dotted line.
    """
    quantities = tuple(quantities or ("mc_grade", "brier"))
    unknown = [q for q in quantities if q not in LABELS]
    if unknown or not quantities:
        raise ValueError(f"quantities must be among {sorted(LABELS)}, not {unknown}")
    seen = observed[observed["task"] == task].sort_values("n_params")
    if seen.empty:
        raise ValueError(f"no multiple-choice rows for task {task!r}")
    fig, axes = _axes(axes, len(quantities))
    fit = FitCurves(summary, curves, observed, task)
    for ax, quantity in zip(axes, quantities, strict=True):
        draw_trends(ax, fit, quantity, None, None)
        y = seen[quantity].to_numpy(float)
        bars, label = None, "observed"
        if quantity == "mc_grade":
            bars = np.clip([y - seen["mc_grade_low"], seen["mc_grade_high"] - y], 0.0, None)
            label = "observed (94% Jeffreys)"
        ax.errorbar(seen["n_params"], y, yerr=bars, color="k", label=label, **_OBSERVED)
        chance = float(seen[CHANCE[quantity]].mean())
        ax.axhline(chance, color="grey", ls=":", lw=1.3, label=f"uniform guess ({chance:.2g})")
        top = 1.03 if quantity != "brier" else max(1.03, float(seen["brier"].max()) * 1.05)
        ax.set(xscale="log", xlabel="parameters", ylabel=LABELS[quantity], ylim=(-0.03, top))
        ax.set_title(LABELS[quantity], fontsize="medium")
        ax.legend(fontsize="x-small")
    fig.suptitle(f"{task}: mean, 94% HDI")
    return fig


def save_choice_figures(result: FitLike, directory: str | Path) -> dict[str, list[Path]]:
    """Write every task's figures as ``directory/figures/<stem>_<kind>.png``."""
    folder = Path(directory) / "figures"
    folder.mkdir(parents=True, exist_ok=True)
    summary, curves, observed = result.summary(), result.curves(), result.observed()
    comparison = result.comparison()
    written: dict[str, list[Path]] = {}
    for task, stem in figure_stems(result.task_names()).items():
        figures = {
            "choice_metrics": plot_choice_metrics(summary, curves, observed, task=task),
            "p_correct": plot_choice_metrics(
                summary, curves, observed, task=task, quantities=("p_correct",)
            ),
            "comparison": plot_comparison(comparison, task=task),
        }
        written[task] = []
        for kind, fig in figures.items():
            path = folder / f"{stem}_{kind}.png"
            fig.savefig(path, dpi=DPI)
            fig.clear()
            written[task].append(path)
    return written


def _by_scale_table(
    summary: pd.DataFrame, observed: pd.DataFrame, quantity: str
) -> dict[str, Any] | None:
    """Per scale: items, the observed value and every trend's posterior mean and 94% HDI."""
    rows = summary[summary["quantity"] == quantity]
    trends = ordered_trends(rows)
    headers = ["model", "parameters", "items", "observed"]
    for trend in trends:
        headers += [f"{trend_label(trend)} mean", "94% HDI"]
    body = []
    for scale in observed.sort_values("n_params").itertuples(index=False):
        cells = [
            str(scale.model),
            format_params(scale.n_params),
            str(int(scale.n_items)),
            format_number(getattr(scale, quantity)),
        ]
        for trend in trends:
            row = rows[(rows["trend"] == trend) & (rows["model"] == scale.model)]
            if row.empty:
                cells += ["—", "—"]
            else:
                first = row.iloc[0]
                cells += [
                    format_number(first["mean"]),
                    hdi_text(first["hdi_low"], first["hdi_high"]),
                ]
        body.append(cells)
    return table_block(headers, body)


def render_choice_report(
    result: FitLike, directory: str | Path, *, meta: Mapping[str, Any]
) -> tuple[Path, Path]:
    """Write the figures, ``report.md`` and a self-contained ``report.html`` into ``directory``.

    Returns
    -------
    tuple of pathlib.Path
        ``(report.md, report.html)``.
    """
    directory = Path(directory)
    tasks = result.task_names()
    figures = save_choice_figures(result, directory)
    per_task_warnings, general = split_warnings(meta.get("warnings", ()), tasks)
    stems = figure_stems(tasks)
    summary, observed = result.summary(), result.observed()
    parameters = result.parameters()
    parameters["parameter"] = parameters["parameter"].map(lambda p: PARAMETER_LABELS.get(p, p))
    comparison, diagnostics = result.comparison(), result.diagnostics()
    sections = []
    for task in tasks:
        of_summary = summary[summary["task"] == task]
        of_observed = observed[observed["task"] == task]
        of_diagnostics = diagnostics[diagnostics["task"] == task]
        sections.append(
            {
                **task_section_head(
                    task,
                    stems[task],
                    result.verdict_texts.get(task),
                    per_task_warnings[task],
                    comparison[comparison["task"] == task],
                    of_diagnostics,
                    parameters[parameters["task"] == task],
                ),  # fmt: skip
                "by_scale": [
                    {
                        "title": LABELS[q].capitalize() + " by scale",
                        "table": _by_scale_table(of_summary, of_observed, q),
                    }
                    for q in ("mc_grade", "brier", "p_correct")
                ],  # fmt: skip
                "figures": figure_entries(task, stems[task], figures[task], directory, FIGURES),
            }
        )
    return write_fit_report(
        directory, sections, title="mirage-bayes report: multiple-choice tasks", meta=meta,
        general_warnings=general, kind="choice_",
    )  # fmt: skip
