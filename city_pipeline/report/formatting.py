"""How the report writes dates and numbers: Thai Buddhist Era date with the Gregorian beside."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

THAI_MONTHS_FULL = (
    "มกราคม",
    "กุมภาพันธ์",
    "มีนาคม",
    "เมษายน",
    "พฤษภาคม",
    "มิถุนายน",
    "กรกฎาคม",
    "สิงหาคม",
    "กันยายน",
    "ตุลาคม",
    "พฤศจิกายน",
    "ธันวาคม",
)


def thai_date(day: date | None) -> str:
    if day is None:
        return "—"
    return f"{day.day} {THAI_MONTHS_FULL[day.month - 1]} {day.year + 543} · {day:%-d %B %Y}"


def number(value: Any, digits: int = 0, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NA:
        return "—"
    text = f"{float(value):,.{digits}f}"
    return f"{text} {unit}".strip()


def local_time(timestamp: str, timezone: str) -> str:
    """A UTC ISO timestamp as local time in `timezone`, the date in BE with the Gregorian beside."""
    try:
        moment = datetime.fromisoformat(timestamp)
    except ValueError:
        return timestamp
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone(ZoneInfo(timezone))
    return f"{thai_date(local.date())} {local:%H:%M} น. ({timezone})"
