"""Write a fit's report: ``report.md`` next to its PNG figures and a self-contained ``report.html``.

All numbers are formatted here, in Python, so the Jinja templates under
``mirage_bayes/templates/`` only lay out strings and stay readable. The HTML report embeds every
figure as a base64 ``data:image/png`` URI and carries its CSS inline, so it opens offline and can
be mailed as one file; the Markdown report links ``figures/<task>_<kind>.png`` relatively.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd

from mirage_bayes.fitting.item_choice import task_item_family
from mirage_bayes.fitting.resolution import CONSISTENT_ZERO
from mirage_bayes.output.attempts import attempts_section, item_family_section
from mirage_bayes.output.figures import figure_entries
from mirage_bayes.output.formatting import MISSING, format_number, format_params, hdi_text
from mirage_bayes.output.plots import (
    DPI,
    TREND_ORDER,
    figure_stems,
    plot_resolution,
    save_figures,
    trend_label,
)
from mirage_bayes.settings import (
    DEFAULT_MAX_ITEMS,
    ESS_BULK_MIN,
    REFERENCE_TREND,
    RHAT_MAX,
    TREND_PREFERENCE,
)

__all__ = ["render_report", "task_section_head", "write_fit_report"]


FIGURES = {  # kind: (title, one-sentence caption)
    "epsilon": (
        "Per-token error rate ε",
        "The per-token error rate ε against model size on log–log axes: each trend's posterior "
        "mean with its 94% HDI band (squares: the scale-free estimate at each scale), and the "
        "observed pooled ε in black.",
    ),
    "accuracy": (
        "Exact-match accuracy",
        "Exact-match accuracy can look emergent even when ε falls smoothly, because a target of "
        "L tokens is only right when all L tokens are (points: observed with 94% Jeffreys "
        "intervals; dashed: power law with independent token errors).",
    ),
    "token_edit_distance": (
        "Token edit distance",
        "The smooth counterpart: the same ε gives a token edit distance that declines gradually "
        "and predictably with model size.",
    ),
    "brier": (
        "Brier score",
        "The Brier score of the multiple-choice answers implied by the same ε, against model size.",
    ),
    "comparison": (
        "Trend comparison (PSIS-LOO)",
        "Expected log predictive density of each trend (higher is better), with each trend's "
        "difference to the best and the standard error of that difference.",
    ),
    "resolution": (
        "Is an observed zero evidence of no ability?",
        "Exact-match accuracy on log axes: the trend's posterior band of the true accuracy, the "
        "observed accuracy (a zero, which a log axis cannot show, as a red triangle at 1/n), the "
        "test set's resolution floor 1/n (dotted) and 1/(n·L), the floor of a per-token rate "
        "(dash-dotted). A true accuracy below 1/n usually shows as 0 of n.",
    ),
}

PARAMETER_NAMES = {
    "sigma_item": "σ_item (spread of item difficulty)",
    "chance_scale": "κ (factor on the measured chance-match rate)",
    "alpha": "α (power-law exponent of the cross-entropy)",
    "log10_c": "log₁₀ c (power-law scale, parameters)",
    "c0": "c₀ (slope before the break)",
    "c1": "c₁ (change of slope at the break)",
    "log10_b": "log₁₀ b (broken-power-law level)",
    "log10_d": "log₁₀ d (break location, parameters)",
    "f_natural": "f (break sharpness, in ln N)",
    "tau": "τ (spread of the scale-free levels)",
}

# meta keys the fit may use for each header line (the first one present wins)
_META_KEYS = {
    "mirage-bayes version": ("version", "package_version", "mirage_bayes_version"),
    "input file": ("input", "input_file", "input_name", "input_path"),
    "input sha256": ("input_sha256", "sha256"),
    "seed": ("seed",),
    "answer choices K": ("choices", "choices_k", "K", "k"),
    "trends fitted": ("trends", "trends_requested"),
    "tokenizers": ("tokenizers", "tokenizer", "tokenizer_per_task"),
}
_SAMPLING_KEYS = ("draws", "tune", "chains")


def _is_true(value: Any) -> bool:
    """Truth of a table cell where missing counts as false (``bool(pd.NA)`` raises)."""
    return False if value is None or pd.isna(value) else bool(value)


def ordered_trends(frame: pd.DataFrame) -> list[str]:
    found = list(dict.fromkeys(frame["trend"].astype(str)))
    return [t for t in TREND_ORDER if t in found] + [t for t in found if t not in TREND_ORDER]


def _mentions(text: str, task: str) -> bool:
    """Whether a warning names ``task`` as a whole name (``arith`` is not in ``arith_long``)."""
    return re.search(rf"(?<![\w.-]){re.escape(str(task))}(?![\w-]|\.\w)", text) is not None


def split_warnings(
    warnings: Iterable[Any], tasks: list[str]
) -> tuple[dict[str, list[str]], list[str]]:
    """meta["warnings"] per task (by the task name they mention) and those naming none."""
    per_task: dict[str, list[str]] = {task: [] for task in tasks}
    general: list[str] = []
    for entry in warnings or ():
        if isinstance(entry, Mapping):  # tolerate {"task": ..., "message": ...} entries too
            text = str(entry.get("message", entry))
            named = [t for t in tasks if t == entry.get("task")]
        else:
            text = str(entry)
            named = [t for t in tasks if _mentions(text, t)]
        for task in named:
            per_task[task].append(text)
        if not named:
            general.append(text)
    return per_task, general


def diagnostic_warnings(diagnostics: pd.DataFrame) -> list[str]:
    """One line per trend whose sampler diagnostics failed, naming each failed check."""
    lines = []
    for row in diagnostics.itertuples(index=False):
        if _is_true(row.ok):
            continue
        failed = []
        if not row.max_rhat <= RHAT_MAX:  # NaN fails too
            failed.append(f"max r̂ = {format_number(row.max_rhat, 4)} > {RHAT_MAX}")
        if not row.min_ess_bulk >= ESS_BULK_MIN:
            failed.append(f"min bulk ESS = {format_number(row.min_ess_bulk)} < {ESS_BULK_MIN}")
        if _is_true(row.divergences > 0):
            failed.append(f"{int(row.divergences)} divergent transitions")
        reasons = "; ".join(failed) or "failed the convergence checks"
        lines.append(
            f"{trend_label(row.trend)}: sampler diagnostics not OK ({reasons}). Its estimates and "
            "LOO score may be unreliable; rerun with more tuning steps and draws."
        )
    return lines


def table_block(headers: list[str], rows: list[list[str]]) -> dict[str, Any] | None:
    return {"headers": headers, "rows": rows} if rows else None


def comparison_table(rows: pd.DataFrame) -> dict[str, Any] | None:
    has_se = "se" in rows
    headers = ["rank", "trend", "elpd_loo", *(["SE"] if has_se else []), "p_loo"]
    headers += ["elpd_diff", "dSE", "weight", "Pareto k"]
    body = []
    for row in rows.sort_values("rank").to_dict("records"):
        cells = [str(int(row["rank"])), trend_label(row["trend"]), format_number(row["elpd_loo"])]
        cells += [format_number(row["se"])] if has_se else []
        cells += [format_number(row[c]) for c in ("p_loo", "elpd_diff", "dse", "weight")]
        cells.append("warning (k > 0.7)" if _is_true(row.get("warning")) else "ok")
        body.append(cells)
    return table_block(headers, body)


def diagnostics_table(rows: pd.DataFrame) -> dict[str, Any] | None:
    headers = ["trend", "max r̂", "min bulk ESS", "divergences", "ok"]
    body = [
        [
            trend_label(r.trend),
            format_number(r.max_rhat, 4),
            format_number(r.min_ess_bulk),
            MISSING if pd.isna(r.divergences) else str(int(r.divergences)),
            "yes" if _is_true(r.ok) else "NO",
        ]
        for r in rows.itertuples(index=False)
    ]
    return table_block(headers, body)


def parameter_table(rows: pd.DataFrame) -> dict[str, Any] | None:
    body = []
    for trend in ordered_trends(rows):
        for r in rows[rows["trend"].astype(str) == trend].itertuples(index=False):
            name = PARAMETER_NAMES.get(r.parameter, r.parameter)
            body.append(
                [trend_label(trend), name, format_number(r.mean), hdi_text(r.hdi_low, r.hdi_high)]
            )
    return table_block(["trend", "parameter", "mean", "94% HDI"], body)


def _epsilon_table(summary: pd.DataFrame, observed: pd.DataFrame) -> dict[str, Any] | None:
    """Per scale: observed pooled ε and every trend's posterior mean and 94% HDI."""
    trends = ordered_trends(summary)
    scales = summary.drop_duplicates("model").sort_values("n_params")
    pooled = observed.drop_duplicates("model").set_index("model")["epsilon_observed"]
    headers = ["model", "parameters", "observed ε"]
    for trend in trends:
        headers += [f"{trend_label(trend)} mean", "94% HDI"]
    body = []
    for scale in scales.itertuples(index=False):
        at_scale = summary[summary["model"] == scale.model]
        seen = at_scale["observed"].dropna()
        value = seen.iloc[0] if len(seen) else pooled.get(scale.model)
        cells = [str(scale.model), format_params(scale.n_params), format_number(value)]
        for trend in trends:
            row = at_scale[at_scale["trend"].astype(str) == trend]
            if row.empty:
                cells += [MISSING, MISSING]
            else:
                cells += [
                    format_number(row["mean"].iloc[0]),
                    hdi_text(*row.iloc[0][["hdi_low", "hdi_high"]]),
                ]
        body.append(cells)
    return table_block(headers, body)


