"""How fresh each source's data is: what was captured last, and the newest day the marts hold.

Read from the lake's landing folders (one per source and partition day, with a `.batch.json`
marker when a capture finished) and from the published tables themselves; no warehouse access.
A source is late by the freshness rule of its cadence (`city_pipeline/freshness.py`), the same
rule its capture assets' Dagster freshness policy and `city-pipeline status` apply.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from city_pipeline.freshness import rule_for
from city_pipeline.settings import SOURCE_NAMES, Settings

# Which published column tells how recent each source's data is (mart, column).
SOURCE_DATA_COLUMNS: dict[str, tuple[str, str]] = {
    "air4thai": ("mart_air_quality_daily", "date"),
    "traffy": ("mart_complaints_daily", "date"),
    "open_meteo": ("mart_weather_daily", "date"),
    "dopa": ("mart_population", "month"),
}
SOURCE_TITLES: dict[str, str] = {
    "air4thai": "Air4Thai · คุณภาพอากาศ",
    "traffy": "Traffy Fondue · เรื่องร้องเรียน",
    "open_meteo": "Open-Meteo · สภาพอากาศ",
    "ckan": "data.go.th (CKAN) · ข้อมูลเปิดภาครัฐ",
    "dopa": "DOPA · ประชากรตามทะเบียนราษฎร",
}


@dataclass(frozen=True)
class SourceFreshness:
    source: str
    title: str
    cadence: str
    enabled: bool
    last_partition: date | None  # newest partition day with a completed capture
    captured_at: str | None  # when that capture finished (UTC)
    latest_data: date | None  # newest day in the published marts
    lag_days: int | None  # days between latest_data and the report day

    @property
    def status(self) -> str:
        if not self.enabled:
            return "disabled"
        if self.latest_data is None or self.lag_days is None:
            return "no data"
        return "ok" if self.lag_days <= rule_for(self.cadence).allowed_lag_days else "late"


def landing_roots(lake_dir: Path, source: str) -> list[Path]:
    """A source lands under its own name or one folder per capture (`air4thai_hourly`)."""
    landing = lake_dir / "landing"
    if not landing.exists():
        return []
    return [
        p
        for p in landing.iterdir()
        if p.is_dir() and (p.name == source or p.name.startswith(f"{source}_"))
    ]


def last_capture(lake_dir: Path, source: str) -> tuple[date | None, str | None]:
    """The newest partition day with a completed capture, and when that capture finished."""
    best: tuple[date, str | None] | None = None
    for root in landing_roots(lake_dir, source):
        for day_dir in sorted((p for p in root.iterdir() if p.is_dir()), reverse=True):
            markers = sorted(day_dir.glob("*.batch.json"))
            try:
                day = date.fromisoformat(day_dir.name)
            except ValueError:
                continue
            if not markers:
                continue
            if best is None or day > best[0]:
                completed = json.loads(markers[-1].read_text(encoding="utf-8")).get("completed_at")
                best = (day, completed)
            break
    return best if best else (None, None)


def latest_day(
    tables: dict[str, pa.Table], mart: str, column: str, report_day: date | None = None
) -> date | None:
    """The newest day in `mart.column`, not after the report day: DOPA dates its yearly province
    file at the year's last month, which says nothing about what the report's day knew."""
    table = tables.get(mart)
    if table is None or column not in table.column_names or table.num_rows == 0:
        return None
    values = table.column(column)
    if pa.types.is_timestamp(values.type):
        values = pc.cast(values, pa.date32())
    if report_day is not None:
        values = pc.filter(values, pc.less_equal(values, pa.scalar(report_day, pa.date32())))
    return pc.max(values).as_py() if len(values) else None


def _has_rows(tables: dict[str, pa.Table], mart: str) -> bool:
    table = tables.get(mart)
    return table is not None and table.num_rows > 0


def source_freshness(
    settings: Settings, tables: dict[str, pa.Table], report_day: date | None
) -> list[SourceFreshness]:
    rows = []
    for source in SOURCE_NAMES:
        source_settings = settings.source(source)
        partition, captured_at = last_capture(settings.lake_dir, source)
        mart, column = SOURCE_DATA_COLUMNS.get(source, ("", ""))
        latest = latest_day(tables, mart, column, report_day) if mart else partition
        if latest is None and partition is not None and _has_rows(tables, mart):
            # Every published row is dated after the report day (DOPA dates its yearly file at
            # the year's end): what the report knew is what was captured, on the partition day.
            latest = min(partition, report_day) if report_day else partition
        lag = max((report_day - latest).days, 0) if report_day and latest else None
        rows.append(
            SourceFreshness(
                source=source,
                title=SOURCE_TITLES.get(source, source),
                cadence=source_settings.cadence,
                enabled=source_settings.enabled,
                last_partition=partition,
                captured_at=captured_at,
                latest_data=latest,
                lag_days=lag,
            )
        )
    return rows
