"""Traffy Fondue: every real Traffy sample parses (unchanged bytes) to the values read off the file;
replay capture pages, dedupes and is repeatable; pagination loops and bad payloads are SourceErrors
naming the field; the Exchange API token and password never reach landing or recordings."""

import copy
import gzip
import json
import random
import zlib
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from werkzeug import Response

from city_pipeline import lake
from city_pipeline.capture import rebuild_raw, run_capture
from city_pipeline.consume.privacy import is_valid_national_id
from city_pipeline.settings import CITIES_DIR, load_settings
from city_pipeline.sources import traffy
from city_pipeline.sources.common import SourceError
from city_pipeline.synth import traffy as synth

SAMPLES = Path(__file__).parents[1] / "data" / "recordings" / "real-samples"
STAT_API = SAMPLES / "traffy_teamchadchart_stat_api_geojson_v1_2026-09-26_excerpt.json"
SHARE = SAMPLES / "traffy_share_teamchadchart_geojson_2023-04-08_subset.json"
ISSUES_V2 = SAMPLES / "traffy_exchange_api_get_issues_v2_doc_example.json"
ISSUE_V1 = SAMPLES / "traffy_exchange_api_get-issue_v1_DOC_EXAMPLE_trimmed_by_doc_author.json"
DOWNLOAD = SAMPLES / "traffy_teamchadchart_download_first50.csv"
DOWNLOAD_NON_BKK = SAMPLES / "traffy_teamchadchart_download_nonBKK_and_prefixed_province_rows.csv"
SCRAPE_06 = SAMPLES / "traffy_web_scrape_2024-12-06_first50.csv"
SCRAPE_03 = SAMPLES / "traffy_web_scrape_2024-12-03_excel_resaved_first50.csv"
SNAPSHOTS = SAMPLES / "traffy_web_scrape_same_ticket_5_snapshots.csv"
PROCESSED = SAMPLES / "traffy_bangkok_dataset_30rows_processed.csv"
LIST_FIELDS = ("org", "problem_type_fondue", "problem_type_abdul")

CONTRACT = {
    "ticket_id": pa.string(),
    "type": pa.string(),
    "categories": pa.list_(pa.string()),
    "org": pa.list_(pa.string()),
    "description": pa.string(),
    "address": pa.string(),
    "subdistrict": pa.string(),
    "district": pa.string(),
    "province": pa.string(),
    "lon": pa.float64(),
    "lat": pa.float64(),
    "state": pa.string(),
    "star": pa.float64(),
    "count_reopen": pa.int32(),
    "photo_url": pa.string(),
    "after_photo": pa.string(),
    "reported_at": pa.timestamp("us", tz="UTC"),
    "last_activity": pa.timestamp("us", tz="UTC"),
    "inprogress_at": pa.timestamp("us", tz="UTC"),
    "finished_at": pa.timestamp("us", tz="UTC"),
    "source_endpoint": pa.string(),
}
BANGKOK_TZ = timedelta(hours=7)
DAY = date(2024, 1, 5)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def bangkok(*parts: int) -> datetime:
    """A naive Asia/Bangkok wall time as the UTC instant the raw table holds."""
    return datetime(*parts, tzinfo=UTC) - BANGKOK_TZ


def by_ticket(table: pa.Table) -> dict:
    return {row["ticket_id"]: row for row in table.to_pylist()}


def assert_contract(table: pa.Table) -> None:
    assert {f.name: f.type for f in table.schema} == CONTRACT
    assert table.schema.names == list(CONTRACT)  # order too


# --- contract: the API payloads ---------------------------------------------------------------


def test_stat_api_excerpt_naive_bangkok_time_and_district():
    table = traffy.parse_geojson_files([STAT_API], "stat_api")
    assert_contract(table)
    [row] = table.to_pylist()
    assert row["ticket_id"] == "2026-99779A"
    assert row["reported_at"] == utc(2026, 9, 25, 23, 42, 35)  # "2026-09-26 06:42:35" Bangkok
    assert row["last_activity"] == bangkok(2026, 9, 26, 6, 42, 35)
    assert (row["district"], row["subdistrict"], row["province"]) == (
        "ประเวศ",
        "ดอกไม้",
        "กรุงเทพมหานคร",
    )
    assert (row["lon"], row["lat"]) == (100.69279, 13.69274)
    assert row["categories"] == ["อื่นๆ"] and row["type"] == "อื่นๆ"
    assert row["org"] == ["กรุงเทพมหานคร", "เขตประเวศ"]
    assert (row["state"], row["star"], row["count_reopen"]) == ("รอรับเรื่อง", None, 0)
    assert row["after_photo"] is None and row["inprogress_at"] is None
    assert row["description"] == ".."
    assert row["source_endpoint"] == "stat_api"


