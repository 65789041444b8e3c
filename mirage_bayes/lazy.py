"""Public names loaded on first use (PEP 562), so that importing a package stays light.

``mirage-bayes --help`` and ``import mirage_bayes`` must not import PyMC and ArviZ; a package
lists its public names and the module defining each, and :func:`exports` gives it the module
``__getattr__`` and ``__dir__`` that import that module when a name is first asked for.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["exports"]


def exports(
    namespace: dict[str, Any], names: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of a package whose public names load lazily.

    Parameters
    ----------
    namespace
        The package's ``globals()``: a loaded name is cached there, so later look-ups skip
        ``__getattr__``.
    names
        Public name -> the module that defines it.
    """

    def __getattr__(name: str) -> Any:
        if name in names:
            value = getattr(importlib.import_module(names[name]), name)
            namespace[name] = value
            return value
        raise AttributeError(f"module {namespace['__name__']!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted({*namespace, *names})

    return __getattr__, __dir__
