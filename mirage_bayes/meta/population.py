"""The population view of ``mirage-bayes meta``: classes, late jumps observed and expected,
the Eq. 1 numbers kept for comparability, q-values and the per-metric breakdown.

* ``M``: triplets with at least two sizes (each gets a class);
* late jumps (class ``late_jump``, :mod:`mirage_bayes.meta.classify`): the number observed, and
  the number expected under the smooth null given each curve's smaller sizes — for draw ``r``
  every triplet contributes whether its ``r``-th forecast of the largest sizes would have been
  classed a late jump (the fits are independent, so this is one draw of the joint null), giving
  one count per draw, summarized by its mean and 94% HDI; Benjamini–Hochberg q-values of
  ``p_late`` and the late jumps with ``q < 0.05``;
* the other classes, counted beside them;
* for comparability with the paper: the number with an Eq. 1 score above the threshold, the
  number a smooth law fitted to every size makes (same construction), and BH q-values of the
  score's ppp (which also flags curves that are worse or irregular, reported separately).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from mirage_bayes.meta.classify import CLASSES
from mirage_bayes.meta.emergence import bh_qvalues, count_summary
from mirage_bayes.meta.fit import PARETO_K_MAX, MetaConfig

__all__ = ["CSV_COLUMNS", "EXTRA_COLUMNS", "population_summary", "unpack"]

CSV_COLUMNS = [
    "family", "task", "metric", "n_scales", "class", "p_late", "q_late", "emergence_score",
    "ppp", "q_value", "elpd_diff_broken", "dse",
]  # fmt: skip
EXTRA_COLUMNS = [
    "kind", "n_items_min", "n_replicates", "chance", "emergent", "above_threshold", "p_level",
    "p_surprise",
    "p_above_null", "pareto_k_max", "loo_refits", "loo_refits_failed", "loo_mcse",
    *(f"{part}_{stat}" for part in ("smooth", "late", "broken")
      for stat in ("max_rhat", "min_ess_bulk", "divergences", "ok", "attempts")),
    "note",
]  # fmt: skip
_PACKED = ("above_null", "late_null", "curve")


def unpack(rows: list[dict], name: str, n_draws: int) -> np.ndarray:
    """``(triplets, draws)`` booleans from the packed per-triplet ``name`` (False where absent)."""
    out = np.zeros((len(rows), n_draws), bool)
    for i, r in enumerate(rows):
        if r.get(name) is not None:
            out[i] = np.unpackbits(r[name], count=n_draws).astype(bool)
    return out


def _failed(table: pd.DataFrame, column: str) -> int:
    return int((table[column] == False).sum())  # noqa: E712 (NaN: not fitted)


def population_summary(rows: list[dict], config: MetaConfig) -> dict[str, Any]:
    """Everything the report, the CSV files and the summary JSON show.

    Parameters
    ----------
    rows
        :func:`mirage_bayes.meta.triplet.fit_triplet` results, in input order.
    config
        The settings they were fitted with (threshold, late-jump level).

    Returns
    -------
    dict
        ``table`` (one row per triplet), ``summary``, ``by_metric``, ``null_counts`` and
        ``null_above`` (Eq. 1), ``late_counts`` and ``late_null`` (late jumps).
    """
    table = pd.DataFrame([{k: v for k, v in r.items() if k not in _PACKED} for r in rows])
    for column in CSV_COLUMNS + EXTRA_COLUMNS:
        if column not in table:
            table[column] = np.nan
    analysed = (table["class"] != "not_analysed").to_numpy()
    has_ppp = np.isfinite(table["ppp"].to_numpy(float))
    table["above_threshold"] = (table["emergence_score"] > config.threshold) & analysed
    table["emergent"] = (table["class"] == "late_jump").to_numpy()
    table["q_value"] = np.nan
    table.loc[has_ppp, "q_value"] = bh_qvalues(table.loc[has_ppp, "ppp"].to_numpy(float))
    has_late = np.isfinite(table["p_late"].to_numpy(float))
    table["q_late"] = np.nan
    table.loc[has_late, "q_late"] = bh_qvalues(table.loc[has_late, "p_late"].to_numpy(float))
    n_draws = config.draws * config.chains
    above, late = unpack(rows, "above_null", n_draws), unpack(rows, "late_null", n_draws)
    null_counts, late_counts = above.sum(axis=0), late.sum(axis=0)
    summary = _summary(table, analysed, null_counts, late_counts, config)
    by_metric = _by_metric(table, analysed, above, late)
    table = table[CSV_COLUMNS + EXTRA_COLUMNS]
    return {"table": table, "summary": summary, "by_metric": by_metric,
            "null_counts": null_counts, "null_above": above, "late_counts": late_counts,
            "late_null": late}  # fmt: skip


def _summary(table, analysed, null_counts, late_counts, config: MetaConfig) -> dict[str, Any]:
    classes = table.loc[analysed, "class"].value_counts()
    late_expected, eq1_expected = count_summary(late_counts), count_summary(null_counts)
    emergent = table["emergent"].to_numpy()
    significant = (table["q_value"] < 0.05).to_numpy()
    fitted_broken = table["elpd_diff_broken"].notna()
    k = table["pareto_k_max"]
    return {
        "n_triplets": int(analysed.sum()),
        "n_triplets_in_table": len(table),
        "n_not_analysed": int((~analysed).sum()),
        "classes": {c: int(classes.get(c, 0)) for c in CLASSES if c != "not_analysed"},
        "late_alpha": float(config.late_alpha),
        "n_late_jumps_observed": int(emergent.sum()),
        "n_late_jumps_expected_mean": late_expected["mean"],
        "n_late_jumps_expected_hdi": late_expected["hdi"],
        "n_late_jumps_q05": int((emergent & (table["q_late"] < 0.05).to_numpy()).sum()),
        "threshold": float(config.threshold),
        "n_emergent_observed": int(table["above_threshold"].sum()),
        "n_emergent_expected_mean": eq1_expected["mean"],
        "n_emergent_expected_hdi": eq1_expected["hdi"],
        "n_significant_q05": int(significant.sum()),
        "n_significant_q05_worse_or_irregular": int(
            (significant & table["class"].isin(["worse", "irregular"]).to_numpy()).sum()),
        "n_smooth_fitted": int(table["smooth_ok"].notna().sum()),
        "n_smooth_diagnostics_failed": _failed(table, "smooth_ok"),
        "n_late_fitted": int(table["late_ok"].notna().sum()),
        "n_late_diagnostics_failed": _failed(table, "late_ok"),
        "n_broken_fitted": int(table["broken_ok"].notna().sum()),
        "n_broken_diagnostics_failed": _failed(table, "broken_ok"),
        "n_loo_compared": int(fitted_broken.sum()),
        "n_loo_exact_refits": 2 * int(table["loo_refits"].fillna(0).sum()),
        "n_loo_exact_refits_divergent": int(table["loo_refits_failed"].fillna(0).sum()),
        "n_loo_mcse_large": int((table["loo_mcse"] > 0.25 * table["dse"]).sum()),
        "n_broken_pareto_k_above_07": int((fitted_broken & (k > PARETO_K_MAX)).sum()),
        "n_broken_preferred_2se": int(
            (fitted_broken & (table["elpd_diff_broken"] > 2 * table["dse"])).sum()),
        "n_retried": int((table[["smooth_attempts", "late_attempts", "broken_attempts"]]
                          .fillna(1) > 1).any(axis=1).sum()),
    }  # fmt: skip


def _by_metric(table, analysed, above, late) -> pd.DataFrame:
    out = []
    for metric, idx in table.groupby("metric", sort=True).indices.items():
        use = idx[analysed[idx]]
        late_expected = count_summary(late[use].sum(axis=0))
        eq1_expected = count_summary(above[use].sum(axis=0))
        classes = table.iloc[use]["class"].value_counts()
        out.append({
            "metric": metric, "n_triplets": int(use.size),
            "n_late_jumps_observed": int(table["emergent"].iloc[use].sum()),
            "n_late_jumps_expected_mean": late_expected["mean"],
            "n_late_jumps_expected_hdi_low": late_expected["hdi"][0],
            "n_late_jumps_expected_hdi_high": late_expected["hdi"][1],
            "n_emergent_observed": int(table["above_threshold"].iloc[use].sum()),
            "n_emergent_expected_mean": eq1_expected["mean"],
            "n_emergent_expected_hdi_low": eq1_expected["hdi"][0],
            "n_emergent_expected_hdi_high": eq1_expected["hdi"][1],
            "n_significant_q05": int((table["q_value"].iloc[use] < 0.05).sum()),
            **{f"n_{c}": int(classes.get(c, 0)) for c in CLASSES if c != "not_analysed"},
        })  # fmt: skip
    return pd.DataFrame(out)
