"""``mirage-bayes``: a thin command line over the library.

Exit codes: 0 success; 1 an operating-system failure (permissions, a full disk) and 2 bad
input or usage (both one line on standard error, nothing written); 3 sampler diagnostics failed
under ``--strict`` (results are still written); 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import warnings
from pathlib import Path

from mirage_bayes import __version__
from mirage_bayes.cli_checks import (
    NEGATIVE_NUMBERS,
    os_failure,
    probe_folder,
    refuse_generation_options,
    write_tables,
)
from mirage_bayes.errors import (
    EXIT_BAD_INPUT,
    EXIT_DIAGNOSTICS,
    EXIT_OS_ERROR,
    InputError,
    one_line,
)


def _int_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None
    if any(v < 1 for v in values):
        raise argparse.ArgumentTypeError("lengths must be positive integers")
    return values


def _int_at_least(minimum: int, what: str):
    """An argparse type for integers ``>= minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value

    return parse


_positive = _int_at_least(1, "a positive integer")
_seed = _int_at_least(0, "a non-negative integer")
MIN_DRAWS = 100
# One chain gave "r̂ up to nan" (r̂ compares chains), and a few draws per chain gave results
# whose ESS and HDIs mean nothing: both are refused before any work.
_draws = _int_at_least(MIN_DRAWS, f"at least {MIN_DRAWS} draws per chain (ESS and HDIs need them)")
_chains = _int_at_least(2, "at least 2 chains (r̂ compares chains)")


def _chance_rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number in [0, 1)")
    return value


def _trend_list(text: str) -> list[str]:
    from mirage_bayes.models import TRENDS

    names = list(dict.fromkeys(v.strip() for v in text.split(",") if v.strip()))
    unknown = [n for n in names if n not in TRENDS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown trend(s) {', '.join(unknown) or '(none given)'}; choose from "
            + ", ".join(sorted(TRENDS))
        )
    return names


