"""Schedules, on the city's clock (the city YAML's timezone, Asia/Bangkok):
- `nightly_refresh_schedule`, 02:00 every day: yesterday's partition, plus one run for each day of
  the last week that is still missing, so a failed night heals itself the next night;
- `monthly_refresh_schedule`, 01:00 on the 15th: the previous month of the monthly sources (DOPA
  publishes a month's registration statistics during the following month);
- `weekly_retrain_schedule`, Sunday 04:00: the analyse models.

They start running by themselves where the pipeline calls the real sources
(`CITY_PIPELINE_SOURCE_MODE=live`, the city's server); on a laptop replaying recordings they start
stopped. `CITY_PIPELINE_AUTOMATION=on|off` overrides either way.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import dagster as dg

from city_pipeline.defs.jobs import MONTHLY_JOB, NIGHTLY_JOB
from city_pipeline.defs.naming import CityNames
from city_pipeline.settings import Settings, SourceMode

NIGHTLY_SCHEDULE = "nightly_refresh_schedule"
MONTHLY_SCHEDULE = "monthly_refresh_schedule"
RETRAIN_SCHEDULE = "weekly_retrain_schedule"
NIGHTLY_CRON = "0 2 * * *"  # 02:00 city time: yesterday is complete at every source by then
MONTHLY_CRON = "0 1 15 * *"  # 01:00 on the 15th, before the nightly run picks up new marts
RETRAIN_CRON = "0 4 * * 0"  # Sunday 04:00 city time, after the nightly run has updated the marts
CATCH_UP_DAYS = 7  # a missed day older than this needs a deliberate backfill
AUTOMATION_ENV = "CITY_PIPELINE_AUTOMATION"


def automation_status(settings: Settings, env: Mapping[str, str] | None = None) -> bool:
    """Schedules run by themselves where the real sources are called, unless told otherwise."""
    choice = (os.environ if env is None else env).get(AUTOMATION_ENV, "").strip().lower()
    if choice in {"on", "1", "true", "yes"}:
        return True
    if choice in {"off", "0", "false", "no"}:
        return False
    return settings.source_mode == SourceMode.LIVE


def city_today(context: dg.ScheduleEvaluationContext, timezone: str) -> date:
    tick = context.scheduled_execution_time or datetime.now(UTC)
    return tick.astimezone(ZoneInfo(timezone)).date()


def nightly_days(
    instance: dg.DagsterInstance,
    keys: Sequence[dg.AssetKey],
    yesterday: date,
    first_day: date,
    catch_up_days: int = CATCH_UP_DAYS,
) -> list[date]:
    """Yesterday, and every earlier day of the catch-up window some daily asset is missing."""
    if yesterday < first_day:
        return []
    materialized = {key: instance.get_materialized_partitions(key) for key in keys}
    start = max(first_day, yesterday - timedelta(days=catch_up_days - 1))
    days = [start + timedelta(days=n) for n in range((yesterday - start).days)]
    missing = [
        day for day in days if any(day.isoformat() not in done for done in materialized.values())
    ]
    return [*missing, yesterday]


def nightly_schedule(
    job: Any, keys: Sequence[dg.AssetKey], settings: Settings, running: bool
) -> dg.ScheduleDefinition:
    timezone = settings.city.timezone
    first_day = settings.config.partitions_start
    names = CityNames.of(settings)

    @dg.schedule(
        name=names.name(NIGHTLY_SCHEDULE),
        job=job,
        cron_schedule=NIGHTLY_CRON,
        execution_timezone=timezone,
        default_status=schedule_status(running),
        description=f"02:00 {timezone}: yesterday's partition of every daily source and all that "
        f"depends on it; also re-runs any day of the last {CATCH_UP_DAYS} still missing.",
    )
    def _nightly(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest]:
        yesterday = city_today(context, timezone) - timedelta(days=1)
        return [
            dg.RunRequest(
                run_key=f"{names.name(NIGHTLY_JOB)}-{day.isoformat()}",
                partition_key=day.isoformat(),
                tags={"city_pipeline/trigger": "nightly" if day == yesterday else "catch-up"},
            )
            for day in nightly_days(context.instance, keys, yesterday, first_day)
        ]

    return _nightly


def previous_month(today: date) -> date:
    return (today.replace(day=1) - timedelta(days=1)).replace(day=1)


def monthly_schedule(job: Any, settings: Settings, running: bool) -> dg.ScheduleDefinition:
    timezone = settings.city.timezone
    first_month = settings.config.partitions_start.replace(day=1)
    names = CityNames.of(settings)

    @dg.schedule(
        name=names.name(MONTHLY_SCHEDULE),
        job=job,
        cron_schedule=MONTHLY_CRON,
        execution_timezone=timezone,
        default_status=schedule_status(running),
        description=f"01:00 {timezone} on the 15th: the previous month of the monthly sources.",
    )
    def _monthly(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
        month = previous_month(city_today(context, timezone))
        if month < first_month:
            return dg.SkipReason(f"{month:%Y-%m} is before the first partition {first_month}")
        return dg.RunRequest(
            run_key=f"{names.name(MONTHLY_JOB)}-{month:%Y-%m}",
            partition_key=month.isoformat(),
            tags={"city_pipeline/trigger": "monthly"},
        )

    return _monthly


def schedule_status(running: bool) -> dg.DefaultScheduleStatus:
    return dg.DefaultScheduleStatus.RUNNING if running else dg.DefaultScheduleStatus.STOPPED


def retrain_schedule(job: Any, settings: Settings, running: bool) -> dg.ScheduleDefinition:
    return dg.ScheduleDefinition(
        name=CityNames.of(settings).name(RETRAIN_SCHEDULE),
        job=job,
        cron_schedule=RETRAIN_CRON,
        execution_timezone=settings.city.timezone,
        default_status=schedule_status(running),
        description="Weekly retrain of the PM2.5 forecast and complaint-type models.",
    )
