"""`city-pipeline`: run the city's pipeline through Dagster from a terminal.

    city-pipeline run [--start D --end D] [--city SLUG|path.yaml] [--data-dir DIR]
                      [--from-landing] [--cities-dir DIR] [--all-cities [--parallel N]]
    city-pipeline status [--city ..|--all-cities] [--cities-dir DIR] [--data-dir DIR] [--json]
    city-pipeline evaluate complaints --train CSV --test CSV
    city-pipeline verify [--city ..] [--data-dir DIR] [--json]
    city-pipeline evaluate forecast --csv PATH [--since YYYY-MM-DD]
    city-pipeline import-history --csv PATH [--city ..] [--data-dir DIR]
    city-pipeline network publish --network PATH [--data-dir DIR]

Runs are recorded in the Dagster instance at `$DAGSTER_HOME` (default `<data dir>/dagster_home`),
so `make ui` shows them beside scheduled runs.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from city_pipeline.defs.naming import ONE_CITY, CityNames
from city_pipeline.network.cli import add_network_commands
from city_pipeline.settings import (
    CITIES_DIR,
    CITIES_DIR_ENV,
    ConfigError,
    Settings,
    SourceMode,
    cities_dir,
    load_settings,
)

if TYPE_CHECKING:
    import dagster as dg

DAGSTER_YAML = """# Local Dagster instance for city-pipeline runs (see deploy/ for production).
telemetry:
  enabled: false
concurrency:
  pools:
    default_limit: 1  # duckdb_warehouse: DuckDB has one writer, also under `make ui`
    granularity: op
"""


def resolve_city(value: str) -> Path:
    """A city is a slug (`khon_kaen`) of a YAML in `cities_dir()` or a path to any city YAML."""
    candidate = Path(value)
    if candidate.suffix in {".yaml", ".yml"} or candidate.exists():
        return candidate.resolve()
    folder = cities_dir()
    named = folder / f"{value}.yaml"
    if not named.exists():
        known = ", ".join(sorted(p.stem for p in folder.glob("*.yaml")))
        raise ConfigError(f"unknown city {value!r}: give a path to a YAML or one of: {known}")
    return named


def apply_city_options(args: argparse.Namespace) -> Settings:
    """`--cities-dir`, `--city` and `--data-dir` into the environment (definitions read it at
    import)."""
    if getattr(args, "cities_dir", None):
        os.environ[CITIES_DIR_ENV] = str(Path(args.cities_dir).resolve())
    if getattr(args, "all_cities", False) and not os.environ.get(CITIES_DIR_ENV):
        os.environ[CITIES_DIR_ENV] = str(CITIES_DIR)  # every shipped city
    if args.city:
        os.environ["CITY_PIPELINE_CONFIG"] = str(resolve_city(args.city))
    if args.data_dir:
        os.environ["CITY_PIPELINE_DATA_DIR"] = str(Path(args.data_dir).resolve())
    return load_settings()


def prepare_environment(args: argparse.Namespace) -> Settings:
    """Apply the CLI options to the environment, with a Dagster instance for the runs (one per
    deployment: every city's runs in one instance)."""
    settings = apply_city_options(args)
    root = settings.deployment_dir or settings.data_dir
    os.environ.setdefault("CITY_PIPELINE_DATA_DIR", str(root))
    ensure_instance(root)
    return settings


def ensure_instance(root: Path) -> None:
    """`$DAGSTER_HOME` (default `<data dir>/dagster_home`) with a dagster.yaml; telemetry off."""
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(root / "dagster_home")))
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        (home / "dagster.yaml").write_text(DAGSTER_YAML, encoding="utf-8")
    os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


def create_instance_storage() -> None:
    """Create the Dagster instance's storage (SQLite tables) if it does not exist yet."""
    import dagster as dg

    with dg.DagsterInstance.get():
        pass


def default_window(settings: Settings) -> tuple[date, date]:
    """Replay runs the bundled window; live runs refresh the city's yesterday."""
    if settings.source_mode is SourceMode.REPLAY:
        return settings.config.recorded_window.start, settings.config.recorded_window.end
    yesterday = date.today() - timedelta(days=1)
    return yesterday, yesterday