# Subcommands that live in modules of their own. Each module has ``add_parser(commands)``, which
# adds its subparser and sets ``handler``; module-level imports there stay light (no PyMC) so
# that ``--help`` and input errors stay fast.
COMMAND_MODULES: tuple[str, ...] = (
    "mirage_bayes.cli_plan",
    "mirage_bayes.cli_forecast",
    "mirage_bayes.meta_cli",
)


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = NEGATIVE_NUMBERS

    def error(self, message: str) -> None:  # one line, exit 2, like every other input problem
        text = one_line(f"{self.prog}: error: {message} (see {self.prog} --help)")
        self.exit(EXIT_BAD_INPUT, text + "\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``mirage-bayes`` and its subcommands."""
    parser = _Parser(
        prog="mirage-bayes",
        description="Bayesian analysis of emergent abilities of language models.",
    )
    parser.add_argument("--version", action="version", version=f"mirage-bayes {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    fit = commands.add_parser(
        "fit",
        help="fit per-token error rates and compare scaling trends",
        description="Infer the per-token error rate ε of every model size from per-item "
        "outputs, propagate it to accuracy, token edit distance and Brier score, and compare "
        "a power law with a broken power law by LOO.",
    )
    fit.add_argument(
        "file",
        nargs="+",
        metavar="PATH",
        help="outputs table (.csv, .tsv, .parquet, .jsonl), or lm-evaluation-harness sample logs: "
        "samples_<task>_<timestamp>.jsonl files or folders holding them, one run per model",
    )
    fit.add_argument("--params", default=None, help="model sizes: CSV with columns model,n_params")
    fit.add_argument("--param-column", default=None, help="the table's column holding the size")
    fit.add_argument(
        "--map", default=None, help="rename table columns, e.g. target=answer,output=prediction"
    )
    fit.add_argument(
        "--size-count",
        choices=("total", "non_embedding"),
        default=None,
        help="which count of the built-in size table (default: total)",
    )
    fit.add_argument("--tasks", default=None, help="fit only these tasks, e.g. gsm8k,arc_easy")
    fit.add_argument(
        "--lm-eval-filter", default=None, help="lm-eval filter to read when a log has several"
    )
    fit.add_argument("--out", default="mirage_out", help="output folder (default: mirage_out)")
    fit.add_argument("--seed", type=_seed, default=0, help="random seed (default: 0)")
    fit.add_argument("--draws", type=_draws, default=1000, help="draws per chain, ≥ 100 (1000)")
    fit.add_argument("--tune", type=_positive, default=1000, help="tuning steps per chain (1000)")
    fit.add_argument("--chains", type=_chains, default=2, help="chains, ≥ 2 (default: 2)")
    fit.add_argument(
        "--tokenizer", default="auto", help="auto | char | whitespace | regex:PATTERN (auto)"
    )
    fit.add_argument(
        "--chance",
        type=_chance_rate,
        default=None,
        help="chance-match rate g in [0, 1) for every size and length (default: measured from "
        "the outputs; pre-scored input: its chance column, else 0)",
    )
    fit.add_argument(
        "--lengths", type=_int_list, default=[], help="extra target lengths, e.g. 1,2,5"
    )
    fit.add_argument(
        "--choices", type=int, default=2, help="K of the K-way choice in the Brier transform (2)"
    )
    fit.add_argument(
        "--trends",
        type=_trend_list,
        default=["power_law", "broken_power_law"],
        help="trends to compare (default: power_law,broken_power_law; scale_free is always "
        "fitted as the reference)",
    )
    fit.add_argument(
        "--force", action="store_true", help="replace an --out folder that mirage-bayes wrote"
    )
    fit.add_argument(
        "--strict", action="store_true", help="exit with code 3 when sampler diagnostics fail"
    )
    fit.add_argument("--quiet", action="store_true", help="no progress output")
    fit.set_defaults(handler=_run_fit)

    simulate = commands.add_parser(
        "simulate",
        help="write an outputs table simulated from the paper's mathematical model",
        description="Simulate a model family's outputs on arithmetic problems: L_CE = "
        "(N/c)^alpha, item difficulty on the log cross-entropy scale, each target token "
        "produced with probability exp(-L_CE); a wrong token is any other digit, and outputs "
        "may gain or lose digits, echo an operand, be empty or stop early (the --*-rate "
        "options).",
    )
    simulate.add_argument("--out", required=True, help="file to write (.csv, .parquet, .jsonl)")
    simulate.add_argument("--c", type=float, default=3.0e8, help="power-law scale c (3e8)")
    simulate.add_argument("--alpha", type=float, default=-0.6, help="power-law exponent (-0.6)")
    simulate.add_argument(
        "--scales", default=None, help="comma-separated sizes (default: the 8 GPT-3 sizes)"
    )
    simulate.add_argument("--items", type=_positive, default=200, help="test items (200)")
    simulate.add_argument(
        "--lengths", type=_int_list, default=[1, 2, 3, 4, 5], help="target lengths (1,2,3,4,5)"
    )
    simulate.add_argument(
        "--sigma-item", type=float, default=0.5, help="item difficulty sd on log L_CE (0.5)"
    )
    simulate.add_argument("--break-at", type=float, default=None, help="size of a break")
    simulate.add_argument(
        "--break-slope", type=float, default=-1.0, help="change of log-log slope at the break"
    )
    simulate.add_argument(
        "--operation", choices=("add", "multiply"), default="add", help="problem type (add)"
    )
    for flag, default, what in (
        ("--insert-rate", 0.02, "probability, per target token, of an extra digit after it"),
        ("--delete-rate", 0.1, "probability that a wrong token is dropped, not replaced"),
        ("--echo-rate", 0.2, "probability that an all-wrong output echoes an operand"),
        ("--empty-rate", 0.05, "probability that an all-wrong output is empty"),
        ("--truncate-rate", 0.0, "probability that an output stops after its first wrong token"),
    ):
        simulate.add_argument(flag, type=float, default=default, help=f"{what} ({default:g})")
    simulate.add_argument("--task", default="simulated_arithmetic", help="task name")
    simulate.add_argument("--seed", type=_seed, default=0, help="random seed (0)")
    simulate.add_argument("--truth", default=None, help="also write the population truth CSV")
    simulate.add_argument("--force", action="store_true", help="overwrite existing files")
    simulate.set_defaults(handler=_run_simulate)
    for module in COMMAND_MODULES:
        importlib.import_module(module).add_parser(commands)
    return parser


def _quiet_libraries(quiet: bool) -> None:
    # PyMC and ArviZ speak through logging and warnings; the CLI reports what matters itself.
    import pymc  # noqa: F401  (pymc sets its logger's level on import: import it first)

    warnings.filterwarnings("ignore")
    if quiet:
        logging.getLogger("pymc").setLevel(logging.ERROR)
    logging.getLogger("pytensor").setLevel(logging.ERROR)


def _run_fit(args: argparse.Namespace) -> int:
    from mirage_bayes.fitting import fit
    from mirage_bayes.save import claim_destination
    from mirage_bayes.scoring import resolve_tokenizer
    from mirage_bayes.sources import read_inputs

    if args.choices < 2:
        raise InputError("--choices must be at least 2", fix="give the number of options K")
    try:
        # Checked before reading the table: pre-scored input skips scoring, so a bad spec went
        # unnoticed there (found by tests/test_malformed_inputs.py).
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
    result = fit(
        outputs,
        trends=args.trends,
        lengths=args.lengths,
        choices=args.choices,
        tokenizer=args.tokenizer,
        chance=args.chance,
        draws=args.draws,
        tune=args.tune,
        chains=args.chains,
        seed=args.seed,
        progressbar=not args.quiet,
        log=log,
    )
    raise_if_interrupted()
    out = result.save(args.out, force=args.force)
    for task, text in result.verdicts().items():
        print(f"{task}: {text}")
    print(f"results in {out} (report: {out / 'report.html'})")
    if not result.ok:
        problems = result.diagnostics().query("not ok")
        print(
            f"warning: sampler diagnostics failed for {len(problems)} fit(s); "
            "see the report's warnings and summary.json",
            file=sys.stderr,
        )
        if args.strict:
            return EXIT_DIAGNOSTICS
    return 0


# Keyword options of simulate_outputs that say how produced tokens are rendered as text.
_RENDER_RATES = ("insert_rate", "delete_rate", "echo_rate", "empty_rate", "truncate_rate")


def _run_simulate(args: argparse.Namespace) -> int:
    import numpy as np

    from mirage_bayes.simulate import GPT3_SIZES, Break, simulate_outputs

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
    if args.break_at is not None:
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
    for path in targets:
        if path.exists() and not args.force:
            raise InputError("file exists", where=str(path), fix="pass --force to overwrite it")
        if path.suffix.lower() not in {".csv", ".parquet", ".jsonl"}:
            raise InputError(
                "unsupported file type", where=str(path), fix="use .csv, .parquet or .jsonl"
            )
        probe_folder(path.parent, str(path))
    brk = Break(args.break_at, args.break_slope) if args.break_at is not None else None
    outputs, truth = simulate_outputs(
        n_params=scales, c=args.c, alpha=args.alpha, n_items=args.items, lengths=args.lengths,
        sigma_item=args.sigma_item, brk=brk, task=args.task, seed=args.seed,
        operation=args.operation, **rates,
    )  # fmt: skip
    write_tables({out: outputs, **({Path(args.truth): truth} if args.truth else {})})
    print(f"wrote {len(outputs)} rows to {out}")
    return 0


_interrupted = False


def _on_ctrl_c(signum, frame) -> None:
    # PyMC's sampler catches the KeyboardInterrupt and returns a shortened trace, and the fit
    # would go on to save it: remember the Ctrl-C, so that the next progress message or the
    # save stops the run (raise_if_interrupted).
    global _interrupted
    _interrupted = True
    raise KeyboardInterrupt


def raise_if_interrupted() -> None:
    """Raise ``KeyboardInterrupt`` when Ctrl-C was pressed during this command, even if it was
    caught on the way (call it before saving)."""
    if _interrupted:
        raise KeyboardInterrupt


def progress_log(quiet: bool):
    """The ``log`` callback of a command: prints progress unless ``quiet``, and stops the run
    at the next message after a Ctrl-C that the sampler swallowed."""

    def log(message: str) -> None:
        raise_if_interrupted()
        if not quiet:
            print(message, file=sys.stderr, flush=True)

    return log


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``mirage-bayes`` command."""
    import signal

    from mirage_bayes.save import release_all

    global _interrupted
    _interrupted = False
    previous = signal.getsignal(signal.SIGINT)
    if previous is signal.default_int_handler:
        try:
            signal.signal(signal.SIGINT, _on_ctrl_c)
        except ValueError:  # not the main thread
            previous = None
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        _quiet_libraries(getattr(args, "quiet", False))
        return args.handler(args)
    except InputError as error:
        print(f"mirage-bayes: error: {error.message}", file=sys.stderr)
        return error.code
    except KeyboardInterrupt:
        print("mirage-bayes: interrupted; nothing was written", file=sys.stderr)
        return 130
    except OSError as error:
        # Found writing (a full disk, a folder made read-only meanwhile): the staged save has
        # removed what it wrote and kept what was there, so one line says so.
        print(f"mirage-bayes: error: {os_failure(error)}", file=sys.stderr)
        return EXIT_OS_ERROR
    finally:
        release_all()  # the claims of output folders end with the command
        if previous is signal.default_int_handler:
            signal.signal(signal.SIGINT, previous)


if __name__ == "__main__":
    sys.exit(main())
