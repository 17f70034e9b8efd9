"""The published release: complete, private, atomic, and readable by analysts and Excel."""

import dataclasses
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
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
