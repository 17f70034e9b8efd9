"""`city-pipeline run` end to end through Dagster, offline, for both shipped cities."""

import os
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from city_pipeline import cli
from city_pipeline.settings import DEFAULT_CITY_FILE


def run_cli(tmp_path: Path, *args: str, monkeypatch: pytest.MonkeyPatch) -> int:
    # The CLI writes its choices into os.environ; setting them here first makes pytest restore
    # them afterwards, so no later test inherits another city.
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    monkeypatch.setenv("CITY_PIPELINE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CITY_PIPELINE_CONFIG", str(DEFAULT_CITY_FILE))
    return cli.main(["run", *args])


def raw_rows(data_dir: Path, table: str) -> int:
    glob = data_dir / "lake" / "raw" / table / "date=*" / "*.parquet"
    return duckdb.connect().execute(f"SELECT count(*) FROM read_parquet('{glob}')").fetchone()[0]


def test_run_records_dagster_runs_and_writes_raw_tables(tmp_path, monkeypatch, capsys):
    code = run_cli(
        tmp_path, "--start", "2024-02-01", "--end", "2024-02-02", monkeypatch=monkeypatch
    )
    out, err = capsys.readouterr()
    assert code == 0, out
    assert "Summary" in out and "raw/open_meteo_hourly" in out and str(tmp_path / "lake") in out
    # A successful run logs no traceback (dagster-dbt's column lineage used to, per staging model).
    assert "Traceback" not in out + err
    assert raw_rows(tmp_path, "open_meteo_hourly") == 48
    assert raw_rows(tmp_path, "air4thai_hourly") > 0
    assert raw_rows(tmp_path, "traffy_tickets") > 0
    assert raw_rows(tmp_path, "dopa_population") > 0
    # The runs are in the Dagster instance the UI reads, with their partition range.
    with dg.DagsterInstance.from_config(str(tmp_path / "dagster_home")) as instance:
        runs = instance.get_runs()
        assert {r.job_name for r in runs} == {"nightly_refresh", "monthly_refresh"}
        assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)
        nightly = next(r for r in runs if r.job_name == "nightly_refresh")
        assert nightly.tags["dagster/asset_partition_range_start"] == "2024-02-01"
        assert nightly.tags["dagster/asset_partition_range_end"] == "2024-02-02"

    # After a parser fix: raw rebuilt from the landed batches, no source reachable.
    landed = sorted((tmp_path / "lake" / "landing").rglob("*"))
    monkeypatch.setenv("CITY_PIPELINE_RECORDINGS_DIR", str(tmp_path / "no-recordings"))
    code = run_cli(
        tmp_path,
        *("--start", "2024-02-01", "--end", "2024-02-02", "--from-landing"),
        monkeypatch=monkeypatch,
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "(raw rebuilt from landing)" in out
    assert raw_rows(tmp_path, "open_meteo_hourly") == 48
    assert sorted((tmp_path / "lake" / "landing").rglob("*")) == landed


def test_switching_city_is_configuration_only(tmp_path, monkeypatch, capsys):
    code = run_cli(tmp_path, "--city", "bangkok", "--start", "2024-03-01", monkeypatch=monkeypatch)
    assert code == 0, capsys.readouterr().out
    glob = tmp_path / "lake" / "raw" / "open_meteo_hourly" / "date=*" / "*.parquet"
    lat = duckdb.connect().execute(f"SELECT DISTINCT latitude FROM '{glob}'").fetchall()
    assert lat == [(13.7563,)]  # Bangkok's centre from bangkok.yaml, not Khon Kaen's
    assert os.environ["CITY_PIPELINE_CONFIG"].endswith("bangkok.yaml")


def test_bad_dates_and_unknown_city_fail_clearly(tmp_path, monkeypatch, capsys):
    assert run_cli(tmp_path, "--city", "atlantis", monkeypatch=monkeypatch) == 2
    assert "unknown city 'atlantis'" in capsys.readouterr().err
    assert (
        run_cli(tmp_path, "--start", "2024-02-05", "--end", "2024-02-01", monkeypatch=monkeypatch)
        == 2
    )
    assert "before --start" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--start", "2024-02-30"], "--start 2024-02-30 is not a calendar date"),
        (["--start", "01/02/2024"], "--start '01/02/2024' is not a date: use YYYY-MM-DD"),
        (["--start", "2024-1-5"], "is not a date: use YYYY-MM-DD"),
        (["--start", "2567-01-01"], "Buddhist Era year (พ.ศ. 2567); dates are Gregorian"),
        (["--start", "2024-01-01", "--end", "2567-01-31"], "use 2024-01-31"),
        (["--start", "2024-02-05", "--end", "2024-02-01"], "--end 2024-02-01 is before --start"),
        (["--start", "2023-12-31"], "before the city's first partition 2024-01-01"),
        (["--start", "2024-01-01", "--end", "2099-01-01"], "is in the future"),
    ],
)
def test_bad_run_dates_are_one_line_and_write_nothing(tmp_path, monkeypatch, capsys, args, message):
    data_dir = tmp_path / "data"
    monkeypatch.setenv("DAGSTER_HOME", str(data_dir / "dagster_home"))
    monkeypatch.setenv("CITY_PIPELINE_DATA_DIR", str(data_dir))
    monkeypatch.setenv("CITY_PIPELINE_CONFIG", str(DEFAULT_CITY_FILE))
    assert cli.main(["run", *args]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and "Traceback" not in captured.err + captured.out
    assert captured.err.count("\n") == 1 and captured.err.startswith("city-pipeline: ")
    assert not data_dir.exists()  # no Dagster instance, lake or warehouse was created
