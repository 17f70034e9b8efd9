"""Faults of a live source, against a real local HTTP server (pytest-httpserver), no mocks.

Every case drives the real Open-Meteo capture (`run_capture`) or `common.fetch` through the real
Session factory in live/record mode, with real urllib3 retries (tiny backoff from the city YAML).
A failure must name source, partition (and field), leave no raw Parquet or temp file behind, and
keep the landed bytes with their sidecar for diagnosis.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from city_pipeline import lake
from city_pipeline.capture import CaptureResult, rebuild_raw, run_capture
from city_pipeline.http import build_session
from city_pipeline.lake import LandingBatch
from city_pipeline.settings import Settings, load_settings
from city_pipeline.sources import open_meteo
from city_pipeline.sources.common import FetchContext, SourceError, fetch

DAY = date(2024, 1, 5)
PATH = open_meteo.ARCHIVE_PATH
SECRET = "s3cret-api-key-do-not-store"


def archive_payload(settings: Settings, day: date = DAY) -> dict[str, Any]:
    """An archive answer in the real envelope; temperature_2m at hour h is 20 + h/2 (so 13:00 is
    26.5), the other variables are offset by their index."""
    om = settings.config.sources.open_meteo
    iso = day.isoformat()
    hourly = {v: [20.0 + h / 2 + i for h in range(24)] for i, v in enumerate(om.hourly)}
    daily = {v: [31.5 + i] for i, v in enumerate(om.daily)}
    return {
        "latitude": 16.4375,
        "longitude": 102.8125,
        "generationtime_ms": 0.07,
        "utc_offset_seconds": 25200,
        "timezone": "Asia/Bangkok",
        "timezone_abbreviation": "+07",
        "elevation": 165.0,
        "hourly_units": {"time": "iso8601", **{v: "" for v in om.hourly}},
        "hourly": {"time": [f"{iso}T{h:02d}:00" for h in range(24)], **hourly},
        "daily_units": {"time": "iso8601", **{v: "" for v in om.daily}},
        "daily": {"time": [iso], **daily},
    }


def serve_json(server: HTTPServer, payload: Any, status: int = 200) -> None:
    server.expect_request(PATH).respond_with_json(payload, status=status)


def capture(settings: Settings, day: date = DAY) -> CaptureResult:
    return run_capture(open_meteo.CAPTURE, day, settings)


def raw_tables(result: CaptureResult) -> dict[str, pa.Table]:
    """The raw rows as written, without the lineage metadata (which differs per batch)."""
    return {
        name: pq.read_table(w.path).replace_schema_metadata(None)
        for name, w in result.tables.items()
    }


def landing_bodies(settings: Settings, day: date = DAY) -> list[Path]:
    directory = lake.landing_dir(settings.lake_dir, open_meteo.SOURCE, day)
    return sorted(
        p for p in directory.glob("*.json") if not p.name.endswith((".meta.json", ".batch.json"))
    )


def assert_good_day(result: CaptureResult) -> None:
    tables = raw_tables(result)
    hourly, daily = tables[open_meteo.HOURLY_TABLE], tables[open_meteo.DAILY_TABLE]
    assert hourly.num_rows == 24 and daily.num_rows == 1
    assert hourly["temperature_2m"][13].as_py() == 26.5
    assert str(hourly["time_local"][13].as_py()) == "2024-01-05 13:00:00"
    assert daily["temperature_2m_max"].to_pylist() == [31.5]
    assert hourly["utc_offset_seconds"].unique().to_pylist() == [25200]


def assert_failed_cleanly(
    settings: Settings,
    error: SourceError,
    *,
    field: str | None = None,
    body: bytes | None = None,
    status: int | None = None,
    fetch_completed: bool = False,
) -> None:
    """The error names source/partition/field; nothing half-written; landed bytes kept."""
    text = str(error)
    assert error.source == "open_meteo" and error.partition == DAY.isoformat()
    assert "source open_meteo" in text and f"partition {DAY.isoformat()}" in text
    if field is not None:
        assert error.field == field and f"field '{field}'" in text
    raw_dir = settings.lake_dir / "raw"
    assert not raw_dir.exists() or not list(raw_dir.rglob("*")), "raw output left behind"
    assert not list(settings.data_dir.rglob("*.tmp")), "temp file left behind"
    landed = landing_bodies(settings)
    if body is None:
        assert landed == []
    else:
        assert [p.read_bytes() for p in landed] == [body]
        sidecar = json.loads(landed[0].with_name(landed[0].stem + ".meta.json").read_text())
        assert sidecar["status"] == status and sidecar["partition"] == DAY.isoformat()
        assert sidecar["url"].endswith(PATH) and sidecar["params"]["start_date"] == "2024-01-05"
    # A failed fetch never becomes the batch a rebuild from landing trusts.
    batch = lake.latest_batch(settings.lake_dir, open_meteo.SOURCE, DAY)
    assert (batch is not None) is fetch_completed


def test_good_day_lands_bytes_and_writes_typed_raw(httpserver, live_settings):
    settings = live_settings()
    serve_json(httpserver, archive_payload(settings))
    result = capture(settings)
    assert_good_day(result)
    ((request, _),) = httpserver.log
    assert request.args["latitude"] == "16.4419" and request.args["start_date"] == "2024-01-05"
    assert request.args["timezone"] == "Asia/Bangkok"
    (landed,) = result.batch.files
    assert landed.status == 200 and landing_bodies(settings) == [landed.path]
    assert landed.sidecar.exists()


def test_user_agent_is_sent(httpserver, live_settings):
    settings = live_settings()
    serve_json(httpserver, archive_payload(settings))
    capture(settings)
    ((request, _),) = httpserver.log
    agent = request.headers["User-Agent"]
    assert agent.startswith("city-pipeline/") and "city=khon_kaen" in agent


def test_500_then_200_is_retried_and_gives_the_right_data(httpserver, live_settings):
    settings = live_settings()
    httpserver.expect_oneshot_request(PATH).respond_with_data("oops", status=500)
    serve_json(httpserver, archive_payload(settings))
    result = capture(settings)
    assert [r.status_code for _, r in httpserver.log] == [500, 200]
    assert_good_day(result)
    # Retries happen inside the session: only the final answer is landed.
    assert [f.status for f in result.batch.files] == [200]


@pytest.mark.parametrize(
    ("retry_after", "min_wait", "max_wait"), [("1", 0.95, 5.0), (None, 0.0, 0.5)]
)
def test_429_honours_retry_after(httpserver, live_settings, retry_after, min_wait, max_wait):
    """With a tiny backoff, only the server's `Retry-After: 1` can make the retry wait ~1 s."""
    settings = live_settings()
    headers = {"Retry-After": retry_after} if retry_after else {}
    httpserver.expect_oneshot_request(PATH).respond_with_data(
        "slow down", status=429, headers=headers
    )
    serve_json(httpserver, archive_payload(settings))
    started = time.monotonic()
    result = capture(settings)
    waited = time.monotonic() - started
    assert [r.status_code for _, r in httpserver.log] == [429, 200]
    assert min_wait <= waited < max_wait
    assert_good_day(result)


