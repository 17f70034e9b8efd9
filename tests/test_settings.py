"""City configuration: shipped cities load, bad files fail naming file and key, environment
overrides work, and a city is switched by configuration alone."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from city_pipeline.capture import run_capture
from city_pipeline.settings import (
    CITIES_DIR,
    DEFAULT_CITY_FILE,
    ConfigError,
    SourceMode,
    load_city_config,
    load_settings,
)
from city_pipeline.sources import open_meteo

SHIPPED = sorted(CITIES_DIR.glob("*.yaml"))


def test_at_least_two_cities_ship_and_khon_kaen_is_the_default():
    assert {p.stem for p in SHIPPED} >= {"khon_kaen", "bangkok"}
    assert DEFAULT_CITY_FILE.name == "khon_kaen.yaml"
    settings = load_settings({})
    assert settings.city.slug == "khon_kaen" and settings.source_mode is SourceMode.REPLAY


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_city_loads(path: Path):
    config = load_city_config(path, env={})
    city = config.city
    assert city.slug == path.stem and city.timezone == "Asia/Bangkok"
    assert all(code.startswith(city.province_code) for code in city.district_codes)
    assert config.recorded_window.start <= config.recorded_window.end
    # Khon Kaen and Bangkok record two months and more; later cities a short window (3-4 weeks).
    assert (config.recorded_window.end - config.recorded_window.start).days >= 20
    for source in ("air4thai", "traffy", "open_meteo", "ckan", "dopa"):
        assert getattr(config.sources, source).base_url.startswith(("http://", "https://"))


def test_shipped_cities_hold_their_own_codes():
    khon_kaen = load_city_config(CITIES_DIR / "khon_kaen.yaml", env={}).city
    bangkok = load_city_config(CITIES_DIR / "bangkok.yaml", env={}).city
    assert (khon_kaen.province_code, khon_kaen.district_codes) == ("40", ["4001"])
    assert khon_kaen.subdistrict_codes[0] == "400101" and len(khon_kaen.subdistrict_codes) == 18
    assert bangkok.province_code == "10" and len(bangkok.district_codes) == 50


def config_error(path: Path, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        load_settings({"CITY_PIPELINE_CONFIG": str(path), **(env or {})})
    return str(caught.value)


@pytest.mark.parametrize(
    ("overrides", "key", "says"),
    [
        ({"city": {"centre": {"lat": 45.0}}}, "city.centre.lat", "less than or equal to 21"),
        (
            {"sources": {"open_meteo": {"hourly_variables": ["x"]}}},
            "sources.open_meteo.hourly_variables",
            "Extra inputs are not permitted",
        ),
        (
            {"city": {"district_codes": ["4001", "4101"]}},
            "city.district_codes",
            "district code 4101 is not a 4-digit code in province 40",
        ),
        (
            {"city": {"subdistrict_codes": ["400101", "400201"]}},
            "city.subdistrict_codes",
            "subdistrict code 400201",
        ),
        ({"city": {"province_code": "4"}}, "city.province_code", "should match pattern"),
        (
            {"sources": {"traffy": {"base_url": "ftp://example.org"}}},
            "sources.traffy.base_url",
            "must start with http:// or https://",
        ),
        (
            {"recorded_window": {"start": "2024-03-31", "end": "2024-01-01"}},
            "recorded_window",
            "is before start",
        ),
        (
            {"sources": {"traffy": {"cadence": "weekly"}}},
            "sources.traffy.cadence",
            "cadence 'weekly' is not one the pipeline runs: 'daily'",
        ),
    ],
    ids=[
        "bad-lat",
        "unknown-key",
        "district-not-in-province",
        "subdistrict-not-in-districts",
        "bad-province-code",
        "bad-base-url",
        "window-backwards",
        "cadence-no-job-runs",
    ],
)
def test_bad_config_names_file_and_key(city_yaml, overrides, key, says):
    path = city_yaml(overrides, name="broken.yaml")
    message = config_error(path)
    assert str(path) in message
    assert f": {key}: " in message and says in message and "\n" not in message


@pytest.mark.parametrize(
    ("overrides", "key", "says"),
    [
        (
            {"city": {"province_code": "99"}},
            "city.province_code",
            "province code 99 does not exist in the DOPA reference "
            "dbt_project/seeds/reference/th_provinces.csv; nearest valid: 96 Narathiwat",
        ),
        (
            {"city": {"district_codes": ["4001", "4099"]}},
            "city.district_codes",
            "district code 4099 does not exist under 40 in the DOPA reference "
            "dbt_project/seeds/reference/th_districts.csv; nearest valid: 4029 Wiang Kao",
        ),
        (
            {"city": {"subdistrict_codes": ["400101", "400199"]}},
            "city.subdistrict_codes",
            "subdistrict code 400199 does not exist under 4001 in the DOPA reference "
            "dbt_project/seeds/reference/th_subdistricts.csv; nearest valid: 400118 Non Thon",
        ),
    ],
    ids=["invented-province", "invented-district", "invented-subdistrict"],
)
def test_codes_must_exist_in_the_dopa_reference(city_yaml, overrides, key, says):
    path = city_yaml(overrides, name="invented.yaml")
    message = config_error(path)
    assert f"invalid city config {path}:" in message
    assert f": {key}: " in message and says in message and "\n" not in message


def test_reference_reports_a_code_listed_under_another_parent():
    from city_pipeline import reference

    assert reference.unknown_code("subdistrict", "400101", "4001") is None
    problem = reference.unknown_code("subdistrict", "400101", "4002")
    assert problem is not None and problem.startswith(
        "subdistrict code 400101 is listed under 4001, not under 4002"
    )


def test_missing_required_key_is_named(city_yaml, tmp_path):
    path = city_yaml()
    text = path.read_text(encoding="utf-8").replace("recorded_window:", "recorded_windows:")
    path.write_text(text, encoding="utf-8")
    message = config_error(path)
    assert ": recorded_window: Field required" in message
    assert "; recorded_windows: Extra inputs are not permitted" in message


def test_missing_file_is_named(tmp_path):
    missing = tmp_path / "nowhere" / "city.yaml"
    message = config_error(missing)
    assert str(missing) in message and "does not exist" in message


def test_invalid_yaml_is_named(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("city: [unclosed\n", encoding="utf-8")
    message = config_error(path)
    assert str(path) in message and "not valid YAML" in message


def test_bad_source_mode_names_the_variable():
    with pytest.raises(ConfigError) as caught:
        load_settings({"CITY_PIPELINE_SOURCE_MODE": "offline"})
    message = str(caught.value)
    assert "CITY_PIPELINE_SOURCE_MODE='offline'" in message
    assert "replay, live, record" in message


@pytest.mark.parametrize("mode", ["replay", "live", "record"])
def test_each_source_mode_is_accepted(mode):
    assert load_settings({"CITY_PIPELINE_SOURCE_MODE": mode}).source_mode.value == mode


def test_base_url_override_per_source():
    settings = load_settings(
        {
            "CITY_PIPELINE_TRAFFY_BASE_URL": "http://127.0.0.1:8080/traffy/",
            "CITY_PIPELINE_OPEN_METEO_BASE_URL": "https://om.example.org",
        }
    )
    sources = settings.config.sources
    assert sources.traffy.base_url == "http://127.0.0.1:8080/traffy"  # trailing slash dropped
    assert sources.open_meteo.base_url == "https://om.example.org"
    assert sources.air4thai.base_url == "http://air4thai.pcd.go.th"  # untouched


def test_bad_base_url_override_says_it_came_from_the_environment():
    with pytest.raises(ConfigError) as caught:
        load_settings({"CITY_PIPELINE_CKAN_BASE_URL": "data.go.th"})
    message = str(caught.value)
    assert str(DEFAULT_CITY_FILE) in message and "sources.ckan.base_url" in message
    assert "comes from CITY_PIPELINE_CKAN_BASE_URL" in message


def test_data_and_recordings_dirs_follow_the_environment(tmp_path):
    settings = load_settings(
        {
            "CITY_PIPELINE_DATA_DIR": str(tmp_path / "d"),
            "CITY_PIPELINE_RECORDINGS_DIR": str(tmp_path / "r"),
        }
    )
    assert settings.lake_dir == tmp_path / "d" / "lake"
    assert settings.warehouse_path == tmp_path / "d" / "warehouse" / "city.duckdb"
    assert settings.recordings_dir == tmp_path / "r" / "khon_kaen"


def test_switching_city_is_configuration_only(tmp_path):
    bangkok = load_settings(
        {
            "CITY_PIPELINE_CONFIG": str(CITIES_DIR / "bangkok.yaml"),
            "CITY_PIPELINE_DATA_DIR": str(tmp_path),
        }
    )
    assert bangkok.city.slug == "bangkok" and bangkok.city.province_code == "10"
    assert bangkok.recordings_dir.name == "bangkok"
    assert bangkok.config.sources.air4thai.station_ids == ["02t", "03t", "05t"]
    assert bangkok.config.partitions_start == date(2024, 2, 1)


@pytest.mark.parametrize(
    ("base", "overrides", "latitude", "longitude"),
    [
        ("khon_kaen", {}, "16.4419", "102.8360"),
        ("bangkok", {}, "13.7563", "100.5018"),
        # A third city nobody shipped: Chiang Mai (province 50, Mueang Chiang Mai district 5001).
        (
            "khon_kaen",
            {
                "city": {
                    "slug": "chiang_mai",
                    "name_th": "เทศบาลนครเชียงใหม่",
                    "name_en": "Chiang Mai City Municipality",
                    "province_code": "50",
                    "district_codes": ["5001"],
                    "subdistrict_codes": ["500101"],
                    "centre": {"lat": 18.7883, "lon": 98.9853},
                    "province_names_th": ["เชียงใหม่"],
                }
            },
            "18.7883",
            "98.9853",
        ),
    ],
    ids=["khon_kaen", "bangkok", "chiang_mai-from-a-new-yaml"],
)
def test_capture_asks_for_the_configured_city(
    httpserver, live_settings, base, overrides, latitude, longitude, city_yaml
):
    """The same code captures whichever city the YAML names: the request follows the config."""
    settings = live_settings(base=base)
    if overrides:
        path = city_yaml(overrides, base=base, name="third_city.yaml")
        settings = load_settings(
            {
                "CITY_PIPELINE_CONFIG": str(path),
                "CITY_PIPELINE_SOURCE_MODE": "live",
                "CITY_PIPELINE_OPEN_METEO_BASE_URL": httpserver.url_for(""),
                "CITY_PIPELINE_DATA_DIR": str(settings.data_dir),
            }
        )
    day = settings.config.recorded_window.start
    httpserver.expect_request(open_meteo.ARCHIVE_PATH).respond_with_json(
        {
            "latitude": float(latitude),
            "longitude": float(longitude),
            "utc_offset_seconds": 25200,
            "timezone": "Asia/Bangkok",
            "hourly": {"time": [], **{v: [] for v in settings.config.sources.open_meteo.hourly}},
            "daily": {"time": [], **{v: [] for v in settings.config.sources.open_meteo.daily}},
        }
    )
    result = run_capture(open_meteo.CAPTURE, day, settings)
    ((request, _),) = httpserver.log
    assert (request.args["latitude"], request.args["longitude"]) == (latitude, longitude)
    assert request.args["start_date"] == day.isoformat()
    assert f"city={settings.city.slug}" in request.headers["User-Agent"]
    assert result.tables[open_meteo.HOURLY_TABLE].rows == 0


def test_partitions_start_defaults_to_the_recorded_window(city_yaml):
    path = city_yaml()
    text = path.read_text(encoding="utf-8")
    text = "\n".join(ln for ln in text.splitlines() if not ln.startswith("partitions_start:"))
    path.write_text(text, encoding="utf-8")
    config = load_city_config(path, {})
    assert config.partitions_start == config.recorded_window.start
