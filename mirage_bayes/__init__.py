"""mirage-bayes: Bayesian analysis of emergent abilities of large language models.

>>> from mirage_bayes import read_outputs, fit
>>> result = fit(read_outputs("outputs.csv"))  # doctest: +SKIP
>>> result.summary(); result.plot_metric("accuracy"); result.save("mirage_out")  # doctest: +SKIP
"""

__version__ = "0.1.0"

from mirage_bayes.choice_result import ChoiceFitResult  # noqa: E402
from mirage_bayes.choice_simulate import simulate_choices  # noqa: E402
from mirage_bayes.choices import score_choices, validate_choices  # noqa: E402
from mirage_bayes.errors import InputError  # noqa: E402
from mirage_bayes.fitting import fit  # noqa: E402
from mirage_bayes.io import read_outputs  # noqa: E402
from mirage_bayes.result import FitResult  # noqa: E402
from mirage_bayes.scoring import score_outputs  # noqa: E402
from mirage_bayes.simulate import simulate_outputs  # noqa: E402

__all__ = [
    "ChoiceFitResult",
    "FitResult",
    "InputError",
    "__version__",
    "fit",
    "read_outputs",
    "score_choices",
    "score_outputs",
    "simulate_choices",
    "simulate_outputs",
    "validate_choices",
]
