"""mirage-bayes: Bayesian analysis of emergent abilities of large language models.

>>> from mirage_bayes import read_outputs, fit
>>> result = fit(read_outputs("outputs.csv"))  # doctest: +SKIP
>>> result.summary(); result.plot_metric("accuracy"); result.save("mirage_out")  # doctest: +SKIP

The public names are loaded on first use (PEP 562), so that importing the package, or running
``mirage-bayes --help``, does not import PyMC and ArviZ.
"""

from __future__ import annotations

import importlib
from typing import Any

from mirage_bayes.settings import VERSION as __version__

# Public name -> the module that defines it.
_EXPORTS = {
    "ChoiceFitResult": "mirage_bayes.choice_result",
    "FitResult": "mirage_bayes.result",
    "InputError": "mirage_bayes.errors",
    "fit": "mirage_bayes.fitting",
    "read_outputs": "mirage_bayes.io",
    "score_choices": "mirage_bayes.choices",
    "score_outputs": "mirage_bayes.scoring",
    "simulate_choices": "mirage_bayes.choice_simulate",
    "simulate_outputs": "mirage_bayes.simulate",
    "validate_choices": "mirage_bayes.choices",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value  # later look-ups skip this function
        return value
    raise AttributeError(f"module 'mirage_bayes' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
