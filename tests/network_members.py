"""Real member releases for the network hub's tests, small and with figures chosen by hand.

Each member is the consume layer's demo warehouse (every published mart, dbt contract types) with
the figures the network marts read replaced by the test's own: the city-mean PM2.5 per day, the
complaint tickets (opened day, resolution hours, duplicate_of), the DOPA population and the city
forecast. The city release writer (`consume.release.publish_release`) then publishes it, so the
hub reads exactly what a member publishes: release.json with every file's sha256, Parquet, CSV,
database, report. (The marts' GX suites are not run here: the demo's replaced rows are not meant
to pass them, and tests/test_consume_release.py covers validation.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb

from city_pipeline.consume.catalog import PUBLISHED_MARTS
from city_pipeline.consume.demo import build_demo_warehouse
from city_pipeline.consume.release import PreparedMart, new_scratch_file, publish_release
from city_pipeline.consume.release import write_scrubbed as write_parquet
from city_pipeline.consume.validation import ExpectationOutcome, ValidationOutcome
from city_pipeline.consume.warehouse import open_mart
from city_pipeline.settings import CITIES_DIR, Settings, load_settings

START = date(2024, 1, 1)


@dataclass(frozen=True)
class Ticket:
    ticket_id: str
    opened: date
    hours: float | None  # resolution hours; None = not resolved
    duplicate_of: str | None = None


@dataclass(frozen=True)
class Population:
    month: date
    level: str
    admin_code: str
    is_city_area: bool
    total: int


@dataclass
class MemberData:
    pm25: list[float | None]  # city mean per day from START
    tickets: list[Ticket]
    population: list[Population]
    forecast: float | None = None  # city forecast for the day after the last day
    extra: dict = field(default_factory=dict)

    @property
    def days(self) -> list[date]:
        return [START + timedelta(days=i) for i in range(len(self.pm25))]


def member_settings(data_dir: Path, slug: str) -> Settings:
    return load_settings(
        {
            "CITY_PIPELINE_DATA_DIR": str(data_dir / slug),
            "CITY_PIPELINE_CONFIG": str(CITIES_DIR / f"{slug}.yaml"),
        }
    )


def _replace_figures(warehouse: Path, data: MemberData) -> None:
    with duckdb.connect(str(warehouse)) as db:
        db.executemany(
            "update marts.mart_city_daily set pm25_city_mean = ? where date = ?",
            [[value, day] for value, day in zip(data.pm25, data.days, strict=True)],
        )
        kept = [r[0] for r in db.execute("select ticket_id from marts.fct_complaints").fetchall()]
        assert len(kept) >= len(data.tickets), "the demo has fewer tickets than the fixture"
        db.execute(
            "delete from marts.fct_complaints where ticket_id not in "
            f"(select unnest(?::varchar[]) limit {len(data.tickets)})",
            [kept],
        )
        for old, ticket in zip(kept, data.tickets, strict=False):
            opened = datetime.combine(ticket.opened, datetime.min.time()) + timedelta(hours=9)
            closed = None if ticket.hours is None else opened + timedelta(hours=ticket.hours)
            db.execute(
                "update marts.fct_complaints set ticket_id = ?, opened_date = ?, opened_at = ?, "
                "closed_at = ?, closed_date = ?::date, resolution_hours = ?, is_resolved = ?, "
                "state = ?, state_group = ? where ticket_id = ?",
                [
                    ticket.ticket_id,
                    ticket.opened,
                    opened,
                    closed,
                    closed,
                    ticket.hours,
                    ticket.hours is not None,
                    "เสร็จสิ้น" if ticket.hours is not None else "รอรับเรื่อง",
                    "resolved" if ticket.hours is not None else "waiting",
                    old,
                ],
            )
        db.execute(
            'create or replace table "analyse".complaint_insights (ticket_id varchar, '
            "opened_date date, citizen_types varchar[], predicted_type varchar, "
            "confidence double, type_disagrees boolean, duplicate_of varchar, "
            "duplicate_similarity double, model_version varchar)"
        )
        db.executemany(
            'insert into "analyse".complaint_insights values '
            "(?, ?, ['ถนน'], 'ถนน', 0.9, false, ?, ?, 'test')",
            [
                [t.ticket_id, t.opened, t.duplicate_of, None if t.duplicate_of is None else 0.95]
                for t in data.tickets
            ],
        )
        db.execute("delete from marts.mart_population")
        db.executemany(
            "insert into marts.mart_population by name select ?::date as month, ? as level, "
            "? as admin_code, ? as source_admin_code, 'พื้นที่' as source_admin_name_th, "
            "'พื้นที่' as name_th, 'area' as name_en, left(?, 2) as province_code, "
            "? as is_city_area, ? // 2 as male, ? - ? // 2 as female, ? as total, "
            "? // 3 as households, '6701' as yymm_be",
            [
                [p.month, p.level, p.admin_code, p.admin_code, p.admin_code, p.is_city_area]
                + [p.total] * 5
                for p in data.population
            ],
        )
        if data.forecast is None:
            db.execute("delete from \"analyse\".pm25_forecast where station_id = 'city'")
        else:
            db.execute(
                "update \"analyse\".pm25_forecast set pm25_forecast = ? where station_id = 'city'",
                [data.forecast],
            )


def _passed(name: str, rows: int) -> ValidationOutcome:
    return ValidationOutcome(
        mart=name,
        suite=f"{name}.json",
        success=True,
        rows=rows,
        validated_at=datetime.now(UTC).isoformat(timespec="seconds"),
        results=[ExpectationOutcome("fixture_not_validated", None, True)],
    )


def publish_member(data_dir: Path, slug: str, data: MemberData, seed: int = 7) -> Path:
    """Publish the member's release with the city release writer; returns its published dir."""
    settings = member_settings(data_dir, slug)
    build_demo_warehouse(settings.warehouse_path, START, len(data.pm25), seed=seed, pii=False)
    _replace_figures(settings.warehouse_path, data)
    marts = []
    for spec in PUBLISHED_MARTS:
        scratch = new_scratch_file(settings.published_dir, spec.name)
        with open_mart(settings.warehouse_path, spec.name, spec.schema) as reader:
            rows = write_parquet(reader, scratch.path, [])
        marts.append(PreparedMart(spec, scratch, _passed(spec.name, rows)))
    publish_release(settings, marts)
    return settings.published_dir


