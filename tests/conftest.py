"""Shared fixtures. Tests never touch the network: sources replay bundled recordings, or talk to
a local HTTP server (pytest-httpserver) in live mode."""

import os

import pytest

# Offline and quiet, before anything imports dagster or great_expectations.
os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")


@pytest.fixture(scope="session")
def session_data_dir(tmp_path_factory) -> str:
    """One data dir for the session's Definitions object (tests that write use their own)."""
    path = tmp_path_factory.mktemp("city-data")
    os.environ["CITY_PIPELINE_DATA_DIR"] = str(path)
    return str(path)


@pytest.fixture(scope="session")
def city_definitions(session_data_dir, dbt_manifest):
    """The project's Definitions, loaded the way `dagster` loads them (default city)."""
    from city_pipeline.definitions import defs

    return defs


# --- City YAMLs and live-mode settings against a local HTTP server (test_http_faults,
# test_settings, test_replay). Retries are real urllib3 retries with a tiny backoff.

FAST_RETRY = {"retries": 2, "backoff_factor_s": 0.01, "backoff_max_s": 0.05}


def deep_merge(base: dict, overrides: dict) -> dict:
    """`base` with `overrides` merged in, key by key for nested mappings."""
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


@pytest.fixture
def city_yaml(tmp_path):
    """Factory: write a city YAML derived from a shipped one (`base` slug) with overrides merged."""
    import yaml

    from city_pipeline.settings import CITIES_DIR

    def write(overrides: dict | None = None, *, base: str = "khon_kaen", name: str = "city.yaml"):
        shipped = yaml.safe_load((CITIES_DIR / f"{base}.yaml").read_text(encoding="utf-8"))
        path = tmp_path / "cities" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        text = yaml.safe_dump(deep_merge(shipped, overrides or {}), allow_unicode=True)
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def live_settings(httpserver, tmp_path, city_yaml):
    """Factory: settings whose `source` calls the local `httpserver` (or `base_url`) in live mode
    (or `mode="record"`), with fast retries, a tmp data dir and a tmp recordings dir."""
    from city_pipeline.settings import load_settings

    def make(
        source: str = "open_meteo",
        *,
        mode: str = "live",
        base_url: str | None = None,
        base: str = "khon_kaen",
        data_dir=None,
        **source_overrides,
    ):
        config = city_yaml({"sources": {source: {**FAST_RETRY, **source_overrides}}}, base=base)
        return load_settings(
            {
                "CITY_PIPELINE_CONFIG": str(config),
                "CITY_PIPELINE_SOURCE_MODE": mode,
                f"CITY_PIPELINE_{source.upper()}_BASE_URL": base_url or httpserver.url_for(""),
                "CITY_PIPELINE_DATA_DIR": str(data_dir or tmp_path / "data"),
                "CITY_PIPELINE_RECORDINGS_DIR": str(tmp_path / "recordings"),
            }
        )

    return make


# --- Curate (dbt). The manifest is prepared once per session with the project's own preparer
# (`python -m city_pipeline.defs.curate prepare`, as `make prepare` and CI do); nothing parses dbt
# when definitions load.


@pytest.fixture(scope="session")
def dbt_manifest():
    """Path of a freshly prepared dbt manifest (dbt_project/target/manifest.json)."""
    from city_pipeline.defs.curate import prepare_manifest

    return prepare_manifest()


# --- The network hub's members (test_network_*): two real member releases, published once.


@pytest.fixture(scope="session")
def network_members(tmp_path_factory):
    """A data dir holding `khon_kaen/published/current` and `chiang_mai/published/current`, with
    the figures of tests/network_members.py (KHON_KAEN, CHIANG_MAI). Read-only for tests: copy
    it (`copy_members`) to tamper with it."""
    from network_members import CHIANG_MAI, KHON_KAEN, publish_member

    data_dir = tmp_path_factory.mktemp("network-members")
    publish_member(data_dir, "khon_kaen", KHON_KAEN)
    publish_member(data_dir, "chiang_mai", CHIANG_MAI, seed=11)
    return data_dir
