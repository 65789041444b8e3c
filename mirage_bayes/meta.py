"""``mirage-bayes meta``: which "emergent" triplets survive a smooth-law null, and how many
would look emergent by chance.

For every (family, task, metric) triplet :mod:`mirage_bayes.meta_fit` computes the emergence
score, the smooth law's posterior predictive p-value (ppp) and the chance that a replicate of
the smooth law scores above the threshold. This module runs the triplets — in this process, on
local worker processes, or on a Dask cluster — and turns them into the population view:

* ``M``, the number of triplets analysed (counted from the data);
* the observed number with an emergence score above the threshold;
* the number expected under the smooth null: for draw ``r`` every triplet contributes its
  ``r``-th replicate (the fits are independent, so this is a draw from the joint predictive),
  giving one count per draw, summarized by its mean and 94% HDI;
* Benjamini–Hochberg q-values of the ppp's and the number with ``q < 0.05``;
* the same per metric (which metrics carry the emergent claims, the paper's Fig. 5).

Work is split into batches of triplets in input order; results are put back in input order, and
every triplet's random numbers depend only on (seed, family, task, metric), so a local run and a
Dask run give identical numbers.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mirage_bayes.emergence import bh_qvalues, count_summary
from mirage_bayes.meta_fit import MetaConfig, run_batch
from mirage_bayes.meta_io import Triplet

__all__ = ["MetaResult", "analyse", "population_summary", "CSV_COLUMNS"]

CSV_COLUMNS = [
    "family", "task", "metric", "n_scales", "emergence_score", "ppp", "q_value",
    "elpd_diff_broken", "dse",
]  # fmt: skip
EXTRA_COLUMNS = [
    "kind", "n_items_min", "emergent", "p_above_null", "pareto_k_max", "smooth_max_rhat",
    "smooth_min_ess_bulk", "smooth_divergences", "smooth_ok", "broken_max_rhat",
    "broken_min_ess_bulk", "broken_divergences", "broken_ok", "note",
]  # fmt: skip


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
) -> MetaResult:
    """Fit every triplet and summarize the population.

    Parameters
    ----------
    triplets
        From :func:`mirage_bayes.meta_io.read_meta_table` (or a loader in
        :mod:`mirage_bayes.meta_sources`).
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

    Returns
    -------
    MetaResult
    """
    import os

    config = config or MetaConfig()
    if not triplets:
        raise ValueError("no triplets to analyse")
    workers = workers or os.cpu_count() or 1
    start = time.perf_counter()
    batches = _batches(triplets, 1 if scheduler else workers, batch_size)
    from tqdm.auto import tqdm

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
            results = _run_local(batches, config, workers, bar)
            where = f"{workers} local processes"
    finally:
        bar.close()
    rows = [row for batch in results for row in batch]
    seconds = time.perf_counter() - start
    if log:
        log(f"fitted {len(rows)} triplets in {seconds:.1f} s on {where}")
    table, summary, by_metric, counts, above = population_summary(rows, config)
    curves = {(r["family"], r["task"], r["metric"]): r["curve"] for r in rows if r.get("curve")}
    meta = {"seconds": round(seconds, 2), "ran_on": where, "n_batches": len(batches)}
    return MetaResult(table, summary, by_metric, counts, above, curves, config, meta)


def _run_local(batches, config: MetaConfig, workers: int, bar) -> list:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    # Spawned, not forked: a forked child would inherit Numba/LLVM and nutpie's thread state
    # half-initialised. Each worker imports the package once and compiles each model once.
    context = multiprocessing.get_context("spawn")
    results: list = [None] * len(batches)
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = {pool.submit(run_batch, batch, config): i for i, batch in enumerate(batches)}
        try:
            for future in as_completed(futures):
                i = futures[future]
                results[i] = future.result()
                bar.update(len(batches[i]))
        except BaseException:
            for future in futures:
                future.cancel()
            raise
    return results


def _run_dask(batches, config: MetaConfig, address: str, bar) -> list:
    from distributed import Client, as_completed

    from mirage_bayes.errors import InputError

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
        for future in as_completed(futures):
            i = index[future.key]
            results[i] = future.result()
            bar.update(len(batches[i]))
            future.release()
        return results
    finally:
        client.close()


def population_summary(rows: list[dict], config: MetaConfig):
    """Per-triplet table with q-values, the summary dict, the per-metric table, the null counts
    (one per draw) and the per-triplet, per-draw exceedances behind them.

    Parameters
    ----------
    rows
        :func:`mirage_bayes.meta_fit.fit_triplet` results, in input order.
    config
        The settings they were fitted with (threshold).

    Returns
    -------
    (pandas.DataFrame, dict, pandas.DataFrame, numpy.ndarray, numpy.ndarray)
    """
    table = pd.DataFrame([{k: v for k, v in r.items() if k not in ("above_null", "curve")}
                          for r in rows])  # fmt: skip
    for column in CSV_COLUMNS + EXTRA_COLUMNS:
        if column not in table:
            table[column] = np.nan
    # Analysed: the triplet has a p-value. A constant continuous curve has one (1, never
    # emergent) without replicates; it counts in M and adds 0 to every null count.
    analysed = np.isfinite(table["ppp"].to_numpy(float))
    table["emergent"] = table["emergence_score"] > config.threshold
    table["q_value"] = np.nan
    table.loc[analysed, "q_value"] = bh_qvalues(table.loc[analysed, "ppp"].to_numpy(float))
    n_draws = max((int(r.get("n_draws", 0)) for r in rows), default=0)
    above = np.zeros((len(rows), n_draws), bool)
    for i, r in enumerate(rows):
        if r.get("above_null") is not None:
            above[i] = np.unpackbits(r["above_null"], count=n_draws).astype(bool)
    counts = above[analysed].sum(axis=0)
    expected = count_summary(counts)
    emergent = table["emergent"].to_numpy() & analysed
    significant = (table["q_value"] < 0.05).to_numpy()
    summary = {
        "n_triplets": int(analysed.sum()),
        "threshold": float(config.threshold),
        "n_emergent_observed": int(emergent.sum()),
        "n_emergent_expected_mean": expected["mean"],
        "n_emergent_expected_hdi": expected["hdi"],
        "n_significant_q05": int(significant.sum()),
        "n_triplets_in_table": len(rows),
        "n_not_analysed": int((~analysed).sum()),
        "n_smooth_diagnostics_failed": int((table["smooth_ok"] == False).sum()),  # noqa: E712
        "n_broken_fitted": int(table["elpd_diff_broken"].notna().sum()),
        "n_broken_diagnostics_failed": int((table["broken_ok"] == False).sum()),  # noqa: E712
        "n_broken_pareto_k_above_07": int((table["pareto_k_max"] > 0.7).sum()),
        "n_broken_preferred_2se": int(
            ((table["elpd_diff_broken"] > 2 * table["dse"]) & table["dse"].notna()).sum()
        ),
    }
    by_metric = []
    for metric, idx in table.groupby("metric", sort=True).indices.items():
        use = idx[analysed[idx]]
        metric_expected = count_summary(above[use].sum(axis=0))
        by_metric.append(
            {
                "metric": metric,
                "n_triplets": int(use.size),
                "n_emergent_observed": int(emergent[idx].sum()),
                "n_emergent_expected_mean": metric_expected["mean"],
                "n_emergent_expected_hdi_low": metric_expected["hdi"][0],
                "n_emergent_expected_hdi_high": metric_expected["hdi"][1],
                "n_significant_q05": int(significant[idx].sum()),
            }
        )
    table = table[CSV_COLUMNS + EXTRA_COLUMNS]
    return table, summary, pd.DataFrame(by_metric), counts, above
