"""Check the whole landing zone against its sidecars (`city-pipeline verify`).

Landed bytes are the only source raw is rebuilt from, so a file edited, truncated or lost after
landing must be found before a rebuild uses it. Every landed file's size and sha256 are compared
with its sidecar, every sidecar must have its file, every batch marker's files must exist.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from city_pipeline.lake import (
    BATCH_MARKER_SUFFIX,
    SIDECAR_SUFFIX,
    Damage,
    LandingDamaged,
    bytes_damage,
    read_json,
    sidecar_path,
)


@dataclass
class VerifyReport:
    """What a scan examined and every damaged file it found."""

    checked: int = 0
    damaged: list[Damage] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.damaged

    def as_dict(self) -> dict[str, Any]:
        return {"checked": self.checked, "damaged": [d.as_dict() for d in self.damaged]}


def landing_files(landing: Path) -> list[Path]:
    """Every file of the landing zone, without the temp files of writes in progress."""
    return sorted(p for p in landing.rglob("*") if p.is_file() and not p.name.startswith("."))


def check_sidecar(sidecar: Path) -> Damage | None:
    try:
        meta = read_json(sidecar)
        data_file = sidecar.with_name(meta["file"])
        sha256, size = str(meta["sha256"]), int(meta["bytes"])
    except LandingDamaged as exc:
        return Damage(sidecar, "unparsable sidecar", "valid JSON", exc.damage[0].actual)
    except (KeyError, TypeError, ValueError) as exc:
        return Damage(sidecar, "unparsable sidecar", "file, sha256 and bytes", repr(exc))
    if not data_file.exists():
        return Damage(data_file, "sidecar without file", "a landed file", "none")
    return bytes_damage(data_file, sha256, size)


def check_marker(marker: Path) -> list[Damage]:
    try:
        listed = read_json(marker)["files"]
        names = [str(name) for name in listed]
    except LandingDamaged as exc:
        return [Damage(marker, "unparsable batch marker", "valid JSON", exc.damage[0].actual)]
    except (KeyError, TypeError) as exc:
        return [Damage(marker, "unparsable batch marker", "a 'files' list", repr(exc))]
    return [
        Damage(
            marker.with_name(name), "batch lists missing file", f"listed in {marker.name}", "none"
        )
        for name in names
        if not marker.with_name(name).exists()
    ]


def verify_landing(lake_dir: Path) -> VerifyReport:
    """Scan `lake_dir/landing` and report every damaged file (hashing each landed file once)."""
    report = VerifyReport()
    for path in landing_files(lake_dir / "landing"):
        report.checked += 1
        if path.name.endswith(BATCH_MARKER_SUFFIX):
            report.damaged.extend(check_marker(path))
        elif path.name.endswith(SIDECAR_SUFFIX):
            damage = check_sidecar(path)
            if damage is not None:
                report.damaged.append(damage)
        elif not sidecar_path(path).exists():
            report.damaged.append(Damage(path, "missing sidecar", sidecar_path(path).name, "none"))
    return report


def render(report: VerifyReport, lake_dir: Path) -> str:
    """Human-readable lines: one per damaged file, then a summary."""
    lines = [f"DAMAGED {d.describe()}" for d in report.damaged]
    verdict = "clean" if report.clean else f"{len(report.damaged)} damaged"
    lines.append(f"verified {report.checked} files in {lake_dir / 'landing'}: {verdict}")
    return "\n".join(lines)
