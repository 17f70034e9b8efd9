"""Parsers of saved Traffy files outside a capture (contract samples, one-off loads): GeoJSON
pages, Exchange answers and their timeline, the official download CSV."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa

from city_pipeline.lake import saved_file
from city_pipeline.sources.common import (
    ErrorContext,
    OfflineContext,
    duckdb_connection,
    empty_table,
    load_json,
    require_fields,
)
from city_pipeline.sources.traffy.contract import COLUMNS, SOURCE
from city_pipeline.sources.traffy.parse import Page, finish, parse_pages
from city_pipeline.sources.traffy.staging import (
    stage_download_csv,
    stage_exchange_issue_v1,
    zoned_timestamp,
)
from city_pipeline.sql import sql_list


def _page_from_path(path: str | Path, where: ErrorContext, endpoint: str) -> Page:
    return Page(landed=saved_file(path), where=where, endpoint=endpoint)


def parse_geojson_files(
    paths: Sequence[str | Path], endpoint: str, where: OfflineContext | None = None
) -> pa.Table:
    """stat_api / share FeatureCollection files (envelopes checked) -> raw traffy_tickets rows."""
    where = where or OfflineContext(SOURCE)
    pages = [_page_from_path(p, where, endpoint) for p in paths]
    return parse_pages(pages, where.source, where.partition)


def parse_exchange_issues_files(
    paths: Sequence[str | Path], where: OfflineContext | None = None
) -> pa.Table:
    """Exchange `get-issues/v2` answers -> raw traffy_tickets rows."""
    where = where or OfflineContext(SOURCE)
    pages = [_page_from_path(p, where, "exchange") for p in paths]
    return parse_pages(pages, where.source, where.partition)


def parse_exchange_issue_v1_files(
    paths: Sequence[str | Path], where: OfflineContext | None = None
) -> pa.Table:
    """Exchange `get-issue/v1` answers (one ticket each) -> raw traffy_tickets rows."""
    where = where or OfflineContext(SOURCE)
    names = [str(p) for p in paths]
    if not names:
        return empty_table(COLUMNS)
    for name in names:
        payload = load_json(where, saved_file(name))
        require_fields(where, payload, {"status": str, "results": dict}, f" in {Path(name).name}")
        if payload["status"] != "success":
            raise where.error(f"Traffy answered status {payload['status']!r}", field="status")
    con = duckdb_connection()
    return finish(con, [stage_exchange_issue_v1(names)], where.source, where.partition)


def parse_download_csv(
    paths: Sequence[str | Path],
    where: OfflineContext | None = None,
) -> pa.Table:
    """Official download CSV files -> raw traffy_tickets rows (source_endpoint `download`)."""
    where = where or OfflineContext(SOURCE)
    names = [str(p) for p in paths]
    if not names:
        return empty_table(COLUMNS)
    con = duckdb_connection()
    staged = stage_download_csv(con, names, where)
    return finish(con, [staged], where.source, where.partition)


def exchange_issue_timeline(paths: Sequence[str | Path]) -> pa.Table:
    """The state history in `get-issue/v1` answers: ticket_id, at, status, org, note. Items
    without a timestamp (the doc's `{"...": "ตัดรายการที่เหลือ"}` placeholder) are not events."""
    plist = sql_list(str(p) for p in paths)
    at = zoned_timestamp("e->>'$.timestamp'")
    return (
        duckdb_connection()
        .sql(
            "WITH events AS ("
            "SELECT filename, results->>'$.ticket_id' AS ticket_id, "
            "unnest(CAST(results->'$.timeline' AS JSON[])) AS e, "
            "unnest(generate_series(1, CAST(json_array_length(results->'$.timeline') AS BIGINT))) "
            "AS _pos "
            f"FROM read_json({plist}, columns={{'results': 'JSON'}}, filename=true)) "
            f"SELECT ticket_id, CAST({at} AS TIMESTAMPTZ) AS at, "
            "e->>'$.status' AS status, e->>'$.org' AS org, e->>'$.note' AS note FROM events "
            "WHERE e->>'$.timestamp' IS NOT NULL ORDER BY filename, _pos"
        )
        .to_arrow_table()
    )
