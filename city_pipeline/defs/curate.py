"""Curate assets: the dbt project (`dbt_project/`) as Dagster assets, group `curate`.

Two `@dbt_assets` definitions split the project by shape:
- `curate_daily`: the incremental, daily-partitioned marts (dbt tag `daily`). A run passes its
  partition window to dbt as `--vars {"min_date", "max_date"}` and each model replaces exactly those
  days; a date-range backfill is one dbt invocation (single-run backfill policy);
- `curate_models`: everything else (seeds, staging and intermediate models, dimensions, facts).
  It is unpartitioned, but when it runs inside a run of daily partitions (the nightly job) it
  gets that run's window too: the incremental `stg_traffy_tickets` and `fct_complaints` then
  recompute only the tickets with a raw version in the window (from all their versions), and the
  data tests of large tables check only the window's rows. Run without a partition (a manual or
  automation materialization) it rebuilds everything from all history.
dbt tests are asset checks. Both definitions write the one DuckDB warehouse, so they share the
`duckdb_warehouse` concurrency pool (limit 1 in the instance's dagster.yaml).

The manifest is prepared ahead (`python -m city_pipeline.defs.curate prepare`, run by `make
prepare`, CI and the test suite's `dbt_manifest` fixture) and only read here: loading definitions
never parses dbt. Under `dagster dev` / `dg dev` the project re-parses itself at load (as
`DbtProject.prepare_if_dev` would) so model edits show up.

Asset keys follow the warehouse: `<schema>/<name>` (`marts/mart_city_daily`,
`staging/stg_traffy_tickets`, `reference/th_provinces`); dbt sources are the capture assets
`raw/<table>`.
"""

import contextlib
import json
import os
import shutil
import sys
from collections.abc import Generator, Iterator, Mapping
from datetime import date, datetime, timedelta
from functools import cache, cached_property
from pathlib import Path
from typing import Any

import dagster as dg
from dagster import AssetExecutionContext
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets

from city_pipeline.defs.naming import ONE_CITY, CityNames
from city_pipeline.defs.partitions import city_daily_partitions
from city_pipeline.defs.resources import CityResource
from city_pipeline.settings import PROJECT_ROOT, Settings

DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
GROUP = "curate"
OWNERS = ["team:city-data-platform"]
DAILY_SELECT = "tag:daily"  # dbt tag of the incremental, daily-partitioned models
# Production builds skip the dbt unit tests and macro cases: they test the SQL, not the data
# (pytest and CI run them).
BUILD_FLAGS = ("--exclude-resource-type", "unit_test", "--exclude", "tag:macro_test")
DATA_DIR_ENV = "CITY_PIPELINE_DATA_DIR"


def dbt_executable() -> str:
    """The `dbt` beside this Python (the venv's), so nothing depends on an activated venv."""
    beside = Path(sys.executable).with_name("dbt")
    return str(beside) if beside.exists() else "dbt"


CURATE_PROJECT = DbtProject(project_dir=DBT_PROJECT_DIR)


class CityDbtCliResource(DbtCliResource):
    """DbtCliResource that reads the dbt version from the installed dbt-core package.

    dagster-dbt otherwise runs `dbt --version` before every invocation, which costs seconds and
    asks PyPI for the latest release: a pipeline step must not touch the network for that.
    """

    @cached_property
    def _cli_version(self):
        from dbt.version import __version__
        from packaging import version

        return version.parse(__version__)


def dbt_resource(project: DbtProject = CURATE_PROJECT) -> DbtCliResource:
    return CityDbtCliResource(project_dir=project, dbt_executable=dbt_executable())


def prepare_manifest(project: DbtProject = CURATE_PROJECT) -> Path:
    """Parse the dbt project into `target/manifest.json` (what `make prepare` runs).

    Like dagster-dbt's preparer (`dbt parse`), with the venv's dbt. dbt parses into a private
    folder and the manifest is moved into place in one step, so a concurrent reader (a test
    session, `dagster dev`) never sees a half-written file.
    """
    target = project.project_dir / project.target_path
    scratch = target / f"prepare-{os.getpid()}"
    try:
        dbt_resource(project).cli(["parse", "--quiet"], target_path=scratch).wait()
        for name in ("partial_parse.msgpack", "manifest.json"):  # manifest last
            if (scratch / name).exists():
                os.replace(scratch / name, target / name)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if not project.manifest_path.exists():
        raise FileNotFoundError(f"dbt parse did not write {project.manifest_path}")
    return project.manifest_path


# `dagster dev` / `dg dev`: re-parse on every load so dbt edits show up (never in production).
if os.getenv("DAGSTER_IS_DEV_CLI"):
    prepare_manifest()


@cache
def load_manifest(path: Path) -> dict[str, Any]:
    """The parsed manifest, read once per process however many cities the definitions build."""
    return json.loads(path.read_text(encoding="utf-8"))


def manifest_path(project: DbtProject = CURATE_PROJECT) -> Path:
    path = project.manifest_path
    if not path.exists():
        raise FileNotFoundError(
            f"dbt manifest {path} is missing: run `make prepare` "
            "(python -m city_pipeline.defs.curate prepare) before loading the definitions"
        )
    return path


