"""Quoting values into SQL text, for the statements DuckDB cannot take parameters in (file lists
of `read_json`, `COPY ... TO`, `COMMENT ON`). Parameters (`?`) are used everywhere else."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path


def sql_text(value: str | Path) -> str:
    """A SQL string literal: `it's` -> `'it''s'`."""
    return "'" + str(value).replace("'", "''") + "'"


def sql_list(values: Iterable[str | Path]) -> str:
    """A SQL list of string literals, e.g. the files for `read_json([...])`."""
    return "[" + ", ".join(sql_text(v) for v in values) + "]"


def sql_identifier(name: str) -> str:
    """A quoted SQL identifier (a column or table name that may hold any character)."""
    return '"' + name.replace('"', '""') + '"'
