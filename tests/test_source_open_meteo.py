"""Open-Meteo: real archive payloads parse to the right typed values; replay capture works."""

from datetime import date, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from city_pipeline.capture import ParseContext, run_capture
from city_pipeline.lake import saved_file
from city_pipeline.settings import load_settings
from city_pipeline.sources import open_meteo
from city_pipeline.sources.common import SourceError

SAMPLES = Path(__file__).parents[1] / "data" / "recordings" / "real-samples"


def parse_sample(name: str, hourly: list[str], daily: list[str]) -> dict[str, pa.Table]:
    path = SAMPLES / name
    landed = saved_file(path)
    ctx = ParseContext(
        source="open_meteo", day=date(2022, 12, 29), files=(landed,), settings=load_settings({})
    )
    return open_meteo.parse_batch(ctx, hourly=hourly, daily=daily)


def test_archive_hourly_and_daily_sample():
    tables = parse_sample(
        "openmeteo_archive_hourly_daily_brasilia_tpisel.json",
        ["temperature_2m"],
        ["temperature_2m_max"],
    )
    hourly = tables["open_meteo_hourly"].to_pylist()
    assert len(hourly) == 24
    assert hourly[0]["time_local"] == datetime(2022, 12, 29, 0, 0)
    assert hourly[0]["temperature_2m"] == 18.7
    assert hourly[14]["temperature_2m"] == 26.4
    assert hourly[0]["utc_offset_seconds"] == -10800
    assert hourly[0]["timezone"] == "America/Sao_Paulo"
    assert tables["open_meteo_daily"].to_pylist()[0]["temperature_2m_max"] == 26.4
    assert tables["open_meteo_daily"].schema.field("date").type == pa.date32()


def test_archive_daily_only_sample():
    tables = parse_sample(
        "openmeteo_archive_daily_brasilia_tpisel.json", [], ["temperature_2m_max"]
    )
    daily = tables["open_meteo_daily"].to_pylist()
    assert [d["date"] for d in daily][:2] == [date(2022, 12, 29), date(2022, 12, 30)]
    assert len(daily) == 11 and daily[1]["temperature_2m_max"] == 25.5


@pytest.mark.parametrize(
    ("name", "offset", "first"),
    [
        ("openmeteo_archive_hourly_paris_CET_tpisel.json", 3600, 11.8),
        # A real upstream answer labelled CEST (+2 h) in December: kept as served, not "fixed".
        ("openmeteo_archive_hourly_paris_CEST_in_december_tpisel.json", 7200, 11.9),
    ],
)
def test_paris_samples_keep_the_served_offset(name, offset, first):
    hourly = parse_sample(name, ["temperature_2m"], ["temperature_2m_max"])["open_meteo_hourly"]
    assert hourly.column("utc_offset_seconds").to_pylist() == [offset] * 24
    assert hourly.column("temperature_2m")[0].as_py() == first


def test_forecast_sample_has_the_same_column_arrays():
    hourly = parse_sample(
        "openmeteo_forecast_bangkok_2024-12-13.json",
        ["temperature_2m", "relative_humidity_2m", "rain"],
        [],
    )["open_meteo_hourly"]
    rows = hourly.to_pylist()
    assert len(rows) == 24 and rows[12]["rain"] == 0.6 and rows[0]["relative_humidity_2m"] == 73
    assert rows[0]["timezone"] == "Asia/Bangkok" and rows[0]["utc_offset_seconds"] == 25200


def test_a_requested_variable_missing_names_the_field():
    with pytest.raises(SourceError, match=r"field 'hourly.rain'"):
        parse_sample("openmeteo_archive_hourly_daily_brasilia_tpisel.json", ["rain"], [])


def test_replay_capture_of_a_khon_kaen_day_is_repeatable(tmp_path):
    settings = load_settings({"CITY_PIPELINE_DATA_DIR": str(tmp_path)})
    first = run_capture(open_meteo.CAPTURE, date(2024, 1, 15), settings)
    hourly = first.tables["open_meteo_hourly"]
    assert hourly.rows == 24 and first.tables["open_meteo_daily"].rows == 1
    assert set(hourly.schema.names) >= {"time_local", "temperature_2m", "precipitation"}
    before = pa.parquet.read_table(hourly.path).to_pylist()
    second = run_capture(open_meteo.CAPTURE, date(2024, 1, 15), settings)
    assert pa.parquet.read_table(second.tables["open_meteo_hourly"].path).to_pylist() == before
    # Both fetches stay in the landing zone; raw was rebuilt from the newest batch only.
    landing = tmp_path / "lake" / "landing" / "open_meteo" / "2024-01-15"
    assert len(list(landing.glob("*.meta.json"))) == 2
