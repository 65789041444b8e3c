"""The ``mirage-bayes meta`` subcommand (argument parsing only; the work is in :mod:`.meta`).

Module-level imports stay light so that ``--help`` and input errors answer at once.
"""

from __future__ import annotations

import argparse
import sys

from mirage_bayes.errors import EXIT_DIAGNOSTICS, InputError


def _threshold(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def add_parser(commands) -> None:
    """Add ``meta`` to the ``mirage-bayes`` subcommands."""
    from mirage_bayes.cli import _positive, _seed
    from mirage_bayes.emergence import DEFAULT_THRESHOLD
    from mirage_bayes.meta_fit import MetaConfig
    from mirage_bayes.meta_sources import SOURCES
    from mirage_bayes.meta_table import REPLICATES

    meta = commands.add_parser(
        "meta",
        help="multiple comparisons: which emergent-looking triplets survive a smooth law",
        description="For every (family, task, metric) in a table of aggregate results: whether "
        "the largest sizes jump beyond what a smooth scaling law fitted to the smaller sizes "
        "forecasts (late jump), the curve's class (late jump, smooth, saturating, flat, worse, "
        "irregular, too few sizes), how many late jumps a smooth law would produce by chance, "
        "and the paper's emergence score with its smooth-law p-value for comparability.",
    )
    meta.add_argument(
        "file",
        help="results table (.csv, .tsv, .parquet, .jsonl) with family, model, n_params, task, "
        "metric, score [, n_items, stderr, kind, higher_is_better, chance]; with --from, the "
        "data folder (lm-eval: a folder of results_*.json)",
    )
    meta.add_argument(
        "--from", dest="source", choices=sorted(SOURCES), default=None,
        help="read a known data set's folder and convert it to the table format",
    )  # fmt: skip
    meta.add_argument("--map", default=None, metavar="COLUMN=FILE_COLUMN,...",
                      help="rename table columns, e.g. family=model_family,score=acc")  # fmt: skip
    meta.add_argument("--x", default=None, metavar="COLUMN",
                      help="size axis: this column instead of n_params (e.g. FLOPs)")  # fmt: skip
    meta.add_argument("--pool-families", action="store_true",
                      help="one curve per task and metric across families (with --x)")  # fmt: skip
    meta.add_argument("--replicates", choices=REPLICATES, default="pool",
                      help="several rows per model, task and metric (seeds, prompts): pool their "
                      "items (default) or take their mean")  # fmt: skip
    meta.add_argument("--params", default=None, metavar="CSV",
                      help="with --from lm-eval: model sizes (CSV: model,n_params)")  # fmt: skip
    meta.add_argument("--chance-sensitivity", action="store_true",
                      help="also refit at chance 0: does the conclusion change?")  # fmt: skip
    meta.add_argument("--convert", default=None, metavar="CSV",
                      help="only write the (converted) table to CSV and stop")  # fmt: skip
    meta.add_argument("--out", default="meta_out", help="output folder (default: meta_out)")
    meta.add_argument(
        "--threshold", type=_threshold, default=DEFAULT_THRESHOLD,
        help=f"emergence-score threshold for 'emergent' (default: {DEFAULT_THRESHOLD:g})",
    )  # fmt: skip
    meta.add_argument("--seed", type=_seed, default=0, help="random seed (default: 0)")
    meta.add_argument("--draws", type=_positive, default=MetaConfig.draws,
                      help=f"draws per chain ({MetaConfig.draws})")  # fmt: skip
    meta.add_argument("--tune", type=_positive, default=MetaConfig.tune,
                      help=f"tuning steps per chain ({MetaConfig.tune})")  # fmt: skip
    meta.add_argument("--chains", type=_positive, default=MetaConfig.chains,
                      help=f"chains (default: {MetaConfig.chains})")  # fmt: skip
    meta.add_argument("--retries", type=int, choices=range(0, 4), default=MetaConfig.retries,
                      help="reruns of a fit that fails its diagnostics, each with twice the "
                      f"tuning and draws (default: {MetaConfig.retries})")  # fmt: skip
    meta.add_argument("--no-broken", action="store_true",
                      help="skip the broken power law and its LOO comparison (faster)")  # fmt: skip
    meta.add_argument("--workers", type=_positive, default=None,
                      help="local worker processes (default: number of cores)")  # fmt: skip
    meta.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="Dask scheduler address (tcp://host:port): run the triplets there",
    )
    meta.add_argument(
        "--force", action="store_true", help="replace an --out folder that mirage-bayes wrote"
    )
    meta.add_argument(
        "--strict",
        action="store_true",
        help="exit with code 3 when a smooth-law fit fails its diagnostics",
    )
    meta.add_argument("--quiet", action="store_true", help="no progress output")
    meta.set_defaults(handler=run)


