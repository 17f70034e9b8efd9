"""One datastore_search answer: its envelope checked (fetch uses it to paginate; parse re-checks
from the landed bytes alone), its total, whether CKAN says a next page exists, and what makes two
pages the same page."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from city_pipeline.sources.common import (
    ErrorContext,
    require_fields,
)


def ckan_error_text(error: Any) -> str:
    """CKAN's `error` is `{"message": ..., "__type": ...}` or, for validation errors, a mapping of
    parameter -> messages."""
    if not isinstance(error, dict):
        return str(error)
    kind = error.get("__type", "error")
    message = error.get("message")
    if message is None:
        message = "; ".join(f"{k}: {v}" for k, v in error.items() if k != "__type")
    return f"{kind}: {message}"


def page_result(ctx: ErrorContext, payload: Any, where: str = "") -> dict[str, Any]:
    """The `result` of a successful datastore_search answer, with records and fields checked."""
    require_fields(ctx, payload, {"success": bool}, where)
    if not payload["success"]:
        raise ctx.error(
            f"CKAN answered success=false{where}: {ckan_error_text(payload.get('error'))}",
            field="success",
        )
    require_fields(ctx, payload, {"result": dict}, where)
    result = payload["result"]
    require_fields(ctx, result, {"records": list, "fields": list}, f"{where} in result")
    if "total" in result and result["total"] is not None and not isinstance(result["total"], int):
        raise ctx.error(f"expected an integer{where}, got {result['total']!r}", field="total")
    return result


def reported_total(result: dict[str, Any]) -> int | None:
    """`result.total`, unless CKAN says it only estimated it (large tables)."""
    if result.get("total_was_estimated"):
        return None
    total = result.get("total")
    return total if isinstance(total, int) and not isinstance(total, bool) else None


def has_next_link(result: dict[str, Any]) -> bool:
    """False only when CKAN sent `_links` without `next`: the API's own "no further page"."""
    links = result.get("_links")
    return not isinstance(links, dict) or isinstance(links.get("next"), str)


def records_signature(records: list[Any]) -> str:
    """What makes two pages the same page: their records, exactly."""
    return hashlib.sha256(orjson.dumps(records, option=orjson.OPT_SORT_KEYS)).hexdigest()
