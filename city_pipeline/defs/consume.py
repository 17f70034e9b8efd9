"""Consume assets and checks, group `consume`: validate the marts, then publish a release.

    marts/<mart>  (dbt, group curate; dbt tests are its checks)
      └─ published/<mart>  scrub PII, validate once with GX (check gx_<mart>), keep the table for
           │               the next release; or hold it back (see below)
           └─ published/release   write releases/<id>/ and switch `current` atomically

Each mart is published on its own. When its GX suite fails, or a dbt test (error severity) failed
on it or on any dbt model above it, the mart is held back: the release keeps its last good version
and marks it stale (`release.json`, `datapackage.json`, the report, `city-pipeline status`), an
alert names the mart, the test or expectation, the column and sample rows, and every other mart
publishes normally.

The logic lives in `city_pipeline.consume` (plain Python, tested on its own); these definitions
only wire it to Dagster. Checks and `published/<mart>` read the warehouse, so they join the
warehouse's concurrency pool: DuckDB refuses a reader while dbt holds the write lock. The release
reads only the validated files, never the warehouse.
"""

import os
from collections.abc import Sequence
from typing import Any

import dagster as dg
import pyarrow as pa

from city_pipeline.consume.catalog import PUBLISHED_MARTS, PublishedMart
from city_pipeline.consume.release import (
    DEFAULT_KEEP_RELEASES,
    hold_back,
    load_validated,
    prepare_mart,
    publish_release,
    stage_validated,
    withheld,
)
from city_pipeline.consume.validation import ValidationOutcome
from city_pipeline.defs import gates
from city_pipeline.defs.naming import ONE_CITY, CityNames
from city_pipeline.defs.resources import CityResource
from city_pipeline.settings import Settings

GROUP = "consume"
OWNERS = ["team:city-data-platform"]
KEEP_RELEASES_ENV = "CITY_PIPELINE_KEEP_RELEASES"
RELEASE_KEY = dg.AssetKey(["published", "release"])
PREVIEW_ROWS = 5


def mart_key(name: str, schema: str = "marts") -> dg.AssetKey:
    """The table's asset key: `<schema>/<name>` (dbt marts via CurateTranslator, `analyse/...`
    for the Analyse stage's outputs)."""
    return dg.AssetKey([schema, name])


def published_key(name: str) -> dg.AssetKey:
    return dg.AssetKey(["published", name])


def keep_releases(configured: int | None = None) -> int:
    if configured:
        return configured
    text = os.environ.get(KEEP_RELEASES_ENV, "")
    return int(text) if text.strip().isdigit() and int(text) > 0 else DEFAULT_KEEP_RELEASES


# --- metadata ----------------------------------------------------------------------------


def markdown_preview(table: pa.Table, rows: int = PREVIEW_ROWS, max_columns: int = 8) -> str:
    """The first rows as a Markdown table (a few columns; long text cut)."""
    names = table.column_names[:max_columns]
    head = table.select(names).slice(0, rows).to_pylist()
    lines = ["| " + " | ".join(names) + " |", "|" + "---|" * len(names)]
    for row in head:
        cells = [str(row[n]) if row[n] is not None else "" for n in names]
        cells = [c if len(c) <= 40 else c[:39] + "…" for c in cells]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    if len(table.column_names) > max_columns:
        lines.append(f"\n… and {len(table.column_names) - max_columns} more columns")
    return "\n".join(lines)


def column_schema(schema: pa.Schema) -> dg.TableSchema:
    return dg.TableSchema(columns=[dg.TableColumn(name=f.name, type=str(f.type)) for f in schema])


def validation_metadata(outcome: ValidationOutcome) -> dict[str, Any]:
    failed = [
        {
            "expectation": r.expectation,
            "column": r.column,
            "unexpected_count": r.unexpected_count,
            "observed": r.observed,
            "samples": r.samples,
            "error": r.error,
        }
        for r in outcome.failed
    ]
    return {
        "suite": outcome.suite,
        "rows": outcome.rows,
        "expectations_evaluated": outcome.evaluated,
        "expectations_failed": len(outcome.failed),
        "failed_expectations": dg.MetadataValue.json(failed),
        "summary": dg.MetadataValue.md(outcome.markdown()),
    }


# --- definitions -------------------------------------------------------------------------


def gx_check_spec(spec: PublishedMart, names: CityNames = ONE_CITY) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        name=f"gx_{spec.name}",
        asset=names.key(published_key(spec.name)),
        description=f"Great Expectations suite expectations/{spec.name}.json on the mart as it "
        "would be published (after PII scrubbing). A failure holds this mart back: the release "
        "keeps its last good version, marked stale.",
    )


