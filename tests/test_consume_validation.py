"""The GX suites: one per published mart, in step with the dbt contracts, and they bite."""

import json
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from city_pipeline.consume.catalog import (
    EXPECTATIONS_DIR,
    PUBLISHED_MARTS,
    Window,
    dbt_model_docs,
    mart_by_name,
)
from city_pipeline.consume.demo import build_demo_warehouse
from city_pipeline.consume.privacy import CONTROL_PATTERN, PII_REGEXES, scrub_table
from city_pipeline.consume.validation import ValidationOutcome, mask_pii, validate_table
from city_pipeline.consume.warehouse import WarehouseError, read_mart
from city_pipeline.network.catalog import NETWORK_MARTS

WINDOW = Window(date(2024, 1, 1), date(2024, 3, 31))


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    return build_demo_warehouse(tmp_path_factory.mktemp("wh") / "city.duckdb", days=31)


def suite(name: str) -> dict:
    return json.loads((EXPECTATIONS_DIR / f"{name}.json").read_text(encoding="utf-8"))


def test_every_published_mart_has_a_suite_and_no_suite_is_orphaned():
    published = {m.name for m in PUBLISHED_MARTS + NETWORK_MARTS}
    suites = {p.stem for p in EXPECTATIONS_DIR.glob("*.json")}
    assert suites == published
    for name in published:
        assert suite(name)["name"] == name
        assert all(e["meta"]["notes"] for e in suite(name)["expectations"]), name


@pytest.mark.parametrize("mart", [m.name for m in PUBLISHED_MARTS if m.schema == "marts"])
def test_suite_columns_match_the_dbt_contract(mart):
    contract = [c["name"] for c in dbt_model_docs()[mart]["columns"]]
    (columns,) = [
        e for e in suite(mart)["expectations"] if e["type"] == "expect_table_columns_to_match_set"
    ]
    assert columns["kwargs"]["column_set"] == contract
    assert columns["kwargs"]["exact_match"] is True


def test_analyse_suites_match_the_columns_the_code_writes():
    from city_pipeline.analyse import anomaly, forecast

    for mart, columns in (
        ("pm25_forecast", forecast.OUTPUT_COLUMNS),
        ("air_sensor_flags", anomaly.DAILY_COLUMNS),
    ):
        (expected,) = [
            e
            for e in suite(mart)["expectations"]
            if e["type"] == "expect_table_columns_to_match_set"
        ]
        assert expected["kwargs"]["column_set"] == list(columns)


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
    assert regexes == set(PII_REGEXES.values()) | {CONTROL_PATTERN.pattern}


@pytest.mark.parametrize("mart", [m.name for m in PUBLISHED_MARTS])
def test_demo_marts_pass_their_suites(warehouse, mart):
    spec = mart_by_name(mart)
    table = scrub_table(read_mart(warehouse, mart, spec.schema), list(spec.free_text_columns))
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


def whole_frame_outcomes(spec, table: pa.Table) -> list:
    """The reference: GX on the whole table as one DataFrame (what validation did before it
    streamed), for comparing the chunked outcomes with."""
    import great_expectations as gx
    from great_expectations.core import ExpectationSuite

    from city_pipeline.consume import validation

    context = validation._gx_context()
    data = suite(spec.name)
    gx_suite = context.suites.add(
        ExpectationSuite(name=f"{spec.name}-reference", expectations=data["expectations"])
    )
    batch = (
        context.data_sources.add_pandas("reference")
        .add_dataframe_asset("mart")
        .add_batch_definition_whole_dataframe("whole")
    )
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name="reference", data=batch, suite=gx_suite)
    )
    result = definition.run(
        batch_parameters={"dataframe": validation.frame_for_validation(table)},
        expectation_parameters=validation.suite_parameters(spec, WINDOW),
        result_format="SUMMARY",
    )
    # GX lists results in its own order; ours follow the suite
    return sorted((validation._outcome(r) for r in result.results), key=repr)


def with_column(table: pa.Table, name: str, values: list) -> pa.Table:
    index = table.column_names.index(name)
    return table.set_column(index, table.schema.field(name), pa.array(values, table[name].type))


@pytest.mark.parametrize("mart", ["fct_complaints", "mart_air_quality_daily", "mart_population"])
def test_chunked_validation_equals_gx_on_the_whole_table(warehouse, mart):
    """Chunks of 7 rows: counts, `mostly`, samples, uniqueness and row counts as for one frame."""
    spec = mart_by_name(mart)
    table = read_mart(warehouse, mart)  # unscrubbed complaints: PII failures in several chunks
    if mart == "fct_complaints":
        ids = table.column("ticket_id").to_pylist()
        ids[-1] = ids[0]  # a duplicate ticket in the first and the last chunk
        hours = table.column("resolution_hours").to_pylist()
        hours[3] = -1.0  # 1 negative in the first chunk: fails there, passes `mostly` overall
        table = with_column(with_column(table, "ticket_id", ids), "resolution_hours", hours)
    if mart == "mart_air_quality_daily":
        table = pa.concat_tables([table, table.slice(20, 1)])  # a station-day twice
    reference = whole_frame_outcomes(spec, table)
    chunked = validate_table(spec, table, WINDOW, chunk_rows=7)
    assert sorted(chunked.results, key=repr) == reference
    assert [r.expectation for r in chunked.results] == [
        e["type"] for e in suite(mart)["expectations"]
    ]  # in the suite's order
    assert chunked.success == all(r.success for r in reference)
    if mart == "fct_complaints":
        by_label = {r.label: r for r in chunked.results}
        assert not by_label["expect_column_values_to_be_unique(ticket_id)"].success
        negative = by_label["expect_column_values_to_be_between(resolution_hours)"]
        assert negative.success and negative.unexpected_count == 1
        assert not chunked.success


