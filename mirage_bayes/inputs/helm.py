"""Read HELM run folders (``helm-run``'s ``benchmark_output/runs/<suite>/<run name>/``).

The layout and fields are those of HELM's own code (``stanford-crfm/helm``), which writes every
file with ``json.dumps(asdict_without_nones(...))`` (a field that is ``None`` is left out):

* ``src/helm/benchmark/runner.py`` (``Runner.run_one``): one folder per run spec, named after
  ``RunSpec.name``, holding ``run_spec.json``, ``scenario.json``, ``scenario_state.json``,
  ``stats.json``, ``per_instance_stats.json`` and ``instances.json``;
* ``src/helm/benchmark/run_spec.py``: ``RunSpec`` has ``name`` (e.g.
  ``mmlu:subject=anatomy,method=multiple_choice_joint,model=openai_gpt2``) and ``adapter_spec``
  (``src/helm/benchmark/adaptation/adapter_spec.py``), whose ``model`` names the model
  (``openai/gpt2``) and ``method`` the adaptation (``generation``, ``multiple_choice_joint`` ...);
* ``src/helm/benchmark/scenarios/scenario.py``: an ``Instance`` has ``input.text``,
  ``references`` (each ``{"output": {"text": ...}, "tags": [...]}``, ``"correct"`` among the tags
  of a correct one: ``CORRECT_TAG``), ``split``, ``id`` (``id0``, ``id1`` ... from
  ``with_instance_ids``) and, for an augmented copy, ``perturbation``;
* ``src/helm/benchmark/adaptation/request_state.py`` and ``src/helm/common/request.py``:
  ``scenario_state.json`` is ``{"adapter_spec", "request_states"}``; a ``RequestState`` has
  ``instance``, ``train_trial_index``, ``reference_index`` and ``request_mode`` (for the
  ``multiple_choice_separate_*`` methods) and ``result`` (``success``, ``completions`` with the
  generated ``text``, ``error``);
* ``src/helm/benchmark/metrics/metric.py``, ``statistic.py`` and ``metric_name.py``:
  ``per_instance_stats.json`` is a list of ``{"instance_id", "train_trial_index", "stats"}``
  (plus ``perturbation``), each ``Stat`` with ``name`` (``{"name": "exact_match", "split":
  "test", ...}``), ``count``, ``sum`` and ``mean``.

What is read: the task is the run name without its ``model=`` and ``model_deployment=`` arguments
(the same task under every model), the model is ``adapter_spec.model`` and the item the instance
``id``; augmented copies (with a ``perturbation``) are left out. When every run uses the
``generation`` method, keeps its completions (``scenario_state.json``) and each instance has one
correct reference, that reference and ``result.completions[0].text`` become ``target`` and
``output``, scored as an ``outputs.csv`` is. Otherwise every run is read pre-scored from the
``exact_match`` stat of ``per_instance_stats.json`` (``n_tokens`` 1, ``n_errors`` 1 − exact_match),
and a note on standard error says so and why. Several training trials (``train_trial_index``
above 0) are refused: repeated attempts are not yet supported.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from mirage_bayes.errors import InputError
from mirage_bayes.inputs.log_table import Run, choose_tasks, load_json, log_frame, note
from mirage_bayes.inputs.tables import show

__all__ = ["HELM_FILES", "is_helm_file", "read_helm", "run_folders"]

HELM_FILES = ("run_spec.json", "instances.json", "scenario_state.json", "per_instance_stats.json",
              "stats.json", "scenario.json", "predictions.json", "display_predictions.json",
              "display_requests.json")  # fmt: skip
_FIX = "give the run folder that helm-run wrote, unchanged"
_MODEL_ARGS = ("model", "model_deployment")


def is_helm_file(path: Path) -> bool:
    """Whether a file is one of the files of a HELM run folder (its folder is then read)."""
    return path.name in HELM_FILES


def run_folders(folder: Path) -> list[Path]:
    """The HELM run folders (those with a ``run_spec.json``) in a folder and its subfolders."""
    if (folder / "run_spec.json").is_file():
        return [folder]
    return sorted({p.parent for p in folder.rglob("run_spec.json") if p.is_file()})


def _task_name(name: str) -> str:
    """The run name without its model arguments: ``mmlu:subject=anatomy,model=x`` → ``mmlu:...``."""
    scenario, _, args = name.partition(":")
    kept = [a for a in args.split(",") if a and a.split("=", 1)[0] not in _MODEL_ARGS]
    return scenario + (":" + ",".join(kept) if kept else "")


def _field(data: Any, key: str, kind: type | tuple[type, ...], where: str) -> Any:
    value = data.get(key) if isinstance(data, dict) else None
    if not isinstance(value, kind) or (isinstance(value, str) and not value.strip()):
        raise InputError(f"has no {key} (found {show(value)})", where=where, fix=_FIX)
    return value


def _text(value: Any) -> str:
    """The ``text`` of an ``Output`` or a completion (``""`` when it has none)."""
    text = value.get("text") if isinstance(value, dict) else None
    return text if isinstance(text, str) else ""


def _list_file(path: Path) -> list[Any]:
    data = load_json(path, _FIX)
    if not isinstance(data, list):
        raise InputError(f"is a JSON {type(data).__name__}, not a list", where=str(path), fix=_FIX)
    return data


def _trial(entry: Any, where: str) -> None:
    trial = entry.get("train_trial_index", 0) if isinstance(entry, dict) else 0
    if trial != 0:
        raise InputError(
            f"is from training trial {show(trial)}: the run repeats each instance with other "
            "in-context examples, and repeated attempts are not yet supported",
            where=where,
            fix="run helm-run with --num-train-trials 1",
        )


class _Folder:
    """One run folder: its run spec, its unperturbed instances and (if kept) its completions."""

    def __init__(self, path: Path) -> None:
        self.path = path
        spec_path = path / "run_spec.json"
        spec = load_json(spec_path, _FIX)
        name = _field(spec, "name", str, f"{spec_path}")
        adapter = _field(spec, "adapter_spec", dict, f"{spec_path}")
        self.model = _field(adapter, "model", str, f"{spec_path}, adapter_spec").strip()
        self.method = str(adapter.get("method", ""))
        self.task = _task_name(name.strip())
        state_path = path / "scenario_state.json"
        self.states: list[Any] | None = None
        if state_path.exists():
            state = load_json(state_path, _FIX)
            self.states = _field(state, "request_states", list, str(state_path))
        self.targets = self._instances()

    def _instances(self) -> dict[str, list[str]]:
        """``{instance id: texts of its correct references}``, in file order."""
        path = self.path / "instances.json"
        if path.exists():
            instances, where = _list_file(path), str(path)
        elif self.states is not None:  # older runs: the instances are inside the request states
            where = str(self.path / "scenario_state.json")
            instances = [s.get("instance") if isinstance(s, dict) else None for s in self.states]
        else:
            raise InputError("has no instances.json (nor scenario_state.json)",
                             where=str(self.path), fix=_FIX)  # fmt: skip
        targets: dict[str, list[str]] = {}
        for number, instance in enumerate(instances):
            at = f"{where}, instance {number}"
            if isinstance(instance, dict) and "perturbation" in instance:
                continue  # an augmented copy of another instance
            item = _field(instance, "id", str, at).strip()
            if item in targets:
                if path.exists():
                    raise InputError(f"instance {item} appears twice", where=where, fix=_FIX)
                continue  # several requests of one instance (older runs, read from their states)
            references = _field(instance, "references", list, f"{where}, instance {item}")
            correct = [_text(r.get("output")) for r in references
                       if isinstance(r, dict) and "correct" in (r.get("tags") or [])]  # fmt: skip
            correct = [c for c in correct if c.strip()]
            if not correct:
                raise InputError(
                    f"instance {item} has no reference tagged 'correct' (no target)",
                    where=where,
                    fix="give runs of scenarios whose instances have a correct reference",
                )
            targets[item] = correct
        if not targets:
            raise InputError("holds no instances", where=where, fix=_FIX)
        return targets

    def raw_problem(self) -> str | None:
        """Why the completions cannot be scored as text (``None`` when they can)."""
        if self.method != "generation":
            return f"{self.path} uses the adapter method {self.method!r}, not 'generation'"
        if self.states is None:
            return f"{self.path} has no scenario_state.json (the completions)"
        several = next((i for i, t in self.targets.items() if len(t) > 1), None)
        if several is not None:
            n = len(self.targets[several])
            return f"instance {several} of {self.path} has {n} correct references"
        return None

    def raw_run(self) -> Run:
        """Target and completion of each instance (``generation`` runs)."""
        where = str(self.path / "scenario_state.json")
        outputs: dict[str, str] = {}
        for number, state in enumerate(self.states or []):
            at = f"{where}, request state {number}"
            instance = _field(state, "instance", dict, at)
            if "perturbation" in instance:
                continue
            _trial(state, at)
            item = _field(instance, "id", str, at).strip()
            result = _field(state, "result", dict, at)
            completions = result.get("completions")
            if result.get("success") is False or not isinstance(completions, list):
                raise InputError(
                    f"the request for instance {item} failed ({show(result.get('error'))})",
                    where=at,
                    fix="rerun helm-run so that every request succeeds",
                )
            if item in outputs:
                raise InputError(f"instance {item} has two requests", where=at, fix=_FIX)
            outputs[item] = _text(completions[0]) if completions else ""
        missing = [i for i in self.targets if i not in outputs]
        if missing:
            raise InputError(f"no completion for instance {missing[0]}", where=where, fix=_FIX)
        rows = [{"item": i, "target": t[0], "output": outputs[i]} for i, t in self.targets.items()]
        return Run(str(self.path), self.task, self.model, rows)

    def scored_run(self) -> Run:
        """The ``exact_match`` stat of each instance (pre-scored)."""
        path = self.path / "per_instance_stats.json"
        if not path.exists():
            raise InputError(
                "has neither the completions of a generation run nor per_instance_stats.json",
                where=str(self.path),
                fix=_FIX,
            )
        correct: dict[str, bool] = {}
        for number, entry in enumerate(_list_file(path)):
            at = f"{path}, entry {number}"
            if isinstance(entry, dict) and "perturbation" in entry:
                continue
            _trial(entry, at)
            item = _field(entry, "instance_id", str, at).strip()
            value = _exact_match(_field(entry, "stats", list, at), f"{path}, instance {item}")
            if value is not None:
                correct[item] = value
        missing = [i for i in self.targets if i not in correct]
        if missing:
            raise InputError(
                f"no exact_match stat for instance {missing[0]}",
                where=str(path),
                fix="give runs whose metrics include exact_match",
            )
        rows = [{"item": i, "correct": correct[i]} for i in self.targets]
        return Run(str(self.path), self.task, self.model, rows)


def _exact_match(stats: list[Any], where: str) -> bool | None:
    """Whether the instance's ``exact_match`` is 1 (``None`` when the entry has no such stat)."""
    for stat in stats:
        name = stat.get("name") if isinstance(stat, dict) else None
        if not isinstance(name, dict) or name.get("name") != "exact_match":
            continue
        if "perturbation" in name:
            continue
        value = stat.get("mean")
        if isinstance(value, bool) or value not in (0, 1):
            raise InputError(f"exact_match is {show(value)}, not 0 or 1", where=where, fix=_FIX)
        return value == 1
    return None


