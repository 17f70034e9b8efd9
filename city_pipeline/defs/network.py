"""The network hub as Dagster assets (group `network`): member releases verified -> network marts
-> network release. Each member's published release is an upstream dependency, by default the
asset `<slug>/published/release`; a many-cities deployment passes its own `member_release_key`
(e.g. with a per-city key prefix) so the lineage joins the hub to each city's release.

    defs = build_network_defs(load_network(path, data_dir))
"""

from collections.abc import Callable

import dagster as dg

from city_pipeline.defs.schedules import schedule_status
from city_pipeline.network.config import Network
from city_pipeline.network.marts import build_network_marts
from city_pipeline.network.members import VERIFIED, MemberRelease, check_members
from city_pipeline.network.release import TIMEZONE, publish_network_release

GROUP = "network"
MEMBER_RELEASES = dg.AssetKey(["network", "member_releases"])
NETWORK_MARTS = dg.AssetKey(["network", "network_marts"])
NETWORK_RELEASE = dg.AssetKey(["network", "release"])
NETWORK_JOB = "network_publish"
NETWORK_SCHEDULE = "network_publish_schedule"
# 07:00 Thai time: after the members' 02:00 nightly runs. The hub never waits for a late member:
# it publishes what verifies and marks the rest stale.
NETWORK_CRON = "0 7 * * *"


def default_member_release_key(slug: str) -> dg.AssetKey:
    return dg.AssetKey([slug, "published", "release"])


def build_network_defs(
    network: Network,
    member_release_key: Callable[[str], dg.AssetKey] = default_member_release_key,
    running: bool = False,
) -> dg.Definitions:
    """The hub's assets, its job, and its daily schedule (`running`: whether the schedule starts
    by itself, as the cities' schedules do)."""
    member_keys = [member_release_key(m.slug) for m in network.members]

    @dg.asset(
        key=MEMBER_RELEASES,
        group_name=GROUP,
        deps=member_keys,
        description="Each member's published release, every file verified against the sha256 "
        "in its release.json and copied into the hub; a refused or too-old member keeps its "
        "last good release, marked stale.",
    )
    def member_releases(context: dg.AssetExecutionContext) -> list[MemberRelease]:
        releases = check_members(network)
        for release in releases:
            if release.status != VERIFIED:
                context.log.warning(release.line())
        stale = [r.member.slug for r in releases if r.status != VERIFIED]
        context.add_output_metadata(
            {
                "verified": sum(r.status == VERIFIED for r in releases),
                "stale_or_missing": ", ".join(stale) or "none",
                "members": dg.MetadataValue.md("\n".join(f"- {r.line()}" for r in releases)),
            }
        )
        return releases

    @dg.asset(
        key=NETWORK_MARTS,
        group_name=GROUP,
        ins={"releases": dg.AssetIn(MEMBER_RELEASES)},
        description="network_city_daily and network_city_summary (docs/network.md).",
    )
    def network_marts(context: dg.AssetExecutionContext, releases: list[MemberRelease]) -> dict:
        marts = build_network_marts(releases)
        context.add_output_metadata({f"{name}_rows": t.num_rows for name, t in marts.items()})
        return marts

    @dg.asset(
        key=NETWORK_RELEASE,
        group_name=GROUP,
        ins={"releases": dg.AssetIn(MEMBER_RELEASES), "marts": dg.AssetIn(NETWORK_MARTS)},
        description="The network release: validated marts, CSV, DuckDB, datapackage.json, the "
        "TH/EN report, release.json with every sha256; `current` switches atomically.",
    )
    def network_release(
        context: dg.AssetExecutionContext, releases: list[MemberRelease], marts: dict
    ) -> None:
        release = publish_network_release(network, releases, marts)
        context.add_output_metadata(
            {
                "release_id": release.release_id,
                "path": str(release.path),
                "report": str(release.report),
                **{f"{name}_rows": rows for name, rows in release.rows.items()},
            }
        )

    job = dg.define_asset_job(NETWORK_JOB, selection=dg.AssetSelection.groups(GROUP))
    schedule = dg.ScheduleDefinition(
        name=NETWORK_SCHEDULE,
        job=job,
        cron_schedule=NETWORK_CRON,
        execution_timezone=TIMEZONE,
        default_status=schedule_status(running),
        description="Daily network release: verify each member's latest release and publish "
        "the comparison; a member that fails verification is shown stale, never waited for.",
    )
    return dg.Definitions(
        assets=[member_releases, network_marts, network_release], jobs=[job], schedules=[schedule]
    )
