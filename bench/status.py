"""`python -m bench.status --data-dir DIR`: how long `city-pipeline status` takes (budget 3 s).

Times the command in fresh subprocesses against a data dir that has run the pipeline (e.g. after
`make run`): once cold (no cached asset catalog: the definitions are built, as after a code
change) and `--repeat` times warm (the catalog cached by the previous call or by `run`), beside
the floor every Dagster command pays, `import dagster` plus opening the instance (which `status`
no longer pays: it reads the instance's tables directly). Beside wall seconds it records the
command's CPU seconds (user + system), which a busy shared machine inflates far less. Writes
`bench/results/status-<date>.json` and prints one line per measurement.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"
STATUS_BUDGET_S = 3.0
FLOOR = "import dagster as dg; dg.DagsterInstance.get().dispose()"


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of one run of `command`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, env=env, stdout=subprocess.DEVNULL, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return round(wall, 2), round(cpu, 2)


def measure(data_dir: Path, repeat: int) -> dict[str, object]:
    env = {
        **os.environ,
        "DAGSTER_HOME": str(data_dir / "dagster_home"),
        "DAGSTER_DISABLE_TELEMETRY": "1",
    }
    status = [sys.executable, "-m", "city_pipeline.cli", "status", "--data-dir", str(data_dir)]
    (data_dir / ".cache" / "status_catalog.json").unlink(missing_ok=True)
    load_before = os.getloadavg()
    cold, cold_cpu = timed(status, env)
    warm, warm_cpu = zip(*(timed(status, env) for _ in range(repeat)), strict=True)
    floor, floor_cpu = zip(
        *(timed([sys.executable, "-c", FLOOR], env) for _ in range(repeat)), strict=True
    )
    return {
        "date": date.today().isoformat(),
        "cpus": os.cpu_count(),
        "load_average": load_before,
        "load_average_after": os.getloadavg(),
        "cold_s": cold,
        "cold_cpu_s": cold_cpu,
        "warm_s": list(warm),
        "warm_median_s": statistics.median(warm),
        "warm_cpu_median_s": statistics.median(warm_cpu),
        "dagster_floor_median_s": statistics.median(floor),
        "dagster_floor_cpu_median_s": statistics.median(floor_cpu),
        "budget_s": STATUS_BUDGET_S,
        "within_budget": statistics.median(warm) <= STATUS_BUDGET_S,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.status", description=__doc__)
    parser.add_argument("--data-dir", type=Path, required=True, help="a data dir after `run`")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    result = measure(args.data_dir.resolve(), args.repeat)
    args.out.mkdir(parents=True, exist_ok=True)
    target = args.out / f"status-{result['date']}.json"
    target.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    for key, value in result.items():
        print(f"{key:<24} {value}")
    print(f"written {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
