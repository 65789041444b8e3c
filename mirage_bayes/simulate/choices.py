"""Multiple-choice outputs of a model family simulated from the paper's mathematical model.

The cross-entropy of the skill falls as a power law, ``L_CE = (N/c)^α`` (optionally with one smooth
break, as :func:`mirage_bayes.simulate.generation.log_cross_entropy`), and a model without the
skill guesses (``guessing``, the default), so the probability on the correct choice ``q = 1/K + (1 −
1/K)·exp(−L_CE)`` sits at chance for the smallest sizes and rises smoothly. Item ``i`` at size ``s``
has ``log(−log q_is) = μ_s + u_i + e_is``, ``μ_s`` the guessing curve of ``log((N_s/c)^α)``
(:func:`mirage_bayes.models.choice.guessing_log_ce`), with item difficulty ``u_i ~ Normal(0,
σ_item)`` and an item-by-size residual ``e_is ~ Normal(0, σ_obs)``. The wrong mass ``1 − q`` is
split over the ``K − 1`` wrong choices by ``softmax(d_i)``, ``d_ik ~ Normal(0, distractor_spread)``
fixed per item (some distractors are more tempting than others, at every size). The
log-probabilities written are ``log p_k`` plus a negative offset per row, as log-likelihoods of
continuations are not normalised over the choices; the softmax over the choices recovers ``p``.

With ``guessing=False`` and ``σ_item = σ_obs = distractor_spread = 0`` this is the paper's
closed form: grade
``[1 − ε > ε/(K − 1)]`` and Brier ``ε²·K/(K − 1)`` with ``ε = 1 − q``
(:func:`mirage_bayes.fitting.theory.mc_grade`, :func:`mirage_bayes.fitting.transforms.brier_score`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import ndtr, softmax

from mirage_bayes.models.choice import expected_q_moments, grade_thresholds, guessing_log_ce
from mirage_bayes.simulate.generation import GPT3_SIZES, Break, log_cross_entropy, model_name

__all__ = ["choice_truth", "simulate_choices", "write_choice_table", "write_example"]

_TRUTH_SHAPES = 200_000  # Monte Carlo draws of the wrong-mass split behind the population truth


def _wrong_shapes(rng: np.random.Generator, n: int, n_choices: int, spread: float):
    """Wrong shares ``(n, K − 1)`` from ``softmax(Normal(0, spread))``."""
    return softmax(rng.normal(0.0, spread, (n, n_choices - 1)), axis=1)


def choice_truth(
    n_params: Sequence[float],
    *,
    c: float,
    alpha: float,
    n_choices: int = 4,
    sigma_item: float = 0.3,
    sigma_obs: float = 0.2,
    distractor_spread: float = 0.5,
    brk: Break | None = None,
    guessing: bool = True,
    seed: int = 0,
) -> pd.DataFrame:
    """Population ``p_correct``, ``mc_grade`` and ``brier`` of the simulation at each size.

    Exact over item difficulty and residual (quadrature and normal probabilities, as the model's
    propagation), Monte Carlo with 200,000 draws over the split of the wrong mass.

    Returns
    -------
    pandas.DataFrame
        ``model, n_params, quantity, value``, sizes in the order given.
    """
    sizes = np.asarray(n_params, dtype=float)
    eta = log_cross_entropy(sizes, c, alpha, brk)[None, :]
    if guessing:
        eta = guessing_log_ce(eta, 1.0 / n_choices)
    tau = np.array([np.hypot(sigma_item, sigma_obs)])
    shares = _wrong_shapes(np.random.default_rng([seed, 1]), _TRUTH_SHAPES, n_choices,
                           distractor_spread)  # fmt: skip
    cuts = grade_thresholds(shares.max(axis=1))
    if tau[0] > 0:
        grade = ndtr((cuts[None, :] - eta[0][:, None]) / tau[0]).mean(axis=1)
        moments = expected_q_moments(eta, tau)
        p_correct, wrong_sq = moments["p_correct"][0], moments["wrong_squared"][0]
    else:  # no spread: every item sits exactly on the trend
        grade = (cuts[None, :] > eta[0][:, None]).mean(axis=1)
        p_correct = np.exp(-np.exp(eta[0]))
        wrong_sq = (1.0 - p_correct) ** 2
    brier = wrong_sq * (1.0 + float((shares**2).sum(axis=1).mean()))
    names = [model_name(n) for n in sizes]
    frames = [
        pd.DataFrame({"model": names, "n_params": sizes, "quantity": q, "value": v})
        for q, v in (("p_correct", p_correct), ("mc_grade", grade), ("brier", brier))
    ]
    return pd.concat(frames, ignore_index=True)


# The truth's keyword options again, in full, so that help() lists them for each entry point.
def simulate_choices(
    *,
    n_params: Sequence[float] = GPT3_SIZES,
    c: float = 3.0e9,
    alpha: float = -0.5,
    n_items: int = 100,
    n_choices: int = 4,
    sigma_item: float = 0.3,
    sigma_obs: float = 0.2,
    distractor_spread: float = 0.5,
    brk: Break | None = None,
    guessing: bool = True,
    task: str = "simulated_choice",
    family: str = "simulated",
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Simulate per-choice log-probabilities of a model family on one multiple-choice test set.

    Parameters
    ----------
    n_params
        Model sizes.
    c, alpha
        Power law ``L_CE = (N/c)^α`` of the correct choice's cross-entropy (``α < 0``).
    n_items, n_choices
        Test items, shared by every model, and choices per item (chance level ``1/K``).
    sigma_item, sigma_obs
        Spread of item difficulty and of the item-by-size residual, on ``log L_CE``.
    distractor_spread
        Standard deviation of the wrong choices' logits (0: the wrong mass is split evenly).
    brk
        Optional break in the power law.
    guessing
        Whether a model without the skill guesses: the mean ``log L_CE`` of the correct choice
        is that of ``p = 1/K + (1 − 1/K)·exp(−(N/c)^α)``, level at chance for the smallest
        sizes (:func:`mirage_bayes.models.choice.guessing_log_ce`). Without it ``p`` falls far
        below chance where the power law's cross-entropy is large.
    task, family
        Labels written to the output.
    seed
        Random seed.

    Returns
    -------
    outputs, truth
        ``outputs``: one row per (model, item) with ``task, family, model, n_params, item,
        answer, choices_logprobs`` (a list of floats), validated
        (``attrs["kind"] == "multiple_choice"``). ``truth``: :func:`choice_truth`.
    """
    if n_choices < 2:
        raise ValueError("a multiple-choice item needs at least 2 choices")
    rng = np.random.default_rng(seed)
    sizes = np.sort(np.asarray(n_params, dtype=float))
    eta = log_cross_entropy(sizes, c, alpha, brk)
    if guessing:
        eta = guessing_log_ce(eta, 1.0 / n_choices)
    difficulty = rng.normal(0.0, sigma_item, n_items)
    answers = rng.integers(0, n_choices, n_items)
    shares = _wrong_shapes(rng, n_items, n_choices, distractor_spread)
    wrong_index = np.array([[k for k in range(n_choices) if k != a] for a in answers])
    rows = []
    for size, level in zip(sizes, eta, strict=True):
        l_ce = np.exp(level + difficulty + rng.normal(0.0, sigma_obs, n_items))
        offset = -rng.gamma(2.0, 2.0, n_items)  # continuations' total mass: softmax removes it
        logprobs = np.empty((n_items, n_choices))
        logprobs[np.arange(n_items), answers] = -l_ce
        log_wrong = np.log(-np.expm1(-l_ce))[:, None] + np.log(shares)
        np.put_along_axis(logprobs, wrong_index, log_wrong, axis=1)
        logprobs += offset[:, None]
        for i in range(n_items):
            rows.append(
                {
                    "task": task,
                    "family": family,
                    "model": model_name(size),
                    "n_params": size,
                    "item": f"q{i:05d}",
                    "answer": int(answers[i]),
                    "choices_logprobs": logprobs[i].tolist(),
                }
            )
    outputs = pd.DataFrame(rows)
    outputs.attrs.update(
        kind="multiple_choice", source="simulated", item_ids=True, choices_input="choices_logprobs"
    )
    truth = choice_truth(
        sizes, c=c, alpha=alpha, n_choices=n_choices, sigma_item=sigma_item,
        sigma_obs=sigma_obs, distractor_spread=distractor_spread, brk=brk, guessing=guessing,
        seed=seed,
    )  # fmt: skip
    return outputs, truth


def write_choice_table(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write a multiple-choice table as CSV, ``choices_logprobs`` as JSON lists (6 decimals)."""
    path = Path(path)
    out = frame.copy()
    out["choices_logprobs"] = [
        json.dumps([round(float(v), 6) for v in values]) for values in out["choices_logprobs"]
    ]
    out.to_csv(path, index=False)
    return path


EXAMPLE = {"n_items": 100, "n_choices": 4, "seed": 2023, "task": "simulated_choice"}


def write_example(directory: str | Path = "examples") -> tuple[Path, Path]:
    """Write the bundled example: ``multiple_choice_outputs.csv`` (8 GPT-3 sizes × 100 items × 4
    choices, :data:`EXAMPLE` settings and the defaults of :func:`simulate_choices`) and its
    population truth ``multiple_choice_truth.csv``."""
    directory = Path(directory)
    outputs, truth = simulate_choices(**EXAMPLE)
    truth_path = directory / "multiple_choice_truth.csv"
    truth.to_csv(truth_path, index=False, float_format="%.6g")
    return write_choice_table(outputs, directory / "multiple_choice_outputs.csv"), truth_path
