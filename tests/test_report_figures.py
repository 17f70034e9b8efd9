"""Every headline figure of the report equals the count it claims, recomputed from the marts.

The report is rendered from the demo marts; the expected numbers come from SQL over the same
tables in DuckDB (one row per ticket in fct_complaints), not from the report's own code.
"""

import re
from datetime import date, timedelta

import duckdb
import pandas as pd
import pyarrow as pa
import pytest

from city_pipeline.consume.catalog import PUBLISHED_MARTS
from city_pipeline.consume.demo import build_demo_warehouse
from city_pipeline.consume.freshness import source_freshness
from city_pipeline.consume.warehouse import read_mart
from city_pipeline.report import ReportInputs, executive, render_report
from city_pipeline.settings import load_settings

REPORT_DAY = date(2024, 1, 31)
WINDOW_START = REPORT_DAY - timedelta(days=89)


@pytest.fixture(scope="module")
def tables(tmp_path_factory) -> dict[str, pa.Table]:
    warehouse = build_demo_warehouse(tmp_path_factory.mktemp("wh") / "city.duckdb", days=31)
    return {m.name: read_mart(warehouse, m.name, m.schema) for m in PUBLISHED_MARTS}


@pytest.fixture(scope="module")
def sql(tables):
    connection = duckdb.connect()
    for name, table in tables.items():
        connection.register(name, table)

    def one(query: str, *params):
        return connection.execute(query, list(params)).fetchall()

    return one


def report_inputs(tables, data_dir) -> ReportInputs:
    settings = load_settings({"CITY_PIPELINE_DATA_DIR": str(data_dir)})
    return ReportInputs(
        city=settings.city,
        tables=tables,
        validations=[],
        freshness=source_freshness(settings, tables, REPORT_DAY),
        release_id="r",
        generated_at="2024-02-01T02:15:00+00:00",
        report_day=REPORT_DAY,
    )


@pytest.fixture(scope="module")
def html(tables, tmp_path_factory) -> str:
    return render_report(report_inputs(tables, tmp_path_factory.mktemp("data")))


def shown(html: str, figure: str) -> float:
    match = re.search(rf'data-figure="{figure}">([\d,.]+)', html)
    assert match, figure
    return float(match.group(1).replace(",", ""))


def bars(html: str, chart: str) -> dict[str, int]:
    svg = re.search(rf'id="chart-{chart}".*?</svg>', html, re.S).group(0)
    return {
        label: int(value.replace(",", ""))
        for label, value in re.findall(r'class="mark bar"[^>]*><title>(.*?): ([\d,]+) ', svg)
    }


def test_complaint_kpis_count_distinct_tickets(sql, html):
    [(opened,)] = sql("select count(*) from fct_complaints where opened_date = ?", REPORT_DAY)
    [(open_tickets,)] = sql(
        "select count(*) from fct_complaints where opened_date <= $1 "
        "and (closed_date is null or closed_date > $1)",
        REPORT_DAY,
    )
    assert shown(html, "complaints_opened") == opened > 0
    # The backlog is every ticket still open, not only the ones opened in the chart window.
    assert shown(html, "complaints_backlog") == open_tickets > 0


def test_air_kpis_match_the_station_rows(sql, html):
    [(mean, aqi)] = sql(
        "select round(avg(pm25_24h_mean), 1), max(aqi) from mart_air_quality_daily where date = ?",
        REPORT_DAY,
    )
    assert shown(html, "pm25_city_mean") == mean
    assert shown(html, "aqi_max") == aqi


def test_area_chart_counts_each_ticket_once(sql, html):
    [(total,)] = sql(
        "select count(distinct ticket_id) from fct_complaints where opened_date between ? and ?",
        WINDOW_START,
        REPORT_DAY,
    )
    [(category_rows,)] = sql("select sum(opened) from mart_complaints_daily")
    assert category_rows > total  # several categories per ticket: summing them double counts
    assert shown(html, "complaints_window_total") == total
    expected = dict(
        sql(
            "select coalesce(a.name_th || ' · ' || a.name_en, 'ไม่ทราบพื้นที่ · Unknown area'), "
            "count(distinct t.ticket_id) from fct_complaints t "
            "left join dim_admin_area a on a.admin_code = t.subdistrict_code "
            "and a.level = 'subdistrict' where t.opened_date between ? and ? group by all",
            WINDOW_START,
            REPORT_DAY,
        )
    )
    assert bars(html, "complaints-district") == expected
    assert sum(bars(html, "complaints-district").values()) == total


def test_category_chart_counts_tickets_per_category(sql, html):
    expected = dict(
        sql(
            "select category, count(distinct ticket_id) from "
            "(select ticket_id, unnest(categories) as category from fct_complaints "
            "where opened_date between ? and ?) group by all",
            WINDOW_START,
            REPORT_DAY,
        )
    )
    drawn = {
        label.split(" · ")[0]: value for label, value in bars(html, "complaints-category").items()
    }
    assert drawn == expected


def test_freshness_never_shows_data_after_the_report_day(html):
    dopa = re.search(r'data-freshness="dopa">(.*?)</td>', html).group(1)
    assert "2567" in dopa and "ธันวาคม" not in dopa


