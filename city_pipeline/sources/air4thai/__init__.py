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

from city_pipeline.capture import CaptureSpec
from city_pipeline.settings import Settings
from city_pipeline.sources.air4thai.client import (
    city_station_ids,
    fetch_hourly,
    fetch_stations,
    history_requests,
    settings_of,
)
from city_pipeline.sources.air4thai.contract import (
    HISTORY_PATH,
    HOURLY_COLUMNS,
    HOURLY_PARAMS,
    HOURLY_TABLE,
    MAX_STATIONS_PER_REQUEST,
    POLLUTANTS,
    SOURCE,
    STATIONS_COLUMNS,
    STATIONS_PATH,
    STATIONS_TABLE,
)
from city_pipeline.sources.air4thai.history import (
    parse_history_csv,
    parse_history_files,
    parse_hourly,
    parse_hourly_window,
    parse_legacy_repr,
)
from city_pipeline.sources.air4thai.stations import (
    missing_stations,
    parse_station_files,
    parse_station_window,
    parse_stations,
)

__all__ = [
    "HISTORY_PATH",
    "HOURLY_CAPTURE",
    "HOURLY_COLUMNS",
    "HOURLY_PARAMS",
    "HOURLY_TABLE",
    "MAX_STATIONS_PER_REQUEST",
    "POLLUTANTS",
    "SOURCE",
    "STATIONS_CAPTURE",
    "STATIONS_COLUMNS",
    "STATIONS_PATH",
    "STATIONS_TABLE",
    "captures",
    "city_station_ids",
    "fetch_hourly",
    "fetch_stations",
    "history_requests",
    "missing_stations",
    "parse_history_csv",
    "parse_history_files",
    "parse_hourly",
    "parse_hourly_window",
    "parse_legacy_repr",
    "parse_station_files",
    "parse_station_window",
    "parse_stations",
    "settings_of",
]


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
