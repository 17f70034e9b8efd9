"""Publish the network marts as a network release, with a city release's guarantees.

    <hub dir>/published/
      current -> releases/<release-id>
      releases/<release-id>/
        network_city_daily.parquet/.csv, network_city_summary.parquet/.csv
        network_marts.duckdb     both marts as tables, with column COMMENTs
        datapackage.json         Frictionless Data Package (TH/EN data dictionary)
        report/index.html        the network report (network/report.py)
        validation/results.json  the GX outcome of each mart
        release.json             members' status, row counts, sha256 of every file

The atomic part is the city release's own (`consume.release.publish_folder`: staging folder,
rename, symlink switch, publish lock), and so are the CSV, database and data package writers.
Both marts are validated with their GX suites first; a failed validation raises before anything
is written, so `current` keeps the previous network release.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from city_pipeline.consume.datapackage import LICENSE, database_resource, mart_resources
from city_pipeline.consume.release import (
    DEFAULT_KEEP_RELEASES,
    MartFile,
    PreparedMart,
    ValidationFailedError,
    new_scratch_file,
    publish_folder,
    write_csv,
    write_database,
    write_scrubbed,
)
from city_pipeline.consume.validation import validate_parquet
from city_pipeline.network.catalog import NETWORK_MARTS, network_window
from city_pipeline.network.config import Network
from city_pipeline.network.members import MemberRelease

DATABASE_NAME = "network_marts.duckdb"
TIMEZONE = "Asia/Bangkok"


@dataclass(frozen=True)
class NetworkRelease:
    release_id: str
    path: Path
    current: Path
    rows: dict[str, int]

    @property
    def report(self) -> Path:
        return self.path / "report" / "index.html"


def prepare_network_marts(network: Network, marts: dict[str, pa.Table]) -> list[PreparedMart]:
    """Each network mart written to a scratch Parquet file and validated with its GX suite."""
    window = network_window(marts["network_city_daily"])
    prepared = []
    for spec in NETWORK_MARTS:
        table = marts[spec.name]
        scratch: MartFile = new_scratch_file(network.published_dir, spec.name)
        reader = pa.RecordBatchReader.from_batches(table.schema, table.to_batches())
        write_scrubbed(reader, scratch.path, list(spec.free_text_columns))
        prepared.append(PreparedMart(spec, scratch, validate_parquet(spec, scratch.path, window)))
    return prepared


def member_facts(releases: Sequence[MemberRelease]) -> dict[str, dict[str, Any]]:
    return {
        r.member.slug: {
            "name_th": r.member.name_th,
            "name_en": r.member.name_en,
            "status": r.status,
            "reason": r.reason,
            "release_id": r.release_id,
            "release_created": r.created,
            "source": str(r.member.location),
        }
        for r in releases
    }


def datapackage(
    network: Network, marts: list[PreparedMart], staging: Path, release_id: str, created: str
) -> dict[str, Any]:
    config = network.config
    resources = [r for m in marts for r in mart_resources(m.spec, m.schema, staging)]
    resources.append(database_resource(staging, DATABASE_NAME, "network-marts-duckdb"))
    sources = {(s.title, s.path) for m in marts for s in m.spec.sources}
    return {
        "name": "network-marts",
        "title": f"{config.name_th} · {config.name}: network data marts",
        "title_en": f"{config.name}: network data marts",
        "title_th": f"ข้อมูลเครือข่าย {config.name_th}",
        "description": (
            f"The member cities of {config.name} side by side: air quality, complaints and "
            "their handling, from each member's checksum-verified release.\n\n"
            f"ข้อมูลเปรียบเทียบเมืองสมาชิกของ{config.name_th}: คุณภาพอากาศ เรื่องร้องเรียนและการแก้ไข "
            "จากข้อมูลที่เผยแพร่ของแต่ละเมืองซึ่งตรวจสอบ sha256 แล้ว"
        ),
        "version": release_id,
        "created": created,
        "keywords": ["smart city", "open data", "Thailand", "network", config.name],
        "licenses": [LICENSE],
        "sources": [{"title": t, "path": p} for t, p in sorted(sources)],
        "contributors": [{"title": m.name_en, "role": "contributor"} for m in network.members],
        "resources": resources,
    }


def publish_network_release(
    network: Network,
    releases: Sequence[MemberRelease],
    marts: dict[str, pa.Table],
    keep: int = DEFAULT_KEEP_RELEASES,
    now: datetime | None = None,
) -> NetworkRelease:
    """Validate the network marts, then publish them atomically; raises ValidationFailedError
    (nothing written, `current` unchanged) when a suite fails."""
    from city_pipeline.network.report import render_network_report

    prepared = prepare_network_marts(network, marts)
    failed = [m.validation for m in prepared if not m.validation.success]
    if failed:
        raise ValidationFailedError(failed)
    members = member_facts(releases)

    def write(staging: Path, release_id: str, created: str) -> dict[str, Any]:
        for mart in prepared:
            name = mart.spec.name
            (staging / f"{name}.parquet").write_bytes(mart.path.read_bytes())
            write_csv(mart.path, staging / f"{name}.csv", TIMEZONE)
        write_database(prepared, staging / DATABASE_NAME, release_id)
        package = datapackage(network, prepared, staging, release_id, created)
        (staging / "datapackage.json").write_text(
            json.dumps(package, ensure_ascii=False, indent=2), encoding="utf-8"
        )
        (staging / "report").mkdir()
        html = render_network_report(network, marts, members, release_id, created)
        (staging / "report" / "index.html").write_text(html, encoding="utf-8")
        (staging / "validation").mkdir()
        (staging / "validation" / "results.json").write_text(
            json.dumps([m.validation.to_dict() for m in prepared], ensure_ascii=False, indent=1),
            encoding="utf-8",
        )
        return {
            "release_id": release_id,
            "created": created,
            "network": {"name": network.config.name, "name_th": network.config.name_th},
            "members": members,
            "rows": {m.spec.name: m.rows for m in prepared},
            "validations": {m.spec.name: m.validation.summary_line() for m in prepared},
        }

    published = publish_folder(network.published_dir, write, keep, now)
    return NetworkRelease(
        published.release_id, published.path, published.current, published.manifest["rows"]
    )
