"""Fake landed files for parser tests: bytes written where a capture would land them, seen as
`LandedFile`s without a capture (no sidecar, no batch marker)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from city_pipeline.lake import LandedFile, saved_file


def land_body(path: Path, body: Any) -> LandedFile:
    """Write `body` (bytes as they are, anything else as JSON) to `path` as one landed file."""
    data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return saved_file(path)
