"""The published release: complete, private, atomic, and readable by analysts and Excel."""

import dataclasses
import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from frictionless import Package, validate

from city_pipeline.consume import release as release_module
from city_pipeline.consume.catalog import PUBLISHED_MARTS, Window
from city_pipeline.consume.demo import SEEDED_PII, build_demo_warehouse
from city_pipeline.consume.release import (
    DATABASE_NAME,
    PreparedMart,
    ValidationFailedError,
    current_release,
    load_validated,
    prepare_mart,
    publish_release,
    release_dirs,
    stage_validated,
)
from city_pipeline.settings import PROJECT_ROOT, load_settings

WINDOW = Window(date(2024, 1, 1), date(2024, 3, 31))
SECRETS = [secret for _, secret in SEEDED_PII]


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("consume-data")
    settings = load_settings({"CITY_PIPELINE_DATA_DIR": str(data_dir)})
    build_demo_warehouse(settings.warehouse_path, days=31, pii=True)
    return settings


@pytest.fixture(scope="module")
def prepared(settings) -> list[PreparedMart]:
    marts = [prepare_mart(settings, spec, WINDOW) for spec in PUBLISHED_MARTS]
    assert all(m.validation.success for m in marts), [m.validation.markdown() for m in marts]
    for mart in marts:
        stage_validated(settings.published_dir, mart)
    return marts


@pytest.fixture(scope="module")
def first_release(settings, prepared):
    return publish_release(settings, prepared)


def snapshot(published: Path) -> tuple[str, dict[str, bytes]]:
    """Where `current` points and the bytes of every file it shows."""
    target = os.readlink(published / "current")
    current = published / "current"
    return target, {
        str(p.relative_to(current)): p.read_bytes()
        for p in sorted(current.rglob("*"))
        if p.is_file()
    }


def test_release_holds_every_output(settings, first_release):
    current = settings.published_dir / "current"
    assert current.is_symlink() and current.resolve() == first_release.path
    assert os.readlink(current) == f"releases/{first_release.release_id}"  # relative: relocatable
    for mart in PUBLISHED_MARTS:
        assert (current / f"{mart.name}.parquet").is_file()
        assert (current / f"{mart.name}.csv").is_file()
    for name in (
        DATABASE_NAME,
        "datapackage.json",
        "report/index.html",
        "report/summary.html",
        "validation/index.html",
        "validation/results.json",
        "release.json",
    ):
        assert (current / name).is_file(), name
    manifest = json.loads((current / "release.json").read_text("utf-8"))
    assert manifest["rows"] == first_release.rows
    assert manifest["rows"]["mart_weather_daily"] == 31
    assert "city_marts.duckdb" in manifest["files"]
    assert not os.access(current / DATABASE_NAME, os.W_OK) or os.geteuid() == 0
    assert (current / DATABASE_NAME).stat().st_mode & 0o222 == 0  # files are read-only


def test_parquet_keeps_native_types(settings, first_release):
    table = pq.read_table(first_release.path / "fct_complaints.parquet")
    assert table.schema.field("opened_date").type == pa.date32()
    assert pa.types.is_list(table.schema.field("categories").type)
    assert table.num_rows == first_release.rows["fct_complaints"]


def test_csv_is_utf8_with_bom_and_opens_with_thai_text(first_release):
    path = first_release.path / "mart_complaints_daily.csv"
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert raw.count(b"\xef\xbb\xbf") == 1
    frame = pd.read_csv(path, encoding="utf-8-sig")
    assert frame.columns[0] == "date"  # no BOM glued to the first header
    assert "เมืองขอนแก่น" in set(frame["district_name_th"])
    assert "น้ำท่วม" in set(frame["category"])
    complaints = pd.read_csv(first_release.path / "fct_complaints.csv", encoding="utf-8-sig")
    assert json.loads(complaints["categories"].iloc[0])  # lists are JSON arrays in CSV
    assert complaints["opened_at"].iloc[0][10] == "T"  # ISO 8601 timestamps


