"""The analyse assets run through Dagster against a real DuckDB warehouse holding a real slice
(Khon Kaen 46T daily means, Lumphini Park hourly readings); the model check warns and keeps the
version in service when a new one is worse."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest

from city_pipeline.analyse import forecast, history, store
from city_pipeline.analyse.history import SEED_HISTORY, read_daily_csv
from city_pipeline.defs import analyse
from city_pipeline.defs.resources import CityResource

HOURLY_SAMPLE = Path(__file__).parent / "data" / "airbkk_114_hourly_2023-01-01_14.csv"


@pytest.fixture()
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    warehouse = tmp_path / "warehouse" / "city.duckdb"
    warehouse.parent.mkdir(parents=True)
    seed = read_daily_csv(SEED_HISTORY)
    # A smaller seed keeps the test quick: five stations of the real history, 2021-2023.
    seed = seed[seed["station_id"].isin(["46T", "97T", "35T", "36T", "44T"])]
    seed = seed[seed["date"] >= "2021-01-01"]
    small_seed = tmp_path / "seed.csv"
    seed.assign(date=seed["date"].dt.strftime("%Y-%m-%d")).to_csv(small_seed, index=False)
    monkeypatch.setattr(history, "SEED_HISTORY", small_seed)
    # The warehouse holds 46T's last days of 2023 again, with one day after the seed ends.
    daily = seed[(seed["station_id"] == "46T") & (seed["date"] >= "2023-12-01")]
    daily = pd.concat(
        [
            daily,
            pd.DataFrame(
                {"station_id": ["46T"], "date": [pd.Timestamp("2024-01-01")], "pm25": [31.0]}
            ),
        ]
    )
    hourly = pd.read_csv(HOURLY_SAMPLE, parse_dates=["measured_at"]).assign(station_id="46t")
    hourly.loc[100:107, "pm25"] = 22.0  # a stuck sensor
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema marts; create schema staging")
        con.register("daily", daily.assign(date=daily["date"].dt.date))
        con.execute(
            "create table marts.mart_air_quality_daily as "
            "select lower(station_id) as station_id, date, pm25 as pm25_24h_mean from daily"
        )
        con.register("hourly", hourly)
        con.execute(
            "create table staging.stg_air4thai_hourly as select station_id, measured_at, "
            "pm25 as pm25_ugm3, pm25 * 2 as pm10_ugm3 from hourly"
        )
    return tmp_path


def run(data_dir: Path, *assets) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        list(assets), resources={"city": CityResource(data_dir=str(data_dir))}, raise_on_error=True
    )


def test_forecast_and_flags_land_in_the_analyse_schema(data_dir):
    result = run(
        data_dir, analyse.pm25_forecast_model, analyse.pm25_forecast, analyse.air_sensor_flags
    )
    assert result.success
    check = result.get_asset_check_evaluations()[0]
    assert check.check_name == analyse.MODEL_CHECK
    with duckdb.connect(str(data_dir / "warehouse" / "city.duckdb"), read_only=True) as con:
        tomorrow = con.sql('select * from "analyse".pm25_forecast order by scope desc').df()
        flags = con.sql('select * from "analyse".air_sensor_flags').df()
    version = store.current_version(data_dir / "models", forecast.MODEL_NAME)
    # The configured stations (46t, 97t; 97T only in the seed history, up to 2023-12-31).
    assert list(tomorrow["station_id"]) == ["46T", "97T", "city"]
    assert set(tomorrow["forecast_date"].astype(str)) == {"2024-01-02"}  # the mart's day wins
    assert (tomorrow["model_version"] == version).all()
    assert tomorrow.loc[tomorrow["station_id"] == "46T", "persistence_pm25"].item() == 31.0
    assert "flatline" in set(flags["reason"])
    card = store.read_card(data_dir / "models" / forecast.MODEL_NAME / version / store.CARD)
    assert card.training_window["end"] == "2024-01-01"
    assert set(card.metrics) >= {"mae", "persistence_mae", "skill", "category_accuracy"}


def test_a_worse_model_warns_and_the_old_one_stays_in_service(data_dir):
    run(data_dir, analyse.pm25_forecast_model)
    first = store.current_version(data_dir / "models", forecast.MODEL_NAME)
    card = store.read_card(data_dir / "models" / forecast.MODEL_NAME / first / store.CARD)
    better = store.ModelCard(**{**card.__dict__, "metrics": {**card.metrics, "skill": 0.99}})
    assert analyse.judge(card, better)[0] is False
    # Make the version in service look unbeatable, then retrain.
    path = data_dir / "models" / forecast.MODEL_NAME / first / store.CARD
    path.write_text(path.read_text().replace(f'"skill": {card.metrics["skill"]}', '"skill": 0.99'))
    import time

    time.sleep(1.1)  # versions are timestamps to the second
    result = run(data_dir, analyse.pm25_forecast_model)
    evaluation = result.get_asset_check_evaluations()[0]
    assert evaluation.passed is False
    assert evaluation.severity == dg.AssetCheckSeverity.WARN
    assert store.current_version(data_dir / "models", forecast.MODEL_NAME) == first
    assert len(store.list_versions(data_dir / "models", forecast.MODEL_NAME)) == 2