def test_share_subset_string_numbers_utc_timestamps_no_districts():
    table = traffy.parse_geojson_files([SHARE], "share")
    assert_contract(table)
    assert table.num_rows == 18
    rows = by_ticket(table)
    first = rows["2023-4XFVY4"]
    assert (first["lon"], first["lat"]) == (100.50326, 13.60761)  # served as strings
    assert first["reported_at"] == utc(2023, 4, 8, 11, 53, 47, 240886)  # "...+00"
    assert first["last_activity"] == utc(2023, 4, 8, 11, 53, 47, 229835)
    assert first["count_reopen"] == 0  # served as "0"
    assert first["after_photo"] is None  # served as ""
    assert (first["district"], first["subdistrict"], first["province"]) == (None, None, None)
    assert first["org"] == ["กรุงเทพมหานคร"] and first["categories"] == ["แสงสว่าง"]
    both = rows["2023-LMWH4M"]
    assert both["type"] == "ความสะอาด,ถนน" and both["categories"] == ["ความสะอาด", "ถนน"]
    assert both["state"] == "ส่งต่อ(ใหม่)"
    uncategorised = rows["2023-BAX8PU"]  # problem_type_abdul [""] and type ""
    assert uncategorised["categories"] == [] and uncategorised["type"] is None
    done = rows["2023-7YLDM8"]
    assert done["state"] == "เสร็จสิ้น" and done["after_photo"].endswith("/1680954182193.jpeg")
    assert rows["PZVE7E"]["categories"] == ["ถนน", "สัตว์จรจัด", "ร้องเรียน", "ความสะอาด"]
    # The corruption-report placeholder has no ticket id: kept (no silent loss), id NULL.
    assert rows[None]["org"] == ["กรุงเทพโปร่งใส"] and rows[None]["description"] is None
    assert set(table.column("source_endpoint").to_pylist()) == {"share"}


def test_exchange_get_issues_v2_doc_example():
    table = traffy.parse_exchange_issues_files([ISSUES_V2])
    assert_contract(table)
    [row] = table.to_pylist()
    assert row["ticket_id"] == "2026-B9WGC7"
    assert (row["lat"], row["lon"]) == (14.060383, 100.596114)
    assert row["state"] == "ส่งต่อ(ใหม่)"  # `status` in this API
    assert row["reported_at"] == bangkok(2026, 8, 20, 22, 25, 37, 433959)
    assert row["last_activity"] == utc(2026, 9, 9, 7, 38, 19, 663501)
    assert row["org"] == ["Traffy @ ITS Lab2", "Accom Park"]
    assert row["star"] == 0.0 and row["district"] == "คลองหลวง"
    assert row["source_endpoint"] == "exchange"


def test_exchange_get_issue_v1_with_the_trimmed_timeline():
    table = traffy.parse_exchange_issue_v1_files([ISSUE_V1])
    assert_contract(table)
    [row] = table.to_pylist()
    assert row["ticket_id"] == "2026-GYDHMT"
    assert row["state"] == "กำลังดำเนินการ"  # the primary organisation's status
    assert row["org"] == ["Traffy @ ITS Lab2", "ทดสอบ toy (2)"]
    assert row["last_activity"] == bangkok(2026, 9, 1, 16, 14, 49, 465362)
    assert (row["lat"], row["lon"], row["star"]) == (14.077774, 100.60131, None)
    timeline = traffy.exchange_issue_timeline([ISSUE_V1]).to_pylist()
    # The doc author's {"...": "ตัดรายการที่เหลือ"} placeholder is not an event.
    assert [e["status"] for e in timeline] == ["รอรับเรื่อง", "จัดทำนโยบาย"]
    assert timeline[1]["at"] == bangkok(2026, 8, 27, 22, 18, 6, 282372)
    assert timeline[1]["org"] == "Traffy @ ITS Lab2" and timeline[0]["org"] is None


# --- contract: each page parsed once into a declared struct gives what `->>` gave -------------

# Values whose text could differ between the two readers: numbers in every JSON spelling, nested
# values, booleans, escapes, blanks, nulls, a missing geometry and missing keys.
TRICKY_FEATURES = [
    {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [102.8, 1e-7, 13.600000000000001]},
        "properties": {
            "ticket_id": 12345678901234567890,
            "type": True,
            "description": {"nested": [1, "ข", None], "q": 'a "quoted" \\ line\nbreak'},
            "address": ["list", 2],
            "district": "  เมือง \u0e02 ",
            "state": "",
            "star": 1e5,
            "count_reopen": 3.0,
            "photo_url": None,
            "timestamp": -0.0,
            "last_activity": "2024-01-05 09:00:00",
            "org": "a,b",
            "problem_type_fondue": [" x ", "", None, 7],
            "problem_type_abdul": {"not": "a list"},
        },
    },
    {"type": "Feature", "properties": {"ticket_id": "only-id", "star": 4.25, "org": []}},
    {"type": "Feature", "geometry": None, "properties": {}},
]


def recorded_geojson_pages(tmp_path) -> list[Path]:
    """Every recorded stat_api page (Khon Kaen and Bangkok), the real samples, a tricky page."""
    recordings = Path(__file__).parents[1] / "data" / "recordings"
    pages = [STAT_API, SHARE]
    for body in sorted(recordings.glob("*/traffy/*.body.gz")):
        path = tmp_path / f"{body.parent.parent.name}-{body.name.removesuffix('.gz')}.json"
        path.write_bytes(gzip.decompress(body.read_bytes()))
        pages.append(path)
    tricky = tmp_path / "tricky.json"
    tricky.write_text(json.dumps({"type": "FeatureCollection", "features": TRICKY_FEATURES}))
    return [*pages, tricky]


