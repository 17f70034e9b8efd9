"""Synthetic tickets and their life: each ticket's states from report to finish, and the property
object stat_api serves for one version of it."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from city_pipeline.settings import Settings
from city_pipeline.synth.traffy.flavour import (
    CATEGORY_WEIGHTS,
    COMPANIONS,
    DESCRIPTIONS,
    PII_KINDS,
    as_written,
    fake_contact,
    flavour_of,
    special_days,
)
from city_pipeline.synth.traffy.places import area_names
from city_pipeline.windows import days_between

TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"


PHOTO_BASE = "https://storage.googleapis.com/traffy_public_bucket/attachment"


PROBLEMTYPE_PHOTO = "attachment/2018-04/s-1524623011.7.png"


TICKET_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"


WAITING, FORWARDED, IN_PROGRESS, FINISHED = "รอรับเรื่อง", "ส่งต่อ(ใหม่)", "กำลังดำเนินการ", "เสร็จสิ้น"


STATE_TYPE = {WAITING: "start", FORWARDED: "forward", IN_PROGRESS: "inprogress", FINISHED: "finish"}


@dataclass
class Ticket:
    ticket_id: str
    message_id: int
    categories: list[str]
    org: list[str]
    description: str
    address: str
    subdistrict: str
    district: str
    province: str
    lon: float
    lat: float
    photo_url: str
    after_photo: str
    star: int | None
    events: list[tuple[datetime, str]] = field(default_factory=list)

    def version(self, upto: int, view_count: int) -> dict:
        """The feature as the API shows it after event number `upto`."""
        at, state = self.events[upto]
        reported = self.events[0][0]
        seen = self.events[: upto + 1]
        inprogress = next((t for t, s in seen if s == IN_PROGRESS), None)
        finished = next((t for t, s in seen if s == FINISHED), None)

        def minutes(t: datetime | None) -> int | None:
            return None if t is None else int((t - reported).total_seconds() // 60)

        note = None
        if state == FINISHED:
            note = "ดำเนินการแก้ไขเรียบร้อยแล้ว ขอบคุณที่แจ้งเรื่องค่ะ"
        elif state == FORWARDED:
            note = f"ส่งต่อไปยัง {self.org[-1]}"
        return {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [self.lon, self.lat]},
            "properties": {
                "problem_type_fondue": self.categories,
                "org": self.org,
                "org_action": list(reversed(self.org)),
                "description": self.description,
                "message_id": self.message_id,
                "ticket_id": self.ticket_id,
                "photo_url": self.photo_url,
                "after_photo": self.after_photo if finished else None,
                "address": self.address,
                "subdistrict": self.subdistrict,
                "district": self.district,
                "province": self.province,
                "problem_type_abdul": None,
                "star": self.star if finished else None,
                "count_reopen": 0,
                "note": note,
                "description_reporter": None,
                "state": state,
                "state_type_latest": STATE_TYPE[state],
                "duration_minutes_inprogress": minutes(inprogress),
                "duration_minutes_finished": minutes(finished),
                "duration_minutes_total": minutes(finished),
                "view_count": view_count,
                "timestamp": _text(reported),
                "last_activity": _text(at),
                "timestamp_inprogress": _text(inprogress),
                "timestamp_finished": _text(finished),
                "type": ",".join(self.categories),
                "see_info": True,
                "problemtype_photo": PROBLEMTYPE_PHOTO,
                "total_point": 0,
                "like": 0,
                "dislike": 0,
            },
        }


def _text(at: datetime | None) -> str | None:
    """Naive Bangkok wall time, as the stat API writes it."""
    return None if at is None else at.strftime(TIMESTAMP_FORMAT)


class TicketFactory:
    """Seeded tickets for one city: ids, places, orgs and state histories."""

    def __init__(self, settings: Settings, rng: random.Random):
        self.rng = rng
        self.city = settings.city
        self.flavour = flavour_of(settings.city, settings.config.recordings.traffy)
        self.areas = self._areas()
        self.used_ids: set[str] = set()
        self.message_id = 1_700_000 + rng.randint(0, 99_999)

    def _areas(self) -> list[tuple[str, str]]:
        """(district name, subdistrict name) pairs of the city, from its configured codes."""
        return area_names(self.city)

    def _ticket_id(self, year: int) -> str:
        while True:
            tid = f"{year}-" + "".join(self.rng.choice(TICKET_ALPHABET) for _ in range(6))
            if tid not in self.used_ids:
                self.used_ids.add(tid)
                return tid

    def _photo(self, day: date) -> str:
        return f"{PHOTO_BASE}/{day:%Y-%m}/{self.rng.getrandbits(128):032x}.jpeg"

    def _place(self) -> str:
        rng, fl = self.rng, self.flavour
        if rng.random() < 0.6:
            return f"บริเวณ{rng.choice(fl.streets)} ซอย {rng.randint(1, 40)}"
        return f"{rng.choice(fl.landmarks)} {rng.choice(fl.streets)}"

    def _org(self, categories: list[str], district: str) -> list[str]:
        first = categories[0] if categories else "อื่นๆ"
        province = self.city.province_names_th[0]
        if self.city.province_code == "10":
            special = {
                "น้ำท่วม": "ศูนย์ควบคุมระบบป้องกันน้ำท่วม กทม.",
                "ถนน": "สำนักการโยธา กทม.",
                "ทางเท้า": "สำนักการโยธา กทม.",
                "ความสะอาด": f"ฝ่ายรักษาความสะอาดฯ เขต{district}",
                "แสงสว่าง": "การไฟฟ้านครหลวง MEA",
                "สายไฟ": "การไฟฟ้านครหลวง MEA",
            }
            org = ["กรุงเทพมหานคร", f"เขต{district}"]
        else:
            special = {
                "น้ำท่วม": f"กองช่าง {self.city.name_th}",
                "ถนน": f"กองช่าง {self.city.name_th}",
                "ทางเท้า": f"กองช่าง {self.city.name_th}",
                "ท่อระบายน้ำ": f"กองช่าง {self.city.name_th}",
                "ความสะอาด": f"กองสาธารณสุขและสิ่งแวดล้อม {self.city.name_th}",
                "PM2.5": f"กองสาธารณสุขและสิ่งแวดล้อม {self.city.name_th}",
                "แสงสว่าง": f"การไฟฟ้าส่วนภูมิภาคจังหวัด{province}",
                "จราจร": f"สถานีตำรวจภูธรเมือง{province}",
            }
            org = [self.city.name_th]
        if first in special:
            org.append(special[first])
        return org

    def _categories(self, flood: bool) -> list[str]:
        rng = self.rng
        if rng.random() < 0.02:
            return [""]  # Traffy's "no category": dropped by the parser, type stays ""
        first = (
            "น้ำท่วม"
            if flood
            else rng.choices(list(CATEGORY_WEIGHTS), weights=list(CATEGORY_WEIGHTS.values()))[0]
        )
        cats = [first]
        if first in COMPANIONS and rng.random() < 0.3:
            cats.append(rng.choice(COMPANIONS[first]))
        return cats

    def _coords(self) -> tuple[float, float]:
        c, s = self.city.centre, self.flavour.spread_deg
        lat = min(max(self.rng.gauss(c.lat, s), c.lat - 3 * s), c.lat + 3 * s)
        lon = min(max(self.rng.gauss(c.lon, s * 1.2), c.lon - 3.6 * s), c.lon + 3.6 * s)
        return round(lon, 5), round(lat, 5)

    def new(self, reported: datetime, *, flood: bool = False, personal: bool = False) -> Ticket:
        rng, fl = self.rng, self.flavour
        # District first, then one of its subdistricts: Bangkok's เขต are used about evenly.
        district = rng.choice(sorted({d for d, _ in self.areas}))
        subdistrict = rng.choice([sub for d, sub in self.areas if d == district])
        categories = self._categories(flood)
        first = categories[0] or "อื่นๆ"
        description = rng.choice(DESCRIPTIONS[first]).format(place=self._place())
        if personal:
            description += fake_contact(rng)
        province = self.city.province_names_th[0]
        # Traffy's geocoder writes the full words: "ตำบลในเมือง อำเภอเมืองขอนแก่น จังหวัดขอนแก่น".
        address = (
            f"{fl.subdistrict_word}{subdistrict} {fl.district_word}{district} "
            f"{fl.province_word}{province}"
        )
        if rng.random() < 0.3:
            house = f"{rng.randint(1, 399)}/{rng.randint(1, 99)}"
            address = f"{house} {rng.choice(fl.streets)} {address}"
        self.message_id += rng.randint(1, 40)
        lon, lat = self._coords()
        ticket = Ticket(
            ticket_id=self._ticket_id(reported.year),
            message_id=self.message_id,
            categories=categories,
            org=self._org(categories, district),
            description=description,
            address=address,
            subdistrict=as_written(rng, subdistrict, fl.subdistrict_prefixes),
            district=as_written(rng, district, fl.district_prefixes),
            province=province if rng.random() < 0.95 else f"จังหวัด{province}",
            lon=lon,
            lat=lat,
            photo_url=self._photo(reported.date()),
            after_photo=self._photo(reported.date()),
            star=rng.randint(1, 5) if rng.random() < 0.4 else None,
        )
        ticket.events = self._history(reported)
        return ticket

    def _history(self, reported: datetime) -> list[tuple[datetime, str]]:
        """รอรับเรื่อง, then maybe ส่งต่อ(ใหม่), กำลังดำเนินการ and เสร็จสิ้น on later days."""
        rng = self.rng
        events = [(reported, WAITING)]
        roll = rng.random()
        at = reported
        if roll < 0.25:
            return events
        if roll < 0.37:
            at = _later(rng, at, days=rng.choice((0, 1)))
            events.append((at, FORWARDED))
            if rng.random() < 0.5:
                return events
        at = _later(rng, at, days=rng.choice((0, 1, 1, 2, 3, 4)))
        events.append((at, IN_PROGRESS))
        if rng.random() < 0.75:
            events.append((_later(rng, at, days=rng.randint(1, 10)), FINISHED))
        return events


def _later(rng: random.Random, after: datetime, days: int) -> datetime:
    """A working-hours moment `days` days after `after` (and after it on the same day)."""
    day = after.date() + timedelta(days=days)
    start = after if days == 0 else datetime.combine(day, time(8, 30))
    end = datetime.combine(day, time(19, 0))
    room = int((end - start).total_seconds())
    if room < 600:  # reported in the evening: the office answers a little later that night
        return after + timedelta(minutes=rng.randint(5, 90))
    return start + timedelta(seconds=rng.randint(60, room))


def report_time(rng: random.Random, day: date) -> datetime:
    hour = min(23, max(0, round(rng.gauss(13, 4.5))))
    return datetime.combine(day, time(hour, rng.randint(0, 59), rng.randint(0, 59)))


def generate_tickets(settings: Settings, rng: random.Random, scale: int = 1) -> list[Ticket]:
    """Every ticket reported during the recorded window (events may run past its end)."""
    window = settings.config.recorded_window
    special = special_days(window.start, window.end)
    factory = TicketFactory(settings, rng)
    low, high = factory.flavour.new_per_day
    tickets = []
    for day in days_between(window.start, window.end):
        if day != special.empty:
            weekend = day.weekday() >= 5
            count = round(rng.randint(low, high) * (0.8 if weekend else 1.0) * scale)
            floods = rng.randint(70, 85) * scale if day in special.storms else 0
            for i in range(count + floods):
                tickets.append(
                    factory.new(
                        report_time(rng, day), flood=i >= count, personal=rng.random() < 0.004
                    )
                )
    # The privacy scrubber needs every kind at least once, whatever the seed.
    for ticket, kind in zip(rng.sample(tickets, len(PII_KINDS)), PII_KINDS, strict=True):
        ticket.description += fake_contact(rng, kind)
    return tickets
