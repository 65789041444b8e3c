"""The marker that makes a folder a mirage-bayes result folder: what wrote it, and every file
the run wrote, so that ``--force`` replaces a folder only while it holds nothing else
(:mod:`mirage_bayes.output.destination`). Standard library only, like the destination rules."""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from collections.abc import Iterable
from pathlib import Path

from mirage_bayes.settings import VERSION

__all__ = [
    "MARKER",
    "foreign_entries",
    "list_written",
    "new_marker",
    "read_marker",
    "record_written",
    "written_entries",
]

MARKER = ".mirage-bayes.json"
"""The file that marks a folder as written by mirage-bayes (the only kind ``--force`` replaces)."""


def read_marker(folder: str | Path) -> dict | None:
    """The content of ``folder``'s marker file, or ``None`` when it has none (or not ours)."""
    path = Path(folder) / MARKER
    try:
        if path.is_symlink() or not path.is_file():
            return None
        content = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return content if isinstance(content, dict) and content.get("tool") == "mirage-bayes" else None


def written_entries(folder: Path) -> list[str]:
    """Every file and folder under ``folder`` (not following links), as relative POSIX paths."""
    found = []
    for root, dirs, files in os.walk(folder):
        base = Path(root).relative_to(folder)
        found += [(base / name).as_posix() for name in (*dirs, *files)]
    return sorted(name for name in found if name != MARKER)


def foreign_entries(folder: str | Path, marker: dict) -> list[str] | None:
    """What a result folder holds that its run did not write (relative paths, sorted), by its
    ``marker`` (:func:`read_marker`), or ``None`` when the marker lists nothing (a folder
    written before markers listed files)."""
    listed = marker.get("files")
    if not isinstance(listed, list):
        return None
    listed = set(listed)
    return [name for name in written_entries(Path(folder)) if name not in listed]


def record_written(folder: str | Path, names: Iterable[str]) -> None:
    """Add files another command wrote into a result folder (``plan`` into a fit's) to its
    marker's list, so that ``--force`` may replace the folder with them. A folder without a
    marker that lists files is left alone."""
    marker = read_marker(folder)
    if marker is None or not isinstance(marker.get("files"), list):
        return
    marker["files"] = sorted({*marker["files"], *names})
    path = Path(folder) / MARKER
    tmp = path.with_name(f".{MARKER}.tmp")
    tmp.write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def new_marker(command: str, destination: str) -> dict:
    """The marker of a new result folder: tool, command, version, time, process and host (which
    tell a killed run's staging folder), and the destination's name."""
    return {
        "tool": "mirage-bayes",
        "command": command,
        "argv": sys.argv[1:],
        "version": VERSION,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "destination": destination,
    }


def list_written(staging: Path) -> None:
    """Add the list of every file the run wrote to the staging folder's marker."""
    marker = read_marker(staging) or {}
    marker["files"] = written_entries(staging)
    (staging / MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
