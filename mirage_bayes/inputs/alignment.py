"""Token alignment of a generation against its target: edit distance and unreproduced tokens.

Both counts are Levenshtein distances computed by :mod:`rapidfuzz` (C++) on strings whose
characters stand for tokens (see :mod:`mirage_bayes.inputs.scoring`), or on lists of token ids.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from rapidfuzz.distance import Levenshtein
from rapidfuzz.process import cpdist

__all__ = ["pair_distances"]


def pair_distances(
    targets: Sequence[Any], outputs: Sequence[Any]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Levenshtein distance and errors for already-encoded sequence pairs.

    Parameters
    ----------
    targets, outputs
        Equal-length sequences of strings (each character one token) or of token-id lists.

    Returns
    -------
    n_tokens, token_edit_distance, n_errors : numpy.ndarray of int64
        ``L``, the Levenshtein distance ``S + D + I`` and the target tokens substituted or
        deleted, ``S + D``, by the cheapest script with the fewest insertions.

    Notes
    -----
    With ``D − I = L − M`` (``M`` the output length), ``S + D = distance − I``. The fewest
    insertions come from one weighted distance: insertions and deletions cost ``K + 1`` and
    substitutions ``K``, with ``K > L + M``, so the weighted cost is ``K·distance + I + D =
    K·distance + 2I + L − M``, minimised first in the distance and then in ``I``. Where the
    distance is ``|L − M|`` the script is all insertions or all deletions and ``I`` is known, so
    the (quadratic-time) weighted distance is computed only for the other pairs.
    """
    n_tokens = np.fromiter(map(len, targets), np.int64, len(targets))
    if len(targets) == 0:
        empty = np.zeros(0, np.int64)
        return n_tokens, empty, empty
    m = np.fromiter(map(len, outputs), np.int64, len(outputs))
    distance = cpdist(targets, outputs, scorer=Levenshtein.distance, workers=-1).astype(np.int64)
    insertions = np.maximum(m - n_tokens, 0)
    mixed = np.flatnonzero(distance > np.abs(n_tokens - m))
    if mixed.size:
        k = int((n_tokens[mixed] + m[mixed]).max()) + 1
        weighted = cpdist(
            [targets[i] for i in mixed], [outputs[i] for i in mixed],
            scorer=Levenshtein.distance, scorer_kwargs={"weights": (k + 1, k + 1, k)},
            dtype=np.int64, workers=-1,
        )  # fmt: skip
        insertions[mixed] = (weighted - k * distance[mixed] - n_tokens[mixed] + m[mixed]) // 2
    return n_tokens, distance, distance - insertions
