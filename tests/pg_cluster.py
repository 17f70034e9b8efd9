"""A throwaway PostgreSQL server for tests: `initdb` into a temp dir, `pg_ctl start` on a free
loopback port, password authentication, stopped and deleted at the end of the session.

Needs only the Debian `postgresql` package (CI installs it). As root (CI containers), the server
runs as the `postgres` user the package creates, since PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import atexit
import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

USER = "dagster"
DATABASE = "city_dagster"


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str
    password: str
    database: str

    def env(self) -> dict[str, str]:
        """The variables deploy/dagster.yaml reads."""
        return {
            "DAGSTER_PG_HOST": self.host,
            "DAGSTER_PG_PORT": str(self.port),
            "DAGSTER_PG_USER": self.user,
            "DAGSTER_PG_PASSWORD": self.password,
            "DAGSTER_PG_DB": self.database,
        }

    def connect(self, database: str | None = None):
        import psycopg2

        return psycopg2.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            dbname=database or self.database,
        )

    def create_database(self, name: str) -> None:
        connection = self.connect("postgres")
        connection.autocommit = True  # CREATE DATABASE cannot run inside a transaction
        try:
            with connection.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{name}"')
        finally:
            connection.close()

    def query(self, sql: str, params: tuple = (), database: str | None = None) -> list[tuple]:
        connection = self.connect(database)
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.fetchall()
        finally:
            connection.close()


def pg_binary(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    # Debian keeps the server binaries off PATH, one folder per major version.
    candidates = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(Path(p).parts[-3])
    )
    if not candidates:
        raise RuntimeError(
            f"PostgreSQL's {name} not found: install the Debian `postgresql` "
            "package (apt-get install -y postgresql)"
        )
    return candidates[-1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _as_server_user(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    pwd.getpwnam("postgres")  # KeyError: the postgresql package is not installed
    return ["runuser", "-u", "postgres", "--", *command]


def _run(command: list[str]) -> None:
    result = subprocess.run(_as_server_user(command), capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(
            f"{command[0]} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )


_server: PostgresServer | None = None


def start() -> PostgresServer:
    """One server per test session (shared by every test module that asks)."""
    global _server
    if _server is not None:
        return _server
    root = Path(tempfile.mkdtemp(prefix="city-pg-"))
    root.chmod(0o755)
    data, password = root / "data", secrets.token_hex(12)
    (root / "pwfile").write_text(password + "\n", encoding="utf-8")
    if os.geteuid() == 0:
        entry = pwd.getpwnam("postgres")
        for path in (root, root / "pwfile"):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    _run(
        [
            pg_binary("initdb"),
            "-D",
            str(data),
            "-U",
            USER,
            f"--pwfile={root / 'pwfile'}",
            "--auth=scram-sha-256",
            "-E",
            "UTF8",
            "--no-locale",
            "--no-sync",
        ]
    )
    port = free_port()
    options = (
        f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
    )
    _run(
        [
            pg_binary("pg_ctl"),
            "-D",
            str(data),
            "-o",
            options,
            "-l",
            str(root / "server.log"),
            "-w",
            "-t",
            "60",
            "start",
        ]
    )
    server = PostgresServer("127.0.0.1", port, USER, password, DATABASE)

    def stop() -> None:
        subprocess.run(
            _as_server_user([pg_binary("pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(root, ignore_errors=True)

    atexit.register(stop)
    deadline = time.monotonic() + 30
    while True:
        try:
            server.create_database(DATABASE)
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    _server = server
    return server
