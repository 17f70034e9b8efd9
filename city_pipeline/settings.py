"""City configuration (one YAML per city) plus environment overrides, validated at load.

A Thai city runs this platform by pointing ``CITY_PIPELINE_CONFIG`` at its own YAML; nothing in the
code names Khon Kaen. Errors name the YAML file and the offending key so a city's IT officer can fix
the file without reading Python.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Annotated, Literal, get_args

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from city_pipeline import reference
from city_pipeline.synth_settings import RecordingSettings

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = PACKAGE_DIR.parent
CITIES_DIR = PACKAGE_DIR / "cities"
DEFAULT_CITY_FILE = CITIES_DIR / "khon_kaen.yaml"
RECORDINGS_DIR = PROJECT_ROOT / "data" / "recordings"

ENV_PREFIX = "CITY_PIPELINE_"
# A folder of city YAMLs: the deployment runs every city in it (docs/scaling.md).
CITIES_DIR_ENV = f"{ENV_PREFIX}CITIES_DIR"
NETWORK_ENV = f"{ENV_PREFIX}NETWORK"  # a network YAML: the deployment also runs the hub


class ConfigError(ValueError):
    """A city configuration that cannot be used; the message names the file and the key."""


class SourceMode(StrEnum):
    REPLAY = "replay"  # serve bundled recordings through the requests adapter (default, offline)
    LIVE = "live"  # call the real APIs
    RECORD = "record"  # call the real APIs and save what they answer as new recordings


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


DopaCode = Annotated[str, Field(pattern=r"^\d{2}(\d{2}(\d{2})?)?$")]

# Thai local government (LAO, องค์กรปกครองส่วนท้องถิ่น) levels: special (กรุงเทพมหานคร, เมืองพัทยา),
# provincial (อบจ.), city / town / subdistrict municipality (เทศบาลนคร / เมือง / ตำบล) and
# subdistrict administrative organisation (อบต.).
LaoLevel = Literal[
    "special_administration",
    "provincial_administration",
    "city_municipality",
    "town_municipality",
    "subdistrict_municipality",
    "subdistrict_administration",
]


class Centre(Strict):
    lat: float = Field(ge=5.0, le=21.0)  # Thailand's latitude span
    lon: float = Field(ge=97.0, le=106.0)


class CityIdentity(Strict):
    slug: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name_th: str
    name_en: str
    lao_level: LaoLevel | None = None
    province_code: DopaCode
    district_codes: list[DopaCode] = Field(min_length=1)
    subdistrict_codes: list[DopaCode] = Field(default_factory=list)
    centre: Centre
    timezone: str = "Asia/Bangkok"
    # Names used by the sources to find the city's rows ("ขอนแก่น" in Air4Thai's areaTH, Traffy's
    # province field); a list because sources spell the same province differently.
    province_names_th: list[str] = Field(min_length=1)

    # Field validators (not one model validator) so the error names the key, e.g.
    # `city.district_codes`; fields validate in order, so the codes they nest in are in `info.data`.
    # Beyond their shape, codes must exist in the bundled DOPA reference (the dbt seeds), nested
    # as it lists them: an invented code would silently match no row in any source.
    @field_validator("province_code")
    @classmethod
    def _province_exists(cls, code: str) -> str:
        problem = reference.unknown_code("province", code)
        if problem:
            raise ValueError(problem)
        return code

    @field_validator("district_codes")
    @classmethod
    def _districts_in_province(cls, codes: list[str], info: ValidationInfo) -> list[str]:
        province = info.data.get("province_code")
        if province is None:
            return codes  # the province's own error says what is wrong
        for code in codes:
            if len(code) != 4 or not code.startswith(province):
                raise ValueError(
                    f"district code {code} is not a 4-digit code in province {province}"
                )
            problem = reference.unknown_code("district", code, province)
            if problem:
                raise ValueError(problem)
        return codes

    @field_validator("subdistrict_codes")
    @classmethod
    def _subdistricts_in_districts(cls, codes: list[str], info: ValidationInfo) -> list[str]:
        districts = info.data.get("district_codes")
        if districts is None:
            return codes
        for code in codes:
            if len(code) != 6 or code[:4] not in districts:
                raise ValueError(
                    f"subdistrict code {code} is not a 6-digit code in one of the "
                    f"city's districts {districts}"
                )
            problem = reference.unknown_code("subdistrict", code, code[:4])
            if problem:
                raise ValueError(problem)
        return codes


# Which job captures a source and how its partitions and freshness rule are cut
# (city_pipeline/freshness.py): the nightly job, one partition a day, or the monthly job.
Cadence = Literal["daily", "monthly"]


class SourceSettings(Strict):
    enabled: bool = True
    base_url: str
    cadence: Cadence = "daily"
    timeout_connect_s: float = Field(default=5.0, gt=0)
    timeout_read_s: float = Field(default=60.0, gt=0)
    # Retries on 429/5xx and connection errors, exponential backoff (factor * 2**n seconds, capped);
    # `Retry-After` from the server wins over the backoff. Tests set a tiny factor.
    retries: int = Field(default=5, ge=0, le=20)
    backoff_factor_s: float = Field(default=1.0, ge=0)
    backoff_max_s: float = Field(default=60.0, ge=0)
    # Rows whose values do not type are quarantined (raw/quarantine_<capture>); past this share
    # of a partition's rows the partition fails instead (a changed format, not a few bad rows).
    quarantine_max_share: float = Field(default=0.05, ge=0, le=1)

    @field_validator("cadence", mode="before")
    @classmethod
    def _cadence_the_pipeline_runs(cls, value: object) -> object:
        if value not in get_args(Cadence):
            raise ValueError(
                f"cadence {value!r} is not one the pipeline runs: 'daily' (the nightly job, "
                "also for hourly readings) or 'monthly' (the monthly job)"
            )
        return value

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")


class Air4ThaiSettings(SourceSettings):
    station_ids: list[str] = Field(default_factory=list)
    # Stations whose areaTH contains one of these are the city's, in addition to station_ids.
    area_th_contains: list[str] = Field(default_factory=list)
    params: list[str] = ["PM25", "PM10", "O3", "CO", "NO2", "SO2", "WS", "WD", "TEMP", "RH"]


class TraffySettings(SourceSettings):
    endpoint: Literal["stat_api", "share"] = "stat_api"
    page_size: int = Field(default=1000, ge=1, le=10000)
    max_pages: int = Field(default=500, ge=1)
    # Filter sent to the public endpoint; the city's province name as Traffy spells it.
    province: str | None = None
    # Authenticated Exchange API: used only when both env vars below are set.
    exchange_base_url: str | None = None
    exchange_org_ids: list[int] = Field(default_factory=list)


class OpenMeteoSettings(SourceSettings):
    hourly: list[str] = [
        "temperature_2m",
        "relative_humidity_2m",
        "precipitation",
        "rain",
        "wind_speed_10m",
        "wind_direction_10m",
    ]
    daily: list[str] = [
        "temperature_2m_max",
        "temperature_2m_min",
        "temperature_2m_mean",
        "precipitation_sum",
        "rain_sum",
        "relative_humidity_2m_mean",
    ]


class CkanDataset(Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="table suffix: raw/ckan_<name>")
    resource_id: str
    title: str | None = None


class CkanSettings(SourceSettings):
    page_size: int = Field(default=100, ge=1, le=32000)
    max_pages: int = Field(default=1000, ge=1)
    datasets: list[CkanDataset] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_names(self) -> CkanSettings:
        names = [d.name for d in self.datasets]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"dataset names must be unique, repeated: {duplicated}")
        return self


class DopaFile(Strict):
    level: Literal["province", "district", "subdistrict"]
    # {yy} = two-digit BE year, {mm} = month, e.g. "/new_stat/file/{yy}/stat_c{yy}.txt"
    path_template: str


class DopaSettings(SourceSettings):
    cadence: Cadence = "monthly"
    files: list[DopaFile] = Field(min_length=1)


class Sources(Strict):
    air4thai: Air4ThaiSettings
    traffy: TraffySettings
    open_meteo: OpenMeteoSettings
    ckan: CkanSettings
    dopa: DopaSettings


class Window(Strict):
    start: date
    end: date

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self


class CityConfig(Strict):
    city: CityIdentity
    # First partition the pipeline knows about (the daily partitions start here): the day the
    # city's data starts. Default: the recorded window's first day.
    partitions_start: date = None  # type: ignore[assignment]  # set from recorded_window below
    # The days the bundled recordings cover; `make run` materializes this window offline.
    recorded_window: Window
    sources: Sources
    # Parameters of the recordings generator (`make recordings`); defaults fit any city.
    recordings: RecordingSettings = RecordingSettings()

    @model_validator(mode="before")
    @classmethod
    def _partitions_start_default(cls, raw: object) -> object:
        if isinstance(raw, dict) and raw.get("partitions_start") is None:
            window = raw.get("recorded_window")
            if isinstance(window, dict) and "start" in window:
                return {**raw, "partitions_start": window["start"]}
        return raw


SOURCE_NAMES: tuple[str, ...] = tuple(Sources.model_fields)


class Settings(BaseModel):
    """Everything a run needs: the city config plus where data lives and how sources are reached."""

    model_config = ConfigDict(frozen=True)

    config_file: Path
    config: CityConfig
    data_dir: Path
    source_mode: SourceMode
    recordings_dir: Path
    # Set when the city is one of several in a deployment (`CITY_PIPELINE_CITIES_DIR`): the root
    # that holds `<slug>/` per city; `data_dir` is then `<deployment_dir>/<slug>`.
    deployment_dir: Path | None = None

    @property
    def in_deployment(self) -> bool:
        return self.deployment_dir is not None

    @property
    def city(self) -> CityIdentity:
        return self.config.city

    @property
    def lake_dir(self) -> Path:
        return self.data_dir / "lake"

    @property
    def warehouse_path(self) -> Path:
        return self.data_dir / "warehouse" / "city.duckdb"

    @property
    def published_dir(self) -> Path:
        return self.data_dir / "published"

    @property
    def models_dir(self) -> Path:
        """Versioned model artifacts of the Analyse stage (`analyse/store.py`)."""
        return self.data_dir / "models"

    def source(self, name: str) -> SourceSettings:
        return getattr(self.config.sources, name)


def _format_validation_error(path: Path, error: ValidationError) -> str:
    """One line: the file, then each offending key and what is wrong with it."""
    problems = []
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "<top level>"
        problems.append(f"{key}: {item['msg']}")
    return f"invalid city config {path}: " + "; ".join(problems)


def load_city_config(path: Path, env: dict[str, str] | None = None) -> CityConfig:
    """Read and validate one city YAML; `CITY_PIPELINE_<SOURCE>_BASE_URL` overrides base URLs."""
    env = os.environ if env is None else env
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"city config {path} does not exist") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"city config {path} is not valid YAML{where}: {problem}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"city config {path} must be a mapping at the top level")
    overridden: dict[tuple[str, ...], str] = {}
    for name in SOURCE_NAMES:
        variable = f"{ENV_PREFIX}{name.upper()}_BASE_URL"
        override = env.get(variable)
        source = raw.get("sources", {}).get(name) if isinstance(raw.get("sources"), dict) else None
        if override and isinstance(source, dict):
            source["base_url"] = override
            overridden[("sources", name, "base_url")] = variable
    try:
        return CityConfig.model_validate(raw)
    except ValidationError as exc:
        # A bad value set by an environment override is not in the file: say where it came from.
        notes = [
            f" (sources.{loc[1]}.base_url comes from {variable}, not the file)"
            for loc, variable in overridden.items()
            if any(tuple(map(str, e["loc"])) == loc for e in exc.errors())
        ]
        raise ConfigError("".join([_format_validation_error(path, exc), *notes])) from None


def city_files(directory: Path = CITIES_DIR) -> dict[str, Path]:
    """Every city YAML in `directory` by slug, each validated; two files with one slug are refused
    (the slug names the city's recordings, lake partitions and published release)."""
    found: dict[str, Path] = {}
    for path in sorted(directory.glob("*.yaml")):
        slug = load_city_config(path, env={}).city.slug
        if slug in found:
            raise ConfigError(
                f"invalid city config {path}: city.slug: {slug!r} is already the slug of "
                f"{found[slug]}; every city needs its own slug"
            )
        found[slug] = path
    return found


def load_settings(env: dict[str, str] | None = None) -> Settings:
    """Build the run's settings from the environment (see README, "Configuration")."""
    env = dict(os.environ if env is None else env)
    config_file = Path(env.get(f"{ENV_PREFIX}CONFIG") or DEFAULT_CITY_FILE).resolve()
    data_dir = Path(env.get(f"{ENV_PREFIX}DATA_DIR") or PROJECT_ROOT / "data").resolve()
    mode_text = env.get(f"{ENV_PREFIX}SOURCE_MODE", SourceMode.REPLAY.value)
    try:
        mode = SourceMode(mode_text)
    except ValueError:
        allowed = ", ".join(m.value for m in SourceMode)
        raise ConfigError(
            f"{ENV_PREFIX}SOURCE_MODE={mode_text!r}: must be one of {allowed}"
        ) from None
    recordings = Path(env.get(f"{ENV_PREFIX}RECORDINGS_DIR") or RECORDINGS_DIR).resolve()
    config = load_city_config(config_file, env)
    deployment_dir = data_dir if env.get(CITIES_DIR_ENV) else None
    return Settings(
        config_file=config_file,
        config=config,
        data_dir=data_dir / config.city.slug if deployment_dir else data_dir,
        source_mode=mode,
        recordings_dir=recordings / config.city.slug,
        deployment_dir=deployment_dir,
    )


@dataclass(frozen=True)
class Deployment:
    """The cities of a several-city deployment: a folder of `<slug>.yaml` files."""

    cities: dict[str, Settings]  # by slug
    refused: dict[Path, str]  # a city YAML that does not load, and why: the others still run


def cities_dir(env: dict[str, str] | None = None) -> Path:
    """Where city slugs are looked up: the deployment's folder, else the shipped cities."""
    return Path((os.environ if env is None else env).get(CITIES_DIR_ENV) or CITIES_DIR)


def network_file(env: dict[str, str] | None = None) -> Path | None:
    """The network YAML of a deployment that also runs the network hub (docs/network.md)."""
    value = (os.environ if env is None else env).get(NETWORK_ENV)
    return Path(value).resolve() if value else None


def load_deployment(env: dict[str, str] | None = None) -> Deployment:
    """Every city in `CITY_PIPELINE_CITIES_DIR`. A broken city file is refused alone (its error
    names the file), so one city's mistake never stops the other cities' runs."""
    env = dict(os.environ if env is None else env)
    directory = Path(env[CITIES_DIR_ENV]).resolve()
    if not directory.is_dir():
        raise ConfigError(f"{CITIES_DIR_ENV}={directory}: not a folder of city YAMLs")
    cities: dict[str, Settings] = {}
    refused: dict[Path, str] = {}
    for path in sorted(directory.glob("*.yaml")):
        try:
            settings = load_settings({**env, f"{ENV_PREFIX}CONFIG": str(path)})
        except ConfigError as exc:
            refused[path] = str(exc)
            continue
        if settings.city.slug != path.stem:  # a step finds its city's file by its slug
            refused[path] = (
                f"invalid city config {path}: city.slug {settings.city.slug!r} must be the file's "
                f"name ({path.stem}.yaml) in a several-city deployment"
            )
            continue
        cities[settings.city.slug] = settings
    return Deployment(cities, refused)


@cache
def get_settings() -> Settings:
    """Process-wide settings, read once from the environment."""
    return load_settings()
