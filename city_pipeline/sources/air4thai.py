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
import logging
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
    OfflineContext,
    empty_table,
    fetch,
    typed_select,
)
from city_pipeline.sources.window import (
    Part,
    cursor,
    docs_from_texts,
    fail,
    json_type_at,
    load_json_docs,
    parts_of,
    register_files,
    split,
)
from city_pipeline.sql import sql_text

logger = logging.getLogger(__name__)

SOURCE = "air4thai"
STATIONS_TABLE = "air4thai_stations"
HOURLY_TABLE = "air4thai_hourly"
STATIONS_PATH = "/services/getNewAQI_JSON.php"
HISTORY_PATH = "/forweb/getHistoryData.php"
# Air4Thai's own web map asks for ~45 stations per history call; a longer list times out.
MAX_STATIONS_PER_REQUEST = 40
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


def settings_of(settings: Settings) -> Air4ThaiSettings:
    return settings.config.sources.air4thai


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


# --- station list --------------------------------------------------------------------------

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


# --- hourly history ------------------------------------------------------------------------


# A history answer as the parse reads it (one parse per file): values as text (30.5, "-" and
# -999 alike; JSON null is NULL), other keys ignored (APIs grow). A part of the wrong JSON type
# comes out NULL and `_check_history` names it; `types` holds the JSON types it needs.
HISTORY_DOC = (
    "json_transform(doc, "
    + sql_text(
        json.dumps(
            {
                "result": "VARCHAR",
                "error": "VARCHAR",
                "stations": [
                    {
                        "stationID": "VARCHAR",
                        "data": [
                            {"DATETIMEDATA": "VARCHAR"} | dict.fromkeys(HOURLY_PARAMS, "VARCHAR")
                        ],
                    }
                ],
            }
        )
    )
    + ") AS h, json_type(doc, ['$', '$.result', '$.stations']) AS types"
)


