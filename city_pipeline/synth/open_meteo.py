"""Open-Meteo archive responses for the recorded window: one response per day at the city centre,
in the envelope of the real archive answers (see real-samples/openmeteo_archive_*.json)."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator

from city_pipeline.settings import Settings
from city_pipeline.sources import open_meteo
from city_pipeline.synth import Recording, json_bytes
from city_pipeline.windows import days_between

UNITS = {
    "temperature_2m": "°C",
    "temperature_2m_max": "°C",
    "temperature_2m_min": "°C",
    "temperature_2m_mean": "°C",
    "relative_humidity_2m": "%",
    "relative_humidity_2m_mean": "%",
    "precipitation": "mm",
    "rain": "mm",
    "precipitation_sum": "mm",
    "rain_sum": "mm",
    "wind_speed_10m": "km/h",
    "wind_direction_10m": "°",
}


def _hourly_day(rng: random.Random, day_of_year: int) -> dict[str, list[float]]:
    """A dry-season north-east Thai day: cool nights, hot afternoons, rare showers."""
    base = 24.0 + 3.0 * math.sin((day_of_year - 20) / 365 * 2 * math.pi)
    temps, rh, rain, wind, wdir = [], [], [], [], []
    showers = rng.random() < 0.12
    for hour in range(24):
        t = base + 6.5 * math.sin((hour - 9) / 24 * 2 * math.pi) + rng.gauss(0, 0.4)
        temps.append(round(t, 1))
        rh.append(round(min(100.0, max(20.0, 95 - 2.2 * (t - 15) + rng.gauss(0, 3)))))
        r = round(rng.expovariate(1.2), 1) if showers and 14 <= hour <= 19 else 0.0
        rain.append(r)
        wind.append(round(abs(rng.gauss(7, 3)), 1))
        wdir.append(rng.randrange(0, 360))
    return {
        "temperature_2m": temps,
        "relative_humidity_2m": rh,
        "precipitation": rain,
        "rain": rain,
        "wind_speed_10m": wind,
        "wind_direction_10m": wdir,
    }


def _daily(hourly: dict[str, list[float]]) -> dict[str, float]:
    t, rh = hourly["temperature_2m"], hourly["relative_humidity_2m"]
    return {
        "temperature_2m_max": max(t),
        "temperature_2m_min": min(t),
        "temperature_2m_mean": round(sum(t) / len(t), 1),
        "precipitation_sum": round(sum(hourly["precipitation"]), 1),
        "rain_sum": round(sum(hourly["rain"]), 1),
        "relative_humidity_2m_mean": round(sum(rh) / len(rh)),
    }


def recordings(settings: Settings, rng: random.Random, scale: int = 1) -> Iterator[Recording]:
    om = settings.config.sources.open_meteo
    city = settings.city
    window = settings.config.recorded_window
    for day in days_between(window.start, window.end):
        hourly = _hourly_day(rng, day.timetuple().tm_yday)
        daily = _daily(hourly)
        iso = day.isoformat()
        payload = {
            "latitude": round(city.centre.lat, 4),
            "longitude": round(city.centre.lon, 4),
            "generationtime_ms": round(rng.uniform(0.03, 0.2), 6),
            "utc_offset_seconds": 25200,
            "timezone": city.timezone,
            "timezone_abbreviation": "+07",
            "elevation": 165.0,
            "hourly_units": {"time": "iso8601", **{v: UNITS.get(v, "") for v in om.hourly}},
            "hourly": {
                "time": [f"{iso}T{h:02d}:00" for h in range(24)],
                **{v: hourly[v] for v in om.hourly},
            },
            "daily_units": {"time": "iso8601", **{v: UNITS.get(v, "") for v in om.daily}},
            "daily": {"time": [iso], **{v: [daily[v]] for v in om.daily}},
        }
        params = open_meteo.request_params(
            om, city.centre.lat, city.centre.lon, city.timezone, iso, iso
        )
        yield Recording(
            url=om.base_url + open_meteo.ARCHIVE_PATH, params=params, body=json_bytes(payload)
        )