def published_mart(spec: PublishedMart, names: CityNames = ONE_CITY) -> dg.AssetsDefinition:
    check = gx_check_spec(spec, names)
    mart = names.key(mart_key(spec.name, spec.schema))

    @dg.asset(
        key=names.key(published_key(spec.name)),
        deps=[mart],
        check_specs=[check],
        group_name=GROUP,
        owners=OWNERS,
        pool=names.pool,
        kinds={"python", "parquet"},
        tags={"layer": "published"},
        description=f"{spec.title_th} · {spec.title_en}: {spec.name} scrubbed of personal data "
        "and validated once, ready for the next release; held back (last good version kept, "
        "marked stale) when it or a dbt model above it failed a check.",
    )
    def _published(context: dg.AssetExecutionContext, city: CityResource) -> dg.MaterializeResult:
        settings = city.settings(context.selected_asset_keys)
        failed_tests = gates.failed_dbt_tests(context, mart, settings)
        prepared = prepare_mart(settings, spec)
        context.log.info(prepared.validation.summary_line())
        check_result = dg.AssetCheckResult(
            check_name=check.name,
            passed=prepared.validation.success,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata=validation_metadata(prepared.validation),
        )
        metadata: dict[str, Any] = {
            "dagster/row_count": prepared.rows,
            "dagster/column_schema": column_schema(prepared.schema),
            "validation": dg.MetadataValue.md(prepared.validation.markdown()),
        }
        if prepared.validation.success and not failed_tests:
            path = stage_validated(settings.published_dir, prepared)
            metadata["status"] = "published"
            metadata["path"] = dg.MetadataValue.path(str(path))
            metadata["preview"] = dg.MetadataValue.md(markdown_preview(prepared.head(PREVIEW_ROWS)))
        else:
            reasons = failed_tests + gates.validation_reasons(prepared.validation)
            hold = hold_back(settings.published_dir, spec.name, reasons)
            gates.alert_held_back(settings, hold, context.run_id)
            context.log.error(gates.describe_hold(hold))
            metadata["status"] = "held back"
            metadata["held_back"] = dg.MetadataValue.json(hold)
        return dg.MaterializeResult(metadata=metadata, check_results=[check_result])

    return _published


class ReleaseConfig(dg.Config):
    keep_releases: int | None = None  # default: $CITY_PIPELINE_KEEP_RELEASES or 7


def release_asset(
    specs: Sequence[PublishedMart], names: CityNames = ONE_CITY
) -> dg.AssetsDefinition:
    @dg.asset(
        key=names.key(RELEASE_KEY),
        deps=[names.key(published_key(s.name)) for s in specs],
        group_name=GROUP,
        owners=OWNERS,
        kinds={"duckdb", "csv", "html"},
        tags={"layer": "published"},
        description="ชุดข้อมูลเผยแพร่ · The release under published/releases/<id>/ (Parquet, "
        "CSV with BOM, analyst DuckDB, datapackage.json, report, validation summary); "
        "`published/current` switches to it atomically.",
    )
    def _release(
        context: dg.AssetExecutionContext, config: ReleaseConfig, city: CityResource
    ) -> dg.MaterializeResult:
        settings = city.settings(context.selected_asset_keys)
        prepared = load_validated(settings.published_dir, list(specs))
        missing = withheld(settings.published_dir, list(specs))
        release = publish_release(
            settings, prepared, keep=keep_releases(config.keep_releases), missing=missing
        )
        context.log.info(f"published release {release.release_id} -> {release.current}")
        if release.stale or release.withheld:
            context.log.warning(
                f"stale (last good version): {release.stale or '-'}; "
                f"withheld (never passed): {release.withheld or '-'}"
            )
        return dg.MaterializeResult(
            metadata={
                "release_id": release.release_id,
                "release_path": dg.MetadataValue.path(str(release.path)),
                "current": dg.MetadataValue.path(str(release.current)),
                "report": dg.MetadataValue.url(release.report.as_uri()),
                "rows": dg.MetadataValue.json(release.rows),
                "dagster/row_count": sum(release.rows.values()),
                "removed_releases": dg.MetadataValue.json(release.removed),
                "stale_marts": dg.MetadataValue.json(release.stale),
                "withheld_marts": dg.MetadataValue.json(release.withheld),
                "preview": dg.MetadataValue.md(release.markdown()),
            }
        )

    return _release


def build_defs(
    settings: Settings, marts: Sequence[PublishedMart] = PUBLISHED_MARTS
) -> dg.Definitions:
    """Consume checks and assets for the published marts. Resources (`city`) come from the
    other layers' Definitions."""
    names = CityNames.of(settings)
    return dg.Definitions(
        assets=[*(published_mart(spec, names) for spec in marts), release_asset(marts, names)]
    )
