"""Build the published report (`report/index.html`) and the validation summary from the marts.

The page is one self-contained HTML file: CSS inline, charts as inline SVG drawn by `charts.py`,
no script, font or image fetched from anywhere, so it opens from a USB stick or an e-mail
attachment. Labels are Thai first, English second; dates show the Buddhist Era year.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cache
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
import pandas as pd
import pyarrow as pa
from markupsafe import Markup

from city_pipeline.analyse.aqi import pm25_legend
from city_pipeline.consume.freshness import SourceFreshness
from city_pipeline.consume.provenance import banner_lines
from city_pipeline.consume.validation import ValidationOutcome
from city_pipeline.report import charts, executive
from city_pipeline.report.dates import calendar_dates
from city_pipeline.report.labels import category_label
from city_pipeline.settings import CityIdentity

CHART_DAYS = 90
PM25_STANDARD = 37.5
FLOOD_WORD = "น้ำท่วม"
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
AQI_COLOUR_HEX = {
    "blue": "#3BCCFF",
    "green": "#92D050",
    "yellow": "#FFFF00",
    "orange": "#FFA200",
    "red": "#F04646",
}


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


def thai_date(day: date | None) -> str:
    if day is None:
        return "—"
    return f"{day.day} {THAI_MONTHS_FULL[day.month - 1]} {day.year + 543} · {day:%-d %B %Y}"


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


def number(value: Any, digits: int = 0, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NA:
        return "—"
    text = f"{float(value):,.{digits}f}"
    return f"{text} {unit}".strip()


# --- sections ------------------------------------------------------------------------------


def kpis(inputs: ReportInputs) -> list[dict[str, str]]:
    city_daily = frame(inputs, "mart_city_daily")
    if city_daily.empty or inputs.report_day is None:
        return []
    row = city_daily[city_daily["date"] == inputs.report_day].iloc[0].to_dict()
    colour = AQI_COLOUR_HEX.get(row.get("aqi_max_colour") or "", "")
    worst = row.get("worst_station_name_th") or row.get("worst_station_id") or "—"
    worst_en = row.get("worst_station_name_en") or ""
    category = (
        f"{row.get('aqi_max_category_th') or ''} · {row.get('aqi_max_category_en') or ''}"
        if row.get("aqi_max_category_en")
        else ""
    )
    return [
        {
            "label": "PM2.5 เฉลี่ยทั้งเมือง · City mean PM2.5",
            "value": number(row.get("pm25_city_mean"), 1),
            "unit": "µg/m³",
            "figure": "pm25_city_mean",
            "note": f"มาตรฐาน · standard {PM25_STANDARD} µg/m³",
        },
        {
            "label": "AQI สูงสุด · Highest AQI",
            "value": number(row.get("aqi_max")),
            "unit": "",
            "figure": "aqi_max",
            "note": category,
            "colour": colour,
        },
        {
            "label": "สถานีที่ค่าสูงสุด · Worst station",
            "value": str(worst),
            "unit": "",
            "note": f"{worst_en} · {number(row.get('stations_exceeding_pm25_standard'))} "
            f"/ {number(row.get('stations_reporting'))} สถานีเกินมาตรฐาน · stations over "
            "the standard",
            "small": "1",
        },
        {
            "label": "เรื่องร้องเรียนใหม่ · Complaints opened",
            "value": number(row.get("complaints_opened")),
            "unit": "",
            "note": f"แก้ไขแล้ว · resolved {number(row.get('complaints_resolved'))}",
            "figure": "complaints_opened",
        },
        {
            "label": "เรื่องค้าง · Open backlog",
            "value": number(row.get("complaints_backlog")),
            "unit": "",
            "note": f"ณ สิ้นวัน นับตั้งแต่ {counting_start_text(inputs)} · at the end of the day, "
            "all tickets still open",
            "figure": "complaints_backlog",
        },
        {
            "label": "ฝน · Rainfall",
            "value": number(row.get("rainfall_mm"), 1),
            "unit": "mm",
            "note": f"อุณหภูมิ · temperature {number(row.get('temperature_min_c'), 1)}–"
            f"{number(row.get('temperature_max_c'), 1)} °C",
        },
    ]


def pm25_bands(inputs: ReportInputs) -> list[charts.Band]:
    """PM2.5 bands valid on the report day, from the published band table when it is there."""
    table = inputs.tables.get("dim_thai_aqi_breakpoint")
    day = inputs.report_day or date.today()
    rows = (
        []
        if table is None
        else [
            r
            for r in table.to_pylist()
            if r.get("pollutant") == "PM25"
            and r["valid_from"] <= day
            and (r["valid_to"] is None or r["valid_to"] > day)
        ]
    )
    if not rows:
        return [charts.Band(*band) for band in pm25_legend()]  # no published table to read
    rows.sort(key=lambda r: r["band"])
    lows = [0.0] + [float(r["concentration_low"]) for r in rows[1:]]
    highs = lows[1:] + [None]
    return [
        charts.Band(low, high, r["colour_hex"], f"{r['category_th']} · {r['category_en']}")
        for low, high, r in zip(lows, highs, rows, strict=True)
    ]


def pm25_chart(inputs: ReportInputs) -> tuple[Markup, Markup]:
    air = recent(frame(inputs, "mart_air_quality_daily"), inputs.report_day)
    stations = frame(inputs, "dim_air_station")
    names = {}
    if not stations.empty:
        names = {
            r.station_id: f"{r.name_th or r.station_id} ({r.station_id})"
            for r in stations.itertuples()
        }
    series = []
    if not air.empty:
        for index, (station, rows) in enumerate(air.groupby("station_id", sort=True)):
            points = [
                (d, None if pd.isna(v) else float(v))
                for d, v in zip(rows["date"], rows["pm25_24h_mean"], strict=True)
            ]
            colour = charts.PALETTE[index % len(charts.PALETTE)]
            series.append(charts.Series(names.get(station, str(station)), points, colour))
    bands = pm25_bands(inputs)
    svg = charts.line_chart(
        series,
        title="PM2.5 รายวันรายสถานี · Daily PM2.5 per station",
        chart_id="chart-pm25",
        y_label="PM2.5 (µg/m³, 24 ชม. · 24 h)",
        bands=[charts.Band(b.low, b.high, b.color, b.label) for b in bands],
        threshold=(PM25_STANDARD, f"มาตรฐาน\nstandard\n{PM25_STANDARD}"),
    )
    entries = [(s.color, s.name, "line") for s in series]
    entries += [(b.color, b.label, "band") for b in bands]
    entries.append(("#333", f"มาตรฐาน 24 ชม. · 24-hour standard {PM25_STANDARD} µg/m³", "dash"))
    return Markup(svg), Markup(charts.legend(entries))


def window_tickets(inputs: ReportInputs, days: int = CHART_DAYS) -> pd.DataFrame:
    """Distinct tickets (fct_complaints, one row each) opened in the chart window."""
    tickets = frame(inputs, "fct_complaints")
    if tickets.empty or inputs.report_day is None:
        return tickets
    opened = calendar_dates(tickets["opened_date"])
    first = inputs.report_day - timedelta(days=days - 1)
    return tickets[(opened >= first) & (opened <= inputs.report_day)]


def area_names(inputs: ReportInputs, level: str) -> dict[str, str]:
    """admin code -> "ชื่อไทย · English name" at one level of dim_admin_area."""
    areas = frame(inputs, "dim_admin_area")
    if areas.empty:
        return {}
    areas = areas[areas["level"] == level]
    return {
        r.admin_code: f"{r.name_th or r.admin_code} · {r.name_en or r.admin_code}"
        for r in areas.itertuples()
    }


def tickets_by_area(inputs: ReportInputs) -> pd.Series:
    """Tickets opened in the window per subdistrict (ตำบล), each ticket once."""
    tickets = window_tickets(inputs)
    if tickets.empty:
        return pd.Series(dtype=float)
    names = area_names(inputs, "subdistrict")
    labels = tickets["subdistrict_code"].map(lambda c: names.get(c, c) if c else None)
    return labels.fillna("ไม่ทราบพื้นที่ · Unknown area").value_counts()


def complaints_by(inputs: ReportInputs, key: str) -> Markup:
    chart_id = f"chart-complaints-{key}"
    if key == "district":
        title = "เรื่องร้องเรียนตามตำบล · Complaints by subdistrict"
        totals = tickets_by_area(inputs)
        color = "#1f5fa8"
    else:
        title = "เรื่องร้องเรียนตามประเภท · Complaints by category"
        complaints = recent(frame(inputs, "mart_complaints_daily"), inputs.report_day)
        totals = (
            complaints.groupby("category")["opened"].sum()
            if not complaints.empty
            else pd.Series(dtype=float)
        )
        totals.index = [category_label(c) for c in totals.index]
        color = "#2a9d8f"
    if totals.empty:
        return Markup(charts.empty_chart(title, chart_id, "ไม่มีข้อมูล · No data"))
    top = totals.sort_values(ascending=False).head(20)
    items = [(str(label), float(value)) for label, value in top.items()]
    return Markup(
        charts.horizontal_bars(
            items,
            title=title,
            chart_id=chart_id,
            color=color,
            value_label=f"เรื่องที่รับใน {CHART_DAYS} วันล่าสุด · opened in the last {CHART_DAYS} days",
        )
    )


def counting_start(inputs: ReportInputs) -> date | None:
    """The first day the published tickets cover: the backlog cannot know anything earlier."""
    tickets = frame(inputs, "fct_complaints")
    if tickets.empty:
        return None
    return pd.to_datetime(tickets["opened_date"]).min().date()


def counting_start_text(inputs: ReportInputs) -> str:
    return thai_date(counting_start(inputs))


def backlog_chart(inputs: ReportInputs) -> Markup:
    city_daily = recent(frame(inputs, "mart_city_daily"), inputs.report_day)
    points = []
    if not city_daily.empty:
        points = [
            (d, None if pd.isna(v) else float(v))
            for d, v in zip(city_daily["date"], city_daily["complaints_backlog"], strict=True)
        ]
    return Markup(
        charts.area_chart(
            points,
            title="เรื่องค้างสะสม · Complaint backlog",
            chart_id="chart-backlog",
            y_label="เรื่องค้าง · open complaints",
            color="#7b4fa0",
            start_marker=counting_start(inputs),
        )
    )


def rain_vs_flood(inputs: ReportInputs) -> tuple[Markup, Markup]:
    weather = recent(frame(inputs, "mart_weather_daily"), inputs.report_day)
    complaints = recent(frame(inputs, "mart_complaints_daily"), inputs.report_day)
    days = sorted(set(weather["date"]) if not weather.empty else set())
    flood = pd.Series(dtype=float)
    if not complaints.empty:
        is_flood = complaints["category"].fillna("").str.contains(FLOOD_WORD, regex=False)
        flood = complaints[is_flood].groupby("date")["opened"].sum()
        days = sorted(set(days) | set(complaints["date"]))
    rain = weather.set_index("date")["rainfall_mm"] if not weather.empty else pd.Series(dtype=float)
    bars = [None if pd.isna(rain.get(d)) else float(rain.get(d)) for d in days]
    line = [float(flood.get(d, 0)) for d in days]
    svg = charts.bars_and_line(
        days,
        bars,
        line,
        title="ฝนกับเรื่องร้องเรียนน้ำท่วม · Rainfall and flood complaints",
        chart_id="chart-rain-flood",
        bar_label="ฝน · rainfall (mm)",
        line_label="เรื่องน้ำท่วม · flood complaints",
        bar_color="#5aa9e6",
        line_color="#d1495b",
    )
    legend = charts.legend(
        [
            ("#5aa9e6", "ปริมาณฝนรายวัน · Daily rainfall (mm)", "bar"),
            ("#d1495b", f"เรื่องร้องเรียนหมวด{FLOOD_WORD} · Flood-related complaints opened", "line"),
        ]
    )
    return Markup(svg), Markup(legend)


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


def validation_rows(inputs: ReportInputs) -> list[dict[str, Any]]:
    return [
        {
            "mart": v.mart,
            "success": v.success,
            "passed": v.evaluated - len(v.failed),
            "evaluated": v.evaluated,
            "rows": v.rows,
            "failed": [f.label for f in v.failed],
            "validated_at": v.validated_at,
        }
        for v in inputs.validations
    ]


# --- rendering -----------------------------------------------------------------------------


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("city_pipeline.report", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["thai_date"] = thai_date
    env.filters["number"] = number
    return env


def stylesheet() -> Markup:
    css = resources.files("city_pipeline.report").joinpath("assets/report.css")
    return Markup(css.read_text(encoding="utf-8"))


def local_time(inputs: ReportInputs, timestamp: str) -> str:
    """A UTC ISO timestamp as the city's local time, the date in BE with the Gregorian beside."""
    try:
        moment = datetime.fromisoformat(timestamp)
    except ValueError:
        return timestamp
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone(ZoneInfo(inputs.city.timezone))
    return f"{thai_date(local.date())} {local:%H:%M} น. ({inputs.city.timezone})"


