"""The report's HTML: self-contained, bilingual, every chart drawn from the marts' numbers."""

import re
from datetime import date, timedelta

import pandas as pd
import pyarrow as pa
import pytest

from city_pipeline.consume.catalog import PUBLISHED_MARTS
from city_pipeline.consume.demo import build_demo_warehouse
from city_pipeline.consume.freshness import SourceFreshness
from city_pipeline.consume.validation import ExpectationOutcome, ValidationOutcome
from city_pipeline.consume.warehouse import read_mart
from city_pipeline.report import ReportInputs, render_report, render_validation_summary
from city_pipeline.report.builder import thai_date
from city_pipeline.report.charts import date_ticks, nice_max
from city_pipeline.settings import load_settings

CHARTS = ("pm25", "complaints-district", "complaints-category", "backlog", "rain-flood")
REPORT_DAY = date(2024, 1, 31)


def passed(mart: str, rows: int) -> ValidationOutcome:
    result = ExpectationOutcome("expect_table_row_count_to_be_between", None, True, str(rows))
    return ValidationOutcome(
        mart, f"{mart}.json", True, rows, "2024-02-01T00:00:00+00:00", [result]
    )


@pytest.fixture(scope="module")
def tables(tmp_path_factory) -> dict[str, pa.Table]:
    warehouse = build_demo_warehouse(tmp_path_factory.mktemp("wh") / "city.duckdb", days=31)
    return {m.name: read_mart(warehouse, m.name, m.schema) for m in PUBLISHED_MARTS}


def inputs_for(tables, validations=None, report_day=REPORT_DAY) -> ReportInputs:
    settings = load_settings({})
    freshness = [
        SourceFreshness(
            "air4thai",
            "Air4Thai · คุณภาพอากาศ",
            "daily",
            True,
            REPORT_DAY,
            "2024-02-01T02:10:00+00:00",
            REPORT_DAY,
            0,
        )
    ]
    validations = validations or [passed(name, t.num_rows) for name, t in tables.items()]
    return ReportInputs(
        city=settings.city,
        tables=tables,
        validations=validations,
        freshness=freshness,
        release_id="20240201T021500.000000Z",
        generated_at="2024-02-01T02:15:00+00:00",
        report_day=report_day,
    )


@pytest.fixture(scope="module")
def html(tables) -> str:
    return render_report(inputs_for(tables))


def figure(html: str, chart: str) -> str:
    match = re.search(rf'<figure class="chart" data-chart="{chart}">(.*?)</figure>', html, re.S)
    assert match, chart
    return match.group(1)


def test_report_is_self_contained(html):
    assert html.startswith("<!DOCTYPE html>") and '<html lang="th">' in html
    assert '<meta charset="utf-8">' in html
    assert "default-src 'none'" in html  # the page itself forbids loading anything
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "<script" not in html and "<link" not in html and "@import" not in html
    assert "url(" not in html


def test_labels_are_thai_and_english(html):
    for text in (
        "รายงานข้อมูลเมือง เทศบาลนครขอนแก่น",
        "Khon Kaen City Municipality",
        "ฝุ่น PM2.5 รายวันรายสถานี",
        "Daily PM2.5 per station",
        "เรื่องค้างสะสม",
        "Data freshness",
        "Validation status",
        "31 มกราคม 2567",
    ):
        assert text in html, text
    assert '"Sarabun", "Noto Sans Thai"' in html  # Thai-capable font stack


def test_every_chart_has_marks(html):
    for chart in CHARTS:
        svg = figure(html, chart)
        assert "<svg" in svg and 'class="mark' in svg, chart
        assert "ไม่มีข้อมูล" not in svg, chart


def test_kpis_show_the_latest_day(tables, html):
    row = [r for r in tables["mart_city_daily"].to_pylist() if r["date"] == REPORT_DAY][0]
    kpis = html[html.index('id="kpis"') : html.index('id="air"')]
    assert f"{row['pm25_city_mean']:,.1f}" in kpis
    assert f">{row['complaints_backlog']:,}<" in kpis
    assert row["aqi_max_category_th"] in kpis


def test_pm25_chart_has_one_line_per_station_the_standard_and_aqi_bands(html):
    svg = figure(html, "pm25")
    assert svg.count('class="mark dot"') == 2 * 31  # 2 stations x 31 days
    assert "ศูนย์ราชการจังหวัดขอนแก่น (46t)" in svg
    assert 'class="threshold"' in svg and "37.5" in svg
    assert svg.count('class="band"') >= 3  # the chart's range spans several AQI bands
    assert "#3BCCFF" in svg  # excellent (blue) band from the published band table


