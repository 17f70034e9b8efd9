"""The hub's Dagster assets: group `network`, upstream of each member's release asset (the key is
a parameter), and a real materialization that publishes the network release."""

from pathlib import Path

import dagster as dg
from network_members import copy_members, network_yaml

from city_pipeline.defs.network import (
    MEMBER_RELEASES,
    NETWORK_MARTS,
    NETWORK_RELEASE,
    build_network_defs,
)
from city_pipeline.network.config import load_network

MEMBERS = {s: f"{{data_dir}}/{s}/published/current" for s in ("khon_kaen", "chiang_mai")}


def test_lineage_default_and_custom_member_keys(tmp_path):
    network = load_network(network_yaml(tmp_path, MEMBERS), tmp_path)
    graph = build_network_defs(network).resolve_asset_graph()
    hub = {MEMBER_RELEASES, NETWORK_MARTS, NETWORK_RELEASE}
    assert {k for k in graph.get_all_asset_keys() if graph.get(k).is_materializable} == hub
    assert all(graph.get(k).group_name == "network" for k in hub)
    assert graph.get(MEMBER_RELEASES).parent_keys == {
        dg.AssetKey(["khon_kaen", "published", "release"]),
        dg.AssetKey(["chiang_mai", "published", "release"]),
    }
    assert graph.get(NETWORK_RELEASE).parent_keys == {MEMBER_RELEASES, NETWORK_MARTS}

    prefixed = build_network_defs(
        network, member_release_key=lambda slug: dg.AssetKey(["city", slug, "published_release"])
    ).resolve_asset_graph()
    assert dg.AssetKey(["city", "chiang_mai", "published_release"]) in (
        prefixed.get(MEMBER_RELEASES).parent_keys
    )


def test_materializing_the_hub_publishes_the_network_release(network_members, tmp_path):
    data_dir = copy_members(network_members, tmp_path / "data")
    network = load_network(network_yaml(data_dir, MEMBERS), data_dir)
    defs = build_network_defs(network)
    result = defs.resolve_job_def("network_publish").execute_in_process(
        instance=dg.DagsterInstance.ephemeral()
    )
    assert result.success
    (event,) = [
        e for e in result.get_asset_materialization_events() if e.asset_key == NETWORK_RELEASE
    ]
    path = event.materialization.metadata["path"].value
    assert (network.published_dir / "current").resolve() == Path(path)
    (members,) = [
        e for e in result.get_asset_materialization_events() if e.asset_key == MEMBER_RELEASES
    ]
    assert members.materialization.metadata["verified"].value == 2