def common_context(inputs: ReportInputs) -> dict[str, Any]:
    """What every page shows: the city, the demo-data banner, the generation time."""
    return {
        "city": inputs.city,
        "inputs": inputs,
        "css": stylesheet(),
        "provenance_lines": banner_lines(inputs.provenance),
        "generated_local": local_time(inputs, inputs.generated_at),
    }


def executive_panels(inputs: ReportInputs) -> dict[str, Any] | None:
    """The executive panels (report/executive.py), or None without a report day."""
    city_daily = frame(inputs, "mart_city_daily")
    if inputs.report_day is None or city_daily.empty:
        return None
    tickets = frame(inputs, "fct_complaints")
    day = inputs.report_day
    latest = city_daily[city_daily["date"] == day]
    return {
        "week": executive.week_comparison(tickets, city_daily, day),
        "pm25": executive.pm25_month(
            city_daily, day, latest.iloc[0].to_dict() if not latest.empty else {}
        ),
        "open": executive.open_cases(tickets, day),
        "resolution": executive.resolution_by_category(tickets, day),
    }


def render_report(inputs: ReportInputs) -> str:
    pm25_svg, pm25_legend = pm25_chart(inputs)
    rain_svg, rain_legend = rain_vs_flood(inputs)
    context = {
        **common_context(inputs),
        "kpis": kpis(inputs),
        "report_day": inputs.report_day,
        "chart_days": CHART_DAYS,
        "pm25_svg": pm25_svg,
        "pm25_legend": pm25_legend,
        "district_svg": complaints_by(inputs, "district"),
        "category_svg": complaints_by(inputs, "category"),
        "backlog_svg": backlog_chart(inputs),
        "rain_svg": rain_svg,
        "rain_legend": rain_legend,
        "forecast": forecast_rows(inputs),
        "flags": flag_rows(inputs),
        "freshness": inputs.freshness,
        "validations": validation_rows(inputs),
        "all_valid": all(v.success for v in inputs.validations),
        "counting_start": counting_start(inputs),
        "window_total": len(window_tickets(inputs)),
        "executive": executive_panels(inputs),
    }
    from city_pipeline.report import insights  # imports this module: bound late

    context |= insights.context(inputs)
    return environment().get_template("report.html.j2").render(**context)


def render_validation_summary(inputs: ReportInputs) -> str:
    context = {
        **common_context(inputs),
        "validations": inputs.validations,
        "all_valid": all(v.success for v in inputs.validations),
    }
    return environment().get_template("validation.html.j2").render(**context)
