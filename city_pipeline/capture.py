"""Run one capture: fetch a partition into the landing zone, then rebuild its raw tables from the
landed bytes. Plain Python: the Dagster assets in `defs/capture.py` and the tests both call it.

A source module describes itself with a `CaptureSpec`: which raw tables it writes, how to fetch one
partition (landing every response) and how to parse a batch of landed files into Arrow tables.
A source may also parse a window of partitions in one query (`parse_window`): a backfill or a
rebuild of raw then pays DuckDB's per-query costs once per chunk of days instead of once per day.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa

from city_pipeline import lake
from city_pipeline.http import build_session
from city_pipeline.lake import LandedFile, LandingBatch
from city_pipeline.settings import RECORDINGS_DIR, Settings, SourceMode
from city_pipeline.sources.common import FetchContext, SourceError, quarantining


@dataclass(frozen=True)
class ParseContext:
    """What a parser gets: the landed files of one batch, and who/when they belong to."""

    source: str
    day: date
    files: Sequence[LandedFile]
    settings: Settings

    def error(self, message: str, field: str | None = None) -> SourceError:
        return SourceError(self.source, self.day, message, field)


@dataclass(frozen=True)
class CaptureSpec:
    """How one capture asset of a source works."""

    name: str  # landing folder and asset name, e.g. "air4thai_hourly"
    source: str  # key in the city YAML `sources:` (settings, base URL, recordings)
    tables: tuple[str, ...]  # raw tables written, e.g. ("air4thai_hourly",)
    fetch: Callable[[FetchContext], None]
    parse: Callable[[ParseContext], dict[str, pa.Table]]
    # Columns that identify a row; raw rows are sorted by them so a re-run is identical.
    sort_keys: dict[str, tuple[str, ...]] = field(default_factory=dict)
    description: str = ""
    # Raw tables of other captures this one reads (e.g. the station list before the history).
    depends_on: tuple[str, ...] = ()
    # Parses several partitions at once (same result per day as `parse`), see `parse_partitions`.
    parse_window: Callable[[Sequence[ParseContext]], dict[date, dict[str, pa.Table]]] | None = None
    # What a partition's parsed tables show is off without failing the capture (e.g. configured
    # stations the source no longer lists): name -> the ids concerned, an empty list when none.
    # It lands in the result's metadata; the source logs a warning when it is not empty.
    warnings: Callable[[ParseContext, dict[str, pa.Table]], dict[str, list[str]]] | None = None


@dataclass(frozen=True)
class TableWritten:
    table: str
    path: Path
    rows: int
    schema: pa.Schema


@dataclass(frozen=True)
class CaptureResult:
    spec: CaptureSpec
    day: date
    batch: LandingBatch
    tables: dict[str, TableWritten]
    quarantine: TableWritten | None = None
    warnings: dict[str, list[str]] = field(default_factory=dict)  # see `CaptureSpec.warnings`

    @property
    def landed_bytes(self) -> int:
        return sum(f.size for f in self.batch.files)

    @property
    def urls(self) -> list[str]:
        return sorted({f.url for f in self.batch.files})

    def metadata(self) -> dict[str, Any]:
        return {
            "partition": self.day.isoformat(),
            "batch_id": self.batch.batch_id,
            "landing_files": len(self.batch.files),
            "landed_bytes": self.landed_bytes,
            "sha256": [f.sha256 for f in self.batch.files],
            "source_urls": self.urls,
            "quarantined_rows": self.quarantine.rows if self.quarantine else 0,
            **self.warnings,
        }


def write_raw_tables(
    spec: CaptureSpec, ctx: ParseContext, tables: dict[str, pa.Table], lineage: dict[str, str]
) -> dict[str, TableWritten]:
    missing = set(spec.tables) - set(tables)
    if missing:
        raise ctx.error(f"parser returned no table for {sorted(missing)}")
    written = {}
    for name in spec.tables:
        table = tables[name]
        keys = spec.sort_keys.get(name)
        if keys and table.num_rows:
            table = table.sort_by([(k, "ascending") for k in keys])
        path = lake.raw_partition_path(ctx.settings.lake_dir, name, ctx.day)
        lake.write_parquet_atomic(table, path, lineage)
        written[name] = TableWritten(
            table=name, path=path, rows=table.num_rows, schema=table.schema
        )
    return written


# Landed bytes parsed in one go by `parse_window`: bounds memory (a window's temp tables and
# Arrow results are held until written: up to ~12x the landed JSON for Air4Thai's nested history,
# 2.9 GB at 256 MB) while spreading per-query costs over many days (a window costs ~50 ms).
WINDOW_BYTES = 64 * 1024 * 1024


def parse_partitions(
    spec: CaptureSpec, contexts: Sequence[ParseContext]
) -> dict[date, dict[str, pa.Table]]:
    """Parse the batches of several partitions: in one go when the source can, else day by day."""
    if spec.parse_window is not None and len(contexts) > 1:
        parsed = spec.parse_window(contexts)
        missing = [c.day for c in contexts if c.day not in parsed]
        if missing:
            raise contexts[0].error(f"window parser returned nothing for partitions {missing}")
        return parsed
    return {ctx.day: spec.parse(ctx) for ctx in contexts}


def check_landed(spec: CaptureSpec, batch: LandingBatch) -> None:
    """Refuse a batch whose landed bytes differ from their sidecars (edited, truncated, lost):
    raw must only ever come from the bytes the source sent."""
    damage = batch.damage()
    if damage:
        raise landing_error(spec, batch.day, lake.LandingDamaged(damage))


def landing_error(spec: CaptureSpec, day: date, exc: lake.LandingDamaged) -> SourceError:
    return SourceError(
        spec.name,
        day,
        f"landed data is damaged, not parsed: {exc} "
        "(run `city-pipeline verify`; re-fetch the partition without --from-landing)",
    )


def quarantine_table(spec: CaptureSpec) -> str:
    """The raw table holding a capture's quarantined values: `quarantine_<capture>`."""
    return f"quarantine_{spec.name}"


