"""Publish validated marts as an atomic, versioned release under `published/`.

    published/
      validated/<mart>.parquet, <mart>.validation.json   each mart after scrubbing + validation
      releases/<release-id>/                              one complete release (read-only files)
          <mart>.parquet, <mart>.csv (UTF-8 with BOM)
          city_marts.duckdb            every mart as a table, for analysts
          datapackage.json             Frictionless Data Package (TH/EN)
          report/index.html            the offline report
          validation/index.html, validation/results.json
          release.json                 manifest: row counts, sha256 of every file
      current -> releases/<release-id>  symlink, switched atomically

A release is written into `releases/.staging-<id>/`, renamed into place, and only then does
`current` switch, by renaming a new symlink over it. A failed validation raises before anything is
written; an exception or a killed process mid-publish leaves `current` exactly as it was (stale
staging folders are removed by the next publish). Publishers take `published/.publish.lock`, so two
runs never interleave. Readers keep working during a publish: nothing they have open is rewritten,
and an old release they hold open is only unlinked, never truncated.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import shutil
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from city_pipeline.consume.catalog import (
    PublishedMart,
    Window,
    column_descriptions,
    publish_window,
)
from city_pipeline.consume.datapackage import CSV_ENCODING, build_datapackage, file_facts
from city_pipeline.consume.freshness import source_freshness
from city_pipeline.consume.privacy import scrub_table
from city_pipeline.consume.validation import ValidationOutcome, validate_table
from city_pipeline.consume.warehouse import read_mart
from city_pipeline.lake import write_bytes_atomic, write_parquet_atomic
from city_pipeline.settings import Settings

if TYPE_CHECKING:  # pandas is imported where used: loading definitions stays fast
    import pandas as pd

DEFAULT_KEEP_RELEASES = 7
DATABASE_NAME = "city_marts.duckdb"
CURRENT = "current"
STAGING_PREFIX = ".staging-"


class PublishError(RuntimeError):
    """Publishing stopped; `current` still points at the previous release."""


class ValidationFailedError(PublishError):
    def __init__(self, outcomes: list[ValidationOutcome]) -> None:
        self.outcomes = outcomes
        lines = [o.summary_line() for o in outcomes]
        for outcome in outcomes:
            lines += [f"  {outcome.mart}: {r.label} failed" for r in outcome.failed]
        super().__init__("validation failed, nothing published:\n" + "\n".join(lines))


@dataclass(frozen=True)
class PreparedMart:
    """A mart as it will be published: privacy-scrubbed, with its validation outcome."""

    spec: PublishedMart
    table: pa.Table
    validation: ValidationOutcome


@dataclass(frozen=True)
class Release:
    release_id: str
    path: Path
    current: Path
    rows: dict[str, int]
    files: dict[str, dict[str, Any]]
    removed: list[str]

    @property
    def report(self) -> Path:
        return self.path / "report" / "index.html"

    def markdown(self) -> str:
        lines = [
            f"**Release `{self.release_id}`** → `{self.current}`",
            "",
            "| mart | rows |",
            "|---|---:|",
        ]
        lines += [f"| {name} | {rows:,} |" for name, rows in self.rows.items()]
        return "\n".join(lines + ["", f"Report: `{self.report}`"])


# --- preparing and staging each mart --------------------------------------------------------


def prepare_mart(
    settings: Settings,
    spec: PublishedMart,
    window: Window | None = None,
    table: pa.Table | None = None,
) -> PreparedMart:
    """Read the mart read-only, scrub PII, and validate it exactly as it will be published."""
    table = read_mart(settings.warehouse_path, spec.name) if table is None else table
    table = scrub_table(table, list(spec.free_text_columns))
    outcome = validate_table(spec, table, window or publish_window(settings))
    return PreparedMart(spec, table, outcome)


def validated_dir(published_dir: Path) -> Path:
    return published_dir / "validated"


def stage_validated(published_dir: Path, prepared: PreparedMart) -> Path:
    """Keep a mart that passed validation for the next release (never one that failed)."""
    if not prepared.validation.success:
        raise ValidationFailedError([prepared.validation])
    folder = validated_dir(published_dir)
    target = folder / f"{prepared.spec.name}.parquet"
    write_parquet_atomic(prepared.table, target)
    outcome = json.dumps(prepared.validation.to_dict(), ensure_ascii=False, indent=1)
    write_bytes_atomic(folder / f"{prepared.spec.name}.validation.json", outcome.encode())
    return target


def load_validated(published_dir: Path, specs: list[PublishedMart]) -> list[PreparedMart]:
    """The staged marts for a release; each must exist and carry a passing validation."""
    folder, prepared = validated_dir(published_dir), []
    for spec in specs:
        outcome_path = folder / f"{spec.name}.validation.json"
        table_path = folder / f"{spec.name}.parquet"
        if not outcome_path.exists() or not table_path.exists():
            raise PublishError(
                f"{spec.name} has not been validated yet ({outcome_path} missing): "
                f"materialize published/{spec.name} first"
            )
        outcome = ValidationOutcome.from_dict(json.loads(outcome_path.read_text("utf-8")))
        prepared.append(PreparedMart(spec, pq.read_table(table_path), outcome))
    return prepared


# --- writing the release -----------------------------------------------------------------


def new_release_id(now: datetime | None = None) -> str:
    """UTC timestamp, sortable, unique per microsecond: `20240331T020000.123456Z`."""
    return f"{(now or datetime.now(UTC)):%Y%m%dT%H%M%S.%fZ}"


@contextlib.contextmanager
def publish_lock(published_dir: Path) -> Iterator[None]:
    published_dir.mkdir(parents=True, exist_ok=True)
    with (published_dir / ".publish.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def csv_frame(table: pa.Table, timezone: str) -> pd.DataFrame:
    """The table as text-friendly columns: lists as JSON arrays, timestamps as ISO 8601 in the
    city's time zone, nullable integers without a trailing `.0`."""
    import pandas as pd

    columns: dict[str, pd.Series] = {}
    for field, column in zip(table.schema, table.columns, strict=True):
        kind = field.type
        if pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_struct(kind):
            values = [
                None if v is None else json.dumps(v, ensure_ascii=False, default=str)
                for v in column.to_pylist()
            ]
            columns[field.name] = pd.Series(values, dtype=object)
        elif pa.types.is_timestamp(kind):
            series = column.to_pandas()
            if kind.tz is not None:
                series = series.dt.tz_convert(timezone)
                text = series.dt.strftime("%Y-%m-%dT%H:%M:%S%z").str.replace(
                    r"([+-]\d{2})(\d{2})$", r"\1:\2", regex=True
                )
            else:
                text = series.dt.strftime("%Y-%m-%dT%H:%M:%S")
            columns[field.name] = text
        else:
            columns[field.name] = column.to_pandas(types_mapper=pd.ArrowDtype)
    return pd.DataFrame(columns)