@dataclass
class Summary:
    rows: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    partitions: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    checks: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    failures: list[str] = field(default_factory=list)
    held_back: dict[str, dict] = field(default_factory=dict)
    quarantined: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, result: dg.ExecuteInProcessResult) -> None:
        import dagster as dg

        seen_runs: set[tuple[str, int]] = set()
        for event in result.get_asset_materialization_events():
            mat = event.materialization
            key = mat.asset_key.to_user_string()
            if mat.partition:
                self.partitions[key].add(mat.partition)
            rows = mat.metadata.get("dagster/row_count")
            # A range run repeats the run's row count on every partition: count it once.
            if rows is not None and (key, event.step_key) not in seen_runs:
                seen_runs.add((key, event.step_key))
                self.rows[key] += int(rows.value)
            quarantined = mat.metadata.get("quarantined_rows")
            if quarantined is not None:
                self.quarantined[key] += int(quarantined.value)
            hold = mat.metadata.get("held_back")
            if hold is not None:
                self.held_back[key] = hold.value
        for evaluation in result.get_asset_check_evaluations():
            warn_only = evaluation.severity == dg.AssetCheckSeverity.WARN
            status = "passed" if evaluation.passed else ("WARN" if warn_only else "FAILED")
            self.checks[evaluation.asset_key.to_user_string()].append(
                f"{evaluation.check_name}: {status}"
            )
        for event in result.all_events:
            if event.is_step_failure and event.step_failure_data:
                self.failures.append(f"{event.step_key}: {event.step_failure_data.error.message}")

    def print(self, settings: Settings) -> None:
        print("\nSummary")
        for key in sorted(self.rows.keys() | self.partitions.keys()):
            parts = len(self.partitions.get(key, ())) or 1
            print(f"  {key:<45} {self.rows.get(key, 0):>10,} rows  {parts:>4} partition(s)")
        every = [f"{key} {c}" for key, checks in self.checks.items() for c in checks]
        failed = [c for c in every if c.endswith("FAILED")]
        warned = [c for c in every if c.endswith("WARN")]
        passed = len(every) - len(failed) - len(warned)
        print(f"  checks: {passed}/{len(every)} passed, {len(warned)} warned, {len(failed)} failed")
        for line in failed + warned:
            print(f"    {line}")
        for failure in self.failures:
            print(f"  failed: {failure}")
        for key, rows in sorted(self.quarantined.items()):
            if rows:
                print(f"  quarantined: {rows:,} row(s) of {key} (raw/quarantine_*; see status)")
        if self.held_back:
            from city_pipeline.defs.gates import describe_hold

            for hold in self.held_back.values():
                print("  " + describe_hold(hold).replace("\n", "\n  "))
        print("\nOutputs")
        print(f"  landing + raw Parquet : {settings.lake_dir}")
        print(f"  warehouse (DuckDB)    : {settings.warehouse_path}")
        print(f"  published release     : {settings.published_dir / 'current'}")
        report = settings.published_dir / "current" / "report" / "index.html"
        if report.exists():
            print(f"  report                : {report}")
        print(f"  Dagster runs          : {os.environ['DAGSTER_HOME']} (open with `make ui`)")


def month_start(day: date) -> date:
    return day.replace(day=1)


def capture_config(job: dg.JobDefinition, from_landing: bool) -> dict:
    """Run config for the job's capture ops (`defs.capture.CaptureConfig`)."""
    if not from_landing:
        return {}
    names = [name for name in job.graph.node_names() if name.startswith("capture_")]
    return {name: {"config": {"from_landing": True}} for name in names}


def execute(
    defs: dg.Definitions,
    job_name: str,
    start: str,
    end: str,
    instance: dg.DagsterInstance,
    from_landing: bool = False,
    names: CityNames = ONE_CITY,
) -> dg.ExecuteInProcessResult:
    from city_pipeline import recovery

    job_name = names.name(job_name)
    job = defs.resolve_job_def(job_name)
    source = " (raw rebuilt from landing)" if from_landing else ""
    print(f"\n== {job_name}: partitions {start} .. {end}{source}", flush=True)
    run_id = str(uuid.uuid4())
    with recovery.announce_waits(instance, run_id, [names.pool], say):
        return job.execute_in_process(
            instance=instance,
            run_id=run_id,
            tags={
                "dagster/asset_partition_range_start": start,
                "dagster/asset_partition_range_end": end,
                "city_pipeline/launched_by": "cli",
                recovery.PROCESS_TAG: recovery.process_tag(),
                **names.run_tags,
            },
            run_config={
                "loggers": {"console": {"config": {"log_level": "INFO"}}},
                "ops": capture_config(job, from_landing),
            },
            raise_on_error=False,
        )


def say(message: str) -> None:
    print(f"city-pipeline: {message}", flush=True)


def command_run_all(args: argparse.Namespace) -> int:
    """Every city of the deployment, each in its own process (`city_pipeline/deployment.py`)."""
    from city_pipeline.deployment import run_all
    from city_pipeline.settings import load_deployment

    if args.city:
        raise ConfigError("give either --city or --all-cities, not both")
    root = prepare_environment(args).deployment_dir  # holds <slug>/ of every city
    create_instance_storage()  # once, here: cities starting together would race to create it
    dates = (("start", args.start), ("end", args.end))
    run_args = [f"--{name}={value}" for name, value in dates if value]
    run_args += ["--from-landing"] if args.from_landing else []
    return run_all(load_deployment(), root, run_args, args.parallel or os.cpu_count() or 1)


