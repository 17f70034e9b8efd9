"""City-scale LANDING files in the real payload shapes, written straight into the landing zone.

The bytes are what the recordings of `city_pipeline/synth/` would hold (same envelopes, field names,
string-typed numbers and sentinels, built with the synth modules' own helpers and the sources' own
request builders), but they are written as landed batches (`lake.LandingBatch`: exact bytes,
sidecar, batch marker) so the benchmark can parse them without an HTTP replay in between.

Everything streams one day (or month) at a time: nothing here holds the whole history. That matters
for Traffy: `synth.traffy.recordings` builds every ticket and every served feature in memory before
writing the first page (fine for the bundled recordings, many GB at size L), so this module has its
own day-by-day loop over `TicketFactory`, keeping only the ticket versions still to be served.
"""

from __future__ import annotations

import csv
import heapq
import json
import math
import random
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from bench.city import CITY_STATIONS
from bench.sizes import Size
from city_pipeline.lake import LandingBatch
from city_pipeline.settings import PROJECT_ROOT, Settings
from city_pipeline.sources import air4thai, dopa, traffy
from city_pipeline.synth import air4thai as synth_air4thai
from city_pipeline.synth import dopa as synth_dopa
from city_pipeline.synth import json_bytes
from city_pipeline.synth import open_meteo as synth_open_meteo
from city_pipeline.synth import traffy as synth_traffy

GENERATOR_VERSION = 1  # bump when the bytes change, so old work directories are regenerated
MANIFEST = "landing-manifest.json"
SUBDISTRICTS_CSV = PROJECT_ROOT / "dbt_project" / "seeds" / "reference" / "th_subdistricts.csv"
JSON_HEADERS = {"content-type": "application/json"}
TEXT_HEADERS = {"content-type": "text/plain"}
# Capture name (landing folder) -> the raw tables its parse writes.
CAPTURES = ("air4thai_stations", "air4thai_hourly", "traffy", "open_meteo", "dopa")
OUTAGE_RATE = 0.002  # station-days without any reading (all "-" or an empty data list)
PERSONAL_RATE = 0.004  # tickets whose description carries fake personal data


@dataclass
class Tally:
    """What one capture's generator landed."""

    partitions: int = 0
    files: int = 0
    bytes: int = 0
    records: int = 0

    def add(self, body: bytes, records: int) -> None:
        self.files += 1
        self.bytes += len(body)
        self.records += records


@dataclass
class Landing:
    """Lands generated responses as complete batches, one per partition."""

    settings: Settings
    tallies: dict[str, Tally] = field(default_factory=lambda: {c: Tally() for c in CAPTURES})

    def batch(self, capture: str, day: date) -> LandingBatch:
        self.tallies[capture].partitions += 1
        return LandingBatch(self.settings.lake_dir, capture, day)

    def land(
        self,
        batch: LandingBatch,
        body: bytes,
        *,
        url: str,
        params: dict[str, Any],
        records: int,
        ext: str = "json",
        headers: dict[str, str] | None = None,
    ) -> None:
        batch.land(
            body, url=url, params=params, status=200, headers=headers or JSON_HEADERS, ext=ext
        )
        self.tallies[batch.source].add(body, records)


def seeded(size: Size, source: str) -> random.Random:
    return random.Random(zlib.crc32(f"bench/{size.name}/{source}".encode()))


def days_of(size: Size) -> Iterator[date]:
    for n in range(size.days):
        yield size.start + timedelta(days=n)


# --- Air4Thai ------------------------------------------------------------------------------


def station_meta(station_id: str, index: int, settings: Settings) -> dict[str, str]:
    """Name, area and position of a benchmark station: the real two, then invented ones spread
    over Mueang Khon Kaen's subdistricts (so their areaTH resolves like a real station's)."""
    if station_id in synth_air4thai.STATIONS:
        return synth_air4thai.STATIONS[station_id]
    codes = settings.city.subdistrict_codes or ["400101"]
    code = codes[index % len(codes)]
    name = synth_traffy.SUBDISTRICTS.get(code, "ในเมือง")
    rng = random.Random(zlib.crc32(station_id.encode()))
    centre = settings.city.centre
    return {
        "nameTH": f"สถานีตรวจวัดคุณภาพอากาศ {name} {index}",
        "nameEN": f"Air quality station {station_id}",
        "areaTH": f"ต.{name} อ.เมือง, ขอนแก่น",
        "areaEN": f"{name}, Mueang, Khon Kaen",
        "lat": f"{centre.lat + rng.uniform(-0.06, 0.06):.6f}",
        "long": f"{centre.lon + rng.uniform(-0.06, 0.06):.6f}",
    }


def _station_rows(
    rng: random.Random, station: str, day: date, mean: float, params: list[str]
) -> list[dict]:
    rows = synth_air4thai._station_day(rng, station, day, mean, params)
    roll = rng.random()
    if roll < OUTAGE_RATE / 2:
        return []
    if roll < OUTAGE_RATE:
        return [{"DATETIMEDATA": r["DATETIMEDATA"], **dict.fromkeys(params, "-")} for r in rows]
    return rows


