"""The task × trend loop that every kind of fit runs: sample each identifiable trend of each
task (refitting after sampler trouble), compare them by LOO, run the late-jump check and word
the verdict. A kind of data supplies how to sample, diagnose and check one task; the loop is the
same for generations (:func:`mirage_bayes.fit`) and multiple choice
(:func:`mirage_bayes.fit_choices`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import arviz as az
import pandas as pd

from mirage_bayes.fitting.comparison import GENERATION_WORDING, Wording, compare_trends, verdict
from mirage_bayes.fitting.inference import (
    Diagnostics,
    SamplerConfig,
    sample_until_clean,
    skipped_note,
    trends_for,
)
from mirage_bayes.fitting.late_check import LateCheck

__all__ = ["KindSteps", "TrendLoop", "run_trend_loop"]


@dataclass(frozen=True)
class KindSteps:
    """How one kind of data is sampled, diagnosed and checked.

    ``sample(data, trend, config)`` returns an InferenceData; ``diagnose(data, idata)`` its
    :class:`~mirage_bayes.fitting.inference.Diagnostics`; ``late_check(data, log)`` the task's
    late-jump check. ``longer`` refits a fit that fails any check with longer chains (not only
    one with divergences with smaller steps); ``wording`` names the kind's quantities in the
    verdict.
    """

    sample: Callable[[Any, str, SamplerConfig], az.InferenceData]
    diagnose: Callable[[Any, az.InferenceData], Diagnostics]
    late_check: Callable[[Any, Callable[[str], None]], LateCheck]
    longer: bool = False
    wording: Wording = GENERATION_WORDING


@dataclass
class TrendLoop:
    """What the loop produced, in the fields a fit result is built from."""

    idatas: dict[str, dict[str, az.InferenceData]] = field(default_factory=dict)
    comparisons: list[pd.DataFrame] = field(default_factory=list)
    verdicts: dict[str, str] = field(default_factory=dict)
    diagnostics: dict[tuple[str, str], Diagnostics] = field(default_factory=dict)
    late_checks: dict[str, dict] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    refits: list[str] = field(default_factory=list)  # fits rerun (not silent, not failures)

    def run_meta(self, config: SamplerConfig, trends: Sequence[str]) -> dict:
        """What every kind records of the run in ``summary.json``: the sampler settings and
        what the loop found."""
        return {
            "seed": config.seed, "draws": config.draws, "tune": config.tune,
            "chains": config.chains, "trends": list(trends), "late_check": self.late_checks,
            "warnings": self.warnings, "refits": self.refits,
        }  # fmt: skip

    def result_fields(self) -> dict:
        """The keyword arguments every kind's result class takes from the loop."""
        return {
            "idatas": self.idatas, "comparisons": self.comparisons,
            "verdict_texts": self.verdicts, "diagnostics_by_fit": self.diagnostics,
        }  # fmt: skip


def run_trend_loop(
    tasks: Sequence[Any],
    trends: Sequence[str],
    config: SamplerConfig,
    steps: KindSteps,
    log: Callable[[str], None],
) -> TrendLoop:
    """Fit every identifiable trend (and the scale-free reference) to every task."""
    out = TrendLoop()
    for number, data in enumerate(tasks, start=1):
        fitted, skipped = trends_for(data.n_scales, trends)
        for trend in skipped:
            out.warnings.append(skipped_note(data.task, trend, data.n_scales))
            log(f"warning: {out.warnings[-1]}")
        out.idatas[data.task] = {}
        for trend in fitted:
            log(
                f"[task {number}/{len(tasks)}: {data.task}] sampling {trend} "
                f"({config.chains} chains × {config.tune} tune + {config.draws} draws)"
            )
            # Divergences bias the draws: refit with smaller steps before reporting them.
            idata, diag, notes = sample_until_clean(
                partial(steps.sample, data, trend), partial(steps.diagnose, data), config,
                f"{data.task}, {trend}", log, longer=steps.longer,
            )  # fmt: skip
            out.refits.extend(notes)
            out.idatas[data.task][trend] = idata
            out.diagnostics[(data.task, trend)] = diag
            if not diag.ok:
                # Reported from the diagnostics table in the report and summary.json.
                problems = "; ".join(diag.problems())
                log(f"warning: {data.task}, {trend}: sampler trouble — {problems}")
        table = compare_trends(data.task, out.idatas[data.task])
        out.comparisons.append(table)
        late = steps.late_check(data, log)
        out.late_checks[data.task] = late.to_dict()
        trouble = [t for t in fitted if not out.diagnostics[(data.task, t)].ok]
        out.verdicts[data.task] = verdict(
            data.task, table, data.n_scales, skipped, late.sentence, steps.wording,
            no_signal=data.no_signal(), trouble=trouble,
        )  # fmt: skip
    return out
