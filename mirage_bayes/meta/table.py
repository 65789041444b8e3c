"""Tables as users have them: renamed columns, another size axis, families pooled on it, and
several rows per model (seeds, prompt variants) combined explicitly.

* ``--map family=model_family,score=acc`` renames the file's columns to those ``meta`` reads
  (:func:`parse_mapping`; the mapping wins over a column that already has the name);
* ``--x COLUMN`` takes the model size from another column (training compute, tokens, ...);
* ``--pool-families`` puts every family's models on one curve per (task, metric) — natural on a
  shared axis such as compute; models of the same size are all kept;
* ``--replicates pool|mean`` (:func:`combine_replicates`) says how several rows of one
  (family, model, task, metric) become one point.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mirage_bayes.errors import InputError
from mirage_bayes.inputs.columns import parse_column_mapping, rename_columns
from mirage_bayes.inputs.tables import Table
from mirage_bayes.settings import REPLICATES

__all__ = ["MAPPABLE", "POOLED_FAMILY", "REPLICATES", "apply_options", "combine_replicates",
           "parse_mapping"]  # fmt: skip

MAPPABLE = ("family", "model", "n_params", "task", "metric", "score", "n_items", "stderr",
            "kind", "higher_is_better", "chance")  # fmt: skip
POOLED_FAMILY = "all families"


def parse_mapping(text: str) -> dict[str, str]:
    """Parse ``"family=model_family,score=acc"`` into ``{"family": "model_family", ...}``.

    Keys are the columns ``meta`` reads (:data:`MAPPABLE`), values the file's column names.
    """
    return parse_column_mapping(text, MAPPABLE, reader="meta", example="family=model_family")


def apply_options(
    table: Table,
    *,
    mapping: dict[str, str] | None = None,
    x: str | None = None,
    pool_families: bool = False,
) -> None:
    """Rename columns, take the size from ``x`` and pool families, in place (before checks)."""
    if mapping:
        rename_columns(table, mapping)
    if x is not None:
        if x not in table.frame.columns:
            raise InputError(
                f"--x names column {x!r}, which the table does not have",
                where=table.path,
                fix=f"choose one of {', '.join(repr(str(c)) for c in table.frame.columns)}",
            )
        if x != "n_params":
            table.frame = table.frame.drop(columns=["n_params"], errors="ignore")
            table.frame = table.frame.rename(columns={x: "n_params"})
    if pool_families:
        table.frame = table.frame.assign(family=POOLED_FAMILY)


def combine_replicates(table: Table, rows: pd.DataFrame, how: str) -> pd.DataFrame:
    """One row per (family, model, task, metric).

    ``pool``: a proportion's successes and items are summed (replicates as more items); a
    continuous score or loss is averaged, its standard error ``sqrt(Σ se²)/r`` where every
    replicate has one, else the replicates' spread ``sd/√r``. ``mean``: the mean score, the mean
    ``n_items`` and the mean ``stderr`` (one replicate's precision).
    """
    keys = ["family", "model", "task", "metric"]
    groups = rows.groupby(keys, sort=False)
    rows = rows.assign(n_rep=groups["score"].transform("size"))
    if (rows["n_rep"] == 1).all():
        return rows
    for column in ("kind", "better", "chance"):
        spread = groups[column].transform("nunique")
        if (spread > 1).any():
            j = int(np.flatnonzero(spread.to_numpy() > 1)[0])
            same = (rows[keys] == rows[keys].iloc[j]).all(axis=1).to_numpy()
            raise InputError(
                f"the replicates of family {rows['family'].iat[j]!r}, model "
                f"{rows['model'].iat[j]!r}, task {rows['task'].iat[j]!r}, metric "
                f"{rows['metric'].iat[j]!r} differ in {column}",
                where=table.rows(int(np.flatnonzero(same)[0]), j),
                fix=f"give one {column} per model, task and metric",
            )
    proportion = rows["kind"] == "proportion"
    rows["k"] = np.where(proportion, np.round(rows["score"] * rows["n_items"]), np.nan)
    rows["se2"] = rows["stderr"] ** 2
    agg = rows.groupby(keys, sort=False).agg(
        n_params=("n_params", "first"), score=("score", "mean"), score_sd=("score", "std"),
        k=("k", "sum"), n_sum=("n_items", "sum"), n_mean=("n_items", "mean"),
        se_mean=("stderr", "mean"), se2_sum=("se2", "sum"), se_count=("stderr", "count"),
        kind=("kind", "first"), better=("better", "first"), chance=("chance", "first"),
        row=("row", "first"), n_rep=("n_rep", "first"),
    ).reset_index()  # fmt: skip
    prop, r = agg["kind"] == "proportion", agg["n_rep"]
    if how == "pool":
        agg["n_items"] = np.where(prop, agg["n_sum"], np.nan)
        agg.loc[prop, "score"] = agg["k"] / agg["n_sum"]
        spread = np.where(r > 1, agg["score_sd"] / np.sqrt(r), np.nan)
        given = np.sqrt(agg["se2_sum"]) / r
        agg["stderr"] = np.where(agg["se_count"] == r, given, spread)
    else:
        agg["n_items"] = np.where(prop, np.round(agg["n_mean"]), np.nan)
        agg["stderr"] = agg["se_mean"]
    return agg[[*keys, "n_params", "score", "n_items", "stderr", "kind", "better", "chance",
                "row", "n_rep"]]  # fmt: skip
