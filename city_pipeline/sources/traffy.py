"""Traffy Fondue citizen complaints (NECTEC / BMA): one raw row per ticket version.

Endpoints (the city YAML picks the public one with `sources.traffy.endpoint`):

* `stat_api` (default): `GET {base_url}/teamchadchart-stat-api/geojson/v1?start=D&end=D&limit=N
  &offset=K[&province=P]`. A GeoJSON FeatureCollection (`status`, `message`, `total`, `count`,
  `features`); properties carry `problem_type_fondue` and `org` as lists, numbers as numbers and
  NAIVE Asia/Bangkok timestamps (`"2026-09-26 06:42:35"`). `total` counts the day's listing but is
  sometimes 0 beside 11 features (the server's cache failed); such a total is ignored.
* `share` (legacy): `GET {base_url}/share/teamchadchart/geojson?start=D&end=D&limit=N&offset=K`.
  Same envelope without `status`; `total`, coordinates and `count_reopen` are strings, timestamps
  are UTC with a `+00` suffix, categories are `problem_type_abdul`, there are no district fields.
  Its `total` counts the whole dataset, not the query, so it never ends or checks a listing.
* Exchange API (authenticated, optional): used in live/record mode when both
  `CITY_PIPELINE_TRAFFY_EXCHANGE_USERNAME` and `..._PASSWORD` are set. `POST
  {exchange_base_url}/get-auth/v1` gives a JWT that travels only in the `Authorization` header of
  `GET {exchange_base_url}/get-issues/v2?org_id=..&start=D&end=D&duration=..`. The published doc
  names `duration` (`today`/`3days`/`all`) as the window; `start`/`end` are sent as well. The login
  response is never landed or recorded (it holds the token).

Paging (`sources.paging`): the public listing ends on an empty page, or once the records received
reach stat_api's `total` (when that total is not below what already arrived), never on a page
merely shorter than `limit` (servers cap their page size). Offsets advance by the records received.
A page that repeats any earlier page, or fewer records than a trusted total, fails the partition.
The batch marker records pages, rows, requested limit, effective page size and the total.

Yields `raw/traffy_tickets` (contract in docs/raw_tables.md): every version of a ticket seen in the
partition's responses (a ticket changing state on a later day shows up again in that day's
partition), deduplicated within the batch on (ticket_id, last_activity). Timestamps become
TIMESTAMPTZ: naive ones are Asia/Bangkok wall time, `+00` ones are UTC. Empty strings are NULL; a
feature without a ticket id (the share feed's corruption-report placeholder) is kept with a NULL id
rather than dropped silently.

Parsers for the other real Traffy shapes (the official `download` CSV, with source_endpoint
`download`; the Exchange `get-issue/v1` answer and its timeline; the fondue web-scrape CSVs) live
here too, for contract tests and one-off loads.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import pyarrow as pa
import requests

from city_pipeline.capture import CaptureSpec, ParseContext, split_by_partition
from city_pipeline.http import build_session, secret_from_env
from city_pipeline.lake import LandedFile, saved_file
from city_pipeline.settings import Settings, SourceMode, TraffySettings
from city_pipeline.sources.common import (
    TRANSIENT_STATUSES,
    ErrorContext,
    FetchContext,
    OfflineContext,
    SourceError,
    duckdb_connection,
    fetch,
    load_json,
    quarantined_rows,
    require_fields,
    typed_select,
)
from city_pipeline.sources.paging import Listing
from city_pipeline.sql import sql_list, sql_text
from city_pipeline.thai import BE_OFFSET, THAI_MONTHS_SHORT

log = logging.getLogger(__name__)

SOURCE = "traffy"
TABLE = "traffy_tickets"
STAT_API_PATH = "/teamchadchart-stat-api/geojson/v1"
SHARE_PATH = "/share/teamchadchart/geojson"
EXCHANGE_AUTH_PATH = "/get-auth/v1"
EXCHANGE_ISSUES_PATH = "/get-issues/v2"
# Traffy's naive timestamps are Thai wall-clock time, whatever the city.
TRAFFY_TIMEZONE = "Asia/Bangkok"
MAX_JSON_BYTES = 268_435_456

COLUMNS: dict[str, str] = {
    "ticket_id": "VARCHAR",
    "type": "VARCHAR",
    "categories": "VARCHAR[]",
    "org": "VARCHAR[]",
    "description": "VARCHAR",
    "address": "VARCHAR",
    "subdistrict": "VARCHAR",
    "district": "VARCHAR",
    "province": "VARCHAR",
    "lon": "DOUBLE",
    "lat": "DOUBLE",
    "state": "VARCHAR",
    "star": "DOUBLE",
    "count_reopen": "INTEGER",
    "photo_url": "VARCHAR",
    "after_photo": "VARCHAR",
    "reported_at": "TIMESTAMPTZ",
    "last_activity": "TIMESTAMPTZ",
    "inprogress_at": "TIMESTAMPTZ",
    "finished_at": "TIMESTAMPTZ",
    "source_endpoint": "VARCHAR",
}
LIST_COLUMNS = ("categories", "org")
SCALAR_COLUMNS = {name: t for name, t in COLUMNS.items() if name not in LIST_COLUMNS}
# "" / "-" / "null" mean "not given" in these columns; elsewhere they would be a real value.
SENTINEL_COLUMNS = frozenset(
    {
        "ticket_id",
        "type",
        "description",
        "address",
        "subdistrict",
        "district",
        "province",
        "lon",
        "lat",
        "state",
        "star",
        "photo_url",
        "after_photo",
        "reported_at",
        "last_activity",
        "inprogress_at",
        "finished_at",
    }
)
# When one batch holds the same version from two endpoints, keep the public one (it has org lists).
ENDPOINT_RANK = {"stat_api": 0, "share": 1, "download": 2, "exchange": 3}


# ----------------------------------------------------------------------------- requests


def settings_of(ctx: FetchContext | ParseContext) -> TraffySettings:
    return ctx.settings.config.sources.traffy


def public_url(traffy: TraffySettings) -> str:
    """The public endpoint the city YAML chose."""
    path = STAT_API_PATH if traffy.endpoint == "stat_api" else SHARE_PATH
    return traffy.base_url + path


def page_params(traffy: TraffySettings, day: date, offset: int) -> dict[str, str]:
    """Query of one public page; the synth module builds its recordings with this too."""
    params = {
        "start": day.isoformat(),
        "end": day.isoformat(),
        "limit": str(traffy.page_size),
        "offset": str(offset),
    }
    if traffy.endpoint == "stat_api" and traffy.province:
        params["province"] = traffy.province
    return params


def exchange_base(traffy: TraffySettings) -> str:
    return (traffy.exchange_base_url or f"{traffy.base_url}/exchange-api").rstrip("/")


def exchange_duration(day: date, today: date) -> str:
    """The Exchange API filters by `last_activity` age, not by dates: pick the smallest window
    that still reaches the partition (`all` is capped at 5,000 tickets by the server)."""
    return "3days" if (today - day).days <= 2 else "all"


def exchange_params(traffy: TraffySettings, day: date, today: date) -> dict[str, str]:
    """Query of `get-issues/v2`; no secret ever goes in here (it is landed in sidecars)."""
    params = {
        "start": day.isoformat(),
        "end": day.isoformat(),
        "duration": exchange_duration(day, today),
    }
    if traffy.exchange_org_ids:
        params["org_id"] = ",".join(str(org) for org in traffy.exchange_org_ids)
    return params


def exchange_credentials() -> tuple[str, str] | None:
    user = secret_from_env("TRAFFY_EXCHANGE_USERNAME")
    password = secret_from_env("TRAFFY_EXCHANGE_PASSWORD")
    return (user, password) if user and password else None


# ----------------------------------------------------------------------------- envelopes


def endpoint_of(url: str) -> str:
    path = url.split("?")[0].rstrip("/")
    if path.endswith(STAT_API_PATH):
        return "stat_api"
    if path.endswith(SHARE_PATH):
        return "share"
    if path.endswith(EXCHANGE_ISSUES_PATH):
        return "exchange"
    raise ValueError(f"not a Traffy endpoint this source reads: {url}")


def check_envelope(ctx: ErrorContext, payload: Any, endpoint: str, where: str = "") -> list[Any]:
    """Validate one page's envelope and return its records (features or results)."""
    if endpoint == "exchange":
        require_fields(ctx, payload, {"status": str, "results": list}, where)
        records = payload["results"]
    else:
        require_fields(ctx, payload, {"type": str, "features": list}, where)
        if payload["type"] != "FeatureCollection":
            raise ctx.error(
                f"expected a FeatureCollection{where}, got {payload['type']!r}", field="type"
            )
        records = payload["features"]
    # stat_api and the Exchange API say `status`; a non-success answer is an error even when
    # it carries records. A success with an error `message` (the cache warning) is fine.
    status = payload.get("status", "success")
    if status != "success":
        raise ctx.error(
            f"Traffy answered status {status!r}{where}: {str(payload.get('message'))[:200]}",
            field="status",
        )
    bad = next((r for r in records if not isinstance(r, dict)), None)
    if bad is not None:
        raise ctx.error(
            f"expected objects{where}, got {type(bad).__name__} {str(bad)[:80]!r}",
            field="features[]" if endpoint != "exchange" else "results[]",
        )
    return records


