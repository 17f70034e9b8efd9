"""What the platform publishes: one entry per mart, with the words people read about it.

The dbt project defines the marts (columns, types, descriptions in
`dbt_project/models/marts/*.yml`); this catalogue adds what publishing needs: Thai and English
titles, which columns hold citizens' free text (scrubbed before publishing), the grain, the sources
to credit, and a row-count ceiling relative to the partition window (a mart that suddenly holds ten
times its grain is a bug, not data).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from city_pipeline.settings import PROJECT_ROOT, Settings

EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"
DBT_MARTS_DIR = PROJECT_ROOT / "dbt_project" / "models" / "marts"


@dataclass(frozen=True)
class DataSource:
    """A publisher credited in the data package (Frictionless `sources`)."""

    title: str
    path: str


AIR4THAI = DataSource(
    "Air4Thai, Pollution Control Department (กรมควบคุมมลพิษ)", "http://air4thai.pcd.go.th"
)
TRAFFY = DataSource("Traffy Fondue, NECTEC (ทราฟฟี่ฟองดูว์ สวทช.)", "https://www.traffy.in.th")
OPEN_METEO = DataSource("Open-Meteo historical weather API (CC BY 4.0)", "https://open-meteo.com")
DOPA = DataSource(
    "Department of Provincial Administration registration statistics (สถิติทะเบียนราษฎร กรมการปกครอง)",
    "https://stat.bora.dopa.go.th",
)
GEOGRAPHY = DataSource(
    "thailand-geography-json (MIT), DOPA administrative codes",
    "https://github.com/thailand-geography-data/thailand-geography-json",
)


@dataclass(frozen=True)
class Window:
    """The partition window the published marts cover: from the city's first partition to today
    (or to the end of the bundled recordings, whichever is later)."""

    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def months(self) -> int:
        return (self.end.year - self.start.year) * 12 + self.end.month - self.start.month + 1


@dataclass(frozen=True)
class PublishedMart:
    name: str
    title_en: str
    title_th: str
    description_en: str
    description_th: str
    grain: tuple[str, ...]
    sources: tuple[DataSource, ...]
    # Columns that can hold citizens' own words: scrubbed of PII before anything is published.
    free_text_columns: tuple[str, ...] = ()
    # Ceiling on rows: per day of the window, per month, or a fixed number (dimensions).
    max_rows_per_day: int | None = None
    max_rows_per_month: int | None = None
    max_rows_fixed: int | None = None
    date_column: str | None = None
    # False when a grain column may be NULL (e.g. an unresolved district): then the data package
    # states no primaryKey, since Table Schema primary keys cannot hold NULL.
    primary_key: bool = True
    tags: tuple[str, ...] = field(default_factory=tuple)
    # The warehouse schema holding the table: dbt's `marts`, or `analyse` for model outputs.
    schema: str = "marts"

    @property
    def suite_path(self) -> Path:
        return EXPECTATIONS_DIR / f"{self.name}.json"

    def max_rows(self, window: Window) -> int:
        bounds = [
            b
            for b in (
                self.max_rows_per_day and self.max_rows_per_day * window.days,
                self.max_rows_per_month and self.max_rows_per_month * window.months,
                self.max_rows_fixed,
            )
            if b
        ]
        return max(bounds) if bounds else 10_000_000

    @property
    def title(self) -> str:
        return f"{self.title_th} · {self.title_en}"


PUBLISHED_MARTS: tuple[PublishedMart, ...] = (
    PublishedMart(
        name="mart_city_daily",
        title_en="City daily indicators",
        title_th="ตัวชี้วัดเมืองรายวัน",
        description_en="One row per day for the whole city: PM2.5 city mean and Thai AQI, the "
        "worst station, complaints opened/resolved/backlog, rainfall and temperature.",
        description_th="หนึ่งแถวต่อวันสำหรับทั้งเมือง: ค่าเฉลี่ย PM2.5 และดัชนีคุณภาพอากาศ (AQI) "
        "สถานีที่แย่ที่สุด เรื่องร้องเรียนที่รับ/แก้ไข/ค้าง ปริมาณฝน และอุณหภูมิ",
        grain=("date",),
        sources=(AIR4THAI, TRAFFY, OPEN_METEO),
        max_rows_per_day=1,
        date_column="date",
        tags=("dashboard",),
    ),
    PublishedMart(
        name="mart_air_quality_daily",
        title_en="Daily air quality per station",
        title_th="คุณภาพอากาศรายวันรายสถานี",
        description_en="One row per station per day: PM2.5 24-hour mean and hourly maximum, PM10, "
        "completeness, Thai AQI (Pollution Control Department method) and category.",
        description_th="หนึ่งแถวต่อสถานีต่อวัน: ค่าเฉลี่ย PM2.5 24 ชั่วโมงและค่าสูงสุดรายชั่วโมง PM10 "
        "ความครบถ้วนของข้อมูล ดัชนีคุณภาพอากาศ (AQI) ตามวิธีของกรมควบคุมมลพิษ",
        grain=("station_id", "date"),
        sources=(AIR4THAI,),
        max_rows_per_day=200,
        date_column="date",
    ),
    PublishedMart(
        name="dim_air_station",
        title_en="Air quality monitoring stations",
        title_th="สถานีตรวจวัดคุณภาพอากาศ",
        description_en="The city's Air4Thai stations: names in Thai and English, area, location "
        "and administrative codes.",
        description_th="สถานีตรวจวัดคุณภาพอากาศ Air4Thai ของเมือง: ชื่อภาษาไทยและอังกฤษ พื้นที่ "
        "พิกัด และรหัสเขตการปกครอง",
        grain=("station_id",),
        sources=(AIR4THAI, GEOGRAPHY),
        max_rows_fixed=1000,
    ),
    PublishedMart(
        name="fct_complaints",
        title_en="Citizen complaints (Traffy Fondue)",
        title_th="เรื่องร้องเรียนของประชาชน (ทราฟฟี่ฟองดูว์)",
        description_en="One row per complaint ticket in its latest state: categories, state, "
        "opened/closed times, resolution hours, district and subdistrict. Personal "
        "data in free text is replaced by [ID], [PHONE], [EMAIL], [NAME] and [PLATE].",
        description_th="หนึ่งแถวต่อเรื่องร้องเรียน (สถานะล่าสุด): ประเภท สถานะ เวลารับ/ปิดเรื่อง "
        "ชั่วโมงที่ใช้แก้ไข อำเภอและตำบล ข้อมูลส่วนบุคคลในข้อความถูกแทนด้วย [ID] "
        "[PHONE] [EMAIL] [NAME] และ [PLATE]",
        grain=("ticket_id",),
        sources=(TRAFFY, GEOGRAPHY),
        free_text_columns=("description", "address"),
        max_rows_per_day=20_000,
    ),
    PublishedMart(
        name="mart_complaints_daily",
        title_en="Daily complaints by district and category",
        title_th="เรื่องร้องเรียนรายวัน ตามอำเภอและประเภท",
        description_en="Date × district × category: complaints opened, resolved, backlog at the "
        "end of the day and median resolution hours.",
        description_th="วัน × อำเภอ × ประเภท: จำนวนเรื่องที่รับ ที่แก้ไขแล้ว เรื่องค้าง ณ สิ้นวัน "
        "และค่ามัธยฐานชั่วโมงที่ใช้แก้ไข",
        grain=("date", "district_code", "category"),
        sources=(TRAFFY, GEOGRAPHY),
        max_rows_per_day=5000,
        date_column="date",
        primary_key=False,
    ),
    PublishedMart(
        name="mart_weather_daily",
        title_en="Daily weather",
        title_th="สภาพอากาศรายวัน",
        description_en="One row per day: temperature minimum/mean/maximum, rainfall and mean "
        "relative humidity at the city centre.",
        description_th="หนึ่งแถวต่อวัน: อุณหภูมิต่ำสุด/เฉลี่ย/สูงสุด ปริมาณฝน และความชื้นสัมพัทธ์เฉลี่ย ที่ใจกลางเมือง",
        grain=("date",),
        sources=(OPEN_METEO,),
        max_rows_per_day=1,
        date_column="date",
    ),
    PublishedMart(
        name="mart_population",
        title_en="Registered population by area and month",
        title_th="ประชากรตามทะเบียนราษฎร รายพื้นที่ รายเดือน",
        description_en="Administrative area × month: registered males, females, total and "
        "households.",
        description_th="เขตการปกครอง × เดือน: จำนวนชาย หญิง รวม และจำนวนบ้านตามทะเบียนราษฎร",
        grain=("month", "level", "admin_code", "source_admin_code", "source_admin_name_th"),
        sources=(DOPA, GEOGRAPHY),
        max_rows_per_month=10_000,
        date_column="month",
        primary_key=False,
    ),
    PublishedMart(
        name="dim_admin_area",
        title_en="Thai administrative areas",
        title_th="พื้นที่การปกครองของประเทศไทย",
        description_en="Provinces, districts and subdistricts with DOPA codes, Thai and English "
        "names and postcodes; the city's own areas are flagged. Join any mart to it by area.",
        description_th="จังหวัด อำเภอ ตำบล พร้อมรหัสกรมการปกครอง ชื่อไทย-อังกฤษ และรหัสไปรษณีย์ "
        "ระบุพื้นที่ของเมือง ใช้เชื่อมโยงข้อมูลทุกชุดตามพื้นที่",
        grain=("admin_code",),
        sources=(GEOGRAPHY,),
        max_rows_fixed=20_000,
    ),
    PublishedMart(
        name="dim_thai_aqi_breakpoint",
        title_en="Thai AQI band table",
        title_th="ตารางเกณฑ์ดัชนีคุณภาพอากาศ",
        description_en="The Pollution Control Department's AQI bands used for every AQI in the "
        "marts, by pollutant and validity dates (the PM2.5 bands changed on 2023-06-01).",
        description_th="ช่วงค่าดัชนีคุณภาพอากาศของกรมควบคุมมลพิษที่ใช้คำนวณ AQI ทุกค่า "
        "แยกตามสารมลพิษและช่วงวันที่ใช้ (เกณฑ์ PM2.5 เปลี่ยนเมื่อ 1 มิ.ย. 2566)",
        grain=("pollutant", "valid_from", "band"),
        sources=(AIR4THAI,),
        max_rows_fixed=200,
    ),
    PublishedMart(
        name="pm25_forecast",
        schema="analyse",
        title_en="Tomorrow's PM2.5 forecast",
        title_th="พยากรณ์ PM2.5 วันพรุ่งนี้",
        description_en="One row per forecast day and station, plus the city: the next day's "
        "24-hour mean PM2.5 with an 80% interval, Thai AQI category, the method published "
        "(model, or persistence where the model did not beat it) and the model version.",
        description_th="หนึ่งแถวต่อวันที่พยากรณ์ต่อสถานี และทั้งเมือง: ค่าเฉลี่ย PM2.5 24 ชั่วโมงของวันถัดไป "
        "พร้อมช่วงความเชื่อมั่น 80% ระดับดัชนีคุณภาพอากาศ วิธีที่ใช้ และรุ่นของตัวแบบ",
        grain=("forecast_date", "station_id"),
        sources=(AIR4THAI,),
        max_rows_per_day=50,
        tags=("analyse",),
    ),
    PublishedMart(
        name="air_sensor_flags",
        schema="analyse",
        title_en="Air sensor anomaly flags",
        title_th="ธงความผิดปกติของเครื่องวัดคุณภาพอากาศ",
        description_en="One row per station, day and reason: flat lines, spikes, PM2.5 above "
        "PM10, out-of-range values, divergence from the regional median. Advice for maintenance; "
        "official AQI figures are not changed.",
        description_th="หนึ่งแถวต่อสถานี วัน และเหตุผล: ค่าคงที่ผิดปกติ ค่ากระโดด PM2.5 สูงกว่า PM10 "
        "ค่านอกช่วง หรือต่างจากค่ากลางของภูมิภาค เพื่อการบำรุงรักษาเท่านั้น ไม่เปลี่ยนค่า AQI ทางการ",
        grain=("station_id", "date", "reason"),
        sources=(AIR4THAI,),
        max_rows_per_day=2_000,
        tags=("analyse",),
    ),
    PublishedMart(
        name="complaint_insights",
        schema="analyse",
        title_en="Complaint types predicted and duplicates",
        title_th="ประเภทเรื่องร้องเรียนที่คาดและเรื่องซ้ำ",
        description_en="One row per complaint: the problem type a classifier reads from the "
        "scrubbed text, beside the citizen's own types, its confidence, whether it confidently "
        "disagrees with the citizen, the first report of the same problem (duplicate_of) and "
        "the model version.",
        description_th="หนึ่งแถวต่อเรื่องร้องเรียน: ประเภทปัญหาที่ตัวแบบอ่านจากข้อความ (ที่ลบข้อมูลส่วนบุคคลแล้ว) "
        "เทียบกับประเภทที่ผู้แจ้งเลือก ความมั่นใจ การขัดแย้งกับผู้แจ้ง เรื่องแรกของปัญหาเดียวกัน และรุ่นของตัวแบบ",
        grain=("ticket_id",),
        sources=(TRAFFY,),
        max_rows_per_day=20_000,
        tags=("analyse",),
    ),
    PublishedMart(
        name="complaint_surges",
        schema="analyse",
        title_en="Complaint surges by subdistrict and problem type",
        title_th="การเพิ่มขึ้นผิดปกติของเรื่องร้องเรียน รายตำบลและประเภท",
        description_en="Subdistrict × problem type × day: complaints observed, expected from the "
        "28 days before (with day of week), the Poisson p-value and an alert when the count is "
        "improbably high.",
        description_th="ตำบล × ประเภทปัญหา × วัน: จำนวนเรื่องที่พบ จำนวนที่คาดจาก 28 วันก่อนหน้า "
        "ค่าความน่าจะเป็น และการแจ้งเตือนเมื่อจำนวนสูงผิดปกติ",
        grain=("date", "subdistrict_code", "problem_type"),
        sources=(TRAFFY, GEOGRAPHY),
        max_rows_per_day=20_000,
        date_column="date",
        tags=("analyse",),
    ),
)


def mart_by_name(name: str) -> PublishedMart:
    for mart in PUBLISHED_MARTS:
        if mart.name == name:
            return mart
    raise KeyError(f"{name} is not a published mart; known: {[m.name for m in PUBLISHED_MARTS]}")


@cache
def dbt_model_docs(marts_dir: Path = DBT_MARTS_DIR) -> dict[str, dict[str, Any]]:
    """Model and column descriptions from the dbt YAML files, keyed by model name.

    Used for the data package and the analyst database's COMMENTs, so analysts read the same words
    as the dbt docs. Missing files give an empty mapping (publishing still works)."""
    models: dict[str, dict[str, Any]] = {}
    for path in sorted(marts_dir.glob("*.yml")) if marts_dir.exists() else []:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for model in document.get("models") or []:
            if isinstance(model, dict) and "name" in model:
                models[model["name"]] = model
    return models


# The Analyse stage's tables are not dbt models: their columns are described here, same shape.
ANALYSE_COLUMNS_FILE = PROJECT_ROOT / "city_pipeline" / "analyse" / "columns.yml"


@cache
def analyse_model_docs(path: Path = ANALYSE_COLUMNS_FILE) -> dict[str, dict[str, Any]]:
    document = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else {}
    return {m["name"]: m for m in (document or {}).get("models") or []}


# The network hub's marts (city_pipeline/network/) are described the same way.
NETWORK_COLUMNS_FILE = PROJECT_ROOT / "city_pipeline" / "network" / "columns.yml"


def column_descriptions(mart: str, marts_dir: Path = DBT_MARTS_DIR) -> dict[str, str]:
    model = (
        dbt_model_docs(marts_dir).get(mart)
        or analyse_model_docs().get(mart)
        or analyse_model_docs(NETWORK_COLUMNS_FILE).get(mart, {})
    )
    return {
        c["name"]: " ".join(str(c.get("description") or "").split())
        for c in model.get("columns") or []
        if isinstance(c, dict) and "name" in c
    }


def publish_window(settings: Settings, today: date | None = None) -> Window:
    """From the first partition to the city's today (or the end of the bundled recordings)."""
    if today is None:
        today = datetime.now(ZoneInfo(settings.city.timezone)).date()
    return Window(settings.config.partitions_start, max(today, settings.config.recorded_window.end))
