"""Panels that answer an executive's questions, each with a one-line reading in Thai and English.

Every figure comes from the published marts: tickets from `fct_complaints` (one row each), the
city's days from `mart_city_daily`. Kept apart from `builder.py` so panels can be added or moved
without touching the charts the report had before.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pandas as pd

from city_pipeline.report.dates import calendar_dates
from city_pipeline.report.labels import category_label

# The Thai 24-hour PM2.5 standard (µg/m³), the top of the "Moderate" AQI band.
PM25_STANDARD = 37.5
AGE_BUCKETS = (("0–7 วัน · days", 0, 7), ("8–30 วัน · days", 8, 30), (">30 วัน · days", 31, None))
# What the Pollution Control Department advises the public at each Thai AQI band (as it words it
# on air4thai.pcd.go.th), keyed by the band's English name in dim_thai_aqi_breakpoint.
PCD_ADVICE = {
    "Excellent": "คุณภาพอากาศดีมาก เหมาะสำหรับกิจกรรมกลางแจ้งและการท่องเที่ยว",
    "Satisfactory": "คุณภาพอากาศดี สามารถทำกิจกรรมกลางแจ้งและการท่องเที่ยวได้ตามปกติ",
    "Moderate": "ประชาชนทั่วไปทำกิจกรรมกลางแจ้งได้ตามปกติ ผู้ที่ต้องดูแลสุขภาพเป็นพิเศษ หากมีอาการ "
    "เช่น ไอ หายใจลำบาก ระคายเคืองตา ควรลดระยะเวลาการทำกิจกรรมกลางแจ้ง",
    "Unhealthy": "ประชาชนทั่วไปควรเฝ้าระวังสุขภาพ ถ้ามีอาการ เช่น ไอ หายใจลำบาก ระคายเคืองตา "
    "ควรลดระยะเวลาการทำกิจกรรมกลางแจ้ง หรือใช้อุปกรณ์ป้องกันตนเองหากมีความจำเป็น",
    "Very unhealthy": "ทุกคนควรหลีกเลี่ยงกิจกรรมกลางแจ้ง หลีกเลี่ยงพื้นที่ที่มีมลพิษทางอากาศสูง "
    "หรือใช้อุปกรณ์ป้องกันตนเองหากมีความจำเป็น หากมีอาการทางสุขภาพควรพบแพทย์",
}


def tickets_opened(tickets: pd.DataFrame, first: date, last: date) -> int:
    if tickets.empty:
        return 0
    opened = calendar_dates(tickets["opened_date"])
    return int(((opened >= first) & (opened <= last)).sum())


def mean_pm25(city_daily: pd.DataFrame, first: date, last: date) -> float | None:
    if city_daily.empty:
        return None
    rows = city_daily[(city_daily["date"] >= first) & (city_daily["date"] <= last)]
    value = rows["pm25_city_mean"].mean()
    return None if pd.isna(value) else round(float(value), 1)


def change_text(now: float | None, before: float | None) -> tuple[str, str]:
    if now is None or before is None or before == 0:
        return "เทียบไม่ได้", "no comparison"
    change = (now - before) / before * 100
    if abs(change) < 5:
        return "ใกล้เคียงเดิม", "about the same"
    word_th, word_en = ("เพิ่มขึ้น", "up") if change > 0 else ("ลดลง", "down")
    return f"{word_th} {abs(change):.0f}%", f"{word_en} {abs(change):.0f}%"


def week_comparison(tickets: pd.DataFrame, city_daily: pd.DataFrame, day: date) -> dict[str, Any]:
    """The 7 days to the report day against the 7 before and the same 7 days a month earlier."""
    periods = {
        "this_week": (day - timedelta(days=6), day),
        "last_week": (day - timedelta(days=13), day - timedelta(days=7)),
        "last_month": (day - timedelta(days=36), day - timedelta(days=30)),
    }
    rows = []
    for name, (first, last) in periods.items():
        rows.append(
            {
                "period": name,
                "first": first,
                "last": last,
                "complaints": tickets_opened(tickets, first, last),
                "pm25": mean_pm25(city_daily, first, last),
            }
        )
    th, en = change_text(rows[0]["complaints"], rows[1]["complaints"])
    pm_th, pm_en = change_text(rows[0]["pm25"], rows[1]["pm25"])
    return {
        "rows": rows,
        "reading_th": f"สัปดาห์นี้เรื่องร้องเรียนใหม่{th}จากสัปดาห์ก่อน ฝุ่น PM2.5 เฉลี่ย{pm_th}",
        "reading_en": f"New complaints this week are {en} on last week; mean PM2.5 is {pm_en}.",
    }


def pm25_month(city_daily: pd.DataFrame, day: date, latest: dict[str, Any]) -> dict[str, Any]:
    """Days this month with the city mean over the 24-hour standard, and PCD's advice for today."""
    month = (
        city_daily[(city_daily["date"] >= day.replace(day=1)) & (city_daily["date"] <= day)]
        if not city_daily.empty
        else city_daily
    )
    over = int((month["pm25_city_mean"] > PM25_STANDARD).sum()) if not month.empty else 0
    counted = int(month["pm25_city_mean"].notna().sum()) if not month.empty else 0
    band = latest.get("aqi_max_category_en") or ""
    return {
        "days_over": over,
        "days_counted": counted,
        "band_th": latest.get("aqi_max_category_th") or "—",
        "band_en": band or "—",
        "advice_th": PCD_ADVICE.get(band, "ไม่มีข้อมูลดัชนีคุณภาพอากาศ"),
        "reading_th": f"เดือนนี้ค่าฝุ่น PM2.5 เฉลี่ยทั้งเมืองเกินมาตรฐาน {over} จาก {counted} วัน",
        "reading_en": f"This month the city-mean PM2.5 was over the standard on {over} of "
        f"{counted} days.",
    }


