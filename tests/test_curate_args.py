"""The Dagster wiring of the dbt project: pure argument builders, keys, groups, partitions, pools,
checks, and the raw/<table> sources every dbt model reads."""

import json
from datetime import date, datetime
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from city_pipeline.defs import capture, curate
from city_pipeline.defs.automation import deployment_defs
from city_pipeline.defs.naming import WAREHOUSE_POOL
from city_pipeline.settings import CITIES_DIR, load_settings

BANGKOK = ZoneInfo("Asia/Bangkok")


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    return load_settings({"CITY_PIPELINE_DATA_DIR": str(tmp_path_factory.mktemp("curate-args"))})


@pytest.fixture(scope="module")
def curate_defs(settings, dbt_manifest) -> dg.Definitions:
    return curate.build_defs(settings)


@pytest.fixture(scope="module")
def asset_graph(settings, curate_defs):
    layers = dg.Definitions.merge(capture.build_defs(settings), curate_defs, deployment_defs())
    return layers.resolve_asset_graph()


def test_window_vars_of_one_city_day():
    start = datetime(2024, 1, 5, tzinfo=BANGKOK)
    end = datetime(2024, 1, 6, tzinfo=BANGKOK)
    assert curate.window_vars(start, end) == {"min_date": "2024-01-05", "max_date": "2024-01-05"}


def test_window_vars_of_a_backfill_range_and_dates():
    start = datetime(2024, 1, 30, tzinfo=BANGKOK)
    end = datetime(2024, 2, 3, tzinfo=BANGKOK)  # exclusive: Jan 30, 31, Feb 1, 2
    assert curate.window_vars(start, end) == {"min_date": "2024-01-30", "max_date": "2024-02-02"}
    assert curate.window_vars(date(2024, 2, 28), date(2024, 3, 1)) == {
        "min_date": "2024-02-28",
        "max_date": "2024-02-29",
    }


def test_window_vars_reject_an_empty_window():
    with pytest.raises(ValueError, match="empty partition window"):
        curate.window_vars(date(2024, 1, 5), date(2024, 1, 5))


def test_dbt_vars_carry_the_city_from_its_yaml(settings):
    bangkok = load_settings({"CITY_PIPELINE_CONFIG": str(CITIES_DIR / "bangkok.yaml")})
    assert curate.city_vars(settings) == {
        "city_slug": "khon_kaen",
        "city_province_code": "40",
        "city_district_codes": ["4001"],
        "city_timezone": "Asia/Bangkok",
        "city_station_ids": ["46t", "97t"],
    }
    assert curate.city_vars(bangkok)["city_province_code"] == "10"
    assert len(curate.city_vars(bangkok)["city_district_codes"]) == 50


def test_build_args_pass_vars_as_json_and_skip_sql_unit_tests(settings):
    window = {"min_date": "2024-01-05", "max_date": "2024-01-05"}
    args = curate.build_args(settings, window)
    assert args[0] == "build"
    assert json.loads(args[args.index("--vars") + 1]) == {**curate.city_vars(settings), **window}
    assert args[3:] == ["--exclude-resource-type", "unit_test", "--exclude", "tag:macro_test"]
    assert "min_date" not in json.loads(curate.build_args(settings)[2])


def test_a_run_builds_models_then_tests_with_the_same_vars(settings):
    window = {"min_date": "2024-01-05", "max_date": "2024-01-05"}
    models, tests = curate.model_args(settings, window), curate.test_args(settings, window)
    assert models[0] == "build" and models[-2:] == ["--exclude-resource-type", "test"]
    assert tests[0] == "test" and "--exclude-resource-type" in tests
    assert models[1:3] == tests[1:3]  # identical vars: the test run reuses the build's parse


def test_every_dbt_source_is_a_capture_asset(asset_graph, dbt_manifest):
    manifest = json.loads(dbt_manifest.read_text(encoding="utf-8"))
    source_keys = {
        dg.AssetKey(list(source["meta"]["dagster"]["asset_key"]))
        for source in manifest["sources"].values()
    }
    assert source_keys == {
        dg.AssetKey(["raw", t])
        for t in (
            "air4thai_stations",
            "air4thai_hourly",
            "traffy_tickets",
            "open_meteo_hourly",
            "open_meteo_daily",
            "dopa_population",
        )
    }
    for key in source_keys:
        assert asset_graph.get(key).group_name == "capture", key
        assert asset_graph.get(key).is_materializable, key


