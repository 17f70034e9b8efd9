"""CKAN: real datastore_search / package_search / DLD CSV samples parse to the right typed values;
replay capture pages through `_links.next`; errors name source, partition and field; the api-key
travels only as a header and is never landed."""

import json
from datetime import date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from werkzeug import Response

from city_pipeline import lake
from city_pipeline.capture import run_capture
from city_pipeline.settings import load_settings
from city_pipeline.sources import ckan
from city_pipeline.sources.common import OfflineContext, SourceError

SAMPLES = Path(__file__).parents[1] / "data" / "recordings" / "real-samples"
INHILKAB = SAMPLES / "ckan_datastore_search_data.inhilkab.go.id_d9fbaddb_PAGE_EXCERPT.json"
LAROCHELLE = SAMPLES / "ckan_datastore_search_agglo-larochelle_q_jones_678a485c_PAGE_EXCERPT.json"
PACKAGE_SEARCH = SAMPLES / "datagoth_package_search_covid-19-daily_via_opend_get-ckan.json"
DLD_KHON_KAEN = SAMPLES / "dld_livestock_2564_tis620_khonkaen_first50_plus_file_tail.csv"
DLD_FIRST50 = SAMPLES / "dld_livestock_2564_tis620_first50.csv"
SEARCH = "/api/3/action/datastore_search"
RESOURCE = "11111111-2222-3333-4444-555555555555"
DAY = date(2024, 1, 1)


def parse_sample(path: Path, resource_id: str) -> pa.Table:
    return ckan.parse_pages(OfflineContext("ckan", "sample"), [lake.saved_file(path)], resource_id)


# --- contract: real samples -------------------------------------------------------------------


def test_inhilkab_page_types_columns_from_fields():
    table = parse_sample(INHILKAB, "d9fbaddb-4995-4dd1-bd93-d2732998e3ac")
    assert table.num_rows == 7
    assert table.schema.names == ["_id", "Kelas Jalan", "2008", "2009", "2010", "_resource_id"]
    assert table.schema.field("_id").type == pa.int64()
    assert table.schema.field("Kelas Jalan").type == pa.string()
    assert table.schema.field("2008").type == pa.float64()
    rows = {r["_id"]: r for r in table.to_pylist()}
    assert rows[2]["2008"] == 164.43 and rows[2]["2009"] == 166.6
    assert rows[2]["Kelas Jalan"] == "Kelas II"
    assert rows[3]["Kelas Jalan"] == "Kelas  III"  # inner spacing kept as served
    assert rows[7]["2010"] == 0.0
    assert set(table.column("_resource_id").to_pylist()) == {"d9fbaddb-4995-4dd1-bd93-d2732998e3ac"}


def test_larochelle_empty_page_is_a_zero_row_typed_table():
    table = parse_sample(LAROCHELLE, "678a485c-62a5-4711-9810-737b9e927e50")
    assert table.num_rows == 0
    assert table.schema.field("_id").type == pa.int64()
    assert table.schema.field("cp_libelleoperation").type == pa.string()
    assert table.schema.field("cp_estimeexerc").type == pa.float64()  # numeric
    assert table.schema.field("rank").type == pa.float64()  # float
    assert table.schema.names[-1] == "_resource_id" and table.num_columns == 14


def test_a_page_for_another_resource_is_refused():
    with pytest.raises(SourceError, match="field 'resource_id'"):
        parse_sample(INHILKAB, RESOURCE)


def test_package_search_lists_the_resources():
    resources = ckan.parse_package_search(PACKAGE_SEARCH)
    assert resources.schema.names == [
        "package_name",
        "id",
        "name",
        "format",
        "url",
        "datastore_active",
    ]
    assert resources.num_rows == 14
    rows = {r["id"]: r for r in resources.to_pylist()}
    first = rows["5fe98719-5d48-4364-8e7e-1b785e9aff78"]
    assert (first["name"], first["format"], first["datastore_active"]) == (
        "All resource data",
        "ZIP",
        False,
    )
    csv = rows["be19a8ad-ab48-4081-b04a-8035b5b2b8d6"]
    assert csv["format"] == "CSV" and csv["datastore_active"] is True
    assert csv["name"] == "รายงานจำนวนผู้ติดเชื้อ COVID-19 ประจำวัน"
    assert csv["url"].endswith("/download/confirmed-cases.csv")
    assert set(resources.column("package_name").to_pylist()) == {"covid-19-daily"}
    assert sum(resources.column("datastore_active").to_pylist()) == 11


