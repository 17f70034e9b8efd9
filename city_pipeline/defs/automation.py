"""Operate: the jobs, schedules, sensors, freshness policies and automation of the city pipeline.

Two jobs cover the whole pipeline because a Dagster run has one partitioning:
- `monthly_refresh`: the monthly-partitioned captures (DOPA population, monthly CKAN snapshots);
- `nightly_refresh`: every daily-partitioned asset plus everything unpartitioned downstream
  (curate → checks → publish). A date range is one run (single-run backfill policy). The
  unpartitioned dbt models take the run's window too (`defs/curate.run_window`): the nightly run
  recomputes only the complaints captured that day, not the whole history.

On the city's clock (the city YAML's timezone, Asia/Bangkok):
- `nightly_refresh_schedule`, 02:00 every day: yesterday's partition, plus one run for each day of
  the last week that is still missing, so a failed night heals itself the next night;
- `monthly_refresh_schedule`, 01:00 on the 15th: the previous month of the monthly sources (DOPA
  publishes a month's registration statistics during the following month).

Declarative automation fits where data changes outside the nightly run: curate and consume assets
are `eager`, so a re-captured day or the monthly population refresh reaches the marts and the
published release without waiting for the night (a run that already updates an asset together with
its parents, like the nightly one, never triggers it twice). Every asset has a time-window freshness
policy, shown in the UI and by `city-pipeline status`. A failed run writes a JSON line to
`<data dir>/alerts/alerts.jsonl` and, when `CITY_PIPELINE_ALERT_WEBHOOK` is set, posts it there
within a time box; a webhook that fails or hangs never fails anything.

Schedules and the automation sensor start running by themselves where the pipeline calls the real
sources (`CITY_PIPELINE_SOURCE_MODE=live`, the city's server); on a laptop replaying recordings
they start stopped. `CITY_PIPELINE_AUTOMATION=on|off` overrides either way.
"""

from __future__ import annotations

import json
import os
import threading
import warnings
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import dagster as dg
import requests

from city_pipeline.defs.resources import CityResource
from city_pipeline.settings import Settings, SourceMode, get_settings

MONTHLY_JOB = "monthly_refresh"
NIGHTLY_JOB = "nightly_refresh"
NIGHTLY_SCHEDULE = "nightly_refresh_schedule"
MONTHLY_SCHEDULE = "monthly_refresh_schedule"
RETRAIN_JOB = "weekly_retrain"
RETRAIN_SCHEDULE = "weekly_retrain_schedule"
RETRAIN_CRON = "0 4 * * 0"  # Sunday 04:00 city time, after the nightly run has updated the marts
# Analyse models retrained by `weekly_retrain`, not by the nightly run (which only infers).
WEEKLY_KEYS = (
    dg.AssetKey(["analyse", "pm25_forecast_model"]),
    dg.AssetKey(["analyse", "complaint_type_model"]),
)
ALERT_SENSOR = "run_failure_alerts"
AUTOMATION_SENSOR = "city_automation"
REAPER_SENSOR = "dead_run_reaper"

NIGHTLY_CRON = "0 2 * * *"  # 02:00 city time: yesterday is complete at every source by then
MONTHLY_CRON = "0 1 15 * *"  # 01:00 on the 15th, before the nightly run picks up new marts
CATCH_UP_DAYS = 7  # a missed day older than this needs a deliberate backfill

# The one writer of the DuckDB warehouse: every asset that opens it shares this pool of size 1
# (the size is set in the instance's dagster.yaml: `concurrency.pools.default_limit: 1`).
WAREHOUSE_POOL = "duckdb_warehouse"
OWNERS = ["team:city-data-platform"]
EAGER_GROUPS = ("curate", "consume")

# Nightly data may be up to a day old plus the run's own time; a night missed is stale.
DAILY_FRESHNESS = dg.FreshnessPolicy.time_window(
    fail_window=timedelta(hours=26), warn_window=timedelta(hours=25)
)
# Monthly sources refresh on the 15th: a month of 31 days plus two days of slack.
MONTHLY_FRESHNESS = dg.FreshnessPolicy.time_window(
    fail_window=timedelta(days=33), warn_window=timedelta(days=32)
)

# Dagster's `eager`, except that an old hole in a daily source's history (a day a source never
# answered) does not block the marts forever: only a missing *latest* partition of a dependency
# holds an asset back (as before the nightly run has captured yesterday, or on a fresh install).
_AC = dg.AutomationCondition
LATEST_DEPENDENCY_MISSING = _AC.any_deps_match(
    _AC.missing() & _AC.in_latest_time_window() & ~_AC.will_be_requested()
).with_label("latest partition of a dependency missing")
EAGER = (
    _AC.eager()
    .replace("any_deps_missing", LATEST_DEPENDENCY_MISSING)
    .with_label("eager (tolerates old gaps upstream)")
)

