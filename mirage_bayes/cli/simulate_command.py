"""``mirage-bayes simulate``: write an outputs table simulated from the paper's model."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

from mirage_bayes.cli.checks import (
    probe_folder,
    refuse_existing,
    refuse_foreign_table,
    write_tables,
)
from mirage_bayes.errors import InputError
from mirage_bayes.simulate.generation import GPT3_SIZES, Break, simulate_outputs

__all__ = ["run"]

# Keyword options of simulate_outputs that say how produced tokens are rendered as text.
_RENDER_RATES = ("insert_rate", "delete_rate", "echo_rate", "empty_rate", "truncate_rate")


def run(args: argparse.Namespace) -> int:
    """Simulate, check the destination files and write them."""
    scales = GPT3_SIZES
    if args.scales:
        try:
            scales = tuple(float(v) for v in args.scales.split(","))
        except ValueError:
            raise InputError(
                "--scales must be comma-separated numbers such as 1.3e9,6.7e9"
            ) from None
        # `0 < v < inf` is also false for NaN, which wrote a table with a model "nan".
        bad = [v for v in scales if not 0 < v < np.inf]
        if bad:
            raise InputError(
                f"--scales holds {bad[0]:g}, not a positive parameter count",
                fix="give finite sizes above 0 such as 1.3e9,6.7e9",
            )
    checks = {
        "--c": (args.c, 0 < args.c < np.inf, "a positive parameter count such as 3e8"),
        "--alpha": (args.alpha, np.isfinite(args.alpha), "a finite exponent such as -0.6"),
        "--sigma-item": (args.sigma_item, 0 <= args.sigma_item < np.inf, "a finite sd ≥ 0"),
    }
    rates = {name: getattr(args, name) for name in _RENDER_RATES}
    for name, value in rates.items():
        # `0 <= value <= 1` is also false for NaN.
        checks["--" + name.replace("_", "-")] = (value, 0 <= value <= 1, "a probability in [0, 1]")
    if args.break_slope is not None and args.break_at is None:
        raise InputError(
            "--break-slope without --break-at simulates no break",
            fix="give --break-at, the size where the slope changes",
        )
    if args.break_at is not None:
        args.break_slope = -1.0 if args.break_slope is None else args.break_slope
        checks["--break-at"] = (args.break_at, 0 < args.break_at < np.inf, "a positive size")
        checks["--break-slope"] = (args.break_slope, np.isfinite(args.break_slope), "a number")
    for flag, (value, ok, fix) in checks.items():
        if not ok:
            raise InputError(f"{flag} {value} is impossible", fix=f"give {fix}")
    if args.echo_rate + args.empty_rate > 1:
        raise InputError(
            f"--echo-rate {args.echo_rate} plus --empty-rate {args.empty_rate} exceeds 1",
            fix="give rates that sum to at most 1 (both apply to the same all-wrong outputs)",
        )
    out = Path(args.out)
    targets = [out] + ([Path(args.truth)] if args.truth else [])
    if args.truth and Path(os.path.abspath(args.truth)) == Path(os.path.abspath(out)):
        raise InputError(
            "--truth names the --out file, which the truth table would replace",
            where=str(out),
            fix="give --truth another file name",
        )
    if len(set(scales)) < len(scales):
        raise InputError(
            "--scales names a size twice, which would give each item two rows for one model",
            fix="give each size once",
        )
    for path in targets:
        refuse_existing(path, force=args.force)
        if path.suffix.lower() not in {".csv", ".parquet", ".jsonl"}:
            raise InputError(
                "unsupported file type", where=str(path), fix="use .csv, .parquet or .jsonl"
            )
        probe_folder(path.parent, str(path))
    brk = Break(args.break_at, args.break_slope) if args.break_at is not None else None
    outputs, truth = simulate_outputs(
        n_params=scales, c=args.c, alpha=args.alpha, n_items=args.items, lengths=args.lengths,
        sigma_item=args.sigma_item, brk=brk, task=args.task, seed=args.seed,
        operation=args.operation, attempts=args.attempts, **rates,
    )  # fmt: skip
    tables = {out: outputs, **({Path(args.truth): truth} if args.truth else {})}
    for path, table in tables.items():
        refuse_foreign_table(path, list(table.columns), force=args.force)
    write_tables(tables)
    print(f"wrote {len(outputs)} rows to {out}")
    return 0
