"""Complaints per area (report/areas.py) on hand-made marts whose answers are known: subdistrict
population when DOPA publishes it, the schematic map's placement and circle sizes."""

import math
import re
from datetime import date, timedelta

import pyarrow as pa

from city_pipeline.report import areas
from city_pipeline.report.inputs import ReportInputs
from city_pipeline.settings import load_settings

DAY = date(2024, 3, 31)
# code, name, residents, tickets, (lat, lon) of its tickets
PLACES = (
    ("400101", "ในเมือง", 100_000, 50, (16.43, 102.83)),  # 0.5 per 1,000
    ("400102", "สำราญ", 10_000, 20, (16.50, 102.83)),  # 2.0 per 1,000, north of ในเมือง
    ("400103", "โคกสี", 20_000, 10, (16.43, 102.95)),  # 0.5 per 1,000, east of ในเมือง
)


def inputs(population_level: str = "subdistrict") -> ReportInputs:
    tickets = [
        {
            "ticket_id": f"{code}-{n}",
            "opened_date": DAY - timedelta(days=n % 60),
            "subdistrict_code": code,
            "district_code": "4001",
            "province_code": "40",
            # every fifth ticket has no position: counted in the rate, not placed on the map
            "lat": None if n % 5 == 4 else lat + (n % 3 - 1) * 0.001,
            "lon": None if n % 5 == 4 else lon,
        }
        for code, _, _, count, (lat, lon) in PLACES
        for n in range(count)
    ]
    old = {**tickets[0], "ticket_id": "old", "opened_date": DAY - timedelta(days=200)}
    population = [
        {"month": date(2024, 3, 1), "level": "district", "admin_code": "4001", "total": 130_000}
    ]
    if population_level == "subdistrict":
        population += [
            {"month": date(2024, 3, 1), "level": "subdistrict", "admin_code": c, "total": r}
            for c, _, r, _, _ in PLACES
        ]
    names = [
        {"admin_code": c, "level": "subdistrict", "name_th": th, "name_en": th}
        for c, th, *_ in PLACES
    ] + [{"admin_code": "4001", "level": "district", "name_th": "เมือง", "name_en": "Mueang"}]
    return ReportInputs(
        city=load_settings({}).city,
        tables={
            "fct_complaints": pa.Table.from_pylist([*tickets, old]),
            "mart_population": pa.Table.from_pylist(population),
            "dim_admin_area": pa.Table.from_pylist(names),
        },
        validations=[],
        freshness=[],
        release_id="r",
        generated_at="2024-04-01T00:00:00+00:00",
        report_day=DAY,
    )


def circles(svg: str) -> dict[str, tuple[float, float, float]]:
    """Subdistrict Thai name -> (cx, cy, r) of its circle."""
    return {
        name.split(" · ")[0]: (float(cx), float(cy), float(r))
        for cx, cy, r, name in re.findall(
            r'<circle class="mark area-dot" cx="([\d.]+)" cy="([\d.]+)" r="([\d.]+)">'
            r"<title>(.*?):",
            svg,
        )
    }


def test_rate_per_subdistrict_when_dopa_publishes_it():
    panel = areas.panel(inputs("subdistrict"))
    assert panel["level"] == "subdistrict"
    assert {r.code: r.per_1000 for r in panel["rows"]} == {
        "400101": 0.5,
        "400102": 2.0,
        "400103": 0.5,
    }
    assert panel["tickets"] == 80  # the ticket opened 200 days ago is outside the window
    assert panel["per_1000"] == round(80 / 130_000 * 1000, 2)
    assert "Population per subdistrict" in panel["grain_en"]


def test_rate_falls_back_to_the_district_and_says_so():
    panel = areas.panel(inputs("district"))
    assert panel["level"] == "district"
    assert [(r.code, r.tickets, r.residents) for r in panel["rows"]] == [("4001", 80, 130_000)]
    assert "district only" in panel["grain_en"] and "อำเภอ" in panel["grain_th"]
    # Without subdistrict population the circles are sized by complaint counts.
    placed = circles(panel["map_svg"])
    assert math.isclose((placed["ในเมือง"][2] / placed["โคกสี"][2]) ** 2, 50 / 10, rel_tol=0.02)


def test_schematic_places_subdistricts_north_up_with_area_by_rate():
    svg = areas.panel(inputs("subdistrict"))["map_svg"]
    assert "schematic, not to scale" in svg and "<image" not in svg and "href" not in svg
    placed = circles(svg)
    assert set(placed) == {"ในเมือง", "สำราญ", "โคกสี"}
    centre, north, east = placed["ในเมือง"], placed["สำราญ"], placed["โคกสี"]
    assert north[1] < centre[1] and math.isclose(north[0], centre[0], abs_tol=0.5)
    assert east[0] > centre[0] and math.isclose(east[1], centre[1], abs_tol=0.5)
    # area proportional to the rate: 2.0 against 0.5 per 1,000 is four times the area
    assert math.isclose((north[2] / centre[2]) ** 2, 4.0, rel_tol=0.02)
    assert math.isclose(east[2], centre[2], rel_tol=0.01)
    # north-south and east-west distances keep one scale (0.07° lat vs 0.12° lon x cos 16.4°)
    ratio = (centre[1] - north[1]) / (east[0] - centre[0])
    assert math.isclose(ratio, 0.07 / (0.12 * math.cos(math.radians(16.45))), rel_tol=0.05)


def test_no_population_gives_a_plain_message_not_an_error():
    data = inputs("subdistrict")
    empty = ReportInputs(**{**data.__dict__, "tables": {**data.tables}})
    del empty.tables["mart_population"]
    panel = areas.panel(empty)
    assert panel["per_1000"] is None and panel["rows"] == []
    assert "No population" in panel["reading_en"]
