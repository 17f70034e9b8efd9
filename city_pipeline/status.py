"""`city-pipeline status`: the state of every asset for an operator's terminal.

Per asset: when it was last materialized (and the newest partition it holds), whether it is fresh
under its freshness policy (the same rule the Dagster daemon applies), and the result of the last
execution of each of its checks. Also the last run of each scheduled job. Read from the Dagster
instance at `$DAGSTER_HOME`, so it shows the server's PostgreSQL history there and a laptop's SQLite
history here. Exit status 0 means every asset is materialized and fresh and no check failed.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import dagster as dg
from dagster._core.definitions.freshness import CronFreshnessPolicy, TimeWindowFreshnessPolicy
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from dagster._utils.schedules import get_latest_completed_cron_tick

from city_pipeline.defs import jobs as pipeline_jobs
from city_pipeline.defs import sensors
from city_pipeline.status_catalog import AssetCatalog

PASS, WARN, FAIL, UNKNOWN, NONE = "fresh", "warn", "STALE", "never", "-"
PROBLEM_CHECK_STATES = {"FAILED", "ERROR"}


@dataclass(frozen=True)
class CheckStatus:
    name: str
    state: str  # passed, FAILED (error severity), warned, ERROR (did not run), running
    at: str | None


@dataclass
class AssetStatus:
    key: str
    group: str
    last_materialized: str | None = None
    age_hours: float | None = None
    newest_partition: str | None = None
    run_id: str | None = None
    freshness: str = NONE
    checks: list[CheckStatus] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        found = [f"{self.key}: never materialized"] if self.freshness == UNKNOWN else []
        if self.freshness == FAIL:
            found.append(f"{self.key}: stale (last materialized {self.last_materialized})")
        found += [
            f"{self.key}: check {c.name} {c.state}"
            for c in self.checks
            if c.state in PROBLEM_CHECK_STATES
        ]
        return found


@dataclass(frozen=True)
class JobStatus:
    job: str
    status: str
    started: str | None
    partition: str | None
    run_id: str | None


def freshness_state(policy: dg.FreshnessPolicy | None, last: float | None, now: float) -> str:
    """The daemon's rule: time-window policies compare the age of the last materialization with
    the warn/fail windows; cron policies ask for a materialization since the last deadline."""
    if policy is None:
        return NONE
    if last is None:
        return UNKNOWN
    if isinstance(policy, TimeWindowFreshnessPolicy):
        age = now - last
        if age >= policy.fail_window.to_timedelta().total_seconds():
            return FAIL
        warn = policy.warn_window
        return WARN if warn and age >= warn.to_timedelta().total_seconds() else PASS
    if isinstance(policy, CronFreshnessPolicy):
        current = datetime.fromtimestamp(now, ZoneInfo(policy.timezone))
        deadline = get_latest_completed_cron_tick(policy.deadline_cron, current, policy.timezone)
        window_start = deadline.timestamp() - policy.lower_bound_delta.total_seconds()
        return PASS if last >= window_start else FAIL
    return NONE


def _local(timestamp: float | None, tz: ZoneInfo) -> str | None:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, tz).strftime("%Y-%m-%d %H:%M")


def _check_state(record: Any, instance: dg.DagsterInstance) -> str:
    if record.status == AssetCheckExecutionRecordStatus.SUCCEEDED:
        return "passed"
    if record.status == AssetCheckExecutionRecordStatus.FAILED:
        evaluation = record.event.dagster_event.event_specific_data if record.event else None
        severity = getattr(evaluation, "severity", dg.AssetCheckSeverity.ERROR)
        return "warned" if severity == dg.AssetCheckSeverity.WARN else "FAILED"
    # Planned: still running, or its run ended before the check could report.
    run = instance.get_run_by_id(record.run_id)
    return "running" if run is not None and not run.is_finished else "ERROR"


def check_statuses(
    instance: dg.DagsterInstance, check_keys: Iterable[dg.AssetCheckKey], tz: ZoneInfo
) -> dict[dg.AssetKey, list[CheckStatus]]:
    """The last execution of each check, in one query."""
    keys = sorted(check_keys, key=lambda k: (k.asset_key.to_user_string(), k.name))
    latest = (
        instance.event_log_storage.get_latest_asset_check_execution_by_key(keys) if keys else {}
    )
    by_asset: dict[dg.AssetKey, list[CheckStatus]] = defaultdict(list)
    for key in keys:
        record = latest.get(key)
        if record is None:
            by_asset[key.asset_key].append(CheckStatus(key.name, "not run", None))
        else:
            by_asset[key.asset_key].append(
                CheckStatus(
                    key.name, _check_state(record, instance), _local(record.create_timestamp, tz)
                )
            )
    return by_asset


def asset_statuses(
    catalog: AssetCatalog | dg.Definitions,
    instance: dg.DagsterInstance,
    tz: ZoneInfo,
    now: float | None = None,
) -> list[AssetStatus]:
    """One row per materializable asset; partitions read only for materialized partitioned ones."""
    from dagster._serdes import deserialize_value

    if not isinstance(catalog, AssetCatalog):
        catalog = AssetCatalog.from_definitions(catalog)
    now = datetime.now(UTC).timestamp() if now is None else now
    keys = {a.key: dg.AssetKey.from_user_string(a.key) for a in catalog.assets}
    records = {
        r.asset_entry.asset_key: r.asset_entry
        for r in instance.get_asset_records(list(keys.values()))
    }
    check_keys = [dg.AssetCheckKey(dg.AssetKey.from_user_string(a), n) for a, n in catalog.checks]
    checks = check_statuses(instance, check_keys, tz)
    statuses = []
    for asset in catalog.assets:
        key = keys[asset.key]
        entry = records.get(key)
        event = entry.last_materialization if entry else None
        last = event.timestamp if event else None
        policy = deserialize_value(asset.freshness_policy) if asset.freshness_policy else None
        status = AssetStatus(
            key=asset.key,
            group=asset.group,
            last_materialized=_local(last, tz),
            run_id=event.run_id if event else None,
            freshness=freshness_state(policy, last, now),
            checks=checks.get(key, []),
        )
        if last is not None:
            status.age_hours = round((now - last) / 3600, 1)
            if asset.partitioned:
                done = instance.get_materialized_partitions(key)
                status.newest_partition = max(done) if done else None
        statuses.append(status)
    return statuses


def job_statuses(
    instance: dg.DagsterInstance, jobs: Sequence[str], tz: ZoneInfo
) -> list[JobStatus]:
    result = []
    for job in jobs:
        records = instance.get_run_records(dg.RunsFilter(job_name=job), limit=1)
        if not records:
            result.append(JobStatus(job, "never run", None, None, None))
            continue
        run = records[0].dagster_run
        partition = sensors.partition_label(run.tags)
        started = records[0].start_time or records[0].create_timestamp.timestamp()
        result.append(JobStatus(job, run.status.value, _local(started, tz), partition, run.run_id))
    return result


def _age(hours: float | None) -> str:
    if hours is None:
        return ""
    if hours < 1:
        return f"({round(hours * 60)}m ago)"
    return f"({hours:.0f}h ago)" if hours < 48 else f"({hours / 24:.0f}d ago)"


def _checks_summary(checks: Sequence[CheckStatus]) -> str:
    if not checks:
        return "-"
    passed = sum(c.state == "passed" for c in checks)
    bad = [f"{c.name} {c.state}" for c in checks if c.state != "passed"]
    return f"{passed}/{len(checks)} passed" + (f"; {', '.join(bad)}" if bad else "")


def render(
    title: str,
    instance_label: str,
    jobs: Sequence[JobStatus],
    assets: Sequence[AssetStatus],
    health: Mapping[str, Any] | None = None,
    quarantined: Mapping[str, int] | None = None,
) -> str:
    lines = [title, f"Dagster instance: {instance_label}", "", "Last runs"]
    for job in jobs:
        detail = f"{job.started}  partition {job.partition}" if job.started else ""
        lines.append(f"  {job.job:<20} {job.status:<10} {detail}".rstrip())
    lines += [
        "",
        f"  {'asset':<44} {'last materialization':<26} {'newest partition':<17} "
        f"{'freshness':<9} checks",
    ]
    for group in sorted({a.group for a in assets}, key=_group_order):
        lines.append(f"{group}")
        for a in (a for a in assets if a.group == group):
            when = f"{a.last_materialized} {_age(a.age_hours)}" if a.last_materialized else "never"
            lines.append(
                f"  {a.key:<44} {when:<26} {a.newest_partition or '':<17} "
                f"{a.freshness:<9} {_checks_summary(a.checks)}"
            )
    if quarantined:
        lines += ["", "Quarantined rows (values that did not type; lake/raw/quarantine_*)"]
        lines += [f"  {table:<44} {rows:>8,}" for table, rows in quarantined.items()]
    problems = [p for a in assets for p in a.problems] + hold_problems(
        health or {"stale": {}, "withheld": {}}
    )
    lines += [
        "",
        f"{len(problems)} problem(s)"
        if problems
        else "OK: every asset is materialized and fresh, and no check failed.",
    ]
    lines += [f"  {p}" for p in problems]
    return "\n".join(lines)


def _group_order(group: str) -> tuple[int, str]:
    order = {"capture": 0, "curate": 1, "consume": 2}
    return (order.get(group, 3), group)


def instance_label(instance: dg.DagsterInstance) -> str:
    storage = type(instance.run_storage).__name__.replace("RunStorage", "")
    return f"{instance.root_directory} ({storage or 'unknown'} storage)"


def published_health(published_dir: Path | None) -> dict[str, Any]:
    """The current release's stale (held-back, last good version) and withheld marts."""
    manifest = published_dir / "current" / "release.json" if published_dir else None
    if manifest is None or not manifest.exists():
        return {"release_id": None, "stale": {}, "withheld": {}}
    release = json.loads(manifest.read_text("utf-8"))
    return {
        "release_id": release.get("release_id"),
        "stale": release.get("stale", {}),
        "withheld": release.get("withheld", {}),
    }


