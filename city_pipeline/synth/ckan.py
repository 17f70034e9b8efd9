"""CKAN `datastore_search` pages for every dataset in the city's `sources.ckan.datasets`.

The envelope copies the real answers (real-samples/ckan_datastore_search_*.json): `help`,
`success`, `result` with `include_total`, `limit`, `records_format`, `resource_id`,
`total_estimation_threshold`, `records`, `fields` (with `info`), `_links` and `total`, and
non-ASCII escaped as `\\uXXXX` like data.go.th's answers. The table is invented: cumulative
registered vehicles by year (BE) and Department of Land Transport vehicle type, 10 types x 3
years = 30 records per `scale`, paged by `sources.ckan.page_size` (20 for Khon Kaen, so a capture
reads two pages and stops at `total`). The request has no date, so one recording serves every
partition.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from typing import Any

from city_pipeline.settings import CkanDataset, CkanSettings, Settings
from city_pipeline.sources import ckan
from city_pipeline.synth import Recording

# (vehicle type as the Department of Land Transport names it, cumulative count in year 2566 BE)
VEHICLE_TYPES: tuple[tuple[str, int], ...] = (
    ("รย.1 รถยนต์นั่งส่วนบุคคลไม่เกิน 7 คน", 262_000),
    ("รย.2 รถยนต์นั่งส่วนบุคคลเกิน 7 คน", 12_400),
    ("รย.3 รถยนต์บรรทุกส่วนบุคคล", 308_000),
    ("รย.4 รถยนต์สามล้อส่วนบุคคล", 1_150),
    ("รย.8 รถยนต์รับจ้าง", 420),
    ("รย.12 รถจักรยานยนต์ส่วนบุคคล", 823_000),
    ("รย.13 รถแทรกเตอร์", 24_800),
    ("รย.15 รถใช้งานเกษตรกรรม", 39_500),
    ("รย.16 รถพ่วง", 3_050),
    ("รย.17 รถจักรยานยนต์สาธารณะ", 1_480),
)
LATEST_YEAR_BE = 2566

FIELDS: tuple[tuple[str, str], ...] = (
    ("ปี พ.ศ.", "int"),
    ("ประเภทรถ", "text"),
    ("จำนวน (คัน)", "int"),
    ("ร้อยละของทั้งหมด", "numeric"),
    ("ข้อมูล ณ วันที่", "timestamp"),
)


def _records(rng: random.Random, count: int) -> list[dict[str, Any]]:
    """`count` records, newest year last; each year about 3% more vehicles than the one before."""
    years = -(-count // len(VEHICLE_TYPES))
    records: list[dict[str, Any]] = []
    for back in range(years - 1, -1, -1):
        year = LATEST_YEAR_BE - back
        counts = [
            round(base * (0.97**back) * rng.uniform(0.995, 1.005)) for _, base in VEHICLE_TYPES
        ]
        for (vehicle, _), number in zip(VEHICLE_TYPES, counts, strict=True):
            records.append(
                {
                    "_id": len(records) + 1,
                    "ปี พ.ศ.": year,
                    "ประเภทรถ": vehicle,
                    "จำนวน (คัน)": number,
                    "ร้อยละของทั้งหมด": round(100 * number / sum(counts), 2),
                    "ข้อมูล ณ วันที่": f"{year - 543}-12-31T00:00:00",
                }
            )
    return records[:count]


def _fields() -> list[dict[str, Any]]:
    return [{"id": "_id", "type": "int"}] + [
        {"id": name, "type": kind, "info": {"label": "", "notes": "", "type_override": kind}}
        for name, kind in FIELDS
    ]


def _page(
    settings: CkanSettings, dataset: CkanDataset, records: list[dict[str, Any]], offset: int
) -> dict[str, Any]:
    limit = settings.page_size
    start = f"{ckan.SEARCH_PATH}?resource_id={dataset.resource_id}&limit={limit}"
    return {
        "help": f"{settings.base_url}/api/3/action/help_show?name=datastore_search",
        "success": True,
        "result": {
            "include_total": True,
            "limit": limit,
            "records_format": "objects",
            "resource_id": dataset.resource_id,
            "total_estimation_threshold": None,
            "records": records[offset : offset + limit],
            "fields": _fields(),
            "_links": {"start": start, "next": f"{start}&offset={offset + limit}"},
            "total": len(records),
            "total_was_estimated": False,
        },
    }


def recordings(settings: Settings, rng: random.Random, scale: int = 1) -> Iterator[Recording]:
    ckan_settings = settings.config.sources.ckan
    for dataset in ckan_settings.datasets:
        records = _records(rng, 30 * scale)
        for offset in range(0, len(records) or 1, ckan_settings.page_size):
            body = json.dumps(_page(ckan_settings, dataset, records, offset)).encode("ascii")
            yield Recording(
                url=ckan.search_url(ckan_settings),
                params=ckan.request_params(dataset, ckan_settings.page_size, offset),
                body=body,
            )
