"""The network release: validated, checksummed, atomic, with a data dictionary and a TH/EN report;
and `city-pipeline network publish`'s output and one-line errors."""

import hashlib
import json
import os
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from network_members import copy_members, network_yaml

from city_pipeline import cli
from city_pipeline.consume.release import ValidationFailedError, current_release
from city_pipeline.network import release as network_release
from city_pipeline.network.config import load_network
from city_pipeline.network.hub import publish_network
from city_pipeline.network.marts import build_network_marts

MEMBERS = {s: f"{{data_dir}}/{s}/published/current" for s in ("khon_kaen", "chiang_mai")}


@pytest.fixture(scope="module")
def published(network_members, tmp_path_factory):
    """A network whose Chiang Mai member is partial (a file missing): refused, no good release."""
    data_dir = copy_members(network_members, tmp_path_factory.mktemp("release") / "data")
    (data_dir / "chiang_mai" / "published" / "current" / "mart_population.csv").unlink()
    network = load_network(network_yaml(data_dir, MEMBERS), data_dir)
    return network, publish_network(network)


def snapshot(published_dir: Path) -> tuple[str, dict[str, bytes]]:
    current = published_dir / "current"
    files = {str(p.relative_to(current)): p.read_bytes() for p in current.rglob("*") if p.is_file()}
    return os.readlink(current), files


def test_release_lists_every_file_with_its_sha256(published):
    network, run = published
    assert current_release(network.published_dir) == run.release.path
    manifest = json.loads((run.release.path / "release.json").read_text("utf-8"))
    on_disk = {
        str(p.relative_to(run.release.path))
        for p in run.release.path.rglob("*")
        if p.is_file() and p.name != "release.json"
    }
    assert set(manifest["files"]) == on_disk
    for name, facts in manifest["files"].items():
        digest = hashlib.sha256((run.release.path / name).read_bytes()).hexdigest()
        assert facts["hash"] == f"sha256:{digest}", name
    assert manifest["rows"] == {"network_city_daily": 10, "network_city_summary": 2}
    assert manifest["members"]["khon_kaen"]["status"] == "verified"
    assert manifest["members"]["chiang_mai"]["status"] == "missing"
    assert "mart_population.csv: missing" in manifest["members"]["chiang_mai"]["reason"]
    assert all("passed" in line for line in manifest["validations"].values())


def test_data_dictionary_describes_every_column(published):
    _, run = published
    package = json.loads((run.release.path / "datapackage.json").read_text("utf-8"))
    csv = {r["name"]: r for r in package["resources"] if r.get("format") == "csv"}
    assert set(csv) == {"network-city-daily", "network-city-summary"}
    for resource in csv.values():
        fields = resource["schema"]["fields"]
        assert fields and all(f.get("description") for f in fields), resource["name"]
    database = run.release.path / network_release.DATABASE_NAME
    with duckdb.connect(str(database), read_only=True) as db:
        comment = db.execute(
            "select comment from duckdb_columns() where table_name = 'network_city_summary' "
            "and column_name = 'rank_cleanest_air'"
        ).fetchall()
    assert "lowest first" in comment[0][0]


def test_report_compares_cities_and_marks_the_missing_member(published):
    _, run = published
    html = run.release.report.read_text("utf-8")
    assert "Cleanest air: ranked by mean PM2.5 over each city" in html
    assert "อันดับอากาศสะอาด" in html
    assert 'id="stale-members"' in html and "banner bad" in html
    assert 'data-city="chiang_mai"' in html and "mart_population.csv: missing" in html
    assert "เทศบาลนครขอนแก่น · Khon Kaen City Municipality" in html
    assert html.count('class="mark ') > 10  # lines and bars were drawn


def test_failed_validation_never_replaces_the_current_release(published):
    network, run = published
    before = snapshot(network.published_dir)
    marts = build_network_marts(run.members)
    daily = marts["network_city_daily"]
    index = daily.schema.get_field_index("pm25_city_mean")
    marts["network_city_daily"] = daily.set_column(
        index, "pm25_city_mean", pc.multiply(daily.column(index), pa.scalar(-1.0))
    )
    with pytest.raises(ValidationFailedError, match="network_city_daily: FAILED"):
        network_release.publish_network_release(network, run.members, marts)
    assert snapshot(network.published_dir) == before


def test_crash_mid_publish_leaves_current_as_it_was(published, monkeypatch):
    network, run = published
    before = snapshot(network.published_dir)

    def explode(*args, **kwargs):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(network_release, "write_database", explode)
    with pytest.raises(OSError, match="disk full"):
        network_release.publish_network_release(
            network, run.members, build_network_marts(run.members)
        )
    assert snapshot(network.published_dir) == before
    assert not list((network.published_dir / "releases").glob(".staging-*"))


def test_cli_publishes_and_prints_each_member(network_members, tmp_path, capsys):
    data_dir = copy_members(network_members, tmp_path / "data")
    members = {**MEMBERS, "betong": "{data_dir}/betong/published/current"}
    path = network_yaml(tmp_path, members)
    code = cli.main(["network", "publish", "--network", str(path), "--data-dir", str(data_dir)])
    out = capsys.readouterr().out
    assert code == 0
    lines = out.splitlines()
    assert any(line.split()[:2] == ["khon_kaen", "verified"] for line in lines)
    (betong,) = [line for line in lines if line.strip().startswith("betong")]
    assert "missing no release: member betong: " in " ".join(betong.split())
    assert "published network release " in out
    assert (data_dir / "network" / "published" / "current" / "report" / "index.html").exists()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "name: n\nname_th: ท\nmembers:\n  - {slug: khon_kaen, release: a}\n"
            "  - {slug: khon_kaen, release: b}\n",
            "members: Value error, slug khon_kaen listed more than once",
        ),
        ("name: n\nname_th: ท\n", "members: Field required"),
        ("name: n\nname_th: ท\nmembers: [{slug: Bad-Slug, release: a}]\n", "members.0.slug"),
        (
            "name: n\nname_th: ท\nmembers: [{slug: atlantis, release: a}]\n",
            "members.0.name_en: required (with name_th) for 'atlantis'",
        ),
        ("name: [unclosed\n", "is not valid YAML"),
        ("- just\n- a list\n", "must be a mapping at the top level"),
    ],
)
def test_cli_bad_network_yaml_is_one_line(tmp_path, capsys, text, expected):
    path = tmp_path / "network.yaml"
    path.write_text(text, encoding="utf-8")
    code = cli.main(["network", "publish", "--network", str(path), "--data-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert err.startswith("city-pipeline: ") and str(path) in err
    assert expected in err


def test_cli_missing_network_file(tmp_path, capsys):
    missing = tmp_path / "nowhere.yaml"
    assert cli.main(["network", "publish", "--network", str(missing)]) == 2
    expected = f"city-pipeline: network config {missing} does not exist"
    assert capsys.readouterr().err.strip() == expected


def test_shipped_network_lists_the_shipped_cities(tmp_path):
    from city_pipeline.settings import PACKAGE_DIR

    network = load_network(PACKAGE_DIR / "networks" / "thai_cities.yaml", tmp_path)
    slugs = [m.slug for m in network.members]
    assert slugs == ["khon_kaen", "chiang_mai", "hat_yai", "betong", "thung_sadao"]
    assert network.members[0].location == tmp_path / "khon_kaen" / "published" / "current"
    assert network.members[3].name_th == "เทศบาลเมืองเบตง"