def write_csv(table: pa.Table, target: Path, timezone: str) -> None:
    # UTF-8 with BOM: Excel only detects UTF-8 (and so shows Thai) when the BOM is there.
    csv_frame(table, timezone).to_csv(
        target, index=False, encoding=CSV_ENCODING, lineterminator="\r\n"
    )


def write_database(marts: list[PreparedMart], target: Path, release_id: str) -> None:
    """One DuckDB file with every mart as a table, COMMENTs from the dbt docs, and `_release`."""
    with duckdb.connect(str(target)) as connection:
        for mart in marts:
            name = mart.spec.name
            connection.register("incoming", mart.table)
            connection.execute(f'create table "{name}" as select * from incoming')
            connection.unregister("incoming")
            connection.execute(f"comment on table \"{name}\" is '{_sql_text(mart.spec.title)}'")
            for column, text in column_descriptions(name).items():
                if text and column in mart.table.column_names:
                    connection.execute(
                        f'comment on column "{name}"."{column}" is \'{_sql_text(text)}\''
                    )
        rows = [
            (release_id, m.spec.name, m.spec.title_en, m.spec.title_th, m.table.num_rows)
            for m in marts
        ]
        connection.execute(
            "create table _release (release_id varchar, mart varchar, "
            "title_en varchar, title_th varchar, row_count bigint)"
        )
        connection.executemany("insert into _release values (?, ?, ?, ?, ?)", rows)
        connection.execute("checkpoint")


def _sql_text(text: str) -> str:
    return text.replace("'", "''")


def latest_report_day(marts: list[PreparedMart]) -> date | None:
    for mart in marts:
        if mart.spec.name == "mart_city_daily" and mart.table.num_rows:
            value = pc.max(mart.table.column("date")).as_py()
            return value.date() if isinstance(value, datetime) else value
    return None


def _write_report(
    settings: Settings, marts: list[PreparedMart], staging: Path, release_id: str, created: str
) -> None:
    from city_pipeline.report import ReportInputs, render_report, render_validation_summary

    tables = {m.spec.name: m.table for m in marts}
    report_day = latest_report_day(marts)
    inputs = ReportInputs(
        city=settings.city,
        tables=tables,
        validations=[m.validation for m in marts],
        freshness=source_freshness(settings, tables, report_day),
        release_id=release_id,
        generated_at=created,
        report_day=report_day,
    )
    (staging / "report").mkdir()
    (staging / "report" / "index.html").write_text(render_report(inputs), encoding="utf-8")
    (staging / "validation").mkdir()
    (staging / "validation" / "index.html").write_text(
        render_validation_summary(inputs), encoding="utf-8"
    )
    results = [m.validation.to_dict() for m in marts]
    (staging / "validation" / "results.json").write_text(
        json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8"
    )


