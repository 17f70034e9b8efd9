"""Report panels of the complaint models: this week's topics (predicted vs citizen type) and surge
alerts. Rendered by the partial `templates/_complaint_insights.html.j2`; `context` gives its
variables, so the main builder only merges them in."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pandas as pd

from city_pipeline.report.dates import calendar_dates
from city_pipeline.report.formatting import number
from city_pipeline.report.inputs import ReportInputs, frame

WEEK_DAYS = 7
TOP_TYPES = 10


def week_of(data: pd.DataFrame, column: str, report_day: date | None) -> pd.DataFrame:
    """Rows of the 7 days up to the report day (or to the newest day in the table)."""
    if data.empty:
        return data
    days = calendar_dates(data[column])
    last = report_day or days.max()
    return data[(days > last - timedelta(days=WEEK_DAYS)) & (days <= last)]


def topic_rows(inputs: ReportInputs) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Per problem type over the week: tickets the model puts there, tickets the citizens put
    there, confident disagreements; and the week's totals (tickets, duplicates)."""
    week = week_of(frame(inputs, "complaint_insights"), "opened_date", inputs.report_day)
    if week.empty:
        return [], {"tickets": 0, "duplicates": 0, "disagree": 0}
    predicted = week.groupby("predicted_type").agg(
        predicted=("ticket_id", "size"), disagree=("type_disagrees", "sum")
    )
    citizen = week["citizen_types"].explode().dropna().value_counts().rename("citizen")
    table = predicted.join(citizen, how="outer").fillna(0).astype(int)
    table = table.sort_values(["predicted", "citizen"], ascending=False).head(TOP_TYPES)
    rows = [
        {"type": name, "predicted": int(r.predicted), "citizen": int(r.citizen),
         "disagree": int(r.disagree)}
        for name, r in table.iterrows()
    ]  # fmt: skip
    totals = {
        "tickets": len(week),
        "duplicates": int(week["duplicate_of"].notna().sum()),
        "disagree": int(week["type_disagrees"].sum()),
    }
    return rows, totals


def surge_rows(inputs: ReportInputs) -> list[dict[str, Any]]:
    """The surge alerts of the week, newest first."""
    data = frame(inputs, "complaint_surges")
    if data.empty:
        return []
    alerts = week_of(data[data["alert"]], "date", inputs.report_day)
    alerts = alerts.sort_values(["date", "p_value"], ascending=[False, True])
    return [
        {
            "day": row["date"].isoformat(),
            "area": " · ".join(
                str(n) for n in (row["subdistrict_name_th"], row["subdistrict_name_en"]) if n
            )
            or row["subdistrict_code"],
            "type": row["problem_type"],
            "observed": int(row["observed"]),
            "expected": number(row["expected"], 1),
        }
        for row in alerts.replace({pd.NA: None, float("nan"): None}).to_dict("records")
    ]


def context(inputs: ReportInputs) -> dict[str, Any]:
    topics, totals = topic_rows(inputs)
    return {"topics": topics, "topic_totals": totals, "surges": surge_rows(inputs)}
