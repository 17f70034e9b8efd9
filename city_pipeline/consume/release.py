"""Publish validated marts as an atomic, versioned release under `published/`.

    published/
      validated/<mart>.parquet, <mart>.validation.json   each mart after scrubbing + validation
      validated/.scratch/                                 marts being scrubbed and validated
      releases/<release-id>/                              one complete release (read-only files)
          <mart>.parquet, <mart>.csv (UTF-8 with BOM)
          city_marts.duckdb            every mart as a table, for analysts
          datapackage.json             Frictionless Data Package (TH/EN)
          report/index.html            the offline report
          report/summary.html          the one-page executive summary (prints on one A4 page)
          validation/index.html, validation/results.json
          release.json                 manifest: row counts, sha256 of every file
      current -> releases/<release-id>  symlink, switched atomically

A mart is never held in memory whole: `prepare_mart` streams it out of the warehouse in record
batches, scrubs each batch and writes it to a scratch Parquet file, which GX then validates in
chunks (`validation.validate_parquet`); those exact bytes are what `stage_validated` links into
`validated/` and a release copies. A release streams the CSV and the analyst database from them.

A release is written into `releases/.staging-<id>/`, renamed into place, and only then does
`current` switch, by renaming a new symlink over it. A failed validation raises before anything is
written; an exception or a killed process mid-publish leaves `current` exactly as it was (stale
staging folders are removed by the next publish). Publishers take `published/.publish.lock`, so two
runs never interleave. Readers keep working during a publish: nothing they have open is rewritten,
and an old release they hold open is only unlinked, never truncated.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import secrets
import shutil
import stat
import weakref
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

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
from city_pipeline.consume.datapackage import build_datapackage, file_facts
from city_pipeline.consume.freshness import source_freshness
from city_pipeline.consume.privacy import scrub_batch
from city_pipeline.consume.provenance import data_provenance
from city_pipeline.consume.validation import ValidationOutcome, validate_parquet
from city_pipeline.consume.warehouse import open_mart
from city_pipeline.lake import atomic_path, quarantine_counts, write_bytes_atomic
from city_pipeline.settings import Settings
from city_pipeline.sql import sql_identifier, sql_text

DEFAULT_KEEP_RELEASES = 7
DATABASE_NAME = "city_marts.duckdb"
CURRENT = "current"
STAGING_PREFIX = ".staging-"
SCRATCH = ".scratch"
CSV_BATCH_ROWS = 50_000
DATABASE_MEMORY_LIMIT = "512MB"


class PublishError(RuntimeError):
    """Publishing stopped; `current` still points at the previous release."""


class ValidationFailedError(PublishError):
    def __init__(self, outcomes: list[ValidationOutcome]) -> None:
        self.outcomes = outcomes
        lines = [o.summary_line() for o in outcomes]
        for outcome in outcomes:
            lines += [f"  {outcome.mart}: {r.label} failed" for r in outcome.failed]
        super().__init__("validation failed, nothing published:\n" + "\n".join(lines))


class MartFile:
    """A Parquet file holding a mart exactly as it will be published. A scratch file (`owned`)
    is removed when nothing refers to it any more, or when the process ends."""

    def __init__(self, path: Path, owned: bool = False) -> None:
        self.path = path
        if owned:
            weakref.finalize(self, _unlink, path)

    def __repr__(self) -> str:
        return f"MartFile({str(self.path)!r})"


def _unlink(path: Path) -> None:
    path.unlink(missing_ok=True)


@dataclass(frozen=True)
class PreparedMart:
    """A mart as it will be published: privacy-scrubbed into a Parquet file, with its validation
    outcome. `table` reads the whole file: fine for the small marts, avoided for the large."""

    spec: PublishedMart
    file: MartFile
    validation: ValidationOutcome
    # Set when the mart's newest build was held back: this is then its last good version.
    hold: Mapping[str, Any] | None = None

    @property
    def stale(self) -> bool:
        return self.hold is not None

    @property
    def path(self) -> Path:
        return self.file.path

    @property
    def rows(self) -> int:
        return pq.ParquetFile(self.path).metadata.num_rows

    @property
    def schema(self) -> pa.Schema:
        return pq.ParquetFile(self.path).schema_arrow

    @property
    def table(self) -> pa.Table:
        return pq.read_table(self.path)

    def head(self, rows: int) -> pa.Table:
        batches = pq.ParquetFile(self.path).iter_batches(batch_size=max(rows, 1))
        first = next(batches, None)
        return self.schema.empty_table() if first is None else pa.Table.from_batches([first])


@dataclass(frozen=True)
class Release:
    release_id: str
    path: Path
    current: Path
    rows: dict[str, int]
    files: dict[str, dict[str, Any]]
    removed: list[str]
    stale: list[str] = dataclasses.field(default_factory=list)
    withheld: list[str] = dataclasses.field(default_factory=list)

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
        lines += [
            f"| {name} | {rows:,}{' (stale: last good version)' if name in self.stale else ''} |"
            for name, rows in self.rows.items()
        ]
        lines += [f"| {name} | withheld (never passed) |" for name in self.withheld]
        return "\n".join(lines + ["", f"Report: `{self.report}`"])


# --- preparing and staging each mart --------------------------------------------------------


def prepare_mart(
    settings: Settings,
    spec: PublishedMart,
    window: Window | None = None,
    table: pa.Table | None = None,
) -> PreparedMart:
    """Stream the mart read-only out of the warehouse (or take `table`), scrub PII batch by batch
    into a scratch Parquet file, and validate that file: exactly what will be published."""
    window = window or publish_window(settings)
    scratch = new_scratch_file(settings.published_dir, spec.name)
    columns = list(spec.free_text_columns)
    if table is None:
        with open_mart(settings.warehouse_path, spec.name, spec.schema) as reader:
            write_scrubbed(reader, scratch.path, columns)
    else:
        write_scrubbed(
            pa.RecordBatchReader.from_batches(table.schema, table.to_batches()),
            scratch.path,
            columns,
        )
    outcome = validate_parquet(spec, scratch.path, window)
    return PreparedMart(spec, scratch, outcome)


def write_scrubbed(reader: pa.RecordBatchReader, target: Path, columns: list[str]) -> int:
    """Scrub each record batch and append it to a Parquet file (zstd); returns the row count."""
    rows, writer = 0, None
    try:
        for batch in reader:
            batch = scrub_batch(batch, columns)
            if writer is None:
                writer = pq.ParquetWriter(target, batch.schema, compression="zstd")
            writer.write_batch(batch)
            rows += batch.num_rows
        if writer is None:  # no rows: still a file with the columns
            empty = scrub_batch(reader.schema.empty_table(), columns)
            writer = pq.ParquetWriter(target, empty.schema, compression="zstd")
            writer.write_table(empty)
    finally:
        if writer is not None:
            writer.close()
    return rows


def validated_dir(published_dir: Path) -> Path:
    return published_dir / "validated"


def new_scratch_file(published_dir: Path, mart: str) -> MartFile:
    """A fresh scratch path for a mart, on the same filesystem as `validated/` (so staging is a
    hard link); files left by processes that died are removed first."""
    folder = validated_dir(published_dir) / SCRATCH
    folder.mkdir(parents=True, exist_ok=True)
    for leftover in folder.glob("*.parquet"):
        pid = leftover.name.split(".")[-3] if leftover.name.count(".") >= 3 else ""
        if pid.isdigit() and not _alive(int(pid)):
            leftover.unlink(missing_ok=True)
    return MartFile(folder / f"{mart}.{os.getpid()}.{secrets.token_hex(4)}.parquet", owned=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stage_validated(published_dir: Path, prepared: PreparedMart) -> Path:
    """Keep a mart that passed validation for the next release (never one that failed)."""
    if not prepared.validation.success:
        raise ValidationFailedError([prepared.validation])
    folder = validated_dir(published_dir)
    target = folder / f"{prepared.spec.name}.parquet"
    outcome_path = folder / f"{prepared.spec.name}.validation.json"
    if prepared.path.resolve() != target.resolve():
        # No moment where the new file sits beside the old outcome: a crash in between leaves
        # the mart "not validated yet" rather than wrongly validated.
        outcome_path.unlink(missing_ok=True)
        with atomic_path(target) as tmp:
            tmp.unlink()
            try:
                os.link(prepared.path, tmp)  # the validated bytes themselves, no copy
            except OSError:
                shutil.copyfile(prepared.path, tmp)
    outcome = json.dumps(prepared.validation.to_dict(), ensure_ascii=False, indent=1)
    write_bytes_atomic(outcome_path, outcome.encode())
    hold_path(published_dir, prepared.spec.name).unlink(missing_ok=True)
    return target


def hold_path(published_dir: Path, mart: str) -> Path:
    return validated_dir(published_dir) / f"{mart}.held.json"


def hold_back(
    published_dir: Path, mart: str, reasons: list[dict[str, Any]], now: datetime | None = None
) -> dict[str, Any]:
    """Record that the mart's newest build is not published: the next release keeps its last
    good version (if it has one), marked stale with these reasons. `held_since` is the first
    hold of an unbroken run of them."""
    path = hold_path(published_dir, mart)
    at = (now or datetime.now(UTC)).isoformat(timespec="seconds")
    previous = json.loads(path.read_text("utf-8")) if path.exists() else {}
    last_good = validated_dir(published_dir) / f"{mart}.validation.json"
    hold = {
        "mart": mart,
        "held_since": previous.get("held_since", at),
        "held_at": at,
        "last_good_validated_at": (
            datetime.fromtimestamp(last_good.stat().st_mtime, UTC).isoformat(timespec="seconds")
            if last_good.exists()
            else None
        ),
        "reasons": reasons,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(path, json.dumps(hold, ensure_ascii=False, indent=1).encode())
    return hold


def read_hold(published_dir: Path, mart: str) -> dict[str, Any] | None:
    path = hold_path(published_dir, mart)
    return json.loads(path.read_text("utf-8")) if path.exists() else None


def load_validated(published_dir: Path, specs: list[PublishedMart]) -> list[PreparedMart]:
    """The staged marts for a release, each with a passing validation: the newest build, or for a
    held-back mart its last good version (`hold` set). A held-back mart that never passed is left
    out (`withheld`); a mart neither validated nor held has not been prepared yet: an error."""
    folder, prepared = validated_dir(published_dir), []
    for spec in specs:
        outcome_path = folder / f"{spec.name}.validation.json"
        table_path = folder / f"{spec.name}.parquet"
        hold = read_hold(published_dir, spec.name)
        if not outcome_path.exists() or not table_path.exists():
            if hold is not None:
                continue
            raise PublishError(
                f"{spec.name} has not been validated yet ({outcome_path} missing): "
                f"materialize published/{spec.name} first"
            )
        outcome = ValidationOutcome.from_dict(json.loads(outcome_path.read_text("utf-8")))
        prepared.append(PreparedMart(spec, MartFile(table_path), outcome, hold))
    return prepared


def withheld(published_dir: Path, specs: list[PublishedMart]) -> dict[str, dict[str, Any]]:
    """Held-back marts with no good version to fall back on: absent from the release."""
    folder = validated_dir(published_dir)
    return {
        spec.name: hold
        for spec in specs
        if (hold := read_hold(published_dir, spec.name)) is not None
        and not (folder / f"{spec.name}.validation.json").exists()
    }


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


# The CSV is written by DuckDB (`COPY ... TO`, streaming) from a SELECT that turns every column into
# the exact text the release has always published (the pandas `to_csv` of earlier releases, byte
# for byte; tests/test_consume_release.py keeps that writer as the reference):
#   strings as they are; booleans `True`/`False`; integers; doubles as Python's repr (`0.1`,
#   `1e-05`, `1.0`, `nan`, `inf`), which is DuckDB's DOUBLE -> VARCHAR apart from the sign of NaN;
#   dates `YYYY-MM-DD`; timestamps `YYYY-MM-DDTHH:MM:SS` (seconds truncated), with a zone in the
#   city's time zone plus `+07:00` (zone rules from DuckDB's ICU, as pandas had them from IANA);
#   lists as `json.dumps(..., ensure_ascii=False)`: `["a", "b"]`.
# Quoting is Python's csv.QUOTE_MINIMAL: only fields holding `,` `"` CR or LF, `"` doubled.
# DuckDB quotes an empty string (it is its NULL text) and, unless `comment ''`, a `#`: an empty
# string is written as NULL (both are an empty field, as before), or as `""` in a one-column
# table, where Python's csv writes a lone empty field that way. The byte-order mark is glued to
# the first header name (DuckDB has no option for it).
CSV_MEMORY_LIMIT = "512MB"
# One thread: the rows stream out in file order with flat memory. With more, DuckDB's
# order-preserving copy formats batches ahead and holds them until their turn (up to the memory
# limit), which here was slower as well as larger (2 M complaints: 8 s and 0.23 GB on one thread,
# 18 s and 0.66 GB on two).
CSV_THREADS = 1
BYTE_ORDER_MARK = "\ufeff"  # UTF-8 with BOM: Excel only detects UTF-8 (and so shows Thai) with it
_CSV_OPTIONS = (
    "format csv, header true, delimiter ',', quote '\"', escape '\"', nullstr '', comment '', "
    "new_line '\\r\\n'"
)
_JSON_ESCAPES = {8: "\\b", 9: "\\t", 10: "\\n", 12: "\\f", 13: "\\r"}


def _is_text(kind: pa.DataType) -> bool:
    return pa.types.is_string(kind) or pa.types.is_large_string(kind) or kind == pa.string_view()


def _json_string(value: str) -> str:
    """`json.dumps(value, ensure_ascii=False)` of a VARCHAR: text without `"`, `\\` or control
    characters is only put in quotes; the rest is escaped exactly as Python does (`\\n`, `\\u001b`
    in lower case, where DuckDB's `to_json` writes `\\u001B`)."""
    escaped = f"replace(replace({value}, '\\', '\\\\'), '\"', '\\\"')"
    for code in range(0x20):
        escape = _JSON_ESCAPES.get(code, "\\u" + format(code, "04x"))
        escaped = f"replace({escaped}, chr({code}), '{escape}')"
    plain = f"'\"' || {value} || '\"'"
    return (
        f"case when regexp_matches({value}, '[\\x00-\\x1f\"\\\\]') "
        f"then '\"' || {escaped} || '\"' else {plain} end"
    )


def _json_item(value: str, kind: pa.DataType) -> str | None:
    if _is_text(kind):
        return _json_string(value)
    if pa.types.is_integer(kind):
        return f"{value}::varchar"
    if pa.types.is_boolean(kind):
        return f"case {value} when true then 'true' when false then 'false' end"
    return None


def _zone_suffix(local: str, instant: str) -> str:
    """Python's `%z` of the offset, then `+0700` -> `+07:00` (an offset with seconds, such as
    Bangkok's +06:42:04 before 1920, stays `+064204`, as pandas wrote it)."""
    seconds = f"abs((epoch_us({local}) - epoch_us({instant})) // 1000000)"
    sign = f"case when epoch_us({local}) < epoch_us({instant}) then '-' else '+' end"
    hours = f"lpad(({seconds} // 3600)::varchar, 2, '0')"
    minutes = f"lpad(({seconds} % 3600 // 60)::varchar, 2, '0')"
    rest = f"lpad(({seconds} % 60)::varchar, 2, '0')"
    return (
        f"{sign} || {hours} || "
        f"case when {seconds} % 60 = 0 then ':' || {minutes} else {minutes} || {rest} end"
    )


def csv_text(column: str, kind: pa.DataType, timezone: str) -> str | None:
    """SQL for the CSV text of one column of Arrow type `kind` (NULL stays NULL), or None for a
    type the release does not publish."""
    if _is_text(kind):
        return column
    if pa.types.is_boolean(kind):
        return f"case {column} when true then 'True' when false then 'False' end"
    if pa.types.is_integer(kind):
        return f"{column}::varchar"
    if pa.types.is_float64(kind):
        # Not `isnan`: from Parquet min/max statistics (which leave NaN out) DuckDB 2.0 concludes
        # that a column holds no NaN and folds the test to false.
        return f"replace({column}::varchar, '-nan', 'nan')"
    if pa.types.is_date32(kind):
        return f"{column}::varchar"
    # Microseconds, as DuckDB hands out TIMESTAMP and TIMESTAMPTZ (DuckDB 2.0 cannot cast a
    # millisecond timestamp before the year 1000 to one, so other units are not accepted).
    if pa.types.is_timestamp(kind) and kind.unit == "us" and kind.tz is None:
        return f"strftime({column}, '%Y-%m-%dT%H:%M:%S')"
    if pa.types.is_timestamp(kind) and kind.unit == "us":
        # pandas formats these with Python's strftime: the year is not zero-padded (`999-12-31`)
        local = f"timezone({sql_text(timezone)}, {column})"
        text = f"year({local})::varchar || strftime({local}, '-%m-%dT%H:%M:%S')"
        return f"{text} || {_zone_suffix(local, column)}"
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        item = _json_item("csv_item", kind.value_type)
        if item is not None:
            items = f"list_transform({column}, lambda csv_item: coalesce({item}, 'null'))"
            return f"'[' || array_to_string({items}, ', ') || ']'"
    return None


def csv_select(schema: pa.Schema, timezone: str) -> str:
    """The select list that renders every column as its CSV text, the BOM on the first name."""
    if not len(schema):
        raise ValueError("a CSV needs at least one column")
    columns = []
    for number, field in enumerate(schema):
        text = csv_text(sql_identifier(field.name), field.type, timezone)
        if text is None:
            raise TypeError(f"column {field.name!r}: no CSV format for type {field.type}")
        if len(schema) == 1:
            text = f"coalesce({text}, '')"
        elif _is_text(field.type):
            text = f"nullif({text}, '')"
        name = BYTE_ORDER_MARK + field.name if number == 0 else field.name
        columns.append(f"{text} as {sql_identifier(name)}")
    return ", ".join(columns)


def write_csv(table: pa.Table | Path, target: Path, timezone: str) -> None:
    """The CSV of a Parquet file (or of a table, read `CSV_BATCH_ROWS` rows at a time), written
    by DuckDB straight from it, streaming, within `CSV_MEMORY_LIMIT`. Types the release does not
    publish (structs, float32, decimals, timestamps not in microseconds, ...) raise TypeError
    before anything is written."""
    config = {
        "memory_limit": CSV_MEMORY_LIMIT,
        "threads": CSV_THREADS,
        "preserve_insertion_order": True,
    }
    with duckdb.connect(":memory:", config=config) as connection:
        if isinstance(table, pa.Table):
            schema = table.schema
            batches = table.to_batches(max_chunksize=CSV_BATCH_ROWS)
            connection.register("csv_source", pa.RecordBatchReader.from_batches(schema, batches))
            source = "csv_source"
        else:
            schema = pq.ParquetFile(table).schema_arrow
            source = f"read_parquet({sql_text(str(table))})"
        connection.execute(
            f"copy (select {csv_select(schema, timezone)} from {source}) "
            f"to {sql_text(str(target))} ({_CSV_OPTIONS})"
        )
    with target.open("r+b") as handle:  # a first name that needs quotes: BOM before the quote
        if handle.read(4) == b'"' + BYTE_ORDER_MARK.encode():
            handle.seek(0)
            handle.write(BYTE_ORDER_MARK.encode() + b'"')


def write_database(marts: list[PreparedMart], target: Path, release_id: str) -> None:
    """One DuckDB file with every mart as a table, COMMENTs from the dbt docs, and `_release`."""
    # DuckDB keeps what it loads in memory up to 80 % of RAM by default; capped, it writes out.
    with duckdb.connect(str(target), config={"memory_limit": DATABASE_MEMORY_LIMIT}) as connection:
        for mart in marts:
            name = mart.spec.name
            connection.execute(
                f'create table "{name}" as select * from read_parquet(?)', [str(mart.path)]
            )
            connection.execute(f'comment on table "{name}" is {sql_text(mart.spec.title)}')
            for column, text in column_descriptions(name).items():
                if text and column in mart.schema.names:
                    connection.execute(f'comment on column "{name}"."{column}" is {sql_text(text)}')
        rows = [(release_id, m.spec.name, m.spec.title_en, m.spec.title_th, m.rows) for m in marts]
        connection.execute(
            "create table _release (release_id varchar, mart varchar, "
            "title_en varchar, title_th varchar, row_count bigint)"
        )
        connection.executemany("insert into _release values (?, ?, ?, ?, ?)", rows)
        connection.execute("checkpoint")


class LazyTables(Mapping[str, pa.Table]):
    """Marts by name, each read from its file only when asked for (and then kept)."""

    def __init__(self, marts: dict[str, PreparedMart]) -> None:
        self._marts, self._tables = marts, {}

    def __getitem__(self, name: str) -> pa.Table:
        if name not in self._tables:
            self._tables[name] = self._marts[name].table
        return self._tables[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._marts)

    def __len__(self) -> int:
        return len(self._marts)


def latest_report_day(marts: list[PreparedMart]) -> date | None:
    for mart in marts:
        if mart.spec.name == "mart_city_daily" and mart.rows:
            value = pc.max(mart.table.column("date")).as_py()
            return value.date() if isinstance(value, datetime) else value
    return None


def _write_report(
    settings: Settings,
    marts: list[PreparedMart],
    staging: Path,
    release_id: str,
    created: str,
    provenance: Mapping[str, Any] | None = None,
) -> None:
    from city_pipeline.report import (
        ReportInputs,
        render_report,
        render_summary,
        render_validation_summary,
    )

    tables = LazyTables({m.spec.name: m for m in marts})  # the report reads the small marts
    report_day = latest_report_day(marts)
    inputs = ReportInputs(
        city=settings.city,
        tables=tables,
        validations=[m.validation for m in marts],
        freshness=source_freshness(settings, tables, report_day),
        release_id=release_id,
        generated_at=created,
        report_day=report_day,
        stale={m.spec.name: m.hold for m in marts if m.hold is not None},
        quarantined=quarantine_counts(settings.lake_dir),
        provenance=dict(provenance or {}),
    )
    (staging / "report").mkdir()
    (staging / "report" / "index.html").write_text(render_report(inputs), encoding="utf-8")
    (staging / "report" / "summary.html").write_text(render_summary(inputs), encoding="utf-8")
    (staging / "validation").mkdir()
    (staging / "validation" / "index.html").write_text(
        render_validation_summary(inputs), encoding="utf-8"
    )
    results = [m.validation.to_dict() for m in marts]
    (staging / "validation" / "results.json").write_text(
        json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8"
    )


def _write_files(
    settings: Settings,
    marts: list[PreparedMart],
    staging: Path,
    release_id: str,
    created: str,
    provenance: Mapping[str, Any],
) -> None:
    for mart in marts:
        shutil.copyfile(mart.path, staging / f"{mart.spec.name}.parquet")  # the validated bytes
        write_csv(mart.path, staging / f"{mart.spec.name}.csv", settings.city.timezone)
    write_database(marts, staging / DATABASE_NAME, release_id)
    package = build_datapackage(
        settings.city,
        [(m.spec, m.schema, m.hold) for m in marts],
        staging,
        release_id,
        created,
        DATABASE_NAME,
    )
    package["data_provenance"] = provenance
    (staging / "datapackage.json").write_text(
        json.dumps(package, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    _write_report(settings, marts, staging, release_id, created, provenance)


def _manifest(
    marts: list[PreparedMart],
    release_id: str,
    created: str,
    missing: Mapping[str, Any] | None = None,
    provenance: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "release_id": release_id,
        "created": created,
        "rows": {m.spec.name: m.rows for m in marts},
        "validations": {m.spec.name: m.validation.summary_line() for m in marts},
        # Marts whose newest build was held back: this release carries their last good version.
        "stale": {m.spec.name: m.hold for m in marts if m.hold is not None},
        # Held back with no good version yet: not in this release.
        "withheld": dict(missing or {}),
        # Which sources and days are replayed or generated rather than live (consume/provenance.py).
        "data_provenance": dict(provenance or {}),
    }


def file_manifest(folder: Path) -> dict[str, dict[str, Any]]:
    """Size and sha256 of every file under `folder`, by path relative to it (sorted)."""
    return {
        str(p.relative_to(folder)): file_facts(p) for p in sorted(folder.rglob("*")) if p.is_file()
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


@dataclass(frozen=True)
class PublishedFolder:
    """A release folder `publish_folder` wrote and switched `current` to."""

    release_id: str
    path: Path
    current: Path
    manifest: dict[str, Any]
    removed: list[str]


# Fills a staging folder; given (staging, release_id, created), returns release.json's head (the
# manifest without "files", which `publish_folder` adds from what the folder then holds).
FolderWriter = Callable[[Path, str, str], dict[str, Any]]


def publish_folder(
    published_dir: Path, write: FolderWriter, keep: int, now: datetime | None = None
) -> PublishedFolder:
    """The atomic part of any release (a city's or a network's): under the publish lock, `write`
    fills `releases/.staging-<id>/`, release.json lists the sha256 of every file, the files become
    read-only, the folder is renamed into place, and only then does `current` switch. Any
    exception removes the staging folder and leaves `current` as it was."""
    with publish_lock(published_dir):
        remove_stale_staging(published_dir)
        release_id = new_release_id(now)
        created = datetime.now(UTC).isoformat(timespec="seconds")
        staging = published_dir / "releases" / f"{STAGING_PREFIX}{release_id}"
        final = published_dir / "releases" / release_id
        staging.mkdir(parents=True)
        try:
            manifest = write(staging, release_id, created)
            manifest["files"] = file_manifest(staging)
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
    return PublishedFolder(release_id, final, current, manifest, removed)


def publish_release(
    settings: Settings,
    marts: list[PreparedMart],
    keep: int = DEFAULT_KEEP_RELEASES,
    now: datetime | None = None,
    missing: Mapping[str, Any] | None = None,
) -> Release:
    """Write a new release from validated marts and switch `current` to it.

    Raises ValidationFailedError, before writing anything, if any mart failed its suite."""
    failed = [m.validation for m in marts if not m.validation.success]
    if failed:
        raise ValidationFailedError(failed)
    if not marts:
        raise PublishError("no marts to publish")

    def write(staging: Path, release_id: str, created: str) -> dict[str, Any]:
        provenance = data_provenance(settings.lake_dir)
        _write_files(settings, marts, staging, release_id, created, provenance)
        return _manifest(marts, release_id, created, missing, provenance)

    published = publish_folder(settings.published_dir, write, keep, now)
    manifest = published.manifest
    return Release(
        release_id=published.release_id,
        path=published.path,
        current=published.current,
        rows=manifest["rows"],
        files=manifest["files"],
        removed=published.removed,
        stale=sorted(manifest["stale"]),
        withheld=sorted(manifest["withheld"]),
    )


def current_release(published_dir: Path) -> Path | None:
    link = published_dir / CURRENT
    return link.resolve() if link.is_symlink() else None
