"""The Dagster UI for real: `dagster-webserver` on a free loopback port with the repository's
`workspace.yaml`, queried through its GraphQL API as the UI does. Stakeholders read the city's data
architecture from this graph; operators launch runs from it."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from pg_cluster import free_port

ROOT = Path(__file__).resolve().parents[1]
THAI = re.compile(r"[\u0E00-\u0E7F]")
DAY = "2024-01-02"
LINEAGE = {  # raw table -> mart: the three stories of the report
    "air4thai_hourly": "mart_air_quality_daily",
    "traffy_tickets": "mart_complaints_daily",
    "open_meteo_daily": "mart_weather_daily",
}
INSTANCE_YAML = """telemetry:
  enabled: false
run_coordinator:  # launch runs from the webserver itself: no daemon in this test
  module: dagster._core.run_coordinator
  class: DefaultRunCoordinator
concurrency:
  pools:
    default_limit: 1
    granularity: op
"""

ASSET_GRAPH = """
{ assetNodes {
    assetKey { path } groupName description
    owners { ... on TeamAssetOwner { team } ... on UserAssetOwner { email } }
    dependencyKeys { path } dependedByKeys { path }
    internalFreshnessPolicy { ... on TimeWindowFreshnessPolicy { failWindowSeconds } }
    automationCondition { label }
} }"""

REPOSITORY = """
{ repositoriesOrError { ... on RepositoryConnection { nodes {
    name location { name }
    schedules { name cronSchedule executionTimezone pipelineName }
    sensors { name }
} } } }"""

LAUNCH = """
mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on InvalidSubsetError { message }
  }
}"""

RUN_STATUS = """
query Run($runId: ID!) { runOrError(runId: $runId) { ... on Run { status } } }"""

LATEST = """
query Latest($key: AssetKeyInput!) { assetOrError(assetKey: $key) { ... on Asset {
    assetMaterializations(limit: 1) { partition runId }
} } }"""


class GraphQL:
    def __init__(self, url: str) -> None:
        self.url = url

    def __call__(self, query: str, variables: dict | None = None) -> dict:
        response = requests.post(
            f"{self.url}/graphql", json={"query": query, "variables": variables or {}}, timeout=60
        )
        response.raise_for_status()
        body = response.json()
        assert "errors" not in body, body["errors"]
        return body["data"]


@contextlib.contextmanager
def running_webserver(root: Path, **env: str) -> Iterator[GraphQL]:
    """`dagster-webserver` on the repository's workspace.yaml with `env`, stopped on exit."""
    home = root / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(INSTANCE_YAML, encoding="utf-8")
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "CITY_PIPELINE_DATA_DIR": str(root / "data"),
        "CITY_PIPELINE_SOURCE_MODE": "replay",
        "DAGSTER_DISABLE_TELEMETRY": "1",
        **env,
    }
    port = free_port()
    log = (root / "webserver.log").open("w")
    server = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("dagster-webserver")),
            "-w",
            str(ROOT / "workspace.yaml"),
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert server.poll() is None, (root / "webserver.log").read_text()
            try:
                if requests.get(f"{url}/server_info", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "webserver did not answer within 90 s"
            time.sleep(0.25)
        yield GraphQL(url)
    finally:
        # The webserver's own process group: its code server and the runs it launched.
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()


@pytest.fixture(scope="module")
def webserver(tmp_path_factory):
    root = tmp_path_factory.mktemp("webserver")
    with running_webserver(root) as graphql:
        yield graphql, root


@pytest.fixture(scope="module")
def graph(webserver) -> dict[str, dict]:
    graphql, _ = webserver
    nodes = graphql(ASSET_GRAPH)["assetNodes"]
    return {"/".join(n["assetKey"]["path"]): n for n in nodes}


def key_named(graph: dict[str, dict], name: str) -> str:
    """A dbt model's key by its model name (whatever schema prefix the translator adds)."""
    matches = [
        key
        for key in graph
        if key.split("/")[-1] == name and not key.startswith(("raw/", "published/"))
    ]
    assert len(matches) == 1, f"{name}: {matches}"
    return matches[0]


def downstream(graph: dict[str, dict], start: str) -> set[str]:
    seen, queue = set(), deque([start])
    while queue:
        for child in graph[queue.popleft()]["dependedByKeys"]:
            key = "/".join(child["path"])
            if key not in seen:
                seen.add(key)
                queue.append(key)
    return seen


def test_asset_graph_has_the_three_layers(graph):
    groups = {node["groupName"] for node in graph.values()}
    assert {"capture", "curate", "consume"} <= groups
    assert all(key.startswith("raw/") for key, n in graph.items() if n["groupName"] == "capture")
    assert all(
        key.startswith("published/") for key, n in graph.items() if n["groupName"] == "consume"
    )
    assert "published/release" in graph


@pytest.mark.parametrize("raw_table", sorted(LINEAGE))
def test_lineage_from_raw_through_staging_and_mart_to_published(graph, raw_table):
    raw, mart_name = f"raw/{raw_table}", LINEAGE[raw_table]
    mart = key_named(graph, mart_name)
    staging = [
        key
        for key in (("/".join(c["path"])) for c in graph[raw]["dependedByKeys"])
        if key.split("/")[-1].startswith("stg_")
    ]
    assert staging, f"no staging model reads {raw}"
    assert all(graph[key]["groupName"] == "curate" for key in staging)
    assert any(mart in downstream(graph, key) for key in staging), (
        f"{mart} is not downstream of {staging}"
    )
    assert graph[mart]["groupName"] == "curate"
    published = f"published/{mart_name}"
    assert published in graph and graph[published]["groupName"] == "consume"
    assert mart in ["/".join(d["path"]) for d in graph[published]["dependencyKeys"]]
    assert "published/release" in downstream(graph, published)


def test_assets_are_described_in_english_with_thai_names_and_owned(graph):
    for key, node in graph.items():
        assert node["owners"], f"{key} has no owner"
        assert (node["description"] or "").strip(), f"{key} has no description"
        name = key.split("/")[-1]
        if key.startswith(("raw/", "published/")) or name.startswith(("mart_", "dim_", "fct_")):
            assert THAI.search(node["description"]), f"{key}: no Thai name in the description"
            assert re.search(r"[A-Za-z]{3}", node["description"]), f"{key}: no English"


def test_freshness_and_automation_are_visible_in_the_ui(graph):
    for key, node in graph.items():
        assert node["internalFreshnessPolicy"]["failWindowSeconds"] > 0, key
    hourly = graph["raw/air4thai_hourly"]["internalFreshnessPolicy"]["failWindowSeconds"]
    assert hourly == 26 * 3600
    eager = [k for k, n in graph.items() if n["automationCondition"]]
    assert eager and all(graph[k]["groupName"] in ("curate", "consume") for k in eager)


def test_schedules_and_sensors_are_loaded(webserver):
    graphql, _ = webserver
    (repository,) = graphql(REPOSITORY)["repositoriesOrError"]["nodes"]
    schedules = {s["name"]: s for s in repository["schedules"]}
    nightly = schedules["nightly_refresh_schedule"]
    assert (nightly["cronSchedule"], nightly["executionTimezone"], nightly["pipelineName"]) == (
        "0 2 * * *",
        "Asia/Bangkok",
        "nightly_refresh",
    )
    assert "monthly_refresh_schedule" in schedules
    assert {"run_failure_alerts", "city_automation"} <= {s["name"] for s in repository["sensors"]}


def test_a_run_launched_through_graphql_succeeds(webserver):
    graphql, root = webserver
    (repository,) = graphql(REPOSITORY)["repositoriesOrError"]["nodes"]
    params = {
        "selector": {
            "repositoryLocationName": repository["location"]["name"],
            "repositoryName": repository["name"],
            "jobName": "nightly_refresh",
            "assetSelection": [
                {"path": ["raw", "open_meteo_daily"]},
                {"path": ["raw", "open_meteo_hourly"]},
            ],
        },
        "executionMetadata": {"tags": [{"key": "dagster/partition", "value": DAY}]},
        "runConfigData": {},
    }
    launched = graphql(LAUNCH, {"params": params})["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]
    deadline, state = time.monotonic() + 90, None
    while time.monotonic() < deadline:
        state = graphql(RUN_STATUS, {"runId": run_id})["runOrError"]["status"]
        if state in ("SUCCESS", "FAILURE", "CANCELED"):
            break
        time.sleep(0.5)
    assert state == "SUCCESS"
    latest = graphql(LATEST, {"key": {"path": ["raw", "open_meteo_daily"]}})
    (materialization,) = latest["assetOrError"]["assetMaterializations"]
    assert materialization == {"partition": DAY, "runId": run_id}
    assert list((root / "data" / "lake" / "raw" / "open_meteo_daily").glob(f"date={DAY}/*.parquet"))


def asset_graph(graphql: GraphQL) -> dict[str, dict]:
    return {"/".join(n["assetKey"]["path"]): n for n in graphql(ASSET_GRAPH)["assetNodes"]}


def test_a_deployment_shows_each_city_and_the_network_hub(tmp_path):
    """Two cities and the hub that compares them, as stakeholders see them in the UI: each city's
    pipeline under its slug, the hub reading both cities' releases, the hub's daily schedule."""
    cities = tmp_path / "cities"
    cities.mkdir()
    for slug in ("khon_kaen", "chiang_mai"):
        shutil.copy(ROOT / "city_pipeline" / "cities" / f"{slug}.yaml", cities)
    network = tmp_path / "network.yaml"
    network.write_text(
        "name: Test network\nname_th: เครือข่ายทดสอบ\nmembers:\n"
        + "".join(
            f"  - slug: {slug}\n    release: '{{data_dir}}/{slug}/published/current'\n"
            for slug in ("khon_kaen", "chiang_mai")
        ),
        encoding="utf-8",
    )
    env = {"CITY_PIPELINE_CITIES_DIR": str(cities), "CITY_PIPELINE_NETWORK": str(network)}
    with running_webserver(tmp_path, **env) as graphql:
        graph = asset_graph(graphql)
        (repository,) = graphql(REPOSITORY)["repositoriesOrError"]["nodes"]

    hub = graph["network/member_releases"]
    assert hub["groupName"] == "network"
    assert {"/".join(d["path"]) for d in hub["dependencyKeys"]} == {
        "khon_kaen/published/release",
        "chiang_mai/published/release",
    }
    assert "network/release" in downstream(graph, "network/member_releases")
    for slug in ("khon_kaen", "chiang_mai"):
        assert graph[f"{slug}/published/release"]["groupName"] == "consume"
        assert f"{slug}/published/release" in downstream(graph, f"{slug}/raw/traffy_tickets")
        assert "network/release" in downstream(graph, f"{slug}/raw/traffy_tickets")
    assert {key.split("/")[0] for key in graph} == {"khon_kaen", "chiang_mai", "network"}
    schedules = {s["name"]: s for s in repository["schedules"]}
    assert schedules["network_publish_schedule"]["pipelineName"] == "network_publish"
    assert schedules["network_publish_schedule"]["executionTimezone"] == "Asia/Bangkok"
    assert {"nightly_refresh_schedule__khon_kaen", "nightly_refresh_schedule__chiang_mai"} <= set(
        schedules
    )
