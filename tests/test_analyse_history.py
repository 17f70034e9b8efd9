"""`city-pipeline import-history`: an export lands as received (sidecar with sha256) and as raw
Parquet with lineage; the forecast's training reads it back."""

from __future__ import annotations

import hashlib
import json

import pyarrow.parquet as pq
import pytest

from city_pipeline import cli
from city_pipeline.analyse import history


@pytest.fixture(autouse=True)
def restored_environment(monkeypatch):
    """The CLI exports its data dir and Dagster home; give them back after each test."""
    for name in ("CITY_PIPELINE_DATA_DIR", "CITY_PIPELINE_CONFIG", "DAGSTER_HOME"):
        monkeypatch.delenv(name, raising=False)


def test_import_history_lands_bytes_and_raw_rows(tmp_path, capsys):
    rows = history.read_daily_csv(history.SEED_HISTORY)
    rows = rows[(rows["station_id"] == "46T") & (rows["date"].dt.year == 2023)]
    export = tmp_path / "export.csv"
    rows.assign(date=rows["date"].dt.strftime("%Y-%m-%d")).to_csv(export, index=False)
    data_dir = tmp_path / "data"

    assert cli.main(["import-history", "--csv", str(export), "--data-dir", str(data_dir)]) == 0
    assert "landed" in capsys.readouterr().out
    (sidecar,) = (data_dir / "lake" / "landing" / history.HISTORY_SOURCE).glob("*/*.meta.json")
    meta = json.loads(sidecar.read_text())
    assert meta["sha256"] == hashlib.sha256(export.read_bytes()).hexdigest()
    (raw,) = (data_dir / "lake" / "raw" / history.HISTORY_TABLE).glob("date=*/part-0.parquet")
    lineage = pq.read_schema(raw).metadata[b"city_pipeline.landing_files"].decode()
    assert meta["sha256"] in lineage
    back = history.imported_history(data_dir / "lake")
    assert len(back) == len(rows) and back["pm25"].sum() == rows["pm25"].sum()


def test_import_history_refuses_a_bad_export_in_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("station_id,date,pm25\n46T,2023-01-01,high\n", encoding="utf-8")
    code = cli.main(["import-history", "--csv", str(bad), "--data-dir", str(tmp_path / "d")])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "column pm25" in err[0] and str(bad) in err[0]
    assert not (tmp_path / "d" / "lake" / "landing").exists()
