"""``mirage-bayes forecast``: leave-future-out forecasts of the largest sizes from the smaller
ones, with the refits compiled once, their figures, report and staged save.

>>> from mirage_bayes.forecast import forecast  # doctest: +SKIP
"""

from mirage_bayes import lazy

__getattr__, __dir__ = lazy.exports(
    globals(),
    {
        name: "mirage_bayes.forecast.run"
        for name in ("ForecastResult", "forecast", "forecast_seed", "verdict", "FORECAST_TRENDS")
    },
)
