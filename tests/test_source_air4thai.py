"""Air4Thai: contract tests on every real sample, replay of the bundled recordings, bad payloads
served by a local HTTP server (live mode, no network)."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from city_pipeline import lake
from city_pipeline.capture import run_capture
from city_pipeline.settings import CITIES_DIR, RECORDINGS_DIR, load_settings
from city_pipeline.sources import air4thai
from city_pipeline.sources.common import OfflineContext, SourceError, empty_table
from city_pipeline.synth.air4thai import aqi_color_id, thai_aqi

SAMPLES = RECORDINGS_DIR / "real-samples"
STATION_03T = SAMPLES / "air4thai_getAQI_JSON_station03t_2019-02-17.json"
STATION_81T = SAMPLES / "air4thai_getNewAQI_JSON_single_station_81t_2025-03-17.json"
HISTORY_CSV = SAMPLES / "air4thai_history_hourly_as_csv_2024-02-27_4stations.csv"
LEGACY_REPR = SAMPLES / (
    "air4thai_webV2_history_data_php_03t_05t_2019-01_PYTHON_REPR_from_notebook.txt"
)
DAY = date(2024, 1, 2)
PARAMS = ["PM25", "PM10", "O3", "CO", "NO2", "SO2", "WS", "WD", "TEMP", "RH"]


class SampleFile:
    """A real sample standing in for a landed response (parsers read `.path`)."""

    def __init__(self, path: Path):
        self.path, self.url, self.headers = path, str(path), {}

    def read_bytes(self) -> bytes:
        return self.path.read_bytes()


def parse_samples(*paths: Path, **city_filter) -> list[dict]:
    err = OfflineContext(air4thai.STATIONS_TABLE, "sample")
    table = air4thai.parse_station_files(
        [SampleFile(p) for p in paths],
        err,
        source=air4thai.STATIONS_TABLE,
        partition="sample",
        **city_filter,
    )
    assert table.schema == empty_table(air4thai.STATIONS_COLUMNS).schema
    return table.to_pylist()


def by_key(rows: list[dict], station: str, hour: str) -> dict:
    stamp = datetime.fromisoformat(hour)
    return next(r for r in rows if r["station_id"] == station and r["measured_at"] == stamp)


# --- contract: the real samples, unchanged bytes ------------------------------------------


def test_station_list_envelope_sample_03t():
    [row] = parse_samples(STATION_03T)
    assert row["station_id"] == "03t"
    assert row["lat"] == 13.636514 and row["lon"] == 100.414262
    assert row["name_th"] == "ริมถนนทางหลวงหมายเลข 3902 "  # raw keeps the served text
    assert row["area_en"] == "Kanchanaphisek Rd, Bang Khun Thian, Bangkok"
    assert row["station_type"] == "GROUND"
    assert row["aqi_last_at"] == datetime(2019, 2, 17, 14, 0)
    assert (row["pm25_value"], row["pm25_aqi"]) == (26.0, 26)
    assert (row["co_value"], row["co_aqi"]) == (0.54, 3)
    assert row["so2_value"] is None  # "-1"
    assert row["so2_aqi"] is None  # "-999"
    assert (row["aqi"], row["aqi_param"], row["aqi_color_id"]) == (26, "PM10", 2)


def test_single_station_object_sample_81t():
    [row] = parse_samples(STATION_81T)
    assert row["station_id"] == "81t"
    assert row["area_th"] == "ต.นครปฐม อ.เมือง, นครปฐม"
    assert (row["lat"], row["lon"]) == (13.832076, 100.057961)
    assert row["aqi_last_at"] == datetime(2025, 3, 17, 20, 0)
    assert (row["pm25_value"], row["pm25_aqi"]) == (12.8, 21)
    assert row["pm10_value"] is None and row["pm10_aqi"] is None  # "-1"
    assert (row["aqi"], row["aqi_param"], row["aqi_color_id"]) == (21, "PM25", 1)


def test_city_filter_keeps_the_city_stations_only():
    bangkok = {"station_ids": ["02t", "05t"], "area_th_contains": ["กรุงเทพ"]}
    rows = parse_samples(STATION_03T, STATION_81T, **bangkok)
    assert [r["station_id"] for r in rows] == ["03t"]  # matched by areaTH, not by id
    khon_kaen = {"station_ids": ["46t"], "area_th_contains": ["ขอนแก่น"]}
    assert parse_samples(STATION_03T, STATION_81T, **khon_kaen) == []


def test_history_csv_sample():
    table = air4thai.parse_history_csv(HISTORY_CSV)
    assert table.schema == empty_table(air4thai.HOURLY_COLUMNS).schema
    rows = table.to_pylist()
    assert table.num_rows == 96
    assert sorted({r["station_id"] for r in rows}) == ["02t", "03t", "05t", "08t"]
    first = by_key(rows, "02t", "2024-02-27 00:00:00")
    assert (first["pm25"], first["ws"], first["temp"], first["rh"], first["wd"]) == (
        30.7,
        1.0,
        30.0,
        68.0,
        12.0,
    )
    assert first["pm10"] is None and first["so2"] is None  # empty cells (JSON null)
    assert by_key(rows, "08t", "2024-02-27 23:00:00")["pm25"] == 37.8


def test_legacy_history_repr_sample():
    table = air4thai.parse_legacy_repr(LEGACY_REPR)
    assert table.schema == empty_table(air4thai.HOURLY_COLUMNS).schema
    rows = table.to_pylist()
    assert table.num_rows == 2 * 816
    midnight = by_key(rows, "03t", "2019-01-01 00:00:00")
    assert midnight["no2"] is None and midnight["co"] is None  # '-'
    assert midnight["pm25"] == 28.0
    one = by_key(rows, "03t", "2019-01-01 01:00:00")
    assert (one["no2"], one["co"], one["o3"]) == (28.0, 1.47, 15.0)
    assert all(r["ws"] is None for r in rows)  # not requested from the legacy endpoint
    # Non-missing counts equal the `summary` counts Air4Thai computed for station 05t.
    counts = {
        c: sum(r[c] is not None for r in rows if r["station_id"] == "05t")
        for c in ("no2", "o3", "co", "pm25")
    }
    assert counts == {"no2": 775, "o3": 755, "co": 776, "pm25": 816}


def test_thai_aqi_matches_what_air4thai_reports():
    # 03t on 2019-02-17 (PM2.5 bands before June 2023) and 81t on 2025-03-17.
    before, after = date(2019, 2, 17), date(2025, 3, 17)
    assert [
        thai_aqi(p, v, before)
        for p, v in [("PM25", 26), ("PM10", 51), ("O3", 11), ("CO", 0.54), ("NO2", 30)]
    ] == [26, 26, 8, 3, 13]
    assert thai_aqi("PM25", 12.8, after) == 21
    assert [aqi_color_id(i) for i in (21, 26, 51, 101, 201)] == [1, 2, 3, 4, 5]


# --- requests ------------------------------------------------------------------------------


def test_history_requests_sorted_and_chunked():
    ids = [f"{n}t" for n in range(85)] + ["5t"]  # duplicate kept once
    requests = air4thai.history_requests(ids, PARAMS, DAY)
    assert [len(r["stationID"].split(",")) for r in requests] == [40, 40, 5]
    joined = ",".join(r["stationID"] for r in requests).split(",")
    assert joined == sorted(set(ids))
    assert requests[0] | {"stationID": "x"} == {
        "stationID": "x",
        "param": ",".join(PARAMS),
        "type": "hr",
        "sdate": "2024-01-02",
        "edate": "2024-01-02",
        "stime": "00",
        "etime": "23",
    }


# --- replay of the bundled recordings ------------------------------------------------------


def replay_settings(tmp_path: Path, city: str = "khon_kaen"):
    return load_settings(
        {
            "CITY_PIPELINE_DATA_DIR": str(tmp_path),
            "CITY_PIPELINE_CONFIG": str(CITIES_DIR / f"{city}.yaml"),
        }
    )


def raw_rows(path: Path) -> pa.Table:
    return pq.read_table(path).replace_schema_metadata(None)


def test_replay_khon_kaen_day(tmp_path):
    settings = replay_settings(tmp_path)
    stations = run_capture(air4thai.STATIONS_CAPTURE, DAY, settings)
    written = stations.tables[air4thai.STATIONS_TABLE]
    assert written.rows == 2
    assert raw_rows(written.path).column("station_id").to_pylist() == ["46t", "97t"]
    # The recorded list also holds other provinces' stations, which the filter dropped.
    err = OfflineContext(air4thai.STATIONS_TABLE, str(DAY))
    everything = air4thai.parse_station_files(stations.batch.files, err, source="t", partition="t")
    assert {"36t", "70t", "03t"} <= set(everything.column("station_id").to_pylist())

    hourly = run_capture(air4thai.HOURLY_CAPTURE, DAY, settings)
    [landed] = hourly.batch.files
    assert landed.params["stationID"] == "46t,97t"
    table = raw_rows(hourly.tables[air4thai.HOURLY_TABLE].path)
    assert table.schema == empty_table(air4thai.HOURLY_COLUMNS).schema
    assert table.num_rows == 2 * 24
    rows = table.to_pylist()
    assert {r["measured_at"].date() for r in rows} == {DAY}
    assert {r["station_id"] for r in rows} == {"46t", "97t"}
    assert sum(r["pm25"] is not None for r in rows) >= 40
    assert all(r["so2"] is None for r in rows if r["station_id"] == "97t")  # no SO2 sensor


def test_replay_bangkok_day(tmp_path):
    settings = replay_settings(tmp_path, "bangkok")
    day = date(2024, 2, 1)
    run_capture(air4thai.STATIONS_CAPTURE, day, settings)
    result = run_capture(air4thai.HOURLY_CAPTURE, day, settings)
    table = raw_rows(result.tables[air4thai.HOURLY_TABLE].path)
    assert table.num_rows == 3 * 24
    assert sorted(set(table.column("station_id").to_pylist())) == ["02t", "03t", "05t"]


def test_rerun_gives_identical_rows(tmp_path):
    settings = replay_settings(tmp_path)
    for spec, table in (
        (air4thai.STATIONS_CAPTURE, air4thai.STATIONS_TABLE),
        (air4thai.HOURLY_CAPTURE, air4thai.HOURLY_TABLE),
    ):
        first = run_capture(spec, DAY, settings)
        before = raw_rows(first.tables[table].path)
        second = run_capture(spec, DAY, settings)
        assert second.batch.batch_id != first.batch.batch_id
        assert raw_rows(second.tables[table].path).equals(before)


def test_recorded_aqi_last_agrees_with_recorded_hours(tmp_path):
    """The station snapshot describes the window's last day; its PM2.5 24-hour mean and Thai AQI
    follow from that day's hourly rows, so curation can check its own AQI against Air4Thai's."""
    settings = replay_settings(tmp_path)
    last = settings.config.recorded_window.end
    stations = raw_rows(
        run_capture(air4thai.STATIONS_CAPTURE, last, settings).tables[air4thai.STATIONS_TABLE].path
    ).to_pylist()
    hourly = raw_rows(
        run_capture(air4thai.HOURLY_CAPTURE, last, settings).tables[air4thai.HOURLY_TABLE].path
    ).to_pylist()
    for station in stations:
        assert station["aqi_last_at"] == datetime.combine(last, datetime.min.time()).replace(
            hour=23
        )
        values = [
            r["pm25"]
            for r in hourly
            if r["station_id"] == station["station_id"] and r["pm25"] is not None
        ]
        assert station["pm25_value"] == round(sum(values) / len(values), 1)
        assert station["pm25_aqi"] == thai_aqi("PM25", station["pm25_value"], last)
        assert station["aqi"] >= station["pm25_aqi"]


def test_recorded_khon_kaen_season_is_the_dry_season_peak(tmp_path):
    settings = replay_settings(tmp_path)
    means, incomplete = [], 0
    for day in (date(2024, 1, d) for d in range(1, 32)):
        rows = raw_rows(
            run_capture(air4thai.HOURLY_CAPTURE, day, settings).tables[air4thai.HOURLY_TABLE].path
        ).to_pylist()
        for station in ("46t", "97t"):
            values = [r["pm25"] for r in rows if r["station_id"] == station and r["pm25"]]
            incomplete += len(values) < 24
            if values:
                means.append(sum(values) / len(values))
    assert min(means) > 20 and max(means) < 110
    assert sum(m > 37.5 for m in means) >= 5
    assert incomplete >= 1  # missing readings happen


# --- bad and empty payloads (live mode against a local server) -----------------------------


@pytest.fixture
def live(httpserver, tmp_path):
    return load_settings(
        {
            "CITY_PIPELINE_DATA_DIR": str(tmp_path / "data"),
            "CITY_PIPELINE_SOURCE_MODE": "live",
            "CITY_PIPELINE_AIR4THAI_BASE_URL": httpserver.url_for("/"),
        }
    )


def history_body(**station_overrides) -> dict:
    station = {
        "stationID": "46t",
        "params": PARAMS,
        "data": [
            {
                "DATETIMEDATA": f"{DAY} {h:02d}:00:00",
                "PM25": 30.5 + h,
                "PM10": None,
                "O3": "-",
                "CO": -999,
                "NO2": -1.0,
                "SO2": "",
                "WS": 1,
                "WD": 90,
                "TEMP": 25,
                "RH": 60,
            }
            for h in range(24)
        ],
        "summary": {},
    }
    station.update(station_overrides)
    return {"result": "OK", "error": "", "stations": [station]}


def serve(httpserver, path: str, body) -> None:
    data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    httpserver.expect_request(path).respond_with_data(data, content_type="application/json")


def capture_error(spec, settings) -> SourceError:
    with pytest.raises(SourceError) as caught:
        run_capture(spec, DAY, settings)
    error = caught.value
    assert error.source == spec.name and error.partition == DAY.isoformat()
    assert f"source {spec.name}, partition {DAY}" in str(error)
    return error


def test_live_history_sentinels_and_partition_rows(httpserver, live):
    body = history_body()
    body["stations"][0]["data"] += [
        dict(body["stations"][0]["data"][0]),  # a repeated hour
        {"DATETIMEDATA": "2024-01-03 00:00:00", "PM25": 12.0},  # the next day's partition
    ]
    serve(httpserver, air4thai.HISTORY_PATH, body)
    result = run_capture(air4thai.HOURLY_CAPTURE, DAY, live)
    rows = raw_rows(result.tables[air4thai.HOURLY_TABLE].path).to_pylist()
    assert len(rows) == 24
    assert rows[0] == {
        "station_id": "46t",
        "measured_at": datetime(2024, 1, 2),
        "pm25": 30.5,
        "pm10": None,
        "o3": None,
        "co": None,
        "no2": None,
        "so2": None,
        "ws": 1.0,
        "wd": 90.0,
        "temp": 25.0,
        "rh": 60.0,
    }


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        (
            {"result": "ERROR", "error": "stationID not found", "stations": []},
            "result",
            "stationID not found",
        ),
        ({"result": "OK", "error": ""}, "stations", "missing"),
        ({"result": "OK", "stations": [{"stationID": "46t", "params": []}]}, "data", "missing"),
        (history_body(data=None), "data", "expected an array, got NULL"),
        ({"result": "OK", "stations": [{"params": [], "data": []}]}, "stationID", "missing"),
        (history_body(data=[{"PM25": 30.1}]), "DATETIMEDATA", "missing"),
        (history_body(data=[{"DATETIMEDATA": f"{DAY} 01:00:00", "PM25": "abc"}]), "PM25", "abc"),
        (
            history_body(data=[{"DATETIMEDATA": "yesterday", "PM25": 1}]),
            "DATETIMEDATA",
            "yesterday",
        ),
    ],
)
def test_live_history_bad_payloads_name_the_field(httpserver, live, body, field, words):
    serve(httpserver, air4thai.HISTORY_PATH, body)
    error = capture_error(air4thai.HOURLY_CAPTURE, live)
    assert error.field == field and f"field '{field}'" in str(error)
    assert words in str(error)


def test_live_history_html_page_is_reported(httpserver, live):
    serve(httpserver, air4thai.HISTORY_PATH, b"<html><body>Service Unavailable</body></html>")
    error = capture_error(air4thai.HOURLY_CAPTURE, live)
    assert "HTML page" in str(error)


@pytest.mark.parametrize("body", [history_body(data=[]), {"result": "OK", "stations": []}])
def test_live_history_empty_day_has_the_full_schema(httpserver, live, body):
    serve(httpserver, air4thai.HISTORY_PATH, body)
    result = run_capture(air4thai.HOURLY_CAPTURE, DAY, live)
    table = pq.read_table(result.tables[air4thai.HOURLY_TABLE].path)
    assert table.num_rows == 0
    assert table.schema.remove_metadata() == empty_table(air4thai.HOURLY_COLUMNS).schema


def station(station_id: str, area_th: str, pm25: str = "41.2") -> dict:
    pollutant = {"color_id": "0", "aqi": "-1", "value": "-1"}
    return {
        "stationID": station_id,
        "nameTH": "สถานี",
        "nameEN": "Station",
        "areaTH": area_th,
        "areaEN": "x",
        "stationType": "GROUND",
        "lat": "16.4",
        "long": "102.8",
        "AQILast": {
            "date": str(DAY),
            "time": "10:00",
            "PM25": {"color_id": "4", "aqi": "107", "value": pm25},
            **{p: pollutant for p in ("PM10", "O3", "CO", "NO2", "SO2")},
            "AQI": {"color_id": "4", "aqi": "107", "param": "PM25"},
        },
    }


def test_live_history_asks_for_the_stations_of_the_day(httpserver, live):
    """The station list of the day adds stations found by areaTH to the configured ids."""
    serve(
        httpserver,
        air4thai.STATIONS_PATH,
        {
            "stations": [
                station("46t", "ต.ในเมือง อ.เมือง, ขอนแก่น"),
                station("m12", "ต.บ้านเป็ด อ.เมือง, ขอนแก่น"),
                station("36t", "ต.ช้างเผือก อ.เมือง, เชียงใหม่"),
            ]
        },
    )
    serve(httpserver, air4thai.HISTORY_PATH, history_body())
    stations = run_capture(air4thai.STATIONS_CAPTURE, DAY, live)
    assert raw_rows(stations.tables[air4thai.STATIONS_TABLE].path).column(
        "station_id"
    ).to_pylist() == ["46t", "m12"]
    assert air4thai.city_station_ids(live, DAY) == ["46t", "97t", "m12"]
    hourly = run_capture(air4thai.HOURLY_CAPTURE, DAY, live)
    assert [f.params["stationID"] for f in hourly.batch.files] == ["46t,97t,m12"]


def test_live_history_without_station_list_uses_the_config(httpserver, live):
    serve(httpserver, air4thai.HISTORY_PATH, history_body())
    assert not lake.raw_partition_path(live.lake_dir, air4thai.STATIONS_TABLE, DAY).exists()
    hourly = run_capture(air4thai.HOURLY_CAPTURE, DAY, live)
    [request, _response] = httpserver.log[0]
    assert request.args["stationID"] == "46t,97t"
    assert request.args["param"] == ",".join(PARAMS)
    assert hourly.batch.files[0].params["sdate"] == str(DAY)


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"station": []}, "stations", "missing"),
        ({"stations": {"46t": {}}}, "stations", "OBJECT"),
        ({"stations": [{"nameTH": "x"}]}, "stationID", "missing"),
        ({"stations": [station("46t", "ขอนแก่น", pm25="abc")]}, "AQILast.PM25.value", "abc"),
    ],
)
def test_live_station_list_bad_payloads_name_the_field(httpserver, live, body, field, words):
    serve(httpserver, air4thai.STATIONS_PATH, body)
    error = capture_error(air4thai.STATIONS_CAPTURE, live)
    assert error.field == field and words in str(error)


def test_live_station_list_without_city_stations_is_empty(httpserver, live):
    serve(
        httpserver,
        air4thai.STATIONS_PATH,
        {"stations": [station("36t", "ต.ช้างเผือก อ.เมือง, เชียงใหม่")]},
    )
    result = run_capture(air4thai.STATIONS_CAPTURE, DAY, live)
    table = pq.read_table(result.tables[air4thai.STATIONS_TABLE].path)
    assert table.num_rows == 0
    assert table.schema.remove_metadata() == empty_table(air4thai.STATIONS_COLUMNS).schema


def test_configured_stations_missing_from_the_list_are_a_warning_not_a_failure(
    httpserver, live, caplog
):
    # The city configures 46t and 97t; today's list has 46t and an areaTH match (1t), not 97t.
    serve(
        httpserver,
        air4thai.STATIONS_PATH,
        {"stations": [station("46t", "ขอนแก่น"), station("1t", "ต.ในเมือง อ.เมือง, ขอนแก่น")]},
    )
    with caplog.at_level("WARNING", logger="city_pipeline.sources.air4thai"):
        result = run_capture(air4thai.STATIONS_CAPTURE, DAY, live)
    assert result.tables[air4thai.STATIONS_TABLE].rows == 2
    assert result.warnings == {"missing_stations": ["97t"]}
    assert result.metadata()["missing_stations"] == ["97t"]
    [warning] = [r.getMessage() for r in caplog.records]
    assert "configured station ids missing from the Air4Thai station list: 97t" in warning
    assert str(DAY) in warning and "sources.air4thai.station_ids" in warning

    from city_pipeline.defs.capture import materialize_metadata

    metadata = materialize_metadata(air4thai.STATIONS_TABLE, [result])
    assert metadata["missing_stations"].value == ["97t"]


def test_a_station_list_holding_every_configured_station_warns_of_nothing(httpserver, live):
    serve(
        httpserver,
        air4thai.STATIONS_PATH,
        {"stations": [station("97t", "ขอนแก่น"), station("46t", "ขอนแก่น")]},
    )
    result = run_capture(air4thai.STATIONS_CAPTURE, DAY, live)
    assert result.warnings == {"missing_stations": []}