def page_signature(records: list[dict]) -> tuple:
    """What makes two pages the same page: the ticket versions on it, in order."""
    out = []
    for rec in records:
        props = rec.get("properties") if isinstance(rec.get("properties"), dict) else rec
        out.append((props.get("ticket_id"), props.get("last_activity")))
    return tuple(out)


# ----------------------------------------------------------------------------- fetch


def fetch_day(ctx: FetchContext) -> None:
    """Page through the public endpoint, then (if configured) the Exchange API."""
    fetch_public_pages(ctx)
    credentials = exchange_credentials()
    if credentials is None:
        return
    if ctx.settings.source_mode is SourceMode.REPLAY:
        # Recordings never hold the authenticated API (its login answer is the token).
        log.info("traffy: Exchange API credentials set but replay mode: Exchange API skipped")
        return
    fetch_exchange(ctx, *credentials)


def fetch_public_pages(ctx: FetchContext) -> None:
    """Page through the day's public listing (see `sources.paging` for when it ends) and record
    how it paged in the batch metadata."""
    traffy = settings_of(ctx)
    url = public_url(traffy)
    endpoint = traffy.endpoint
    listing = Listing(ctx, traffy.page_size, traffy.max_pages, "sources.traffy.max_pages")
    for _ in listing.page_numbers:
        landed = fetch(ctx, url, page_params(traffy, ctx.day, listing.offset))
        payload = load_json(ctx, landed)
        records = check_envelope(ctx, payload, endpoint, listing.where())
        total = reported_total(payload, endpoint)
        if listing.take(len(records), page_signature(records), total):
            ctx.batch_metadata["paging"] = listing.metadata()
            return
    raise listing.too_many_pages()


