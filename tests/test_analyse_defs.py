"""The analyse assets run through Dagster against a real DuckDB warehouse holding a real slice
(Khon Kaen 46T daily means, Lumphini Park hourly readings, the held-out tagged Bangkok tickets as
fct_complaints); the model checks warn and keep the version in service when a new one is worse;
the analyse tables are published, and a failing analyse step holds back only its own mart."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest
from held_out_tickets import held_out_tickets

from city_pipeline.analyse import forecast, history, store
from city_pipeline.analyse.history import SEED_HISTORY, read_daily_csv
from city_pipeline.consume.catalog import mart_by_name
from city_pipeline.defs import analyse, analyse_complaints, consume
from city_pipeline.defs.naming import ONE_CITY
from city_pipeline.defs.resources import CityResource
from city_pipeline.settings import load_settings

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
    tickets = real_tickets()
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema marts; create schema staging")
        con.register("tickets", tickets)
        con.execute("create table marts.fct_complaints as select * from tickets")
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


def real_tickets() -> pd.DataFrame:
    """The held-out real tickets, all last seen on the newest day (one nightly snapshot)."""
    tickets = held_out_tickets()
    return tickets.assign(last_seen_date=tickets["opened_date"].max())


def run(data_dir: Path, *assets, raise_on_error=True) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        list(assets),
        resources={"city": CityResource(data_dir=str(data_dir))},
        raise_on_error=raise_on_error,
    )


ANALYSE_MARTS = ["pm25_forecast", "air_sensor_flags", "complaint_insights", "complaint_surges"]


def published(data_dir: Path, *assets) -> dg.ExecuteInProcessResult:
    """The analyse assets, then their published marts and a release of just those."""
    specs = [mart_by_name(n) for n in ANALYSE_MARTS]
    consume_assets = [*(consume.published_mart(s) for s in specs), consume.release_asset(specs)]
    return run(data_dir, *assets, *consume_assets, raise_on_error=False)


def test_complaint_assets_classify_link_and_publish(data_dir):
    assets = analyse.build_defs(load_settings()).assets
    result = published(data_dir, *assets)
    assert result.success
    checks = {(c.asset_key.path[-1], c.check_name): c for c in result.get_asset_check_evaluations()}
    # Trained on the real training part, scored on the held-out part: beats the majority type.
    model_check = checks[("complaint_type_model", analyse_complaints.TYPE_MODEL_CHECK)]
    assert model_check.passed
    version = store.current_version(data_dir / "models", analyse_complaints.MODEL_NAME)
    card = store.read_card(data_dir / "models" / "complaint_types" / version / store.CARD)
    assert card.metrics["top1_accuracy"] > card.metrics["baseline"]["top1_accuracy"] + 0.3
    assert card.training_window == {"start": "2023-05-11", "end": "2023-05-18"}
    assert all(checks[(n, analyse.OUTPUT_CHECK)].passed for n in ANALYSE_MARTS)
    assert all(checks[(n, f"gx_{n}")].passed for n in ANALYSE_MARTS)
    release = data_dir / "published" / "current"
    insights = pd.read_parquet(release / "complaint_insights.parquet")
    assert len(insights) == len(real_tickets()) and (insights["model_version"] == version).all()
    labelled = insights[insights["citizen_types"].map(len) > 0]
    hits = [
        p in c for p, c in zip(labelled["predicted_type"], labelled["citizen_types"], strict=True)
    ]
    assert sum(hits) / len(hits) > 0.8
    # duplicate_of points at an earlier ticket of the same place (the first report)
    linked = insights.dropna(subset=["duplicate_of"])
    assert len(linked) > 0 and set(linked["duplicate_of"]) <= set(insights["ticket_id"])
    first = insights.set_index("ticket_id")["opened_date"]
    assert (first[linked["duplicate_of"]].to_numpy() <= linked["opened_date"].to_numpy()).all()
    assert first[linked["duplicate_of"]].index.isin(linked["ticket_id"]).sum() == 0
    surges = pd.read_parquet(release / "complaint_surges.parquet")
    assert surges["observed"].sum() > 0 and not surges["has_baseline"].any()
    package = json.loads((release / "datapackage.json").read_text())
    fields = {
        r["name"]: {f["name"]: f.get("description") for f in r["schema"]["fields"]}
        for r in package["resources"]
        if "schema" in r
    }
    for name in ANALYSE_MARTS:  # the data dictionary documents every analyse column
        assert fields[name.replace("_", "-")] and all(fields[name.replace("_", "-")].values())


def test_a_failing_analyse_step_holds_back_only_its_mart(data_dir):
    assets = analyse.build_defs(load_settings()).assets
    assert published(data_dir, *assets).success
    # The classifier in service is damaged: tonight's inference fails.
    version = store.current_version(data_dir / "models", analyse_complaints.MODEL_NAME)
    (data_dir / "models" / "complaint_types" / version / store.ARTIFACT).write_bytes(b"garbage")
    with duckdb.connect(str(data_dir / "warehouse" / "city.duckdb")) as con:  # an edited ticket
        con.execute(
            "update marts.fct_complaints set description = description || ' แก้ไข', "
            "last_seen_date = last_seen_date + 1 "
            "where ticket_id = (select min(ticket_id) from marts.fct_complaints)"
        )
    nightly = [a for a in assets if a.key != analyse_complaints.TYPE_MODEL_KEY]
    nightly = [a for a in nightly if a.key != analyse.MODEL_KEY]
    result = published(data_dir, *nightly)
    assert result.success  # the release went out
    checks = {(c.asset_key.path[-1], c.check_name): c for c in result.get_asset_check_evaluations()}
    assert not checks[("complaint_insights", analyse.OUTPUT_CHECK)].passed
    manifest = json.loads((data_dir / "published" / "current" / "release.json").read_text())
    assert list(manifest["stale"]) == ["complaint_insights"]
    reason = manifest["stale"]["complaint_insights"]["reasons"][0]
    assert reason["kind"] == "analyse step" and "complaint_insights" in reason["summary"]
    alerts = (data_dir / "alerts" / "alerts.jsonl").read_text().splitlines()
    assert json.loads(alerts[-1])["mart"] == "complaint_insights"


def test_forecast_and_flags_land_in_the_analyse_schema(data_dir):
    result = run(data_dir, *analyse.air_assets(ONE_CITY))
    assert result.success
    names = {(c.asset_key.path[-1], c.check_name) for c in result.get_asset_check_evaluations()}
    assert ("pm25_forecast_model", analyse.MODEL_CHECK) in names
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
    run(data_dir, analyse.pm25_forecast_model_asset(ONE_CITY))
    first = store.current_version(data_dir / "models", forecast.MODEL_NAME)
    card = store.read_card(data_dir / "models" / forecast.MODEL_NAME / first / store.CARD)
    better = store.ModelCard(**{**card.__dict__, "metrics": {**card.metrics, "skill": 0.99}})
    assert analyse.judge(card, better)[0] is False
    # Make the version in service look unbeatable, then retrain.
    path = data_dir / "models" / forecast.MODEL_NAME / first / store.CARD
    path.write_text(path.read_text().replace(f'"skill": {card.metrics["skill"]}', '"skill": 0.99'))
    import time

    time.sleep(1.1)  # versions are timestamps to the second
    result = run(data_dir, analyse.pm25_forecast_model_asset(ONE_CITY))
    evaluation = result.get_asset_check_evaluations()[0]
    assert evaluation.passed is False
    assert evaluation.severity == dg.AssetCheckSeverity.WARN
    assert store.current_version(data_dir / "models", forecast.MODEL_NAME) == first
    assert len(store.list_versions(data_dir / "models", forecast.MODEL_NAME)) == 2