def test_a_parquet_file_validates_like_the_table(warehouse, tmp_path):
    from city_pipeline.consume.validation import validate_parquet

    spec = mart_by_name("fct_complaints")
    table = scrub_table(read_mart(warehouse, "fct_complaints"), list(spec.free_text_columns))
    path = tmp_path / "fct_complaints.parquet"
    pq.write_table(table, path, row_group_size=10)
    from_file = validate_parquet(spec, path, WINDOW, chunk_rows=9)
    from_table = validate_table(spec, table, WINDOW)
    assert from_file.success and from_file.rows == table.num_rows
    assert from_file.results == from_table.results


def test_an_empty_mart_fails_its_row_count_only_there(warehouse):
    spec = mart_by_name("mart_weather_daily")
    empty = read_mart(warehouse, "mart_weather_daily").slice(0, 0)
    outcome = validate_table(spec, empty, WINDOW, chunk_rows=7)
    assert sorted(outcome.results, key=repr) == whole_frame_outcomes(spec, empty)
    assert [r.expectation for r in outcome.failed] == ["expect_table_row_count_to_be_between"]


def dbt_thailand_bbox() -> dict[str, float]:
    """The bounding box as the dbt macro states it (the one place it is defined)."""
    import re

    macro = (Path(__file__).parents[1] / "dbt_project" / "macros" / "plausibility.sql").read_text()
    (body,) = re.findall(r"macro thailand_bbox\(\).*?return\((\{.*?\})\)", macro, re.S)
    return {k: float(v) for k, v in re.findall(r"'(\w+)': ([\d.]+)", body)}


@pytest.mark.parametrize("mart", ["fct_complaints", "dim_air_station"])
def test_coordinate_checks_use_the_dbt_bounding_box_without_tolerance(mart):
    box = dbt_thailand_bbox()
    assert box == {"lat_min": 5.6, "lat_max": 20.5, "lon_min": 97.3, "lon_max": 105.7}
    checks = {
        e["kwargs"]["column"]: e["kwargs"]
        for e in suite(mart)["expectations"]
        if e["type"] == "expect_column_values_to_be_between"
        and e["kwargs"]["column"] in ("lat", "lon")
    }
    for axis in ("lat", "lon"):
        assert checks[axis]["min_value"] == box[f"{axis}_min"]
        assert checks[axis]["max_value"] == box[f"{axis}_max"]
        assert "mostly" not in checks[axis]


ANALYSE_TEXT_COLUMNS = {
    "pm25_forecast": {
        "scope",
        "station_id",
        "method",
        "aqi_category_th",
        "aqi_category_en",
        "aqi_colour",
        "aqi_colour_hex",
        "model_version",
    },
    "air_sensor_flags": {"station_id", "reason"},
    "complaint_insights": {"ticket_id", "predicted_type", "duplicate_of", "model_version"},
    "complaint_surges": {
        "subdistrict_code",
        "subdistrict_name_th",
        "subdistrict_name_en",
        "district_name_th",
        "district_name_en",
        "problem_type",
    },
}


def text_columns_of(mart) -> set[str]:
    """varchar columns of a dbt mart's contract; the Analyse tables' text columns by name."""
    if mart.schema != "marts":
        return ANALYSE_TEXT_COLUMNS[mart.name]
    return {
        c["name"] for c in dbt_model_docs()[mart.name]["columns"] if c["data_type"] == "varchar"
    }


@pytest.mark.parametrize("mart", PUBLISHED_MARTS, ids=lambda m: m.name)
def test_every_text_column_is_checked_for_control_characters(mart):
    text_columns = text_columns_of(mart)
    mart = mart.name
    checked = {
        e["kwargs"]["column"]
        for e in suite(mart)["expectations"]
        if e["type"] == "expect_column_values_to_not_match_regex"
        and e["kwargs"]["regex"] == CONTROL_PATTERN.pattern
    }
    assert checked == text_columns


def test_one_implausible_complaint_fails_the_suite(warehouse):
    """One bad row among hundreds is enough: no `mostly` on the plausibility checks. The bad
    values are what curate NULLs or cuts, so a failure here means curate let one through."""
    spec = mart_by_name("fct_complaints")
    clean = scrub_table(read_mart(warehouse, "fct_complaints"), list(spec.free_text_columns))
    assert clean.num_rows > 100
    cases = {
        "lat": (999.0, "expect_column_values_to_be_between(lat)"),
        "lon": (120.0, "expect_column_values_to_be_between(lon)"),
        "description": ("ก" * 100_000, "expect_column_value_lengths_to_be_between(description)"),
        "address": ("ถนน\u202eมิตรภาพ", "expect_column_values_to_not_match_regex(address)"),
    }
    for column, (bad, label) in cases.items():
        values = clean.column(column).to_pylist()
        values[5] = bad
        outcome = validate_table(spec, with_column(clean, column, values), WINDOW)
        assert [r.label for r in outcome.failed] == [label], (column, outcome.markdown())
