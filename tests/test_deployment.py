"""Several cities in one deployment (`CITY_PIPELINE_CITIES_DIR`): a city is added by its YAML
alone, each city's assets, jobs, schedules, sensors and warehouse pool are its own, a broken city
file is left out alone, and a step finds its city's settings from its asset keys."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
import yaml

from city_pipeline.defs.build import build_deployment_definitions
from city_pipeline.defs.naming import ONE_CITY, WAREHOUSE_POOL, CityNames
from city_pipeline.defs.resources import CityResource
from city_pipeline.defs.sensors import keys_by_city
from city_pipeline.settings import CITIES_DIR, ConfigError, load_deployment


def add_city(folder: Path, base: str, slug: str | None = None, **city: object) -> Path:
    """A city YAML in `folder`: a shipped one, or a copy under another slug and name."""
    config = yaml.safe_load((CITIES_DIR / f"{base}.yaml").read_text(encoding="utf-8"))
    slug = slug or base
    config["city"].update({"slug": slug, **city})
    path = folder / f"{slug}.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture
def cities(tmp_path) -> Path:
    folder = tmp_path / "cities"
    folder.mkdir()
    add_city(folder, "khon_kaen")
    # A new municipality joins by its YAML alone (same province's codes, its own slug and name).
    add_city(folder, "khon_kaen", "ban_phai", name_en="Ban Phai Town", name_th="เทศบาลเมืองบ้านไผ่")
    add_city(folder, "thung_sadao")
    return folder


def deployment_env(cities: Path, data: Path) -> dict[str, str]:
    return {"CITY_PIPELINE_CITIES_DIR": str(cities), "CITY_PIPELINE_DATA_DIR": str(data)}


@pytest.fixture
def deployment(cities, tmp_path, dbt_manifest):
    return load_deployment(deployment_env(cities, tmp_path / "data"))


def test_a_city_joins_by_its_yaml_alone(deployment, tmp_path):
    assert set(deployment.cities) == {"khon_kaen", "ban_phai", "thung_sadao"}
    assert not deployment.refused
    for slug, settings in deployment.cities.items():
        assert settings.data_dir == (tmp_path / "data" / slug).resolve()  # its own lake/warehouse
    repository = build_deployment_definitions(deployment).get_repository_def()
    keys = repository.asset_graph.get_all_asset_keys()
    assert {key.path[0] for key in keys} == set(deployment.cities)
    assert dg.AssetKey(["ban_phai", "marts", "fct_complaints"]) in keys
    assert dg.AssetKey(["ban_phai", "published", "release"]) in keys


def test_each_city_is_its_own_graph_jobs_and_pool(deployment):
    repository = build_deployment_definitions(deployment).get_repository_def()
    graph = repository.asset_graph
    for key in graph.get_all_asset_keys():  # no lineage edge crosses two cities
        assert all(parent.path[0] == key.path[0] for parent in graph.get(key).parent_keys)
    for slug in deployment.cities:
        nightly = repository.get_job(f"nightly_refresh__{slug}")
        assert nightly.tags["city"] == slug
        selected = nightly.asset_layer.asset_graph.get_all_asset_keys()
        assert selected and {key.path[0] for key in nightly.asset_layer.executable_asset_keys} == {
            slug
        }
        assert repository.get_schedule_def(f"nightly_refresh_schedule__{slug}")
        automation = repository.get_sensor_def(f"city_automation__{slug}")
        assert automation.run_tags == {"city": slug}  # so its runs queue per city
    pools = {
        node.op.pool
        for node in repository.assets_defs_by_key.values()
        if isinstance(node, dg.AssetsDefinition) and node.op.pool
    }
    assert pools == {f"{WAREHOUSE_POOL}__{slug}" for slug in deployment.cities}
    # Shared once: the failure alerts and the reaper.
    assert {"run_failure_alerts", "dead_run_reaper"} <= {s.name for s in repository.sensor_defs}


def test_a_broken_city_file_is_left_out_alone(cities, tmp_path):
    (cities / "broken.yaml").write_text("city: [not, a, mapping\n", encoding="utf-8")
    add_city(cities, "betong", "misnamed").rename(cities / "elsewhere.yaml")
    deployment = load_deployment(deployment_env(cities, tmp_path / "data"))
    assert set(deployment.cities) == {"khon_kaen", "ban_phai", "thung_sadao"}
    errors = {path.name: error for path, error in deployment.refused.items()}
    assert set(errors) == {"broken.yaml", "elsewhere.yaml"}
    assert "broken.yaml" in errors["broken.yaml"] and "\n" not in errors["broken.yaml"]
    assert "'misnamed' must be the file's name" in errors["elsewhere.yaml"]


def test_a_step_reads_its_own_city(cities, tmp_path, monkeypatch):
    for name, value in deployment_env(cities, tmp_path / "data").items():
        monkeypatch.setenv(name, value)
    resource = CityResource()
    settings = resource.settings([dg.AssetKey(["ban_phai", "raw", "traffy_tickets"])])
    assert settings.city.slug == "ban_phai"
    assert settings.data_dir == (tmp_path / "data" / "ban_phai").resolve()
    assert resource.settings([dg.AssetKey(["thung_sadao"])]).city.slug == "thung_sadao"
    with pytest.raises(ConfigError, match="exactly one city"):
        resource.settings([dg.AssetKey(["ban_phai", "a"]), dg.AssetKey(["khon_kaen", "a"])])
    with pytest.raises(ConfigError, match="no city 'atlantis'"):
        resource.settings([dg.AssetKey(["atlantis", "raw", "x"])])


def test_one_city_keeps_bare_names():
    key = dg.AssetKey(["marts", "fct_complaints"])
    assert ONE_CITY.key(key) == key and ONE_CITY.name("nightly_refresh") == "nightly_refresh"
    city = CityNames("hat_yai")
    assert city.key(key) == dg.AssetKey(["hat_yai", "marts", "fct_complaints"])
    assert city.bare(city.key(key)) == key
    assert city.pool == "duckdb_warehouse__hat_yai" and city.run_tags == {"city": "hat_yai"}


def test_a_failed_run_alerts_each_city_it_touched():
    tagged = dg.DagsterRun(job_name="nightly_refresh__betong", tags={"city": "betong"})
    assert keys_by_city(tagged) == [[dg.AssetKey(["betong"])]]
    mixed = dg.DagsterRun(
        job_name="__ASSET_JOB",
        asset_selection={
            dg.AssetKey(["betong", "marts", "a"]),
            dg.AssetKey(["hat_yai", "marts", "b"]),
            dg.AssetKey(["betong", "marts", "c"]),
        },
    )
    assert [sorted(k.path[0] for k in keys) for keys in keys_by_city(mixed)] == [
        ["betong", "betong"],
        ["hat_yai"],
    ]


def network_yaml(path: Path, members: dict[str, str]) -> Path:
    entries = [{"slug": slug, "release": release} for slug, release in members.items()]
    config = {"name": "Test network", "name_th": "เครือข่ายทดสอบ", "members": entries}
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def test_the_network_hub_joins_the_deployment(deployment, cities, tmp_path, monkeypatch):
    """`CITY_PIPELINE_NETWORK`: the hub reads the release asset of each member that is a city here;
    a member served from elsewhere is an external upstream. A broken network YAML leaves the hub
    out and every city still loads."""
    members = {
        "khon_kaen": "{data_dir}/khon_kaen/published/current",
        "ban_phai": "{data_dir}/ban_phai/published/current",
        "hat_yai": "https://data.example.org/hat_yai/published/current",
    }
    monkeypatch.setenv("CITY_PIPELINE_CITIES_DIR", str(cities))  # ban_phai's names
    monkeypatch.setenv("CITY_PIPELINE_NETWORK", str(network_yaml(tmp_path / "n.yaml", members)))
    repository = build_deployment_definitions(deployment).get_repository_def()
    graph = repository.asset_graph
    hub = graph.get(dg.AssetKey(["network", "member_releases"]))
    assert hub.parent_keys == {dg.AssetKey([slug, "published", "release"]) for slug in members}
    assert graph.get(dg.AssetKey(["ban_phai", "published", "release"])).is_materializable
    assert repository.get_schedule_def("network_publish_schedule").job_name == "network_publish"

    (tmp_path / "n.yaml").write_text("members: [", encoding="utf-8")
    keys = build_deployment_definitions(deployment).get_repository_def().asset_graph
    prefixes = {key.path[0] for key in keys.get_all_asset_keys()}
    assert prefixes == {"khon_kaen", "ban_phai", "thung_sadao"}
