"""Statistical models of mirage-bayes (installed as ``mirage_bayes.models``)."""

from mirage_bayes.models.generation import build_model, item_log_likelihood, population_quantities
from mirage_bayes.models.trends import TRENDS, Trend

__all__ = ["TRENDS", "Trend", "build_model", "item_log_likelihood", "population_quantities"]
