"""The GX suites: one per published mart, in step with the dbt contracts, and they bite."""

import json
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from city_pipeline.consume.catalog import (
    EXPECTATIONS_DIR,
    PUBLISHED_MARTS,
    Window,
    dbt_model_docs,
    mart_by_name,
)
from city_pipeline.consume.demo import build_demo_warehouse
from city_pipeline.consume.privacy import PII_REGEXES, scrub_table
from city_pipeline.consume.validation import ValidationOutcome, mask_pii, validate_table
from city_pipeline.consume.warehouse import WarehouseError, read_mart

WINDOW = Window(date(2024, 1, 1), date(2024, 3, 31))


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    return build_demo_warehouse(tmp_path_factory.mktemp("wh") / "city.duckdb", days=31)


def suite(name: str) -> dict:
    return json.loads((EXPECTATIONS_DIR / f"{name}.json").read_text(encoding="utf-8"))


def test_every_published_mart_has_a_suite_and_no_suite_is_orphaned():
    published = {m.name for m in PUBLISHED_MARTS}
    suites = {p.stem for p in EXPECTATIONS_DIR.glob("*.json")}
    assert suites == published
    for name in published:
        assert suite(name)["name"] == name
        assert all(e["meta"]["notes"] for e in suite(name)["expectations"]), name


@pytest.mark.parametrize("mart", [m.name for m in PUBLISHED_MARTS])
def test_suite_columns_match_the_dbt_contract(mart):
    contract = [c["name"] for c in dbt_model_docs()[mart]["columns"]]
    (columns,) = [
        e for e in suite(mart)["expectations"] if e["type"] == "expect_table_columns_to_match_set"
    ]
    assert columns["kwargs"]["column_set"] == contract
    assert columns["kwargs"]["exact_match"] is True


def test_complaint_text_columns_are_guarded_against_pii_with_the_scrubbers_patterns():
    expectations = suite("fct_complaints")["expectations"]
    guarded = {
        e["kwargs"]["column"]
        for e in expectations
        if e["type"] == "expect_column_values_to_not_contain_thai_national_id"
    }
    assert {"description", "address"} <= guarded
    assert set(mart_by_name("fct_complaints").free_text_columns) <= guarded
    regexes = {
        e["kwargs"]["regex"]
        for e in expectations
        if e["type"] == "expect_column_values_to_not_match_regex"
    }
    assert regexes == set(PII_REGEXES.values())


@pytest.mark.parametrize("mart", [m.name for m in PUBLISHED_MARTS])
def test_demo_marts_pass_their_suites(warehouse, mart):
    spec = mart_by_name(mart)
    table = scrub_table(read_mart(warehouse, mart), list(spec.free_text_columns))
    outcome = validate_table(spec, table, WINDOW)
    assert outcome.success, outcome.markdown()
    assert outcome.evaluated == len(suite(mart)["expectations"])
    assert outcome.rows == table.num_rows > 0


def test_unscrubbed_complaints_fail_with_masked_samples(warehouse):
    spec = mart_by_name("fct_complaints")
    outcome = validate_table(spec, read_mart(warehouse, "fct_complaints"), WINDOW)
    assert not outcome.success
    failed = {(r.expectation, r.column) for r in outcome.failed}
    assert ("expect_column_values_to_not_contain_thai_national_id", "description") in failed
    assert ("expect_column_values_to_not_match_regex", "address") in failed
    samples = " ".join(s for r in outcome.failed for s in r.samples)
    assert samples and "1103700123458" not in samples and "081-234-5678" not in samples
    assert "example.com" not in samples and "•" in samples
    markdown = outcome.markdown()
    assert "FAILED" in markdown and "thai_national_id" in markdown


def test_violations_are_reported_with_sample_values(warehouse):
    spec = mart_by_name("mart_air_quality_daily")
    table = read_mart(warehouse, "mart_air_quality_daily")
    pm25 = table.column("pm25_24h_mean").to_pylist()
    pm25[0] = -5.0  # negative concentration
    table = table.set_column(
        table.column_names.index("pm25_24h_mean"), "pm25_24h_mean", pa.array(pm25, pa.float64())
    )
    duplicated = pa.concat_tables([table, table.slice(1, 1)])  # a station-day twice
    outcome = validate_table(spec, duplicated, WINDOW)
    assert not outcome.success
    by_label = {(r.expectation, r.column): r for r in outcome.failed}
    negative = by_label[("expect_column_values_to_be_between", "pm25_24h_mean")]
    assert negative.unexpected_count == 1 and negative.samples == ["-5.0"]
    assert ("expect_compound_columns_to_be_unique", None) in by_label
    # round trip through JSON (the validated/ sidecar) keeps everything
    again = ValidationOutcome.from_dict(json.loads(json.dumps(outcome.to_dict())))
    assert again == outcome


def test_row_count_bound_follows_the_window(warehouse):
    spec = mart_by_name("mart_weather_daily")
    table = read_mart(warehouse, "mart_weather_daily")  # 31 days
    assert validate_table(spec, table, Window(date(2024, 1, 1), date(2024, 1, 31))).success
    short = validate_table(spec, table, Window(date(2024, 1, 1), date(2024, 1, 20)))
    failed = {r.expectation for r in short.failed}
    assert "expect_table_row_count_to_be_between" in failed  # 31 rows > 20 days
    assert "expect_column_values_to_be_between" in failed  # dates after the window


def test_missing_columns_fail_the_schema_expectation(warehouse):
    spec = mart_by_name("mart_city_daily")
    table = read_mart(warehouse, "mart_city_daily").drop_columns(["rainfall_mm"])
    outcome = validate_table(spec, table, WINDOW)
    assert not outcome.success
    assert "expect_table_columns_to_match_set" in {r.expectation for r in outcome.failed}


def test_mask_pii_hides_what_matched_but_keeps_context():
    masked = mask_pii("แจ้งโดย 1103700123458 โทร 081-234-5678 a@b.co")
    assert masked.startswith("แจ้งโดย ") and "โทร" in masked
    assert not any(ch.isdigit() for ch in masked) and "@" not in masked


def test_read_mart_is_read_only_and_names_missing_marts(warehouse, tmp_path):
    table = read_mart(warehouse, "mart_city_daily")
    assert pc.min(table.column("date")).as_py() == date(2024, 1, 1)
    with pytest.raises(WarehouseError, match="marts.no_such_mart"):
        read_mart(warehouse, "no_such_mart")
    with pytest.raises(WarehouseError, match="does not exist"):
        read_mart(tmp_path / "absent.duckdb", "mart_city_daily")
