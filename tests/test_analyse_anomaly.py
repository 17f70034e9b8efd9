"""Sensor anomaly rules on real hourly PM2.5 (Lumphini Park, two weeks) with planted faults."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from city_pipeline.analyse import anomaly

SAMPLE = Path(__file__).parent / "data" / "airbkk_114_hourly_2023-01-01_14.csv"
STATIONS = ["A", "B", "C", "D"]


@pytest.fixture()
def hourly() -> pd.DataFrame:
    """The real series at four stations; each station rotated by a few hours so the copies
    differ, and PM10 set to twice PM2.5 (a typical ratio) so only planted rows break it."""
    real = pd.read_csv(SAMPLE, parse_dates=["measured_at"])
    frames = []
    for i, station in enumerate(STATIONS):
        copy = real.assign(station_id=station, pm25=np.roll(real["pm25"].to_numpy(), 3 * i))
        frames.append(copy.assign(pm10=copy["pm25"] * 2))
    return pd.concat(frames, ignore_index=True)


def plant(data: pd.DataFrame, station: str, hours: slice, **values) -> pd.DataFrame:
    rows = data.index[data["station_id"] == station][hours]
    for column, value in values.items():
        data.loc[rows, column] = value
    return data


def reasons_at(flags: pd.DataFrame, station: str, at: pd.Series) -> set[str]:
    chosen = flags[(flags["station_id"] == station) & flags["measured_at"].isin(at)]
    return set(chosen["reason"])


def test_clean_real_data_has_no_sensor_faults(hourly):
    flags = anomaly.flag_hours(hourly)
    assert not set(flags["reason"]) & {"negative", "out_of_range", "pm25_above_pm10", "flatline"}


def test_planted_faults_are_flagged_with_their_reason(hourly):
    data = hourly.copy()
    plant(data, "A", slice(100, 108), pm25=22.0, pm10=44.0)  # stuck for 8 hours
    plant(data, "B", slice(200, 201), pm25=-3.0)
    plant(data, "C", slice(150, 151), pm25=60.0, pm10=40.0)
    plant(data, "D", slice(250, 251), pm25=400.0, pm10=800.0)  # a one-hour spike
    plant(data, "B", slice(300, 301), pm25=1500.0, pm10=3000.0)
    flags = anomaly.flag_hours(data)
    at = lambda s, h: data.loc[data.index[data["station_id"] == s][h], "measured_at"]  # noqa: E731

    stuck = flags[(flags["station_id"] == "A") & (flags["reason"] == "flatline")]
    assert set(stuck["measured_at"]) == set(at("A", slice(100, 108)))
    assert (stuck["reference"] == 8).all()
    assert "negative" in reasons_at(flags, "B", at("B", slice(200, 201)))
    assert "pm25_above_pm10" in reasons_at(flags, "C", at("C", slice(150, 151)))
    assert {"spike", "regional_divergence"} <= reasons_at(flags, "D", at("D", slice(250, 251)))
    assert "out_of_range" in reasons_at(flags, "B", at("B", slice(300, 301)))
    # Five identical hours are not yet a flat line.
    shorter = plant(hourly.copy(), "A", slice(100, 105), pm25=22.0)
    assert "flatline" not in set(anomaly.flag_hours(shorter)["reason"])


def test_daily_flags_count_hours(hourly):
    data = plant(hourly.copy(), "A", slice(100, 108), pm25=22.0, pm10=44.0)
    days = anomaly.flag_days(anomaly.flag_hours(data))
    stuck = days[(days["station_id"] == "A") & (days["reason"] == "flatline")]
    assert stuck["hours_flagged"].sum() == 8
    assert list(days.columns) == anomaly.DAILY_COLUMNS


def test_flags_leave_readings_unchanged(hourly):
    before = hourly.copy()
    anomaly.flag_hours(hourly)
    pd.testing.assert_frame_equal(hourly, before)


def test_no_flags_is_still_a_typed_table(hourly):
    days = anomaly.flag_days(anomaly.flag_hours(hourly[hourly["station_id"] == "A"].head(3)))
    table = anomaly.typed(days, anomaly.DAILY_SCHEMA)
    assert table.num_rows == 0
    assert table.schema.field("date").type == "date32[day]"
    assert table.schema.field("hours_flagged").type == "int64"
