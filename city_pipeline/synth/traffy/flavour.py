"""What makes a city's synthetic complaints look like its real ones: categories and their
weights, descriptions, storm days and the empty day, and the noise of real text (names written
with and without prefixes, misspellings, fake personal data for the privacy scrubber)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from city_pipeline.settings import CityIdentity
from city_pipeline.synth_settings import TraffyFlavour

# Category -> description templates ({place} is filled in). Vocabulary as seen in the real samples.
DESCRIPTIONS: dict[str, tuple[str, ...]] = {
    "ถนน": (
        "ถนนเป็นหลุมเป็นบ่อ {place} รถจักรยานยนต์ล้มบ่อยมาก ช่วยซ่อมด้วยครับ",
        "ผิวถนนทรุดตัว {place} เวลาฝนตกน้ำขังลึก",
        "ฝาท่อบนถนนชำรุด {place} อันตรายมาก",
    ),
    "น้ำท่วม": (
        "น้ำท่วมขังสูงระดับข้อเท้า {place} ระบายไม่ทัน",
        "ฝนตกหนักน้ำท่วมถนน {place} รถเล็กผ่านไม่ได้",
        "น้ำท่วมเข้าบ้าน {place} ขอเครื่องสูบน้ำด่วนค่ะ",
    ),
    "ทางเท้า": (
        "ทางเท้าชำรุด กระเบื้องแตก {place} คนเดินสะดุดล้ม",
        "มีรถจอดบนทางเท้า {place} คนเดินต้องลงไปเดินบนถนน",
    ),
    "แสงสว่าง": ("ไฟส่องสว่างดับหลายดวง {place} กลางคืนมืดมาก ไม่ปลอดภัย", "ไฟถนนกระพริบทั้งคืน {place}"),
    "ความสะอาด": (
        "มีขยะกองอยู่ริมถนน {place} ส่งกลิ่นเหม็น ไม่มีรถมาเก็บหลายวันแล้ว",
        "มีคนลักลอบทิ้งขยะ {place} ช่วยมาเก็บด้วยค่ะ",
    ),
    "ท่อระบายน้ำ": ("ท่อระบายน้ำอุดตัน {place} น้ำเน่าส่งกลิ่น", "ฝาท่อระบายน้ำหาย {place}"),
    "ต้นไม้": ("กิ่งไม้ใหญ่ยื่นเข้ามาในถนน {place} กลัวหักโค่นใส่รถ",),
    "สายไฟ": ("สายไฟห้อยต่ำระโยงระยาง {place}",),
    "จราจร": ("รถติดมากช่วงเช้า {place} ขอเจ้าหน้าที่มาอำนวยการจราจร",),
    "กีดขวาง": ("มีรถจอดกีดขวางทางเข้าซอย {place} รถเข้าออกไม่ได้",),
    "เสียงรบกวน": ("เสียงดังจากร้านค้ากลางคืน {place} รบกวนการพักผ่อน",),
    "ความปลอดภัย": ("ราวกั้นริมคลองชำรุด {place} เด็กอาจตกลงไปได้",),
    "สัตว์จรจัด": ("สุนัขจรจัดจำนวนมาก {place} ไล่กัดคนเดินผ่าน",),
    "PM2.5": ("มีการเผาขยะ ควันเยอะมาก {place} หายใจไม่สะดวก",),
    "ป้าย": ("ป้ายโฆษณาติดบนทางเท้า {place} บังทางเดิน",),
    "อื่นๆ": ("ขอให้เจ้าหน้าที่มาตรวจสอบ {place} ด้วยค่ะ",),
}


# Everyday mix of a dry-season month; storms add flood complaints on top.
CATEGORY_WEIGHTS = {
    "ถนน": 18,
    "ความสะอาด": 12,
    "แสงสว่าง": 10,
    "ทางเท้า": 9,
    "ท่อระบายน้ำ": 7,
    "จราจร": 6,
    "กีดขวาง": 6,
    "ต้นไม้": 5,
    "สายไฟ": 4,
    "เสียงรบกวน": 4,
    "ความปลอดภัย": 3,
    "สัตว์จรจัด": 3,
    "PM2.5": 5,
    "ป้าย": 2,
    "น้ำท่วม": 2,
    "อื่นๆ": 4,
}


# Second categories that go with a first one ("ถนน,น้ำท่วม" is the classic pair).
COMPANIONS = {
    "น้ำท่วม": ("ถนน", "ท่อระบายน้ำ"),
    "ถนน": ("ทางเท้า", "ความปลอดภัย", "น้ำท่วม"),
    "ความสะอาด": ("ถนน", "ทางเท้า"),
    "กีดขวาง": ("ถนน", "ทางเท้า", "จราจร"),
}


@dataclass(frozen=True)
class CityFlavour:
    """How a city's Traffy tickets read: its places (from the city YAML's `recordings.traffy`)
    and how its admin areas are written (Bangkok's เขต/แขวง, or a province's อำเภอ/ตำบล)."""

    streets: tuple[str, ...]
    landmarks: tuple[str, ...]
    district_prefixes: tuple[str, ...]
    subdistrict_prefixes: tuple[str, ...]
    district_word: str
    subdistrict_word: str
    province_word: str
    spread_deg: float
    new_per_day: tuple[int, int]


@dataclass(frozen=True)
class AreaNaming:
    district_prefixes: tuple[str, ...]
    subdistrict_prefixes: tuple[str, ...]
    district_word: str
    subdistrict_word: str
    province_word: str


PROVINCIAL_NAMING = AreaNaming(("อ.", "อำเภอ"), ("ต.", "ตำบล"), "อำเภอ", "ตำบล", "จังหวัด")
# Bangkok (DOPA province 10) is the one province whose districts are เขต and subdistricts แขวง.
BANGKOK_NAMING = AreaNaming(("เขต", "เขต "), ("แขวง", "แขวง "), "เขต", "แขวง", "")
BANGKOK_PROVINCE_CODE = "10"


def flavour_of(city: CityIdentity, recordings: TraffyFlavour) -> CityFlavour:
    naming = BANGKOK_NAMING if city.province_code == BANGKOK_PROVINCE_CODE else PROVINCIAL_NAMING
    return CityFlavour(
        streets=tuple(recordings.streets),
        landmarks=tuple(recordings.landmarks),
        district_prefixes=naming.district_prefixes,
        subdistrict_prefixes=naming.subdistrict_prefixes,
        district_word=naming.district_word,
        subdistrict_word=naming.subdistrict_word,
        province_word=naming.province_word,
        spread_deg=recordings.spread_deg,
        new_per_day=recordings.new_per_day,
    )


@dataclass(frozen=True)
class SpecialDays:
    storms: tuple[date, date]  # flood complaints on top of the usual: these days need 2 pages
    empty: date  # no ticket reported or updated (the API answers an empty FeatureCollection)


def special_days(window_start: date, window_end: date) -> SpecialDays:
    """The days tests and curation rely on, placed by the window so every city has them."""
    span = (window_end - window_start).days
    return SpecialDays(
        storms=(
            window_start + timedelta(days=span // 4),
            window_start + timedelta(days=3 * span // 4),
        ),
        empty=window_start + timedelta(days=span // 2 + 2),
    )


def thai_national_id(rng: random.Random) -> str:
    """A fake 13-digit ID with a valid mod-11 check digit, written 1-2345-67890-12-3."""
    digits = [rng.randint(1, 8)] + [rng.randint(0, 9) for _ in range(11)]
    check = (11 - sum(d * (13 - i) for i, d in enumerate(digits)) % 11) % 10
    text = "".join(map(str, digits)) + str(check)
    return f"{text[0]}-{text[1:5]}-{text[5:10]}-{text[10:12]}-{text[12]}"


PII_KINDS = ("id", "phone", "email", "all")


def fake_contact(rng: random.Random, kind: str | None = None) -> str:
    """Fake personal data a citizen might type into a complaint (for the privacy scrubber)."""
    kind = kind or rng.choice(PII_KINDS)
    phone = f"08{rng.randint(0, 9)}-{rng.randint(100, 999)}-{rng.randint(1000, 9999)}"
    email = f"{rng.choice(('somchai', 'suda', 'anan', 'malee'))}.{rng.randint(10, 99)}@example.com"
    national_id = thai_national_id(rng)
    if kind == "id":
        return f" ผู้แจ้ง นายสมชาย ใจดี เลขบัตรประชาชน {national_id}"
    if kind == "phone":
        return f" ติดต่อกลับได้ที่เบอร์ {phone} ค่ะ"
    if kind == "email":
        return f" แจ้งผลทางอีเมล {email}"
    return f" (นางสุดา รักดี {national_id} โทร {phone} อีเมล {email})"


def misspell(rng: random.Random, name: str) -> str:
    """A typo that no admin-area lookup resolves: drop one vowel or tone mark."""
    marks = [i for i, ch in enumerate(name) if ch in "ิีึืุู่้๊๋ั็์"]
    if not marks:
        return name + "ร"
    i = rng.choice(marks)
    return name[:i] + name[i + 1 :]


def as_written(rng: random.Random, name: str, prefixes: tuple[str, ...]) -> str:
    """A name the way Traffy users and its geocoder write it."""
    roll = rng.random()
    if roll < 0.70:
        return name
    if roll < 0.86:
        return rng.choice(prefixes) + name
    if roll < 0.97:
        return name + " "
    return misspell(rng, name)
