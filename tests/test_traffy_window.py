"""Traffy's window parser: the landed days of a backfill parsed in one query give, day by day,
exactly what `parse` gives for each day alone (same rows, same Parquet bytes), a re-fetched page
included; a bad page or value names the day it came from, with the envelope check's messages."""

import copy
import io
import json
from datetime import date, timedelta

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from city_pipeline import lake
from city_pipeline.capture import ParseContext, run_capture
from city_pipeline.settings import CITIES_DIR, load_settings
from city_pipeline.sources import traffy
from city_pipeline.sources.common import SourceError
from city_pipeline.synth import traffy as synth

URL = "https://publicapi.traffy.in.th" + traffy.STAT_API_PATH
# Outside the recorded window: days whose pages the tests land themselves.
REFETCHED = date(2024, 5, 1)
BAD_DAY = date(2024, 5, 2)


@pytest.fixture
def settings(tmp_path):
    return load_settings(
        {
            "CITY_PIPELINE_DATA_DIR": str(tmp_path),
            "CITY_PIPELINE_CONFIG": str(CITIES_DIR / "khon_kaen.yaml"),
        }
    )


def land(settings, day: date, bodies: list[bytes], content_type="application/json") -> None:
    """A complete batch of stat_api pages with these exact bytes."""
    batch = lake.LandingBatch(settings.lake_dir, traffy.SOURCE, day)
    for offset, body in enumerate(bodies):
        params = {"start": day.isoformat(), "end": day.isoformat(), "offset": str(offset)}
        batch.land(
            body,
            url=URL,
            params=params,
            status=200,
            headers={"content-type": content_type},
            ext="json",
        )
    batch.complete()


def contexts(settings, days) -> list[ParseContext]:
    return [
        ParseContext(
            source=traffy.SOURCE,
            day=day,
            files=tuple(lake.latest_batch(settings.lake_dir, traffy.SOURCE, day).files),
            settings=settings,
        )
        for day in days
    ]


def page(features: list[dict]) -> bytes:
    body = {"type": "FeatureCollection", "status": "success", "message": "", "total": 0}
    return json.dumps({**body, "features": features}, ensure_ascii=False).encode()


def parquet_bytes(table: pa.Table) -> bytes:
    out = io.BytesIO()
    pq.write_table(table, out, compression="zstd")
    return out.getvalue()


def recorded_days(settings) -> list[date]:
    """A storm day (two pages) with its neighbours, the empty day and an ordinary day."""
    window = settings.config.recorded_window
    special = synth.special_days(window.start, window.end)
    storm = special.storms[0]
    return [
        storm - timedelta(days=1),
        storm,
        storm + timedelta(days=1),
        special.empty,
        window.start,
    ]


def storm_features(settings) -> list[dict]:
    storm = recorded_days(settings)[1]
    batch = lake.latest_batch(settings.lake_dir, traffy.SOURCE, storm)
    return [f for landed in batch.files for f in json.loads(landed.read_bytes())["features"]]


def test_window_gives_each_day_what_parse_gives_it_alone(settings):
    [spec] = traffy.captures(settings)
    assert spec.parse_window is traffy.parse_window
    days = recorded_days(settings)
    for day in days:
        run_capture(spec, day, settings)
    # A re-fetched day: page 1, page 2, then page 1 again, and page 1 once more with changed
    # states (same ticket versions: the first landed copy wins) and one new ticket. Its tickets
    # are also the storm day's: dedupe is per day, never across the window.
    features = storm_features(settings)
    first, second = features[:100], features[100:]
    changed = copy.deepcopy(first)
    for feature in changed:
        feature["properties"]["state"] = "เสร็จสิ้น"
    new = copy.deepcopy(changed[0])
    new["properties"]["ticket_id"] = "2024-NEWONE"
    land(settings, REFETCHED, [page(first), page(second), page(first), page([*changed, new])])
    window_days = [*days, REFETCHED]

    ctxs = contexts(settings, window_days)
    alone = {ctx.day: traffy.parse(ctx)["traffy_tickets"] for ctx in ctxs}
    together = traffy.parse_window(ctxs)

    assert list(together) == window_days
    for day in window_days:
        table = together[day]["traffy_tickets"]
        assert table.schema == alone[day].schema
        assert table.equals(alone[day]), day
        assert parquet_bytes(table) == parquet_bytes(alone[day]), day
    rows = {day: together[day]["traffy_tickets"] for day in window_days}
    assert rows[days[3]].num_rows == 0  # the empty day: zero rows, full schema
    assert rows[days[1]].num_rows == len(features) > 100
    # The re-fetched day holds each version once, as first landed (not the changed copy), plus
    # the new ticket: the storm day's rows exactly.
    refetched = rows[REFETCHED]
    is_new = pc.equal(refetched.column("ticket_id"), "2024-NEWONE")
    assert refetched.filter(is_new).column("state").to_pylist() == ["เสร็จสิ้น"]
    assert refetched.filter(pc.invert(is_new)).equals(rows[days[1]])


