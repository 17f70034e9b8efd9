"""The network report: the member cities side by side, in Thai and English, one offline HTML file.

It reads only the network marts (`network/marts.py`) and the members' status, and draws with the
city report's helpers (`report/charts.py` SVG charts, `report/formatting.py` dates and numbers,
its stylesheet and Jinja environment): PM2.5 per city over time on the Thai AQI bands, one bar
chart per complaint measure, two rankings that state what they rank by, and a banner naming every
stale or missing member with the reason.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pyarrow as pa
from markupsafe import Markup

from city_pipeline.analyse.aqi import pm25_legend
from city_pipeline.network.config import Network
from city_pipeline.report import charts
from city_pipeline.report.builder import environment, stylesheet
from city_pipeline.report.executive import PM25_STANDARD
from city_pipeline.report.formatting import local_time, number, thai_date

STALE_MARK = "ข้อมูลไม่เป็นปัจจุบัน · stale"
TIMEZONE = "Asia/Bangkok"

# (column of network_city_summary, Thai title, English title, unit, decimals)
MEASURES = (
    ("pm25_mean_30d", "PM2.5 เฉลี่ย 30 วัน", "Mean PM2.5, last 30 days", "µg/m³", 1),
    (
        "complaints_per_10k_residents_30d",
        "เรื่องร้องเรียนต่อประชากร 10,000 คน (30 วัน)",
        "Complaints per 10,000 residents, last 30 days",
        "per 10,000",
        1,
    ),
    (
        "median_resolution_hours",
        "ชั่วโมงมัธยฐานที่ใช้แก้ไข",
        "Median resolution hours",
        "hours",
        1,
    ),
    ("duplicate_share", "สัดส่วนเรื่องซ้ำ", "Share of duplicate complaints", "%", 1),
    (
        "resolved_within_7d_share",
        "สัดส่วนที่แก้ไขภายใน 7 วัน",
        "Share resolved within 7 days",
        "%",
        1,
    ),
)
PERCENT_COLUMNS = {"duplicate_share", "resolved_within_7d_share"}

RANKINGS = (
    (
        "rank_cleanest_air",
        "pm25_mean_30d",
        "อันดับอากาศสะอาด: เรียงตาม PM2.5 เฉลี่ย 30 วันล่าสุดของแต่ละเมือง ต่ำสุดเป็นอันดับ 1",
        "Cleanest air: ranked by mean PM2.5 over each city's last 30 days, lowest first",
    ),
    (
        "rank_resolved_within_7d",
        "resolved_within_7d_share",
        "อันดับการแก้ไขเรื่องร้องเรียน: เรียงตามสัดส่วนเรื่องที่แก้ไขภายใน 7 วัน สูงสุดเป็นอันดับ 1",
        "Complaint handling: ranked by the share of complaints resolved within 7 days, "
        "highest first",
    ),
)


def city_label(row: dict[str, Any]) -> str:
    label = f"{row['city_name_th']} · {row['city_name_en']}"
    return f"{label} ({STALE_MARK})" if row["member_status"] != "verified" else label


def shown(column: str, value: Any) -> float | None:
    if value is None:
        return None
    return float(value) * 100 if column in PERCENT_COLUMNS else float(value)


def pm25_chart(daily: pa.Table, labels: dict[str, str]) -> tuple[Markup, Markup]:
    series = []
    for index, slug in enumerate(sorted(labels)):
        rows = [r for r in daily.to_pylist() if r["city_slug"] == slug]
        points = [(r["date"], r["pm25_city_mean"]) for r in rows]
        colour = charts.PALETTE[index % len(charts.PALETTE)]
        series.append(charts.Series(labels[slug], points, colour))
    bands = [charts.Band(*band) for band in pm25_legend()]
    svg = charts.line_chart(
        series,
        title="PM2.5 เฉลี่ยของเมืองรายวัน · City-mean PM2.5 per day",
        chart_id="network-pm25",
        y_label="µg/m³",
        bands=bands,
        threshold=(PM25_STANDARD, f"มาตรฐาน\nstandard\n{PM25_STANDARD}"),
    )
    keys = charts.legend([(s.color, s.name, "line") for s in series])
    return Markup(svg), Markup(keys)


def measure_charts(summary: list[dict[str, Any]]) -> list[dict[str, Any]]:
    result = []
    for index, (column, title_th, title_en, unit, digits) in enumerate(MEASURES):
        items = [(city_label(r), shown(column, r[column])) for r in summary]
        items = sorted(items, key=lambda item: (item[1] is None, -(item[1] or 0)))
        svg = charts.horizontal_bars(
            items,
            title=f"{title_th} · {title_en}",
            chart_id=f"network-{column.replace('_', '-')}",
            color=charts.PALETTE[index % len(charts.PALETTE)],
            value_label=unit,
            digits=digits,
        )
        result.append({"title_th": title_th, "title_en": title_en, "svg": Markup(svg)})
    return result


def rankings(summary: list[dict[str, Any]]) -> list[dict[str, Any]]:
    result = []
    for rank_column, value_column, says_th, says_en in RANKINGS:
        ranked = sorted(
            (r for r in summary if r[rank_column] is not None), key=lambda r: r[rank_column]
        )
        unranked = [r for r in summary if r[rank_column] is None]
        result.append(
            {
                "id": rank_column.replace("_", "-"),
                "says_th": says_th,
                "says_en": says_en,
                "rows": [
                    {
                        "rank": r[rank_column],
                        "city": city_label(r),
                        "stale": r["member_status"] != "verified",
                        "value": number(shown(value_column, r[value_column]), 1),
                    }
                    for r in ranked
                ],
                "unranked": [city_label(r) for r in unranked],
            }
        )
    return result


def latest_forecasts(daily: pa.Table, labels: dict[str, str]) -> list[dict[str, Any]]:
    """Each city's newest day: its PM2.5 and the forecast made for the day after."""
    newest: dict[str, dict[str, Any]] = {}
    for row in daily.to_pylist():
        if row["city_slug"] not in newest or row["date"] > newest[row["city_slug"]]["date"]:
            newest[row["city_slug"]] = row
    return [
        {
            "city": labels[slug],
            "day": thai_date(row["date"]),
            "pm25": number(row["pm25_city_mean"], 1),
            "aqi": row["aqi_pm25"],
            "category": f"{row['aqi_category_th']} · {row['aqi_category_en']}"
            if row["aqi_category_th"]
            else "—",
            "colour": row["aqi_colour_hex"] or "#eef0f3",
            "forecast": number(row["pm25_forecast_tomorrow"], 1),
        }
        for slug, row in sorted(newest.items())
    ]


