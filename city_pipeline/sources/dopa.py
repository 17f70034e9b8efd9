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
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa

from city_pipeline.capture import CaptureSpec, ParseContext
from city_pipeline.settings import DopaFile, DopaSettings, Settings
from city_pipeline.sources import encoding
from city_pipeline.sources.common import FetchContext, duckdb_connection, fetch, typed_select
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
    """Thai digits to ASCII, thousands commas out."""
    return f"replace(translate({expr}, '{THAI_DIGITS}', '0123456789'), ',', '')"


def _scan_sql(path: Path, label: str, skip: int) -> str:
    columns = "{" + ", ".join(f"'{name}': 'VARCHAR'" for name in FILE_FIELDS) + "}"
    return (
        f"SELECT {encoding.sql_literal(label)} AS _file, * FROM read_csv("
        f"{encoding.sql_literal(str(path))}, delim='|', header=false, quote='', escape='', "
        f"columns={columns}, auto_detect=false, store_rejects=true, skip={skip})"
    )


def _load_lines(ctx: ParseContext, con: duckdb.DuckDBPyConnection, workdir: Path) -> None:
    """Every landed file into one `lines` table (one DuckDB statement over all files); lines with
    the wrong number of fields are kept aside by DuckDB and reported with their line number."""
    scans, labels = [], {}
    for landed in ctx.files:
        try:
            text, found = encoding.decode_text(landed.read_bytes())
        except UnicodeDecodeError as exc:
            raise ctx.error(
                f"{landed.path.name} ({landed.url}) is neither UTF-8 nor TIS-620/cp874: {exc}"
            ) from None
        readable = landed.path
        if found != encoding.UTF8:
            readable = workdir / landed.path.name
            readable.write_text(text, encoding="utf-8", newline="")
        first = text.split("\n", 1)[0]
        skip = 1 if first.strip() and not _DATA_LINE.match(first) else 0  # one header line
        labels[str(readable)] = f"{landed.path.name} ({landed.url})"
        scans.append(_scan_sql(readable, labels[str(readable)], skip))
    con.execute("CREATE TEMP TABLE lines AS " + " UNION ALL BY NAME ".join(scans))
    rejected = con.sql(
        "SELECT s.file_path, e.line, e.error_type, trim(e.csv_line, chr(10) || chr(13)) "
        "FROM reject_errors e JOIN reject_scans s USING (scan_id, file_id) "
        "ORDER BY s.file_path, e.line LIMIT 1"
    ).fetchall()
    if rejected:
        path, line, kind, text = rejected[0]
        raise ctx.error(
            f"line {line} of {labels.get(path, path)}: {kind.lower()}, expected "
            f"{len(FILE_FIELDS)} '|'-separated fields: {text[:120]!r}",
            field=f"line {line}",
        )


def _first(con: duckdb.DuckDBPyConnection, sql: str) -> tuple | None:
    rows = con.sql(sql + " LIMIT 1").fetchall()
    return rows[0] if rows else None


def _validate(ctx: ParseContext, con: duckdb.DuckDBPyConnection) -> None:
    """Every count present, known code lengths, a real BE month, and male + female = total."""
    for name in ("yymm_be", "admin_code", *COUNTS):
        row = _first(con, f"SELECT _file, admin_code FROM typed WHERE {name} IS NULL")
        if row:
            raise ctx.error(
                f"missing value for admin code {row[1]!r} in {row[0]} (a line with "
                "too few fields?)",
                field=name,
            )
    row = _first(
        con,
        "SELECT yymm_be, admin_code FROM typed WHERE NOT regexp_matches(yymm_be, "
        "'^[0-9]{2}(0[1-9]|1[0-2])$')",
    )
    if row:
        raise ctx.error(
            f"{row[0]!r} (admin code {row[1]}) is not a two-digit BE year and month",
            field="yymm_be",
        )
    row = _first(con, "SELECT admin_code FROM typed WHERE level IS NULL")
    if row:
        raise ctx.error(
            f"admin code {row[0]!r} is not a DOPA code (0, or 2, 4 or 6 digits)", field="admin_code"
        )
    row = _first(
        con,
        "SELECT admin_code, yymm_be, male, female, total FROM typed WHERE male + female <> total",
    )
    if row:
        raise ctx.error(
            f"admin code {row[0]} ({row[1]}): male {row[2]} + female {row[3]} != total {row[4]}",
            field="total",
        )


