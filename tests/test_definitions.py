"""The Dagster definitions load, and the capture layer has the shape the architecture promises."""

import dagster as dg
import pytest

from city_pipeline.defs.capture import days_in_window
from city_pipeline.settings import SOURCE_NAMES

EXPECTED_RAW_TABLES = {
    "air4thai_stations",
    "air4thai_hourly",
    "traffy_tickets",
    "open_meteo_hourly",
    "open_meteo_daily",
    "ckan_kk_registered_vehicles",
    "dopa_population",
}


@pytest.fixture(scope="module")
def defs(city_definitions) -> dg.Definitions:
    return city_definitions


def capture_specs(defs: dg.Definitions) -> dict[dg.AssetKey, dg.AssetSpec]:
    graph = defs.resolve_asset_graph()
    return {
        key: graph.get(key)
        for key in graph.get_all_asset_keys()
        if graph.get(key).group_name == "capture"
    }


def test_definitions_validate(defs):
    # Dagster's own validation of the whole code location (the same as `dg check defs`).
    dg.Definitions.validate_loadable(defs)


def test_every_raw_table_is_a_capture_asset(defs):
    keys = {key.path[1] for key in capture_specs(defs) if key.path[0] == "raw"}
    assert keys == EXPECTED_RAW_TABLES
    assert all(key.path[0] == "raw" and len(key.path) == 2 for key in capture_specs(defs))


def test_capture_assets_are_partitioned_by_cadence(defs):
    graph = defs.resolve_asset_graph()
    for key in capture_specs(defs):
        partitions = graph.get(key).partitions_def
        expected = (
            dg.MonthlyPartitionsDefinition
            if key.path[1] in {"dopa_population", "ckan_kk_registered_vehicles"}
            else dg.DailyPartitionsDefinition
        )
        assert isinstance(partitions, expected), key
        assert partitions.timezone == "Asia/Bangkok"


def test_hourly_history_depends_on_station_list(defs):
    graph = defs.resolve_asset_graph()
    parents = graph.get(dg.AssetKey(["raw", "air4thai_hourly"])).parent_keys
    assert dg.AssetKey(["raw", "air4thai_stations"]) in parents


def test_capture_assets_retry_with_backoff(defs):
    for asset in defs.assets:
        if (
            isinstance(asset, dg.AssetsDefinition)
            and asset.group_names_by_key
            and set(asset.group_names_by_key.values()) == {"capture"}
        ):
            policy = asset.op.retry_policy
            assert policy is not None and policy.max_retries >= 1
            assert policy.backoff == dg.Backoff.EXPONENTIAL


def test_jobs_split_monthly_from_nightly(defs):
    nightly = defs.resolve_job_def("nightly_refresh")
    monthly = defs.resolve_job_def("monthly_refresh")
    assert dg.AssetKey(["raw", "dopa_population"]) in monthly.asset_layer.executable_asset_keys
    assert dg.AssetKey(["raw", "dopa_population"]) not in nightly.asset_layer.executable_asset_keys
    assert dg.AssetKey(["raw", "air4thai_hourly"]) in nightly.asset_layer.executable_asset_keys


def test_days_in_window_daily_and_monthly():
    window = dg.TimeWindow(
        dg.DailyPartitionsDefinition("2024-01-01")
        .time_window_for_partition_key("2024-01-30")
        .start,
        dg.DailyPartitionsDefinition("2024-01-01")
        .time_window_for_partition_key("2024-02-02")
        .start,
    )
    assert [d.isoformat() for d in days_in_window(window, "daily")] == [
        "2024-01-30",
        "2024-01-31",
        "2024-02-01",
    ]
    monthly = dg.MonthlyPartitionsDefinition("2024-01-01")
    months = dg.TimeWindow(
        monthly.time_window_for_partition_key("2024-01-01").start,
        monthly.time_window_for_partition_key("2024-03-01").end,
    )
    assert [d.isoformat() for d in days_in_window(months, "monthly")] == [
        "2024-01-01",
        "2024-02-01",
        "2024-03-01",
    ]


def test_source_names_match_city_yaml_blocks():
    assert SOURCE_NAMES == ("air4thai", "traffy", "open_meteo", "ckan", "dopa")
