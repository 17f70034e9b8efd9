"""Air4Thai responses for the recorded window, in the real payload shapes (real-samples/air4thai_*):

- the station list (`getNewAQI_JSON.php`, `{"stations": [...]}` with string-typed numbers and
  `"-1"` for a missing reading). The request has no parameters, so every day replays the same
  recording: one snapshot taken at the end of the window. It lists the city's configured stations
  (their `areaTH` names the province) and stations of other provinces that capture must drop;
  each city station's `AQILast` is computed from its last recorded day with the Thai AQI, so
  curation can check its own AQI against Air4Thai's;
- one history answer (`getHistoryData.php`) per day for the configured stations: hourly PM2.5 with
  a diurnal cycle (night and morning inversions), PM10, gases and weather as numbers, with missing
  readings as `"-"`, JSON null or -999, gas-analyser gaps, and a few station-days fully missing
  (all `"-"`, or an empty `data` list), so completeness is sometimes below 100%.

The PM2.5 season comes from the city YAML's `recordings.pm25` (Khon Kaen's January–March is the
dry-season burning peak, daily means ~25–90 µg/m³).
"""

from __future__ import annotations

import csv
import math
import random
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

from city_pipeline.analyse.aqi import band_table, categories
from city_pipeline.settings import Settings
from city_pipeline.sources import air4thai
from city_pipeline.synth import Recording, json_bytes
from city_pipeline.synth_settings import Pm25Season
from city_pipeline.windows import days_between

GASES = ("O3", "CO", "NO2", "SO2")


def thai_aqi(param: str, value: float, on: date) -> int:
    """The PCD sub-index of one pollutant: linear inside a band, rounded half up. Above the top
    band (AQI > 200) the 101–200 band's slope continues (PCD publishes no upper bound)."""
    # The dbt macro's band tables (see analyse.aqi); the open top band takes the slope below.
    bands = [b for b in band_table(param, on)["bands"] if b[1] is not None]
    band = next((b for b in bands if value <= b[1]), bands[-1])
    c_lo, c_hi, i_lo, i_hi = band
    index = i_lo + (i_hi - i_lo) / (c_hi - c_lo) * (value - c_lo)
    return max(0, math.floor(index + 0.5))


def aqi_color_id(aqi: int) -> int:
    """1 blue (excellent) .. 5 red (very unhealthy); 0 = no reading."""
    return 1 + sum(aqi > c.aqi_high for c in categories() if c.aqi_high is not None)


# The national station list the recordings serve: real Air4Thai station ids with their published
# names, areas and coordinates (air4thai_stations.csv; `metadata_from` says where each row was
# read, the `in_*` columns whether the id occurs in the real PCD daily series, bundled as
# data/history/pcd_daily_pm25.csv, and in Air4Thai's Aug-Oct 2023 hourly export). A city's
# `station_ids` must be listed there (tests/test_cities.py).
STATIONS_FILE = Path(__file__).with_name("air4thai_stations.csv")
STATION_FIELDS = ("nameTH", "nameEN", "areaTH", "areaEN", "lat", "long")


def _load_stations() -> dict[str, dict[str, str]]:
    with STATIONS_FILE.open(encoding="utf-8", newline="") as handle:
        return {
            row["stationID"]: {k: row[k] for k in STATION_FIELDS} for row in csv.DictReader(handle)
        }


STATIONS: dict[str, dict[str, str]] = _load_stations()
# Sensors a station does not have: its readings are JSON null all day.
NO_SENSOR = {"97t": {"SO2"}, "02t": {"PM10", "CO"}, "05t": {"SO2"}}


def daily_pm25(day: date, season: Pm25Season, weather: float) -> float:
    """The city's daily mean PM2.5: its season (the YAML's `recordings.pm25`) times the day's
    weather (log-space anomaly)."""
    doy = day.timetuple().tm_yday
    typical = season.base + season.peak * math.exp(-(((doy - season.peak_doy) / season.width) ** 2))
    return min(season.high, max(season.low, typical * math.exp(weather)))


def _diurnal(hour: int) -> float:
    """PM2.5 relative to the daily mean: high in the morning inversion and late evening."""
    return (
        1
        + 0.25 * math.cos(2 * math.pi * (hour - 7) / 24)
        + 0.1 * math.cos(4 * math.pi * (hour - 21) / 24)
    )


def _rush(hour: int) -> float:
    return math.exp(-(((hour - 8) / 1.8) ** 2)) + 0.8 * math.exp(-(((hour - 18) / 2.0) ** 2))


def _missing(rng: random.Random, value: float | int) -> Any:
    """Missing readings the way Air4Thai serves them: mostly "-", sometimes null or -999."""
    roll = rng.random()
    if roll < 0.01:
        return "-"
    if roll < 0.016:
        return None
    if roll < 0.018:
        return -999
    return value