def _table(args: argparse.Namespace):
    from pathlib import Path

    from mirage_bayes.meta_io import read_meta_table, triplets_from_frame
    from mirage_bayes.meta_table import parse_mapping

    options = {"mapping": parse_mapping(args.map) if args.map else None, "x": args.x,
               "pool_families": args.pool_families, "replicates": args.replicates}  # fmt: skip
    if args.params and args.source != "lm-eval":
        raise InputError("--params needs --from lm-eval", fix="give sizes in the table instead")
    if args.source:
        from mirage_bayes.meta_sources import load_source

        frame = load_source(args.source, args.file, params=args.params)
        assumed = frame.attrs.get("assumed_continuous")
        if assumed:
            print(f"note: metric(s) {', '.join(assumed)} read as continuous scores (the name "
                  "says neither proportion nor loss)", file=sys.stderr)  # fmt: skip
        if args.convert:
            _write_csv(frame, Path(args.convert), args.force)
            return None
        return triplets_from_frame(frame, name=f"{args.source} table from {args.file}", **options)
    triplets = read_meta_table(args.file, **options)
    if args.convert:
        raise InputError("--convert needs --from", fix="name the data set with --from")
    return triplets


def _write_csv(frame, path, force: bool) -> None:
    import os

    if path.exists() and not force:
        raise InputError("file exists", where=str(path), fix="pass --force to overwrite it")
    tmp = path.with_name(f".{path.name}.tmp")
    frame.to_csv(tmp, index=False)
    os.replace(tmp, path)
    print(f"wrote {len(frame)} rows to {path}")


def run(args: argparse.Namespace) -> int:
    """Run ``mirage-bayes meta``; returns the exit code."""
    from mirage_bayes.cli import progress_log, raise_if_interrupted
    from mirage_bayes.save import claim_destination

    if not args.convert:
        claim_destination(args.out, force=args.force, inputs=[args.file], command="meta")
    triplets = _table(args)
    if triplets is None:
        return 0
    from mirage_bayes.meta import analyse
    from mirage_bayes.meta_fit import MetaConfig
    from mirage_bayes.meta_report import save_meta, verdict

    config = MetaConfig(draws=args.draws, tune=args.tune, chains=args.chains, seed=args.seed,
                        threshold=args.threshold, broken=not args.no_broken,
                        retries=args.retries)  # fmt: skip
    log = progress_log(args.quiet)  # also stops the run after a swallowed Ctrl-C
    result = analyse(triplets, config, workers=args.workers, scheduler=args.scheduler,
                     progress=not args.quiet, log=log,
                     chance_sensitivity=args.chance_sensitivity)  # fmt: skip
    result.meta["input"] = str(args.file)
    if args.source:
        result.meta["source"] = args.source
    raise_if_interrupted()
    out = save_meta(result, args.out, force=args.force)
    s = result.summary
    print(verdict(s))
    print(f"results in {out} (report: {out / 'meta_report.html'})")
    for line in s["warnings"]:
        print(f"warning: {line}", file=sys.stderr)
    if s["n_smooth_diagnostics_failed"] and args.strict:
        return EXIT_DIAGNOSTICS
    return 0
