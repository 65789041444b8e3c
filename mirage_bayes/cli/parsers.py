"""The argument parsers of every subcommand, apart from the work they start.

Only the standard library and :mod:`mirage_bayes.settings` are imported here, so ``--help``,
``--version`` and usage errors answer at once; each subcommand names the module whose ``run``
does the work (``run_module``), imported only when that command runs.

The options several commands share are declared once (:func:`add_sampler_options`,
:func:`add_run_flags`); what is left repeats only argparse's shape (``add_argument`` with a
type, a default and a help text), one declaration per option, which is what keeps ``--help``
readable next to the code.
"""

from __future__ import annotations

from mirage_bayes.cli import args
from mirage_bayes.settings import (
    DEFAULT_MAX_ITEMS,
    DEFAULT_THRESHOLD,
    DEFAULT_TRENDS,
    ITEM_CHOICES,
    LATE_ALPHA,
    META_CHAINS,
    META_DRAWS,
    META_RETRIES,
    META_SOURCES,
    META_TUNE,
    REPLICATES,
)

__all__ = ["add_fit", "add_forecast", "add_meta", "add_plan", "add_simulate"]


def add_sampler_options(parser, *, out: str) -> None:
    """The output folder and the sampler settings of the commands that run ``fit``'s sampler."""
    parser.add_argument("--out", default=out, help=f"output folder (default: {out})")
    parser.add_argument("--seed", type=args.seed, default=0, help="random seed (default: 0)")
    parser.add_argument(
        "--draws", type=args.draws, default=1000, help="draws per chain, ≥ 100 (1000)"
    )
    parser.add_argument(
        "--tune", type=args.positive, default=1000, help="tuning steps per chain (1000)"
    )
    parser.add_argument("--chains", type=args.chains, default=2, help="chains, ≥ 2 (default: 2)")


