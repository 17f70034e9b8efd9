"""Station-list answers -> raw/air4thai_stations: the city's stations of each snapshot, typed in
one DuckDB query for a window of partitions; configured stations the list no longer has are a
warning."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import date

import duckdb
import pyarrow as pa

from city_pipeline.capture import ParseContext
from city_pipeline.sources.air4thai.client import settings_of
from city_pipeline.sources.air4thai.contract import (
    POLLUTANTS,
    STATION_TEXT,
    STATIONS_COLUMNS,
    STATIONS_TABLE,
)
from city_pipeline.sources.common import (
    ErrorContext,
    empty_table,
    typed_select,
)
from city_pipeline.sources.window_parse import (
    Part,
    cursor,
    fail,
    json_type_at,
    load_json_docs,
    parts_of,
    split,
)
from city_pipeline.sql import sql_text

logger = logging.getLogger(__name__)


# Raw column -> the station object's field it is typed from (`station_id` ... `aqi_color_id`;
# the STATION_TEXT columns are kept as served instead). Errors name the payload field.
STATION_FIELDS: dict[str, str] = {
    "station_id": "stationID",
    "lat": "lat",
    "lon": "long",
    "aqi_last_at": "aqi_last_at",  # `AQILast.date` + `AQILast.time`, see _typed_stations
    **{
        f"{param.lower()}_{kind}": f"AQILast.{param}.{kind}"
        for param in POLLUTANTS
        for kind in ("value", "aqi")
    },
    "aqi": "AQILast.AQI.aqi",
    "aqi_param": "AQILast.AQI.param",
    "aqi_color_id": "AQILast.AQI.color_id",
}


# Fields whose missing-value sentinels become NULL (an id or a colour code is never "-1").
STATION_SENTINEL_FIELDS = frozenset(STATION_FIELDS.values()) - {"stationID", "AQILast.AQI.color_id"}


# One station object as the parse reads it: every value as text (kept as served).
STATION_SHAPE: dict = {
    "stationID": "VARCHAR",
    **dict.fromkeys(STATION_TEXT.values(), "VARCHAR"),
    "lat": "VARCHAR",
    "long": "VARCHAR",
    "AQILast": {
        "date": "VARCHAR",
        "time": "VARCHAR",
        **{param: {"value": "VARCHAR", "aqi": "VARCHAR"} for param in POLLUTANTS},
        "AQI": {"aqi": "VARCHAR", "param": "VARCHAR", "color_id": "VARCHAR"},
    },
}


# A station-list answer, one parse per file: an envelope's `stations`, or the fields of one bare
# station object (`?stationID=`); other keys are ignored. `types` holds the JSON types the
# checks need (a part of the wrong type comes out NULL).
STATION_DOC = (
    "json_transform(doc, "
    + sql_text(json.dumps({"stations": [STATION_SHAPE], **STATION_SHAPE}))
    + ") AS h, json_type(doc, ['$', '$.stations', '$.stationID']) AS types"
)


def _station_src(
    con: duckdb.DuckDBPyConnection,
    station_ids: Sequence[str] | None,
    area_th_contains: Sequence[str] | None,
) -> None:
    """Table `station_src`: one row per station object of every answer in `station_doc` (struct
    `st`), `_keep` marking the city's stations; `None` for both filters keeps every station."""
    keep = ["false"]
    if station_ids:
        keep.append(f"trim(st.stationID) IN ({', '.join(sql_text(s) for s in station_ids)})")
    keep += [f"contains(st.areaTH, {sql_text(area)})" for area in area_th_contains or ()]
    if station_ids is None and area_th_contains is None:
        keep = ["true"]
    bare = "{" + ", ".join(f"'{key}': h.\"{key}\"" for key in STATION_SHAPE) + "}"
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE station_src AS
        SELECT batch_no AS _batch, file_no AS _file_no, part AS _part, filename, idx, _listed,
               CAST(row_number() OVER (ORDER BY file_no, idx) AS BIGINT) AS _row,
               coalesce({" OR ".join(keep)}, false) AS _keep, st
        FROM (
            SELECT *, true AS _listed, unnest(h.stations) AS st,
                   generate_subscripts(h.stations, 1) AS idx
            FROM station_doc WHERE types[2] = 'ARRAY'
            UNION ALL BY NAME
            SELECT *, false AS _listed, {bare} AS st, 1 AS idx
            FROM station_doc WHERE types[2] IS NULL)""")


def _check_stations(con: duckdb.DuckDBPyConnection, parts: Sequence[Part]) -> None:
    """Every file a JSON object holding a station list (or one station), every station an object
    with a `stationID`: the first problem of the earliest partition is the error."""
    bad = con.execute("""
        SELECT batch_no, level, file_no, filename, detail, idx, _listed FROM (
            SELECT batch_no, 1 AS level, file_no, 0 AS idx, filename, types[1] AS detail,
                   false AS _listed
            FROM station_doc WHERE types[1] <> 'OBJECT'
            UNION ALL
            SELECT batch_no, 2, file_no, 0, filename, types[2], false FROM station_doc
            WHERE types[1] = 'OBJECT'
                  AND (types[2] IS NULL AND types[3] IS NULL OR types[2] <> 'ARRAY')
            UNION ALL  -- a station that is no object has no stationID either
            SELECT _batch, 3, _file_no, idx, filename, NULL, _listed FROM station_src
            WHERE st.stationID IS NULL)
        ORDER BY batch_no, level, file_no, idx LIMIT 1""").fetchall()
    if not bad:
        return
    [(batch_no, level, file_no, filename, detail, idx, listed)] = bad
    if level == 1:
        fail(parts, batch_no, f"expected a JSON object in {filename}, got {detail}")
    if level == 2:
        what = "missing" if detail is None else f"expected an array, got {detail}"
        fail(
            parts,
            batch_no,
            f"{what} in {filename} (neither a station list nor one station object)",
            field="stations",
        )
    kind = json_type_at(parts, file_no, *(("stations", idx - 1) if listed else ()))
    problem = "missing" if kind == "OBJECT" else f"station is a {kind}, not an object"
    fail(parts, batch_no, f"{problem} (station #{idx} in {filename})", field="stationID")


def _typed_stations(con: duckdb.DuckDBPyConnection, source: str) -> pa.Table:
    """The kept stations cast to the contract (errors name the payload field and partition), one
    row per station and partition: a later fetch of the batch wins over an earlier one."""
    fields = {f: _struct_path(f) for f in STATION_FIELDS.values() if f != "aqi_last_at"}
    # `AQILast.date` + `AQILast.time` are one timestamp; either one missing means no reading.
    missing = "IN ('', '-', 'N/A')"
    date_, time_ = _struct_path("AQILast.date"), _struct_path("AQILast.time")
    fields["aqi_last_at"] = (
        f"CASE WHEN trim({date_}) {missing} OR trim({time_}) {missing} "
        f"THEN NULL ELSE {date_} || ' ' || {time_} END"
    )
    extracted = ", ".join(f'{expr} AS "{name}"' for name, expr in fields.items())
    typed = typed_select(
        con,
        f"(SELECT _row, _file_no, _part, {extracted} FROM station_src WHERE _keep)",
        {
            "_row": "BIGINT",
            "_file_no": "BIGINT",
            "_part": "VARCHAR",
            **{field: STATIONS_COLUMNS[col] for col, field in STATION_FIELDS.items()},
        },
        source=source,
        partition=None,
        partition_column="_part",
        sentinel_columns=STATION_SENTINEL_FIELDS,
    )
    con.register("station_typed", typed)
    columns = ", ".join(
        f'CAST({_station_column(col)} AS {sql_type}) AS "{col}"'
        for col, sql_type in STATIONS_COLUMNS.items()
    )
    return con.sql(f"""
        SELECT {columns}, s._batch FROM station_typed t JOIN station_src s USING (_row)
        QUALIFY row_number() OVER (
            PARTITION BY s._batch, t."stationID" ORDER BY t._file_no DESC, t._row DESC) = 1
        ORDER BY s._batch, station_id""").to_arrow_table()


def _struct_path(field: str) -> str:
    """`AQILast.PM25.value` -> `st."AQILast"."PM25"."value"` (a field of the station struct)."""
    return "st." + ".".join(f'"{key}"' for key in field.split("."))


def _station_column(column: str) -> str:
    """A raw column's value: payload text kept as served, or the typed payload field."""
    if column in STATION_TEXT:
        return f's.st."{STATION_TEXT[column]}"'
    return f't."{STATION_FIELDS[column]}"'


