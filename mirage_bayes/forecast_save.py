"""Writing a :class:`~mirage_bayes.forecast.ForecastResult` to a folder, all or nothing.

As :mod:`mirage_bayes.save` does for fits: everything goes into a hidden temporary folder beside
the destination, which is renamed into place at the end; an error or interruption leaves either
the complete results or the previous state.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from mirage_bayes import __version__
from mirage_bayes.save import check_destination

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
    directory = check_destination(directory, force=force).resolve()
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    old, replacing = directory.with_name(f".{directory.name}.old"), False
    try:
        result.table().to_csv(staging / "forecast.csv", index=False, float_format="%.6g")
        result.diagnostics().to_csv(
            staging / "forecast_diagnostics.csv", index=False, float_format="%.6g"
        )
        text = json.dumps(forecast_json(result), indent=2, default=str, ensure_ascii=False)
        (staging / "forecast.json").write_text(text + "\n", encoding="utf-8")
        for task in dict.fromkeys(result.table()["task"]):
            figure = result.plot(task)
            figure.savefig(staging / figure_name(task), dpi=110)
        replacing = directory.exists()
        if replacing:
            shutil.rmtree(old, ignore_errors=True)
            directory.rename(old)
        staging.rename(directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if replacing and old.exists() and not directory.exists():
            old.rename(directory)
        raise
    if replacing:
        shutil.rmtree(old, ignore_errors=True)
    return directory
