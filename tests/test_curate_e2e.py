"""Capture + curate end to end, in process: the bundled Khon Kaen recordings for 2024-01-04..06
(and the January DOPA month) through the capture assets and both dbt asset definitions. Mart values
are checked against numbers computed here in plain Python from the raw Parquet files; re-running a
day leaves every mart row identical and no mart has a duplicate key."""

import statistics
from collections import defaultdict
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import dagster as dg
import duckdb
import pyarrow.parquet as pq
import pytest

from city_pipeline.defs import capture, curate
from city_pipeline.defs.resources import CityResource
from city_pipeline.settings import load_settings

DAYS = ("2024-01-04", "2024-01-05", "2024-01-06")
DAY = date(2024, 1, 5)
MARTS = {
    "dim_admin_area": ["admin_code"],
    "dim_air_station": ["station_id"],
    "dim_thai_aqi_breakpoint": ["pollutant", "valid_from", "band"],
    "fct_complaints": ["ticket_id"],
    "mart_air_quality_daily": ["date", "station_id"],
    "mart_complaints_daily": ["date", "district_code", "category"],
    "mart_weather_daily": ["date"],
    "mart_population": [
        "month",
        "level",
        "admin_code",
        "source_admin_code",
        "source_admin_name_th",
    ],
    "mart_city_daily": ["date"],
}
CATEGORIES = [
    (25, "Excellent"),
    (50, "Satisfactory"),
    (100, "Moderate"),
    (200, "Unhealthy"),
    (10**6, "Very unhealthy"),
]
# PM2.5 bands in force since 2023-06-01: (low, high, aqi_low, aqi_high)
PM25_BANDS = [(0, 15.0, 0, 25), (15.1, 25.0, 26, 50), (25.1, 37.5, 51, 100), (37.6, 75.0, 101, 200)]


def half_up(value: float, digits: int = 0) -> float:
    return float(Decimal(str(value)).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP))


def thai_aqi_pm25(mean_24h: float) -> int:
    x = half_up(mean_24h, 1)
    for low, high, aqi_low, aqi_high in PM25_BANDS:
        if x <= high:
            return int(half_up((aqi_high - aqi_low) / (high - low) * (x - low) + aqi_low))
    low, high, aqi_low, aqi_high = PM25_BANDS[-1]
    return int(half_up((aqi_high - aqi_low) / (high - low) * (x - 75.1) + 201))


def raw_rows(data_dir: Path, table: str) -> list[dict]:
    rows = []
    for path in sorted((data_dir / "lake" / "raw" / table).glob("date=*/*.parquet")):
        partition = path.parent.name.removeprefix("date=")
        rows += [{**row, "_partition": partition} for row in pq.read_table(path).to_pylist()]
    return rows


def mart_rows(data_dir: Path) -> dict[str, list[tuple]]:
    with duckdb.connect(str(data_dir / "warehouse" / "city.duckdb"), read_only=True) as con:
        return {
            mart: con.execute(f"select * from marts.{mart} order by all").fetchall()
            for mart in MARTS
        }


