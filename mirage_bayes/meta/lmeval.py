"""A folder of lm-evaluation-harness ``results_*.json`` files (one or more per model) as a
``mirage-bayes meta`` table: ``mirage-bayes meta DIR --from lm-eval``.

Both result formats are read:

* lm-evaluation-harness ≥ 0.4: ``results[task]["acc,none"]`` with ``"acc_stderr,none"``
  (metric, filter), ``n-samples[task].effective`` (the items), ``higher_is_better[task]``,
  ``n-shot[task]``, ``model_name`` or ``config.model_args`` and, in recent releases,
  ``model_num_parameters``;
* older releases (0.3, e.g. the Pythia suite's published evaluations): ``results[task]["acc"]``
  with ``"acc_stderr"``, the model in ``config.model_args`` (``pretrained=...,revision=...``)
  and the shot count in ``config.num_fewshot``.

Per row: ``model`` (the ``pretrained`` name, ``@revision`` appended when one is given),
``family`` (the built-in family of :mod:`mirage_bayes.inputs.model_sizes`, else the name without its
size, plus the revision and the shot count, so that checkpoints and shot counts make separate
curves), ``n_params`` (``model_num_parameters``, else ``--params``, else the built-in table),
``task``, ``metric`` (with the filter when it is not ``none``), ``score``, ``stderr``, ``n_items``
(``n-samples``; else the proportion's ``n`` comes from its stderr) and ``higher_is_better``
where the file says. The kind follows the metric's name (:func:`mirage_bayes.meta.io.metric_kind`);
a metric whose name says nothing is read as a continuous score and listed in
``frame.attrs["assumed_continuous"]``, which ``meta`` prints.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pandas as pd

from mirage_bayes.errors import InputError
from mirage_bayes.inputs.model_sizes import canonical_name, family_of, size_resolver
from mirage_bayes.meta.io import metric_kind

__all__ = ["lmeval_results_table", "results_files"]

_MODEL_KEYS = ("pretrained", "model", "path", "engine", "peft")
_SIZE = re.compile(r"[-_.]?\d+(?:\.\d+)?[kmbt](?=$|[-_])", re.IGNORECASE)
_SKIP = {"alias", "samples", "name", "sample_len", "sample_count"}


def results_files(folder: str | Path) -> list[Path]:
    """The ``results*.json`` files under a folder (recursively), sorted."""
    folder = Path(folder)
    if folder.is_file():
        return [folder]
    if not folder.is_dir():
        raise InputError("not found", where=str(folder),
                         fix="give the folder holding lm_eval's results_*.json files")  # fmt: skip
    files = sorted(p for p in folder.rglob("results*.json") if p.is_file())
    if not files:
        raise InputError("holds no results*.json file", where=str(folder),
                         fix="give the --output_path folder of lm_eval runs")  # fmt: skip
    return files


def _load(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(f"is not a JSON results file ({type(error).__name__})", where=str(path),
                         fix="give the results_*.json files lm_eval wrote") from None  # fmt: skip
    if not isinstance(data, dict) or not isinstance(data.get("results"), dict):
        raise InputError("has no 'results' object", where=str(path),
                         fix="give the results_*.json files lm_eval wrote")  # fmt: skip
    return data


def _model_args(data: dict[str, Any]) -> dict[str, str]:
    config = data.get("config") if isinstance(data.get("config"), dict) else {}
    args = config.get("model_args")
    if isinstance(args, str):
        pairs = (part.split("=", 1) for part in args.split(",") if "=" in part)
        args = {key.strip(): value.strip() for key, value in pairs}
    return {k: str(v) for k, v in args.items()} if isinstance(args, dict) else {}


def _model(data: dict[str, Any], path: Path) -> tuple[str, str]:
    """The model's name and its revision ('' when none is given)."""
    args = _model_args(data)
    name = data.get("model_name") if isinstance(data.get("model_name"), str) else ""
    name = name.strip() or next((args[k] for k in _MODEL_KEYS if args.get(k)), "")
    if not name:
        raise InputError("does not name the model (no model_name, no pretrained= in "
                         "config.model_args)", where=str(path),
                         fix='add "model_name": "<org>/<model>" to the file')  # fmt: skip
    return name, args.get("revision", "")