def write_batches(
    spec: CaptureSpec, batches: Sequence[LandingBatch], settings: Settings
) -> dict[date, CaptureResult]:
    """Rebuild the raw tables of complete landed batches (one per partition), after checking
    every landed file against its sidecar; each partition's values that did not type go to its
    quarantine table, and its warnings (`CaptureSpec.warnings`) to its result."""
    for batch in batches:
        check_landed(spec, batch)
    contexts = [
        ParseContext(source=spec.name, day=b.day, files=tuple(b.files), settings=settings)
        for b in batches
    ]
    with quarantining() as quarantine:
        parsed = parse_partitions(spec, contexts)
    bad = split_quarantine(quarantine.table(), contexts)
    results = {}
    for ctx, batch in zip(contexts, batches, strict=True):
        tables = parsed[ctx.day]
        check_quarantine_share(spec, ctx, tables, bad[ctx.day])
        results[ctx.day] = CaptureResult(
            spec=spec,
            day=ctx.day,
            batch=batch,
            tables=write_raw_tables(spec, ctx, tables, batch.lineage()),
            quarantine=write_quarantine(spec, ctx, bad[ctx.day], batch),
            warnings=spec.warnings(ctx, tables) if spec.warnings else {},
        )
    return results


def split_quarantine(table: pa.Table, contexts: Sequence[ParseContext]) -> dict[date, pa.Table]:
    """Quarantined values per partition (a value of no known partition goes to the first)."""
    import pyarrow.compute as pc

    labels = [ctx.day.isoformat() for ctx in contexts]
    parts = {}
    for ctx, label in zip(contexts, labels, strict=True):
        mask = pc.equal(table.column("partition"), label)
        if ctx is contexts[0]:
            mask = pc.or_kleene(
                mask, pc.invert(pc.is_in(table.column("partition"), pa.array(labels)))
            )
        parts[ctx.day] = table.filter(pc.fill_null(mask, ctx is contexts[0]))
    return parts


def check_quarantine_share(
    spec: CaptureSpec, ctx: ParseContext, tables: dict[str, pa.Table], bad: pa.Table
) -> None:
    """A few bad rows are quarantined; past the source's `quarantine_max_share` of a partition's
    rows the source itself is broken (a changed format): fail the partition, naming the field."""
    if not bad.num_rows:
        return
    import pyarrow.compute as pc

    bad_rows = len(pc.unique(bad.column("row_index")))
    total = bad_rows + sum(t.num_rows for t in tables.values())
    limit = ctx.settings.source(spec.source).quarantine_max_share
    if bad_rows / total > limit:
        first = bad.slice(0, 1).to_pylist()[0]
        raise ctx.error(
            f"{bad_rows} of {total} rows ({bad_rows / total:.1%}) have values that do not type, "
            f"more than quarantine_max_share={limit:.0%}: the payload's format may have changed "
            f"(first: {first['value']!r}, {first['reason']})",
            field=first["field"],
        )


def write_quarantine(
    spec: CaptureSpec, ctx: ParseContext, bad: pa.Table, batch: LandingBatch
) -> TableWritten:
    """Write the partition's quarantine table (empty when nothing was set aside, so a re-run
    that fixed the data also clears it). The landed file is the batch's (its one file, or its
    files listed when a value could come from several)."""
    files = ", ".join(str(f.path) for f in batch.files)
    bad = bad.set_column(
        bad.schema.get_field_index("landed_file"),
        "landed_file",
        pa.array([files] * bad.num_rows, pa.string()),
    )
    path = lake.raw_partition_path(ctx.settings.lake_dir, quarantine_table(spec), ctx.day)
    lake.write_parquet_atomic(bad, path, batch.lineage())
    return TableWritten(quarantine_table(spec), path, bad.num_rows, bad.schema)


