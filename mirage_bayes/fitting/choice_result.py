"""``ChoiceFitResult``: posteriors of a multiple-choice fit as tables, figures, files and a report.

The same interface as :class:`mirage_bayes.fitting.result.FitResult` (``summary``, ``curves``,
``observed``, ``comparison``, ``diagnostics``, ``parameters``, ``verdicts``, ``ok``, ``save``,
figures, ``_repr_html_``); the quantities are ``mc_grade``, ``brier`` and ``p_correct`` per scale.
"""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from mirage_bayes.fitting.base import TrendFits, posterior_dict
from mirage_bayes.fitting.result import (
    SUMMARY_COLUMNS,
    rows_for,
)
from mirage_bayes.fitting.transforms import jeffreys_interval
from mirage_bayes.models import TRENDS
from mirage_bayes.models.choice import (
    expected_grade,
    expected_q_moments,
    grade_thresholds,
    guessing_log_ce,
)
from mirage_bayes.output.choice_report import plot_choice_metrics, render_choice_report
from mirage_bayes.output.save import staged_folder, summary_tasks, write_posteriors
from mirage_bayes.settings import HDI_PROB, VERSION

if TYPE_CHECKING:
    from mirage_bayes.fitting.choice_data import ChoiceTaskData

QUANTITIES = ("mc_grade", "brier", "p_correct")
OBSERVED_COLUMNS = [
    "task", "model", "n_params", "n_items", "n_correct", "mc_grade", "mc_grade_low",
    "mc_grade_high", "brier", "p_correct", "chance_grade", "chance_brier",
]  # fmt: skip


def _shapes(data: ChoiceTaskData) -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
    """Per distinct size: its standardized log size, the grade thresholds of its items and their
    mean sum of squared wrong shares (models of the same size pool their items)."""
    xs = np.unique(data.x)
    thresholds, wrong_ss = [], []
    for x in xs:
        at = data.observed[:, data.x == x]
        share = data.max_wrong_share[:, data.x == x][at]
        thresholds.append(grade_thresholds(share))
        wrong_ss.append(float(data.wrong_sum_squares[:, data.x == x][at].mean()))
    return xs, thresholds, np.asarray(wrong_ss)


def expected_metrics(data: ChoiceTaskData, mu: np.ndarray, tau: np.ndarray, x: np.ndarray):
    """``mc_grade``, ``brier`` and ``p_correct`` of a population item, ``(draws, len(x))`` each.

    At an observed size the wrong mass is split like the test items' at that size; between two
    observed sizes the metrics are those sizes' mixed linearly in log size, so a curve passes
    through the per-scale values and does not jump halfway between scales.
    """
    xs, thresholds, wrong_ss = _shapes(data)
    x = np.asarray(x, dtype=float)
    weights = np.zeros((len(x), len(xs)))
    upper = np.clip(np.searchsorted(xs, x), 1, len(xs) - 1) if len(xs) > 1 else np.zeros(len(x))
    upper = upper.astype(int)
    if len(xs) == 1:
        weights[:, 0] = 1.0
    else:
        lower = upper - 1
        t = np.clip((x - xs[lower]) / (xs[upper] - xs[lower]), 0.0, 1.0)
        weights[np.arange(len(x)), lower] = 1 - t
        weights[np.arange(len(x)), upper] += t
    grade = np.zeros(mu.shape)
    for j, cut in enumerate(thresholds):
        points = np.flatnonzero(weights[:, j] > 0)
        if points.size:
            grade[:, points] += weights[points, j] * expected_grade(mu[:, points], tau, cut)
    moments = expected_q_moments(mu, tau)
    brier = moments["wrong_squared"] * (1.0 + weights @ wrong_ss)
    return {"mc_grade": grade, "brier": brier, "p_correct": moments["p_correct"]}


def _total_spread(post: dict[str, np.ndarray]) -> np.ndarray:
    return np.sqrt(post["sigma_item"] ** 2 + post["sigma_obs"] ** 2)


