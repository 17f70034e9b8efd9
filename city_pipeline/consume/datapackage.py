"""The release's `datapackage.json`: a Frictionless Data Package describing every published file.

Each mart is two resources: the CSV (a tabular data resource with a Table Schema, UTF-8 with BOM)
and the same table in Parquet. The analyst DuckDB database is one more resource. Titles and
descriptions are given in Thai and English (`title`, plus `title_th`/`title_en` and
`description_th`/`description_en`, which the Data Package spec allows as extra properties).
Hashes let `frictionless validate datapackage.json` prove the files are the ones described. The
Parquet and DuckDB resources are typed `file` (hash and size checked, not parsed): the CSV beside
each Parquet file is the tabular resource whose rows the Table Schema validates.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa

from city_pipeline.consume.catalog import PublishedMart, column_descriptions
from city_pipeline.settings import CityIdentity

LICENSE = {
    "name": "CC-BY-4.0",
    "path": "https://creativecommons.org/licenses/by/4.0/",
    "title": "Creative Commons Attribution 4.0 International",
}
CSV_ENCODING = "utf-8-sig"


def field_type(arrow_type: pa.DataType) -> str:
    """Table Schema type of an Arrow column type."""
    checks = [
        (pa.types.is_boolean, "boolean"),
        (pa.types.is_integer, "integer"),
        (pa.types.is_floating, "number"),
        (pa.types.is_decimal, "number"),
        (pa.types.is_date, "date"),
        (pa.types.is_timestamp, "datetime"),
        (pa.types.is_time, "time"),
        (lambda t: pa.types.is_list(t) or pa.types.is_large_list(t), "array"),
        (lambda t: pa.types.is_struct(t) or pa.types.is_map(t), "object"),
        (lambda t: pa.types.is_string(t) or pa.types.is_large_string(t), "string"),
    ]
    for check, name in checks:
        if check(arrow_type):
            return name
    return "any"


def table_schema(mart: PublishedMart, schema: pa.Schema) -> dict[str, Any]:
    descriptions = column_descriptions(mart.name)
    fields = []
    for arrow_field in schema:
        item: dict[str, Any] = {"name": arrow_field.name, "type": field_type(arrow_field.type)}
        if descriptions.get(arrow_field.name):
            item["description"] = descriptions[arrow_field.name]
        fields.append(item)
    result: dict[str, Any] = {"fields": fields, "missingValues": [""]}
    if mart.primary_key and mart.grain and set(mart.grain) <= set(schema.names):
        result["primaryKey"] = list(mart.grain)
    return result


def file_facts(path: Path) -> dict[str, Any]:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return {"bytes": path.stat().st_size, "hash": f"sha256:{digest.hexdigest()}"}


def stale_reason(hold: Mapping[str, Any]) -> str:
    """One line: since when the mart is held back and why (its first reasons)."""
    reasons = "; ".join(r.get("summary", r.get("check", "?")) for r in hold.get("reasons", [])[:3])
    return f"held back since {hold.get('held_since')}: {reasons}"


def mart_resources(
    mart: PublishedMart, schema: pa.Schema, release_dir: Path, hold: Mapping[str, Any] | None = None
) -> list[dict]:
    texts = {
        "title": mart.title,
        "title_en": mart.title_en,
        "title_th": mart.title_th,
        "description": f"{mart.description_en}\n\n{mart.description_th}",
        "description_en": mart.description_en,
        "description_th": mart.description_th,
        "sources": [{"title": s.title, "path": s.path} for s in mart.sources],
        "licenses": [LICENSE],
        # A held-back mart: this is its last good version (Frictionless allows custom properties).
        **({"stale": True, "stale_reason": stale_reason(hold)} if hold is not None else {}),
    }
    csv_path, parquet_path = f"{mart.name}.csv", f"{mart.name}.parquet"
    return [
        {
            "name": mart.name.replace("_", "-"),
            "path": csv_path,
            "profile": "tabular-data-resource",
            "format": "csv",
            "mediatype": "text/csv",
            "encoding": CSV_ENCODING,
            "dialect": {"delimiter": ",", "header": True},
            **texts,
            "schema": table_schema(mart, schema),
            **file_facts(release_dir / csv_path),
        },
        {
            "name": f"{mart.name.replace('_', '-')}-parquet",
            "path": parquet_path,
            "type": "file",
            "format": "parquet",
            "mediatype": "application/vnd.apache.parquet",
            **texts,
            "description": f"{mart.description_en} (Apache Parquet, same rows and columns as "
            f"{csv_path}, with native types)",
            **file_facts(release_dir / parquet_path),
        },
    ]


def database_resource(release_dir: Path, database_name: str, name: str) -> dict[str, Any]:
    """The analyst DuckDB file as a data package resource."""
    return {
        "name": name,
        "path": database_name,
        "type": "file",
        "format": "duckdb",
        "mediatype": "application/vnd.duckdb",
        "title": "ฐานข้อมูลสำหรับนักวิเคราะห์ · Analyst database (DuckDB)",
        "description": "Every published mart as a table in one DuckDB file; open it with "
        "duckdb.connect(path, read_only=True).",
        **file_facts(release_dir / database_name),
    }


def build_datapackage(
    city: CityIdentity,
    marts: list[tuple[PublishedMart, pa.Schema, Mapping[str, Any] | None]],
    release_dir: Path,
    release_id: str,
    created: str,
    database_name: str,
) -> dict[str, Any]:
    resources = [
        r for mart, schema, hold in marts for r in mart_resources(mart, schema, release_dir, hold)
    ]
    resources.append(database_resource(release_dir, database_name, "city-marts-duckdb"))
    sources = {(s.title, s.path) for mart, _, _ in marts for s in mart.sources}
    return {
        "name": f"city-marts-{city.slug.replace('_', '-')}",
        "title": f"{city.name_th} · {city.name_en}: city data marts",
        "title_en": f"{city.name_en}: city data marts",
        "title_th": f"ข้อมูลเมือง {city.name_th}",
        "description": (
            f"Validated, privacy-scrubbed data marts of {city.name_en}: air quality, citizen "
            "complaints, weather and registered population.\n\n"
            f"ข้อมูลเมืองของ{city.name_th} ที่ผ่านการตรวจสอบคุณภาพและลบข้อมูลส่วนบุคคลแล้ว: "
            "คุณภาพอากาศ เรื่องร้องเรียน สภาพอากาศ และประชากร"
        ),
        "version": release_id,
        "created": created,
        "keywords": ["smart city", "open data", "Thailand", city.name_en, city.name_th],
        "licenses": [LICENSE],
        "sources": [{"title": t, "path": p} for t, p in sorted(sources)],
        "contributors": [{"title": city.name_en, "role": "publisher"}],
        "resources": resources,
    }
