"""Writing a :class:`~mirage_bayes.fitting.result.FitResult` to a folder, all or nothing (through
:func:`mirage_bayes.output.destination.staged_folder`, which keeps a user's data safe)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mirage_bayes.fitting.comparison import task_entry
from mirage_bayes.fitting.inference import sampler_warnings
from mirage_bayes.fitting.item_choice import task_item_family
from mirage_bayes.fitting.resolution import floors_by_task  # imports the models: only when saving
from mirage_bayes.output.destination import staged_folder
from mirage_bayes.output.filenames import task_files
from mirage_bayes.output.protocols import FitLike
from mirage_bayes.output.report import render_report
from mirage_bayes.settings import VERSION


def summary_tasks(
    result: FitLike, extra: Callable[[str], dict[str, Any]] | None = None
) -> dict[str, Any]:
    """What every kind's ``summary.json`` holds per task (preferred trend, the comparison, the
    diagnostics, the verdict, the late-jump check and what ``extra(task)`` adds) and of the run
    (warnings, refits, the files written per task)."""
    meta = result.meta
    diagnostics = result.diagnostics()
    tasks = {}
    n_scales = {data.task: data.n_scales for data in result.tasks}
    for table in result.comparisons:
        task = str(table["task"].iloc[0])
        diag = diagnostics[diagnostics["task"] == task]
        tasks[task] = {
            **task_entry(table, diag, result.verdict_texts.get(task, ""), n_scales[task]),
            # Is the rise at the largest sizes a late jump? (mirage_bayes.fitting.late_check)
            "late_check": meta.get("late_check", {}).get(task),
            **(extra(task) if extra else {}),
        }
    return {
        # The CLI points here for sampler trouble, so the failed diagnostics are listed too.
        "warnings": [*meta.get("warnings", []), *sampler_warnings(result.diagnostics_by_fit)],
        "refits": meta.get("refits", []),
        "tasks": tasks,
        "files": task_files(result),  # task name -> file names
    }


def summary_json(result: FitLike) -> dict:
    """Run metadata, per-task preferred trend, per-trend diagnostics and resolution floors."""
    meta = result.meta
    floors = floors_by_task(result.observed())
    head = {"mirage_bayes_version": VERSION, "seed": meta.get("seed"), "input": meta.get("input"),
            "input_sha256": meta.get("input_sha256"), "tokenizer": meta.get("tokenizers"),
            "draws": meta.get("draws"), "tune": meta.get("tune"), "chains": meta.get("chains"),
            "choices": meta.get("choices")}  # fmt: skip
    return head | summary_tasks(
        result,
        lambda task: {
            # The chance-match rate g and where it came from (see mirage_bayes.inputs.chance).
            "chance": meta.get("chance", {}).get(task),
            # Per observed scale and length: 1/n and 1/(n·L) (mirage_bayes.fitting.resolution).
            "resolution": floors.get(task, []),
            # normal or log-gamma, and with --items compare their LOO comparison.
            "item_family": task_item_family(meta, task),
        },
    )


def write_posteriors(result, directory: Path) -> None:
    """One netCDF file per task and trend, the run's settings in the ``fit_config`` attribute."""
    config = json.dumps({k: v for k, v in result.meta.items() if k != "warnings"})
    files = task_files(result)
    for task, by_trend in result.idatas.items():
        for trend, idata in by_trend.items():
            idata.attrs["fit_config"] = config
            idata.to_netcdf(str(directory / files[task]["posteriors"][trend]))


def save_result(result: FitLike, directory: str | Path, *, force: bool, report: bool) -> Path:
    """Write ``summary.csv``, ``comparison.csv``, ``summary.json``, ``posterior_<trend>.nc`` and
    (with ``report``) ``report.html``, ``report.md`` and ``figures/`` into ``directory``."""
    with staged_folder(directory, force=force) as staging:
        result.summary().to_csv(staging / "summary.csv", index=False, float_format="%.6g")
        result.comparison().to_csv(staging / "comparison.csv", index=False, float_format="%.6g")
        (staging / "summary.json").write_text(json.dumps(summary_json(result), indent=2) + "\n")
        write_posteriors(result, staging)
        if report:
            render_report(
                summary=result.summary(),
                curves=result.curves(),
                observed=result.observed(),
                comparison=result.comparison(),
                diagnostics=result.diagnostics(),
                parameters=result.parameters(),
                verdicts=result.verdicts(),
                resolution=result.resolution(),
                meta={**result.meta, "version": VERSION},
                directory=staging,
            )
    return Path(directory).resolve()
