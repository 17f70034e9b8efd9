"""Parsing a window of partitions in one go (`CaptureSpec.parse_window`) gives each day exactly
the rows its own `parse` gives, and a bad value names the partition it is in."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from fake_landing import land_body

from city_pipeline.capture import ParseContext, fetch_batch, parse_partitions, run_captures
from city_pipeline.settings import load_settings
from city_pipeline.sources import air4thai, ckan, dopa, open_meteo
from city_pipeline.sources.common import SourceError

FIRST = date(2024, 1, 30)
DAYS = [FIRST + timedelta(days=n) for n in range(4)]  # crosses a month end
MONTHS = [date(2024, 1, 1), date(2024, 2, 1), date(2024, 3, 1)]


@pytest.fixture
def settings(tmp_path):
    return load_settings({"CITY_PIPELINE_DATA_DIR": str(tmp_path)})


def recorded_contexts(spec, days, settings) -> list[ParseContext]:
    """The recorded batches of `days`, landed as a capture lands them."""
    return [
        ParseContext(spec.name, day, tuple(fetch_batch(spec, day, settings).files), settings)
        for day in days
    ]


def assert_window_equals_days(spec, contexts) -> None:
    window = parse_partitions(spec, contexts)  # goes through spec.parse_window
    assert list(window) == [ctx.day for ctx in contexts]
    for ctx in contexts:
        alone = spec.parse(ctx)
        assert set(window[ctx.day]) == set(alone) == set(spec.tables)
        for table in spec.tables:
            assert window[ctx.day][table].schema == alone[table].schema
            assert window[ctx.day][table].to_pylist() == alone[table].to_pylist()
            assert window[ctx.day][table].num_rows > 0


@pytest.mark.parametrize(
    ("spec", "days"),
    [
        (air4thai.STATIONS_CAPTURE, DAYS),
        (open_meteo.CAPTURE, DAYS),
        (dopa.CAPTURE, MONTHS),
    ],
    ids=["air4thai_stations", "open_meteo", "dopa"],
)
def test_window_gives_each_day_its_own_rows(settings, spec, days):
    assert spec.parse_window is not None
    assert_window_equals_days(spec, recorded_contexts(spec, days, settings))


def test_hourly_window_keeps_each_day_its_own_hours(settings):
    list(run_captures(air4thai.STATIONS_CAPTURE, DAYS, settings))  # the stations to ask for
    contexts = recorded_contexts(air4thai.HOURLY_CAPTURE, DAYS, settings)
    assert_window_equals_days(air4thai.HOURLY_CAPTURE, contexts)
    window = air4thai.HOURLY_CAPTURE.parse_window(contexts)
    for day, tables in window.items():
        hours = tables[air4thai.HOURLY_TABLE].column("measured_at").to_pylist()
        assert {h.date() for h in hours} == {day}


def test_a_day_without_rows_keeps_the_schema(tmp_path, settings):
    empty = {"result": "OK", "error": "", "stations": []}
    full = {
        "result": "OK",
        "stations": [{"stationID": "46t", "data": [{"DATETIMEDATA": f"{DAYS[1]} 05:00:00"}]}],
    }
    contexts = landed_contexts(tmp_path, air4thai.HOURLY_CAPTURE, settings, [empty, full, empty])
    window = air4thai.HOURLY_CAPTURE.parse_window(contexts)
    rows = [window[ctx.day][air4thai.HOURLY_TABLE] for ctx in contexts]
    assert [t.num_rows for t in rows] == [0, 1, 0]
    assert {t.schema for t in rows} == {
        air4thai.parse_hourly(contexts[0])["air4thai_hourly"].schema
    }


# --- a bad value on the second day of a window names that day --------------------------------


def landed_contexts(tmp_path: Path, spec, settings, bodies: list, ext: str = "json"):
    """One landed file per day of `DAYS` (or `MONTHS` for DOPA) holding `bodies[i]`."""
    days = MONTHS if spec is dopa.CAPTURE else DAYS
    contexts = []
    for day, body in zip(days, bodies, strict=False):
        landed = land_body(tmp_path / spec.name / f"{day}.{ext}", body)
        contexts.append(ParseContext(spec.name, day, (landed,), settings))
    return contexts


def window_error(contexts, spec) -> SourceError:
    with pytest.raises(SourceError) as caught:
        spec.parse_window(contexts)
    error = caught.value
    assert error.source == spec.name
    assert error.partition == contexts[1].day.isoformat(), str(error)
    assert f"partition {contexts[1].day}" in str(error)
    return error


def history(day: date, pm25) -> dict:
    rows = [
        {"DATETIMEDATA": f"{day} {h:02d}:00:00", "PM25": pm25 if h == 5 else 20} for h in range(24)
    ]
    return {"result": "OK", "error": "", "stations": [{"stationID": "46t", "data": rows}]}


@pytest.mark.parametrize(
    ("second", "field", "words"),
    [
        (history(DAYS[1], "abc"), "PM25", "'abc' is not a valid DOUBLE"),
        ({"result": "OK", "error": ""}, "stations", "missing"),
        ({"result": "OK", "stations": [{"stationID": "46t", "data": None}]}, "data", "got NULL"),
        (
            {"result": "OK", "stations": [{"stationID": "46t", "data": [7]}]},
            "DATETIMEDATA",
            "BIGINT",
        ),
    ],
    ids=["bad-value", "no-stations", "null-data", "row-not-object"],
)
def test_hourly_error_names_the_second_day(tmp_path, settings, second, field, words):
    bodies = [history(DAYS[0], 30.5), second, history(DAYS[2], 31.0)]
    contexts = landed_contexts(tmp_path, air4thai.HOURLY_CAPTURE, settings, bodies)
    error = window_error(contexts, air4thai.HOURLY_CAPTURE)
    assert error.field == field and words in str(error)


def station_list(pm25: str) -> dict:
    station = {"stationID": "46t", "areaTH": "ขอนแก่น", "lat": "16.4", "long": "102.8"}
    station["AQILast"] = {"date": "2024-01-30", "time": "10:00", "PM25": {"value": pm25}}
    return {"stations": [station]}


def test_stations_error_names_the_second_day(tmp_path, settings):
    bodies = [station_list("41.2"), station_list("abc"), station_list("40.0")]
    contexts = landed_contexts(tmp_path, air4thai.STATIONS_CAPTURE, settings, bodies)
    error = window_error(contexts, air4thai.STATIONS_CAPTURE)
    assert error.field == "AQILast.PM25.value" and "'abc'" in str(error)


def test_open_meteo_error_names_the_second_day(tmp_path, settings):
    om = settings.config.sources.open_meteo

    def archive(day: date, first) -> dict:
        hourly = {v: [first] + [20.0] * 23 for v in om.hourly}
        return {
            "latitude": 16.44,
            "longitude": 102.84,
            "utc_offset_seconds": 25200,
            "timezone": "Asia/Bangkok",
            "hourly": {"time": [f"{day}T{h:02d}:00" for h in range(24)], **hourly},
            "daily": {"time": [str(day)], **{v: [30.0] for v in om.daily}},
        }

    bodies = [archive(DAYS[0], 1.0), archive(DAYS[1], "abc"), archive(DAYS[2], 2.0)]
    contexts = landed_contexts(tmp_path, open_meteo.CAPTURE, settings, bodies)
    error = window_error(contexts, open_meteo.CAPTURE)
    assert error.field == f"hourly.{om.hourly[0]}" and '"abc"' in str(error)
    # A good window parses, and the second day really is day 2.
    bodies[1] = archive(DAYS[1], 3.0)
    contexts = landed_contexts(tmp_path, open_meteo.CAPTURE, settings, bodies)
    window = open_meteo.CAPTURE.parse_window(contexts)
    assert window[DAYS[1]][open_meteo.HOURLY_TABLE].column(om.hourly[0])[0].as_py() == 3.0


@pytest.mark.parametrize(
    ("bad_line", "field"),
    [
        ("6702|40|ขอนแก่น|0|0|0|868299|n/a|1772381|692088|", "female"),
        ("6702|40|x|0|0|0|1|", "line 2"),
    ],
    ids=["bad-count", "short-line"],
)
def test_dopa_error_names_the_second_month(tmp_path, settings, bad_line, field):
    def month_file(yymm: str, line: str | None = None) -> bytes:
        lines = [f"{yymm}|10|กรุงเทพมหานคร|0|0|0|2544400|2910620|5455020|3304462|"]
        lines.append(line or f"{yymm}|40|ขอนแก่น|0|0|0|868299|904082|1772381|692088|")
        return ("\n".join(lines) + "\n").encode()

    bodies = [month_file("6701"), month_file("6702", bad_line), month_file("6703")]
    contexts = landed_contexts(tmp_path, dopa.CAPTURE, settings, bodies, ext="txt")
    error = window_error(contexts, dopa.CAPTURE)
    assert error.field == field


# --- CKAN: one query per run of partitions whose pages describe the same columns --------------


def ckan_page(records: list[dict], fields: list[dict] | None = None) -> dict:
    fields = fields or [{"id": "_id", "type": "int"}, {"id": "count", "type": "numeric"}]
    return {"success": True, "result": {"fields": fields, "records": records}}


def test_ckan_window_gives_each_month_its_own_rows(settings):
    (spec,) = ckan.captures(settings)
    assert spec.parse_window is not None
    assert_window_equals_days(spec, recorded_contexts(spec, MONTHS, settings))


def test_ckan_window_keeps_days_with_other_columns_apart(tmp_path, settings):
    (spec,) = ckan.captures(settings)
    renamed = [{"id": "_id", "type": "int"}, {"id": "total", "type": "text"}]
    bodies = [
        ckan_page([{"_id": 1, "count": "5"}, {"_id": 2, "count": "6"}]),
        ckan_page([{"_id": 1, "count": "7"}]),
        ckan_page([{"_id": 3, "total": "x"}], renamed),
    ]
    contexts = landed_contexts(tmp_path, spec, settings, bodies)
    window = spec.parse_window(contexts)
    for ctx in contexts:
        alone = spec.parse(ctx)[spec.name]
        assert window[ctx.day][spec.name].to_pylist() == alone.to_pylist()
        assert window[ctx.day][spec.name].schema == alone.schema
    assert window[DAYS[1]][spec.name].column("count").to_pylist() == [7.0]
    assert window[DAYS[2]][spec.name].column_names[:2] == ["_id", "total"]


def test_ckan_error_names_the_second_day(tmp_path, settings):
    (spec,) = ckan.captures(settings)
    bodies = [ckan_page([{"_id": 1, "count": "5"}]), ckan_page([{"_id": 2, "count": "abc"}])]
    error = window_error(landed_contexts(tmp_path, spec, settings, bodies), spec)
    assert error.field == "count" and "'abc' is not a valid DOUBLE" in str(error)
