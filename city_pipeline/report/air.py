"""Air panels from the Analyse stage: tomorrow's PM2.5 forecast and the sensors to check."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from city_pipeline.report.dates import calendar_dates
from city_pipeline.report.formatting import number, thai_date
from city_pipeline.report.inputs import ReportInputs, frame

METHOD_LABELS = {
    "model": "ตัวแบบ · model",
    "persistence": "ค่าเมื่อวาน · persistence",
    "mixed": "ผสม · mixed",
}
FLAG_LABELS = {
    "negative": "ค่าติดลบ · negative value",
    "out_of_range": "ค่านอกช่วง · out of range",
    "pm25_above_pm10": "PM2.5 สูงกว่า PM10 · PM2.5 above PM10",
    "flatline": "ค่าคงที่ผิดปกติ · flat line",
    "spike": "ค่ากระโดด · spike",
    "regional_divergence": "ต่างจากค่ากลางภูมิภาค · far from the regional median",
}


def forecast_rows(inputs: ReportInputs) -> list[dict[str, Any]]:
    """Tomorrow's PM2.5 per station and for the city (the newest forecast day published)."""
    data = frame(inputs, "pm25_forecast")
    if data.empty:
        return []
    data["forecast_date"] = calendar_dates(data["forecast_date"])
    latest = data[data["forecast_date"] == data["forecast_date"].max()]
    latest = latest.sort_values(["scope", "station_id"], key=lambda c: c.map({"city": 0}).fillna(1))
    return [
        {
            "day": thai_date(row["forecast_date"]),
            "where": "ทั้งเมือง · city" if row["scope"] == "city" else row["station_id"],
            "value": number(row["pm25_forecast"], 1),
            "interval": f"{number(row['pm25_lower'], 1)} – {number(row['pm25_upper'], 1)}",
            "colour": row.get("aqi_colour_hex") or "",
            "category": f"{row.get('aqi_category_th') or ''} · {row.get('aqi_category_en') or ''}",
            "method": METHOD_LABELS.get(row["method"], row["method"]),
            "version": row["model_version"],
        }
        for row in latest.to_dict("records")
    ]


def flag_rows(inputs: ReportInputs, days: int = 7) -> list[dict[str, Any]]:
    """Sensors flagged in the last `days` days of the report (advice; AQI figures unchanged)."""
    data = frame(inputs, "air_sensor_flags")
    if data.empty:
        return []
    if inputs.report_day is not None:
        data = data[data["date"] > inputs.report_day - timedelta(days=days)]
    summary = data.groupby(["station_id", "reason"], as_index=False).agg(
        days=("date", "nunique"), hours=("hours_flagged", "sum"), last=("date", "max")
    )
    return [
        {
            "station": row["station_id"],
            "reason": FLAG_LABELS.get(row["reason"], row["reason"]),
            "days": int(row["days"]),
            "hours": int(row["hours"]),
            "last": row["last"].isoformat(),
        }
        for row in summary.sort_values(["last", "station_id"], ascending=[False, True]).to_dict(
            "records"
        )
    ]
