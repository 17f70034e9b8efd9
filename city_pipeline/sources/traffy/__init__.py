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

from city_pipeline.capture import CaptureSpec
from city_pipeline.settings import Settings
from city_pipeline.sources.traffy.client import (
    exchange_base,
    exchange_credentials,
    exchange_duration,
    exchange_params,
    fetch_day,
    page_params,
    public_url,
    settings_of,
)
from city_pipeline.sources.traffy.contract import (
    COLUMNS,
    EXCHANGE_AUTH_PATH,
    EXCHANGE_ISSUES_PATH,
    SHARE_PATH,
    SOURCE,
    STAT_API_PATH,
    TABLE,
    TRAFFY_TIMEZONE,
    endpoint_of,
)
from city_pipeline.sources.traffy.offline import (
    exchange_issue_timeline,
    parse_download_csv,
    parse_exchange_issue_v1_files,
    parse_exchange_issues_files,
    parse_geojson_files,
)
from city_pipeline.sources.traffy.pages import check_envelope, page_signature, reported_total
from city_pipeline.sources.traffy.parse import (
    Page,
    dedupe_sorted,
    finish,
    parse,
    parse_pages,
    parse_window,
    typed_rows,
)
from city_pipeline.sources.traffy.scrape import load_web_scrape_csv
from city_pipeline.sources.traffy.staging import (
    PAGE_COLUMNS,
    PROPERTY_TEXT,
    stage_download_csv,
    stage_exchange_issue_v1,
    stage_exchange_issues,
    stage_geojson,
)

__all__ = [
    "CAPTURE",
    "COLUMNS",
    "EXCHANGE_AUTH_PATH",
    "EXCHANGE_ISSUES_PATH",
    "PAGE_COLUMNS",
    "PROPERTY_TEXT",
    "Page",
    "SHARE_PATH",
    "SOURCE",
    "STAT_API_PATH",
    "TABLE",
    "TRAFFY_TIMEZONE",
    "captures",
    "check_envelope",
    "dedupe_sorted",
    "endpoint_of",
    "exchange_base",
    "exchange_credentials",
    "exchange_duration",
    "exchange_issue_timeline",
    "exchange_params",
    "fetch_day",
    "finish",
    "load_web_scrape_csv",
    "page_params",
    "page_signature",
    "parse",
    "parse_download_csv",
    "parse_exchange_issue_v1_files",
    "parse_exchange_issues_files",
    "parse_geojson_files",
    "parse_pages",
    "parse_window",
    "public_url",
    "reported_total",
    "settings_of",
    "stage_download_csv",
    "stage_exchange_issue_v1",
    "stage_exchange_issues",
    "stage_geojson",
    "typed_rows",
]


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
