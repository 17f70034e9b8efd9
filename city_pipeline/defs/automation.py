"""Jobs (and, as the platform grows, schedules, sensors and freshness).

Two jobs cover the whole pipeline because a Dagster run has one partitioning:
- `monthly_refresh`: the monthly-partitioned captures (DOPA population, monthly CKAN snapshots);
- `nightly_refresh`: every daily-partitioned asset plus everything unpartitioned downstream
  (curate → checks → publish). A date range is one run (single-run backfill policy).
"""

from collections.abc import Sequence

import dagster as dg

MONTHLY_JOB = "monthly_refresh"
NIGHTLY_JOB = "nightly_refresh"


def monthly_keys(assets: Sequence[dg.AssetsDefinition]) -> list[dg.AssetKey]:
    return [key for asset in assets
            if isinstance(asset.partitions_def, dg.MonthlyPartitionsDefinition)
            for key in asset.keys]


def build_jobs(assets: Sequence[dg.AssetsDefinition]) -> list:
    monthly = dg.AssetSelection.assets(*monthly_keys(assets))
    return [
        dg.define_asset_job(MONTHLY_JOB, selection=monthly,
                            description="Monthly sources (DOPA registered population, ...)."),
        dg.define_asset_job(NIGHTLY_JOB, selection=dg.AssetSelection.all() - monthly,
                            description="Daily sources for the partition window, then curate, "
                                        "checks and publish."),
    ]
