"""SQL that reads each Traffy shape (stat_api/share GeoJSON pages, Exchange answers, the download
CSV) into one staged select: every contract column as text, plus the keys that order a dedupe."""

from __future__ import annotations

from collections.abc import Sequence

import duckdb

from city_pipeline.sources.common import (
    ErrorContext,
)
from city_pipeline.sources.traffy.contract import (
    COLUMNS,
    ENDPOINT_RANK,
    MAX_JSON_BYTES,
    TRAFFY_TIMEZONE,
)
from city_pipeline.sql import sql_list, sql_text


def zoned_timestamp(expr: str) -> str:
    """Text timestamp with its zone: keep an explicit offset (`+00`), else Bangkok wall time."""
    text = f"nullif(trim(CAST({expr} AS VARCHAR)), '')"
    offset = r"'[0-9]:[0-9]{2}(\.[0-9]+)?\s*([+-][0-9]{2}(:?[0-9]{2})?|Z|UTC)$'"
    return (
        f"CASE WHEN {text} IS NULL THEN NULL WHEN regexp_matches({text}, {offset}) "
        f"THEN {text} ELSE {text} || ' {TRAFFY_TIMEZONE}' END"
    )


def _clean_list(expr: str) -> str:
    """Trim items and drop empty ones (Traffy sends `[""]` for "no category")."""
    return (
        f"list_filter(list_transform({expr}, lambda x: trim(x)), "
        "lambda x: x IS NOT NULL AND x <> '')"
    )


def _split_list(expr: str) -> str:
    """`"a,b"` -> ['a', 'b']; NULL stays NULL."""
    return _clean_list(f"string_split(CAST({expr} AS VARCHAR), ',')")


def _set_list(expr: str) -> str:
    """PostgreSQL array text from the CSV export, `{ถนน,"a b"}` -> ['ถนน', 'a b']."""
    inner = f"regexp_replace(trim(CAST({expr} AS VARCHAR)), '^\\{{|\\}}$', '', 'g')"
    return (
        f"list_filter(list_transform(string_split({inner}, ','), "
        "lambda x: trim(trim(x), '\"')), lambda x: x <> '')"
    )


def _json_list(expr: str) -> str:
    """A JSON array of strings, or a comma-joined string, as a clean VARCHAR[]."""
    return (
        f"CASE json_type({expr}) WHEN 'ARRAY' THEN {_clean_list(f'CAST({expr} AS VARCHAR[])')}"
        f" WHEN 'VARCHAR' THEN {_split_list(f'{expr}->>' + sql_text('$'))} END"
    )


def _staged(
    fields: dict[str, str],
    endpoint: str,
    source_sql: str,
    record_ok: str = "true",
    keys: str = "_file_no, _pos",
) -> str:
    """One SELECT with every contract column as text (lists as VARCHAR[]) plus ordering keys and
    `_ok` (false for a record that is not an object of the expected shape)."""
    missing = set(COLUMNS) - set(fields) - {"source_endpoint"}
    assert not missing, f"staging for {endpoint} lacks {missing}"
    cols = [f'{expr} AS "{name}"' for name, expr in fields.items()]
    cols.append(f"{sql_text(endpoint)} AS source_endpoint")
    cols.append(f"{ENDPOINT_RANK[endpoint]} AS _rank")
    cols.append(f"{record_ok} AS _ok")
    return f"SELECT {', '.join(cols)}, {keys} FROM ({source_sql})"


# What each landed file of a parse is joined to: its number (1-based, in landing order: the
# dedupe order) and partition day (NULL outside a capture), from the `files` table of
# `window_parse.register_files`.
FILE_KEYS = "CAST(f.file_no + 1 AS INTEGER) AS _file_no, f.day AS _day"


def _read_files(paths: Sequence[str], columns: str) -> str:
    """`read_json` of `paths` with declared `columns`, joined to its file in `files`."""
    return (
        f"read_json({sql_list(paths)}, columns={columns}, format='unstructured', records=true, "
        f"filename=true, maximum_object_size={MAX_JSON_BYTES}) AS p "
        "JOIN files AS f ON f.path = p.filename"
    )


