"""Statistical models of mirage-bayes (installed as ``mirage_bayes.models``)."""

from mirage_bayes.models.aggregate import build_model as build_aggregate_model
from mirage_bayes.models.choice import build_choice_model
from mirage_bayes.models.generation import build_model, item_log_likelihood, population_quantities
from mirage_bayes.models.trends import TRENDS, Trend

__all__ = [
    "TRENDS",
    "Trend",
    "build_aggregate_model",
    "build_choice_model",
    "build_model",
    "item_log_likelihood",
    "population_quantities",
]
