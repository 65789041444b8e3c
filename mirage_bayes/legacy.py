"""The module paths of release 0.1, kept for one release with a :class:`DeprecationWarning`.

Release 0.1 kept every module in one flat folder (``mirage_bayes.meta_fit``,
``mirage_bayes.scoring``, ...); they now live in packages named after their job. Importing an old
path still works: it warns once and gives a module that reads every name from the new one.
The old paths of ``fitting``, ``forecast``, ``meta``, ``simulate`` and ``plan`` are packages now,
which export what those modules exported.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import types
import warnings

__all__ = ["MOVED", "install"]

# Old module path -> its new home.
MOVED = {
    "mirage_bayes.alignment": "mirage_bayes.inputs.alignment",
    "mirage_bayes.calibration": "mirage_bayes.simulate.calibration",
    "mirage_bayes.cells": "mirage_bayes.inputs.cells",
    "mirage_bayes.chance": "mirage_bayes.inputs.chance",
    "mirage_bayes.chance_link": "mirage_bayes.models.chance_link",
    "mirage_bayes.choice_data": "mirage_bayes.fitting.choice_data",
    "mirage_bayes.choice_fit": "mirage_bayes.fitting.choice",
    "mirage_bayes.choice_report": "mirage_bayes.output.choice_report",
    "mirage_bayes.choice_result": "mirage_bayes.fitting.choice_result",
    "mirage_bayes.choice_simulate": "mirage_bayes.simulate.choices",
    "mirage_bayes.choices": "mirage_bayes.inputs.choices",
    "mirage_bayes.comparison": "mirage_bayes.fitting.comparison",
    "mirage_bayes.data": "mirage_bayes.fitting.data",
    "mirage_bayes.destination": "mirage_bayes.output.destination",
    "mirage_bayes.edge_regimes": "mirage_bayes.simulate.edge_regimes",
    "mirage_bayes.eee": "mirage_bayes.inputs.eee",
    "mirage_bayes.emergence": "mirage_bayes.meta.emergence",
    "mirage_bayes.figures": "mirage_bayes.output.figures",
    "mirage_bayes.filenames": "mirage_bayes.output.filenames",
    "mirage_bayes.fit_base": "mirage_bayes.fitting.base",
    "mirage_bayes.forecast_plot": "mirage_bayes.forecast.plot",
    "mirage_bayes.forecast_refit": "mirage_bayes.forecast.refit",
    "mirage_bayes.forecast_report": "mirage_bayes.forecast.report",
    "mirage_bayes.forecast_save": "mirage_bayes.forecast.save",
    "mirage_bayes.formatting": "mirage_bayes.output.formatting",
    "mirage_bayes.helm": "mirage_bayes.inputs.helm",
    "mirage_bayes.inference": "mirage_bayes.fitting.inference",
    "mirage_bayes.inspect_logs": "mirage_bayes.inputs.inspect_logs",
    "mirage_bayes.io": "mirage_bayes.inputs.io",
    "mirage_bayes.late_check": "mirage_bayes.fitting.late_check",
    "mirage_bayes.lmeval": "mirage_bayes.inputs.lmeval",
    "mirage_bayes.lmeval_records": "mirage_bayes.inputs.lmeval_records",
    "mirage_bayes.log_formats": "mirage_bayes.inputs.log_formats",
    "mirage_bayes.log_table": "mirage_bayes.inputs.log_table",
    "mirage_bayes.meta_classify": "mirage_bayes.meta.classify",
    "mirage_bayes.meta_fit": "mirage_bayes.meta.fit",
    "mirage_bayes.meta_io": "mirage_bayes.meta.io",
    "mirage_bayes.meta_lmeval": "mirage_bayes.meta.lmeval",
    "mirage_bayes.meta_models": "mirage_bayes.meta.laws",
    "mirage_bayes.meta_plots": "mirage_bayes.meta.plots",
    "mirage_bayes.meta_population": "mirage_bayes.meta.population",
    "mirage_bayes.meta_report": "mirage_bayes.meta.report",
    "mirage_bayes.meta_simulate": "mirage_bayes.simulate.meta",
    "mirage_bayes.meta_sources": "mirage_bayes.meta.sources",
    "mirage_bayes.meta_table": "mirage_bayes.meta.table",
    "mirage_bayes.meta_triplet": "mirage_bayes.meta.triplet",
    "mirage_bayes.model_sizes": "mirage_bayes.inputs.model_sizes",
    "mirage_bayes.plots": "mirage_bayes.output.plots",
    "mirage_bayes.priors": "mirage_bayes.fitting.priors",
    "mirage_bayes.protocols": "mirage_bayes.output.protocols",
    "mirage_bayes.report": "mirage_bayes.output.report",
    "mirage_bayes.resolution": "mirage_bayes.fitting.resolution",
    "mirage_bayes.result": "mirage_bayes.fitting.result",
    "mirage_bayes.save": "mirage_bayes.output.save",
    "mirage_bayes.scoring": "mirage_bayes.inputs.scoring",
    "mirage_bayes.sources": "mirage_bayes.inputs.sources",
    "mirage_bayes.tables": "mirage_bayes.inputs.tables",
    "mirage_bayes.theory": "mirage_bayes.fitting.theory",
    "mirage_bayes.transforms": "mirage_bayes.fitting.transforms",
    "mirage_bayes.trend_loop": "mirage_bayes.fitting.trend_loop",
}


class _Alias(types.ModuleType):
    """An old module path: every attribute is read from the new module."""

    def __init__(self, name: str, target: types.ModuleType) -> None:
        super().__init__(name, target.__doc__)
        self.__target = target

    def __getattr__(self, attr: str):
        return getattr(self.__target, attr)

    def __dir__(self) -> list[str]:
        return dir(self.__target)


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname, path=None, target=None):
        if fullname not in MOVED:
            return None
        return importlib.machinery.ModuleSpec(fullname, self)

    def create_module(self, spec):
        new = MOVED[spec.name]
        warnings.warn(
            f"{spec.name} has moved to {new}; the old path will be removed in the next release",
            DeprecationWarning,
            stacklevel=2,
        )
        return _Alias(spec.name, importlib.import_module(new))

    def exec_module(self, module) -> None:
        pass


def install() -> None:
    """Make the old module paths importable (once per interpreter)."""
    if not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.append(_Finder())
