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
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

RAW_FILE_NAME = "part-0.parquet"
BATCH_MARKER_SUFFIX = ".batch.json"
SIDECAR_SUFFIX = ".meta.json"


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
        return sidecar_path(self.path)

    def read_bytes(self) -> bytes:
        return self.path.read_bytes()

    def damage(self) -> Damage | None:
        """How the file on disk differs from what its sidecar recorded at landing, if it does."""
        return bytes_damage(self.path, self.sha256, self.size)


def bytes_damage(path: Path, sha256: str, size: int) -> Damage | None:
    """A missing file, or its size or sha256 differing from the recorded ones; `None` when equal.

    The size is checked first: a truncated file is found without reading it."""
    if not path.is_file():
        return Damage(path, "missing file", "a landed file", "none")
    actual_size = path.stat().st_size
    if actual_size != size:
        return Damage(path, "size mismatch", str(size), str(actual_size))
    digest = file_sha256(path)
    if digest != sha256:
        return Damage(path, "sha256 mismatch", sha256, digest)
    return None


@dataclass(frozen=True)
class Damage:
    """One thing wrong in the landing zone: a file, what is wrong, expected vs actual."""

    path: Path
    problem: str
    expected: str = ""
    actual: str = ""

    def describe(self) -> str:
        text = f"{self.path}: {self.problem}"
        if self.expected or self.actual:
            text += f" (expected {self.expected}, actual {self.actual})"
        return text

    def as_dict(self) -> dict[str, str]:
        return {
            "path": str(self.path),
            "problem": self.problem,
            "expected": self.expected,
            "actual": self.actual,
        }


class LandingDamaged(RuntimeError):
    """Landed bytes (or their sidecars) no longer match what was landed: never parse them."""

    def __init__(self, damage: Sequence[Damage]):
        self.damage = tuple(damage)
        super().__init__("; ".join(d.describe() for d in self.damage))


def file_sha256(path: Path) -> str:
    """A file's sha256, read in chunks (landed pages can be large)."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def read_json(path: Path) -> Any:
    """A sidecar or batch marker; an unreadable one is damage, not a traceback."""
    try:
        return json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise LandingDamaged([Damage(path, "missing file", "a JSON file", "none")]) from None
    except (OSError, ValueError) as exc:
        raise LandingDamaged([Damage(path, "unparsable JSON", "valid JSON", str(exc))]) from None


def sidecar_path(data_file: Path) -> Path:
    """`<fetch-id>.<ext>` -> `<fetch-id>.meta.json`."""
    return data_file.with_name(data_file.name.split(".")[0] + SIDECAR_SUFFIX)


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

    def damage(self) -> list[Damage]:
        """Every landed file of the batch whose bytes differ from its sidecar (empty when whole)."""
        return [d for d in (f.damage() for f in self.files) if d is not None]

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


def saved_file(path: str | Path) -> LandedFile:
    """A file no capture landed (a real sample, a manual download) seen as a landed file, so the
    parsers can read it; it has no sidecar, and its name stands for the URL in messages."""
    path = Path(path)
    return LandedFile(
        path=path,
        url=path.name,
        params={},
        status=200,
        headers={},
        fetched_at="",
        sha256="",
        size=path.stat().st_size,
    )


def landed_file(path: Path) -> LandedFile:
    """A landed file as its sidecar describes it (a lost or unreadable sidecar is damage)."""
    sidecar = sidecar_path(path)
    meta = read_json(sidecar)
    try:
        return LandedFile(
            path=path,
            url=meta["url"],
            params=meta["params"],
            status=meta["status"],
            headers=meta["headers"],
            fetched_at=meta["fetched_at"],
            sha256=meta["sha256"],
            size=meta["bytes"],
        )
    except (KeyError, TypeError) as exc:
        needed = "url, params, status, headers, fetched_at, sha256, bytes"
        raise LandingDamaged([Damage(sidecar, "unparsable sidecar", needed, repr(exc))]) from None


def latest_batch(lake_dir: Path, source: str, day: date) -> LandingBatch | None:
    """The newest complete batch landed for a partition (to rebuild raw without fetching).

    Batch ids start with their UTC timestamp, so the newest sorts last. Batches whose fetch failed
    (no `.batch.json` marker) are skipped: their files stay for diagnosis only. The marker lists
    the batch's files, so a file or sidecar lost since is `LandingDamaged`, not silently left out
    (callers check the bytes against the sidecars with `LandingBatch.damage`)."""
    directory = landing_dir(lake_dir, source, day)
    markers = sorted(directory.glob(f"*{BATCH_MARKER_SUFFIX}")) if directory.exists() else []
    if not markers:
        return None
    newest = markers[-1].name.removesuffix(BATCH_MARKER_SUFFIX)
    marker = read_json(markers[-1])
    listed = marker.get("files") if isinstance(marker, dict) else None
    if not isinstance(listed, list):
        raise LandingDamaged([Damage(markers[-1], "no file list", "a 'files' list", str(listed))])
    # In the marker's (fetch) order, each file where the marker says it is.
    paths = [directory / str(name) for name in listed]
    files = [landed_file(path) for path in paths]
    metadata = marker.get("metadata") or {}  # markers before batches carried metadata: none
    return LandingBatch(lake_dir, source, day, batch_id=newest, files=files, metadata=metadata)


def quarantine_counts(lake_dir: Path) -> dict[str, int]:
    """Quarantined values per quarantine table, over every partition of the lake (read from the
    Parquet footers: no data is scanned)."""
    counts: dict[str, int] = {}
    for path in sorted((lake_dir / "raw").glob("quarantine_*/date=*/*.parquet")):
        table = path.parent.parent.name
        counts[table] = counts.get(table, 0) + pq.ParquetFile(path).metadata.num_rows
    return {table: rows for table, rows in counts.items() if rows}