def command_run(args: argparse.Namespace) -> int:
    from city_pipeline.run_dates import run_window

    if args.all_cities:
        return command_run_all(args)

    # Dates are checked before the Dagster instance (or anything else) is written.
    settings = apply_city_options(args)
    start, end = run_window(
        args.start,
        args.end,
        default_window(settings),
        settings.config.partitions_start,
        date.today(),
    )
    settings = prepare_environment(args)

    import dagster as dg

    from city_pipeline import recovery
    from city_pipeline.defs import jobs
    from city_pipeline.defs.build import build_definitions
    from city_pipeline.status_catalog import save_catalog

    print(
        f"city-pipeline: {settings.city.name_en} ({settings.city.name_th}), {start} .. {end}, "
        f"sources in {settings.source_mode.value} mode",
        flush=True,
    )
    summary = Summary()
    names = CityNames.of(settings)
    defs = build_definitions(settings)
    save_catalog(settings, defs)  # so the next `status` need not build them again
    assets = [a for a in defs.assets or [] if isinstance(a, dg.AssetsDefinition)]
    with dg.DagsterInstance.get() as instance:
        recovery.report(recovery.recover(instance), say)
        if jobs.monthly_keys(assets):
            summary.add(
                execute(
                    defs,
                    jobs.MONTHLY_JOB,
                    month_start(start).isoformat(),
                    month_start(end).isoformat(),
                    instance,
                    args.from_landing,
                    names,
                )
            )
        if not summary.failures:
            summary.add(
                execute(
                    defs,
                    jobs.NIGHTLY_JOB,
                    start.isoformat(),
                    end.isoformat(),
                    instance,
                    args.from_landing,
                    names,
                )
            )
    summary.print(settings)
    return 1 if summary.failures else 0


def command_status(args: argparse.Namespace) -> int:
    settings = prepare_environment(args)

    from city_pipeline.status_store import open_store

    # Dagster's storage tables read directly: opening a DagsterInstance costs seconds.
    with open_store(Path(os.environ["DAGSTER_HOME"])) as store:
        if not args.all_cities:
            text, code = city_status(settings, store, args.json)
        else:
            from city_pipeline.deployment import combined_status
            from city_pipeline.settings import load_deployment

            deployment = load_deployment()
            reports = {s: city_status(c, store, args.json) for s, c in deployment.cities.items()}
            text, code = combined_status(reports, args.json)
            for error in deployment.refused.values():
                print(f"city-pipeline: city left out: {error}", file=sys.stderr)
            code = max(code, 1 if deployment.refused else 0)
    print(text)
    return code


def city_status(settings: Settings, store: object, as_json: bool) -> tuple[str, int]:
    from city_pipeline import status
    from city_pipeline.status_catalog import load_catalog

    catalog = load_catalog(settings)  # cached: building the definitions takes most of 20 s
    title = (
        f"city-pipeline status: {settings.city.name_en} ({settings.city.name_th}), "
        f"times in {settings.city.timezone}"
    )
    return status.report(
        catalog,
        store,
        settings.city.timezone,
        title,
        as_json,
        published_dir=settings.published_dir,
        lake_dir=settings.lake_dir,
    )


