"""The complaint assets through Dagster on a real DuckDB warehouse: the classifier's weekly
version (skops round trip, WARN check, old version kept in service), and surge alerts written to
the alert channel once, on a planted spike and never on the flat days before it."""

import json
import logging
import time
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import numpy as np
import pandas as pd
import pytest
from held_out_tickets import held_out_tickets

from city_pipeline.analyse import complaint_types, store
from city_pipeline.defs import analyse_complaints, analyse_surges
from city_pipeline.defs.naming import ONE_CITY
from city_pipeline.defs.resources import CityResource
from city_pipeline.settings import load_settings


def run(data_dir: Path, *assets) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        list(assets), resources={"city": CityResource(data_dir=str(data_dir))}, raise_on_error=True
    )


@pytest.fixture()
def small_history(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The first 800 real training tickets and 200 real held-out ones (a quicker fit)."""
    for name, rows in (("HISTORY_TRAIN", 800), ("HISTORY_TEST", 200)):
        source = getattr(complaint_types, name)
        target = tmp_path / source.name
        pd.read_csv(source, dtype=str, keep_default_na=False).head(rows).to_csv(target, index=False)
        monkeypatch.setattr(complaint_types, name, target)
    return tmp_path


def test_classifier_round_trips_through_the_model_store(tmp_path, small_history):
    settings = load_settings({"CITY_PIPELINE_DATA_DIR": str(tmp_path)})
    card, old, accepted, _ = analyse_complaints.train_types(settings)
    assert accepted and old is None
    model, loaded_card = analyse_complaints.load_classifier(settings)
    retrained = complaint_types.train_on_history(complaint_types.HISTORY_TRAIN)
    # The vocabulary is stored as one array of terms (fast to load), not as skops' dict items.
    stored, _ = store.load(settings.models_dir, analyse_complaints.MODEL_NAME)
    assert not hasattr(stored.steps[0][1], "vocabulary_")
    assert model.steps[0][1].vocabulary_ == retrained.steps[0][1].vocabulary_
    assert loaded_card.version == card.version and loaded_card.rows == card.rows
    assert loaded_card.metrics["top1_accuracy"] > loaded_card.metrics["baseline"]["top1_accuracy"]
    texts = complaint_types.prepare_texts(
        pd.read_csv(complaint_types.HISTORY_TEST, dtype=str)["text"].head(50)
    )
    expected = complaint_types.predict(retrained, texts)
    assert complaint_types.predict(model, texts).equals(expected)


def test_a_worse_classifier_warns_and_the_old_one_stays(tmp_path, small_history):
    run(tmp_path, analyse_complaints.complaint_type_model_asset(ONE_CITY))
    models = tmp_path / "models"
    first = store.current_version(models, analyse_complaints.MODEL_NAME)
    path = models / analyse_complaints.MODEL_NAME / first / store.CARD
    card = json.loads(path.read_text())
    card["metrics"]["top1_accuracy"] = 0.999  # the version in service now looks unbeatable
    path.write_text(json.dumps(card))
    time.sleep(1.1)  # versions are timestamps to the second
    result = run(tmp_path, analyse_complaints.complaint_type_model_asset(ONE_CITY))
    evaluation = result.get_asset_check_evaluations()[0]
    assert evaluation.passed is False and evaluation.severity == dg.AssetCheckSeverity.WARN
    assert "below version" in evaluation.metadata["reasons"].value
    assert store.current_version(models, analyse_complaints.MODEL_NAME) == first
    assert len(store.list_versions(models, analyse_complaints.MODEL_NAME)) == 2


def complaints(counts: list[int], start: date, area: str = "400101") -> pd.DataFrame:
    days = [start + timedelta(days=i) for i in range(len(counts))]
    n = sum(counts)
    return pd.DataFrame(
        {
            "ticket_id": [f"{area}-{start:%m%d}-{i}" for i in range(n)],
            "subdistrict_code": area,
            "opened_date": np.repeat(days, counts),
            "categories": [["น้ำท่วม", "ร้องเรียน"]] * n,
        }
    )


def write_warehouse(data_dir: Path, tickets: pd.DataFrame) -> None:
    path = data_dir / "warehouse" / "city.duckdb"
    path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(path)) as con:
        con.execute("create schema if not exists marts")
        con.register("tickets", tickets)
        con.execute("create or replace table marts.fct_complaints as select * from tickets")
        con.execute(
            "create or replace table marts.dim_admin_area as select '400101' as admin_code, "
            "'subdistrict' as level, 'ในเมือง' as name_th, 'Nai Mueang' as name_en, "
            "'เมืองขอนแก่น' as district_name_th, 'Mueang Khon Kaen' as district_name_en"
        )


def alerts(data_dir: Path) -> list[dict]:
    path = data_dir / "alerts" / "alerts.jsonl"
    lines = path.read_text().splitlines() if path.exists() else []
    return [json.loads(line) for line in lines]


def test_surge_alert_goes_to_the_alert_channel_once(tmp_path):
    flat = [2] * 40
    write_warehouse(tmp_path, complaints(flat, date(2024, 3, 1)))
    run(tmp_path, analyse_surges.complaint_surges_asset(ONE_CITY))
    assert alerts(tmp_path) == []  # a flat series raises nothing
    spike = flat + [12]
    write_warehouse(tmp_path, complaints(spike, date(2024, 3, 1)))
    run(tmp_path, analyse_surges.complaint_surges_asset(ONE_CITY))
    run(
        tmp_path, analyse_surges.complaint_surges_asset(ONE_CITY)
    )  # the same surge is not sent twice
    sent = alerts(tmp_path)
    assert len(sent) == 1
    assert sent[0]["alert"] == "complaint_surge"
    assert sent[0]["date"] == "2024-04-10"
    assert (sent[0]["subdistrict_code"], sent[0]["subdistrict_name_en"]) == ("400101", "Nai Mueang")
    assert sent[0]["problem_type"] == "น้ำท่วม" and sent[0]["observed"] == 12
    assert sent[0]["expected"] == pytest.approx(2.0, rel=0.15)
    assert "12 น้ำท่วม complaints in Nai Mueang" in sent[0]["summary"]
    warehouse = tmp_path / "warehouse" / "city.duckdb"
    with duckdb.connect(str(warehouse), read_only=True) as con:
        days, flagged = con.execute(
            'select count(distinct date), count(*) filter (alert) from "analyse".complaint_surges'
        ).fetchone()
    assert (days, flagged) == (41, 1)  # the nightly recompute kept the earlier days


# -- nightly: the incremental path equals a full recompute -------------------------------------


def tonight(mart: pd.DataFrame) -> pd.DataFrame:
    """The last day's mart: every 7th older ticket seen again today, every 14th with an edited
    text and every 21st re-tagged by the citizen."""
    today = mart["opened_date"].max()
    again = (np.arange(len(mart)) % 7 == 0) & (mart["opened_date"] < today).to_numpy()
    edited = again & (np.arange(len(mart)) % 14 == 0)
    retagged = again & (np.arange(len(mart)) % 21 == 0)
    mart = mart.copy()
    mart.loc[again, "last_seen_date"] = today
    mart.loc[edited, "description"] = mart.loc[edited, "description"] + " แก้ไขแล้ว ยังไม่เรียบร้อย"
    mart.loc[retagged, "categories"] = pd.Series([["ไฟฟ้า"]] * int(retagged.sum()), dtype=object)
    return mart


def nightly_insights(
    data_dir: Path, models: Path, *marts: pd.DataFrame
) -> tuple[pd.DataFrame, dict]:
    """complaint_insights after one night per mart (classifier stored in `models`), and the
    last night's metadata."""
    import shutil
    from types import SimpleNamespace

    shutil.copytree(models, data_dir / "models")
    settings = load_settings({"CITY_PIPELINE_DATA_DIR": str(data_dir)})
    context = SimpleNamespace(run_id="test", log=logging.getLogger("test"))
    for mart in marts:
        write_warehouse(data_dir, mart)
        night = analyse_complaints.classify_and_link(context, settings)
    with duckdb.connect(str(settings.warehouse_path)) as con:
        table = con.execute(f"select * from {analyse_complaints.INSIGHTS} order by ticket_id")
        return table.df(), night


def test_incremental_night_equals_a_full_recompute_on_real_tickets(tmp_path, small_history):
    settings = load_settings({"CITY_PIPELINE_DATA_DIR": str(tmp_path / "train")})
    analyse_complaints.train_types(settings)
    mart = held_out_tickets()
    yesterday = mart[mart["opened_date"] < mart["opened_date"].max()]
    today = tonight(mart)
    incremental, night = nightly_insights(tmp_path / "a", settings.models_dir, yesterday, today)
    full, _ = nightly_insights(tmp_path / "b", settings.models_dir, today)
    assert len(incremental) == len(mart) and incremental["ticket_id"].is_unique
    # Tonight only today's tickets and the edited texts went through the classifier.
    edited = (today["description"] != mart["description"]).sum()
    assert edited > 0 and night["classified_tonight"] == len(mart) - len(yesterday) + edited
    exact = [c for c in incremental.columns if c != "duplicate_similarity"]
    pd.testing.assert_frame_equal(incremental[exact], full[exact])
    # The similarity's IDF is fitted on the texts compared, which differ between the two runs
    # (the trailing window vs all history): the links agree, the scores only closely.
    assert incremental["duplicate_of"].notna().sum() > 0
    np.testing.assert_allclose(
        incremental["duplicate_similarity"], full["duplicate_similarity"], rtol=0.1
    )
