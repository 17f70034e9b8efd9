"""CKAN DataStore tables (data.go.th and any other CKAN portal), one raw table per dataset.

Request: `GET {base_url}/api/3/action/datastore_search?resource_id=R&limit=L&offset=N`, with the
header `api-key: <CITY_PIPELINE_CKAN_API_KEY>` when that variable is set (a header, never a query
parameter, so it is not landed, logged or part of a recording's key). The answer is the CKAN action
envelope `{"help", "success", "result": {"records": [...], "fields": [{"id", "type"}], "total",
"_links": {"start", "next"}}}`.

Paging (`sources.paging`): a resource is read until a page comes back empty, the records received
reach `result.total` (unless `total_was_estimated`), or `_links` has no `next`; never until a page
is merely shorter than `limit` (CKAN caps `limit` at `ckan.datastore.search.rows_max` without
saying so). The next offset is the previous one plus the records received, not the offset in
`_links.next` (which adds the limit, skipping records after a short page). A page that repeats any
earlier page, or fewer records than the total, fails the partition; the batch marker records
pages, rows, requested limit, effective page size and the total.

Each configured dataset yields `raw/ckan_<name>`: `_id` BIGINT, the dataset's own columns named as
CKAN names them (Thai, or numbers such as "2008") and typed from `fields`, and `_resource_id`.

Helpers for discovering and loading resources outside the DataStore: `parse_package_search` lists a
package's resources from a `package_search` answer, and `parse_csv_resource` loads a downloaded CSV
resource (TIS-620 or UTF-8) such as the Department of Livestock Development census.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pyarrow as pa

from city_pipeline.capture import CaptureSpec, ParseContext
from city_pipeline.http import secret_from_env
from city_pipeline.lake import LandedFile, saved_file
from city_pipeline.settings import CkanDataset, CkanSettings, Settings
from city_pipeline.sources import encoding
from city_pipeline.sources.common import (
    ErrorContext,
    FetchContext,
    OfflineContext,
    SourceError,
    duckdb_connection,
    fetch,
    load_json,
    require_fields,
    typed_select,
)
from city_pipeline.sources.paging import Listing
from city_pipeline.sql import sql_identifier, sql_text

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


def request_params(dataset: CkanDataset, page_size: int, offset: int) -> dict[str, str]:
    """Query of one datastore_search page (the synth builds recordings with this too)."""
    return {"resource_id": dataset.resource_id, "limit": str(page_size), "offset": str(offset)}


def search_url(settings: CkanSettings) -> str:
    return settings.base_url + SEARCH_PATH


# ---------------------------------------------------------------------------------------------
# Envelope checks (fetch uses them to paginate; parse re-checks from the landed bytes alone)


def _ckan_error_text(error: Any) -> str:
    """CKAN's `error` is `{"message": ..., "__type": ...}` or, for validation errors, a mapping of
    parameter -> messages."""
    if not isinstance(error, dict):
        return str(error)
    kind = error.get("__type", "error")
    message = error.get("message")
    if message is None:
        message = "; ".join(f"{k}: {v}" for k, v in error.items() if k != "__type")
    return f"{kind}: {message}"


def page_result(ctx: ErrorContext, payload: Any, where: str = "") -> dict[str, Any]:
    """The `result` of a successful datastore_search answer, with records and fields checked."""
    require_fields(ctx, payload, {"success": bool}, where)
    if not payload["success"]:
        raise ctx.error(
            f"CKAN answered success=false{where}: {_ckan_error_text(payload.get('error'))}",
            field="success",
        )
    require_fields(ctx, payload, {"result": dict}, where)
    result = payload["result"]
    require_fields(ctx, result, {"records": list, "fields": list}, f"{where} in result")
    if "total" in result and result["total"] is not None and not isinstance(result["total"], int):
        raise ctx.error(f"expected an integer{where}, got {result['total']!r}", field="total")
    return result


def reported_total(result: dict[str, Any]) -> int | None:
    """`result.total`, unless CKAN says it only estimated it (large tables)."""
    if result.get("total_was_estimated"):
        return None
    total = result.get("total")
    return total if isinstance(total, int) and not isinstance(total, bool) else None


def has_next_link(result: dict[str, Any]) -> bool:
    """False only when CKAN sent `_links` without `next`: the API's own "no further page"."""
    links = result.get("_links")
    return not isinstance(links, dict) or isinstance(links.get("next"), str)