def hold_problems(health: Mapping[str, Any]) -> list[str]:
    found = []
    for kind, label in (("stale", "stale, last good version published"), ("withheld", "withheld")):
        for mart, hold in health[kind].items():
            reasons = "; ".join(r.get("summary", "?") for r in hold.get("reasons", [])[:2])
            found.append(f"published/{mart}: {label} since {hold.get('held_since')} ({reasons})")
    return found


def report(
    defs: AssetCatalog | dg.Definitions,
    instance: dg.DagsterInstance,
    timezone: str,
    title: str,
    as_json: bool = False,
    now: float | None = None,
    published_dir: Path | None = None,
    lake_dir: Path | None = None,
) -> tuple[str, int]:
    """The status text (or JSON) and the exit code (1 when something needs attention)."""
    from city_pipeline.capture import quarantine_counts

    tz = ZoneInfo(timezone)
    assets = asset_statuses(defs, instance, tz, now)
    jobs = job_statuses(instance, [pipeline_jobs.NIGHTLY_JOB, pipeline_jobs.MONTHLY_JOB], tz)
    health = published_health(published_dir)
    quarantined = quarantine_counts(lake_dir) if lake_dir else {}
    problems = [p for a in assets for p in a.problems] + hold_problems(health)
    if as_json:
        payload: Mapping[str, Any] = {
            "title": title,
            "timezone": timezone,
            "jobs": [asdict(j) for j in jobs],
            "assets": [asdict(a) for a in assets],
            "published": health,
            "quarantined": quarantined,
            "problems": problems,
        }
        text = json.dumps(payload, ensure_ascii=False, indent=2)
    else:
        text = render(title, instance_label(instance), jobs, assets, health, quarantined)
    return text, 1 if problems else 0
