"""What `city-pipeline status` needs to know about the assets, without building the definitions.

Building the Dagster definitions imports dagster-dbt and dbt and loads the dbt manifest: most of
the 20+ s `status` used to take. The asset keys, groups, freshness rules (read back from each
asset's Dagster freshness policy), partitioning, check keys and scheduled jobs change only when
the code, the dbt manifest or the settings change, so they are kept
in `<data dir>/.cache/status_catalog.json` under a fingerprint of exactly those; `status` reads
the file when the fingerprint matches and rebuilds it (slowly, once) when it does not.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from city_pipeline.defs.naming import ONE_CITY, CityNames
from city_pipeline.freshness import FreshnessRule
from city_pipeline.settings import PACKAGE_DIR, PROJECT_ROOT, Settings

if TYPE_CHECKING:
    import dagster as dg

MANIFEST = PROJECT_ROOT / "dbt_project" / "target" / "manifest.json"


@dataclass(frozen=True)
class CatalogAsset:
    key: str  # user string, e.g. "raw/open_meteo_daily"
    group: str
    partitioned: bool
    freshness: FreshnessRule | None  # what the asset's Dagster freshness policy applies

    def to_json(self) -> dict[str, object]:
        rule = self.freshness
        return {
            **self.__dict__,
            "freshness": None
            if rule is None
            else {
                "warn_after_s": rule.warn_after.total_seconds(),
                "fail_after_s": rule.fail_after.total_seconds(),
            },
        }

    @classmethod
    def from_json(cls, data: dict) -> CatalogAsset:
        rule = data.pop("freshness")
        if rule is not None:
            rule = FreshnessRule(
                timedelta(seconds=rule["warn_after_s"]), timedelta(seconds=rule["fail_after_s"])
            )
        return cls(**data, freshness=rule)


@dataclass(frozen=True)
class AssetCatalog:
    assets: tuple[CatalogAsset, ...]
    checks: tuple[tuple[str, str], ...]  # (asset key, check name)
    jobs: tuple[str, ...]  # the scheduled jobs whose last run `status` shows

    @classmethod
    def from_definitions(cls, defs: dg.Definitions, names: CityNames = ONE_CITY) -> AssetCatalog:
        from city_pipeline.defs.jobs import MONTHLY_JOB, NIGHTLY_JOB
        from city_pipeline.defs.policies import rule_of

        graph = defs.resolve_asset_graph()
        assets = []
        for key in sorted(graph.materializable_asset_keys, key=lambda k: k.to_user_string()):
            node = graph.get(key)
            assets.append(
                CatalogAsset(
                    key=key.to_user_string(),
                    group=node.group_name or "default",
                    partitioned=node.partitions_def is not None,
                    freshness=rule_of(node.freshness_policy),
                )
            )
        checks = sorted((k.asset_key.to_user_string(), k.name) for k in graph.asset_check_keys)
        return cls(tuple(assets), tuple(checks), (names.name(NIGHTLY_JOB), names.name(MONTHLY_JOB)))

    def to_json(self, fingerprint: str) -> str:
        return json.dumps(
            {
                "fingerprint": fingerprint,
                "assets": [a.to_json() for a in self.assets],
                "checks": [list(c) for c in self.checks],
                "jobs": list(self.jobs),
            },
            ensure_ascii=False,
            indent=1,
        )

    @classmethod
    def from_json(cls, text: str) -> tuple[str, AssetCatalog]:
        data = json.loads(text)
        assets = tuple(CatalogAsset.from_json(a) for a in data["assets"])
        checks = tuple(tuple(c) for c in data["checks"])
        return data["fingerprint"], cls(assets, checks, tuple(data["jobs"]))


def catalog_path(settings: Settings) -> Path:
    return settings.data_dir / ".cache" / "status_catalog.json"


def fingerprint(settings: Settings) -> str:
    """Changes whenever the definitions could: any Python file of the package, the dbt manifest,
    the settings (city YAML content, source mode, directories)."""
    digest = hashlib.sha256(settings.model_dump_json().encode())
    files = sorted(PACKAGE_DIR.rglob("*.py")) + sorted(PACKAGE_DIR.rglob("*.yaml")) + [MANIFEST]
    for path in files:
        stat = path.stat() if path.exists() else None
        facts = f"{path}:{stat.st_mtime_ns}:{stat.st_size}" if stat else f"{path}:missing"
        digest.update(facts.encode())
    return digest.hexdigest()


def save_catalog(settings: Settings, defs: dg.Definitions) -> AssetCatalog:
    catalog = AssetCatalog.from_definitions(defs, CityNames.of(settings))
    path = catalog_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written aside and renamed (not lake.write_bytes_atomic: that import pulls in pyarrow).
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(catalog.to_json(fingerprint(settings)), encoding="utf-8")
    os.replace(temporary, path)
    return catalog


def load_catalog(settings: Settings) -> AssetCatalog:
    """The cached catalog when it still describes the code and settings, else a fresh one."""
    path = catalog_path(settings)
    if path.exists():
        try:
            stored, catalog = AssetCatalog.from_json(path.read_text("utf-8"))
        except (ValueError, KeyError, TypeError):
            stored, catalog = "", None
        if catalog is not None and stored == fingerprint(settings):
            return catalog
    from city_pipeline.defs.build import build_definitions

    return save_catalog(settings, build_definitions(settings))
