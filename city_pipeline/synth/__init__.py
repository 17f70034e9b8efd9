"""Seeded generators of recorded responses in the sources' real payload shapes.

`python -m city_pipeline.synth` rewrites `data/recordings/<city>/` for every shipped city. Each
source has one module here with `recordings(settings, rng, scale)`, yielding `Recording`s keyed by
the exact request the source module will make (built with the source's own request builders), so
replay mode answers them. The shapes copy the real payloads in `data/recordings/real-samples/`:
same envelopes, field names, string-typed numbers and missing-value sentinels. The values are
invented (seeded, so every run writes the same bytes) and the README says so.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from city_pipeline.http import RecordingStore, RequestKey


@dataclass(frozen=True)
class Recording:
    url: str
    params: dict[str, Any]
    body: bytes
    status: int = 200
    headers: dict[str, str] = field(default_factory=lambda: {"content-type": "application/json"})
    method: str = "GET"


def json_bytes(payload: Any, *, indent: int | None = None) -> bytes:
    """Serialise like the real servers do: UTF-8 with Thai kept as characters."""
    return json.dumps(payload, ensure_ascii=False, indent=indent).encode("utf-8")


def write_recordings(store: RecordingStore, recordings: Iterable[Recording]) -> int:
    count = 0
    for rec in recordings:
        key = RequestKey.for_call(rec.method, rec.url, rec.params)
        store.save_body(
            key, rec.url, rec.status, "OK" if rec.status < 400 else "ERROR", rec.headers, rec.body
        )
        count += 1
    return count
