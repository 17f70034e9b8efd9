"""Time and memory of the Analyse stage's PM2.5 forecast on the seed PCD history.

    python -m bench.analyse [--since 2022-01-01]

Prints one JSON object: seconds (wall and CPU) for training (2-year backtest + final fit), for
tomorrow's inference, and for the `evaluate forecast` backtest, and the process's peak RSS.
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
    args = parser.parse_args(argv)
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
