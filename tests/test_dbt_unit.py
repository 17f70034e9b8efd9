"""dbt unit tests (AQI band edges and the 2023-06-01 switch, Air4Thai's own AQI values, BE dates,
Thai digits, Traffy latest version and time zone, admin-name resolution) and the Thai cleaning
macro cases, run through the dbt CLI against an empty warehouse: no raw data is needed because
staging reads a source without files as a typed empty relation."""

import json
import os
import subprocess
from pathlib import Path

import duckdb
import pytest

from city_pipeline.defs.curate import DBT_PROJECT_DIR, dbt_executable

EXPECTED_UNIT_TESTS = {
    "thai_aqi_pm25_band_edges_from_2023_06_01",
    "thai_aqi_pm25_band_edges_before_2023_06_01",
    "thai_aqi_pm25_switch_on_2023_06_01",
    "thai_aqi_matches_air4thai_station_03t_2019_02_17",
    "thai_aqi_matches_air4thai_station_81t_2025_03_17",
    "air_quality_daily_window_and_8h_running_mean",
    "complaints_daily_backlog_over_window",
    "dopa_population_be_months_thai_digits_and_sentinels",
    "traffy_latest_version_in_bangkok_time",
    "traffy_window_recomputes_changed_tickets_from_all_versions",
    "admin_name_keys_strip_prefixes_and_add_capital_district",
    "admin_names_resolve_with_or_without_prefixes",
    "fct_complaints_plausible_coordinates_and_capped_text",
    "air4thai_hourly_pm_outside_physical_range_is_not_a_reading",
}


def run_dbt(args: list[str], data_dir: Path, target: Path) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "CITY_PIPELINE_DATA_DIR": str(data_dir),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    command = [dbt_executable(), *args, "--target-path", str(target), "--log-path", str(target)]
    return subprocess.run(
        command, cwd=DBT_PROJECT_DIR, env=env, capture_output=True, text=True, timeout=600
    )


def results(target: Path) -> dict[str, str]:
    run = json.loads((target / "run_results.json").read_text(encoding="utf-8"))
    return {r["unique_id"].split(".")[-1]: r["status"] for r in run["results"]}


@pytest.fixture(scope="module")
def empty_warehouse(tmp_path_factory) -> tuple[Path, Path]:
    """Seeds and every model built with no raw files (zero-row staging), as unit tests need the
    input relations to exist."""
    data_dir = tmp_path_factory.mktemp("dbt-unit")
    (data_dir / "warehouse").mkdir()
    target = data_dir / "target"
    built = run_dbt(["build", "--exclude-resource-type", "test", "unit_test"], data_dir, target)
    assert built.returncode == 0, built.stdout[-4000:]
    return data_dir, target


def test_models_build_empty_without_raw_files(empty_warehouse):
    data_dir, _ = empty_warehouse
    with duckdb.connect(str(data_dir / "warehouse" / "city.duckdb"), read_only=True) as con:
        [(rows,)] = con.execute("select count(*) from staging.stg_traffy_tickets").fetchall()
        types = dict(
            con.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = 'staging' and table_name = 'stg_traffy_tickets'"
            ).fetchall()
        )
        [(breakpoints,)] = con.execute(
            "select count(*) from marts.dim_thai_aqi_breakpoint"
        ).fetchall()
    assert rows == 0
    assert types["reported_at"] == "TIMESTAMP" and types["categories"] == "VARCHAR[]"
    assert breakpoints == 35  # 7 band tables x 5 bands


def test_dbt_unit_tests_pass(empty_warehouse):
    data_dir, target = empty_warehouse
    run = run_dbt(["test", "--select", "test_type:unit"], data_dir, target)
    statuses = results(target)
    assert run.returncode == 0, run.stdout[-4000:]
    assert set(statuses) == EXPECTED_UNIT_TESTS
    assert set(statuses.values()) == {"pass"}


def test_thai_cleaning_macro_cases_pass(empty_warehouse):
    data_dir, target = empty_warehouse
    run = run_dbt(["test", "--select", "tag:macro_test"], data_dir, target)
    assert run.returncode == 0, run.stdout[-4000:]
    assert results(target) == {"thai_cleaning_macros": "pass"}
