"""What every report page is built from (`ReportInputs`) and the few ways panels read the marts.

Kept apart from `builder.py` so panel modules (`executive.py`, `areas.py`, `insights.py`,
`summary.py`) can import it without importing the page builder that imports them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pandas as pd
import pyarrow as pa

from city_pipeline.consume.freshness import SourceFreshness
from city_pipeline.consume.validation import ValidationOutcome
from city_pipeline.report.dates import calendar_dates
from city_pipeline.settings import CityIdentity

CHART_DAYS = 90


@dataclass(frozen=True)
class ReportInputs:
    city: CityIdentity
    tables: dict[str, pa.Table]
    validations: list[ValidationOutcome]
    freshness: list[SourceFreshness]
    release_id: str
    generated_at: str
    report_day: date | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # Held-back marts shown in their last good version: mart -> hold record (consume/release.py).
    stale: dict[str, Any] = field(default_factory=dict)
    # Rows quarantined at capture, per raw table (lake.quarantine_counts).
    quarantined: dict[str, int] = field(default_factory=dict)
    # Which sources and days were replayed/generated, not live (consume/provenance.py).
    provenance: dict[str, Any] = field(default_factory=dict)


def frame(inputs: ReportInputs, mart: str) -> pd.DataFrame:
    table = inputs.tables.get(mart)
    if table is None:
        return pd.DataFrame()
    result = table.to_pandas()
    for column in ("date", "month"):
        if column in result.columns:
            result[column] = calendar_dates(result[column])
    return result


def recent(data: pd.DataFrame, report_day: date | None, days: int = CHART_DAYS) -> pd.DataFrame:
    if data.empty or "date" not in data.columns or report_day is None:
        return data
    first = report_day - timedelta(days=days - 1)
    return data[(data["date"] >= first) & (data["date"] <= report_day)]


def window_tickets(inputs: ReportInputs, days: int = CHART_DAYS) -> pd.DataFrame:
    """Distinct tickets (fct_complaints, one row each) opened in the chart window."""
    tickets = frame(inputs, "fct_complaints")
    if tickets.empty or inputs.report_day is None:
        return tickets
    opened = calendar_dates(tickets["opened_date"])
    first = inputs.report_day - timedelta(days=days - 1)
    return tickets[(opened >= first) & (opened <= inputs.report_day)]
