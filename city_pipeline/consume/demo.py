"""A small, seeded warehouse with every published mart, shaped by the dbt contracts.

Tests of the consume layer use it instead of running capture and dbt, and it previews the report:

    .venv/bin/python -m city_pipeline.consume.demo /tmp/demo   # writes a demo release there

Column names and types come from `dbt_project/models/marts/_marts.yml` (the enforced contracts),
so a contract change that the consume layer does not follow fails its tests. The values are
invented but plausible for Khon Kaen in the dry season; `pii=True` seeds personal data into
complaint descriptions and addresses, to prove none of it is published.
"""

from __future__ import annotations

import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from city_pipeline.analyse.aqi import band_table, categories
from city_pipeline.consume.catalog import dbt_model_docs

STATIONS = (
    ("46t", "ศูนย์ราชการจังหวัดขอนแก่น", "Khon Kaen Provincial Hall", 16.4467, 102.8336),
    (
        "97t",
        "สำนักงานทรัพยากรธรรมชาติและสิ่งแวดล้อมจังหวัดขอนแก่น",
        "Khon Kaen Provincial Office of Natural Resources",
        16.4228,
        102.8258,
    ),
)
DISTRICTS = (("4001", "เมืองขอนแก่น", "Mueang Khon Kaen"), ("4002", "บ้านฝาง", "Ban Fang"))
SUBDISTRICTS = (("400101", "ในเมือง", "Nai Mueang"), ("400102", "สำราญ", "Samran"))
CATEGORIES = ("ถนน", "ความสะอาด", "แสงสว่าง", "ทางเท้า", "น้ำท่วม", "ท่อระบายน้ำ", "จราจร")
# The PCD bands and categories of the dbt macro (see analyse.aqi), PM2.5 from 2023-06-01.
PM25_BANDS = tuple(band_table("PM25", date(2023, 6, 1))["bands"])
AQI_CATEGORIES = tuple((c.band, c.name_th, c.name_en, c.colour, c.colour_hex) for c in categories())
# Seeded personal data: (text, what must never be published). The ID has a valid check digit.
SEEDED_PII = (
    ("ผู้แจ้ง นายสมชาย ใจดี เลขบัตรประชาชน 1-1037-00123-45-8", "1-1037-00123-45-8"),
    ("ติดต่อกลับได้ที่เบอร์ 081-234-5678 ค่ะ", "081-234-5678"),
    ("อีเมล somchai.42@example.com", "somchai.42@example.com"),
    ("บัตร 1103700123458 โทร 043 123 456", "1103700123458"),
    ("แจ้งโดย นางสาวพลอย อะโนมา", "พลอย อะโนมา"),
    ("รถทะเบียน 1กข 1234 ขอนแก่น จอดขวาง", "กข 1234"),
    # control characters a broken client or a prankster can send: NUL, ESC, right-to-left override
    ("ข้อความ\x00มี\x1bอักขระ\u202eควบคุม", "\x00"),
    ("ปิดท้าย\u202eกลับด้าน", "\u202e"),
    ("escape\x1b[31m", "\x1b"),
)


def pm25_aqi(value: float) -> int:
    x = round(value, 1)
    for low, high, i_low, i_high in PM25_BANDS:
        if high is None:
            return round((200 - 101) / (75.0 - 37.6) * (x - low) + i_low)
        if x <= high:
            return round((i_high - i_low) / (high - low) * (x - low) + i_low)
    raise AssertionError("unreachable")


def aqi_band(aqi: int) -> int:
    return 1 if aqi <= 25 else 2 if aqi <= 50 else 3 if aqi <= 100 else 4 if aqi <= 200 else 5


def days_of(start: date, days: int) -> list[date]:
    return [start + timedelta(days=i) for i in range(days)]


