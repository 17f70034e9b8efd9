"""Air4Thai (Pollution Control Department, กรมควบคุมมลพิษ): air-quality stations and hourly readings.

Two endpoints, two captures:

- Station list, `GET {base_url}/services/getNewAQI_JSON.php`: every station in the country with
  its latest AQI (`AQILast`), as `{"stations": [...]}`; `?stationID=81t` answers one bare station
  object, which is accepted too. Every number is a string and `"-1"`/`"-999"` mean missing. Only
  the city's stations are kept (configured `station_ids`, or `areaTH` containing one of
  `area_th_contains`): `raw/air4thai_stations`, one row per station per snapshot day.
- Hourly history, `GET {base_url}/forweb/getHistoryData.php?stationID=a,b&param=PM25,...&type=hr
  &sdate=D&edate=D&stime=00&etime=23`: `{"result": "OK", "error": "", "stations": [{"stationID",
  "params", "data": [{"DATETIMEDATA": "2024-02-27 00:00:00", "PM25": 30.7, ...}], "summary"}]}`.
  Values are numbers, JSON null or `"-"`; -1/-999/-9999 also mean missing: `raw/air4thai_hourly`,
  one row per station per hour (naive Asia/Bangkok wall time, as served).

The same typed SQL also reads two offline shapes of the history data found in the wild (see
`data/recordings/real-samples/`): the data flattened to CSV by pandas (`parse_history_csv`) and the
Python repr of the legacy `webV2/history/api/data.php` answer (`parse_legacy_repr`).
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from city_pipeline import lake
from city_pipeline.capture import CaptureSpec, ParseContext
from city_pipeline.settings import Air4ThaiSettings, Settings
from city_pipeline.sources.common import (
    ErrorContext,
    FetchContext,
    SourceError,
    duckdb_connection,
    empty_table,
    fetch,
    load_json,
    typed_select,
)

SOURCE = "air4thai"
STATIONS_TABLE = "air4thai_stations"
HOURLY_TABLE = "air4thai_hourly"
STATIONS_PATH = "/services/getNewAQI_JSON.php"
HISTORY_PATH = "/forweb/getHistoryData.php"
# Air4Thai's own web map asks for ~45 stations per history call; a longer list times out.
MAX_STATIONS_PER_REQUEST = 40
MAX_OBJECT_BYTES = 268_435_456
# Numeric missing-value codes (the string forms are in common.MISSING_SENTINELS).
MISSING_NUMBERS = "-1, -999, -9999"

STATIONS_COLUMNS: dict[str, str] = {
    "station_id": "VARCHAR",
    "name_th": "VARCHAR",
    "name_en": "VARCHAR",
    "area_th": "VARCHAR",
    "area_en": "VARCHAR",
    "station_type": "VARCHAR",
    "lat": "DOUBLE",
    "lon": "DOUBLE",
    "aqi_last_at": "TIMESTAMP",
    "pm25_value": "DOUBLE",
    "pm25_aqi": "INTEGER",
    "pm10_value": "DOUBLE",
    "pm10_aqi": "INTEGER",
    "o3_value": "DOUBLE",
    "o3_aqi": "INTEGER",
    "co_value": "DOUBLE",
    "co_aqi": "INTEGER",
    "no2_value": "DOUBLE",
    "no2_aqi": "INTEGER",
    "so2_value": "DOUBLE",
    "so2_aqi": "INTEGER",
    "aqi": "INTEGER",
    "aqi_param": "VARCHAR",
    "aqi_color_id": "INTEGER",
}
HOURLY_COLUMNS: dict[str, str] = {
    "station_id": "VARCHAR",
    "measured_at": "TIMESTAMP",
    "pm25": "DOUBLE",
    "pm10": "DOUBLE",
    "o3": "DOUBLE",
    "co": "DOUBLE",
    "no2": "DOUBLE",
    "so2": "DOUBLE",
    "ws": "DOUBLE",
    "wd": "DOUBLE",
    "temp": "DOUBLE",
    "rh": "DOUBLE",
}
# History payload parameter -> raw column.
HOURLY_PARAMS: dict[str, str] = {
    "PM25": "pm25",
    "PM10": "pm10",
    "O3": "o3",
    "CO": "co",
    "NO2": "no2",
    "SO2": "so2",
    "WS": "ws",
    "WD": "wd",
    "TEMP": "temp",
    "RH": "rh",
}
POLLUTANTS = ("PM25", "PM10", "O3", "CO", "NO2", "SO2")
# Station text fields kept exactly as served (nameTH has trailing spaces; curation trims).
STATION_TEXT: dict[str, str] = {
    "name_th": "nameTH",
    "name_en": "nameEN",
    "area_th": "areaTH",
    "area_en": "areaEN",
    "station_type": "stationType",
}


@dataclass(frozen=True)
class FileContext:
    """Error context for parsing a file outside a capture (contract fixtures, offline files)."""

    source: str
    partition: str

    def error(self, message: str, field: str | None = None) -> SourceError:
        return SourceError(self.source, self.partition, message, field)


def settings_of(settings: Settings) -> Air4ThaiSettings:
    return settings.config.sources.air4thai


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


# --- requests ------------------------------------------------------------------------------


def history_requests(
    station_ids: Iterable[str], params: Sequence[str], day: date
) -> list[dict[str, str]]:
    """Query parameters of the history calls for one day: every station, in sorted chunks."""
    ids = sorted({s.strip() for s in station_ids if s and s.strip()})
    chunks = [
        ids[i : i + MAX_STATIONS_PER_REQUEST] for i in range(0, len(ids), MAX_STATIONS_PER_REQUEST)
    ]
    iso = day.isoformat()
    return [
        {
            "stationID": ",".join(chunk),
            "param": ",".join(params),
            "type": "hr",
            "sdate": iso,
            "edate": iso,
            "stime": "00",
            "etime": "23",
        }
        for chunk in chunks
    ]


def city_station_ids(settings: Settings, day: date) -> list[str]:
    """The stations whose history the city needs on `day`: the configured ids plus every station
    the day's raw station list kept (an `areaTH` match finds stations opened after the config was
    written; a configured station missing from one day's list is still asked for)."""
    ids = set(settings_of(settings).station_ids)
    path = lake.raw_partition_path(settings.lake_dir, STATIONS_TABLE, day)
    if path.exists():
        column = pq.read_table(path, columns=["station_id"]).column("station_id")
        ids.update(s for s in column.to_pylist() if s)
    return sorted(ids)


