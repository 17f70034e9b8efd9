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
def city_definitions(session_data_dir):
    """The project's Definitions, loaded the way `dagster` loads them (default city)."""
    from city_pipeline.definitions import defs

    return defs