def test_dld_tis620_csv_khon_kaen_rows_and_tail_dropped():
    table = ckan.parse_csv_resource(DLD_KHON_KAEN)
    assert table.num_columns == 153
    assert table.num_rows == 50  # 50 Khon Kaen rows; the three all-comma tail rows are gone
    assert set(table.column("สถานที่เลี้ยงสัตว์ จังหวัด").to_pylist()) == {"ขอนแก่น"}
    rows = {r["id"]: r for r in table.to_pylist()}
    row = rows[2930]
    assert row["สถานที่เลี้ยงสัตว์ อำเภอ"] == "กระนวน"
    assert row["สถานที่เลี้ยงสัตว์ ตำบล"] == "ดูนสาด"
    assert row["สถานที่เลี้ยงสัตว์ เขตปศุสัตว์"] == "ปศุสัตว์เขต 4"
    assert row["ไก่ พื้นเมือง (ตัว)"] == 3863  # served as "3,863"
    assert table.schema.field("ไก่ พื้นเมือง (ตัว)").type == pa.int64()
    assert rows[2978]["สถานที่เลี้ยงสัตว์ อำเภอ"] == "น้ำพอง"
    assert table.schema.field("จำนวนรวม พืชอาหารสัตว์ ทั้งสิ้น (ไร่)").type == pa.float64()


def test_dld_first50_and_a_utf8_bom_copy_parse_the_same(tmp_path):
    table = ckan.parse_csv_resource(DLD_FIRST50)
    assert table.num_rows == 50 and table.num_columns == 153
    first = table.to_pylist()[0]
    assert (first["id"], first["สถานที่เลี้ยงสัตว์ จังหวัด"], first["สถานที่เลี้ยงสัตว์ อำเภอ"]) == (
        1,
        "กรุงเทพมหานคร",
        "เขตคลองเตย",
    )
    assert all(name == name.strip() for name in table.schema.names)
    utf8 = tmp_path / "dld_utf8_bom.csv"
    utf8.write_bytes(b"\xef\xbb\xbf" + DLD_FIRST50.read_bytes().decode("cp874").encode("utf-8"))
    assert ckan.parse_csv_resource(utf8).equals(table)


def test_csv_resource_trims_names_keeps_codes_as_text(tmp_path):
    path = tmp_path / "r.csv"
    text = ' code , name ,amount\r\n0101,ก,"1,234"\r\n0102,ข,5\r\n,,\r\n'
    path.write_bytes(text.encode("cp874"))
    table = ckan.parse_csv_resource(path)
    assert table.schema.names == ["code", "name", "amount"]
    assert table.to_pylist() == [
        {"code": "0101", "name": "ก", "amount": 1234},
        {"code": "0102", "name": "ข", "amount": 5},
    ]


# --- replay capture ---------------------------------------------------------------------------


def test_replay_capture_of_khon_kaen_pages_and_is_repeatable(tmp_path):
    settings = load_settings({"CITY_PIPELINE_DATA_DIR": str(tmp_path)})
    [spec] = ckan.captures(settings)
    assert (spec.name, spec.source, spec.tables) == (
        "ckan_kk_registered_vehicles",
        "ckan",
        ("ckan_kk_registered_vehicles",),
    )
    first = run_capture(spec, DAY, settings)
    assert [f.params["offset"] for f in first.batch.files] == ["0", "20"]  # followed _links.next
    written = first.tables["ckan_kk_registered_vehicles"]
    table = pq.read_table(written.path)
    assert table.num_rows == 30
    assert table.column("_id").to_pylist() == list(range(1, 31))
    types = {f.name: f.type for f in table.schema}
    assert types["ปี พ.ศ."] == pa.int64() and types["ประเภทรถ"] == pa.string()
    assert types["ร้อยละของทั้งหมด"] == pa.float64()
    assert types["ข้อมูล ณ วันที่"] == pa.timestamp("us")
    row = table.to_pylist()[0]
    assert row["ปี พ.ศ."] == 2564 and row["ข้อมูล ณ วันที่"] == datetime(2021, 12, 31)
    assert row["_resource_id"] == "0b6f4a5c-7c1e-4b8e-9d0a-3f2e1c4d5b6a"
    second = run_capture(spec, DAY, settings)
    again = pq.read_table(second.tables["ckan_kk_registered_vehicles"].path)
    assert again.to_pylist() == table.to_pylist()


