"""The network YAML: which member cities a hub compares, and where each publishes its release.

    name: Thai cities network
    name_th: เครือข่ายเมืองไทย
    stale_after_days: 3            # optional: a member release older than this is marked stale
    members:
      - slug: khon_kaen
        release: "{data_dir}/khon_kaen/published/current"    # a local folder ...
      - slug: hat_yai
        release: https://data.hatyai.go.th/published/current  # ... or an http(s) base URL

`release` is a member's `published/current` folder: a local path (`{data_dir}` is replaced by the
deployment's data dir; a relative path is relative to it) or the base URL where the member serves
that folder as static files. A member's Thai and English names come from the shipped city YAML of
its slug unless the member gives `name_th`/`name_en`. Errors name the file and the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import Field, ValidationError, field_validator

from city_pipeline.settings import CITIES_DIR, ConfigError, Strict, cities_dir, load_city_config

DATA_DIR_PLACEHOLDER = "{data_dir}"


class HubHttp(Strict):
    """How the hub reaches members served over HTTP(S)."""

    timeout_connect_s: float = Field(default=5.0, gt=0)
    timeout_read_s: float = Field(default=60.0, gt=0)
    retries: int = Field(default=3, ge=0, le=20)
    backoff_factor_s: float = Field(default=1.0, ge=0)


class NetworkMember(Strict):
    slug: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    release: str = Field(min_length=1)
    name_th: str | None = None
    name_en: str | None = None


class NetworkConfig(Strict):
    name: str = Field(min_length=1)
    name_th: str = Field(min_length=1)
    members: list[NetworkMember] = Field(min_length=1)
    stale_after_days: int | None = Field(default=None, gt=0)
    http: HubHttp = HubHttp()

    @field_validator("members")
    @classmethod
    def _unique_slugs(cls, members: list[NetworkMember]) -> list[NetworkMember]:
        slugs = [m.slug for m in members]
        repeated = sorted({s for s in slugs if slugs.count(s) > 1})
        if repeated:
            raise ValueError(f"slug {', '.join(repeated)} listed more than once")
        return members


@dataclass(frozen=True)
class Member:
    """A member as the hub uses it: names resolved, `location` a Path or an http(s) base URL."""

    slug: str
    name_th: str
    name_en: str
    location: Path | str

    @property
    def is_remote(self) -> bool:
        return isinstance(self.location, str)


@dataclass(frozen=True)
class Network:
    config_file: Path
    config: NetworkConfig
    data_dir: Path
    members: tuple[Member, ...]

    @property
    def hub_dir(self) -> Path:
        """The hub's own folder: verified member copies and the network release."""
        return self.data_dir / "network"

    @property
    def published_dir(self) -> Path:
        return self.hub_dir / "published"

    def members_dir(self) -> Path:
        return self.hub_dir / "members"


def resolve_location(release: str, data_dir: Path) -> Path | str:
    if release.startswith(("http://", "https://")):
        return release.rstrip("/")
    path = Path(release.replace(DATA_DIR_PLACEHOLDER, str(data_dir)))
    return path if path.is_absolute() else data_dir / path


def _member_names(path: Path, index: int, member: NetworkMember) -> tuple[str, str]:
    if member.name_th and member.name_en:
        return member.name_th, member.name_en
    # The deployment's city YAML, else the shipped one.
    candidates = [folder / f"{member.slug}.yaml" for folder in (cities_dir(), CITIES_DIR)]
    city_file = next((file for file in candidates if file.exists()), None)
    if city_file is None:
        raise ConfigError(
            f"invalid network config {path}: members.{index}.name_en: required (with name_th) "
            f"for {member.slug!r}, which has no city YAML to take names from"
        )
    city = load_city_config(city_file, env={}).city
    return member.name_th or city.name_th, member.name_en or city.name_en


def load_network(path: Path, data_dir: Path) -> Network:
    """Read and validate a network YAML; every problem is one line naming the file and field."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"network config {path} does not exist") from None
    except IsADirectoryError:
        raise ConfigError(f"network config {path} is a folder, not a YAML file") from None
    except yaml.YAMLError as exc:
        detail = " ".join(str(exc).split())
        raise ConfigError(f"network config {path} is not valid YAML: {detail}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"network config {path} must be a mapping at the top level")
    try:
        config = NetworkConfig.model_validate(raw)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in e['loc']) or '<top level>'}: {e['msg']}"
            for e in exc.errors()
        ]
        raise ConfigError(f"invalid network config {path}: " + "; ".join(problems)) from None
    data_dir = data_dir.resolve()
    members = tuple(
        Member(m.slug, *_member_names(path, i, m), resolve_location(m.release, data_dir))
        for i, m in enumerate(config.members)
    )
    return Network(path.resolve(), config, data_dir, members)
