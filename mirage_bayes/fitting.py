"""``fit``: scored outputs → posteriors of every identifiable trend, for every task."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from functools import partial

import arviz as az
import pandas as pd

from mirage_bayes.chance import chance_note, chance_summary
from mirage_bayes.choice_fit import fit_choices
from mirage_bayes.comparison import compare_trends, verdict
from mirage_bayes.data import split_tasks
from mirage_bayes.inference import (
    SamplerConfig,
    diagnose,
    sample_trend,
    sample_until_clean,
    skipped_note,
    trends_for,
)
from mirage_bayes.late_check import headline_length, late_check_rows
from mirage_bayes.models import TRENDS
from mirage_bayes.result import FitResult
from mirage_bayes.scoring import score_outputs
from mirage_bayes.tables import file_sha256

DEFAULT_TRENDS = ("power_law", "broken_power_law")


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def fit(
    outputs: pd.DataFrame,
    *,
    trends: Sequence[str] = DEFAULT_TRENDS,
    lengths: Sequence[int] = (),
    choices: int = 2,
    tokenizer: str = "auto",
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 2,
    seed: int = 0,
    progressbar: bool = True,
    log: Callable[[str], None] | None = _stderr,
    chance: float | None = None,
) -> FitResult:
    """Infer the per-token error rate of every model size and compare trends in scale.

    Parameters
    ----------
    outputs
        Per-item outputs from :func:`mirage_bayes.read_outputs` (scored or not).
    trends
        Trends to fit besides the ``scale_free`` reference: ``power_law``, ``broken_power_law``.
    lengths
        Target lengths (tokens) at which to report accuracy and edit distance, in addition to
        those present in the data.
    choices
        ``K`` of the K-way choice behind the Brier transform.
    tokenizer
        ``auto``, ``char``, ``whitespace`` or ``regex:PATTERN`` (ignored for pre-scored input).
    draws, tune, chains, seed
        NUTS settings; the same seed gives the same draws.
    progressbar
        Show PyMC's progress bar.
    log
        Receives one line per step (default: standard error); ``None`` for silence.
    chance
        Chance-match rate ``g`` for every task, size and length, in ``[0, 1)``; by default
        measured from the outputs (:mod:`mirage_bayes.chance`), or for pre-scored input taken
        from a ``chance`` column, else 0.

    Returns
    -------
    FitResult
        A :class:`~mirage_bayes.choice_result.ChoiceFitResult` for a multiple-choice table
        (``attrs["kind"] == "multiple_choice"`` or a ``choices_logprobs``/``choices_probs``
        column), fitted by :func:`mirage_bayes.choice_fit.fit_choices`; ``lengths``,
        ``choices`` and ``tokenizer`` do not apply there.
    """
    if outputs.attrs.get("kind") == "multiple_choice" or {
        "choices_logprobs", "choices_probs"
    } & set(outputs.columns):  # fmt: skip
        return fit_choices(
            outputs, trends=trends, draws=draws, tune=tune, chains=chains, seed=seed,
            progressbar=progressbar, log=log,
        )  # fmt: skip
    unknown = [t for t in trends if t not in TRENDS]
    if unknown:
        raise ValueError(f"unknown trend(s) {unknown}; choose from {sorted(TRENDS)}")
    if choices < 2:
        raise ValueError("choices must be at least 2")
    if seed < 0:
        raise ValueError("seed must be a non-negative integer")
    log = log or (lambda _message: None)
    scored = outputs if "exact_match" in outputs else None
    tokenizers: dict[str, str] = {}
    if scored is None:
        scored, tokenizers = score_outputs(outputs, tokenizer, chance=chance)
    tasks = split_tasks(scored)
    chance_sources = dict(scored.attrs.get("chance", {}))
    for data in tasks:
        chance_sources.setdefault(data.task, "column" if "chance" in scored else "none")
        log(f"{data.task}: {chance_note(data, chance_sources[data.task])}")
    config = SamplerConfig(
        draws=draws, tune=tune, chains=chains, seed=seed, progressbar=progressbar
    )
    idatas: dict[str, dict[str, az.InferenceData]] = {}
    comparisons, verdicts, warnings_, diagnostics, lates = [], {}, [], {}, {}
    refits: list[str] = []  # fits rerun after divergences (not silent, not failures)
    for number, data in enumerate(tasks, start=1):
        fitted, skipped = trends_for(data.n_scales, trends)
        for trend in skipped:
            warnings_.append(skipped_note(data.task, trend, data.n_scales))
            log(f"warning: {warnings_[-1]}")
        idatas[data.task] = {}
        for trend in fitted:
            log(
                f"[task {number}/{len(tasks)}: {data.task}] sampling {trend} "
                f"({chains} chains × {tune} tune + {draws} draws)"
            )
            # Divergences bias the draws: refit with smaller steps (same draws) before
            # reporting them; other shortfalls are reported as they are.
            idata, diag, notes = sample_until_clean(
                partial(sample_trend, data, trend), diagnose, config,
                f"{data.task}, {trend}", log, longer=False,
            )  # fmt: skip
            refits.extend(notes)
            idatas[data.task][trend] = idata
            diagnostics[(data.task, trend)] = diag
            if not diag.ok:
                # Reported from the diagnostics table in the report and summary.json.
                log(
                    f"warning: {data.task}, {trend}: sampler trouble — {'; '.join(diag.problems())}"
                )
        table = compare_trends(data.task, idatas[data.task])
        comparisons.append(table)
        length = headline_length(data.rows, data.models)
        log(f"{data.task}: late-jump check of exact-match accuracy (L = {length})")
        late = late_check_rows(
            data.task, data.rows, data.models, data.n_params, "exact_match", seed=seed,
            length=length,
        )  # fmt: skip
        lates[data.task] = late.to_dict()
        trouble = [t for t in fitted if not diagnostics[(data.task, t)].ok]
        verdicts[data.task] = verdict(
            data.task, table, data.n_scales, skipped, late.sentence,
            no_signal=data.no_signal(), trouble=trouble,
        )  # fmt: skip
    meta = {
        "input": outputs.attrs.get("source"),
        "input_sha256": file_sha256(outputs.attrs["source"]) if "source" in outputs.attrs else None,
        "tokenizers": tokenizers or {t.task: "prescored" for t in tasks},
        "seed": seed,
        "draws": draws,
        "tune": tune,
        "chains": chains,
        "choices": choices,
        "trends": list(trends),
        "lengths": sorted({int(v) for v in lengths}),
        "chance": {
            t.task: chance_summary(t, chance_sources[t.task])
            | {"note": chance_note(t, chance_sources[t.task])}
            for t in tasks
        },
        "late_check": lates,
        "warnings": warnings_,
        "refits": refits,
    }
    return FitResult(
        tasks=tasks,
        idatas=idatas,
        comparisons=comparisons,
        verdict_texts=verdicts,
        diagnostics_by_fit=diagnostics,
        meta=meta,
    )
