"""Capture assets: one multi-asset per source capture, keys `raw/<table>`, group `capture`.

The assets are thin: they hand the run's partition window (its partition keys, see
`city_pipeline.windows`) to `capture.run_captures` (plain Python, tested on its own). A backfill
of a date range is one run (single-run backfill policy), so a year of history does not start 365
processes, and its days are parsed window by window.
"""

from collections.abc import Iterator

import dagster as dg
import pyarrow as pa
import pydantic
from dagster import AssetExecutionContext

from city_pipeline.capture import CaptureResult, CaptureSpec, rebuild_captures, run_captures
from city_pipeline.defs.naming import CityNames
from city_pipeline.defs.partitions import partitions_for
from city_pipeline.defs.resources import CityResource
from city_pipeline.settings import Settings
from city_pipeline.sources import all_captures
from city_pipeline.sources.common import SourceError
from city_pipeline.windows import partition_days

GROUP = "capture"
OWNERS = ["team:city-data-platform"]
CAPTURE_RETRY = dg.RetryPolicy(
    max_retries=2, delay=30, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)


class CaptureConfig(dg.Config):
    """Run config of a capture asset (all optional: schedules and backfills use the defaults)."""

    from_landing: bool = pydantic.Field(
        default=False,
        description="Rebuild raw from each day's newest complete landed batch instead of calling "
        "the source (after fixing a parser; landed data is never fetched again or changed).",
    )


def raw_key(table: str) -> dg.AssetKey:
    return dg.AssetKey(["raw", table])


def table_schema(schema: pa.Schema) -> dg.TableSchema:
    return dg.TableSchema(columns=[dg.TableColumn(name=f.name, type=str(f.type)) for f in schema])


def materialize_metadata(table: str, results: list[CaptureResult]) -> dict[str, object]:
    written = [r.tables[table] for r in results]
    latest = written[-1]
    return {
        "dagster/row_count": sum(w.rows for w in written),
        "dagster/column_schema": table_schema(latest.schema),
        "partitions": [r.day.isoformat() for r in results],
        "rows_per_partition": dg.MetadataValue.json(
            {r.day.isoformat(): r.tables[table].rows for r in results}
        ),
        "raw_path": dg.MetadataValue.path(str(latest.path.parent.parent)),
        "source_urls": dg.MetadataValue.json(sorted({u for r in results for u in r.urls})),
        "landed_bytes": sum(r.landed_bytes for r in results),
        "landing_sha256": dg.MetadataValue.json([f.sha256 for r in results for f in r.batch.files]),
        **warnings_metadata(results),
    }


def warnings_metadata(results: list[CaptureResult]) -> dict[str, object]:
    """Each warning of the run's partitions (e.g. `missing_stations`): the ids over all of them."""
    names = sorted({name for r in results for name in r.warnings})
    return {
        name: dg.MetadataValue.json(sorted({i for r in results for i in r.warnings.get(name, [])}))
        for name in names
    }


def capture_asset(spec: CaptureSpec, settings: Settings) -> dg.AssetsDefinition:
    cadence = settings.source(spec.source).cadence
    names = CityNames.of(settings)
    asset_specs = [
        dg.AssetSpec(
            key=names.key(raw_key(table)),
            group_name=GROUP,
            description=spec.description,
            owners=OWNERS,
            kinds={"python", "parquet"},
            deps=[names.key(raw_key(t)) for t in spec.depends_on],
            metadata={"source": spec.source, "cadence": cadence},
            tags={"layer": "raw", "source": spec.source},
        )
        for table in spec.tables
    ]

    @dg.multi_asset(
        name=names.name(f"capture_{spec.name}"),
        specs=asset_specs,
        partitions_def=partitions_for(cadence, settings),
        backfill_policy=dg.BackfillPolicy.single_run(),
        retry_policy=CAPTURE_RETRY,
    )
    def _capture(
        context: AssetExecutionContext, config: CaptureConfig, city: CityResource
    ) -> Iterator[dg.MaterializeResult]:
        run_settings = city.settings(context.selected_asset_keys)
        days = partition_days(context.partition_keys)  # the run's partition window
        results = []
        try:
            capture = rebuild_captures if config.from_landing else run_captures
            for result in capture(spec, days, run_settings):
                rows = ", ".join(f"{t}={w.rows}" for t, w in result.tables.items())
                context.log.info(
                    f"{spec.name} {result.day}: {len(result.batch.files)} responses, {rows}"
                )
                for name, ids in result.warnings.items():
                    if ids:
                        context.log.warning(f"{spec.name} {result.day}: {name}: {', '.join(ids)}")
                results.append(result)
        except SourceError as exc:
            # Retry what may pass later (5xx, timeouts); a malformed payload fails at once.
            raise dg.Failure(
                description=str(exc),
                allow_retries=exc.transient,
                metadata={
                    "source": spec.source,
                    "partition": exc.partition or "",
                    "field": exc.field or "",
                    "transient": exc.transient,
                },
            ) from exc
        for table in spec.tables:
            yield dg.MaterializeResult(
                asset_key=names.key(raw_key(table)),
                metadata={
                    **materialize_metadata(table, results),
                    "from_landing": config.from_landing,
                },
            )

    return _capture


def build_defs(settings: Settings) -> dg.Definitions:
    return dg.Definitions(assets=[capture_asset(spec, settings) for spec in all_captures(settings)])
