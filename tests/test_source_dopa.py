"""DOPA: the real stat_c67.txt parses to the right typed values; the variants seen in the wild
(BOM, cp874, CRLF, comma thousands, a header, no trailing pipe) give the same rows; bad lines name
the line, field or admin code; a Khon Kaen month replays from recordings and re-runs the same."""

import re
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fake_landing import land_body

from city_pipeline.capture import ParseContext, run_capture
from city_pipeline.lake import saved_file
from city_pipeline.settings import CITIES_DIR, load_settings
from city_pipeline.sources import dopa
from city_pipeline.sources.common import SourceError

SAMPLE = (
    Path(__file__).parents[1]
    / "data"
    / "recordings"
    / "real-samples"
    / "dopa_stat_c67_province_population_dec2567.txt"
)
MONTH = date(2024, 12, 1)
CONTRACT = pa.schema(
    [
        ("month", pa.date32()),
        ("yymm_be", pa.string()),
        ("level", pa.string()),
        ("admin_code", pa.string()),
        ("admin_name_th", pa.string()),
        ("male", pa.int64()),
        ("female", pa.int64()),
        ("total", pa.int64()),
        ("households", pa.int64()),
    ]
)


def parse_bytes(tmp_path: Path, *bodies: bytes) -> pa.Table:
    files = []
    for i, body in enumerate(bodies):
        files.append(land_body(tmp_path / f"file-{i}.txt", body))
    ctx = ParseContext(source="dopa", day=MONTH, files=tuple(files), settings=load_settings({}))
    return dopa.parse_files(ctx)


def sample_text() -> str:
    return SAMPLE.read_text(encoding="utf-8")


def with_thousands(text: str) -> str:
    """Every count written with comma thousands, as spreadsheet exports do."""
    return re.sub(r"(?<=\|)(\d{4,})(?=\|)", lambda m: f"{int(m.group(1)):,}", text)


# --- contract: the real file ------------------------------------------------------------------


def test_real_province_file_parses_to_typed_rows():
    ctx = ParseContext(
        source="dopa", day=MONTH, files=(saved_file(SAMPLE),), settings=load_settings({})
    )
    table = dopa.parse_files(ctx)
    assert table.schema.equals(CONTRACT)
    assert table.num_rows == 78
    rows = {r["admin_code"]: r for r in table.to_pylist()}
    khon_kaen = rows["40"]
    assert khon_kaen == {
        "month": MONTH,
        "yymm_be": "6712",
        "level": "province",
        "admin_code": "40",
        "admin_name_th": "ขอนแก่น",
        "male": 868299,
        "female": 904082,
        "total": 1772381,
        "households": 692088,
    }
    country = rows["0"]
    assert (country["level"], country["admin_name_th"], country["total"]) == (
        "country",
        "ทั่วประเทศ",
        65951210,
    )
    assert rows["10"]["admin_name_th"] == "กรุงเทพมหานคร" and rows["10"]["total"] == 5455020
    assert set(table.column("month").to_pylist()) == {MONTH}
    assert table.column("level").to_pylist().count("province") == 77
    provinces = [r["total"] for r in rows.values() if r["level"] == "province"]
    assert sum(provinces) == country["total"]


@pytest.mark.parametrize(
    "variant",
    ["bom_crlf", "cp874_crlf_thousands", "header", "no_trailing_pipe", "thai_digits_yymm"],
)
def test_variants_seen_in_the_wild_give_the_same_rows(tmp_path, variant):
    text = sample_text()
    if variant == "bom_crlf":
        body = b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode("utf-8")
    elif variant == "cp874_crlf_thousands":
        body = with_thousands(text).replace("\n", "\r\n").encode("cp874")
        assert b"1,772,381" in body
    elif variant == "header":
        header = "ปีเดือน|รหัส|ชื่อ|a|b|c|ชาย|หญิง|รวม|บ้าน|\n"
        body = (header + text).encode("utf-8")
    elif variant == "no_trailing_pipe":
        body = re.sub(r"\|\n", "\n", text).encode("utf-8")
    else:
        body = text.replace("6712|", "๖๗๑๒|").encode("utf-8")
    original_dir = tmp_path / "original"
    original_dir.mkdir()
    expected = parse_bytes(original_dir, SAMPLE.read_bytes())
    assert parse_bytes(tmp_path, body).equals(expected)


# --- bad files --------------------------------------------------------------------------------


def lines_with(line_no: int, replacement: str) -> bytes:
    lines = sample_text().split("\n")
    lines[line_no - 1] = replacement
    return "\n".join(lines).encode("utf-8")


def test_a_line_with_too_few_fields_names_its_line(tmp_path):
    body = lines_with(3, "6712|11|สมุทรปราการ|0|0|0|654057|726769")
    with pytest.raises(SourceError, match=r"partition 2024-12-01, field 'line 3'.*line 3 of"):
        parse_bytes(tmp_path, body)


def test_a_line_with_too_many_fields_names_its_line(tmp_path):
    body = lines_with(5, "6712|13|ปทุมธานี|0|0|0|584170|652301|1236471|716096|99|")
    with pytest.raises(SourceError, match=r"line 5 of .*too many columns"):
        parse_bytes(tmp_path, body)


def test_a_non_numeric_count_names_the_field(tmp_path):
    body = lines_with(2, "6712|10|กรุงเทพมหานคร|0|0|0|2544400|n/a|5455020|3304462|")
    with pytest.raises(SourceError, match=r"source dopa, partition 2024-12-01, field 'female'"):
        parse_bytes(tmp_path, body)


