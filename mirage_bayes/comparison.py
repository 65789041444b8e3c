"""Power law vs broken power law by PSIS-LOO, and the plain-words verdict."""

from __future__ import annotations

import warnings

import arviz as az
import pandas as pd

# Below this, an ELPD difference is small whatever its standard error (Sivula et al. 2022).
SMALL_ELPD = 4.0
COLUMNS = [
    "task", "trend", "rank", "elpd_loo", "se", "p_loo", "elpd_diff", "dse", "weight", "warning"
]  # fmt: skip


def compare_trends(task: str, idatas: dict[str, az.InferenceData]) -> pd.DataFrame:
    """ArviZ ``compare`` (LOO, stacking weights) of the trends fitted to one task.

    The pointwise log-likelihood is per item, marginal over item difficulty: leave-one-item-out,
    the exchangeable unit of a test set.
    """
    if len(idatas) == 1:
        (trend, idata), = idatas.items()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            loo = az.loo(idata)
        table = pd.DataFrame(
            {
                "trend": [trend],
                "rank": [0],
                "elpd_loo": [loo.elpd_loo],
                "se": [loo.se],
                "p_loo": [loo.p_loo],
                "elpd_diff": [0.0],
                "dse": [0.0],
                "weight": [1.0],
                "warning": [bool(loo.warning)],
            }
        )
    else:
        with warnings.catch_warnings():
            # Pareto-k problems are reported in the table's ``warning`` column instead.
            warnings.simplefilter("ignore")
            table = az.compare(idatas, ic="loo", method="stacking")
        table = table.rename(columns={"elpd_loo": "elpd_loo"}).reset_index(names="trend")
    table.insert(0, "task", task)
    table = table[COLUMNS]
    if {"power_law", "broken_power_law"} <= idatas.keys():
        table.attrs["pair"] = _pair(idatas)
    return table


def _pair(idatas: dict[str, az.InferenceData]) -> tuple[str, float, float]:
    """(better trend, ELPD difference, its standard error) of power law vs broken power law."""
    pair = {k: idatas[k] for k in ("power_law", "broken_power_law")}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = az.compare(pair, ic="loo")
    loser = table.iloc[1]
    return str(table.index[0]), float(loser["elpd_diff"]), float(loser["dse"])


def verdict(task: str, comparison: pd.DataFrame, n_scales: int, skipped: list[str]) -> str:
    """One paragraph saying which trend the data prefer, and how firmly.

    A difference counts as clear when it exceeds two standard errors of the difference.
    """
    rows = comparison.set_index("trend")
    parts = []
    pair = comparison.attrs.get("pair")
    if pair is not None:
        better, diff, se = pair
        worse = "power_law" if better == "broken_power_law" else "broken_power_law"
        clear = diff > 2 * se
        names = {"power_law": "the single power law", "broken_power_law": "the broken power law"}
        if clear and diff < SMALL_ELPD:
            strength = (
                ", more than two standard errors but small in size (below 4): a weak preference."
            )
        elif clear:
            strength = ", more than two standard errors: a clear preference."
        else:
            strength = ", within two standard errors: the data cannot tell them apart."
        parts.append(
            f"{names[better].capitalize()} fits {task} better than {names[worse]} "
            f"(ELPD difference {diff:.1f} ± {se:.1f}){strength}"
        )
        if better == "power_law" or not clear:
            parts.append(
                "Nothing here requires a change in how the per-token error rate scales: "
                "a sharp rise in exact-match accuracy is what the smooth law predicts."
            )
        else:
            parts.append("The per-token error rate itself changes its scaling within the range.")
    elif "power_law" in rows.index:
        parts.append(f"Only the single power law could be compared for {task}.")
    if skipped:
        parts.append(
            f"With {n_scales} model size{'s' if n_scales != 1 else ''}, "
            + ", ".join(skipped)
            + " could not be identified and was not fitted."
        )
    if "scale_free" in rows.index and len(rows) > 1:
        ref = rows.loc["scale_free"]
        best = rows[rows["rank"] == 0].index[0]
        if best == "scale_free" and ref.weight > 0.5 and len(rows) > 1:
            runner = rows[rows["rank"] == 1].iloc[0]
            if runner.elpd_diff > 2 * runner.dse:
                parts.append(
                    "The scale-free reference beats every trend by more than two standard errors: "
                    "neither law captures how the error rate moves from size to size."
                )
    return " ".join(parts)

