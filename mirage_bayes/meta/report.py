"""The report and the all-or-nothing output folder of ``mirage-bayes meta``.

Files written into ``--out``: ``meta.csv`` (one row per triplet), ``meta_summary.json``
(population view), ``meta_by_metric.csv`` (the paper's Fig. 5 breakdown), ``meta_report.html``
(self-contained: CSS inline, figures as data URIs) and ``figures/*.png``. Everything is written
into a hidden staging folder and renamed into place at the end (as :mod:`mirage_bayes.output.save`
does for ``fit``), so an error or interruption leaves the complete results or none.

The report opens with a verdict paragraph (:func:`verdict`): M, late jumps observed against the
number a smooth law produces by chance, and the classes of the other curves.
"""

from __future__ import annotations

import base64
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mirage_bayes.meta.classify import CLASSES, MIN_SIZES_LATE
from mirage_bayes.meta.plots import (
    plot_by_metric,
    plot_flagged,
    plot_null_count,
    plot_ppp,
    plot_top_curves,
)
from mirage_bayes.output.destination import staged_folder
from mirage_bayes.output.formatting import format_number, format_p_value
from mirage_bayes.output.report import template_environment
from mirage_bayes.settings import LATE_ALPHA, VERSION

if TYPE_CHECKING:
    from mirage_bayes.meta.run import MetaResult

__all__ = [
    "plot_by_metric", "plot_flagged", "plot_null_count", "plot_ppp", "plot_top_curves",
    "render_meta_report", "save_meta", "summary_json", "verdict",
]  # fmt: skip

TABLE_ROWS = 25
NAME_WIDTH = 36


def _count(value: Any) -> str:
    return str(int(value))


def _interval(hdi: list) -> str:
    low, high = hdi
    return f"94% HDI {_count(low)}–{_count(high)}" if np.isfinite([low, high]).all() else "—"


def verdict(summary: dict[str, Any]) -> str:
    """The verdict paragraph: M, late jumps observed vs expected, and the classes."""
    s = summary
    classes = {k: v for k, v in s["classes"].items() if v}
    listed = ", ".join(f"{v} {CLASSES[k].split(':')[0]}" for k, v in
                       sorted(classes.items(), key=lambda kv: -kv[1]))  # fmt: skip
    observed, mean = s["n_late_jumps_observed"], s["n_late_jumps_expected_mean"]
    high = s["n_late_jumps_expected_hdi"][1]
    reading = ("more than a smooth law produces by chance" if observed > high
               else "no more than a smooth law produces by chance")  # fmt: skip
    text = (
        f"M = {s['n_triplets']} triplets. Late jumps beyond the smooth law "
        f"(p_late < {format(s.get('late_alpha', LATE_ALPHA), 'g')}): {observed} observed, "
        f"{mean:.1f} expected under the smooth null given each curve's smaller sizes "
        f"({_interval(s['n_late_jumps_expected_hdi'])}) — {reading}; "
        f"{s['n_late_jumps_q05']} of them with q < 0.05 after Benjamini–Hochberg. "
        f"Classes: {listed or 'none'}."
    )
    if classes.get("too_few"):
        text += (f" With fewer than {MIN_SIZES_LATE} sizes a steep smooth law and a step look "
                 f"alike; {classes['too_few']} curve(s) are too short to tell (validation: "
                 f"{MIN_SIZES_LATE} or more sizes are needed).")  # fmt: skip
    text += (
        f" For comparability with the paper: {s['n_emergent_observed']} curve(s) have an Eq. 1 "
        f"emergence score above {format(s['threshold'], 'g')}, "
        f"{s['n_emergent_expected_mean']:.1f} expected ({_interval(s['n_emergent_expected_hdi'])})."
    )
    return text


