"""Time and memory of the Analyse stage's models.

    python -m bench.analyse [--since 2022-01-01]        the PM2.5 forecast on the seed history
    python -m bench.analyse --complaints L [--dir DIR]  the complaint models at a bench size

Each prints one JSON object: seconds (wall and CPU) per step and the process's peak RSS.

Forecast: training (2-year backtest + final fit), tomorrow's inference, the `evaluate forecast`
backtest. Complaints (`bench/analyse_complaints.py`): a warehouse whose fct_complaints has the
size's tickets (real texts and types from data/history, resampled) is built in a child process,
with the analyse tables of the previous nights in place; then this process times the weekly
classifier training and one night's `complaint_insights` + `complaint_surges`.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from collections.abc import Callable
from typing import Any

import pandas as pd

from city_pipeline.analyse import forecast, history


def timed(step: Callable[[], Any]) -> tuple[Any, dict[str, float]]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = step()
    return result, {
        "wall_s": round(time.perf_counter() - wall, 2),
        "cpu_s": round(time.process_time() - cpu, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.analyse")
    parser.add_argument("--since", default="2022-01-01", help="backtest from this day")
    parser.add_argument("--complaints", metavar="SIZE", help="bench the complaint models instead")
    parser.add_argument("--dir", help="data directory for --complaints (default: a temp dir)")
    args = parser.parse_args(argv)
    if args.complaints:
        from bench.analyse_complaints import bench_complaints

        print(json.dumps(bench_complaints(args.complaints, args.dir)))
        return 0
    rows, load = timed(lambda: history.read_daily_csv(history.SEED_HISTORY))
    trained, train = timed(lambda: forecast.train(rows))
    _, infer = timed(
        lambda: forecast.predict_next_day(
            rows, trained.estimator, trained.station_methods, trained.interval, "bench", ["46T"]
        )
    )
    _, backtest = timed(lambda: forecast.evaluate(rows, since=pd.Timestamp(args.since)))
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = {
        "rows": len(rows),
        "load": load,
        "train": train,
        "inference": infer,
        f"evaluate_since_{args.since}": backtest,
        "peak_rss_mb": round(peak_kb / 1024, 1),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
