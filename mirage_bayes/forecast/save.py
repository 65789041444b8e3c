"""Writing a :class:`~mirage_bayes.forecast.run.ForecastResult` to a folder, all or nothing.

Through :func:`mirage_bayes.output.destination.staged_folder`, as for fits: everything goes into a
hidden staging folder beside the destination, which is renamed into place at the end; an error or
interruption leaves either the complete results or the previous state.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from mirage_bayes.forecast.report import render_forecast_report
from mirage_bayes.output.destination import staged_folder
from mirage_bayes.output.filenames import file_stems
from mirage_bayes.output.protocols import ForecastLike
from mirage_bayes.settings import VERSION


def figure_names(tasks: Iterable[str]) -> dict[str, str]:
    """``figures/forecast_<stem>.png`` per task, stems safe, bounded and unique
    (:func:`mirage_bayes.output.filenames.file_stems`)."""
    return {task: f"figures/forecast_{stem}.png" for task, stem in file_stems(tasks).items()}


def figure_name(task: str) -> str:
    """``figures/forecast_<stem>.png`` of one task on its own."""
    return figure_names([task])[task]


def forecast_json(result: ForecastLike) -> dict:
    """Run metadata, verdicts, warnings and each task's figure file."""
    return {
        "mirage_bayes_version": VERSION,
        **result.meta,
        "all_refits_ok": result.ok,
        "verdicts": result.verdicts(),
        "figures": figure_names(dict.fromkeys(result.table()["task"])),
    }


def save_forecast(
    result: ForecastLike, directory: str | Path, *, force: bool, report: bool = True
) -> Path:
    """Write ``forecast.csv``, ``forecast_diagnostics.csv``, ``forecast.json``, one
    ``figures/forecast_<task>.png`` per task and (with ``report``) ``report.html`` and
    ``report.md`` into ``directory``."""
    with staged_folder(directory, force=force, command="forecast") as staging:
        result.table().to_csv(staging / "forecast.csv", index=False, float_format="%.6g")
        result.diagnostics().to_csv(
            staging / "forecast_diagnostics.csv", index=False, float_format="%.6g"
        )
        text = json.dumps(forecast_json(result), indent=2, default=str, ensure_ascii=False)
        (staging / "forecast.json").write_text(text + "\n", encoding="utf-8")
        figures = figure_names(dict.fromkeys(result.table()["task"]))
        if figures:
            (staging / "figures").mkdir()
        for task, name in figures.items():
            result.plot(task).savefig(staging / name, dpi=110)
        if report:
            render_forecast_report(result, staging, figures)
    return Path(directory).resolve()
