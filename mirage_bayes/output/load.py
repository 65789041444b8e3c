"""Loading what ``mirage-bayes fit`` saved (:mod:`mirage_bayes.output.save`): the posterior
draws of every task and trend, without refitting. ``plan`` reads a fit folder through here."""

from __future__ import annotations

import json
from pathlib import Path

import arviz as az
import numpy as np

from mirage_bayes.errors import InputError
from mirage_bayes.models.item_families import SHAPE_PARAMETER

__all__ = ["load_fit"]


def _fit_kind(folder: Path) -> str:
    """``kind`` in the fit's ``summary.json`` (``"generation"`` when absent or unreadable)."""
    try:
        return str(json.loads((folder / "summary.json").read_text("utf-8")).get("kind"))
    except (OSError, ValueError, AttributeError):
        return "generation"


def _refuse_choice_fit(where: Path, kind: str) -> None:
    # A multiple-choice posterior has no per-token rate: reading one failed with a KeyError.
    if kind == "multiple_choice":
        raise InputError(
            "is a multiple-choice fit, and plan supports fits of generation outputs only",
            where=str(where),
            fix="give the folder of a fit of target/output tables, or plan with --epsilon",
        )


def load_fit(fit_dir: str | Path) -> list[dict]:
    """The posterior draws of every task and trend a ``mirage-bayes fit`` folder holds.

    Reads ``posterior_<trend>[__<task>].nc`` (no refit). Each entry has ``task, trend, models,
    n_params, lengths`` (those in the data and those requested at fit time), ``mu``
    ``(draws, scales)`` and ``sigma`` ``(draws,)``.
    """
    folder = Path(fit_dir)
    if not folder.is_dir():
        raise InputError(
            "no such folder", where=str(folder), fix="give a mirage-bayes fit --out folder"
        )
    _refuse_choice_fit(folder, _fit_kind(folder))
    files = sorted(folder.glob("posterior_*.nc"))
    if not files:
        raise InputError(
            "no posterior_<trend>.nc files", where=str(folder),
            fix="give a folder written by mirage-bayes fit",
        )  # fmt: skip
    fits = []
    for path in files:
        try:
            idata = az.from_netcdf(str(path))
            _refuse_choice_fit(path, str(idata.attrs.get("model", "")).split("/")[0])
            post, const = idata.posterior, idata.constant_data
            mu = post["mu"].transpose("chain", "draw", "scale").values
            sigma = post["sigma_item"].values.reshape(-1)
            shape = _item_shape(post)
            tokens = const["n_tokens"].values
            sizes = const["n_params"].values.astype(float)
            models = [str(m) for m in post["scale"].values]
        except InputError:
            raise
        except (OSError, ValueError, KeyError, AttributeError) as error:
            raise InputError(
                f"not a readable mirage-bayes posterior ({type(error).__name__})",
                where=str(path), fix="rerun mirage-bayes fit to write it again",
            ) from None  # fmt: skip
        config = json.loads(idata.attrs.get("fit_config", "{}") or "{}")
        lengths = {int(v) for v in np.unique(tokens[tokens > 0])} | set(config.get("lengths", []))
        fits.append(
            {
                "task": str(idata.attrs.get("task", path.stem)),
                "trend": str(
                    idata.attrs.get("trend", path.stem.split("__")[0].removeprefix("posterior_"))
                ),
                "models": models,
                "n_params": sizes,
                "lengths": sorted(lengths),
                "mu": mu.reshape(-1, mu.shape[-1]),
                "sigma": sigma,
                "item_shape": shape,
            }
        )
    return fits


def _item_shape(post) -> np.ndarray | None:
    """The log-gamma shape ``Q`` per draw where items were fitted as log-gamma
    (:mod:`mirage_bayes.models.item_families`), else ``None``. A posterior written while the
    shape was ``k > 0`` (sampled as ``log_item_shape``) describes the same law at
    ``Q = 1/√k``."""
    if SHAPE_PARAMETER not in post:
        return None
    shape = post[SHAPE_PARAMETER].values.reshape(-1)
    return 1.0 / np.sqrt(shape) if f"log_{SHAPE_PARAMETER}" in post else shape
