"""Partition definitions shared by every layer, derived from the city config.

Daily partitions are city-local days (Asia/Bangkok): the nightly run at 02:00 materializes
"yesterday" in the city's own calendar. Monthly sources (DOPA population) use month partitions.
"""

from __future__ import annotations

from functools import cache

import dagster as dg

from city_pipeline.settings import Cadence, Settings


@cache
def daily_partitions(start: str, timezone: str) -> dg.DailyPartitionsDefinition:
    return dg.DailyPartitionsDefinition(start_date=start, timezone=timezone)


@cache
def monthly_partitions(start: str, timezone: str) -> dg.MonthlyPartitionsDefinition:
    return dg.MonthlyPartitionsDefinition(start_date=start, timezone=timezone)


def partitions_for(cadence: Cadence, settings: Settings) -> dg.PartitionsDefinition:
    start = settings.config.partitions_start
    if cadence == "monthly":
        return monthly_partitions(start.replace(day=1).isoformat(), settings.city.timezone)
    return daily_partitions(start.isoformat(), settings.city.timezone)


def city_daily_partitions(settings: Settings) -> dg.DailyPartitionsDefinition:
    return daily_partitions(settings.config.partitions_start.isoformat(), settings.city.timezone)
