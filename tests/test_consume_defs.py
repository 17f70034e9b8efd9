"""The consume layer in Dagster: each mart is validated once by `published/<mart>` (check
gx_<mart>) and held back alone when it, or a dbt test above it, fails; the release still publishes.

The dbt marts are stood in by no-op assets with the dbt asset keys (`marts/<name>`, one of them
daily-partitioned like the incremental marts); the data they "build" is a demo warehouse.
"""

import json
import os

import dagster as dg
import duckdb
import pytest

from city_pipeline.consume.catalog import mart_by_name
from city_pipeline.consume.demo import build_demo_warehouse
from city_pipeline.defs import consume
from city_pipeline.defs.resources import CityResource
from city_pipeline.settings import load_settings

MARTS = [mart_by_name(n) for n in ("mart_weather_daily", "dim_air_station", "fct_complaints")]
DAILY = dg.DailyPartitionsDefinition(start_date="2024-01-01", timezone="Asia/Bangkok")


FAILING_DBT_TEST = "not_null_fct_complaints_opened_at"


def stand_in(name: str, partitioned: bool) -> dg.AssetsDefinition:
    """A dbt model stood in, with a dbt-test-like check that fails when the warehouse says so."""
    test = dg.AssetCheckSpec(FAILING_DBT_TEST, asset=consume.mart_key(name))
    checks = [test] if name == "fct_complaints" else []

    @dg.asset(
        key=consume.mart_key(name),
        group_name="curate",
        partitions_def=DAILY if partitioned else None,
        check_specs=checks,
    )
    def _mart(city: CityResource) -> dg.MaterializeResult:
        if not checks:
            return dg.MaterializeResult()
        with duckdb.connect(str(city.settings().warehouse_path), read_only=True) as db:
            nulls = db.execute(
                "select count(*) from marts.fct_complaints where opened_at is null"
            ).fetchone()[0]
        result = dg.AssetCheckResult(
            check_name=FAILING_DBT_TEST,
            passed=nulls == 0,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={"dagster_dbt/failed_row_count": nulls},
        )
        return dg.MaterializeResult(check_results=[result])

    return _mart


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("defs-data")
    settings = load_settings({"CITY_PIPELINE_DATA_DIR": str(path)})
    build_demo_warehouse(settings.warehouse_path, days=31, pii=True)
    return path


@pytest.fixture(scope="module")
def defs(data_dir) -> dg.Definitions:
    marts = [stand_in(m.name, m.name == "mart_weather_daily") for m in MARTS]
    return dg.Definitions.merge(
        dg.Definitions(assets=marts, resources={"city": CityResource(data_dir=str(data_dir))}),
        consume.build_defs(load_settings(), marts=MARTS),
        dg.Definitions(jobs=[dg.define_asset_job("everything", selection=dg.AssetSelection.all())]),
    )


def run(defs: dg.Definitions, instance=None) -> dg.ExecuteInProcessResult:
    return defs.resolve_job_def("everything").execute_in_process(
        instance=instance or dg.DagsterInstance.ephemeral(),
        tags={
            "dagster/asset_partition_range_start": "2024-01-30",
            "dagster/asset_partition_range_end": "2024-01-31",
        },
        raise_on_error=False,
    )


def test_graph_shape(defs):
    dg.Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    checks = {spec.key: spec for a in defs.assets for spec in a.check_specs}
    for mart in MARTS:
        node = graph.get(consume.published_key(mart.name))
        assert node.group_name == "consume"
        assert consume.mart_key(mart.name) in node.parent_keys
        check = checks[dg.AssetCheckKey(consume.published_key(mart.name), f"gx_{mart.name}")]
        assert not check.blocking  # a failure holds back this mart alone, never the release
    release = graph.get(consume.RELEASE_KEY)
    assert release.group_name == "consume"
    assert set(release.parent_keys) == {consume.published_key(m.name) for m in MARTS}


def test_default_defs_cover_every_published_mart_with_dbt_keys():
    from city_pipeline.consume.catalog import PUBLISHED_MARTS

    built = consume.build_defs(load_settings())
    checks = {spec.asset_key for a in built.assets for spec in a.check_specs}
    assert checks == {consume.published_key(m.name) for m in PUBLISHED_MARTS}
    parents = {d.asset_key for a in built.assets for d in a.specs_by_key.values() for d in d.deps}
    assert {dg.AssetKey([m.schema, m.name]) for m in PUBLISHED_MARTS} <= parents
    # dbt's marts, and the Analyse stage's outputs under their own schema.
    assert {m.schema for m in PUBLISHED_MARTS} == {"marts", "analyse"}


def test_good_marts_are_published(defs, data_dir):
    result = run(defs)
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    evaluations = result.get_asset_check_evaluations()
    assert len(evaluations) == len(MARTS) + 1 and all(e.passed for e in evaluations)
    materialized = {e.asset_key for e in result.get_asset_materialization_events()}
    assert consume.RELEASE_KEY in materialized
    release = [
        e for e in result.get_asset_materialization_events() if e.asset_key == consume.RELEASE_KEY
    ][0].materialization.metadata
    assert release["release_path"].value.startswith(str(data_dir / "published" / "releases"))
    assert "| mart_weather_daily | 31 |" in release["preview"].value
    current = data_dir / "published" / "current"
    assert (current / "mart_weather_daily.csv").exists() and (
        current / "report/index.html"
    ).exists()