@pytest.fixture
def threaded_server():
    """A server that answers each request in its own thread, so a stalled answer does not block
    the session-wide `httpserver` the other tests share."""
    server = HTTPServer(threaded=True)
    server.start()
    yield server
    server.clear()
    server.stop()


def test_read_timeout_fails_after_retries_naming_source_and_partition(
    threaded_server, live_settings
):
    settings = live_settings(base_url=threaded_server.url_for(""), timeout_read_s=0.2)
    release, attempts = threading.Event(), []

    def stall(request: Request) -> Response:
        attempts.append(time.monotonic())
        release.wait(5)  # longer than the read timeout; released when the test is done
        return Response("{}", content_type="application/json")

    threaded_server.expect_request(PATH).respond_with_handler(stall)
    try:
        with pytest.raises(SourceError, match="timed out") as caught:
            capture(settings)
    finally:
        release.set()
    assert len(attempts) == 3  # the first try and 2 read retries (FAST_RETRY["retries"] = 2)
    assert PATH in str(caught.value) and "start_date" in str(caught.value)
    assert_failed_cleanly(settings, caught.value)  # nothing arrived, so nothing is landed


def test_final_503_after_retries_is_a_clear_error(httpserver, live_settings):
    settings = live_settings()
    body = b"<html><body>503 Service Temporarily Unavailable</body></html>"
    httpserver.expect_request(PATH).respond_with_data(body, status=503, content_type="text/html")
    with pytest.raises(SourceError) as caught:
        capture(settings)
    assert len(httpserver.log) == 3
    message = str(caught.value)
    assert "HTTP 503" in message and "after 2 retries" in message and PATH in message
    assert_failed_cleanly(settings, caught.value, body=body, status=503)