def _history_src(con: duckdb.DuckDBPyConnection) -> None:
    """Tables `history_station` (one row per station of every answer in `history_doc`) and
    `history_src` (per station-hour, payload values as text)."""
    con.execute("""
        CREATE OR REPLACE TEMP TABLE history_station AS
        SELECT batch_no, file_no, part, day, filename, unnest(h.stations) AS s,
               generate_subscripts(h.stations, 1) AS idx
        FROM history_doc""")
    values = ", ".join(f'd."{p}" AS "{p}"' for p in HOURLY_PARAMS)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE history_src AS
        SELECT batch_no AS _batch, file_no AS _file_no, part AS _part, day AS _day, filename,
               idx, pos, s.stationID AS "stationID", d.DATETIMEDATA AS "DATETIMEDATA", {values}
        FROM (SELECT *, unnest(s.data) AS d, generate_subscripts(s.data, 1) AS pos
              FROM history_station)""")


def _check_history(con: duckdb.DuckDBPyConnection, parts: Sequence[Part]) -> None:
    """Envelope, stations and data rows as the contract says: the first problem of the earliest
    partition is the error, naming the field."""
    bad = con.execute("""
        SELECT batch_no, level, file_no, filename, idx, pos, a, b FROM (
            SELECT batch_no, 1 AS level, file_no, filename, 0 AS idx, 0 AS pos,
                   types[1] AS a, NULL AS b
            FROM history_doc WHERE types[1] <> 'OBJECT'
            UNION ALL  -- `result` is checked when present; without it, `stations` is judged
            SELECT batch_no, 2, file_no, filename, 0, 0, h.result, h.error FROM history_doc
            WHERE types[2] IS NOT NULL AND coalesce(h.result, '') <> 'OK'
            UNION ALL
            SELECT batch_no, 3, file_no, filename, 0, 0, types[3], NULL FROM history_doc
            WHERE coalesce(types[3], '') <> 'ARRAY'
            UNION ALL  -- a station that is no object has no stationID either
            SELECT batch_no, 4, file_no, filename, idx, 0, NULL, NULL FROM history_station
            WHERE s.stationID IS NULL
            UNION ALL
            SELECT batch_no, 5, file_no, filename, idx, 0, s.stationID, NULL
            FROM history_station WHERE s.data IS NULL
            UNION ALL
            SELECT _batch, 6, _file_no, filename, idx, pos, "stationID", NULL FROM history_src
            WHERE "DATETIMEDATA" IS NULL)
        ORDER BY batch_no, level, file_no, idx, pos LIMIT 1""").fetchall()
    if bad:
        [(batch_no, level, file_no, filename, idx, pos, a, b)] = bad
        message, field = _history_problem(parts, level, file_no, filename, (idx, pos), a, b)
        fail(parts, batch_no, message, field)


def _history_problem(
    parts: Sequence[Part],
    level: int,
    file_no: int,
    filename: str,
    at: tuple[int, int],
    a: str | None,
    b: str | None,
) -> tuple[str, str | None]:
    """The message and field of a `_check_history` finding (`at`: station and row, from 1)."""
    station, row = at[0] - 1, at[1] - 1
    if level == 1:
        return f"expected a JSON object in {filename}, got {a}", None
    if level == 2:
        return f"Air4Thai answered result={a!r}, error={b!r} ({filename})", "result"
    if level == 3:
        what = "missing" if a is None else f"expected an array, got {a}"
        return f"{what} in {filename}", "stations"
    if level == 4:
        kind = json_type_at(parts, file_no, "stations", station)
        what = "missing" if kind == "OBJECT" else f"station is a {kind}, not an object"
        return f"{what} (stations[{station}] in {filename})", "stationID"
    if level == 5:
        kind = json_type_at(parts, file_no, "stations", station, "data")
        what = "missing" if kind is None else f"expected an array, got {kind}"
        return f"{what} for station {a} in {filename}", "data"
    kind = json_type_at(parts, file_no, "stations", station, "data", row)
    what = "missing" if kind == "OBJECT" else f"a data row is a {kind}, not an object"
    return f"{what} (station {a} in {filename})", "DATETIMEDATA"


def _typed_hourly(con: duckdb.DuckDBPyConnection, relation: str, source: str) -> pa.Table:
    """Cast `relation` (history_src's columns) to the contract, errors naming the payload field
    (`PM25`, `DATETIMEDATA`) and partition; keep each partition's own day (`_day`, when set) and
    one row per station-hour: a later file of the batch wins, then the fuller row."""
    # A JSON number -999 arrives as text "-999" or "-999.0": both are missing.
    numeric_missing = {
        p: f'CASE WHEN TRY_CAST("{p}" AS DOUBLE) IN ({MISSING_NUMBERS}) THEN NULL ELSE "{p}" END'
        for p in HOURLY_PARAMS
    }
    typed = typed_select(
        con,
        relation,
        {
            "_batch": "INTEGER",
            "_file_no": "BIGINT",
            "_part": "VARCHAR",
            "_day": "DATE",
            "stationID": "VARCHAR",
            "DATETIMEDATA": "TIMESTAMP",
            **{p: "DOUBLE" for p in HOURLY_PARAMS},
        },
        source=source,
        partition=None,
        partition_column="_part",
        sentinel_columns=frozenset(HOURLY_PARAMS),
        expressions=numeric_missing,
    )
    con.register("hourly_typed", typed)
    values = ", ".join(f'"{p}" AS {c}' for p, c in HOURLY_PARAMS.items())
    order_values = ", ".join(f"{c} NULLS LAST" for c in HOURLY_PARAMS.values())
    filled = " + ".join(f"CAST({c} IS NOT NULL AS INTEGER)" for c in HOURLY_PARAMS.values())
    return con.sql(f"""
        SELECT {", ".join(HOURLY_COLUMNS)}, _batch FROM (
            SELECT _batch, _day, _file_no, "stationID" AS station_id,
                   "DATETIMEDATA" AS measured_at, {values}
            FROM hourly_typed)
        WHERE _day IS NULL OR CAST(measured_at AS DATE) = _day
        QUALIFY row_number() OVER (
            PARTITION BY _batch, station_id, measured_at
            ORDER BY _file_no DESC, ({filled}) DESC, {order_values}) = 1
        ORDER BY _batch, station_id, measured_at""").to_arrow_table()


def _parse_history_parts(parts: Sequence[Part], source: str) -> pa.Table:
    """History responses of one or more partitions -> `air4thai_hourly` rows + `_batch`."""
    with cursor() as con:
        load_json_docs(con, parts, HISTORY_DOC, "history_doc")
        _history_src(con)
        _check_history(con, parts)
        return _typed_hourly(con, "history_src", source)


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
    table = _parse_history_parts([Part(err, partition, day, files)], source)
    return table.drop_columns(["_batch"])


def parse_hourly_window(contexts: Sequence[ParseContext]) -> dict[date, dict[str, pa.Table]]:
    """The history answers of many partitions in one go, each keeping its own day's hours."""
    parts = parts_of(contexts)
    table = _parse_history_parts(parts, contexts[0].source)
    return {day: {HOURLY_TABLE: rows} for day, rows in split(table, parts).items()}


def parse_hourly(ctx: ParseContext) -> dict[str, pa.Table]:
    return parse_hourly_window([ctx])[ctx.day]


def parse_history_csv(path: Path | str) -> pa.Table:
    """History `data[]` rows flattened to CSV by pandas (one `stationID` column, JSON nulls as
    empty cells) -> `air4thai_hourly` rows. Parameters absent from the file are NULL."""
    path = Path(path)
    err = OfflineContext(HOURLY_TABLE, path.name)
    with cursor() as con:
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
        con.execute(f"""
            CREATE TEMP TABLE history_src AS
            SELECT 0 AS _batch, 0 AS _file_no, {sql_text(path.name)} AS _part,
                   CAST(NULL AS DATE) AS _day, "stationID", "DATETIMEDATA", {values}
            FROM csv_src""")
        if con.execute('SELECT 1 FROM history_src WHERE "DATETIMEDATA" IS NULL LIMIT 1').fetchall():
            raise err.error(f"empty in {path.name}", field="DATETIMEDATA")
        return _typed_hourly(con, "history_src", err.source).drop_columns(["_batch"])


@dataclass(frozen=True)
class _TextFile:
    """A JSON document that is no landed file, standing in for one (named by `path`)."""

    path: str
    text: str
    url: str = ""
    headers: tuple = ()

    def read_bytes(self) -> bytes:
        return self.text.encode()


def parse_legacy_repr(path: Path | str) -> pa.Table:
    """The legacy `webV2/history/api/data.php` answer saved as a Python repr (`print(json)`)
    -> `air4thai_hourly` rows, through the same checks as a JSON answer."""
    path = Path(path)
    err = OfflineContext(HOURLY_TABLE, path.name)
    try:
        payload = ast.literal_eval(path.read_text(encoding="utf-8"))
    except (ValueError, SyntaxError) as exc:
        raise err.error(f"{path.name} is not a Python literal: {exc}") from None
    text = json.dumps(payload, ensure_ascii=False)
    parts = [Part(err, err.partition, None, [_TextFile(path.name, text)])]
    with cursor() as con:
        register_files(con, parts)
        docs_from_texts(con, [text], HISTORY_DOC, "history_doc")
        _history_src(con)
        _check_history(con, parts)
        return _typed_hourly(con, "history_src", err.source).drop_columns(["_batch"])


STATIONS_CAPTURE = CaptureSpec(
    name=STATIONS_TABLE,
    source=SOURCE,
    tables=(STATIONS_TABLE,),
    fetch=fetch_stations,
    parse=parse_stations,
    parse_window=parse_station_window,
    sort_keys={STATIONS_TABLE: ("station_id",)},
    warnings=missing_stations,
    description="สถานีตรวจวัดคุณภาพอากาศ (Air4Thai) · Air4Thai station list with each station's "
    "latest AQI (the city's stations).",
)

HOURLY_CAPTURE = CaptureSpec(
    name=HOURLY_TABLE,
    source=SOURCE,
    tables=(HOURLY_TABLE,),
    fetch=fetch_hourly,
    parse=parse_hourly,
    parse_window=parse_hourly_window,
    sort_keys={HOURLY_TABLE: ("station_id", "measured_at")},
    depends_on=(STATIONS_TABLE,),
    description="คุณภาพอากาศรายชั่วโมง (Air4Thai) · Air4Thai hourly PM2.5, PM10, O3, CO, NO2, SO2 "
    "and weather at the city's stations.",
)


def captures(settings: Settings) -> list[CaptureSpec]:
    return [STATIONS_CAPTURE, HOURLY_CAPTURE]