def add_run_flags(parser) -> None:
    """``--force`` (replace a folder this tool wrote) and ``--quiet``."""
    parser.add_argument(
        "--force", action="store_true", help="replace an --out folder that mirage-bayes wrote"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress output")


def add_fit(commands) -> None:
    """``mirage-bayes fit``."""
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
        help="outputs table (.csv, .tsv, .parquet, .jsonl); lm-evaluation-harness sample logs "
        "(samples_<task>_<timestamp>.jsonl, or folders of them); Inspect logs (.eval, .json; "
        "needs the 'inspect' extra); HELM run folders (per_instance_stats.json); Every Eval "
        "Ever instance records (.jsonl) — one run per model",
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
    add_sampler_options(fit, out="mirage_out")
    fit.add_argument(
        "--tokenizer", default="auto", help="auto | char | whitespace | regex:PATTERN (auto)"
    )
    fit.add_argument(
        "--chance",
        type=args.chance_rate,
        default=None,
        help="chance-match rate g in [0, 1) for every size and length (default: measured from "
        "the outputs; pre-scored input: its chance column, else 0)",
    )
    fit.add_argument(
        "--lengths", type=args.int_list, default=[], help="extra target lengths, e.g. 1,2,5"
    )
    fit.add_argument(
        "--k",
        type=args.int_list,
        default=[],
        help="attempts k at which to report pass@k when items were attempted several times "
        "(an 'attempt' column), e.g. 1,10,100 (default 1,2,5,10,... up to the most attempts)",
    )
    fit.add_argument(
        "--items",
        choices=ITEM_CHOICES,
        default="auto",
        help="item difficulty: auto (default: log_gamma for tasks with repeated attempts, normal "
        "otherwise), normal, log_gamma (generalized log-gamma: skew learnt, normal at shape 0) "
        "or compare (both, by LOO per task; twice the sampling)",
    )
    fit.add_argument(
        "--choices", type=int, default=2, help="K of the K-way choice in the Brier transform (2)"
    )
    fit.add_argument(
        "--trends",
        type=args.trend_list,
        default=list(DEFAULT_TRENDS),
        help="trends to compare (default: power_law,broken_power_law; scale_free is always "
        "fitted as the reference)",
    )
    add_run_flags(fit)
    fit.add_argument(
        "--strict", action="store_true", help="exit with code 3 when sampler diagnostics fail"
    )
    fit.set_defaults(run_module="mirage_bayes.cli.fit_command")


def add_simulate(commands) -> None:
    """``mirage-bayes simulate``."""
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
    simulate.add_argument("--items", type=args.positive, default=200, help="test items (200)")
    simulate.add_argument(
        "--lengths", type=args.int_list, default=[1, 2, 3, 4, 5], help="target lengths (1,2,3,4,5)"
    )
    simulate.add_argument(
        "--sigma-item", type=float, default=0.5, help="item difficulty sd on log L_CE (0.5)"
    )
    simulate.add_argument("--break-at", type=float, default=None, help="size of a break")
    simulate.add_argument(
        "--break-slope",
        type=float,
        default=None,
        help="change of log-log slope at the break (-1; needs --break-at)",
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
    simulate.add_argument(
        "--attempts",
        type=args.positive,
        default=1,
        help="outputs sampled per model and item, written with an 'attempt' column when above 1 "
        "(1)",
    )
    simulate.add_argument("--task", default="simulated_arithmetic", help="task name")
    simulate.add_argument("--seed", type=args.seed, default=0, help="random seed (0)")
    simulate.add_argument("--truth", default=None, help="also write the population truth CSV")
    simulate.add_argument("--force", action="store_true", help="overwrite existing files")
    simulate.set_defaults(run_module="mirage_bayes.cli.simulate_command")


def add_forecast(commands) -> None:
    """``mirage-bayes forecast``."""
    forecast = commands.add_parser(
        "forecast",
        help="refit on the smaller models and forecast the larger ones",
        description="Was the jump foreseeable? For every task and trend, refit on the k "
        "smallest model sizes and forecast every larger one, for k from the fewest sizes the "
        "trend needs up to all but one; compare the forecasts of ε, accuracy and token edit "
        "distance with what the larger models did. Writes forecast.csv, "
        "forecast_diagnostics.csv, forecast.json, figures/forecast_<task>.png, report.html and "
        "report.md.",
    )
    forecast.add_argument(
        "file",
        help="what fit reads: an outputs table (.csv, .tsv, .parquet, .jsonl), or "
        "lm-evaluation-harness, Inspect, HELM or Every Eval Ever logs (a file or folder)",
    )
    forecast.add_argument(
        "--params", default=None, help="model sizes: CSV with columns model,n_params"
    )
    forecast.add_argument("--tasks", default=None, help="forecast only these tasks, e.g. arith3")
    add_sampler_options(forecast, out="mirage_forecast")
    forecast.add_argument(
        "--tokenizer", default="auto", help="auto | char | whitespace | regex:PATTERN (auto)"
    )
    forecast.add_argument(
        "--lengths", type=args.int_list, default=[], help="extra target lengths, e.g. 1,2,5"
    )
    forecast.add_argument(
        "--trends",
        type=args.trend_list,
        default=list(DEFAULT_TRENDS),
        help="trends to refit (default: power_law,broken_power_law)",
    )
    add_run_flags(forecast)
    forecast.set_defaults(run_module="mirage_bayes.cli.forecast_command")


def add_plan(commands) -> None:
    """``mirage-bayes plan``."""
    plan = commands.add_parser(
        "plan",
        help="test items needed per model size to see ≥ 1 exact match or a precise accuracy",
        description="For every model size and target length, the smallest number of test items "
        "such that (a) at least one is answered exactly right with probability --prob, and (b) "
        "the expected 94% HDI half-width of the accuracy estimate (Jeffreys prior) is at most "
        "--halfwidth. From a saved fit (posterior of the accuracy, new items from the item "
        "population) or from given per-token error rates.",
    )
    plan.add_argument("fit_dir", nargs="?", default=None, help="folder of a mirage-bayes fit")
    plan.add_argument(
        "--epsilon", type=args.float_list, default=None,
        help="instead of a fit: per-token error rate of each hypothetical scale, e.g. 0.3,0.1,0.02",
    )  # fmt: skip
    plan.add_argument(
        "--resolve", type=args.float_list, default=None,
        help="instead of a fit: accuracies to resolve, e.g. 1e-3,1e-4 (with --length; add "
        "--items N for the attempts per item N items need)",
    )  # fmt: skip
    plan.add_argument(
        "--n-params", type=args.float_list, default=None,
        help="with --epsilon: parameter count of each scale (labels the figure's x axis)",
    )  # fmt: skip
    plan.add_argument(
        "--lengths", "--length", dest="lengths", type=args.int_list, default=None,
        help="target lengths in tokens, e.g. 5 or 1,2,5 (default with a fit: the fit's lengths)",
    )  # fmt: skip
    plan.add_argument(
        "--sigma-item", type=float, default=0.0,
        help="with --epsilon: item difficulty sd on log L_CE (default 0: identical items)",
    )  # fmt: skip
    plan.add_argument(
        "--trend", default=None,
        help="with a fit: trend whose posterior to use (default: power_law when fitted)",
    )  # fmt: skip
    plan.add_argument(
        "--prob", type=float, default=0.95, help="P(≥ 1 correct) to reach (default 0.95)"
    )
    plan.add_argument(
        "--halfwidth", type=float, default=0.05,
        help="94%% HDI half-width of accuracy to reach (default 0.05)",
    )  # fmt: skip
    plan.add_argument(
        "--max-items", type=args.positive, default=DEFAULT_MAX_ITEMS,
        help=f"largest test set considered; beyond it 'more than' is reported "
        f"(default {DEFAULT_MAX_ITEMS:,})",
    )  # fmt: skip
    plan.add_argument(
        "--items", type=args.positive, default=None,
        help="items at hand: also the attempts per item they need for P(≥1 correct) ≥ --prob, "
        "the accuracy that design resolves, and the attempts for one item's first success",
    )  # fmt: skip
    plan.add_argument(
        "--out", default=None,
        help="CSV to write, the figure beside it as .png (default: FIT_DIR/plan.csv, else "
        "./plan.csv)",
    )  # fmt: skip
    plan.add_argument(
        "--force", action="store_true", help="overwrite plan files that mirage-bayes wrote"
    )
    plan.set_defaults(run_module="mirage_bayes.cli.plan_command")


# Each command declares its options in full, even where two commands word an option alike:
# the declaration is the help a user reads. Options that mean the same everywhere come from
# add_sampler_options and add_run_flags.
def add_meta(commands) -> None:
    """``mirage-bayes meta``."""
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
        "data folder (lm-eval: a folder of results_*.json; logs: per-item results fit reads, "
        "scored and counted per task and model)",
    )
    meta.add_argument(
        "--from", dest="source", choices=sorted(META_SOURCES), default=None,
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
                      help="with --from lm-eval or logs: model sizes (CSV: model,n_params)",
                      )  # fmt: skip
    meta.add_argument("--chance-sensitivity", action="store_true",
                      help="also refit at chance 0: does the conclusion change?")  # fmt: skip
    meta.add_argument("--convert", default=None, metavar="CSV",
                      help="only write the (converted) table to CSV and stop")  # fmt: skip
    meta.add_argument("--out", default="meta_out", help="output folder (default: meta_out)")
    meta.add_argument(
        "--threshold", type=args.positive_number, default=DEFAULT_THRESHOLD,
        help=f"emergence-score threshold for 'emergent' (default: {DEFAULT_THRESHOLD:g})",
    )  # fmt: skip
    meta.add_argument("--late-alpha", type=args.probability, default=LATE_ALPHA,
                      help="a curve is a late jump when p_late is below this (and it rises "
                      f"late; default: {LATE_ALPHA:g})")  # fmt: skip
    meta.add_argument("--seed", type=args.seed, default=0, help="random seed (default: 0)")
    meta.add_argument("--draws", type=args.positive, default=META_DRAWS,
                      help=f"draws per chain ({META_DRAWS})")  # fmt: skip
    meta.add_argument("--tune", type=args.positive, default=META_TUNE,
                      help=f"tuning steps per chain ({META_TUNE})")  # fmt: skip
    meta.add_argument("--chains", type=args.positive, default=META_CHAINS,
                      help=f"chains (default: {META_CHAINS})")  # fmt: skip
    meta.add_argument("--retries", type=int, choices=range(0, 4), default=META_RETRIES,
                      help="reruns of a fit that fails its diagnostics, each with twice the "
                      f"tuning and draws (default: {META_RETRIES})")  # fmt: skip
    meta.add_argument("--no-broken", action="store_true",
                      help="skip the broken power law and its LOO comparison (faster)")  # fmt: skip
    meta.add_argument("--workers", type=args.positive, default=None,
                      help="local worker processes (default: number of cores)")  # fmt: skip
    meta.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="Dask scheduler address (tcp://host:port): run the triplets there",
    )
    add_run_flags(meta)
    meta.add_argument(
        "--strict",
        action="store_true",
        help="exit with code 3 when a smooth-law fit fails its diagnostics",
    )
    meta.set_defaults(run_module="mirage_bayes.cli.meta_command")
