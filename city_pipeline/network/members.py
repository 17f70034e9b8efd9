"""Fetch each member's published release and verify every file against its `release.json`.

A member's release is its `published/current` folder, read from a local path or from an http(s)
base URL where the member serves that folder as static files (through the project's `requests`
session, `http.hub_session`). The hub reads `release.json`, then every file it lists, and checks
each file's size and sha256 against it. Verified copies go into the hub's own folder:

    <hub dir>/members/<slug>/<release-id>/     a verified copy (written to .incoming-*, renamed)
    <hub dir>/members/<slug>/last_good.json    which copy is the member's last good release

A tampered, partial, unreachable or non-release member is refused with a one-line error naming the
member and the file; it keeps its last good release, marked stale with the reason, and the other
members proceed. So does a release older than the network's `stale_after_days`. The hub only
reads from a member: nothing is ever written into the member's folders.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

import requests

from city_pipeline.http import hub_session
from city_pipeline.lake import write_bytes_atomic
from city_pipeline.network.config import Member, Network

MANIFEST = "release.json"
LAST_GOOD = "last_good.json"
INCOMING_PREFIX = ".incoming-"
CHUNK = 1 << 20

VERIFIED, STALE, MISSING = "verified", "stale", "missing"
# Marts a member release must carry for the network marts (network/marts.py); the Analyse tables
# `pm25_forecast` and `complaint_insights` are used when present.
REQUIRED_MARTS = ("mart_city_daily", "fct_complaints", "mart_population")


class MemberRefused(Exception):
    """A member release the hub will not use; the message is one line naming member and file."""


@dataclass(frozen=True)
class MemberRelease:
    """What the hub has for one member after a check: `folder` is the verified copy the network
    marts read (None when the member never had a good release)."""

    member: Member
    status: str  # verified | stale (last good kept, or too old) | missing (nothing good yet)
    reason: str | None
    folder: Path | None
    release_id: str | None
    created: str | None

    def line(self) -> str:
        release = f" release {self.release_id}" if self.release_id else ""
        reason = f": {self.reason}" if self.reason else ""
        return f"{self.member.slug}: {self.status}{release}{reason}"


# --- reading a member's files -----------------------------------------------------------------


class LocalRelease:
    """A member's release folder on this machine (its `current` symlink resolved once, so a
    member publishing meanwhile cannot mix two releases)."""

    def __init__(self, slug: str, folder: Path) -> None:
        self.slug, self.folder = slug, folder.resolve()

    def where(self, name: str) -> str:
        return str(self.folder / name)

    def chunks(self, name: str) -> Iterator[bytes]:
        path = self.folder / name
        try:
            handle = path.open("rb")
        except FileNotFoundError:
            raise MemberRefused(
                f"member {self.slug}: {path}: missing (listed in release.json)"
                if name != MANIFEST
                else f"member {self.slug}: {path}: no release here (no release.json)"
            ) from None
        except OSError as exc:
            raise MemberRefused(f"member {self.slug}: {path}: cannot read ({exc})") from None
        with handle:
            yield from iter(lambda: handle.read(CHUNK), b"")


class HttpRelease:
    """A member's release served as static files under a base URL."""

    def __init__(self, slug: str, base_url: str, session: requests.Session) -> None:
        self.slug, self.base_url, self.session = slug, base_url, session

    def where(self, name: str) -> str:
        return f"{self.base_url}/{name}"

    def chunks(self, name: str) -> Iterator[bytes]:
        url = self.where(name)
        try:
            response = self.session.get(url, stream=True)
        except requests.RequestException as exc:
            raise MemberRefused(f"member {self.slug}: {url}: unreachable ({_brief(exc)})") from None
        with response:
            if response.status_code != 200:
                what = "missing" if response.status_code == 404 else "refused"
                raise MemberRefused(
                    f"member {self.slug}: {url}: {what} (HTTP {response.status_code})"
                )
            kind = response.headers.get("content-type", "")
            if name == MANIFEST and "html" in kind:
                raise MemberRefused(
                    f"member {self.slug}: {url}: not a release (an HTML page, {kind}, "
                    "instead of release.json)"
                )
            try:
                yield from response.iter_content(CHUNK)
            except requests.RequestException as exc:
                raise MemberRefused(
                    f"member {self.slug}: {url}: transfer broke off ({_brief(exc)})"
                ) from None


def _brief(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:160]}"


def release_source(member: Member, network: Network) -> LocalRelease | HttpRelease:
    if isinstance(member.location, Path):
        return LocalRelease(member.slug, member.location)
    http = network.config.http
    session = hub_session(
        (http.timeout_connect_s, http.timeout_read_s), http.retries, http.backoff_factor_s
    )
    return HttpRelease(member.slug, member.location, session)


# --- verifying ------------------------------------------------------------------------------


