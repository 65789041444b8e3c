"""Read lm-evaluation-harness sample logs (``lm_eval ... --log_samples``) as a per-item table.

lm-evaluation-harness writes, for each evaluated model, a folder ``<output_path>/<model>/`` (the
model name with ``/`` replaced by ``__``) holding ``results_<timestamp>.json`` and, per task,
``samples_<task>_<timestamp>.jsonl`` with the same timestamp. The results file names the model
(``model_name``, or ``config.model_args`` such as ``pretrained=EleutherAI/pythia-160m``) and
records each task's configuration under ``configs[<task>]``, among it ``output_type`` and
``target_delimiter``. A samples file holds one JSON object per document and filter:

* ``doc_id``, ``doc``, ``target`` (written with ``str()``: the gold string, or the gold index
  as ``"2"``), ``arguments`` (``{"gen_args_0": {"arg_0": context, "arg_1": continuation}, ...}``;
  a list of ``[context, continuation]`` pairs in older releases), ``resps`` and
  ``filtered_resps`` (numbers written as strings), ``filter``, ``metrics``,
  ``doc_hash``/``prompt_hash``/``target_hash`` and the per-document metric values (``acc``,
  ``acc_norm``, ``exact_match`` ...).

Two output types are read:

* ``generate_until``: ``filtered_resps`` is ``[generation]``; the target string and the filtered
  generation become ``target`` and ``output``, scored exactly as an ``outputs.csv``; a task run
  with ``repeats: N`` whose filter keeps every repeat (``[[generation, ...]]``) gives each
  document N attempts (an ``attempt`` column);
* ``multiple_choice``: one log-likelihood request per choice; ``filtered_resps`` is
  ``[[logprob, is_greedy], ...]`` and ``target`` the gold index (or the gold choice's text);
  they become ``choices_logprobs`` and ``answer``. When the task also asks for
  ``acc_mutual_info`` the second half of the requests are the unconditional log-likelihoods,
  which are dropped.

The log's own ``acc`` (1 when the highest log-likelihood is the gold choice) is used to check
that the gold index was read as lm-evaluation-harness meant it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from mirage_bayes.errors import InputError
from mirage_bayes.inputs.choices import validate_choices
from mirage_bayes.inputs.lmeval_records import LOG_FIX, Choice, choice, generation, item_id, settle
from mirage_bayes.inputs.log_table import check_one_run_each, generation_frame, json_records
from mirage_bayes.inputs.model_sizes import family_of

__all__ = ["GENERATION", "MULTIPLE_CHOICE", "is_samples_file", "read_lmeval", "sample_files"]

GENERATION = "generate_until"
MULTIPLE_CHOICE = "multiple_choice"
_KINDS = {GENERATION: "generation", MULTIPLE_CHOICE: "multiple_choice"}
# datetime.now().isoformat() with ":" replaced by "-", e.g. 2024-05-14T10-31-22.123456
_STAMP = r"\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}(?:\.\d+)?"
_SAMPLES = re.compile(rf"^samples_(?P<task>.+)_(?P<stamp>{_STAMP})\.jsonl$")
_MODEL_KEYS = ("peft", "delta", "pretrained", "model", "path", "engine")  # lm-eval's own order


def is_samples_file(path: Path) -> bool:
    """Whether a file is named like an lm-evaluation-harness samples file."""
    return _SAMPLES.match(path.name) is not None


def sample_files(folder: Path) -> list[Path]:
    """The ``samples_<task>_<timestamp>.jsonl`` files in a folder and its subfolders, sorted."""
    return sorted(p for p in folder.rglob("samples_*.jsonl") if is_samples_file(p))


@dataclass
class _Log:
    """One samples file and what is known about it."""

    path: Path
    task: str
    model: str = ""
    output_type: str = ""
    delimiter: str = " "
    rows: list[dict[str, Any]] = field(default_factory=list)


def _task_and_stamp(path: Path) -> tuple[str, str]:
    match = _SAMPLES.match(path.name)
    if match is None:
        raise InputError(
            "is not named like an lm-evaluation-harness samples file",
            where=str(path),
            fix="keep the name samples_<task>_<timestamp>.jsonl that lm_eval gave it",
        )
    return match["task"], match["stamp"]


def _load_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise InputError("is not UTF-8 text", where=str(path), fix=LOG_FIX) from None
    except json.JSONDecodeError as err:
        what = f"is not valid JSON ({err.msg} at line {err.lineno}, column {err.colno})"
        raise InputError(what, where=str(path), fix=LOG_FIX) from None
    if not isinstance(data, dict):
        raise InputError("is not a JSON object", where=str(path), fix=LOG_FIX)
    return data


def _results_file(samples: Path, stamp: str) -> Path:
    """The results JSON written in the same run as a samples file (same folder and timestamp)."""
    same_run = sorted(samples.parent.glob(f"*_{stamp}.json"))
    if len(same_run) == 1:
        return same_run[0]
    others = sorted(samples.parent.glob("results_*.json"))
    if not same_run and len(others) == 1:
        return others[0]
    what = (
        f"no results_{stamp}.json beside it"
        if not same_run and not others
        else f"cannot tell which results file belongs to it ({len(same_run or others)} found)"
    )
    raise InputError(
        what,
        where=str(samples),
        fix="keep the results_<timestamp>.json lm_eval wrote with the samples in the same "
        "folder (it names the model and the task's output_type)",
    )


def _model_name(results: dict[str, Any], where: Path) -> str:
    """The model's name as lm-evaluation-harness records it."""
    name = results.get("model_name")
    if isinstance(name, str) and name.strip():
        return name.strip()
    config = results.get("config")
    args = config.get("model_args") if isinstance(config, dict) else None
    if isinstance(args, str):
        pairs = (part.split("=", 1) for part in args.split(",") if "=" in part)
        args = {key.strip(): value.strip() for key, value in pairs}
    if isinstance(args, dict):
        for key in _MODEL_KEYS:
            value = args.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()
    raise InputError(
        "does not name the model (no model_name, and config.model_args has none of "
        f"{', '.join(k + '=' for k in _MODEL_KEYS)})",
        where=str(where),
        fix='add "model_name": "<org>/<model>" to the results file',
    )