def _station_day(
    rng: random.Random, station: str, day: date, mean_pm25: float, params: list[str]
) -> list[dict[str, Any]]:
    """24 hourly rows of one station in the history answer's `data[]` shape."""
    doy = day.timetuple().tm_yday
    t_base = 25.5 + 3.5 * math.sin((doy - 20) / 365 * 2 * math.pi)
    gap_start = rng.randrange(24) if rng.random() < 0.1 else 24
    gas_gap = set(range(gap_start, min(24, gap_start + rng.randint(2, 4))))
    wind_from = rng.choice((20, 45, 70, 180, 200))
    rows = []
    for hour in range(24):
        pm25 = max(3.0, mean_pm25 * _diurnal(hour) * math.exp(rng.gauss(0, 0.12)))
        temp = t_base + 6.0 * math.sin((hour - 9) / 24 * 2 * math.pi) + rng.gauss(0, 0.5)
        reading: dict[str, Any] = {
            "PM25": round(pm25, 1),
            "PM10": round(pm25 * rng.uniform(1.45, 1.9)),
            "O3": max(
                1, round(6 + 38 * max(0.0, math.sin(math.pi * (hour - 8) / 12)) + rng.gauss(0, 4))
            ),
            "CO": round(
                max(0.1, 0.25 + 0.45 * pm25 / 50 + 0.25 * _rush(hour) + rng.gauss(0, 0.05)), 2
            ),
            "NO2": max(1, round(5 + 17 * _rush(hour) + rng.gauss(0, 3))),
            "SO2": max(0, round(rng.uniform(1, 4))),
            "WS": max(
                0, round(1.2 + 1.0 * math.sin((hour - 8) / 24 * 2 * math.pi) + rng.gauss(0, 0.6))
            ),
            "WD": round(wind_from + rng.gauss(0, 25)) % 360,
            "TEMP": round(temp),
            "RH": min(98, max(20, round(88 - 2.4 * (temp - 18) + rng.gauss(0, 3)))),
        }
        row: dict[str, Any] = {"DATETIMEDATA": f"{day.isoformat()} {hour:02d}:00:00"}
        for param in params:
            value = reading.get(param)
            if param in NO_SENSOR.get(station, ()):
                value = None
            elif param in GASES and hour in gas_gap:
                value = "-"  # the gas analyser was being calibrated
            elif value is not None and param in air4thai.POLLUTANTS:
                value = _missing(rng, value)
            elif value is not None and rng.random() < 0.01:
                value = None
            row[param] = value
        rows.append(row)
    return rows


def _summary(rows: list[dict[str, Any]], params: list[str]) -> dict[str, Any]:
    """Per-parameter `summary` block, as the history API sends beside `data`."""
    summary = {}
    for param in params:
        values = [
            r[param]
            for r in rows
            if isinstance(r.get(param), int | float) and r[param] not in (-1, -999, -9999)
        ]
        total = len(rows)
        summary[param] = {
            "max": max(values) if values else None,
            "min": min(values) if values else None,
            "average": round(sum(values) / len(values), 2) if values else None,
            "totalcount": total,
            "count": len(values),
            "countPercentage": round(100 * len(values) / total, 2) if total else 0,
        }
    return summary


def _outages(rng: random.Random, days: list[date], stations: list[str]) -> dict[tuple, str]:
    """A few station-days with no readings at all: every value "-", or an empty `data` list.
    Never in the first week or on the last day (the day the station list snapshot describes)."""
    candidates = [(s, d) for d in days[7:-1] for s in stations]
    chosen = rng.sample(candidates, min(4, len(candidates)))
    return {key: ("dash" if i % 2 == 0 else "empty") for i, key in enumerate(sorted(chosen))}


def _numbers(rows: list[dict[str, Any]], param: str, hours: range) -> list[float]:
    return [
        r[param]
        for r in rows
        if int(r["DATETIMEDATA"][11:13]) in hours
        and isinstance(r.get(param), int | float)
        and r[param] not in (-1, -999, -9999)
    ]


# AQILast: (averaging hours before the snapshot, value format) per pollutant.
AQI_LAST_RULES = {
    "PM25": (24, "{:.1f}"),
    "PM10": (24, "{:.0f}"),
    "O3": (8, "{:.0f}"),
    "CO": (8, "{:.2f}"),
    "NO2": (1, "{:.0f}"),
    "SO2": (1, "{:.0f}"),
}


