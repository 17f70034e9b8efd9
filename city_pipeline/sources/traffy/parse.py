"""Landed pages -> raw/traffy_tickets rows: staged, typed (bad values quarantined or named),
deduplicated per partition, in one DuckDB query for a whole window of partitions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import duckdb
import pyarrow as pa

from city_pipeline.capture import ParseContext, split_by_partition
from city_pipeline.lake import LandedFile
from city_pipeline.sources.common import (
    ErrorContext,
    SourceError,
    duckdb_connection,
    empty_table,
    load_json,
    quarantined_rows,
    typed_select,
)
from city_pipeline.sources.traffy.contract import (
    COLUMNS,
    LIST_COLUMNS,
    SCALAR_COLUMNS,
    SENTINEL_COLUMNS,
    TABLE,
    endpoint_of,
)
from city_pipeline.sources.traffy.pages import check_envelope
from city_pipeline.sources.traffy.staging import stage_exchange_issues, stage_geojson
from city_pipeline.sources.window_parse import Part, register_files


def finish(
    con: duckdb.DuckDBPyConnection, staged: Sequence[str], source: str, partition: date | str | None
) -> pa.Table:
    """Union staged selects, type them (TRY_CAST, sentinels -> NULL, bad values -> SourceError
    naming the field), dedupe on (ticket_id, last_activity) and order by that key."""
    return dedupe_sorted(con, typed_rows(con, staged, source, partition))


def typed_rows(
    con: duckdb.DuckDBPyConnection,
    staged: Sequence[str],
    source: str,
    partition: date | str | None,
    by_day: bool = False,
) -> pa.Table:
    """Every staged row, typed in one scan, with its dedupe keys. Lists travel as JSON text
    (typed_select casts through text) and come back in `dedupe_sorted`. `by_day` keeps the
    staged `_day`: rows of several partitions stay apart and errors name a bad value's day."""
    import pyarrow.compute as pc  # the capture path only; keeps loading definitions light

    union = " UNION ALL BY NAME ".join(f"({s})" for s in staged)
    day = {"_day": "DATE"} if by_day else {}
    lists = {c: "VARCHAR" for c in LIST_COLUMNS}
    typed = typed_select(
        con,
        f"({union})",
        {**day, "_ok": "BOOLEAN", **KEY_COLUMNS, **SCALAR_COLUMNS, **lists},
        expressions={c: f'to_json("{c}")' for c in LIST_COLUMNS},
        source=source,
        partition=partition,
        sentinel_columns=SENTINEL_COLUMNS,
        partition_column="_day" if by_day else None,
    )
    shapeless = pc.invert(typed.column("_ok"))
    if pc.any(shapeless).as_py():
        where = _first(typed, shapeless, "_day") if by_day else partition
        raise SourceError(
            source,
            where,
            f"{pc.sum(shapeless).as_py()} feature(s) without a properties object",
            field="features[].properties",
        )
    return typed


# Dedupe order within a (ticket_id, last_activity): public endpoint first, then landing order.
KEY_COLUMNS = {"_rank": "INTEGER", "_file_no": "INTEGER", "_pos": "INTEGER"}


def _first(table: pa.Table, mask: pa.ChunkedArray, column: str) -> Any:
    """`column` of the first row where `mask` is true (the day to name in an error)."""
    import pyarrow.compute as pc

    return table.column(column)[pc.index(mask, True).as_py()].as_py()


def dedupe_sorted(con: duckdb.DuckDBPyConnection, typed: pa.Table) -> pa.Table:
    """One query: keep each ticket version once (per partition when typed has `_day`), in the
    raw table's order (the capture's sort_keys, NULLs last), lists back to VARCHAR[]."""
    day = ["_day"] if "_day" in typed.column_names else []
    select = [
        f'from_json("{c}", \'["VARCHAR"]\') AS "{c}"' if c in LIST_COLUMNS else f'"{c}"'
        for c in COLUMNS
    ]
    keys = ", ".join([*day, "ticket_id", "last_activity"])
    order = ", ".join([*day, "ticket_id NULLS LAST", "last_activity NULLS LAST", "source_endpoint"])
    con.register("traffy_typed", typed)
    try:
        return con.sql(
            f"SELECT {', '.join(select + day)} FROM traffy_typed WHERE _pos IS NOT NULL "
            f"QUALIFY row_number() OVER (PARTITION BY {keys} ORDER BY _rank, _file_no, _pos) = 1 "
            f"ORDER BY {order}"
        ).to_arrow_table()
    finally:
        con.unregister("traffy_typed")


@dataclass(frozen=True)
class Page:
    """One landed JSON answer to parse, and the partition (and error context) it belongs to."""

    landed: LandedFile
    where: ErrorContext
    endpoint: str
    day: date | None = None

    def check(self) -> None:
        """The Python envelope check (as at fetch time): clear errors, but parses the page."""
        check_envelope(
            self.where, load_json(self.where, self.landed), self.endpoint, f" in {self.name}"
        )

    @property
    def name(self) -> str:
        return self.landed.path.name