def test_datapackage_is_valid_frictionless_with_thai_and_english(first_release):
    descriptor = first_release.path / "datapackage.json"
    report = validate(str(descriptor))
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])
    package = Package(str(descriptor))
    names = {r.name for r in package.resources}
    for mart in PUBLISHED_MARTS:
        assert mart.name.replace("_", "-") in names
    data = json.loads(descriptor.read_text("utf-8"))
    assert data["licenses"][0]["name"] == "CC-BY-4.0"
    assert data["title_th"] and data["title_en"] and data["sources"]
    csv_resource = next(r for r in data["resources"] if r["name"] == "mart-city-daily")
    assert csv_resource["encoding"] == "utf-8-sig" and csv_resource["title_th"]
    fields = {f["name"]: f for f in csv_resource["schema"]["fields"]}
    assert fields["date"]["type"] == "date" and "วันที่" in fields["date"]["description"]
    assert csv_resource["schema"]["primaryKey"] == ["date"]


def test_analyst_database_has_every_mart_with_comments(first_release):
    with duckdb.connect(str(first_release.path / DATABASE_NAME), read_only=True) as db:
        tables = {name for (name,) in db.execute("show tables").fetchall()}
        assert {m.name for m in PUBLISHED_MARTS} | {"_release"} <= tables
        rows = db.execute("select count(*) from mart_city_daily").fetchall()[0][0]
        assert rows == first_release.rows["mart_city_daily"]
        comment = db.execute(
            "select comment from duckdb_tables() where table_name = 'mart_city_daily'"
        ).fetchall()[0][0]
        assert "ตัวชี้วัดเมืองรายวัน" in comment


def published_text(published: Path) -> str:
    """Every string anyone can read from `published/`: text files as text, Parquet and DuckDB
    through their readers (their bytes are compressed, a byte search would prove nothing)."""
    chunks = []
    for path in sorted(published.rglob("*")):
        if not path.is_file() or path.name == ".publish.lock":
            continue
        if path.suffix == ".parquet":
            table = pq.read_table(path)
            chunks += [json.dumps(table.to_pylist(), ensure_ascii=False, default=str)]
        elif path.suffix == ".duckdb":
            with duckdb.connect(str(path), read_only=True) as db:
                for (name,) in db.execute("show tables").fetchall():
                    rows = db.execute(f'select * from "{name}"').fetchall()
                    chunks.append(json.dumps(rows, ensure_ascii=False, default=str))
        else:
            chunks.append(path.read_bytes().decode("utf-8-sig"))
    return "\n".join(chunks)


def test_seeded_pii_never_reaches_any_published_file(settings, first_release):
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as warehouse:
        original = warehouse.execute(
            "select string_agg(description || ' ' || address, ' ') from marts.fct_complaints"
        ).fetchall()[0][0]
    assert all(secret in original for secret in SECRETS)  # the warehouse keeps the original
    text = published_text(settings.published_dir)
    for secret in SECRETS:
        assert secret not in text
        assert secret.replace("-", "").replace(" ", "") not in text
    for token in ("[ID]", "[PHONE]", "[EMAIL]"):
        assert token in text


def test_failed_validation_publishes_nothing(settings, prepared, first_release):
    before = snapshot(settings.published_dir)
    releases = release_dirs(settings.published_dir)
    broken = prepared[0].validation
    failing = dataclasses.replace(
        broken, success=False, results=[dataclasses.replace(broken.results[0], success=False)]
    )
    marts = [dataclasses.replace(prepared[0], validation=failing), *prepared[1:]]
    with pytest.raises(ValidationFailedError, match=prepared[0].spec.name):
        publish_release(settings, marts)
    assert snapshot(settings.published_dir) == before
    assert release_dirs(settings.published_dir) == releases
    with pytest.raises(ValidationFailedError):
        stage_validated(settings.published_dir, marts[0])  # nor is it staged


def test_crash_mid_publish_leaves_current_untouched(settings, prepared, first_release, monkeypatch):
    before = snapshot(settings.published_dir)
    releases = release_dirs(settings.published_dir)

    def explode(*args, **kwargs):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(release_module, "write_database", explode)
    with pytest.raises(OSError, match="disk full"):
        publish_release(settings, prepared)
    assert snapshot(settings.published_dir) == before
    assert release_dirs(settings.published_dir) == releases
    assert not list((settings.published_dir / "releases").glob(".staging-*"))


KILLED_PUBLISH = """
import sys, time
from pathlib import Path
from city_pipeline.consume import release
from city_pipeline.consume.catalog import PUBLISHED_MARTS
from city_pipeline.settings import load_settings

settings = load_settings({"CITY_PIPELINE_DATA_DIR": sys.argv[1]})
marts = release.load_validated(settings.published_dir, list(PUBLISHED_MARTS))

def stall(*args, **kwargs):  # half of the release is on disk: signal the test, wait to die
    Path(sys.argv[2]).write_text("writing")
    time.sleep(120)

release._write_report = stall
release.publish_release(settings, marts)
"""


