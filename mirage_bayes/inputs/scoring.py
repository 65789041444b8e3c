"""Score generations against targets as per-token error counts.

Definitions
-----------
Tokenizer
    ``char``: the characters of the text, after removing leading and trailing whitespace (so a
    trailing newline in a generation is not an error). ``whitespace``: the text split on runs of
    whitespace. ``regex:PATTERN``: the non-empty matches of ``PATTERN`` (the whole match, even if
    the pattern has groups), e.g. ``regex:\\w+|[^\\w\\s]`` for words and punctuation. ``auto``:
    ``whitespace`` when any target of the task contains whitespace after stripping, else
    ``char``; it is resolved separately for each task.
``n_tokens``
    ``L``, the number of tokens of the target.
``token_edit_distance``
    Levenshtein distance between the target and output token sequences (insertions, deletions
    and substitutions of whole tokens, each costing 1).
``n_errors``
    Target tokens *not* reproduced: those that the cheapest edit script turning the target into
    the output substitutes or deletes (``n_errors = S + D``, while ``token_edit_distance =
    S + D + I``). Among the cheapest scripts the one with the fewest insertions is taken, i.e. a
    substitution is preferred to a deletion plus an insertion, so a token only counts as
    reproduced where reproducing it does not cost an extra edit: an output that has the right
    tokens in the wrong places is not credited for them. Extra tokens in the output are not
    errors (they are not target tokens), so an output that contains the target with additions
    has ``n_errors = 0``. Hence ``0 <= n_errors <= min(L, token_edit_distance)``.

    The longest common subsequence (``L − LCS``) would credit every in-order match however far
    the output had to be shifted for it: on random digit strings with every digit wrong it
    counts about 16% of the digits of a 3-digit target as reproduced (29% at 8 digits), against
    1% (5%) for this alignment. Chance matches that remain are estimated from the data and
    modelled (:mod:`mirage_bayes.inputs.chance`).
``exact_match``
    The output token sequence equals the target token sequence (``token_edit_distance == 0``).

Both distances come from :mod:`rapidfuzz` (C++) on strings. For token-level tokenizers each
distinct token is first mapped to one Unicode character through a vocabulary built per task, so
a token sequence becomes a string and the distance between strings equals the distance between
token sequences. The error count is a second, weighted Levenshtein distance whose weights
rank the cheapest scripts by their number of insertions (see :func:`pair_distances`).
"""

from __future__ import annotations

import gc
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd

from mirage_bayes.errors import InputError
from mirage_bayes.inputs.alignment import pair_distances
from mirage_bayes.inputs.chance import chance_match_rates, task_seed

__all__ = ["resolve_tokenizer", "tokenize", "score_outputs", "pair_distances"]

_SPEC_FIX = "use auto, char, whitespace or regex:PATTERN (e.g. regex:\\w+)"
_WHITESPACE = re.compile(r"\s")
_SURROGATES = (0xD800, 0xE000)  # lone surrogates are not valid characters in a string
_MAX_CODE = 0x10FFFF


def _parse(spec: Any) -> tuple[str, re.Pattern[str] | None]:
    """Validate a tokenizer spec; return its kind and compiled pattern (regex only)."""
    if not isinstance(spec, str):
        raise InputError(f"tokenizer {spec!r} is not a string", fix=_SPEC_FIX)
    if spec.startswith("regex:"):
        pattern = spec[len("regex:") :]
        if not pattern:
            raise InputError("tokenizer 'regex:' has an empty pattern", fix=_SPEC_FIX)
        try:
            return "regex", re.compile(pattern)
        except re.error as err:
            raise InputError(
                f"tokenizer {spec!r} is not a valid regular expression ({err})", fix=_SPEC_FIX
            ) from None
    kind = spec.strip().lower()
    if kind not in ("auto", "char", "whitespace"):
        raise InputError(f"unknown tokenizer {spec!r}", fix=_SPEC_FIX)
    return kind, None


def resolve_tokenizer(spec: str, targets: Iterable[Any]) -> str:
    """Turn a tokenizer spec into a concrete tokenizer name.

    Parameters
    ----------
    spec
        ``"auto"``, ``"char"``, ``"whitespace"`` or ``"regex:PATTERN"``.
    targets
        The targets of one task; only read when ``spec`` is ``"auto"``.

    Returns
    -------
    str
        ``"char"``, ``"whitespace"`` or ``"regex:PATTERN"`` (the pattern verbatim).

    Raises
    ------
    InputError
        If the spec is unknown or its regular expression does not compile.
    """
    kind, pattern = _parse(spec)
    if pattern is not None:
        return f"regex:{pattern.pattern}"
    if kind != "auto":
        return kind
    # Multi-word answers are judged word by word; single-token answers (numbers, words, code
    # points) character by character, which is what gives partial credit any meaning there.
    multi_word = any(_WHITESPACE.search(t.strip()) for t in targets if isinstance(t, str))
    return "whitespace" if multi_word else "char"


