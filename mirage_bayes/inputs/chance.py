"""Chance matches: target tokens counted as reproduced although the model did not produce them.

A wrong output still shares tokens with the target by chance (a digit that happens to be right,
an echoed operand, a "0"), and the alignment of :mod:`mirage_bayes.inputs.alignment` credits them.
Left in the data, these matches put a floor under the observed error rate at small sizes, which a
power law in ε cannot bend to, so a smooth law reads as broken.

The rate ``g`` of such matches is measured from the data with a permutation null: in each cell
of one task, model size and target length, every output is paired with the targets of the
*other* items of the cell. A token the output has at the target token's own position is a
produced token in the paper's sense (``1 − ε = exp(−L_CE)`` is the probability of emitting the
right token there, lucky guesses included), so those positions are set aside; ``g`` is the
share of the *other* target tokens that the alignment still reproduces, by shifting the output.
An output answering another question reproduces those only by chance, so ``g`` is the
probability that a token the model did not produce is still counted as reproduced, with the
model's own output distribution at that size (echoes, empty outputs, favourite digits and
all). The model then reads an observed token as reproduced with probability
``1 − ε·(1 − g·ε²)`` (:mod:`mirage_bayes.models.chance_link`: inside one output a wrong token is
matched by chance only where its neighbours are wrong too).

Counting the positional coincidences as chance too would remove a share ``1/V`` (``V`` tokens in
use) of the *produced* tokens as well, and inflate ε by ``1/(1 − g)`` at every size: on outputs
whose wrong digits are any other digit, the error rates of a smooth law came out 14% too high.

All pairs are scored while a cell has at most :data:`MAX_PAIRS` of them; larger cells score
:data:`MAX_PAIRS` pairs drawn with a seed made from the task name, the members of the cell
sorted by item id (or text), so the rate does not depend on the row order. A cell with a single
item pairs its output with the targets of the other items of the same size, whatever their
length; a size with a single item has ``g = 0``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from mirage_bayes.fitting.data import TaskData
from mirage_bayes.inputs.alignment import pair_distances
from mirage_bayes.seeds import derive_seed

__all__ = [
    "MAX_CHANCE", "MAX_PAIRS", "chance_match_rates", "chance_note", "chance_summary", "task_seed",
]  # fmt: skip

SOURCES = {
    "permutation": "measured from the outputs (each paired with the targets of other items of "
    "its size and length)",
    "given": "given with --chance",
    "column": "taken from the table's chance column",
    "none": "not corrected (pre-scored input without a chance column)",
}

MAX_PAIRS = 4000
"""Pairs scored per cell: all of them up to this many (cells of up to 63 items), else a sample."""

MAX_CHANCE = 0.95
SENTINEL_CHAR = "\uffff"  # a Unicode noncharacter: no target token is encoded as it
SENTINEL_ID = -1
"""Ceiling on ``g``: at ``g = 1`` every token counts as reproduced and ε is not identified."""


def task_seed(task: str) -> int:
    """A seed that depends on the task name only (stable across runs and Python versions):
    the package's scheme (:mod:`mirage_bayes.seeds`) under seed 0, so that g does not depend on
    ``--seed``."""
    return derive_seed(0, task, "chance")


def _set_aside_positional(target: Any, output: Any) -> tuple[Any, int]:
    """The output with every token equal to the target's token at the same index replaced by a
    token that matches nothing, and how many were replaced."""
    n = min(len(target), len(output))
    same = [k for k in range(n) if output[k] == target[k]]
    if not same:
        return output, 0
    if isinstance(output, str):
        chars = list(output)
        for k in same:
            chars[k] = SENTINEL_CHAR
        return "".join(chars), len(same)
    masked = list(output)
    for k in same:
        masked[k] = SENTINEL_ID
    return masked, len(same)


def _cell_pairs(
    members: np.ndarray, same_size: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """(output row, target row) pairs of one cell: other items of the cell, else of the size."""
    k = len(members)
    if k == 1:
        others = same_size[same_size != members[0]]
        if len(others) > MAX_PAIRS:
            others = others[rng.choice(len(others), MAX_PAIRS, replace=False)]
        return np.full(len(others), members[0]), others
    if k * (k - 1) <= MAX_PAIRS:
        i, j = np.meshgrid(np.arange(k), np.arange(k), indexing="ij")
        keep = i != j
        return members[i[keep]], members[j[keep]]
    i = rng.integers(0, k, MAX_PAIRS)
    j = (i + rng.integers(1, k, MAX_PAIRS)) % k  # any other member, uniformly
    return members[i], members[j]


def chance_match_rates(
    targets: Sequence[Any],
    outputs: Sequence[Any],
    sizes: np.ndarray,
    lengths: np.ndarray,
    keys: Sequence[str],
    seed: int,
    *,
    items: np.ndarray | None = None,
) -> np.ndarray:
    """The chance-match rate ``g`` of every row's (size, length) cell.

    Parameters
    ----------
    targets, outputs
        Encoded token sequences of one task's rows (as given to
        :func:`mirage_bayes.inputs.alignment.pair_distances`).
    sizes
        An integer code of each row's model.
    lengths
        Each row's target length in tokens.
    keys
        A sort key per row (the item id, or the texts) that fixes the order of a cell's members.
    seed
        Seed for the pairs drawn in cells with more than :data:`MAX_PAIRS` pairs.
    items
        An item code per row, where rows are attempts of items: pairs of two attempts of one
        item (which share the target) are left out.

    Returns
    -------
    numpy.ndarray
        ``g`` per row, in ``[0, MAX_CHANCE]``.
    """
    sizes = np.asarray(sizes, dtype=np.int64)
    lengths = np.asarray(lengths, dtype=np.int64)
    rates = np.zeros(len(sizes))
    if len(sizes) == 0:
        return rates
    order = np.argsort(np.asarray(keys, dtype=object), kind="stable")
    rng = np.random.default_rng(seed)
    cells = sizes * (int(lengths.max()) + 1) + lengths
    out_rows, target_rows, pair_cell = [], [], []
    codes = np.unique(cells)
    for c, code in enumerate(codes):
        members = order[cells[order] == code]
        same_size = order[sizes[order] == sizes[members[0]]]
        o, t = _cell_pairs(members, same_size, rng)
        out_rows.append(o)
        target_rows.append(t)
        pair_cell.append(np.full(len(o), c))
    o, t, pc = (np.concatenate(a) for a in (out_rows, target_rows, pair_cell))
    if items is not None:
        other = np.asarray(items)[o] != np.asarray(items)[t]
        o, t, pc = o[other], t[other], pc[other]
    paired_targets = [targets[i] for i in t]
    masked = [_set_aside_positional(x, outputs[i]) for x, i in zip(paired_targets, o, strict=True)]
    n_tokens, _, errors = pair_distances(paired_targets, [m for m, _ in masked])
    positional = np.fromiter((n for _, n in masked), np.int64, len(masked))
    # Set-aside tokens count as errors in the masked alignment: they are neither chance
    # matches nor part of the tokens that could have been matched by chance.
    at_risk = np.bincount(pc, weights=n_tokens - positional, minlength=len(codes))
    credited = np.bincount(pc, weights=n_tokens - errors, minlength=len(codes))
    with np.errstate(invalid="ignore", divide="ignore"):
        per_cell = np.where(at_risk > 0, credited / at_risk, 0.0)
    per_cell = np.clip(per_cell, 0.0, MAX_CHANCE)
    rates[:] = per_cell[np.searchsorted(codes, cells)]
    return rates


def chance_summary(data: TaskData, source: str) -> dict:
    """The chance-match rates of one task for ``summary.json``: where they came from, the
    token-weighted mean, the range over cells and the mean per target length."""
    evaluated = data.trials > 0
    tokens = data.trials.sum()
    g = data.chance[evaluated]
    by_length = data.chance_by_length().groupby("length")["chance"].mean()
    return {
        "source": source,
        "mean": float((data.trials * data.chance).sum() / tokens) if tokens else 0.0,
        "min": float(g.min()) if g.size else 0.0,
        "max": float(g.max()) if g.size else 0.0,
        "by_length": {str(int(k)): round(float(v), 6) for k, v in by_length.items()},
    }


def chance_note(data: TaskData, source: str) -> str:
    """One sentence for the log and the report: how large ``g`` was and that it was taken out."""
    info = chance_summary(data, source)
    if info["max"] == 0.0:
        if source == "none":
            return f"chance matches {SOURCES['none']}; ε is read as scored"
        return f"chance-match rate 0 ({SOURCES.get(source, source)})"
    spread = f" ({info['min']:.3f}–{info['max']:.3f} across sizes and lengths)"
    return (
        f"chance-match rate g = {info['mean']:.3f}{spread}, {SOURCES.get(source, source)}; "
        "taken out of ε: a token not produced still scores as reproduced with probability "
        "κ·g·ε² (κ·g when every token of the output is wrong), where the factor κ, learnt "
        "from the data, covers chance alignment with an output's own target (e.g. an echoed "
        "operand) that the null cannot see"
    )
