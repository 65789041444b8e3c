"""Tests for the figures and the HTML/Markdown report, on small synthetic fit tables."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from mirage_bayes.output.formatting import format_number, format_p_value, format_params
from mirage_bayes.output.plots import (
    figure_stems,
    plot_comparison,
    plot_epsilon,
    plot_metric,
    save_figures,
)
from mirage_bayes.output.report import render_report, split_warnings

# Headless. pyplot picks its backend lazily, at the first figure, so this still applies here.
matplotlib.use("Agg")

SIZES = np.array([1e8, 4e8, 1.3e9, 6e9, 2.5e10])
LENGTHS = (1.0, 3.0)
# The second task name needs sanitising for file names and is the multiple-choice one (Brier).
TASKS = {
    "arith": ("scale_free", "power_law", "broken_power_law"),
    "multi choice/qa": ("scale_free", "power_law"),
}
BAD_DIAGNOSTIC = ("arith", "broken_power_law")
# Column orders as the fit produces them (comparison also keeps ArviZ's "se").
SUMMARY_COLUMNS = "task trend model n_params quantity length observed mean hdi_low hdi_high".split()
CURVE_COLUMNS = "task trend n_params quantity length mean hdi_low hdi_high".split()
COMPARISON_COLUMNS = "task trend rank elpd_loo p_loo elpd_diff dse weight warning se".split()
DIAGNOSTICS_COLUMNS = "task trend max_rhat min_ess_bulk divergences ok".split()
PARAMETER_COLUMNS = "task trend parameter mean hdi_low hdi_high".split()
VERDICTS = {
    "arith": "The power law is preferred over the broken power law (difference 0.8 SE).",
    "multi choice/qa": "Too few scales to tell the trends apart; the power law fits well.",
}


def _epsilon(n_params: np.ndarray, trend: str) -> np.ndarray:
    shift = {"scale_free": 1.05, "power_law": 1.0, "broken_power_law": 0.95}[trend]
    return shift * 0.3 * (n_params / 1e8) ** -0.4


def _quantities(eps: np.ndarray, task: str) -> list[tuple[str, float, np.ndarray]]:
    """(quantity, length, value) for every quantity the fit reports at ε."""
    rows = [("epsilon", np.nan, eps)]
    for length in LENGTHS:
        rows += [
            ("accuracy", length, (1 - eps) ** length),
            ("accuracy_independent", length, (1 - eps) ** length * 0.97),
            ("token_edit_distance", length, eps * length),
        ]
    if task == "multi choice/qa":
        rows.append(("brier", np.nan, 0.6 * eps))
    return rows


def _frame(task: str, trend: str, n_params: np.ndarray, **extra: object) -> list[dict]:
    records = []
    for quantity, length, value in _quantities(_epsilon(n_params, trend), task):
        for i, n in enumerate(n_params):
            records.append(
                dict(
                    task=task,
                    trend=trend,
                    n_params=n,
                    quantity=quantity,
                    length=length,
                    mean=value[i],
                    hdi_low=value[i] * 0.85,
                    hdi_high=value[i] * 1.15,
                    **{k: v[i] for k, v in extra.items()},
                )
            )
    return records


@pytest.fixture(scope="module")
def tables() -> dict:
    """Synthetic tables shaped like a FitResult's: 2 tasks, 5 scales, lengths 1 and 3."""
    models = np.array([f"m{i}" for i in range(len(SIZES))])
    grid = np.geomspace(SIZES[0], SIZES[-1], 80)
    summary, curves, observed, comparison, diagnostics, parameters = [], [], [], [], [], []
    for task, trends in TASKS.items():
        eps_obs = _epsilon(SIZES, "power_law") * 1.1
        for trend in trends:
            # observed is only known for epsilon and brier here (NaN elsewhere, as allowed).
            seen = {"epsilon": eps_obs, "brier": 0.6 * eps_obs}
            for record in _frame(task, trend, SIZES, model=models):
                values = seen.get(record["quantity"], np.full(len(SIZES), np.nan))
                record["observed"] = values[list(models).index(record["model"])]
                summary.append(record)
            if trend != "scale_free":
                curves += _frame(task, trend, grid)
            ok = (task, trend) != BAD_DIAGNOSTIC
            checks = (1.002, 1500.0, 0, True) if ok else (1.05, 120.0, 3, False)
            diagnostics.append((task, trend, *checks))
            parameters.append((task, trend, "sigma_item", 0.8, 0.6, 1.0))
        parameters.append((task, "power_law", "alpha", -0.05, -0.06, -0.04))
        parameters.append((task, "power_law", "log10_c", 14.1, 13.0, 15.5))
        for rank, trend in enumerate(trends):
            elpd, diff = -1200.0 - 5 * rank, 5.0 * rank
            row = (task, trend, rank, elpd, 4.0 + rank, diff, 2.0 * rank, 1 / (1 + rank), rank == 2)
            comparison.append((*row, 12.0))
        for length in LENGTHS:
            acc = (1 - eps_obs) ** length
            for model, n, a, e in zip(models, SIZES, acc, eps_obs, strict=True):
                observed.append(
                    dict(
                        task=task,
                        model=model,
                        n_params=n,
                        length=length,
                        n_items=50,
                        n_correct=round(50 * a),
                        accuracy=a,
                        accuracy_low=a * 0.9,
                        accuracy_high=min(1.0, a * 1.08),
                        mean_edit_distance=e * length * 1.05,
                        epsilon_observed=e,
                        tokens=int(50 * length),
                    )
                )
    meta = {
        "version": "0.1.0",
        "seed": 20240601,
        "input": "outputs.csv",
        "input_sha256": "9f2c1e0b7a6d5c4b3a29180f7e6d5c4b3a29180f7e6d5c4b3a29180f7e6d5c4b",
        "tokenizers": {"arith": "whitespace", "multi choice/qa": "tiktoken:cl100k_base"},
        "draws": 1000,
        "tune": 1000,
        "chains": 4,
        "choices": 4,
        "trends": ["scale_free", "power_law", "broken_power_law"],
        "warnings": [
            "multi choice/qa: broken_power_law skipped (needs at least 6 scales, has 5)",
            "sampler: 2 chains hit the maximum tree depth",
        ],
    }
    return dict(
        summary=pd.DataFrame(summary)[SUMMARY_COLUMNS],
        curves=pd.DataFrame(curves)[CURVE_COLUMNS],
        observed=pd.DataFrame(observed),
        comparison=pd.DataFrame(comparison, columns=COMPARISON_COLUMNS),
        diagnostics=pd.DataFrame(diagnostics, columns=DIAGNOSTICS_COLUMNS),
        parameters=pd.DataFrame(parameters, columns=PARAMETER_COLUMNS),
        verdicts=VERDICTS,
        meta=meta,
    )


