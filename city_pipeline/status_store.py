"""What `city-pipeline status` reads from the Dagster instance: plain SQL on its storage tables.

Opening a `DagsterInstance` imports Dagster, SQLAlchemy and Alembic: seconds before the first
query, most of what `status` used to take. The few facts `status` shows are rows of Dagster's
storage schema (`runs`, `run_tags`, `event_logs`, `asset_check_executions`), the same tables in
SQLite and PostgreSQL, so they are read here with the standard `sqlite3` module (a laptop's
instance: `$DAGSTER_HOME/history/`) or psycopg2 (the server's, `storage: postgres:` in
`$DAGSTER_HOME/dagster.yaml`, as in deploy/dagster.yaml). Read only; nothing is written.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from city_pipeline.settings import ConfigError

# Dagster's run statuses after which a run does no more work (DagsterRunStatus.is_finished).
FINISHED_RUN_STATUSES = {"SUCCESS", "FAILURE", "CANCELED"}


@dataclass(frozen=True)
class Materialization:
    run_id: str
    timestamp: float
    newest_partition: str | None


@dataclass(frozen=True)
class CheckExecution:
    run_id: str
    status: str  # SUCCEEDED, FAILED, PLANNED (Dagster's AssetCheckExecutionRecordStatus)
    warn_only: bool  # a failure of a WARN-severity check
    timestamp: float


@dataclass(frozen=True)
class LatestRun:
    run_id: str
    status: str  # Dagster's DagsterRunStatus value, e.g. SUCCESS
    started: float
    tags: Mapping[str, str]


def partition_label(tags: Mapping[str, str]) -> str | None:
    """A run's partition, or its range ("2024-01-01..2024-01-31") for a single-run backfill."""
    if "dagster/partition" in tags:
        return tags["dagster/partition"]
    start = tags.get("dagster/asset_partition_range_start")
    end = tags.get("dagster/asset_partition_range_end", start)
    if start is None:
        return None
    return start if start == end else f"{start}..{end}"


def _epoch(value: Any) -> float | None:
    """Dagster stores UTC times as naive datetimes (text in SQLite) or as epoch floats."""
    if value is None or isinstance(value, int | float):
        return value
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return moment.replace(tzinfo=UTC).timestamp() if moment.tzinfo is None else moment.timestamp()


def _asset(key_json: str) -> str:
    return "/".join(json.loads(key_json))


def _warn_only(evaluation_event: str | None) -> bool:
    if not evaluation_event:
        return False
    data = json.loads(evaluation_event).get("dagster_event") or {}
    severity = (data.get("event_specific_data") or {}).get("severity") or {}
    return severity.get("__enum__") == "AssetCheckSeverity.WARN"