def reported_total(payload: dict[str, Any], endpoint: str) -> int | None:
    """The listing's total when the endpoint reports one worth trusting: stat_api's `total`
    (its cache failure says 0 beside real features; `Listing` ignores a total below what
    arrived). The share feed's `total` counts the whole dataset, not the query, so it is none."""
    total = payload.get("total")
    if endpoint != "stat_api" or isinstance(total, bool) or not isinstance(total, int):
        return None
    return total


def fetch_exchange(ctx: FetchContext, user: str, password: str) -> None:
    traffy = settings_of(ctx)
    base = exchange_base(traffy)
    token = exchange_token(ctx, base, user, password)
    params = exchange_params(traffy, ctx.day, datetime.now(ZoneInfo(TRAFFY_TIMEZONE)).date())
    landed = fetch(
        ctx, base + EXCHANGE_ISSUES_PATH, params, headers={"Authorization": f"Bearer {token}"}
    )
    check_envelope(ctx, load_json(ctx, landed), "exchange", " (get-issues)")


def exchange_token(ctx: FetchContext, base: str, user: str, password: str) -> str:
    """Log in and return the JWT. Not landed, not recorded, never in a message."""
    # A LIVE session even in record mode: the record hook would save the token to disk.
    live = ctx.settings.model_copy(update={"source_mode": SourceMode.LIVE})
    url = base + EXCHANGE_AUTH_PATH
    with build_session(SOURCE, live) as session:
        try:
            response = session.post(url, json={"user": user, "pass": password})
        except requests.RequestException as exc:
            # The exception text is not shown: it may quote the request.
            raise ctx.unavailable(
                f"Exchange API login at {url} failed (field 'get-auth'): {type(exc).__name__}"
            ) from None
    if response.status_code >= 400:
        message = (
            f"Exchange API login at {url} failed: HTTP {response.status_code} {response.reason}"
        )
        if response.status_code in TRANSIENT_STATUSES:
            raise ctx.unavailable(f"{message} (field 'get-auth')")
        raise ctx.error(message, field="get-auth")
    try:
        payload = response.json()
    except ValueError:
        raise ctx.error(
            f"Exchange API login at {url} did not answer JSON", field="get-auth"
        ) from None
    payload = payload if isinstance(payload, dict) else {}
    results = payload.get("results")
    token = results.get("token") if isinstance(results, dict) else None
    if payload.get("status") != "success" or not isinstance(token, str) or not token:
        # Only the server's `message` goes into the error, never what we sent.
        message = str(payload.get("message", ""))[:200]
        raise ctx.error(
            f"Exchange API login at {url} refused: status {payload.get('status')!r} {message!r}",
            field="get-auth",
        )
    return token