def fetch_stations(ctx: FetchContext) -> None:
    fetch(ctx, settings_of(ctx.settings).base_url + STATIONS_PATH)


def fetch_hourly(ctx: FetchContext) -> None:
    cfg = settings_of(ctx.settings)
    ids = city_station_ids(ctx.settings, ctx.day)
    if not ids:
        raise ctx.error(
            "no Air4Thai station for this city: set sources.air4thai.station_ids in "
            "the city YAML or capture air4thai_stations for the day first",
            field="station_ids",
        )
    for params in history_requests(ids, cfg.params, ctx.day):
        fetch(ctx, cfg.base_url + HISTORY_PATH, params)


# --- loading landed JSON into DuckDB -------------------------------------------------------


def _load_docs(con: duckdb.DuckDBPyConnection, err: ErrorContext, files: Sequence) -> None:
    """Table `docs(file_no, filename, doc JSON)`, one row per landed file.

    DuckDB reads all files in one scan; if it cannot, `load_json` reads each file to say which one
    is an HTML page, empty or truncated (and accepts what DuckDB refuses but is valid JSON)."""
    paths = [str(f.path) for f in files]
    listed = "[" + ", ".join(_sql_text(p) for p in paths) + "]"
    try:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE docs AS SELECT CAST(row_number() OVER "
            "(ORDER BY filename) AS BIGINT) AS file_no, filename, json AS doc FROM "
            f"read_json_objects({listed}, filename=true, format='auto', "
            f"maximum_object_size={MAX_OBJECT_BYTES})"
        )
        if con.execute("SELECT count(*) FROM docs").fetchall()[0][0] == len(paths):
            return
    except duckdb.Error:
        pass
    texts = [json.dumps(load_json(err, f), ensure_ascii=False) for f in files]
    _docs_from_texts(con, paths, texts)


def _docs_from_texts(con: duckdb.DuckDBPyConnection, names: list[str], texts: list[str]) -> None:
    docs_arrow = pa.table(
        {
            "file_no": pa.array(range(1, len(names) + 1), pa.int64()),
            "filename": pa.array(names, pa.string()),
            "doc": pa.array(texts, pa.string()),
        }
    )
    con.register("docs_arrow", docs_arrow)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE docs AS "
        "SELECT file_no, filename, CAST(doc AS JSON) AS doc FROM docs_arrow"
    )
    con.unregister("docs_arrow")


