"""`city-pipeline status` on a real Dagster instance: a real capture run, real check evaluations,
freshness computed with the assets' own policies."""

from __future__ import annotations

import json
from datetime import timedelta

import dagster as dg
import pytest

from city_pipeline import cli, freshness, status
from city_pipeline.defs import jobs, policies
from city_pipeline.defs.build import build_definitions
from city_pipeline.settings import load_settings

DAY = "2024-01-02"
OPEN_METEO = [dg.AssetKey(["raw", "open_meteo_daily"]), dg.AssetKey(["raw", "open_meteo_hourly"])]


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("CITY_PIPELINE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    (tmp_path / "dagster_home").mkdir()
    return tmp_path


@pytest.fixture
def defs(data_dir):
    return build_definitions(load_settings())


def run_status(capsys, data_dir) -> tuple[int, dict]:
    code = cli.main(["status", "--data-dir", str(data_dir), "--json"])
    return code, json.loads(capsys.readouterr().out)


def by_key(report: dict) -> dict[str, dict]:
    return {asset["key"]: asset for asset in report["assets"]}


def test_status_shows_last_materialization_partition_and_freshness(defs, data_dir, capsys):
    with dg.DagsterInstance.get() as instance:
        result = defs.resolve_job_def(jobs.NIGHTLY_JOB).execute_in_process(
            instance=instance, partition_key=DAY, asset_selection=OPEN_METEO
        )
    assert result.success
    code, report = run_status(capsys, data_dir)
    assets = by_key(report)
    daily = assets["raw/open_meteo_daily"]
    assert daily["run_id"] == result.run_id
    assert daily["newest_partition"] == DAY
    assert daily["freshness"] == status.PASS and daily["age_hours"] < 1
    assert daily["group"] == "capture"
    never = assets["raw/traffy_tickets"]
    assert never["last_materialized"] is None and never["freshness"] == status.UNKNOWN
    assert "raw/traffy_tickets: never materialized" in report["problems"]
    assert code == 1
    job_rows = {job["job"]: job for job in report["jobs"]}
    assert job_rows["nightly_refresh"]["status"] == "SUCCESS"
    assert job_rows["nightly_refresh"]["partition"] == DAY
    assert job_rows["monthly_refresh"]["status"] == "never run"


def test_status_text_is_readable_for_an_operator(defs, data_dir, capsys):
    code = cli.main(["status", "--data-dir", str(data_dir)])
    text = capsys.readouterr().out
    assert code == 1
    assert "Khon Kaen City Municipality (เทศบาลนครขอนแก่น)" in text
    assert "nightly_refresh      never run" in text
    assert "raw/air4thai_hourly" in text and "freshness" in text
    assert text.index("capture") < text.index("raw/air4thai_hourly")


def test_status_shows_the_last_result_of_each_check(defs, data_dir, capsys):
    graph = defs.resolve_asset_graph()
    check_keys = sorted(graph.asset_check_keys, key=lambda k: k.to_user_string())
    assert check_keys, "the curate (dbt tests) and consume (GX suites) layers define asset checks"
    failing, passing = check_keys[0], check_keys[-1]
    with dg.DagsterInstance.get() as instance:
        for key, passed in ((failing, True), (failing, False), (passing, True)):
            instance.report_runless_asset_event(
                dg.AssetCheckEvaluation(asset_key=key.asset_key, check_name=key.name, passed=passed)
            )
    code, report = run_status(capsys, data_dir)
    checks = {
        c["name"]: c["state"] for c in by_key(report)[failing.asset_key.to_user_string()]["checks"]
    }
    assert checks[failing.name] == "FAILED"  # the latest evaluation counts, not the first
    passing_checks = {
        c["name"]: c["state"] for c in by_key(report)[passing.asset_key.to_user_string()]["checks"]
    }
    assert passing_checks[passing.name] == "passed"
    assert (
        f"{failing.asset_key.to_user_string()}: check {failing.name} FAILED" in report["problems"]
    )
    assert code == 1


def test_freshness_follows_the_rule_windows():
    daily = freshness.RULES["daily"]
    now = 1_700_000_000.0
    hour = 3600.0
    assert status.freshness_state(daily, None, now) == status.UNKNOWN
    assert status.freshness_state(daily, now - 2 * hour, now) == status.PASS
    assert status.freshness_state(daily, now - 25.5 * hour, now) == status.WARN
    assert status.freshness_state(daily, now - 26 * hour, now) == status.FAIL
    assert status.freshness_state(None, now, now) == status.NONE
    monthly = freshness.RULES["monthly"]
    assert status.freshness_state(monthly, now - 20 * 24 * hour, now) == status.PASS
    assert status.freshness_state(monthly, now - 40 * 24 * hour, now) == status.FAIL


def test_status_judges_each_asset_by_its_dagster_policy(defs, data_dir):
    """One definition of freshness: the catalog `status` reads holds, for every asset, the rule
    its Dagster freshness policy applies, and that policy comes from the rule of its cadence."""
    from city_pipeline.status_catalog import AssetCatalog

    catalog = {a.key: a for a in AssetCatalog.from_definitions(defs).assets}
    graph = defs.resolve_asset_graph()
    for key in graph.materializable_asset_keys:
        policy = graph.get(key).freshness_policy
        rule = catalog[key.to_user_string()].freshness
        assert rule is not None and policy.fail_window.to_timedelta() == rule.fail_after
    assert catalog["raw/dopa_population"].freshness == freshness.RULES["monthly"]
    assert catalog["raw/traffy_tickets"].freshness == freshness.RULES["daily"]
    assert catalog["marts/fct_complaints"].freshness == freshness.RULES["daily"]
    assert catalog["analyse/pm25_forecast_model"].freshness == freshness.RULES["weekly"]
    assert policies.freshness_policy(freshness.RULES["daily"]).fail_window.to_timedelta() == (
        timedelta(hours=26)
    )


def test_status_reads_the_cached_catalog_until_code_or_settings_change(data_dir, monkeypatch):
    from city_pipeline import status_catalog

    settings = load_settings()
    built = status_catalog.load_catalog(settings)  # no cache yet: built from the definitions
    assert status_catalog.catalog_path(settings).exists()
    assert any(a.key == "raw/open_meteo_daily" and a.partitioned for a in built.assets)
    assert any(a.freshness for a in built.assets) and built.checks
    assert built.jobs == (jobs.NIGHTLY_JOB, jobs.MONTHLY_JOB)

    def refuse(*args, **kwargs):
        raise AssertionError("definitions built although the catalog is current")

    monkeypatch.setattr("city_pipeline.defs.build.build_definitions", refuse)
    assert status_catalog.load_catalog(settings) == built
    changed = load_settings(
        {"CITY_PIPELINE_DATA_DIR": str(data_dir), "CITY_PIPELINE_SOURCE_MODE": "live"}
    )
    with pytest.raises(AssertionError, match="definitions built"):
        status_catalog.load_catalog(changed)  # another mode: the cached catalog is not trusted
