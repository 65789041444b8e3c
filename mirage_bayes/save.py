"""Writing a :class:`~mirage_bayes.result.FitResult` to a folder, all or nothing.

Everything is written into a hidden temporary folder beside the destination and renamed into
place at the end, so an error, Ctrl-C or a kill leaves either the complete results or none.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from mirage_bayes import __version__
from mirage_bayes.comparison import pair
from mirage_bayes.errors import InputError

if TYPE_CHECKING:
    from mirage_bayes.result import FitResult


def check_destination(directory: str | Path, *, force: bool) -> Path:
    """Refuse a non-empty destination unless ``force``; call before any long work."""
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise InputError(
            "the output path exists and is not a folder",
            where=str(directory),
            fix="choose another --out",
        )
    if directory.is_dir() and any(directory.iterdir()) and not force:
        raise InputError(
            "the output folder is not empty",
            where=str(directory),
            fix="choose another --out or pass --force to replace it",
        )
    return directory


def netcdf_name(task: str, trend: str, n_tasks: int) -> str:
    """``posterior_<trend>.nc``; ``posterior_<trend>__<task>.nc`` when there are several tasks."""
    if n_tasks == 1:
        return f"posterior_{trend}.nc"
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in task)
    return f"posterior_{trend}__{safe}.nc"


def summary_json(result: FitResult) -> dict:
    """Run metadata, per-task preferred trend, per-trend diagnostics and resolution floors."""
    from mirage_bayes.resolution import floors_by_task  # imports the models: only when saving

    meta = result.meta
    diagnostics = result.diagnostics()
    floors = floors_by_task(result.observed())
    tasks = {}
    for table in result.comparisons:
        task = str(table["task"].iloc[0])
        best = table.sort_values("rank").iloc[0]
        main = pair(table, "power_law", "broken_power_law")
        diag = diagnostics[diagnostics["task"] == task]
        tasks[task] = {
            "preferred_trend": str(best["trend"]),
            "power_vs_broken": None
            if main is None
            else {
                "preferred": main[0],
                "elpd_diff": main[1],
                "se": main[2],
                "exceeds_2se": bool(main[1] > 2 * main[2]),
            },  # fmt: skip
            "trends": {
                row.trend: {
                    "max_rhat": float(row.max_rhat),
                    "min_ess_bulk": float(row.min_ess_bulk),
                    "divergences": int(row.divergences),
                    "ok": bool(row.ok),
                }
                for row in diag.itertuples()
            },
            "verdict": result.verdict_texts.get(task, ""),
            # Per observed scale and length: 1/n and 1/(n·L) (see mirage_bayes.resolution).
            "resolution": floors.get(task, []),
        }
    return {
        "mirage_bayes_version": __version__,
        "seed": meta.get("seed"),
        "input": meta.get("input"),
        "input_sha256": meta.get("input_sha256"),
        "tokenizer": meta.get("tokenizers"),
        "draws": meta.get("draws"),
        "tune": meta.get("tune"),
        "chains": meta.get("chains"),
        "choices": meta.get("choices"),
        "warnings": meta.get("warnings", []),
        "tasks": tasks,
    }


def write_posteriors(result, directory: Path) -> None:
    """One netCDF file per task and trend, the run's settings in the ``fit_config`` attribute."""
    config = json.dumps({k: v for k, v in result.meta.items() if k != "warnings"})
    for task, by_trend in result.idatas.items():
        for trend, idata in by_trend.items():
            idata.attrs["fit_config"] = config
            idata.to_netcdf(str(directory / netcdf_name(task, trend, len(result.tasks))))


@contextmanager
def staged_folder(directory: str | Path, *, force: bool) -> Iterator[Path]:
    """A hidden staging folder that becomes ``directory`` when the ``with`` block succeeds.

    An error, Ctrl-C or a kill inside the block leaves the destination as it was: either absent
    or (with ``force``) the previous results, which are replaced only once the new ones are
    complete.
    """
    directory = check_destination(directory, force=force).resolve()
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    old, replacing = directory.with_name(f".{directory.name}.old"), False
    try:
        yield staging
        replacing = directory.exists()
        if replacing:
            shutil.rmtree(old, ignore_errors=True)
            directory.rename(old)
        staging.rename(directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        # Stopped between the two renames, the old results sat hidden in ".<name>.old" and the
        # destination was gone (found by tests/test_robustness.py): put them back.
        if replacing and old.exists() and not directory.exists():
            old.rename(directory)
        raise
    if replacing:
        shutil.rmtree(old, ignore_errors=True)


def save_result(result: FitResult, directory: str | Path, *, force: bool, report: bool) -> Path:
    """Write ``summary.csv``, ``comparison.csv``, ``summary.json``, ``posterior_<trend>.nc`` and
    (with ``report``) ``report.html``, ``report.md`` and ``figures/`` into ``directory``."""
    with staged_folder(directory, force=force) as staging:
        result.summary().to_csv(staging / "summary.csv", index=False, float_format="%.6g")
        result.comparison().to_csv(staging / "comparison.csv", index=False, float_format="%.6g")
        (staging / "summary.json").write_text(json.dumps(summary_json(result), indent=2) + "\n")
        write_posteriors(result, staging)
        if report:
            from mirage_bayes.report import render_report

            render_report(
                summary=result.summary(),
                curves=result.curves(),
                observed=result.observed(),
                comparison=result.comparison(),
                diagnostics=result.diagnostics(),
                parameters=result.parameters(),
                verdicts=result.verdicts(),
                resolution=result.resolution(),
                meta={**result.meta, "version": __version__},
                directory=staging,
            )
    return Path(directory).resolve()
