"""Writing a :class:`~mirage_bayes.forecast.ForecastResult` to a folder, all or nothing.

Through :func:`mirage_bayes.save.staged_folder`, as for fits: everything goes into a hidden
staging folder beside the destination, which is renamed into place at the end; an error or
interruption leaves either the complete results or the previous state.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from mirage_bayes import __version__
from mirage_bayes.save import staged_folder

if TYPE_CHECKING:
    from mirage_bayes.forecast import ForecastResult


def figure_name(task: str) -> str:
    """``forecast_<task>.png`` with characters unsafe in file names replaced."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in task)
    return f"forecast_{safe}.png"


def forecast_json(result: ForecastResult) -> dict:
    """Run metadata, verdicts and warnings."""
    return {
        "mirage_bayes_version": __version__,
        **result.meta,
        "all_refits_ok": result.ok,
        "verdicts": result.verdicts(),
    }


def save_forecast(result: ForecastResult, directory: str | Path, *, force: bool) -> Path:
    """Write ``forecast.csv``, ``forecast_diagnostics.csv``, ``forecast.json`` and one
    ``forecast_<task>.png`` per task into ``directory``."""
    with staged_folder(directory, force=force, command="forecast") as staging:
        result.table().to_csv(staging / "forecast.csv", index=False, float_format="%.6g")
        result.diagnostics().to_csv(
            staging / "forecast_diagnostics.csv", index=False, float_format="%.6g"
        )
        text = json.dumps(forecast_json(result), indent=2, default=str, ensure_ascii=False)
        (staging / "forecast.json").write_text(text + "\n", encoding="utf-8")
        for task in dict.fromkeys(result.table()["task"]):
            figure = result.plot(task)
            figure.savefig(staging / figure_name(task), dpi=110)
    return Path(directory).resolve()
