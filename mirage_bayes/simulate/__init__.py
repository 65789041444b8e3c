"""Simulators with a known truth: generated outputs (with the failure modes real outputs have),
multiple-choice answers, ``meta`` populations, edge regimes; and the calibration studies that
fit them.

>>> from mirage_bayes.simulate import simulate_outputs, GPT3_SIZES  # doctest: +SKIP
"""

from mirage_bayes import lazy

__getattr__, __dir__ = lazy.exports(
    globals(),
    {
        name: "mirage_bayes.simulate.generation"
        for name in (
            "Break",
            "GPT3_SIZES",
            "OPERATIONS",
            "log_cross_entropy",
            "model_name",
            "population_truth",
            "simulate_outputs",
        )
    },  # fmt: skip
)