def test_declared_feature_struct_reads_the_text_json_extraction_gave(tmp_path):
    pages = recorded_geojson_pages(tmp_path)
    assert len(pages) > 100
    extracted = [
        *(f"(r->'$.properties')->>'$.{name}'" for name in traffy.PROPERTY_TEXT),
        "r->>'$.geometry.coordinates[0]'",
        "r->>'$.geometry.coordinates[1]'",
        # A JSON null is SQL NULL in the struct; both become NULL lists downstream.
        *(f"nullif(CAST((r->'$.properties')->'$.{n}' AS VARCHAR), 'null')" for n in LIST_FIELDS),
    ]
    declared = [
        *(f'r.properties."{name}"' for name in traffy.PROPERTY_TEXT),
        "r.geometry.coordinates[1]",
        "r.geometry.coordinates[2]",
        *(f'CAST(r.properties."{name}" AS VARCHAR)' for name in LIST_FIELDS),
    ]
    con = duckdb.connect()
    for page in pages:
        by_path = con.execute(
            f"SELECT {', '.join(extracted)} FROM (SELECT unnest(features) AS r "
            f"FROM read_json('{page}', columns={{'features': 'JSON[]'}}))"
        ).fetchall()
        by_struct = con.execute(
            f"SELECT {', '.join(declared)} FROM (SELECT unnest(features) AS r "
            f"FROM read_json('{page}', columns={traffy.PAGE_COLUMNS}, format='unstructured'))"
        ).fetchall()
        assert len(by_struct) == len(by_path), page.name
        for struct_row, path_row in zip(by_struct, by_path, strict=True):
            assert all(map(same_text_or_number, struct_row, path_row)), (page.name, path_row)
    tricky = dict(zip(declared, by_struct[0], strict=True))
    assert tricky['r.properties."ticket_id"'] == "12345678901234567890"
    assert tricky['r.properties."star"'] == "100000.0"  # 1e5, as `->>` spells it
    assert tricky['r.properties."description"'].startswith('{"nested":[1,"ข",null]')
    assert tricky['r.properties."type"'] == "true" and tricky['r.properties."state"'] == ""
    assert tricky['CAST(r.properties."org" AS VARCHAR)'] == '"a,b"'
    # The one difference: a double written with an exponent is spelt by DuckDB's cast, not by
    # the JSON writer. Same number, so numeric columns are identical.
    assert (tricky["r.geometry.coordinates[2]"], by_path[0][-4]) == ("1e-07", "1e-7")


def same_text_or_number(struct_text: str | None, path_text: str | None) -> bool:
    """Equal text, or the same double spelt with an exponent both ways (1e-07 / 1e-7)."""
    if struct_text == path_text:
        return True
    exponents = struct_text and path_text and "e" in struct_text and "e" in path_text
    return bool(exponents) and float(struct_text) == float(path_text)


# --- contract: the CSV shapes -----------------------------------------------------------------


def test_download_csv_bom_multiline_coords_and_type_sets():
    table = traffy.parse_download_csv([DOWNLOAD])
    assert_contract(table)
    assert table.num_rows == 50
    rows = by_ticket(table)
    first = rows["2023-FCX4QQ"]
    assert first["description"].startswith("ปัญหาเรื่องกลิ่นและเสียง จากโรงฆ่าสัตว์")
    assert "\n" in first["description"]  # the multi-line quoted comment stays one row
    assert (first["lon"], first["lat"]) == (100.87281, 13.81565)  # "lon,lat"
    assert first["type"] == "{ร้องเรียน}" and first["categories"] == ["ร้องเรียน"]
    assert first["reported_at"] == utc(2023, 5, 12, 13, 27, 54, 482138)
    assert (first["subdistrict"], first["district"]) == ("กระทุ่มราย", "หนองจอก")
    assert rows["2023-HA44MD"]["categories"] == ["กีดขวาง", "ถนน"]
    assert rows["2023-6XTZZQ"]["categories"] == []  # "{}"
    assert rows["86DFEV"]["categories"] == ["PM2.5", "ร้องเรียน"]
    assert rows["2023-6ZUY4U"]["org"] == [
        "เขตสะพานสูง",
        "การประปานครหลวง กปน. (Metropolitan Waterworks Authority - MWA)",
        "สำนักงานประปาสาขาสุขุมวิท สสส.",
    ]
    done = rows["2GY838"]
    assert done["state"] == "เสร็จสิ้น" and done["after_photo"].endswith("1683895649881.jpeg")
    assert done["star"] is None and done["count_reopen"] == 0
    assert set(table.column("source_endpoint").to_pylist()) == {"download"}


def test_download_csv_non_bangkok_and_prefixed_province_rows():
    table = traffy.parse_download_csv([DOWNLOAD_NON_BKK])
    assert table.num_rows == 7
    rows = by_ticket(table)
    phayao = rows["2023-663VYM"]
    assert (phayao["province"], phayao["district"], phayao["subdistrict"]) == (
        "พะเยา",
        "เมืองพะเยา",
        "แม่กา",
    )
    assert (phayao["lon"], phayao["lat"]) == (99.93396, 19.04507)
    assert phayao["categories"] == ["ถนน", "น้ำท่วม", "ความปลอดภัย", "คลอง"]
    assert phayao["org"] is None  # empty organization cell
    assert rows["YJCKJY"]["province"] == "จังหวัดกรุงเทพมหานคร"  # prefix kept in raw
    assert rows["YJCKJY"]["last_activity"] == utc(2023, 5, 12, 5, 38, 25, 37747)
    provinces = set(table.column("province").to_pylist())
    assert provinces == {"พะเยา", "สมุทรปราการ", "ยโสธร", "จังหวัดกรุงเทพมหานคร"}


def test_web_scrape_thai_short_dates_and_status_before_its_age():
    table = traffy.load_web_scrape_csv([SCRAPE_06])
    assert table.num_rows == 50
    rows = by_ticket(table)
    first = rows["2024-8AWA2A"]  # "6 ธ.ค. 67", "13:13 น.", "รอรับเรื่อง 2 นาทีที่แล้ว"
    assert first["reported_at"] == bangkok(2024, 12, 6, 13, 13)
    assert first["state"] == "รอรับเรื่อง"
    hour_old = rows["2024-E9MTQW"]  # "รอรับเรื่อง 1 ชั่วโมงที่แล้ว"
    assert hour_old["state"] == "รอรับเรื่อง"
    moved = rows["2024-DAB42U"]
    assert moved["forwarded_state"] == "กำลังดำเนินการ"
    assert moved["forwarded_at"] == bangkok(2024, 12, 6, 13, 14)
    assert set(table.column("state").to_pylist()) == {"รอรับเรื่อง"}