def network_yaml(folder: Path, members: dict[str, str], **extra: object) -> Path:
    """A network YAML listing `members` (slug -> release location)."""
    import yaml

    document = {
        "name": "Test network",
        "name_th": "เครือข่ายทดสอบ",
        **extra,
        "members": [{"slug": slug, "release": where} for slug, where in members.items()],
    }
    path = folder / "network.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return path


# Khon Kaen: ten days, PM2.5 11..20; six tickets (four opened on 2 January, one a duplicate);
# DOPA: the district (the finest city level) had 80,000 residents in December 2023 and 120,000
# in February 2024, so January days use December's; the province is coarser, 4002 not the city's.
KHON_KAEN = MemberData(
    pm25=[11.0 + i for i in range(10)],
    tickets=[
        Ticket("KK-1", date(2024, 1, 2), 10.0),
        Ticket("KK-2", date(2024, 1, 2), 30.0, duplicate_of="KK-1"),
        Ticket("KK-3", date(2024, 1, 2), 200.0),
        Ticket("KK-4", date(2024, 1, 2), None),
        Ticket("KK-5", date(2024, 1, 5), 4.0),
        Ticket("KK-6", date(2024, 1, 9), 1.0),
    ],
    population=[
        Population(date(2023, 12, 1), "district", "4001", True, 80_000),
        Population(date(2024, 2, 1), "district", "4001", True, 120_000),
        Population(date(2023, 12, 1), "province", "40", True, 1_800_000),
        Population(date(2023, 12, 1), "district", "4002", False, 50_000),
    ],
    forecast=42.0,
)
# Chiang Mai: ten days of PM2.5 40 (over the 37.5 standard every day), two tickets on the first
# day both resolved within 5 hours, 20,000 residents at subdistrict level, no forecast.
CHIANG_MAI = MemberData(
    pm25=[40.0] * 10,
    tickets=[Ticket("CM-1", date(2024, 1, 1), 5.0), Ticket("CM-2", date(2024, 1, 1), 3.0)],
    population=[
        Population(date(2024, 1, 1), "subdistrict", "500101", True, 20_000),
        Population(date(2024, 1, 1), "district", "5001", True, 150_000),
    ],
    forecast=None,
)


def copy_members(source: Path, target: Path) -> Path:
    """A writable copy of published member folders (symlinks kept), for tests that tamper."""
    import shutil
    import stat

    shutil.copytree(source, target, symlinks=True)
    for path in target.rglob("*"):
        if path.is_file() and not path.is_symlink():
            path.chmod(path.stat().st_mode | stat.S_IWUSR)
    return target