def land_air4thai(landing: Landing, size: Size) -> None:
    """Per day: the national station list (stations + their AQILast) and the hourly history of
    the city's stations, chunked into history calls exactly as the source asks for them."""
    settings = landing.settings
    cfg = settings.config.sources.air4thai
    rng = seeded(size, "air4thai")
    ids = list(cfg.station_ids)
    metas = {sid: station_meta(sid, n, settings) for n, sid in enumerate(ids)}
    others = [s for s in synth_air4thai.STATIONS if s not in ids and s not in CITY_STATIONS]
    level = 0.0
    for day in days_of(size):
        level = 0.65 * level + rng.gauss(0, 0.2)  # smoggy spells last several days
        regional = synth_air4thai.daily_pm25(day, settings.config.recordings.pm25, level)
        rows = {}
        for n, sid in enumerate(ids):
            mean = regional * (1.0 - 0.3 * (n % 7) / 7) * math.exp(rng.gauss(0, 0.06))
            rows[sid] = _station_rows(rng, sid, day, mean, cfg.params)
        batch = landing.batch("air4thai_hourly", day)
        for params in air4thai.history_requests(ids, cfg.params, day):
            wanted = params["stationID"].split(",")
            answer = synth_air4thai.history_answer({s: rows[s] for s in wanted}, cfg.params)
            landing.land(
                batch,
                json_bytes(answer),
                url=cfg.base_url + air4thai.HISTORY_PATH,
                params=params,
                records=sum(len(rows[s]) for s in wanted),
            )
        batch.complete()
        stations = []
        for sid in ids:
            station = synth_air4thai._station_object(sid, synth_air4thai.aqi_last(rows[sid], day))
            stations.append({**station, **metas[sid]})
        for sid in others:
            block = synth_air4thai.aqi_last(synth_air4thai._other_station_rows(rng, day), day)
            stations.append(synth_air4thai._station_object(sid, block))
        batch = landing.batch("air4thai_stations", day)
        landing.land(
            batch,
            json_bytes({"stations": stations}),
            url=cfg.base_url + air4thai.STATIONS_PATH,
            params={},
            records=len(stations),
        )
        batch.complete()


# --- Traffy --------------------------------------------------------------------------------


def tickets_per_day(size: Size) -> list[int]:
    """New tickets per day (weekends quieter), summing to `size.tickets`."""
    weights = [0.8 if d.weekday() >= 5 else 1.0 for d in days_of(size)]
    scale = size.tickets / sum(weights)
    counts = [int(w * scale) for w in weights]
    for n in range(size.tickets - sum(counts)):  # hand out the rounding remainder
        counts[n % len(counts)] += 1
    return counts


def _served_versions(ticket: synth_traffy.Ticket) -> Iterator[tuple[date, dict]]:
    """Each day a ticket changed, the feature as it stood after that day's last event."""
    last_of_day: dict[date, int] = {}
    for index, (at, _) in enumerate(ticket.events):
        last_of_day[at.date()] = index
    for views, (day, index) in enumerate(sorted(last_of_day.items())):
        yield day, ticket.version(index, view_count=views * 3)


def land_traffy(landing: Landing, size: Size) -> None:
    """Day by day: report the day's new tickets, then serve every ticket version of the day
    (new ones and earlier tickets that changed state), newest report first, in full pages.
    Only versions due on later days are kept in memory (a heap keyed by day)."""
    settings = landing.settings
    cfg = settings.config.sources.traffy
    rng = seeded(size, "traffy")
    factory = synth_traffy.TicketFactory(settings, rng)
    url = traffy.public_url(cfg)
    pending: list[tuple[date, str, str, dict]] = []  # (day, reported, ticket_id, feature)
    for day, count in zip(days_of(size), tickets_per_day(size), strict=True):
        for _ in range(count):
            reported = synth_traffy.report_time(rng, day)
            ticket = factory.new(reported, personal=rng.random() < PERSONAL_RATE)
            for served_day, feature in _served_versions(ticket):
                if served_day <= size.end:
                    heapq.heappush(pending, (served_day, str(reported), ticket.ticket_id, feature))
        todays = []
        while pending and pending[0][0] == day:
            todays.append(heapq.heappop(pending))
        todays.sort(key=lambda item: (item[1], item[2]), reverse=True)
        features = [item[3] for item in todays]
        batch = landing.batch("traffy", day)
        for offset, page in synth_traffy.pages(cfg, features):
            body = json_bytes(synth_traffy.envelope(rng, day, page, len(features)))
            params = traffy.page_params(cfg, day, offset)
            landing.land(batch, body, url=url, params=params, records=len(page))
        batch.complete()


# --- Open-Meteo ----------------------------------------------------------------------------


def land_open_meteo(landing: Landing, size: Size) -> None:
    """One archive answer per day: `synth.open_meteo.recordings` already streams day by day."""
    for recording in synth_open_meteo.recordings(landing.settings, seeded(size, "open_meteo")):
        day = date.fromisoformat(recording.params["start_date"])
        batch = landing.batch("open_meteo", day)
        landing.land(batch, recording.body, url=recording.url, params=recording.params, records=24)
        batch.complete()


