"""Dagster resources: the city settings every asset reads."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import dagster as dg

from city_pipeline.settings import (
    CITIES_DIR_ENV,
    ENV_PREFIX,
    ConfigError,
    Settings,
    load_settings,
)


class CityResource(dg.ConfigurableResource):
    """Which city, where its data lives and how sources are reached.

    Every field defaults to the environment (`CITY_PIPELINE_CONFIG`, `CITY_PIPELINE_DATA_DIR`,
    `CITY_PIPELINE_SOURCE_MODE`, `CITY_PIPELINE_CITIES_DIR`), so the same definitions serve a
    laptop, CI and the city's server. In a several-city deployment the city of a step is the first
    part of its asset keys (`defs/naming.py`).
    """

    config_file: str | None = None
    data_dir: str | None = None
    source_mode: str | None = None
    cities_dir: str | None = None

    def settings(self, keys: Iterable[dg.AssetKey] = ()) -> Settings:
        """The settings of the city whose assets are `keys` (any key will do in a one-city
        deployment; an asset passes `context.selected_asset_keys`)."""
        env = dict(os.environ)
        for name, value in (
            ("CONFIG", self.config_file),
            ("DATA_DIR", self.data_dir),
            ("SOURCE_MODE", self.source_mode),
            ("CITIES_DIR", self.cities_dir),
        ):
            if value:
                env[f"{ENV_PREFIX}{name}"] = value
        if env.get(CITIES_DIR_ENV):
            env[f"{ENV_PREFIX}CONFIG"] = str(city_file(env[CITIES_DIR_ENV], keys))
        return load_settings(env)


def city_file(cities_dir: str, keys: Iterable[dg.AssetKey]) -> Path:
    """The YAML of the one city the asset keys belong to (`<slug>/...`)."""
    slugs = {key.path[0] for key in keys}
    if len(slugs) != 1:
        found = ", ".join(sorted(slugs)) or "none"
        raise ConfigError(f"{CITIES_DIR_ENV}: a step belongs to exactly one city, not: {found}")
    (slug,) = slugs
    path = Path(cities_dir) / f"{slug}.yaml"  # `deployment_settings` holds every file to this
    if not path.exists():
        raise ConfigError(f"{CITIES_DIR_ENV}={cities_dir}: no city {slug!r} ({path.name})")
    return path
