"""Hourly history answers -> raw/air4thai_hourly (one row per station per hour), in one DuckDB query
for a window of partitions; the offline shapes of the same data (pandas CSV, the legacy answer's
Python repr) go through the same typed SQL."""

from __future__ import annotations

import ast
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa

from city_pipeline.capture import ParseContext
from city_pipeline.sources.air4thai.contract import (
    HOURLY_COLUMNS,
    HOURLY_PARAMS,
    HOURLY_TABLE,
    MISSING_NUMBERS,
)
from city_pipeline.sources.common import (
    ErrorContext,
    OfflineContext,
    empty_table,
    typed_select,
)
from city_pipeline.sources.window_parse import (
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
