"""The hub fetches each member's release and verifies every file's sha256 against release.json:
tampered, partial, unreachable and non-release members are refused naming member and file, keep
their last good release, and never stop the others. The hub never writes into a member's folder."""

import hashlib
import json
import re
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from network_members import copy_members, network_yaml
from werkzeug import Request, Response

from city_pipeline.network.config import load_network
from city_pipeline.network.members import MISSING, STALE, VERIFIED, check_member, check_members


@pytest.fixture
def data_dir(network_members, tmp_path) -> Path:
    return copy_members(network_members, tmp_path / "data")


def local_network(data_dir: Path, **extra):
    slugs = ("khon_kaen", "chiang_mai")
    members = {slug: f"{{data_dir}}/{slug}/published/current" for slug in slugs}
    return load_network(network_yaml(data_dir, members, **extra), data_dir)


def sha256(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under a member's folder with its size and modification time."""
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def test_verified_copy_holds_every_listed_file_and_member_is_untouched(data_dir):
    network = local_network(data_dir)
    member_dir = data_dir / "khon_kaen" / "published"
    before = snapshot(member_dir)
    results = check_members(network)
    assert [r.status for r in results] == [VERIFIED, VERIFIED]
    khon_kaen = results[0]
    manifest = json.loads((member_dir / "current" / "release.json").read_text("utf-8"))
    assert khon_kaen.release_id == manifest["release_id"]
    assert khon_kaen.folder == network.members_dir() / "khon_kaen" / manifest["release_id"]
    assert len(manifest["files"]) > 20
    for name, facts in manifest["files"].items():
        assert sha256(khon_kaen.folder / name) == facts["hash"], name
    assert snapshot(member_dir) == before  # read only, never written


def test_tampered_file_is_refused_naming_member_and_file_and_last_good_is_kept(data_dir):
    network = local_network(data_dir)
    first = check_member(network, network.members[0])
    assert first.status == VERIFIED
    flip_a_byte(data_dir / "khon_kaen" / "published" / "current" / "mart_city_daily.parquet")

    again = check_member(network, network.members[0])
    assert again.status == STALE
    assert again.reason.startswith("member khon_kaen: ")
    assert "mart_city_daily.parquet: sha256 mismatch" in again.reason
    assert "\n" not in again.reason
    assert again.folder == first.folder and again.release_id == first.release_id
    kept = json.loads((first.folder / "release.json").read_text("utf-8"))["files"]
    name = "mart_city_daily.parquet"
    assert sha256(first.folder / name) == kept[name]["hash"]
    assert not list(first.folder.parent.glob(".incoming-*"))  # the refused copy left nothing


def test_partial_release_is_refused_and_other_members_proceed(data_dir):
    (data_dir / "chiang_mai" / "published" / "current" / "fct_complaints.csv").unlink()
    khon_kaen, chiang_mai = check_members(local_network(data_dir))
    assert khon_kaen.status == VERIFIED
    assert chiang_mai.status == MISSING and chiang_mai.folder is None
    assert re.match(r"member chiang_mai: .*/fct_complaints\.csv: missing", chiang_mai.reason)
    copies = data_dir / "network" / "members" / "chiang_mai"
    assert not [p for p in copies.iterdir() if p.is_dir()]


def test_release_older_than_the_policy_is_marked_stale_but_used(data_dir):
    network = local_network(data_dir, stale_after_days=2)
    manifest = json.loads(
        (data_dir / "khon_kaen" / "published" / "current" / "release.json").read_text("utf-8")
    )
    created = datetime.fromisoformat(manifest["created"])
    fresh = check_member(network, network.members[0], now=created + timedelta(days=1))
    assert fresh.status == VERIFIED and fresh.reason is None
    old = check_member(network, network.members[0], now=created + timedelta(days=3))
    assert old.status == STALE and old.folder is not None
    assert "3.0 days old (stale_after_days 2)" in old.reason


# --- over HTTP, through the real requests session (pytest-httpserver) ----------------------


def serve_folder(httpserver, folder: Path, prefix: str, tamper: str | None = None) -> str:
    """Serve a member's `current` folder as static files under `prefix`; `tamper` names a file
    served with one byte flipped."""

    def handler(request: Request) -> Response:
        name = request.path.removeprefix(prefix + "/")
        path = folder / name
        if not path.is_file():
            return Response("not found", status=404)
        data = bytearray(path.read_bytes())
        if name == tamper:
            data[0] ^= 0x01
        kind = "application/json" if name.endswith(".json") else "application/octet-stream"
        return Response(bytes(data), content_type=kind)

    httpserver.expect_request(re.compile(f"^{prefix}/.*")).respond_with_handler(handler)
    return httpserver.url_for(prefix)


def http_network(data_dir: Path, url: str):
    fast = {"retries": 0, "timeout_connect_s": 2, "timeout_read_s": 5}
    return load_network(network_yaml(data_dir, {"khon_kaen": url}, http=fast), data_dir)


def test_member_served_over_http_is_verified(httpserver, data_dir):
    current = data_dir / "khon_kaen" / "published" / "current"
    url = serve_folder(httpserver, current, "/kk/published/current")
    network = http_network(data_dir, url)
    (result,) = check_members(network)
    assert result.status == VERIFIED, result.reason
    names = json.loads((current / "release.json").read_text("utf-8"))["files"]
    assert {str(p.relative_to(result.folder)) for p in result.folder.rglob("*") if p.is_file()} == {
        *names,
        "release.json",
    }
    requested = {entry[0].path for entry in httpserver.log}
    assert f"/kk/published/current/{next(iter(names))}" in requested


def test_tampered_file_over_http_is_refused_naming_the_url(httpserver, data_dir):
    current = data_dir / "khon_kaen" / "published" / "current"
    url = serve_folder(httpserver, current, "/kk", tamper="fct_complaints.parquet")
    (result,) = check_members(http_network(data_dir, url))
    assert result.status == MISSING
    expected = f"member khon_kaen: {url}/fct_complaints.parquet: sha256 mismatch"
    assert result.reason.startswith(expected)


def test_html_page_instead_of_a_release_is_refused(httpserver, data_dir):
    httpserver.expect_request("/portal/release.json").respond_with_data(
        "<!DOCTYPE html><html><body>Welcome to the city portal</body></html>",
        content_type="text/html; charset=utf-8",
    )
    (result,) = check_members(http_network(data_dir, httpserver.url_for("/portal")))
    assert result.status == MISSING
    url = httpserver.url_for("/portal")
    assert result.reason.startswith(
        f"member khon_kaen: {url}/release.json: not a release (an HTML page"
    )


def test_json_that_is_not_a_release_is_refused(httpserver, data_dir):
    httpserver.expect_request("/odd/release.json").respond_with_json({"hello": "world"})
    (result,) = check_members(http_network(data_dir, httpserver.url_for("/odd")))
    assert "release.json: not a release (no release_id and files)" in result.reason


def test_unreachable_member_is_refused_and_keeps_its_last_good_release(httpserver, data_dir):
    current = data_dir / "khon_kaen" / "published" / "current"
    url = serve_folder(httpserver, current, "/kk")
    (good,) = check_members(http_network(data_dir, url))
    assert good.status == VERIFIED
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    down = f"http://127.0.0.1:{port}/kk"
    (result,) = check_members(http_network(data_dir, down), now=datetime.now(UTC))
    assert result.status == STALE
    assert result.reason.startswith(f"member khon_kaen: {down}/release.json: unreachable (")
    assert f"showing last good release {good.release_id}" in result.reason
    assert result.folder == good.folder and result.folder.is_dir()
