"""Thai AQI of PM2.5 in Python, read from the one band table the marts use.

The Pollution Control Department's bands live in the dbt macro `thai_aqi_band_table()` (and the
categories in `thai_aqi_categories()`) in `dbt_project/macros/thai_aqi.sql`; the marts and the
published `dim_thai_aqi_breakpoint` are built from it. This module renders those two macros with
Jinja instead of copying the numbers, so a forecast's category can never disagree with the marts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

import jinja2
import numpy as np
import pandas as pd

MACRO_FILE = Path(__file__).resolve().parents[2] / "dbt_project" / "macros" / "thai_aqi.sql"


class _MacroReturn(Exception):
    """dbt's `return(value)` ends a macro with a value; Jinja alone has no such statement."""

    def __init__(self, value: object) -> None:
        self.value = value


def _return(value: object) -> None:
    raise _MacroReturn(value)


def _call_macro(name: str) -> object:
    env = jinja2.Environment(extensions=["jinja2.ext.do"])
    env.globals["return"] = _return
    module = env.from_string(MACRO_FILE.read_text(encoding="utf-8")).module
    try:
        getattr(module, name)()
    except _MacroReturn as result:
        return result.value
    raise RuntimeError(f"{MACRO_FILE}: macro {name} returned no value")


@dataclass(frozen=True)
class Category:
    band: int
    aqi_low: int
    aqi_high: int | None
    name_th: str
    name_en: str
    colour: str
    colour_hex: str


@cache
def band_tables(pollutant: str) -> tuple[dict, ...]:
    """The band tables of `pollutant` ('PM25', 'PM10', 'O3', 'CO', 'NO2', 'SO2'), each a dict
    with `valid_from`/`valid_to` (ISO text, `valid_to` exclusive or None), `decimals` and `bands`
    (x_low, x_high, i_low, i_high; None highs mark the open top band)."""
    tables = tuple(t for t in _call_macro("thai_aqi_band_table") if t["pollutant"] == pollutant)
    if not tables:
        raise KeyError(f"{MACRO_FILE}: no Thai AQI band table for {pollutant!r}")
    return tables


def pm25_band_tables() -> tuple[dict, ...]:
    return band_tables("PM25")


def band_table(pollutant: str, day: date | None = None) -> dict:
    """The band table of `pollutant` in force on `day` (default: the one in force today)."""
    for table in band_tables(pollutant):
        starts, ends = table["valid_from"], table["valid_to"]
        if day is None:
            if ends is None:
                return table
        elif starts <= day.isoformat() and (ends is None or day.isoformat() < ends):
            return table
    raise KeyError(f"{MACRO_FILE}: no {pollutant} band table in force on {day}")


def pm25_legend() -> list[tuple[float, float | None, str, str]]:
    """The PM2.5 bands in force today as a chart's legend draws them: (low, high, colour hex,
    "Thai · English" category), each band starting at the top of the one below it."""
    highs = [None if b[1] is None else float(b[1]) for b in band_table("PM25")["bands"]]
    lows = [0.0, *highs[:-1]]
    return [
        (low, high, c.colour_hex, f"{c.name_th} · {c.name_en}")
        for low, high, c in zip(lows, highs, categories(), strict=True)
    ]


@cache
def categories() -> tuple[Category, ...]:
    return tuple(Category(*row) for row in _call_macro("thai_aqi_categories"))


def _band_index(aqi: np.ndarray) -> np.ndarray:
    upper = [c.aqi_high for c in categories() if c.aqi_high is not None]
    return np.searchsorted(np.asarray(upper), aqi, side="left") + 1


def pm25_aqi(pm25: pd.Series | np.ndarray, day: pd.Series | np.ndarray) -> np.ndarray:
    """PCD sub-index of 24-h PM2.5 (float array, NaN where the value is missing or negative),
    with the band table valid on each `day` (the bands changed on 2023-06-01)."""
    values = np.asarray(pm25, dtype=float)
    days = pd.to_datetime(pd.Series(np.asarray(day))).to_numpy()
    result = np.full(values.shape, np.nan)
    for table in pm25_band_tables():
        in_force = days >= np.datetime64(table["valid_from"])
        if table["valid_to"]:
            in_force &= days < np.datetime64(table["valid_to"])
        x = np.round(values, table["decimals"])
        bands = table["bands"]
        for i, (x_low, x_high, i_low, i_high) in enumerate(bands):
            if x_high is None:  # open top band: slope of the band below (docs/marts.md)
                p = bands[i - 1]
                slope, chosen = (p[3] - p[2]) / (p[1] - p[0]), in_force & (x > bands[i - 1][1])
            else:
                slope = (i_high - i_low) / (x_high - x_low)
                chosen = in_force & (x <= x_high) & np.isnan(result)
            chosen &= x >= 0
            result[chosen] = np.round(slope * (x[chosen] - x_low) + i_low)
    return result


def pm25_band(pm25: pd.Series | np.ndarray, day: pd.Series | np.ndarray) -> np.ndarray:
    """AQI category band 1..5 of each PM2.5 value (0 where the value is missing)."""
    aqi = pm25_aqi(pm25, day)
    bands = _band_index(np.nan_to_num(aqi, nan=0.0))
    return np.where(np.isnan(aqi), 0, bands)


def category(band: int) -> Category:
    return categories()[band - 1]