def test_web_scrape_excel_resaved_dashed_dates():
    rows = by_ticket(traffy.load_web_scrape_csv([SCRAPE_03]))
    assert len(rows) == 50
    assert rows["2024-83HN9G"]["reported_at"] == bangkok(2024, 12, 3, 9, 0)  # "3-ธ.ค.-67"
    assert rows["2024-6UUVK2"]["forwarded_at"] == bangkok(2024, 12, 3, 8, 46)


def test_web_scrape_same_ticket_snapshots_all_parse():
    table = traffy.load_web_scrape_csv([SNAPSHOTS])
    rows = table.to_pylist()
    assert [r["ticket_id"] for r in rows] == ["2022-49F37Y"] * 5 + ["2024-MDT9YV"] * 4
    assert all(r["reported_at"] is not None and r["forwarded_at"] is not None for r in rows)
    # "28-มิ.ย.-65" and "28 มิ.ย. 65" (BE 2565 = 2022) are the same moment in every snapshot.
    assert {r["reported_at"] for r in rows[:5]} == {bangkok(2022, 6, 28, 17, 16)}
    assert {r["reported_at"] for r in rows[5:]} == {bangkok(2024, 12, 2, 15, 56)}
    assert [r["state"] for r in rows] == ["รอรับเรื่อง"] * 9  # "รอรับเรื่อง 888 วันที่แล้ว"
    assert [r["forwarded_state"] for r in rows[:5]] == [
        "เปิดเรื่องใหม่",
        "เปิดเรื่องใหม่",
        "กำลังดำเนินการ",
        "รอรับเรื่อง",
        "รอรับเรื่อง",
    ]
    assert rows[0]["forwarded_at"] == bangkok(2022, 7, 19, 16, 54)


def test_web_scrape_unreadable_date_names_the_field(tmp_path):
    path = tmp_path / "scrape.csv"
    header = SNAPSHOTS.read_text(encoding="utf-8-sig").splitlines()[0]
    path.write_text(
        header + "\n2024-XXXXXX,6 ธันว 67,13:13 น.,รอรับเรื่อง,ก,ข,ค,ถนน,"
        "รอรับเรื่อง,6 ธ.ค. 67,13:13 น.,รอรับเรื่อง\n",
        encoding="utf-8",
    )
    with pytest.raises(SourceError, match=r"field 'date'.*2024-XXXXXX.*6 ธันว 67"):
        traffy.load_web_scrape_csv([path])


def test_processed_dataset_loads_and_its_coords_match_its_lon_lat():
    con = duckdb.connect()
    relation = f"read_csv('{PROCESSED}')"
    assert con.execute(f"SELECT count(*) FROM {relation}").fetchall() == [(30,)]
    mismatched = con.execute(
        f"SELECT count(*) FILTER (WHERE CAST(split_part(coords, ',', 1) AS DOUBLE) <> lon "
        f"OR CAST(split_part(coords, ',', 2) AS DOUBLE) <> lat), count(lon) FROM {relation}"
    ).fetchall()
    assert mismatched == [(0, 30)]
    first = con.execute(f"SELECT type, lon, lat, solve_days FROM {relation} LIMIT 1").fetchall()
    assert first == [("{น้ำท่วม,ร้องเรียน}", 100.66709, 13.67891, 176)]


# --- replay capture (recorded Khon Kaen days) -------------------------------------------------


def replay_settings(tmp_path, city: str = "khon_kaen"):
    return load_settings(
        {
            "CITY_PIPELINE_DATA_DIR": str(tmp_path),
            "CITY_PIPELINE_CONFIG": str(CITIES_DIR / f"{city}.yaml"),
        }
    )


def special(settings) -> synth.SpecialDays:
    window = settings.config.recorded_window
    return synth.special_days(window.start, window.end)


def landed_features(result) -> list[dict]:
    return [f for landed in result.batch.files for f in json.loads(landed.read_bytes())["features"]]


def test_replay_storm_day_reads_two_pages_without_duplicates(tmp_path):
    settings = replay_settings(tmp_path)
    [spec] = traffy.captures(settings)
    assert (spec.name, spec.source, spec.tables) == ("traffy", "traffy", ("traffy_tickets",))
    storm = special(settings).storms[0]
    result = run_capture(spec, storm, settings)
    assert [f.params["offset"] for f in result.batch.files] == ["0", "100"]
    assert {f.params["province"] for f in result.batch.files} == {"ขอนแก่น"}
    features = landed_features(result)
    assert len(features) > 100
    table = pq.read_table(result.tables["traffy_tickets"].path)
    assert_contract(table)
    assert table.num_rows == len(features)  # rows = sum of the pages
    keys = list(
        zip(
            table.column("ticket_id").to_pylist(),
            table.column("last_activity").to_pylist(),
            strict=True,
        )
    )
    assert len(set(keys)) == len(keys)
    assert keys == sorted(keys)
    assert "น้ำท่วม" in {c for cats in table.column("categories").to_pylist() for c in cats}
    centre = settings.city.centre
    assert all(abs(lat - centre.lat) < 0.2 for lat in table.column("lat").to_pylist())
    assert all(abs(lon - centre.lon) < 0.2 for lon in table.column("lon").to_pylist())
    # Naive Bangkok timestamps: every version's last activity falls on the partition's local day.
    local_days = {(t + BANGKOK_TZ).date() for t in table.column("last_activity").to_pylist()}
    assert local_days == {storm}