# ----------------------------------------------------------------------------- SQL helpers


def _tz(expr: str) -> str:
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


# The landed files of one parse, registered as a view: path -> file number (dedupe order) and
# partition day (NULL outside a capture).
FILES_VIEW = "traffy_files"


def _read_files(paths: Sequence[str], columns: str) -> str:
    """`read_json` of `paths` with declared `columns`, joined to its file number and day."""
    return (
        f"read_json({sql_list(paths)}, columns={columns}, format='unstructured', records=true, "
        f"filename=true, maximum_object_size={MAX_JSON_BYTES}) AS p "
        f"JOIN {FILES_VIEW} AS f ON f.path = p.filename"
    )


def _unnest_json(paths: Sequence[str], array: str) -> str:
    """Every element of the top-level `array` of every file, with its file number and position."""
    columns = "{" + sql_text(array) + ": 'JSON[]'}"
    return (
        f"SELECT f._file_no, f._day, unnest(p.{array}) AS r, "
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
        f"SELECT f._file_no, f._day, unnest(CASE WHEN NOT {PAGE_OK} "
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
        "reported_at": _tz(p("timestamp")),
        "last_activity": _tz(p("last_activity")),
        "inprogress_at": _tz(p("timestamp_inprogress")),
        "finished_at": _tz(p("timestamp_finished")),
    }
    has_properties = "(_pos IS NULL OR r.properties IS NOT NULL)"
    return _staged(fields, endpoint, pages, has_properties, keys="_file_no, _pos, _day")


def stage_exchange_issues(paths: Sequence[str]) -> str:
    """Exchange `get-issues/v2` results (flat objects, `status` not `state`)."""

    def r(name: str) -> str:
        return f"r->>{sql_text('$.' + name)}"

    fields = {
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
        "reported_at": _tz(r("timestamp")),
        "last_activity": _tz(r("last_activity")),
        "inprogress_at": _tz(r("timestamp_inprogress")),
        "finished_at": _tz(r("timestamp_finished")),
    }
    return _staged(fields, "exchange", _unnest_json(paths, "results"), keys="_file_no, _pos, _day")