def aqi_last(rows: list[dict[str, Any]], day: date) -> dict[str, Any]:
    """`AQILast` at 23:00 of `day` from that day's hourly rows (PM2.5/PM10 24-hour means, O3 and
    CO 8-hour means, NO2 and SO2 the last hour), with each pollutant's Thai sub-index."""
    block: dict[str, Any] = {"date": day.isoformat(), "time": "23:00"}
    best: tuple[int, str] | None = None
    for param, (hours, fmt) in AQI_LAST_RULES.items():
        values = _numbers(rows, param, range(24 - hours, 24))
        if not values:
            block[param] = {"color_id": "0", "aqi": "-1", "value": "-1"}
            continue
        text = fmt.format(sum(values) / len(values))
        index = thai_aqi(param, float(text), day)
        block[param] = {"color_id": str(aqi_color_id(index)), "aqi": str(index), "value": text}
        if best is None or index > best[0]:
            best = (index, param)
    if best is None:
        block["AQI"] = {"color_id": "0", "aqi": "-1", "param": ""}
    else:
        block["AQI"] = {
            "color_id": str(aqi_color_id(best[0])),
            "aqi": str(best[0]),
            "param": best[1],
        }
    return block


def _station_object(station_id: str, block: dict[str, Any]) -> dict[str, Any]:
    meta = STATIONS.get(station_id) or _invented_station(station_id)
    return {
        "stationID": station_id,
        "nameTH": meta["nameTH"],
        "nameEN": meta["nameEN"],
        "areaTH": meta["areaTH"],
        "areaEN": meta["areaEN"],
        "stationType": "GROUND",
        "lat": meta["lat"],
        "long": meta["long"],
        "AQILast": block,
    }


def _invented_station(station_id: str) -> dict[str, str]:
    """Filler stations for `scale` > 1 (a bigger national list), never in a city's province."""
    return {
        "nameTH": f"สถานีตรวจวัด {station_id}",
        "nameEN": f"Station {station_id}",
        "areaTH": "ต.ในเมือง อ.เมือง, นครราชสีมา",
        "areaEN": "Nai Mueang, Mueang, Nakhon Ratchasima",
        "lat": "14.975000",
        "long": "102.100000",
    }


def _other_station_rows(rng: random.Random, day: date) -> list[dict[str, Any]]:
    """Plausible readings for a station outside the city (only its AQILast is published)."""
    return _station_day(rng, "", day, rng.uniform(15, 60), list(AQI_LAST_RULES))


def station_list(
    rng: random.Random, settings: Settings, last_rows: dict[str, list[dict]], day: date, scale: int
) -> dict[str, Any]:
    """The national station list at 23:00 of `day`: the city's stations from their recorded
    hours, every other station with invented readings."""
    ids = sorted(set(STATIONS) | set(last_rows))
    ids += [f"s{n:03d}" for n in range(1, (scale - 1) * 50 + 1)]
    stations = []
    for station_id in ids:
        rows = last_rows.get(station_id) or _other_station_rows(rng, day)
        stations.append(_station_object(station_id, aqi_last(rows, day)))
    return {"stations": stations}


def history_answer(station_rows: dict[str, list[dict]], params: list[str]) -> dict[str, Any]:
    return {
        "result": "OK",
        "error": "",
        "stations": [
            {
                "stationID": s,
                "params": list(params),
                "data": rows,
                "summary": _summary(rows, params),
            }
            for s, rows in station_rows.items()
        ],
    }


def recordings(settings: Settings, rng: random.Random, scale: int = 1) -> Iterator[Recording]:
    cfg = settings.config.sources.air4thai
    window = settings.config.recorded_window
    days = list(days_between(window.start, window.end))
    city_ids = sorted(cfg.station_ids)
    outages = _outages(rng, days, city_ids)
    level = 0.0  # AR(1) day-to-day weather in log space: smoggy spells last several days
    station_rows: dict[str, list[dict]] = {}
    for day in days:
        level = 0.65 * level + rng.gauss(0, 0.2)
        regional = daily_pm25(day, settings.config.recordings.pm25, level)
        station_rows = {}
        for n, station in enumerate(city_ids):
            mean = regional * (1.0 - 0.08 * n) * math.exp(rng.gauss(0, 0.06))
            rows = _station_day(rng, station, day, mean, cfg.params)
            outage = outages.get((station, day))
            if outage == "empty":
                rows = []
            elif outage == "dash":
                rows = [
                    {"DATETIMEDATA": r["DATETIMEDATA"], **dict.fromkeys(cfg.params, "-")}
                    for r in rows
                ]
            station_rows[station] = rows
        for params in air4thai.history_requests(city_ids, cfg.params, day):
            wanted = params["stationID"].split(",")
            answer = history_answer({s: station_rows[s] for s in wanted}, cfg.params)
            yield Recording(
                url=cfg.base_url + air4thai.HISTORY_PATH, params=params, body=json_bytes(answer)
            )
    # The station list request has no parameters: one recording, the snapshot at the window end.
    snapshot = station_list(rng, settings, station_rows, days[-1], scale)
    yield Recording(url=cfg.base_url + air4thai.STATIONS_PATH, params={}, body=json_bytes(snapshot))
