"""``mirage-bayes meta``: the multiple-comparisons meta-analysis of published scaling tables.
Each task × metric × family triplet is classed (late jump, smooth, saturating, ...) against a
smooth law fitted to its smaller sizes; the population count of late jumps is set against the
count a smooth law makes.

>>> from mirage_bayes.meta import analyse  # doctest: +SKIP
"""

from mirage_bayes import lazy

__getattr__, __dir__ = lazy.exports(
    globals(),
    {
        name: "mirage_bayes.meta.run"
        for name in ("MetaResult", "analyse", "population_summary", "CSV_COLUMNS", "FEW_CURVES")
    },
)