def _plot_inputs(tables: dict) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    return tables["summary"], tables["curves"], tables["observed"]


@pytest.mark.parametrize("task", list(TASKS))
def test_plot_epsilon_is_log_log_with_one_axis(tables, task):
    fig = plot_epsilon(*_plot_inputs(tables), task=task)
    assert isinstance(fig, Figure)
    (ax,) = fig.axes
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert ax.get_ylabel() == "per-token error rate ε"
    labels = ax.get_legend_handles_labels()[1]
    assert {"power law", "scale-free", "observed (pooled)"} <= set(labels)
    assert ("broken power law" in labels) == (task == "arith")


@pytest.mark.parametrize(
    ("quantity", "task", "panels"),
    [
        ("accuracy", "arith", 2),
        ("token_edit_distance", "arith", 2),
        ("brier", "multi choice/qa", 1),
    ],
)
def test_plot_metric_draws_one_panel_per_length(tables, quantity, task, panels):
    fig = plot_metric(*_plot_inputs(tables), task=task, quantity=quantity)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == panels
    assert all(ax.get_xscale() == "log" and ax.get_yscale() == "linear" for ax in fig.axes)
    if quantity == "accuracy":
        labels = fig.axes[0].get_legend_handles_labels()[1]
        assert "power law, independent tokens" in labels
        assert "observed (94% Jeffreys)" in labels


def test_plot_metric_subset_of_lengths_and_bad_input(tables):
    fig = plot_metric(*_plot_inputs(tables), task="arith", quantity="accuracy", lengths=[3])
    assert len(fig.axes) == 1
    assert fig.axes[0].get_title() == "target length 3"
    with pytest.raises(ValueError, match="length"):
        plot_metric(*_plot_inputs(tables), task="arith", quantity="accuracy", lengths=[7])
    with pytest.raises(ValueError, match="quantity"):
        plot_metric(*_plot_inputs(tables), task="arith", quantity="epsilon")
    with pytest.raises(ValueError, match="brier"):
        plot_metric(*_plot_inputs(tables), task="arith", quantity="brier")


def test_plot_comparison_orders_trends_best_first(tables):
    fig = plot_comparison(tables["comparison"], task="arith")
    (ax,) = fig.axes
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    positions = dict(zip(ticks, ax.get_yticks(), strict=True))
    # Best (rank 0) highest; the Pareto-k warning is shown on the tick label.
    top_down = sorted(positions, key=positions.get, reverse=True)
    assert top_down == ["scale-free", "power law", "broken power law (Pareto k!)"]
    assert ax.get_xlabel().startswith("ELPD")


