"""`status_store` reads Dagster's storage tables by plain SQL; these tests hold it to what the
Dagster API reads from the same instance, on SQLite (a laptop) and on PostgreSQL
(deploy/dagster.yaml): real runs of a small partitioned job with a passing, a failing and a
warning check."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
import pytest

from city_pipeline.status_store import open_store, partition_label

DAYS = ["2024-01-01", "2024-01-02"]
PARTITIONS = dg.DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-01-05")
KEY = dg.AssetKey(["raw", "readings"])
CHECKS = {
    "rows_present": (True, "ERROR"),
    "no_gaps": (False, "ERROR"),
    "late_rows": (False, "WARN"),
}


@dg.asset(
    key=KEY,
    partitions_def=PARTITIONS,
    check_specs=[dg.AssetCheckSpec(name, asset=KEY) for name in CHECKS],
)
def readings():
    yield dg.Output(None)
    for name, (passed, severity) in CHECKS.items():
        yield dg.AssetCheckResult(
            check_name=name, passed=passed, severity=dg.AssetCheckSeverity[severity]
        )


@dg.asset(key=dg.AssetKey(["marts", "summary"]), deps=[KEY])
def summary() -> None:
    return None


JOB = dg.define_asset_job("nightly_refresh", selection=[KEY], partitions_def=PARTITIONS)
DEFS = dg.Definitions(assets=[readings, summary], jobs=[JOB])


@pytest.fixture(params=["sqlite", "postgres"])
def home(request, tmp_path, monkeypatch) -> Path:
    if request.param == "sqlite":
        home = tmp_path / "dagster_home"
        home.mkdir()
    else:
        import production

        setup = production.production("city_dagster_status_store")
        home = setup.home
        for key, value in setup.env.items():
            monkeypatch.setenv(key, value)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


def run_history(home: Path) -> dict[str, str]:
    """Two partition runs of the job and one unpartitioned materialization; their run ids."""
    job = DEFS.resolve_job_def("nightly_refresh")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        runs = {day: job.execute_in_process(instance=instance, partition_key=day) for day in DAYS}
        other = dg.materialize([summary], instance=instance)
    assert all(r.success for r in runs.values()) and other.success
    return {**{day: r.run_id for day, r in runs.items()}, "summary": other.run_id}


def test_the_store_reads_what_the_dagster_api_reads(home):
    run_ids = run_history(home)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        record = instance.get_asset_records([KEY])[0].asset_entry.last_materialization
        partitions = instance.get_materialized_partitions(KEY)
        check_keys = [dg.AssetCheckKey(KEY, name) for name in CHECKS]
        latest = instance.event_log_storage.get_latest_asset_check_execution_by_key(check_keys)
        last_run = instance.get_run_records(dg.RunsFilter(job_name="nightly_refresh"), limit=1)[0]
        storage = type(instance.run_storage).__name__.replace("RunStorage", "")

    with open_store(home) as store:
        assert store.label == f"{home} ({storage} storage)"
        materialized = store.materializations()
        checks = store.latest_checks()
        runs = store.latest_runs(["nightly_refresh", "monthly_refresh"])
        statuses = store.run_statuses([run_ids["summary"]])

    mine = materialized["raw/readings"]
    assert mine.run_id == record.run_id == run_ids[DAYS[-1]]
    assert mine.timestamp == pytest.approx(record.timestamp, abs=1e-3)
    assert mine.newest_partition == max(partitions) == DAYS[-1]
    assert materialized["marts/summary"].newest_partition is None
    assert materialized["marts/summary"].run_id == run_ids["summary"]

    for key in check_keys:
        execution = checks[("raw/readings", key.name)]
        assert execution.status == latest[key].status.value
        assert execution.run_id == latest[key].run_id == run_ids[DAYS[-1]]
        assert execution.timestamp == pytest.approx(latest[key].create_timestamp, abs=1)
    assert [checks[("raw/readings", n)].status for n in CHECKS] == ["SUCCEEDED", "FAILED", "FAILED"]
    assert [checks[("raw/readings", n)].warn_only for n in CHECKS] == [False, False, True]

    assert set(runs) == {"nightly_refresh"}  # the monthly job never ran
    nightly = runs["nightly_refresh"]
    assert nightly.run_id == last_run.dagster_run.run_id == run_ids[DAYS[-1]]
    assert nightly.status == last_run.dagster_run.status.value == "SUCCESS"
    assert nightly.started == pytest.approx(last_run.start_time, abs=1e-3)
    assert partition_label(nightly.tags) == DAYS[-1]
    assert statuses == {run_ids["summary"]: "SUCCESS"}


def test_a_fresh_instance_has_no_history(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    with open_store(home) as store:
        assert store.materializations() == {}
        assert store.latest_checks() == {}
        assert store.latest_runs(["nightly_refresh"]) == {}


def test_an_instance_storage_status_cannot_read_is_refused_in_one_line(tmp_path):
    from city_pipeline.settings import ConfigError

    (tmp_path / "dagster.yaml").write_text(
        "run_storage:\n  module: my_storage\n  class: MyRunStorage\n", encoding="utf-8"
    )
    with pytest.raises(ConfigError, match="storage:` is `sqlite` or `postgres`"):
        open_store(tmp_path)


def test_postgres_values_come_from_the_environment(tmp_path, monkeypatch):
    from city_pipeline.settings import ConfigError

    for key in [k for k in os.environ if k.startswith("DAGSTER_PG_")]:
        monkeypatch.delenv(key)
    (tmp_path / "dagster.yaml").write_text(
        "storage:\n  postgres:\n    postgres_db:\n      hostname: {env: DAGSTER_PG_HOST}\n"
        "      db_name: x\n      username: y\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match="DAGSTER_PG_HOST is not set"):
        open_store(tmp_path)


def test_an_unreachable_postgres_is_one_line(tmp_path, monkeypatch):
    from city_pipeline.settings import ConfigError

    monkeypatch.setenv("DAGSTER_PG_PORT", "9")  # nothing listens on the discard port
    (tmp_path / "dagster.yaml").write_text(
        "storage:\n  postgres:\n    postgres_db:\n      hostname: 127.0.0.1\n"
        "      port: {env: DAGSTER_PG_PORT}\n      db_name: x\n      username: y\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=r"PostgreSQL \(127.0.0.1:9/x\): ") as raised:
        open_store(tmp_path)
    assert "\n" not in str(raised.value)