ALERTS_FILE = Path("alerts") / "alerts.jsonl"
WEBHOOK_ENV = "CITY_PIPELINE_ALERT_WEBHOOK"
WEBHOOK_TIMEOUT_ENV = "CITY_PIPELINE_ALERT_WEBHOOK_TIMEOUT"
DEFAULT_WEBHOOK_TIMEOUT_S = 5.0
UI_URL_ENV = "CITY_PIPELINE_UI_URL"
AUTOMATION_ENV = "CITY_PIPELINE_AUTOMATION"


# --- jobs -------------------------------------------------------------------------------------


def cadence(partitions: dg.PartitionsDefinition | None) -> str | None:
    """The cadence of time-window partitions, read from the definition's schedule type (a spec
    copy may carry a plain TimeWindowPartitionsDefinition instead of the Daily/Monthly subclass)."""
    if not isinstance(partitions, dg.TimeWindowPartitionsDefinition):
        return None
    schedule_type = partitions.schedule_type
    return schedule_type.name.lower() if schedule_type is not None else None


def monthly_keys(assets: Sequence[dg.AssetsDefinition]) -> list[dg.AssetKey]:
    return [
        key for asset in assets if cadence(asset.partitions_def) == "monthly" for key in asset.keys
    ]


def daily_keys(assets: Sequence[dg.AssetsDefinition]) -> list[dg.AssetKey]:
    return [
        key for asset in assets if cadence(asset.partitions_def) == "daily" for key in asset.keys
    ]


def weekly_keys(assets: Sequence[dg.AssetsDefinition]) -> list[dg.AssetKey]:
    return [key for asset in assets for key in asset.keys if key in WEEKLY_KEYS]


def build_jobs(assets: Sequence[dg.AssetsDefinition]) -> list:
    monthly = dg.AssetSelection.assets(*monthly_keys(assets))
    weekly = dg.AssetSelection.assets(*weekly_keys(assets))
    return [
        dg.define_asset_job(
            MONTHLY_JOB,
            selection=monthly,
            description="Monthly sources (DOPA registered population, ...).",
        ),
        dg.define_asset_job(
            NIGHTLY_JOB,
            selection=dg.AssetSelection.all() - monthly - weekly,
            description="Daily sources for the partition window, then curate, analyse "
            "(inference), checks and publish.",
        ),
        dg.define_asset_job(
            RETRAIN_JOB,
            selection=weekly,
            description="Retrain the Analyse models (PM2.5 forecast) on the warehouse's marts.",
        ),
    ]


# --- freshness, automation, owners ----------------------------------------------------------------


def freshness_policy_for(spec: dg.AssetSpec) -> dg.FreshnessPolicy:
    if cadence(spec.partitions_def) == "monthly":
        return MONTHLY_FRESHNESS
    return DAILY_FRESHNESS


def operating_policy(spec: dg.AssetSpec) -> dg.AssetSpec:
    """Fill in what operations needs on an asset; a layer's own choice always wins."""
    changes: dict[str, Any] = {}
    if spec.freshness_policy is None:
        changes["freshness_policy"] = freshness_policy_for(spec)
    if spec.automation_condition is None and spec.group_name in EAGER_GROUPS:
        changes["automation_condition"] = EAGER
    if not spec.owners:
        changes["owners"] = OWNERS
    return spec.replace_attributes(**changes) if changes else spec


