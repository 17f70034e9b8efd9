"""The pipeline's jobs. A Dagster run has one partitioning, so the cadence of the assets decides
the job:
- `monthly_refresh`: the monthly-partitioned captures (DOPA population, monthly CKAN snapshots);
- `nightly_refresh`: every daily-partitioned asset plus everything unpartitioned downstream
  (curate → analyse inference → checks → publish). A date range is one run (single-run backfill
  policy). The unpartitioned dbt models take the run's window too (`defs/curate.run_window`);
- `weekly_retrain`: the analyse models (`WEEKLY_KEYS`), never retrained by the nightly run.
"""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg

from city_pipeline.defs.naming import ONE_CITY, CityNames

MONTHLY_JOB = "monthly_refresh"
NIGHTLY_JOB = "nightly_refresh"
RETRAIN_JOB = "weekly_retrain"
# Analyse models retrained by `weekly_retrain`, not by the nightly run (which only infers).
WEEKLY_KEYS = (
    dg.AssetKey(["analyse", "pm25_forecast_model"]),
    dg.AssetKey(["analyse", "complaint_type_model"]),
)


def cadence(partitions: dg.PartitionsDefinition | None) -> str | None:
    """The cadence of time-window partitions, read from the definition's schedule type (a spec
    copy may carry a plain TimeWindowPartitionsDefinition instead of the Daily/Monthly subclass)."""
    if not isinstance(partitions, dg.TimeWindowPartitionsDefinition):
        return None
    schedule_type = partitions.schedule_type
    return schedule_type.name.lower() if schedule_type is not None else None


def monthly_keys(assets: Sequence[dg.AssetsDefinition]) -> list[dg.AssetKey]:
    return [
        key for asset in assets if cadence(asset.partitions_def) == "monthly" for key in asset.keys
    ]


def daily_keys(assets: Sequence[dg.AssetsDefinition]) -> list[dg.AssetKey]:
    return [
        key for asset in assets if cadence(asset.partitions_def) == "daily" for key in asset.keys
    ]


def weekly_keys(
    assets: Sequence[dg.AssetsDefinition], names: CityNames = ONE_CITY
) -> list[dg.AssetKey]:
    return [key for asset in assets for key in asset.keys if names.bare(key) in WEEKLY_KEYS]


def build_jobs(assets: Sequence[dg.AssetsDefinition], names: CityNames = ONE_CITY) -> list:
    """The city's three jobs over its own assets (`assets` are one city's)."""
    monthly = dg.AssetSelection.assets(*monthly_keys(assets))
    weekly = dg.AssetSelection.assets(*weekly_keys(assets, names))
    city = dg.AssetSelection.assets(*(key for asset in assets for key in asset.keys))
    return [
        dg.define_asset_job(
            names.name(MONTHLY_JOB),
            selection=monthly,
            tags=names.run_tags,
            description="Monthly sources (DOPA registered population, ...).",
        ),
        dg.define_asset_job(
            names.name(NIGHTLY_JOB),
            selection=city - monthly - weekly,
            tags=names.run_tags,
            description="Daily sources for the partition window, then curate, analyse "
            "(inference), checks and publish.",
        ),
        dg.define_asset_job(
            names.name(RETRAIN_JOB),
            selection=weekly,
            tags=names.run_tags,
            description="Retrain the Analyse models (PM2.5 forecast) on the warehouse's marts.",
        ),
    ]
