"""Was the jump foreseeable? Leave-future-out forecasts of the larger models from the smaller.

"Emergent" means "unpredictable from smaller models"; this module tests exactly that. For each
task and trend it refits the trend to the ``k`` smallest model sizes and forecasts every larger
one, for ``k`` from the trend's minimum number of sizes (:attr:`Trend.min_scales`) up to all but
one, and compares the forecasts with what the larger models did.

How a refit works. All sizes stay in the model; each has a likelihood weight, 1 when fitted and
0 when held out, so a held-out size's ``μ`` is the trend's forecast for it and the standardized
log size ``x`` is the same in every refit: **the priors are those of the full fit, defined on the
full range of sizes** (``a`` is η at the middle of the full range, the break of the broken power
law may fall anywhere in it, including among the held-out sizes). Each trend's model is compiled
once (:class:`~mirage_bayes.fitting.compiled.CompiledSampler`); a refit only swaps the weights
(:func:`~mirage_bayes.models.generation.set_task_data`). Refit ``k`` is seeded from
``(seed, task, trend, k)``.

What is reported for each held-out size (``forecast.csv``, columns
:data:`~mirage_bayes.forecast.refit.FORECAST_COLUMNS`):

* ``epsilon``, ``accuracy``, ``token_edit_distance`` — the forecast of the population
  quantities (as in ``summary.csv``: item difficulty averaged out) beside the observed values;
* ``epsilon_predictive``, ``accuracy_predictive`` — the posterior predictive distribution of
  what the held-out model's own test set would show (its items, their lengths, binomial noise
  of a finite test set): the observed pooled error rate and exact-match rate are draws of
  these, so these are the intervals an observed value should fall in 94% of the time;
* ``log_pred_density`` — ``log mean_draws p(held-out size's data | draw)``. Where item ids are
  shared across sizes each item's difficulty is integrated over its distribution *given what
  the item showed at the fitted sizes* (and the draw); items seen only at the held-out size
  get the marginal over a new item's difficulty. Each held-out size is scored on its own.

The verdict per task and trend is about the refit to all sizes but the largest, at the longest
target length the largest model was tested on: was its observed accuracy inside the 94%
predictive interval forecast from the smaller models?
"""

from __future__ import annotations

import html
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from mirage_bayes.errors import InputError
from mirage_bayes.fitting.compiled import CompiledSampler
from mirage_bayes.fitting.data import TaskData, split_tasks
from mirage_bayes.fitting.inference import (
    SamplerConfig,
    chance_scale_of,
    diagnose,
    sample_until_clean,
    stacked,
)
from mirage_bayes.forecast.plot import plot_forecast
from mirage_bayes.forecast.refit import (
    CURVE_COLUMNS,
    FORECAST_COLUMNS,
    observed_table,
    refit_curves,
    refit_table,
    refit_weights,
    verdict_length,
)
from mirage_bayes.forecast.save import save_forecast
from mirage_bayes.inputs.scoring import score_outputs
from mirage_bayes.inputs.tables import file_sha256
from mirage_bayes.models import TRENDS
from mirage_bayes.models.generation import build_model, set_task_data
from mirage_bayes.seeds import derive_seed
from mirage_bayes.settings import DEFAULT_TRENDS, HDI_PROB, REFERENCE_TREND, SMOOTH_TREND

DIAGNOSTIC_COLUMNS = [
    "task", "trend", "fitted_scales", "max_rhat", "min_ess_bulk", "divergences", "ok", "problems"
]  # fmt: skip
FORECAST_TRENDS = DEFAULT_TRENDS  # scale_free has no shape to extrapolate
TARGET_ACCEPT = 0.9  # as in fit (SamplerConfig)


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def forecast_seed(seed: int, task: str, trend: str, fitted_scales: int) -> int:
    """Seed of one refit: its own stream per (seed, task, trend, k), distinct from ``fit``'s."""
    return derive_seed(seed, task, trend, "forecast", tail=(fitted_scales,))


# --- verdicts --------------------------------------------------------------------------------


def _number(value: float) -> str:
    return f"{value:.2f}" if abs(value) >= 0.01 or value == 0 else f"{value:.2g}"


