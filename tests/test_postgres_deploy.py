"""The production deployment for real: `deploy/dagster.yaml` on a PostgreSQL server (started on
loopback for the session), one pipeline partition run through `city-pipeline run`, and what
PostgreSQL then holds: the runs, the asset materializations with their partition, the check
results."""

from __future__ import annotations

import configparser
import json
import re
import shlex
import sys
from pathlib import Path

import production
import pytest
import yaml

LINEAGE_KEYS = ["raw/air4thai_hourly", "raw/traffy_tickets", "raw/open_meteo_daily"]
PUBLISHED = [
    "published/mart_air_quality_daily",
    "published/mart_complaints_daily",
    "published/mart_weather_daily",
    "published/release",
]


@pytest.fixture(scope="module")
def run() -> production.PipelineRun:
    return production.pipeline_run()


def materializations(setup: production.Production) -> dict[str, set[str | None]]:
    rows = setup.query(
        "SELECT asset_key, partition FROM event_logs "
        "WHERE dagster_event_type = 'ASSET_MATERIALIZATION'"
    )
    found: dict[str, set[str | None]] = {}
    for asset_key, partition in rows:
        found.setdefault("/".join(json.loads(asset_key)), set()).add(partition)
    return found


CLI_TAG = {"city_pipeline/launched_by": "cli"}


def test_deploy_config_keeps_secrets_in_the_environment():
    text = production.DEPLOY_YAML.read_text(encoding="utf-8")
    config = yaml.safe_load(text)
    database = config["storage"]["postgres"]["postgres_db"]
    for field in ("hostname", "port", "db_name", "username", "password"):
        assert set(database[field]) == {"env"}, field
    assert not re.search(r"password:\s*[^{\s]", text)
    assert config["telemetry"] == {"enabled": False}


def test_deploy_config_loads_as_a_postgres_instance_with_queue_pools_and_retries():
    setup = production.production("city_dagster_config")
    with setup.instance() as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        assert type(instance.schedule_storage).__name__ == "PostgresScheduleStorage"
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        assert instance.run_retries_enabled and instance.run_retries_max_retries == 1
        assert not instance.telemetry_enabled
        pools = instance.get_concurrency_config().pool_config
        assert pools.default_pool_limit == 1 and pools.pool_granularity.value == "op"
        # The warehouse pool takes its limit from the config the first time a run asks for it.
        instance.event_log_storage.initialize_concurrency_limit_to_default("duckdb_warehouse")
        assert instance.event_log_storage.get_concurrency_info("duckdb_warehouse").slot_count == 1
        runs = instance.get_concurrency_config().run_queue_config
        assert runs.max_concurrent_runs == 4
        assert {"key": "dagster/backfill", "limit": 1} in runs.tag_concurrency_limits


def test_one_partition_runs_against_postgres(run):
    assert run.returncode == 0, run.output[-4000:]


def test_postgres_holds_the_runs(run):
    rows = run.production.query("SELECT pipeline_name, status, run_body FROM runs")
    statuses = {name: status for name, status, _ in rows}
    assert statuses == {"monthly_refresh": "SUCCESS", "nightly_refresh": "SUCCESS"}
    nightly = next(json.loads(body) for name, _, body in rows if name == "nightly_refresh")
    tags = dict(nightly["tags"]) if isinstance(nightly["tags"], dict) else nightly["tags"]
    assert tags["dagster/asset_partition_range_start"] == production.DAY


def test_postgres_holds_the_asset_materializations_with_their_partition(run):
    found = materializations(run.production)
    for key in LINEAGE_KEYS:
        assert production.DAY in found.get(key, set()), key
    assert "2024-01-01" in found["raw/dopa_population"]  # the monthly job's month
    marts = {key.split("/")[-1] for key in found if not key.startswith(("raw/", "published/"))}
    assert {"mart_air_quality_daily", "mart_complaints_daily", "mart_weather_daily"} <= marts
    for key in PUBLISHED:
        assert key in found, key


def cli_run_ids(setup: production.Production) -> list[str]:
    """The runs `city-pipeline run` made (other tests add runs to the same database later)."""
    import dagster as dg

    with setup.instance() as instance:
        records = instance.get_run_records(dg.RunsFilter(tags=CLI_TAG))
        return [r.dagster_run.run_id for r in records]


def test_postgres_holds_the_check_results(run):
    run_ids = cli_run_ids(run.production)
    rows = run.production.query(
        "SELECT asset_key, check_name, execution_status, evaluation_event "
        "FROM asset_check_executions WHERE run_id = ANY(%s)",
        (run_ids,),
    )
    assert rows
    checks = {
        ("/".join(json.loads(key)), name): (status, json.loads(event) if event else None)
        for key, name, status, event in rows
    }
    gx = {key: status for key, (status, _) in checks.items() if key[1].startswith("gx_")}
    assert ("published/mart_air_quality_daily", "gx_mart_air_quality_daily") in gx
    assert set(gx.values()) == {"SUCCEEDED"}, gx  # every mart passed its suite: published
    errors = [
        key
        for key, (status, event) in checks.items()
        if status != "SUCCEEDED"
        and event["dagster_event"]["event_specific_data"]["severity"]["__enum__"]
        != "AssetCheckSeverity.WARN"
    ]
    assert errors == []


def test_the_dagster_api_reads_the_same_history_from_postgres(run):
    import dagster as dg

    with run.production.instance() as instance:
        records = instance.get_run_records(dg.RunsFilter(job_name="nightly_refresh", tags=CLI_TAG))
        assert [r.dagster_run.status for r in records] == [dg.DagsterRunStatus.SUCCESS]
        # Other tests add runs to this database later; read this run's own materializations.
        result = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey(["raw", "air4thai_hourly"])), limit=1000
        )
        mine = [r for r in result.records if r.run_id == records[0].dagster_run.run_id]
        assert [r.asset_materialization.partition for r in mine] == [production.DAY]


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read(production.ROOT / "deploy" / "systemd" / name, encoding="utf-8")
    return parser


def test_systemd_units_run_the_services_on_loopback_with_the_env_file():
    webserver = unit("city-pipeline-webserver.service")["Service"]
    daemon = unit("city-pipeline-daemon.service")["Service"]
    command = shlex.split(webserver["ExecStart"])
    assert Path(command[0]).name == "dagster-webserver"
    assert command[command.index("--host") + 1] == "127.0.0.1"
    assert command[command.index("--workspace") + 1].endswith("/workspace.yaml")
    assert shlex.split(daemon["ExecStart"])[1:3] == ["run", "--workspace"]
    for service in (webserver, daemon):
        assert service["EnvironmentFile"] == "/etc/city-pipeline/city-pipeline.env"
        assert service["User"] == "citypipeline"
        assert (
            Path(sys.executable).with_name(Path(shlex.split(service["ExecStart"])[0]).name).exists()
        )  # the commands the units call are installed in the venv


def test_env_example_sets_every_variable_the_instance_reads():
    needed = set(re.findall(r"\{env: (\w+)\}", production.DEPLOY_YAML.read_text("utf-8")))
    example = (production.ROOT / "deploy" / "city-pipeline.env.example").read_text("utf-8")
    defined = set(re.findall(r"^(\w+)=", example, flags=re.MULTILINE))
    assert needed and needed <= defined
    assert {
        "DAGSTER_HOME",
        "CITY_PIPELINE_DATA_DIR",
        "CITY_PIPELINE_ALERT_WEBHOOK",
        "DAGSTER_DISABLE_TELEMETRY",
    } <= defined