class ChoiceFitResult(TrendFits):
    """Posteriors of every multiple-choice task and trend of one :func:`mirage_bayes.fit`.

    The interface of :class:`mirage_bayes.fitting.result.FitResult`, for grade, Brier score and the
    probability on the correct choice. Tables: :meth:`summary`, :meth:`curves`,
    :meth:`observed`, :meth:`comparison`, :meth:`diagnostics`, :meth:`parameters`,
    :meth:`verdicts`. Figures: :meth:`plot_choice_metrics`, :meth:`plot_metric`,
    :meth:`plot_comparison`. Files: :meth:`save`.
    """

    _TASK_LABEL = "multiple-choice task(s)"

    # --- tables --------------------------------------------------------------------------

    @cached_property
    def _observed(self) -> pd.DataFrame:
        frames = []
        for data in self.tasks:
            rows = data.rows.assign(
                chance_grade=1.0 / data.rows["n_choices"],
                # Brier score of the uniform prediction: (1 − 1/K)² + (K − 1)/K² = (K − 1)/K.
                chance_brier=(data.rows["n_choices"] - 1) / data.rows["n_choices"],
            )
            table = (
                rows.groupby("model", sort=False)
                .agg(
                    n_params=("n_params", "first"),
                    n_items=("mc_grade", "size"),
                    n_correct=("mc_grade", "sum"),
                    mc_grade=("mc_grade", "mean"),
                    brier=("brier", "mean"),
                    p_correct=("p_correct", "mean"),
                    chance_grade=("chance_grade", "mean"),
                    chance_brier=("chance_brier", "mean"),
                )
                .reset_index()
            )
            low, high = jeffreys_interval(table["n_correct"], table["n_items"], HDI_PROB)
            table = table.assign(task=data.task, mc_grade_low=low, mc_grade_high=high)
            frames.append(table.sort_values("n_params", kind="stable"))
        out = pd.concat(frames, ignore_index=True)[OBSERVED_COLUMNS]
        out["n_correct"] = out["n_correct"].astype(np.int64)
        return out

    def observed(self) -> pd.DataFrame:
        """Observed mean grade (with a 94% Jeffreys interval), Brier score and ``p_correct`` per
        scale, with the chance levels of a uniform guess (grade ``1/K``, Brier ``(K − 1)/K``)."""
        return self._observed.copy()

    @cached_property
    def _summary(self) -> pd.DataFrame:
        frames = []
        for data in self.tasks:
            obs = self._observed[self._observed["task"] == data.task].set_index("model")
            obs = obs.reindex(data.models)
            for trend, idata in self.idatas[data.task].items():
                post = posterior_dict(idata)
                metrics = expected_metrics(data, post["mu"], _total_spread(post), data.x)
                args = (data.task, trend, data.models, data.n_params)
                for quantity in QUANTITIES:
                    observed = obs[quantity].to_numpy(float)
                    frames.append(rows_for(*args, quantity, None, observed, metrics[quantity]))
        return pd.concat(frames, ignore_index=True)[SUMMARY_COLUMNS]

    def summary(self) -> pd.DataFrame:
        """Posterior mean and 94% HDI per task, trend, scale and ``quantity``: ``mc_grade``
        (expected multiple-choice grade), ``brier`` (expected Brier score) and ``p_correct``
        (expected probability on the correct choice) of an item from the task's population;
        ``length`` is empty."""
        return self._summary.copy()

    @cached_property
    def _curves(self) -> pd.DataFrame:
        frames = []
        for data in self.tasks:
            for trend, grid, post in self._curve_posteriors(data):
                x = data.standardize(grid)
                mu = guessing_log_ce(TRENDS[trend].mu(post, x), data.chance)
                metrics = expected_metrics(data, mu, _total_spread(post), x)
                for quantity in QUANTITIES:
                    table = rows_for(
                        data.task, trend, None, grid, quantity, None, np.nan, metrics[quantity]
                    )
                    frames.append(table.drop(columns=["model", "observed"]))
        columns = ["task", "trend", "n_params", "quantity", "length", "mean", "hdi_low", "hdi_high"]
        if not frames:
            return pd.DataFrame(columns=columns)
        return pd.concat(frames, ignore_index=True)[columns]

    def curves(self) -> pd.DataFrame:
        """The summary's quantities on a fine grid of sizes, for the parametric trends."""
        return self._curves.copy()

    def parameters(self) -> pd.DataFrame:
        """Posterior mean and 94% HDI of the spreads (``sigma_item`` when item effects are
        identifiable, ``sigma_obs``) and each trend's parameters on the paper's scale, for the
        skill's cross-entropy (power law: α and log10 c of ``L_CE = (N/c)^α``; the correct choice
        gets ``p = c + (1 − c)·exp(−L_CE)`` with ``c`` the chance level, see
        :func:`mirage_bayes.models.choice.guessing_log_ce`)."""
        return super().parameters()

    def _own_parameters(self, data, post):
        values = {"sigma_item": post["sigma_item"]} if data.item_effects else {}
        return values | {"sigma_obs": post["sigma_obs"]}

    # --- figures ---------------------------------------------------------------------------

    def plot_choice_metrics(self, task: str | None = None, *, quantities=None, axes=None):
        """Multiple-choice grade (sharp) and Brier score (smooth) side by side; see
        :func:`mirage_bayes.output.choice_report.plot_choice_metrics`."""

        return plot_choice_metrics(
            self._summary, self._curves, self._observed, task=self._task(task).task,
            quantities=quantities, axes=axes,
        )  # fmt: skip

    def plot_metric(self, quantity: str = "mc_grade", task: str | None = None, *, ax=None):
        """One of ``mc_grade``, ``brier``, ``p_correct`` against model size."""
        return self.plot_choice_metrics(task, quantities=(quantity,), axes=ax)

    # --- files -------------------------------------------------------------------------------

    def save(self, directory, *, force: bool = False, report: bool = True) -> Path:
        """Write ``summary.csv``, ``comparison.csv``, ``summary.json``, ``posterior_<trend>.nc``
        and (with ``report``) ``report.html``, ``report.md`` and ``figures/`` into ``directory``,
        all or nothing (as :func:`mirage_bayes.output.save.save_result`)."""
        return save_choice_result(self, directory, force=force, report=report)

    def headline_figure(self, task: str):
        """Grade and Brier score side by side (:meth:`plot_choice_metrics`)."""
        return self.plot_choice_metrics(task)


