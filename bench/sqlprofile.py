"""Where our capture spends its time: `python -m bench.sqlprofile --size S --capture traffy`.

Runs the capture of one source over the size's landed files (as the `ours` stage does) with every
DuckDB connection the parsers take wrapped, and prints the time of each SQL statement shape
(summed over the partitions, in ms per partition), the time spent taking connections, and the
rest (Python: envelope checks, Arrow, Parquet writes). Run it before and after changing a
source module's parse.
The work directory must hold the size's landing files (`python -m bench --size S --stages
generate` writes them).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb

from bench.__main__ import default_workdir
from bench.city import bench_settings
from bench.landing import CAPTURES
from city_pipeline.sources import common

Timings = dict[str, list[float]]  # statement shape -> [count, seconds]


class TimedConnection:
    """A DuckDB connection whose statements are timed (results are materialised inside)."""

    def __init__(self, connection: duckdb.DuckDBPyConnection, timings: Timings):
        self._connection, self._timings = connection, timings

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connection, name)

    def _timed(self, kind: str, query: str, work: Callable[[], Any]) -> Any:
        shape = f"{kind}: " + re.sub(r"\s+", " ", query).strip()[:100]
        started = time.perf_counter()
        result = work()
        entry = self._timings[shape]
        entry[0] += 1
        entry[1] += time.perf_counter() - started
        return result

    def execute(self, query: str, *args: Any, **kwargs: Any) -> Any:
        return self._timed(
            "execute", query, lambda: self._connection.execute(query, *args, **kwargs)
        )

    def sql(self, query: str, *args: Any, **kwargs: Any) -> Any:
        relation = self._connection.sql(query, *args, **kwargs)
        timed = self._timed

        class TimedRelation:
            def __getattr__(self, name: str) -> Any:
                return getattr(relation, name)

            def to_arrow_table(self) -> Any:
                return timed("sql", query, relation.to_arrow_table)

            def fetchall(self) -> Any:
                return timed("sql", query, relation.fetchall)

        return TimedRelation()


class TimedDatabase:
    """Stands in for the process-wide database: every cursor is a timed connection."""

    def __init__(self, database: duckdb.DuckDBPyConnection, timings: Timings):
        self._database, self._timings = database, timings

    def cursor(self) -> TimedConnection:
        started = time.perf_counter()
        cursor = self._database.cursor()
        entry = self._timings["cursor() (a connection to the process-wide database)"]
        entry[0] += 1
        entry[1] += time.perf_counter() - started
        return TimedConnection(cursor, self._timings)


def profile(workdir: Path, capture: str) -> tuple[float, int, Timings]:
    from bench.child import capture_ours, landed_batches
    from city_pipeline.sources import all_captures

    settings = bench_settings(workdir)
    spec = next(s for s in all_captures(settings) if s.name == capture)
    batches = landed_batches(settings, capture)
    timings: Timings = defaultdict(lambda: [0, 0.0])
    # Parses take cursors of the process-wide database (`common.duckdb_connection`): put a
    # database whose cursors are timed in its place.
    database = TimedDatabase(duckdb.connect(), timings)
    saved = common._database, common._database_pid
    common._database, common._database_pid = database, os.getpid()
    try:
        started = time.perf_counter()
        capture_ours(settings, spec, batches)
        wall = time.perf_counter() - started
    finally:
        common._database, common._database_pid = saved
    return wall, len(batches), timings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sqlprofile", description=__doc__)
    parser.add_argument("--size", default="S")
    parser.add_argument("--capture", required=True, choices=CAPTURES)
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args(argv)
    workdir = args.workdir or default_workdir(args.size.upper())
    wall, partitions, timings = profile(workdir, args.capture)
    per = 1000 / max(partitions, 1)
    print(
        f"{args.capture}: {wall:.2f} s for {partitions} partitions "
        f"({wall * per:.1f} ms per partition)"
    )
    ranked = sorted(timings.items(), key=lambda kv: -kv[1][1])
    for shape, (count, seconds) in ranked[: args.top]:
        print(f"  {seconds * per:8.1f} ms/partition  x{count / max(partitions, 1):<4.1f} {shape}")
    measured = sum(seconds for _, seconds in timings.values())
    print(
        f"  {(wall - measured) * per:8.1f} ms/partition  everything else (Python, Arrow, Parquet "
        "writes)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
