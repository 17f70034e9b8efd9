"""Where the published figures came from: live sources, or replayed (generated) recordings.

Every capture writes the run's source mode into its batch marker (`capture.fetch_batch`). A
release reads the newest complete batch of every landed partition, so it knows, per source,
which days were replayed instead of fetched. When any were, the report carries a banner and
`release.json` / `datapackage.json` carry `data_provenance` saying which sources and days; a
release built only from live captures has `"replayed": false` and no banner.

A marker written before the mode was recorded counts as "unrecorded": the release cannot prove
those days are live, so it says so instead of passing them off as real.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from city_pipeline.lake import BATCH_MARKER_SUFFIX, read_batch_marker
from city_pipeline.settings import SOURCE_NAMES, SourceMode

LIVE_MODES = {SourceMode.LIVE.value, SourceMode.RECORD.value}
UNRECORDED = "unrecorded"


def source_of(folder: str) -> str | None:
    """A landing folder belongs to a source by name (`air4thai_hourly` -> air4thai)."""
    for source in sorted(SOURCE_NAMES, key=len, reverse=True):
        if folder == source or folder.startswith(f"{source}_"):
            return source
    return None


def newest_marker(day_dir: Path) -> dict[str, Any] | None:
    markers = sorted(day_dir.glob(f"*{BATCH_MARKER_SUFFIX}"))
    return read_batch_marker(markers[-1]) if markers else None


def day_ranges(days: set[date]) -> list[list[str]]:
    """Consecutive days as [first, last] ISO pairs: 90 days read as one range, not 90 dates."""
    ranges: list[list[date]] = []
    for day in sorted(days):
        if ranges and day - ranges[-1][1] == timedelta(days=1):
            ranges[-1][1] = day
        else:
            ranges.append([day, day])
    return [[first.isoformat(), last.isoformat()] for first, last in ranges]


def landed_modes(lake_dir: Path) -> dict[str, dict[str, set[date]]]:
    """source -> mode -> the partition days whose newest complete batch was captured that way."""
    found: dict[str, dict[str, set[date]]] = defaultdict(lambda: defaultdict(set))
    landing = lake_dir / "landing"
    for folder in sorted(landing.iterdir()) if landing.is_dir() else []:
        source = source_of(folder.name)
        if source is None or not folder.is_dir():
            continue
        for day_dir in folder.iterdir():
            try:
                day = date.fromisoformat(day_dir.name)
            except ValueError:
                continue
            marker = newest_marker(day_dir)
            if marker is None:
                continue
            meta = marker["metadata"]
            mode = meta.get("source_mode", UNRECORDED)
            if mode == SourceMode.REPLAY.value and meta.get("generated"):
                mode = "generated"
            found[source][mode].add(day)
    return found


def data_provenance(lake_dir: Path) -> dict[str, Any]:
    """The `data_provenance` block of release.json and datapackage.json."""
    sources: dict[str, Any] = {}
    for source, modes in sorted(landed_modes(lake_dir).items()):
        not_live = {m: days for m, days in modes.items() if m not in LIVE_MODES}
        if not_live:
            sources[source] = {
                mode: {"days": len(days), "ranges": day_ranges(days)}
                for mode, days in sorted(not_live.items())
            }
    return {
        "replayed": bool(sources),
        "note": (
            "Figures from these sources and days are replayed recordings (generated demo data "
            "where marked 'generated'), not live data from the city."
            if sources
            else "Every landed partition was fetched live from its source."
        ),
        "sources": sources,
    }


MODE_LABELS = {
    "generated": "ข้อมูลสร้างขึ้นสำหรับสาธิต · generated demo data",
    SourceMode.REPLAY.value: "ข้อมูลบันทึกไว้เล่นซ้ำ · replayed recordings",
    UNRECORDED: "ไม่ทราบที่มา · provenance not recorded",
}


def banner_lines(provenance: dict[str, Any] | None) -> list[str]:
    """One line per source and mode for the report's banner (empty on a live release)."""
    if not provenance or not provenance.get("replayed"):
        return []
    lines = []
    for source, modes in provenance["sources"].items():
        for mode, facts in modes.items():
            spans = ", ".join(a if a == b else f"{a} – {b}" for a, b in facts["ranges"][:4])
            more = " …" if len(facts["ranges"]) > 4 else ""
            label = MODE_LABELS.get(mode, mode)
            lines.append(f"{source}: {label}, {facts['days']} วัน · days ({spans}{more})")
    return lines