def test_passing_ax_reuses_it(tables):
    fig, axes = plt.subplots(1, 3)
    try:
        assert plot_epsilon(*_plot_inputs(tables), task="arith", ax=axes[0]) is fig
        # Two lengths on one axis: colour per length, nothing new created.
        returned = plot_metric(*_plot_inputs(tables), task="arith", quantity="accuracy", ax=axes[1])
        assert returned is fig
        assert plot_comparison(tables["comparison"], task="arith", ax=axes[2]) is fig
        assert len(fig.axes) == 3
        assert axes[0].get_xscale() == "log" and axes[1].get_xscale() == "log"
        legend = [t.get_text() for t in axes[1].get_legend().get_texts()]
        assert "length 1" in legend and "length 3" in legend
    finally:
        plt.close(fig)


KINDS = ("epsilon", "accuracy", "token_edit_distance", "brier", "comparison")
EXPECTED_FIGURES = {
    "arith": [f"arith_{kind}.png" for kind in KINDS if kind != "brier"],  # free-form: no Brier
    "multi choice/qa": [f"multi_choice_qa_{kind}.png" for kind in KINDS],
}


def test_save_figures_writes_every_figure(tables, tmp_path):
    # One task keeps this fast; the report test below checks the files of both.
    task = "multi choice/qa"
    paths = save_figures(
        tables["summary"],
        tables["curves"],
        tables["observed"],
        tables["comparison"],
        tasks=[task],
        directory=tmp_path,
    )
    assert list(paths) == [task]
    assert [p.name for p in paths[task]] == EXPECTED_FIGURES[task]
    for path in paths[task]:
        assert path.parent == tmp_path / "figures"
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_figure_stems_are_unique():
    stems = figure_stems(["a/b", "a b", "A_b", "..."])
    assert len(set(stems.values())) == 4
    assert all(re.fullmatch(r"[A-Za-z0-9._-]+", s) for s in stems.values())


def test_warnings_go_to_the_tasks_they_name():
    tasks = ["arith", "arith_long", "qa"]
    per_task, general = split_warnings(
        ["arith_long: too few scales", "task arith.", "'qa': skipped", "all good?"], tasks
    )
    assert per_task == {
        "arith": ["task arith."],
        "arith_long": ["arith_long: too few scales"],
        "qa": ["'qa': skipped"],
    }
    assert general == ["all good?"]


def test_number_formatting():
    assert format_params(1.3e9) == "1.3e9"
    assert format_params(2.5e10) == "2.5e10"
    assert format_number(0.012345) == "0.0123"
    assert format_number(-1234.56) == "-1235"
    assert format_number(1.23456e-5) == "1.23e-5"
    assert format_number(float("nan")) == "—"
    assert format_number(0) == "0"


def test_a_monte_carlo_p_value_of_zero_reads_as_below_the_resolution():
    assert format_p_value(0.0, 1 / 2000) == "< 0.0005"
    assert format_p_value(0.012345, 1 / 2000) == "0.0123"
    assert format_p_value(float("nan"), 1 / 2000) == "—"


@pytest.fixture(scope="module")
def report(tables, tmp_path_factory) -> tuple[Path, Path]:
    return render_report(**tables, directory=tmp_path_factory.mktemp("report"))


def test_report_writes_all_figures(report):
    md_path, html_path = report
    assert (md_path.name, html_path.name) == ("report.md", "report.html")
    written = {p.name for p in (md_path.parent / "figures").iterdir()}
    assert written == {name for names in EXPECTED_FIGURES.values() for name in names}


def test_html_report_is_self_contained(report, tables):
    _, html_path = report
    html = html_path.read_text(encoding="utf-8")
    assert 'src="figures/' not in html
    assert html.count('src="data:image/png;base64,') == 9  # 4 figures for arith, 5 for qa
    assert not re.search(r'(href|src)="https?://', html)
    for task, verdict in VERDICTS.items():
        assert verdict in html
        assert task in html
    # The failed diagnostics row is named, with the reasons, inside a warning box.
    assert "broken power law: sampler diagnostics not OK" in html
    assert "max r̂ = 1.050 &gt; 1.01" in html and "min bulk ESS = 120 &lt; 400" in html
    assert "3 divergent transitions" in html
    assert html.count('class="warnings"') == 3  # general, arith (diagnostics), qa (skipped)
    assert "broken_power_law skipped" in html and "maximum tree depth" in html
    assert "1.3e9" in html and "9f2c1e0b7a6d…" in html


def test_markdown_report_links_existing_figures(report):
    md_path, _ = report
    md = md_path.read_text(encoding="utf-8")
    links = re.findall(r"!\[[^\]]*\]\((figures/[^)]+\.png)\)", md)
    assert len(links) == 9
    assert all((md_path.parent / link).is_file() for link in links)
    for verdict in VERDICTS.values():
        assert verdict in md
    assert "sampler diagnostics not OK" in md
    assert "| rank | trend | elpd_loo |" in md