def test_window_rows_are_in_the_raw_sort_order(settings):
    [spec] = traffy.captures(settings)
    days = recorded_days(settings)[:3]
    for day in days:
        run_capture(spec, day, settings)
    for tables in traffy.parse_window(contexts(settings, days)).values():
        table = tables["traffy_tickets"]
        keys = [(k, "ascending") for k in spec.sort_keys["traffy_tickets"]]
        assert table.sort_by(keys).equals(table)  # the capture's own sort changes nothing


BAD_PAGES = (
    "html",
    "truncated",
    "empty",
    "two documents",
    "top-level array",
    "wrong type",
    "type not text",
    "status fail",
    "no features",
    "features not a list",
    "feature a number",
    "feature null",
    "properties missing",
    "properties text",
    "lon not a number",
)


def bad_pages(features: list[dict]) -> dict[str, tuple[bytes, str]]:
    """Landed bodies a rebuild must refuse, and the message (regex) it must give."""
    good = page(features)
    no_properties = copy.deepcopy(features[0])
    del no_properties["properties"]
    bad_lon = copy.deepcopy(features[0])
    bad_lon["geometry"]["coordinates"] = ["ไม่ทราบ", 16.4]
    properties_text = copy.deepcopy(features[0])
    properties_text["properties"] = "ไม่มี"
    envelope = json.loads(good)
    return {
        "html": (b"<html><body>maintenance</body></html>", r"expected JSON but got an HTML page"),
        "truncated": (good[: len(good) // 2], r"invalid or truncated JSON"),
        "empty": (b"  \n", r"empty body"),
        "two documents": (good + good, r"invalid or truncated JSON"),
        "top-level array": (b"[" + good + b"]", r"expected a JSON object"),
        "wrong type": (
            json.dumps({**envelope, "type": "Feature"}).encode(),
            r"field 'type'.*expected a FeatureCollection.*'Feature'",
        ),
        "type not text": (json.dumps({**envelope, "type": 5}).encode(), r"field 'type'"),
        "status fail": (
            json.dumps({**envelope, "status": "fail", "message": "invalid date"}).encode(),
            r"field 'status'.*'fail'.*invalid date",
        ),
        "no features": (
            json.dumps({k: v for k, v in envelope.items() if k != "features"}).encode(),
            r"field 'features'.*missing field",
        ),
        "features not a list": (
            json.dumps({**envelope, "features": {"a": 1}}).encode(),
            r"field 'features'.*expected list",
        ),
        "feature a number": (page([*features[:2], 5]), r"field 'features\[\]'.*expected objects"),
        # check_envelope lets a null feature through; it has no properties object.
        "feature null": (page([None, *features[:2]]), r"field 'features\[\]\.properties'"),
        "properties missing": (page([no_properties]), r"field 'features\[\]\.properties'"),
        "properties text": (page([properties_text]), r"field 'features\[\]'.*could not read"),
        "lon not a number": (page([bad_lon]), r"field 'lon'.*ไม่ทราบ"),
    }


@pytest.mark.parametrize("case", BAD_PAGES)
def test_a_bad_page_in_a_window_names_its_day_and_the_problem(settings, case):
    [spec] = traffy.captures(settings)
    days = recorded_days(settings)[1:3]  # the storm (two pages) and the next day
    for day in days:
        run_capture(spec, day, settings)
    features = storm_features(settings)
    body, message = bad_pages(features)[case]
    land(settings, BAD_DAY, [page(features[:3]), body])
    ctxs = contexts(settings, [*days, BAD_DAY])
    for parse in (traffy.parse_window, lambda cs: traffy.parse(cs[-1])):
        with pytest.raises(SourceError, match=message) as caught:
            parse(ctxs)
        assert caught.value.source == "traffy"
        assert caught.value.partition == BAD_DAY.isoformat()
