"""The report of ``mirage-bayes forecast``: per task the verdict, the forecast figure and the
forecasts of the largest size, with the run's warnings and settings, as a self-contained HTML
page and as Markdown (the figures beside it in ``figures/``), like the report of ``fit``."""

from __future__ import annotations

import base64
from pathlib import Path

import pandas as pd

from mirage_bayes.output.formatting import format_number, format_params, hdi_text
from mirage_bayes.output.protocols import ForecastLike
from mirage_bayes.output.report import table_block, template_environment
from mirage_bayes.settings import VERSION

__all__ = ["forecast_report_context", "render_forecast_report"]

# The forecasts a reader checks first: what a scorer would see at a held-out size.
HEADLINE = ("accuracy_predictive", "epsilon_predictive")


def _largest_size_table(rows: pd.DataFrame) -> dict | None:
    """Forecasts of the task's largest size from every refit, for the predictive quantities."""
    if rows.empty:
        return None
    largest = rows[rows["n_params"] == rows["n_params"].max()]
    shown = largest[largest["quantity"].isin(HEADLINE)]
    order = {trend: i for i, trend in enumerate(dict.fromkeys(rows["trend"]))}  # as fitted
    shown = shown.assign(order=shown["trend"].map(order)).sort_values(
        ["order", "fitted_scales", "quantity", "length"]
    )
    body = []
    for row in shown.itertuples():
        inside = row.hdi_low <= row.observed <= row.hdi_high
        body.append([
            row.trend.replace("_", " "), str(int(row.fitted_scales)),
            format_params(row.n_params), row.quantity,
            "" if pd.isna(row.length) else str(int(row.length)),
            format_number(row.observed), format_number(row.mean),
            hdi_text(row.hdi_low, row.hdi_high), "yes" if inside else "no",
        ])  # fmt: skip
    headers = ["trend", "fitted to k smallest", "size", "quantity", "L", "observed",
               "forecast mean", "94% HDI", "inside"]  # fmt: skip
    return table_block(headers, body)


def forecast_report_context(result: ForecastLike, directory: Path, figures: dict[str, str]) -> dict:
    """What the templates show; ``figures`` maps each task to its figure's path in
    ``directory``."""
    table = result.table()
    diagnostics = result.diagnostics()
    tasks = []
    for task, text in result.verdicts().items():
        path = directory / figures[task] if task in figures else None
        data = base64.b64encode(path.read_bytes()).decode("ascii") if path else None
        uri = f"data:image/png;base64,{data}" if data else None
        tasks.append({
            "name": task, "verdict": text, "figure": figures.get(task), "data_uri": uri,
            "table": _largest_size_table(table[table["task"] == task]),
        })  # fmt: skip
    trouble = diagnostics[~diagnostics["ok"].astype(bool)] if len(diagnostics) else diagnostics
    warnings = [*result.meta.get("warnings", [])]
    warnings += [
        f"{r.task}, {r.trend} fitted to the {int(r.fitted_scales)} smallest sizes: {r.problems}"
        for r in trouble.itertuples()
    ]
    settings = {k: v for k, v in result.meta.items() if k != "warnings"} | {"version": VERSION}
    return {
        "title": "mirage-bayes forecast report",
        "tasks": tasks,
        "warnings": warnings,
        "settings": [(k, str(v)) for k, v in settings.items()],
    }


def render_forecast_report(
    result: ForecastLike, directory: str | Path, figures: dict[str, str]
) -> list[Path]:
    """Write ``report.html`` (self-contained) and ``report.md`` into ``directory``, whose
    ``figures`` (task → path in it) are already written."""
    directory = Path(directory)
    context = forecast_report_context(result, directory, figures)
    env = template_environment()
    paths = []
    for name in ("report.html", "report.md"):
        path = directory / name
        path.write_text(env.get_template(f"forecast_{name}.j2").render(context), "utf-8")
        paths.append(path)
    return paths