def _splitter(tokenizer: str) -> Callable[[str], Iterable[str]]:
    """The function splitting one text into tokens for a resolved tokenizer name."""
    kind, pattern = _parse(tokenizer)
    if kind == "char":
        return lambda text: list(text.strip())
    if kind == "whitespace":
        return str.split
    if pattern is None:
        raise InputError("tokenizer 'auto' must be resolved first", fix="call resolve_tokenizer")
    if pattern.groups == 0:
        findall = pattern.findall
        # Empty matches (from patterns such as \d*) are not tokens; filter(None) drops them in C.
        return lambda text: filter(None, findall(text))
    finditer = pattern.finditer
    return lambda text: filter(None, (m.group(0) for m in finditer(text)))


def tokenize(texts: Iterable[Any], tokenizer: str) -> list[list[str]]:
    """Split each text into tokens.

    Parameters
    ----------
    texts
        Texts; missing values (None/NaN) count as the empty text.
    tokenizer
        A tokenizer name or spec; ``"auto"`` is resolved against ``texts`` themselves.

    Returns
    -------
    list of list of str
        The tokens of each text, in order.
    """
    texts = [_text(t) for t in texts]
    split = _splitter(resolve_tokenizer(tokenizer, texts))
    return [list(split(t)) for t in texts]


def _texts(column: pd.Series) -> list[str]:
    """A column as Python strings, vectorised; a missing value is the empty text."""
    return column.where(column.notna(), "").astype(str).tolist()


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return ""
    return str(value)


class _Vocabulary(dict):
    """Token -> single character, assigning the next free code point to each new token.

    Using ``dict.__getitem__`` with ``__missing__`` keeps the per-token lookup in C when mapped
    over a token list, which is what makes a million pairs take seconds.
    """

    def __missing__(self, token: str) -> str:
        code = len(self)
        if code >= _SURROGATES[0]:
            code += _SURROGATES[1] - _SURROGATES[0]
        if code > _MAX_CODE:
            raise OverflowError("more distinct tokens than Unicode code points")
        char = chr(code)
        self[token] = char
        return char


class _Cache(dict):
    """Text -> encoded text, computing each distinct text once on first lookup."""

    def __init__(self, encode: Callable[[str], str]) -> None:
        super().__init__()
        self._encode = encode

    def __missing__(self, text: str) -> str:
        value = self[text] = self._encode(text)
        return value


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building millions of small lists.

    Allocating that many containers triggers repeated full collections that find nothing (the
    objects are not cyclic) and made tokenisation of 1e6 pairs several times slower.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _encode(split: Callable[[str], Iterable[str]], *groups: list[str]) -> list[list[Any]]:
    """Tokenize texts and map every token to one character (shared across all groups).

    Each text becomes a string whose characters stand for its tokens, so string distances are
    token-sequence distances. Falls back to lists of integer ids (slower, but rapidfuzz accepts
    any hashable sequence) in the unlikely case of more than ~1.1 million distinct tokens.
    """
    vocab = _Vocabulary()
    lookup = vocab.__getitem__
    join = "".join
    # Targets repeat once per model (and outputs often agree), so each distinct text is
    # tokenised once: a hit in this cache is a C-level dict lookup, a miss encodes the text.
    cache = _Cache(lambda text: join(map(lookup, split(text))))
    try:
        with _gc_paused():
            return [list(map(cache.__getitem__, group)) for group in groups]
    except OverflowError:
        ids: dict[str, int] = {}
        return [[[ids.setdefault(t, len(ids)) for t in split(x)] for x in g] for g in groups]


def _score_task(
    df: pd.DataFrame, rows: np.ndarray, task: str, spec: str, chance: float | None
) -> tuple[str, tuple[np.ndarray, np.ndarray, np.ndarray], np.ndarray]:
    targets = _texts(df["target"].iloc[rows])
    outputs = _texts(df["output"].iloc[rows])
    name = resolve_tokenizer(spec, targets)
    if name == "char":
        # Strings are already sequences of character tokens: no encoding step needed.
        a = [t.strip() for t in targets]
        b = [o.strip() for o in outputs]
    else:
        a, b = _encode(_splitter(name), targets, outputs)
    counts = pair_distances(a, b)
    empty = counts[0] == 0
    if empty.any():
        k = int(np.flatnonzero(empty)[0])
        i = int(rows[k])
        row = df.iloc[i]
        who = f"model {row['model']!r}" if "model" in df else ""
        if "item" in df and isinstance(row["item"], str):
            who += f", item {row['item']!r}"
        source = df.attrs.get("source")
        where = f"{source}, " if source else ""
        raise InputError(
            f"target {targets[k]!r} has no tokens under tokenizer {name!r}",
            where=f"{where}task {task!r}, row index {i} ({who})",
            fix="choose a tokenizer that finds at least one token in every target, or drop the row",
        )
    if chance is not None:
        return name, counts, np.full(len(rows), float(chance))
    part = df.iloc[rows]
    items = None
    if "item" in df and part["item"].notna().all():
        keys = part["item"].astype(str).tolist()
        if "attempt" in df:
            # Attempts of one item share its target: pairing them would be no chance match.
            items = pd.factorize(part["item"])[0]
            keys = [f"{k}\0{a}" for k, a in zip(keys, part["attempt"].astype(str), strict=True)]
    else:
        keys = [f"{t}\0{o}" for t, o in zip(targets, outputs, strict=True)]
    sizes = pd.factorize(part["model"])[0] if "model" in df else np.zeros(len(rows), np.int64)
    rates = chance_match_rates(a, b, sizes, counts[0], keys, task_seed(task), items=items)
    return name, counts, rates