def _write_files(
    settings: Settings, marts: list[PreparedMart], staging: Path, release_id: str, created: str
) -> None:
    for mart in marts:
        pq.write_table(mart.table, staging / f"{mart.spec.name}.parquet", compression="zstd")
        write_csv(mart.table, staging / f"{mart.spec.name}.csv", settings.city.timezone)
    write_database(marts, staging / DATABASE_NAME, release_id)
    package = build_datapackage(
        settings.city,
        [(m.spec, m.table.schema) for m in marts],
        staging,
        release_id,
        created,
        DATABASE_NAME,
    )
    (staging / "datapackage.json").write_text(
        json.dumps(package, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    _write_report(settings, marts, staging, release_id, created)


def _manifest(
    staging: Path, marts: list[PreparedMart], release_id: str, created: str
) -> dict[str, Any]:
    files = {
        str(p.relative_to(staging)): file_facts(p)
        for p in sorted(staging.rglob("*"))
        if p.is_file()
    }
    return {
        "release_id": release_id,
        "created": created,
        "rows": {m.spec.name: m.table.num_rows for m in marts},
        "validations": {m.spec.name: m.validation.summary_line() for m in marts},
        "files": files,
    }


def _make_read_only(folder: Path) -> None:
    """Published files are immutable; analysts open the database with read_only=True."""
    for path in folder.rglob("*"):
        if path.is_file():
            path.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)


def _fsync_dir(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def switch_current(published_dir: Path, release_dir: Path) -> Path:
    """Point `current` at the release in one atomic rename of a fresh symlink over it."""
    link = published_dir / CURRENT
    if link.exists() and not link.is_symlink():
        raise PublishError(f"{link} is not a symlink; move it away so releases can switch it")
    temporary = published_dir / f".{CURRENT}-{secrets.token_hex(4)}"
    os.symlink(os.path.relpath(release_dir, published_dir), temporary)
    os.replace(temporary, link)
    _fsync_dir(published_dir)
    return link


def release_dirs(published_dir: Path) -> list[Path]:
    root = published_dir / "releases"
    if not root.exists():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def prune_releases(published_dir: Path, keep: int) -> list[str]:
    """Remove all but the newest `keep` releases; never the one `current` points at."""
    link = published_dir / CURRENT
    current = link.resolve() if link.is_symlink() else None
    releases = release_dirs(published_dir)
    removed = []
    for old in releases[: max(len(releases) - max(keep, 1), 0)]:
        if old.resolve() != current:
            shutil.rmtree(old)
            removed.append(old.name)
    return removed


def remove_stale_staging(published_dir: Path) -> None:
    """Leftovers of a publish that crashed or was killed (called under the publish lock)."""
    root = published_dir / "releases"
    for leftover in root.glob(f"{STAGING_PREFIX}*") if root.exists() else []:
        shutil.rmtree(leftover, ignore_errors=True)
    for leftover in published_dir.glob(f".{CURRENT}-*"):
        leftover.unlink(missing_ok=True)


def publish_release(
    settings: Settings,
    marts: list[PreparedMart],
    keep: int = DEFAULT_KEEP_RELEASES,
    now: datetime | None = None,
) -> Release:
    """Write a new release from validated marts and switch `current` to it.

    Raises ValidationFailedError, before writing anything, if any mart failed its suite."""
    failed = [m.validation for m in marts if not m.validation.success]
    if failed:
        raise ValidationFailedError(failed)
    if not marts:
        raise PublishError("no marts to publish")
    published_dir = settings.published_dir
    with publish_lock(published_dir):
        remove_stale_staging(published_dir)
        release_id = new_release_id(now)
        created = datetime.now(UTC).isoformat(timespec="seconds")
        staging = published_dir / "releases" / f"{STAGING_PREFIX}{release_id}"
        final = published_dir / "releases" / release_id
        staging.mkdir(parents=True)
        try:
            _write_files(settings, marts, staging, release_id, created)
            manifest = _manifest(staging, marts, release_id, created)
            (staging / "release.json").write_text(
                json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8"
            )
            _make_read_only(staging)
            os.rename(staging, final)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        _fsync_dir(final.parent)
        current = switch_current(published_dir, final)
        removed = prune_releases(published_dir, keep)
    return Release(
        release_id=release_id,
        path=final,
        current=current,
        rows=manifest["rows"],
        files=manifest["files"],
        removed=removed,
    )


def current_release(published_dir: Path) -> Path | None:
    link = published_dir / CURRENT
    return link.resolve() if link.is_symlink() else None
