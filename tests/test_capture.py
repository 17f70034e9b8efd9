"""The capture layer's window path: a backfill lands each day, then parses windows of days in one
go when the source can, and writes the same raw files as day-by-day parsing would."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import date, timedelta

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from city_pipeline import lake
from city_pipeline.capture import (
    CaptureSpec,
    ParseContext,
    parse_partitions,
    rebuild_captures,
    run_captures,
    split_by_partition,
    windows,
)
from city_pipeline.settings import load_settings
from city_pipeline.sources.common import SourceError, duckdb_connection, typed_select

FIRST = date(2024, 1, 1)
DAYS = [FIRST + timedelta(days=i) for i in range(5)]
COLUMNS = {"reading_id": "INTEGER", "value": "DOUBLE"}


def fetch_readings(ctx) -> None:
    """Lands a small JSON body per day (no HTTP: the window logic is what is under test)."""
    if ctx.day in fetch_readings.failing:
        raise ctx.unavailable("source down")
    n = ctx.day.day
    body = {"readings": [{"reading_id": n * 10 + i, "value": str(i * 1.5)} for i in range(n)]}
    if ctx.day in fetch_readings.bad:
        body["readings"][-1]["value"] = "not a number"
    ctx.batch.land(
        orjson.dumps(body),
        url="http://example/readings",
        params={},
        status=200,
        headers={},
        ext="json",
    )


fetch_readings.failing = set()
fetch_readings.bad = set()


def _select(contexts: Sequence[ParseContext]) -> pa.Table:
    con = duckdb_connection()
    files = pa.table(
        {
            "path": [str(f.path) for c in contexts for f in c.files],
            "day": [c.day for c in contexts for f in c.files],
        }
    )
    con.register("partition_files", files)
    paths = ", ".join(f"'{p}'" for p in files.column("path").to_pylist())
    con.execute(
        "CREATE TEMP TABLE staged AS SELECT f.day, r.reading_id, r.value FROM ("
        f"SELECT filename, unnest(readings, recursive := true) FROM read_json([{paths}], "
        "columns={'readings': 'STRUCT(reading_id VARCHAR, value VARCHAR)[]'}, filename=true)"
        ") r JOIN partition_files f ON f.path = r.filename ORDER BY f.day"
    )
    calls.append([c.day for c in contexts])
    return typed_select(
        con,
        "staged",
        {"day": "DATE", **COLUMNS},
        source=contexts[0].source,
        partition=contexts[0].day,
        partition_column="day",
    )


def parse_one(ctx: ParseContext) -> dict[str, pa.Table]:
    return {"readings": _select([ctx]).drop_columns(["day"])}


def parse_many(contexts: Sequence[ParseContext]) -> dict[date, dict[str, pa.Table]]:
    parts = split_by_partition(_select(contexts), "day", [c.day for c in contexts])
    return {day: {"readings": table} for day, table in parts.items()}


calls: list[list[date]] = []
SPEC = CaptureSpec(
    name="readings",
    source="open_meteo",
    tables=("readings",),
    fetch=fetch_readings,
    parse=parse_one,
    parse_window=parse_many,
    sort_keys={"readings": ("reading_id",)},
)
DAY_BY_DAY = dataclasses.replace(SPEC, parse_window=None)


@pytest.fixture
def settings(tmp_path):
    calls.clear()
    fetch_readings.failing, fetch_readings.bad = set(), set()
    return load_settings({"CITY_PIPELINE_DATA_DIR": str(tmp_path / "data")})


def raw_rows(settings, day: date) -> list[dict]:
    path = lake.raw_partition_path(settings.lake_dir, "readings", day)
    return pq.read_table(path).to_pylist()


def test_a_backfill_parses_its_days_in_one_window_and_writes_every_partition(settings):
    results = list(run_captures(SPEC, DAYS, settings))
    assert [r.day for r in results] == DAYS
    assert calls == [DAYS]  # one parse for the whole window
    for result in results:
        rows = raw_rows(settings, result.day)
        assert len(rows) == result.day.day == result.tables["readings"].rows
        assert {r["reading_id"] // 10 for r in rows} == {result.day.day}
        metadata = pq.read_schema(result.tables["readings"].path).metadata
        assert metadata[b"city_pipeline.batch_id"].decode() == result.batch.batch_id


def test_window_and_day_by_day_parsing_write_the_same_rows(settings, tmp_path):
    list(run_captures(SPEC, DAYS, settings))
    windowed = {day: raw_rows(settings, day) for day in DAYS}
    other = load_settings({"CITY_PIPELINE_DATA_DIR": str(tmp_path / "other")})
    list(run_captures(DAY_BY_DAY, DAYS, other))
    assert {day: raw_rows(other, day) for day in DAYS} == windowed
    assert all(len(c) == 1 for c in calls[1:])  # the spec without parse_window went day by day


def test_windows_are_bounded_by_landed_bytes(settings):
    batches = [lake.LandingBatch(settings.lake_dir, "readings", day) for day in DAYS]
    for batch, size in zip(batches, [40, 40, 40, 100, 10], strict=True):
        batch.files.append(lake.LandedFile(batch.directory / "x", "u", {}, 200, {}, "", "", size))
    grouped = [[b.day.day for b in w] for w in windows(batches, max_bytes=100)]
    assert grouped == [[1, 2], [3], [4], [5]]  # a batch over the limit still gets a window
    list(run_captures(SPEC, DAYS, settings, max_bytes=1))
    assert calls == [[day] for day in DAYS]


def test_a_bad_value_names_the_partition_it_came_from(settings):
    fetch_readings.bad = {DAYS[2]}
    with pytest.raises(SourceError) as caught:
        list(run_captures(SPEC, DAYS, settings))
    assert caught.value.partition == DAYS[2].isoformat()
    assert caught.value.field == "value" and "'not a number'" in str(caught.value)


def test_a_failed_fetch_keeps_landed_days_rebuildable(settings):
    fetch_readings.failing = {DAYS[3]}
    with pytest.raises(SourceError, match="source down"):
        list(run_captures(SPEC, DAYS, settings))
    rebuilt = list(rebuild_captures(SPEC, DAYS[:3], settings))
    assert [r.tables["readings"].rows for r in rebuilt] == [1, 2, 3]
    with pytest.raises(SourceError, match="no complete batch landed") as caught:
        list(rebuild_captures(SPEC, DAYS, settings))
    assert caught.value.partition == DAYS[3].isoformat()


def test_a_window_parser_that_drops_a_day_is_an_error(settings):
    spec = dataclasses.replace(SPEC, parse_window=lambda contexts: {contexts[0].day: {}})
    contexts = [ParseContext("readings", day, (), settings) for day in DAYS[:2]]
    with pytest.raises(SourceError, match=r"returned nothing for partitions \[datetime.date"):
        parse_partitions(spec, contexts)


def test_split_by_partition_slices_each_day_and_gives_empty_days_the_columns():
    table = pa.table({"day": [DAYS[0], DAYS[1], DAYS[1]], "v": [1, 3, 2]})
    parts = split_by_partition(table, "day", DAYS[:3])
    assert parts[DAYS[1]].to_pylist() == [{"v": 3}, {"v": 2}]
    assert parts[DAYS[0]].column("v").to_pylist() == [1]
    assert parts[DAYS[2]].num_rows == 0 and parts[DAYS[2]].schema == parts[DAYS[0]].schema


def test_split_by_partition_never_misplaces_or_drops_rows():
    unordered = pa.table({"day": [DAYS[1], DAYS[0], DAYS[1]], "v": [3, 1, 2]})
    with pytest.raises(ValueError, match="ordered by day"):
        split_by_partition(unordered, "day", DAYS[:2])
    with pytest.raises(ValueError, match="outside its partitions"):
        split_by_partition(pa.table({"day": [DAYS[0], DAYS[4]], "v": [1, 2]}), "day", DAYS[:2])


# --- landed bytes are checked against their sidecars before any parse


def landed_file(settings, day: date) -> lake.LandedFile:
    batch = lake.latest_batch(settings.lake_dir, SPEC.name, day)
    assert batch is not None
    return batch.files[0]


def test_a_landed_file_altered_but_still_json_stops_the_rebuild_of_its_partition(settings):
    list(run_captures(SPEC, DAYS[:3], settings))
    altered = landed_file(settings, DAYS[1])
    lake.raw_partition_path(settings.lake_dir, "readings", DAYS[1]).unlink()
    body = orjson.loads(altered.read_bytes())
    body["readings"][0]["value"] = "9.5"  # same size, still valid JSON, different value
    altered.path.write_bytes(orjson.dumps(body))
    assert altered.path.stat().st_size == altered.size
    with pytest.raises(SourceError) as caught:
        list(rebuild_captures(SPEC, DAYS[:3], settings))
    message = str(caught.value)
    assert caught.value.partition == DAYS[1].isoformat() and "source readings" in message
    assert str(altered.path) in message and "sha256 mismatch" in message
    assert altered.sha256 in message and lake.file_sha256(altered.path) in message
    assert not lake.raw_partition_path(settings.lake_dir, "readings", DAYS[1]).exists()


def test_a_truncated_landed_file_stops_the_rebuild_naming_both_sizes(settings):
    list(run_captures(SPEC, DAYS[:1], settings))
    truncated = landed_file(settings, DAYS[0])
    truncated.path.write_bytes(truncated.read_bytes()[:-5])
    with pytest.raises(SourceError, match="size mismatch") as caught:
        list(rebuild_captures(SPEC, DAYS[:1], settings))
    assert f"expected {truncated.size}, actual {truncated.size - 5}" in str(caught.value)


def test_a_lost_sidecar_stops_the_rebuild_instead_of_dropping_the_file(settings):
    list(run_captures(SPEC, DAYS[:1], settings))
    landed = landed_file(settings, DAYS[0])
    landed.sidecar.unlink()
    with pytest.raises(SourceError, match="missing file") as caught:
        list(rebuild_captures(SPEC, DAYS[:1], settings))
    assert str(landed.sidecar) in str(caught.value)


def test_a_file_altered_between_landing_and_parsing_is_refused(settings):
    """The fetch path checks too: what is parsed is what the sidecar says was received."""

    def fetch_then_tamper(ctx) -> None:
        fetch_readings(ctx)
        ctx.batch.files[0].path.write_bytes(b'{"readings": []}')

    spec = dataclasses.replace(SPEC, fetch=fetch_then_tamper)
    with pytest.raises(SourceError, match="size mismatch"):
        list(run_captures(spec, DAYS[:1], settings))
    assert not lake.raw_partition_path(settings.lake_dir, "readings", DAYS[0]).exists()


def test_an_unreadable_sidecar_stops_the_rebuild_naming_it(settings):
    list(run_captures(SPEC, DAYS[:1], settings))
    landed = landed_file(settings, DAYS[0])
    landed.sidecar.write_text('{"url": ', encoding="utf-8")
    with pytest.raises(SourceError, match="unparsable JSON") as caught:
        list(rebuild_captures(SPEC, DAYS[:1], settings))
    assert str(landed.sidecar) in str(caught.value)
