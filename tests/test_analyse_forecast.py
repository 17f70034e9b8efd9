"""PM2.5 forecast on small real slices of the PCD history: no look-ahead, persistence fallback,
the AQI category from the marts' band macro, and the `evaluate forecast` CLI contract."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from city_pipeline import cli
from city_pipeline.analyse import aqi, forecast
from city_pipeline.analyse.history import SEED_HISTORY, read_daily_csv

STATIONS = [
    "46T",
    "35T",
    "36T",
    "44T",
    "47T",
]  # Khon Kaen, Chiang Mai x2, Bangkok, Nakhon Ratchasima


@pytest.fixture(scope="module")
def history() -> pd.DataFrame:
    rows = read_daily_csv(SEED_HISTORY)
    keep = rows["station_id"].isin(STATIONS) & rows["date"].between("2018-01-01", "2019-12-31")
    return rows[keep].reset_index(drop=True)


def published(rows: pd.DataFrame, first: int = 200) -> pd.DataFrame:
    panel = forecast.make_panel(rows)
    return forecast.choose_method(forecast.backtest(panel, first))


def test_backtest_never_looks_ahead(history):
    planted_day = pd.Timestamp("2019-03-01")
    before = published(history)
    spiked = history.copy()
    spiked.loc[spiked["date"] >= planted_day, "pm25"] += 5000.0
    after = published(spiked)
    columns = ["date", "station_id", "model", "persistence", "climatology", "method", "published"]
    upto = before["date"] <= planted_day
    pd.testing.assert_frame_equal(
        before.loc[upto, columns].reset_index(drop=True),
        after.loc[after["date"] <= planted_day, columns].reset_index(drop=True),
    )
    # The planted values do reach the forecasts of the day after: the test can fail.
    next_day = after["date"] == planted_day + pd.Timedelta(days=1)
    assert (after.loc[next_day, "persistence"] > 1000).all()


def test_features_use_only_earlier_days(history):
    panel = forecast.make_panel(history)
    x = forecast.feature_matrix(panel)
    t, s = 400, panel.stations.index("46T")
    row = x[t * len(panel.stations) + s]
    lag = {k: row[forecast.FEATURES.index(f"lag_{k}")] for k in forecast.LAGS}
    for k, value in lag.items():
        expected = panel.values[t - k, s]
        if np.isfinite(expected):
            assert value == expected
    window = panel.values[t - 7 : t, s]
    assert row[forecast.FEATURES.index("mean_7")] == pytest.approx(np.nanmean(window))
    assert row[forecast.FEATURES.index("region_median")] == pytest.approx(
        np.nanmedian(panel.values[t - 1])
    )


def test_fallback_publishes_persistence_where_the_model_lost_before():
    days = pd.date_range("2020-01-01", periods=120)
    actual = np.full(len(days), 30.0)
    good = pd.DataFrame(
        {
            "date": days,
            "station_id": "A",
            "actual": actual,
            "model": 30.5,
            "persistence": 33.0,
            "climatology": 30.0,
        }
    )
    # Station B: the model is good for 60 days, then far off from day 60 on.
    bad_model = np.where(np.arange(len(days)) < 60, 30.5, 80.0)
    bad = good.assign(station_id="B", model=bad_model)
    result = forecast.choose_method(pd.concat([good, bad], ignore_index=True))
    a, b = result[result["station_id"] == "A"], result[result["station_id"] == "B"]
    # Too little evidence at first: persistence.
    assert set(a["method"].iloc[: forecast.FALLBACK_MIN_DAYS]) == {"persistence"}
    assert set(a["method"].iloc[forecast.FALLBACK_MIN_DAYS :]) == {"model"}
    # B keeps the model on day 60 itself (decided from days before it), then falls back.
    assert b["method"].iloc[60] == "model"
    assert b["method"].iloc[-1] == "persistence"
    fallback = result["method"] == "persistence"
    assert (result.loc[fallback, "published"] == result.loc[fallback, "persistence"]).all()
    scores = forecast.metrics(b)
    assert scores["method"] == "mixed" and scores["method_latest"] == "persistence"


def test_next_day_forecast_has_interval_category_and_city(history):
    trained = forecast.train(history)
    tomorrow = forecast.predict_next_day(
        history,
        trained.estimator,
        trained.station_methods,
        trained.interval,
        "v-test",
        ["46T", "44T"],
    )
    assert list(tomorrow["station_id"]) == ["44T", "46T", "city"]
    assert (tomorrow["forecast_date"] == pd.Timestamp("2020-01-01").date()).all()
    assert (tomorrow["pm25_lower"] <= tomorrow["pm25_forecast"]).all()
    assert (tomorrow["pm25_forecast"] <= tomorrow["pm25_upper"]).all()
    assert set(tomorrow["method"]) <= {"model", "persistence", "mixed"}
    expected = aqi.pm25_band(tomorrow["pm25_forecast"], pd.to_datetime(tomorrow["forecast_date"]))
    assert list(tomorrow["aqi_band"]) == list(expected)
    assert (tomorrow["model_version"] == "v-test").all()
    city = tomorrow.iloc[-1]
    assert city["pm25_forecast"] == pytest.approx(tomorrow["pm25_forecast"].iloc[:2].mean(), 0.01)


def test_aqi_bands_follow_the_dbt_macro():
    # Values on both sides of each boundary, before and after the 2023-06-01 change.
    new = pd.Series(["2024-01-01"] * 6)
    assert list(aqi.pm25_band([15.0, 15.1, 37.5, 37.6, 75.0, 75.1], new)) == [1, 2, 3, 4, 4, 5]
    old = pd.Series(["2020-01-01"] * 3)
    assert list(aqi.pm25_band([25, 26, 91], old)) == [1, 2, 5]
    assert aqi.category(5).name_en == "Very unhealthy"


# --- the CLI contract ------------------------------------------------------------------------

KEYS = {
    "n",
    "mae",
    "rmse",
    "persistence_mae",
    "persistence_rmse",
    "skill",
    "category_accuracy",
    "method",
}


def test_evaluate_prints_one_json_object(history, tmp_path, capsys):
    path = tmp_path / "daily.csv"
    sparse = history[~((history["station_id"] == "47T") & (history["date"] > "2018-04-01"))]
    sparse.assign(date=sparse["date"].dt.strftime("%Y-%m-%d")).to_csv(path, index=False)
    assert cli.main(["evaluate", "forecast", "--csv", str(path)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) == {"overall", "stations"}
    assert set(result["stations"]) == {"46T", "35T", "36T", "44T"}  # 47T has < 180 days
    for scores in [result["overall"], *result["stations"].values()]:
        assert set(scores) >= KEYS
        assert scores["n"] > 300
        assert scores["skill"] == pytest.approx(
            1 - scores["mae"] / scores["persistence_mae"], abs=1e-3
        )
        assert scores["method"] in {"model", "persistence", "mixed"}
    overall = result["overall"]
    assert overall["n"] == sum(s["n"] for s in result["stations"].values())


BAD_FILES = {
    "missing column": ("station_id,day,pm25\n46T,2023-01-01,5\n", "missing column date"),
    "non-numeric pm25": ("station_id,date,pm25\n46T,2023-01-01,n/a\n", "column pm25"),
    "bad date": ("station_id,date,pm25\n46T,01/02/2023,5\n", "column date"),
    "empty file": ("", "empty file"),
    "header only": ("station_id,date,pm25\n", "empty file"),
    "no value at all": ("station_id,date,pm25\n46T,2023-01-01,\n", "column pm25"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_evaluate_refuses_a_bad_csv_in_one_line(case, tmp_path, capsys):
    text, expected = BAD_FILES[case]
    path = tmp_path / "bad.csv"
    path.write_text(text, encoding="utf-8")
    assert cli.main(["evaluate", "forecast", "--csv", str(path)]) != 0
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert str(path) in lines[0] and expected in lines[0]


def test_evaluate_names_a_missing_file(tmp_path, capsys):
    missing = Path(tmp_path / "nope.csv")
    assert cli.main(["evaluate", "forecast", "--csv", str(missing)]) != 0
    assert str(missing) in capsys.readouterr().err