def test_replay_rerun_and_rebuild_give_identical_rows(tmp_path):
    settings = replay_settings(tmp_path)
    [spec] = traffy.captures(settings)
    first = pq.read_table(run_capture(spec, DAY, settings).tables["traffy_tickets"].path)
    assert first.num_rows > 10
    second = pq.read_table(run_capture(spec, DAY, settings).tables["traffy_tickets"].path)
    assert second.to_pylist() == first.to_pylist()
    rebuilt = pq.read_table(rebuild_raw(spec, DAY, settings)["traffy_tickets"].path)
    assert rebuilt.to_pylist() == first.to_pylist()
    metadata = pq.read_schema(rebuild_raw(spec, DAY, settings)["traffy_tickets"].path).metadata
    assert metadata[b"city_pipeline.source"] == b"traffy"


def test_replay_empty_day_is_zero_rows_with_the_full_schema(tmp_path):
    settings = replay_settings(tmp_path)
    [spec] = traffy.captures(settings)
    result = run_capture(spec, special(settings).empty, settings)
    assert len(result.batch.files) == 1 and landed_features(result) == []
    table = pq.read_table(result.tables["traffy_tickets"].path)
    assert table.num_rows == 0
    assert_contract(table)


def test_replay_ticket_reappears_later_with_a_newer_state(tmp_path):
    settings = replay_settings(tmp_path)
    [spec] = traffy.captures(settings)
    # Find, in the recordings, a ticket shown in progress on one day and finished on a later one.
    store = settings.recordings_dir / "traffy"
    seen: dict[str, dict[str, str]] = {}
    for meta in sorted(store.glob("*.json")):
        body = json.loads(gzip.decompress(meta.with_name(meta.stem + ".body.gz").read_bytes()))
        day = json.loads(meta.read_text())["params"]["start"]
        for feature in body["features"]:
            props = feature["properties"]
            seen.setdefault(props["ticket_id"], {})[props["state"]] = day
    ticket, days = next(
        (t, d)
        for t, d in sorted(seen.items())
        if "กำลังดำเนินการ" in d and "เสร็จสิ้น" in d and d["กำลังดำเนินการ"] < d["เสร็จสิ้น"]
    )
    rows = []
    for state in ("กำลังดำเนินการ", "เสร็จสิ้น"):
        day = date.fromisoformat(days[state])
        table = pq.read_table(run_capture(spec, day, settings).tables["traffy_tickets"].path)
        rows += [r for r in table.to_pylist() if r["ticket_id"] == ticket]
    doing, done = rows
    assert (doing["state"], done["state"]) == ("กำลังดำเนินการ", "เสร็จสิ้น")
    assert done["last_activity"] > doing["last_activity"]
    assert doing["finished_at"] is None and done["finished_at"] == done["last_activity"]
    assert done["inprogress_at"] == doing["inprogress_at"] is not None
    assert done["reported_at"] == doing["reported_at"]


def test_bangkok_replay_uses_its_own_province_and_districts(tmp_path):
    settings = replay_settings(tmp_path, "bangkok")
    [spec] = traffy.captures(settings)
    result = run_capture(spec, settings.config.recorded_window.start, settings)
    assert {f.params["province"] for f in result.batch.files} == {"กรุงเทพมหานคร"}
    table = pq.read_table(result.tables["traffy_tickets"].path)
    assert table.num_rows >= 20
    districts = {
        d.strip().removeprefix("เขต").strip() for d in table.column("district").to_pylist()
    }
    assert districts & set(synth.DISTRICTS.values())
    assert not districts & {"เมืองขอนแก่น"}


# --- the generator ----------------------------------------------------------------------------


def generated(city: str) -> tuple:
    settings = load_settings({"CITY_PIPELINE_CONFIG": str(CITIES_DIR / f"{city}.yaml")})
    rng = random.Random(zlib.crc32(f"{city}/traffy".encode()))
    window = settings.config.recorded_window
    tickets = synth.generate_tickets(settings, rng)
    days = synth.daily_features(tickets, window.start, window.end, special(settings).empty)
    return settings, tickets, days


@pytest.mark.parametrize(("city", "low", "high"), [("khon_kaen", 15, 65), ("bangkok", 30, 95)])
def test_generator_volumes_special_days_and_messy_names(city, low, high):
    settings, tickets, days = generated(city)
    days_special = special(settings)
    counts = {d: len(f) for d, f in days.items()}
    assert days_special.empty not in counts  # nothing served that day
    assert all(counts[d] > settings.config.sources.traffy.page_size for d in days_special.storms)
    ordinary = [n for d, n in counts.items() if d not in days_special.storms]
    assert low <= sum(ordinary) / len(ordinary) <= high
    features = [f["properties"] for fs in days.values() for f in fs]
    districts = {p["district"] for p in features}
    canonical = {synth.DISTRICTS[c] for c in settings.city.district_codes}
    assert any(d.endswith(" ") for d in districts)  # trailing spaces
    assert any(d.startswith(("อ.", "อำเภอ", "เขต")) for d in districts)  # prefixes
    cleaned = {
        d.strip().removeprefix("อำเภอ").removeprefix("อ.").removeprefix("เขต").strip()
        for d in districts
    }
    assert cleaned - canonical  # a few misspelt names that resolve to nothing
    assert {p["state"] for p in features} == {"รอรับเรื่อง", "ส่งต่อ(ใหม่)", "กำลังดำเนินการ", "เสร็จสิ้น"}


def test_generator_plants_valid_fake_personal_data():
    _, tickets, _ = generated("khon_kaen")
    text = " ".join(t.description for t in tickets)
    assert "@example.com" in text
    assert any(f"08{n}-" in text for n in range(10))
    ids = [w for w in text.split() if w.count("-") == 4 and len(w) == 17]
    assert ids and all(is_valid_national_id(w) for w in ids)
    assert is_valid_national_id(synth.thai_national_id(random.Random(1)))


