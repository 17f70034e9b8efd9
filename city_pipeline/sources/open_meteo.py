"""Open-Meteo historical weather (archive API) at the city centre.

Request: `GET {base_url}/v1/archive?latitude=..&longitude=..&start_date=D&end_date=D
&hourly=..&daily=..&timezone=Asia/Bangkok`. The answer holds column arrays (`hourly.time`,
`hourly.temperature_2m`, ...) in local time, with `utc_offset_seconds`. One response feeds two
raw tables:
`raw/open_meteo_hourly` and `raw/open_meteo_daily`.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from city_pipeline.capture import CaptureSpec, ParseContext
from city_pipeline.settings import OpenMeteoSettings
from city_pipeline.sources.common import (
    FetchContext,
    duckdb_connection,
    empty_table,
    fetch,
    load_json,
    require_fields,
)

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


def _series_columns(ctx: ParseContext, block: dict, block_name: str, variables: list[str]) -> None:
    """Each requested variable must be an array as long as `time`."""
    times = block.get("time")
    if not isinstance(times, list):
        raise ctx.error("missing or not an array", field=f"{block_name}.time")
    for name in variables:
        values = block.get(name)
        if not isinstance(values, list):
            raise ctx.error(
                "requested variable missing from the response", field=f"{block_name}.{name}"
            )
        if len(values) != len(times):
            raise ctx.error(
                f"has {len(values)} values for {len(times)} timestamps",
                field=f"{block_name}.{name}",
            )
        wrong = next((v for v in values if v is not None and not isinstance(v, int | float)), None)
        if wrong is not None:
            raise ctx.error(
                f"expected numbers or null, got {wrong!r}", field=f"{block_name}.{name}"
            )


def parse_batch(
    ctx: ParseContext, hourly: list[str] | None = None, daily: list[str] | None = None
) -> dict[str, pa.Table]:
    """Landed archive responses -> hourly and daily Arrow tables (DuckDB unnests the arrays)."""
    om = ctx.settings.config.sources.open_meteo
    hourly = om.hourly if hourly is None else hourly
    daily = om.daily if daily is None else daily
    con = duckdb_connection()
    hourly_parts, daily_parts = [], []
    for landed in ctx.files:
        payload = load_json(ctx, landed)
        require_fields(
            ctx,
            payload,
            {
                "latitude": (int, float),
                "longitude": (int, float),
                "utc_offset_seconds": int,
                "timezone": str,
            },
        )
        path = str(landed.path).replace("'", "''")
        meta = (
            "CAST(latitude AS DOUBLE) AS latitude, CAST(longitude AS DOUBLE) AS longitude, "
            "CAST(utc_offset_seconds AS INTEGER) AS utc_offset_seconds, timezone"
        )
        if hourly:
            _series_columns(ctx, payload.get("hourly") or {}, "hourly", hourly)
            cols = ", ".join(f'unnest(CAST(hourly."{v}" AS DOUBLE[])) AS "{v}"' for v in hourly)
            hourly_parts.append(
                f"SELECT CAST(unnest(hourly.time) AS TIMESTAMP) AS time_local, {cols}, {meta} "
                f"FROM read_json('{path}', maximum_object_size=268435456)"
            )
        if daily:
            _series_columns(ctx, payload.get("daily") or {}, "daily", daily)
            cols = ", ".join(f'unnest(CAST(daily."{v}" AS DOUBLE[])) AS "{v}"' for v in daily)
            daily_parts.append(
                f"SELECT CAST(unnest(daily.time) AS DATE) AS date, {cols}, {meta} "
                f"FROM read_json('{path}', maximum_object_size=268435456)"
            )
    if not ctx.files:
        raise ctx.error("no response was landed for this partition")
    return {
        HOURLY_TABLE: _union(con, hourly_parts, {"time_local": "TIMESTAMP"}, hourly),
        DAILY_TABLE: _union(con, daily_parts, {"date": "DATE"}, daily),
    }


def _union(
    con: duckdb.DuckDBPyConnection, parts: list[str], key: dict[str, str], variables: list[str]
) -> pa.Table:
    (key_name,) = key
    if not parts:  # the block was not requested: an empty table with the contract's columns
        return empty_table({**key, **dict.fromkeys(variables, "DOUBLE"), **META_COLUMNS})
    # DISTINCT ON the time key: overlapping responses (a re-fetch inside one batch) never duplicate.
    query = " UNION ALL BY NAME ".join(parts)
    return con.sql(
        f"SELECT DISTINCT ON ({key_name}) * FROM ({query}) ORDER BY {key_name}"
    ).to_arrow_table()


def parse(ctx: ParseContext) -> dict[str, pa.Table]:
    return parse_batch(ctx)


CAPTURE = CaptureSpec(
    name=SOURCE,
    source=SOURCE,
    tables=(HOURLY_TABLE, DAILY_TABLE),
    fetch=fetch_day,
    parse=parse,
    sort_keys={HOURLY_TABLE: ("time_local",), DAILY_TABLE: ("date",)},
    description="ข้อมูลสภาพอากาศ (Open-Meteo) · Open-Meteo archive weather at the city centre "
    "(hourly and daily, Asia/Bangkok).",
)


def captures(settings) -> list[CaptureSpec]:
    return [CAPTURE]