# --- dbt arguments (pure functions, unit-tested) ---------------------------------------------


def city_vars(settings: Settings) -> dict[str, Any]:
    """The city's identity for dbt (`var('city_province_code')`, ...), from the city YAML."""
    city = settings.city
    return {
        "city_slug": city.slug,
        "city_province_code": city.province_code,
        "city_district_codes": list(city.district_codes),
        "city_timezone": city.timezone,
        "city_station_ids": list(settings.source("air4thai").station_ids),
    }


def window_vars(start: datetime | date, end: datetime | date) -> dict[str, str]:
    """A partition time window [start, end) as dbt's inclusive `min_date`/`max_date` days.

    Daily partitions are city-local days, so the window's own (city time zone) dates are used:
    the window 2024-01-05T00:00+07:00 .. 2024-01-06T00:00+07:00 is the one day 2024-01-05.
    """
    first = start.date() if isinstance(start, datetime) else start
    after = end.date() if isinstance(end, datetime) else end
    if after <= first:
        raise ValueError(f"empty partition window {start} .. {end}")
    return {"min_date": first.isoformat(), "max_date": (after - timedelta(days=1)).isoformat()}


def dbt_vars(settings: Settings, window: Mapping[str, str] | None = None) -> dict[str, Any]:
    return {**city_vars(settings), **(window or {})}


def build_args(settings: Settings, window: Mapping[str, str] | None = None) -> list[str]:
    """`dbt build` arguments: models, seeds and data tests in one invocation (a bare build, the
    benchmark). dagster-dbt adds the --select of the run's assets."""
    return ["build", "--vars", json.dumps(dbt_vars(settings, window)), *BUILD_FLAGS]


def model_args(settings: Settings, window: Mapping[str, str] | None = None) -> list[str]:
    """`dbt build` of seeds and models only: the first of a run's two invocations."""
    return [*build_args(settings, window), "--exclude-resource-type", "test"]


def test_args(settings: Settings, window: Mapping[str, str] | None = None) -> list[str]:
    """`dbt test` of the run's models: the second invocation, after every model is built."""
    return ["test", "--vars", json.dumps(dbt_vars(settings, window)), *BUILD_FLAGS]


def run_window(context: AssetExecutionContext) -> dict[str, str] | None:
    """The daily partition window of the run an unpartitioned dbt step belongs to, if any.

    The nightly job is daily-partitioned; `curate_models` has no partitions of its own but runs in
    the same run as the day's captures, so it takes the run's window (a day, or a single-run
    backfill range). A run without a partition, or of monthly partitions, gets None: no window,
    every model is rebuilt from all history.
    """
    partitions = context.job_def.partitions_def
    if not (
        isinstance(partitions, dg.TimeWindowPartitionsDefinition)
        and partitions.schedule_type is not None
        and partitions.schedule_type.name == "DAILY"
        and (context.has_partition_key or context.has_partition_key_range)
    ):
        return None
    window = context.partition_time_window
    return window_vars(window.start, window.end)


# --- translator --------------------------------------------------------------------------------


class CurateTranslator(DagsterDbtTranslator):
    """Models and seeds -> `<schema>/<name>` in group `curate`; dbt sources -> `raw/<table>`;
    each under the city's slug in a several-city deployment (`defs/naming.py`)."""

    def __init__(self, names: CityNames = ONE_CITY) -> None:
        super().__init__()
        self.names = names

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            # meta.dagster.asset_key: raw/<table>
            return self.names.key(super().get_asset_key(dbt_resource_props))
        return self.names.key(
            dg.AssetKey([dbt_resource_props["schema"], dbt_resource_props["name"]])
        )

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return GROUP

    def get_owners(self, dbt_resource_props: Mapping[str, Any]) -> list[str]:
        return OWNERS

    def get_tags(self, dbt_resource_props: Mapping[str, Any]) -> Mapping[str, str]:
        return {**super().get_tags(dbt_resource_props), "layer": dbt_resource_props["schema"]}

    def get_description(self, dbt_resource_props: Mapping[str, Any]) -> str:
        description = (dbt_resource_props.get("description") or "").strip()
        return description or super().get_description(dbt_resource_props)


# --- assets ------------------------------------------------------------------------------------


@contextlib.contextmanager
def warehouse_env(settings: Settings) -> Iterator[None]:
    """dbt reads `CITY_PIPELINE_DATA_DIR` (profiles.yml, sources); point it at this run's data."""
    settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    previous = os.environ.get(DATA_DIR_ENV)
    os.environ[DATA_DIR_ENV] = str(settings.data_dir)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(DATA_DIR_ENV, None)
        else:
            os.environ[DATA_DIR_ENV] = previous


