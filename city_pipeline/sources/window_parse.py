"""Parse the landed files of a window of partitions in a few DuckDB queries.

A backfill or a rebuild of raw parses hundreds of small batches; one query per file or per day
pays DuckDB's fixed cost (parse, bind, optimise: milliseconds) every time. Here the files of every
partition of a window are read in one scan, each row tagged with its partition: `batch_no` (window
order, so the first problem found is the earliest partition's), `part` (the partition an error
names) and `day` (where the rows are split back into partitions). Parsing one day is a window of
one: the nightly run and a backfill share one code path.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import NoReturn

import duckdb
import pyarrow as pa

from city_pipeline.capture import ParseContext, split_by_partition
from city_pipeline.lake import LandedFile
from city_pipeline.sources.common import ErrorContext, duckdb_connection, load_json
from city_pipeline.sql import sql_list

MAX_OBJECT_BYTES = 268_435_456


@dataclass(frozen=True)
class Part:
    """The landed files of one partition. `label` names it in errors (the day, or a file name when
    a file is parsed outside a capture); `day` is where a window's rows go (None outside one)."""

    err: ErrorContext
    label: str | None
    day: date | None
    files: Sequence[LandedFile]


def parts_of(contexts: Sequence[ParseContext], what: str = "response") -> list[Part]:
    """One part per partition; a partition without a landed file is an error."""
    for ctx in contexts:
        if not ctx.files:
            raise ctx.error(f"no {what} was landed for this partition")
    return [Part(ctx, ctx.day.isoformat(), ctx.day, ctx.files) for ctx in contexts]


def fail(parts: Sequence[Part], batch_no: int, message: str, field: str | None = None) -> NoReturn:
    """Raise the error of the partition `batch_no` (a check query's answer)."""
    raise parts[batch_no].err.error(message, field)


@contextlib.contextmanager
def cursor() -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection of its own for one parse, closed after (its temp tables go with it)."""
    con = duckdb_connection()
    try:
        yield con
    finally:
        con.close()


def file_paths(parts: Sequence[Part]) -> list[str]:
    return [str(f.path) for part in parts for f in part.files]


def register_files(
    con: duckdb.DuckDBPyConnection,
    parts: Sequence[Part],
    paths: Sequence[str] | None = None,
    labels: Sequence[str] | None = None,
) -> None:
    """Table `files(path, file_no, batch_no, part, day, label)`: every landed file of the window
    (or the `paths` read in their place), numbered in landing order (a later file of a batch wins a
    dedupe). Built from query parameters: Arrow tables built in Python would import pandas."""
    batch_nos = [n for n, part in enumerate(parts) for _ in part.files]
    con.execute(
        "CREATE OR REPLACE TEMP TABLE files AS SELECT unnest(?) AS path, "
        "CAST(unnest(range(?)) AS BIGINT) AS file_no, CAST(unnest(?) AS INTEGER) AS batch_no, "
        "CAST(unnest(?) AS VARCHAR) AS part, CAST(unnest(?) AS DATE) AS day, "
        "CAST(unnest(?) AS VARCHAR) AS label",
        [
            list(paths or file_paths(parts)),
            len(batch_nos),
            batch_nos,
            [parts[n].label for n in batch_nos],
            [parts[n].day for n in batch_nos],
            list(labels or [None] * len(batch_nos)),
        ],
    )


def load_json_docs(
    con: duckdb.DuckDBPyConnection, parts: Sequence[Part], columns: str, table: str
) -> None:
    """Table `<table>(batch_no, file_no, part, day, filename, <columns>)`, one row per landed file,
    `columns` computed from the file's JSON value `doc` (e.g. a `json_transform` to the payload's
    shape: each file is parsed once, in one scan of every file of the window).

    When DuckDB cannot read a file (an HTML page, a truncated body) or a file is not exactly one
    JSON value, `load_json` reads the files in window order, so the error names the partition and
    file and says what is wrong (and what DuckDB refused but is JSON is accepted)."""
    register_files(con, parts)
    paths = file_paths(parts)
    read = (
        f"SELECT filename AS path, json AS doc FROM read_json_objects({sql_list(paths)}, "
        f"filename=true, format='unstructured', maximum_object_size={MAX_OBJECT_BYTES})"
    )
    try:
        _create_docs(con, read, columns, table)
        [(one_each,)] = con.execute(
            f"SELECT count(*) = ? AND count(DISTINCT file_no) = ? FROM {table}", [len(paths)] * 2
        ).fetchall()
        if one_each:
            return
    except duckdb.Error:
        pass
    texts = [
        json.dumps(load_json(part.err, f), ensure_ascii=False) for part in parts for f in part.files
    ]
    docs_from_texts(con, texts, columns, table)


def docs_from_texts(
    con: duckdb.DuckDBPyConnection, texts: list[str], columns: str, table: str
) -> None:
    """`load_json_docs` from JSON texts, one per row of the `files` table."""
    read = (
        "SELECT path, CAST(doc AS JSON) AS doc FROM (SELECT unnest(?) AS doc, "
        "unnest(range(?)) AS file_no) JOIN files USING (file_no)"
    )
    con.execute(_create_docs_sql(read, columns, table), [texts, len(texts)])


def _create_docs(con: duckdb.DuckDBPyConnection, read: str, columns: str, table: str) -> None:
    con.execute(_create_docs_sql(read, columns, table))


def _create_docs_sql(read: str, columns: str, table: str) -> str:
    return (
        f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT f.batch_no, f.file_no, f.part, f.day, "
        f"f.path AS filename, {columns} FROM ({read}) j JOIN files f USING (path) "
        "ORDER BY f.file_no"
    )


def json_type_at(parts: Sequence[Part], file_no: int, *path: str | int) -> str | None:
    """DuckDB's name of the JSON type at `path` in a landed file (None when absent), read again
    for an error message only."""
    part, landed = [(p, f) for p in parts for f in p.files][file_no]
    value = load_json(part.err, landed)
    for key in path:
        try:  # a dict has string keys only, a list integer indexes
            value = value[key] if isinstance(value, dict | list) else {}[key]
        except (KeyError, IndexError, TypeError):
            return None
    return _json_type_name(value)


def _json_type_name(value: object) -> str:
    """The name `json_type` gives a parsed JSON value (a number past BIGINT is a UBIGINT)."""
    if isinstance(value, bool):
        return "BOOLEAN"
    if isinstance(value, int):
        return "BIGINT" if value < 2**63 else "UBIGINT"
    names = {dict: "OBJECT", list: "ARRAY", str: "VARCHAR", float: "DOUBLE"}
    return names.get(type(value), "NULL")


def split(table: pa.Table, parts: Sequence[Part]) -> dict[date, pa.Table]:
    """A window's rows per partition day, `_batch` (the partition's place in the window, the
    rows' order) dropped; a day without rows gets an empty table with the same columns."""
    by_batch = split_by_partition(table, "_batch", range(len(parts)))
    return {part.day: by_batch[n] for n, part in enumerate(parts)}
