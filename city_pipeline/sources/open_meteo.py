"""Open-Meteo historical weather (archive API) at the city centre.

Request: `GET {base_url}/v1/archive?latitude=..&longitude=..&start_date=D&end_date=D
&hourly=..&daily=..&timezone=Asia/Bangkok`. The answer holds column arrays (`hourly.time`,
`hourly.temperature_2m`, ...) in local time, with `utc_offset_seconds`. One response feeds two
raw tables:
`raw/open_meteo_hourly` and `raw/open_meteo_daily`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import duckdb
import pyarrow as pa

from city_pipeline.capture import CaptureSpec, ParseContext
from city_pipeline.settings import OpenMeteoSettings
from city_pipeline.sources.common import FetchContext, empty_table, fetch
from city_pipeline.sources.window_parse import (
    Part,
    cursor,
    fail,
    load_json_docs,
    parts_of,
    split,
)
from city_pipeline.sql import sql_list, sql_text

SOURCE = "open_meteo"
HOURLY_TABLE = "open_meteo_hourly"
DAILY_TABLE = "open_meteo_daily"
ARCHIVE_PATH = "/v1/archive"
META_COLUMNS = {
    "latitude": "DOUBLE",
    "longitude": "DOUBLE",
    "utc_offset_seconds": "INTEGER",
    "timezone": "VARCHAR",
}


def settings_of(ctx: FetchContext | ParseContext) -> OpenMeteoSettings:
    return ctx.settings.config.sources.open_meteo


def request_params(
    settings: OpenMeteoSettings, lat: float, lon: float, timezone: str, start: str, end: str
) -> dict[str, str]:
    return {
        "latitude": f"{lat:.4f}",
        "longitude": f"{lon:.4f}",
        "start_date": start,
        "end_date": end,
        "hourly": ",".join(settings.hourly),
        "daily": ",".join(settings.daily),
        "timezone": timezone,
    }


def fetch_day(ctx: FetchContext) -> None:
    city = ctx.settings.city
    day = ctx.day.isoformat()
    params = request_params(
        settings_of(ctx), city.centre.lat, city.centre.lon, city.timezone, day, day
    )
    fetch(ctx, settings_of(ctx).base_url + ARCHIVE_PATH, params)


# Envelope fields the rows carry: the JSON types `json_type` may give them, and how to say so.
META_TYPES: dict[str, tuple[tuple[str, ...], str]] = {
    "latitude": (("BIGINT", "UBIGINT", "DOUBLE"), "a number"),
    "longitude": (("BIGINT", "UBIGINT", "DOUBLE"), "a number"),
    "utc_offset_seconds": (("BIGINT", "UBIGINT"), "an integer"),
    "timezone": (("VARCHAR",), "a string"),
}
NUMBER_OR_NULL = "('BIGINT', 'UBIGINT', 'DOUBLE', 'NULL')"


@dataclass(frozen=True)
class Block:
    """One column-array block of the answer (`hourly` or `daily`) and the variables asked for."""

    name: str
    table: str
    key: str  # its time column in raw
    key_type: str
    variables: tuple[str, ...]

    def fields(self) -> list[str]:
        return [f"{self.name}.time", *(f"{self.name}.{v}" for v in self.variables)]


def _blocks(
    om: OpenMeteoSettings, hourly: list[str] | None, daily: list[str] | None
) -> list[Block]:
    return [
        Block(
            "hourly",
            HOURLY_TABLE,
            "time_local",
            "TIMESTAMP",
            tuple(om.hourly if hourly is None else hourly),
        ),
        Block("daily", DAILY_TABLE, "date", "DATE", tuple(om.daily if daily is None else daily)),
    ]


def _fields(blocks: list[Block]) -> list[str]:
    """The answer's fields the checks look at, in the order they are judged."""
    return [*META_TYPES, *(f for b in blocks if b.variables for f in b.fields())]


def _doc_columns(blocks: list[Block]) -> str:
    """Each answer parsed once: the envelope and the requested arrays (numbers kept as JSON so
    a number in a string is caught), plus the JSON type of every checked field (`types`)."""
    shape = {
        **dict.fromkeys(META_TYPES, "JSON"),
        **{
            b.name: {"time": "VARCHAR[]", **dict.fromkeys(b.variables, "JSON[]")}
            for b in blocks
            if b.variables
        },
    }
    paths = ["$", *(f"$.{field}" for field in _fields(blocks))]
    return (
        f"json_transform(doc, {sql_text(json.dumps(shape))}) AS h, "
        f"json_type(doc, {sql_list(paths)}) AS types"
    )


def _checks(blocks: list[Block]) -> list[tuple[str | None, str]]:
    """(field, SQL giving the problem's message or NULL) per check, in the order they are judged;
    `types[1]` is the answer's JSON type, then one per field of `_fields`."""
    at = {field: n for n, field in enumerate(_fields(blocks), start=2)}
    checks: list[tuple[str | None, str]] = [
        (None, "CASE WHEN types[1] <> 'OBJECT' THEN 'expected a JSON object, got ' || types[1] END")
    ]
    for name, (allowed, what) in META_TYPES.items():
        checks.append((name, _meta_check(name, at[name], allowed, what)))
    for block in (b for b in blocks if b.variables):
        time_at = at[f"{block.name}.time"]
        checks.append((f"{block.name}.time", _time_check(block, time_at)))
        for variable in block.variables:
            field = f"{block.name}.{variable}"
            checks.append((field, _series_check(block, variable, at[field], time_at)))
    return checks


