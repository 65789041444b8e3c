"""New figures: one place that makes them, so that they display in Jupyter like ArviZ's do.

Figures are made with :class:`matplotlib.figure.Figure`, not ``pyplot``: nothing is drawn on
screen from the command line, no global state is touched from worker threads, and a figure is
freed when its last reference goes. Such a figure is not known to ``pyplot``, so in a fresh
Jupyter kernel (no ``%matplotlib inline``, ``pyplot`` never imported) IPython would print
``<Figure size … with 4 Axes>``. The first figure made inside IPython therefore registers a PNG
formatter for figures, as ``%matplotlib inline`` does, and a returned figure shows as a picture.
"""

from __future__ import annotations

import base64
import io
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

__all__ = ["figure_entries", "new_figure", "png_data_uri"]

_registered: list[bool] = []


def _register_display() -> None:
    """Teach a running IPython shell to show figures as PNG (once per process)."""
    if _registered:
        return
    _registered.append(True)
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is None:
        return  # plain Python or the command line: nothing to display to
    png = shell.display_formatter.formatters["image/png"]
    if Figure not in png.type_printers:  # an inline backend already shows figures
        png.for_type(Figure, _png)


def _png(fig: Figure, dpi: float | None = None) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight", dpi=dpi)
    return buffer.getvalue()


def png_data_uri(fig: Figure, dpi: float = 80) -> str:
    """The figure as a ``data:image/png;base64,…`` URI, for an HTML page or repr."""
    return "data:image/png;base64," + base64.b64encode(_png(fig, dpi)).decode("ascii")


def new_figure(**kwargs: Any) -> Figure:
    """A :class:`~matplotlib.figure.Figure` (``layout="constrained"`` unless given) that
    displays as a picture when returned in Jupyter."""
    _register_display()
    kwargs.setdefault("layout", "constrained")
    return Figure(**kwargs)


def figure_entries(
    task: str,
    stem: str,
    paths: list[Path],
    directory: Path,
    captions: Mapping[str, tuple[str, str]],
) -> list[dict]:
    """One report entry per figure file ``<stem>_<kind>.png``: its title and caption (from
    ``captions`` by kind), its path relative to the report and its bytes as a data URI."""
    entries = []
    for path in paths:
        kind = path.stem[len(stem) + 1 :]
        title, caption = captions.get(kind, (kind.replace("_", " "), ""))
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        entries.append(
            {
                "kind": kind,
                "title": title,
                "caption": caption,
                "path": path.relative_to(directory).as_posix(),
                "data_uri": f"data:image/png;base64,{data}",
                "alt": f"{task}: {title}",
            }
        )
    return entries
