"""The alert channel: every alert is one JSON line in `<data dir>/alerts/alerts.jsonl` and, when
`CITY_PIPELINE_ALERT_WEBHOOK` is set, a JSON POST to it within a time box.

Failed runs (`defs/sensors.py`), held-back marts (`defs/gates.py`) and the analyse alerts all go
through `send`, so an operator watches one file or one webhook. A webhook that fails or hangs never
fails anything. No Dagster here.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from city_pipeline.settings import Settings

ALERTS_FILE = Path("alerts") / "alerts.jsonl"
WEBHOOK_ENV = "CITY_PIPELINE_ALERT_WEBHOOK"
WEBHOOK_TIMEOUT_ENV = "CITY_PIPELINE_ALERT_WEBHOOK_TIMEOUT"
DEFAULT_WEBHOOK_TIMEOUT_S = 5.0


def new_alert(kind: str, settings: Settings, **fields: Any) -> dict[str, Any]:
    """An alert of `kind` for the city, stamped now; `fields` say what happened."""
    return {
        "alert": kind,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "city": settings.city.slug,
        "city_name": settings.city.name_en,
        "city_name_th": settings.city.name_th,
        **fields,
    }


def send(
    settings: Settings, alert: Mapping[str, Any], log: Callable[[str], None] | None = None
) -> Path:
    """Append the alert to the city's alerts file and post it to the webhook, if one is set."""
    path = append_alert(settings.data_dir / ALERTS_FILE, alert)
    url = os.environ.get(WEBHOOK_ENV, "").strip()
    outcome = post_webhook(url, alert, webhook_timeout()) if url else None
    if log is not None:
        log(f"{alert['alert']} alert written to {path}")
        if outcome is not None:
            log(f"alert webhook {redacted(url)}: {outcome}")
    return path


def webhook_timeout(env: Mapping[str, str] | None = None) -> float:
    text = (os.environ if env is None else env).get(WEBHOOK_TIMEOUT_ENV, "")
    try:
        return max(0.1, float(text)) if text else DEFAULT_WEBHOOK_TIMEOUT_S
    except ValueError:
        return DEFAULT_WEBHOOK_TIMEOUT_S


def append_alert(path: Path, alert: Mapping[str, Any]) -> Path:
    """One JSON object per line; appended in one write so concurrent sensors never interleave."""
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(alert, ensure_ascii=False, sort_keys=True) + "\n"
    with path.open("a", encoding="utf-8") as handle:
        handle.write(line)
    return path


def post_webhook(url: str, payload: Mapping[str, Any], timeout_s: float) -> str:
    """POST the alert as JSON within `timeout_s` seconds; never raises, returns what happened.

    The request runs in a daemon thread joined with a deadline, so even a server that trickles
    its answer cannot hold the sensor longer than the time box.
    """
    outcome: dict[str, str] = {}

    def send() -> None:
        try:
            response = requests.post(
                url,
                json=payload,
                timeout=(min(timeout_s, 3.0), timeout_s),
                headers={"User-Agent": "city-pipeline-alerts"},
            )
            outcome["result"] = f"HTTP {response.status_code}"
        except Exception as exc:  # noqa: BLE001 - any failure of the webhook is only reported
            outcome["result"] = f"failed: {type(exc).__name__}"

    thread = threading.Thread(target=send, name="alert-webhook", daemon=True)
    thread.start()
    thread.join(timeout_s + 0.5)
    return outcome.get("result", f"timed out after {timeout_s:g}s")


def redacted(url: str) -> str:
    """Webhook URLs often carry a token in the path: log only scheme and host."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/…"
