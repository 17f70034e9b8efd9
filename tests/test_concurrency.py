"""DuckDB has one writer: overlapping runs that write the warehouse serialize through the
`duckdb_warehouse` pool (limit 1, from deploy/dagster.yaml on PostgreSQL) and leave it whole.

Two runs start at once, as a backfill and the nightly run would: days 2024-01-03 and
2024-01-04..05, each capturing its days and building the daily-partitioned marts. While the test
itself holds the pool's one slot, both runs must reach their warehouse step and wait; once it is
released they take turns, never overlapping, and both succeed. The warehouse then holds every
day exactly once and opens read-only and read-write (no lock left behind)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import dagster as dg
import duckdb
import production
import pytest

from city_pipeline.defs.build import build_definitions
from city_pipeline.defs.naming import WAREHOUSE_POOL
from city_pipeline.settings import load_settings

HOLDER = ("test-holder", "hold-the-warehouse")
RUNNER = """
import sys
import dagster as dg
from city_pipeline.defs import jobs
from city_pipeline.defs.build import build_definitions
from city_pipeline.settings import load_settings

start, end = sys.argv[1:3]
defs = build_definitions(load_settings())
assets = [a for a in defs.assets if isinstance(a, dg.AssetsDefinition)]
with dg.DagsterInstance.get() as instance:
    result = defs.resolve_job_def(jobs.NIGHTLY_JOB).execute_in_process(
        instance=instance, asset_selection=jobs.daily_keys(assets), raise_on_error=False,
        tags={"dagster/asset_partition_range_start": start,
              "dagster/asset_partition_range_end": end, "city_pipeline/test": "overlap"})
sys.exit(0 if result.success else 1)
"""
WINDOWS = [("2024-01-03", "2024-01-03"), ("2024-01-04", "2024-01-05")]


@pytest.fixture(scope="module")
def overlap():
    """Both runs launched while the pool's slot is held; released once both wait for it."""
    setup = production.pipeline_run()
    assert setup.returncode == 0, setup.output[-3000:]
    prod = setup.production
    env = {**os.environ, **prod.env}
    with prod.instance() as instance:
        storage = instance.event_log_storage
        if WAREHOUSE_POOL not in storage.get_concurrency_keys():  # else the setup run made it
            storage.initialize_concurrency_limit_to_default(WAREHOUSE_POOL)
        assert storage.get_concurrency_info(WAREHOUSE_POOL).slot_count == 1
        assert storage.claim_concurrency_slot(WAREHOUSE_POOL, *HOLDER).is_claimed
        runs = [
            subprocess.Popen(
                [sys.executable, "-c", RUNNER, start, end],
                cwd=production.ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for start, end in WINDOWS
        ]
        try:
            waiting = wait_for_both_to_wait(storage, runs)
        finally:
            storage.free_concurrency_slot_for_step(*HOLDER)
        outputs = [run.communicate(timeout=600)[0] for run in runs]
        yield {
            "waiting": waiting,
            "codes": [run.returncode for run in runs],
            "outputs": outputs,
            "instance": instance,
            "warehouse": prod.data_dir / "warehouse" / "city.duckdb",
        }


def wait_for_both_to_wait(storage, runs, timeout: float = 180) -> set[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = storage.get_concurrency_info(WAREHOUSE_POOL)
        if len(info.pending_run_ids) == 2:
            return info.pending_run_ids
        for run in runs:
            assert run.poll() is None, (
                f"a run ended before reaching the warehouse:\n{run.communicate()[0][-3000:]}"
            )
        time.sleep(0.25)
    raise AssertionError("the two runs did not both wait for the warehouse pool")


def warehouse_ops() -> set[str]:
    """The steps (ops) of the definitions that claim the warehouse pool."""
    defs = build_definitions(load_settings())
    nodes = [*defs.assets, *(defs.asset_checks or [])]
    return {
        node.op.name
        for node in nodes
        if isinstance(node, dg.AssetsDefinition) and node.op.pool == WAREHOUSE_POOL
    }


def test_every_asset_that_opens_the_warehouse_is_in_the_pool():
    pooled = warehouse_ops()
    assert {"curate_daily", "curate_models"} <= pooled
    assert "published__mart_air_quality_daily" in pooled  # reads the mart from the warehouse
    assert not any(name.startswith("capture_") for name in pooled)  # captures run in parallel


def pooled_steps(instance, run_id: str) -> dict[str, list[float]]:
    """Start and end times of the run's steps that hold the warehouse pool."""
    pooled = warehouse_ops()
    spans: dict[str, list[float]] = {}
    for record in instance.get_records_for_run(run_id).records:
        event = record.event_log_entry.dagster_event
        if event is None or event.step_key not in pooled:
            continue
        if event.event_type == dg.DagsterEventType.STEP_START:
            spans.setdefault(event.step_key, [record.timestamp, 0.0])[0] = record.timestamp
        elif event.event_type in (
            dg.DagsterEventType.STEP_SUCCESS,
            dg.DagsterEventType.STEP_FAILURE,
        ):
            spans.setdefault(event.step_key, [0.0, record.timestamp])[1] = record.timestamp
    return spans


def test_both_runs_waited_for_the_warehouse_while_its_slot_was_taken(overlap):
    instance = overlap["instance"]
    for run_id in overlap["waiting"]:
        run = instance.get_run_by_id(run_id)
        assert run.tags["city_pipeline/test"] == "overlap"
    assert len(overlap["waiting"]) == 2


def test_overlapping_runs_both_succeed(overlap):
    for code, output in zip(overlap["codes"], overlap["outputs"], strict=True):
        assert code == 0, output[-4000:]


def test_warehouse_steps_never_overlap(overlap):
    instance = overlap["instance"]
    first, second = (pooled_steps(instance, run_id) for run_id in sorted(overlap["waiting"]))
    assert first and second
    for start_a, end_a in first.values():
        for start_b, end_b in second.values():
            assert end_a <= start_b or end_b <= start_a, (first, second)
    blocked = [
        r
        for run_id in overlap["waiting"]
        for r in instance.get_records_for_run(
            run_id, of_type=dg.DagsterEventType.ENGINE_EVENT
        ).records
        if WAREHOUSE_POOL in (r.event_log_entry.user_message or "")
    ]
    assert blocked, "no run logged that it waited for the warehouse pool"


def test_warehouse_holds_every_day_once_and_is_not_locked(overlap):
    path = overlap["warehouse"]
    with duckdb.connect(str(path), read_only=True) as warehouse:
        days = warehouse.execute(
            "SELECT DISTINCT date::VARCHAR FROM marts.mart_air_quality_daily ORDER BY 1"
        ).fetchall()
        assert [d for (d,) in days] == [production.DAY, "2024-01-03", "2024-01-04", "2024-01-05"]
        total, distinct = warehouse.execute(
            "SELECT count(*), count(DISTINCT (date, station_id)) FROM marts.mart_air_quality_daily"
        ).fetchone()
        assert total == distinct > 0
        weather = warehouse.execute(
            "SELECT count(*), count(DISTINCT date) FROM marts.mart_weather_daily"
        ).fetchone()
        assert weather == (4, 4)
    with duckdb.connect(str(path)) as writer:  # no run left a lock behind
        assert writer.execute("SELECT 1").fetchone() == (1,)
