"""What a network release publishes: the two network marts, described like the city marts.

The specs are `consume.catalog.PublishedMart`s, so the city release's machinery validates them
(GX suites `expectations/network_*.json`), writes their CSV, analyst database and data package
(column descriptions from `network/columns.yml`).
"""

from __future__ import annotations

from datetime import date

import pyarrow as pa
import pyarrow.compute as pc

from city_pipeline.consume.catalog import AIR4THAI, DOPA, TRAFFY, PublishedMart, Window

NETWORK_MARTS: tuple[PublishedMart, ...] = (
    PublishedMart(
        name="network_city_daily",
        title_en="Network: city daily indicators, side by side",
        title_th="เครือข่าย: ตัวชี้วัดรายวันของแต่ละเมือง",
        description_en="One row per member city per day: city-mean PM2.5 and Thai AQI, "
        "tomorrow's PM2.5 forecast, complaints opened and per 10,000 residents, median "
        "resolution hours, duplicate share, share resolved within 7 days, and whether the "
        "member's release is verified or stale.",
        description_th="หนึ่งแถวต่อเมืองต่อวัน: ค่าเฉลี่ย PM2.5 และดัชนีคุณภาพอากาศ พยากรณ์ PM2.5 "
        "วันพรุ่งนี้ เรื่องร้องเรียนและอัตราต่อประชากร 10,000 คน ชั่วโมงมัธยฐานที่ใช้แก้ไข "
        "สัดส่วนเรื่องซ้ำ สัดส่วนที่แก้ไขภายใน 7 วัน และสถานะความสดของข้อมูลของเมือง",
        grain=("city_slug", "date"),
        sources=(AIR4THAI, TRAFFY, DOPA),
        # ~7,850 local governments in Thailand: the ceiling of cities per day.
        max_rows_per_day=10_000,
        date_column="date",
    ),
    PublishedMart(
        name="network_city_summary",
        title_en="Network: city summary and ranking (last 30 days)",
        title_th="เครือข่าย: สรุปและอันดับของแต่ละเมือง (30 วันล่าสุด)",
        description_en="One row per member city over the last 30 days of its data, with two "
        "rankings: cleanest air (lowest mean PM2.5) and most complaints resolved within 7 days.",
        description_th="หนึ่งแถวต่อเมือง สรุป 30 วันล่าสุดของข้อมูลเมือง พร้อมอันดับอากาศสะอาดที่สุด "
        "(PM2.5 เฉลี่ยต่ำสุด) และอันดับการแก้ไขเรื่องร้องเรียนภายใน 7 วัน",
        grain=("city_slug",),
        sources=(AIR4THAI, TRAFFY, DOPA),
        max_rows_fixed=10_000,
    ),
)


def network_window(daily: pa.Table) -> Window:
    """The days the network marts cover (a one-day window when they are empty)."""
    if daily.num_rows == 0:
        today = date.today()
        return Window(today, today)
    bounds = pc.min_max(daily.column("date")).as_py()
    return Window(bounds["min"], bounds["max"])
