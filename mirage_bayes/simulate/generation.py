"""Outputs of a model family simulated from the paper's mathematical model.

Per-token cross-entropy falls as a power law, ``L_CE = (N / c)^alpha`` (optionally with one
smooth break), each item has its own difficulty ``u_i ~ Normal(0, sigma_item)`` on the log
cross-entropy scale, and every target token is *produced* correctly with probability
``exp(−L_CE · exp(u_i))``; :func:`population_truth` is the truth of that ε and of accuracy.

Items are real arithmetic problems (two operands, an addition or a multiplication, the result
written in digits), and the output is rendered the way small models get such problems wrong: a
wrong token is any other digit (possibly one found elsewhere in the target), a wrong token may be
dropped, extra digits may be inserted, an output with no right token may echo an operand or be
empty, and an output may stop after its first wrong token. A scorer that counts reproduced
tokens by alignment therefore meets chance matches, as it does on real generations.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mirage_bayes.models.attempts import default_ks
from mirage_bayes.models.generation import population_grid

# GPT-3 family sizes (Brown et al. 2020), the family behind the paper's InstructGPT figures.
GPT3_SIZES = (1.25e8, 3.5e8, 7.6e8, 1.3e9, 2.7e9, 6.7e9, 1.3e10, 1.75e11)

OPERATIONS = {"add": "+", "multiply": "*"}
_DIGITS = "0123456789"


@dataclass(frozen=True)
class Break:
    """One smooth break: beyond ``n_params`` the log-log slope changes by ``slope_change``."""

    n_params: float
    slope_change: float
    sharpness: float = 0.1


@dataclass(frozen=True)
class _Noise:
    """How produced tokens are rendered as text (see :func:`simulate_outputs`)."""

    insert_rate: float
    delete_rate: float
    echo_rate: float
    empty_rate: float
    truncate_rate: float


def log_cross_entropy(
    n_params: np.ndarray, c: float, alpha: float, brk: Break | None = None
) -> np.ndarray:
    """``log L_CE`` at each size: ``alpha·(log N − log c)`` plus the break's smooth kink."""
    log_n = np.log(np.asarray(n_params, dtype=float))
    eta = alpha * (log_n - np.log(c))
    if brk is not None:
        f = brk.sharpness * np.log(10)  # sharpness in decades
        eta = eta + brk.slope_change * f * np.logaddexp(0.0, (log_n - np.log(brk.n_params)) / f)
    return eta


def model_name(n_params: float) -> str:
    """Human-readable size label, e.g. ``1.3B`` or ``350M``."""
    for unit, scale in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n_params >= scale:
            return f"{n_params / scale:.3g}{unit}"
    return f"{n_params:.3g}"


def population_truth(
    eta: np.ndarray,
    sigma_item: float,
    lengths: Sequence[int],
    n_nodes: int = 2001,
    ks: Sequence[int] = (),
) -> pd.DataFrame:
    """Population ε and accuracy per scale and length, averaged over item difficulty; with
    ``ks``, also ``pass_at_k`` (in a column ``k``): ``1 − E_items[(1 − a_i)^k]``, the share of
    items that at least one of ``k`` attempts gets right."""
    nodes, w = population_grid(n_nodes)
    l_ce = np.exp(eta[:, None] + sigma_item * nodes[None, :])
    rows = []
    for s in range(len(eta)):
        eps = float(((-np.expm1(-l_ce[s])) * w).sum())
        rows.append({"scale": s, "quantity": "epsilon", "length": np.nan, "value": eps})
        for length in lengths:
            item_accuracy = np.exp(-length * l_ce[s])
            acc = float((item_accuracy * w).sum())
            rows.append({"scale": s, "quantity": "accuracy", "length": length, "value": acc})
            for k in ks:
                value = 1.0 - float((np.exp(k * np.log1p(-item_accuracy)) * w).sum())
                rows.append({"scale": s, "quantity": "pass_at_k", "length": length,
                             "k": float(k), "value": value})  # fmt: skip
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------
# Items: arithmetic problems whose result has the requested number of digits
# --------------------------------------------------------------------------------------------


def _uniform_int(rng: np.random.Generator, low: int, high: int) -> int:
    """Uniform integer in ``[low, high]``, exact for integers beyond int64 (long targets)."""
    span = high - low + 1
    if span <= 2**62:
        return low + int(rng.integers(span))
    bits = span.bit_length()
    n_bytes = (bits + 7) // 8
    while True:  # rejection sampling: fewer than two tries on average
        x = int.from_bytes(rng.bytes(n_bytes), "big") >> (8 * n_bytes - bits)
        if x < span:
            return low + x


