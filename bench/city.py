"""The benchmark's city: Khon Kaen's YAML scaled to a size, and the environment every stage runs in.

The city YAML is the shipped `khon_kaen.yaml` with the window of the size, more Air4Thai stations,
full Traffy pages (1,000 features, as the public endpoint serves) and a country-wide monthly
subdistrict population file. Everything lives under one work directory:

    <workdir>/city.yaml          the benchmark city
    <workdir>/data/lake/...      landing files (generated) and raw Parquet (our capture)
    <workdir>/data/warehouse/    the dbt warehouse
    <workdir>/peers/<method>/    what the peer loaders write
    <workdir>/dbt/target, logs   dbt's own files (never the project's dbt_project/target)
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from bench.sizes import Size
from city_pipeline.settings import DEFAULT_CITY_FILE, PROJECT_ROOT, Settings, load_settings

CITY_STATIONS = ("46t", "97t")  # Khon Kaen's real Air4Thai stations come first
SUBDISTRICT_TEMPLATE = "/new_stat/file/{yy}/stat_t{yy}{mm}.txt"
TRAFFY_PAGE_SIZE = 1000

QUIET_ENV = {
    "DAGSTER_DISABLE_TELEMETRY": "1",
    "GX_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "RUNTIME__DLTHUB_TELEMETRY": "false",
    "PYTHONDONTWRITEBYTECODE": "1",
}


def station_ids(count: int) -> list[str]:
    extra = [f"{100 + n}t" for n in range(1, max(0, count - len(CITY_STATIONS)) + 1)]
    return [*CITY_STATIONS[:count], *extra]


def city_config(size: Size) -> dict:
    config = yaml.safe_load(DEFAULT_CITY_FILE.read_text(encoding="utf-8"))
    window = {"start": size.start.isoformat(), "end": size.end.isoformat()}
    config["partitions_start"] = size.start.isoformat()
    config["recorded_window"] = window
    sources = config["sources"]
    sources["air4thai"]["station_ids"] = station_ids(size.stations)
    sources["traffy"]["page_size"] = TRAFFY_PAGE_SIZE
    sources["traffy"]["max_pages"] = 100_000
    sources["ckan"]["datasets"] = []  # not part of the benchmark
    files = [f for f in sources["dopa"]["files"] if f["level"] != "subdistrict"]
    files.append({"level": "subdistrict", "path_template": SUBDISTRICT_TEMPLATE})
    sources["dopa"]["files"] = files
    return config


def config_path(workdir: Path) -> Path:
    return workdir / "city.yaml"


def write_city(workdir: Path, size: Size) -> Path:
    path = config_path(workdir)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(city_config(size), allow_unicode=True), encoding="utf-8")
    return path


def stage_env(workdir: Path) -> dict[str, str]:
    """Environment of every stage subprocess (offline, quiet, pointed at the work directory)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITY_PIPELINE_")}
    env.update(QUIET_ENV)
    env["CITY_PIPELINE_CONFIG"] = str(config_path(workdir))
    env["CITY_PIPELINE_DATA_DIR"] = str(workdir / "data")
    env["CITY_PIPELINE_SOURCE_MODE"] = "replay"
    env["DLT_DATA_DIR"] = str(workdir / "peers" / "dlt_home")
    return env


def write_dbt_profile(workdir: Path, memory_limit: str) -> Path:
    """A copy of the project's dbt profile with DuckDB's `memory_limit` set (DuckDB's default is
    80 % of the machine's RAM); returns the folder to pass as `--profiles-dir`."""
    profiles = yaml.safe_load((PROJECT_ROOT / "dbt_project" / "profiles.yml").read_text("utf-8"))
    for profile in profiles.values():
        for output in profile.get("outputs", {}).values():
            output.setdefault("settings", {})["memory_limit"] = memory_limit
    folder = workdir / "dbt" / "profiles"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "profiles.yml").write_text(yaml.safe_dump(profiles), encoding="utf-8")
    return folder


def bench_settings(workdir: Path) -> Settings:
    return load_settings(stage_env(workdir))