def test_rain_chart_counts_flood_complaints(tables, html):
    daily = tables["mart_complaints_daily"].to_pylist()
    flood_days = {r["date"] for r in daily if "น้ำท่วม" in r["category"] and r["opened"]}
    svg = figure(html, "rain-flood")
    assert svg.count('class="mark dot"') == len(flood_days)
    rainy_days = sum(1 for r in tables["mart_weather_daily"].to_pylist() if r["rainfall_mm"])
    assert svg.count('class="mark bar"') == rainy_days


def test_district_and_category_bars_sum_the_window(tables, html):
    daily = tables["mart_complaints_daily"].to_pylist()
    roads = sum(r["opened"] for r in daily if r["category"] == "ถนน")
    svg = figure(html, "complaints-category")
    assert f"ถนน · Roads: {roads:,}" in svg  # Thai and English category labels
    assert "ในเมือง · Nai Mueang" in figure(html, "complaints-district")  # per subdistrict


def test_failed_validation_is_shown(tables):
    failure = ExpectationOutcome(
        "expect_column_values_to_be_between",
        "pm25_24h_mean",
        False,
        unexpected_count=1,
        samples=["-5.0"],
    )
    failed = ValidationOutcome(
        "mart_air_quality_daily",
        "mart_air_quality_daily.json",
        False,
        62,
        "2024-02-01T00:00:00+00:00",
        [failure],
    )
    inputs = inputs_for(tables, validations=[failed])
    assert "Some tables failed validation" in render_report(inputs)
    summary = render_validation_summary(inputs)
    assert "expect_column_values_to_be_between" in summary and "-5.0" in summary


def test_empty_marts_render_placeholders(tables):
    empty = {name: table.slice(0, 0) for name, table in tables.items()}
    html = render_report(inputs_for(empty, report_day=None))
    for chart in CHARTS:
        assert "ไม่มีข้อมูล · No data" in figure(html, chart)


def test_chart_helpers():
    assert nice_max(37.4) == 40 and nice_max(0.3) == 0.3 and nice_max(180) == 200
    ticks = date_ticks(date(2024, 1, 1), date(2024, 3, 31))
    assert ticks[0] == date(2024, 1, 1) and date(2024, 3, 1) in ticks
    assert thai_date(date(2024, 3, 31)) == "31 มีนาคม 2567 · 31 March 2024"


def test_complaint_topics_compare_predicted_and_citizen_types(tables, html):
    insights = tables["complaint_insights"].to_pandas()
    opened = pd.to_datetime(insights["opened_date"]).dt.date
    week = insights[(opened > REPORT_DAY - timedelta(days=7)) & (opened <= REPORT_DAY)]
    section = re.search(r'<section id="complaint-topics">(.*?)</section>', html, re.S).group(1)
    assert "Complaint topics this week" in section and "ประเด็นเรื่องร้องเรียนสัปดาห์นี้" in section
    top = week["predicted_type"].value_counts()
    citizens = week["citizen_types"].explode().value_counts()
    row = f'<tr><td>{top.index[0]}</td><td class="num">{top.iloc[0]}</td>'
    assert row + f'<td class="num">{citizens[top.index[0]]}</td>' in section
    assert f"{len(week)} complaints in 7 days" in section


def test_surge_alerts_panel_names_area_type_and_counts(tables):
    surges = tables["complaint_surges"].to_pandas()
    planted = surges.iloc[:1].assign(
        date=REPORT_DAY, observed=14, expected=2.25, p_value=1e-6, alert=True, has_baseline=True
    )
    with_alert = {**tables, "complaint_surges": pa.Table.from_pandas(planted, preserve_index=False)}
    html = render_report(inputs_for(with_alert))
    section = re.search(r'<section id="complaint-surges">(.*?)</section>', html, re.S).group(1)
    name = f"{planted['subdistrict_name_th'].item()} · {planted['subdistrict_name_en'].item()}"
    assert name in section and planted["problem_type"].item() in section
    assert '<td class="num">14</td><td class="num">2.2</td>' in section
    quiet = re.search(
        r'<section id="complaint-surges">(.*?)</section>', render_report(inputs_for(tables)), re.S
    ).group(1)
    assert "No surge alerts" in quiet
