"""The benchmark harness (bench/) on a tiny size, so it cannot rot: the landing generator writes
files our sources parse without losing a record, the peers read the same files, the stages run in
measured subprocesses, and the results files and budgets come out right."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from bench import report
from bench.__main__ import main as bench_main
from bench.child import capture_ours, landed_batches
from bench.city import bench_settings, station_ids, write_city
from bench.landing import generate, read_manifest, tickets_per_day
from bench.peers import RUNNERS
from bench.runner import Measurement
from bench.sizes import SIZES, get_size
from city_pipeline.sources import all_captures

XS = get_size("XS")


@pytest.fixture(scope="module")
def landed(tmp_path_factory) -> Path:
    """Landing files of size XS, generated in-process (a tenth of a second)."""
    workdir = tmp_path_factory.mktemp("bench-xs")
    write_city(workdir, XS)
    generate(bench_settings(workdir), XS, workdir)
    return workdir


def test_sizes_reach_the_issue_scale():
    large = SIZES["L"]
    assert large.readings == 1_752_000  # 100 stations x 730 days x 24 hours
    assert large.tickets == 2_000_000 and large.days == 730
    assert len(large.months()) == 24
    assert sum(tickets_per_day(XS)) == XS.tickets
    assert station_ids(4) == ["46t", "97t", "101t", "102t"]


def test_manifest_counts_what_was_landed(landed):
    manifest = read_manifest(landed, XS)
    assert manifest is not None
    captures = manifest["captures"]
    assert captures["air4thai_hourly"]["records"] == XS.readings
    assert captures["open_meteo"]["partitions"] == XS.days
    # DOPA: one monthly batch with the province, district and country-wide subdistrict files.
    assert captures["dopa"] == {**captures["dopa"], "partitions": 1, "files": 3}
    assert captures["dopa"]["records"] > 7436
    assert read_manifest(landed, get_size("S")) is None  # another size is never reused


def test_our_parsers_keep_every_generated_record(landed):
    settings = bench_settings(landed)
    manifest = read_manifest(landed, XS)["captures"]
    specs = {s.name: s for s in all_captures(settings)}
    for capture in ("air4thai_hourly", "traffy", "open_meteo"):
        rows = capture_ours(settings, specs[capture], landed_batches(settings, capture))
        expected = manifest[capture]["records"]
        if capture == "open_meteo":
            expected += XS.days  # one daily row per day besides the 24 hourly rows
        assert rows == expected, capture
    raw = pq.read_table(settings.lake_dir / "raw" / "traffy_tickets").to_pylist()
    versions = Counter(r["ticket_id"] for r in raw)
    assert max(versions.values()) >= 2  # state history: a ticket seen again on a later day
    assert {r["source_endpoint"] for r in raw} == {"stat_api"}
    stations = capture_ours(
        settings, specs["air4thai_stations"], landed_batches(settings, "air4thai_stations")
    )
    assert stations == XS.stations * XS.days  # other provinces' stations are dropped


def test_peers_read_the_same_files(landed, tmp_path):
    settings = bench_settings(landed)
    batches = {
        day: [f.path for f in batch.files]
        for day, batch in landed_batches(settings, "air4thai_hourly").items()
    }
    for method in ("duckdb", "duckdb_bulk", "pandas"):
        rows = RUNNERS[method]("air4thai_hourly", settings, batches, tmp_path / method)
        assert rows == XS.readings, method
    day = date(2023, 1, 2)
    native = pq.read_table(tmp_path / "duckdb" / "air4thai_hourly" / f"date={day}")
    assert native.num_rows == XS.stations * 24
    weather = {
        d: [f.path for f in b.files] for d, b in landed_batches(settings, "open_meteo").items()
    }
    assert RUNNERS["dlt"]("open_meteo", settings, weather, tmp_path / "dlt") == XS.days * 24


def test_harness_end_to_end(tmp_path):
    """`python -m bench` on XS: stages in measured subprocesses, results JSON and Markdown."""
    out = tmp_path / "results"
    code = bench_main(
        [
            "--size", "XS",
            "--workdir", str(tmp_path / "work"),
            "--out", str(out),
            "--stages", "generate,capture,dbt",
            "--methods", "ours,duckdb",
            "--dbt-runs", "parse",
        ]
    )  # fmt: skip
    assert code == 0
    [json_path] = out.glob("XS-*.json")
    document = json.loads(json_path.read_text(encoding="utf-8"))
    stages = {s["label"]: s for s in document["stages"]}
    assert all(s["ok"] for s in stages.values()), [s["error"] for s in stages.values()]
    ours = stages["capture-air4thai_hourly-ours"]
    assert ours["rows"] == XS.readings and ours["peak_rss_mb"] > 50 and ours["wall_s"] > 0
    assert stages["capture-air4thai_hourly-duckdb"]["rows"] == XS.readings
    assert stages["dbt-parse"]["wall_s"] > 0
    assert (tmp_path / "work" / "dbt" / "target" / "manifest.json").exists()
    assert set(document["capture_ratio_vs_duckdb"]) >= {"traffy", "total"}
    markdown = json_path.with_suffix(".md").read_text(encoding="utf-8")
    assert "## Budgets" in markdown and "| traffy | ours |" in markdown


def _m(label, group, target, wall, *, method=None, rss=100.0, **extra) -> Measurement:
    return Measurement(
        label=label,
        group=group,
        method=method,
        target=target,
        wall_s=wall,
        rows=1000,
        bytes=10_000_000,
        peak_rss_mb=rss,
        extra=extra,
    )


def test_budgets_are_judged_from_the_measurements():
    measurements = [
        _m("a", "capture", "traffy", 2.0, method="ours"),
        _m("b", "capture", "traffy", 1.0, method="duckdb"),
        _m("c", "capture", "dopa", 1.0, method="ours"),
        _m("d", "capture", "dopa", 0.9, method="duckdb"),
        _m("e", "dbt", "full", 100.0, rss=2500.0),
        _m("f", "dbt", "daily", 5.0),
        _m("g", "dbt", "rest", 20.0),
        _m("h", "import", "bare", 2.0),
        _m("i", "import", "defs", 2.8),
        _m("j", "import", "defs", 9.0, warmup=True),  # warm-up runs are not counted
    ]
    judged = {b["budget"].split()[0]: b for b in report.budgets("L", measurements)}
    assert judged["capture"]["value"] == pytest.approx(1.9 / 3.0, abs=1e-3)
    assert not judged["capture"]["met"]
    assert judged["one-day"]["value"] == 0.05 and judged["one-day"]["met"]
    assert judged["one-day"]["nightly_value"] == 0.25 and not judged["one-day"]["nightly_met"]
    assert judged["peak"]["value"] == 2500.0 and not judged["peak"]["met"]
    assert judged["definitions"]["value"] == 1.4 and judged["definitions"]["met"]
