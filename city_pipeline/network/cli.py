"""`city-pipeline network publish`: the hub's command (verify members, publish the network)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from city_pipeline.settings import load_settings


def hub_data_dir(args: argparse.Namespace) -> Path:
    """`--data-dir`, else the deployment's data dir (the folder holding `<slug>/` per city)."""
    if args.data_dir:
        return Path(args.data_dir).resolve()
    settings = load_settings()
    return settings.deployment_dir or settings.data_dir


def command_network_publish(args: argparse.Namespace) -> int:
    """Verify every member's release, publish the network release; exit 0 when it published,
    whatever members were stale (each is printed with its reason)."""
    from city_pipeline.consume.release import PublishError
    from city_pipeline.network.config import load_network
    from city_pipeline.network.hub import publish_network

    network = load_network(Path(args.network), hub_data_dir(args))
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    print(
        f"city-pipeline: network {network.config.name} ({network.config.name_th}), "
        f"{len(network.members)} members",
        flush=True,
    )
    try:
        run = publish_network(network)
    except PublishError as exc:
        print(f"city-pipeline: network release not published: {exc}", file=sys.stderr)
        return 1
    width = max(len(m.slug) for m in network.members)
    for member in run.members:
        release = f"release {member.release_id}" if member.release_id else "no release"
        reason = f": {member.reason}" if member.reason else ""
        print(f"  {member.member.slug:<{width}}  {member.status:<8} {release}{reason}")
    rows = ", ".join(f"{name} {count:,} rows" for name, count in run.release.rows.items())
    print(f"published network release {run.release.release_id} -> {run.release.current}")
    print(f"  {rows}")
    print(f"  report: {run.release.report}")
    return 0


def add_network_commands(commands: argparse._SubParsersAction) -> None:
    network = commands.add_parser("network", help="the network hub: compare member cities")
    actions = network.add_subparsers(dest="action", required=True)
    publish = actions.add_parser(
        "publish",
        help="verify each member's release (sha256) and publish the network release",
    )
    publish.add_argument("--network", required=True, help="the network YAML")
    publish.add_argument(
        "--data-dir", help="data dir: {data_dir} in member paths, hub files under network/"
    )
    publish.set_defaults(handler=command_network_publish)