def open_cases(tickets: pd.DataFrame, day: date) -> dict[str, Any]:
    """Tickets open at the end of the report day: by age, by responsible agency, the oldest ten."""
    if tickets.empty:
        return {
            "total": 0,
            "ages": [],
            "agencies": [],
            "oldest": [],
            "reading_th": "",
            "reading_en": "",
        }
    opened = calendar_dates(tickets["opened_date"])
    closed = calendar_dates(tickets["closed_date"])
    is_open = (opened <= day) & (closed.isna() | (closed > day))
    rows = tickets[is_open].assign(age=[(day - d).days for d in opened[is_open]])
    ages = [
        {
            "label": label,
            "count": int(((rows["age"] >= low) & (rows["age"] <= (high or 10**6))).sum()),
        }
        for label, low, high in AGE_BUCKETS
    ]
    # The agency doing the work is the last organisation a ticket was passed to.
    agency = rows["organisations"].map(
        lambda orgs: orgs[-1] if orgs is not None and len(orgs) else "ไม่ระบุ · not assigned"
    )
    agencies = agency.value_counts().head(10)
    oldest = rows.sort_values(["age", "ticket_id"], ascending=[False, True]).head(10)
    over_30 = ages[2]["count"]
    return {
        "total": len(rows),
        "ages": ages,
        "agencies": [{"agency": a, "count": int(n)} for a, n in agencies.items()],
        "oldest": [
            {
                "ticket_id": r["ticket_id"],
                "age": int(r["age"]),
                "category": category_label(r["categories"][0] if len(r["categories"]) else None),
                "agency": r["organisations"][-1] if len(r["organisations"]) else "—",
                "state": r["state"],
            }
            for _, r in oldest.iterrows()
        ],
        "reading_th": f"มีเรื่องค้าง {len(rows):,} เรื่อง ในจำนวนนี้ {over_30:,} เรื่องค้างนานกว่า 30 วัน",
        "reading_en": f"{len(rows):,} cases are open; {over_30:,} of them for more than 30 days.",
    }


def resolution_by_category(tickets: pd.DataFrame, day: date, days: int = 90) -> dict[str, Any]:
    """Median days from report to resolution, per category, of tickets resolved in the window."""
    if tickets.empty:
        return {"rows": [], "reading_th": "", "reading_en": ""}
    closed = calendar_dates(tickets["closed_date"])
    done = tickets[(closed >= day - timedelta(days=days - 1)) & (closed <= day)]
    done = done[done["resolution_hours"].notna()].explode("categories")
    table = (
        done.groupby("categories")["resolution_hours"]
        .agg(["median", "count"])
        .sort_values("median")
    )
    rows = [
        {
            "category": category_label(c),
            "median_days": round(r["median"] / 24, 1),
            "count": int(r["count"]),
        }
        for c, r in table.iterrows()
    ]
    if not rows:
        return {"rows": [], "reading_th": "", "reading_en": ""}
    slow = rows[-1]
    return {
        "rows": rows,
        "reading_th": f"หมวดที่แก้ไขช้าที่สุดคือ {slow['category'].split(' · ')[0]} "
        f"(ค่ามัธยฐาน {slow['median_days']} วัน)",
        "reading_en": f"The slowest category to resolve is {slow['category'].split(' · ')[-1]} "
        f"(median {slow['median_days']} days).",
    }
