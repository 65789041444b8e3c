"""Evidence that the intervals mean what they say: simulation-based calibration and coverage.

* :func:`sbc_ranks` — Talts et al. (2018): draw parameters from the prior, simulate a data set
  from the model, fit it, and record the rank of the true value among posterior draws. Under a
  correct sampler and model the ranks are uniform.
* :func:`coverage_run` — fit data simulated from known truths and ask whether central
  posterior intervals of ε and accuracy cover the population truth as often as they claim.

The scripts under ``validation/`` run the full studies; the test suite runs a few simulations.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt
from scipy import stats

from mirage_bayes.fitting.data import split_tasks
from mirage_bayes.fitting.inference import SamplerConfig, diagnose, sample_trend, stacked
from mirage_bayes.inputs.scoring import score_outputs
from mirage_bayes.models import TRENDS, population_quantities
from mirage_bayes.models.chance_link import effective_chance, scored_error
from mirage_bayes.models.generation import chance_scale_prior, epsilon_from_eta
from mirage_bayes.settings import SMOOTH_TREND
from mirage_bayes.simulate.generation import model_name


@dataclass(frozen=True)
class Design:
    """The shape of a simulated test set: sizes, items, target lengths, and the chance-match
    rate ``g`` of each length (none: 0; written to the table's ``chance`` column)."""

    n_params: tuple[float, ...] = (1e8, 3e8, 1e9, 3e9, 1e10, 3e10)
    n_items: int = 60
    lengths: tuple[int, ...] = (1, 2, 3, 4, 5)
    chance: tuple[float, ...] | None = None

    @property
    def x(self) -> np.ndarray:
        log_n = np.log(np.asarray(self.n_params))
        mid, half = (log_n.max() + log_n.min()) / 2, (log_n.max() - log_n.min()) / 2
        return (log_n - mid) / half


def prior_draws(trend: str, design: Design, n_draws: int, seed: int) -> dict[str, np.ndarray]:
    """Trend parameters, ``mu`` at the design's sizes and ``sigma_item`` drawn from the prior,
    and the chance factor ``chance_scale`` where the design has chance rates."""
    n_scales = len(design.n_params)
    with pm.Model(coords={"scale": [f"s{i}" for i in range(n_scales)]}) as model:
        pm.Deterministic("mu", TRENDS[trend].build(pt.as_tensor(design.x), n_scales), dims="scale")
        pm.HalfNormal("sigma_item", 1.0)
        if design.chance is not None and any(g > 0 for g in design.chance):
            chance_scale_prior()  # as the fitted model has it
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prior = pm.sample_prior_predictive(draws=n_draws, model=model, random_seed=seed).prior
    return {name: prior[name].values.reshape(n_draws, *prior[name].shape[2:]) for name in prior}


def simulate_counts(
    mu: np.ndarray,
    sigma: float,
    design: Design,
    rng: np.random.Generator,
    chance_scale: float = 1.0,
) -> pd.DataFrame:
    """Pre-scored per-item outputs drawn from the model itself (items shared across sizes), with
    the chance term of :mod:`mirage_bayes.models.chance_link` when the design has chance rates: the
    table's ``chance`` column holds ``g``, the counts are drawn with ``chance_scale·g``."""
    lengths = np.resize(np.asarray(design.lengths), design.n_items)
    chance = np.resize(np.asarray(design.chance or [0.0], dtype=np.float64), design.n_items)
    difficulty = rng.normal(0.0, sigma, design.n_items)
    rows = []
    for s, size in enumerate(design.n_params):
        eps = epsilon_from_eta(mu[s] + difficulty)
        errors = rng.binomial(lengths, scored_error(eps, effective_chance(chance, chance_scale)))
        rows.append(
            pd.DataFrame(
                {
                    "task": "sim",
                    "model": model_name(size),
                    "n_params": size,
                    "item": [f"i{i}" for i in range(design.n_items)],
                    "family": None,
                    "n_tokens": lengths,
                    "n_errors": errors,
                    **({"chance": chance} if design.chance is not None else {}),
                }
            )  # fmt: skip
        )
    frame = pd.concat(rows, ignore_index=True)
    frame.attrs.update(prescored=True, item_ids=True, source="simulation")
    return frame


def _fit_one(frame: pd.DataFrame, trend: str, draws: int, seed: int):
    """Sample one trend (no scale-free reference, no report): ``(InferenceData, Diagnostics)``."""
    logging.getLogger("pymc").setLevel(logging.ERROR)
    data = split_tasks(score_outputs(frame)[0])[0]
    config = SamplerConfig(draws=draws, tune=draws, chains=2, seed=seed, progressbar=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        idata = sample_trend(data, trend, config)
    return idata, diagnose(idata)


def sbc_ranks(
    trend: str,
    *,
    n_simulations: int,
    design: Design = Design(),
    draws: int = 500,
    thin_to: int = 99,
    seed: int = 0,
) -> pd.DataFrame:
    """Ranks of the true parameters (and ε per size) among ``thin_to`` posterior draws.

    Returns one row per simulation and quantity: ``simulation, quantity, rank, max_rhat``;
    ranks lie in ``0 … thin_to``.
    """
    truths = prior_draws(trend, design, n_simulations, seed)
    names = [p for p in TRENDS[trend].parameters if p != "delta"]
    names = [*(n for n in names if n in truths), "sigma_item"]
    names += ["chance_scale"] if "chance_scale" in truths else []
    rng = np.random.default_rng(seed)
    rows = []
    for sim in range(n_simulations):
        mu, sigma = truths["mu"][sim], float(truths["sigma_item"][sim])
        kappa = float(truths["chance_scale"][sim]) if "chance_scale" in truths else 1.0
        frame = simulate_counts(mu, sigma, design, rng, kappa)
        idata, diag = _fit_one(frame, trend, draws, seed + sim)
        every = max(1, idata.posterior.sizes["draw"] * idata.posterior.sizes["chain"] // thin_to)
        post = {n: stacked(idata, n)[::every][:thin_to] for n in [*names, "mu"]}
        true_eps = population_quantities(mu[None], np.array([sigma]), [1])["epsilon"][0]
        post_eps = population_quantities(post["mu"], post["sigma_item"], [1])["epsilon"]
        for name in names:
            rank = int((post[name] < truths[name][sim]).sum())
            rows.append({"simulation": sim, "quantity": name, "rank": rank,
                         "max_rhat": diag.max_rhat})  # fmt: skip
        for s in range(len(design.n_params)):
            rank = int((post_eps[:, s] < true_eps[s]).sum())
            rows.append({"simulation": sim, "quantity": f"epsilon[{s}]", "rank": rank,
                         "max_rhat": diag.max_rhat})  # fmt: skip
    return pd.DataFrame(rows)


def uniformity(ranks: pd.DataFrame, *, thin_to: int = 99, bins: int = 10) -> pd.DataFrame:
    """Chi-square test of uniform ranks per quantity: ``quantity, n, chi2, p_value``."""
    rows = []
    for quantity, group in ranks.groupby("quantity", sort=False):
        counts, _ = np.histogram(group["rank"], bins=bins, range=(0, thin_to + 1))
        chi2, p = stats.chisquare(counts)
        rows.append({"quantity": quantity, "n": len(group), "chi2": chi2, "p_value": p})
    return pd.DataFrame(rows)


def coverage_run(
    *,
    c: float = 3.0e8,
    alpha: float = -0.6,
    sigma_item: float = 0.5,
    design: Design = Design(),
    n_simulations: int = 20,
    draws: int = 500,
    probs: Sequence[float] = (0.5, 0.9),
    seed: int = 0,
) -> pd.DataFrame:
    """Coverage of central intervals of ε and accuracy for a known power law.

    Returns one row per simulation, size, quantity and interval: ``simulation, model,
    quantity, length, prob, covered``.
    """
    log_n = np.log(np.asarray(design.n_params))
    mu_true = alpha * (log_n - np.log(c))
    lengths = sorted(set(design.lengths))
    truth = population_quantities(mu_true[None], np.array([sigma_item]), lengths)
    rng = np.random.default_rng(seed)
    rows = []
    for sim in range(n_simulations):
        frame = simulate_counts(mu_true, sigma_item, design, rng)
        idata, _ = _fit_one(frame, SMOOTH_TREND, draws, seed + sim)
        post = population_quantities(stacked(idata, "mu"), stacked(idata, "sigma_item"), lengths)
        targets = [("epsilon", None, post["epsilon"], truth["epsilon"][0])] + [
            ("accuracy", length, post["accuracy"][..., j], truth["accuracy"][0, :, j])
            for j, length in enumerate(lengths)
        ]
        for quantity, length, draws_, true in targets:
            for prob in probs:
                low, high = np.quantile(draws_, [(1 - prob) / 2, (1 + prob) / 2], axis=0)
                for s, size in enumerate(design.n_params):
                    rows.append({"simulation": sim, "model": model_name(size),
                                 "quantity": quantity, "length": length, "prob": prob,
                                 "covered": bool(low[s] <= true[s] <= high[s])})  # fmt: skip
    return pd.DataFrame(rows)
