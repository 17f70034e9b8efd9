"""The production set-up, for tests: a PostgreSQL server, a `$DAGSTER_HOME` holding a copy of
`deploy/dagster.yaml` (connection values substituted from the environment, as on the server), and
one pipeline run for one partition through `city-pipeline run`.

The run is made once per test session and shared (the PostgreSQL test asserts what it stored, the
concurrency test starts from its warehouse), so the suite pays for one full pipeline run only.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pg_cluster

ROOT = Path(__file__).resolve().parents[1]
DEPLOY_YAML = ROOT / "deploy" / "dagster.yaml"
DAY = "2024-01-02"


@dataclass(frozen=True)
class Production:
    server: pg_cluster.PostgresServer
    home: Path
    data_dir: Path
    env: dict[str, str]

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        return self.server.query(sql, params, database=self.env["DAGSTER_PG_DB"])

    @contextmanager
    def instance(self):
        """The Dagster instance the services would open (env substituted at load)."""
        import dagster as dg

        saved = {k: os.environ.get(k) for k in self.env}
        os.environ.update(self.env)
        try:
            with dg.DagsterInstance.from_config(str(self.home)) as instance:
                yield instance
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


@dataclass(frozen=True)
class PipelineRun:
    production: Production
    returncode: int
    output: str


def production(name: str) -> Production:
    """A fresh database `name` and DAGSTER_HOME with the deploy config."""
    server = pg_cluster.start()
    server.create_database(name)
    root = Path(tempfile.mkdtemp(prefix=f"city-{name}-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    home, data_dir = root / "dagster_home", root / "data"
    home.mkdir()
    shutil.copy(DEPLOY_YAML, home / "dagster.yaml")
    env = {
        **server.env(),
        "DAGSTER_PG_DB": name,
        "DAGSTER_HOME": str(home),
        "CITY_PIPELINE_DATA_DIR": str(data_dir),
        "CITY_PIPELINE_SOURCE_MODE": "replay",
        "DAGSTER_DISABLE_TELEMETRY": "1",
        "GX_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    return Production(server, home, data_dir, env)


_run: PipelineRun | None = None


def pipeline_run() -> PipelineRun:
    """`city-pipeline run --start DAY` against PostgreSQL, once per session."""
    global _run
    if _run is None:
        setup = production("city_dagster_prod")
        result = subprocess.run(
            [
                str(Path(sys.executable).with_name("city-pipeline")),
                "run",
                "--start",
                DAY,
                "--data-dir",
                str(setup.data_dir),
            ],
            cwd=ROOT,
            env={**os.environ, **setup.env},
            capture_output=True,
            text=True,
            timeout=600,
        )
        _run = PipelineRun(setup, result.returncode, result.stdout + result.stderr)
    return _run