def test_a_city_without_datasets_has_no_ckan_capture():
    bangkok = Path(__file__).parents[1] / "city_pipeline" / "cities" / "bangkok.yaml"
    assert ckan.captures(load_settings({"CITY_PIPELINE_CONFIG": str(bangkok)})) == []


# --- live mode against a local server ---------------------------------------------------------

FIELDS = [
    {"id": "_id", "type": "int"},
    {"id": "ปี", "type": "int4"},
    {"id": "จำนวน", "type": "numeric"},
    {"id": "วันที่", "type": "date"},
    {"id": "ใช้งาน", "type": "bool"},
]


def make_records(count: int, start: int = 1) -> list[dict]:
    return [
        {"_id": i, "ปี": 2566, "จำนวน": i * 1.5, "วันที่": "2024-01-31", "ใช้งาน": True}
        for i in range(start, start + count)
    ]


def page(records: list[dict], offset: int, limit: int, total: int, fields=None) -> dict:
    start = f"{SEARCH}?resource_id={RESOURCE}&limit={limit}"
    return {
        "help": "https://example.test/api/3/action/help_show?name=datastore_search",
        "success": True,
        "result": {
            "include_total": True,
            "limit": limit,
            "records_format": "objects",
            "resource_id": RESOURCE,
            "total_estimation_threshold": None,
            "records": records,
            "fields": fields or FIELDS,
            "_links": {"start": start, "next": f"{start}&offset={offset + limit}"},
            "total": total,
            "total_was_estimated": False,
        },
    }


def dataset_settings(live_settings, **overrides):
    datasets = [{"name": "test_table", "resource_id": RESOURCE}]
    settings = live_settings("ckan", datasets=datasets, page_size=3, **overrides)
    [spec] = ckan.captures(settings)
    return settings, spec


def serve_pages(httpserver, pages: dict[int, dict], limit: int = 3) -> None:
    for offset, body in pages.items():
        query = {"resource_id": RESOURCE, "limit": str(limit), "offset": str(offset)}
        httpserver.expect_request(SEARCH, query_string=query).respond_with_json(body)


def test_live_pages_until_total_with_types_from_fields(httpserver, live_settings):
    settings, spec = dataset_settings(live_settings)
    serve_pages(
        httpserver, {0: page(make_records(3), 0, 3, 5), 3: page(make_records(2, 4), 3, 3, 5)}
    )
    result = run_capture(spec, DAY, settings)
    table = pq.read_table(result.tables["ckan_test_table"].path)
    assert table.num_rows == 5 and table.column("จำนวน").to_pylist()[-1] == 7.5
    types = {f.name: f.type for f in table.schema}
    assert types["ปี"] == pa.int64() and types["วันที่"] == pa.date32()
    assert types["ใช้งาน"] == pa.bool_()


@pytest.mark.parametrize("mode", ["live", "record"])
def test_api_key_is_a_header_and_never_landed(httpserver, live_settings, monkeypatch, mode):
    monkeypatch.setenv("CITY_PIPELINE_CKAN_API_KEY", "s3cret-ckan-key")
    settings, spec = dataset_settings(live_settings, mode=mode)
    query = {"resource_id": RESOURCE, "limit": "3", "offset": "0"}
    httpserver.expect_request(
        SEARCH, query_string=query, headers={"api-key": "s3cret-ckan-key"}
    ).respond_with_json(page(make_records(2), 0, 3, 2))
    result = run_capture(spec, DAY, settings)
    assert result.tables["ckan_test_table"].rows == 2
    request = httpserver.log[0][0]
    assert request.headers.get("api-key") == "s3cret-ckan-key"
    assert "s3cret" not in request.query_string.decode()
    landed = list((settings.lake_dir / "landing").rglob("*"))
    assert any(p.name.endswith(".meta.json") for p in landed)
    recorded = list(settings.recordings_dir.rglob("*"))
    assert bool(recorded) == (mode == "record")
    for path in landed + recorded:
        if path.is_file():
            assert b"s3cret-ckan-key" not in path.read_bytes(), path


def test_without_the_env_var_no_api_key_header_is_sent(httpserver, live_settings, monkeypatch):
    monkeypatch.delenv("CITY_PIPELINE_CKAN_API_KEY", raising=False)
    settings, spec = dataset_settings(live_settings)
    serve_pages(httpserver, {0: page(make_records(1), 0, 3, 1)})
    run_capture(spec, DAY, settings)
    assert "api-key" not in httpserver.log[0][0].headers