def meta_rows(meta: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(label, value) lines for the report header; unknown keys are shown as they are."""
    # Shown in their own sections of the report (chance matches, late-jump check, refits).
    used = {"warnings", "chance", "late_check", "refits", *_SAMPLING_KEYS}
    rows = []
    for label, keys in _META_KEYS.items():
        key = next((k for k in keys if k in meta and meta[k] is not None), None)
        if key is None:
            continue
        used.add(key)
        rows.append((label, _meta_value(key, meta[key])))
    sampling = [f"{meta[k]} {k}" for k in _SAMPLING_KEYS if meta.get(k) is not None]
    if sampling:
        rows.insert(min(4, len(rows)), ("sampling", ", ".join(sampling)))
    rows += [(str(k), _meta_value(k, v)) for k, v in meta.items() if k not in used]
    return rows


def _meta_value(key: str, value: Any) -> str:
    if key in _META_KEYS["trends fitted"] and isinstance(value, list | tuple):
        # The scale-free reference is fitted beside every requested trend.
        shown = [t for t in value if t != REFERENCE_TREND]
        return ", ".join(["scale_free (reference)", *shown])
    if key == "lengths" and not value:
        return "those in the data"
    if key in _META_KEYS["input sha256"]:
        return f"{str(value)[:12]}…" if len(str(value)) > 12 else str(value)
    if isinstance(value, Mapping):
        if len({str(v) for v in value.values()}) == 1:  # one tokenizer for every task
            return str(next(iter(value.values())))
        return "; ".join(f"{k}: {v}" for k, v in value.items())
    if isinstance(value, list | tuple | set):
        return ", ".join(map(str, value))
    return str(value)


def _resolution_section(
    resolution: pd.DataFrame, curves: pd.DataFrame, task: str, stem: str, directory: Path
) -> dict[str, Any] | None:
    """Text, figure and table of "Is an observed zero evidence of no ability?" for one task.

    Uses the power law (the smooth law) when fitted, else the first of
    :data:`~mirage_bayes.settings.TREND_PREFERENCE` present; the table lists the scales and
    lengths that showed 0.
    """

    rows = resolution[resolution["task"] == task]
    trend = next((t for t in TREND_PREFERENCE if (rows["trend"] == t).any()), None)
    if trend is None:
        return None
    rows = rows[rows["trend"] == trend].sort_values(["n_params", "length"])
    path = directory / "figures" / f"{stem}_resolution.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig = plot_resolution(rows, curves, task=task, trend=trend)
    fig.savefig(path, dpi=DPI)
    fig.clear()
    zeros = rows[rows["n_correct"] == 0]
    consistent = zeros[zeros["p_zero_correct"] > CONSISTENT_ZERO]
    name = trend_label(trend)
    if zeros.empty:
        text = (
            "No model size scored 0 correct at any target length in the data. The figure shows "
            f"where each test set's resolution floor 1/n lies against the {name} posterior of the "
            "true accuracy."
        )
    else:
        text = (
            f"{len(zeros)} model size and target length combination(s) scored 0 correct. Under "
            f"the {name} fit, {len(consistent)} of them have P(0 correct) > {CONSISTENT_ZERO:g} "
            "for a test set of that size (new items from the same population): there the zero "
            "is what the smooth law predicts — the true accuracy lies near or below the "
            "resolution 1/n — and is no evidence that the ability is absent."
        )
        if len(consistent) < len(zeros):
            text += (
                f" At the other {len(zeros) - len(consistent)} the zero is unlikely under the "
                "law: a real deficit there, or the law does not hold at that size."
            )
        text += (
            " The last column is the number of items that would show at least one exact match "
            "with probability 0.95 (mirage-bayes plan computes it for any criterion)."
        )

    def items(value: float) -> str:
        return f"> {DEFAULT_MAX_ITEMS:,}" if pd.isna(value) else f"{int(value):,}"

    headers = ["model", "parameters", "L", "correct / items", "true accuracy", "94% HDI",
               "P(0 correct)", "P(0), same items", "1/n", "1/(n·L)",
               "items for P(≥1 correct) ≥ 0.95", "zero consistent with the law?"]  # fmt: skip
    body = [
        [
            str(r.model),
            format_params(r.n_params),
            f"{r.length:g}",
            f"0 / {int(r.n_items)}",
            format_number(r.accuracy_mean),
            hdi_text(r.accuracy_low, r.accuracy_high),
            format_number(r.p_zero_correct),
            format_number(r.p_zero_same_items),
            format_number(r.floor_accuracy),
            format_number(r.floor_token_rate),
            items(r.items_any_correct),
            "yes" if r.p_zero_correct > CONSISTENT_ZERO else "no",
        ]
        for r in zeros.itertuples(index=False)
    ]
    return {
        "trend": name,
        "text": text,
        "figure": figure_entries(task, stem, [path], directory, FIGURES)[0],
        "table": table_block(headers, body),
    }


def template_environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("mirage_bayes.output", "templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "html.j2")),
        undefined=jinja2.StrictUndefined,  # a typo in a template fails loudly, not silently
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    # A Markdown table cell cannot hold a pipe or a line break.
    env.filters["md_cell"] = lambda text: str(text).replace("|", r"\|").replace("\n", " ")
    return env


def render_report(
    *,
    summary: pd.DataFrame,
    curves: pd.DataFrame,
    observed: pd.DataFrame,
    comparison: pd.DataFrame,
    diagnostics: pd.DataFrame,
    parameters: pd.DataFrame,
    verdicts: Mapping[str, str],
    meta: Mapping[str, Any],
    directory: str | Path,
    resolution: pd.DataFrame | None = None,
) -> tuple[Path, Path]:
    """Write the figures, ``report.md`` and a self-contained ``report.html`` into ``directory``.

    Parameters
    ----------
    summary, curves, observed, comparison, diagnostics, parameters
        Tables of a fit (see :mod:`mirage_bayes.output.plots` for the first four).
    verdicts
        Plain-English verdict paragraph per task.
    meta
        Run metadata: version, seed, input file and sha256, tokenizers, draws/tune/chains,
        choices, trends and ``warnings`` (list of strings; each is shown with every task it
        names, or at the top when it names none).
    directory
        Output directory (created if needed); figures go to ``directory/figures``.
    resolution
        A fit's resolution table (:func:`mirage_bayes.fitting.resolution.resolution_table`); when
        given, each task gets the section "Is an observed zero evidence of no ability?" and the
        figure ``<stem>_resolution.png``.

    Returns
    -------
    tuple of pathlib.Path
        ``(report.md, report.html)``.
    """
    directory = Path(directory)
    tasks = list(dict.fromkeys([*summary["task"], *comparison["task"], *verdicts]))
    figures = save_figures(summary, curves, observed, comparison, tasks=tasks, directory=directory)
    per_task_warnings, general = split_warnings(meta.get("warnings", ()), tasks)
    stems = figure_stems(tasks)
    sections = []
    tables = {"summary": summary, "observed": observed, "comparison": comparison}
    tables |= {"diagnostics": diagnostics, "parameters": parameters}
    for task in tasks:
        of = {name: frame[frame["task"] == task] for name, frame in tables.items()}
        eps = of["summary"][of["summary"]["quantity"] == "epsilon"]
        sections.append(
            {
                **task_section_head(
                    task,
                    stems[task],
                    verdicts.get(task),
                    per_task_warnings[task],
                    of["comparison"],
                    of["diagnostics"],
                    of["parameters"],
                ),  # fmt: skip
                "chance": (meta.get("chance") or {}).get(task, {}).get("note"),
                "epsilon": _epsilon_table(eps, of["observed"]),
                "figures": figure_entries(
                    task, stems[task], figures.get(task, []), directory, FIGURES
                ),
                "resolution": None
                if resolution is None
                else _resolution_section(resolution, curves, task, stems[task], directory),
                "attempts": attempts_section(summary, observed, task, stems[task], directory),
                "item_family": item_family_section(task_item_family(meta, task), of["parameters"]),
            }
        )
    return write_fit_report(
        directory, sections, title="mirage-bayes report", meta=meta, general_warnings=general
    )


def task_section_head(
    task: str,
    stem: str,
    verdict: str | None,
    warnings: list[str],
    comparison: pd.DataFrame,
    diagnostics: pd.DataFrame,
    parameters: pd.DataFrame,
) -> dict[str, Any]:
    """What every kind of data's report shows of one task (the blocks of ``fit_report.*.j2``
    outside ``task_notes`` and ``task_sections``), from that task's rows of the fit's tables."""
    return {
        "name": str(task),
        "anchor": f"task-{stem}",
        "verdict": verdict or "No verdict was produced for this task.",
        "warnings": warnings + diagnostic_warnings(diagnostics),
        "comparison": comparison_table(comparison),
        "diagnostics": diagnostics_table(diagnostics),
        "parameters": parameter_table(parameters),
    }


def write_fit_report(
    directory: Path,
    sections: list[dict[str, Any]],
    *,
    title: str,
    meta: Mapping[str, Any],
    general_warnings: list[str],
    kind: str = "",
) -> tuple[Path, Path]:
    """Render ``report.md`` and ``report.html`` from the task sections, with the templates of
    ``kind`` (``""``: generation outputs, ``"choice_"``: multiple choice)."""
    context = {
        "title": title,
        "meta": meta_rows(meta),
        "general_warnings": general_warnings,
        "tasks": sections,
        "rhat_max": RHAT_MAX,
        "ess_min": ESS_BULK_MIN,
    }
    env = template_environment()
    paths = directory / "report.md", directory / "report.html"
    for path in paths:
        text = env.get_template(f"{kind}{path.name}.j2").render(context)
        # Optional blocks leave runs of blank lines; one is enough in either format.
        path.write_text(re.sub(r"\n{3,}", "\n\n", text), encoding="utf-8")
    return paths