def air_quality(start: date, days: int, rng: np.random.Generator) -> pd.DataFrame:
    rows = []
    for day in days_of(start, days):
        season = 30 + 18 * np.sin((day - start).days / days * np.pi)
        for station_id, *_ in STATIONS:
            hours = int(rng.choice([24, 24, 24, 23, 20, 12]))
            pm25 = round(max(3.0, season + rng.normal(0, 8)), 1)
            aqi = pm25_aqi(pm25)
            band = aqi_band(aqi)
            _, th, en, colour, hex_code = AQI_CATEGORIES[band - 1]
            rows.append(
                {
                    "date": day,
                    "station_id": station_id,
                    "hours_measured": hours,
                    "completeness_pct": round(100 * hours / 24, 1),
                    "is_complete_day": hours >= 18,
                    "pm25_24h_mean": pm25,
                    "pm25_max_1h": round(pm25 * 1.6, 1),
                    "pm10_24h_mean": round(pm25 * 1.7, 1),
                    "o3_max_8h": 31.0,
                    "co_max_8h": 0.6,
                    "no2_max_1h": 18.0,
                    "so2_max_1h": 2.0,
                    "aqi_pm25": aqi,
                    "aqi_pm10": 40,
                    "aqi_o3": 22,
                    "aqi_co": 3,
                    "aqi_no2": 8,
                    "aqi_so2": 1,
                    "aqi": max(aqi, 40),
                    "aqi_param": "PM25" if aqi >= 40 else "PM10",
                    "aqi_band": aqi_band(max(aqi, 40)),
                    "aqi_category_th": AQI_CATEGORIES[aqi_band(max(aqi, 40)) - 1][1],
                    "aqi_category_en": AQI_CATEGORIES[aqi_band(max(aqi, 40)) - 1][2],
                    "aqi_colour": AQI_CATEGORIES[aqi_band(max(aqi, 40)) - 1][3],
                    "aqi_colour_hex": AQI_CATEGORIES[aqi_band(max(aqi, 40)) - 1][4],
                    "exceeds_pm25_standard": pm25 > 37.5,
                }
            )
    return pd.DataFrame(rows)


def complaints(start: date, days: int, rng: np.random.Generator, pii: bool) -> pd.DataFrame:
    rows = []
    for offset, day in enumerate(days_of(start, days)):
        for n in range(int(rng.integers(3, 9))):
            first = CATEGORIES[int(rng.integers(0, len(CATEGORIES)))]
            categories = sorted({first, "ถนน"} if rng.random() < 0.3 else {first})
            opened = datetime(day.year, day.month, day.day, int(rng.integers(6, 22)), 15)
            resolved = rng.random() < 0.7
            hours = float(rng.integers(2, 24 * 6)) if resolved else None
            closed = opened + timedelta(hours=hours) if hours else None
            district = DISTRICTS[0] if rng.random() < 0.85 else DISTRICTS[1]
            unresolved_name = rng.random() < 0.05
            rows.append(
                {
                    "ticket_id": f"{day.year}-D{offset:03d}{n:02d}",
                    "complaint_type": ",".join(categories),
                    "categories": categories,
                    "organisations": ["เทศบาลนครขอนแก่น"],
                    "state": "เสร็จสิ้น" if resolved else "กำลังดำเนินการ",
                    "state_group": "resolved" if resolved else "in_progress",
                    "is_resolved": resolved,
                    "opened_at": opened,
                    "closed_at": closed,
                    "opened_date": day,
                    "closed_date": closed.date() if closed else None,
                    "resolution_hours": hours,
                    "inprogress_at": opened + timedelta(hours=1),
                    "last_activity_at": closed or opened,
                    "province_code": "40",
                    "district_code": None if unresolved_name else district[0],
                    "subdistrict_code": None if unresolved_name else SUBDISTRICTS[0][0],
                    "province_name": "ขอนแก่น",
                    "district_name": district[1],
                    "subdistrict_name": SUBDISTRICTS[0][1],
                    "is_district_resolved": not unresolved_name,
                    "lat": 16.43 + rng.normal(0, 0.01),
                    "lon": 102.83 + rng.normal(0, 0.01),
                    "coordinates_out_of_bounds": False,
                    "address": f"ถนนมิตรภาพ ต.ในเมือง อ.เมืองขอนแก่น {n}",
                    "address_truncated": False,
                    "description": f"{first} มีปัญหา บริเวณซอย {n}",
                    "description_truncated": False,
                    "star": None,
                    "count_reopen": 0,
                    "photo_url": None,
                    "after_photo_url": None,
                    "source_endpoint": "stat_api",
                    "versions_seen": 1,
                    "last_seen_date": start + timedelta(days=days - 1),
                }
            )
    data = pd.DataFrame(rows)
    if pii:
        for index, (text, _) in enumerate(SEEDED_PII):
            data.loc[index, "description"] += f" {text}"
            data.loc[len(data) - 1 - index, "address"] += f" {text}"
    return data


def weather(start: date, days: int, rng: np.random.Generator) -> pd.DataFrame:
    rows = []
    for day in days_of(start, days):
        rain = round(float(rng.exponential(6)), 1) if rng.random() < 0.2 else 0.0
        low = round(19 + rng.normal(0, 2), 1)
        rows.append(
            {
                "date": day,
                "temperature_min_c": low,
                "temperature_mean_c": low + 6,
                "temperature_max_c": low + 12,
                "rainfall_mm": rain,
                "relative_humidity_mean_pct": round(55 + rng.normal(0, 8), 1),
                "hours_observed": 24,
            }
        )
    return pd.DataFrame(rows)


