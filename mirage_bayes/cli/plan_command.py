"""``mirage-bayes plan``: how many test items each model size needs.

``mirage-bayes plan FIT_DIR`` reads a saved fit (its posterior netCDF files, no refit);
``mirage-bayes plan --epsilon 0.3,0.1,0.02 --length 5`` plans for hypothetical scales given by
their per-token error rate. Both print an aligned table and write ``plan.csv`` and ``plan.png``.
"""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING

from mirage_bayes.errors import InputError
from mirage_bayes.output.marker import record_written
from mirage_bayes.plan.design import (
    PLAN_COLUMNS,
    format_plan,
    plan_for_resolution,
    plan_from_epsilon,
    plan_from_fit,
    plot_plan,
)
from mirage_bayes.settings import VERSION

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = ["run", "write_plan"]


def _check(args: argparse.Namespace) -> None:
    """Every input problem as one InputError, before any work."""
    given = [v for v in (args.fit_dir, args.epsilon, args.resolve) if v is not None]
    if len(given) != 1:
        raise InputError(
            "give either a fit folder or --epsilon or --resolve, exactly one",
            fix="e.g. mirage-bayes plan mirage_out, or mirage-bayes plan --epsilon 0.3,0.1 "
            "--length 5, or mirage-bayes plan --resolve 1e-3 --length 5 --items 100",
        )
    if not 0 < args.prob < 1:
        raise InputError(f"--prob {args.prob} is impossible", fix="give a probability in (0, 1)")
    if not 0 < args.halfwidth < 0.5:
        raise InputError(
            f"--halfwidth {args.halfwidth} is impossible", fix="give a half-width in (0, 0.5)"
        )
    if args.resolve is not None:
        _check_resolve(args)
        return
    if args.epsilon is None:
        for flag, value in (("--n-params", args.n_params), ("--sigma-item", args.sigma_item)):
            if value:
                raise InputError(f"{flag} only applies with --epsilon or --resolve",
                                 fix=f"drop {flag}")  # fmt: skip
        return
    if args.trend is not None:
        raise InputError("--trend only applies with a fit folder", fix="drop --trend")
    if any(not 0 < e < 1 for e in args.epsilon):
        raise InputError(
            "values must lie strictly between 0 and 1",
            where="--epsilon",
            fix="give per-token error rates such as 0.3,0.1,0.02",
        )
    if not args.lengths:
        raise InputError("--epsilon needs target lengths", fix="add e.g. --length 5")
    if not (math.isfinite(args.sigma_item) and args.sigma_item >= 0):
        raise InputError(f"--sigma-item {args.sigma_item} is impossible", fix="give an sd ≥ 0")
    if args.n_params is not None:
        if len(args.n_params) != len(args.epsilon):
            raise InputError(
                f"--n-params has {len(args.n_params)} values, --epsilon {len(args.epsilon)}",
                fix="give one parameter count per error rate",
            )
        bad = [n for n in args.n_params if not (math.isfinite(n) and n > 0)]
        if bad:
            raise InputError(
                f"holds {bad[0]:g}, not a positive parameter count",
                where="--n-params",
                fix="give finite sizes above 0, e.g. --n-params 1e8,1e9",
            )


def _check_resolve(args: argparse.Namespace) -> None:
    """``--resolve``: accuracies in (0, 1), target lengths, an item spread ≥ 0."""
    for flag, value in (("--trend", args.trend), ("--n-params", args.n_params)):
        if value is not None:
            raise InputError(f"{flag} does not apply with --resolve", fix=f"drop {flag}")
    if any(not 0 < a < 1 for a in args.resolve):
        raise InputError("values must lie strictly between 0 and 1", where="--resolve",
                         fix="give accuracies such as 1e-3,1e-4")  # fmt: skip
    if not args.lengths:
        raise InputError("--resolve needs target lengths", fix="add e.g. --length 5")
    if not (math.isfinite(args.sigma_item) and args.sigma_item >= 0):
        raise InputError(f"--sigma-item {args.sigma_item} is impossible", fix="give an sd ≥ 0")


_PNG_SOFTWARE = "mirage-bayes plan"  # written into plan.png's Software field


def _is_our_plan_csv(path: Path) -> bool:
    """Whether ``path`` starts with the header line of a plan written by mirage-bayes."""
    try:
        with path.open(encoding="utf-8", newline="") as file:
            return file.readline().rstrip("\r\n") == ",".join(PLAN_COLUMNS)
    except (OSError, UnicodeDecodeError):
        return False


