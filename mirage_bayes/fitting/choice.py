"""Fitting multiple-choice tasks: per-item metrics → posteriors of every trend → LOO comparison.

:func:`fit_choices` is what :func:`mirage_bayes.fit` runs for a multiple-choice table
(``attrs["kind"] == "multiple_choice"``). The model is :mod:`mirage_bayes.models.choice`; the
sampler settings, seed scheme, diagnostics policy and LOO comparison are those of generation
tasks.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from functools import partial

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr

from mirage_bayes.fitting.choice_data import ChoiceTaskData, split_choice_tasks
from mirage_bayes.fitting.choice_result import ChoiceFitResult
from mirage_bayes.fitting.comparison import CHOICE_WORDING
from mirage_bayes.fitting.inference import (
    Diagnostics,
    SamplerConfig,
    diagnose,
    fit_attrs,
    run_nuts,
    seed_for,
    stacked,
)
from mirage_bayes.fitting.late_check import LateCheck, late_check_rows
from mirage_bayes.fitting.trend_loop import KindSteps, run_trend_loop
from mirage_bayes.inputs.choices import score_choices, validate_choices
from mirage_bayes.inputs.tables import file_sha256
from mirage_bayes.models import TRENDS
from mirage_bayes.models.choice import (
    build_choice_model,
    item_log_likelihood,
    posterior_predictive_log_ce,
)
from mirage_bayes.settings import DEFAULT_TRENDS


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
    seed = seed_for(config, data, trend_name)  # the generation fits' scheme: per task and trend
    idata = run_nuts(model, config, seed)
    if "sigma_item" not in idata.posterior:
        # One spread set for every fit keeps the downstream code free of special cases.
        idata.posterior["sigma_item"] = xr.zeros_like(idata.posterior["sigma_obs"])
    _add_item_groups(idata, data, np.random.default_rng(seed + 1))
    idata.attrs.update(
        fit_attrs("multiple_choice", trend_name, data, config)
        | {"item_effects": int(data.item_effects)}
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


def _diagnose(data: ChoiceTaskData, idata: az.InferenceData) -> Diagnostics:
    return diagnose(idata, _sampled(idata, data))


def _sampled(idata: az.InferenceData, data: ChoiceTaskData) -> list[str]:
    """What the diagnostics look at: every result is computed from ``mu`` (the mean ``log L_CE``
    at each observed size) and the spreads (not a ``sigma_item`` fixed at 0).

    The trend's own parameters are left out: where a size sits at the chance level the skill
    ``η`` may take any value above a threshold (a guess is a guess), so the scale-free level of
    that size, or a break in the broken law, wanders within its prior without changing ``mu``.
    """
    spreads = ["sigma_obs", "sigma_item"] if data.item_effects else ["sigma_obs"]
    return ["mu", *spreads]


def _late_check(data: ChoiceTaskData, log: Callable[[str], None], *, seed: int) -> LateCheck:
    """The late-jump check of a task's multiple-choice grade, chance = mean of 1/choices."""
    log(f"{data.task}: late-jump check of multiple-choice grade")
    chance = data.chance
    return late_check_rows(
        data.task, data.rows, data.models, data.n_params, "mc_grade", chance=chance, seed=seed
    )


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# Keyword options as fit's, listed in full so that help() shows them; fit hands them on.
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
        :func:`mirage_bayes.inputs.choices.validate_choices` accepts; it is validated first then).
    trends
        Trends to fit besides the ``scale_free`` reference: ``power_law``, ``broken_power_law``.
    draws, tune, chains, seed, progressbar
        NUTS settings (:class:`mirage_bayes.fitting.inference.SamplerConfig`).
    log
        Receives one line per step (default: standard error); ``None`` for silence.

    Returns
    -------
    ChoiceFitResult
    """

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
    # A curve resting at the chance level leaves the skill free above it, and the level of a
    # whole curve moves with the mean item difficulty: both are cured by longer chains, not by
    # a different model, so every failure is refitted longer.
    steps = KindSteps(
        sample=sample_choice_trend,
        diagnose=_diagnose,
        late_check=partial(_late_check, seed=seed),
        longer=True,
        wording=CHOICE_WORDING,
    )
    loop = run_trend_loop(tasks, trends, config, steps, log)
    source = outputs.attrs.get("source")
    meta = {
        "kind": "multiple_choice",
        "input": source,
        "input_sha256": file_sha256(source) if source else None,
        "choices": sorted({int(k) for t in tasks for k in np.unique(t.n_choices[t.observed])}),
    } | loop.run_meta(config, trends)
    return ChoiceFitResult(
        tasks=tasks,
        **loop.result_fields(),
        meta=meta,
    )