def test_html_error_page_with_status_200(httpserver, live_settings):
    settings = live_settings()
    body = (
        "<!DOCTYPE html><html><head><title>ระบบขัดข้อง</title></head>"
        "<body><h1>Maintenance</h1></body></html>"
    ).encode()
    httpserver.expect_request(PATH).respond_with_data(body, content_type="text/html")
    with pytest.raises(SourceError, match="expected JSON but got an HTML page") as caught:
        capture(settings)
    assert_failed_cleanly(settings, caught.value, body=body, status=200, fetch_completed=True)


def test_truncated_json(httpserver, live_settings):
    settings = live_settings()
    full = json.dumps(archive_payload(settings)).encode()
    body = full[: len(full) // 2]
    httpserver.expect_request(PATH).respond_with_data(body, content_type="application/json")
    with pytest.raises(SourceError, match="truncated JSON") as caught:
        capture(settings)
    assert_failed_cleanly(settings, caught.value, body=body, status=200, fetch_completed=True)


def drop(*keys: str) -> Callable[[dict], None]:
    def mutate(payload: dict) -> None:
        *parents, last = keys
        target = payload
        for key in parents:
            target = target[key]
        del target[last]

    return mutate


def set_value(block: str, name: str, index: int, value: Any) -> Callable[[dict], None]:
    def mutate(payload: dict) -> None:
        payload[block][name][index] = value

    return mutate


def set_top(name: str, value: Any) -> Callable[[dict], None]:
    def mutate(payload: dict) -> None:
        payload[name] = value

    return mutate


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (drop("utc_offset_seconds"), "utc_offset_seconds"),
        (drop("hourly", "temperature_2m"), "hourly.temperature_2m"),
        (drop("daily"), "daily.time"),
    ],
    ids=["top-level", "hourly-variable", "daily-block"],
)
def test_envelope_with_a_missing_field_names_the_field(httpserver, live_settings, mutate, field):
    settings = live_settings()
    payload = archive_payload(settings)
    mutate(payload)
    body = json.dumps(payload).encode()
    httpserver.expect_request(PATH).respond_with_data(body, content_type="application/json")
    with pytest.raises(SourceError) as caught:
        capture(settings)
    assert_failed_cleanly(
        settings, caught.value, field=field, body=body, status=200, fetch_completed=True
    )


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (set_value("hourly", "temperature_2m", 5, "abc"), "hourly.temperature_2m"),
        (set_value("daily", "rain_sum", 0, "1.5"), "daily.rain_sum"),
        (set_top("latitude", "16.44"), "latitude"),
    ],
    ids=["hourly-text", "daily-numeric-string", "latitude-string"],
)
def test_value_of_the_wrong_type_names_the_field(httpserver, live_settings, mutate, field):
    settings = live_settings()
    payload = archive_payload(settings)
    mutate(payload)
    body = json.dumps(payload).encode()
    httpserver.expect_request(PATH).respond_with_data(body, content_type="application/json")
    with pytest.raises(SourceError) as caught:
        capture(settings)
    assert_failed_cleanly(
        settings, caught.value, field=field, body=body, status=200, fetch_completed=True
    )


