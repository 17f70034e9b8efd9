"""The raw/traffy_tickets contract and the Traffy endpoints it is read from: table and column
types, the endpoint paths, Traffy's time zone, and which endpoint a landed URL came from."""

from __future__ import annotations

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


def endpoint_of(url: str) -> str:
    path = url.split("?")[0].rstrip("/")
    if path.endswith(STAT_API_PATH):
        return "stat_api"
    if path.endswith(SHARE_PATH):
        return "share"
    if path.endswith(EXCHANGE_ISSUES_PATH):
        return "exchange"
    raise ValueError(f"not a Traffy endpoint this source reads: {url}")
