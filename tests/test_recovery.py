"""Crash recovery: a run killed with SIGKILL mid-dbt or mid-validation never blocks the next one.

The killed run stays STARTED in the instance and holds the `duckdb_warehouse` pool slot; the next
`city-pipeline run` must fail it, free the slot and complete by itself (before the fix it waited
forever, silently).
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from city_pipeline import recovery
from city_pipeline.settings import DEFAULT_CITY_FILE

DAY = ("--start", "2024-03-01", "--end", "2024-03-01")
RUN_TIMEOUT_S = 300


def cli_env(data_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "CITY_PIPELINE_DATA_DIR": str(data_dir),
        "CITY_PIPELINE_CONFIG": str(DEFAULT_CITY_FILE),
        "DAGSTER_HOME": str(data_dir / "dagster_home"),
    }


def run_until(data_dir: Path, marker: str) -> str:
    """Start `city-pipeline run` and SIGKILL its whole process group once `marker` is printed."""
    process = subprocess.Popen(
        [sys.executable, "-m", "city_pipeline.cli", "run", *DAY],
        env=cli_env(data_dir),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    seen, deadline = [], time.monotonic() + RUN_TIMEOUT_S
    for line in process.stdout:
        seen.append(line)
        if marker in line or time.monotonic() > deadline:
            break
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert any(marker in line for line in seen), "".join(seen[-30:])
    return "".join(seen)


def held_slots(data_dir: Path) -> set[str]:
    with dg.DagsterInstance.from_config(str(data_dir / "dagster_home")) as instance:
        return instance.event_log_storage.get_concurrency_run_ids()


def run_statuses(data_dir: Path) -> list[dg.DagsterRunStatus]:
    with dg.DagsterInstance.from_config(str(data_dir / "dagster_home")) as instance:
        return [r.status for r in instance.get_runs()]


@pytest.mark.parametrize(
    "marker",
    [" - curate_models - dbt build", " - published__dim_"],
    ids=["mid-dbt", "mid-validation"],
)
def test_a_run_killed_mid_step_does_not_block_the_next(tmp_path, marker, dbt_manifest):
    run_until(tmp_path, marker)
    assert held_slots(tmp_path), "the killed run should still hold the warehouse slot"
    assert dg.DagsterRunStatus.STARTED in run_statuses(tmp_path)

    finished = subprocess.run(
        [sys.executable, "-m", "city_pipeline.cli", "run", *DAY],
        env=cli_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
    )
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    assert "its process is gone; marked failed" in finished.stdout
    assert "pool slot(s) freed" in finished.stdout
    assert dg.DagsterRunStatus.STARTED not in run_statuses(tmp_path)
    assert run_statuses(tmp_path).count(dg.DagsterRunStatus.FAILURE) == 1
    assert not held_slots(tmp_path)
    assert (tmp_path / "published" / "current" / "release.json").exists()


def test_process_tag_tells_a_live_process_from_a_gone_one():
    assert not recovery.process_gone(recovery.process_tag())
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    tag = recovery.process_tag(child.pid)
    child.wait()
    assert recovery.process_gone(tag)
    # A recycled pid: same number, other start time.
    host, pid, _ = recovery.process_tag().split(":")
    assert recovery.process_gone(f"{host}:{pid}:1")
    # Another machine's process is never judged from here.
    assert not recovery.process_gone(f"another-host:{child.pid}:1")


def test_reaper_sensor_fails_a_dead_run_and_frees_its_slot(tmp_path):
    from city_pipeline.defs import sensors

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    with dg.DagsterInstance.local_temp(str(tmp_path)) as instance:
        storage = instance.event_log_storage
        storage.set_concurrency_slots("duckdb_warehouse", 1)
        dead = instance.add_run(
            dg.DagsterRun(
                job_name="nightly_refresh",
                run_id="dead-run",
                status=dg.DagsterRunStatus.STARTED,
                tags={recovery.PROCESS_TAG: recovery.process_tag(gone.pid)},
            )
        )
        alive = instance.add_run(
            dg.DagsterRun(
                job_name="nightly_refresh",
                run_id="live-run",
                status=dg.DagsterRunStatus.STARTED,
                tags={recovery.PROCESS_TAG: recovery.process_tag()},
            )
        )
        assert storage.claim_concurrency_slot("duckdb_warehouse", dead.run_id, "curate").is_claimed

        context = dg.build_sensor_context(instance=instance)
        result = sensors.dead_run_reaper(context)

        assert "1 dead run(s) recovered" in result.skip_message
        assert instance.get_run_by_id(dead.run_id).status == dg.DagsterRunStatus.FAILURE
        assert instance.get_run_by_id(alive.run_id).status == dg.DagsterRunStatus.STARTED
        assert storage.get_concurrency_run_ids() == set()