def _unnest_json(paths: Sequence[str], array: str) -> str:
    """Every element of the top-level `array` of every file, with its file number and position."""
    columns = "{" + sql_text(array) + ": 'JSON[]'}"
    return (
        f"SELECT {FILE_KEYS}, unnest(p.{array}) AS r, "
        f"unnest(generate_series(1, len(p.{array}))) AS _pos FROM {_read_files(paths, columns)}"
    )


# Feature properties read as text, which is what `->>` gave (numbers keep their JSON text, nested
# values their JSON), so typed_select keeps its TRY_CAST and sentinel handling; the fields that
# are a list on stat_api and a comma-joined string on share stay JSON.
PROPERTY_TEXT = (
    "ticket_id",
    "type",
    "description",
    "address",
    "subdistrict",
    "district",
    "province",
    "state",
    "star",
    "count_reopen",
    "photo_url",
    "after_photo",
    "timestamp",
    "last_activity",
    "timestamp_inprogress",
    "timestamp_finished",
)


PROPERTY_JSON = ("org", "problem_type_fondue", "problem_type_abdul")


FEATURE_TYPE = (
    "STRUCT(geometry STRUCT(coordinates VARCHAR[]), properties STRUCT("
    + ", ".join([f'"{n}" VARCHAR' for n in PROPERTY_TEXT] + [f'"{n}" JSON' for n in PROPERTY_JSON])
    + "))"
)


# Each page is parsed once, into the declared shape. A shape read_json cannot take (HTML, a
# truncated body, `features` not a list of objects...) fails the query; see `_unreadable`.
PAGE_COLUMNS = "{'type': 'VARCHAR', 'status': 'VARCHAR', 'features': '" + FEATURE_TYPE + "[]'}"


# What `check_envelope` accepts, as far as the declared columns show (a JSON null `status` reads
# as a missing one). A page failing it stops the query; Python then names the problem. A null
# feature passes, as in check_envelope: it is a feature without properties (`_ok`).
PAGE_OK = (
    "coalesce(p.type = 'FeatureCollection' AND coalesce(p.status, 'success') = 'success' "
    "AND p.features IS NOT NULL, false)"
)


def stage_geojson(paths: Sequence[str], endpoint: str) -> str:
    """stat_api and share FeatureCollections -> staged rows (one per feature, and one row with
    `_pos` NULL for a page without features, so every page shows up in the result)."""
    pages = (
        f"SELECT {FILE_KEYS}, unnest(CASE WHEN NOT {PAGE_OK} "
        "THEN error('page envelope check failed in ' || p.filename) "
        "WHEN len(p.features) = 0 THEN [NULL] ELSE p.features END) AS r, "
        "unnest(generate_series(1, len(p.features))) AS _pos "
        f"FROM {_read_files(paths, PAGE_COLUMNS)}"
    )

    def p(name: str) -> str:
        return f'r.properties."{name}"'

    fondue, abdul = p("problem_type_fondue"), p("problem_type_abdul")
    # stat_api fills problem_type_fondue (abdul is null); share only has problem_type_abdul.
    categories = (
        f"CASE WHEN json_type({fondue}) = 'ARRAY' THEN {_json_list(fondue)} "
        f"ELSE {_json_list(abdul)} END"
    )
    fields = {
        "ticket_id": p("ticket_id"),
        "type": p("type"),
        "categories": categories,
        "org": _json_list(p("org")),
        "description": p("description"),
        "address": p("address"),
        "subdistrict": p("subdistrict"),
        "district": p("district"),
        "province": p("province"),
        "lon": "r.geometry.coordinates[1]",
        "lat": "r.geometry.coordinates[2]",
        "state": p("state"),
        "star": p("star"),
        "count_reopen": p("count_reopen"),
        "photo_url": p("photo_url"),
        "after_photo": p("after_photo"),
        "reported_at": zoned_timestamp(p("timestamp")),
        "last_activity": zoned_timestamp(p("last_activity")),
        "inprogress_at": zoned_timestamp(p("timestamp_inprogress")),
        "finished_at": zoned_timestamp(p("timestamp_finished")),
    }
    has_properties = "(_pos IS NULL OR r.properties IS NOT NULL)"
    return _staged(fields, endpoint, pages, has_properties, keys="_file_no, _pos, _day")


def _exchange_field(name: str) -> str:
    return f"r->>{sql_text('$.' + name)}"


