"""The lake: landed bytes are immutable and described by a sidecar, raw Parquet is written
atomically, and a rebuild takes the newest complete landing batch only."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from city_pipeline import lake
from city_pipeline.lake import LandingBatch

DAY = date(2024, 1, 5)
BODY = '{"stations": [{"stationID": "46t", "nameTH": "ขอนแก่น"}]}'.encode()


def land(batch: LandingBatch, body: bytes = BODY, **overrides) -> lake.LandedFile:
    call = {
        "url": "http://air4thai.pcd.go.th/services/getNewAQI_JSON.php",
        "params": {"stationID": "46t"},
        "status": 200,
        "headers": {"content-type": "application/json", "etag": '"abc"'},
        "ext": "json",
    }
    return batch.land(body, **{**call, **overrides})


def test_landing_keeps_exact_bytes_and_a_full_sidecar(tmp_path):
    batch = LandingBatch(tmp_path, "air4thai", DAY)
    now = datetime.now(UTC)
    before = now.replace(microsecond=now.microsecond // 1000 * 1000)  # sidecar keeps ms
    landed = land(batch)
    assert landed.path.parent == tmp_path / "landing" / "air4thai" / "2024-01-05"
    assert landed.path.read_bytes() == BODY and landed.read_bytes() == BODY
    sidecar = json.loads(landed.sidecar.read_text(encoding="utf-8"))
    assert sidecar["url"] == "http://air4thai.pcd.go.th/services/getNewAQI_JSON.php"
    assert sidecar["params"] == {"stationID": "46t"}
    assert sidecar["status"] == 200
    assert sidecar["headers"] == {"content-type": "application/json", "etag": '"abc"'}
    assert sidecar["sha256"] == hashlib.sha256(BODY).hexdigest() == landed.sha256
    assert sidecar["bytes"] == len(BODY) and sidecar["file"] == landed.path.name
    assert sidecar["batch_id"] == batch.batch_id and sidecar["partition"] == "2024-01-05"
    fetched_at = datetime.fromisoformat(sidecar["fetched_at"])
    assert fetched_at.tzinfo is not None and before <= fetched_at <= datetime.now(UTC)


def test_landing_never_overwrites(tmp_path):
    first = LandingBatch(tmp_path, "air4thai", DAY, batch_id="20240105T000000000000Z-aaaaaa")
    kept = land(first)
    # A second batch object with the same id would pick the same file name: it must refuse.
    clash = LandingBatch(tmp_path, "air4thai", DAY, batch_id=first.batch_id)
    with pytest.raises(FileExistsError, match="immutable"):
        land(clash, b"different bytes")
    assert kept.path.read_bytes() == BODY
    assert json.loads(kept.sidecar.read_text())["sha256"] == hashlib.sha256(BODY).hexdigest()
    assert clash.files == []


def test_responses_of_one_batch_get_distinct_names(tmp_path):
    batch = LandingBatch(tmp_path, "traffy", DAY)
    pages = [land(batch, f'{{"page": {n}}}'.encode(), params={"offset": n * 100}) for n in range(3)]
    assert len({p.path for p in pages}) == 3
    assert [p.path.read_bytes() for p in pages] == [b'{"page": 0}', b'{"page": 1}', b'{"page": 2}']


def table(values: list[int]) -> pa.Table:
    return pa.table(
        {
            "station_id": pa.array([f"{v}t" for v in values]),
            "pm25": pa.array([float(v) for v in values]),
        }
    )


def test_parquet_write_keeps_lineage_in_file_metadata(tmp_path):
    target = lake.raw_partition_path(tmp_path, "air4thai_hourly", DAY)
    assert target == tmp_path / "raw" / "air4thai_hourly" / "date=2024-01-05" / "part-0.parquet"
    lake.write_parquet_atomic(table([1, 2]), target, {"city_pipeline.batch_id": "b1"})
    written = pq.read_table(target)
    assert written["pm25"].to_pylist() == [1.0, 2.0]
    assert written.schema.metadata[b"city_pipeline.batch_id"] == b"b1"


def unwritable_table() -> pa.Table:
    """A table Parquet cannot hold. pyarrow opens the output before it fails (and deletes it):
    written in place, it would destroy the previous partition file."""
    return pa.table(
        {
            "station_id": pa.array(["46t"]),
            "gap": pa.array([pa.scalar((1, 2, 3), pa.month_day_nano_interval())]),
        }
    )


def test_failed_parquet_write_leaves_the_old_file_intact(tmp_path):
    target = lake.raw_partition_path(tmp_path, "air4thai_hourly", DAY)
    lake.write_parquet_atomic(table([1, 2, 3]), target)
    before = target.read_bytes()
    with pytest.raises(pa.ArrowException):
        lake.write_parquet_atomic(unwritable_table(), target)
    assert target.read_bytes() == before
    assert sorted(p.name for p in target.parent.iterdir()) == ["part-0.parquet"]  # no temp file


def test_write_failing_midway_leaves_no_partial_file(tmp_path):
    """Half the bytes written, then a crash: the target is untouched and the temp file is gone."""
    target = tmp_path / "raw" / "t" / "date=2024-01-05" / "part-0.parquet"
    lake.write_parquet_atomic(table([7]), target)
    before = target.read_bytes()
    with pytest.raises(OSError, match="disk full"), lake.atomic_path(target) as tmp:
        tmp.write_bytes(before[: len(before) // 2])
        raise OSError("disk full")
    assert target.read_bytes() == before
    assert list(target.parent.iterdir()) == [target]


def test_first_write_that_fails_leaves_nothing(tmp_path):
    target = lake.raw_partition_path(tmp_path, "air4thai_hourly", DAY)
    with pytest.raises(pa.ArrowException):
        lake.write_parquet_atomic(unwritable_table(), target)
    assert list(target.parent.iterdir()) == []


def complete_batch(lake_dir: Path, batch_id: str, bodies: list[bytes]) -> LandingBatch:
    batch = LandingBatch(lake_dir, "traffy", DAY, batch_id=batch_id)
    for n, body in enumerate(bodies):
        land(batch, body, params={"offset": n})
    batch.complete()
    return batch


def test_latest_batch_picks_the_newest_batch_only(tmp_path):
    complete_batch(tmp_path, "20240105T010000000000Z-aaaaaa", [b"old-0", b"old-1", b"old-2"])
    newest = complete_batch(tmp_path, "20240105T020000000000Z-bbbbbb", [b"new-0", b"new-1"])
    complete_batch(tmp_path, "20240105T003000000000Z-cccccc", [b"older"])  # landed last, older id
    found = lake.latest_batch(tmp_path, "traffy", DAY)
    assert found is not None and found.batch_id == newest.batch_id
    assert [f.read_bytes() for f in found.files] == [b"new-0", b"new-1"]  # in fetch order
    assert [f.params for f in found.files] == [{"offset": 0}, {"offset": 1}]
    assert [f.sha256 for f in found.files] == [f.sha256 for f in newest.files]


def test_latest_batch_skips_a_batch_whose_fetch_did_not_finish(tmp_path):
    good = complete_batch(tmp_path, "20240105T010000000000Z-aaaaaa", [b"page-0", b"page-1"])
    half = LandingBatch(tmp_path, "traffy", DAY, batch_id="20240105T020000000000Z-bbbbbb")
    land(half, b"page-0")  # page 1 never came: no completion marker
    found = lake.latest_batch(tmp_path, "traffy", DAY)
    assert found is not None and found.batch_id == good.batch_id
    assert half.files[0].path.exists()  # kept for diagnosis


def test_latest_batch_of_an_empty_partition_is_none(tmp_path):
    assert lake.latest_batch(tmp_path, "traffy", DAY) is None
    land(LandingBatch(tmp_path, "traffy", DAY))  # landed but never completed
    assert lake.latest_batch(tmp_path, "traffy", DAY) is None


def test_batch_id_starts_with_its_utc_time_so_ids_sort_in_time_order():
    batch_id = lake.new_batch_id()
    stamp, token = batch_id.split("-")
    started = datetime.strptime(stamp, "%Y%m%dT%H%M%S%fZ").replace(tzinfo=UTC)
    assert abs((datetime.now(UTC) - started).total_seconds()) < 5
    assert len(token) == 6 and int(token, 16) >= 0


def test_complete_keeps_the_fetch_metadata_in_the_marker(tmp_path):
    batch = LandingBatch(tmp_path, "traffy", DAY)
    land(batch)
    paging = {"pages": 1, "rows": 3, "requested_limit": 100, "effective_page_size": 3}
    marker = batch.complete({"paging": paging})
    assert lake.read_batch_marker(marker)["metadata"] == {"paging": paging}
    found = lake.latest_batch(tmp_path, "traffy", DAY)
    assert found is not None and found.metadata == {"paging": paging}


def test_a_marker_written_before_batch_metadata_still_reads(tmp_path):
    batch = complete_batch(tmp_path, "20240105T010000000000Z-aaaaaa", [b"page-0"])
    marker = batch.directory / f"{batch.batch_id}{lake.BATCH_MARKER_SUFFIX}"
    old = json.loads(marker.read_text("utf-8"))
    del old["metadata"]  # the marker as complete() wrote it before it took metadata
    marker.write_text(json.dumps(old), "utf-8")
    assert lake.read_batch_marker(marker)["metadata"] == {}
    assert lake.read_batch_marker(marker)["files"] == old["files"]
    found = lake.latest_batch(tmp_path, "traffy", DAY)
    assert found is not None and found.metadata == {} and len(found.files) == 1