def test_recordings_are_what_the_generator_writes(tmp_path):
    from city_pipeline.synth.__main__ import generate_city

    generate_city(CITIES_DIR / "khon_kaen.yaml", recordings_root=tmp_path)
    fresh = sorted((tmp_path / "khon_kaen" / "traffy").iterdir())
    shipped = Path(__file__).parents[1] / "data" / "recordings" / "khon_kaen" / "traffy"
    assert [p.name for p in fresh] == sorted(p.name for p in shipped.iterdir())
    assert all(p.read_bytes() == (shipped / p.name).read_bytes() for p in fresh)


# --- live mode against a local server ---------------------------------------------------------

TEMPLATE = json.loads(STAT_API.read_text(encoding="utf-8"))


def feature(ticket_id: str, last_activity: str = "2024-01-05 09:00:00", **props) -> dict:
    out = copy.deepcopy(TEMPLATE["features"][0])
    out["properties"].update(ticket_id=ticket_id, last_activity=last_activity, **props)
    return out


def collection(features: list[dict], **envelope) -> dict:
    body = {k: v for k, v in TEMPLATE.items() if k not in ("_note", "features")}
    return {**body, "count": len(features), "features": features, **envelope}


def serve_pages(httpserver, pages: dict[int, dict], limit: int = 2, path=traffy.STAT_API_PATH):
    for offset, body in pages.items():
        query = {
            "start": DAY.isoformat(),
            "end": DAY.isoformat(),
            "limit": str(limit),
            "offset": str(offset),
            "province": "ขอนแก่น",
        }
        httpserver.expect_request(path, query_string=query).respond_with_json(body)


def live_spec(live_settings, **overrides):
    settings = live_settings("traffy", page_size=2, **overrides)
    [spec] = traffy.captures(settings)
    return settings, spec


def test_live_pages_until_an_empty_page_and_dedupes_overlap(httpserver, live_settings):
    settings, spec = live_spec(live_settings)
    # Page 2 starts one feature early (a new ticket arrived meanwhile): B twice; A has two
    # versions (two states the same day) which are both kept. The template's total is 0 (the
    # cache failure), so only the empty page ends the listing, not the short third page.
    a1 = feature("A", "2024-01-05 08:00:00")
    a2 = feature("A", "2024-01-05 10:00:00", state="กำลังดำเนินการ")
    b = feature("B")
    serve_pages(
        httpserver,
        {
            0: collection([a2, b]),
            2: collection([b, a1]),
            4: collection([feature("C")]),
            5: collection([]),
        },
    )
    result = run_capture(spec, DAY, settings)
    assert len(httpserver.log) == 4
    table = pq.read_table(result.tables["traffy_tickets"].path)
    assert [(r["ticket_id"], r["state"]) for r in table.to_pylist()] == [
        ("A", "รอรับเรื่อง"),
        ("A", "กำลังดำเนินการ"),
        ("B", "รอรับเรื่อง"),
        ("C", "รอรับเรื่อง"),
    ]


def test_live_total_zero_beside_features_is_not_trusted(httpserver, live_settings):
    settings, spec = live_spec(live_settings)
    serve_pages(
        httpserver,
        {0: collection([feature("A"), feature("B")], total=0), 2: collection([], total=0)},
    )
    result = run_capture(spec, DAY, settings)
    assert result.tables["traffy_tickets"].rows == 2 and len(httpserver.log) == 2


def test_live_pagination_loop_is_a_source_error(httpserver, live_settings):
    settings, spec = live_spec(live_settings)
    # The server ignores offset: every page is the first one again.
    httpserver.expect_request(traffy.STAT_API_PATH).respond_with_json(
        collection([feature("A"), feature("B")])
    )
    with pytest.raises(
        SourceError,
        match=r"source traffy, partition 2024-01-05, field 'offset'.*"
        r"repeats the previous page",
    ):
        run_capture(spec, DAY, settings)
    assert len(httpserver.log) == 2


def test_live_max_pages_bounds_the_paging(httpserver, live_settings):
    settings, spec = live_spec(live_settings, max_pages=2)
    serve_pages(
        httpserver,
        {0: collection([feature("A"), feature("B")]), 2: collection([feature("C"), feature("D")])},
    )
    with pytest.raises(SourceError, match=r"field 'max_pages'"):
        run_capture(spec, DAY, settings)


def test_live_status_fail_names_the_status_field(httpserver, live_settings):
    settings, spec = live_spec(live_settings)
    serve_pages(httpserver, {0: collection([], status="fail", message="invalid date range")})
    with pytest.raises(SourceError, match=r"field 'status'.*'fail'.*invalid date range"):
        run_capture(spec, DAY, settings)


def test_live_uncastable_coordinate_names_the_field(httpserver, live_settings):
    settings, spec = live_spec(live_settings)
    bad = feature("A")
    bad["geometry"]["coordinates"] = ["ไม่ทราบ", 16.4]
    serve_pages(httpserver, {0: collection([bad], total=1)})
    with pytest.raises(SourceError, match=r"field 'lon'.*ไม่ทราบ"):
        run_capture(spec, DAY, settings)


def test_live_feature_without_properties_names_the_field(httpserver, live_settings):
    settings, spec = live_spec(live_settings)
    serve_pages(httpserver, {0: collection([{"type": "Feature", "geometry": None}], total=1)})
    with pytest.raises(SourceError, match=r"field 'features\[\]\.properties'"):
        run_capture(spec, DAY, settings)


