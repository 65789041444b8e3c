"""``mirage-bayes fit``: read the outputs, fit, save, print the verdicts."""

from __future__ import annotations

import argparse
import sys

from mirage_bayes.cli.args import sampler_settings
from mirage_bayes.cli.checks import refuse_generation_options
from mirage_bayes.cli.runtime import progress_log, save_and_report
from mirage_bayes.errors import EXIT_DIAGNOSTICS, InputError
from mirage_bayes.fitting.generation import fit
from mirage_bayes.inputs.scoring import resolve_tokenizer
from mirage_bayes.inputs.sources import read_inputs
from mirage_bayes.output.destination import claim_destination

__all__ = ["run"]


def run(args: argparse.Namespace) -> int:
    """Fit every task, write the results and print one verdict per task."""
    if args.choices < 2:
        raise InputError("--choices must be at least 2", fix="give the number of options K")
    try:
        # Checked before reading the table: pre-scored input skips scoring, so a bad spec went
        # unnoticed there (found by tests/inputs/test_malformed_inputs.py).
        resolve_tokenizer(args.tokenizer, ())
    except InputError as error:
        error.where = "--tokenizer"
        raise
    inputs = [*args.file, args.params]
    claim_destination(args.out, force=args.force, inputs=inputs, command="fit")  # until main ends
    outputs = read_inputs(
        args.file, params=args.params, param_column=args.param_column, mapping=args.map,
        size_count=args.size_count, tasks=args.tasks, lm_eval_filter=args.lm_eval_filter,
    )  # fmt: skip
    if outputs.attrs.get("kind") == "multiple_choice":
        refuse_generation_options(args, outputs.attrs.get("source") or args.file[0])
    log = progress_log(args.quiet)
    ignored = outputs.attrs.get("ignored_columns")
    if ignored:  # printed even with --quiet: it is about the data, not progress
        print(f"note: columns {' and '.join(ignored)} are ignored: the counts are scored anew "
              "from target and output", file=sys.stderr)  # fmt: skip
    result = fit(
        outputs,
        trends=args.trends,
        lengths=args.lengths,
        choices=args.choices,
        tokenizer=args.tokenizer,
        chance=args.chance,
        ks=args.k,
        items=args.items,
        **sampler_settings(args),
        progressbar=not args.quiet,
        log=log,
    )
    _, clean = save_and_report(
        result, args, fits="fit(s)", where="the report's warnings and summary.json"
    )
    if not clean and args.strict:
        return EXIT_DIAGNOSTICS
    return 0