def verdict(data: TaskData, table: pd.DataFrame, diagnostics: pd.DataFrame) -> str:
    """Plain-words verdict of one task from its forecast rows (see the module docstring)."""
    length = verdict_length(data)
    largest = data.models[-1]
    rows = table[(table["quantity"] == "accuracy_predictive") & (table["length"] == length)]
    sentences = []
    for trend in [t for t in FORECAST_TRENDS if t in set(rows["trend"])]:
        mine = rows[rows["trend"] == trend]
        last = mine[mine["fitted_scales"] == data.n_scales - 1]
        last = last[last["model"] == largest].iloc[0]
        inside = last["hdi_low"] <= last["observed"] <= last["hdi_high"]
        sentences.append(
            f"{trend} fitted to the {data.n_scales - 1} smallest sizes: the largest model's "
            f"accuracy (L={length}) was {'' if inside else 'not '}inside the "
            f"{HDI_PROB:.0%} interval forecast from the smaller models (observed "
            f"{_number(last['observed'])}, forecast {_number(last['hdi_low'])}–"
            f"{_number(last['hdi_high'])})."
        )
        scored = mine.dropna(subset=["observed"])
        hits = (scored["hdi_low"] <= scored["observed"]) & (
            scored["observed"] <= scored["hdi_high"]
        )
        if scored["fitted_scales"].nunique() > 1:
            sentences.append(
                f"Over all {trend} refits, {int(hits.sum())} of {len(scored)} forecasts of a "
                f"larger model's accuracy (L={length}) were inside their intervals."
            )
        trouble = diagnostics[(diagnostics["trend"] == trend) & ~diagnostics["ok"]]
        if len(trouble):
            ks = ", ".join(str(k) for k in trouble["fitted_scales"])
            sentences.append(
                f"Sampler warnings in the {trend} refits to k = {ks} smallest sizes "
                "(forecast_diagnostics.csv): read those forecasts with care."
            )
    if not sentences:
        return "no trend could be refitted to fewer sizes than the task has."
    return " ".join(sentences)


# --- the whole run -------------------------------------------------------------------------------


@dataclass
class ForecastResult:
    """Leave-future-out forecasts of every task: tables, verdicts, figures, files.

    Tables: :meth:`table` (``forecast.csv``), :meth:`diagnostics`, :meth:`curves`; words:
    :meth:`verdicts`; figures: :meth:`plot`; files: :meth:`save`.
    """

    tasks: list[TaskData]
    forecasts: pd.DataFrame
    curve_table: pd.DataFrame
    diagnostic_table: pd.DataFrame
    verdict_texts: dict[str, str]
    meta: dict = field(default_factory=dict)

    def table(self) -> pd.DataFrame:
        """Every forecast of a held-out size: columns :data:`FORECAST_COLUMNS`."""
        return self.forecasts.copy()

    def curves(self) -> pd.DataFrame:
        """Forecast bands on a grid of sizes beyond each refit's fitted sizes."""
        return self.curve_table.copy()

    def diagnostics(self) -> pd.DataFrame:
        """r̂, bulk ESS, divergences per refit, with ``ok`` and the problems in words."""
        return self.diagnostic_table.copy()

    @property
    def ok(self) -> bool:
        """Whether every refit passed the sampler diagnostics."""
        return bool(self.diagnostic_table["ok"].all()) if len(self.diagnostic_table) else True

    def verdicts(self) -> dict[str, str]:
        """Per task, whether the largest model's accuracy was foreseeable (see module doc)."""
        return dict(self.verdict_texts)

    def plot(self, task: str | None = None, *, length: int | None = None):
        """Forecast bands of accuracy and ε per refit against the observed values."""

        data = self._task(task)
        observed = observed_table(data).reset_index()
        observed["n_params"] = observed["model"].map(
            dict(zip(data.models, data.n_params, strict=True))
        )
        return plot_forecast(
            self.forecasts, self.curve_table, observed, task=data.task,
            length=verdict_length(data) if length is None else length,
        )  # fmt: skip

    def save(self, directory, *, force: bool = False, report: bool = True) -> Path:
        """Write ``forecast.csv``, ``forecast_diagnostics.csv``, ``forecast.json``,
        ``figures/forecast_<task>.png`` and (with ``report``) ``report.html`` and ``report.md``
        into ``directory``, all or nothing."""

        return save_forecast(self, directory, force=force, report=report)

    def __repr__(self) -> str:
        tasks = sorted(set(self.forecasts["task"])) if len(self.forecasts) else []
        status = "diagnostics ok" if self.ok else "sampler warnings, see .diagnostics()"
        return f"<ForecastResult of {len(tasks)} task(s): {', '.join(tasks[:5])}; {status}>"

    def _repr_html_(self) -> str:
        parts = [f"<h3>mirage-bayes forecast: {len(self.verdict_texts)} task(s)</h3>"]
        for task, text in self.verdict_texts.items():
            parts.append(f"<h4>{html.escape(task)}</h4><p>{html.escape(text)}</p>")
        if not self.ok:
            parts.append("<p style='color:#b00'>Sampler warnings: see .diagnostics()</p>")
        return "\n".join(parts)

    def _task(self, task: str | None) -> TaskData:
        done = [t for t in self.tasks if t.task in set(self.forecasts["task"])]
        for data in done:
            if task is None or data.task == task:
                return data
        raise KeyError(f"no forecasts for task {task!r}; tasks are {[t.task for t in done]}")


