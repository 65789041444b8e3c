"""``mirage-bayes meta``: which "emergent" triplets are late jumps beyond a smooth law, and how
many would look like one by chance.

Every (family, task, metric) triplet is fitted by :func:`mirage_bayes.meta.triplet.fit_triplet`
(emergence score, smooth-law ppp, leave-future-out late-jump check, class, LOO comparison).
This module runs the triplets — in this process, on local worker processes, or on a Dask
cluster — and hands the rows to :func:`mirage_bayes.meta.population.population_summary`. With
``chance_sensitivity`` it refits the triplets that have a chance level at chance 0 and says
whether the population's conclusion changes; it also collects the warnings a reader must see
(chance above the data, noise floors estimated from few curves, sampler trouble).

Work is split into batches of triplets in input order; results are put back in input order, and
every triplet's random numbers depend only on (seed, family, task, metric), so a local run and a
Dask run give identical numbers.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm  # text bar: tqdm.auto wants ipywidgets in Jupyter and warns without

from mirage_bayes.errors import EXIT_OS_ERROR, InputError
from mirage_bayes.meta.fit import MetaConfig
from mirage_bayes.meta.io import Triplet, chance_above_data
from mirage_bayes.meta.population import CSV_COLUMNS, population_summary
from mirage_bayes.meta.triplet import run_batch

__all__ = ["MetaResult", "analyse", "population_summary", "CSV_COLUMNS", "FEW_CURVES"]

FEW_CURVES = 3  # a noise floor pooled over fewer curves is flagged


@dataclass
class MetaResult:
    """Per-triplet results, the population summary and what is needed to report them."""

    table: pd.DataFrame
    summary: dict[str, Any]
    by_metric: pd.DataFrame
    null_counts: np.ndarray
    null_above: np.ndarray = field(repr=False)  # (triplets, draws): replicate above threshold
    curves: dict[tuple[str, str, str], dict] = field(repr=False)
    config: MetaConfig
    meta: dict[str, Any] = field(default_factory=dict)
    late_counts: np.ndarray = field(default_factory=lambda: np.zeros(0, int))
    late_null: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), bool), repr=False)

    def __repr__(self) -> str:
        classes = self.summary.get("classes") or {}
        shown = ", ".join(f"{n} {name.replace('_', ' ')}" for name, n in classes.items() if n)
        return f"<MetaResult of {len(self.table)} triplet(s){': ' + shown if shown else ''}>"


def _batches(triplets: Sequence[Triplet], workers: int, batch_size: int | None):
    if batch_size is None:
        # A few batches per worker keeps every core busy to the end without paying the
        # per-task overhead (pickling, scheduling) for each triplet.
        batch_size = max(1, min(25, math.ceil(len(triplets) / (4 * max(workers, 1)))))
    return [list(triplets[i : i + batch_size]) for i in range(0, len(triplets), batch_size)]


def analyse(
    triplets: Sequence[Triplet],
    config: MetaConfig | None = None,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    batch_size: int | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
    chance_sensitivity: bool = False,
) -> MetaResult:
    """Fit every triplet and summarize the population.

    Parameters
    ----------
    triplets
        From :func:`mirage_bayes.meta.io.read_meta_table` (or a loader in
        :mod:`mirage_bayes.meta.sources`).
    config
        Sampler settings, seed and emergence threshold.
    workers
        Local worker processes (default: the number of cores); 1 runs in this process.
        Ignored when ``scheduler`` is given.
    scheduler
        Address of a Dask distributed scheduler (``tcp://host:port``): batches go to its
        workers, each of which compiles the models once and reuses them.
    batch_size
        Triplets per task (default: about four batches per worker, at most 25 triplets each).
    progress
        Show a progress bar over triplets (standard error).
    log
        Called with progress messages.
    chance_sensitivity
        Also refit every triplet with a chance level at chance 0 and report whether the late
        jumps and the population's conclusion change (``summary["chance_sensitivity"]``).

    Returns
    -------
    MetaResult
    """
    config = config or MetaConfig()
    if not triplets:
        raise ValueError("no triplets to analyse")
    start = time.perf_counter()
    rows, where, n_batches = _run(triplets, config, workers, scheduler, batch_size, progress, log)
    seconds = time.perf_counter() - start
    if log:
        log(f"fitted {len(rows)} triplets in {seconds:.1f} s on {where}")
    population = population_summary(rows, config)
    summary = population["summary"]
    meta = {"seconds": round(seconds, 2), "ran_on": where, "n_batches": n_batches}
    if chance_sensitivity:
        summary["chance_sensitivity"] = _chance_sensitivity(
            triplets, rows, population, config, workers, scheduler, batch_size, progress, log
        )
    summary["warnings"] = _warnings(triplets, population["table"], summary)
    curves = {(r["family"], r["task"], r["metric"]): r["curve"] for r in rows if r.get("curve")}
    return MetaResult(population["table"], summary, population["by_metric"],
                      population["null_counts"], population["null_above"], curves, config, meta,
                      population["late_counts"], population["late_null"])  # fmt: skip


def _run(triplets, config, workers, scheduler, batch_size, progress, log=None):
    workers = workers or os.cpu_count() or 1
    batches = _batches(triplets, 1 if scheduler else workers, batch_size)
    bar = tqdm(total=len(triplets), unit="triplet", disable=not progress, desc="meta")
    try:
        if scheduler:
            results = _run_dask(batches, config, scheduler, bar)
            where = f"Dask scheduler {scheduler}"
        elif workers == 1 or len(batches) == 1:
            results = []
            for batch in batches:
                results.append(run_batch(batch, config))
                bar.update(len(batch))
            where = "this process"
        else:
            results = _run_local(batches, config, workers, bar, log)
            where = f"{workers} local processes"
    finally:
        bar.close()
    return [row for batch in results for row in batch], where, len(batches)


def _conclusion(summary: dict) -> str:
    high = summary["n_late_jumps_expected_hdi"][1]
    if summary["n_late_jumps_observed"] > high:
        return "more late jumps than the smooth null produces"
    return "no more late jumps than the smooth null produces"


def _chance_sensitivity(triplets, rows, population, config, workers, scheduler, batch_size,
                        progress, log) -> dict[str, Any]:  # fmt: skip
    """Refit the triplets with a chance level at chance 0 (smooth law and forecast only)."""
    which = [i for i, t in enumerate(triplets) if t.kind == "proportion" and t.chance > 0]
    given = population["summary"]
    out: dict[str, Any] = {"n_refitted": len(which), "at_given": _brief(given)}
    if not which:
        out |= {
            "at_zero": out["at_given"],
            "changed": [],
            "conclusion_changes": False,
            "statement": "no triplet has a chance level above 0: nothing to compare",
        }
        return out
    zero = [replace(triplets[i], chance=0.0) for i in which]
    refit, _, _ = _run(zero, replace(config, broken=False), workers, scheduler, batch_size,
                       progress)  # fmt: skip
    rows = list(rows)
    for i, row in zip(which, refit, strict=True):
        rows[i] = row
    at_zero = population_summary(rows, config)
    old, new = population["table"], at_zero["table"]
    changed = [
        {"family": old["family"].iat[i], "task": old["task"].iat[i],
         "metric": old["metric"].iat[i], "class_at_given": old["class"].iat[i],
         "class_at_zero": new["class"].iat[i]}
        for i in which if old["class"].iat[i] != new["class"].iat[i]
    ]  # fmt: skip
    a, b = _conclusion(given), _conclusion(at_zero["summary"])
    out |= {"at_zero": _brief(at_zero["summary"]), "changed": changed,
            "conclusion_changes": a != b,
            "statement": f"at the given chance levels: {a}; at chance 0: {b}; "
                         f"{len(changed)} of {len(which)} triplets change class"}  # fmt: skip
    if log:
        log(f"chance sensitivity: {out['statement']}")
    return out


def _brief(summary: dict) -> dict[str, Any]:
    keys = ("n_late_jumps_observed", "n_late_jumps_expected_mean", "n_late_jumps_expected_hdi",
            "n_emergent_observed", "n_emergent_expected_mean", "classes")  # fmt: skip
    return {k: summary[k] for k in keys}


def _warnings(triplets: Sequence[Triplet], table: pd.DataFrame, summary: dict) -> list[str]:
    """What a reader must see: silent assumptions made visible."""
    out = []
    above = chance_above_data(list(triplets))
    if above:
        names = ", ".join(f"{f}/{t}/{m}" for f, t, m in above[:10])
        more = f" and {len(above) - 10} more" if len(above) > 10 else ""
        out.append(
            f"chance level above every observed score in {len(above)} triplet(s): "
            f"{names}{more}; check the chance column (the smooth law cannot go below it)"
        )
    few: dict[str, int] = {}
    for t in triplets:
        if t.floor_note and t.metric not in few:
            curves = sum(1 for u in triplets if u.metric == t.metric and u.kind == t.kind)
            if curves < FEW_CURVES:
                few[t.metric] = curves
    for metric, curves in few.items():
        out.append(
            f"the noise floor of metric {metric!r} is estimated from {curves} curve(s) "
            "only; give a stderr column for a reliable floor"
        )
    for part, label in (("smooth", "smooth-law"), ("late", "forecast"), ("broken", "broken-law")):
        failed = summary[f"n_{part}_diagnostics_failed"]
        if failed:
            out.append(
                f"{failed} of {summary[f'n_{part}_fitted']} {label} fits failed the "
                "sampler diagnostics after retries (r̂ > 1.01, bulk ESS < 400 or "
                f"divergences; columns {part}_* of meta.csv)"
            )
    refits = summary["n_loo_exact_refits"]
    if refits:
        # The refits' sampler trouble is in their ELPD terms: it belongs beside the other
        # diagnostics in summary.json and on the terminal, not in the report alone.
        out.append(
            f"PSIS-LOO had Pareto k > 0.7 at some sizes: {refits} exact leave-one-size-out "
            f"refits replace those terms ({summary['n_loo_exact_refits_divergent']} with "
            f"divergences); {summary['n_broken_pareto_k_above_07']} comparison(s) keep a "
            f"Pareto k above 0.7; in {summary['n_loo_mcse_large']} the refits' Monte Carlo "
            "error is above a quarter of dse (note column of meta.csv)"
        )
    return out


WORKER_RETRIES = 1
"""Fresh pools for the batches left when a worker process dies (killed for memory, say)."""


def _run_local(batches, config: MetaConfig, workers: int, bar, log=None) -> list:
    # Spawned, not forked: a forked child would inherit Numba/LLVM and nutpie's thread state
    # half-initialised. Each worker imports the package once and compiles each model once.
    results: list = [None] * len(batches)
    for attempt in range(WORKER_RETRIES + 1):
        pending = [i for i, r in enumerate(results) if r is None]
        try:
            _run_pool(batches, pending, results, config, workers, bar)
            return results
        except BrokenProcessPool:
            left = sum(len(batches[i]) for i, r in enumerate(results) if r is None)
            if attempt == WORKER_RETRIES:
                raise InputError(
                    f"a worker process died twice ({left} triplets left unfitted), as when the "
                    "system runs out of memory; nothing was written",
                    where=f"meta with {workers} local processes",
                    fix="rerun with fewer --workers or a smaller --batch-size",
                    code=EXIT_OS_ERROR,
                ) from None
            if log is not None:
                log(
                    f"a worker process died; refitting its {left} unfinished triplets in a new pool"
                )
    return results


def _run_pool(batches, pending: list[int], results: list, config, workers: int, bar) -> None:
    """Fit the ``pending`` batches in one process pool, filling ``results`` as they finish."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = {pool.submit(run_batch, batches[i], config): i for i in pending}
        try:
            for future in as_completed(futures):
                i = futures[future]
                results[i] = future.result()
                bar.update(len(batches[i]))
        except BaseException:
            for future in futures:
                future.cancel()
            raise


def _run_dask(batches, config: MetaConfig, address: str, bar) -> list:
    from distributed import Client  # optional dependency: only a --scheduler run needs it
    from distributed import as_completed as dask_completed

    try:
        client = Client(address, timeout="20s")
    except (OSError, TimeoutError, ValueError) as error:
        raise InputError(
            f"cannot reach the Dask scheduler ({type(error).__name__}: {error})",
            where=f"--scheduler {address}",
            fix="start one with `dask scheduler` and give its tcp://host:port address",
        ) from None
    try:
        futures = [
            client.submit(run_batch, batch, config, pure=False, key=f"mirage-meta-batch-{i}")
            for i, batch in enumerate(batches)
        ]
        index = {future.key: i for i, future in enumerate(futures)}
        results: list = [None] * len(batches)
        for future in dask_completed(futures):
            i = index[future.key]
            results[i] = future.result()
            bar.update(len(batches[i]))
            future.release()
        return results
    finally:
        client.close()