def test_male_plus_female_not_total_names_the_admin_code(tmp_path):
    body = sample_text().replace("|868299|904082|1772381|", "|868299|904082|1772380|")
    with pytest.raises(SourceError, match=r"field 'total'.*admin code 40 \(6712\)"):
        parse_bytes(tmp_path, body.encode("utf-8"))


def test_an_unknown_code_length_names_the_admin_code(tmp_path):
    body = sample_text().replace("6712|40|", "6712|400|")
    with pytest.raises(SourceError, match=r"field 'admin_code'.*'400'"):
        parse_bytes(tmp_path, body.encode("utf-8"))


def test_an_impossible_month_names_yymm(tmp_path):
    body = sample_text().replace("6712|40|", "6713|40|")
    with pytest.raises(SourceError, match=r"field 'yymm_be'.*'6713'"):
        parse_bytes(tmp_path, body.encode("utf-8"))


def test_bytes_that_are_no_thai_encoding_are_refused(tmp_path):
    with pytest.raises(SourceError, match="neither UTF-8 nor TIS-620"):
        parse_bytes(tmp_path, b"6712|40|\xff\xfe|0|0|0|1|1|2|1|\n")


def test_two_files_disagreeing_on_an_area_are_refused(tmp_path):
    other = sample_text().replace("|868299|904082|1772381|692088|", "|868299|904083|1772382|1|")
    with pytest.raises(SourceError, match=r"admin code 40 appears twice for 6712"):
        parse_bytes(tmp_path, SAMPLE.read_bytes(), other.encode("utf-8"))


def test_the_same_area_in_two_files_is_one_row(tmp_path):
    assert parse_bytes(tmp_path, SAMPLE.read_bytes(), SAMPLE.read_bytes()).num_rows == 78
    prefixed = "6712|40|จังหวัดขอนแก่น|0|0|0|868299|904082|1,772,381|692088|\r\n"
    table = parse_bytes(tmp_path, SAMPLE.read_bytes(), prefixed.encode("cp874"))
    assert table.num_rows == 78
    [khon_kaen] = [r for r in table.to_pylist() if r["admin_code"] == "40"]
    assert khon_kaen["admin_name_th"] == "ขอนแก่น" and khon_kaen["total"] == 1772381


# --- requests and replay ----------------------------------------------------------------------


def test_buddhist_era_year_and_month_in_the_url():
    assert dopa.be_yy_mm(date(2024, 1, 1)) == ("67", "01")
    assert dopa.be_yy_mm(date(2057, 12, 1)) == ("00", "12")  # BE 2600
    settings = load_settings({})
    assert dopa.month_urls(settings.config.sources.dopa, date(2024, 2, 1)) == [
        "https://stat.bora.dopa.go.th/new_stat/file/67/stat_c67.txt",
        "https://stat.bora.dopa.go.th/new_stat/file/67/stat_a6702.txt",
    ]


def test_replay_capture_of_a_khon_kaen_month_is_repeatable(tmp_path):
    settings = load_settings({"CITY_PIPELINE_DATA_DIR": str(tmp_path)})
    [spec] = dopa.captures(settings)
    assert (spec.name, spec.source, spec.tables) == ("dopa", "dopa", ("dopa_population",))
    first = run_capture(spec, date(2024, 1, 1), settings)
    district_file = next(f for f in first.batch.files if f.url.endswith("stat_a6701.txt"))
    body = district_file.read_bytes()
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")  # the recording exercises the cp874 path, with CRLF and commas
    assert b"\r\n" in body and re.search(rb"\|\d{1,3},\d{3}\|", body)
    written = first.tables["dopa_population"]
    table = pq.read_table(written.path)
    assert table.schema.remove_metadata().equals(CONTRACT)
    rows = table.to_pylist()
    districts = [r for r in rows if r["level"] == "district"]
    assert len(districts) == 26 and {r["month"] for r in districts} == {date(2024, 1, 1)}
    mueang = next(r for r in districts if r["admin_code"] == "4001")
    assert mueang["admin_name_th"] == "อำเภอเมืองขอนแก่น" and 350_000 < mueang["total"] < 500_000
    province = next(r for r in rows if r["admin_code"] == "40")
    assert province["month"] == MONTH and 1_770_000 <= province["total"] < 1_780_000
    assert len([r for r in rows if r["level"] == "province"]) == 77
    assert all(r["male"] + r["female"] == r["total"] for r in rows)
    second = run_capture(spec, date(2024, 1, 1), settings)
    assert pq.read_table(second.tables["dopa_population"].path).to_pylist() == rows


def test_bangkok_has_the_province_file_only(tmp_path):
    settings = load_settings(
        {
            "CITY_PIPELINE_DATA_DIR": str(tmp_path),
            "CITY_PIPELINE_CONFIG": str(CITIES_DIR / "bangkok.yaml"),
        }
    )
    result = run_capture(dopa.CAPTURE, date(2024, 3, 1), settings)
    assert result.tables["dopa_population"].rows == 78 and len(result.batch.files) == 1


def test_a_partition_that_is_not_a_month_start_is_refused(tmp_path):
    settings = load_settings({"CITY_PIPELINE_DATA_DIR": str(tmp_path)})
    with pytest.raises(SourceError, match=r"partition 2024-01-15, field 'partition'"):
        run_capture(dopa.CAPTURE, date(2024, 1, 15), settings)