def _refit(sampler: CompiledSampler, cores: int | None, config: SamplerConfig):
    """One run of a compiled refit with ``config``'s settings (its seed, draws, target)."""
    sampler.target_accept = config.target_accept
    return sampler.sample(
        draws=config.draws, tune=config.tune, chains=config.chains, seed=config.seed, cores=cores
    )


def forecast(
    outputs: pd.DataFrame,
    *,
    trends: Sequence[str] = FORECAST_TRENDS,
    lengths: Sequence[int] = (),
    tokenizer: str = "auto",
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 2,
    seed: int = 0,
    cores: int | None = None,
    log: Callable[[str], None] | None = _stderr,
) -> ForecastResult:
    """Refit each trend to the ``k`` smallest sizes and forecast the larger ones, for every ``k``.

    Parameters
    ----------
    outputs
        Per-item outputs from :func:`mirage_bayes.read_outputs` (scored or not).
    trends
        Trends to refit: ``power_law``, ``broken_power_law`` (``scale_free`` has no shape to
        extrapolate and is left out with a warning).
    lengths
        Target lengths to forecast accuracy and edit distance at, besides those in the data.
    tokenizer
        As in :func:`mirage_bayes.fit`.
    draws, tune, chains, seed
        NUTS settings of every refit; refit ``k`` is seeded from ``(seed, task, trend, k)``.
    cores
        Chains run at once (default: as many as chains and CPUs allow).
    log
        Receives one line per refit and every warning (default: standard error).

    Raises
    ------
    mirage_bayes.InputError
        If no task has enough model sizes for a single forecast.
    """

    unknown = [t for t in trends if t not in TRENDS]
    if unknown:
        raise ValueError(f"unknown trend(s) {unknown}; choose from {sorted(TRENDS)}")
    if outputs.attrs.get("kind") == "multiple_choice" or "choices_logprobs" in outputs:
        # Forecasting refits the generation model; a choice table failed in scoring with a
        # KeyError, naming neither the file nor the reason.
        raise InputError(
            "is a multiple-choice table, and forecast supports generation outputs only",
            where=str(outputs.attrs.get("source") or "the table"),
            fix="give a table with target and output (or n_tokens and n_errors), or use "
            "mirage-bayes fit for the multiple-choice table",
        )
    log = log or (lambda _message: None)
    warnings_ = []
    if REFERENCE_TREND in trends:
        warnings_.append("scale_free has no trend to extrapolate: it is not refitted")
    wanted = [t for t in FORECAST_TRENDS if t in trends]
    tokenizers: dict[str, str] = {}
    scored = outputs
    if "exact_match" not in outputs:
        scored, tokenizers = score_outputs(outputs, tokenizer)
    tasks = split_tasks(scored)
    repeated = [data.task for data in tasks if data.has_attempts]
    if repeated:
        # The refits and the held-out test sets take one attempt per item: with repeats they
        # would report the share of failed attempts as the per-token error rate.
        raise InputError(
            f"has repeated attempts per item (task {', '.join(map(repr, repeated))}), and "
            "forecast takes one attempt per item",
            where=str(outputs.attrs.get("source") or "the table"),
            fix="keep one attempt per item for forecast (e.g. the rows with attempt 1), or use "
            "mirage-bayes fit, which reports pass@k across sizes",
        )
    plan = {
        data.task: [t for t in wanted if TRENDS[t].min_scales < data.n_scales] for data in tasks
    }
    for data in tasks:
        for trend in (t for t in wanted if t not in plan[data.task]):
            need = TRENDS[trend].min_scales + 1
            warnings_.append(
                f"{data.task}: forecasting with {trend} needs at least {need} model sizes "
                f"({need - 1} to fit, 1 to forecast), the data have {data.n_scales}; skipped"
            )
    if not any(plan.values()):
        need = min(TRENDS[t].min_scales for t in wanted) + 1 if wanted else 4
        raise InputError(
            f"no task has enough model sizes for a forecast (at least {need} are needed)",
            where=str(outputs.attrs.get("source", "input")),
            fix="add model sizes"
            + ("" if list(wanted) == [SMOOTH_TREND] else f" or choose --trends {SMOOTH_TREND}"),
        )
    for warning in warnings_:  # only now: printed before the error, they split its one line
        log(f"warning: {warning}")
    n_refits = sum(data.n_scales - TRENDS[t].min_scales for data in tasks for t in plan[data.task])
    tables, curves, diagnostics, verdicts, done = [], [], [], {}, 0
    refits: list[str] = []  # refits rerun with smaller steps after divergences
    for number, data in enumerate(tasks, start=1):
        lengths_here = sorted(set(data.lengths) | {int(n) for n in lengths})
        task_diagnostics = []
        for trend in plan[data.task]:
            model = build_model(data, TRENDS[trend], swappable=True)
            sampler = CompiledSampler(model, target_accept=TARGET_ACCEPT)
            for k in range(TRENDS[trend].min_scales, data.n_scales):
                done += 1
                log(
                    f"[task {number}/{len(tasks)}: {data.task}] refit {done}/{n_refits}: {trend} "
                    f"fitted to the {k} smallest of {data.n_scales} sizes ({chains} chains × "
                    f"{tune} tune + {draws} draws)"
                )
                set_task_data(model, data, refit_weights(data.n_scales, k))
                refit_seed = forecast_seed(seed, data.task, trend, k)
                config = SamplerConfig(draws=draws, tune=tune, chains=chains, seed=refit_seed,
                                       target_accept=TARGET_ACCEPT)  # fmt: skip
                idata, diag, notes = sample_until_clean(
                    partial(_refit, sampler, cores), diagnose, config,
                    f"{data.task}, {trend} fitted to {k} sizes", log, longer=False,
                )  # fmt: skip
                refits.extend(notes)
                if not diag.ok:
                    log(
                        f"warning: {data.task}, {trend} fitted to {k} sizes: sampler trouble — "
                        + "; ".join(diag.problems())
                    )
                task_diagnostics.append(
                    {
                        "task": data.task, "trend": trend, "fitted_scales": k,
                        "max_rhat": diag.max_rhat, "min_ess_bulk": diag.min_ess_bulk,
                        "divergences": diag.divergences, "ok": diag.ok,
                        "problems": "; ".join(diag.problems()),
                    }
                )  # fmt: skip
                mu, sigma = stacked(idata, "mu"), stacked(idata, "sigma_item")
                rng = np.random.default_rng(refit_seed + 1)
                scale = chance_scale_of(idata)
                tables.append(refit_table(data, trend, k, mu, sigma, lengths_here, rng, scale))
                posterior = {name: stacked(idata, name) for name in idata.posterior.data_vars}
                curves.append(refit_curves(data, trend, k, posterior, lengths_here))
        if plan[data.task]:
            task_table = pd.concat(tables[-len(task_diagnostics) :], ignore_index=True)
            task_diag = pd.DataFrame(task_diagnostics, columns=DIAGNOSTIC_COLUMNS)
            verdicts[data.task] = verdict(data, task_table, task_diag)
            diagnostics.append(task_diag)
        else:
            verdicts[data.task] = (
                f"no forecast: {data.n_scales} model size(s) are too few for any trend."
            )
    meta = {
        "input": outputs.attrs.get("source"),
        "input_sha256": file_sha256(outputs.attrs["source"]) if "source" in outputs.attrs else None,
        "tokenizers": tokenizers or {t.task: "prescored" for t in tasks},
        "seed": seed,
        "draws": draws,
        "tune": tune,
        "chains": chains,
        "trends": wanted,
        "lengths": sorted({int(v) for v in lengths}),
        "warnings": warnings_,
        "refits": refits,
    }
    return ForecastResult(
        tasks=tasks,
        forecasts=pd.concat(tables, ignore_index=True)[FORECAST_COLUMNS],
        curve_table=pd.concat(curves, ignore_index=True)[CURVE_COLUMNS],
        diagnostic_table=pd.concat(diagnostics, ignore_index=True),
        verdict_texts=verdicts,
        meta=meta,
    )
