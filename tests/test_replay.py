"""Replay mode: bundled recordings answer through a requests transport adapter, never a socket."""

from __future__ import annotations

from datetime import date

import pyarrow.parquet as pq
import pytest
import requests

from city_pipeline.capture import CaptureResult, run_capture
from city_pipeline.http import MissingRecordingError, RequestKey, build_session
from city_pipeline.settings import load_settings
from city_pipeline.sources import open_meteo
from city_pipeline.sources.common import SourceError

DAY = date(2024, 1, 5)  # inside Khon Kaen's recorded window
# Port 9 (discard) on the loopback: nothing answers there, so any real call would fail.
DEAD_URL = "http://127.0.0.1:9"


def rows(result: CaptureResult) -> dict:
    return {
        n: pq.read_table(w.path).replace_schema_metadata(None) for n, w in result.tables.items()
    }


def test_request_without_recording_names_source_url_and_params(tmp_path):
    settings = load_settings(
        {
            "CITY_PIPELINE_DATA_DIR": str(tmp_path / "data"),
            "CITY_PIPELINE_RECORDINGS_DIR": str(tmp_path / "empty"),
        }
    )
    with pytest.raises(SourceError) as caught:
        run_capture(open_meteo.CAPTURE, DAY, settings)
    message = str(caught.value)
    assert caught.value.source == "open_meteo" and caught.value.partition == "2024-01-05"
    assert "no recording for GET https://archive-api.open-meteo.com/v1/archive" in message
    assert "'start_date': '2024-01-05'" in message and "'latitude': '16.4419'" in message
    assert "CITY_PIPELINE_SOURCE_MODE=record" in message
    assert not (settings.lake_dir / "raw").exists()


def test_day_outside_the_recorded_window_has_no_recording(tmp_path):
    """The bundled recordings are real files; a day nobody recorded is a clear error."""
    settings = load_settings({"CITY_PIPELINE_DATA_DIR": str(tmp_path)})
    with pytest.raises(SourceError, match=r"no recording for GET .*'start_date': '2023-06-01'"):
        run_capture(open_meteo.CAPTURE, date(2023, 6, 1), settings)


def test_session_raises_missing_recording_for_unknown_params(tmp_path):
    settings = load_settings({"CITY_PIPELINE_DATA_DIR": str(tmp_path)})
    with (
        build_session("open_meteo", settings) as session,
        pytest.raises(MissingRecordingError) as caught,
    ):
        session.get(DEAD_URL + "/v1/archive", params={"latitude": "0.0", "api-key": "secret"})
    message = str(caught.value)
    assert "source open_meteo" in message and "/v1/archive" in message
    assert "'latitude': '0.0'" in message and "'api-key': '***'" in message
    assert "secret" not in message
    assert isinstance(caught.value, requests.RequestException)


def test_replay_ignores_the_host_after_a_base_url_override(tmp_path):
    plain = load_settings({"CITY_PIPELINE_DATA_DIR": str(tmp_path / "plain")})
    moved = load_settings(
        {
            "CITY_PIPELINE_DATA_DIR": str(tmp_path / "moved"),
            "CITY_PIPELINE_OPEN_METEO_BASE_URL": DEAD_URL,
        }
    )
    assert moved.config.sources.open_meteo.base_url == DEAD_URL
    expected = run_capture(open_meteo.CAPTURE, DAY, plain)
    replayed = run_capture(open_meteo.CAPTURE, DAY, moved)
    assert replayed.urls == [DEAD_URL + "/v1/archive"]
    assert rows(replayed) == rows(expected)
    assert rows(replayed)[open_meteo.HOURLY_TABLE].num_rows == 24
    assert replayed.batch.files[0].sha256 == expected.batch.files[0].sha256


def test_replay_key_leaves_out_the_host_and_sorts_params():
    a = RequestKey.for_call(
        "GET", "https://archive-api.open-meteo.com/v1/archive", {"b": "2", "a": "1"}
    )
    b = RequestKey.for_call("get", DEAD_URL + "/v1/archive?a=1", {"b": "2"})
    assert a == b and a.digest == b.digest
    assert RequestKey.for_call("GET", DEAD_URL + "/v1/archive", {"a": "1"}) != a
