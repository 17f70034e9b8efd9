"""The bundled DOPA reference of provinces, districts and subdistricts (the dbt seeds), for
checking a city's configured codes at settings load.

Read with the csv module on first use and cached: importing settings stays fast, and a process
reads each file at most once.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

REFERENCE_DIR = Path(__file__).resolve().parent.parent / "dbt_project" / "seeds" / "reference"
FILES = {
    "province": "th_provinces.csv",
    "district": "th_districts.csv",
    "subdistrict": "th_subdistricts.csv",
}
PARENT_COLUMN = {"province": None, "district": "province_code", "subdistrict": "district_code"}


@dataclass(frozen=True)
class Place:
    code: str
    parent: str | None  # the province of a district, the district of a subdistrict
    name_th: str
    name_en: str

    def label(self) -> str:
        return f"{self.code} {self.name_en} ({self.name_th})"


def reference_file(level: str) -> Path:
    return REFERENCE_DIR / FILES[level]


@cache
def places(level: str) -> dict[str, Place]:
    """Every place of a level ("province", "district", "subdistrict") by its code."""
    code, parent = f"{level}_code", PARENT_COLUMN[level]
    with reference_file(level).open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return {
        row[code]: Place(row[code], row[parent] if parent else None, row["name_th"], row["name_en"])
        for row in rows
    }


def nearest(level: str, code: str, parent: str | None = None, limit: int = 3) -> list[Place]:
    """The reference codes numerically closest to `code` (within `parent` when given): a typo in
    the last digits lands next to the code that was meant."""
    candidates = [p for p in places(level).values() if parent is None or p.parent == parent]
    return sorted(candidates, key=lambda p: (abs(int(p.code) - int(code)), p.code))[:limit]


def unknown_code(level: str, code: str, parent: str | None = None) -> str | None:
    """Why `code` is not a valid place of `level` (under `parent`), with the nearest valid codes;
    `None` when it is valid."""
    place = places(level).get(code)
    if place is not None and (parent is None or place.parent == parent):
        return None
    where = f" under {parent}" if parent else ""
    if place is not None:
        problem = f"{level} code {code} is listed under {place.parent}, not{where}"
    else:
        problem = f"{level} code {code} does not exist{where}"
    suggestions = ", ".join(p.label() for p in nearest(level, code, parent))
    hint = f"; nearest valid: {suggestions}" if suggestions else ""
    return f"{problem} in the DOPA reference dbt_project/seeds/reference/{FILES[level]}{hint}"
