"""Model store: skops round-trip, the model card, the `current` pointer, refusing unknown types."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import Ridge

from city_pipeline.analyse import store
from city_pipeline.analyse.history import SEED_HISTORY, read_daily_csv


@pytest.fixture(scope="module")
def khon_kaen_2019() -> pd.DataFrame:
    rows = read_daily_csv(SEED_HISTORY)
    return rows[(rows["station_id"] == "46T") & (rows["date"].dt.year == 2019)]


def card_for(data: pd.DataFrame, version: str, mae: float) -> store.ModelCard:
    return store.ModelCard(
        model="demo",
        version=version,
        created_at="2026-12-04T00:00:00Z",
        training_window={
            "start": str(data["date"].min().date()),
            "end": str(data["date"].max().date()),
        },
        rows=len(data),
        training_sha256=store.frame_sha256(data),
        features=["lag_1"],
        metrics={"mae": mae},
    )


def test_round_trip_predicts_the_same_and_writes_the_card(tmp_path, khon_kaen_2019):
    data = khon_kaen_2019.dropna()
    x, y = data["pm25"].to_numpy()[:-1, None], data["pm25"].to_numpy()[1:]
    model = Ridge().fit(x, y)
    directory = store.save(tmp_path, card_for(data, "v1", 5.0), model, make_current=True)

    assert (directory / store.ARTIFACT).read_bytes()[:2] == b"PK"  # a skops zip, not a pickle
    loaded, card = store.load(tmp_path, "demo")
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    on_disk = json.loads((directory / store.CARD).read_text())
    assert on_disk["rows"] == len(data) == card.rows
    assert on_disk["training_window"] == {"start": "2019-01-01", "end": "2019-12-31"}
    assert on_disk["training_sha256"] == store.frame_sha256(data)
    assert len(on_disk["training_sha256"]) == 64
    assert on_disk["libraries"]["scikit-learn"].startswith("1.")
    assert set(on_disk["libraries"]) >= {"python", "scikit-learn", "skops", "numpy", "pandas"}
    assert on_disk["features"] == ["lag_1"] and on_disk["metrics"] == {"mae": 5.0}


def test_sha256_changes_with_one_value(khon_kaen_2019):
    changed = khon_kaen_2019.copy()
    changed.iloc[3, changed.columns.get_loc("pm25")] += 1
    assert store.frame_sha256(changed) != store.frame_sha256(khon_kaen_2019)


def test_versions_current_and_compare(tmp_path, khon_kaen_2019):
    model = Ridge().fit([[0.0], [1.0]], [0.0, 1.0])
    store.save(tmp_path, card_for(khon_kaen_2019, "v1", 5.0), model, make_current=True)
    store.save(tmp_path, card_for(khon_kaen_2019, "v2", 6.0), model)
    assert store.current_version(tmp_path, "demo") == "v1"
    old, new = store.list_versions(tmp_path, "demo")
    assert (old.version, new.version) == ("v1", "v2")
    assert store.compare(old, new)["worse"] is True
    assert store.compare(new, old)["worse"] is False
    store.set_current(tmp_path, "demo", "v2")
    assert store.load(tmp_path, "demo")[1].version == "v2"
    with pytest.raises(store.ModelStoreError, match="already exists"):
        store.save(tmp_path, card_for(khon_kaen_2019, "v2", 1.0), model)
    with pytest.raises(store.ModelStoreError, match="no version v9"):
        store.set_current(tmp_path, "demo", "v9")


def test_load_refuses_types_nobody_trusted(tmp_path, khon_kaen_2019):
    rng = np.random.default_rng(0)
    trees = HistGradientBoostingRegressor(max_iter=3).fit(rng.random((60, 2)), rng.random(60))
    store.save(tmp_path, card_for(khon_kaen_2019, "v1", 1.0), trees, make_current=True)
    with pytest.raises(store.ModelStoreError, match="refusing untrusted types"):
        store.load(tmp_path, "demo")
    import skops.io as sio

    needed = tuple(sio.get_untrusted_types(file=tmp_path / "demo" / "v1" / store.ARTIFACT))
    loaded, _ = store.load(tmp_path, "demo", trusted=needed)
    assert loaded.n_iter_ == 3


def test_no_current_version_is_a_clear_error(tmp_path):
    with pytest.raises(store.ModelStoreError, match="no version in service"):
        store.load(tmp_path, "nothing")
