"""Run one stage in a fresh subprocess and measure it: wall time (reported by the stage itself),
the whole process's time, and its peak RSS from `os.wait4` (the rusage of that one child,
including any process it waited for, unlike RUSAGE_CHILDREN which keeps the maximum so far)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.city import stage_env
from city_pipeline.settings import PROJECT_ROOT

# Safety limit on any stage's RSS (see RssGuard); `python -m bench --rss-limit-mb` sets it.
RSS_LIMIT_MB: float | None = 6144


@dataclass
class Measurement:
    label: str
    group: str  # generate, capture, dbt, import, gx
    method: str | None = None
    target: str | None = None  # capture name, dbt run, import kind
    wall_s: float | None = None
    process_s: float | None = None
    rows: int | None = None
    bytes: int | None = None
    peak_rss_mb: float | None = None
    load_before: float | None = None
    load_after: float | None = None
    ok: bool = True
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rows_per_s(self) -> float | None:
        if not self.rows or not self.wall_s:
            return None
        return self.rows / self.wall_s

    @property
    def mb_per_s(self) -> float | None:
        if not self.bytes or not self.wall_s or self.group != "capture":
            return None
        return self.bytes / 1e6 / self.wall_s

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["rows_per_s"] = None if self.rows_per_s is None else round(self.rows_per_s, 1)
        data["mb_per_s"] = None if self.mb_per_s is None else round(self.mb_per_s, 2)
        return data


class RssGuard:
    """Kills a stage whose resident memory passes `limit_mb` (size L on a shared machine: a stage
    that holds the whole history must not push the other processes into the OOM killer)."""

    def __init__(self, pid: int, limit_mb: float | None, every_s: float = 0.2):
        self.pid, self.limit_mb, self.every_s = pid, limit_mb, every_s
        self.killed = False
        self._done = threading.Event()
        if limit_mb:
            threading.Thread(target=self._watch, daemon=True).start()

    def _rss_mb(self) -> float:
        try:
            with open(f"/proc/{self.pid}/status", encoding="ascii") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) / 1024
        except (FileNotFoundError, ProcessLookupError, ValueError):
            pass
        return 0.0

    def _watch(self) -> None:
        while not self._done.wait(self.every_s):
            if self._rss_mb() > self.limit_mb:
                self.killed = True
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, signal.SIGKILL)
                return

    def stop(self) -> None:
        self._done.set()


def _tail(path: Path, lines: int = 15) -> str:
    text = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
    return "\n".join(text.strip().splitlines()[-lines:])


def run_stage(
    workdir: Path,
    label: str,
    group: str,
    stage: str,
    options: list[str],
    *,
    method: str | None = None,
    target: str | None = None,
    echo: bool = True,
    rss_limit_mb: float | None = None,
) -> Measurement:
    """`python -m bench.child <stage> ...` in the benchmark's environment, measured."""
    logs, results = workdir / "logs", workdir / "results"
    logs.mkdir(parents=True, exist_ok=True)
    results.mkdir(parents=True, exist_ok=True)
    result_path, log_path = results / f"{label}.json", logs / f"{label}.log"
    result_path.unlink(missing_ok=True)
    command = [sys.executable, "-m", "bench.child", stage, str(workdir), str(result_path), *options]
    measurement = Measurement(label=label, group=group, method=method, target=target)
    measurement.load_before = round(os.getloadavg()[0], 2)
    started = time.perf_counter()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=stage_env(workdir), cwd=PROJECT_ROOT
        )
        limit = rss_limit_mb if rss_limit_mb is not None else RSS_LIMIT_MB
        guard = RssGuard(process.pid, limit)
        _, status, usage = os.wait4(process.pid, 0)
        guard.stop()
        process.returncode = os.waitstatus_to_exitcode(status)
    measurement.process_s = round(time.perf_counter() - started, 3)
    measurement.load_after = round(os.getloadavg()[0], 2)
    measurement.peak_rss_mb = round(usage.ru_maxrss / 1024, 1)  # Linux reports KiB
    if guard.killed:
        measurement.ok = False
        measurement.error = (
            f"killed by the benchmark's safety limit: RSS passed {limit:,.0f} MB "
            "(the stage would have used more)"
        )
    elif process.returncode != 0 or not result_path.exists():
        measurement.ok = False
        measurement.error = f"exit {process.returncode}: {_tail(log_path)}"
    else:
        result = json.loads(result_path.read_text(encoding="utf-8"))
        measurement.wall_s = round(result["wall_s"], 3)
        measurement.rows = result.get("rows")
        measurement.bytes = result.get("bytes")
        measurement.extra = result.get("extra") or {}
    if echo:
        _echo(measurement)
    return measurement


def _echo(m: Measurement) -> None:
    if not m.ok:
        print(f"  {m.label:<34} FAILED ({m.error.splitlines()[-1] if m.error else ''})", flush=True)
        return
    rate = f"{m.rows_per_s:>12,.0f} rows/s" if m.rows_per_s else " " * 19
    print(
        f"  {m.label:<34} {m.wall_s:>9.2f} s {rate}  peak RSS {m.peak_rss_mb:>7,.0f} MB  "
        f"(load {m.load_before})",
        flush=True,
    )
