"""Fitting a task's per-token error rate across model sizes: each kind of data (generation,
multiple choice) as item × size matrices, the one NUTS call, the one task × trend loop, the
comparison of trends, the late-jump check, results and what they propagate to.

``fit`` is importable from here, as it was from the 0.1 module ``mirage_bayes.fitting``.
"""

from mirage_bayes import lazy

__getattr__, __dir__ = lazy.exports(
    globals(),
    {"fit": "mirage_bayes.fitting.generation", "DEFAULT_TRENDS": "mirage_bayes.settings"},
)
