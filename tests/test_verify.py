"""`city-pipeline verify`: every damaged file of the landing zone is reported, exit 1 for cron."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from city_pipeline import cli, lake
from city_pipeline.lake import LandingBatch
from city_pipeline.settings import DEFAULT_CITY_FILE
from city_pipeline.verify import verify_landing

DAY = date(2024, 1, 5)


def land_batch(lake_dir: Path, source: str, bodies: list[bytes]) -> LandingBatch:
    batch = LandingBatch(lake_dir, source, DAY)
    for n, body in enumerate(bodies):
        batch.land(
            body, url="http://example/x", params={"n": n}, status=200, headers={}, ext="json"
        )
    batch.complete()
    return batch


@pytest.fixture
def lake_dir(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("CITY_PIPELINE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CITY_PIPELINE_CONFIG", str(DEFAULT_CITY_FILE))
    return tmp_path / "lake"


def run_verify(*args: str) -> int:
    return cli.main(["verify", *args])


def test_a_clean_lake_exits_0(lake_dir, capsys):
    land_batch(lake_dir, "traffy", [b'{"a": 1}', b'{"a": 2}'])
    land_batch(lake_dir, "air4thai_stations", [b'{"stations": []}'])
    assert run_verify() == 0
    out = capsys.readouterr().out
    assert "verified 8 files" in out and "clean" in out and "DAMAGED" not in out
    assert run_verify("--json") == 0
    assert json.loads(capsys.readouterr().out) == {"checked": 8, "damaged": []}


def test_every_kind_of_damage_is_listed_and_exits_1(lake_dir, capsys):
    traffy = land_batch(lake_dir, "traffy", [b'{"a": 1}', b'{"a": 2}', b'{"a": 3}', b'{"a": 4}'])
    altered, truncated, orphaned, lost = traffy.files
    altered.path.write_bytes(b'{"a": 9}')  # same size, valid JSON
    truncated.path.write_bytes(b'{"a"')
    orphaned.sidecar.unlink()
    lost.path.unlink()  # its sidecar stays, and the batch marker still lists it
    unreadable = land_batch(lake_dir, "air4thai_stations", [b"{}"]).files[0].sidecar
    unreadable.write_text("{not json", encoding="utf-8")

    assert run_verify("--json", "--data-dir", str(lake_dir.parent)) == 1
    report = json.loads(capsys.readouterr().out)
    found = {(Path(d["path"]).name, d["problem"]) for d in report["damaged"]}
    assert found == {
        (altered.path.name, "sha256 mismatch"),
        (truncated.path.name, "size mismatch"),
        (orphaned.path.name, "missing sidecar"),
        (lost.path.name, "sidecar without file"),
        (lost.path.name, "batch lists missing file"),
        (unreadable.name, "unparsable sidecar"),
    }
    by_problem = {d["problem"]: d for d in report["damaged"]}
    assert by_problem["sha256 mismatch"]["expected"] == altered.sha256
    assert by_problem["sha256 mismatch"]["actual"] == lake.file_sha256(altered.path)
    assert (by_problem["size mismatch"]["expected"], by_problem["size mismatch"]["actual"]) == (
        "8",
        "4",
    )
    assert report["checked"] == 10  # traffy: 3 data files, 3 sidecars, marker; stations: 3

    assert run_verify() == 1
    lines = capsys.readouterr().out.splitlines()
    assert sum(line.startswith("DAMAGED ") for line in lines) == 6
    assert f"DAMAGED {truncated.path}: size mismatch (expected 8, actual 4)" in lines
    assert lines[-1].endswith("6 damaged")


def test_a_batch_marker_that_is_not_json_is_damage(lake_dir):
    marker = land_batch(lake_dir, "traffy", [b"{}"]).complete()
    marker.write_text("[", encoding="utf-8")
    [damage] = verify_landing(lake_dir).damaged
    assert (damage.path, damage.problem) == (marker, "unparsable batch marker")


def test_a_data_dir_without_a_landing_zone_is_a_usage_error(tmp_path, lake_dir, capsys):
    assert run_verify("--data-dir", str(tmp_path / "elsewhere")) == 2
    assert "no landing zone" in capsys.readouterr().err
