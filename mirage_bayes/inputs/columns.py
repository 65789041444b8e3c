"""Naming a file's columns as a command reads them: ``--map`` text into pairs, and the renaming.

Shared by ``fit``/``forecast`` (outputs tables: :mod:`mirage_bayes.inputs.sources`) and
``meta`` (results tables: :mod:`mirage_bayes.meta.table`); each names the columns it reads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from mirage_bayes.errors import InputError
from mirage_bayes.inputs.tables import Table

__all__ = ["parse_column_mapping", "rename_columns"]


def parse_column_mapping(
    text: str, readable: Sequence[str], *, reader: str, example: str
) -> dict[str, str]:
    """Parse ``"target=answer,output=prediction"`` into ``{"target": "answer", ...}``.

    Keys must be among ``readable`` (the columns ``reader`` reads), each named once, and each
    file column may stand for one of them only; ``example`` shows a pair in the error lines.
    """
    fix = f"write --map as COLUMN=FILE_COLUMN pairs separated by commas, e.g. {example}"
    mapping: dict[str, str] = {}
    for part in (p for p in text.split(",") if p.strip()):
        key, sep, value = (s.strip() for s in part.partition("="))
        if not sep or not key or not value:
            raise InputError(f"{part.strip()!r} is not COLUMN=FILE_COLUMN", where="--map", fix=fix)
        if key not in readable:
            raise InputError(
                f"{key!r} is not a column {reader} reads", where="--map",
                fix=f"map to one of {', '.join(readable)}",
            )  # fmt: skip
        if key in mapping:
            raise InputError(f"{key!r} is mapped twice", where="--map", fix=fix)
        mapping[key] = value
    if not mapping:
        raise InputError("no column pairs given", where="--map", fix=fix)
    sources = list(mapping.values())
    repeated = sorted({s for s in sources if sources.count(s) > 1})
    if repeated:
        raise InputError(
            f"file column {repeated[0]!r} is mapped to more than one column", where="--map",
            fix="map each file column once",
        )  # fmt: skip
    return mapping


def rename_columns(table: Table, columns: Mapping[str, str]) -> None:
    """Give the file's columns the names read here (``{"target": "answer"}``), in place."""
    have = [str(c) for c in table.frame.columns]
    missing = [f"{key}={name}" for key, name in columns.items() if name not in have]
    if missing:
        raise InputError(
            f"the column mapping {', '.join(missing)} names a column the file does not have; "
            f"it has {', '.join(repr(c) for c in have)}",
            where=table.path,
            fix="map to column names exactly as the file's header spells them",
        )
    # The mapping is explicit, so it wins over a column that already carries the name.
    replaced = [key for key in columns if key in have and key not in columns.values()]
    frame = table.frame.drop(columns=replaced)
    table.frame = frame.rename(columns={name: key for key, name in columns.items()})