def population(start: date, days: int) -> pd.DataFrame:
    months = sorted({d.replace(day=1) for d in days_of(start, days)})
    rows = []
    for month in months:
        yymm = f"{(month.year + 543) % 100:02d}{month.month:02d}"
        rows.append(
            {
                "month": month,
                "level": "province",
                "admin_code": "40",
                "source_admin_code": "40",
                "source_admin_name_th": "จังหวัดขอนแก่น",
                "name_th": "ขอนแก่น",
                "name_en": "Khon Kaen",
                "province_code": "40",
                "is_city_area": True,
                "male": 884_000,
                "female": 915_000,
                "total": 1_799_000,
                "households": 690_000,
                "yymm_be": yymm,
            }
        )
        for code, th, en in DISTRICTS:
            rows.append(
                {
                    "month": month,
                    "level": "district",
                    "admin_code": code,
                    "source_admin_code": code,
                    "source_admin_name_th": f"อำเภอ{th}",
                    "name_th": th,
                    "name_en": en,
                    "province_code": "40",
                    "is_city_area": code == "4001",
                    "male": 190_000,
                    "female": 201_000,
                    "total": 391_000,
                    "households": 170_000,
                    "yymm_be": yymm,
                }
            )
    return pd.DataFrame(rows)


def admin_areas() -> pd.DataFrame:
    rows = [
        {"admin_code": "0", "level": "country", "name_th": "ประเทศไทย", "name_en": "Thailand"},
        {
            "admin_code": "40",
            "level": "province",
            "name_th": "ขอนแก่น",
            "name_en": "Khon Kaen",
            "province_code": "40",
            "parent_code": "0",
            "is_city_area": True,
        },
    ]
    for code, th, en in DISTRICTS:
        rows.append(
            {
                "admin_code": code,
                "level": "district",
                "name_th": th,
                "name_en": en,
                "province_code": "40",
                "district_code": code,
                "parent_code": "40",
                "postcode": "40000",
                "is_city_area": code == "4001",
            }
        )
    for code, th, en in SUBDISTRICTS:
        rows.append(
            {
                "admin_code": code,
                "level": "subdistrict",
                "name_th": th,
                "name_en": en,
                "province_code": "40",
                "district_code": code[:4],
                "subdistrict_code": code,
                "parent_code": code[:4],
                "postcode": "40000",
                "is_city_area": True,
            }
        )
    data = pd.DataFrame(rows)
    data["is_city_area"] = data["is_city_area"].fillna(False).astype(bool)
    return data


def breakpoints() -> pd.DataFrame:
    rows = []
    for band, (low, high, i_low, i_high) in enumerate(PM25_BANDS, start=1):
        _, th, en, colour, hex_code = AQI_CATEGORIES[band - 1]
        rows.append(
            {
                "pollutant": "PM25",
                "averaging_period": "24h",
                "unit": "µg/m³",
                "valid_from": date(2023, 6, 1),
                "valid_to": None,
                "concentration_decimals": 1,
                "band": band,
                "concentration_low": low,
                "concentration_high": high,
                "aqi_low": i_low,
                "aqi_high": i_high,
                "category_th": th,
                "category_en": en,
                "colour": colour,
                "colour_hex": hex_code,
            }
        )
    return pd.DataFrame(rows)


def stations(start: date, days: int) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "station_id": sid,
                "name_th": th,
                "name_en": en,
                "area_th": "ต.ในเมือง อ.เมือง จ.ขอนแก่น",
                "area_en": "Nai Mueang, Mueang, Khon Kaen",
                "station_type": "GROUND",
                "lat": lat,
                "lon": lon,
                "coordinates_out_of_bounds": False,
                "province_code": "40",
                "district_code": "4001",
                "subdistrict_code": "400101",
                "first_seen_date": start,
                "last_seen_date": start + timedelta(days=days - 1),
            }
            for sid, th, en, lat, lon in STATIONS
        ]
    )


