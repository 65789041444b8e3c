"""``FitResult``: posteriors of one ``fit`` as tables, figures, files and a report."""

from __future__ import annotations

from functools import cached_property

import numpy as np
import pandas as pd

from mirage_bayes.fitting.attempts import attempt_ks, attempt_quantities
from mirage_bayes.fitting.base import TrendFits, hdi
from mirage_bayes.fitting.data import TaskData
from mirage_bayes.fitting.inference import chance_scale_of, item_shape_of, stacked
from mirage_bayes.fitting.resolution import observed_test_sets, p_zero_draws, resolution_table
from mirage_bayes.fitting.transforms import (
    accuracy_independent,
    brier_score,
    jeffreys_interval,
    token_edit_distance,
)
from mirage_bayes.models import TRENDS, population_quantities
from mirage_bayes.models.chance_link import effective_chance
from mirage_bayes.models.generation import scored_quantities
from mirage_bayes.models.item_families import SHAPE_PARAMETER
from mirage_bayes.output.attempts import attempt_table, plot_pass_at_k
from mirage_bayes.output.plots import plot_epsilon, plot_metric, plot_resolution
from mirage_bayes.output.save import save_result
from mirage_bayes.settings import HDI_PROB, SMOOTH_TREND

SUMMARY_COLUMNS = [
    "task", "trend", "model", "n_params", "quantity", "length",
    "observed", "mean", "hdi_low", "hdi_high",
]  # fmt: skip


def rows_for(task, trend, models, n_params, quantity, length, observed, draws):
    """Summary rows of one quantity: ``draws`` is ``(draws, scales)``."""
    interval = hdi(draws)
    return pd.DataFrame(
        {
            "task": task,
            "trend": trend,
            "model": models,
            "n_params": n_params,
            "quantity": quantity,
            "length": np.nan if length is None else float(length),
            "observed": observed,
            "mean": draws.mean(0),
            "hdi_low": interval[:, 0],
            "hdi_high": interval[:, 1],
        }
    )


