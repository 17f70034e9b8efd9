"""Dagster resources: the city settings every asset reads, and the warehouse's concurrency pool."""

from __future__ import annotations

import os

import dagster as dg

from city_pipeline.settings import Settings, load_settings

# The one writer of the DuckDB warehouse: every asset that opens it (dbt, analyse, publish) shares
# this pool of size 1 (set in the instance's dagster.yaml: `concurrency.pools.default_limit: 1`).
WAREHOUSE_POOL = "duckdb_warehouse"


class CityResource(dg.ConfigurableResource):
    """Which city, where its data lives and how sources are reached.

    Every field defaults to the environment (`CITY_PIPELINE_CONFIG`, `CITY_PIPELINE_DATA_DIR`,
    `CITY_PIPELINE_SOURCE_MODE`), so the same definitions serve a laptop, CI and the city's server.
    """

    config_file: str | None = None
    data_dir: str | None = None
    source_mode: str | None = None

    def settings(self) -> Settings:
        env = dict(os.environ)
        for name, value in (
            ("CONFIG", self.config_file),
            ("DATA_DIR", self.data_dir),
            ("SOURCE_MODE", self.source_mode),
        ):
            if value:
                env[f"CITY_PIPELINE_{name}"] = value
        return load_settings(env)
