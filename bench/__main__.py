"""`python -m bench --size S|M|L`: generate city-scale landing files, run every stage side by side
in subprocesses of this one session, and write `bench/results/<size>-<date>.json` and `.md`.

Stages (each measured for wall time, rows/s and peak RSS):
  generate   landing files in the real payload shapes (reused when already generated)
  capture    per capture: ours (source parse + raw write), DuckDB-native, DuckDB-native in
             one query, pandas, dlt (when installed) on the same landed files
  dbt        parse, full rebuild on an empty warehouse, one-day refresh of the daily marts,
             the unpartitioned models the nightly run rebuilds as well
  import     `import city_pipeline.definitions` vs `import dagster, dagster_dbt`
  gx         read, scrub and validate each published mart
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from bench import runner
from bench.city import write_city
from bench.landing import CAPTURES, read_manifest
from bench.report import write_results
from bench.runner import Measurement, run_stage
from bench.sizes import SIZES, get_size

RESULTS_DIR = Path(__file__).resolve().parent / "results"
ALL_STAGES = ("generate", "capture", "dbt", "import", "gx")
ALL_METHODS = ("ours", "duckdb", "duckdb_bulk", "pandas", "dlt")
ALL_DBT_RUNS = ("parse", "full", "daily", "rest")


def default_workdir(size: str) -> Path:
    return Path(tempfile.gettempdir()) / "city-pipeline-bench" / size


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--size", default="S", choices=sorted(SIZES), help="default: S")
    parser.add_argument("--workdir", type=Path, help="default: $TMPDIR/city-pipeline-bench/SIZE")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="results folder")
    parser.add_argument(
        "--stages",
        default=",".join(ALL_STAGES),
        help=f"comma-separated subset of {','.join(ALL_STAGES)}",
    )
    parser.add_argument(
        "--methods", default=",".join(ALL_METHODS), help="capture methods to run (ours always runs)"
    )
    parser.add_argument(
        "--dbt-runs",
        default=",".join(ALL_DBT_RUNS),
        help="dbt runs: parse (warm-up), full, daily (one day), rest",
    )
    parser.add_argument(
        "--import-runs",
        type=int,
        default=5,
        help="measured runs of each import (after one warm-up)",
    )
    parser.add_argument(
        "--regenerate",
        action="store_true",
        help="write the landing files again even when they can be reused",
    )
    parser.add_argument(
        "--dbt-memory-limit",
        help="experiment: run dbt with DuckDB's memory_limit set (e.g. 1GB) in a profile copy",
    )
    parser.add_argument(
        "--rss-limit-mb",
        type=float,
        default=runner.RSS_LIMIT_MB,
        help="kill a stage whose RSS passes this (protects a shared machine); 0: no limit",
    )
    parser.add_argument("--note", action="append", default=[], help="a note for the results")
    return parser.parse_args(argv)


def selected(text: str, allowed: tuple[str, ...]) -> list[str]:
    items = [t.strip() for t in text.split(",") if t.strip()]
    unknown = sorted(set(items) - set(allowed))
    if unknown:
        raise SystemExit(f"unknown {unknown}; choose from {', '.join(allowed)}")
    return [a for a in allowed if a in items]


def run_generate(workdir: Path, size_name: str, regenerate: bool) -> list[Measurement]:
    size = get_size(size_name)
    write_city(workdir, size)
    if read_manifest(workdir, size) is not None and not regenerate:
        print("generate: reusing the landing files in", workdir, flush=True)
        return []
    m = run_stage(workdir, "generate", "generate", "generate", ["--size", size_name])
    if not m.ok:
        raise SystemExit(f"generating the landing files failed:\n{m.error}")
    return [m]


def run_captures(workdir: Path, methods: list[str]) -> list[Measurement]:
    if "dlt" in methods and importlib.util.find_spec("dlt") is None:
        print("capture: dlt is not installed (pip install -e '.[bench]'); skipping it")
        methods = [m for m in methods if m != "dlt"]
    out = []
    for capture in CAPTURES:
        for method in ["ours", *[m for m in methods if m != "ours"]]:
            out.append(
                run_stage(
                    workdir,
                    f"capture-{capture}-{method}",
                    "capture",
                    "capture",
                    ["--method", method, "--capture", capture],
                    method=method,
                    target=capture,
                )
            )
    return out


def run_dbt(
    workdir: Path, size_name: str, names: list[str], memory_limit: str | None = None
) -> list[Measurement]:
    # Dagster is imported here (parent only) for the production argument builder.
    from bench.city import bench_settings, write_dbt_profile
    from city_pipeline.defs import curate

    profile = []
    if memory_limit:  # an experiment: the project's profile leaves DuckDB at 80 % of RAM
        profile = ["--profiles-dir", str(write_dbt_profile(workdir, memory_limit))]

    settings = bench_settings(workdir)
    last = get_size(size_name).end
    one_day = {"min_date": last.isoformat(), "max_date": last.isoformat()}
    runs = [
        ("parse", ["parse"], False),
        ("full", curate.build_args(settings), True),
        ("daily", [*curate.build_args(settings, one_day), "--select", curate.DAILY_SELECT], False),
        # `curate_models` as the nightly job runs it: with the run's window (curate.run_window)
        ("rest", [*curate.build_args(settings, one_day), "--exclude", curate.DAILY_SELECT], False),
    ]
    out = []
    for name, args, fresh in (r for r in runs if r[0] in names):
        options = ["--args", json.dumps(args), *profile] + (["--fresh"] if fresh else [])
        m = run_stage(workdir, f"dbt-{name}", "dbt", "dbt", options, method="dbt", target=name)
        m.extra["args"] = args
        m.extra["duckdb_memory_limit"] = memory_limit
        out.append(m)
        if not m.ok and name in ("parse", "full"):
            break
    return out


def run_imports(workdir: Path, runs: int) -> list[Measurement]:
    from city_pipeline.defs import curate

    if not curate.CURATE_PROJECT.manifest_path.exists():  # what `make prepare` does
        curate.prepare_manifest()
    out = []
    for n in range(runs + 1):  # the first round warms the file cache and is not counted
        for what in ("bare", "defs"):
            m = run_stage(
                workdir,
                f"import-{what}-{n}",
                "import",
                "import",
                ["--what", what],
                method="import",
                target=what,
            )
            m.extra["warmup"] = n == 0
            out.append(m)
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    size = get_size(args.size)
    workdir = (args.workdir or default_workdir(size.name)).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    runner.RSS_LIMIT_MB = args.rss_limit_mb or None
    stages = selected(args.stages, ALL_STAGES)
    methods = selected(args.methods, ALL_METHODS)
    started = datetime.now(UTC).isoformat(timespec="seconds")
    print(f"bench size {size.name} ({size.description}) in {workdir}", flush=True)
    load = os.getloadavg()
    notes = [
        *args.note,
        f"Load average at start {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} on "
        f"{os.cpu_count()} CPUs; each stage records the 1-minute load before and after it.",
    ]
    if args.dbt_memory_limit:
        notes.append(f"Experiment: dbt ran with DuckDB memory_limit={args.dbt_memory_limit}.")
    measurements: list[Measurement] = []
    if "generate" in stages:
        measurements += run_generate(workdir, size.name, args.regenerate)
    elif read_manifest(workdir, size) is None:
        raise SystemExit(f"no landing files for size {size.name} in {workdir}: add generate")
    if "capture" in stages:
        measurements += run_captures(workdir, methods)
    if "dbt" in stages:
        measurements += run_dbt(
            workdir, size.name, selected(args.dbt_runs, ALL_DBT_RUNS), args.dbt_memory_limit
        )
    if "import" in stages:
        measurements += run_imports(workdir, args.import_runs)
    if "gx" in stages:
        measurements.append(run_stage(workdir, "gx", "gx", "gx", [], method="gx", target="marts"))
    from bench.report import results_document

    finished = datetime.now(UTC).isoformat(timespec="seconds")
    document = results_document(
        size.to_dict(), read_manifest(workdir, size) or {}, measurements, notes, started, finished
    )
    json_path, md_path = write_results(document, args.out)
    print(f"results: {json_path}\n         {md_path}")
    for budget in document["budgets"]:
        print(
            f"  [{'met' if budget['met'] else 'MISSED'}] {budget['budget']}: {budget['measured']}"
        )
    return 0 if all(m.ok for m in measurements) else 1


if __name__ == "__main__":
    sys.exit(main())
