"""``fit --items compare``: the normal and the log-gamma item family, compared by LOO per task.

How item difficulty is spread decides what the data cannot show directly: how often the
hardest items are ever solved, hence how pass@k grows with ``k`` (Schaeffer et al. 2025) and how
far below 1/items an accuracy can be read. Every trend of a task is fitted under each family
(:mod:`mirage_bayes.models.item_families`); the families are compared by leave-one-item-out
ELPD on the task's best trend under the normal family, and the task keeps the fits of the
family with the higher ELPD for everything reported. The table of that comparison goes into
``summary.json`` (``item_families``) and the report.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mirage_bayes.fitting.comparison import compare_trends
from mirage_bayes.fitting.trend_loop import TrendLoop
from mirage_bayes.settings import AUTO_ITEM_FAMILIES

__all__ = ["auto_item_family", "choose_item_families", "item_family_records", "task_item_family"]


def auto_item_family(data: Any) -> str:
    """The family ``--items auto`` gives a task: see
    :data:`~mirage_bayes.settings.AUTO_ITEM_FAMILIES`."""
    key = "repeated attempts" if data.has_attempts else "one attempt"
    return AUTO_ITEM_FAMILIES[key]


def _task_table(loop: TrendLoop, task: str):
    return next(t for t in loop.comparisons if (t["task"] == task).all())


def item_family_records(task: str, trend: str, idatas: dict[str, Any]) -> list[dict]:
    """One record per family of a task: ELPD, its SE, the difference to the best and its SE,
    and whether the family was kept (the best by ELPD)."""
    table = compare_trends(task, idatas).rename(columns={"trend": "items"})
    return [
        {"task": task, "trend": trend, "items": row["items"], "elpd_loo": float(row["elpd_loo"]),
         "se": float(row["se"]), "elpd_diff": float(row["elpd_diff"]), "dse": float(row["dse"]),
         "pareto_k_warning": bool(row["warning"]), "kept": int(row["rank"]) == 0}
        for _, row in table.iterrows()
    ]  # fmt: skip


def task_item_family(meta: dict, task: str) -> dict:
    """What ``summary.json`` says of a task's item family: the family its reported fits use
    and, with ``--items compare``, the comparison records."""
    rows = [r for r in meta.get("item_families") or [] if r["task"] == task]
    if not rows:
        return {"family": (meta.get("task_items") or {}).get(task, meta.get("items", "normal"))}
    return {"family": next(r["items"] for r in rows if r["kept"]), "comparison": rows}


def _sentence(rows: list[dict]) -> str:
    """The verdict's sentence on the item family."""
    kept = next(r for r in rows if r["kept"])
    other = max((r for r in rows if not r["kept"]), key=lambda r: r["elpd_loo"])
    clear = other["elpd_diff"] > 2.0 * other["dse"]
    return (
        f"Item difficulty: the {kept['items'].replace('_', '-')} family fits "
        f"{'better' if clear else 'about as well'} (ELPD {other['elpd_diff']:.1f} ± "
        f"{other['dse']:.1f} above the {other['items'].replace('_', '-')} family, "
        f"{kept['trend'].replace('_', ' ')}); its fits are the ones reported."
    )


def choose_item_families(
    loops: dict[str, TrendLoop], tasks: Sequence[Any], reference: str = "normal"
) -> tuple[TrendLoop, list[dict]]:
    """Per task, the fits of the family with the higher ELPD, and the comparison records.

    ``loops`` maps each family to the trend loop run under it; ``reference`` is the family whose
    best trend the comparison is made on.
    """
    base = loops[reference]
    merged = TrendLoop(warnings=list(base.warnings))
    records: list[dict] = []
    for data in tasks:
        task = data.task
        ranked = _task_table(base, task)
        trend = str(ranked.loc[ranked["rank"] == 0, "trend"].iloc[0])
        fits = {family: loop.idatas[task][trend] for family, loop in loops.items()}
        rows = item_family_records(task, trend, fits)
        records += rows
        kept = next(r["items"] for r in rows if r["kept"])
        chosen = loops[kept]
        merged.idatas[task] = chosen.idatas[task]
        merged.comparisons.append(_task_table(chosen, task))
        merged.verdicts[task] = chosen.verdicts[task] + " " + _sentence(rows)
        merged.late_checks[task] = chosen.late_checks[task]
        merged.diagnostics |= {key: d for key, d in chosen.diagnostics.items() if key[0] == task}
    for loop in loops.values():
        merged.refits += loop.refits
    return merged, records