class FitResult(TrendFits):
    """Posteriors of every task and trend of one :func:`mirage_bayes.fit`.

    Tables: :meth:`summary`, :meth:`curves`, :meth:`observed`, :meth:`comparison`,
    :meth:`diagnostics`, :meth:`parameters`, :meth:`verdicts`, :meth:`resolution`. Figures:
    :meth:`plot_epsilon`, :meth:`plot_metric`, :meth:`plot_comparison`,
    :meth:`plot_resolution`, :meth:`plot_pass_at_k`. Files: :meth:`save`.
    """

    # --- tables --------------------------------------------------------------------------

    def lengths(self, data: TaskData) -> list[int]:
        """Lengths reported for a task: those in the data plus the requested ones."""
        return sorted(set(data.lengths) | set(self.meta.get("lengths", [])))

    @cached_property
    def _observed(self) -> pd.DataFrame:
        frames = []
        for data in self.tasks:
            table = data.observed_by_length()
            eps = pd.Series(data.observed_epsilon(), index=data.models)
            corrected = pd.Series(data.corrected_epsilon(), index=data.models)
            tokens = pd.Series(data.trials.sum(0), index=data.models)
            sizes = pd.Series(data.n_params, index=data.models)
            low, high = jeffreys_interval(table["n_correct"], table["n_items"], HDI_PROB)
            table = table.assign(
                task=data.task,
                n_params=table["model"].map(sizes),
                accuracy_low=low,
                accuracy_high=high,
                epsilon_observed=table["model"].map(eps),
                epsilon_corrected=table["model"].map(corrected),
                tokens=table["model"].map(tokens),
            )
            frames.append(table.sort_values(["n_params", "length"], kind="stable"))
        columns = [
            "task", "model", "n_params", "length", "n_items", "n_correct", "accuracy",
            "accuracy_low", "accuracy_high", "mean_edit_distance", "epsilon_observed",
            "epsilon_corrected", "tokens", "attempts_per_item", "design",
        ]  # fmt: skip
        return pd.concat(frames, ignore_index=True)[columns]

    def observed(self) -> pd.DataFrame:
        """Observed exact matches (with 94% Jeffreys intervals), edit distance and ε, as scored
        (``epsilon_observed``) and with chance matches taken out (``epsilon_corrected``)."""
        return self._observed.copy()

    @cached_property
    def _summary(self) -> pd.DataFrame:
        frames = []
        choices = int(self.meta.get("choices", 2))
        observed = self._observed
        for data in self.tasks:
            lengths = self.lengths(data)
            obs = observed[observed["task"] == data.task].set_index(["model", "length"])
            eps_scored = data.observed_epsilon()
            eps_obs = data.corrected_epsilon()
            chance = chance_matrix(data, lengths)
            tokens = tokens_matrix(data, lengths)
            # Test-set size per scale and length, and whether it showed 0 correct (NaN: length
            # not in the data), for the p_zero_correct rows.
            sizes, zero_seen = observed_test_sets(data, lengths)
            for trend, idata in self.idatas[data.task].items():
                scale, shape = chance_scale_of(idata), item_shape_of(idata)
                factor = 1.0 if scale is None else scale[:, None]
                draws = population_quantities(
                    stacked(idata, "mu"), stacked(idata, "sigma_item"), lengths,
                    item_shape=shape,
                )  # fmt: skip
                eps = draws["epsilon"]
                as_scored = scored_quantities(
                    stacked(idata, "mu"), stacked(idata, "sigma_item"), lengths, chance,
                    chance_scale=scale, item_shape=shape,
                )  # fmt: skip
                scored = as_scored["accuracy"]
                eps_scored_draws = (as_scored["epsilon"] * tokens).sum(-1) / tokens.sum(-1)
                args = (data.task, trend, data.models, data.n_params)
                frames.append(rows_for(*args, "epsilon", None, eps_obs, eps))
                frames.append(rows_for(*args, "epsilon_scored", None, eps_scored, eps_scored_draws))
                for j, length in enumerate(lengths):
                    acc_obs = _lookup(obs, data.models, length, "accuracy")
                    ted_obs = _lookup(obs, data.models, length, "mean_edit_distance")
                    frames += [
                        rows_for(*args, "accuracy", length, acc_obs, draws["accuracy"][..., j]),
                        rows_for(*args, "accuracy_scored", length, acc_obs, scored[..., j]),
                        rows_for(
                            *args, "chance_token_match", length, chance[:, j],
                            np.broadcast_to(effective_chance(chance[:, j], factor), eps.shape),
                        ),
                        rows_for(
                            *args, "accuracy_independent", length, acc_obs,
                            accuracy_independent(eps, length),
                        ),
                        rows_for(
                            *args, "token_edit_distance", length, ted_obs,
                            token_edit_distance(eps, length),
                        ),
                        rows_for(
                            *args, "p_zero_correct", length, zero_seen[:, j],
                            p_zero_draws(scored[..., j], sizes[:, j]),
                        ),
                    ]  # fmt: skip
                frames.append(
                    rows_for(
                        *args, "brier", None, brier_score(eps_obs, choices),
                        brier_score(eps, choices),
                    )
                )  # fmt: skip
                if data.has_attempts:
                    ks = attempt_ks(data, self.meta.get("ks"))
                    for quantity, length, seen, values in attempt_quantities(
                        data, idata, lengths, chance, ks
                    ):
                        frames.append(rows_for(*args, quantity, length, seen, values))
        return pd.concat(frames, ignore_index=True)[SUMMARY_COLUMNS]

    def summary(self) -> pd.DataFrame:
        """Posterior mean and 94% HDI of every quantity, per task, trend, scale and length.

        ``quantity`` is ``epsilon`` (population mean per-token error rate, the chance-free rate
        the trends model; ``observed`` is the scored rate with chance matches taken out, see
        :meth:`TaskData.corrected_epsilon`), ``epsilon_scored`` (the rate the scorer counts,
        ``E_items[r_i]`` with ``r = ε·(1 − g·ε^m)``, pooled over lengths by tokens; ``observed``
        errors/tokens), ``accuracy`` (``E_items[(1 − ε_i)^L]``, chance-free),
        ``accuracy_scored`` (``E_items[(1 − r_i)^L]``, the exact-match rate a test set shows,
        chance matches included),
        ``chance_token_match`` (``observed`` is ``g``, the chance-match rate measured from the
        data or given; ``mean`` and HDI are the rate the model used, ``κ·g`` with the task's
        factor ``κ``, learnt where the data have chance matches), ``accuracy_independent`` (the
        paper's
        ``(1 − ε̄)^L``),
        ``token_edit_distance`` (``L·ε̄``), ``brier`` (``ε̄²·K/(K − 1)``) or ``p_zero_correct``
        (probability that a test set of the observed size — new items from the item population
        — has no exact match, chance matches included; ``mean`` is the posterior predictive
        probability, the HDI that of
        the per-draw probability ``(1 − a)^n``, ``observed`` 1.0 when the data showed 0 correct,
        0.0 when not, NaN at a length not in the data; see :mod:`mirage_bayes.fitting.resolution`).
        """
        return self._summary.copy()

    @cached_property
    def _resolution(self) -> pd.DataFrame:

        return resolution_table(self)

    def resolution(self) -> pd.DataFrame:
        """Per task, trend, scale and length: what a test set of the observed size resolves.

        Test-set size and correct count, the posterior of the accuracy, ``P(0 correct)`` for new
        items and for the same items re-run, the predictive interval of the count, the floors
        ``1/n`` and ``1/(n·L)`` and the items needed for ``P(≥ 1 correct) ≥ 0.95``; see
        :func:`mirage_bayes.fitting.resolution.resolution_table`.
        """
        return self._resolution.copy()

    @cached_property
    def _curves(self) -> pd.DataFrame:
        frames = []
        choices = int(self.meta.get("choices", 2))
        for data in self.tasks:
            lengths = self.lengths(data)
            for trend, grid, post in self._curve_posteriors(data):
                mu = TRENDS[trend].mu(post, data.standardize(grid))
                draws = population_quantities(
                    mu, post["sigma_item"], lengths, item_shape=post.get(SHAPE_PARAMETER)
                )
                eps = draws["epsilon"]
                quantities = [("epsilon", None, eps), ("brier", None, brier_score(eps, choices))]
                for j, length in enumerate(lengths):
                    quantities += [
                        ("accuracy", length, draws["accuracy"][..., j]),
                        ("accuracy_independent", length, accuracy_independent(eps, length)),
                        ("token_edit_distance", length, token_edit_distance(eps, length)),
                    ]
                for quantity, length, values in quantities:
                    table = rows_for(data.task, trend, None, grid, quantity, length, np.nan, values)
                    frames.append(table.drop(columns=["model", "observed"]))
        if not frames:
            return pd.DataFrame(
                columns=["task", "trend", "n_params", "quantity", "length", "mean", "hdi_low",
                         "hdi_high"]
            )  # fmt: skip
        return pd.concat(frames, ignore_index=True)

    def curves(self) -> pd.DataFrame:
        """The summary's quantities on a fine grid of sizes, for the parametric trends."""
        return self._curves.copy()

    def parameters(self) -> pd.DataFrame:
        """Posterior mean and 94% HDI of σ_item, the chance factor κ (``chance_scale``, where the
        task has chance matches), the log-gamma item family's shape ``Q`` (``item_shape``,
        where items are log-gamma) and each trend's parameters on the paper's scale
        (power law: α and log10 c of ``L_CE = (N/c)^α``; broken power law: c0, c1, log10 b,
        log10 d, f of Caballero et al.)."""
        return super().parameters()

    def _own_parameters(self, data, post):
        names = ("sigma_item", "chance_scale", SHAPE_PARAMETER)
        return {name: post[name] for name in names if name in post}

    # --- figures ---------------------------------------------------------------------------

    def plot_epsilon(self, task: str | None = None, *, ax=None):
        """ε vs parameters with each trend's 94% band and the observed rates."""

        task = self._task(task).task
        return plot_epsilon(self._summary, self._curves, self._observed, task=task, ax=ax)

    def plot_metric(
        self, quantity: str = "accuracy", task: str | None = None, *, lengths=None, ax=None
    ):
        """``accuracy``, ``token_edit_distance`` or ``brier`` vs parameters, per length."""

        task = self._task(task).task
        return plot_metric(
            self._summary, self._curves, self._observed,
            task=task, quantity=quantity, lengths=lengths, ax=ax,
        )  # fmt: skip

    def plot_resolution(self, task: str | None = None, *, trend: str = SMOOTH_TREND, ax=None):
        """Observed accuracy, the posterior band of true accuracy and the floors ``1/n``,
        ``1/(n·L)``, on log axes: is an observed zero evidence of no ability?"""

        return plot_resolution(
            self._resolution, self._curves, task=self._task(task).task, trend=trend, ax=ax
        )

    def plot_pass_at_k(
        self, task: str | None = None, *, trend: str = SMOOTH_TREND, length=None, axes=None
    ):
        """pass@k against k per size (posterior bands and the data's estimator) and pass@1
        against size with the floors 1/items and 1/(items × attempts), for a task whose items
        were attempted several times; ``length`` defaults to the one with the most items."""

        data = self._task(task)
        design = attempt_table(self._observed, data.task)
        if length is None:
            length = float(design.groupby("length")["n_items"].sum().idxmax())
        design = design[design["length"] == length]
        return plot_pass_at_k(
            self._summary, design, task=data.task, trend=trend, length=length, axes=axes
        )

    # --- files -------------------------------------------------------------------------------

    def save(self, directory, *, force: bool = False, report: bool = True):
        """Write every output file into ``directory`` atomically; see
        :mod:`mirage_bayes.output.save`."""

        return save_result(self, directory, force=force, report=report)

    def headline_figure(self, task: str):
        """Exact-match accuracy against size, per length (:meth:`plot_metric`)."""
        return self.plot_metric(task=task)


