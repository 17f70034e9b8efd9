"""Sensor anomaly flags per station-hour and station-day, from hourly PM2.5 (and PM10).

Rules (each flag row carries its `reason`):
    negative         a negative concentration
    out_of_range     PM2.5 above `MAX_PM25` µg/m³, beyond what the monitors measure
    pm25_above_pm10  PM2.5 above PM10 in the same hour (PM2.5 is part of PM10)
    flatline         the same reading `FLAT_HOURS` or more hours in a row (a stuck sensor)
    spike            robust z-score above `SPIKE_Z` against the station's own previous
                     `TRAILING_HOURS` hours (median and MAD), and `SPIKE_MIN_JUMP` µg/m³ above
                     that median
    regional_divergence  `DIVERGENCE_RATIO` times above or below the median of all stations
                     reporting that hour (at least `DIVERGENCE_MIN_STATIONS`), and
                     `DIVERGENCE_MIN_GAP` µg/m³ away from it

Flags are advice for the people who look after the sensors: they never change the official AQI
figures, which the marts compute from the readings as PCD publishes them. Everything runs as
DuckDB window functions over the whole frame, no Python row loops.
"""

from __future__ import annotations

import duckdb
import pandas as pd
import pyarrow as pa

MAX_PM25 = 1000.0
FLAT_HOURS = 6
SPIKE_Z = 6.0
SPIKE_MIN_JUMP = 20.0
TRAILING_HOURS = 7 * 24
TRAILING_MIN_HOURS = 24
DIVERGENCE_RATIO = 3.0
DIVERGENCE_MIN_GAP = 50.0
DIVERGENCE_MIN_STATIONS = 3
HOURLY_COLUMNS = ["station_id", "measured_at", "date", "reason", "pm25", "pm10", "reference"]
DAILY_COLUMNS = ["station_id", "date", "reason", "hours_flagged", "first_flagged_at"]
# Explicit types: a day without any flag is an empty table, which must still have column types.
HOURLY_SCHEMA = pa.schema(
    [
        ("station_id", pa.string()),
        ("measured_at", pa.timestamp("us")),
        ("date", pa.date32()),
        ("reason", pa.string()),
        ("pm25", pa.float64()),
        ("pm10", pa.float64()),
        ("reference", pa.float64()),
    ]
)
DAILY_SCHEMA = pa.schema(
    [
        ("station_id", pa.string()),
        ("date", pa.date32()),
        ("reason", pa.string()),
        ("hours_flagged", pa.int64()),
        ("first_flagged_at", pa.timestamp("us")),
    ]
)


def typed(flags: pd.DataFrame, schema: pa.Schema) -> pa.Table:
    """Flags as an Arrow table with fixed column types (also when there are none)."""
    return pa.Table.from_pandas(flags[schema.names], schema=schema, preserve_index=False)


HOURLY_SQL = f"""
with readings as (
    select station_id, cast(measured_at as timestamp) as measured_at,
           cast(pm25 as double) as pm25, cast(pm10 as double) as pm10
    from hourly
),
runs as (
    select *,
        -- a new run starts when the value changes or an hour is missing
        sum(case when pm25 is not distinct from prev_pm25
                  and measured_at - prev_at = interval 1 hour then 0 else 1 end)
            over (partition by station_id order by measured_at) as run_id
    from (
        select *,
            lag(pm25) over (partition by station_id order by measured_at) as prev_pm25,
            lag(measured_at) over (partition by station_id order by measured_at) as prev_at
        from readings
    )
),
region as (
    select measured_at, median(pm25) as region_median, count(pm25) as reporting
    from readings group by measured_at
),
context as (
    select *,
        count(*) over (partition by station_id, run_id) as run_hours,
        median(pm25) over past_hours as trailing_median,
        mad(pm25) over past_hours as trailing_mad,
        count(pm25) over past_hours as trailing_hours
    from runs
    left join region using (measured_at)
    window past_hours as (
        partition by station_id order by measured_at
        range between interval {TRAILING_HOURS} hours preceding and interval 1 hour preceding
    )
),
flags as (
    select *, 'negative' as reason, null::double as reference from context
    where pm25 < 0 or pm10 < 0
    union all
    select *, 'out_of_range', {MAX_PM25} from context where pm25 > {MAX_PM25}
    union all
    select *, 'pm25_above_pm10', pm10 from context where pm25 > pm10
    union all
    select *, 'flatline', run_hours from context
    where pm25 is not null and run_hours >= {FLAT_HOURS}
    union all
    select *, 'spike', trailing_median from context
    where trailing_hours >= {TRAILING_MIN_HOURS}
      and pm25 - trailing_median >= {SPIKE_MIN_JUMP}
      and (pm25 - trailing_median) / greatest(1.4826 * trailing_mad, 1.0) > {SPIKE_Z}
    union all
    select *, 'regional_divergence', region_median from context
    where reporting >= {DIVERGENCE_MIN_STATIONS}
      and abs(pm25 - region_median) >= {DIVERGENCE_MIN_GAP}
      and (pm25 > {DIVERGENCE_RATIO} * region_median or pm25 * {DIVERGENCE_RATIO} < region_median)
)
select station_id, measured_at, cast(measured_at as date) as date, reason, pm25, pm10, reference
from flags
order by station_id, measured_at, reason
"""


def flag_hours(hourly: pd.DataFrame) -> pd.DataFrame:
    """One row per flagged station-hour and reason. `hourly` has station_id, measured_at, pm25
    and optionally pm10; `reference` is what the reading was compared with (the trailing or
    regional median, PM10, the run length in hours, the range limit)."""
    frame = hourly.copy()
    if "pm10" not in frame.columns:
        frame["pm10"] = float("nan")
    frame = frame[["station_id", "measured_at", "pm25", "pm10"]]
    with duckdb.connect() as con:
        con.register("hourly", frame)
        flags = con.execute(HOURLY_SQL).df()[HOURLY_COLUMNS]
    flags["date"] = pd.to_datetime(flags["date"]).dt.date  # a DATE column, not a timestamp
    return flags


def flag_days(hour_flags: pd.DataFrame) -> pd.DataFrame:
    """Station-day flags: per reason, how many hours were flagged and the first one."""
    if hour_flags.empty:
        return pd.DataFrame(columns=DAILY_COLUMNS)
    days = hour_flags.groupby(["station_id", "date", "reason"], as_index=False).agg(
        hours_flagged=("measured_at", "size"), first_flagged_at=("measured_at", "min")
    )
    return days[DAILY_COLUMNS]
