"""The demo-data banner: on every page and in release.json/datapackage.json when published
figures come from replayed or generated data, never after a live capture (real local server)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from city_pipeline.capture import run_capture
from city_pipeline.consume.catalog import PUBLISHED_MARTS, Window
from city_pipeline.consume.demo import build_demo_warehouse
from city_pipeline.consume.provenance import banner_lines, data_provenance, day_ranges
from city_pipeline.consume.release import prepare_mart, publish_release
from city_pipeline.settings import Settings, load_settings
from city_pipeline.sources import open_meteo
from tests.test_http_faults import archive_payload, serve_json

DAYS = [date(2024, 1, 5), date(2024, 1, 6), date(2024, 1, 9)]


@pytest.fixture(scope="module")
def marts(tmp_path_factory):
    """Validated demo marts, published below over different lakes."""
    settings = load_settings({"CITY_PIPELINE_DATA_DIR": str(tmp_path_factory.mktemp("marts"))})
    build_demo_warehouse(settings.warehouse_path, days=31)
    window = Window(date(2024, 1, 1), date(2024, 3, 31))
    return [prepare_mart(settings, spec, window) for spec in PUBLISHED_MARTS]


def published(settings: Settings, marts) -> tuple[dict, dict, str, str]:
    release = publish_release(settings, marts)
    return (
        json.loads((release.path / "release.json").read_text("utf-8")),
        json.loads((release.path / "datapackage.json").read_text("utf-8")),
        (release.path / "report" / "index.html").read_text("utf-8"),
        (release.path / "validation" / "index.html").read_text("utf-8"),
    )


def test_replayed_days_are_named_everywhere(tmp_path, marts):
    settings = load_settings({"CITY_PIPELINE_DATA_DIR": str(tmp_path / "data")})
    for day in DAYS:
        run_capture(open_meteo.CAPTURE, day, settings)
    manifest, package, report, validation = published(settings, marts)
    expected = {
        "generated": {"days": 3, "ranges": [["2024-01-05", "2024-01-06"], ["2024-01-09"] * 2]}
    }
    for block in (manifest["data_provenance"], package["data_provenance"]):
        assert block["replayed"] is True
        assert block["sources"] == {"open_meteo": expected}
    for page in (report, validation):
        assert 'id="replay-banner"' in page and "generated demo data" in page
        assert "open_meteo" in page and "2024-01-05 – 2024-01-06" in page


def test_live_capture_has_no_banner(httpserver, live_settings, marts):
    settings = live_settings()
    for day in DAYS:
        serve_json(httpserver, archive_payload(settings, day))
        run_capture(open_meteo.CAPTURE, day, settings)
        httpserver.clear()
    manifest, package, report, validation = published(settings, marts)
    for block in (manifest["data_provenance"], package["data_provenance"]):
        assert block == {
            "replayed": False,
            "note": "Every landed partition was fetched live from its source.",
            "sources": {},
        }
    for page in (report, validation):
        assert "replay-banner" not in page and "Demo data" not in page


def test_a_replay_after_a_live_day_marks_only_the_replayed_day(httpserver, live_settings):
    live = live_settings()
    serve_json(httpserver, archive_payload(live, DAYS[0]))
    run_capture(open_meteo.CAPTURE, DAYS[0], live)
    replay = load_settings({"CITY_PIPELINE_DATA_DIR": str(live.data_dir)})
    run_capture(open_meteo.CAPTURE, DAYS[1], replay)
    provenance = data_provenance(replay.lake_dir)
    assert provenance["sources"]["open_meteo"]["generated"]["ranges"] == [["2024-01-06"] * 2]
    assert len(banner_lines(provenance)) == 1


def test_a_marker_without_a_mode_is_not_passed_off_as_live(tmp_path):
    day_dir = tmp_path / "landing" / "traffy" / "2024-01-02"
    day_dir.mkdir(parents=True)
    marker = {"source": "traffy", "partition": "2024-01-02", "batch_id": "b", "files": []}
    (day_dir / "b.batch.json").write_text(json.dumps(marker))
    provenance = data_provenance(Path(tmp_path))
    assert provenance["replayed"] and "unrecorded" in provenance["sources"]["traffy"]


def test_day_ranges_join_consecutive_days():
    assert day_ranges(set()) == []
    assert day_ranges({date(2024, 1, 3), date(2024, 1, 1), date(2024, 1, 2)}) == [
        ["2024-01-01", "2024-01-03"]
    ]


def test_the_printable_summary_carries_the_banner_too(tmp_path, httpserver, live_settings, marts):
    replayed = load_settings({"CITY_PIPELINE_DATA_DIR": str(tmp_path / "replayed")})
    run_capture(open_meteo.CAPTURE, DAYS[0], replayed)
    summary = (publish_release(replayed, marts).path / "report" / "summary.html").read_text("utf-8")
    assert 'id="replay-banner"' in summary and "2024-01-05" in summary
    live = live_settings()
    serve_json(httpserver, archive_payload(live, DAYS[0]))
    run_capture(open_meteo.CAPTURE, DAYS[0], live)
    summary = (publish_release(live, marts).path / "report" / "summary.html").read_text("utf-8")
    assert "replay-banner" not in summary and "Demo data" not in summary