def test_live_html_error_page_is_a_source_error(httpserver, live_settings):
    settings, spec = live_spec(live_settings)
    httpserver.expect_request(traffy.STAT_API_PATH).respond_with_data(
        "<html><body>maintenance</body></html>", content_type="text/html"
    )
    with pytest.raises(SourceError, match=r"expected JSON but got an HTML page"):
        run_capture(spec, DAY, settings)


def test_live_share_endpoint_serves_the_real_legacy_payload(httpserver, live_settings):
    settings = live_settings("traffy", endpoint="share", page_size=1000)
    [spec] = traffy.captures(settings)
    query = {"start": DAY.isoformat(), "end": DAY.isoformat(), "limit": "1000", "offset": "0"}
    httpserver.expect_request(traffy.SHARE_PATH, query_string=query).respond_with_data(
        SHARE.read_bytes(), content_type="application/json"
    )
    # The share feed's total counts the whole dataset (258135), so the empty page ends the day.
    empty = {**json.loads(SHARE.read_bytes()), "features": []}
    httpserver.expect_request(
        traffy.SHARE_PATH, query_string={**query, "offset": "18"}
    ).respond_with_json(empty)
    result = run_capture(spec, DAY, settings)
    table = pq.read_table(result.tables["traffy_tickets"].path)
    assert table.num_rows == 18 and len(httpserver.log) == 2
    assert result.batch.metadata["paging"]["reported_total"] is None
    assert "province" not in result.batch.files[0].params
    assert set(table.column("source_endpoint").to_pylist()) == {"share"}


# --- paging against servers that do not page as asked (docs/operations.md, "Paging") ----------


def serve_by_offset(httpserver, answer) -> None:
    """Answer every page request with `answer(offset, limit)`: servers that page their own way."""

    def handler(request):
        body = answer(int(request.args["offset"]), int(request.args["limit"]))
        return Response(json.dumps(body), content_type="application/json")

    httpserver.expect_request(traffy.STAT_API_PATH).respond_with_handler(handler)


def landed_ticket_ids(result) -> list[str]:
    return sorted(pq.read_table(result.tables["traffy_tickets"].path)["ticket_id"].to_pylist())


def marker_of(result) -> dict:
    """The batch marker as written to disk."""
    batch = result.batch
    return lake.read_batch_marker(batch.directory / f"{batch.batch_id}{lake.BATCH_MARKER_SUFFIX}")


def no_complete_batch(settings) -> bool:
    directory = lake.landing_dir(settings.lake_dir, traffy.SOURCE, DAY)
    return not list(directory.glob(f"*{lake.BATCH_MARKER_SUFFIX}"))


# total 7 is trusted and ends the listing; 0 is the cache failure, so the empty page ends it.
@pytest.mark.parametrize(("total", "requests", "ended_by"), [(7, 4, "total"), (0, 5, "empty_page")])
def test_live_server_capping_the_page_size_still_lands_every_ticket(
    httpserver, live_settings, total, requests, ended_by
):
    settings = live_settings("traffy", page_size=5)
    [spec] = traffy.captures(settings)
    tickets = [feature(f"2024-CAP{i:03d}") for i in range(7)]
    # The server gives at most 2 per page, whatever the limit asks, and does not say so.
    serve_by_offset(
        httpserver, lambda offset, limit: collection(tickets[offset : offset + 2], total=total)
    )
    result = run_capture(spec, DAY, settings)
    assert landed_ticket_ids(result) == [f"2024-CAP{i:03d}" for i in range(7)]
    assert len(httpserver.log) == requests
    offsets = [int(request.args["offset"]) for request, _ in httpserver.log]
    assert offsets == [0, 2, 4, 6, 7][:requests]  # advanced by what arrived, not by the limit
    paging = marker_of(result)["metadata"]["paging"]
    assert paging == {
        "pages": requests,
        "rows": 7,
        "requested_limit": 5,
        "effective_page_size": 2,
        "reported_total": 7 if total else None,
        "ended_by": ended_by,
    }


@pytest.mark.parametrize(("total", "requests"), [(6, 4), (0, 5)])
def test_live_shorter_middle_page_does_not_end_the_day(httpserver, live_settings, total, requests):
    settings, spec = live_spec(live_settings)
    a, b, c, d, e, f = (feature(f"2024-MID{i}") for i in range(6))
    pages = {0: [a, b], 2: [c], 3: [d, e], 5: [f], 6: []}
    serve_pages(httpserver, {offset: collection(p, total=total) for offset, p in pages.items()})
    result = run_capture(spec, DAY, settings)
    assert landed_ticket_ids(result) == [f"2024-MID{i}" for i in range(6)]
    assert len(httpserver.log) == requests


def test_live_page_repeating_an_earlier_page_is_a_source_error(httpserver, live_settings):
    settings, spec = live_spec(live_settings, max_pages=20)
    first, second = [feature("A"), feature("B")], [feature("C"), feature("D")]
    # A cursor loop of two pages: no page equals the one just before it.
    serve_by_offset(
        httpserver,
        lambda offset, limit: collection(first if offset % 4 == 0 else second, total=0),
    )
    with pytest.raises(
        SourceError,
        match=r"source traffy, partition 2024-01-05, field 'offset'\] page 3 \(offset 4\) "
        r"repeats an earlier page \(page 1, offset 0\)",
    ):
        run_capture(spec, DAY, settings)
    assert len(httpserver.log) == 3
    assert no_complete_batch(settings) and not (settings.lake_dir / "raw").exists()