def parse_pages(
    pages: Sequence[Page],
    source: str,
    partition: date | str | None = None,
    by_day: bool = False,
) -> pa.Table:
    """Landed stat_api / share / Exchange pages (of one or several partitions) -> raw rows, in
    one DuckDB query that parses each page once. Envelopes are checked in that query; a page
    it cannot take is then checked in Python, which names the problem. `by_day`: see
    `typed_rows`."""
    pages = _once(pages)
    if not pages:
        return empty_table(COLUMNS)
    for page in pages:
        if page.endpoint == "exchange":  # rare (live, with credentials): checked in Python
            page.check()
    with duckdb_connection() as con:
        register_files(con, [_part_of(page) for page in pages])
        try:
            typed = typed_rows(con, _stage(pages), source, partition, by_day)
        except duckdb.InvalidInputException as exc:  # malformed JSON, a shape or page check
            raise _unreadable(pages, exc) from None
        _check_one_document_per_page(typed, pages)
        return dedupe_sorted(con, typed)


def _once(pages: Sequence[Page]) -> list[Page]:
    """A file listed twice would be read twice (same rows): keep its first listing."""
    unique: dict[str, Page] = {}
    for page in pages:
        unique.setdefault(str(page.landed.path), page)
    return list(unique.values())


def _part_of(page: Page) -> Part:
    """A page as a part of the parse window (the shared `files` table: one row per page)."""
    label = page.day.isoformat() if page.day is not None else page.name
    return Part(page.where, label, page.day, [page.landed])


def _stage(pages: Sequence[Page]) -> list[str]:
    """One staged select per endpoint."""
    groups: dict[str, list[str]] = {}
    for page in pages:
        groups.setdefault(page.endpoint, []).append(str(page.landed.path))
    return [
        stage_exchange_issues(paths) if endpoint == "exchange" else stage_geojson(paths, endpoint)
        for endpoint, paths in groups.items()
    ]


def _unreadable(pages: Sequence[Page], exc: Exception) -> SourceError:
    """Why the query failed: the first page the Python envelope check rejects (HTML, truncated,
    wrong `type`, non-success status, non-object features...), else DuckDB's reason for a page
    whose features have an unexpected shape (e.g. `properties` a string)."""
    for page in pages:
        page.check()
    reason = str(exc).splitlines()[0].removeprefix("Invalid Input Error: ")
    page = next((p for p in pages if str(p.landed.path) in str(exc)), pages[0])
    return page.where.error(f"could not read {page.name}: {reason}", field="features[]")


def _check_one_document_per_page(typed: pa.Table, pages: Sequence[Page]) -> None:
    """Every GeoJSON page read as exactly one JSON document (read_json reads an empty body as
    none and concatenated documents as several): each shows up once with `_pos` 1 or NULL."""
    import pyarrow.compute as pc

    def page_starts(file_no: Any, pos: Any) -> Any:
        return file_no.filter(pc.fill_null(pc.equal(pos, 1), True))

    starts = page_starts(typed.column("_file_no"), typed.column("_pos"))
    quarantined = quarantined_rows("_file_no")
    if quarantined is not None:  # a page whose first feature was quarantined still counts
        starts = pa.chunked_array(
            [*starts.chunks, *page_starts(quarantined, quarantined_rows("_pos")).chunks],
            type=starts.type,
        )
    expected = sum(page.endpoint != "exchange" for page in pages)
    if len(starts) == expected and pc.count_distinct(starts).as_py() == expected:
        return
    counts = {c["values"]: c["counts"] for c in pc.value_counts(starts).to_pylist()}
    for number, page in enumerate(pages, start=1):
        if page.endpoint != "exchange" and counts.get(number) != 1:
            page.check()
            raise page.where.error(
                f"expected one JSON document in {page.name}, read {counts.get(number, 0)}"
            )


def parse(ctx: ParseContext) -> dict[str, pa.Table]:
    """A batch's landed pages (public endpoint and Exchange API) -> raw/traffy_tickets."""
    return parse_window([ctx])[ctx.day]


def parse_window(contexts: Sequence[ParseContext]) -> dict[date, dict[str, pa.Table]]:
    """The batches of several partitions in one query; each day's rows are what `parse` gives
    for that day alone (versions deduplicated within the day), a day without rows is empty."""
    pages = [page for ctx in contexts for page in _pages_of(ctx)]
    table = parse_pages(pages, contexts[0].source, by_day=True)
    days = split_by_partition(table, "_day", [ctx.day for ctx in contexts])
    return {day: {TABLE: rows} for day, rows in days.items()}


def _pages_of(ctx: ParseContext) -> list[Page]:
    if not ctx.files:
        raise ctx.error("no response was landed for this partition")
    pages = []
    for landed in ctx.files:
        try:
            endpoint = endpoint_of(landed.url)
        except ValueError as exc:
            raise ctx.error(str(exc)) from None
        pages.append(Page(landed=landed, where=ctx, endpoint=endpoint, day=ctx.day))
    return pages
