"""The recordings: each day's features, paged and wrapped in stat_api's envelope exactly as the
source requests them (the server's cache warning with `total` 0 included)."""

from __future__ import annotations

import random
import zlib
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta

from city_pipeline.settings import Settings, TraffySettings
from city_pipeline.sources import traffy
from city_pipeline.sources.common import OfflineContext
from city_pipeline.sources.paging import Listing
from city_pipeline.synth import Recording, json_bytes
from city_pipeline.synth.traffy.flavour import special_days
from city_pipeline.synth.traffy.tickets import Ticket, generate_tickets
from city_pipeline.windows import days_between

CACHE_WARNING = (
    "sum_state_by_group_tag cache memory error. Please contact an administrator | "
    "เกิดความผิดพลาดที่หน่วยความจำแคช กรุณาติดต่อผู้ดูแลระบบ"
)


def daily_features(
    tickets: list[Ticket], window_start: date, window_end: date, empty_day: date
) -> dict[date, list[dict]]:
    """What the API answers for each day: every ticket with activity that day, as it stood after
    its last event of the day, newest report first. Nothing is served on the empty day."""
    by_day: dict[date, list[tuple[datetime, dict]]] = {}
    for ticket in tickets:
        last_of_day: dict[date, int] = {}
        for index, (at, _) in enumerate(ticket.events):
            if at.date() == empty_day:
                continue
            last_of_day[at.date()] = index
        for views, (day, index) in enumerate(sorted(last_of_day.items())):
            if window_start <= day <= window_end:
                by_day.setdefault(day, []).append(
                    (ticket.events[0][0], ticket.version(index, view_count=views * 3))
                )
    out = {}
    for day, items in by_day.items():
        items.sort(key=lambda item: (item[0], item[1]["properties"]["ticket_id"]), reverse=True)
        out[day] = [feature for _, feature in items]
    return out


def envelope(rng: random.Random, day: date, features: list[dict], day_total: int) -> dict:
    """The stat API envelope, sometimes with its cache warning (then `total` is 0)."""
    warning = rng.random() < 0.12
    cached_at = datetime.combine(
        day + timedelta(days=1), time(0, rng.randint(5, 55), rng.randint(0, 59))
    )
    total = 0 if warning else day_total
    return {
        "type": "FeatureCollection",
        "status": "success",
        "message": CACHE_WARNING if warning else "",
        "exec_time": f"{rng.uniform(0.02, 0.4):.3f}s",
        "source": f"geojson cache {cached_at:%Y-%m-%d %H:%M:%S} (expire 1800s)",
        "total": total,
        "total_by_group_tag": None,
        "sum_state": [],
        "sum_state_by_group_tag": None,
        "satisfied": 0,
        "dissatisfied": 0,
        "satisfied_by_group_tag": None,
        "dissatisfied_by_group_tag": None,
        "count_total": total,
        "count": len(features),
        "features": features,
    }


def pages(traffy_settings: TraffySettings, features: list[dict]) -> Iterator[tuple[int, list]]:
    """(offset, page) up to the first page shorter than the limit. These are the pages the
    recordings always held (kept, so the seeded bytes stay the same); `recordings` adds the empty
    page the source asks for when no page gave the day's total."""
    limit = traffy_settings.page_size
    offset = 0
    while True:
        page = features[offset : offset + limit]
        yield offset, page
        if len(page) < limit:
            return
        offset += limit


def day_recordings(
    traffy_settings: TraffySettings, rng: random.Random, day: date, features: list[dict]
) -> Iterator[Recording]:
    """Every page the source will ask for on `day`, read with the source's own `Listing`."""
    url = traffy.public_url(traffy_settings)
    listing = Listing(OfflineContext(traffy.SOURCE, day), traffy_settings.page_size, 1 << 30, "-")
    done = False
    for offset, page in pages(traffy_settings, features):
        body = envelope(rng, day, page, len(features))
        yield Recording(
            url=url, params=traffy.page_params(traffy_settings, day, offset), body=json_bytes(body)
        )
        if not done:
            total = traffy.reported_total(body, "stat_api")
            done = listing.take(len(page), traffy.page_signature(page), total)
    if not done:
        # Its own seed: the main generator's draws, and so every other page, stay unchanged.
        tail_rng = random.Random(zlib.crc32(f"traffy/empty-page/{day.isoformat()}".encode()))
        body = envelope(tail_rng, day, [], len(features))
        params = traffy.page_params(traffy_settings, day, listing.offset)
        yield Recording(url=url, params=params, body=json_bytes(body))


def recordings(settings: Settings, rng: random.Random, scale: int = 1) -> Iterator[Recording]:
    traffy_settings = settings.config.sources.traffy
    if traffy_settings.endpoint != "stat_api":
        return  # recordings exist for the default endpoint only
    window = settings.config.recorded_window
    empty_day = special_days(window.start, window.end).empty
    tickets = generate_tickets(settings, rng, scale)
    served = daily_features(tickets, window.start, window.end, empty_day)
    for day in days_between(window.start, window.end):
        yield from day_recordings(traffy_settings, rng, day, served.get(day, []))
