"""Figures, the HTML report and the all-or-nothing output folder of ``mirage-bayes meta``.

Files written into ``--out``: ``meta.csv`` (one row per triplet), ``meta_summary.json``
(population view), ``meta_by_metric.csv`` (the paper's Fig. 5 breakdown), ``meta_report.html``
(self-contained: CSS inline, figures as data URIs) and ``figures/*.png``. Everything is written
into a hidden staging folder and renamed into place at the end (as :mod:`mirage_bayes.save`
does for ``fit``), so an error or interruption leaves the complete results or none.
"""

from __future__ import annotations

import base64
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from mirage_bayes import __version__
from mirage_bayes.report import _environment, format_number
from mirage_bayes.save import staged_folder

if TYPE_CHECKING:
    from mirage_bayes.meta import MetaResult

__all__ = [
    "plot_by_metric", "plot_null_count", "plot_ppp", "plot_top_curves", "render_meta_report",
    "save_meta", "summary_json",
]  # fmt: skip

DPI = 110
TOP = 12


def plot_by_metric(by_metric: pd.DataFrame, *, max_metrics: int = 40) -> Figure:
    """Per metric: triplets above the threshold, the number expected under the smooth null
    (mean and 94% HDI) and the number with q < 0.05 — which metrics carry the emergent claims."""
    frame = by_metric.sort_values("n_emergent_observed", ascending=True).tail(max_metrics)
    height = 1.2 + 0.32 * max(len(frame), 1)
    fig = Figure(figsize=(7.5, height), dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    y = np.arange(len(frame))
    ax.barh(y + 0.27, frame["n_emergent_observed"], 0.26, color="#d62728", label="observed")
    expected = frame["n_emergent_expected_mean"].to_numpy(float)
    err = np.vstack([expected - frame["n_emergent_expected_hdi_low"],
                     frame["n_emergent_expected_hdi_high"] - expected])  # fmt: skip
    ax.barh(y, expected, 0.26, xerr=np.clip(err, 0, None), color="#7f7f7f", capsize=2,
            label="expected under smooth null (94% HDI)")  # fmt: skip
    ax.barh(y - 0.27, frame["n_significant_q05"], 0.26, color="#1f77b4", label="q < 0.05")
    ax.set_yticks(y, frame["metric"].astype(str))
    ax.set_xlabel("triplets")
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title("Emergent-looking triplets per metric")
    return fig


def plot_null_count(counts: np.ndarray, *, observed: int, threshold: float) -> Figure:
    """Distribution of the number of triplets above the threshold under the smooth null."""
    fig = Figure(figsize=(6.5, 3.6), dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    counts = np.asarray(counts)
    if counts.size:
        bins = np.arange(counts.min(), max(counts.max(), observed) + 2) - 0.5
        ax.hist(counts, bins=bins if bins.size < 200 else 60, color="#7f7f7f", alpha=0.8,
                label="smooth null (one count per posterior draw)")  # fmt: skip
    ax.axvline(observed, color="#d62728", lw=2, label=f"observed ({observed})")
    ax.set_xlabel(f"triplets with emergence score > {format_number(threshold)}")
    ax.set_ylabel("draws")
    ax.legend(fontsize=8)
    return fig


def plot_ppp(ppp: np.ndarray, *, bins: int = 20) -> Figure:
    """Histogram of posterior predictive p-values (a smooth-law population piles up away from 0)."""
    fig = Figure(figsize=(6.5, 3.4), dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    values = np.asarray(ppp, float)
    ax.hist(values[np.isfinite(values)], bins=np.linspace(0, 1, bins + 1), color="#1f77b4")
    ax.axvline(0.05, color="black", ls=":", lw=1)
    ax.set_xlabel("posterior predictive p-value (smooth law)")
    ax.set_ylabel("triplets")
    return fig


def plot_top_curves(table: pd.DataFrame, curves: dict, *, top: int = TOP) -> Figure | None:
    """Observed curves of the most significant triplets with the smooth law's 94% band."""
    ranked = table[table["ppp"].notna()].sort_values(["q_value", "emergence_score"],
                                                     ascending=[True, False])  # fmt: skip
    triples = zip(ranked["family"], ranked["task"], ranked["metric"], strict=True)
    keys = [k for k in triples if k in curves]
    keys = keys[:top]
    if not keys:
        return None
    columns = min(4, len(keys))
    rows = math.ceil(len(keys) / columns)
    fig = Figure(figsize=(3.1 * columns, 2.5 * rows), dpi=DPI, layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False)
    for ax, key in zip(axes.flat, keys, strict=False):
        curve = curves[key]
        row = ranked.set_index(["family", "task", "metric"]).loc[key]
        n = np.asarray(curve["n_params"])
        ax.fill_between(n, curve["low"], curve["high"], color="#1f77b4", alpha=0.2, lw=0)
        ax.plot(n, curve["mean"], color="#1f77b4", lw=1.2)
        ax.plot(n, curve["observed"], "o", color="black", ms=3.5)
        ax.set_xscale("log")
        family = key[0] if len(key[0]) <= 28 else key[0][:27] + "…"
        task = f"{key[1]} · {key[2]}"
        task = task if len(task) <= 40 else task[:39] + "…"
        ax.set_title(f"{task}\n{family} · score {format_number(row['emergence_score'])} · "
                     f"ppp {format_number(row['ppp'])}", fontsize=7)  # fmt: skip
        label = "proportion" if curve.get("kind") == "proportion" else "standardized (better ↑)"
        ax.set_ylabel(label, fontsize=7)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(keys) :]:
        ax.set_visible(False)
    return fig


def summary_json(result: MetaResult) -> dict[str, Any]:
    """``meta_summary.json``: the population view, per-metric breakdown and run settings."""
    by_metric = {
        str(r["metric"]): {k: _plain(v) for k, v in r.items() if k != "metric"}
        for r in result.by_metric.to_dict("records")
    }
    return {
        **{k: _plain(v) for k, v in result.summary.items()},
        "by_metric": by_metric,
        "config": result.config.to_dict(),
        "mirage_bayes_version": __version__,
        **{k: _plain(v) for k, v in result.meta.items()},
    }


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


FIGURES = {
    "by_metric": ("Emergent-looking triplets per metric", "Per metric: triplets whose emergence "
                  "score exceeds the threshold (red), the number a smooth law would produce by "
                  "chance with its 94% HDI (grey), and the number whose smooth-law p-value "
                  "survives Benjamini–Hochberg at q < 0.05 (blue)."),
    "null_count": ("How many would look emergent by chance", "The number of triplets above the "
                   "threshold under the smooth null, one count per posterior draw, and the "
                   "observed number."),
    "ppp": ("Posterior predictive p-values", "Under the smooth law the p-values spread over "
            "(0, 1) (conservatively, away from 0); a pile-up near 0 marks curves more abrupt "
            "than a smooth law with these test-set sizes makes."),
    "top_curves": ("Most significant triplets", "Observed curves (points) and the smooth law's "
                   "94% band at each size, ordered by q-value."),
}  # fmt: skip


def _figures(result: MetaResult, directory: Path) -> list[dict[str, str]]:
    folder = directory / "figures"
    folder.mkdir(parents=True, exist_ok=True)
    s = result.summary
    made = {
        "by_metric": plot_by_metric(result.by_metric),
        "null_count": plot_null_count(
            result.null_counts, observed=s["n_emergent_observed"], threshold=s["threshold"]
        ),  # fmt: skip
        "ppp": plot_ppp(result.table["ppp"].to_numpy(float)),
        "top_curves": plot_top_curves(result.table, result.curves),
    }
    entries = []
    for kind, fig in made.items():
        if fig is None:
            continue
        path = folder / f"{kind}.png"
        fig.savefig(path)
        title, caption = FIGURES[kind]
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        entries.append({"title": title, "caption": caption, "alt": title,
                        "data_uri": f"data:image/png;base64,{data}"})  # fmt: skip
    return entries


def _rows(frame: pd.DataFrame, columns: list[str]) -> list[list[str]]:
    return [[format_number(v) if not isinstance(v, str) else v for v in row]
            for row in frame[columns].itertuples(index=False)]  # fmt: skip


def render_meta_report(result: MetaResult, directory: str | Path) -> Path:
    """Write ``figures/`` and the self-contained ``meta_report.html`` into ``directory``."""
    directory = Path(directory)
    s = result.summary
    hdi = s["n_emergent_expected_hdi"]
    interval = f"94% HDI {format_number(hdi[0])}–{format_number(hdi[1])}"
    headline = [
        ("triplets analysed (M)", str(s["n_triplets"])),
        ("emergence threshold", format_number(s["threshold"])),
        ("observed above threshold", str(s["n_emergent_observed"])),
        ("expected under smooth null",
         f"{format_number(s['n_emergent_expected_mean'])} ({interval})"),
        ("smooth law rejected (BH q < 0.05)", str(s["n_significant_q05"])),
        ("broken power law preferred (elpd diff > 2 SE)",
         f"{s['n_broken_preferred_2se']} of {s['n_broken_fitted']} fitted"),
    ]  # fmt: skip
    warnings = []
    if s["n_not_analysed"]:
        warnings.append(
            f"{s['n_not_analysed']} triplet(s) were not analysed (fewer than 3 "
            "sizes or a constant continuous curve); see the note column of meta.csv."
        )
    if s["n_smooth_diagnostics_failed"]:
        warnings.append(
            f"{s['n_smooth_diagnostics_failed']} smooth-law fit(s) failed the sampler "
            "diagnostics (r̂ > 1.01, bulk ESS < 400 or divergences); their ppp may be "
            "unreliable (columns smooth_* of meta.csv). Rerun with more --draws."
        )
    if s["n_broken_diagnostics_failed"]:
        warnings.append(f"{s['n_broken_diagnostics_failed']} broken-power-law fit(s) failed the "
                        "sampler diagnostics; treat their elpd_diff_broken as rough.")  # fmt: skip
    if s.get("n_broken_pareto_k_above_07"):
        warnings.append(f"{s['n_broken_pareto_k_above_07']} LOO comparison(s) have a Pareto k "
                        "above 0.7 (one size dominates the fit); their elpd_diff_broken and dse "
                        "are approximate (column pareto_k_max).")  # fmt: skip
    top = result.table[result.table["ppp"].notna()].sort_values("q_value").head(25)
    columns = ["family", "task", "metric", "n_scales", "emergence_score", "ppp", "q_value",
               "elpd_diff_broken", "dse"]  # fmt: skip
    metric_columns = ["metric", "n_triplets", "n_emergent_observed", "n_emergent_expected_mean",
                      "n_emergent_expected_hdi_low", "n_emergent_expected_hdi_high",
                      "n_significant_q05"]  # fmt: skip
    context = {
        "title": "mirage-bayes meta report",
        "headline": headline,
        "warnings": warnings,
        "figures": _figures(result, directory),
        "by_metric": {"headers": metric_columns, "rows": _rows(result.by_metric, metric_columns)},
        "top": {"headers": columns, "rows": _rows(top, columns)},
        "settings": [
            (k, str(v))
            for k, v in {**result.config.to_dict(), **result.meta, "version": __version__}.items()
        ],  # fmt: skip
    }
    path = directory / "meta_report.html"
    path.write_text(_environment().get_template("meta_report.html.j2").render(context), "utf-8")
    return path


def save_meta(result: MetaResult, directory: str | Path, *, force: bool, report: bool = True):
    """Write every output file into ``directory``, all or nothing.

    Returns
    -------
    pathlib.Path
        The folder written.
    """
    with staged_folder(directory, force=force, command="meta") as staging:
        result.table.to_csv(staging / "meta.csv", index=False, float_format="%.6g")
        result.by_metric.to_csv(staging / "meta_by_metric.csv", index=False, float_format="%.6g")
        text = json.dumps(summary_json(result), indent=2) + "\n"
        (staging / "meta_summary.json").write_text(text)
        if report:
            render_meta_report(result, staging)
    return Path(directory).resolve()