def query(data_dir: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(data_dir / "warehouse" / "city.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchall()


def materialize(defs: dg.Definitions, resources: dict, partitioned: str, **kwargs):
    """Materialize every asset of one partitioning: "monthly"; "daily" plus every unpartitioned
    asset (the curate models), as the nightly job does; or "daily_only"."""
    assets = [a for a in defs.assets if isinstance(a, dg.AssetsDefinition)]

    def kind(asset: dg.AssetsDefinition) -> str | None:
        partitions = asset.partitions_def
        return partitions.schedule_type.name.lower() if partitions is not None else None

    wanted = {"daily": {"daily", None}, "daily_only": {"daily"}, "monthly": {"monthly"}}[
        partitioned
    ]
    result = dg.materialize(
        [a for a in assets if kind(a) in wanted],
        resources=resources,
        raise_on_error=False,
        **kwargs,
    )
    failures = [e.step_failure_data.error.message for e in result.all_events if e.is_step_failure]
    assert result.success, "\n".join(failures)[:4000]
    return result


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory, dbt_manifest):
    data_dir = tmp_path_factory.mktemp("e2e")
    settings = load_settings({"CITY_PIPELINE_DATA_DIR": str(data_dir)})
    defs = dg.Definitions.merge(capture.build_defs(settings), curate.build_defs(settings))
    resources = {"dbt": curate.dbt_resource(), "city": CityResource(data_dir=str(data_dir))}
    materialize(defs, resources, "monthly", partition_key="2024-01-01")
    daily = materialize(
        defs,
        resources,
        "daily",
        tags={
            "dagster/asset_partition_range_start": DAYS[0],
            "dagster/asset_partition_range_end": DAYS[-1],
        },
    )
    first = mart_rows(data_dir)
    return {
        "data_dir": data_dir,
        "defs": defs,
        "resources": resources,
        "first": first,
        "daily": daily,
    }


def test_every_mart_is_built_with_rows(pipeline):
    for mart, rows in pipeline["first"].items():
        assert rows, f"{mart} is empty"
    dates = {row[0] for row in pipeline["first"]["mart_city_daily"]}
    assert dates == {date.fromisoformat(d) for d in DAYS}


def test_dbt_assets_report_row_counts_and_partitions(pipeline):
    by_key = defaultdict(set)
    for event in pipeline["daily"].get_asset_materialization_events():
        mat = event.materialization
        by_key[mat.asset_key.to_user_string()].add(
            (mat.partition, "dagster/row_count" in mat.metadata)
        )
    assert by_key["marts/mart_air_quality_daily"] == {(d, True) for d in DAYS}
    assert by_key["marts/fct_complaints"] == {(None, True)}
    checks = pipeline["daily"].get_asset_check_evaluations()
    failed = [
        c.check_name for c in checks if not c.passed and c.severity == dg.AssetCheckSeverity.ERROR
    ]
    assert len(checks) > 50 and failed == []


def test_air_quality_matches_a_hand_computation(pipeline):
    data_dir = pipeline["data_dir"]
    readings = {}
    for row in raw_rows(data_dir, "air4thai_hourly"):
        if row["station_id"] == "46t" and row["measured_at"].date() == DAY:
            readings[row["measured_at"]] = row["pm25"]  # a re-captured hour counts once
    values = [v for v in readings.values() if v is not None and v >= 0]
    mean = statistics.fmean(values)
    [(hours, pm25_mean, pm25_max, aqi_pm25, aqi, category, exceeds)] = query(
        data_dir,
        "select hours_measured, pm25_24h_mean, pm25_max_1h, aqi_pm25, aqi, aqi_category_en, "
        "exceeds_pm25_standard from marts.mart_air_quality_daily "
        f"where station_id = '46t' and date = '{DAY}'",
    )
    assert hours == len(values)
    assert pm25_mean == half_up(mean, 1)
    assert pm25_max == max(values)
    assert aqi_pm25 == thai_aqi_pm25(mean)
    assert aqi >= aqi_pm25
    assert category == next(name for top, name in CATEGORIES if aqi <= top)
    assert exceeds == (half_up(mean, 1) > 37.5)


def test_city_row_matches_stations_weather_and_complaints(pipeline):
    data_dir = pipeline["data_dir"]
    station_means = query(
        data_dir,
        f"select pm25_24h_mean, aqi from marts.mart_air_quality_daily where date = '{DAY}'",
    )
    [(pm25_city, aqi_max, rain, t_max, opened, resolved, backlog)] = query(
        data_dir,
        "select pm25_city_mean, aqi_max, rainfall_mm, temperature_max_c, complaints_opened, "
        f"complaints_resolved, complaints_backlog from marts.mart_city_daily where date = '{DAY}'",
    )
    assert pm25_city == half_up(statistics.fmean(m for m, _ in station_means), 1)
    assert aqi_max == max(a for _, a in station_means)

    [weather] = [r for r in raw_rows(data_dir, "open_meteo_daily") if r["date"] == DAY]
    assert rain == half_up(weather["precipitation_sum"], 1)
    assert t_max == half_up(weather["temperature_2m_max"], 1)

    # Traffy: latest version of each ticket; UTC -> Bangkok (+7 h) before taking the day.
    latest = {}
    for row in raw_rows(data_dir, "traffy_tickets"):
        key = (row["last_activity"], row["_partition"])
        if row["ticket_id"] not in latest or key > latest[row["ticket_id"]][0]:
            latest[row["ticket_id"]] = (key, row)
    tickets = [row for _, row in latest.values()]

    def local_day(ts):
        return (ts + timedelta(hours=7)).date() if ts is not None else None

    def closed_day(t):
        if t["state"] != "เสร็จสิ้น":
            return None
        return local_day(t["finished_at"] or t["last_activity"])

    assert opened == sum(local_day(t["reported_at"]) == DAY for t in tickets)
    assert resolved == sum(closed_day(t) == DAY for t in tickets)
    assert backlog == sum(
        local_day(t["reported_at"]) <= DAY and (closed_day(t) is None or closed_day(t) > DAY)
        for t in tickets
    )
    [(tickets_in_fact,)] = query(data_dir, "select count(*) from marts.fct_complaints")
    assert tickets_in_fact == len(tickets)


def test_complaints_resolve_to_the_city_district(pipeline):
    data_dir = pipeline["data_dir"]
    [(total, in_city, unresolved_names)] = query(
        data_dir,
        "select count(*), count(*) filter (where district_code = '4001'), "
        "(select count(*) from intermediate.int_unresolved_admin_names "
        "where status = 'unresolved') from marts.fct_complaints",
    )
    assert total > 0 and in_city == total and unresolved_names == 0


def test_population_matches_the_dopa_file(pipeline):
    data_dir = pipeline["data_dir"]
    raw = {
        (r["level"], r["admin_code"], r["month"]): r["total"]
        for r in raw_rows(data_dir, "dopa_population")
    }
    mart = {
        (level, code, month): total
        for level, code, month, total in query(
            data_dir, "select level, admin_code, month, total from marts.mart_population"
        )
    }
    assert mart == raw
    [(name, is_city)] = query(
        data_dir,
        "select name_en, is_city_area from marts.mart_population "
        "where level = 'district' and admin_code = '4001'",
    )
    assert name == "Mueang Khon Kaen" and is_city


def test_rerunning_a_day_gives_identical_marts_without_duplicates(pipeline):
    # the day's captures (a new landing batch) and the daily incremental marts for that day only
    materialize(
        pipeline["defs"], pipeline["resources"], "daily_only", partition_key=DAY.isoformat()
    )
    data_dir = pipeline["data_dir"]
    again = mart_rows(data_dir)
    for mart in MARTS:
        assert again[mart] == pipeline["first"][mart], f"{mart} changed after re-running {DAY}"
    for mart, key in MARTS.items():
        columns = ", ".join(key)
        duplicates = query(
            data_dir,
            f"select {columns}, count(*) from marts.{mart} group by all having count(*) > 1",
        )
        assert duplicates == [], f"{mart} has duplicate keys {duplicates[:3]}"


def test_nightly_run_after_a_first_build_gives_the_marts_of_one_build(pipeline, tmp_path):
    """The nightly job's shape: a first build of the first two days, then the night of the third
    (its captures, `curate_models` with the night's window, the daily marts for the night). Only
    the tickets with a raw version that night are recomputed (each from all its versions), and
    every unpartitioned mart, the Traffy staging table and the name resolution then hold exactly
    what one build over the three days gives; so do the daily marts' rows of that night."""
    data_dir = tmp_path / "nightly"
    settings = load_settings({"CITY_PIPELINE_DATA_DIR": str(data_dir)})
    defs = dg.Definitions.merge(capture.build_defs(settings), curate.build_defs(settings))
    resources = {"dbt": curate.dbt_resource(), "city": CityResource(data_dir=str(data_dir))}
    materialize(defs, resources, "monthly", partition_key="2024-01-01")
    first_days = {
        "dagster/asset_partition_range_start": DAYS[0],
        "dagster/asset_partition_range_end": DAYS[1],
    }
    materialize(defs, resources, "daily", tags=first_days)

    # A ticket with no version on the night's day: the nightly run must leave its row alone.
    night = DAYS[2]
    tonight = {  # the night is not captured here yet: its raw partition in the one-build lake
        row["ticket_id"]
        for row in raw_rows(pipeline["data_dir"], "traffy_tickets")
        if row["_partition"] == night
    }
    assert tonight
    warehouse = data_dir / "warehouse" / "city.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        [(untouched, description)] = con.execute(
            "select ticket_id, description from marts.fct_complaints "
            "where not list_contains(?, ticket_id) order by ticket_id limit 1",
            [sorted(tonight)],
        ).fetchall()
        con.execute(
            "update marts.fct_complaints set description = 'not rebuilt' where ticket_id = ?",
            [untouched],
        )

    materialize(defs, resources, "daily", partition_key=night)  # the nightly job for one day

    with duckdb.connect(str(warehouse)) as con:
        [(marker,)] = con.execute(
            "select description from marts.fct_complaints where ticket_id = ?", [untouched]
        ).fetchall()
        assert marker == "not rebuilt", "the nightly run rebuilt fct_complaints whole"
        con.execute(
            "update marts.fct_complaints set description = ? where ticket_id = ?",
            [description, untouched],
        )
    nightly = mart_rows(data_dir)
    for mart in MARTS:
        if mart.endswith("_daily"):
            night_rows = [r for r in nightly[mart] if r[0] == date.fromisoformat(night)]
            once = [r for r in pipeline["first"][mart] if r[0] == date.fromisoformat(night)]
            assert night_rows == once and once, f"{mart} for {night} differs from one build"
        else:
            assert nightly[mart] == pipeline["first"][mart], f"{mart} differs from one build"
    for table in ("staging.stg_traffy_tickets", "intermediate.int_admin_name_resolution"):
        sql = f"select * from {table} order by all"
        assert query(data_dir, sql) == query(pipeline["data_dir"], sql), table