def test_success_false_names_ckan_error(httpserver, live_settings):
    settings, spec = dataset_settings(live_settings)
    body = {
        "help": "https://example.test/api/3/action/help_show?name=datastore_search",
        "success": False,
        "error": {
            "message": f'Not found: Resource "{RESOURCE}" was not found.',
            "__type": "Not Found Error",
        },
    }
    httpserver.expect_request(SEARCH).respond_with_response(
        Response(json.dumps(body), status=404, content_type="application/json")
    )
    with pytest.raises(SourceError) as caught:
        run_capture(spec, DAY, settings)
    message = str(caught.value)
    assert not caught.value.transient  # a missing resource does not heal by retrying
    assert "source ckan_test_table, partition 2024-01-01, field 'success'" in message
    assert "Not Found Error: Not found: Resource" in message


def test_success_false_with_http_200_is_still_an_error(httpserver, live_settings):
    settings, spec = dataset_settings(live_settings)
    httpserver.expect_request(SEARCH).respond_with_json(
        {
            "help": "h",
            "success": False,
            "error": {"__type": "Validation Error", "limit": ["Must be a natural number"]},
        }
    )
    with pytest.raises(SourceError, match=r"field 'success'.*Validation Error: limit"):
        run_capture(spec, DAY, settings)


def test_a_value_of_the_wrong_type_names_the_column(httpserver, live_settings):
    settings, spec = dataset_settings(live_settings)
    records = make_records(2)
    records[1]["จำนวน"] = "ไม่ทราบ"
    serve_pages(httpserver, {0: page(records, 0, 3, 2)})
    with pytest.raises(SourceError, match=r"partition 2024-01-01, field 'จำนวน'.*ไม่ทราบ"):
        run_capture(spec, DAY, settings)


def test_a_server_that_ignores_offset_is_caught_as_a_loop(httpserver, live_settings):
    settings, spec = dataset_settings(live_settings)
    # Every offset answers the first page again, and total promises more.
    httpserver.expect_request(SEARCH).respond_with_json(page(make_records(3), 0, 3, 100))
    with pytest.raises(SourceError, match=r"field 'offset'.*repeats the previous page"):
        run_capture(spec, DAY, settings)
    assert len(httpserver.log) == 2


def test_max_pages_bounds_the_paging(httpserver, live_settings):
    settings, spec = dataset_settings(live_settings, max_pages=2)
    serve_pages(
        httpserver, {0: page(make_records(3), 0, 3, 9), 3: page(make_records(3, 4), 3, 3, 9)}
    )
    with pytest.raises(SourceError, match=r"field 'max_pages'"):
        run_capture(spec, DAY, settings)


# --- paging against servers that do not page as asked (docs/operations.md, "Paging") ----------


def serve_by_offset(httpserver, answer) -> None:
    """Answer every page request with `answer(offset, limit)`: servers that page their own way."""

    def handler(request):
        body = answer(int(request.args["offset"]), int(request.args["limit"]))
        return Response(json.dumps(body), content_type="application/json")

    httpserver.expect_request(SEARCH).respond_with_handler(handler)


def landed_ids(result) -> list[int]:
    return pq.read_table(result.tables["ckan_test_table"].path)["_id"].to_pylist()


def requested_offsets(httpserver) -> list[int]:
    return [int(request.args["offset"]) for request, _ in httpserver.log]


def no_complete_batch(settings) -> bool:
    directory = lake.landing_dir(settings.lake_dir, "ckan_test_table", DAY)
    return not list(directory.glob(f"*{lake.BATCH_MARKER_SUFFIX}"))


def test_server_capping_the_limit_still_lands_every_record(httpserver, live_settings):
    datasets = [{"name": "test_table", "resource_id": RESOURCE}]
    settings = live_settings("ckan", datasets=datasets, page_size=5)
    [spec] = ckan.captures(settings)
    records = make_records(7)
    # Like CKAN's rows_max: the server serves 2 per page, and its links and `limit` say 2.
    serve_by_offset(
        httpserver, lambda offset, limit: page(records[offset : offset + 2], offset, 2, 7)
    )
    result = run_capture(spec, DAY, settings)
    assert landed_ids(result) == list(range(1, 8))
    assert requested_offsets(httpserver) == [0, 2, 4, 6]
    marker = result.batch.directory / f"{result.batch.batch_id}{lake.BATCH_MARKER_SUFFIX}"
    assert lake.read_batch_marker(marker)["metadata"]["paging"] == {
        "pages": 4,
        "rows": 7,
        "requested_limit": 5,
        "effective_page_size": 2,
        "reported_total": 7,
        "ended_by": "total",
    }


