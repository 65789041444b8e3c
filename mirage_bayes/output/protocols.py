"""What the writers of result folders read of a result, as structural types.

The result classes (:class:`mirage_bayes.fitting.result.FitResult`,
:class:`mirage_bayes.fitting.choice_result.ChoiceFitResult`,
:class:`mirage_bayes.forecast.run.ForecastResult`) call their writers in ``save``; the writers see
them through these protocols, so that neither side imports the other.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import pandas as pd

__all__ = ["FitLike", "ForecastLike"]


class FitLike(Protocol):
    """A fit of one or more tasks (generation or multiple choice)."""

    tasks: Sequence[Any]
    idatas: Mapping[str, Mapping[str, Any]]
    comparisons: list[pd.DataFrame]
    verdict_texts: dict[str, str]
    diagnostics_by_fit: Mapping[tuple[str, str], Any]
    meta: dict[str, Any]

    def summary(self) -> pd.DataFrame: ...

    def comparison(self) -> pd.DataFrame: ...

    def diagnostics(self) -> pd.DataFrame: ...

    def verdicts(self) -> dict[str, str]: ...


class ForecastLike(Protocol):
    """Leave-future-out forecasts of every task."""

    tasks: Sequence[Any]
    meta: dict[str, Any]

    def table(self) -> pd.DataFrame: ...

    def diagnostics(self) -> pd.DataFrame: ...

    def verdicts(self) -> dict[str, str]: ...
