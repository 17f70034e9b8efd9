"""Data freshness per source, read from the lake's landing folders and the published tables."""

import json
from datetime import date

import pyarrow as pa

from city_pipeline.consume.freshness import last_capture, source_freshness
from city_pipeline.settings import load_settings


def land(lake, folder: str, day: str, completed: bool = True) -> None:
    directory = lake / "landing" / folder / day
    directory.mkdir(parents=True)
    (directory / "b1-0000.json").write_text("{}")
    if completed:
        marker = {"completed_at": f"{day}T19:00:00+00:00"}
        (directory / "b1.batch.json").write_text(json.dumps(marker))


def test_freshness_per_source(tmp_path):
    settings = load_settings({"CITY_PIPELINE_DATA_DIR": str(tmp_path)})
    land(settings.lake_dir, "air4thai_stations", "2024-03-30")
    land(settings.lake_dir, "air4thai_hourly", "2024-03-31")
    land(settings.lake_dir, "air4thai_hourly", "2024-04-01", completed=False)  # failed fetch
    land(settings.lake_dir, "traffy", "2024-03-20")
    land(settings.lake_dir, "dopa", "2024-03-01")
    assert last_capture(settings.lake_dir, "air4thai") == (
        date(2024, 3, 31),
        "2024-03-31T19:00:00+00:00",
    )
    assert last_capture(settings.lake_dir, "open_meteo") == (None, None)
    tables = {
        "mart_air_quality_daily": pa.table({"date": [date(2024, 3, 30), date(2024, 3, 31)]}),
        "mart_complaints_daily": pa.table({"date": [date(2024, 3, 20)]}),
        "mart_population": pa.table({"month": [date(2024, 12, 1)]}),  # newer than the report
    }
    rows = {r.source: r for r in source_freshness(settings, tables, date(2024, 3, 31))}
    assert rows["air4thai"].lag_days == 0 and rows["air4thai"].status == "ok"
    assert rows["traffy"].lag_days == 11 and rows["traffy"].status == "late"
    assert rows["open_meteo"].status == "no data" and rows["open_meteo"].last_partition is None
    # Only a row dated after the report day: the report says what was captured (1 March), never
    # a day after the report, and does not call the source empty.
    assert rows["dopa"].latest_data == date(2024, 3, 1)
    assert rows["dopa"].lag_days == 30 and rows["dopa"].status == "ok"
    assert rows["ckan"].latest_data is None


def test_a_source_is_late_past_the_stale_window_of_its_cadence():
    """The release's rule is the Dagster policy's: daily sources stale after 26 h (late from the
    third day), monthly ones after 33 days."""
    from city_pipeline.consume.freshness import SourceFreshness
    from city_pipeline.freshness import RULES

    def status(cadence: str, lag: int) -> str:
        day = date(2024, 3, 31)
        return SourceFreshness("x", "x", cadence, True, day, None, day, lag).status

    assert [status("daily", lag) for lag in (1, 2, 3)] == ["ok", "ok", "late"]
    assert [status("monthly", lag) for lag in (33, 34)] == ["ok", "late"]
    assert RULES["monthly"].allowed_lag_days == 33 and RULES["daily"].allowed_lag_days == 2