def test_executive_panels_match_sql(sql, html):
    day = REPORT_DAY
    for period, first, last in (
        ("this_week", day - timedelta(days=6), day),
        ("last_week", day - timedelta(days=13), day - timedelta(days=7)),
    ):
        [(count,)] = sql(
            "select count(*) from fct_complaints where opened_date between ? and ?", first, last
        )
        assert shown(html, f"week_{period}_complaints") == count
    ages = sql(
        "select count(*) filter (where age <= 7), "
        "count(*) filter (where age between 8 and 30), "
        "count(*) filter (where age > 30) from (select date_diff('day', opened_date, $1) as age "
        "from fct_complaints where opened_date <= $1 "
        "and (closed_date is null or closed_date > $1))",
        day,
    )[0]
    assert [shown(html, f"open_age_{n}") for n in (1, 2, 3)] == list(ages)
    assert sum(ages) == shown(html, "complaints_backlog")
    [(over,)] = sql(
        "select count(*) from mart_city_daily where date between ? and ? and pm25_city_mean > 37.5",
        day.replace(day=1),
        day,
    )
    assert shown(html, "pm25_days_over") == over


def test_open_cases_on_a_day_when_nothing_was_ever_closed():
    """The first recorded day: every closed_date is missing, which pandas 3 types differently."""
    tickets = pd.DataFrame(
        {
            "ticket_id": ["a", "b", "c"],
            "opened_date": [date(2024, 1, 1), date(2024, 1, 2), date(2024, 1, 3)],
            "closed_date": [None, None, None],
            "organisations": [["เทศบาล"], [], ["เทศบาล"]],
            "categories": [["ถนน"], [], ["น้ำท่วม"]],
            "state": ["รอรับเรื่อง"] * 3,
            "resolution_hours": [None, None, None],
        }
    )
    panel = executive.open_cases(tickets, date(2024, 1, 2))
    assert panel["total"] == 2  # the ticket opened after the report day is not counted
    assert [bucket["count"] for bucket in panel["ages"]] == [2, 0, 0]
    assert executive.resolution_by_category(tickets, date(2024, 1, 2))["rows"] == []


def expected_rates(sql, city) -> dict[str, float]:
    """Tickets opened in the window per 1,000 residents, per city area at the finest level DOPA
    published for the newest month up to the report day: SQL over the marts."""
    codes = {
        "subdistrict": list(city.subdistrict_codes),
        "district": list(city.district_codes),
        "province": [city.province_code],
    }
    for level, ticket_column in (
        ("subdistrict", "subdistrict_code"),
        ("district", "district_code"),
        ("province", "province_code"),
    ):
        rows = sql(
            f"with month as (select max(month) as m from mart_population where month <= $1) "
            f"select p.admin_code, p.total, (select count(*) from fct_complaints t "
            f"where t.{ticket_column} = p.admin_code and t.opened_date between $2 and $1) "
            f"from mart_population p, month where p.month = month.m and p.level = $3 "
            f"and list_contains($4, p.admin_code)",
            REPORT_DAY,
            WINDOW_START,
            level,
            codes[level],
        )
        if rows:
            return {code: (tickets, total) for code, total, tickets in rows}
    raise AssertionError("no population for the city")


def test_complaints_per_1000_residents_match_sql(sql, html):
    expected = expected_rates(sql, load_settings({}).city)
    for code, (tickets, residents) in expected.items():
        assert shown(html, f"rate_{code}") == round(tickets / residents * 1000, 2)
    tickets = sum(t for t, _ in expected.values())
    residents = sum(r for _, r in expected.values())
    assert tickets > 0
    assert shown(html, "complaints_per_1000") == round(tickets / residents * 1000, 2)
    # The demo publishes population to the district only: the panel must say so.
    [(finest,)] = sql("select count(*) from mart_population where level = 'subdistrict'")
    if finest == 0:
        assert "goes down to the district only" in html


def test_summary_page_figures_match_sql(sql, tables, html, tmp_path):
    from city_pipeline.report import render_summary

    inputs = report_inputs(tables, tmp_path)
    summary = render_summary(inputs)
    [(opened,)] = sql("select count(*) from fct_complaints where opened_date = ?", REPORT_DAY)
    [(open_tickets,)] = sql(
        "select count(*) from fct_complaints where opened_date <= $1 "
        "and (closed_date is null or closed_date > $1)",
        REPORT_DAY,
    )
    [(this_week,)] = sql(
        "select count(*) from fct_complaints where opened_date between ? and ?",
        REPORT_DAY - timedelta(days=6),
        REPORT_DAY,
    )
    [(over,)] = sql(
        "select count(*) from mart_city_daily where date between ? and ? and pm25_city_mean > 37.5",
        REPORT_DAY.replace(day=1),
        REPORT_DAY,
    )
    expected = expected_rates(sql, inputs.city)
    rate = round(
        sum(t for t, _ in expected.values()) / sum(r for _, r in expected.values()) * 1000, 2
    )
    assert shown(summary, "complaints_opened") == opened
    assert shown(summary, "complaints_backlog") == open_tickets
    assert shown(summary, "week_this_week_complaints") == this_week
    assert shown(summary, "pm25_days_over") == over
    assert shown(summary, "complaints_per_1000") == rate
    assert sum(shown(summary, f"open_age_{n}") for n in (1, 2, 3)) == open_tickets
    # The summary and the full report show the same figures.
    for figure in re.findall(r'data-figure="([\w]+)"', summary):
        assert shown(summary, figure) == shown(html, figure), figure
    assert 'href="index.html"' in summary and 'href="summary.html"' in html