def _problem(rng: np.random.Generator, length: int, operation: str) -> tuple[int, int, int]:
    """Operands ``a, b`` and result of one problem whose result has ``length`` digits."""
    low = 10 ** (length - 1) if length > 1 else 0  # no leading zero: a result is a number
    high = 10**length - 1
    if operation == "add":
        result = _uniform_int(rng, low, high)
        # Both operands positive where possible: "x + 0" would make an echo a correct answer.
        a = _uniform_int(rng, 1, result - 1) if result >= 2 else _uniform_int(rng, 0, result)
        return a, result - a, result
    # Multiplication: the smaller factor has at most half the digits, as in "2-digit ×" tasks;
    # the larger one is then drawn so that the product has exactly ``length`` digits (the range
    # is never empty because a <= sqrt(high) <= high - low + 1).
    a = _uniform_int(rng, 2, max(2, math.isqrt(high)))
    b = _uniform_int(rng, max(1, -(-low // a)), high // a)
    return a, b, a * b


# --------------------------------------------------------------------------------------------
# Rendering produced tokens as an output string
# --------------------------------------------------------------------------------------------


def _render(
    target: str,
    produced: np.ndarray,
    operands: tuple[int, int],
    noise: _Noise,
    rng: np.random.Generator,
) -> str:
    """The output text of one (model, item) given which target tokens the model produced."""
    if not produced.any():
        # A model that got nothing right often answers something else entirely; this only
        # re-renders an output whose every token is already wrong, so ε's truth is unchanged.
        # An operand equal to the target (a trivial "1 * 7") cannot be echoed without making
        # the output right: such an output is rendered by substitution below.
        u = rng.random()
        echoes = [str(v) for v in operands if str(v) != target]
        if u < noise.echo_rate and echoes:
            return echoes[int(rng.integers(len(echoes)))]
        if noise.echo_rate <= u < noise.echo_rate + noise.empty_rate:
            return ""
    truncate = rng.random() < noise.truncate_rate
    out: list[str] = []
    for token, ok in zip(target, produced, strict=True):
        if ok:
            out.append(token)
        elif rng.random() >= noise.delete_rate:
            # Any digit but the right one, so it may equal another digit of the target.
            out.append(_DIGITS[(_DIGITS.index(token) + int(rng.integers(1, 10))) % 10])
        if truncate and not ok:
            break  # the output stops right after its first wrong token
        if not ok and rng.random() < noise.insert_rate:
            # Where the model went wrong it may also emit more digits than the target has. An
            # output whose every token was produced stays right, so exact match keeps its truth.
            out.append(_DIGITS[int(rng.integers(10))])
    return "".join(out)


def _check_rates(noise: _Noise) -> None:
    for name, value in vars(noise).items():
        if not 0.0 <= value <= 1.0:  # also refuses NaN
            raise ValueError(f"{name} must be a probability in [0, 1], got {value}")
    if noise.echo_rate + noise.empty_rate > 1.0:
        raise ValueError(
            f"echo_rate + empty_rate must be at most 1 (they share the all-wrong outputs), got "
            f"{noise.echo_rate} + {noise.empty_rate}"
        )


# Every setting a keyword with its default, as fit's are: the shape duplicates finds is that.
def simulate_outputs(
    *,
    n_params: Sequence[float] = GPT3_SIZES,
    c: float = 3.0e8,
    alpha: float = -0.6,
    n_items: int = 200,
    lengths: Sequence[int] = (1, 2, 3, 4, 5),
    sigma_item: float = 0.5,
    brk: Break | None = None,
    task: str = "simulated_arithmetic",
    family: str = "simulated",
    seed: int = 0,
    operation: str = "add",
    insert_rate: float = 0.02,
    delete_rate: float = 0.1,
    echo_rate: float = 0.2,
    empty_rate: float = 0.05,
    truncate_rate: float = 0.0,
    attempts: int = 1,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Simulate per-item outputs of a model family on one test set of arithmetic problems.

    Every target token is produced correctly with probability ``exp(−L_CE · exp(u_i))``,
    independently; the produced tokens are then rendered as text with the failure modes below,
    each applied independently per (model, item). With ``insert_rate = delete_rate =
    echo_rate = empty_rate = truncate_rate = 0`` a wrong token is only ever substituted, so the
    output has the target's length and differs from it exactly where a token was not produced.

    Parameters
    ----------
    n_params
        Model sizes.
    c, alpha
        Power law ``L_CE = (N / c)^alpha`` (``alpha < 0``: loss falls with size).
    n_items
        Test items, shared by every model; item ``i`` has target length ``lengths[i % len]``.
    lengths
        Target lengths in tokens (characters: digits). The result of each problem has exactly
        this many digits (no leading zero).
    sigma_item
        Standard deviation of item difficulty on the log cross-entropy scale.
    brk
        Optional break in the power law.
    task, family
        Labels written to the output.
    seed
        Random seed. Items, difficulties and which tokens are produced come from one stream and
        the rendering from another, so the same seed gives the same produced tokens whatever
        the rates below.
    operation
        ``"add"`` (default; two positive operands summing to the target) or ``"multiply"``
        (a small factor of at most half the target's digits times a larger one).
    insert_rate
        Probability, per target token that was not produced, that an extra uniformly drawn
        digit follows it in the output (default 0.02).
    delete_rate
        Probability that a token that was not produced is dropped from the output instead of
        being replaced by another digit (default 0.1). A replacing digit is uniform over the
        nine digits other than the right one, so it may equal a digit found elsewhere in the
        target, and an alignment-based scorer then credits a chance match.
    echo_rate
        Probability that an output none of whose tokens was produced is one of the problem's
        operands instead (default 0.2; an operand equal to the target is never echoed).
    empty_rate
        Probability that an output none of whose tokens was produced is empty (default 0.05).
        ``echo_rate + empty_rate`` must be at most 1.
    truncate_rate
        Probability that an output stops right after its first wrong (substituted or dropped)
        token (default 0). Unlike the other options this one adds errors: target tokens that
        were produced after that point are missing from the output, so the scored errors
        exceed the produced ones and ``truth`` no longer describes what a scorer can see.
    attempts
        Outputs sampled per (model, item) (default 1). Each attempt draws its produced tokens
        anew given the item's difficulty; with more than one, rows get an ``attempt`` column and
        ``truth`` gains ``pass_at_k`` for ``k`` = 1, 2, 5, 10, ... up to ``attempts``.

    Insertions, deletions, echoes and empty outputs keep ``truth`` exact for the tokens the
    model produced: they add no missing produced token and only re-render wrong ones. What a
    scorer counts still differs from it: an alignment may match a wrong or inserted digit to a
    target digit by chance, which lowers the scored error rate below ε (most at small sizes).
    An output whose every token was produced is the target itself, so ``truth``'s accuracy is
    the exact-match rate.

    Returns
    -------
    outputs, truth
        ``outputs``: one row per (model, item) with ``task, family, model, n_params, item,
        question, target, output``. ``truth``: population ``epsilon`` (the probability that a
        token is not produced) and ``accuracy`` (that every token is produced) per model and
        length.

    Raises
    ------
    ValueError
        For a rate outside ``[0, 1]``, ``echo_rate + empty_rate > 1``, an unknown operation or
        a length below 1.
    """
    outputs, truth, _ = _simulate(
        n_params=n_params, c=c, alpha=alpha, n_items=n_items, lengths=lengths,
        sigma_item=sigma_item, brk=brk, task=task, family=family, seed=seed,
        operation=operation,
        noise=_Noise(insert_rate, delete_rate, echo_rate, empty_rate, truncate_rate),
        attempts=attempts,
    )  # fmt: skip
    return outputs, truth


def _simulate(
    *,
    n_params: Sequence[float],
    c: float,
    alpha: float,
    n_items: int,
    lengths: Sequence[int],
    sigma_item: float,
    brk: Break | None,
    task: str,
    family: str,
    seed: int,
    operation: str,
    noise: _Noise,
    attempts: int = 1,
) -> tuple[pd.DataFrame, pd.DataFrame, list[np.ndarray]]:
    """:func:`simulate_outputs` plus, per output row, the mask of produced target tokens."""
    if operation not in OPERATIONS:
        raise ValueError(f"unknown operation {operation!r}; choose from {sorted(OPERATIONS)}")
    _check_rates(noise)
    if any(int(v) < 1 for v in lengths):
        raise ValueError(f"target lengths must be at least 1 digit, got {list(lengths)}")
    if int(attempts) < 1:
        raise ValueError(f"attempts must be at least 1, got {attempts}")
    # Two streams: the generative truth must not shift when only the rendering changes.
    truth_rng, render_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2)
    )
    sizes = np.sort(np.asarray(n_params, dtype=float))
    eta = log_cross_entropy(sizes, c, alpha, brk)
    item_lengths = np.resize(np.asarray(lengths, dtype=int), n_items)
    difficulty = truth_rng.normal(0.0, sigma_item, n_items)
    problems = [_problem(truth_rng, int(length), operation) for length in item_lengths]
    symbol = OPERATIONS[operation]
    targets = [str(result) for _, _, result in problems]
    questions = [f"What is {a} {symbol} {b}?" for a, b, _ in problems]
    ends = np.cumsum(item_lengths)[:-1]
    rows, masks = [], []
    for s, size in enumerate(sizes):
        p_right = np.exp(-np.exp(eta[s] + difficulty))
        for attempt in range(int(attempts)):
            draws = np.split(truth_rng.random(int(item_lengths.sum())), ends)
            for i, target in enumerate(targets):
                produced = draws[i] < p_right[i]
                output = _render(target, produced, problems[i][:2], noise, render_rng)
                masks.append(produced)
                row = {
                    "task": task, "family": family, "model": model_name(size),
                    "n_params": size, "item": f"q{i:05d}", "question": questions[i],
                    "target": target, "output": output,
                }  # fmt: skip
                if attempts > 1:
                    row["attempt"] = attempt + 1
                rows.append(row)
    ks = default_ks(int(attempts)) if attempts > 1 else ()
    truth = population_truth(eta, sigma_item, sorted(set(int(v) for v in lengths)), ks=ks)
    truth.insert(0, "model", [model_name(sizes[s]) for s in truth["scale"]])
    truth.insert(1, "n_params", sizes[truth["scale"].to_numpy()])
    return pd.DataFrame(rows), truth.drop(columns="scale"), masks
