"""One benchmark stage, run in its own process: `python -m bench.child <stage> <workdir> <result>
[options]`. The parent (`bench.runner`) reads the process's peak RSS from `os.wait4`; this side
times the work itself (imports excluded, except for the import stages where they are the work) and
writes a JSON result: wall seconds, rows, bytes and stage details.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

Result = dict[str, Any]


def _maxrss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


# --- generate ---------------------------------------------------------------------------------


def stage_generate(workdir: Path, options: argparse.Namespace) -> Result:
    from bench.city import bench_settings, write_city
    from bench.landing import generate
    from bench.sizes import get_size

    size = get_size(options.size)
    shutil.rmtree(workdir / "data", ignore_errors=True)
    write_city(workdir, size)
    started = time.perf_counter()
    manifest = generate(bench_settings(workdir), size, workdir)
    wall = time.perf_counter() - started
    captures = manifest["captures"]
    return {
        "wall_s": wall,
        "rows": sum(c["records"] for c in captures.values()),
        "bytes": sum(c["bytes"] for c in captures.values()),
        "extra": {"seconds_by_source": manifest["seconds"]},
    }


# --- capture ----------------------------------------------------------------------------------


def landed_batches(settings, capture: str) -> dict[date, Any]:
    """Partition day -> the newest complete landed batch (sidecars read before the clock runs)."""
    from city_pipeline import lake

    root = settings.lake_dir / "landing" / capture
    batches = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        batch = lake.latest_batch(settings.lake_dir, capture, date.fromisoformat(folder.name))
        if batch is not None:
            batches[batch.day] = batch
    return batches


def capture_ours(settings, spec, batches: dict[date, Any]) -> int:
    """The real code path minus HTTP: what a backfill does once the days are landed (the source's
    parse, window by window, then the raw writes)."""
    from city_pipeline.capture import windows, write_batches

    rows = 0
    for window in windows(batches.values()):
        for result in write_batches(spec, window, settings).values():
            rows += sum(t.rows for t in result.tables.values())
    return rows


def stage_capture(workdir: Path, options: argparse.Namespace) -> Result:
    from bench.city import bench_settings
    from bench.peers import RUNNERS
    from city_pipeline import lake
    from city_pipeline.sources import all_captures

    settings = bench_settings(workdir)
    batches = landed_batches(settings, options.capture)
    landed = sum(f.size for b in batches.values() for f in b.files)
    files = sum(len(b.files) for b in batches.values())
    if options.method == "ours":
        spec = next(s for s in all_captures(settings) if s.name == options.capture)
        for table in spec.tables:  # a clean raw zone: every partition is written, none skipped
            shutil.rmtree(lake.raw_table_dir(settings.lake_dir, table), ignore_errors=True)
        started = time.perf_counter()
        rows = capture_ours(settings, spec, batches)
    else:
        out = workdir / "peers" / options.method / options.capture
        shutil.rmtree(out, ignore_errors=True)
        paths = {day: [f.path for f in b.files] for day, b in batches.items()}
        started = time.perf_counter()
        rows = RUNNERS[options.method](options.capture, settings, paths, out)
    wall = time.perf_counter() - started
    return {
        "wall_s": wall,
        "rows": rows,
        "bytes": landed,
        "extra": {"partitions": len(batches), "files": files},
    }


# --- dbt --------------------------------------------------------------------------------------


def dbt_flags(workdir: Path, profiles_dir: Path | None = None) -> list[str]:
    from city_pipeline.settings import PROJECT_ROOT

    project = PROJECT_ROOT / "dbt_project"
    return [
        "--project-dir",
        str(project),
        "--profiles-dir",
        str(profiles_dir or project),
        "--target-path",
        str(workdir / "dbt" / "target"),
        "--log-path",
        str(workdir / "dbt" / "logs"),
    ]


def stage_dbt(workdir: Path, options: argparse.Namespace) -> Result:
    """One dbt invocation through dbt's Python API; `--args` (JSON) come from the parent, which
    builds them with `defs.curate.build_args` (so this process never imports Dagster)."""
    from dbt.cli.main import dbtRunner

    args = json.loads(options.args)
    warehouse = workdir / "data" / "warehouse" / "city.duckdb"
    if options.fresh:
        for path in warehouse.parent.glob("city.duckdb*"):
            path.unlink()
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    flags = dbt_flags(workdir, options.profiles_dir)
    outcome = dbtRunner().invoke([*args, *flags, "--quiet"])
    wall = time.perf_counter() - started
    nodes, by_type = [], {}
    for node in getattr(outcome.result, "results", None) or []:
        nodes.append((round(node.execution_time, 3), node.node.name, str(node.status)))
        kind = str(node.node.resource_type)
        count, seconds = by_type.get(kind, (0, 0.0))
        by_type[kind] = (count + 1, round(seconds + node.execution_time, 3))
    nodes.sort(reverse=True)
    failed = [n for n in nodes if n[2] not in ("success", "pass", "warn")]
    if not outcome.success:
        detail = failed[:5] or str(outcome.exception)
        raise SystemExit(f"dbt {' '.join(args[:1])} failed: {detail}")
    return {
        "wall_s": wall,
        "rows": None,
        "bytes": warehouse.stat().st_size if warehouse.exists() else None,
        "extra": {
            "nodes": len(nodes),
            "node_seconds": round(sum(n[0] for n in nodes), 3),
            "by_resource_type": {k: {"nodes": c, "s": t} for k, (c, t) in sorted(by_type.items())},
            "slowest": [{"node": n, "s": s} for s, n, _ in nodes[:6]],
            "not_passed": [{"node": n, "status": st} for _, n, st in failed],
        },
    }


# --- definitions load ---------------------------------------------------------------------------


def stage_import(workdir: Path, options: argparse.Namespace) -> Result:
    """Import time of the definitions module vs a bare `import dagster, dagster_dbt`."""
    started = time.perf_counter()
    if options.what == "bare":
        import dagster  # noqa: F401
        import dagster_dbt  # noqa: F401

        extra: dict[str, Any] = {}
    else:
        import city_pipeline.definitions as definitions

        repo = definitions.defs
        extra = {"assets": len(list(repo.resolve_all_asset_keys()))}
    wall = time.perf_counter() - started
    return {"wall_s": wall, "rows": None, "bytes": None, "extra": extra}


# --- GX ---------------------------------------------------------------------------------------


def stage_gx(workdir: Path, options: argparse.Namespace) -> Result:
    """Read, scrub and validate every published mart exactly as the consume layer does
    (`release.prepare_mart`): stream the mart out of the warehouse, scrub each batch into a
    Parquet file, validate that file with GX in chunks."""
    import tempfile

    from bench.city import bench_settings
    from city_pipeline.consume import catalog, release, validation, warehouse

    settings = bench_settings(workdir)
    window = catalog.publish_window(settings, today=settings.config.recorded_window.end)
    started = time.perf_counter()
    import great_expectations  # noqa: F401

    marts = {"_gx_import": {"validate_s": round(time.perf_counter() - started, 3)}}
    rows = 0
    with tempfile.TemporaryDirectory(dir=workdir) as scratch_dir:
        for mart in catalog.PUBLISHED_MARTS:
            scratch = Path(scratch_dir) / f"{mart.name}.parquet"
            t0 = time.perf_counter()
            with warehouse.open_mart(settings.warehouse_path, mart.name) as reader:
                count = release.write_scrubbed(reader, scratch, list(mart.free_text_columns))
            t1 = time.perf_counter()
            outcome = validation.validate_parquet(mart, scratch, window)
            t2 = time.perf_counter()
            rows += count
            marts[mart.name] = {
                "rows": count,
                "read_scrub_s": round(t1 - t0, 3),
                "validate_s": round(t2 - t1, 3),
                "parquet_mb": round(scratch.stat().st_size / 1e6, 1),
                "expectations": outcome.evaluated,
                "success": outcome.success,
                "failed": [r.label for r in outcome.failed],
                "maxrss_mb_after": _maxrss_mb(),
            }
    wall = time.perf_counter() - started
    return {"wall_s": wall, "rows": rows, "bytes": None, "extra": {"marts": marts}}


STAGES = {
    "generate": stage_generate,
    "capture": stage_capture,
    "dbt": stage_dbt,
    "import": stage_import,
    "gx": stage_gx,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.child")
    parser.add_argument("stage", choices=sorted(STAGES))
    parser.add_argument("workdir", type=Path)
    parser.add_argument("result", type=Path)
    parser.add_argument("--size")
    parser.add_argument("--method")
    parser.add_argument("--capture")
    parser.add_argument("--args")
    parser.add_argument("--fresh", action="store_true")
    parser.add_argument("--profiles-dir", type=Path)
    parser.add_argument("--what", choices=("bare", "defs"))
    options = parser.parse_args(argv)
    result = STAGES[options.stage](options.workdir, options)
    result["child_maxrss_mb"] = _maxrss_mb()
    options.result.write_text(json.dumps(result, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