def records_signature(records: list[Any]) -> str:
    """What makes two pages the same page: their records, exactly."""
    return hashlib.sha256(orjson.dumps(records, option=orjson.OPT_SORT_KEYS)).hexdigest()


# ---------------------------------------------------------------------------------------------
# Fetch


def _fetch_page(
    ctx: FetchContext, url: str, params: dict[str, str], headers: dict[str, str] | None
) -> LandedFile:
    """Land one page; on an HTTP error, say what CKAN itself said (its 4xx bodies are envelopes)."""
    landed_before = len(ctx.batch.files)
    try:
        return fetch(ctx, url, params, headers=headers)
    except SourceError as exc:
        # Nothing answered (timeout, no recording) or a retryable status: keep fetch's error.
        if len(ctx.batch.files) == landed_before or exc.transient:
            raise
        landed = ctx.batch.files[-1]
        try:
            payload = load_json(ctx, landed)
        except SourceError:
            raise exc from None
        if not (isinstance(payload, dict) and payload.get("success") is False):
            raise
        raise ctx.error(
            f"HTTP {landed.status} from {url} offset={params['offset']}: CKAN said "
            f"{_ckan_error_text(payload.get('error'))} (body kept in {landed.path})",
            field="success",
        ) from None


def fetch_dataset(ctx: FetchContext, dataset: CkanDataset) -> None:
    """Page through one resource with limit/offset (see `sources.paging` for when it ends) and
    record how it paged in the batch metadata."""
    ckan = ctx.settings.config.sources.ckan
    api_key = secret_from_env(API_KEY_ENV)
    headers = {"api-key": api_key} if api_key else None
    url = search_url(ckan)
    listing = Listing(ctx, ckan.page_size, ckan.max_pages, "sources.ckan.max_pages")
    for _ in listing.page_numbers:
        params = request_params(dataset, ckan.page_size, listing.offset)
        landed = _fetch_page(ctx, url, params, headers)
        result = page_result(ctx, load_json(ctx, landed), listing.where())
        records = result["records"]
        signature = records_signature(records)
        if listing.take(len(records), signature, reported_total(result), has_next_link(result)):
            ctx.batch_metadata["paging"] = listing.metadata()
            return
    raise listing.too_many_pages()


# ---------------------------------------------------------------------------------------------
# Parse


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
    results = [
        page_result(ctx, load_json(ctx, landed), f" in {landed.path.name}") for landed in pages
    ]
    for result in results:
        served = result.get("resource_id")
        if isinstance(served, str) and served != resource_id:
            raise ctx.error(
                f"answer is for resource {served}, expected {resource_id}", field="resource_id"
            )
    columns = _fields_of(ctx, results)
    con = duckdb_connection()
    files = ", ".join(sql_text(str(landed.path)) for landed in pages)
    con.execute(
        "CREATE TEMP TABLE records AS SELECT unnest(CAST(json_extract(json, '$.result.records') "
        f"AS JSON[])) AS rec FROM read_json_objects([{files}], format='auto', "
        f"maximum_object_size={MAX_JSON_BYTES})"
    )
    expressions = {}
    for name, sql_type in columns.items():
        value = f"json_extract_string(rec, {sql_text(_json_pointer(name))})"
        # Outside text columns an empty string is CKAN's "no value".
        expressions[name] = value if sql_type == "VARCHAR" else f"NULLIF(trim({value}), '')"
    columns[RESOURCE_ID_COLUMN] = "VARCHAR"
    expressions[RESOURCE_ID_COLUMN] = sql_text(resource_id)
    table = typed_select(
        con, "records", columns, source=source, partition=partition, expressions=expressions
    )
    return _dedupe(ctx, con, table)


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


def captures(settings: Settings) -> list[CaptureSpec]:
    """One capture (and one raw table) per configured dataset."""
    specs = []
    for dataset in settings.config.sources.ckan.datasets:
        name = table_name(dataset)
        specs.append(
            CaptureSpec(
                name=name,
                source=SOURCE,
                tables=(name,),
                fetch=partial(fetch_dataset, dataset=dataset),
                parse=partial(parse_dataset, dataset=dataset),
                sort_keys={name: ("_id",)},
                description=f"ชุดข้อมูลเปิดภาครัฐ (CKAN) · CKAN DataStore resource "
                f"{dataset.resource_id}" + (f": {dataset.title}" if dataset.title else ""),
            )
        )
    return specs


# ---------------------------------------------------------------------------------------------
# Discovery and file resources


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
            f"CKAN answered success=false: {_ckan_error_text(payload.get('error'))}",
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