def test_curate_graph_keys_groups_and_deps(asset_graph):
    curate_keys = {
        k for k in asset_graph.get_all_asset_keys() if asset_graph.get(k).group_name == "curate"
    }
    expected_marts = {
        "dim_admin_area",
        "dim_air_station",
        "dim_thai_aqi_breakpoint",
        "fct_complaints",
        "mart_air_quality_daily",
        "mart_complaints_daily",
        "mart_weather_daily",
        "mart_population",
        "mart_city_daily",
    }
    assert {k.path[1] for k in curate_keys if k.path[0] == "marts"} == expected_marts
    assert {k.path[0] for k in curate_keys} == {"reference", "staging", "intermediate", "marts"}
    parents = asset_graph.get(dg.AssetKey(["staging", "stg_traffy_tickets"])).parent_keys
    assert parents == {dg.AssetKey(["raw", "traffy_tickets"])}
    city = asset_graph.get(dg.AssetKey(["marts", "mart_city_daily"])).parent_keys
    assert {
        dg.AssetKey(["marts", "mart_air_quality_daily"]),
        dg.AssetKey(["marts", "mart_weather_daily"]),
        dg.AssetKey(["marts", "fct_complaints"]),
        dg.AssetKey(["marts", "dim_air_station"]),
    } <= city
    assert asset_graph.get(dg.AssetKey(["marts", "mart_city_daily"])).owners == curate.OWNERS


def test_daily_marts_are_partitioned_and_the_rest_is_not(asset_graph, settings):
    daily = {
        "mart_air_quality_daily",
        "mart_complaints_daily",
        "mart_weather_daily",
        "mart_city_daily",
    }
    for key in asset_graph.get_all_asset_keys():
        node = asset_graph.get(key)
        if node.group_name != "curate":
            continue
        if key.path[-1] in daily:
            assert node.partitions_def == curate.city_daily_partitions(settings), key
            assert node.backfill_policy == dg.BackfillPolicy.single_run()
        else:
            assert node.partitions_def is None, key


def test_warehouse_writers_share_one_pool(curate_defs):
    ops = [a.op for a in curate_defs.assets]
    assert {op.name for op in ops} == {"curate_daily", "curate_models"}
    assert all(op.pool == WAREHOUSE_POOL == "duckdb_warehouse" for op in ops)


def test_dbt_tests_are_asset_checks(asset_graph):
    checks = {(key.asset_key.path[-1], key.name) for key in asset_graph.asset_check_keys}
    assert ("fct_complaints", "unique_fct_complaints_ticket_id") in checks
    assert (
        "mart_air_quality_daily",
        "unique_combination_mart_air_quality_daily_date__station_id",
    ) in checks
    # the warning that reports unresolved place names is a check on the model that counts them
    assert ("int_unresolved_admin_names", "assert_admin_names_resolve") in checks


def test_model_metadata_has_column_schema_and_description(asset_graph):
    node = asset_graph.get(dg.AssetKey(["marts", "mart_city_daily"]))
    assert "executive dashboard" in node.description
    columns = {c.name: c for c in node.metadata["dagster/column_schema"].columns}
    assert columns["aqi_max"].type == "integer"
    assert "ค่า AQI" in columns["aqi_max"].description


def test_unpartitioned_curate_models_take_the_runs_daily_window(settings):
    """`curate_models` has no partitions; in a run of daily partitions (the nightly job) it gets
    the run's window, and none in a run without partitions or of monthly ones."""
    seen = []

    @dg.asset(partitions_def=curate.city_daily_partitions(settings))
    def day() -> None: ...

    @dg.asset(partitions_def=dg.MonthlyPartitionsDefinition("2024-01-01"))
    def month() -> None: ...

    @dg.asset(deps=[day])
    def model(context: dg.AssetExecutionContext) -> None:
        seen.append(curate.run_window(context))

    assert dg.materialize([day, model], partition_key="2024-01-05").success
    range_tags = {
        "dagster/asset_partition_range_start": "2024-01-30",
        "dagster/asset_partition_range_end": "2024-02-02",
    }
    assert dg.materialize([day, model], tags=range_tags).success
    assert dg.materialize([model]).success
    assert dg.materialize([month, model], partition_key="2024-01-01").success
    assert seen == [
        {"min_date": "2024-01-05", "max_date": "2024-01-05"},
        {"min_date": "2024-01-30", "max_date": "2024-02-02"},
        None,
        None,
    ]
