"""`city-pipeline run --all-cities` and `status --all-cities`: every city of a deployment.

Each city runs in its own process (`city-pipeline run --city <slug>`), so one city's crash, bad
data or slow source cannot touch another's: each has its own lake, warehouse and release under
`<data dir>/<slug>/`, its own warehouse pool, and its runs are tagged `city=<slug>` in the one
Dagster instance of the deployment. Cities run `--parallel` at a time (default: the machine's
cores); a city's output goes to `<data dir>/logs/<slug>.log` and one line per city is printed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from city_pipeline.settings import CITIES_DIR_ENV, ENV_PREFIX, Deployment


@dataclass(frozen=True)
class CityOutcome:
    slug: str
    code: int  # the city's `city-pipeline run` exit code
    seconds: float
    log: Path

    @property
    def line(self) -> str:
        state = "ok" if self.code == 0 else f"FAILED (exit {self.code})"
        return f"  {self.slug:<20} {state:<18} {self.seconds:7.1f} s   log: {self.log}"


def run_city(slug: str, root: Path, run_args: Sequence[str]) -> CityOutcome:
    """One city's `city-pipeline run` in a child process, its output kept in its log."""
    log = root / "logs" / f"{slug}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "city_pipeline.cli", "run", "--city", slug, *run_args]
    env = {**os.environ, f"{ENV_PREFIX}DATA_DIR": str(root)}
    started = time.monotonic()
    with log.open("w", encoding="utf-8") as out:
        code = subprocess.call(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    return CityOutcome(slug, code, time.monotonic() - started, log)


def run_all(deployment: Deployment, root: Path, run_args: Sequence[str], parallel: int) -> int:
    """Run every city, `parallel` at a time; exit 1 when any city failed or was refused (the
    others still publish)."""
    for error in deployment.refused.values():
        print(f"city-pipeline: city left out: {error}", flush=True)
    print(
        f"city-pipeline: {len(deployment.cities)} cities from {os.environ[CITIES_DIR_ENV]}, "
        f"{parallel} at a time; logs in {root / 'logs'}",
        flush=True,
    )
    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        futures = [pool.submit(run_city, slug, root, run_args) for slug in deployment.cities]
        failed = bool(deployment.refused)
        for future in futures:
            outcome = future.result()
            print(outcome.line, flush=True)
            failed = failed or outcome.code != 0
    return 1 if failed else 0


def combined_status(reports: dict[str, tuple[str, int]], as_json: bool) -> tuple[str, int]:
    """Every city's `status` in one text (or one JSON object by slug) and the worst exit code."""
    code = max((c for _, c in reports.values()), default=0)
    if as_json:
        return json.dumps(
            {slug: json.loads(text) for slug, (text, _) in reports.items()},
            ensure_ascii=False,
            indent=2,
        ), code
    return "\n\n".join(text for text, _ in reports.values()), code