# --- DOPA ----------------------------------------------------------------------------------


def read_subdistricts() -> list[tuple[str, str, str]]:
    """(subdistrict code, province code, Thai name) of all 7,436 subdistricts (the dbt seed)."""
    with SUBDISTRICTS_CSV.open(encoding="utf-8", newline="") as handle:
        return [
            (r["subdistrict_code"], r["province_code"], r["name_th"])
            for r in csv.DictReader(handle)
        ]


def subdistrict_weights(rng: random.Random, areas: list[tuple[str, str, str]]) -> dict[str, float]:
    """Each subdistrict's share of its province, drawn once."""
    raw = {code: rng.lognormvariate(0, 0.5) for code, _, _ in areas}
    totals: dict[str, float] = {}
    for code, province, _ in areas:
        totals[province] = totals.get(province, 0.0) + raw[code]
    return {code: raw[code] / totals[province] for code, province, _ in areas}


def subdistrict_file(
    rng: random.Random,
    areas: list[tuple[str, str, str]],
    weights: dict[str, float],
    provinces: dict[str, synth_dopa.Row],
    month: date,
) -> bytes:
    """Every subdistrict of the country for one month, in the province file's format (UTF-8, LF,
    no header, trailing `|`); names carry DOPA's ตำบล/แขวง prefix as the district file's do."""
    yymm = "".join(dopa.be_yy_mm(month))
    lines = []
    for code, province, name in areas:
        row = provinces.get(province)
        if row is None:
            continue
        _, _, male, female, households = row
        share = weights[code] * rng.uniform(0.9995, 1.0005)
        prefix = "แขวง" if province == "10" else "ตำบล"
        lines.append(
            synth_dopa._line(
                yymm,
                code,
                prefix + name,
                round(male * share),
                round(female * share),
                round(households * share),
                False,
            )
        )
    return ("\n".join(lines) + "\n").encode("utf-8")


def land_dopa(landing: Landing, size: Size) -> None:
    """Each month's batch: the yearly province file, the city province's district file and the
    country-wide subdistrict file (every configured URL of the month, as `fetch_month` asks)."""
    settings = landing.settings
    cfg = settings.config.sources.dopa
    rng = seeded(size, "dopa")
    areas = read_subdistricts()
    weights = subdistrict_weights(rng, areas)
    province_code = settings.city.province_code
    district_weights = synth_dopa.district_weights(rng, province_code)
    by_year: dict[int, list[synth_dopa.Row]] = {}
    for month in size.months():
        year_be = month.year + dopa.BE_OFFSET
        if year_be not in by_year:
            by_year[year_be] = synth_dopa._province_rows(rng, year_be)
        rows = by_year[year_be]
        provinces = {r[0]: r for r in rows}
        batch = landing.batch("dopa", month)
        for entry in cfg.files:
            url = dopa.file_url(cfg, entry, month)
            if entry.level == "province":
                yy, mm = dopa.be_yy_mm(month)
                yymm = yy + "12" if synth_dopa._is_yearly(entry) else yy + mm
                body, records = synth_dopa.province_file(rows, yymm), len(rows) + 1
            elif entry.level == "district":
                own = provinces[province_code]
                body = synth_dopa.district_file(rng, own, district_weights, month)
                records = body.count(b"\n")
            else:
                body = subdistrict_file(rng, areas, weights, provinces, month)
                records = body.count(b"\n")
            landing.land(
                batch, body, url=url, params={}, records=records, ext="txt", headers=TEXT_HEADERS
            )
        batch.complete()


GENERATORS: dict[str, Callable[[Landing, Size], None]] = {
    "air4thai": land_air4thai,
    "traffy": land_traffy,
    "open_meteo": land_open_meteo,
    "dopa": land_dopa,
}


def generate(settings: Settings, size: Size, workdir: Path) -> dict[str, Any]:
    """Land every source's files for `size` and write the manifest that lets a later run reuse
    them. Returns the manifest."""
    landing = Landing(settings)
    seconds = {}
    for source, generator in GENERATORS.items():
        started = time.perf_counter()
        generator(landing, size)
        seconds[source] = round(time.perf_counter() - started, 3)
    manifest = {
        "generator_version": GENERATOR_VERSION,
        "size": size.to_dict(),
        "seconds": seconds,
        "captures": {name: vars(t) for name, t in landing.tallies.items()},
    }
    (workdir / MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return manifest


def read_manifest(workdir: Path, size: Size) -> dict[str, Any] | None:
    """The manifest of landing files already generated for this size, if they can be reused."""
    path = workdir / MANIFEST
    if not path.exists():
        return None
    manifest = json.loads(path.read_text(encoding="utf-8"))
    same = (
        manifest.get("generator_version") == GENERATOR_VERSION
        and manifest.get("size") == size.to_dict()
    )
    return manifest if same else None
