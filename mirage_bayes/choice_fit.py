"""Fitting multiple-choice tasks: per-item metrics → posteriors of every trend → LOO comparison.

:func:`fit_choices` is what :func:`mirage_bayes.fit` runs for a multiple-choice table
(``attrs["kind"] == "multiple_choice"``). The model is :mod:`mirage_bayes.models.choice`; the
sampler settings, seed scheme, diagnostics policy and LOO comparison are those of generation
tasks.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import arviz as az
import numpy as np
import pandas as pd
import pymc as pm
import xarray as xr

from mirage_bayes import __version__
from mirage_bayes.choice_result import ChoiceFitResult
from mirage_bayes.choices import score_choices, validate_choices
from mirage_bayes.comparison import (
    NAMES,
    _sentence,
    broken_clearly_better,
    compare_trends,
    pair,
)
from mirage_bayes.errors import InputError
from mirage_bayes.inference import DERIVED, SamplerConfig, _seed_for, diagnose, stacked
from mirage_bayes.late_check import LateCheck, late_check_rows
from mirage_bayes.models import TRENDS
from mirage_bayes.models.choice import (
    build_choice_model,
    item_log_likelihood,
    posterior_predictive_log_ce,
)

DEFAULT_TRENDS = ("power_law", "broken_power_law")


@dataclass
class ChoiceTaskData:
    """One multiple-choice task as ``items × scales`` matrices (NaN where not evaluated).

    Attributes
    ----------
    task, models, n_params, items, item_ids_shared, rows
        As in :class:`mirage_bayes.data.TaskData`; ``rows`` are the scored rows
        (:func:`mirage_bayes.choices.score_choices`).
    log_ce
        ``log(−log p_correct)`` of each item at each scale.
    max_wrong_share, wrong_sum_squares
        Shape of the wrong mass (see :mod:`mirage_bayes.choices`).
    n_choices
        Choices of each item at each scale (0 where not evaluated).
    """

    task: str
    models: list[str]
    n_params: np.ndarray
    items: list[str]
    log_ce: np.ndarray
    max_wrong_share: np.ndarray
    wrong_sum_squares: np.ndarray
    n_choices: np.ndarray
    item_ids_shared: bool
    rows: pd.DataFrame = field(repr=False)

    @property
    def observed(self) -> np.ndarray:
        """``(items, scales)``: whether the item was evaluated at the scale."""
        return self.n_choices > 0

    @property
    def n_scales(self) -> int:
        """Number of distinct model sizes."""
        return len(self.models)

    @property
    def item_effects(self) -> bool:
        """Whether item effects are identifiable: some item is seen at two or more scales."""
        return bool(self.item_ids_shared and (self.observed.sum(1) > 1).any())

    @property
    def x_center(self) -> float:
        """Midpoint of the observed log-size range (as :class:`~mirage_bayes.data.TaskData`)."""
        log_n = np.log(self.n_params)
        return float((log_n.min() + log_n.max()) / 2)

    @property
    def x_half_range(self) -> float:
        """Half the observed log-size range (1 when there is a single scale)."""
        log_n = np.log(self.n_params)
        half = float((log_n.max() - log_n.min()) / 2)
        return half if half > 0 else 1.0

    def standardize(self, n_params: np.ndarray | float) -> np.ndarray:
        """Map parameter counts to the standardized log scale (observed range → [-1, 1])."""
        return (np.log(n_params) - self.x_center) / self.x_half_range

    @property
    def x(self) -> np.ndarray:
        """Standardized log size of each scale."""
        return self.standardize(self.n_params)


def split_choice_tasks(scored: pd.DataFrame) -> list[ChoiceTaskData]:
    """One :class:`ChoiceTaskData` per task of a scored multiple-choice table, in order.

    Raises
    ------
    InputError
        If a model has the same item twice within a task.
    """
    item_ids = bool(scored.attrs.get("item_ids", scored["item"].notna().all()))
    source = scored.attrs.get("source", "input")
    return [
        _task(str(task), rows.reset_index(drop=True), item_ids, source)
        for task, rows in scored.groupby("task", sort=False)
    ]


def _task(task: str, rows: pd.DataFrame, item_ids: bool, source: str) -> ChoiceTaskData:
    sizes = rows.groupby("model", sort=False)["n_params"].first().sort_values(kind="stable")
    models = [str(m) for m in sizes.index]
    scale = pd.Categorical(rows["model"], categories=models).codes
    if item_ids:
        duplicated = rows.duplicated(["model", "item"], keep=False)
        if duplicated.any():
            first = rows[duplicated].iloc[0]
            raise InputError(
                f"model {first['model']!r} has item {first['item']!r} more than once",
                where=f"{source}, task {task!r}",
                fix="keep one row per (model, item) or give distinct item ids",
            )
        codes, labels = pd.factorize(rows["item"].astype(str), sort=False)
        items = [str(v) for v in labels]
    else:
        # Without ids nothing links items across scales: every row is its own item.
        codes = np.arange(len(rows))
        items = [f"{m}#{i}" for i, m in enumerate(rows["model"])]
    shape = (len(items), len(models))
    matrices = {}
    for column in ("log_ce", "max_wrong_share", "wrong_sum_squares"):
        matrix = np.full(shape, np.nan)
        matrix[codes, scale] = rows[column].to_numpy(float)
        matrices[column] = matrix
    n_choices = np.zeros(shape, dtype=np.int64)
    n_choices[codes, scale] = rows["n_choices"].to_numpy(np.int64)
    return ChoiceTaskData(
        task=task,
        models=models,
        n_params=sizes.to_numpy(np.float64),
        items=items,
        n_choices=n_choices,
        item_ids_shared=item_ids,
        rows=rows,
        **matrices,
    )


def sample_choice_trend(
    data: ChoiceTaskData, trend_name: str, config: SamplerConfig
) -> az.InferenceData:
    """Fit one trend to one multiple-choice task with NUTS.

    Returns
    -------
    arviz.InferenceData
        Groups ``posterior`` (``sigma_item`` is 0 in every draw when item effects are not
        identifiable), ``sample_stats``, ``log_likelihood`` (marginal per item, variable
        ``log_ce``), ``posterior_predictive`` and ``observed_data`` (``log_ce`` per item and
        scale), ``constant_data`` (sizes, choices and the shape of the wrong mass).
    """
    model = build_choice_model(data, TRENDS[trend_name])
    seed = _seed_for(config, data, trend_name)  # the generation fits' scheme: per task and trend
    pymc_logger = logging.getLogger("pymc")
    previous_level = pymc_logger.level
    if not config.progressbar:
        pymc_logger.setLevel(logging.WARNING)
    try:
        with model:
            idata = pm.sample(
                draws=config.draws,
                tune=config.tune,
                chains=config.chains,
                cores=min(config.chains, os.cpu_count() or 1),
                target_accept=config.target_accept,
                init="jitter+adapt_full",  # correlated trend parameters, as for generation
                random_seed=seed,
                progressbar=config.progressbar,
                compute_convergence_checks=False,
                idata_kwargs={"log_likelihood": False},
            )
    finally:
        pymc_logger.setLevel(previous_level)
    if "sigma_item" not in idata.posterior:
        # One spread set for every fit keeps the downstream code free of special cases.
        idata.posterior["sigma_item"] = xr.zeros_like(idata.posterior["sigma_obs"])
    _add_item_groups(idata, data, np.random.default_rng(seed + 1))
    idata.attrs.update(
        {
            "model": f"multiple_choice/{trend_name}",
            "trend": trend_name,
            "task": data.task,
            "mirage_bayes_version": __version__,
            "sampler_config": json.dumps(config.to_dict()),
            "x_center": data.x_center,
            "x_half_range": data.x_half_range,
            "item_ids_shared": int(data.item_ids_shared),
            "item_effects": int(data.item_effects),
        }
    )
    return idata


def _add_item_groups(idata: az.InferenceData, data: ChoiceTaskData, rng) -> None:
    chains, draws = idata.posterior.sizes["chain"], idata.posterior.sizes["draw"]
    mu = stacked(idata, "mu")
    sigma_item, sigma_obs = stacked(idata, "sigma_item"), stacked(idata, "sigma_obs")
    coords = {"chain": idata.posterior.chain, "draw": idata.posterior.draw}
    item_scale = {"item": data.items, "scale": data.models}
    loglik = item_log_likelihood(data, mu, sigma_item, sigma_obs).reshape(chains, draws, -1)
    replicate = posterior_predictive_log_ce(data, mu, sigma_item, sigma_obs, rng)
    dims = ("item", "scale")
    idata.add_groups(
        log_likelihood=xr.Dataset(
            {"log_ce": (("chain", "draw", "item"), loglik)}, coords={**coords, "item": data.items}
        ),
        posterior_predictive=xr.Dataset(
            {
                "log_ce": (
                    ("chain", "draw", *dims),
                    replicate.reshape(chains, draws, *replicate.shape[1:]),
                )
            },
            coords={**coords, **item_scale},
        ),
        observed_data=xr.Dataset({"log_ce": (dims, data.log_ce)}, item_scale),
        constant_data=xr.Dataset(
            {
                "n_params": (("scale",), data.n_params),
                "n_choices": (dims, data.n_choices),
                "max_wrong_share": (dims, data.max_wrong_share),
                "wrong_sum_squares": (dims, data.wrong_sum_squares),
            },
            item_scale,
        ),
    )


def _sampled(idata: az.InferenceData, data: ChoiceTaskData) -> list[str]:
    """The sampled parameters, whose diagnostics count (not a ``sigma_item`` fixed at 0)."""
    fixed = set() if data.item_effects else {"sigma_item"}
    return [v for v in idata.posterior.data_vars if v not in DERIVED | fixed]


def choice_verdict(
    task: str,
    comparison: pd.DataFrame,
    n_scales: int,
    skipped: list[str],
    late: LateCheck | None = None,
) -> str:
    """One paragraph saying which trend the data prefer and how firmly (as for generation tasks,
    in terms of the cross-entropy of the correct choice), and whether the largest sizes are a
    late jump in multiple-choice grade (``late``, :mod:`mirage_bayes.late_check`)."""
    parts = []
    main = pair(comparison, "power_law", "broken_power_law")
    if main is not None:
        parts.append(_sentence(task, main, "power_law", "broken_power_law"))
        better, diff, se = main
        if better == "power_law" or diff <= 2 * se:
            parts.append(
                "Nothing here requires a change in how the cross-entropy of the correct choice "
                "scales: a sharp rise in multiple-choice grade is what the smooth law predicts."
            )
        else:
            parts.append(
                "The cross-entropy of the correct choice itself changes its scaling within the "
                "range"
                + ("; the late-jump check below says whether the smaller sizes predicted it."
                   if late is not None else ".")
            )  # fmt: skip
    for trend in ("power_law", "broken_power_law"):
        versus = pair(comparison, trend, "scale_free")
        if versus is None:
            continue
        clear_loss = versus[0] == "scale_free" and versus[1] > 2 * versus[2]
        if main is None or clear_loss:
            parts.append(_sentence(task, versus, trend, "scale_free"))
        if clear_loss:
            parts.append(
                f"{NAMES[trend].capitalize()} misses how the task moves from size to size."
            )
    if skipped:
        names = " and ".join(t.replace("_", " ") for t in skipped)
        verb = "was" if len(skipped) == 1 else "were"
        parts.append(
            f"With {n_scales} model size{'s' if n_scales != 1 else ''}, {names} could not be "
            f"identified and {verb} not fitted."
        )
    if not parts:
        parts.append(f"Only the scale-free reference could be fitted to {task}.")
    if late is not None:
        parts.append(late.sentence(broken_clearly_better(main)))
    return " ".join(parts)


def _late_check(data: ChoiceTaskData, seed: int, log: Callable[[str], None]) -> LateCheck:
    """The late-jump check of a task's multiple-choice grade, chance = mean of 1/choices."""
    log(f"{data.task}: late-jump check of multiple-choice grade")
    chance = float(np.mean(1.0 / data.n_choices[data.observed]))
    return late_check_rows(
        data.task, data.rows, data.models, data.n_params, "mc_grade", chance=chance, seed=seed
    )


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def fit_choices(
    outputs: pd.DataFrame,
    *,
    trends: Sequence[str] = DEFAULT_TRENDS,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 2,
    seed: int = 0,
    progressbar: bool = True,
    log: Callable[[str], None] | None = _stderr,
) -> ChoiceFitResult:
    """Infer the probability on the correct choice per scale and compare trends in scale.

    Parameters
    ----------
    outputs
        A multiple-choice table from :func:`mirage_bayes.read_outputs` (or any frame
        :func:`mirage_bayes.choices.validate_choices` accepts; it is validated first then).
    trends
        Trends to fit besides the ``scale_free`` reference: ``power_law``, ``broken_power_law``.
    draws, tune, chains, seed, progressbar
        NUTS settings (:class:`mirage_bayes.inference.SamplerConfig`).
    log
        Receives one line per step (default: standard error); ``None`` for silence.

    Returns
    -------
    ChoiceFitResult
    """
    from mirage_bayes.fitting import file_sha256

    unknown = [t for t in trends if t not in TRENDS]
    if unknown:
        raise ValueError(f"unknown trend(s) {unknown}; choose from {sorted(TRENDS)}")
    if seed < 0:
        raise ValueError("seed must be a non-negative integer")
    log = log or (lambda _message: None)
    if outputs.attrs.get("kind") != "multiple_choice":
        outputs = validate_choices(outputs, str(outputs.attrs.get("source", "input")))
    tasks = split_choice_tasks(score_choices(outputs))
    config = SamplerConfig(
        draws=draws, tune=tune, chains=chains, seed=seed, progressbar=progressbar
    )
    idatas: dict[str, dict[str, az.InferenceData]] = {}
    comparisons, verdicts, warnings_, diagnostics, lates = [], {}, [], {}, {}
    for number, data in enumerate(tasks, start=1):
        wanted = list(dict.fromkeys(["scale_free", *trends]))
        fitted = [t for t in wanted if TRENDS[t].min_scales <= data.n_scales]
        skipped = [t for t in wanted if t not in fitted]
        for trend in skipped:
            warnings_.append(
                f"{data.task}: {trend} needs at least {TRENDS[trend].min_scales} model sizes, "
                f"the data have {data.n_scales}; it was not fitted"
            )
            log(f"warning: {warnings_[-1]}")
        idatas[data.task] = {}
        for trend in fitted:
            log(
                f"[task {number}/{len(tasks)}: {data.task}] sampling {trend} "
                f"({chains} chains × {tune} tune + {draws} draws)"
            )
            idata = sample_choice_trend(data, trend, config)
            idatas[data.task][trend] = idata
            diag = diagnose(idata, _sampled(idata, data))
            diagnostics[(data.task, trend)] = diag
            if not diag.ok:
                log(
                    f"warning: {data.task}, {trend}: sampler trouble — {'; '.join(diag.problems())}"
                )
        table = compare_trends(data.task, idatas[data.task])
        comparisons.append(table)
        late = _late_check(data, seed, log)
        lates[data.task] = late.to_dict()
        verdicts[data.task] = choice_verdict(data.task, table, data.n_scales, skipped, late)
    source = outputs.attrs.get("source")
    meta = {
        "kind": "multiple_choice",
        "input": source,
        "input_sha256": file_sha256(source) if source else None,
        "seed": seed,
        "draws": draws,
        "tune": tune,
        "chains": chains,
        "choices": sorted({int(k) for t in tasks for k in np.unique(t.n_choices[t.observed])}),
        "trends": list(trends),
        "late_check": lates,
        "warnings": warnings_,
    }
    return ChoiceFitResult(
        tasks=tasks,
        idatas=idatas,
        comparisons=comparisons,
        verdict_texts=verdicts,
        diagnostics_by_fit=diagnostics,
        meta=meta,
    )
