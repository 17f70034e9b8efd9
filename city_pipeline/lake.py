"""Paths and atomic writes for the lake under `CITY_PIPELINE_DATA_DIR`.

    lake/landing/<source>/<date>/<fetch-id>.<ext>        exact bytes as received, never overwritten
    lake/landing/<source>/<date>/<fetch-id>.meta.json    sidecar: url, params, status, headers,
                                                          fetched_at, sha256, bytes
    lake/landing/<source>/<date>/<batch-id>.batch.json   written when the batch's fetch finished:
                                                          files, completed_at, and `metadata` from
                                                          the fetch (e.g. `paging`: pages, rows,
                                                          effective page size, reported total)
    lake/raw/<table>/date=YYYY-MM-DD/part-0.parquet      rebuilt from one landing batch, atomically

One capture of a partition is a *batch*: every response it fetched shares the batch id
(`<UTC timestamp>-<random>`), so the raw table can always be rebuilt from one complete batch and a
re-run never mixes two fetches into duplicates. A fetch that fails half-way (page 3 of 5 answers
503) keeps its landed pages for diagnosis but never writes `<batch-id>.batch.json`, so a rebuild
from landing never takes an incomplete batch for the whole day.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

RAW_FILE_NAME = "part-0.parquet"
BATCH_MARKER_SUFFIX = ".batch.json"


def landing_dir(lake_dir: Path, source: str, day: date) -> Path:
    return lake_dir / "landing" / source / day.isoformat()


def raw_table_dir(lake_dir: Path, table: str) -> Path:
    return lake_dir / "raw" / table


def raw_partition_path(lake_dir: Path, table: str, day: date) -> Path:
    return raw_table_dir(lake_dir, table) / f"date={day.isoformat()}" / RAW_FILE_NAME


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temp path beside `target`; on success rename it over `target` in one step.

    A crash or an exception leaves `target` as it was and removes the temp file; readers never
    see a half-written file because `os.replace` is atomic on one filesystem.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(handle)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes_atomic(target: Path, data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def write_parquet_atomic(
    table: pa.Table, target: Path, metadata: dict[str, str] | None = None
) -> None:
    """Write one Parquet file atomically, with lineage in the file's key-value metadata."""
    if metadata:
        merged = dict(table.schema.metadata or {})
        merged.update({k.encode(): v.encode() for k, v in metadata.items()})
        table = table.replace_schema_metadata(merged)
    with atomic_path(target) as tmp:
        pq.write_table(table, tmp, compression="zstd")


@dataclass(frozen=True)
class LandedFile:
    """One response as it arrived, and where its bytes are kept."""

    path: Path
    url: str
    params: dict[str, Any]
    status: int
    headers: dict[str, str]
    fetched_at: str
    sha256: str
    size: int

    @property
    def sidecar(self) -> Path:
        return self.path.with_name(self.path.name.split(".")[0] + ".meta.json")

    def read_bytes(self) -> bytes:
        return self.path.read_bytes()


