"""The Dagster definitions load, and the capture layer has the shape the architecture promises."""

from datetime import date

import dagster as dg
import pyarrow.parquet as pq
import pytest

from city_pipeline.settings import SOURCE_NAMES
from city_pipeline.windows import partition_days

EXPECTED_RAW_TABLES = {
    "air4thai_stations",
    "air4thai_hourly",
    "traffy_tickets",
    "open_meteo_hourly",
    "open_meteo_daily",
    "dopa_population",
}  # CKAN is disabled in khon_kaen.yaml: its vehicles dataset is not captured by default


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


def test_partition_days_of_a_daily_and_a_monthly_partition_window():
    daily = dg.DailyPartitionsDefinition("2024-01-01")
    keys = daily.get_partition_keys_in_range(dg.PartitionKeyRange("2024-01-30", "2024-02-01"))
    assert [d.isoformat() for d in partition_days(keys)] == [
        "2024-01-30",
        "2024-01-31",
        "2024-02-01",
    ]
    monthly = dg.MonthlyPartitionsDefinition("2024-01-01")
    months = monthly.get_partition_keys_in_range(dg.PartitionKeyRange("2024-01-01", "2024-03-01"))
    assert [d.isoformat() for d in partition_days(months)] == [
        "2024-01-01",
        "2024-02-01",
        "2024-03-01",
    ]
    with pytest.raises(ValueError, match="partition key: expected a day as YYYY-MM-DD"):
        partition_days(["2024-13-01"])


def test_source_names_match_city_yaml_blocks():
    assert SOURCE_NAMES == ("air4thai", "traffy", "open_meteo", "ckan", "dopa")


def test_capture_from_landing_rebuilds_raw_without_calling_the_source(tmp_path, monkeypatch):
    """`from_landing` (run config; `city-pipeline run --from-landing`) re-derives raw from the
    landed batches: no recording is reachable the second time, yet raw comes back the same."""
    from city_pipeline import lake
    from city_pipeline.defs.capture import capture_asset
    from city_pipeline.defs.resources import CityResource
    from city_pipeline.settings import RECORDINGS_DIR, load_settings
    from city_pipeline.sources import open_meteo

    def materialize(day: str, recordings: str, from_landing: bool) -> dg.ExecuteInProcessResult:
        monkeypatch.setenv("CITY_PIPELINE_DATA_DIR", str(tmp_path))
        monkeypatch.setenv("CITY_PIPELINE_RECORDINGS_DIR", recordings)  # the resource reads env
        asset = capture_asset(open_meteo.CAPTURE, load_settings())
        return dg.materialize(
            [asset],
            partition_key=day,
            resources={"city": CityResource()},
            run_config={"ops": {"capture_open_meteo": {"config": {"from_landing": from_landing}}}},
            raise_on_error=False,
        )

    assert materialize("2024-02-01", str(RECORDINGS_DIR), from_landing=False).success
    raw = lake.raw_partition_path(tmp_path / "lake", "open_meteo_hourly", date(2024, 2, 1))
    first = pq.read_table(raw).replace_schema_metadata(None)
    landed = sorted((tmp_path / "lake" / "landing").rglob("*"))

    empty = tmp_path / "no-recordings"
    empty.mkdir()
    refetched = materialize("2024-02-01", str(empty), from_landing=False)
    assert not refetched.success  # the source is unreachable now: a normal capture fails
    landed = sorted((tmp_path / "lake" / "landing").rglob("*"))
    rebuilt = materialize("2024-02-01", str(empty), from_landing=True)
    assert rebuilt.success
    assert pq.read_table(raw).replace_schema_metadata(None).equals(first)
    assert sorted((tmp_path / "lake" / "landing").rglob("*")) == landed  # nothing fetched
    metadata = rebuilt.asset_materializations_for_node("capture_open_meteo")[0].metadata
    assert metadata["from_landing"].value is True

    never_landed = materialize("2024-02-02", str(empty), from_landing=True)
    assert not never_landed.success
    failure = never_landed.get_step_failure_events()[0].step_failure_data.error.message
    assert "partition 2024-02-02" in failure and "no complete batch landed" in failure
