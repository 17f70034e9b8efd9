"""Names of one city's Dagster objects, so several cities can share one deployment.

A deployment that runs one city (`CITY_PIPELINE_CONFIG`) keeps the bare names:
`marts/fct_complaints`, `nightly_refresh`, pool `duckdb_warehouse`. A deployment that runs several
(`CITY_PIPELINE_CITIES_DIR`, docs/scaling.md) puts each city's assets under its slug
(`khon_kaen/marts/fct_complaints`) and suffixes its ops, jobs, schedules, sensors and warehouse
pool (`nightly_refresh__khon_kaen`), so the lineage groups by city and two cities never share a
name, a run or a DuckDB writer slot.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from city_pipeline.settings import Settings

if TYPE_CHECKING:  # `status` reads names without paying for Dagster's import
    import dagster as dg

# The one writer of a city's DuckDB warehouse: every asset that opens it (dbt, analyse, publish)
# shares this pool of size 1 (the instance's dagster.yaml: `concurrency.pools.default_limit: 1`).
WAREHOUSE_POOL = "duckdb_warehouse"


@dataclass(frozen=True)
class CityNames:
    slug: str | None = None  # None: the deployment runs one city and names stay bare

    @classmethod
    def of(cls, settings: Settings) -> CityNames:
        return cls(settings.city.slug if settings.in_deployment else None)

    def key(self, key: dg.AssetKey) -> dg.AssetKey:
        """The city's copy of a bare asset key (`marts/x` -> `<slug>/marts/x`)."""
        return type(key)([self.slug, *key.path]) if self.slug else key

    def bare(self, key: dg.AssetKey) -> dg.AssetKey:
        """The bare key of one of this city's keys (the inverse of `key`)."""
        if self.slug and key.path[:1] == [self.slug]:
            return type(key)(key.path[1:])
        return key

    def name(self, base: str) -> str:
        """An op, job, schedule or sensor name of this city."""
        return f"{base}__{self.slug}" if self.slug else base

    @property
    def pool(self) -> str:
        return self.name(WAREHOUSE_POOL)

    @property
    def run_tags(self) -> dict[str, str]:
        """Tags on every run of this city's jobs and sensors (run queues limit runs per city)."""
        return {"city": self.slug} if self.slug else {}


ONE_CITY = CityNames()  # the bare names of a one-city deployment
