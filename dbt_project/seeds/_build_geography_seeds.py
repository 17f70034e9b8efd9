"""Rebuild the Thai administrative geography seeds from the upstream JSON files.

The upstream data is thailand-geography-data/thailand-geography-json (MIT, see
seeds/reference/LICENSE-thailand-geography). Its JSON files are converted once to the three CSV
seeds committed beside this script, so the project never reads outside its repository at run time:

    python dbt_project/seeds/_build_geography_seeds.py /path/to/thailand-geography

DOPA codes are written as text (province 2 digits, district 4, subdistrict 6); postcodes too.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

SEEDS_DIR = Path(__file__).resolve().parent / "reference"

TABLES = {
    "provinces": (
        "th_provinces.csv",
        {"province_code": "provinceCode", "name_th": "provinceNameTh", "name_en": "provinceNameEn"},
    ),
    "districts": (
        "th_districts.csv",
        {
            "district_code": "districtCode",
            "province_code": "provinceCode",
            "name_th": "districtNameTh",
            "name_en": "districtNameEn",
            "postcode": "postalCode",
        },
    ),
    "subdistricts": (
        "th_subdistricts.csv",
        {
            "subdistrict_code": "subdistrictCode",
            "district_code": "districtCode",
            "province_code": "provinceCode",
            "name_th": "subdistrictNameTh",
            "name_en": "subdistrictNameEn",
            "postcode": "postalCode",
        },
    ),
}


def convert(source_dir: Path, seeds_dir: Path = SEEDS_DIR) -> dict[str, int]:
    """Write one CSV per JSON file, sorted by code; returns the row count of each."""
    counts = {}
    for name, (csv_name, columns) in TABLES.items():
        records = json.loads((source_dir / f"{name}.json").read_text(encoding="utf-8"))
        rows = [
            {out: str(record[src]).strip() for out, src in columns.items()} for record in records
        ]
        rows.sort(key=lambda row: row[next(iter(columns))])
        with (seeds_dir / csv_name).open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(columns), lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        counts[csv_name] = len(rows)
    return counts


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    for csv_name, rows in convert(Path(sys.argv[1])).items():
        print(f"{csv_name}: {rows} rows")