class InstanceStore:
    """The instance's run storage and event log, as two DB-API connections (one in PostgreSQL)."""

    def __init__(self, label: str, runs: Any, events: Any, placeholder: str) -> None:
        self.label = label
        self._runs, self._events, self._placeholder = runs, events, placeholder

    def close(self) -> None:
        for connection in {id(c): c for c in (self._runs, self._events) if c}.values():
            connection.close()

    def __enter__(self) -> InstanceStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _rows(self, connection: Any, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        if connection is None:
            return []  # a fresh instance: nothing has run yet
        cursor = connection.cursor()
        try:
            cursor.execute(sql.replace("?", self._placeholder), tuple(params))
            return cursor.fetchall()
        finally:
            cursor.close()

    def materializations(self) -> dict[str, Materialization]:
        """The last materialization of every asset, and the newest partition it ever had."""
        last = self._rows(
            self._events,
            "SELECT asset_key, run_id, timestamp FROM event_logs WHERE id IN ("
            " SELECT MAX(id) FROM event_logs WHERE dagster_event_type = 'ASSET_MATERIALIZATION'"
            " GROUP BY asset_key)",
        )
        newest = dict(
            self._rows(
                self._events,
                "SELECT asset_key, MAX(partition) FROM event_logs"
                " WHERE dagster_event_type = 'ASSET_MATERIALIZATION' AND partition IS NOT NULL"
                " GROUP BY asset_key",
            )
        )
        return {
            _asset(key): Materialization(run_id, _epoch(at) or 0.0, newest.get(key))
            for key, run_id, at in last
        }

    def latest_checks(self) -> dict[tuple[str, str], CheckExecution]:
        """The last execution of every asset check, by (asset key, check name)."""
        rows = self._rows(
            self._events,
            "SELECT asset_key, check_name, run_id, execution_status, evaluation_event,"
            " create_timestamp FROM asset_check_executions WHERE id IN ("
            " SELECT MAX(id) FROM asset_check_executions GROUP BY asset_key, check_name)",
        )
        return {
            (_asset(key), name): CheckExecution(
                run_id, status, _warn_only(event), _epoch(created) or 0.0
            )
            for key, name, run_id, status, event, created in rows
        }

    def run_statuses(self, run_ids: Iterable[str]) -> dict[str, str]:
        ids = sorted(set(run_ids))
        if not ids:
            return {}
        marks = ", ".join("?" for _ in ids)
        return dict(
            self._rows(
                self._runs, f"SELECT run_id, status FROM runs WHERE run_id IN ({marks})", ids
            )
        )

    def latest_runs(self, jobs: Sequence[str]) -> dict[str, LatestRun]:
        """The newest run of each job, with its tags."""
        if not jobs:
            return {}
        marks = ", ".join("?" for _ in jobs)
        runs = self._rows(
            self._runs,
            "SELECT run_id, pipeline_name, status, start_time, create_timestamp FROM runs"
            " WHERE id IN (SELECT MAX(id) FROM runs"
            f" WHERE pipeline_name IN ({marks}) GROUP BY pipeline_name)",
            jobs,
        )
        tags: dict[str, dict[str, str]] = {run_id: {} for run_id, *_ in runs}
        if runs:
            marks = ", ".join("?" for _ in runs)
            for run_id, key, value in self._rows(
                self._runs,
                f"SELECT run_id, key, value FROM run_tags WHERE run_id IN ({marks})",
                list(tags),
            ):
                tags[run_id][key] = value
        return {
            job: LatestRun(run_id, status, _epoch(started) or _epoch(created) or 0.0, tags[run_id])
            for run_id, job, status, started, created in runs
        }


def _env(value: Any) -> Any:
    """A dagster.yaml value, `{env: NAME}` read from the environment."""
    if isinstance(value, dict) and set(value) == {"env"}:
        name = value["env"]
        if name not in os.environ:
            raise ConfigError(f"dagster.yaml: environment variable {name} is not set")
        return os.environ[name]
    return value


def _postgres(config: Mapping[str, Any]) -> Any:
    import psycopg2  # only on a server whose instance lives in PostgreSQL

    if "postgres_url" in config:
        url = str(_env(config["postgres_url"])).replace("postgresql+psycopg2://", "postgresql://")
        arguments: dict[str, Any] = {"dsn": url}
        where = "postgres_url"
    else:
        db = config["postgres_db"]
        arguments = {
            "host": _env(db["hostname"]),
            "port": int(_env(db.get("port", 5432))),
            "dbname": _env(db["db_name"]),
            "user": _env(db["username"]),
            "password": _env(db.get("password", "")),
            **{k: _env(v) for k, v in (db.get("params") or {}).items()},
        }
        where = f"{arguments['host']}:{arguments['port']}/{arguments['dbname']}"
    try:
        return psycopg2.connect(**arguments)
    except psycopg2.OperationalError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        message = f"cannot read the Dagster instance in PostgreSQL ({where}): {reason}"
        raise ConfigError(message) from None


def _sqlite(path: Path) -> sqlite3.Connection | None:
    if not path.exists():
        return None
    return sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)


def open_store(dagster_home: Path) -> InstanceStore:
    """The storage `$DAGSTER_HOME/dagster.yaml` names: PostgreSQL, or SQLite (the default)."""
    config_file = dagster_home / "dagster.yaml"
    config = yaml.safe_load(config_file.read_text("utf-8")) if config_file.exists() else None
    storage = (config or {}).get("storage") or {}
    if "postgres" in storage:
        connection = _postgres(storage["postgres"])
        return InstanceStore(f"{dagster_home} (Postgres storage)", connection, connection, "%s")
    custom = {"run_storage", "event_log_storage"} & set(config or {})
    if custom or set(storage) - {"sqlite"}:
        raise ConfigError(
            f"{config_file}: `status` reads an instance whose `storage:` is `sqlite` or `postgres`"
            f", not {sorted(custom) or sorted(storage)}"
        )
    base = Path(_env((storage.get("sqlite") or {}).get("base_dir", dagster_home)))
    history = base / "history"
    return InstanceStore(
        f"{dagster_home} (Sqlite storage)",
        _sqlite(history / "runs.db"),
        _sqlite(history / "runs" / "index.db"),
        "?",
    )