def summary_json(result: MetaResult) -> dict[str, Any]:
    """``meta_summary.json``: the population view, per-metric breakdown and run settings."""
    by_metric = {
        str(r["metric"]): {k: _plain(v) for k, v in r.items() if k != "metric"}
        for r in result.by_metric.to_dict("records")
    }
    return {
        **({"verdict": verdict(result.summary)} if "classes" in result.summary else {}),
        **{k: _plain(v) for k, v in result.summary.items()},
        "by_metric": by_metric,
        "config": result.config.to_dict(),
        "mirage_bayes_version": VERSION,
        **{k: _plain(v) for k, v in result.meta.items()},
    }


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


FIGURES = {
    "flagged": ("Late jumps and their forecasts", "Observed values (±2 SE), the smooth law "
                "fitted to the smaller sizes (blue, 94% band) and its posterior predictive "
                "forecast of the largest sizes (orange, 94%). A late jump lies above its "
                "forecast. Where there is none, the curves with the smallest p_late are shown."),
    "late_count": ("How many late jumps a smooth law makes", "The number of triplets a smooth "
                   "law would make look like late jumps, given each curve's smaller sizes, one "
                   "count per posterior draw, and the observed number."),
    "by_metric": ("Late jumps per metric", "Per metric: late jumps observed (red), the number a "
                  "smooth law produces by chance with its 94% HDI (grey), and the curves whose "
                  "Eq. 1 score exceeds the threshold (light blue, the paper's count)."),
    "null_count": ("Eq. 1: how many would score above the threshold by chance", "For "
                   "comparability: the number of triplets above the Eq. 1 threshold under the "
                   "smooth law fitted to every size, one count per draw, and the observed "
                   "number. Early saturation and loss curves score high on Eq. 1 too."),
    "top_curves": ("Smallest Eq. 1 p-values", "Observed curves (±2 SE) and the smooth law's "
                   "94% band, ordered by the q-value of the Eq. 1 score's ppp."),
}  # fmt: skip


def _figures(result: MetaResult, directory: Path) -> list[dict[str, str]]:
    folder = directory / "figures"
    folder.mkdir(parents=True, exist_ok=True)
    s = result.summary
    made = {
        "flagged": plot_flagged(result.table, result.curves),
        "late_count": plot_null_count(result.late_counts, observed=s["n_late_jumps_observed"],
                                      label="late jumps under the smooth null"),
        "by_metric": plot_by_metric(result.by_metric),
        "null_count": plot_null_count(result.null_counts, observed=s["n_emergent_observed"],
                                      threshold=s["threshold"]),
        "top_curves": plot_top_curves(result.table, result.curves, top=8),
    }  # fmt: skip
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


# Monte Carlo p-values: 0 means no replicate reached the observed value, not probability 0.
P_VALUE_COLUMNS = frozenset({"p_late", "q_late", "ppp", "q_value"})


def _cell(value: Any, column: str, p_floor: float) -> str:
    if column in P_VALUE_COLUMNS:
        return format_p_value(value, p_floor)
    if isinstance(value, str):
        return value if len(value) <= NAME_WIDTH else value[: NAME_WIDTH - 1] + "…"
    if column.startswith("n_") and not column.endswith(("_mean", "_low", "_high")):
        return "—" if value is None or not np.isfinite(value) else _count(value)
    return format_number(value)


def _rows(frame: pd.DataFrame, columns: list[str], p_floor: float) -> list[list[str]]:
    return [[_cell(v, c, p_floor) for v, c in zip(row, columns, strict=True)]
            for row in frame[columns].itertuples(index=False)]  # fmt: skip


def _table(frame: pd.DataFrame, columns: dict[str, str], p_floor: float) -> dict[str, list]:
    """Header and formatted rows; a p-value of 0 reads as below ``p_floor``, one over the
    number of posterior predictive draws."""
    return {"headers": list(columns.values()), "rows": _rows(frame, list(columns), p_floor)}


