"""`city-pipeline status`: the state of every asset for an operator's terminal.

Per asset: when it was last materialized (and the newest partition it holds), whether it is fresh
under its freshness rule (`city_pipeline/freshness.py`, the rule its Dagster freshness policy
applies), and the result of the last execution of each of its checks. Also the last run of each
scheduled job. Read from the Dagster instance at `$DAGSTER_HOME` (`status_store.py`: a light
query, no Dagster import), so it shows the server's PostgreSQL history there and a laptop's SQLite
history here. Exit status 0 means every asset is materialized and fresh and no check failed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from city_pipeline import freshness
from city_pipeline.freshness import FreshnessRule
from city_pipeline.status_catalog import AssetCatalog
from city_pipeline.status_store import (
    FINISHED_RUN_STATUSES,
    CheckExecution,
    InstanceStore,
    partition_label,
)

# The freshness column's words (freshness.py), under the names the status rows use.
PASS, WARN, FAIL = freshness.FRESH, freshness.WARN, freshness.STALE
UNKNOWN, NONE = freshness.NEVER, freshness.NO_RULE
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


def freshness_state(rule: FreshnessRule | None, last: float | None, now: float) -> str:
    """The asset's rule applied to the age of its last materialization."""
    if rule is None:
        return NONE
    return rule.state(None if last is None else timedelta(seconds=now - last))


def _local(timestamp: float | None, tz: ZoneInfo) -> str | None:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, tz).strftime("%Y-%m-%d %H:%M")


def _check_state(execution: CheckExecution, run_statuses: Mapping[str, str]) -> str:
    if execution.status == "SUCCEEDED":
        return "passed"
    if execution.status == "FAILED":
        return "warned" if execution.warn_only else "FAILED"
    # Planned: still running, or its run ended before the check could report.
    run = run_statuses.get(execution.run_id)
    return "running" if run is not None and run not in FINISHED_RUN_STATUSES else "ERROR"


def check_statuses(
    store: InstanceStore, check_keys: Sequence[tuple[str, str]], tz: ZoneInfo
) -> dict[str, list[CheckStatus]]:
    """The last execution of each check, in one query."""
    latest = store.latest_checks() if check_keys else {}
    planned = [e.run_id for e in latest.values() if e.status not in ("SUCCEEDED", "FAILED")]
    run_statuses = store.run_statuses(planned)
    by_asset: dict[str, list[CheckStatus]] = {}
    for asset, name in sorted(check_keys):
        execution = latest.get((asset, name))
        state, at = "not run", None
        if execution is not None:
            state = _check_state(execution, run_statuses)
            at = _local(execution.timestamp, tz)
        by_asset.setdefault(asset, []).append(CheckStatus(name, state, at))
    return by_asset


def asset_statuses(
    catalog: AssetCatalog, store: InstanceStore, tz: ZoneInfo, now: float | None = None
) -> list[AssetStatus]:
    """One row per materializable asset."""
    now = datetime.now(UTC).timestamp() if now is None else now
    materialized = store.materializations()
    checks = check_statuses(store, catalog.checks, tz)
    statuses = []
    for asset in catalog.assets:
        event = materialized.get(asset.key)
        last = event.timestamp if event else None
        status = AssetStatus(
            key=asset.key,
            group=asset.group,
            last_materialized=_local(last, tz),
            run_id=event.run_id if event else None,
            freshness=freshness_state(asset.freshness, last, now),
            checks=checks.get(asset.key, []),
        )
        if event is not None:
            status.age_hours = round((now - event.timestamp) / 3600, 1)
            if asset.partitioned:
                status.newest_partition = event.newest_partition
        statuses.append(status)
    return statuses


def job_statuses(store: InstanceStore, jobs: Sequence[str], tz: ZoneInfo) -> list[JobStatus]:
    latest = store.latest_runs(jobs)
    result = []
    for job in jobs:
        run = latest.get(job)
        if run is None:
            result.append(JobStatus(job, "never run", None, None, None))
            continue
        result.append(
            JobStatus(
                job, run.status, _local(run.started, tz), partition_label(run.tags), run.run_id
            )
        )
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
    catalog: AssetCatalog,
    store: InstanceStore,
    timezone: str,
    title: str,
    as_json: bool = False,
    now: float | None = None,
    published_dir: Path | None = None,
    lake_dir: Path | None = None,
) -> tuple[str, int]:
    """The status text (or JSON) and the exit code (1 when something needs attention)."""
    from city_pipeline.lake import quarantine_counts

    tz = ZoneInfo(timezone)
    assets = asset_statuses(catalog, store, tz, now)
    jobs = job_statuses(store, catalog.jobs, tz)
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
        text = render(title, store.label, jobs, assets, health, quarantined)
    return text, 1 if problems else 0