def test_envelope_with_extra_fields_is_accepted(httpserver, live_settings):
    """APIs grow: an unrequested variable and a new block change nothing in the raw rows."""
    settings = live_settings()
    payload = archive_payload(settings)
    payload["hourly"]["soil_temperature_0cm"] = [None] * 24
    payload["minutely_15"] = {"time": ["2024-01-05T00:00"], "temperature_2m": [19.0]}
    payload["new_top_level_flag"] = True
    serve_json(httpserver, payload)
    result = capture(settings)
    assert_good_day(result)
    assert "soil_temperature_0cm" not in result.tables[open_meteo.HOURLY_TABLE].schema.names


def test_empty_day_gives_zero_rows_with_the_full_schema(httpserver, live_settings, tmp_path):
    settings = live_settings()
    serve_json(httpserver, archive_payload(settings))
    full = raw_tables(capture(settings))
    empty = archive_payload(settings)
    for block in ("hourly", "daily"):
        empty[block] = {name: [] for name in empty[block]}
    httpserver.clear()
    serve_json(httpserver, empty)
    other = live_settings(data_dir=tmp_path / "empty-day")
    tables = raw_tables(capture(other))
    for name, table in tables.items():
        assert table.num_rows == 0
        assert table.schema == full[name].schema


def test_day_of_nulls_keeps_its_hours_as_null(httpserver, live_settings):
    """The archive answers `null` for hours it has no data for yet: rows stay, values are NULL."""
    settings = live_settings()
    payload = archive_payload(settings)
    payload["hourly"]["temperature_2m"] = [None] * 24
    serve_json(httpserver, payload)
    hourly = raw_tables(capture(settings))[open_meteo.HOURLY_TABLE]
    assert hourly.num_rows == 24 and hourly["temperature_2m"].null_count == 24
    assert hourly["relative_humidity_2m"].null_count == 0


def test_rerunning_a_partition_yields_identical_raw_rows(httpserver, live_settings):
    settings = live_settings()
    serve_json(httpserver, archive_payload(settings))
    first = capture(settings)
    first_rows = raw_tables(first)
    second = capture(settings)
    assert second.batch.batch_id != first.batch.batch_id
    assert raw_tables(second) == first_rows  # no duplicates, same order
    # Both batches stay landed; a rebuild from landing takes the newest and gives the same rows.
    assert len(landing_bodies(settings)) == 2
    rebuilt = rebuild_raw(open_meteo.CAPTURE, DAY, settings)
    assert (
        pq.read_table(rebuilt[open_meteo.HOURLY_TABLE].path)
        .schema.metadata[b"city_pipeline.batch_id"]
        .decode()
        == second.batch.batch_id
    )
    assert {
        n: pq.read_table(w.path).replace_schema_metadata(None) for n, w in rebuilt.items()
    } == first_rows


def test_failed_refetch_keeps_the_previous_raw_partition(httpserver, live_settings):
    """A bad answer on a re-run must not destroy the day already captured."""
    settings = live_settings()
    serve_json(httpserver, archive_payload(settings))
    good = capture(settings)
    before = {n: w.path.read_bytes() for n, w in good.tables.items()}
    httpserver.clear()
    httpserver.expect_request(PATH).respond_with_data(b"gateway down", status=502)
    with pytest.raises(SourceError, match="HTTP 502"):
        capture(settings)
    assert {n: w.path.read_bytes() for n, w in good.tables.items()} == before
    # The failed batch is kept for diagnosis but a rebuild still uses the good one.
    assert (
        lake.latest_batch(settings.lake_dir, open_meteo.SOURCE, DAY).batch_id == good.batch.batch_id
    )


def all_stored_bytes(*roots: Path) -> bytes:
    return b"\n".join(
        p.read_bytes() for root in roots if root.exists() for p in root.rglob("*") if p.is_file()
    )


