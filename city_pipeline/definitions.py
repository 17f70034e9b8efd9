"""The one Definitions object: assets, checks, jobs, schedules, sensors and resources.

Loading it reads the city config and the prepared dbt manifest; it never calls a source or parses
the dbt project (run `make prepare` first; `make`, CI and the test suite do).
"""

import dagster as dg

from city_pipeline.defs import automation, capture
from city_pipeline.settings import Settings, get_settings


def build_definitions(settings: Settings) -> dg.Definitions:
    layers = dg.Definitions.merge(capture.build_defs(settings))
    assets = [a for a in layers.assets or [] if isinstance(a, dg.AssetsDefinition)]
    return dg.Definitions.merge(layers, dg.Definitions(jobs=automation.build_jobs(assets)))


defs = build_definitions(get_settings())
