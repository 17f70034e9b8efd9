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

from functools import partial

from city_pipeline.capture import CaptureSpec
from city_pipeline.settings import Settings
from city_pipeline.sources.ckan.client import fetch_dataset, request_params, search_url
from city_pipeline.sources.ckan.contract import (
    API_KEY_ENV,
    RESOURCE_ID_COLUMN,
    SEARCH_PATH,
    SOURCE,
    duckdb_type,
    table_name,
)
from city_pipeline.sources.ckan.pages import (
    has_next_link,
    page_result,
    records_signature,
    reported_total,
)
from city_pipeline.sources.ckan.parse import parse_dataset, parse_pages, parse_window
from city_pipeline.sources.ckan.resources import parse_csv_resource, parse_package_search

__all__ = [
    "API_KEY_ENV",
    "RESOURCE_ID_COLUMN",
    "SEARCH_PATH",
    "SOURCE",
    "captures",
    "duckdb_type",
    "fetch_dataset",
    "has_next_link",
    "page_result",
    "parse_csv_resource",
    "parse_dataset",
    "parse_package_search",
    "parse_pages",
    "parse_window",
    "records_signature",
    "reported_total",
    "request_params",
    "search_url",
    "table_name",
]


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
                parse_window=partial(parse_window, dataset=dataset),
                sort_keys={name: ("_id",)},
                description=f"ชุดข้อมูลเปิดภาครัฐ (CKAN) · CKAN DataStore resource "
                f"{dataset.resource_id}" + (f": {dataset.title}" if dataset.title else ""),
            )
        )
    return specs