def _exchange_fields() -> dict[str, str]:
    """The contract columns of an Exchange ticket object `r` (flat, `status` not `state`)."""
    r = _exchange_field
    return {
        "ticket_id": r("ticket_id"),
        "type": r("type"),
        "categories": _split_list(r("type")),
        "org": _split_list(r("organization")),
        "description": r("description"),
        "address": r("address"),
        "subdistrict": r("subdistrict"),
        "district": r("district"),
        "province": r("province"),
        "lon": r("longitude"),
        "lat": r("latitude"),
        "state": r("status"),
        "star": r("star"),
        "count_reopen": r("count_reopen"),
        "photo_url": r("photo"),
        "after_photo": r("photo_after"),
        "reported_at": zoned_timestamp(r("timestamp")),
        "last_activity": zoned_timestamp(r("last_activity")),
        "inprogress_at": zoned_timestamp(r("timestamp_inprogress")),
        "finished_at": zoned_timestamp(r("timestamp_finished")),
    }


def stage_exchange_issues(paths: Sequence[str]) -> str:
    """Exchange `get-issues/v2` results (flat objects, `status` not `state`)."""
    staged = _unnest_json(paths, "results")
    return _staged(_exchange_fields(), "exchange", staged, keys="_file_no, _pos, _day")


def stage_exchange_issue_v1(paths: Sequence[str]) -> str:
    """Exchange `get-issue/v1` (one ticket per file, `results` is an object with `orgs` and
    `timeline`). The state is the primary organisation's status: the timeline may be trimmed."""
    plist = sql_list(paths)
    source_sql = (
        f"SELECT list_position({plist}, filename) AS _file_no, 1 AS _pos, results AS r "
        f"FROM read_json({plist}, columns={{'results': 'JSON'}}, filename=true, "
        f"maximum_object_size={MAX_JSON_BYTES})"
    )
    r = _exchange_field
    orgs = "json_extract_string(r, '$.orgs[*].org')"
    fields = {
        **_exchange_fields(),
        "org": f"coalesce({_clean_list(orgs)}, {_split_list(r('organization'))})",
        "state": f"coalesce({r('status')}, r->>'$.orgs[0].status')",
    }
    return _staged(fields, "exchange", source_sql)


DOWNLOAD_CSV_COLUMNS = (
    "ticket_id",
    "type",
    "organization",
    "comment",
    "coords",
    "photo",
    "photo_after",
    "address",
    "subdistrict",
    "district",
    "province",
    "timestamp",
    "state",
    "star",
    "count_reopen",
    "last_activity",
)


def stage_download_csv(
    con: duckdb.DuckDBPyConnection, paths: Sequence[str], where: ErrorContext
) -> str:
    """The official `share/teamchadchart/download` CSV: UTF-8 BOM, multi-line quoted comments,
    `"lon,lat"` coords, `{a,b}` type sets, `+00` UTC timestamps."""
    plist = sql_list(paths)
    reader = (
        f"read_csv({plist}, all_varchar=true, header=true, quote='\"', escape='\"', filename=true)"
    )
    header = {row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {reader}").fetchall()}
    missing = [c for c in DOWNLOAD_CSV_COLUMNS if c not in header]
    if missing:
        raise where.error(f"download CSV lacks columns {missing}", field=missing[0])
    source_sql = (
        f"SELECT list_position({plist}, filename) AS _file_no, "
        f"row_number() OVER () AS _pos, * FROM {reader}"
    )
    fields = {
        "ticket_id": "ticket_id",
        "type": "type",
        "categories": _set_list("type"),
        "org": _split_list("organization"),
        "description": "comment",
        "address": "address",
        "subdistrict": "subdistrict",
        "district": "district",
        "province": "province",
        "lon": "split_part(coords, ',', 1)",
        "lat": "split_part(coords, ',', 2)",
        "state": "state",
        "star": "star",
        "count_reopen": "count_reopen",
        "photo_url": "photo",
        "after_photo": "photo_after",
        "reported_at": zoned_timestamp("timestamp"),
        "last_activity": zoned_timestamp("last_activity"),
        "inprogress_at": "NULL",
        "finished_at": "NULL",
    }
    return _staged(fields, "download", source_sql)
