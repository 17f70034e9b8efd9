"""`make ui`: start the Dagster UI (`dg dev`), say where to open it once it answers, stop cleanly.

`dg dev` takes a minute or more to load the definitions and prints no "open this" line of its own
among its logs; a newcomer cannot tell when it is ready. This wrapper polls the webserver and then
prints the URL. Ctrl-C (SIGINT) or SIGTERM is forwarded to `dg dev`'s whole process group (the
webserver and the daemon it starts), and the wrapper waits for them to exit: nothing is left
running in the background.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from city_pipeline.settings import PROJECT_ROOT

READY_TIMEOUT_S = 600
STOP_TIMEOUT_S = 30


def ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/server_info", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def stop(child: subprocess.Popen, signum: int) -> int:
    """Pass the signal to dg dev's process group; escalate to SIGKILL if it does not stop."""
    try:
        os.killpg(child.pid, signum)
        return child.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        return child.wait()
    except ProcessLookupError:
        return child.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m city_pipeline.ui", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3000)
    args = parser.parse_args(argv)
    url = f"http://{args.host}:{args.port}"
    dg = Path(sys.executable).with_name("dg")
    command = [
        str(dg),
        "dev",
        "-w",
        "workspace.yaml",
        "--host",
        args.host,
        "--port",
        str(args.port),
    ]
    print("city-pipeline ui: starting Dagster (loading definitions takes a minute) ...", flush=True)
    # Its own session: a signal reaches the webserver and daemon through killpg, once.
    child = subprocess.Popen(command, cwd=PROJECT_ROOT, start_new_session=True)
    stopping: list[int] = []

    def forward(signum: int, _frame: object) -> None:
        stopping.append(signum)

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    deadline = time.monotonic() + READY_TIMEOUT_S
    announced = timed_out = False
    while child.poll() is None and not stopping:
        if not announced and ready(url):
            print(f"\ncity-pipeline ui: ready, open {url} (Ctrl-C stops it)\n", flush=True)
            announced = True
        elif not announced and time.monotonic() > deadline:
            print(f"city-pipeline ui: no answer from {url} after {READY_TIMEOUT_S} s", flush=True)
            timed_out = True
            break
        time.sleep(1)
    if child.poll() is None:
        print("city-pipeline ui: stopping Dagster ...", flush=True)
        stop(child, stopping[0] if stopping else signal.SIGTERM)
        print("city-pipeline ui: stopped", flush=True)
        return 1 if timed_out else 0  # stopped on request: a clean exit
    return child.returncode


if __name__ == "__main__":
    sys.exit(main())