@dataclass
class LandingBatch:
    """The responses of one capture of one partition of one source."""

    lake_dir: Path
    source: str
    day: date
    batch_id: str = field(default_factory=lambda: new_batch_id())
    files: list[LandedFile] = field(default_factory=list)
    # What the fetch said about the batch (how it paged); kept in the marker by `complete()`.
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def directory(self) -> Path:
        return landing_dir(self.lake_dir, self.source, self.day)

    def land(
        self,
        body: bytes,
        *,
        url: str,
        params: dict[str, Any],
        status: int,
        headers: dict[str, str],
        ext: str,
    ) -> LandedFile:
        """Keep the exact bytes first, before anything parses them, so bad payloads stay for
        diagnosis. A landed file is never overwritten: names are unique per batch and sequence."""
        fetched_at = datetime.now(UTC).isoformat(timespec="milliseconds")
        fetch_id = f"{self.batch_id}-{len(self.files):04d}"
        path = self.directory / f"{fetch_id}.{ext}"
        if path.exists():
            raise FileExistsError(f"landing file {path} already exists; landed data is immutable")
        digest = hashlib.sha256(body).hexdigest()
        landed = LandedFile(
            path=path,
            url=url,
            params=params,
            status=status,
            headers=headers,
            fetched_at=fetched_at,
            sha256=digest,
            size=len(body),
        )
        write_bytes_atomic(path, body)
        sidecar = {
            "source": self.source,
            "partition": self.day.isoformat(),
            "batch_id": self.batch_id,
            "fetch_id": fetch_id,
            "url": url,
            "params": params,
            "status": status,
            "headers": headers,
            "fetched_at": fetched_at,
            "sha256": digest,
            "bytes": len(body),
            "file": path.name,
        }
        write_bytes_atomic(
            landed.sidecar, json.dumps(sidecar, ensure_ascii=False, indent=1).encode()
        )
        self.files.append(landed)
        return landed

    def complete(self, metadata: Mapping[str, Any] | None = None) -> Path:
        """Mark the batch whole: its fetch landed every response it needed. `metadata` (JSON
        values, e.g. `{"paging": {...}}`) is kept in the marker under `metadata`."""
        marker = self.directory / f"{self.batch_id}{BATCH_MARKER_SUFFIX}"
        if metadata is not None:
            self.metadata = dict(metadata)
        manifest = {
            "source": self.source,
            "partition": self.day.isoformat(),
            "batch_id": self.batch_id,
            "files": [f.path.name for f in self.files],
            "completed_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "metadata": self.metadata,
        }
        write_bytes_atomic(marker, json.dumps(manifest, ensure_ascii=False, indent=1).encode())
        return marker

    def lineage(self) -> dict[str, str]:
        """Key-value metadata stored in the raw Parquet file this batch produced."""
        return {
            "city_pipeline.source": self.source,
            "city_pipeline.partition": self.day.isoformat(),
            "city_pipeline.batch_id": self.batch_id,
            "city_pipeline.landing_files": json.dumps(
                [{"file": f.path.name, "sha256": f.sha256, "url": f.url} for f in self.files],
                ensure_ascii=False,
            ),
        }


def new_batch_id() -> str:
    return f"{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}-{secrets.token_hex(3)}"


def read_batch_marker(marker: Path) -> dict[str, Any]:
    """A batch marker as a dict; markers written before batches carried metadata get an empty
    `metadata` mapping, so readers never need to tell the two apart."""
    manifest = json.loads(marker.read_text("utf-8"))
    manifest.setdefault("metadata", {})
    return manifest


def latest_batch(lake_dir: Path, source: str, day: date) -> LandingBatch | None:
    """The newest complete batch landed for a partition (to rebuild raw without fetching).

    Batch ids start with their UTC timestamp, so the newest sorts last. Batches whose fetch failed
    (no `.batch.json` marker) are skipped: their files stay for diagnosis only."""
    directory = landing_dir(lake_dir, source, day)
    markers = sorted(directory.glob(f"*{BATCH_MARKER_SUFFIX}")) if directory.exists() else []
    if not markers:
        return None
    newest = markers[-1].name.removesuffix(BATCH_MARKER_SUFFIX)
    metadata = read_batch_marker(markers[-1])["metadata"]
    sidecars = sorted(directory.glob(f"{newest}-*.meta.json"))
    metas = [json.loads(p.read_text("utf-8")) for p in sidecars]
    files = [
        LandedFile(
            path=directory / m["file"],
            url=m["url"],
            params=m["params"],
            status=m["status"],
            headers=m["headers"],
            fetched_at=m["fetched_at"],
            sha256=m["sha256"],
            size=m["bytes"],
        )
        for m in sorted(metas, key=lambda m: m["fetch_id"])
        if m["batch_id"] == newest
    ]
    return LandingBatch(lake_dir, source, day, batch_id=newest, files=files, metadata=metadata)
