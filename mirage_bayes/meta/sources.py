"""Loaders that turn public result sets into the ``mirage-bayes meta`` table format.

``lm-eval``: a folder of lm-evaluation-harness ``results_*.json`` files, one or more per model
(:mod:`mirage_bayes.meta.lmeval`). The two public data sets below read local copies only
(``shared/data/`` in this project; see its README for provenance and licences, Apache-2.0 for
both); nothing is downloaded.

``bigbench_bigg_table(folder)`` — BIG-G (BIG-bench, greedy decoding, 3-shot) from
``bigg_t0_task_accuracy_3shot.csv``: one triplet per task over the 12 sizes 2m–128b.

* ``n_params`` = ``non_embedding_params`` (the size BIG-bench reports), ``n_items`` and
  ``score = n_correct / n_items`` as stored (the counts are the data; n ranges from 2 to 205).
* ``chance`` from ``bigbench_task_metadata.csv``: the task's ``chance_mc_accuracy``; where the
  task row has none but every subtask has one, their mean weighted by ``n_examples``; else 0
  (generative, or a mix of generative and multiple-choice subtasks: no floor).
* ``metric`` = ``accuracy_mc`` where the task has a chance level (multiple choice) and
  ``accuracy_generative`` otherwise, so the per-metric breakdown separates the two.

``pythia_arithmetic_table(folder)`` — Pythia (deduplicated v0 suite) on BIG-bench-style
arithmetic, one task per first operand: ``family = "pythia-deduped@<checkpoint>/<n>-shot"`` so
that each (operand task, shot count, checkpoint) is a triplet over the 7 sizes.

* ``n_params`` = ``n_params_total`` by default (``params="nonembedding"`` for the other count).
* ``n_items`` = ``n_items_implied`` (50, back-computed from the standard error). Where the
  standard error is 0 (accuracy 0 or 1) it cannot be back-computed; those rows take the median
  of the same operation's other rows (50).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from mirage_bayes.errors import InputError
from mirage_bayes.inputs.choices import score_choices
from mirage_bayes.inputs.scoring import score_outputs
from mirage_bayes.inputs.sources import read_inputs
from mirage_bayes.meta.lmeval import lmeval_results_table

__all__ = [
    "bigbench_bigg_table", "item_logs_table", "pythia_arithmetic_table", "SOURCES", "load_source",
]  # fmt: skip

BIGG_ACCURACY = "bigg_t0_task_accuracy_3shot.csv"
BIGG_METADATA = "bigbench_task_metadata.csv"
PYTHIA_FILE = "pythia_v0_deduped_arithmetic_by_operand.csv"


def _read(folder: str | Path, name: str, columns: tuple[str, ...]) -> pd.DataFrame:
    folder = Path(folder)
    path = folder / name if folder.is_dir() else folder
    if not path.exists():
        raise InputError(
            f"{name} not found",
            where=str(folder),
            fix="give the folder that holds the data set (e.g. ../shared/data/bigbench_bigg)",
        )
    frame = pd.read_csv(path)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(
            f"missing column(s) {', '.join(missing)}",
            where=str(path),
            fix="use the file as published in shared/data (see its README)",
        )
    return frame


def _bigbench_chance(metadata: pd.DataFrame) -> dict[str, float]:
    chance = {}
    for task, rows in metadata.groupby("task"):
        top = rows[rows["subtask"].isna()]["chance_mc_accuracy"].dropna()
        subs = rows[rows["subtask"].notna()]
        if len(top):
            chance[task] = float(top.iloc[0])
        elif len(subs) and subs["chance_mc_accuracy"].notna().all():
            weights = subs["n_examples"].clip(lower=1).to_numpy(float)
            chance[task] = float(np.average(subs["chance_mc_accuracy"], weights=weights))
        else:
            chance[task] = 0.0
    return chance


def bigbench_bigg_table(folder: str | Path) -> pd.DataFrame:
    """BIG-G task accuracies as a meta table (see the module docstring).

    Parameters
    ----------
    folder
        The ``bigbench_bigg`` folder.

    Returns
    -------
    pandas.DataFrame
        Columns ``family, model, n_params, task, metric, score, n_items, chance, kind``.
    """
    accuracy = _read(folder, BIGG_ACCURACY, ("task", "model_family", "model_name",
                     "non_embedding_params", "n_shots", "n_items", "n_correct"))  # fmt: skip
    metadata = _read(folder, BIGG_METADATA, ("task", "subtask", "chance_mc_accuracy",
                                             "n_examples"))  # fmt: skip
    chance = _bigbench_chance(metadata)
    task_chance = accuracy["task"].map(chance).fillna(0.0)
    shots = accuracy["n_shots"].astype(int).astype(str)
    return pd.DataFrame(
        {
            "family": accuracy["model_family"].astype(str) + " " + shots + "-shot",
            "model": accuracy["model_name"].astype(str),
            "n_params": accuracy["non_embedding_params"].astype(float),
            "task": accuracy["task"].astype(str),
            "metric": np.where(task_chance > 0, "accuracy_mc", "accuracy_generative"),
            "score": accuracy["n_correct"] / accuracy["n_items"],
            "n_items": accuracy["n_items"].astype(int),
            "chance": task_chance.to_numpy(float),
            "kind": "proportion",
        }
    )


def pythia_arithmetic_table(
    folder: str | Path,
    *,
    params: str = "total",
    checkpoints: list[int] | None = None,
    shots: list[int] | None = None,
) -> pd.DataFrame:
    """Pythia arithmetic accuracies by first operand as a meta table.

    Parameters
    ----------
    folder
        The ``pythia_arithmetic`` folder.
    params
        ``"total"`` (``n_params_total``, default) or ``"nonembedding"``.
    checkpoints, shots
        Keep only these training steps / shot counts (default: all).

    Returns
    -------
    pandas.DataFrame
        Columns ``family, model, n_params, task, metric, score, n_items, kind``.
    """
    if params not in ("total", "nonembedding"):
        raise InputError(f"params {params!r} is unknown", fix="use total or nonembedding")
    column = f"n_params_{params}"
    frame = _read(folder, PYTHIA_FILE, ("checkpoint", "task", "n_shots", "acc", column,
                  "model_name_current", "operation", "n_items_implied"))  # fmt: skip
    available = (
        f"checkpoints {sorted(set(frame['checkpoint']))}, shots {sorted(set(frame['n_shots']))}"
    )
    if checkpoints is not None:
        frame = frame[frame["checkpoint"].isin(checkpoints)]
    if shots is not None:
        frame = frame[frame["n_shots"].isin(shots)]
    if frame.empty:
        raise InputError("no rows left after choosing checkpoints and shots",
                         fix=f"choose among {available}")  # fmt: skip
    implied = frame["n_items_implied"]
    fallback = implied.groupby(frame["operation"]).transform("median").fillna(50.0)
    n_items = implied.fillna(fallback).round().astype(int)
    family = ("pythia-deduped@" + frame["checkpoint"].astype(int).astype(str) + "/"
              + frame["n_shots"].astype(int).astype(str) + "-shot")  # fmt: skip
    return pd.DataFrame(
        {
            "family": family.to_numpy(),
            "model": frame["model_name_current"].astype(str).to_numpy(),
            "n_params": frame[column].astype(float).to_numpy(),
            "task": frame["task"].astype(str).to_numpy(),
            "metric": "accuracy",
            "score": frame["acc"].astype(float).to_numpy(),
            "n_items": n_items.to_numpy(),
            "kind": "proportion",
        }
    )


def item_logs_table(path: str | Path, *, params: str | Path | None = None) -> pd.DataFrame:
    """Per-item results as ``meta`` rows: whatever ``fit`` reads (an outputs table, lm-eval
    samples, Inspect logs, HELM run folders, Every Eval Ever records), scored as ``fit`` scores
    it, and per (task, model) the share of items right: exact match for generations, the
    multiple-choice grade (chance level the mean of 1/K) for choices. ``n_items`` is the number
    of items, so ``meta``'s binomial model sees the test-set size."""
    outputs = read_inputs(path, params=params)
    choice = outputs.attrs.get("kind") == "multiple_choice"
    if choice:
        scored, metric = score_choices(outputs), "mc_grade"
        scored["guess"] = 1.0 / scored["n_choices"]
    else:
        scored, metric = score_outputs(outputs)[0], "exact_match"
        scored["guess"] = 0.0
    if "family" not in scored or scored["family"].isna().all():
        scored["family"] = "logs"
    grouped = scored.groupby(["family", "task", "model"], sort=False, dropna=False)
    table = grouped.agg(
        n_params=("n_params", "first"), score=(metric, "mean"), n_items=(metric, "size"),
        chance=("guess", "mean"),
    ).reset_index()  # fmt: skip
    table["family"] = table["family"].fillna("logs").astype(str)
    table["metric"] = metric
    table["kind"] = "proportion"
    return table[["family", "model", "n_params", "task", "metric", "score", "n_items", "kind",
                  "chance"]]  # fmt: skip


SOURCES = {
    "bigbench-bigg": bigbench_bigg_table,
    "pythia-arithmetic": pythia_arithmetic_table,
    "lm-eval": lmeval_results_table,
    "logs": item_logs_table,
}


def load_source(name: str, folder: str | Path, *, params: str | Path | None = None) -> pd.DataFrame:
    """The table of a named source (``bigbench-bigg``, ``pythia-arithmetic``, ``lm-eval`` or
    ``logs``; ``params``, a ``model,n_params`` table, only for ``lm-eval`` and ``logs``)."""
    if name not in SOURCES:
        raise InputError(f"unknown source {name!r}", fix=f"use one of {', '.join(SOURCES)}")
    if name in ("lm-eval", "logs"):
        return SOURCES[name](folder, params=params)
    return SOURCES[name](folder)