def choice_summary_json(result: ChoiceFitResult) -> dict:
    """Run metadata, per task the preferred trend, the power-vs-broken ELPD difference, the
    per-trend diagnostics and the verdict (the layout of a generation fit's ``summary.json``)."""

    meta = result.meta
    keys = ("seed", "input", "input_sha256", "draws", "tune", "chains", "choices", "trends")
    head = {"mirage_bayes_version": VERSION, "kind": "multiple_choice"}
    return head | {key: meta.get(key) for key in keys} | summary_tasks(result)


def save_choice_result(
    result: ChoiceFitResult, directory: str | Path, *, force: bool, report: bool
) -> Path:
    """Write a multiple-choice fit into ``directory`` through a staging folder renamed into place,
    so an error or interruption leaves the complete results or none (and old ones intact)."""

    with staged_folder(directory, force=force) as staging:
        result.summary().to_csv(staging / "summary.csv", index=False, float_format="%.6g")
        result.comparison().to_csv(staging / "comparison.csv", index=False, float_format="%.6g")
        text = json.dumps(choice_summary_json(result), indent=2)
        (staging / "summary.json").write_text(text + "\n")
        write_posteriors(result, staging)
        if report:
            render_choice_report(result, staging, meta={**result.meta, "version": VERSION})
    return Path(directory).resolve()