def _first(con: duckdb.DuckDBPyConnection, query: str) -> tuple | None:
    rows = con.execute(query + " LIMIT 1").fetchall()
    return rows[0] if rows else None


# --- station list --------------------------------------------------------------------------


def _check_station_docs(con: duckdb.DuckDBPyConnection, err: ErrorContext) -> None:
    bad = _first(con, "SELECT filename, json_type(doc) FROM docs WHERE json_type(doc) <> 'OBJECT'")
    if bad:
        raise err.error(f"expected a JSON object in {bad[0]}, got {bad[1]}")
    bad = _first(
        con,
        "SELECT filename, json_type(doc->'stations') FROM docs "
        "WHERE (doc->'stations') IS NULL AND (doc->'stationID') IS NULL "
        "OR json_type(doc->'stations') NOT IN ('ARRAY')",
    )
    if bad:
        what = "missing" if bad[1] is None else f"expected an array, got {bad[1]}"
        raise err.error(
            f"{what} in {bad[0]} (neither a station list nor one station object)", field="stations"
        )


def _station_src(con: duckdb.DuckDBPyConnection, err: ErrorContext) -> None:
    """Table `station_src`: one row per station object, payload values as text."""
    _check_station_docs(con, err)
    con.execute("""
        CREATE OR REPLACE TEMP TABLE station_obj AS
        SELECT file_no, filename, idx, st FROM (
            SELECT file_no, filename, unnest(CAST(doc->'stations' AS JSON[])) AS st,
                   generate_subscripts(CAST(doc->'stations' AS JSON[]), 1) AS idx
            FROM docs WHERE json_type(doc->'stations') = 'ARRAY')
        UNION ALL
        SELECT file_no, filename, 1 AS idx, doc AS st FROM docs WHERE (doc->'stations') IS NULL""")
    bad = _first(
        con,
        "SELECT filename, idx, json_type(st) FROM station_obj "
        "WHERE json_type(st) <> 'OBJECT' OR (st->>'stationID') IS NULL ORDER BY 1, 2",
    )
    if bad:
        problem = "missing" if bad[2] == "OBJECT" else f"station is a {bad[2]}, not an object"
        raise err.error(f"{problem} (station #{bad[1]} in {bad[0]})", field="stationID")
    text = ", ".join(f"st->>'{src}' AS {col}" for col, src in STATION_TEXT.items())
    aqi_last = []
    for param in POLLUTANTS:
        aqi_last += [
            f"st->'AQILast'->'{param}'->>'value' AS \"AQILast.{param}.value\"",
            f"st->'AQILast'->'{param}'->>'aqi' AS \"AQILast.{param}.aqi\"",
        ]
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE station_src AS
        SELECT file_no AS _file_no, CAST(row_number() OVER (ORDER BY file_no, idx) AS BIGINT)
                   AS _row,
               st->>'stationID' AS "stationID", {text},
               st->>'lat' AS lat, st->>'long' AS long,
               st->'AQILast'->>'date' AS "AQILast.date", st->'AQILast'->>'time' AS "AQILast.time",
               {", ".join(aqi_last)},
               st->'AQILast'->'AQI'->>'aqi' AS "AQILast.AQI.aqi",
               st->'AQILast'->'AQI'->>'param' AS "AQILast.AQI.param",
               st->'AQILast'->'AQI'->>'color_id' AS "AQILast.AQI.color_id"
        FROM station_obj""")


def _keep_city_stations(
    con: duckdb.DuckDBPyConnection,
    station_ids: Sequence[str] | None,
    area_th_contains: Sequence[str] | None,
) -> None:
    """Drop other provinces' stations; `None` for both keeps every station."""
    if station_ids is None and area_th_contains is None:
        return
    keep = ["false"]
    if station_ids:
        keep.append(f'trim("stationID") IN ({", ".join(_sql_text(s) for s in station_ids)})')
    keep += [f"contains(area_th, {_sql_text(area)})" for area in area_th_contains or ()]
    con.execute(f"DELETE FROM station_src WHERE NOT coalesce({' OR '.join(keep)}, false)")