# An estimated total is no end: then only the empty page at offset 9 ends the listing.
@pytest.mark.parametrize("estimated", [False, True])
def test_shorter_middle_page_does_not_end_the_listing(httpserver, live_settings, estimated):
    settings, spec = dataset_settings(live_settings)
    records = make_records(9)
    sizes = {0: 3, 3: 1, 4: 3, 7: 2, 9: 0}  # page 2 is short; its _links.next says offset 6

    def answer(offset: int, limit: int) -> dict:
        body = page(records[offset : offset + sizes[offset]], offset, limit, 9)
        body["result"]["total_was_estimated"] = estimated
        return body

    serve_by_offset(httpserver, answer)
    result = run_capture(spec, DAY, settings)
    assert landed_ids(result) == list(range(1, 10))
    assert requested_offsets(httpserver) == [0, 3, 4, 7, 9][: 5 if estimated else 4]
    assert result.batch.metadata["paging"]["reported_total"] == (None if estimated else 9)


def test_a_page_repeating_an_earlier_page_is_caught_as_a_loop(httpserver, live_settings):
    settings, spec = dataset_settings(live_settings, max_pages=20)
    first, second = make_records(3), make_records(3, 4)
    # A cursor loop of two pages: no page equals the one just before it.
    serve_by_offset(
        httpserver,
        lambda offset, limit: page(first if offset % 6 == 0 else second, offset, limit, 100),
    )
    with pytest.raises(
        SourceError,
        match=r"source ckan_test_table, partition 2024-01-01, field 'offset'\] page 3 \(offset "
        r"6\) repeats an earlier page \(page 1, offset 0\)",
    ):
        run_capture(spec, DAY, settings)
    assert requested_offsets(httpserver) == [0, 3, 6]
    assert no_complete_batch(settings) and not (settings.lake_dir / "raw").exists()


def test_total_above_what_the_server_returns_is_an_error(httpserver, live_settings):
    settings, spec = dataset_settings(live_settings)
    records = make_records(5)
    serve_by_offset(
        httpserver, lambda offset, limit: page(records[offset : offset + limit], offset, limit, 8)
    )
    with pytest.raises(
        SourceError,
        match=r"partition 2024-01-01, field 'total'\] the listing ended \(empty page at page 3, "
        r"offset 5\) after 5 records, but the API reported a total of 8: 3 records would be lost",
    ):
        run_capture(spec, DAY, settings)
    assert requested_offsets(httpserver) == [0, 3, 5]
    assert no_complete_batch(settings) and not (settings.lake_dir / "raw").exists()


def test_links_without_next_end_the_listing(httpserver, live_settings):
    settings, spec = dataset_settings(live_settings)
    body = page(make_records(3), 0, 3, 0)
    body["result"]["total_was_estimated"] = True  # no total to go by: the missing link ends it
    del body["result"]["_links"]["next"]
    serve_pages(httpserver, {0: body})
    result = run_capture(spec, DAY, settings)
    assert landed_ids(result) == [1, 2, 3] and len(httpserver.log) == 1
    assert result.batch.metadata["paging"]["ended_by"] == "no_next_link"


def test_fields_that_change_between_pages_are_refused(httpserver, live_settings):
    settings, spec = dataset_settings(live_settings)
    other = [*FIELDS[:2], {"id": "จำนวน", "type": "text"}, *FIELDS[3:]]
    serve_pages(
        httpserver,
        {0: page(make_records(3), 0, 3, 5), 3: page(make_records(2, 4), 3, 3, 5, fields=other)},
    )
    with pytest.raises(SourceError, match=r"field 'fields'"):
        run_capture(spec, DAY, settings)


def test_an_overlapping_page_is_deduplicated(httpserver, live_settings):
    settings, spec = dataset_settings(live_settings)
    # The second page starts one record early (a record was deleted meanwhile): _id 3 twice.
    serve_pages(
        httpserver, {0: page(make_records(3), 0, 3, 5), 3: page(make_records(3, 3), 3, 3, 5)}
    )
    result = run_capture(spec, DAY, settings)
    table = pq.read_table(result.tables["ckan_test_table"].path)
    assert table.column("_id").to_pylist() == [1, 2, 3, 4, 5]