def stage_exchange_issue_v1(paths: Sequence[str]) -> str:
    """Exchange `get-issue/v1` (one ticket per file, `results` is an object with `orgs` and
    `timeline`). The state is the primary organisation's status: the timeline may be trimmed."""
    plist = sql_list(paths)
    source_sql = (
        f"SELECT list_position({plist}, filename) AS _file_no, 1 AS _pos, results AS r "
        f"FROM read_json({plist}, columns={{'results': 'JSON'}}, filename=true, "
        f"maximum_object_size={MAX_JSON_BYTES})"
    )

    def r(name: str) -> str:
        return f"r->>{sql_text('$.' + name)}"

    orgs = "json_extract_string(r, '$.orgs[*].org')"
    fields = {
        "ticket_id": r("ticket_id"),
        "type": r("type"),
        "categories": _split_list(r("type")),
        "org": f"coalesce({_clean_list(orgs)}, {_split_list(r('organization'))})",
        "description": r("description"),
        "address": r("address"),
        "subdistrict": r("subdistrict"),
        "district": r("district"),
        "province": r("province"),
        "lon": r("longitude"),
        "lat": r("latitude"),
        "state": f"coalesce({r('status')}, r->>'$.orgs[0].status')",
        "star": r("star"),
        "count_reopen": r("count_reopen"),
        "photo_url": r("photo"),
        "after_photo": r("photo_after"),
        "reported_at": _tz(r("timestamp")),
        "last_activity": _tz(r("last_activity")),
        "inprogress_at": _tz(r("timestamp_inprogress")),
        "finished_at": _tz(r("timestamp_finished")),
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
        "reported_at": _tz("timestamp"),
        "last_activity": _tz("last_activity"),
        "inprogress_at": "NULL",
        "finished_at": "NULL",
    }
    return _staged(fields, "download", source_sql)


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


# ----------------------------------------------------------------------------- public parsers


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
        return _empty()
    for page in pages:
        if page.endpoint == "exchange":  # rare (live, with credentials): checked in Python
            page.check()
    with duckdb_connection() as con:
        con.register(FILES_VIEW, _files_table(pages))
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


def _files_table(pages: Sequence[Page]) -> pa.Table:
    return pa.table(
        {
            "path": [str(page.landed.path) for page in pages],
            "_file_no": pa.array(range(1, len(pages) + 1), pa.int32()),
            "_day": pa.array([page.day for page in pages], pa.date32()),
        }
    )


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
        return _empty()
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
        return _empty()
    con = duckdb_connection()
    staged = stage_download_csv(con, names, where)
    return finish(con, [staged], where.source, where.partition)


def exchange_issue_timeline(paths: Sequence[str | Path]) -> pa.Table:
    """The state history in `get-issue/v1` answers: ticket_id, at, status, org, note. Items
    without a timestamp (the doc's `{"...": "ตัดรายการที่เหลือ"}` placeholder) are not events."""
    plist = sql_list(str(p) for p in paths)
    at = _tz("e->>'$.timestamp'")
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


def _empty() -> pa.Table:
    """Zero rows, full contract schema, same Arrow types as `finish` produces."""
    select = ", ".join(f'CAST(NULL AS {t}) AS "{n}"' for n, t in COLUMNS.items())
    return duckdb_connection().sql(f"SELECT {select} LIMIT 0").to_arrow_table()


# ----------------------------------------------------------------------------- web scrape

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


# ----------------------------------------------------------------------------- capture


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


CAPTURE = CaptureSpec(
    name=SOURCE,
    source=SOURCE,
    tables=(TABLE,),
    fetch=fetch_day,
    parse=parse,
    parse_window=parse_window,
    sort_keys={TABLE: ("ticket_id", "last_activity", "source_endpoint")},
    description="เรื่องร้องเรียนของประชาชน (Traffy Fondue) · Traffy Fondue citizen complaints: every "
    "ticket version seen that day.",
)


def captures(settings: Settings) -> list[CaptureSpec]:
    return [CAPTURE]
