"""mirage-bayes: Bayesian analysis of emergent abilities of large language models.

>>> from mirage_bayes import read_outputs, fit
>>> result = fit(read_outputs("outputs.csv"))  # doctest: +SKIP
>>> result.summary(); result.plot_metric("accuracy"); result.save("mirage_out")  # doctest: +SKIP

The public names are loaded on first use (PEP 562), so that importing the package, or running
``mirage-bayes --help``, does not import PyMC and ArviZ.
"""

from __future__ import annotations

from mirage_bayes import lazy, legacy
from mirage_bayes.settings import VERSION as __version__

# Public name -> the module that defines it.
_EXPORTS = {
    "ChoiceFitResult": "mirage_bayes.fitting.choice_result",
    "FitResult": "mirage_bayes.fitting.result",
    "InputError": "mirage_bayes.errors",
    "fit": "mirage_bayes.fitting.generation",
    "read_outputs": "mirage_bayes.inputs.io",
    "score_choices": "mirage_bayes.inputs.choices",
    "score_outputs": "mirage_bayes.inputs.scoring",
    "simulate_choices": "mirage_bayes.simulate.choices",
    "simulate_outputs": "mirage_bayes.simulate.generation",
    "validate_choices": "mirage_bayes.inputs.choices",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


__getattr__, __dir__ = lazy.exports(globals(), _EXPORTS)
legacy.install()