def _typed_stations(con: duckdb.DuckDBPyConnection, source: str, partition: str | None) -> pa.Table:
    """Cast the payload text (errors name the payload field) and give the contract's columns."""
    typed: dict[str, str] = {
        "_row": "BIGINT",
        "_file_no": "BIGINT",
        "stationID": "VARCHAR",
        "lat": "DOUBLE",
        "long": "DOUBLE",
        "aqi_last_at": "TIMESTAMP",
    }
    rename = {"stationID": "station_id", "lat": "lat", "long": "lon", "aqi_last_at": "aqi_last_at"}
    for param in POLLUTANTS:
        value, aqi = f"AQILast.{param}.value", f"AQILast.{param}.aqi"
        typed[value], typed[aqi] = "DOUBLE", "INTEGER"
        rename[value], rename[aqi] = f"{param.lower()}_value", f"{param.lower()}_aqi"
    typed.update(
        {
            "AQILast.AQI.aqi": "INTEGER",
            "AQILast.AQI.param": "VARCHAR",
            "AQILast.AQI.color_id": "INTEGER",
        }
    )
    rename.update(
        {
            "AQILast.AQI.aqi": "aqi",
            "AQILast.AQI.param": "aqi_param",
            "AQILast.AQI.color_id": "aqi_color_id",
        }
    )
    sentinels = frozenset(typed) - {"_row", "_file_no", "stationID", "AQILast.AQI.color_id"}
    # `AQILast.date` + `AQILast.time` are one timestamp; either one missing means no reading.
    missing = "IN ('', '-', 'N/A')"
    stamp = (
        f'CASE WHEN trim("AQILast.date") {missing} OR trim("AQILast.time") {missing} '
        'THEN NULL ELSE "AQILast.date" || \' \' || "AQILast.time" END'
    )
    table = typed_select(
        con,
        "station_src",
        typed,
        source=source,
        partition=partition,
        sentinel_columns=sentinels,
        expressions={"aqi_last_at": stamp},
    )
    con.register("station_typed", table)
    select = ", ".join(
        f'CAST({_station_expr(col, rename)} AS {sql_type}) AS "{col}"'
        for col, sql_type in STATIONS_COLUMNS.items()
    )
    # One row per station: a later fetch of the batch wins over an earlier one.
    result = con.sql(f"""
        SELECT {select} FROM (
            SELECT DISTINCT ON (t."stationID") t.*, {", ".join(f"s.{c}" for c in STATION_TEXT)}
            FROM station_typed t JOIN station_src s USING (_row)
            ORDER BY t."stationID", t._file_no DESC, t._row DESC)
        ORDER BY station_id""").to_arrow_table()
    con.unregister("station_typed")
    return result


def _station_expr(column: str, rename: dict[str, str]) -> str:
    if column in STATION_TEXT:
        return column
    source_name = next(k for k, v in rename.items() if v == column)
    return f'"{source_name}"'


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
    con = duckdb_connection()
    _load_docs(con, err, files)
    _station_src(con, err)
    _keep_city_stations(con, station_ids, area_th_contains)
    return _typed_stations(con, source, partition)


def parse_stations(ctx: ParseContext) -> dict[str, pa.Table]:
    cfg = settings_of(ctx.settings)
    if not ctx.files:
        raise ctx.error("no response was landed for this partition")
    table = parse_station_files(
        ctx.files,
        ctx,
        source=ctx.source,
        partition=ctx.day.isoformat(),
        station_ids=cfg.station_ids,
        area_th_contains=cfg.area_th_contains,
    )
    return {STATIONS_TABLE: table}


# --- hourly history ------------------------------------------------------------------------


def _check_history_docs(con: duckdb.DuckDBPyConnection, err: ErrorContext) -> None:
    bad = _first(con, "SELECT filename, json_type(doc) FROM docs WHERE json_type(doc) <> 'OBJECT'")
    if bad:
        raise err.error(f"expected a JSON object in {bad[0]}, got {bad[1]}")
    # `result` is checked when present: an answer without it is judged by its `stations`.
    bad = _first(
        con,
        "SELECT filename, doc->>'result', doc->>'error' FROM docs "
        "WHERE (doc->'result') IS NOT NULL AND coalesce(doc->>'result', '') <> 'OK'",
    )
    if bad:
        raise err.error(
            f"Air4Thai answered result={bad[1]!r}, error={bad[2]!r} ({bad[0]})", field="result"
        )
    bad = _first(
        con,
        "SELECT filename, json_type(doc->'stations') FROM docs "
        "WHERE coalesce(json_type(doc->'stations'), '') <> 'ARRAY'",
    )
    if bad:
        what = "missing" if bad[1] is None else f"expected an array, got {bad[1]}"
        raise err.error(f"{what} in {bad[0]}", field="stations")


