"""Sensors: an alert for every failed run, the reaper of dead runs, and the automation sensor
that evaluates the assets' automation conditions (`defs/policies.py`)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import dagster as dg

from city_pipeline import alerts
from city_pipeline.defs.naming import ONE_CITY, CityNames
from city_pipeline.defs.resources import CityResource
from city_pipeline.settings import Settings
from city_pipeline.status_store import partition_label

ALERT_SENSOR = "run_failure_alerts"
AUTOMATION_SENSOR = "city_automation"
REAPER_SENSOR = "dead_run_reaper"
UI_URL_ENV = "CITY_PIPELINE_UI_URL"


def root_cause(event: dg.DagsterEvent) -> str:
    """The innermost error of a step failure ("SourceError: ..."), not Dagster's wrapper."""
    error = event.step_failure_data.error if event.step_failure_data else None
    if error is None:
        return event.message or "step failed"
    while error.cause is not None:
        error = error.cause
    return error.message.strip()


def build_alert(context: dg.RunFailureSensorContext, settings: Settings) -> dict[str, Any]:
    """The structured alert for one failed run: what failed, for which days, and where to look."""
    run = context.dagster_run
    tags = run.tags
    partition = partition_label(tags)
    steps = [
        {"step": event.step_key, "error": root_cause(event)}
        for event in context.get_step_failure_events()
    ]
    ui = os.environ.get(UI_URL_ENV, "").rstrip("/")
    return alerts.new_alert(
        "run_failure",
        settings,
        job=run.job_name,
        run_id=run.run_id,
        partition=partition,
        trigger=next(
            (
                f"{name}:{tags[tag]}"
                for tag, name in (
                    ("dagster/schedule_name", "schedule"),
                    ("dagster/sensor_name", "sensor"),
                    ("dagster/backfill", "backfill"),
                    ("city_pipeline/launched_by", "cli"),
                )
                if tag in tags
            ),
            "manual",
        ),
        retry_number=int(tags.get("dagster/retry_number", 0)),
        message=context.failure_event.message,
        failed_steps=steps,
        ui_url=f"{ui}/runs/{run.run_id}" if ui else None,
    )


@dg.run_failure_sensor(
    name=ALERT_SENSOR,
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description="Every failed run: a JSON line in <data dir>/alerts/alerts.jsonl and, when "
    f"{alerts.WEBHOOK_ENV} is set, a JSON POST to it (time-boxed, never fails the sensor).",
)
def run_failure_alerts(context: dg.RunFailureSensorContext, city: CityResource) -> None:
    for keys in keys_by_city(context.dagster_run):
        settings = city.settings(keys)
        alerts.send(settings, build_alert(context, settings), context.log.info)


def keys_by_city(run: dg.DagsterRun) -> list[list[dg.AssetKey]]:
    """The failed run's assets grouped by city (their first key part in a several-city
    deployment), so each city's channel hears of its own failure; a city's jobs tag the city."""
    if run.tags.get("city"):
        return [[dg.AssetKey([run.tags["city"]])]]
    groups: dict[str, list[dg.AssetKey]] = {}
    for key in sorted(run.asset_selection or (), key=lambda k: k.path):
        groups.setdefault(key.path[0], []).append(key)
    return list(groups.values()) or [[]]


@dg.sensor(
    name=REAPER_SENSOR,
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=60,
    description="Fails runs whose process is gone (kill -9, out of memory, reboot) and frees the "
    "warehouse pool slots they held, so later runs never wait for a dead one "
    "(city_pipeline/recovery.py).",
)
def dead_run_reaper(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    from city_pipeline import recovery

    recovered = recovery.recover(context.instance)
    recovery.report(recovered, context.log.warning)
    return dg.SkipReason(f"{len(recovered)} dead run(s) recovered" if recovered else "no dead run")


def automation_sensor(
    running: bool, assets: Sequence[dg.AssetsDefinition], names: CityNames = ONE_CITY
) -> dg.AutomationConditionSensorDefinition:
    """One per city, over the city's own assets, so its runs carry the city's tag."""
    return dg.AutomationConditionSensorDefinition(
        names.name(AUTOMATION_SENSOR),
        target=dg.AssetSelection.assets(*(key for asset in assets for key in asset.keys)),
        run_tags=names.run_tags,
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.RUNNING
        if running
        else dg.DefaultSensorStatus.STOPPED,
        description="Evaluates the assets' automation conditions (curate and consume are eager).",
    )