def test_process_killed_mid_publish_leaves_current_untouched(settings, first_release, tmp_path):
    before = snapshot(settings.published_dir)
    releases = release_dirs(settings.published_dir)
    marker = tmp_path / "reached"
    script = tmp_path / "publish.py"
    script.write_text(textwrap.dedent(KILLED_PUBLISH), encoding="utf-8")
    child = subprocess.Popen(
        [sys.executable, str(script), str(settings.data_dir), str(marker)], cwd=PROJECT_ROOT
    )
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert child.poll() is None, "publisher exited before reaching the report"
            assert time.monotonic() < deadline, "publisher never reached the report"
            time.sleep(0.05)
        staging = list((settings.published_dir / "releases").glob(".staging-*"))
        assert staging and (staging[0] / "city_marts.duckdb").exists()  # really mid-publish
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    assert snapshot(settings.published_dir) == before
    assert release_dirs(settings.published_dir) == releases
    # the next publish clears the dead run's leftovers and succeeds
    marts = load_validated(settings.published_dir, list(PUBLISHED_MARTS))
    fresh = publish_release(settings, marts)
    assert current_release(settings.published_dir) == fresh.path
    assert not list((settings.published_dir / "releases").glob(".staging-*"))


def test_analyst_keeps_reading_while_a_new_release_publishes(settings, prepared, first_release):
    database = settings.published_dir / "current" / DATABASE_NAME
    reader = duckdb.connect(str(database), read_only=True)
    try:
        old_id = reader.execute("select distinct release_id from _release").fetchall()[0][0]
        fresh = publish_release(settings, prepared)
        assert fresh.release_id != old_id
        # the open connection still reads the release it opened...
        assert reader.execute("select count(*) from mart_city_daily").fetchall()[0][0] == 31
        # ...and a new reader, opened read-only during the reader's session, sees the new one
        with duckdb.connect(str(database), read_only=True) as again:
            assert again.execute("select distinct release_id from _release").fetchall() == [
                (fresh.release_id,)
            ]
    finally:
        reader.close()


def test_only_the_last_n_releases_are_kept(settings, prepared, first_release):
    oldest = release_dirs(settings.published_dir)[0]
    reader = duckdb.connect(str(oldest / DATABASE_NAME), read_only=True)
    try:
        for _ in range(3):
            last = publish_release(settings, prepared, keep=2)
        kept = release_dirs(settings.published_dir)
        assert len(kept) == 2 and kept[-1] == last.path
        assert current_release(settings.published_dir) == last.path
        assert oldest.name in last.removed or not oldest.exists()
        # an analyst still connected to a removed release keeps reading it until they close
        assert reader.execute("select count(*) from mart_weather_daily").fetchall() == [(31,)]
    finally:
        reader.close()


def test_load_validated_requires_every_mart(settings, prepared, tmp_path):
    empty = load_settings({"CITY_PIPELINE_DATA_DIR": str(tmp_path)})
    with pytest.raises(release_module.PublishError, match="has not been validated"):
        load_validated(empty.published_dir, list(PUBLISHED_MARTS))


def test_prepared_marts_are_streamed_files_and_scratch_is_cleaned(settings, prepared, tmp_path):
    """prepare_mart streams the mart into a scratch Parquet file (the bytes that get validated,
    staged and published); the scratch file goes when nothing refers to it any more."""
    import gc

    from city_pipeline.consume.catalog import mart_by_name

    spec = mart_by_name("fct_complaints")
    mart = prepare_mart(settings, spec, WINDOW)
    scratch = mart.path
    assert scratch.exists() and ".scratch" in scratch.parts and mart.validation.success
    assert mart.rows == mart.table.num_rows == mart.validation.rows > 0
    text = " ".join(v or "" for v in mart.table.column("description").to_pylist())
    assert not any(secret in text for secret in SECRETS)
    target = stage_validated(settings.published_dir, mart)
    assert target.read_bytes() == scratch.read_bytes()
    del mart
    gc.collect()
    assert not scratch.exists() and target.exists()


def test_csv_streamed_in_batches_equals_one_pass(settings, prepared, tmp_path, monkeypatch):
    mart = next(m for m in prepared if m.spec.name == "fct_complaints")
    whole = tmp_path / "whole.csv"
    release_module.write_csv(mart.table, whole, "Asia/Bangkok")
    monkeypatch.setattr(release_module, "CSV_BATCH_ROWS", 7)
    streamed = tmp_path / "streamed.csv"
    release_module.write_csv(mart.path, streamed, "Asia/Bangkok")
    assert streamed.read_bytes() == whole.read_bytes()
    assert whole.read_bytes().startswith(b"\xef\xbb\xbf")