LEVEL_SQL = """CASE WHEN admin_code IN ('0', '00') THEN 'country'
                    WHEN regexp_matches(admin_code, '^[0-9]{2}$') THEN 'province'
                    WHEN regexp_matches(admin_code, '^[0-9]{4}$') THEN 'district'
                    WHEN regexp_matches(admin_code, '^[0-9]{6}$') THEN 'subdistrict' END"""


def parse_files(ctx: ParseContext) -> pa.Table:
    """Landed DOPA files -> `dopa_population` rows (decoded to UTF-8 once, parsed by DuckDB)."""
    if not ctx.files:
        raise ctx.error("no file was landed for this partition")
    con = duckdb_connection()
    with tempfile.TemporaryDirectory(prefix="dopa-") as workdir:
        _load_lines(ctx, con, Path(workdir))
    text_columns = {
        "_file": "VARCHAR",
        "yymm_be": "VARCHAR",
        "admin_code": "VARCHAR",
        "admin_name_th": "VARCHAR",
    }
    expressions = {
        "yymm_be": _digits("yymm_be"),
        "admin_code": _digits("admin_code"),
        **{name: _digits(name) for name in COUNTS},
    }
    counts = {name: "BIGINT" for name in COUNTS}
    typed = typed_select(
        con,
        "lines",
        {**text_columns, **counts},
        source=ctx.source,
        partition=ctx.day,
        expressions=expressions,
    )
    con.register("typed_input", typed)
    con.execute(f"CREATE TEMP TABLE typed AS SELECT *, {LEVEL_SQL} AS level FROM typed_input")
    _validate(ctx, con)
    # One row per area and month: two files may both list an area (a December district file and
    # the yearly province file), maybe spelled "จังหวัดขอนแก่น" once; the shortest name is kept.
    rows = con.sql(f"""
        SELECT
            make_date(2500 + CAST(substr(yymm_be, 1, 2) AS INTEGER) - {BE_OFFSET},
                      CAST(substr(yymm_be, 3, 2) AS INTEGER), 1) AS month,
            yymm_be, level,
            CASE WHEN level = 'country' THEN '0' ELSE admin_code END AS admin_code,
            first(admin_name_th ORDER BY length(admin_name_th), admin_name_th) AS admin_name_th,
            male, female, total, households
        FROM typed
        GROUP BY ALL
        ORDER BY month, admin_code
    """).to_arrow_table()
    con.register("population", rows)
    clash = _first(
        con,
        "SELECT admin_code, yymm_be FROM population GROUP BY ALL HAVING count(*) > 1 ORDER BY ALL",
    )
    if clash:
        raise ctx.error(
            f"admin code {clash[0]} appears twice for {clash[1]} with different values",
            field="admin_code",
        )
    return rows.select(list(COLUMNS))


def parse(ctx: ParseContext) -> dict[str, pa.Table]:
    return {TABLE: parse_files(ctx)}


CAPTURE = CaptureSpec(
    name=SOURCE,
    source=SOURCE,
    tables=(TABLE,),
    fetch=fetch_month,
    parse=parse,
    sort_keys={TABLE: ("month", "admin_code")},
    description="ประชากรตามทะเบียนราษฎร (กรมการปกครอง) · DOPA registered population by admin area "
    "(country, province, district), monthly.",
)


def captures(settings: Settings) -> list[CaptureSpec]:
    return [CAPTURE]