COMPLAINTS_DAILY_SQL = """
with by_category as (
    select district_code, unnest(categories) as category, opened_date, closed_date,
           is_resolved, resolution_hours
    from fct_complaints
), events as (
    select date, district_code, category, sum(opened) as opened, sum(resolved) as resolved,
           max(median_resolution_hours) as median_resolution_hours
    from (
        select opened_date as date, district_code, category, count(*) as opened, 0 as resolved,
               null::double as median_resolution_hours
        from by_category group by all
        union all by name
        select closed_date as date, district_code, category, 0 as opened, count(*) as resolved,
               median(resolution_hours) as median_resolution_hours
        from by_category where is_resolved group by all
    ) group by all
)
select e.date, e.district_code, a.name_th as district_name_th, a.name_en as district_name_en,
       e.category, e.opened::integer as opened, e.resolved::integer as resolved,
       (sum(e.opened - e.resolved) over (partition by e.district_code, e.category order by e.date
            rows between unbounded preceding and current row))::integer as backlog_end_of_day,
       round(e.median_resolution_hours, 2) as median_resolution_hours
from events e left join dim_admin_area a on e.district_code = a.admin_code
where e.date <= (select max(opened_date) from fct_complaints)
"""

CITY_DAILY_SQL = """
with air as (
    select date, count(*) as stations_reporting, round(avg(pm25_24h_mean), 1) as pm25_city_mean,
           max(aqi) as aqi_max, count(*) filter (where exceeds_pm25_standard) as exceeding,
           arg_max(station_id, aqi) as worst_station_id
    from mart_air_quality_daily group by date
), opened as (
    select opened_date as date, count(*) as n from fct_complaints group by all
), resolved as (
    select closed_date as date, count(*) as n, median(resolution_hours) as median_hours
    from fct_complaints where is_resolved group by all
)
select w.date, air.stations_reporting::integer as stations_reporting, air.pm25_city_mean,
       air.aqi_max as aqi_pm25_city_mean, air.aqi_max,
       q.aqi_category_th as aqi_max_category_th, q.aqi_category_en as aqi_max_category_en,
       q.aqi_colour as aqi_max_colour, air.worst_station_id,
       s.name_th as worst_station_name_th, s.name_en as worst_station_name_en,
       air.exceeding::integer as stations_exceeding_pm25_standard,
       coalesce(o.n, 0)::integer as complaints_opened,
       coalesce(r.n, 0)::integer as complaints_resolved,
       (sum(coalesce(o.n, 0) - coalesce(r.n, 0)) over (order by w.date))::integer
           as complaints_backlog,
       round(r.median_hours, 2) as complaints_median_resolution_hours,
       w.rainfall_mm, w.temperature_min_c, w.temperature_mean_c, w.temperature_max_c,
       w.relative_humidity_mean_pct
from mart_weather_daily w
left join air on w.date = air.date
left join mart_air_quality_daily q on q.date = air.date and q.station_id = air.worst_station_id
left join dim_air_station s on s.station_id = air.worst_station_id
left join opened o on o.date = w.date
left join resolved r on r.date = w.date
"""


def contract_ddl(model: str) -> str:
    """CREATE TABLE for a mart, with the column names and types of its dbt contract."""
    columns = dbt_model_docs()[model]["columns"]
    typed = ", ".join(f'"{c["name"]}" {c["data_type"]}' for c in columns)
    return f'create or replace table marts."{model}" ({typed})'