def chance_matrix(data: TaskData, lengths: list[int]) -> np.ndarray:
    """``(scales, lengths)`` chance-match rates; a length not in the data at a scale takes the
    scale's token-weighted mean rate."""
    table = data.chance_by_length()
    by_cell = table.set_index(["model", "length"])["chance"]
    tokens = data.trials.sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(tokens > 0, (data.trials * data.chance).sum(0) / tokens, 0.0)
    out = np.empty((data.n_scales, len(lengths)))
    for s, model in enumerate(data.models):
        for j, length in enumerate(lengths):
            out[s, j] = by_cell.get((model, length), mean[s])
    return out


def tokens_matrix(data: TaskData, lengths: list[int]) -> np.ndarray:
    """``(scales, lengths)`` target tokens of the items of each length at each scale; a scale
    without any item of the lengths weighs them equally."""
    length = data.item_length
    out = np.stack([np.where(length == n, data.trials, 0).sum(0) for n in lengths], -1)
    return np.where(out.sum(-1, keepdims=True) > 0, out, 1.0).astype(np.float64)


def _lookup(obs: pd.DataFrame, models: list[str], length: int, column: str) -> np.ndarray:
    """Observed ``column`` at each scale for one length (NaN where no item has that length)."""
    keys = pd.MultiIndex.from_arrays([models, [length] * len(models)])
    return obs[column].reindex(keys).to_numpy(float)
