"""What every fit result holds, and the tables, words and pictures that do not depend on the
kind of data: :class:`~mirage_bayes.fitting.result.FitResult` (generations) and
:class:`~mirage_bayes.fitting.choice_result.ChoiceFitResult` (multiple choice) add their
quantities."""

from __future__ import annotations

import html
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import arviz as az
import numpy as np
import pandas as pd

from mirage_bayes.fitting.comparison import fit_repr
from mirage_bayes.fitting.inference import Diagnostics, stacked
from mirage_bayes.models import TRENDS
from mirage_bayes.output.figures import png_data_uri
from mirage_bayes.output.plots import plot_comparison
from mirage_bayes.settings import HDI_PROB, REFERENCE_TREND

__all__ = ["CURVE_DRAWS", "CURVE_POINTS", "TrendFits", "hdi", "posterior_dict"]

CURVE_POINTS = 80
CURVE_DRAWS = 500  # bands on the fine grid are for display: a thinned posterior draws them


def hdi(samples: np.ndarray) -> np.ndarray:
    """94% highest-density interval over the first axis (draws): shape ``(*rest, 2)``."""
    if samples.ndim == 1:
        return az.hdi(samples, hdi_prob=HDI_PROB)
    # ArviZ reads a 3+-d array as (chain, draw, *shape): add a chain axis.
    return az.hdi(samples[None, ...], hdi_prob=HDI_PROB)


def posterior_dict(idata: az.InferenceData) -> dict[str, np.ndarray]:
    """Every posterior variable with chains and draws flattened."""
    return {name: stacked(idata, name) for name in idata.posterior.data_vars}


@dataclass(repr=False)
class TrendFits:
    """Posteriors of every task and trend of one fit, with their comparison and verdicts."""

    tasks: list[Any]
    idatas: dict[str, dict[str, az.InferenceData]]
    comparisons: list[pd.DataFrame]
    verdict_texts: dict[str, str]
    diagnostics_by_fit: dict[tuple[str, str], Diagnostics]
    meta: dict = field(default_factory=dict)

    # What the HTML repr calls the tasks, e.g. "multiple-choice task(s)".
    _TASK_LABEL = "task(s)"

    def task_names(self) -> list[str]:
        """Tasks in order of appearance in the input."""
        return [t.task for t in self.tasks]

    def _task(self, task: str | None):
        if task is None:
            return self.tasks[0]
        for data in self.tasks:
            if data.task == task:
                return data
        raise KeyError(f"no task {task!r}; tasks are {self.task_names()}")

    def _curve_posteriors(self, data: Any) -> Iterator[tuple[str, np.ndarray, dict]]:
        """For each parametric trend of a task: its name, the fine grid of sizes the curves are
        drawn on and the posterior thinned to about :data:`CURVE_DRAWS` draws."""
        grid = np.geomspace(data.n_params.min(), data.n_params.max(), CURVE_POINTS)
        for trend, idata in self.idatas[data.task].items():
            if trend == REFERENCE_TREND:
                continue  # no shape between scales: drawn at the scales only
            post = posterior_dict(idata)
            every = max(1, len(next(iter(post.values()))) // CURVE_DRAWS)
            yield trend, grid, {name: values[::every] for name, values in post.items()}

    def comparison(self) -> pd.DataFrame:
        """LOO comparison per task (leave one item out): ``task, trend, rank, elpd_loo, se,
        p_loo, elpd_diff, dse, weight, warning``."""
        return pd.concat(self.comparisons, ignore_index=True)

    def diagnostics(self) -> pd.DataFrame:
        """Max r̂, min bulk ESS and divergences of every fit, with ``ok`` against the policy."""
        rows = [
            {"task": task, "trend": trend, "max_rhat": d.max_rhat,
             "min_ess_bulk": d.min_ess_bulk, "divergences": d.divergences, "ok": d.ok}
            for (task, trend), d in self.diagnostics_by_fit.items()
        ]  # fmt: skip
        return pd.DataFrame(rows)

    @property
    def ok(self) -> bool:
        """Whether every fit passed the sampler diagnostics."""
        return all(d.ok for d in self.diagnostics_by_fit.values())

    def verdicts(self) -> dict[str, str]:
        """Per task, a paragraph that opens with its one-word verdict and says which trend the
        data prefer and how firmly."""
        return dict(self.verdict_texts)

    def parameters(self) -> pd.DataFrame:
        """Posterior mean and 94% HDI of the kind's own parameters (:meth:`_own_parameters`)
        and each trend's parameters on the paper's scale: ``task, trend, parameter, mean,
        hdi_low, hdi_high``."""
        rows = []
        for data in self.tasks:
            for trend, idata in self.idatas[data.task].items():
                post = posterior_dict(idata)
                values = self._own_parameters(data, post)
                values.update(
                    TRENDS[trend].natural_parameters(post, data.x_center, data.x_half_range)
                )
                for name, draws in values.items():
                    finite = draws[np.isfinite(draws)]
                    low, high = hdi(finite) if finite.size > 1 else (np.nan, np.nan)
                    mean = float(np.mean(finite)) if finite.size else np.nan
                    rows.append(
                        {"task": data.task, "trend": trend, "parameter": name, "mean": mean,
                         "hdi_low": float(low), "hdi_high": float(high)}
                    )  # fmt: skip
        return pd.DataFrame(rows)

    def _own_parameters(self, data: Any, post: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Draws of the parameters a kind of data adds to the trend's (spreads, chance factor)."""
        raise NotImplementedError

    def plot_comparison(self, task: str | None = None, *, ax=None):
        """ELPD (LOO) of each trend with standard errors."""
        return plot_comparison(self.comparison(), task=self._task(task).task, ax=ax)

    def headline_figure(self, task: str):
        """The figure a reader looks at first (the subclass's metric plot)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return fit_repr(type(self).__name__, self.verdict_texts, self.tasks, self.ok)

    def _repr_html_(self) -> str:
        parts = [f"<h3>mirage-bayes fit: {len(self.tasks)} {self._TASK_LABEL}</h3>"]
        for data in self.tasks:
            text = html.escape(self.verdict_texts.get(data.task, ""))
            parts.append(f"<h4>{html.escape(data.task)}</h4><p>{text}</p>")
        if self.tasks:  # the headline picture of the first task, as a notebook reader expects
            uri = png_data_uri(self.headline_figure(self.tasks[0].task))
            parts.append(f"<img src='{uri}' alt='{html.escape(self.tasks[0].task)}'>")
        parts.append(self.comparison().to_html(index=False, float_format="%.2f"))
        if not self.ok:
            parts.append("<p style='color:#b00'>Sampler warnings: see .diagnostics()</p>")
        return "\n".join(parts)
