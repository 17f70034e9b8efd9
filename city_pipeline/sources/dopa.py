"""DOPA registered population (สถิติประชากรทางการทะเบียนราษฎร, stat.bora.dopa.go.th), monthly.

Request: `GET {base_url}{path_template}` for each configured file, the template formatted with
`yy` = two-digit Buddhist Era year and `mm` = month of the partition (e.g. the yearly province file
`/new_stat/file/67/stat_c67.txt`, or a monthly district file `/new_stat/file/67/stat_a6701.txt`).

The files are pipe-delimited text without a header, one admin area per line, with a trailing `|`:

    6712|40|ขอนแก่น|0|0|0|868299|904082|1772381|692088|
    yymm_be|admin code|name|0|0|0|male|female|total|households

Also accepted, because they occur in the wild: UTF-8 with a BOM, TIS-620/cp874 bytes, CRLF, numbers
with thousands commas ("1,772,381") or Thai digits, no trailing `|`, and one header line.
The level comes from the code's length ("0"/"00" country, 2 province, 4 district, 6 subdistrict);
`month` is the first day of the file's own BE month (6712 -> 2024-12-01), which for a yearly file is
not the partition's month. Everything lands in `raw/dopa_population`, partitioned by month (the
partition day is the first of the month).
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa

from city_pipeline.capture import CaptureSpec, ParseContext
from city_pipeline.settings import DopaFile, DopaSettings, Settings
from city_pipeline.sources import encoding
from city_pipeline.sources.common import FetchContext, fetch, typed_select
from city_pipeline.sources.window_parse import (
    Part,
    cursor,
    fail,
    parts_of,
    register_files,
    split,
)
from city_pipeline.sql import sql_list
from city_pipeline.thai import BE_OFFSET

SOURCE = "dopa"
TABLE = "dopa_population"

COLUMNS: dict[str, str] = {
    "month": "DATE",
    "yymm_be": "VARCHAR",
    "level": "VARCHAR",
    "admin_code": "VARCHAR",
    "admin_name_th": "VARCHAR",
    "male": "BIGINT",
    "female": "BIGINT",
    "total": "BIGINT",
    "households": "BIGINT",
}
COUNTS = ("male", "female", "total", "households")
# The ten fields of a line, in file order; a trailing `|` (an empty eleventh) is allowed.
FILE_FIELDS = (
    "yymm_be",
    "admin_code",
    "admin_name_th",
    "zero_1",
    "zero_2",
    "zero_3",
    "male",
    "female",
    "total",
    "households",
)
THAI_DIGITS = "๐๑๒๓๔๕๖๗๘๙"
# A first line that does not start with a YYMM is a header (some re-published copies add one).
_DATA_LINE = re.compile(r"^\s*[0-9๐-๙]{4}\s*\|")


def be_yy_mm(month: date) -> tuple[str, str]:
    """Two-digit Buddhist Era year and two-digit month: 2024-12 -> ("67", "12")."""
    return f"{(month.year + BE_OFFSET) % 100:02d}", f"{month.month:02d}"


def file_url(settings: DopaSettings, entry: DopaFile, month: date) -> str:
    """URL of one configured file for a month (the synth builds recordings with this too)."""
    yy, mm = be_yy_mm(month)
    return settings.base_url + entry.path_template.format(yy=yy, mm=mm)


def month_urls(settings: DopaSettings, month: date) -> list[str]:
    """Every distinct file URL of a month (a yearly template gives one URL for twelve months)."""
    return list(dict.fromkeys(file_url(settings, entry, month) for entry in settings.files))


def fetch_month(ctx: FetchContext) -> None:
    if ctx.day.day != 1:
        raise ctx.error(
            f"DOPA is monthly: the partition day must be the first of a month, got {ctx.day}",
            field="partition",
        )
    for url in month_urls(ctx.settings.config.sources.dopa, ctx.day):
        fetch(ctx, url, ext="txt")


# ---------------------------------------------------------------------------------------------
# Parse


def _digits(expr: str) -> str:
    """Thai digits to ASCII, thousands commas out (`translate` is slow on Thai text, so values
    that are plain ASCII digits already, nearly all of them, skip it)."""
    return (
        f"CASE WHEN regexp_full_match({expr}, '[0-9]*') THEN {expr} "
        f"ELSE replace(translate({expr}, '{THAI_DIGITS}', '0123456789'), ',', '') END"
    )


@dataclass(frozen=True)
class Readable:
    """A landed file as DuckDB reads it: UTF-8 (a decoded copy when it was not), header skipped."""

    batch_no: int
    path: str
    label: str  # how errors name it: file name and URL
    skip: int


def _readable_files(parts: Sequence[Part], workdir: Path) -> list[Readable]:
    """Decode every landed file once (UTF-8, BOM or TIS-620/cp874); a file that is neither is an
    error naming its partition and file."""
    readable = []
    for batch_no, part in enumerate(parts):
        for landed in part.files:
            try:
                text, found = encoding.decode_text(landed.read_bytes())
            except UnicodeDecodeError as exc:
                raise part.err.error(
                    f"{landed.path.name} ({landed.url}) is neither UTF-8 nor TIS-620/cp874: {exc}"
                ) from None
            path = landed.path
            if found != encoding.UTF8:
                path = workdir / f"{len(readable)}-{landed.path.name}"
                path.write_text(text, encoding="utf-8", newline="")
            first = text.split("\n", 1)[0]
            skip = 1 if first.strip() and not _DATA_LINE.match(first) else 0  # one header line
            readable.append(
                Readable(batch_no, str(path), f"{landed.path.name} ({landed.url})", skip)
            )
    return readable


def _load_lines(
    con: duckdb.DuckDBPyConnection, parts: Sequence[Part], files: list[Readable]
) -> None:
    """Every file of every partition into one `lines` table, Thai digits and thousands commas
    normalised (one DuckDB statement); lines with the wrong number of fields are kept aside by
    DuckDB and reported with their partition, file and line number."""
    register_files(con, parts, [f.path for f in files], [f.label for f in files])
    columns = "{" + ", ".join(f"'{name}': 'VARCHAR'" for name in FILE_FIELDS) + "}"
    scans = [
        f"SELECT * FROM read_csv({sql_list([f.path for f in files if f.skip == skip])}, "
        f"delim='|', header=false, quote='', escape='', columns={columns}, auto_detect=false, "
        f"store_rejects=true, skip={skip}, filename=true)"
        for skip in sorted({f.skip for f in files})
    ]
    numbers = ", ".join(f"{_digits(name)} AS {name}" for name in ("yymm_be", "admin_code", *COUNTS))
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE lines AS
        SELECT f.batch_no AS _batch, f.file_no AS _file_no, f.part AS _part, f.label AS _file,
               admin_name_th, {numbers}
        FROM ({" UNION ALL ".join(scans)}) l JOIN files f ON l.filename = f.path
        ORDER BY f.file_no""")
    rejected = con.execute(
        "SELECT f.batch_no, f.label, e.line, e.error_type, trim(e.csv_line, chr(10) || chr(13)) "
        "FROM reject_errors e JOIN reject_scans s USING (scan_id, file_id) "
        "JOIN files f ON s.file_path = f.path ORDER BY f.batch_no, f.file_no, e.line LIMIT 1"
    ).fetchall()
    if rejected:
        [(batch_no, label, line, kind, text)] = rejected
        fail(
            parts,
            batch_no,
            f"line {line} of {label}: {kind.lower()}, expected {len(FILE_FIELDS)} "
            f"'|'-separated fields: {text[:120]!r}",
            field=f"line {line}",
        )


