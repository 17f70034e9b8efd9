"""The public listing, page by page: each page's envelope checked, its records counted, and when
the listing is done (see `sources.paging`)."""

from __future__ import annotations

from typing import Any

from city_pipeline.sources.common import (
    ErrorContext,
    require_fields,
)


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


def reported_total(payload: dict[str, Any], endpoint: str) -> int | None:
    """The listing's total when the endpoint reports one worth trusting: stat_api's `total`
    (its cache failure says 0 beside real features; `Listing` ignores a total below what
    arrived). The share feed's `total` counts the whole dataset, not the query, so it is none."""
    total = payload.get("total")
    if endpoint != "stat_api" or isinstance(total, bool) or not isinstance(total, int):
        return None
    return total
