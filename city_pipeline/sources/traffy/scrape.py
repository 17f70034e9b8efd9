"""The fondue.traffy.in.th web-scrape CSVs (not an API payload): Thai Buddhist-era short dates and
the status text without the ticket's age."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa

from city_pipeline.sources.common import (
    OfflineContext,
    duckdb_connection,
)
from city_pipeline.sources.traffy.contract import SOURCE, TRAFFY_TIMEZONE
from city_pipeline.sql import sql_list, sql_text
from city_pipeline.thai import BE_OFFSET, THAI_MONTHS_SHORT

SCRAPE_COLUMNS = (
    "ticket_id",
    "date",
    "time",
    "status",
    "ForwardedStatus",
    "ForwardedDate",
    "ForwardedTime",
)


# "รอรับเรื่อง 888 วันที่แล้ว": the web UI appends the age of the ticket to its status.
SCRAPE_AGE_SUFFIX = r"'\s*[0-9]+\s*(วินาที|นาที|ชั่วโมง|วัน|สัปดาห์|เดือน|ปี)ที่แล้ว\s*$'"


def _thai_parts(date_col: str, time_col: str, prefix: str) -> str:
    """Split a Thai BE short date (`6 ธ.ค. 67`, `28-มิ.ย.-65`) and `17:16 น.` into parts."""
    return (
        f"regexp_extract(trim({date_col}), '^([0-9]{{1,2}})[ -]+([^ -]+)[ -]+([0-9]{{2,4}})$',"
        f" ['d', 'm', 'y']) AS {prefix}_d, "
        f"regexp_extract(trim({time_col}), '^([0-9]{{1,2}})[:.]([0-9]{{2}})', ['h', 'mi']) "
        f"AS {prefix}_t"
    )


def _thai_timestamp(prefix: str) -> str:
    """Parts from `_thai_parts` -> TIMESTAMPTZ (Bangkok wall time); NULL when they do not parse."""
    months = "[" + ", ".join(sql_text(m) for m in THAI_MONTHS_SHORT) + "]"
    d, t = f"{prefix}_d", f"{prefix}_t"
    year = (
        f"CASE WHEN length({d}.y) = 2 THEN 2500 + CAST({d}.y AS INTEGER) - {BE_OFFSET} "
        f"WHEN CAST({d}.y AS INTEGER) > 2400 THEN CAST({d}.y AS INTEGER) - {BE_OFFSET} "
        f"ELSE CAST({d}.y AS INTEGER) END"
    )
    return (
        f"CASE WHEN {d}.d <> '' AND {t}.h <> '' AND list_position({months}, {d}.m) "
        f"IS NOT NULL THEN timezone('{TRAFFY_TIMEZONE}', make_timestamp({year}, "
        f"list_position({months}, {d}.m), CAST({d}.d AS INTEGER), CAST({t}.h AS INTEGER), "
        f"CAST({t}.mi AS INTEGER), 0)) END"
    )


def load_web_scrape_csv(
    paths: Sequence[str | Path],
    where: OfflineContext | None = None,
) -> pa.Table:
    """fondue.traffy.in.th web-scrape CSVs (NOT an API payload): ticket_id, reported_at, state
    (the status text before its `N วันที่แล้ว` age), forwarded_state and forwarded_at."""
    where = where or OfflineContext(SOURCE)
    plist = sql_list(str(p) for p in paths)
    con = duckdb_connection()
    reader = f"read_csv({plist}, all_varchar=true, header=true, filename=true)"
    header = {row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {reader}").fetchall()}
    missing = [c for c in SCRAPE_COLUMNS if c not in header]
    if missing:
        raise where.error(f"web-scrape CSV lacks columns {missing}", field=missing[0])
    con.execute(
        "CREATE TEMP TABLE scrape AS SELECT *, "
        f"{_thai_timestamp('rep')} AS reported_at, {_thai_timestamp('fwd')} AS forwarded_at "
        f"FROM (SELECT filename, row_number() OVER () AS _pos, {', '.join(SCRAPE_COLUMNS)}, "
        f"{_thai_parts('date', 'time', 'rep')}, "
        f"{_thai_parts('ForwardedDate', 'ForwardedTime', 'fwd')} FROM {reader})"
    )
    for column, parsed in (("date", "reported_at"), ("ForwardedDate", "forwarded_at")):
        time_col = "time" if column == "date" else "ForwardedTime"
        bad = con.execute(
            f"SELECT ticket_id, {column}, {time_col} FROM scrape "
            f"WHERE {parsed} IS NULL AND {column} IS NOT NULL LIMIT 1"
        ).fetchall()
        if bad:
            ticket, day, clock = bad[0]
            raise where.error(
                f"ticket {ticket}: {day!r} {clock!r} is not a Thai short date and time",
                field=column,
            )
    return con.sql(
        f"SELECT ticket_id, reported_at, "
        f"nullif(trim(regexp_replace(status, {SCRAPE_AGE_SUFFIX}, '')), '') AS state, "
        "nullif(trim(ForwardedStatus), '') AS forwarded_state, forwarded_at "
        "FROM scrape ORDER BY filename, _pos"
    ).to_arrow_table()
