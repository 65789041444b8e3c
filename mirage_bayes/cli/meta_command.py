"""``mirage-bayes meta``: read or convert the table, analyse every triplet, save the report
(the work is in :mod:`mirage_bayes.meta.run`)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from mirage_bayes.cli.checks import probe_folder, refuse_existing, refuse_foreign_table
from mirage_bayes.cli.runtime import progress_log, raise_if_interrupted
from mirage_bayes.errors import EXIT_DIAGNOSTICS, InputError
from mirage_bayes.meta.fit import MetaConfig
from mirage_bayes.meta.io import read_meta_table, triplets_from_frame
from mirage_bayes.meta.report import save_meta, verdict
from mirage_bayes.meta.run import analyse
from mirage_bayes.meta.sources import load_source
from mirage_bayes.meta.table import parse_mapping
from mirage_bayes.output.destination import claim_destination

__all__ = ["run"]


def _table(args: argparse.Namespace):
    options = {"mapping": parse_mapping(args.map) if args.map else None, "x": args.x,
               "pool_families": args.pool_families, "replicates": args.replicates}  # fmt: skip
    if args.params and args.source not in ("lm-eval", "logs"):
        raise InputError(
            "--params needs --from lm-eval or --from logs", fix="give sizes in the table instead"
        )
    if args.source:
        frame = load_source(args.source, args.file, params=args.params)
        assumed = frame.attrs.get("assumed_continuous")
        if assumed:
            print(f"note: metric(s) {', '.join(assumed)} read as continuous scores (the name "
                  "says neither proportion nor loss)", file=sys.stderr)  # fmt: skip
        if args.convert:
            _write_csv(frame, Path(args.convert), args.force, inputs=[args.file, args.params])
            return None
        return triplets_from_frame(frame, name=f"{args.source} table from {args.file}", **options)
    triplets = read_meta_table(args.file, **options)
    if args.convert:
        raise InputError("--convert needs --from", fix="name the data set with --from")
    return triplets


def _write_csv(frame, path, force: bool, inputs) -> None:
    refuse_foreign_table(path, list(frame.columns), force=force, inputs=[i for i in inputs if i])
    tmp = path.with_name(f".{path.name}.tmp")
    frame.to_csv(tmp, index=False)
    os.replace(tmp, path)
    print(f"wrote {len(frame)} rows to {path}")


def run(args: argparse.Namespace) -> int:
    """Run ``mirage-bayes meta``; returns the exit code."""
    if args.convert:
        # Refused before the (slow) conversion, not after it.
        convert = Path(args.convert)
        refuse_existing(convert, force=args.force)
        probe_folder(convert.parent, str(convert))
    else:
        claim_destination(args.out, force=args.force, inputs=[args.file], command="meta")
    triplets = _table(args)
    if triplets is None:
        return 0
    if not any(len(t.n_params) >= 2 for t in triplets):
        raise InputError(
            f"no curve has 2 model sizes or more ({len(triplets)} curve(s), each at one size): "
            "there is nothing to analyse",
            where=str(args.file),
            fix="give each (family, task, metric) scores at several model sizes",
        )
    config = MetaConfig(draws=args.draws, tune=args.tune, chains=args.chains, seed=args.seed,
                        threshold=args.threshold, broken=not args.no_broken,
                        retries=args.retries, late_alpha=args.late_alpha)  # fmt: skip
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
