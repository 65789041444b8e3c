"""``mirage-bayes forecast``: leave-future-out forecasts of the larger models from the smaller."""

from __future__ import annotations

import argparse

from mirage_bayes.cli.args import sampler_settings
from mirage_bayes.cli.runtime import progress_log, save_and_report
from mirage_bayes.errors import InputError
from mirage_bayes.forecast.run import forecast
from mirage_bayes.inputs.scoring import resolve_tokenizer
from mirage_bayes.inputs.sources import read_inputs
from mirage_bayes.output.destination import claim_destination
from mirage_bayes.settings import REFERENCE_TREND

__all__ = ["run"]


def run(args: argparse.Namespace) -> int:
    """Run the forecasts, write the files and print one verdict per task."""
    try:
        resolve_tokenizer(args.tokenizer, ())
    except InputError as error:
        error.where = "--tokenizer"
        raise
    if args.trends == [REFERENCE_TREND]:
        raise InputError(
            "scale_free has no trend to extrapolate",
            where="--trends",
            fix="choose power_law and/or broken_power_law",
        )
    claim_destination(args.out, force=args.force, inputs=[args.file], command="forecast")
    # The front door of fit: every input fit reads, forecast reads too.
    outputs = read_inputs(args.file, params=args.params, tasks=args.tasks)
    log = progress_log(args.quiet)  # also stops the run after a swallowed Ctrl-C
    result = forecast(
        outputs,
        trends=args.trends,
        lengths=args.lengths,
        tokenizer=args.tokenizer,
        **sampler_settings(args),
        log=log,
    )
    save_and_report(result, args, fits="refit(s)", where="forecast_diagnostics.csv")
    return 0