def windows(
    batches: Iterable[LandingBatch], max_bytes: int = WINDOW_BYTES
) -> Iterator[list[LandingBatch]]:
    """Group consecutive batches into windows of at most `max_bytes` landed (at least one each)."""
    window: list[LandingBatch] = []
    size = 0
    for batch in batches:
        batch_bytes = sum(f.size for f in batch.files)
        if window and size + batch_bytes > max_bytes:
            yield window
            window, size = [], 0
        window.append(batch)
        size += batch_bytes
    if window:
        yield window


def capture_metadata(settings: Settings) -> dict[str, Any]:
    """What a batch marker records about how its bytes were obtained."""
    meta: dict[str, Any] = {"source_mode": settings.source_mode.value}
    if settings.source_mode is SourceMode.REPLAY:
        # The recordings bundled in this repository are seeded, invented data (city_pipeline/synth).
        meta["generated"] = settings.recordings_dir.resolve().is_relative_to(
            RECORDINGS_DIR.resolve()
        )
    return meta


def fetch_batch(spec: CaptureSpec, day: date, settings: Settings) -> LandingBatch:
    """Fetch one partition, landing every response, and mark the batch complete."""
    batch = LandingBatch(settings.lake_dir, spec.name, day)
    with build_session(spec.source, settings) as session:
        ctx = FetchContext(
            source=spec.name, day=day, session=session, settings=settings, batch=batch
        )
        spec.fetch(ctx)
    # only now may a rebuild from landing use this batch; the mode tells a release (and its
    # report) whether these figures are live or replayed (consume/provenance.py)
    batch.complete({**ctx.batch_metadata, **capture_metadata(settings)})
    return batch


def write_windows(
    spec: CaptureSpec,
    batches: Iterable[LandingBatch],
    settings: Settings,
    max_bytes: int = WINDOW_BYTES,
) -> Iterator[CaptureResult]:
    """Rebuild raw window by window from complete batches; results come in the batches' order and
    a failure leaves earlier windows written."""
    for window in windows(batches, max_bytes):
        written = write_batches(spec, window, settings)
        for batch in window:
            yield written[batch.day]


def run_captures(
    spec: CaptureSpec, days: Iterable[date], settings: Settings, max_bytes: int = WINDOW_BYTES
) -> Iterator[CaptureResult]:
    """Fetch each partition, then rebuild its raw tables (a backfill's days parse in a few
    windows, not one parse per day)."""
    landed = (fetch_batch(spec, day, settings) for day in days)
    return write_windows(spec, landed, settings, max_bytes)


def run_capture(spec: CaptureSpec, day: date, settings: Settings) -> CaptureResult:
    """Fetch one partition (landing every response) and rebuild its raw tables from that batch."""
    (result,) = run_captures(spec, [day], settings)
    return result


def latest_batches(
    spec: CaptureSpec, days: Iterable[date], settings: Settings
) -> Iterator[LandingBatch]:
    for day in days:
        try:
            batch = lake.latest_batch(settings.lake_dir, spec.name, day)
        except lake.LandingDamaged as exc:
            raise landing_error(spec, day, exc) from None
        if batch is None:
            raise SourceError(
                spec.name, day, "no complete batch landed for this partition; run the capture"
            )
        yield batch


def rebuild_captures(
    spec: CaptureSpec, days: Iterable[date], settings: Settings, max_bytes: int = WINDOW_BYTES
) -> Iterator[CaptureResult]:
    """Rebuild raw from each partition's newest complete landed batch, without calling the
    source (after a parser fix, or to re-derive raw on another machine)."""
    return write_windows(spec, latest_batches(spec, days, settings), settings, max_bytes)


def rebuild_raw(spec: CaptureSpec, day: date, settings: Settings) -> dict[str, TableWritten]:
    """Rebuild a partition's raw tables from its newest landed batch, without calling the source."""
    (result,) = rebuild_captures(spec, [day], settings)
    return result.tables


def split_by_partition(table: pa.Table, column: str, keys: Iterable[Any]) -> dict[Any, pa.Table]:
    """A window's rows per partition: `keys` are the partitions' values in `column` (a day, or a
    position in the window), which is dropped. Parsers emit a window ordered by `column`, so each
    partition is one zero-copy slice, whatever the number of days; one without rows gets an empty
    table with the same columns."""
    import pyarrow.compute as pc  # the capture path only; keeps loading definitions light

    values = table.column(column)
    if len(values) > 1 and not pc.all(pc.less_equal(values[:-1], values[1:])).as_py():
        raise ValueError(f"a window's rows must be ordered by {column}")
    counts = {c["values"]: c["counts"] for c in pc.value_counts(values).to_pylist()}
    rows, start, parts = table.drop_columns([column]), 0, {}
    keys = list(keys)
    for key in sorted(keys):
        parts[key] = rows.slice(start, counts.get(key, 0))
        start += counts.get(key, 0)
    if start != table.num_rows:  # rows of a partition not asked for: never drop them silently
        raise ValueError(f"a window's rows hold {column} values outside its partitions")
    return {key: parts[key] for key in keys}
