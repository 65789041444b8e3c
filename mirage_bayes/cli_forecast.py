"""``mirage-bayes forecast``: leave-future-out forecasts of the larger models from the smaller.

Imports stay light at module level (no PyMC): ``--help`` and input errors stay fast.
"""

from __future__ import annotations

import argparse
import sys


def add_parser(commands) -> None:
    """Add the ``forecast`` subcommand to the ``mirage-bayes`` subparsers."""
    from mirage_bayes.cli import _chains, _draws, _int_list, _positive, _seed, _trend_list

    forecast = commands.add_parser(
        "forecast",
        help="refit on the smaller models and forecast the larger ones",
        description="Was the jump foreseeable? For every task and trend, refit on the k "
        "smallest model sizes and forecast every larger one, for k from the fewest sizes the "
        "trend needs up to all but one; compare the forecasts of ε, accuracy and token edit "
        "distance with what the larger models did. Writes forecast.csv, "
        "forecast_diagnostics.csv, forecast.json and forecast_<task>.png.",
    )
    forecast.add_argument("file", help="outputs table: .csv, .tsv, .parquet or .jsonl")
    forecast.add_argument(
        "--out", default="mirage_forecast", help="output folder (default: mirage_forecast)"
    )
    forecast.add_argument("--seed", type=_seed, default=0, help="random seed (default: 0)")
    forecast.add_argument("--draws", type=_draws, default=1000, help="draws per chain (1000)")
    forecast.add_argument(
        "--tune", type=_positive, default=1000, help="tuning steps per chain (1000)"
    )
    forecast.add_argument("--chains", type=_chains, default=2, help="chains (default: 2)")
    forecast.add_argument(
        "--tokenizer", default="auto", help="auto | char | whitespace | regex:PATTERN (auto)"
    )
    forecast.add_argument(
        "--lengths", type=_int_list, default=[], help="extra target lengths, e.g. 1,2,5"
    )
    forecast.add_argument(
        "--trends",
        type=_trend_list,
        default=["power_law", "broken_power_law"],
        help="trends to refit (default: power_law,broken_power_law)",
    )
    forecast.add_argument(
        "--force", action="store_true", help="replace an --out folder that mirage-bayes wrote"
    )
    forecast.add_argument("--quiet", action="store_true", help="no progress output")
    forecast.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run the forecasts, write the files and print one verdict per task."""
    from mirage_bayes.cli import progress_log, raise_if_interrupted
    from mirage_bayes.errors import InputError
    from mirage_bayes.forecast import forecast
    from mirage_bayes.io import read_outputs
    from mirage_bayes.save import claim_destination
    from mirage_bayes.scoring import resolve_tokenizer

    try:
        resolve_tokenizer(args.tokenizer, ())
    except InputError as error:
        error.where = "--tokenizer"
        raise
    if args.trends == ["scale_free"]:
        raise InputError(
            "scale_free has no trend to extrapolate",
            where="--trends",
            fix="choose power_law and/or broken_power_law",
        )
    claim_destination(args.out, force=args.force, inputs=[args.file], command="forecast")
    outputs = read_outputs(args.file)
    log = progress_log(args.quiet)  # also stops the run after a swallowed Ctrl-C
    result = forecast(
        outputs,
        trends=args.trends,
        lengths=args.lengths,
        tokenizer=args.tokenizer,
        draws=args.draws,
        tune=args.tune,
        chains=args.chains,
        seed=args.seed,
        log=log,
    )
    raise_if_interrupted()
    out = result.save(args.out, force=args.force)
    for task, text in result.verdicts().items():
        print(f"{task}: {text}")
    print(f"results in {out} (forecast.csv, forecast_diagnostics.csv, figures)")
    if not result.ok:
        problems = result.diagnostics().query("not ok")
        print(
            f"warning: sampler diagnostics failed for {len(problems)} refit(s); "
            "see forecast_diagnostics.csv",
            file=sys.stderr,
        )
    return 0