def render_network_report(
    network: Network,
    marts: dict[str, pa.Table],
    members: dict[str, dict[str, Any]],
    release_id: str,
    created: str,
) -> str:
    daily, summary = marts["network_city_daily"], marts["network_city_summary"].to_pylist()
    labels = {r["city_slug"]: city_label(r) for r in summary}
    pm25_svg, pm25_keys = pm25_chart(daily, labels)
    days = daily.column("date").to_pylist()
    context = {
        "css": stylesheet(),
        "network": network.config,
        "release_id": release_id,
        "generated_local": local_time(created, TIMEZONE),
        "first_day": thai_date(min(days)) if days else thai_date(None),
        "last_day": thai_date(max(days)) if days else thai_date(None),
        "members": [
            {"slug": slug, **facts, "label": f"{facts['name_th']} · {facts['name_en']}"}
            for slug, facts in members.items()
        ],
        "summary": [
            {
                **r,
                "label": city_label(r),
                "period": f"{thai_date(r['period_start'])} – {thai_date(r['period_end'])}"
                if isinstance(r["period_end"], date)
                else "—",
            }
            for r in summary
        ],
        "pm25_svg": pm25_svg,
        "pm25_keys": pm25_keys,
        "measures": measure_charts(summary),
        "rankings": rankings(summary),
        "forecasts": latest_forecasts(daily, labels),
        "number": number,
        "shown": shown,
    }
    return environment().get_template("network.html.j2").render(context)
