"""Partition definitions shared by every layer, derived from the city config.

Daily partitions are city-local days (Asia/Bangkok): the nightly run at 02:00 materializes
"yesterday" in the city's own calendar. Monthly sources (DOPA population) use month partitions.

They start at the city's `partitions_start` (default: the recorded window's first day). Replaying
recordings, they also end with the recorded window: there is nothing to replay after it, and
partitions up to today would show the UI hundreds of "missing" days that can never be filled.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache

import dagster as dg

from city_pipeline.settings import Cadence, Settings, SourceMode


@cache
def daily_partitions(
    start: str, timezone: str, end: str | None = None
) -> dg.DailyPartitionsDefinition:
    return dg.DailyPartitionsDefinition(start_date=start, timezone=timezone, end_date=end)


@cache
def monthly_partitions(
    start: str, timezone: str, end: str | None = None
) -> dg.MonthlyPartitionsDefinition:
    return dg.MonthlyPartitionsDefinition(start_date=start, timezone=timezone, end_date=end)


def last_partition_day(settings: Settings) -> date | None:
    """The last day with partitions: the recorded window's end when replaying, else open."""
    if settings.source_mode is SourceMode.REPLAY:
        return settings.config.recorded_window.end
    return None


def partitions_for(cadence: Cadence, settings: Settings) -> dg.PartitionsDefinition:
    if cadence == "monthly":
        start = settings.config.partitions_start.replace(day=1)
        last = last_partition_day(settings)
        # end_date is exclusive: the month after the one holding the last day
        end = (last.replace(day=1) + timedelta(days=32)).replace(day=1) if last else None
        return monthly_partitions(
            start.isoformat(), settings.city.timezone, end.isoformat() if end else None
        )
    return city_daily_partitions(settings)


def city_daily_partitions(settings: Settings) -> dg.DailyPartitionsDefinition:
    last = last_partition_day(settings)
    end = (last + timedelta(days=1)).isoformat() if last else None  # exclusive
    return daily_partitions(
        settings.config.partitions_start.isoformat(), settings.city.timezone, end
    )