def run_dbt_build(
    context: AssetExecutionContext,
    dbt: DbtCliResource,
    settings: Settings,
    window: Mapping[str, str] | None = None,
) -> Iterator[Any]:
    """Build the run's dbt selection, then test it, streaming assets, checks, row counts and
    column schemas.

    Models first, tests after, in two invocations: in one `dbt build` a failed test skips every
    model downstream of it, and the Dagster steps that wait for those models (every other daily
    mart, the release) would be skipped too. Built apart, every model is built; a failed test is a
    failed check, and the consume layer holds back only the marts at or below it
    (`defs/consume.py`). A model that fails to build still fails the step. The test invocation
    shares the first one's target folder, so dbt reuses its parse (same vars: partial parsing).
    """
    build = yield from stream_dbt(
        context, dbt, settings, model_args(settings, window), with_metadata=True
    )
    tests = yield from stream_dbt(
        context,
        dbt,
        settings,
        test_args(settings, window),
        target_path=build.target_path,
        raise_on_error=False,
    )
    # Each run writes its own target folder; keep it only when something failed (logs,
    # run_results.json), so a nightly pipeline does not fill the disk with copies of the manifest.
    if build.is_successful() and tests.is_successful():
        shutil.rmtree(build.target_path, ignore_errors=True)


def stream_dbt(
    context: AssetExecutionContext,
    dbt: DbtCliResource,
    settings: Settings,
    args: list[str],
    *,
    target_path: Path | None = None,
    raise_on_error: bool = True,
    with_metadata: bool = False,
) -> Generator[Any, None, Any]:
    """One dbt invocation against this city's warehouse: yields its events (with row counts and
    column schemas when `with_metadata`) and returns the invocation."""
    context.log.info(f"dbt {' '.join(args)}")
    # dbt's in-process adapter (row counts, column schemas) chdirs into the project; keep the
    # caller's working directory so relative paths elsewhere in the process stay valid.
    with warehouse_env(settings), contextlib.chdir(Path.cwd()):
        invocation = dbt.cli(
            args, context=context, target_path=target_path, raise_on_error=raise_on_error
        )
        events = invocation.stream()
        if with_metadata:
            # Column lineage is off: dagster-dbt asks the adapter for each parent's columns, and
            # the staging models' parents are Parquet globs (dbt sources with an external
            # location) that DuckDB cannot describe, so sqlglot failed on every staging model
            # and logged a traceback on every successful run. Column schemas are still recorded.
            events = events.fetch_row_counts().fetch_column_metadata(with_column_lineage=False)
        try:
            yield from events
        finally:
            release_warehouse(invocation.adapter)
    return invocation


def release_warehouse(adapter: Any) -> None:
    """Close the in-process DuckDB connection that fetched row counts and column schemas.

    dbt-duckdb keeps its database handle open in a process-wide environment after the metadata
    queries; left open, it holds DuckDB's file lock and the next dbt run (another process) fails
    with "Could not set lock on file".
    """
    if adapter is None:
        return
    adapter.cleanup_connections()
    manager = type(adapter).ConnectionManager
    environment = getattr(manager, "_ENV", None)
    if environment is not None:
        environment.close()
        manager._ENV = None


def build_defs(settings: Settings) -> dg.Definitions:
    """The curate layer for one city: both dbt asset definitions. They need the `dbt` resource
    (`dbt_resource()`) and the `city` resource, which every deployment provides once
    (`defs/automation.deployment_defs`)."""
    manifest = load_manifest(manifest_path())
    names = CityNames.of(settings)
    translator = CurateTranslator(names)

    @dbt_assets(
        manifest=manifest,
        project=CURATE_PROJECT,
        select=DAILY_SELECT,
        name=names.name("curate_daily"),
        partitions_def=city_daily_partitions(settings),
        backfill_policy=dg.BackfillPolicy.single_run(),
        dagster_dbt_translator=translator,
        pool=names.pool,
    )
    def curate_daily(context: AssetExecutionContext, dbt: DbtCliResource, city: CityResource):
        """Daily incremental marts for the run's partition window."""
        window = context.partition_time_window
        settings = city.settings(context.selected_asset_keys)
        yield from run_dbt_build(context, dbt, settings, window_vars(window.start, window.end))

    @dbt_assets(
        manifest=manifest,
        project=CURATE_PROJECT,
        exclude=DAILY_SELECT,
        name=names.name("curate_models"),
        dagster_dbt_translator=translator,
        pool=names.pool,
    )
    def curate_models(context: AssetExecutionContext, dbt: DbtCliResource, city: CityResource):
        """Seeds, staging and intermediate models, dimensions and facts; the incremental ones for
        the run's daily window when there is one (the nightly job), else from all history."""
        settings = city.settings(context.selected_asset_keys)
        yield from run_dbt_build(context, dbt, settings, run_window(context))

    return dg.Definitions(assets=[curate_daily, curate_models])


def main(argv: list[str] | None = None) -> int:
    """`python -m city_pipeline.defs.curate prepare`: write the dbt manifest."""
    args = sys.argv[1:] if argv is None else argv
    if args != ["prepare"]:
        print("usage: python -m city_pipeline.defs.curate prepare", file=sys.stderr)
        return 2
    print(f"dbt manifest: {prepare_manifest()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