def _is_our_plan_png(path: Path, csv_is_ours: bool) -> bool:
    """Whether ``path`` is a figure written by ``plan``: marked so in its PNG text, or (written
    before the mark existed) a Matplotlib PNG beside a plan CSV."""
    try:
        with path.open("rb") as file:
            head = file.read(4096)
    except OSError:
        return False
    if not head.startswith(b"\x89PNG\r\n\x1a\n"):
        return False
    return _PNG_SOFTWARE.encode() in head or (csv_is_ours and b"Software\x00Matplotlib" in head)


def _check_destination(out: Path, *, force: bool) -> Path:
    """Refuse a non-CSV name or existing files; with ``force`` replace only the files of an
    earlier plan (recognised by the CSV's header and the PNG's text). Return the figure's path."""
    png = out.with_suffix(".png")
    if out.suffix.lower() != ".csv":
        raise InputError("the plan is written as CSV", where=str(out), fix="give --out a .csv name")
    csv_is_ours = out.is_file() and _is_our_plan_csv(out)
    for path in (out, png):
        if not path.exists():
            continue
        ours = csv_is_ours if path == out else _is_our_plan_png(png, csv_is_ours)
        if not force:
            fix = "pass --force to overwrite it" if ours else "choose another --out"
            raise InputError("file exists", where=str(path), fix=fix)
        if not path.is_file():
            raise InputError(
                "exists and is not a file", where=str(path), fix="choose another --out"
            )
        if not ours:
            raise InputError(
                "not a plan written by mirage-bayes, so --force will not overwrite it",
                where=str(path),
                fix="choose another --out",
            )
    return png


def write_plan(
    plan: pd.DataFrame, out: str | Path, *, force: bool, figure: Figure
) -> tuple[Path, Path]:
    """Write ``plan.csv`` and, beside it, the figure as ``<stem>.png``: both or neither.

    Both files are written under temporary names in the destination folder and renamed into
    place at the end; an existing file is refused unless ``force`` and it is an earlier plan's.
    """
    out = Path(out)
    png = _check_destination(out, force=force)
    out.parent.mkdir(parents=True, exist_ok=True)
    staged = [out.with_name(f".{out.name}.tmp"), png.with_name(f".{png.name}.tmp")]
    try:
        plan.to_csv(staged[0], index=False, float_format="%.6g")
        figure.savefig(
            staged[1],
            dpi=110,
            format="png",
            metadata={"Software": f"{_PNG_SOFTWARE} {VERSION}"},
        )
        os.replace(staged[0], out)
        os.replace(staged[1], png)
    finally:
        for path in staged:
            path.unlink(missing_ok=True)
    record_written(out.parent, [out.name, png.name])  # a fit's --force may then replace both
    return out, png


def run(args: argparse.Namespace) -> int:
    """Compute the plan, print it and write ``plan.csv`` and ``plan.png``."""
    _check(args)
    default_folder = Path(args.fit_dir) if args.fit_dir is not None else Path()
    out = Path(args.out) if args.out else default_folder / "plan.csv"
    _check_destination(out, force=args.force)  # refuse before the work, not after it

    criteria = {"prob": args.prob, "halfwidth": args.halfwidth, "max_items": args.max_items,
                "items": args.items}  # fmt: skip
    if args.fit_dir is not None:
        table = plan_from_fit(args.fit_dir, trend=args.trend, lengths=args.lengths, **criteria)
    elif args.resolve is not None:
        table = plan_for_resolution(args.resolve, args.lengths, sigma_item=args.sigma_item,
                                    **criteria)  # fmt: skip
    else:
        table = plan_from_epsilon(
            args.epsilon, args.lengths, sigma_item=args.sigma_item, n_params=args.n_params,
            **criteria,
        )  # fmt: skip
    if args.fit_dir is not None:
        # Which posterior the counts come from: a reader compares plans from different trends.
        for task, rows in table.groupby("task", sort=False):
            print(f"{task}: planned from the {rows['trend'].iloc[0].replace('_', ' ')} fit")
    figure = plot_plan(table, prob=args.prob, halfwidth=args.halfwidth)
    csv_path, png_path = write_plan(table, out, force=args.force, figure=figure)
    print(format_plan(table, prob=args.prob, halfwidth=args.halfwidth))
    print(f"wrote {csv_path} and {png_path}")
    return 0