def _headline(s: dict) -> list[tuple[str, str]]:
    return [
        ("triplets analysed (M)", _count(s["n_triplets"])),
        ("late jumps observed", _count(s["n_late_jumps_observed"])),
        ("late jumps expected under the smooth null",
         f"{s['n_late_jumps_expected_mean']:.1f} ({_interval(s['n_late_jumps_expected_hdi'])})"),
        ("late jumps with q < 0.05 (BH)", _count(s["n_late_jumps_q05"])),
        (f"Eq. 1 score above {format(s['threshold'], 'g')} (paper)",
         f"{_count(s['n_emergent_observed'])} observed, {s['n_emergent_expected_mean']:.1f} "
         f"expected ({_interval(s['n_emergent_expected_hdi'])})"),
        ("Eq. 1 ppp with q < 0.05 (BH)",
         f"{_count(s['n_significant_q05'])} ({_count(s['n_significant_q05_worse_or_irregular'])} "
         "of them worse or irregular)"),
        ("broken law preferred by LOO (> 2 SE)",
         f"{_count(s['n_broken_preferred_2se'])} of {_count(s['n_loo_compared'])} compared"),
    ]  # fmt: skip


def _notes(s: dict) -> list[str]:
    out = list(s.get("warnings", []))
    if s["n_not_analysed"]:
        out.append(f"{s['n_not_analysed']} triplet(s) have fewer than 2 sizes and are not "
                   "analysed (note column of meta.csv).")  # fmt: skip
    return out


def render_meta_report(result: MetaResult, directory: str | Path) -> Path:
    """Write ``figures/`` and the self-contained ``meta_report.html`` into ``directory``."""
    directory = Path(directory)
    s, table = result.summary, result.table
    classes = [(CLASSES[k], _count(v)) for k, v in s["classes"].items()]
    late = table[table["p_late"].notna()].sort_values(["p_late", "emergence_score"],
                                                      ascending=[True, False])  # fmt: skip
    flagged = late[late["class"].isin(["late_jump", "accelerating"])]
    shown = flagged if len(flagged) else late.head(10)
    columns = {"family": "family", "task": "task", "metric": "metric", "n_scales": "sizes",
               "class": "class", "p_late": "p_late", "q_late": "q_late",
               "emergence_score": "Eq. 1", "ppp": "ppp"}  # fmt: skip
    others = table[table["class"].isin(["worse", "irregular", "saturating", "accelerating"])]
    metric_columns = {"metric": "metric", "n_triplets": "M",
                      "n_late_jumps_observed": "late jumps",
                      "n_late_jumps_expected_mean": "expected",
                      "n_late_jumps_expected_hdi_high": "HDI high",
                      "n_emergent_observed": "Eq. 1 > threshold",
                      "n_saturating": "saturating", "n_worse": "worse",
                      "n_irregular": "irregular", "n_too_few": "too few"}  # fmt: skip
    sensitivity = s.get("chance_sensitivity")
    p_floor = 1.0 / (result.config.draws * result.config.chains)
    context = {
        "title": "mirage-bayes meta report",
        "verdict": verdict(s),
        "headline": _headline(s),
        "classes": classes,
        "warnings": _notes(s),
        "sensitivity": sensitivity["statement"] if sensitivity else None,
        "figures": _figures(result, directory),
        "by_metric": _table(result.by_metric.head(TABLE_ROWS * 2), metric_columns, p_floor),
        "late": _table(shown.head(TABLE_ROWS), columns, p_floor),
        "late_title": "Late jumps" if len(flagged) else "No late jump: the smallest p_late",
        "others": _table(others.head(TABLE_ROWS), columns, p_floor),
        "settings": [
            (k, str(v))
            for k, v in {**result.config.to_dict(), **result.meta, "version": VERSION}.items()
        ],  # fmt: skip
    }
    path = directory / "meta_report.html"
    path.write_text(
        template_environment().get_template("meta_report.html.j2").render(context), "utf-8"
    )
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