def _history_src(con: duckdb.DuckDBPyConnection, err: ErrorContext) -> None:
    """Table `history_src`: one row per station-hour, payload values as text."""
    _check_history_docs(con, err)
    con.execute("""
        CREATE OR REPLACE TEMP TABLE history_station AS
        SELECT file_no, filename, unnest(CAST(doc->'stations' AS JSON[])) AS st,
               generate_subscripts(CAST(doc->'stations' AS JSON[]), 1) AS idx
        FROM docs""")
    bad = _first(
        con,
        "SELECT filename, idx, json_type(st) FROM history_station "
        "WHERE json_type(st) <> 'OBJECT' OR (st->>'stationID') IS NULL ORDER BY 1, 2",
    )
    if bad:
        problem = "missing" if bad[2] == "OBJECT" else f"station is a {bad[2]}, not an object"
        raise err.error(f"{problem} (stations[{bad[1] - 1}] in {bad[0]})", field="stationID")
    bad = _first(
        con,
        "SELECT filename, st->>'stationID', json_type(st->'data') "
        "FROM history_station WHERE coalesce(json_type(st->'data'), '') <> 'ARRAY' ORDER BY 1, idx",
    )
    if bad:
        what = "missing" if bad[2] is None else f"expected an array, got {bad[2]}"
        raise err.error(f"{what} for station {bad[1]} in {bad[0]}", field="data")
    values = ", ".join(f"d->>'{p}' AS \"{p}\"" for p in HOURLY_PARAMS)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE history_src AS
        SELECT file_no AS _file_no, filename, st->>'stationID' AS "stationID",
               json_type(d) AS _type, d->>'DATETIMEDATA' AS "DATETIMEDATA", {values}
        FROM (SELECT file_no, filename, st, unnest(CAST(st->'data' AS JSON[])) AS d
              FROM history_station)""")
    bad = _first(
        con,
        'SELECT filename, "stationID", _type FROM history_src '
        "WHERE _type <> 'OBJECT' OR \"DATETIMEDATA\" IS NULL",
    )
    if bad:
        what = "missing" if bad[2] == "OBJECT" else f"a data row is a {bad[2]}, not an object"
        raise err.error(f"{what} (station {bad[1]} in {bad[0]})", field="DATETIMEDATA")


def _typed_hourly(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    source: str,
    partition: str | None,
    day: date | None = None,
) -> pa.Table:
    """Cast `relation` (stationID, DATETIMEDATA, one text column per parameter, _file_no) to the
    contract; errors name the payload field (`PM25`, `DATETIMEDATA`)."""
    typed = {
        "_file_no": "BIGINT",
        "stationID": "VARCHAR",
        "DATETIMEDATA": "TIMESTAMP",
        **{p: "DOUBLE" for p in HOURLY_PARAMS},
    }
    # A JSON number -999 arrives as text "-999" or "-999.0": both are missing.
    numeric_missing = {
        p: f'CASE WHEN TRY_CAST("{p}" AS DOUBLE) IN ({MISSING_NUMBERS}) THEN NULL ELSE "{p}" END'
        for p in HOURLY_PARAMS
    }
    table = typed_select(
        con,
        relation,
        typed,
        source=source,
        partition=partition,
        sentinel_columns=frozenset(HOURLY_PARAMS),
        expressions=numeric_missing,
    )
    con.register("hourly_typed", table)
    where = f"WHERE CAST(measured_at AS DATE) = DATE '{day.isoformat()}'" if day else ""
    values = ", ".join(f'CAST("{p}" AS DOUBLE) AS {c}' for p, c in HOURLY_PARAMS.items())
    order_values = ", ".join(f"{c} NULLS LAST" for c in HOURLY_PARAMS.values())
    filled = " + ".join(f"CAST({c} IS NOT NULL AS INTEGER)" for c in HOURLY_PARAMS.values())
    # One row per station-hour: a later file of the batch wins, then the fuller row.
    result = con.sql(f"""
        SELECT {", ".join(HOURLY_COLUMNS)} FROM (
            SELECT DISTINCT ON (station_id, measured_at) * FROM (
                SELECT CAST("stationID" AS VARCHAR) AS station_id,
                       CAST("DATETIMEDATA" AS TIMESTAMP) AS measured_at, {values}, _file_no
                FROM hourly_typed) {where}
            ORDER BY station_id, measured_at, _file_no DESC, ({filled}) DESC, {order_values})
        ORDER BY station_id, measured_at""").to_arrow_table()
    con.unregister("hourly_typed")
    return result


def parse_history_files(
    files: Sequence,
    err: ErrorContext,
    *,
    source: str,
    partition: str | None,
    day: date | None = None,
) -> pa.Table:
    """History responses -> `air4thai_hourly` rows; with `day`, only that day's hours are kept
    (the day's partition; other days belong to their own partitions)."""
    if not files:
        return empty_table(HOURLY_COLUMNS)
    con = duckdb_connection()
    _load_docs(con, err, files)
    _history_src(con, err)
    return _typed_hourly(con, "history_src", source, partition, day)


def parse_hourly(ctx: ParseContext) -> dict[str, pa.Table]:
    if not ctx.files:
        raise ctx.error("no response was landed for this partition")
    table = parse_history_files(
        ctx.files, ctx, source=ctx.source, partition=ctx.day.isoformat(), day=ctx.day
    )
    return {HOURLY_TABLE: table}


def parse_history_csv(path: Path | str) -> pa.Table:
    """History `data[]` rows flattened to CSV by pandas (one `stationID` column, JSON nulls as
    empty cells) -> `air4thai_hourly` rows. Parameters absent from the file are NULL."""
    path = Path(path)
    err = FileContext(HOURLY_TABLE, path.name)
    con = duckdb_connection()
    con.execute(
        "CREATE TEMP TABLE csv_src AS SELECT * FROM read_csv(?, all_varchar=true, header=true)",
        [str(path)],
    )
    columns = {row[0] for row in con.execute("DESCRIBE csv_src").fetchall()}
    for required in ("DATETIMEDATA", "stationID"):
        if required not in columns:
            raise err.error(f"missing column in {path.name}", field=required)
    values = ", ".join(
        f'"{p}"' if p in columns else f'CAST(NULL AS VARCHAR) AS "{p}"' for p in HOURLY_PARAMS
    )
    con.execute(f"""CREATE TEMP TABLE history_src AS SELECT CAST(1 AS BIGINT) AS _file_no,
                    "stationID", "DATETIMEDATA", {values} FROM csv_src""")
    if _first(con, 'SELECT 1 FROM history_src WHERE "DATETIMEDATA" IS NULL'):
        raise err.error(f"empty in {path.name}", field="DATETIMEDATA")
    return _typed_hourly(con, "history_src", err.source, err.partition)


def parse_legacy_repr(path: Path | str) -> pa.Table:
    """The legacy `webV2/history/api/data.php` answer saved as a Python repr (`print(json)`)
    -> `air4thai_hourly` rows, through the same checks as a JSON answer."""
    path = Path(path)
    err = FileContext(HOURLY_TABLE, path.name)
    try:
        payload = ast.literal_eval(path.read_text(encoding="utf-8"))
    except (ValueError, SyntaxError) as exc:
        raise err.error(f"{path.name} is not a Python literal: {exc}") from None
    con = duckdb_connection()
    _docs_from_texts(con, [path.name], [json.dumps(payload, ensure_ascii=False)])
    _history_src(con, err)
    return _typed_hourly(con, "history_src", err.source, err.partition)


STATIONS_CAPTURE = CaptureSpec(
    name=STATIONS_TABLE,
    source=SOURCE,
    tables=(STATIONS_TABLE,),
    fetch=fetch_stations,
    parse=parse_stations,
    sort_keys={STATIONS_TABLE: ("station_id",)},
    description="สถานีตรวจวัดคุณภาพอากาศ (Air4Thai) · Air4Thai station list with each station's "
    "latest AQI (the city's stations).",
)

HOURLY_CAPTURE = CaptureSpec(
    name=HOURLY_TABLE,
    source=SOURCE,
    tables=(HOURLY_TABLE,),
    fetch=fetch_hourly,
    parse=parse_hourly,
    sort_keys={HOURLY_TABLE: ("station_id", "measured_at")},
    depends_on=(STATIONS_TABLE,),
    description="คุณภาพอากาศรายชั่วโมง (Air4Thai) · Air4Thai hourly PM2.5, PM10, O3, CO, NO2, SO2 "
    "and weather at the city's stations.",
)


def captures(settings: Settings) -> list[CaptureSpec]:
    return [STATIONS_CAPTURE, HOURLY_CAPTURE]
