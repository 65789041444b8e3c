"""The ``mirage-bayes`` command line (:func:`main`)."""

from mirage_bayes.cli.app import build_parser, main

__all__ = ["build_parser", "main"]
