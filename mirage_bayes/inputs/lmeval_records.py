"""Parse one record of an lm-evaluation-harness samples file (see
:mod:`mirage_bayes.inputs.lmeval`).

A ``generate_until`` record gives a (target, output) pair; a ``multiple_choice`` record gives one
log-likelihood per choice and the gold index, read from ``target``. lm-evaluation-harness writes
``target`` with ``str()``, so ``"2"`` may be the index 2 or the text of a choice; every record of
a file is read the same way, and that reading is checked against the log's own ``acc`` (1 when
the highest log-likelihood is the gold choice, ``lm_eval.api.task.ConfigurableTask``'s
``process_results``).
"""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mirage_bayes.errors import InputError
from mirage_bayes.inputs.tables import show

__all__ = ["LOG_FIX", "Choice", "choice", "generation", "item_id", "settle"]

LOG_FIX = "give the files lm_eval --log_samples wrote, unchanged"


def item_id(record: dict[str, Any], where: str) -> str:
    """The sample's ``doc_id`` as text (the item id shared across models)."""
    doc_id = record.get("doc_id")
    if isinstance(doc_id, bool) or not isinstance(doc_id, int | str) or str(doc_id).strip() == "":
        raise InputError("the sample has no doc_id", where=where, fix=LOG_FIX)
    return str(doc_id).strip()


def _target(record: dict[str, Any], where: str) -> Any:
    target = record.get("target")
    if target is None or (isinstance(target, str) and not target.strip()):
        what = "the sample has no target" if target is None else "the sample's target is empty"
        raise InputError(what, where=where, fix="evaluate a task whose documents have a target")
    return target


def _as_list(value: Any) -> list[Any] | None:
    """A list target: a JSON list, or the ``str()`` of a Python list that lm-eval wrote."""
    if isinstance(value, list):
        return value
    if isinstance(value, str) and value.startswith("[") and value.endswith("]"):
        try:
            parsed = ast.literal_eval(value)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            return None
        return parsed if isinstance(parsed, list) else None
    return None


def generation(record: dict[str, Any], where: str) -> tuple[str, list[str]]:
    """(target, outputs) of a ``generate_until`` sample: one output, or one per repeat where the
    task ran ``repeats: N`` and no filter reduced them to one answer (each is an attempt)."""
    target = _target(record, where)
    references = _as_list(target)
    if references is not None and references and all(isinstance(r, str) for r in references):
        if len(references) > 1:
            raise InputError(
                f"the target holds {len(references)} reference answers; token scoring "
                "compares against one",
                where=where,
                fix="evaluate a task with a single reference answer per document",
            )
        target = references[0]
    responses = record.get("filtered_resps")
    if not isinstance(responses, list) or len(responses) != 1:
        raise InputError(
            f"filtered_resps is {show(responses)}, not one response",
            where=where,
            fix=LOG_FIX,
        )
    output = responses[0]
    outputs = output if isinstance(output, list) else [output]  # a list: unreduced repeats
    if not outputs:
        raise InputError("the filtered response holds no generation", where=where, fix=LOG_FIX)
    return str(target), ["" if o is None else str(o) for o in outputs]


def _number(value: Any, where: str) -> float:
    try:
        number = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number):
        raise InputError(f"log-likelihood {show(value)} is not a finite number", where=where,
                         fix=LOG_FIX)  # fmt: skip
    return number


def _loglikelihoods(record: dict[str, Any], where: str) -> list[float]:
    """One log-likelihood per request: ``filtered_resps`` entries are ``[logprob, is_greedy]``."""
    entries = record.get("filtered_resps")
    if entries is None and isinstance(record.get("resps"), list):  # first repeat of each request
        entries = [e[0] if isinstance(e, list) and e else e for e in record["resps"]]
    if not isinstance(entries, list) or not entries:
        raise InputError(f"filtered_resps is {show(entries)}, not one log-likelihood per "
                         "choice", where=where, fix=LOG_FIX)  # fmt: skip
    return [_number(e[0] if isinstance(e, list | tuple) and e else e, where) for e in entries]


