"""Cities are configuration: every shipped city's codes and stations are real, a city added by a
YAML alone (plus its recordings) captures offline, and bad city files fail in one line."""

from __future__ import annotations

import csv
import shutil
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from city_pipeline import reference
from city_pipeline.capture import run_capture
from city_pipeline.cli import resolve_city
from city_pipeline.settings import (
    CITIES_DIR,
    RECORDINGS_DIR,
    ConfigError,
    city_files,
    load_city_config,
    load_settings,
)
from city_pipeline.sources import all_captures
from city_pipeline.synth.air4thai import STATIONS_FILE

SHIPPED = sorted(CITIES_DIR.glob("*.yaml"))


def bundled_stations() -> dict[str, dict[str, str]]:
    with STATIONS_FILE.open(encoding="utf-8", newline="") as handle:
        return {row["stationID"]: row for row in csv.DictReader(handle)}


def test_at_least_six_cities_of_four_lao_levels_ship():
    cities = [load_city_config(path, env={}).city for path in SHIPPED]
    assert len(cities) >= 6
    assert {c.lao_level for c in cities} >= {
        "special_administration",
        "city_municipality",
        "town_municipality",
        "subdistrict_municipality",
    }


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_city_codes_and_stations_are_real(path: Path):
    config = load_city_config(path, env={})
    city = config.city
    assert city.slug == path.stem and city.lao_level is not None
    provinces = reference.places("province")
    districts = reference.places("district")
    subdistricts = reference.places("subdistrict")
    assert city.province_code in provinces
    assert all(districts[code].parent == city.province_code for code in city.district_codes)
    assert all(subdistricts[code].parent in city.district_codes for code in city.subdistrict_codes)
    # Sources filter Traffy and Air4Thai rows by the province's name: it must be DOPA's.
    assert provinces[city.province_code].name_th in city.province_names_th
    stations = bundled_stations()
    ids = config.sources.air4thai.station_ids
    assert ids and set(ids) <= set(stations)
    for station_id in ids:
        row = stations[station_id]
        assert row["in_pcd_daily_2011_2023"] == "yes" and row["in_air4thai_hourly_2023"] == "yes"
        # The station stands in the city's province (its areaTH names the province).
        assert any(name in row["areaTH"] for name in city.province_names_th)
    assert (RECORDINGS_DIR / city.slug / "air4thai").is_dir()


def test_shipped_slugs_are_unique():
    assert sorted(city_files()) == sorted(p.stem for p in SHIPPED)


def copy_city(tmp_path: Path, base: str, slug: str, **overrides) -> Path:
    raw = yaml.safe_load((CITIES_DIR / f"{base}.yaml").read_text(encoding="utf-8"))
    raw["city"]["slug"] = slug
    raw.update(overrides)
    path = tmp_path / "cities" / f"{slug}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


def test_a_city_added_by_yaml_alone_captures_offline(tmp_path, monkeypatch):
    """A municipality outside the repository: its YAML in a folder of its own, its recordings in
    another, both given by path; no code knows its slug."""
    path = copy_city(tmp_path, "hat_yai", "khuan_lang_demo")
    shutil.copytree(RECORDINGS_DIR / "hat_yai", tmp_path / "recordings" / "khuan_lang_demo")
    monkeypatch.setenv("CITY_PIPELINE_RECORDINGS_DIR", str(tmp_path / "recordings"))
    monkeypatch.setenv("CITY_PIPELINE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CITY_PIPELINE_CONFIG", str(resolve_city(str(path))))
    settings = load_settings()
    assert settings.city.slug == "khuan_lang_demo"
    day = date(2024, 3, 1)  # monthly sources (DOPA) take the first of the month
    written = {}
    for spec in all_captures(settings):
        result = run_capture(spec, day, settings)
        written.update({name: t for name, t in result.tables.items()})
    assert {"air4thai_hourly", "open_meteo_hourly", "traffy_tickets", "dopa_population"} <= set(
        written
    )
    hourly = pq.read_table(written["air4thai_hourly"].path)
    assert set(hourly.column("station_id").to_pylist()) == {"44t"}
    weather = pq.read_table(written["open_meteo_hourly"].path)
    assert weather.num_rows == 24 and set(weather.column("latitude").to_pylist()) == {7.0086}
    assert written["traffy_tickets"].rows > 0
    lake = tmp_path / "data" / "lake" / "raw"
    assert (lake / "air4thai_hourly" / f"date={day}").is_dir()


def one_line_error(path: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_settings({"CITY_PIPELINE_CONFIG": str(path)})
    message = str(caught.value)
    assert "\n" not in message and str(path) in message
    return message


def test_unknown_province_code_is_one_line_naming_file_and_field(tmp_path):
    path = copy_city(tmp_path, "betong", "nowhere")
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    raw["city"]["province_code"] = "99"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    message = one_line_error(path)
    assert "city.province_code: " in message and "province code 99 does not exist" in message


def test_duplicate_slug_is_one_line_naming_both_files_and_field(tmp_path):
    first = copy_city(tmp_path, "betong", "betong")
    second = tmp_path / "cities" / "betong_copy.yaml"
    shutil.copy(first, second)
    with pytest.raises(ConfigError) as caught:
        city_files(tmp_path / "cities")
    message = str(caught.value)
    assert "\n" not in message
    assert f"invalid city config {second}: city.slug: 'betong'" in message and str(first) in message


def test_recordings_section_is_validated(tmp_path):
    path = copy_city(tmp_path, "betong", "betong", recordings={"traffy": {"new_per_day": [9, 3]}})
    message = one_line_error(path)
    assert "recordings.traffy: " in message and "fewest <= most" in message


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_recordings_are_what_the_generator_writes_from_the_yaml(path: Path, tmp_path):
    """A city's recordings follow from its YAML alone: regenerating them gives the same bytes."""
    from city_pipeline.synth.__main__ import generate_city

    generate_city(path, recordings_root=tmp_path)
    fresh = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    city_dir = RECORDINGS_DIR / path.stem
    shipped = sorted(p.relative_to(RECORDINGS_DIR) for p in city_dir.rglob("*") if p.is_file())
    assert fresh == shipped
    assert all((tmp_path / p).read_bytes() == (RECORDINGS_DIR / p).read_bytes() for p in fresh)