def with_operating_policies(defs: dg.Definitions) -> dg.Definitions:
    """Freshness policies, automation conditions and owners on every asset of the layers."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=dg.PreviewWarning)
        return defs.map_asset_specs(func=operating_policy)


# --- schedules --------------------------------------------------------------------------------


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

    @dg.schedule(
        name=NIGHTLY_SCHEDULE,
        job=job,
        cron_schedule=NIGHTLY_CRON,
        execution_timezone=timezone,
        default_status=_schedule_status(running),
        description=f"02:00 {timezone}: yesterday's partition of every daily source and all that "
        f"depends on it; also re-runs any day of the last {CATCH_UP_DAYS} still missing.",
    )
    def _nightly(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest]:
        yesterday = city_today(context, timezone) - timedelta(days=1)
        return [
            dg.RunRequest(
                run_key=f"{NIGHTLY_JOB}-{day.isoformat()}",
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

    @dg.schedule(
        name=MONTHLY_SCHEDULE,
        job=job,
        cron_schedule=MONTHLY_CRON,
        execution_timezone=timezone,
        default_status=_schedule_status(running),
        description=f"01:00 {timezone} on the 15th: the previous month of the monthly sources.",
    )
    def _monthly(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
        month = previous_month(city_today(context, timezone))
        if month < first_month:
            return dg.SkipReason(f"{month:%Y-%m} is before the first partition {first_month}")
        return dg.RunRequest(
            run_key=f"{MONTHLY_JOB}-{month:%Y-%m}",
            partition_key=month.isoformat(),
            tags={"city_pipeline/trigger": "monthly"},
        )

    return _monthly


def _schedule_status(running: bool) -> dg.DefaultScheduleStatus:
    return dg.DefaultScheduleStatus.RUNNING if running else dg.DefaultScheduleStatus.STOPPED


# --- alerts -----------------------------------------------------------------------------------


def webhook_timeout(env: Mapping[str, str] | None = None) -> float:
    text = (os.environ if env is None else env).get(WEBHOOK_TIMEOUT_ENV, "")
    try:
        return max(0.1, float(text)) if text else DEFAULT_WEBHOOK_TIMEOUT_S
    except ValueError:
        return DEFAULT_WEBHOOK_TIMEOUT_S


def partition_label(tags: Mapping[str, str]) -> str | None:
    """A run's partition, or its range ("2024-01-01..2024-01-31") for a single-run backfill."""
    if "dagster/partition" in tags:
        return tags["dagster/partition"]
    start = tags.get("dagster/asset_partition_range_start")
    end = tags.get("dagster/asset_partition_range_end", start)
    if start is None:
        return None
    return start if start == end else f"{start}..{end}"


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
    return {
        "alert": "run_failure",
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "city": settings.city.slug,
        "city_name": settings.city.name_en,
        "city_name_th": settings.city.name_th,
        "job": run.job_name,
        "run_id": run.run_id,
        "partition": partition,
        "trigger": next(
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
        "retry_number": int(tags.get("dagster/retry_number", 0)),
        "message": context.failure_event.message,
        "failed_steps": steps,
        "ui_url": f"{ui}/runs/{run.run_id}" if ui else None,
    }


def append_alert(path: Path, alert: Mapping[str, Any]) -> Path:
    """One JSON object per line; appended in one write so concurrent sensors never interleave."""
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(alert, ensure_ascii=False, sort_keys=True) + "\n"
    with path.open("a", encoding="utf-8") as handle:
        handle.write(line)
    return path


def post_webhook(url: str, payload: Mapping[str, Any], timeout_s: float) -> str:
    """POST the alert as JSON within `timeout_s` seconds; never raises, returns what happened.

    The request runs in a daemon thread joined with a deadline, so even a server that trickles
    its answer cannot hold the sensor longer than the time box.
    """
    outcome: dict[str, str] = {}

    def send() -> None:
        try:
            response = requests.post(
                url,
                json=payload,
                timeout=(min(timeout_s, 3.0), timeout_s),
                headers={"User-Agent": "city-pipeline-alerts"},
            )
            outcome["result"] = f"HTTP {response.status_code}"
        except Exception as exc:  # noqa: BLE001 - any failure of the webhook is only reported
            outcome["result"] = f"failed: {type(exc).__name__}"

    thread = threading.Thread(target=send, name="alert-webhook", daemon=True)
    thread.start()
    thread.join(timeout_s + 0.5)
    return outcome.get("result", f"timed out after {timeout_s:g}s")


def redacted(url: str) -> str:
    """Webhook URLs often carry a token in the path: log only scheme and host."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/…"


@dg.run_failure_sensor(
    name=ALERT_SENSOR,
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description="Every failed run: a JSON line in <data dir>/alerts/alerts.jsonl and, when "
    f"{WEBHOOK_ENV} is set, a JSON POST to it (time-boxed, never fails the sensor).",
)
def run_failure_alerts(context: dg.RunFailureSensorContext, city: CityResource) -> None:
    settings = city.settings()
    alert = build_alert(context, settings)
    path = append_alert(settings.data_dir / ALERTS_FILE, alert)
    context.log.info(f"alert for run {alert['run_id']} ({alert['job']}) written to {path}")
    url = os.environ.get(WEBHOOK_ENV, "").strip()
    if url:
        outcome = post_webhook(url, alert, webhook_timeout())
        context.log.info(f"alert webhook {redacted(url)}: {outcome}")


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


# --- assembly ---------------------------------------------------------------------------------


def automation_sensor(running: bool) -> dg.AutomationConditionSensorDefinition:
    return dg.AutomationConditionSensorDefinition(
        AUTOMATION_SENSOR,
        target=dg.AssetSelection.all(),
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.RUNNING
        if running
        else dg.DefaultSensorStatus.STOPPED,
        description="Evaluates the assets' automation conditions (curate and consume are eager).",
    )


def build_automation_defs(
    assets: Sequence[dg.AssetsDefinition], settings: Settings | None = None
) -> dg.Definitions:
    """Jobs, schedules and sensors for the layers' assets (merge with the layers' Definitions)."""
    settings = settings or get_settings()
    running = automation_status(settings)
    monthly_job, nightly_job, retrain_job = build_jobs(assets)
    schedules = [nightly_schedule(nightly_job, daily_keys(assets), settings, running)]
    if monthly_keys(assets):
        schedules.append(monthly_schedule(monthly_job, settings, running))
    jobs = [monthly_job, nightly_job]
    if weekly_keys(assets):
        jobs.append(retrain_job)
        schedules.append(
            dg.ScheduleDefinition(
                name=RETRAIN_SCHEDULE,
                job=retrain_job,
                cron_schedule=RETRAIN_CRON,
                execution_timezone=settings.city.timezone,
                default_status=_schedule_status(running),
                description="Weekly retrain of the PM2.5 forecast and complaint-type models.",
            )
        )
    return dg.Definitions(
        jobs=jobs,
        schedules=schedules,
        sensors=[run_failure_alerts, dead_run_reaper, automation_sensor(running)],
    )