def parse_manifest(slug: str, where: str, data: bytes) -> dict[str, Any]:
    """The member's release.json, checked to be a release manifest before any file is fetched."""
    try:
        manifest = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        start = data[:40].decode("utf-8", "replace").split()
        raise MemberRefused(
            f"member {slug}: {where}: not a release (not JSON; starts {' '.join(start)!r})"
        ) from None
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, dict) or not isinstance(manifest.get("release_id"), str):
        raise MemberRefused(f"member {slug}: {where}: not a release (no release_id and files)")
    for name, facts in files.items():
        parts = PurePosixPath(name).parts
        if name.startswith("/") or ".." in parts or not parts or name == MANIFEST:
            raise MemberRefused(f"member {slug}: {where}: lists an unsafe file name {name!r}")
        hash_text = facts.get("hash", "") if isinstance(facts, dict) else ""
        if not str(hash_text).startswith("sha256:") or not isinstance(facts.get("bytes"), int):
            raise MemberRefused(f"member {slug}: {where}: {name} has no sha256 hash and size")
    for mart in REQUIRED_MARTS:
        if f"{mart}.parquet" not in files:
            raise MemberRefused(f"member {slug}: {where}: not a city release (no {mart}.parquet)")
    release_id = manifest["release_id"]
    if not release_id or "/" in release_id or release_id.startswith("."):
        raise MemberRefused(f"member {slug}: {where}: unsafe release_id {release_id!r}")
    return manifest


def fetch_file(source: LocalRelease | HttpRelease, name: str, facts: dict, target: Path) -> None:
    """Copy one listed file to `target`, refusing it unless size and sha256 match release.json."""
    digest, size = hashlib.sha256(), 0
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as handle:
        for chunk in source.chunks(name):
            digest.update(chunk)
            size += len(chunk)
            handle.write(chunk)
    expected = facts["hash"].removeprefix("sha256:")
    if size != facts["bytes"] or digest.hexdigest() != expected:
        raise MemberRefused(
            f"member {source.slug}: {source.where(name)}: sha256 mismatch, not the file "
            f"release.json lists ({size:,} bytes sha256 {digest.hexdigest()[:12]}…, expected "
            f"{facts['bytes']:,} bytes {expected[:12]}…)"
        )


def verify_into(source: LocalRelease | HttpRelease, member_dir: Path) -> dict[str, Any]:
    """Fetch and verify the member's whole release into `member_dir/<release-id>/`, atomically:
    a refused release leaves nothing behind. Returns the manifest."""
    data = b"".join(source.chunks(MANIFEST))
    manifest = parse_manifest(source.slug, source.where(MANIFEST), data)
    member_dir.mkdir(parents=True, exist_ok=True)
    incoming = member_dir / f"{INCOMING_PREFIX}{secrets.token_hex(4)}"
    incoming.mkdir()
    try:
        for name, facts in sorted(manifest["files"].items()):
            fetch_file(source, name, facts, incoming / name)
        (incoming / MANIFEST).write_bytes(data)
        final = member_dir / manifest["release_id"]
        if final.exists():  # the same release verified again: the copy we have is identical
            shutil.rmtree(incoming)
        else:
            os.rename(incoming, final)
    except BaseException:
        shutil.rmtree(incoming, ignore_errors=True)
        raise
    return manifest


def last_good(member_dir: Path) -> dict[str, Any] | None:
    path = member_dir / LAST_GOOD
    if not path.exists():
        return None
    record = json.loads(path.read_text("utf-8"))
    return record if (member_dir / record["release_id"]).is_dir() else None


def remember_good(member_dir: Path, manifest: dict[str, Any], source: str, now: datetime) -> None:
    """Record the newly verified release as the last good one; drop older copies."""
    record = {
        "release_id": manifest["release_id"],
        "created": manifest.get("created"),
        "verified_at": now.isoformat(timespec="seconds"),
        "source": source,
    }
    write_bytes_atomic(member_dir / LAST_GOOD, json.dumps(record, indent=1).encode())
    for old in member_dir.iterdir():
        if old.is_dir() and old.name != manifest["release_id"]:
            shutil.rmtree(old, ignore_errors=True)


def age_problem(created: str | None, stale_after_days: int | None, now: datetime) -> str | None:
    """Why a release is too old for the network's freshness policy, or None."""
    if stale_after_days is None:
        return None
    if not created:
        return "release.json has no created time"
    made = datetime.fromisoformat(created)
    made = made if made.tzinfo else made.replace(tzinfo=UTC)
    age = (now - made).total_seconds() / 86400
    if age <= stale_after_days:
        return None
    return f"release created {created} is {age:.1f} days old (stale_after_days {stale_after_days})"


def check_member(network: Network, member: Member, now: datetime | None = None) -> MemberRelease:
    """Verify one member's newest release; on any refusal fall back to its last good one."""
    now = now or datetime.now(UTC)
    member_dir = network.members_dir() / member.slug
    source = release_source(member, network)
    try:
        manifest = verify_into(source, member_dir)
    except MemberRefused as exc:
        good = last_good(member_dir)
        if good is None:
            reason = f"{exc}; no earlier good release"
            return MemberRelease(member, MISSING, reason, None, None, None)
        return MemberRelease(
            member,
            STALE,
            f"{exc}; showing last good release {good['release_id']}",
            member_dir / good["release_id"],
            good["release_id"],
            good.get("created"),
        )
    remember_good(member_dir, manifest, source.where(MANIFEST), now)
    old = age_problem(manifest.get("created"), network.config.stale_after_days, now)
    return MemberRelease(
        member,
        STALE if old else VERIFIED,
        old,
        member_dir / manifest["release_id"],
        manifest["release_id"],
        manifest.get("created"),
    )


def check_members(network: Network, now: datetime | None = None) -> list[MemberRelease]:
    """Every member in the network's order; one member's failure never stops the others."""
    return [check_member(network, member, now) for member in network.members]