def test_secret_header_is_sent_but_never_stored_or_logged(httpserver, live_settings, caplog):
    settings = live_settings(mode="record")
    payload = archive_payload(settings)
    # Only a request that carries the key gets the payload; anything else gets "no handler" 500.
    httpserver.expect_request(PATH, headers={"api-key": SECRET}).respond_with_json(payload)
    caplog.set_level(logging.DEBUG)
    batch = LandingBatch(settings.lake_dir, open_meteo.SOURCE, DAY)
    with build_session(open_meteo.SOURCE, settings) as session:
        ctx = FetchContext(
            source=open_meteo.SOURCE, day=DAY, session=session, settings=settings, batch=batch
        )
        landed = fetch(
            ctx,
            settings.config.sources.open_meteo.base_url + PATH,
            {"start_date": DAY.isoformat()},
            headers={"api-key": SECRET},
        )
    assert landed.status == 200 and json.loads(landed.read_bytes()) == payload
    stored = all_stored_bytes(settings.data_dir, settings.recordings_dir)
    assert list(settings.recordings_dir.rglob("*.body.gz")), "record mode wrote no recording"
    assert SECRET.encode() not in stored
    assert SECRET not in caplog.text


def test_secret_named_query_parameter_is_masked_in_sidecar_and_recording(httpserver, live_settings):
    """Secrets belong in headers; if one is put in the query anyway it is not stored."""
    settings = live_settings(mode="record")
    httpserver.expect_request(PATH, query_string={"api-key": SECRET}).respond_with_json({})
    batch = LandingBatch(settings.lake_dir, open_meteo.SOURCE, DAY)
    with build_session(open_meteo.SOURCE, settings) as session:
        ctx = FetchContext(
            source=open_meteo.SOURCE, day=DAY, session=session, settings=settings, batch=batch
        )
        landed = fetch(ctx, settings.config.sources.open_meteo.base_url + PATH, {"api-key": SECRET})
    assert landed.status == 200
    sidecar = json.loads(landed.sidecar.read_text())
    assert sidecar["params"] == {"api-key": "***"}
    assert SECRET.encode() not in all_stored_bytes(settings.data_dir, settings.recordings_dir)


def test_record_then_replay_gives_identical_raw_rows(httpserver, live_settings, tmp_path):
    recording = live_settings(mode="record")
    serve_json(httpserver, archive_payload(recording))
    recorded = capture(recording)
    files = sorted(
        p.name.split(".", 1)[1] for p in (recording.recordings_dir / open_meteo.SOURCE).iterdir()
    )
    assert files == ["body.gz", "json"]
    calls = len(httpserver.log)
    # Replay with the shipped config: the real base URL, which replay never calls.
    replay = load_settings(
        {
            "CITY_PIPELINE_DATA_DIR": str(tmp_path / "replay-data"),
            "CITY_PIPELINE_RECORDINGS_DIR": str(tmp_path / "recordings"),
        }
    )
    assert replay.source_mode.value == "replay"
    replayed = capture(replay)
    assert len(httpserver.log) == calls
    assert raw_tables(replayed) == raw_tables(recorded)
    assert replayed.batch.files[0].sha256 == recorded.batch.files[0].sha256


def test_record_mode_recording_is_complete_and_clean(httpserver, live_settings):
    """The recording holds the exact body and the request, not the host's secrets."""
    settings = live_settings(mode="record")
    payload = archive_payload(settings)
    serve_json(httpserver, payload)
    capture(settings)
    (meta_path,) = (settings.recordings_dir / open_meteo.SOURCE).glob("*.json")
    meta = json.loads(meta_path.read_text())
    assert meta["status"] == 200 and meta["source"] == "open_meteo"
    assert meta["params"]["start_date"] == DAY.isoformat() and meta["url"].endswith(PATH)
    assert "content-encoding" not in meta["headers"]
    assert meta["headers"]["content-type"].startswith("application/json")
