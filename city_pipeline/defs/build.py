"""Assemble the Definitions of every layer for one city's settings.

`city_pipeline/definitions.py` calls this once for the environment's city; the CLI and tests call
it for the city they run, so one process can run two cities without stale module state.
"""

import logging

import dagster as dg

from city_pipeline.defs import analyse, automation, capture, consume, curate, policies
from city_pipeline.settings import Deployment, Settings

LOG = logging.getLogger(__name__)


def city_definitions(settings: Settings) -> dg.Definitions:
    """One city's layers, jobs, schedules and automation sensor (names from `defs/naming.py`)."""
    layers = dg.Definitions.merge(
        capture.build_defs(settings),
        curate.build_defs(settings),
        analyse.build_defs(settings),
        consume.build_defs(settings),
    )
    layers = policies.with_operating_policies(layers)
    assets = [a for a in layers.assets or [] if isinstance(a, dg.AssetsDefinition)]
    return dg.Definitions.merge(layers, automation.build_automation_defs(assets, settings))


def build_definitions(settings: Settings) -> dg.Definitions:
    """A deployment of one city."""
    return dg.Definitions.merge(city_definitions(settings), automation.deployment_defs())


def build_deployment_definitions(deployment: Deployment) -> dg.Definitions:
    """A deployment of several cities, each under its slug; a city whose YAML is refused is
    left out (its error is logged when the definitions load) and the others run."""
    for error in deployment.refused.values():
        LOG.error(f"city left out of the deployment: {error}")
    return dg.Definitions.merge(
        *(city_definitions(settings) for settings in deployment.cities.values()),
        automation.deployment_defs(),
    )