def _family(name: str) -> str:
    known = family_of(name)
    if known:
        return known
    base = canonical_name(name)
    return _SIZE.sub("", base) or base


def _number(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.nan
    return number if math.isfinite(number) else math.nan


def _shots(data: dict[str, Any], task: str) -> str:
    shots = data.get("n-shot", {}).get(task) if isinstance(data.get("n-shot"), dict) else None
    if shots is None and isinstance(data.get("config"), dict):
        shots = data["config"].get("num_fewshot")
    return "" if shots is None else f"{int(shots)}-shot"


def _rows(data: dict[str, Any], path: Path) -> list[dict[str, Any]]:
    name, revision = _model(data, path)
    model = f"{name}@{revision}" if revision else name
    samples = data.get("n-samples") if isinstance(data.get("n-samples"), dict) else {}
    better = data.get("higher_is_better") if isinstance(data.get("higher_is_better"), dict) else {}
    size = _number(data.get("model_num_parameters"))
    rows = []
    for task, metrics in data["results"].items():
        if not isinstance(metrics, dict):
            continue
        n = _number((samples.get(task) or {}).get("effective"))
        for key, value in metrics.items():
            metric, _, flt = key.partition(",")
            if metric in _SKIP or metric.endswith("_stderr") or isinstance(value, str | bool):
                continue
            score = _number(value)
            if math.isnan(score):
                continue
            stderr_key = f"{metric}_stderr" + (f",{flt}" if flt else "")
            label = metric if flt in ("", "none") else f"{metric}/{flt}"
            family = " ".join(p for p in (_family(name), revision and f"@{revision}",
                                          _shots(data, task)) if p)  # fmt: skip
            row = {"family": family, "model": model, "task": task, "metric": label,
                   "score": score, "stderr": _number(metrics.get(stderr_key)),
                   "n_items": n if metric_kind(metric) == "proportion" else math.nan,
                   "n_params": size, "source_file": str(path)}  # fmt: skip
            flag = (better.get(task) or {}).get(metric)
            if isinstance(flag, bool):
                row["higher_is_better"] = flag
            rows.append(row)
    return rows


def lmeval_results_table(folder: str | Path, *, params: str | Path | None = None) -> pd.DataFrame:
    """Every result in a folder of lm-evaluation-harness results files, one row per model, task
    and metric (see the module docstring).

    Parameters
    ----------
    folder
        Searched recursively for ``results*.json``.
    params
        A ``model,n_params`` table for models whose results file does not give their size.

    Returns
    -------
    pandas.DataFrame
        The ``meta`` table (``family, model, n_params, task, metric, score, stderr, n_items,
        kind, higher_is_better``, plus ``source_file``).
    """
    rows = [row for path in results_files(folder) for row in _rows(_load(path), path)]
    if not rows:
        raise InputError("no numeric results in the results files", where=str(folder),
                         fix="give lm_eval results files with a 'results' section")  # fmt: skip
    frame = pd.DataFrame(rows)
    missing = frame["n_params"].isna()
    if missing.any() or params is not None:
        resolve = size_resolver(params)
        names = frame.loc[missing | (params is not None), "model"].unique().tolist()
        sizes = resolve(names)
        filled = frame["model"].map(sizes)
        frame["n_params"] = filled.where(filled.notna(), frame["n_params"])
    kinds = frame["metric"].str.split("/").str[0].map(metric_kind)
    assumed = sorted(frame.loc[kinds.isna(), "metric"].unique())
    frame["kind"] = kinds.fillna("continuous")
    frame["n_items"] = frame["n_items"].where(frame["kind"] == "proportion")
    frame.attrs["assumed_continuous"] = assumed
    columns = ["family", "model", "n_params", "task", "metric", "score", "stderr", "n_items",
               "kind", "higher_is_better", "source_file"]  # fmt: skip
    if "higher_is_better" not in frame:
        frame["higher_is_better"] = None
    loss = frame["kind"] == "loss"
    frame.loc[loss, "higher_is_better"] = False
    return frame[columns]