# --- the CSV writer: byte for byte what the pandas writer of earlier releases wrote -----------


def pandas_csv_frame(table: pa.Table, timezone: str) -> pd.DataFrame:
    """The reference: `release.csv_frame` as it was before the CSV moved to DuckDB."""
    columns: dict[str, pd.Series] = {}
    for field, column in zip(table.schema, table.columns, strict=True):
        kind = field.type
        if pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_struct(kind):
            values = [
                None if v is None else json.dumps(v, ensure_ascii=False, default=str)
                for v in column.to_pylist()
            ]
            columns[field.name] = pd.Series(values, dtype=object)
        elif pa.types.is_timestamp(kind):
            series = column.to_pandas()
            if kind.tz is not None:
                series = series.dt.tz_convert(timezone)
                text = series.dt.strftime("%Y-%m-%dT%H:%M:%S%z").str.replace(
                    r"([+-]\d{2})(\d{2})$", r"\1:\2", regex=True
                )
            else:
                text = series.dt.strftime("%Y-%m-%dT%H:%M:%S")
            columns[field.name] = text
        else:
            columns[field.name] = column.to_pandas(types_mapper=pd.ArrowDtype)
    return pd.DataFrame(columns)


def pandas_csv_bytes(table: pa.Table | Path, timezone: str = "Asia/Bangkok") -> bytes:
    """The reference: `release.write_csv` as it was (pandas `to_csv`, 50,000 rows at a time)."""
    if isinstance(table, Path):
        table = pq.read_table(table)
    batches = table.to_batches(max_chunksize=50_000) or [table.schema.empty_table()]
    handle = io.StringIO(newline="")
    for number, batch in enumerate(batches):
        chunk = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
        pandas_csv_frame(chunk, timezone).to_csv(
            handle, index=False, header=number == 0, lineterminator="\r\n"
        )
    return handle.getvalue().encode("utf-8-sig")


def duckdb_csv_bytes(table: pa.Table, folder: Path, timezone: str = "Asia/Bangkok") -> bytes:
    """The new writer on the table as a Parquet file (as a release runs it), checked against the
    same writer on the Arrow table."""
    parquet = folder / "table.parquet"
    pq.write_table(table, parquet)
    from_file, from_table = folder / "from-file.csv", folder / "from-table.csv"
    release_module.write_csv(parquet, from_file, timezone)
    release_module.write_csv(table, from_table, timezone)
    assert from_file.read_bytes() == from_table.read_bytes()
    return from_file.read_bytes()


# Text that CSV quoting, JSON escaping or a careless NULL can get wrong.
AWKWARD_TEXT = [
    "ถนนมิตรภาพ, หน้าตลาด",
    'ป้าย "ห้ามจอด" หาย',
    "บรรทัดแรก\nบรรทัดสอง",
    "windows\r\nline",
    "cr\ronly",
    "#hashtag น้ำท่วม",
    "",
    " leading and trailing ",
    "back\\slash",
    "tab\there",
    "ctrl\x00\x01\x1b\x1f\x7f",
    "bom\ufeffinside",
    "\u2028\u2029 separators",
    "emoji 😀 ก่อนหน้า",
    "'single' quotes; semi;colons",
    '","',
    "nan",
    "null",
]
TIMESTAMPS = [
    datetime(2024, 1, 31, 14, 5, 0),
    datetime(2024, 3, 31, 23, 59, 59, 999_999),
    datetime(1969, 12, 31, 23, 59, 59, 500_000),  # before the epoch: seconds are cut, not rounded
    datetime(1920, 3, 31, 17, 17, 55),  # Bangkok before 1920-04-01: LMT, +06:42:04
    datetime(1900, 1, 1),
    datetime(999, 12, 31, 23, 59, 59),
    datetime(2038, 1, 19, 3, 14, 8),
    None,
]
DOUBLES = [
    0.0,
    -0.0,
    1.0,
    100.0,
    -273.15,
    0.1,
    1 / 3,
    2 / 3,
    12.345678901234567,
    123456789.12345679,
    1e15,
    1e16,
    1.2345678901234568e17,
    1e22,
    1e-4,
    1e-5,
    0.0001234,
    5e-324,
    1.7976931348623157e308,
    float("nan"),
    float("inf"),
    float("-inf"),
    None,
]


