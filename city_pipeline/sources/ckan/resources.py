"""Discovering and loading resources outside the DataStore: the resources of a `package_search`
answer, and a downloaded CSV resource (TIS-620 or UTF-8) typed by its values."""

from __future__ import annotations

import tempfile
from pathlib import Path

import duckdb
import pyarrow as pa

from city_pipeline.lake import saved_file
from city_pipeline.sources import encoding
from city_pipeline.sources.ckan.contract import MAX_JSON_BYTES, SOURCE
from city_pipeline.sources.ckan.pages import ckan_error_text
from city_pipeline.sources.common import (
    OfflineContext,
    duckdb_connection,
    load_json,
    require_fields,
)
from city_pipeline.sql import sql_identifier, sql_text


def parse_package_search(path: Path) -> pa.Table:
    """Resources of the packages in a `package_search` answer:
    package_name, id, name, format, url, datastore_active. Resource ids with datastore_active
    true are what `sources.ckan.datasets[].resource_id` takes."""
    path = Path(path)
    ctx = OfflineContext(SOURCE, file=path)
    payload = load_json(ctx, saved_file(path))
    require_fields(ctx, payload, {"success": bool})
    if not payload["success"]:
        raise ctx.error(
            f"CKAN answered success=false: {ckan_error_text(payload.get('error'))}",
            field="success",
        )
    require_fields(ctx, payload, {"result": dict})
    require_fields(ctx, payload["result"], {"results": list}, " in result")
    con = duckdb_connection()
    return con.sql(f"""
        WITH packages AS (
            SELECT unnest(CAST(json_extract(json, '$.result.results') AS JSON[])) AS pkg
            FROM read_json_objects({sql_text(str(path))}, format='auto',
                                   maximum_object_size={MAX_JSON_BYTES})
        ), resources AS (
            SELECT pkg ->> 'name' AS package_name,
                   unnest(CAST(json_extract(pkg, '$.resources') AS JSON[])) AS res
            FROM packages
        )
        SELECT package_name,
               res ->> 'id' AS id,
               res ->> 'name' AS name,
               res ->> 'format' AS format,
               res ->> 'url' AS url,
               TRY_CAST(res ->> 'datastore_active' AS BOOLEAN) AS datastore_active
        FROM resources
    """).to_arrow_table()


# Whole numbers, optionally with thousands commas; a leading zero ("0101") is a code, not a number.
_INTEGER = r"^-?(0|[1-9][0-9]{0,2}(,[0-9]{3})+|[1-9][0-9]*)$"


_NUMBER = r"^-?((0|[1-9][0-9]{0,2}(,[0-9]{3})+|[1-9][0-9]*)(\.[0-9]+)?|\.[0-9]+)$"


def _column_type(con: duckdb.DuckDBPyConnection, columns: list[str]) -> list[str]:
    """BIGINT where every non-empty value is a whole number, DOUBLE where every one is a number,
    else VARCHAR (one aggregate query over all columns)."""
    checks = []
    for column in columns:
        present = f"FILTER (WHERE {column} <> '')"
        checks.append(f"bool_and(regexp_matches({column}, '{_INTEGER}')) {present}")
        checks.append(f"bool_and(regexp_matches({column}, '{_NUMBER}')) {present}")
    found = con.sql(f"SELECT {', '.join(checks)} FROM resource_rows").fetchall()[0]
    return [
        "BIGINT" if found[2 * i] else "DOUBLE" if found[2 * i + 1] else "VARCHAR"
        for i in range(len(columns))
    ]


def parse_csv_resource(path: Path) -> pa.Table:
    """A downloaded CSV resource -> Arrow: encoding detected (TIS-620/cp874, UTF-8, UTF-8 BOM),
    column names trimmed, all-empty rows (Excel's trailing `,,,,` lines) dropped, and columns whose
    every value is a number (with or without thousands commas, e.g. "3,863") typed BIGINT or DOUBLE;
    the rest stay VARCHAR, trimmed."""
    path = Path(path)
    ctx = OfflineContext(SOURCE, file=path)
    con = duckdb_connection()
    with tempfile.TemporaryDirectory(prefix="ckan-csv-") as workdir:
        try:
            readable, _ = encoding.utf8_path(path, Path(workdir))
        except UnicodeDecodeError as exc:
            raise ctx.error(f"neither UTF-8 nor TIS-620/cp874 text: {exc}") from None
        con.execute(
            "CREATE TEMP TABLE resource_csv AS SELECT * FROM read_csv("
            f"{sql_text(str(readable))}, header=true, delim=',', quote='\"', "
            "all_varchar=true)"
        )
    names = [r[0] for r in con.sql("SELECT name FROM pragma_table_info('resource_csv')").fetchall()]
    trimmed = [n.strip() for n in names]
    repeated = sorted({n for n in trimmed if trimmed.count(n) > 1})
    if repeated:
        raise ctx.error(f"column names repeat after trimming: {repeated}", field=repeated[0])
    # Values trimmed, empty strings as NULL; a row with no value at all is spreadsheet residue.
    values = [f"NULLIF(trim({sql_identifier(n)}), '') AS {sql_identifier(n)}" for n in names]
    con.execute(
        f"CREATE TEMP TABLE resource_rows AS SELECT * FROM (SELECT {', '.join(values)} "
        f"FROM resource_csv) WHERE COALESCE({', '.join(map(sql_identifier, names))}) IS NOT NULL"
    )
    types = _column_type(con, [sql_identifier(n) for n in names])
    selects = []
    for name, clean, sql_type in zip(names, trimmed, types, strict=True):
        value = sql_identifier(name)
        if sql_type != "VARCHAR":
            value = f"CAST(replace({value}, ',', '') AS {sql_type})"
        selects.append(f"{value} AS {sql_identifier(clean)}")
    return con.sql(f"SELECT {', '.join(selects)} FROM resource_rows").to_arrow_table()
