"""File names made from task names: safe characters only, bounded in length and unique.

Task names are free text, but every task gets files of its own (``posterior_<trend>__<stem>.nc``,
``figures/<stem>_<kind>.png``, ``forecast_<stem>.png``). Replacing unsafe characters alone made
``math/add`` and ``math_add`` write the same file (one task's posterior silently replaced the
other's), and a 300-character name failed with "file name too long" after sampling. So:

* a name becomes its stem with every run of other characters than ``A-Z a-z 0-9 . _ -``
  replaced by ``_`` (``multi choice/qa`` is ``multi_choice_qa``);
* when that stem is longer than :data:`MAX_STEM`, or equals another task's ignoring case (the
  same file on macOS and Windows), it is shortened and gets ``-`` and eight hex digits of the
  name's SHA-1 — except for a name that was already safe and is the only such one, which keeps
  its stem (``math_add`` stays, ``math/add`` becomes ``math_add-<hash>``).

The mapping is recorded in ``summary.json`` (``files``), so a reader can find a task's files.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable

from mirage_bayes.output.protocols import FitLike

__all__ = ["MAX_STEM", "file_stems", "netcdf_name", "task_files"]

MAX_STEM = 64
"""Longest stem; with ``posterior_broken_power_law__`` and a suffix, far below 255 bytes."""

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_DIGEST = 8


def _base(task: str) -> str:
    # Leading dots would hide the file; leading dashes read as options on a command line.
    return _UNSAFE.sub("_", task).lstrip("._-") or "task"


def file_stems(tasks: Iterable[str]) -> dict[str, str]:
    """The file-name stem of each task (see the module docstring).

    Parameters
    ----------
    tasks
        Task names; repeats are ignored.

    Returns
    -------
    dict
        ``{task: stem}`` in the order given; stems are distinct even ignoring case.
    """
    names = [str(t) for t in dict.fromkeys(tasks)]
    bases = {name: _base(name) for name in names}
    fits = {name: len(base) <= MAX_STEM for name, base in bases.items()}
    shared = Counter(b.lower() for n, b in bases.items() if fits[n])
    safe = Counter(n.lower() for n, b in bases.items() if fits[n] and b == n)
    stems: dict[str, str] = {}
    taken: set[str] = set()
    for name in names:
        base = bases[name]
        if fits[name] and (shared[base.lower()] == 1 or (base == name and safe[name.lower()] == 1)):
            stem = base
        else:
            digest = hashlib.sha1(name.encode("utf-8", "surrogatepass")).hexdigest()[:_DIGEST]
            stem = f"{base[: MAX_STEM - _DIGEST - 1].rstrip('._-') or 'task'}-{digest}"
        # A hashed stem could still equal another task's stem; a counter settles that.
        unique, n = stem, 1
        while unique.lower() in taken:
            n += 1
            unique = f"{stem[: MAX_STEM - 4]}-{n}"
        taken.add(unique.lower())
        stems[name] = unique
    return stems


def netcdf_name(task: str, trend: str, n_tasks: int, stem: str | None = None) -> str:
    """``posterior_<trend>.nc``; ``posterior_<trend>__<stem>.nc`` when there are several tasks,
    ``stem`` from :func:`mirage_bayes.output.filenames.file_stems` over all the tasks (unique)."""
    if n_tasks == 1:
        return f"posterior_{trend}.nc"
    return f"posterior_{trend}__{stem or file_stems([task])[task]}.nc"


def task_files(result: FitLike) -> dict[str, dict]:
    """Per task, the names of its files (the ``files`` entry of ``summary.json``)."""
    stems = file_stems(result.idatas)
    return {
        task: {
            "stem": stems[task],
            "posteriors": {
                trend: netcdf_name(task, trend, len(result.idatas), stems[task])
                for trend in by_trend
            },
            "figures": f"figures/{stems[task]}_*.png",
        }
        for task, by_trend in result.idatas.items()
    }
