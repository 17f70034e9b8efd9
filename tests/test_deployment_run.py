"""`city-pipeline run --all-cities` for real: two cities publish side by side from one deployment,
their data never cross, and a third city that fails does not stop them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import duckdb
import pytest
from test_deployment import add_city

from city_pipeline.settings import PROJECT_ROOT, load_city_config


@pytest.fixture(scope="module")
def deployment_run(tmp_path_factory, dbt_manifest):
    root = tmp_path_factory.mktemp("deployment")
    cities = root / "cities"
    cities.mkdir()
    add_city(cities, "khon_kaen")
    add_city(cities, "betong")
    # Joins by YAML, but nobody recorded its sources: its capture fails.
    add_city(cities, "betong", "nowhere", name_en="Nowhere Town")
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    env.pop("DAGSTER_HOME", None)
    command = [sys.executable, "-m", "city_pipeline.cli", "run", "--all-cities"]
    window = ["--start", "2024-03-01", "--end", "2024-03-02"]  # in both recorded windows
    places = ["--cities-dir", str(cities), "--data-dir", str(root / "data"), "--parallel", "2"]
    done = subprocess.run(
        [*command, *window, *places], env=env, capture_output=True, text=True, timeout=3600
    )
    return root, cities, done


def test_one_failing_city_never_stops_the_others(deployment_run):
    root, _, done = deployment_run
    assert done.returncode == 1, done.stdout + done.stderr  # the failure is reported ...
    lines = {line.split()[0]: line for line in done.stdout.splitlines() if "log:" in line}
    assert (
        "FAILED" in lines["nowhere"] and " ok " in lines["khon_kaen"] and " ok " in lines["betong"]
    )
    assert "nowhere" in (root / "data" / "logs" / "nowhere.log").read_text(encoding="utf-8")
    assert not (root / "data" / "nowhere" / "published" / "current").exists()
    for slug in ("khon_kaen", "betong"):  # ... and the others published
        release = root / "data" / slug / "published" / "current" / "release.json"
        assert json.loads(release.read_text(encoding="utf-8"))["rows"]["fct_complaints"] > 0


def test_two_cities_data_never_cross(deployment_run):
    root, cities, _ = deployment_run
    stations = {}
    for slug in ("khon_kaen", "betong"):
        province = load_city_config(cities / f"{slug}.yaml", env={}).city.province_code
        current = root / "data" / slug / "published" / "current"
        with duckdb.connect() as con:
            provinces = con.execute(
                f"select distinct province_code from '{current}/fct_complaints.parquet'"
            ).fetchall()
            stations[slug] = {
                station
                for (station,) in con.execute(
                    f"select distinct station_id from '{current}/mart_air_quality_daily.parquet'"
                ).fetchall()
            }
        assert provinces == [(province,)]  # every complaint is the city's own
        assert stations[slug]
    assert not stations["khon_kaen"] & stations["betong"]  # and every station reading


def test_the_deployment_status_names_each_city(deployment_run):
    root, cities, _ = deployment_run
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    env.pop("DAGSTER_HOME", None)
    places = ["--cities-dir", str(cities), "--data-dir", str(root / "data")]
    done = subprocess.run(
        [sys.executable, "-m", "city_pipeline.cli", "status", "--all-cities", "--json", *places],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    report = json.loads(done.stdout)
    assert set(report) == {"khon_kaen", "betong", "nowhere"}
    assert done.returncode == 1  # nowhere never ran: it needs attention
    nightly = {job["job"]: job for job in report["betong"]["jobs"]}
    assert nightly["nightly_refresh__betong"]["status"] == "SUCCESS"
    assert all(a["key"].startswith("betong/") for a in report["betong"]["assets"])