def analyse_outputs(air: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The Analyse stage's published tables for the demo: a persistence forecast of the day after
    the last one (categories from the real AQI code) and one flat-lined sensor-day."""
    from city_pipeline.analyse import forecast

    last_day = air["date"].max()
    latest = air[air["date"] == last_day]
    value = latest["pm25_24h_mean"].to_numpy(dtype=float)
    stations = pd.DataFrame(
        {
            "forecast_date": last_day + timedelta(days=1),
            "issued_on": last_day,
            "scope": "station",
            "station_id": latest["station_id"].to_numpy(),
            "pm25_forecast": value,
            "pm25_lower": np.round(value * 0.75, 2),
            "pm25_upper": np.round(value * 1.35, 2),
            "persistence_pm25": value,
            "method": "persistence",
        }
    )
    city = stations.iloc[:1].assign(
        scope="city",
        station_id="city",
        **{c: stations[c].mean() for c in ("pm25_forecast", "pm25_lower", "pm25_upper")},
        persistence_pm25=stations["persistence_pm25"].mean(),
    )
    tomorrow = forecast.with_category(pd.concat([stations, city], ignore_index=True), "demo")
    flags = pd.DataFrame(
        {
            "station_id": [latest["station_id"].iloc[0]],
            "date": [last_day],
            "reason": ["flatline"],
            "hours_flagged": [7],
            "first_flagged_at": [pd.Timestamp(last_day) + pd.Timedelta(hours=3)],
        }
    )
    return {"pm25_forecast": tomorrow, "air_sensor_flags": flags}


def complaint_outputs(complaints: pd.DataFrame, areas: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The complaint models' published tables for the demo: the real duplicate and surge code on
    the demo tickets; predicted types copy the citizen's first type (no classifier is trained for
    a demo), except one confident disagreement."""
    from city_pipeline.analyse import complaint_types, duplicates, surge

    citizen = complaint_types.clean_labels(complaints["categories"].reset_index(drop=True))
    predicted = citizen.map(lambda types: types[0] if types else "ถนน")
    predicted.iloc[0] = "ความสะอาด" if predicted.iloc[0] != "ความสะอาด" else "ถนน"
    links = duplicates.find_duplicates(complaints)
    insights = pd.DataFrame(
        {
            "ticket_id": complaints["ticket_id"].to_numpy(),
            "opened_date": complaints["opened_date"].to_numpy(),
            "citizen_types": citizen.to_numpy(),
            "predicted_type": predicted.to_numpy(),
            "confidence": 0.9,
            "type_disagrees": [i == 0 and bool(len(c)) for i, c in enumerate(citizen)],
            "duplicate_of": links["duplicate_of"].to_numpy(),
            "duplicate_similarity": links["similarity"].to_numpy(),
            "model_version": "demo",
        }
    )
    names = areas.loc[areas["level"] == "subdistrict", ["admin_code", "name_th", "name_en"]]
    names.columns = ["subdistrict_code", "subdistrict_name_th", "subdistrict_name_en"]
    names = names.assign(district_name_th=None, district_name_en=None)
    surges = surge.detect_surges(complaints).merge(names, on="subdistrict_code", how="left")
    columns = ["date", "subdistrict_code", *names.columns[1:], "problem_type", "observed"]
    columns += ["expected", "upper_bound", "p_value", "has_baseline", "alert"]
    surges = surges[columns].astype({c: "string" for c in names.columns})
    return {"complaint_insights": insights, "complaint_surges": surges}


def build_demo_warehouse(
    path: Path, start: date = date(2024, 1, 1), days: int = 31, seed: int = 7, pii: bool = True
) -> Path:
    """Write a warehouse DuckDB file at `path` holding schema `marts` with every published mart
    (and schema `analyse` with the Analyse stage's outputs)."""
    rng = np.random.default_rng(seed)
    frames = {
        "dim_admin_area": admin_areas(),
        "dim_thai_aqi_breakpoint": breakpoints(),
        "dim_air_station": stations(start, days),
        "mart_air_quality_daily": air_quality(start, days, rng),
        "fct_complaints": complaints(start, days, rng, pii),
        "mart_weather_daily": weather(start, days, rng),
        "mart_population": population(start, days),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(path)) as connection:
        connection.execute("create schema if not exists marts")
        for name, data in frames.items():
            connection.register("incoming", data)
            connection.execute(contract_ddl(name))
            connection.execute(f'insert into marts."{name}" by name select * from incoming')
            connection.unregister("incoming")
        connection.execute("set schema 'marts'")
        for name, sql in (
            ("mart_complaints_daily", COMPLAINTS_DAILY_SQL),
            ("mart_city_daily", CITY_DAILY_SQL),
        ):
            connection.execute(contract_ddl(name))
            connection.execute(f'insert into marts."{name}" by name {sql}')
        connection.execute('create schema if not exists "analyse"')
        outputs = analyse_outputs(frames["mart_air_quality_daily"])
        outputs |= complaint_outputs(frames["fct_complaints"], frames["dim_admin_area"])
        for name, data in outputs.items():
            connection.register("incoming", data)
            connection.execute(
                f'create or replace table "analyse"."{name}" as select * from incoming'
            )
            connection.unregister("incoming")
    return path


def main(argv: list[str]) -> int:
    """Build a demo warehouse and publish a release from it into the given data directory."""
    from city_pipeline.consume.catalog import PUBLISHED_MARTS, Window
    from city_pipeline.consume.release import prepare_mart, publish_release
    from city_pipeline.settings import load_settings

    if len(argv) != 1:
        print("usage: python -m city_pipeline.consume.demo DATA_DIR", file=sys.stderr)
        return 2
    data_dir = Path(argv[0]).resolve()
    settings = load_settings({"CITY_PIPELINE_DATA_DIR": str(data_dir)})
    build_demo_warehouse(settings.warehouse_path, start=date(2024, 1, 1), days=91)
    window = Window(date(2024, 1, 1), date(2024, 3, 31))
    marts = [prepare_mart(settings, spec, window) for spec in PUBLISHED_MARTS]
    release = publish_release(settings, marts)
    print(release.markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
