"""``fit``: scored outputs → posteriors of every identifiable trend, for every task."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from functools import partial

import pandas as pd

from mirage_bayes.fitting.attempts import unit_note
from mirage_bayes.fitting.choice import fit_choices
from mirage_bayes.fitting.data import TaskData, split_tasks
from mirage_bayes.fitting.inference import SamplerConfig, diagnose, sample_trend
from mirage_bayes.fitting.item_choice import auto_item_family, choose_item_families
from mirage_bayes.fitting.late_check import LateCheck, headline_length, late_check_rows
from mirage_bayes.fitting.result import FitResult
from mirage_bayes.fitting.trend_loop import KindSteps, run_trend_loop
from mirage_bayes.inputs.chance import chance_note, chance_summary
from mirage_bayes.inputs.scoring import score_outputs
from mirage_bayes.inputs.tables import file_sha256
from mirage_bayes.models import TRENDS
from mirage_bayes.models.item_families import ITEM_FAMILIES
from mirage_bayes.settings import DEFAULT_TRENDS, ITEM_CHOICES


def _late_check(data: TaskData, log: Callable[[str], None], *, seed: int) -> LateCheck:
    """The late-jump check of the exact-match curve of the task's headline target length."""
    rows = data.rows
    if "attempt" in rows:
        # The check counts items right out of items: attempts of one item are not independent
        # trials (they share its difficulty), so each item counts once, by its first attempt.
        rows = rows.drop_duplicates(["model", "item"], keep="first")
    # Counted attempts have no target length (the unit is the whole answer).
    length = None if "n_attempts" in rows else headline_length(rows, data.models)
    log(f"{data.task}: late-jump check of exact-match accuracy"
        + (f" (L = {length})" if length is not None else ""))  # fmt: skip
    return late_check_rows(
        data.task, rows, data.models, data.n_params, "exact_match", seed=seed, length=length
    )


def _sample(data: TaskData, trend: str, config: SamplerConfig, *, families: dict[str, str]):
    """One trend's fit of a task under the item family ``families`` gives the task."""
    return sample_trend(data, trend, config, items=families[data.task])


def _note(data: TaskData, source: str) -> str:
    """The task's note under its verdict: chance matches, then the unit counted attempts use."""
    return "; ".join(part for part in (chance_note(data, source), unit_note(data)) if part)


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
    ks: Sequence[int] = (),
    items: str = "auto",
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
        measured from the outputs (:mod:`mirage_bayes.inputs.chance`), or for pre-scored input taken
        from a ``chance`` column, else 0.
    ks
        Numbers of attempts ``k`` at which to report pass@k for a task whose items were
        attempted several times (rows with an ``attempt`` column); default 1, 2, 5, 10, ... up
        to the most attempts of an item (:mod:`mirage_bayes.fitting.attempts`).
    items
        How item difficulty is distributed: ``normal``, ``log_gamma`` (the generalized
        log-gamma, its skew learnt from the data and the normal at shape 0;
        :mod:`mirage_bayes.models.item_families`), whose hard-item tail decides how pass@k
        grows with ``k``, ``compare``: both, compared by LOO per task, each task keeping the
        better (:mod:`mirage_bayes.fitting.item_choice`), or ``auto`` (the default): per task,
        log-gamma with repeated attempts and normal without
        (:data:`~mirage_bayes.settings.AUTO_ITEM_FAMILIES`).

    Returns
    -------
    FitResult
        A :class:`~mirage_bayes.fitting.choice_result.ChoiceFitResult` for a multiple-choice table
        (``attrs["kind"] == "multiple_choice"`` or a ``choices_logprobs``/``choices_probs``
        column), fitted by :func:`mirage_bayes.fitting.choice.fit_choices`; ``lengths``,
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
    if items not in ITEM_CHOICES:
        raise ValueError(f"unknown item family {items!r}; choose from {list(ITEM_CHOICES)}")
    if seed < 0:
        raise ValueError("seed must be a non-negative integer")
    log = log or (lambda _message: None)
    scored = outputs if "exact_match" in outputs else None
    tokenizers: dict[str, str] = {}
    if scored is None:
        scored, tokenizers = score_outputs(outputs, tokenizer, chance=chance)
    tasks = split_tasks(scored)
    if ks and not any(t.has_attempts for t in tasks):
        log("--k applies to items attempted several times; every item here was attempted once, "
            "so no pass@k is reported")  # fmt: skip
    chance_sources = dict(scored.attrs.get("chance", {}))
    for data in tasks:
        chance_sources.setdefault(data.task, "column" if "chance" in scored else "none")
        log(f"{data.task}: {chance_note(data, chance_sources[data.task])}")
    config = SamplerConfig(
        draws=draws, tune=tune, chains=chains, seed=seed, progressbar=progressbar
    )
    task_items = {t.task: auto_item_family(t) if items == "auto" else items for t in tasks}
    for data in tasks:
        if items == "auto" and task_items[data.task] != "normal":
            family = task_items[data.task].replace("_", "-")
            log(f"{data.task}: repeated attempts, so item difficulty is {family} "
                "(--items normal to assume normal items)")  # fmt: skip
    if items == "compare":  # every task under each family in turn
        runs = {family: dict.fromkeys(task_items, family) for family in ITEM_FAMILIES}
    else:
        runs = {"as given": task_items}
    loops = {}
    for family, families in runs.items():
        if len(runs) > 1:
            log(f"item difficulty: the {family} family")
        steps = KindSteps(
            sample=partial(_sample, families=families),
            diagnose=lambda _data, idata: diagnose(idata),
            late_check=partial(_late_check, seed=seed),
        )
        loops[family] = run_trend_loop(tasks, trends, config, steps, log)
    loop, family_records = (
        choose_item_families(loops, tasks) if items == "compare" else (loops["as given"], [])
    )
    meta = {
        "input": outputs.attrs.get("source"),
        "input_sha256": file_sha256(outputs.attrs["source"]) if "source" in outputs.attrs else None,
        "tokenizers": tokenizers or {t.task: "prescored" for t in tasks},
        "choices": choices,
        "lengths": sorted({int(v) for v in lengths}),
        "ks": sorted({int(v) for v in ks}),
        "items": items,
        "task_items": {} if items == "compare" else task_items,
        "item_families": family_records,
        "chance": {
            t.task: chance_summary(t, chance_sources[t.task])
            | {"note": _note(t, chance_sources[t.task])}
            for t in tasks
        },
    } | loop.run_meta(config, trends)
    return FitResult(
        tasks=tasks,
        **loop.result_fields(),
        meta=meta,
    )