# The checks of `_validate`, in the order they are judged: field, condition on `typed`, message.
MISSING = "missing value for admin code {code!r} in {file} (a line with too few fields?)"
CHECKS: tuple[tuple[str, str, str], ...] = (
    *((name, f"{name} IS NULL", MISSING) for name in ("yymm_be", "admin_code", *COUNTS)),
    (
        "yymm_be",
        "NOT regexp_matches(yymm_be, '^[0-9]{2}(0[1-9]|1[0-2])$')",
        "{yymm!r} (admin code {code}) is not a two-digit BE year and month",
    ),
    (
        "admin_code",
        "level IS NULL",
        "admin code {code!r} is not a DOPA code (0, or 2, 4 or 6 digits)",
    ),
    (
        "total",
        "male + female <> total",
        "admin code {code} ({yymm}): male {male} + female {female} != total {total}",
    ),
)


def _validate(con: duckdb.DuckDBPyConnection, parts: Sequence[Part]) -> None:
    """Every count present, known code lengths, a real BE month, and male + female = total: the
    first problem of the earliest partition is the error."""
    found = " UNION ALL ".join(
        f"SELECT _batch, {n} AS check_no, _file_no, _file, yymm_be, admin_code, "
        "CAST(male AS VARCHAR) AS male, CAST(female AS VARCHAR) AS female, "
        f"CAST(total AS VARCHAR) AS total FROM typed WHERE {condition}"
        for n, (_, condition, _) in enumerate(CHECKS)
    )
    bad = con.execute(
        f"SELECT * FROM ({found}) ORDER BY _batch, check_no, _file_no, admin_code LIMIT 1"
    ).fetchall()
    if bad:
        [(batch_no, check_no, _, file, yymm, code, male, female, total)] = bad
        field, _, message = CHECKS[check_no]
        values = {"file": file, "yymm": yymm, "code": code, "male": male, "female": female}
        fail(parts, batch_no, message.format(**values, total=total), field)


