"""Operate: assembles the jobs, schedules and sensors of the city pipeline for the layers' assets.

Where each idea lives:
- `defs/jobs.py`: the nightly, monthly and weekly-retrain jobs, chosen by the assets' cadence;
- `defs/schedules.py`: when they run, on the city's clock, and the nightly catch-up of missed days;
- `defs/sensors.py`: alerts for failed runs, the dead-run reaper, the automation sensor;
- `defs/policies.py`: freshness policies, `eager` automation and owners on every asset;
- `city_pipeline/alerts.py`: the alert channel itself (alerts.jsonl and the webhook).

Declarative automation fits where data changes outside the nightly run: curate and consume assets
are `eager`, so a re-captured day or the monthly population refresh reaches the marts and the
published release without waiting for the night (a run that already updates an asset together with
its parents, like the nightly one, never triggers it twice).
"""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg

from city_pipeline.defs import jobs, schedules, sensors
from city_pipeline.defs.naming import CityNames
from city_pipeline.defs.resources import CityResource
from city_pipeline.settings import Settings, get_settings


def build_automation_defs(
    assets: Sequence[dg.AssetsDefinition], settings: Settings | None = None
) -> dg.Definitions:
    """One city's jobs, schedules and automation sensor for its layers' assets (merge with the
    layers' Definitions; `deployment_sensors` are added once per deployment)."""
    settings = settings or get_settings()
    names = CityNames.of(settings)
    running = schedules.automation_status(settings)
    monthly_job, nightly_job, retrain_job = jobs.build_jobs(assets, names)
    all_jobs = [monthly_job, nightly_job]
    all_schedules = [
        schedules.nightly_schedule(nightly_job, jobs.daily_keys(assets), settings, running)
    ]
    if jobs.monthly_keys(assets):
        all_schedules.append(schedules.monthly_schedule(monthly_job, settings, running))
    if jobs.weekly_keys(assets, names):
        all_jobs.append(retrain_job)
        all_schedules.append(schedules.retrain_schedule(retrain_job, settings, running))
    return dg.Definitions(
        jobs=all_jobs,
        schedules=all_schedules,
        sensors=[sensors.automation_sensor(running, assets, names)],
    )


def deployment_defs() -> dg.Definitions:
    """What a deployment has once, whatever its cities: the `city` and `dbt` resources, failure
    alerts (each to the failed run's city) and the dead-run reaper."""
    from city_pipeline.defs.curate import dbt_resource

    return dg.Definitions(
        sensors=[sensors.run_failure_alerts, sensors.dead_run_reaper],
        resources={"city": CityResource(), "dbt": dbt_resource()},
    )