def release_manifest(data_dir) -> dict:
    return json.loads((data_dir / "published" / "current" / "release.json").read_text("utf-8"))


def test_failed_check_holds_back_that_mart_alone(defs, data_dir):
    current = data_dir / "published" / "current"
    if not current.exists():
        assert run(defs).success
    before = os.readlink(current)
    good_rows = release_manifest(data_dir)["rows"]["mart_weather_daily"]
    warehouse = load_settings({"CITY_PIPELINE_DATA_DIR": str(data_dir)}).warehouse_path
    with duckdb.connect(str(warehouse)) as db:  # dbt "built" a bad mart
        db.execute("update marts.mart_weather_daily set rainfall_mm = -3 where date = '2024-01-05'")
        db.execute("delete from marts.mart_weather_daily where date = '2024-01-06'")
    try:
        result = run(defs)
    finally:
        with duckdb.connect(str(warehouse)) as db:
            db.execute("update marts.mart_weather_daily set rainfall_mm = 0 where rainfall_mm < 0")
    failed = [e for e in result.get_asset_check_evaluations() if not e.passed]
    assert [e.check_name for e in failed] == ["gx_mart_weather_daily"]
    metadata = failed[0].metadata
    assert "rainfall_mm" in metadata["summary"].value and "-3.0" in metadata["summary"].value
    assert metadata["expectations_failed"].value >= 1
    # The other marts and the release are published; the bad mart keeps its last good version.
    materialized = {e.asset_key for e in result.get_asset_materialization_events()}
    assert consume.RELEASE_KEY in materialized
    assert os.readlink(current) != before
    manifest = release_manifest(data_dir)
    assert manifest["rows"]["mart_weather_daily"] == good_rows  # the last good version
    hold = manifest["stale"]["mart_weather_daily"]
    assert set(manifest["stale"]) == {"mart_weather_daily"}
    reason = next(r for r in hold["reasons"] if r["column"] == "rainfall_mm")
    assert reason["check"] == "gx_mart_weather_daily" and reason["failed_rows"] >= 1
    assert -3.0 in [row if not isinstance(row, dict) else None for row in reason["samples"]] or (
        "-3" in json.dumps(reason["samples"])
    )
    package = json.loads((current / "datapackage.json").read_text("utf-8"))
    stale = {r["name"] for r in package["resources"] if r.get("stale")}
    assert stale == {"mart-weather-daily", "mart-weather-daily-parquet"}
    report = (current / "report" / "index.html").read_text("utf-8")
    assert 'id="stale-banner"' in report and "mart_weather_daily" in report
    alerts = (data_dir / "alerts" / "alerts.jsonl").read_text("utf-8").splitlines()
    alert = json.loads(alerts[-1])
    assert alert["alert"] == "mart_held_back" and alert["mart"] == "mart_weather_daily"
    assert "rainfall_mm" in json.dumps(alert["reasons"])

    # Fixed: the next run publishes the new build and nothing is stale any more.
    result = run(defs)
    assert all(e.passed for e in result.get_asset_check_evaluations())
    manifest = release_manifest(data_dir)
    assert manifest["stale"] == {} and manifest["rows"]["mart_weather_daily"] == good_rows - 1


def test_failed_dbt_test_holds_back_the_mart_below_it(defs, data_dir):
    warehouse = load_settings({"CITY_PIPELINE_DATA_DIR": str(data_dir)}).warehouse_path
    with duckdb.connect(str(warehouse)) as db:
        first = db.execute("select min(ticket_id) from marts.fct_complaints").fetchone()[0]
        saved = db.execute(
            "select opened_at from marts.fct_complaints where ticket_id = ?", [first]
        ).fetchone()[0]
        db.execute("update marts.fct_complaints set opened_at = null where ticket_id = ?", [first])
    with dg.DagsterInstance.ephemeral() as instance:
        try:
            result = run(defs, instance)
        finally:
            with duckdb.connect(str(warehouse)) as db:
                db.execute(
                    "update marts.fct_complaints set opened_at = ? where ticket_id = ?",
                    [saved, first],
                )
        assert consume.RELEASE_KEY in {
            e.asset_key for e in result.get_asset_materialization_events()
        }
        manifest = release_manifest(data_dir)
        assert set(manifest["stale"]) == {"fct_complaints"}
        (reason,) = [
            r for r in manifest["stale"]["fct_complaints"]["reasons"] if r["kind"] == "dbt test"
        ]
        assert reason["check"] == FAILING_DBT_TEST and reason["failed_rows"] == 1
        # The test passes again on the next run: published, no longer stale.
        run(defs, instance)
        assert release_manifest(data_dir)["stale"] == {}