def _task_config(results: dict[str, Any], task: str, where: Path) -> dict[str, Any]:
    configs = results.get("configs")
    config = configs.get(task) if isinstance(configs, dict) else None
    if not isinstance(config, dict):
        raise InputError(
            f"has no configuration for task {task!r} (configs.{task})",
            where=str(where),
            fix="give the results file written in the same lm_eval run as the samples",
        )
    return config


def _one_filter(
    records: list[tuple[int, dict[str, Any]]], path: Path, chosen: str | None
) -> list[tuple[int, dict[str, Any]]]:
    """The records of one filter: the only one in the file, or the one asked for."""
    filters = list(dict.fromkeys(r.get("filter") for _, r in records))
    if len(filters) == 1:
        return records
    if chosen in filters:
        return [(n, r) for n, r in records if r.get("filter") == chosen]
    listed = ", ".join(str(f) for f in filters)
    what = f"holds the responses of several filters ({listed})"
    if chosen is not None:
        what = f"has no filter {chosen!r}; it holds {listed}"
    raise InputError(what, where=str(path), fix=f"choose one with --lm-eval-filter {filters[0]}")


def _read_log(log: _Log, records: list[tuple[int, dict[str, Any]]]) -> None:
    seen: dict[str, int] = {}
    choices: list[Choice] = []
    for number, record in records:
        where = f"{log.path}, line {number}"
        item = item_id(record, where)
        if item in seen:
            raise InputError(f"doc_id {item} appears twice (lines {seen[item]} and {number})",
                             where=str(log.path), fix=LOG_FIX)  # fmt: skip
        seen[item] = number
        if log.output_type == GENERATION:
            target, outputs = generation(record, where)
            row = {"line": number, "item": item, "target": target}
            if len(outputs) == 1:
                log.rows.append({**row, "output": outputs[0]})
            else:  # the task's repeats, no filter reducing them: attempts of the document
                log.rows += [{**row, "output": o, "attempt": str(a)}
                             for a, o in enumerate(outputs, start=1)]  # fmt: skip
        else:
            choices.append(choice(record, number, where, log.delimiter))
    if choices:
        log.rows = settle(choices, log.path)


def _open_log(path: Path, cache: dict[Path, dict[str, Any]]) -> _Log:
    task, stamp = _task_and_stamp(path)
    results_path = _results_file(path, stamp)
    if results_path not in cache:
        cache[results_path] = _load_json(results_path)
    results = cache[results_path]
    config = _task_config(results, task, results_path)
    output_type = config.get("output_type")
    if output_type not in _KINDS:
        raise InputError(
            f"task {task!r} has output_type {output_type!r}; mirage-bayes reads "
            f"{GENERATION} and {MULTIPLE_CHOICE} tasks",
            where=str(results_path),
            fix="give only the samples files of generation or multiple-choice tasks (--tasks)",
        )
    delimiter = config.get("target_delimiter", " ")
    return _Log(path, task, _model_name(results, results_path), output_type,
                delimiter if isinstance(delimiter, str) else " ")  # fmt: skip


def _sort_key(item: str) -> tuple[int, float, str]:
    return (0, float(item), item) if item.isdigit() else (1, 0.0, item)