# The log readers share this signature and the shape of its docstring on purpose: the front
# door (inputs/log_formats.py) calls any of them alike, and each documents its own files.
def read_helm(
    folders: Sequence[Path],
    *,
    sizes: Callable[[Sequence[str]], dict[str, float]],
    tasks: Sequence[str] | None = None,
    source: str = "",
) -> pd.DataFrame:
    """Read HELM run folders (one per scenario and model) into one per-item table.

    Parameters
    ----------
    folders
        Run folders, each with ``run_spec.json``, ``instances.json`` and ``scenario_state.json``
        or ``per_instance_stats.json``.
    sizes
        Maps model names to parameter counts
        (:func:`mirage_bayes.inputs.model_sizes.size_resolver`).
    tasks
        Read only these tasks (run names without ``model=``; default: all).
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
        For a run folder that cannot be used, naming the file.
    """
    runs = choose_tasks([_Folder(path) for path in folders], tasks, source)
    problem = next((p for p in (run.raw_problem() for run in runs) if p is not None), None)
    if problem is None:
        return log_frame([run.raw_run() for run in runs], sizes=sizes, tasks=None,
                         source=source, prescored=False)  # fmt: skip
    frame = log_frame([run.scored_run() for run in runs], sizes=sizes, tasks=None,
                      source=source, prescored=True)  # fmt: skip
    note(
        "HELM runs read pre-scored, one 0/1 token per instance from per_instance_stats.json's "
        f"exact_match, because {problem}"
    )
    return frame
