"""The raw tables a CKAN dataset fills (`raw/ckan_<name>`) and the DataStore API they are read
from: table names, CKAN field types as DuckDB types."""

from __future__ import annotations

from city_pipeline.settings import CkanDataset

SOURCE = "ckan"


SEARCH_PATH = "/api/3/action/datastore_search"


API_KEY_ENV = "CKAN_API_KEY"  # read as CITY_PIPELINE_CKAN_API_KEY


RESOURCE_ID_COLUMN = "_resource_id"


MAX_JSON_BYTES = 1 << 30


# CKAN DataStore (PostgreSQL) field types -> DuckDB types; anything else stays text.
FIELD_TYPES: dict[str, str] = {
    **dict.fromkeys(("int", "int2", "int4", "int8", "integer", "bigint", "smallint"), "BIGINT"),
    **dict.fromkeys(("numeric", "float", "float4", "float8", "double", "real"), "DOUBLE"),
    **dict.fromkeys(("text", "varchar", "string"), "VARCHAR"),
    **dict.fromkeys(("timestamp", "timestamptz"), "TIMESTAMP"),
    "date": "DATE",
    **dict.fromkeys(("bool", "boolean"), "BOOLEAN"),
}


def table_name(dataset: CkanDataset) -> str:
    return f"ckan_{dataset.name}"


def duckdb_type(ckan_type: str) -> str:
    return FIELD_TYPES.get(ckan_type.strip().lower(), "VARCHAR")