def read_lmeval(
    files: Sequence[Path],
    *,
    sizes: Callable[[Sequence[str]], dict[str, float]],
    tasks: Sequence[str] | None = None,
    lm_eval_filter: str | None = None,
    source: str = "",
) -> pd.DataFrame:
    """Read lm-evaluation-harness samples files into one per-item table.

    Parameters
    ----------
    files
        ``samples_<task>_<timestamp>.jsonl`` files, each beside the ``results_<timestamp>.json``
        of its run; one model per run, several models (and tasks) in all.
    sizes
        Maps model names to parameter counts
        (:func:`mirage_bayes.inputs.model_sizes.size_resolver`).
    tasks
        Read only these tasks (default: every task in ``files``).
    lm_eval_filter
        The filter whose responses are read when a file logs several (e.g. ``strict-match``).
    source
        Recorded as ``attrs["source"]``.

    Returns
    -------
    pandas.DataFrame
        For ``generate_until`` tasks exactly what :func:`mirage_bayes.inputs.io.read_outputs`
        returns for raw outputs (``task, model, n_params, item, family, target, output``); for
        ``multiple_choice`` tasks ``task, model, n_params, item, family, answer`` (int) and
        ``choices_logprobs`` (list of floats). Rows are ordered by task, model size, model name
        and ``doc_id``. ``attrs``: ``kind`` (``"generation"`` or ``"multiple_choice"``),
        ``prescored`` (False), ``item_ids`` (True) and ``source``.

    Raises
    ------
    InputError
        For a corrupt or incomplete log, naming the file and line.
    """
    wanted = set(tasks) if tasks else None
    chosen = [p for p in files if wanted is None or _task_and_stamp(p)[0] in wanted]
    if not chosen:
        found = sorted({_task_and_stamp(p)[0] for p in files})
        raise InputError(
            f"no samples of task(s) {', '.join(sorted(wanted or ()))}; the logs hold "
            f"{', '.join(found) or 'none'}",
            where=source or None,
            fix="give task names as they appear in the samples_<task>_... file names",
        )
    cache: dict[Path, dict[str, Any]] = {}
    logs = [_open_log(p, cache) for p in chosen]
    kinds = {_KINDS[log.output_type] for log in logs}
    if len(kinds) > 1:
        by_kind = {k: sorted({g.task for g in logs if _KINDS[g.output_type] == k}) for k in kinds}
        raise InputError(
            "the logs mix generation tasks (" + ", ".join(by_kind["generation"]) + ") and "
            "multiple-choice tasks (" + ", ".join(by_kind["multiple_choice"]) + ")",
            where=source or None,
            fix="fit one kind at a time: --tasks " + by_kind["generation"][0],
        )
    check_one_run_each(logs, source)
    present: dict[Any, None] = {}
    for log in logs:
        records = list(json_records(log.path, LOG_FIX))
        present.update(dict.fromkeys(r.get("filter") for _, r in records))
        _read_log(log, _one_filter(records, log.path, lm_eval_filter))
    if lm_eval_filter is not None and lm_eval_filter not in present:
        # A log with a single filter is read whatever --lm-eval-filter says, so a misspelt
        # filter was silently ignored when no log had several.
        listed = ", ".join(str(f) for f in present)
        raise InputError(
            f"no log has the filter {lm_eval_filter!r}; they hold {listed}",
            where="--lm-eval-filter",
            fix=f"give one of {listed}, or leave out --lm-eval-filter",
        )
    n_params = sizes([log.model for log in logs])
    logs.sort(key=lambda g: (g.task, n_params[g.model], g.model))
    for log in logs:
        log.rows.sort(key=lambda r: _sort_key(r["item"]))
    if kinds.pop() == "generation":
        rows = [{"task": g.task, "model": g.model, **row} for g in logs for row in g.rows]
        return generation_frame(rows, n_params, prescored=False, source=source)
    return _choice_frame(logs, n_params, source)


def _choice_frame(logs: list[_Log], n_params: dict[str, float], source: str) -> pd.DataFrame:
    """The multiple-choice table, validated file by file as a multiple-choice table is."""
    frames = []
    for g in logs:
        frame = pd.DataFrame(
            {
                "task": g.task,
                "model": g.model,
                "n_params": n_params[g.model],
                "item": [r["item"] for r in g.rows],
                "family": family_of(g.model),
                "answer": [r["answer"] for r in g.rows],
                "choices_logprobs": [r["choices_logprobs"] for r in g.rows],
            }
        )
        lines = [r["line"] for r in g.rows]
        frames.append(validate_choices(frame, str(g.path), row_kind="line", row_numbers=lines))
    out = pd.concat(frames, ignore_index=True)
    out.attrs = {"kind": "multiple_choice", "source": source, "item_ids": True,
                 "choices_input": "choices_logprobs"}  # fmt: skip
    return out
