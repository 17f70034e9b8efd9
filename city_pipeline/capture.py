"""Run one capture: fetch a partition into the landing zone, then rebuild its raw tables from the
landed bytes. Plain Python: the Dagster assets in `defs/capture.py` and the tests both call it.

A source module describes itself with a `CaptureSpec`: which raw tables it writes, how to fetch one
partition (landing every response) and how to parse a batch of landed files into Arrow tables.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa

from city_pipeline import lake
from city_pipeline.http import build_session
from city_pipeline.lake import LandedFile, LandingBatch
from city_pipeline.settings import Settings
from city_pipeline.sources.common import FetchContext, SourceError


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


def run_capture(spec: CaptureSpec, day: date, settings: Settings) -> CaptureResult:
    """Fetch one partition (landing every response) and rebuild its raw tables from that batch."""
    batch = LandingBatch(settings.lake_dir, spec.name, day)
    with build_session(spec.source, settings) as session:
        spec.fetch(
            FetchContext(source=spec.name, day=day, session=session, settings=settings, batch=batch)
        )
    batch.complete()  # only now may a rebuild from landing use this batch
    ctx = ParseContext(source=spec.name, day=day, files=tuple(batch.files), settings=settings)
    tables = write_raw_tables(spec, ctx, spec.parse(ctx), batch.lineage())
    return CaptureResult(spec=spec, day=day, batch=batch, tables=tables)


def rebuild_raw(spec: CaptureSpec, day: date, settings: Settings) -> dict[str, TableWritten]:
    """Rebuild a partition's raw tables from its newest landed batch, without calling the source."""
    batch = lake.latest_batch(settings.lake_dir, spec.name, day)
    if batch is None:
        raise SourceError(
            spec.name, day, "no complete batch landed for this partition; run the capture"
        )
    ctx = ParseContext(source=spec.name, day=day, files=tuple(batch.files), settings=settings)
    return write_raw_tables(spec, ctx, spec.parse(ctx), batch.lineage())