def every_type_table(rows: int) -> pa.Table:
    """Every column type of the published marts (and a few neighbours), NULLs in each."""

    def take(values: list) -> list:
        return [values[i % len(values)] for i in range(rows)]

    text = take([*AWKWARD_TEXT, None])
    lists = take(
        [
            ["ถนน", "น้ำท่วม"],
            [],
            None,
            ["ความสะอาด"],
            [None, "ไฟฟ้า", ""],
            ['a "quoted", comma', "new\nline", "back\\slash", "ctrl\x01\x1b\x1f", "\t\b\f\r"],
            ["#", "😀", '","'],
        ]
    )
    dates = [None if t is None else t.date() for t in take(TIMESTAMPS)]
    return pa.table(
        {
            "ticket_id": pa.array([f"2024-{i:06d}" for i in range(rows)], pa.string()),
            "description": pa.array(text, pa.string()),
            "address": pa.array(take([*reversed(AWKWARD_TEXT), None]), pa.large_string()),
            "categories": pa.array(lists, pa.list_(pa.string())),
            "organisations": pa.array(take(lists[3:] + lists[:3]), pa.large_list(pa.string())),
            "codes": pa.array(take([[1, None, -2], [], None, [2**40]]), pa.list_(pa.int64())),
            "flags": pa.array(take([[True, None, False], None, []]), pa.list_(pa.bool_())),
            "is_resolved": pa.array(take([True, False, None]), pa.bool_()),
            "count_reopen": pa.array(take([0, -1, 2_147_483_647, None]), pa.int32()),
            "versions_seen": pa.array(take([1, -(2**63), 2**63 - 1, None]), pa.int64()),
            "hours_measured": pa.array(take([24, None, 0]), pa.int16()),
            "star": pa.array(take(DOUBLES), pa.float64()),
            "lat": pa.array(take(list(reversed(DOUBLES))), pa.float64()),
            "opened_date": pa.array(dates, pa.date32()),
            "opened_at": pa.array(take(TIMESTAMPS), pa.timestamp("us")),
            "closed_at": pa.array(take(TIMESTAMPS[1:] + TIMESTAMPS[:1]), pa.timestamp("us")),
            "captured_at": pa.array(take(TIMESTAMPS), pa.timestamp("us", tz="UTC")),
            "published_at": pa.array(
                [None if t is None else t.replace(microsecond=0) for t in take(TIMESTAMPS)],
                pa.timestamp("us", tz="Asia/Bangkok"),
            ),
        }
    )


@pytest.mark.parametrize("timezone", ["Asia/Bangkok", "UTC", "America/St_Johns"])
def test_csv_writer_is_byte_identical_to_the_pandas_writer(tmp_path, timezone):
    table = every_type_table(97)
    expected = pandas_csv_bytes(table, timezone)
    assert duckdb_csv_bytes(table, tmp_path, timezone) == expected
    text = expected.decode("utf-8-sig")  # the reference really covers what it should
    assert '"ป้าย ""ห้ามจอด"" หาย"' in text and '"บรรทัดแรก\nบรรทัดสอง"' in text
    assert '"[""ถนน"", ""น้ำท่วม""]"' in text and ",[]," in text and '"[null, ""ไฟฟ้า""' in text
    assert ",nan," in text and ",inf," in text and ",1e-05," in text and ",1.0," in text
    assert ",True," in text and ",False," in text and ",,," in text
    if timezone == "Asia/Bangkok":
        assert "2024-01-31T21:05:00+07:00" in text and "+064204" in text
    if timezone == "America/St_Johns":
        assert "-03:30" in text or "-02:30" in text


def test_csv_writer_on_random_values_is_byte_identical(tmp_path):
    import random
    import struct

    rng = random.Random(20240401)
    alphabet = ["ก", "น้ำ", "a", "1", ",", '"', "\r", "\n", "\\", "#", " ", "\x00", "\x1b", "'"]
    words = [
        None if rng.random() < 0.1 else "".join(rng.choices(alphabet, k=rng.randrange(0, 6)))
        for _ in range(3000)
    ]
    bits = [struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0] for _ in range(3000)]
    decimals = [round(rng.uniform(-1000, 1000), rng.randrange(0, 12)) for _ in range(3000)]
    start = datetime(1890, 1, 1, tzinfo=UTC).timestamp()
    instants = [
        datetime.fromtimestamp(rng.uniform(start, 4_200_000_000), UTC).replace(tzinfo=None)
        for _ in range(3000)
    ]
    table = pa.table(
        {
            "word": pa.array(words, pa.string()),
            "words": pa.array([words[i : i + i % 4] for i in range(3000)], pa.list_(pa.string())),
            "bits": pa.array(bits, pa.float64()),
            "decimals": pa.array(decimals, pa.float64()),
            "local": pa.array(instants, pa.timestamp("us")),
            "zoned": pa.array(instants, pa.timestamp("us", tz="UTC")),
        }
    )
    assert duckdb_csv_bytes(table, tmp_path) == pandas_csv_bytes(table)