def _parse_station_parts(
    parts: Sequence[Part],
    source: str,
    station_ids: Sequence[str] | None,
    area_th_contains: Sequence[str] | None,
) -> pa.Table:
    """Station-list responses of one or more partitions -> `air4thai_stations` rows + `_batch`."""
    with cursor() as con:
        load_json_docs(con, parts, STATION_DOC, "station_doc")
        _station_src(con, station_ids, area_th_contains)
        _check_stations(con, parts)
        return _typed_stations(con, source)


def parse_station_files(
    files: Sequence,
    err: ErrorContext,
    *,
    source: str,
    partition: str | None,
    station_ids: Sequence[str] | None = None,
    area_th_contains: Sequence[str] | None = None,
) -> pa.Table:
    """Station-list responses (envelope or bare station object) -> `air4thai_stations` rows."""
    if not files:
        return empty_table(STATIONS_COLUMNS)
    part = Part(err, partition, None, files)
    table = _parse_station_parts([part], source, station_ids, area_th_contains)
    return table.drop_columns(["_batch"])


def parse_station_window(contexts: Sequence[ParseContext]) -> dict[date, dict[str, pa.Table]]:
    """The station lists of many partitions in one go, each kept to the city's stations."""
    cfg = settings_of(contexts[0].settings)
    parts = parts_of(contexts)
    table = _parse_station_parts(parts, contexts[0].source, cfg.station_ids, cfg.area_th_contains)
    return {day: {STATIONS_TABLE: rows} for day, rows in split(table, parts).items()}


def parse_stations(ctx: ParseContext) -> dict[str, pa.Table]:
    return parse_station_window([ctx])[ctx.day]


def missing_stations(ctx: ParseContext, tables: dict[str, pa.Table]) -> dict[str, list[str]]:
    """Configured `station_ids` the day's station list lacks (closed, renamed, or a typo). Not a
    failure: the history is still asked for them, and the city's other stations are captured.
    The parsed table keeps every configured id the list holds, so the rest is what is missing."""
    configured = {s.strip() for s in settings_of(ctx.settings).station_ids if s.strip()}
    listed = {s.strip() for s in tables[STATIONS_TABLE].column("station_id").to_pylist() if s}
    missing = sorted(configured - listed)
    if missing:
        logger.warning(
            "%s %s: configured station ids missing from the Air4Thai station list: %s "
            "(check sources.air4thai.station_ids in %s)",
            ctx.source,
            ctx.day,
            ", ".join(missing),
            ctx.settings.config_file,
        )
    return {"missing_stations": missing}
