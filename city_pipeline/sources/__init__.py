"""One plain-Python module (or package, for a large source) per source, no Dagster imports:
request building and parsing.

Each module exposes `captures(settings) -> list[CaptureSpec]`; `all_captures` collects them in the
order of the city YAML's `sources:` block, skipping sources the city disabled.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from city_pipeline.settings import SOURCE_NAMES, Settings

if TYPE_CHECKING:  # capture.py imports sources.common; keep this package import-cycle free
    from city_pipeline.capture import CaptureSpec


def all_captures(settings: Settings) -> list[CaptureSpec]:
    specs: list[CaptureSpec] = []
    for name in SOURCE_NAMES:
        if not settings.source(name).enabled:
            continue
        module = importlib.import_module(f"city_pipeline.sources.{name}")
        specs.extend(module.captures(settings))
    return specs
