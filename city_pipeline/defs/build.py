"""Assemble the Definitions of every layer for one city's settings.

`city_pipeline/definitions.py` calls this once for the environment's city; the CLI and tests call
it for the city they run, so one process can run two cities without stale module state.
"""

import logging
from collections.abc import Mapping

import dagster as dg

from city_pipeline.defs import analyse, automation, capture, consume, curate, policies, schedules
from city_pipeline.defs.consume import RELEASE_KEY
from city_pipeline.defs.naming import CityNames
from city_pipeline.defs.network import build_network_defs, default_member_release_key
from city_pipeline.network.config import load_network
from city_pipeline.settings import ConfigError, Deployment, Settings, network_file

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


def hub_definitions(cities: Mapping[str, Settings]) -> list[dg.Definitions]:
    """The network hub when `CITY_PIPELINE_NETWORK` names a network YAML. A member that is a city
    of this deployment joins the lineage at its own release asset. A broken network YAML leaves
    the hub out (its error is logged) and the cities still run."""
    path = network_file()
    if path is None or not cities:
        return []
    first = next(iter(cities.values()))
    try:
        network = load_network(path, first.deployment_dir or first.data_dir)
    except ConfigError as exc:
        LOG.error(f"network hub left out of the deployment: {exc}")
        return []

    def member_release_key(slug: str) -> dg.AssetKey:
        city = cities.get(slug)
        return CityNames.of(city).key(RELEASE_KEY) if city else default_member_release_key(slug)

    running = schedules.automation_status(first)
    return [build_network_defs(network, member_release_key, running)]


def build_definitions(settings: Settings) -> dg.Definitions:
    """A deployment of one city."""
    return dg.Definitions.merge(
        city_definitions(settings),
        automation.deployment_defs(),
        *hub_definitions({settings.city.slug: settings}),
    )


def build_deployment_definitions(deployment: Deployment) -> dg.Definitions:
    """A deployment of several cities, each under its slug; a city whose YAML is refused is
    left out (its error is logged when the definitions load) and the others run."""
    for error in deployment.refused.values():
        LOG.error(f"city left out of the deployment: {error}")
    return dg.Definitions.merge(
        *(city_definitions(settings) for settings in deployment.cities.values()),
        automation.deployment_defs(),
        *hub_definitions(deployment.cities),
    )
