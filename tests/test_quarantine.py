"""Quarantine, not blockade: a row whose value does not type is set aside with its provenance and
the rest of the partition proceeds; past the source's `quarantine_max_share` the partition fails.

Through the real capture path (live mode against a local HTTP server, Traffy's stat API)."""

import pyarrow.parquet as pq
import pytest
from test_source_traffy import DAY, collection, feature, serve_pages

from city_pipeline.capture import quarantine_table, run_capture
from city_pipeline.lake import quarantine_counts, raw_partition_path
from city_pipeline.sources import traffy
from city_pipeline.sources.common import SourceError

TICKETS = 40


def day_of_tickets(bad: set[int]) -> dict:
    features = []
    for number in range(TICKETS):
        ticket = feature(f"T{number:03d}")
        if number in bad:
            ticket["geometry"]["coordinates"] = ["ไม่ทราบ", 16.4]
        features.append(ticket)
    return collection(features, total=TICKETS)


def capture(live_settings, httpserver, bad: set[int], **overrides):
    settings = live_settings("traffy", page_size=100, **overrides)
    [spec] = traffy.captures(settings)
    serve_pages(httpserver, {0: day_of_tickets(bad)}, limit=100)
    return settings, spec, run_capture(spec, DAY, settings)


def test_one_bad_coordinate_is_quarantined_and_the_day_proceeds(httpserver, live_settings):
    settings, spec, result = capture(live_settings, httpserver, {7})

    assert result.tables["traffy_tickets"].rows == TICKETS - 1
    raw = pq.read_table(result.tables["traffy_tickets"].path)
    assert "T007" not in raw.column("ticket_id").to_pylist()
    assert result.metadata()["quarantined_rows"] == 1

    path = raw_partition_path(settings.lake_dir, quarantine_table(spec), DAY)
    assert result.quarantine.path == path
    (record,) = pq.read_table(path).to_pylist()
    assert record["source"] == "traffy"
    assert record["partition"] == DAY.isoformat()
    assert record["field"] == "lon" and record["value"] == "ไม่ทราบ"
    assert record["reason"] == "not a valid DOUBLE"
    assert record["row_index"] == 7
    assert record["landed_file"] == str(result.batch.files[0].path)
    assert quarantine_counts(settings.lake_dir) == {quarantine_table(spec): 1}  # status, report


def test_a_clean_rerun_clears_the_quarantine(httpserver, live_settings):
    settings, spec, first = capture(live_settings, httpserver, {3})
    assert first.quarantine.rows == 1
    httpserver.clear()
    serve_pages(httpserver, {0: day_of_tickets(set())}, limit=100)
    again = run_capture(spec, DAY, settings)
    assert again.quarantine.rows == 0 and again.tables["traffy_tickets"].rows == TICKETS
    assert pq.read_table(again.quarantine.path).num_rows == 0


def test_too_many_bad_rows_fail_the_partition(httpserver, live_settings):
    settings = live_settings("traffy", page_size=100)
    [spec] = traffy.captures(settings)
    serve_pages(httpserver, {0: day_of_tickets({1, 2, 3})}, limit=100)  # 7.5 % > 5 %
    with pytest.raises(SourceError, match=r"field 'lon'.*3 of 40 rows \(7\.5%\)") as caught:
        run_capture(spec, DAY, settings)
    assert caught.value.partition == DAY.isoformat()
    assert not raw_partition_path(settings.lake_dir, "traffy_tickets", DAY).exists()


def test_the_threshold_is_configured_per_source(httpserver, live_settings):
    _, _, result = capture(live_settings, httpserver, {1, 2, 3}, quarantine_max_share=0.1)
    assert result.quarantine.rows == 3 and result.tables["traffy_tickets"].rows == TICKETS - 3