def score_outputs(
    df: pd.DataFrame, tokenizer: str = "auto", *, chance: float | None = None
) -> tuple[pd.DataFrame, dict[str, str]]:
    """Add per-item token counts and errors to an outputs table.

    Parameters
    ----------
    df
        A table as returned by :func:`mirage_bayes.inputs.io.read_outputs`: columns ``task``,
        ``target`` and ``output``, or ``n_tokens`` and ``n_errors`` when
        ``df.attrs["prescored"]`` is true.
    tokenizer
        ``"auto"``, ``"char"``, ``"whitespace"`` or ``"regex:PATTERN"``; ignored for a
        pre-scored table.
    chance
        The chance-match rate ``g`` (:mod:`mirage_bayes.inputs.chance`) to use for every row, in
        ``[0, 1)``. By default it is measured from the outputs by the permutation null, and a
        pre-scored table takes it from its ``chance`` column, else 0.

    Returns
    -------
    scored : pandas.DataFrame
        A copy of ``df`` (attrs included) with ``n_tokens`` and ``n_errors`` (int64),
        ``token_edit_distance`` (int64; float64 NaN for a pre-scored table), ``exact_match``
        (bool) and ``chance`` (float64, the row's chance-match rate) added. For pre-scored input
        the given counts are kept and ``exact_match`` is ``n_errors == 0``.
        ``attrs["chance"]`` says per task where ``chance`` came from: ``"permutation"``,
        ``"column"``, ``"given"`` or ``"none"`` (0).
    tokenizers : dict of str to str
        Task -> tokenizer used (``"char"``, ``"whitespace"``, ``"regex:..."`` or
        ``"prescored"``), in order of first appearance.

    Raises
    ------
    InputError
        For a bad tokenizer spec, missing columns, or a target without any token.
    """
    tasks = df["task"] if "task" in df else pd.Series("default", index=df.index)
    codes, uniques = pd.factorize(tasks.astype(str))
    order = [str(t) for t in uniques]
    out = df.copy()
    if df.attrs.get("prescored"):
        for column in ("n_tokens", "n_errors"):
            if column not in df:
                raise InputError(f"pre-scored table has no column {column!r}", fix="read it again")
        out["token_edit_distance"] = np.nan
        out["exact_match"] = out["n_errors"].to_numpy() == 0
        if chance is not None:
            out["chance"], source = float(_check_chance(chance)), "given"
        elif "chance" in df:
            out["chance"], source = df["chance"].to_numpy(np.float64), "column"
        else:
            out["chance"], source = 0.0, "none"
        out.attrs["chance"] = dict.fromkeys(order, source)
        return out, dict.fromkeys(order, "prescored")
    missing = [c for c in ("target", "output") if c not in df]
    if missing:
        raise InputError(
            f"cannot score: column(s) {', '.join(missing)} missing",
            fix="give target and output columns, or pre-scored n_tokens and n_errors",
        )
    _parse(tokenizer)  # fail on a bad spec even when the table is empty
    if chance is not None:
        _check_chance(chance)
    n = len(df)
    n_tokens = np.zeros(n, np.int64)
    distance = np.zeros(n, np.int64)
    n_errors = np.zeros(n, np.int64)
    rates = np.zeros(n)
    used: dict[str, str] = {}
    for code, task in enumerate(order):
        rows = np.flatnonzero(codes == code)
        used[task], (length, dist, errors), rates[rows] = _score_task(
            df, rows, task, tokenizer, chance
        )
        n_tokens[rows], distance[rows], n_errors[rows] = length, dist, errors
    out["n_tokens"] = n_tokens
    out["n_errors"] = n_errors
    out["token_edit_distance"] = distance
    out["exact_match"] = distance == 0
    out["chance"] = rates
    out.attrs["chance"] = dict.fromkeys(order, "permutation" if chance is None else "given")
    return out, used


def _check_chance(value: Any) -> float:
    """A chance-match rate given by the caller: a number in ``[0, 1)``."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = np.nan
    if not 0.0 <= number < 1.0:
        raise InputError(
            f"chance-match rate {value!r} is not a number in [0, 1)",
            fix="give the share of target tokens matched by chance, e.g. --chance 0.1",
        )
    return number