LEVEL_SQL = """CASE WHEN admin_code IN ('0', '00') THEN 'country'
                    WHEN regexp_matches(admin_code, '^[0-9]{2}$') THEN 'province'
                    WHEN regexp_matches(admin_code, '^[0-9]{4}$') THEN 'district'
                    WHEN regexp_matches(admin_code, '^[0-9]{6}$') THEN 'subdistrict' END"""


def _population(con: duckdb.DuckDBPyConnection, parts: Sequence[Part]) -> pa.Table:
    """One row per area, month and partition: two files may both list an area (a December
    district file and the yearly province file), maybe spelled "จังหวัดขอนแก่น" once; the shortest
    name is kept. The same area with different counts is an error."""
    rows = con.sql(f"""
        SELECT
            _batch,
            make_date(2500 + CAST(substr(yymm_be, 1, 2) AS INTEGER) - {BE_OFFSET},
                      CAST(substr(yymm_be, 3, 2) AS INTEGER), 1) AS month,
            yymm_be, level,
            CASE WHEN level = 'country' THEN '0' ELSE admin_code END AS admin_code,
            first(admin_name_th ORDER BY length(admin_name_th), admin_name_th) AS admin_name_th,
            male, female, total, households
        FROM typed
        GROUP BY ALL
        ORDER BY _batch, month, admin_code
    """).to_arrow_table()
    con.register("population", rows)
    clash = con.execute(
        "SELECT _batch, admin_code, yymm_be FROM population GROUP BY ALL HAVING count(*) > 1 "
        "ORDER BY ALL LIMIT 1"
    ).fetchall()
    if clash:
        [(batch_no, code, yymm)] = clash
        fail(
            parts,
            batch_no,
            f"admin code {code} appears twice for {yymm} with different values",
            field="admin_code",
        )
    return rows.select(["_batch", *COLUMNS])


def _parse_parts(parts: Sequence[Part], source: str) -> pa.Table:
    """Landed DOPA files of one or more months -> `dopa_population` rows + `_batch`."""
    with cursor() as con, tempfile.TemporaryDirectory(prefix="dopa-") as workdir:
        _load_lines(con, parts, _readable_files(parts, Path(workdir)))
        text_columns = dict.fromkeys(
            ("_part", "_file", "yymm_be", "admin_code", "admin_name_th"), "VARCHAR"
        )
        typed = typed_select(
            con,
            "lines",
            {
                "_batch": "INTEGER",
                "_file_no": "BIGINT",
                **text_columns,
                **dict.fromkeys(COUNTS, "BIGINT"),
            },
            source=source,
            partition=None,
            partition_column="_part",
        )
        con.register("typed_input", typed)
        con.execute(f"CREATE TEMP TABLE typed AS SELECT *, {LEVEL_SQL} AS level FROM typed_input")
        _validate(con, parts)
        return _population(con, parts)


def parse_window(contexts: Sequence[ParseContext]) -> dict[date, dict[str, pa.Table]]:
    """The landed files of many months in one go (decoded to UTF-8 once, parsed by DuckDB)."""
    parts = parts_of(contexts, what="file")
    table = _parse_parts(parts, contexts[0].source)
    return {month: {TABLE: rows} for month, rows in split(table, parts).items()}


def parse_files(ctx: ParseContext) -> pa.Table:
    """Landed DOPA files of one month -> `dopa_population` rows."""
    return parse_window([ctx])[ctx.day][TABLE]


def parse(ctx: ParseContext) -> dict[str, pa.Table]:
    return parse_window([ctx])[ctx.day]


CAPTURE = CaptureSpec(
    name=SOURCE,
    source=SOURCE,
    tables=(TABLE,),
    fetch=fetch_month,
    parse=parse,
    parse_window=parse_window,
    sort_keys={TABLE: ("month", "admin_code")},
    description="ประชากรตามทะเบียนราษฎร (กรมการปกครอง) · DOPA registered population by admin area "
    "(country, province, district), monthly.",
)


def captures(settings: Settings) -> list[CaptureSpec]:
    return [CAPTURE]
