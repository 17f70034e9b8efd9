"""One hub run: verify every member's release, build the network marts, publish the release."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from city_pipeline.consume.release import DEFAULT_KEEP_RELEASES
from city_pipeline.network.config import Network
from city_pipeline.network.marts import build_network_marts
from city_pipeline.network.members import MemberRelease, check_members
from city_pipeline.network.release import NetworkRelease, publish_network_release


@dataclass(frozen=True)
class HubRun:
    members: list[MemberRelease]
    release: NetworkRelease


def publish_network(
    network: Network, now: datetime | None = None, keep: int = DEFAULT_KEEP_RELEASES
) -> HubRun:
    """A stale or missing member never stops the run; a failed validation raises (and leaves
    the current network release as it was)."""
    members = check_members(network, now)
    marts = build_network_marts(members)
    return HubRun(members, publish_network_release(network, members, marts, keep, now))
