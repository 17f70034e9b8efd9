"""Assemble the Definitions of every layer for one city's settings.

`city_pipeline/definitions.py` calls this once for the environment's city; the CLI and tests call
it for the city they run, so one process can run two cities without stale module state.
"""

import dagster as dg

from city_pipeline.defs import analyse, automation, capture, consume, curate, policies
from city_pipeline.settings import Settings


def build_definitions(settings: Settings) -> dg.Definitions:
    layers = dg.Definitions.merge(
        capture.build_defs(settings),
        curate.build_defs(settings),
        analyse.build_defs(settings),
        consume.build_defs(settings),
    )
    layers = policies.with_operating_policies(layers)
    assets = [a for a in layers.assets or [] if isinstance(a, dg.AssetsDefinition)]
    return dg.Definitions.merge(layers, automation.build_automation_defs(assets, settings))