def command_evaluate_complaints(args: argparse.Namespace) -> int:
    import json

    from city_pipeline.analyse.complaint_types import LabelledCsvError, evaluate_files

    try:
        result = evaluate_files(args.train, args.test)
    except LabelledCsvError as exc:
        print(f"city-pipeline evaluate complaints: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, ensure_ascii=False))
    return 0


def command_evaluate_forecast(args: argparse.Namespace) -> int:
    """Backtest the PM2.5 forecast on a daily CSV; one JSON object on stdout (docs/analysis.md)."""
    import json

    from city_pipeline.analyse import forecast, history

    since = None
    if args.since:
        try:
            since = date.fromisoformat(args.since)
        except ValueError:
            raise ConfigError(f"--since {args.since!r} is not a date (YYYY-MM-DD)") from None
    with history_errors():
        rows = history.read_daily_csv(Path(args.csv))
    result = forecast.evaluate(rows, since=since, retrain_days=args.retrain_days)
    print(json.dumps(result, ensure_ascii=False))
    return 0


@contextlib.contextmanager
def history_errors() -> Iterator[None]:
    """A history CSV that cannot be read is a one-line error like any bad input. (Caught here,
    not in `main`, so that commands which never read one do not import pandas.)"""
    from city_pipeline.analyse.history import HistoryCsvError

    try:
        yield
    except HistoryCsvError as exc:
        raise ConfigError(str(exc)) from None


def command_import_history(args: argparse.Namespace) -> int:
    from city_pipeline.analyse import history

    settings = prepare_environment(args)
    with history_errors():
        raw = history.import_history(Path(args.csv), settings.lake_dir)
    print(f"city-pipeline: landed {args.csv} as {raw}")
    return 0


def add_evaluate_commands(commands: argparse._SubParsersAction) -> argparse._SubParsersAction:
    """`evaluate <model>`: score an Analyse model on given CSVs, print one JSON object."""
    evaluate = commands.add_parser("evaluate", help="measure an analysis model on held-out data")
    models = evaluate.add_subparsers(dest="model", required=True)
    complaints = models.add_parser(
        "complaints",
        help="complaint problem-type classifier vs the majority type; CSVs with columns "
        "text,labels (types separated by |, empty = unknown, not scored)",
    )
    complaints.add_argument("--train", required=True, help="labelled CSV to train on")
    complaints.add_argument("--test", required=True, help="labelled CSV to score")
    complaints.set_defaults(handler=command_evaluate_complaints)
    return models


def command_verify(args: argparse.Namespace) -> int:
    """Check every landed file against its sidecar: exit 0 clean, 1 when anything is damaged."""
    import json

    from city_pipeline import verify

    lake_dir = apply_city_options(args).lake_dir
    if not (lake_dir / "landing").is_dir():
        raise ConfigError(f"no landing zone at {lake_dir / 'landing'}: check --data-dir")
    report = verify.verify_landing(lake_dir)
    if args.json:
        print(json.dumps(report.as_dict(), ensure_ascii=False, indent=1))
    else:
        print(verify.render(report, lake_dir))
    return 0 if report.clean else 1


def add_city_options(command: argparse.ArgumentParser, all_cities: bool = False) -> None:
    command.add_argument(
        "--city",
        help="a city slug (khon_kaen, chiang_mai, ... from --cities-dir or the shipped cities) "
        "or a path to a city YAML",
    )
    command.add_argument("--data-dir", help="root of lake/warehouse/published (default: data/)")
    command.add_argument(
        "--cities-dir",
        help=f"a folder of <slug>.yaml city files run as one deployment, each city's data in "
        f"<data dir>/<slug>/ (default: ${CITIES_DIR_ENV}, if set)",
    )
    if all_cities:
        command.add_argument(
            "--all-cities",
            action="store_true",
            help="every city of --cities-dir (default: every shipped city)",
        )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="city-pipeline",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="materialize a date range through Dagster")
    run.add_argument(
        "--start",
        help="first day, YYYY-MM-DD, Gregorian year (default: the recorded window); "
        "a Buddhist Era year such as 2567-01-01 is refused with the date to use",
    )
    run.add_argument("--end", help="last day, inclusive (default: --start)")
    add_city_options(run, all_cities=True)
    run.add_argument(
        "--parallel",
        type=int,
        help="with --all-cities: cities run at a time (default: the machine's cores)",
    )
    run.add_argument(
        "--from-landing",
        action="store_true",
        help="rebuild raw from the landed batches instead of calling the sources "
        "(after fixing a parser)",
    )
    run.set_defaults(handler=command_run)
    state = commands.add_parser(
        "status",
        help="per asset: last materialization, freshness, last check results "
        "(exit 1 if anything needs attention)",
    )
    add_city_options(state, all_cities=True)
    state.add_argument("--json", action="store_true", help="machine-readable output")
    state.set_defaults(handler=command_status)
    models = add_evaluate_commands(commands)
    pm25 = models.add_parser(
        "forecast",
        help="rolling-origin backtest of the next-day PM2.5 forecast, JSON on stdout",
    )
    pm25.add_argument(
        "--csv", required=True, help="daily means, columns station_id,date,pm25 (blank = missing)"
    )
    pm25.add_argument(
        "--since",
        help="score only target days from this date on (default: every day after the first 180)",
    )
    pm25.add_argument(
        "--retrain-days", type=int, default=7, help="days between retrains (default 7, weekly)"
    )
    pm25.set_defaults(handler=command_evaluate_forecast)
    imports = commands.add_parser(
        "import-history",
        help="land a PCD/Air4Thai daily PM2.5 export (station_id,date,pm25) into the lake",
    )
    imports.add_argument("--csv", required=True, help="the export to land")
    add_city_options(imports)
    imports.set_defaults(handler=command_import_history)
    check = commands.add_parser(
        "verify",
        help="check every landed file against its sidecar's sha256 and size "
        "(exit 1 if any file is damaged)",
    )
    add_city_options(check)
    check.add_argument("--json", action="store_true", help="machine-readable output")
    check.set_defaults(handler=command_verify)
    add_network_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except ConfigError as exc:
        print(f"city-pipeline: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
