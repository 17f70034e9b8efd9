"""What every source shares: the error type, fetching one response into the landing zone, and
turning loosely typed payload columns into typed Arrow columns with DuckDB (no Python row loops).

Source modules stay plain Python (no Dagster) so tests call them directly.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Protocol

import duckdb
import orjson
import pyarrow as pa
import requests
from urllib3.exceptions import ReadTimeoutError

from city_pipeline.http import (
    MissingRecordingError,
    interesting_headers,
    redact_params,
    redact_url,
)
from city_pipeline.lake import LandedFile, LandingBatch
from city_pipeline.settings import Settings
from city_pipeline.sql import sql_text

# Missing-value conventions seen in Thai public payloads (data/recordings/real-samples).
MISSING_SENTINELS: tuple[str, ...] = ("-1", "-999", "-9999", "-", "", "N/A", "n/a", "NA", "null")


class SourceError(RuntimeError):
    """Bad input from a source: names the source, the partition and the field.

    `transient` marks what may succeed later (timeouts, refused connections, 429/5xx after the
    session's own retries): Dagster retries those runs, never a malformed payload.
    """

    def __init__(
        self,
        source: str,
        partition: date | str | None,
        message: str,
        field: str | None = None,
        *,
        transient: bool = False,
    ):
        self.source = source
        self.partition = str(partition) if partition is not None else None
        self.field = field
        self.transient = transient
        where = f"source {source}, partition {self.partition or '-'}"
        if field:
            where += f", field '{field}'"
        super().__init__(f"[{where}] {message}")


class ErrorContext(Protocol):
    def error(self, message: str, field: str | None = None) -> SourceError: ...


@dataclass(frozen=True)
class OfflineContext:
    """Error context for parsing saved files outside a capture (contract samples, one-off loads,
    manual downloads): names the source, the partition when there is one, and the file's name
    when it is given (`file`)."""

    source: str
    partition: date | str | None = None
    file: Path | None = None

    def error(self, message: str, field: str | None = None) -> SourceError:
        text = f"{Path(self.file).name}: {message}" if self.file is not None else message
        return SourceError(self.source, self.partition, text, field)


@dataclass
class FetchContext:
    """One capture of one partition: the session to call and the batch to land responses in."""

    source: str
    day: date
    session: requests.Session
    settings: Settings
    batch: LandingBatch
    # What the fetch reports about the batch (e.g. `paging`), written into its completion marker.
    batch_metadata: dict[str, Any] = field(default_factory=dict)

    def error(self, message: str, field: str | None = None) -> SourceError:
        return SourceError(self.source, self.day, message, field)

    def unavailable(self, message: str) -> SourceError:
        """The source could not answer now; worth retrying later."""
        return SourceError(self.source, self.day, message, transient=True)


TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


def fetch(
    ctx: FetchContext,
    url: str,
    params: Mapping[str, Any] | None = None,
    *,
    ext: str = "json",
    headers: Mapping[str, str] | None = None,
    method: str = "GET",
    json_body: Any = None,
) -> LandedFile:
    """Call the source once, land the exact bytes, and fail clearly on an HTTP error.

    Retries and timeouts happen inside the session (see `city_pipeline.http`); what reaches here
    is the final answer. Bytes are landed before the status is judged, so an error page is kept.
    """
    params = {k: v for k, v in (params or {}).items() if v is not None}
    shown = f"{redact_url(url)} params={redact_params(params)}"
    try:
        response = ctx.session.request(method, url, params=params, headers=headers, json=json_body)
    except MissingRecordingError as exc:
        raise ctx.error(str(exc)) from None
    except requests.Timeout as exc:
        raise ctx.unavailable(f"timed out calling {shown}: {exc}") from None
    except requests.exceptions.RetryError as exc:
        raise ctx.unavailable(f"gave up on {shown} after retries: {exc}") from None
    except requests.ConnectionError as exc:
        # urllib3 reports read timeouts that outlived their retries as a connection error.
        reason = getattr(exc.args[0] if exc.args else None, "reason", None)
        if isinstance(reason, ReadTimeoutError):
            raise ctx.unavailable(
                f"timed out reading from {shown} after retries: {reason}"
            ) from None
        raise ctx.unavailable(f"could not connect to {shown}: {exc}") from None
    except requests.RequestException as exc:  # e.g. a body cut off mid-transfer
        raise ctx.unavailable(f"request to {shown} failed: {exc!r}") from None
    landed = ctx.batch.land(
        response.content,
        url=redact_url(url),
        params=redact_params(params),
        status=response.status_code,
        headers=interesting_headers(response.headers),
        ext=ext,
    )
    if response.status_code >= 400:
        message = (
            f"HTTP {response.status_code} {response.reason} from {shown}"
            f"{_after_retries(response)} (body kept in {landed.path})"
        )
        if response.status_code in TRANSIENT_STATUSES:
            raise ctx.unavailable(message)
        raise ctx.error(message)
    return landed


def _after_retries(response: requests.Response) -> str:
    """' after N retries' when urllib3 retried before handing over this final answer."""
    history = getattr(getattr(response.raw, "retries", None), "history", None) or ()
    return f" after {len(history)} retries" if history else ""


def load_json(ctx: ErrorContext, landed: LandedFile) -> Any:
    """Parse a landed JSON body, telling an HTML error page or a truncated body apart."""
    body = landed.read_bytes()
    stripped = body.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not stripped:
        raise ctx.error(f"empty body from {landed.url} (kept in {landed.path})")
    if stripped[:1] == b"<":
        content_type = landed.headers.get("content-type", "unknown content-type")
        kind = "an XML document" if stripped[:5].lower() == b"<?xml" else "an HTML page"
        raise ctx.error(
            f"expected JSON but got {kind} ({content_type}) from {landed.url} "
            f"(kept in {landed.path})"
        )
    try:
        return orjson.loads(stripped)
    except orjson.JSONDecodeError as exc:
        raise ctx.error(
            f"invalid or truncated JSON from {landed.url}: {exc} (kept in {landed.path})"
        ) from None


def require_fields(
    ctx: ErrorContext, envelope: Any, fields: Mapping[str, type | tuple[type, ...]], where: str = ""
) -> None:
    """Check an envelope has each field with the expected JSON type. Extra fields are allowed
    (APIs grow); a missing field or a wrong type is an error naming the field."""
    if not isinstance(envelope, dict):
        raise ctx.error(f"expected a JSON object{where}, got {type(envelope).__name__}")
    for name, expected in fields.items():
        if name not in envelope:
            raise ctx.error(f"missing field{where}", field=name)
        if not isinstance(envelope[name], expected):
            names = expected if isinstance(expected, tuple) else (expected,)
            allowed = " or ".join(t.__name__ for t in names)
            raise ctx.error(
                f"expected {allowed}{where}, got {type(envelope[name]).__name__} "
                f"{str(envelope[name])[:80]!r}",
                field=name,
            )


def _sentinel_list() -> str:
    return ", ".join(sql_text(s) for s in MISSING_SENTINELS)


_database: duckdb.DuckDBPyConnection | None = None
_database_pid: int | None = None


def duckdb_connection() -> duckdb.DuckDBPyConnection:
    """A fresh connection (own temp tables and settings) to one in-memory database per process.

    Opening and closing a database costs ~12 ms; a capture of a year runs hundreds of parses,
    so they share one database and each takes a cursor (microseconds).
    """
    global _database, _database_pid
    if _database is None or _database_pid != os.getpid():
        _database, _database_pid = duckdb.connect(), os.getpid()
    con = _database.cursor()
    # Arrow TIMESTAMPTZ columns come out in the session zone: pin it so files are identical on
    # every machine.
    con.execute("SET TimeZone = 'UTC'")
    return con


def typed_select(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    columns: Mapping[str, str],
    *,
    source: str,
    partition: date | str | None,
    sentinel_columns: frozenset[str] = frozenset(),
    expressions: Mapping[str, str] | None = None,
    partition_column: str | None = None,
) -> pa.Table:
    """Select `columns` (name -> DuckDB type) from `relation`, casting each with TRY_CAST.

    Values in `sentinel_columns` that are a missing-value sentinel become NULL. Any other value
    that does not cast is an error naming the field and an example, never a silent NULL.
    `expressions` gives a column's source expression when it is not a same-named column.
    One scan: each column comes with a shadow column holding its text where the cast failed,
    checked in Arrow and dropped. When the relation spans several partitions, `partition_column`
    (one of `columns`) names the partition of a bad value in the error.
    """
    expressions = dict(expressions or {})
    # Three layers so each value is turned into text, trimmed and cast once: text, then the cast
    # and whether the text means "missing", then the typed value and its shadow.
    texts, casts, selects, shadows = [], [], [], {}
    for i, (name, sql_type) in enumerate(columns.items()):
        expr = expressions.get(name, f'"{name}"')
        texts.append(f'trim(CAST({expr} AS VARCHAR)) AS "_t{i}"')
        missing = f'"_t{i}" IS NULL'
        if name in sentinel_columns:
            missing += f' OR "_t{i}" IN ({_sentinel_list()})'
        casts.append(f'"_t{i}", TRY_CAST("_t{i}" AS {sql_type}) AS "_c{i}", ({missing}) AS "_m{i}"')
        selects.append(f'CASE WHEN "_m{i}" THEN NULL ELSE "_c{i}" END AS "{name}"')
        shadow = f"_bad_{i}"
        selects.append(f'CASE WHEN NOT "_m{i}" AND "_c{i}" IS NULL THEN "_t{i}" END AS "{shadow}"')
        shadows[shadow] = (name, sql_type)
    relation = f"(SELECT {', '.join(casts)} FROM (SELECT {', '.join(texts)} FROM {relation}))"
    table = con.sql(f"SELECT {', '.join(selects)} FROM {relation}").to_arrow_table()
    bad = [s for s in shadows if table.column(s).null_count < table.num_rows]
    collector = _quarantine.get()
    if bad and collector is not None:
        table = collector.take(
            table, {s: shadows[s] for s in bad}, source, partition, partition_column
        )
    for shadow, (name, sql_type) in shadows.items():
        column = table.column(shadow)
        if column.null_count < len(column):
            import pyarrow.compute as pc  # only on the error path: keeps imports light

            row = pc.index(pc.is_valid(column), True).as_py()
            example = column[row].as_py()
            where = partition
            if partition_column is not None:
                where = table.column(partition_column)[row].as_py()
            raise SourceError(
                source, where, f"value {example[:80]!r} is not a valid {sql_type}", field=name
            )
    return table.drop_columns(list(shadows))


# --- quarantine: bad values set aside instead of stopping the partition -------------------------

QUARANTINE_COLUMNS = {
    "source": pa.string(),
    "partition": pa.string(),
    "landed_file": pa.string(),
    "row_index": pa.int64(),
    "field": pa.string(),
    "value": pa.string(),
    "reason": pa.string(),
}
QUARANTINE_SCHEMA = pa.schema(QUARANTINE_COLUMNS)


class Quarantine:
    """Collects the rows `typed_select` could not type while a capture parses (see
    `quarantining`). One record per bad value: source, partition, row index (position among the
    partition's parsed rows), field, the value as text and why; the capture adds the landed file."""

    def __init__(self) -> None:
        self.parts: list[pa.Table] = []
        self.removed: list[pa.Table] = []  # the removed rows, for a parser's own row checks

    def take(
        self,
        table: pa.Table,
        bad_shadows: Mapping[str, tuple[str, str]],
        source: str,
        partition: date | str | None,
        partition_column: str | None,
    ) -> pa.Table:
        """Record every bad value of `table` and return its other rows."""
        import pyarrow.compute as pc

        if partition_column is not None:
            days = table.column(partition_column).cast(pa.string())
            labels = days.to_pandas()
            positions = pa.array(labels.groupby(labels, sort=False).cumcount(), pa.int64())
        else:
            days = pa.array(
                [None if partition is None else str(partition)] * table.num_rows, pa.string()
            )
            positions = pa.array(range(table.num_rows), pa.int64())
        any_bad = None
        for shadow, (name, sql_type) in bad_shadows.items():
            mask = pc.is_valid(table.column(shadow))
            any_bad = mask if any_bad is None else pc.or_(any_bad, mask)
            values = table.column(shadow).filter(mask)
            count = len(values)
            self.parts.append(
                pa.table(
                    {
                        "source": pa.array([source] * count, pa.string()),
                        "partition": pc.filter(days, mask),
                        "landed_file": pa.nulls(count, pa.string()),
                        "row_index": pc.filter(positions, mask),
                        "field": pa.array([name] * count, pa.string()),
                        "value": pc.utf8_slice_codeunits(values, 0, 200),
                        "reason": pa.array([f"not a valid {sql_type}"] * count, pa.string()),
                    },
                    schema=QUARANTINE_SCHEMA,
                )
            )
        self.removed.append(table.filter(any_bad))
        # Every shadow of a kept row is NULL: the check in `typed_select` passes.
        return table.filter(pc.invert(any_bad))

    def table(self) -> pa.Table:
        return pa.concat_tables(self.parts) if self.parts else QUARANTINE_SCHEMA.empty_table()


def quarantined_rows(column: str) -> pa.ChunkedArray | None:
    """`column` of the rows quarantined so far in this parse (None outside a capture), for a
    parser that checks its rows after typing (e.g. one document per landed page)."""
    collector = _quarantine.get()
    if collector is None or not collector.removed:
        return None
    return pa.chunked_array([t.column(column).combine_chunks() for t in collector.removed])


_quarantine: ContextVar[Quarantine | None] = ContextVar("city_pipeline_quarantine", default=None)


@contextlib.contextmanager
def quarantining() -> Iterator[Quarantine]:
    """While the block runs, values that do not cast are quarantined instead of raising (the
    capture decides, per partition, whether too many were)."""
    collector = Quarantine()
    token = _quarantine.set(collector)
    try:
        yield collector
    finally:
        _quarantine.reset(token)


def empty_table(columns: Mapping[str, str]) -> pa.Table:
    """A zero-row table with the DuckDB types of `columns` (an empty day is valid data)."""
    select = ", ".join(f'CAST(NULL AS {t}) AS "{n}"' for n, t in columns.items())
    return duckdb_connection().sql(f"SELECT {select} LIMIT 0").to_arrow_table()


def landed_paths(files: list[LandedFile]) -> list[str]:
    return [str(Path(f.path)) for f in files]