def _request_number(key: str) -> int:
    tail = key.rsplit("_", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def _continuations(record: dict[str, Any]) -> list[str] | None:
    """The continuation (choice text) of each request, when the log keeps the arguments."""
    arguments = record.get("arguments")
    if isinstance(arguments, dict):  # {"gen_args_<i>": {"arg_0": context, "arg_1": choice}}
        numbered = sorted(arguments.items(), key=lambda kv: _request_number(kv[0]))
        arguments = [
            [v.get("arg_0"), v.get("arg_1")] if isinstance(v, dict) else v for _, v in numbered
        ]
    if not isinstance(arguments, list):
        return None
    out = [a[1] if isinstance(a, list) and len(a) > 1 and isinstance(a[1], str) else None
           for a in arguments]  # fmt: skip
    return None if any(c is None for c in out) else out  # type: ignore[return-value]


@dataclass
class Choice:
    """A multiple-choice sample before its gold index is settled."""

    line: int
    item: str
    logprobs: list[float]
    by_index: int | None  # the target read as an index
    by_text: int | None  # the target matched against the choice texts
    acc: float | None


def choice(record: dict[str, Any], line: int, where: str, delimiter: str) -> Choice:
    """Log-likelihoods and the possible gold indices of a ``multiple_choice`` sample."""
    target = _target(record, where)
    logprobs = _loglikelihoods(record, where)
    texts = _continuations(record)
    if texts is not None and len(texts) != len(logprobs):
        raise InputError(f"{len(texts)} choices but {len(logprobs)} log-likelihoods",
                         where=where, fix=LOG_FIX)  # fmt: skip
    metrics = record.get("metrics")
    if "acc_mutual_info" in record or (isinstance(metrics, list) and "acc_mutual_info" in metrics):
        # The requests end with the unconditional ("", choice) log-likelihoods.
        half = len(logprobs) // 2
        logprobs, texts = logprobs[:half], None if texts is None else texts[:half]
    if len(logprobs) < 2:
        raise InputError(f"has {len(logprobs)} choice(s); a multiple-choice item needs two "
                         "or more", where=where, fix=LOG_FIX)  # fmt: skip
    gold = _as_list(target)
    if gold is not None:
        raise InputError(
            f"the target {show(target)} names several correct choices",
            where=where,
            fix="evaluate a task with one correct choice per document",
        )
    if texts is not None and len(set(texts)) == 1:
        # lm-eval then takes the gold index from doc_to_text, which the log does not keep.
        raise InputError(
            "every choice has the same continuation: the choices are in the prompt "
            "(a multiple-input task such as winogrande), and the log does not record which "
            "is correct",
            where=where,
            fix="give the tasks whose choices are the continuations",
        )
    by_index = None
    if isinstance(target, int) and not isinstance(target, bool):
        by_index = target
    elif isinstance(target, str) and target.strip().isdigit():
        by_index = int(target.strip())
    if by_index is not None and not 0 <= by_index < len(logprobs):
        by_index = None
    by_text = None
    if isinstance(target, str) and texts is not None:
        bare = [t[len(delimiter) :] if delimiter and t.startswith(delimiter) else t for t in texts]
        for candidates in (bare, texts):
            if target in candidates:
                by_text = candidates.index(target)
                break
    acc = record.get("acc")
    acc = float(acc) if isinstance(acc, int | float) and not isinstance(acc, bool) else None
    if by_index is None and by_text is None:
        raise InputError(
            f"the target {show(target)} is neither a choice index (0 to {len(logprobs) - 1}) "
            "nor the text of a choice",
            where=where,
            fix=LOG_FIX,
        )
    return Choice(line, item_id(record, where), logprobs, by_index, by_text, acc)


def settle(choices: list[Choice], path: Path) -> list[dict[str, Any]]:
    """Read every target of a file the same way: as an index, else as a choice's text.

    A target such as ``"2"`` can be either, so the reading is checked against the log's ``acc``.
    """

    def consistent(mode: str) -> bool:
        for c in choices:
            gold = c.by_index if mode == "index" else c.by_text
            if gold is None:
                return False
            if c.acc is not None and (int(np.argmax(c.logprobs)) == gold) != (c.acc > 0.5):
                return False
        return True

    for mode in ("index", "text"):
        if consistent(mode):
            return [
                {"line": c.line, "item": c.item, "choices_logprobs": c.logprobs,
                 "answer": c.by_index if mode == "index" else c.by_text}
                for c in choices
            ]  # fmt: skip
    raise InputError(
        "the gold choices read from target do not agree with the log's acc (or mix indices "
        "and choice texts)",
        where=str(path),
        fix=LOG_FIX,
    )
