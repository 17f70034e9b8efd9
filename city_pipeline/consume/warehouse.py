"""Read published marts out of the warehouse, read-only.

The warehouse has one writer (dbt, in the `warehouse` pool); consume only ever reads it, through
`duckdb.connect(path, read_only=True)`. DuckDB refuses a reader while another process holds the
write lock, so a read retries briefly instead of failing a nightly run on a race.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow as pa

MART_SCHEMA = "marts"
LOCK_RETRY_SECONDS = 30.0
BATCH_ROWS = 100_000


class WarehouseError(RuntimeError):
    """The warehouse or a mart in it is missing or cannot be read."""


def connect_read_only(
    path: Path, timeout_s: float = LOCK_RETRY_SECONDS
) -> duckdb.DuckDBPyConnection:
    if not path.exists():
        raise WarehouseError(f"warehouse {path} does not exist: run the curate layer (dbt) first")
    deadline, delay = time.monotonic() + timeout_s, 0.2
    while True:
        try:
            return duckdb.connect(str(path), read_only=True)
        except duckdb.IOException as exc:  # "Could not set lock on file": a writer is busy
            if time.monotonic() >= deadline:
                raise WarehouseError(
                    f"warehouse {path} stayed locked by a writer for {timeout_s:.0f}s: {exc}"
                ) from exc
            time.sleep(delay)
            delay = min(delay * 2, 2.0)


def _require_mart(
    connection: duckdb.DuckDBPyConnection, path: Path, schema: str, mart: str
) -> None:
    # fetchall, not fetchone: DuckDB 2 refuses new work while a result is half-read.
    (found,) = connection.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, mart],
    ).fetchall()[0]
    if not found:
        raise WarehouseError(
            f"mart {schema}.{mart} is not in the warehouse {path}: has the dbt model been built?"
        )


def read_mart(path: Path, mart: str, schema: str = MART_SCHEMA) -> pa.Table:
    """The whole mart as an Arrow table with its exact DuckDB types (DATE stays a date)."""
    with connect_read_only(path) as connection:
        _require_mart(connection, path, schema, mart)
        return connection.sql(f'select * from "{schema}"."{mart}"').to_arrow_table()


@contextlib.contextmanager
def open_mart(
    path: Path, mart: str, schema: str = MART_SCHEMA, batch_rows: int = BATCH_ROWS
) -> Iterator[pa.RecordBatchReader]:
    """The mart as a stream of Arrow record batches of up to `batch_rows` rows, with the same
    types as `read_mart`: a mart of any size costs one batch of memory. The read-only
    connection stays open until the `with` block ends."""
    with connect_read_only(path) as connection:
        _require_mart(connection, path, schema, mart)
        yield connection.sql(f'select * from "{schema}"."{mart}"').to_arrow_reader(batch_rows)
