"""Read Every Eval Ever instance-level records (``<uuid>_samples.jsonl``) as a per-item table.

Every Eval Ever (``evaleval/every_eval_ever``) stores, beside each aggregate result file, an
optional sidecar of per-sample records: JSON Lines, one object per sample, in
``data/<benchmark>/<developer>/<model>/<uuid>_samples.jsonl``. The fields read here are those of
its schema ``every_eval_ever/schemas/instance_level_eval.schema.json`` (version
``instance_level_eval_0.2.2``; required: ``schema_version``, ``evaluation_id``, ``model_id``,
``evaluation_name``, ``sample_id``, ``interaction_type``, ``input``, ``answer_attribution``,
``evaluation``):

* ``model_id`` (Hugging Face form, ``EleutherAI/pythia-160m``) becomes ``model``,
  ``evaluation_name`` (``GSM8K``, ``mmlu_physics``) ``task`` and ``sample_id`` ``item``;
* ``input.reference`` (the reference answers: a list of strings; a single string in the schema's
  first version, 0.0.1) and ``output.raw`` (the complete responses of a ``single_turn``
  interaction: a list, or a string in 0.0.1) become ``target`` and ``output``, scored as an
  ``outputs.csv`` is, when every record has one reference and one response;
* otherwise (a ``multi_turn`` or ``agentic`` interaction, whose ``output`` is null; several or no
  references; several responses) every record is read pre-scored from ``evaluation.is_correct``
  (``n_tokens`` 1, ``n_errors`` 0 when correct, else 1), and a note on standard error says so.

``evaluation.score``, ``answer_attribution`` and ``error`` are not read. A record missing a
required field, or two records of one sample, model and evaluation (for instance one per
aggregate result, ``evaluation_result_id``) are refused with one line naming the file and line.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from mirage_bayes.errors import InputError
from mirage_bayes.inputs.log_table import Run, choose_tasks, json_records, log_frame, note
from mirage_bayes.inputs.tables import show

__all__ = ["is_eee_file", "read_eee", "sample_files"]

_FIX = "give the instance-level _samples.jsonl files as Every Eval Ever's schema writes them"
_SIGNATURE = ('"sample_id"', '"evaluation"', '"model_id"')


def is_eee_file(path: Path) -> bool:
    """Whether a file holds Every Eval Ever instance-level records.

    Named ``<uuid>_samples.jsonl``, or a ``.jsonl`` whose first record has the schema's
    ``sample_id``, ``model_id`` and ``evaluation`` fields.
    """
    if path.name.endswith("_samples.jsonl"):
        return True
    if path.suffix.lower() != ".jsonl" or not path.is_file():
        return False
    try:
        with path.open("rb") as handle:
            first = handle.readline().decode("utf-8", errors="replace")
    except OSError:
        return False
    if not all(key in first for key in _SIGNATURE):
        return False
    try:
        record = json.loads(first)
    except json.JSONDecodeError:
        return False
    return isinstance(record, dict) and {"sample_id", "model_id", "evaluation"} <= set(record)


def sample_files(folder: Path) -> list[Path]:
    """The instance-level record files in a folder and its subfolders, sorted."""
    return sorted(p for p in folder.rglob("*.jsonl") if p.is_file() and is_eee_file(p))


def _name(record: dict[str, Any], key: str, where: str) -> str:
    value = record.get(key)
    if isinstance(value, bool) or not isinstance(value, str | int) or not str(value).strip():
        raise InputError(f"the record has no {key} (found {show(value)})", where=where, fix=_FIX)
    return str(value).strip()


def _texts(value: Any, what: str, where: str) -> list[str]:
    """A list of strings (or one string, as the schema's first version wrote it)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    raise InputError(f"{what} is {show(value)}, not a list of strings", where=where, fix=_FIX)


def _read_record(record: dict[str, Any], where: str) -> tuple[dict[str, Any], str | None]:
    """The row of one record (raw and pre-scored fields) and why it cannot be raw, if it cannot."""
    row: dict[str, Any] = {"item": _name(record, "sample_id", where)}
    inputs = record.get("input")
    if not isinstance(inputs, dict) or "reference" not in inputs:
        raise InputError(
            "the record has no input.reference (no target)",
            where=where,
            fix="give records whose input holds the reference answers (the schema requires it)",
        )
    references = [r for r in _texts(inputs["reference"], "input.reference", where) if r.strip()]
    evaluation = record.get("evaluation")
    correct = evaluation.get("is_correct") if isinstance(evaluation, dict) else None
    row["correct"] = correct
    output = record.get("output")
    kind = record.get("interaction_type")
    if kind != "single_turn" or not isinstance(output, dict) or output.get("raw") is None:
        return row, f"is a {show(kind)} interaction without output.raw"
    responses = _texts(output["raw"], "output.raw", where)
    if len(references) != 1:
        return row, f"has {len(references)} reference answers"
    if len(responses) != 1:
        return row, f"has {len(responses)} responses in output.raw"
    return {**row, "target": references[0], "output": responses[0]}, None


def _runs(files: Sequence[Path]) -> list[Run]:
    """The records grouped by evaluation and model.

    Each row also says where it is (``line``) and why it cannot be read raw (``why``, ``None``
    when it can).
    """
    runs: dict[tuple[str, str], Run] = {}
    seen: dict[tuple[str, str, str], str] = {}
    for path in files:
        for number, record in json_records(path, _FIX):
            where = f"{path}, line {number}"
            task = _name(record, "evaluation_name", where)
            model = _name(record, "model_id", where)
            row, why = _read_record(record, where)
            key = (task, model, row["item"])
            if key in seen:
                first = seen[key].removeprefix(f"{path}, ")
                raise InputError(
                    f"sample {row['item']} of model {model!r} in {task!r} appears twice "
                    f"(also at {first})",
                    where=where,
                    fix="keep one record per sample and model (e.g. of one evaluation_result_id)",
                )
            seen[key] = where
            row.update(line=where, why=f"{where} {why}" if why else None)
            runs.setdefault((task, model), Run(str(path), task, model)).rows.append(row)
    return list(runs.values())


# Same signature as the other log readers (see inputs/log_formats.py): called alike.
def read_eee(
    files: Sequence[Path],
    *,
    sizes: Callable[[Sequence[str]], dict[str, float]],
    tasks: Sequence[str] | None = None,
    source: str = "",
) -> pd.DataFrame:
    """Read Every Eval Ever instance-level record files into one per-item table.

    Parameters
    ----------
    files
        ``_samples.jsonl`` files (one JSON object per sample).
    sizes
        Maps model names to parameter counts
        (:func:`mirage_bayes.inputs.model_sizes.size_resolver`).
    tasks
        Read only these evaluations (``evaluation_name``; default: all).
    source
        The paths as given, for messages and ``attrs["source"]``.

    Returns
    -------
    pandas.DataFrame
        What :func:`mirage_bayes.inputs.io.read_outputs` returns for the equivalent raw or
        pre-scored outputs table (see :func:`mirage_bayes.inputs.log_table.log_frame`).

    Raises
    ------
    InputError
        For a record that cannot be used, naming the file and line.
    """
    runs = choose_tasks(_runs(files), tasks, source)
    problem = next((p for p in (_raw_problem(run) for run in runs) if p), None)
    if problem is not None:
        for run in runs:
            for row in run.rows:
                if not isinstance(row["correct"], bool):
                    raise InputError(
                        f"evaluation.is_correct is {show(row['correct'])}, not true or false",
                        where=row["line"],
                        fix="give records with evaluation.is_correct (the schema requires it)",
                    )
    frame = log_frame(runs, sizes=sizes, tasks=None, source=source, prescored=problem is not None)
    if problem is not None:
        note(
            "Every Eval Ever records read pre-scored, one 0/1 token per sample from "
            f"evaluation.is_correct, because {problem}"
        )
    return frame


def _raw_problem(run: Run) -> str | None:
    return next((row["why"] for row in run.rows if row.get("why")), None)