def test_live_total_above_what_the_server_returns_is_a_source_error(httpserver, live_settings):
    settings, spec = live_spec(live_settings)
    pages = {0: [feature("A"), feature("B")], 2: [feature("C")], 3: []}
    serve_pages(httpserver, {offset: collection(p, total=5) for offset, p in pages.items()})
    with pytest.raises(
        SourceError,
        match=r"partition 2024-01-05, field 'total'\] the listing ended \(empty page at page 3, "
        r"offset 3\) after 3 records, but the API reported a total of 5: 2 records would be lost",
    ):
        run_capture(spec, DAY, settings)
    assert len(httpserver.log) == 3
    assert no_complete_batch(settings) and not (settings.lake_dir / "raw").exists()


# --- the authenticated Exchange API -----------------------------------------------------------

USER, PASSWORD, TOKEN = "kk-city-bot", "pa55-w0rd-Secret", "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0.dG9rZW4"


def exchange_settings(httpserver, live_settings, monkeypatch, mode="live"):
    monkeypatch.setenv("CITY_PIPELINE_TRAFFY_EXCHANGE_USERNAME", USER)
    monkeypatch.setenv("CITY_PIPELINE_TRAFFY_EXCHANGE_PASSWORD", PASSWORD)
    settings = live_settings(
        "traffy",
        mode=mode,
        page_size=2,
        exchange_org_ids=[151],
        exchange_base_url=httpserver.url_for("/exchange-api"),
    )
    [spec] = traffy.captures(settings)
    return settings, spec


def serve_exchange(httpserver, auth_body: dict, status: int = 200) -> None:
    httpserver.expect_request(
        "/exchange-api/get-auth/v1", method="POST", json={"user": USER, "pass": PASSWORD}
    ).respond_with_response(
        Response(json.dumps(auth_body), status=status, content_type="application/json")
    )
    httpserver.expect_request(
        "/exchange-api/get-issues/v2",
        method="GET",
        headers={"Authorization": f"Bearer {TOKEN}"},
    ).respond_with_data(ISSUES_V2.read_bytes(), content_type="application/json")


AUTH_OK = {
    "status": "success",
    "message": "",
    "exec_time": "1.056s",
    "credit_balance": 995,
    "quota_limit": 1000,
    "permissions": ["read"],
    "results": {"token": TOKEN, "expire_timestamp": "2026-10-12 19:06:12"},
    "api_log_session_id": 922348568,
}


@pytest.mark.parametrize("mode", ["live", "record"])
def test_exchange_api_rows_land_without_the_token(
    httpserver, live_settings, monkeypatch, mode, tmp_path
):
    settings, spec = exchange_settings(httpserver, live_settings, monkeypatch, mode)
    serve_pages(httpserver, {0: collection([feature("2024-AAAAAA")], total=1)})
    serve_exchange(httpserver, AUTH_OK)
    result = run_capture(spec, DAY, settings)
    table = pq.read_table(result.tables["traffy_tickets"].path)
    assert set(table.column("source_endpoint").to_pylist()) == {"stat_api", "exchange"}
    assert "2026-B9WGC7" in table.column("ticket_id").to_pylist()
    issues = next(f for f in result.batch.files if f.url.endswith("/get-issues/v2"))
    assert issues.params["org_id"] == "151" and issues.params["start"] == "2024-01-05"
    # The login answer is never landed: only the public page and the issues answer are.
    assert len(result.batch.files) == 2
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name.endswith(".meta.json") for p in written)
    if mode == "record":  # the public page and the issues answer, not the login
        recorded = [
            json.loads(p.read_text())
            for p in written
            if "recordings" in p.parts and p.suffix == ".json"
        ]
        urls = sorted(r["url"] for r in recorded)
        assert [u.endswith(("/geojson/v1", "/get-issues/v2")) for u in urls] == [True, True]
    for path in written:
        data = path.read_bytes()
        if path.suffix == ".gz":  # recorded bodies are stored gzip-compressed
            data = gzip.decompress(data)
        for secret in (TOKEN, PASSWORD, "c2VjcmV0"):
            assert secret.encode() not in data, f"{secret} leaked into {path}"


@pytest.mark.parametrize(
    ("status", "expected"),
    [(401, "failed: HTTP 401"), (200, "refused: status 'fail'"), (503, "failed: HTTP 503")],
)
def test_exchange_login_refused_is_a_source_error_without_secrets(
    httpserver, live_settings, monkeypatch, status, expected
):
    settings, spec = exchange_settings(httpserver, live_settings, monkeypatch)
    serve_pages(httpserver, {0: collection([])})
    serve_exchange(
        httpserver, {"status": "fail", "message": "invalid user or password"}, status=status
    )
    with pytest.raises(SourceError) as caught:
        run_capture(spec, DAY, settings)
    message = str(caught.value)
    assert "field 'get-auth'" in message and expected in message
    assert PASSWORD not in message and USER not in message
    assert not any(r.path.endswith("/get-issues/v2") for r, _ in httpserver.log)
    assert caught.value.transient is (status == 503)  # only an outage is worth a retry


def test_exchange_is_skipped_in_replay_mode(tmp_path, monkeypatch):
    monkeypatch.setenv("CITY_PIPELINE_TRAFFY_EXCHANGE_USERNAME", USER)
    monkeypatch.setenv("CITY_PIPELINE_TRAFFY_EXCHANGE_PASSWORD", PASSWORD)
    settings = replay_settings(tmp_path)
    [spec] = traffy.captures(settings)
    result = run_capture(spec, DAY, settings)
    assert {traffy.endpoint_of(f.url) for f in result.batch.files} == {"stat_api"}


def test_exchange_duration_reaches_the_partition():
    today = date(2024, 3, 10)
    assert traffy.exchange_duration(date(2024, 3, 9), today) == "3days"
    assert traffy.exchange_duration(date(2024, 3, 1), today) == "all"
