"""The consume layer in Dagster: blocking GX checks gate `published/<mart>` and the release.

The dbt marts are stood in by no-op assets with the dbt asset keys (`marts/<name>`, one of them
daily-partitioned like the incremental marts); the data they "build" is a demo warehouse.
"""

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


def stand_in(name: str, partitioned: bool) -> dg.AssetsDefinition:
    @dg.asset(
        key=consume.mart_key(name),
        group_name="curate",
        partitions_def=DAILY if partitioned else None,
    )
    def _mart() -> dg.MaterializeResult:
        return dg.MaterializeResult()

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
        consume.build_defs(None, marts=MARTS),
        dg.Definitions(jobs=[dg.define_asset_job("everything", selection=dg.AssetSelection.all())]),
    )


def run(defs: dg.Definitions) -> dg.ExecuteInProcessResult:
    return defs.resolve_job_def("everything").execute_in_process(
        instance=dg.DagsterInstance.ephemeral(),
        tags={
            "dagster/asset_partition_range_start": "2024-01-30",
            "dagster/asset_partition_range_end": "2024-01-31",
        },
        raise_on_error=False,
    )


def test_graph_shape(defs):
    dg.Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    checks = {spec.key: spec for c in defs.asset_checks or [] for spec in c.check_specs}
    for mart in MARTS:
        node = graph.get(consume.published_key(mart.name))
        assert node.group_name == "consume"
        assert consume.mart_key(mart.name) in node.parent_keys
        check = checks[dg.AssetCheckKey(consume.mart_key(mart.name), f"gx_{mart.name}")]
        assert check.blocking
    release = graph.get(consume.RELEASE_KEY)
    assert release.group_name == "consume"
    assert set(release.parent_keys) == {consume.published_key(m.name) for m in MARTS}


def test_default_defs_cover_every_published_mart_with_dbt_keys():
    from city_pipeline.consume.catalog import PUBLISHED_MARTS

    built = consume.build_defs(None)
    checks = {spec.asset_key for c in built.asset_checks for spec in c.check_specs}
    assert checks == {dg.AssetKey([m.schema, m.name]) for m in PUBLISHED_MARTS}
    # dbt's marts, and the Analyse stage's outputs under their own schema.
    assert {m.schema for m in PUBLISHED_MARTS} == {"marts", "analyse"}


def test_good_marts_are_published(defs, data_dir):
    result = run(defs)
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    evaluations = result.get_asset_check_evaluations()
    assert len(evaluations) == len(MARTS) and all(e.passed for e in evaluations)
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


def test_failed_check_blocks_publishing_and_current_stays(defs, data_dir):
    current = data_dir / "published" / "current"
    if not current.exists():
        assert run(defs).success
    before = os.readlink(current)
    warehouse = load_settings({"CITY_PIPELINE_DATA_DIR": str(data_dir)}).warehouse_path
    with duckdb.connect(str(warehouse)) as db:  # dbt "built" a bad mart
        db.execute("update marts.mart_weather_daily set rainfall_mm = -3 where date = '2024-01-05'")
    try:
        result = run(defs)
    finally:
        with duckdb.connect(str(warehouse)) as db:
            db.execute("update marts.mart_weather_daily set rainfall_mm = 0 where rainfall_mm < 0")
    assert not result.success
    failed = [e for e in result.get_asset_check_evaluations() if not e.passed]
    assert [e.check_name for e in failed] == ["gx_mart_weather_daily"]
    metadata = failed[0].metadata
    assert "rainfall_mm" in metadata["summary"].value and "-3.0" in metadata["summary"].value
    assert metadata["expectations_failed"].value >= 1
    materialized = {e.asset_key for e in result.get_asset_materialization_events()}
    assert consume.published_key("mart_weather_daily") not in materialized
    assert consume.RELEASE_KEY not in materialized
    assert os.readlink(current) == before