def _meta_check(name: str, at: int, allowed: tuple[str, ...], what: str) -> str:
    listed = ", ".join(f"'{t}'" for t in allowed)
    return (
        f"CASE WHEN types[{at}] IS NULL THEN 'missing field' "
        f"WHEN types[{at}] NOT IN ({listed}) THEN 'expected {what}, got ' || types[{at}] "
        f"|| ' ' || left(CAST(h.{name} AS VARCHAR), 80) END"
    )


def _time_check(block: Block, at: int) -> str:
    bad = f"list_filter(h.{block.name}.time, lambda t: TRY_CAST(t AS {block.key_type}) IS NULL)"
    return (
        f"CASE WHEN types[{at}] IS DISTINCT FROM 'ARRAY' THEN 'missing or not an array' "
        f"WHEN len({bad}) > 0 THEN 'expected ISO 8601 times, got ' || {bad}[1] END"
    )


def _series_check(block: Block, variable: str, at: int, time_at: int) -> str:
    """A requested variable: an array as long as `time`, of numbers or null."""
    values, times = f'h.{block.name}."{variable}"', f"h.{block.name}.time"
    wrong = f"list_filter({values}, lambda v: json_type(v) NOT IN {NUMBER_OR_NULL})"
    return (
        f"CASE WHEN types[{at}] IS DISTINCT FROM 'ARRAY' "
        "THEN 'requested variable missing from the response' "
        f"WHEN types[{time_at}] = 'ARRAY' AND len({values}) <> len({times}) "
        f"THEN 'has ' || len({values}) || ' values for ' || len({times}) || ' timestamps' "
        f"WHEN len({wrong}) > 0 "
        f"THEN 'expected numbers or null, got ' || CAST({wrong}[1] AS VARCHAR) END"
    )


def _check(con: duckdb.DuckDBPyConnection, parts: list[Part], blocks: list[Block]) -> None:
    """Every answer's envelope and requested arrays as the contract says; the first problem of the
    earliest partition is the error, naming the field."""
    checks = _checks(blocks)
    bad = con.execute(f"""
        SELECT batch_no, ord, filename, problem FROM (
            SELECT batch_no, file_no, filename, unnest(range({len(checks)})) AS ord,
                   unnest([{", ".join(sql for _, sql in checks)}]) AS problem
            FROM om_doc)
        WHERE problem IS NOT NULL ORDER BY batch_no, file_no, ord LIMIT 1""").fetchall()
    if bad:
        [(batch_no, ord_, filename, problem)] = bad
        fail(parts, batch_no, f"{problem} (in {filename})", checks[ord_][0])


def _block_rows(con: duckdb.DuckDBPyConnection, block: Block) -> pa.Table:
    """A block's rows of every answer, one per time and partition (a later answer of the batch
    wins), with the envelope's fields and `_batch`."""
    if not block.variables:  # not requested: no rows, the contract's columns
        return empty_table({block.key: block.key_type, **META_COLUMNS, "_batch": "INTEGER"})
    values = ", ".join(
        f'unnest(CAST(h.{block.name}."{v}" AS DOUBLE[])) AS "{v}"' for v in block.variables
    )
    meta = ", ".join(
        f"CAST(h.{name} AS {sql_type}) AS {name}"
        if sql_type != "VARCHAR"
        else f"h.{name}->>'$' AS {name}"
        for name, sql_type in META_COLUMNS.items()
    )
    return con.sql(f"""
        SELECT * EXCLUDE (_file_no) FROM (
            SELECT CAST(unnest(h.{block.name}.time) AS {block.key_type}) AS {block.key}, {values},
                   {meta}, batch_no AS _batch, file_no AS _file_no
            FROM om_doc)
        QUALIFY row_number() OVER (PARTITION BY _batch, {block.key} ORDER BY _file_no DESC) = 1
        ORDER BY _batch, {block.key}""").to_arrow_table()


def _parse_parts(parts: list[Part], blocks: list[Block]) -> dict[str, pa.Table]:
    """Archive answers of one or more partitions -> hourly and daily rows with `_batch`."""
    with cursor() as con:
        load_json_docs(con, parts, _doc_columns(blocks), "om_doc")
        _check(con, parts, blocks)
        return {block.table: _block_rows(con, block) for block in blocks}


def parse_window(
    contexts: Sequence[ParseContext],
    hourly: list[str] | None = None,
    daily: list[str] | None = None,
) -> dict[date, dict[str, pa.Table]]:
    """Landed archive answers of many partitions -> each day's hourly and daily tables (DuckDB
    unnests the arrays); `hourly`/`daily` override the configured variables."""
    parts = parts_of(contexts)
    blocks = _blocks(contexts[0].settings.config.sources.open_meteo, hourly, daily)
    tables = _parse_parts(parts, blocks)
    by_table = {name: split(table, parts) for name, table in tables.items()}
    return {ctx.day: {name: days[ctx.day] for name, days in by_table.items()} for ctx in contexts}


def parse_batch(
    ctx: ParseContext, hourly: list[str] | None = None, daily: list[str] | None = None
) -> dict[str, pa.Table]:
    """One partition's landed archive answers -> hourly and daily Arrow tables."""
    return parse_window([ctx], hourly, daily)[ctx.day]


def parse(ctx: ParseContext) -> dict[str, pa.Table]:
    return parse_batch(ctx)


CAPTURE = CaptureSpec(
    name=SOURCE,
    source=SOURCE,
    tables=(HOURLY_TABLE, DAILY_TABLE),
    fetch=fetch_day,
    parse=parse,
    parse_window=parse_window,
    sort_keys={HOURLY_TABLE: ("time_local",), DAILY_TABLE: ("date",)},
    description="ข้อมูลสภาพอากาศ (Open-Meteo) · Open-Meteo archive weather at the city centre "
    "(hourly and daily, Asia/Bangkok).",
)


def captures(settings) -> list[CaptureSpec]:
    return [CAPTURE]
