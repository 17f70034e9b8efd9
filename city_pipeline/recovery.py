"""Crash recovery: runs whose process is gone are failed and their pool slots freed.

A run killed by `kill -9`, the out-of-memory killer or a reboot never reports its end: it stays
STARTED in the Dagster instance and keeps its slot of the `duckdb_warehouse` pool (size 1), so every
later run waits for that slot forever. Dagster's own run monitoring cannot see it: the default run
launcher (and `execute_in_process`, which the CLI uses) offers no worker health check.

Every run therefore records the process that executes it (host, pid and the process's start time,
so a recycled pid is not mistaken for the run). `recover` fails each started run whose process is
gone on this host and frees the slots it held, plus any slot still held by a finished run. The CLI
calls it before every run; in production the `dead_run_reaper` sensor calls it every minute.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

PROCESS_TAG = "city_pipeline/process"  # "<host>:<pid>:<process start ticks>"
ACTIVE_STATUSES = [
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]
FINISHED = [
    dg.DagsterRunStatus.SUCCESS,
    dg.DagsterRunStatus.FAILURE,
    dg.DagsterRunStatus.CANCELED,
]


def _start_ticks(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (field 22 of /proc/<pid>/stat)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: count from its closing one.
    return stat[stat.rindex(")") + 2 :].split()[19]


def process_tag(pid: int | None = None) -> str:
    """The tag value naming the process that executes a run (this one by default)."""
    pid = os.getpid() if pid is None else pid
    return f"{socket.gethostname()}:{pid}:{_start_ticks(pid) or ''}"


def process_gone(tag: str) -> bool:
    """True when the tagged process has certainly ended: same host, and no process with that pid
    and start time. A process on another host is never judged from here."""
    host, _, rest = tag.partition(":")
    pid_text, _, ticks = rest.partition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    current = _start_ticks(int(pid_text))
    return current is None or (bool(ticks) and current != ticks)


@dataclass(frozen=True)
class Recovered:
    run_id: str
    job: str
    started: str | None
    freed_slots: int

    def describe(self) -> str:
        since = f", started {self.started}" if self.started else ""
        return (
            f"run {self.run_id} ({self.job}{since}): its process is gone; marked failed, "
            f"{self.freed_slots} pool slot(s) freed"
        )


def _when(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")


def recover(instance: dg.DagsterInstance) -> list[Recovered]:
    """Fail every active run whose process is gone and free its slots; free slots that finished
    runs still hold. Returns what was recovered (the runs; freed slots of finished runs too)."""
    recovered = []
    for record in instance.get_run_records(dg.RunsFilter(statuses=ACTIVE_STATUSES)):
        run = record.dagster_run
        tag = run.tags.get(PROCESS_TAG) or _run_worker_tag(instance, run.run_id)
        if tag is None or not process_gone(tag):
            continue
        instance.report_run_failed(
            run,
            message=f"city-pipeline: the process that ran this run ({tag}) is gone (killed, out "
            "of memory or a reboot); marked failed so its pool slots are freed",
        )
        freed = _free_slots(instance, run.run_id)
        recovered.append(Recovered(run.run_id, run.job_name, _when(record.start_time), freed))
    recovered += _free_slots_of_finished_runs(instance)
    return recovered


def _run_worker_tag(instance: dg.DagsterInstance, run_id: str) -> str | None:
    """For a run launched by the daemon (no tag of ours): the run worker's pid, from the engine
    event the default run launcher records ("Started process for run (pid: N)"), on this host
    (the code server launching run workers runs beside the daemon, see deploy/)."""
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
        event = entry.dagster_event
        if event is None or not (event.message or "").startswith("Started process for run"):
            continue
        pid = event.engine_event_data.metadata.get("pid")
        if pid is not None:
            return f"{socket.gethostname()}:{pid.value}:"
    return None


def _free_slots(instance: dg.DagsterInstance, run_id: str) -> int:
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return 0
    return storage.free_concurrency_slots_for_run(run_id) or 0


def _free_slots_of_finished_runs(instance: dg.DagsterInstance) -> list[Recovered]:
    """Slots still held by a run that has finished, or that was deleted."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return []
    holders = storage.get_concurrency_run_ids()
    if not holders:
        return []
    runs = {
        r.dagster_run.run_id: r.dagster_run
        for r in instance.get_run_records(dg.RunsFilter(run_ids=list(holders)))
    }
    freed = []
    for run_id in sorted(holders):
        run = runs.get(run_id)
        if run is not None and run.status not in FINISHED:
            continue
        count = _free_slots(instance, run_id)
        if count:
            freed.append(Recovered(run_id, run.job_name if run else "(deleted run)", None, count))
    return freed


@dataclass(frozen=True)
class SlotHolder:
    pool: str
    run_id: str
    step_key: str
    job: str | None
    since: str | None


def pool_holders(instance: dg.DagsterInstance, pools: Iterable[str]) -> list[SlotHolder]:
    """Who holds the slots of `pools` now, and since when (the holding run's start)."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return []
    holders = []
    for pool in pools:
        for slot in storage.get_concurrency_info(pool).claimed_slots:
            record = next(
                iter(instance.get_run_records(dg.RunsFilter(run_ids=[slot.run_id]))), None
            )
            job = record.dagster_run.job_name if record else None
            since = _when(record.start_time) if record else None
            holders.append(SlotHolder(pool, slot.run_id, slot.step_key, job, since))
    return holders


def waiting_steps(instance: dg.DagsterInstance, pool: str, run_id: str) -> list[str]:
    """The steps of `run_id` queued for a slot of `pool`."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return []
    return [
        p.step_key
        for p in storage.get_concurrency_info(pool).pending_steps
        if p.run_id == run_id and p.assigned_timestamp is None
    ]


def report(recovered: Iterable[Recovered], say: Callable[[str], None]) -> None:
    for item in recovered:
        say(f"recovered {item.describe()}")


@contextlib.contextmanager
def announce_waits(
    instance: dg.DagsterInstance,
    run_id: str,
    pools: Iterable[str],
    say: Callable[[str], None],
    every_s: float = 15.0,
) -> Iterator[None]:
    """While the block runs, say every `every_s` seconds which run holds a pool that a step of
    `run_id` is waiting for, and since when: a wait is never silent."""
    pools = list(pools)
    done = threading.Event()

    def watch() -> None:
        while not done.wait(every_s):
            for pool in pools:
                if not waiting_steps(instance, pool, run_id):
                    continue
                for holder in pool_holders(instance, [pool]):
                    if holder.run_id != run_id:
                        say(
                            f"waiting for pool {pool}: held by run {holder.run_id} "
                            f"({holder.job or 'unknown job'}, step {holder.step_key}) "
                            f"since {holder.since or 'an unknown time'}"
                        )

    watcher = threading.Thread(target=watch, name="pool-wait-announcer", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()
        watcher.join(timeout=every_s)
