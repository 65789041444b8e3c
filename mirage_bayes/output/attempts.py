"""The report's pass@k section, for a task whose items were attempted several times.

One figure (pass@k against k on log–log axes, one colour per model size: the posterior band
of the smooth law and the unbiased estimator from the data; beside it pass@1 against size with
the resolution floors of the items alone and of the attempts), one table per size and a verdict
in words: what the attempts resolve that the items alone could not.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from mirage_bayes.models.item_families import SHAPE_PARAMETER
from mirage_bayes.output.figures import figure_entries, new_figure
from mirage_bayes.output.formatting import format_number, format_params, hdi_text
from mirage_bayes.output.plots import DPI, trend_label
from mirage_bayes.settings import TREND_PREFERENCE

__all__ = [
    "ATTEMPT_FIGURES", "attempts_section", "attempt_table", "item_family_section",
    "plot_pass_at_k",
]  # fmt: skip

ATTEMPT_FIGURES = {
    "pass_at_k": (
        "pass@k against the number of attempts",
        "Left: pass@k (the share of items at least one of k attempts gets right) against k, "
        "one colour per model size: the smooth law's posterior mean and 94% band for items "
        "from the same population, and the unbiased estimator on the items tested (points). "
        "Right: pass@1 against size with the floors "
        "1/items and 1/(items × attempts): a rate below the first is invisible to the items "
        "alone; the attempts resolve it down to the second.",
    )
}


def item_family_section(family: dict, parameters: pd.DataFrame) -> dict[str, Any] | None:
    """Text and table of the item-difficulty family of one task (``family``: its
    ``summary.json`` entry; ``parameters``: the task's rows of the parameters table), or
    ``None`` for normal items fitted alone."""
    rows = family.get("comparison")
    shape = parameters[parameters["parameter"] == SHAPE_PARAMETER]
    if not rows and family["family"] == "normal":
        return None
    if rows and (shape["trend"] == rows[0]["trend"]).any():
        shape = shape[shape["trend"] == rows[0]["trend"]]  # the trend the families were compared on
    name = family["family"].replace("_", "-")
    text = f"Item difficulty is {name} on the log cross-entropy scale"
    if len(shape):
        best = shape.iloc[0]
        text += (f", with shape Q = {format_number(best['mean'])} "
                 f"{hdi_text(best['hdi_low'], best['hdi_high'])} (Q = 0 is the normal; Q > 0: "
                 "a light hard-item tail and a long easy one; Q < 0: the reverse)")  # fmt: skip
    if not rows:
        return {"text": text + ".", "table": None}
    text += (". Both families were fitted and compared by leave-one-item-out ELPD on the "
             f"{rows[0]['trend'].replace('_', ' ')}; the {name} family's fits are reported. "
             "The hardest items set how pass@k grows with k and how far below 1/items an "
             "accuracy can be read, and the data see them only through this choice.")  # fmt: skip
    table = {
        "headers": ["items", "ELPD (LOO)", "SE", "ELPD below the best", "SE of the difference",
                    "Pareto k > 0.7", "reported"],
        "rows": [[r["items"].replace("_", "-"), f"{r['elpd_loo']:.1f}", f"{r['se']:.1f}",
                  f"{r['elpd_diff']:.1f}", f"{r['dse']:.1f}",
                  "yes" if r["pareto_k_warning"] else "no", "yes" if r["kept"] else ""]
                 for r in rows],
    }  # fmt: skip
    return {"text": text, "table": table}


def _pass_rows(summary: pd.DataFrame, task: str, trend: str, length: float) -> pd.DataFrame:
    rows = summary[(summary["task"] == task) & (summary["trend"] == trend)]
    rows = rows[rows["quantity"].str.match(r"pass_at_\d+$") & (rows["length"] == length)]
    return rows.assign(k=rows["quantity"].str.slice(len("pass_at_")).astype(int))


def attempt_table(observed: pd.DataFrame, task: str) -> pd.DataFrame:
    """Items and attempts per item per size (the data's design), with the two floors."""
    rows = observed[observed["task"] == task]
    return rows.assign(
        floor_items=1.0 / rows["n_items"],
        floor_attempts=1.0 / (rows["n_items"] * rows["attempts_per_item"]),
    )


def plot_pass_at_k(
    summary: pd.DataFrame,
    design: pd.DataFrame,
    *,
    task: str,
    trend: str,
    length: float,
    axes: list[Axes] | None = None,
) -> Figure:
    """pass@k against k per size (log–log) and pass@1 against size with the floors."""
    if axes is None:
        fig = new_figure(figsize=(11, 4.2))
        axes = list(fig.subplots(1, 2))
    fig = axes[0].figure
    rows = _pass_rows(summary, task, trend, length)
    models = list(dict.fromkeys(rows.sort_values("n_params")["model"]))
    colors = mpl.colormaps["viridis"](np.linspace(0.0, 0.9, max(len(models), 1)))
    for model, color in zip(models, colors, strict=True):
        part = rows[rows["model"] == model].sort_values("k")
        axes[0].plot(part["k"], part["mean"], color=color, label=str(model))
        axes[0].fill_between(part["k"], part["hdi_low"], part["hdi_high"], color=color, alpha=0.2)
        axes[0].plot(part["k"], part["observed"], "o", color=color, markersize=4)
    counted = "design" in design and design["design"].isin(["counted", "until pass"]).any()
    target = "" if counted else f"L = {length:g}, "  # counted attempts have no token length
    axes[0].set(xscale="log", yscale="log", xlabel="attempts k", ylabel="pass@k",
                title=f"{task}: pass@k ({target}{trend_label(trend)})")  # fmt: skip
    axes[0].legend(fontsize="small", title="model", ncol=2)
    one = rows[rows["k"] == 1].sort_values("n_params")
    sizes = design.sort_values("n_params")
    axes[1].plot(one["n_params"], one["mean"], color="C0", label="pass@1, posterior")
    axes[1].fill_between(one["n_params"], one["hdi_low"], one["hdi_high"], color="C0", alpha=0.2)
    axes[1].plot(one["n_params"], one["observed"], "o", color="C0", label="pass@1, observed")
    axes[1].plot(sizes["n_params"], sizes["floor_items"], "--", color="grey",
                 label="1 / items")  # fmt: skip
    axes[1].plot(sizes["n_params"], sizes["floor_attempts"], ":", color="black",
                 label="1 / (items × attempts)")  # fmt: skip
    axes[1].set(xscale="log", yscale="log", xlabel="parameters", ylabel="accuracy",
                title="what the attempts resolve")  # fmt: skip
    axes[1].legend(fontsize="small")
    return fig


def _with_hdi(row: pd.Series) -> str:
    return f"{format_number(row['mean'])} {hdi_text(row['hdi_low'], row['hdi_high'])}"


def attempts_section(
    summary: pd.DataFrame,
    observed: pd.DataFrame,
    task: str,
    stem: str,
    directory: Path,
) -> dict[str, Any] | None:
    """Text, figure and table of the pass@k section of one task (``None`` without repeated
    attempts)."""
    if "attempts_per_item" not in observed:
        return None  # a table from before attempts were read: one attempt per item
    design = attempt_table(observed, task)
    if design.empty or not (design["attempts_per_item"] > 1).any():
        return None
    of_task = summary[summary["task"] == task]
    trend = next((t for t in TREND_PREFERENCE if (of_task["trend"] == t).any()), None)
    if trend is None:
        return None
    length = float(design.groupby("length")["n_items"].sum().idxmax())
    design = design[design["length"] == length]
    rows = _pass_rows(summary, task, trend, length)
    path = directory / "figures" / f"{stem}_pass_at_k.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig = plot_pass_at_k(summary, design, task=task, trend=trend, length=length)
    fig.savefig(path, dpi=DPI)
    fig.clear()
    k_max = int(rows["k"].max())
    exponent = of_task[(of_task["trend"] == trend) & (of_task["quantity"] == "pass_exponent")
                       & (of_task["length"] == length)].set_index("model")  # fmt: skip
    body, smallest = [], None
    for d in design.sort_values("n_params").itertuples(index=False):
        at = rows[rows["model"] == d.model].set_index("k")
        one, top = at.loc[1], at.loc[k_max]
        smallest = smallest or (d, one)
        b = exponent.loc[d.model] if d.model in exponent.index else None
        body.append([
            str(d.model), format_params(d.n_params), f"{int(d.n_items)}",
            f"{d.attempts_per_item:g}", format_number(d.floor_items),
            format_number(d.floor_attempts), format_number(one["observed"]),
            _with_hdi(one),
            format_number(top["observed"]), _with_hdi(top), "" if b is None else _with_hdi(b),
        ])  # fmt: skip
    d, one = smallest
    above = "is above zero" if one["hdi_low"] > 0 else "cannot be told from zero"
    kind = getattr(d, "design", "")  # how attempts were given (TaskData.observed_by_length)
    until = kind == "until pass"
    how = (f"Attempted until the first exact match ({format_number(d.attempts_per_item)} "
           "attempts per item on average)" if until
           else f"With {d.attempts_per_item:g} attempts per item")  # fmt: skip
    targets = "" if kind in ("counted", "until pass") else (f" on the {int(length)}-token targets")
    estimator = (
        "the share of items that passed within k attempts"
        if until
        else "the unbiased estimator 1 − C(n − c, k)/C(n, k) averaged over items"
    )
    text = (
        f"{how}, the {d.model} model's pass@1{targets} is resolved to "
        f"{format_number(d.floor_attempts)} (1/(items × attempts); the {int(d.n_items)} items "
        f"alone resolve {format_number(d.floor_items)}) and {above}: "
        f"{format_number(one['mean'])} {hdi_text(one['hdi_low'], one['hdi_high'])} under the "
        f"{trend_label(trend)}. pass@k is computed from the per-token model with item "
        f"difficulty integrated out; the points are {estimator}. "
        f"'b' is the exponent of −log pass@k ≈ A·k^(−b) over k = 1 … {k_max}: the share of very "
        "hard items sets it, and where the estimator's points fall outside the bands at large k "
        "the normal spread of item difficulty the model assumes does not hold."
    )
    headers = ["model", "parameters", "items", "attempts per item", "1/items",
               "1/(items·attempts)", "pass@1 observed", "pass@1 (94% HDI)",
               f"pass@{k_max} observed", f"pass@{k_max} (94% HDI)", "b (94% HDI)"]  # fmt: skip
    return {
        "trend": trend_label(trend),
        "text": text,
        "figure": figure_entries(task, stem, [path], directory, ATTEMPT_FIGURES)[0],
        "table": {"headers": headers, "rows": body} if body else None,
    }
