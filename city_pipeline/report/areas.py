"""Complaints by area: per subdistrict (ตำบล), per 1,000 registered residents, and a schematic map.

Tickets come from `fct_complaints` (one row each, opened in the report's 90-day window); residents
from `mart_population` (DOPA), at the finest level it publishes for the city. DOPA's files as the
city configures them may stop at the district (อำเภอ): then the rate is computed per district and
the panel says so, rather than spreading a district's population over its subdistricts.

No subdistrict boundaries can be bundled offline (the DOPA reference has codes and names only), so
the "map" is a schematic: each subdistrict is a circle at the median position of its own tickets,
north up, labelled as not a map.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape
from typing import Any

import pandas as pd
from markupsafe import Markup

from city_pipeline.report import charts
from city_pipeline.report.formatting import number, thai_date
from city_pipeline.report.inputs import CHART_DAYS, ReportInputs, frame, window_tickets

UNKNOWN_AREA = "ไม่ทราบพื้นที่ · Unknown area"
SCHEMATIC_LABEL = "แผนผังไม่ใช่แผนที่ · schematic, not to scale"
LEVEL_WORDS = {
    "subdistrict": ("ตำบล", "subdistrict"),
    "district": ("อำเภอ", "district"),
    "province": ("จังหวัด", "province"),
}
# Ticket column holding the area code at each population level.
TICKET_CODE = {
    "subdistrict": "subdistrict_code",
    "district": "district_code",
    "province": "province_code",
}


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
    return labels.fillna(UNKNOWN_AREA).value_counts()


def city_codes(inputs: ReportInputs, level: str) -> set[str]:
    city = inputs.city
    return {
        "subdistrict": set(city.subdistrict_codes),
        "district": set(city.district_codes),
        "province": {city.province_code},
    }[level]


def city_population(inputs: ReportInputs) -> tuple[str | None, Any, pd.DataFrame]:
    """(level, month, rows): the city's areas at the finest level DOPA published for the newest
    month on or before the report day (the newest month at all if none is that early)."""
    population = frame(inputs, "mart_population")
    if population.empty:
        return None, None, population
    population = population[population["admin_code"].notna() & population["total"].notna()]
    months = population["month"]
    day = inputs.report_day
    eligible = months[months <= day] if day is not None else months
    month = (eligible if not eligible.empty else months).max()
    rows = population[population["month"] == month]
    for level in ("subdistrict", "district", "province"):
        found = rows[(rows["level"] == level) & rows["admin_code"].isin(city_codes(inputs, level))]
        if not found.empty:
            return level, month, found
    return None, month, rows.iloc[0:0]


@dataclass(frozen=True)
class AreaRate:
    code: str
    name: str
    tickets: int
    residents: int
    per_1000: float


def rates(inputs: ReportInputs) -> dict[str, Any]:
    """Complaints in the window per 1,000 registered residents, per area at the population level."""
    level, month, population = city_population(inputs)
    tickets = window_tickets(inputs)
    if level is None or tickets.empty:
        return {"level": level, "month": month, "rows": [], "tickets": 0, "residents": 0}
    counts = tickets[TICKET_CODE[level]].value_counts()
    names = area_names(inputs, level)
    rows = [
        AreaRate(
            code=r.admin_code,
            name=names.get(r.admin_code, r.admin_code),
            tickets=int(counts.get(r.admin_code, 0)),
            residents=int(r.total),
            per_1000=round(int(counts.get(r.admin_code, 0)) / int(r.total) * 1000, 2),
        )
        for r in population.sort_values("admin_code").itertuples()
        if r.total
    ]
    return {
        "level": level,
        "month": month,
        "rows": sorted(rows, key=lambda r: r.per_1000, reverse=True),
        "tickets": sum(r.tickets for r in rows),
        "residents": sum(r.residents for r in rows),
    }


def panel(inputs: ReportInputs) -> dict[str, Any]:
    """The complaints-by-area panel: reading, grain note, rate chart and schematic map."""
    result = rates(inputs)
    level = result["level"]
    per_1000 = (
        round(result["tickets"] / result["residents"] * 1000, 2) if result["residents"] else None
    )
    level_th, level_en = LEVEL_WORDS.get(level or "", ("—", "—"))
    if per_1000 is None:
        reading_th = "ไม่มีข้อมูลประชากรหรือเรื่องร้องเรียนพอคำนวณอัตราต่อประชากร"
        reading_en = "No population or complaint data to compute a rate per resident."
    else:
        reading_th = (
            f"{CHART_DAYS} วันล่าสุด มีเรื่องร้องเรียน {number(per_1000, 2)} เรื่องต่อประชากร "
            f"1,000 คน ({number(result['tickets'])} เรื่อง ประชากร {number(result['residents'])} คน)"
        )
        reading_en = (
            f"In the last {CHART_DAYS} days there were {number(per_1000, 2)} complaints per 1,000 "
            f"registered residents ({number(result['tickets'])} complaints, "
            f"{number(result['residents'])} residents)."
        )
    finest = level == "subdistrict"
    grain_th = (
        "ประชากรรายตำบลจากทะเบียนราษฎร์ (กรมการปกครอง)"
        if finest
        else f"ข้อมูลประชากรที่เผยแพร่ละเอียดถึงระดับ{level_th}เท่านั้น อัตราต่อประชากรจึงคำนวณราย{level_th} "
        "ส่วนรายตำบลแสดงเป็นจำนวนเรื่อง"
    )
    grain_en = (
        "Population per subdistrict from DOPA's civil registration."
        if finest
        else f"The published DOPA population goes down to the {level_en} only, so the rate per "
        f"1,000 residents is per {level_en}; subdistricts show complaint counts."
    )
    return {
        "level": level,
        "level_th": level_th,
        "level_en": level_en,
        "month": thai_date(result["month"]) if result["month"] is not None else "—",
        "rows": result["rows"],
        "tickets": result["tickets"],
        "residents": result["residents"],
        "per_1000": per_1000,
        "reading_th": reading_th,
        "reading_en": reading_en,
        "grain_th": grain_th if level else "ไม่มีข้อมูลประชากร",
        "grain_en": grain_en if level else "No population data.",
        "rate_svg": rate_chart(result["rows"], level_th, level_en),
        "map_svg": schematic_map(inputs, result["rows"] if finest else []),
    }


def rate_chart(rows: list[AreaRate], level_th: str, level_en: str) -> Markup:
    title = f"เรื่องร้องเรียนต่อประชากร 1,000 คน ราย{level_th} · Complaints per 1,000 residents"
    return Markup(
        charts.horizontal_bars(
            [(r.name, r.per_1000) for r in rows[:20]],
            title=title,
            chart_id="chart-complaints-rate",
            color="#c2418d",
            value_label=f"ต่อ 1,000 คน ใน {CHART_DAYS} วัน · per 1,000, {CHART_DAYS} days",
            digits=2,
        )
    )


# --- schematic map --------------------------------------------------------------------------

MAP_WIDTH, MAP_HEIGHT, MAP_PAD, MAX_RADIUS = 520, 420, 48, 34


def subdistrict_points(inputs: ReportInputs) -> pd.DataFrame:
    """Per subdistrict: tickets in the window and the median lat/lon of those that have one."""
    tickets = window_tickets(inputs)
    if tickets.empty:
        return pd.DataFrame(columns=["code", "tickets", "lat", "lon"])
    tickets = tickets[tickets["subdistrict_code"].notna()]
    return (
        tickets.groupby("subdistrict_code")
        .agg(tickets=("ticket_id", "size"), lat=("lat", "median"), lon=("lon", "median"))
        .dropna()
        .reset_index()
        .rename(columns={"subdistrict_code": "code"})
    )


def schematic_map(inputs: ReportInputs, subdistrict_rates: list[AreaRate]) -> Markup:
    """Circles at the median ticket position of each subdistrict; area proportional to the rate
    per 1,000 residents when DOPA gives subdistrict population, else to the complaint count."""
    title = f"แผนผังเรื่องร้องเรียนรายตำบล · Complaints by subdistrict — {SCHEMATIC_LABEL}"
    points = subdistrict_points(inputs)
    if points.empty:
        return Markup(charts.empty_chart(title, "map-subdistricts", "ไม่มีข้อมูล · No data"))
    by_rate = {r.code: r.per_1000 for r in subdistrict_rates}
    points["value"] = points["code"].map(by_rate) if by_rate else points["tickets"]
    points = points.dropna(subset=["value"])
    names = area_names(inputs, "subdistrict")
    # Equirectangular projection, east-west shrunk by cos(latitude): north is up, shapes true.
    shrink = math.cos(math.radians(float(points["lat"].mean())))
    xs, ys = points["lon"] * shrink, points["lat"]
    span = max(float(xs.max() - xs.min()), float(ys.max() - ys.min()), 1e-4)
    scale = min(MAP_WIDTH, MAP_HEIGHT - 40) - 2 * MAP_PAD
    middle_x, middle_y = (xs.min() + xs.max()) / 2, (ys.min() + ys.max()) / 2
    top = max(float(points["value"].max()), 1e-9)
    unit = "ต่อ 1,000 คน · per 1,000" if by_rate else "เรื่อง · complaints"
    parts = [charts.svg_open(title, "map-subdistricts", MAP_WIDTH, MAP_HEIGHT)]
    parts.append(
        f'<rect class="map-frame" x="1" y="1" width="{MAP_WIDTH - 2}" height="{MAP_HEIGHT - 2}"/>'
        f'<text class="map-label" x="12" y="22">{escape(SCHEMATIC_LABEL)}</text>'
        f'<text class="map-label" x="{MAP_WIDTH - 12}" y="22" text-anchor="end">↑ N</text>'
    )
    rows = points.assign(x=xs, y=ys).sort_values("value", ascending=False)
    for row in rows.itertuples():
        cx = MAP_WIDTH / 2 + (row.x - middle_x) / span * scale
        cy = MAP_HEIGHT / 2 - (row.y - middle_y) / span * scale
        radius = max(MAX_RADIUS * math.sqrt(row.value / top), 3)
        name = names.get(row.code, row.code)
        shown = number(row.value, 2 if by_rate else 0)
        parts.append(
            f'<circle class="mark area-dot" cx="{cx:.1f}" cy="{cy:.1f}" r="{radius:.1f}">'
            f"<title>{escape(name)}: {shown} {escape(unit)}</title></circle>"
            f'<text class="map-name" x="{cx:.1f}" y="{cy + 4:.1f}" text-anchor="middle">'
            f"{escape(name.split(' · ')[0])} {shown}</text>"
        )
    parts.append(
        f'<text class="axis-label" x="12" y="{MAP_HEIGHT - 26}">พื้นที่วงกลมตาม{escape(unit)} '
        "ตำแหน่งคือค่ากลางพิกัดของเรื่องในตำบล</text>"
        f'<text class="axis-label" x="12" y="{MAP_HEIGHT - 10}">circle area ∝ '
        f"{escape(unit.split(' · ')[1])}, placed at the median position of the subdistrict's "
        "complaints</text></svg>"
    )
    return Markup("".join(parts))
