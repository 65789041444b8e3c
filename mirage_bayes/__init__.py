"""mirage-bayes: Bayesian analysis of emergent abilities of large language models."""

__version__ = "0.1.0"
