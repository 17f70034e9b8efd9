"""Landed datastore_search pages -> one typed raw table per dataset: records extracted as text and
cast with TRY_CAST (a bad value names its column), overlapping pages deduplicated; a window of
partitions in one query."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import duckdb
import pyarrow as pa

from city_pipeline.capture import ParseContext, split_by_partition
from city_pipeline.lake import LandedFile
from city_pipeline.settings import CkanDataset
from city_pipeline.sources.ckan.contract import (
    MAX_JSON_BYTES,
    RESOURCE_ID_COLUMN,
    SOURCE,
    duckdb_type,
    table_name,
)
from city_pipeline.sources.ckan.pages import page_result
from city_pipeline.sources.common import (
    ErrorContext,
    duckdb_connection,
    load_json,
    require_fields,
    typed_select,
)
from city_pipeline.sources.window_parse import Part, cursor, file_paths, parts_of, register_files
from city_pipeline.sql import sql_list, sql_text


def _fields_of(ctx: ErrorContext, results: Sequence[dict[str, Any]]) -> dict[str, str]:
    """Column name -> DuckDB type from `fields`; every page must describe the same columns."""
    columns: dict[str, str] | None = None
    for page, result in enumerate(results, start=1):
        these: dict[str, str] = {}
        for item in result["fields"]:
            require_fields(ctx, item, {"id": str, "type": str}, f" in fields of page {page}")
            name = item["id"]
            if '"' in name or name == RESOURCE_ID_COLUMN or name in these:
                raise ctx.error(f"unusable or repeated column name {name!r}", field=name)
            these[name] = duckdb_type(item["type"])
        if columns is not None and these != columns:
            raise ctx.error(
                f"page {page} describes different fields than page 1: {these} vs {columns}",
                field="fields",
            )
        columns = these
    if columns is None or "_id" not in columns:
        raise ctx.error("the DataStore answer has no _id field", field="_id")
    return {"_id": "BIGINT", **{k: v for k, v in columns.items() if k != "_id"}}


def _json_pointer(name: str) -> str:
    return "/" + name.replace("~", "~0").replace("/", "~1")


def parse_pages(
    ctx: ErrorContext,
    pages: Sequence[LandedFile],
    resource_id: str,
    *,
    source: str = SOURCE,
    partition: Any = None,
) -> pa.Table:
    """Landed datastore_search pages of one resource -> one typed table (DuckDB reads all pages in
    one query; records are extracted as text and cast with TRY_CAST, so a bad value names its
    column instead of silently becoming NULL)."""
    columns = _checked_columns(ctx, pages, resource_id)
    con = duckdb_connection()
    files = ", ".join(sql_text(str(landed.path)) for landed in pages)
    con.execute(
        "CREATE TEMP TABLE records AS SELECT unnest(CAST(json_extract(json, '$.result.records') "
        f"AS JSON[])) AS rec FROM read_json_objects([{files}], format='auto', "
        f"maximum_object_size={MAX_JSON_BYTES})"
    )
    table = _typed_records(con, columns, resource_id, source, partition)
    return _dedupe(ctx, con, table)


def _checked_columns(
    ctx: ErrorContext, pages: Sequence[LandedFile], resource_id: str
) -> dict[str, str]:
    """Each page's envelope checked (in Python: clear errors), the answer is for `resource_id`,
    and the columns every page describes."""
    results = [
        page_result(ctx, load_json(ctx, landed), f" in {landed.path.name}") for landed in pages
    ]
    for result in results:
        served = result.get("resource_id")
        if isinstance(served, str) and served != resource_id:
            raise ctx.error(
                f"answer is for resource {served}, expected {resource_id}", field="resource_id"
            )
    return _fields_of(ctx, results)


def _typed_records(
    con: duckdb.DuckDBPyConnection,
    columns: dict[str, str],
    resource_id: str,
    source: str,
    partition: Any,
    partition_column: str | None = None,
) -> pa.Table:
    """The `records` table (`rec`, one JSON record a row) typed to `columns` plus the resource id;
    `partition_column` is a column of `records` kept as it is (a window's partition day)."""
    expressions = {}
    for name, sql_type in columns.items():
        value = f"json_extract_string(rec, {sql_text(_json_pointer(name))})"
        # Outside text columns an empty string is CKAN's "no value".
        expressions[name] = value if sql_type == "VARCHAR" else f"NULLIF(trim({value}), '')"
    typed_columns = {partition_column: "DATE"} if partition_column else {}
    typed_columns |= {**columns, RESOURCE_ID_COLUMN: "VARCHAR"}
    expressions[RESOURCE_ID_COLUMN] = sql_text(resource_id)
    return typed_select(
        con,
        "records",
        typed_columns,
        source=source,
        partition=partition,
        expressions=expressions,
        partition_column=partition_column,
    )


def _dedupe(ctx: ErrorContext, con: duckdb.DuckDBPyConnection, table: pa.Table) -> pa.Table:
    """Overlapping pages repeat records: drop exact repeats, refuse two versions of one _id."""
    con.register("typed", table)
    distinct = con.sql("SELECT DISTINCT * FROM typed").to_arrow_table()
    if distinct.num_rows == table.num_rows:
        return table
    con.register("distinct_rows", distinct)
    clash = con.sql(
        "SELECT _id FROM distinct_rows GROUP BY _id HAVING count(*) > 1 ORDER BY _id LIMIT 1"
    ).fetchall()
    if clash:
        raise ctx.error(
            f"record _id {clash[0][0]} came back with different values on two pages "
            "(the table changed while paging); re-run the capture",
            field="_id",
        )
    return distinct


def parse_dataset(ctx: ParseContext, dataset: CkanDataset) -> dict[str, pa.Table]:
    if not ctx.files:
        raise ctx.error("no response was landed for this partition")
    table = parse_pages(ctx, ctx.files, dataset.resource_id, source=ctx.source, partition=ctx.day)
    return {table_name(dataset): table}


def parse_window(
    contexts: Sequence[ParseContext], dataset: CkanDataset
) -> dict[date, dict[str, pa.Table]]:
    """The batches of several partitions, each day's rows what `parse_dataset` gives for that
    day alone; consecutive partitions whose pages describe the same columns share one query."""
    parts = parts_of(contexts)
    columns = [_checked_columns(ctx, ctx.files, dataset.resource_id) for ctx in contexts]
    parsed: dict[date, dict[str, pa.Table]] = {}
    start = 0
    while start < len(parts):
        end = start + 1
        while end < len(parts) and columns[end] == columns[start]:
            end += 1
        parsed |= _parse_parts(parts[start:end], columns[start], dataset, contexts[0].source)
        start = end
    return parsed


def _parse_parts(
    parts: Sequence[Part], columns: dict[str, str], dataset: CkanDataset, source: str
) -> dict[date, dict[str, pa.Table]]:
    """One query over the pages of `parts` (records in landing order, tagged with their day),
    typed at once (a bad value names its day), then deduplicated day by day."""
    with cursor() as con:
        register_files(con, parts)
        con.execute(
            "CREATE TEMP TABLE records AS SELECT _day, rec FROM ("
            "SELECT f.file_no, f.day AS _day, unnest(j.recs) AS rec, "
            "unnest(generate_series(1, len(j.recs))) AS _pos FROM ("
            "SELECT filename, CAST(json_extract(json, '$.result.records') AS JSON[]) AS recs "
            f"FROM read_json_objects({sql_list(file_paths(parts))}, filename=true, "
            f"format='auto', maximum_object_size={MAX_JSON_BYTES})) j "
            "JOIN files f ON f.path = j.filename) ORDER BY file_no, _pos"
        )
        table = _typed_records(con, columns, dataset.resource_id, parts[0].err.source, None, "_day")
        days = split_by_partition(table, "_day", [part.day for part in parts])
        name = table_name(dataset)
        return {part.day: {name: _dedupe(part.err, con, days[part.day])} for part in parts}