def test_csv_writer_edge_shapes_are_byte_identical(tmp_path):
    empty = every_type_table(0)
    assert duckdb_csv_bytes(empty, tmp_path) == pandas_csv_bytes(empty)
    assert pandas_csv_bytes(empty).count(b"\r\n") == 1  # the header alone
    # one column: Python's csv writes a lone empty field (NULL or "") as `""`
    single = pa.table({"name_th": pa.array(["ก", None, "", "ข,ค"])})
    assert duckdb_csv_bytes(single, tmp_path) == pandas_csv_bytes(single)
    assert b'\r\n""\r\n""\r\n' in pandas_csv_bytes(single)
    # a first header that needs quotes: the BOM comes before the quote
    names = pa.table({'a,"b"': pa.array([1, None]), "ชื่อ ภาษาไทย": pa.array(["x", None])})
    assert duckdb_csv_bytes(names, tmp_path) == pandas_csv_bytes(names)
    assert pandas_csv_bytes(names).startswith(b'\xef\xbb\xbf"a,""b"""')
    # more rows than one batch of the table reader
    many = every_type_table(release_module.CSV_BATCH_ROWS + 123)
    assert duckdb_csv_bytes(many, tmp_path) == pandas_csv_bytes(many)


@pytest.mark.parametrize(
    "column",
    [
        pa.array([{"x": 1.5}]),
        pa.array([1.5], pa.float32()),
        pa.array([datetime(2024, 1, 1)], pa.timestamp("ms")),
        pa.array([[1.5]], pa.list_(pa.float64())),
    ],
)
def test_csv_writer_refuses_a_type_it_cannot_format(tmp_path, column):
    table = pa.table({"id": [1], "odd": column})
    target = tmp_path / "odd.csv"
    with pytest.raises(TypeError, match="odd"):
        release_module.write_csv(table, target, "Asia/Bangkok")
    assert not target.exists()


def test_published_csv_of_every_mart_is_byte_identical_to_pandas(settings, prepared):
    release = publish_release(settings, prepared)
    for mart in prepared:
        published = (release.path / f"{mart.spec.name}.csv").read_bytes()
        assert published == pandas_csv_bytes(mart.path), mart.spec.name


def test_control_characters_never_reach_a_published_cell(settings, first_release):
    """NUL, ESC and U+202E (seeded into the demo complaints) are in the warehouse but in no CSV,
    Parquet or DuckDB cell of the release; names and plates are tokens there."""
    from city_pipeline.consume.privacy import CONTROL_PATTERN, CONTROL_RE2

    with duckdb.connect(str(settings.warehouse_path), read_only=True) as warehouse:
        original = warehouse.execute(
            "select string_agg(description || ' ' || address, ' ') from marts.fct_complaints"
        ).fetchall()[0][0]
    assert all(ch in original for ch in ("\x00", "\x1b", "\u202e"))
    release = settings.published_dir / "current"  # earlier tests may have pruned the first
    for path in release.glob("*.parquet"):
        table = pq.read_table(path)
        for name, column in zip(table.column_names, table.columns, strict=True):
            if pa.types.is_string(column.type):
                assert not pc.any(pc.match_substring_regex(column, CONTROL_RE2)).as_py(), name
    for path in release.glob("*.csv"):
        # CSV rows end in \r\n and cells may hold \n: the pattern leaves those alone
        assert not CONTROL_PATTERN.search(path.read_text(encoding="utf-8-sig")), path.name
    with duckdb.connect(str(release / DATABASE_NAME), read_only=True) as db:
        texts = db.execute(
            "select string_agg(description || ' ' || address, ' ') from fct_complaints"
        ).fetchall()[0][0]
    assert not CONTROL_PATTERN.search(texts)
    assert "[NAME]" in texts and "[PLATE]" in texts
