"""Traffy Fondue `teamchadchart-stat-api/geojson/v1` pages for the recorded window.

Follows real-samples/traffy_teamchadchart_stat_api_geojson_v1_2026-09-26_excerpt.json: the same
envelope and property names, numbers as numbers, naive Asia/Bangkok timestamps. The tickets are
invented (seeded), with what curation must cope with:

* each ticket reappears on every later day it changes (รอรับเรื่อง -> ส่งต่อ(ใหม่) ->
  กำลังดำเนินการ -> เสร็จสิ้น with timestamp_finished), so the latest version must be picked;
* district and subdistrict names as Traffy writes them: with and without อ./อำเภอ/เขต/ต./ตำบล/
  แขวง prefixes, trailing spaces, and a few misspelt names that resolve to no admin area;
* two storm days whose flood complaints need a second page, one day with no tickets at all, and
  days where the server's cache warning leaves `total` at 0 beside real features (when no page of
  a day gives its total, the source asks for one more page, which comes back empty);
* a few descriptions with fake personal data (a Thai national ID with a valid mod-11 check digit,
  a mobile number, an e-mail address) for the privacy scrubber.

Admin-area names: thailand-geography-data/thailand-geography-json (MIT, Copyright (c) 2023-Present
Joe Takara), the districts and subdistricts of Bangkok (10) and Mueang Khon Kaen (4001).
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from city_pipeline.settings import CityIdentity, Settings, TraffySettings
from city_pipeline.sources import traffy
from city_pipeline.sources.common import OfflineContext
from city_pipeline.sources.paging import Listing
from city_pipeline.synth import Recording, json_bytes

DISTRICTS: dict[str, str] = {
    "1001": "พระนคร",
    "1002": "ดุสิต",
    "1003": "หนองจอก",
    "1004": "บางรัก",
    "1005": "บางเขน",
    "1006": "บางกะปิ",
    "1007": "ปทุมวัน",
    "1008": "ป้อมปราบศัตรูพ่าย",
    "1009": "พระโขนง",
    "1010": "มีนบุรี",
    "1011": "ลาดกระบัง",
    "1012": "ยานนาวา",
    "1013": "สัมพันธวงศ์",
    "1014": "พญาไท",
    "1015": "ธนบุรี",
    "1016": "บางกอกใหญ่",
    "1017": "ห้วยขวาง",
    "1018": "คลองสาน",
    "1019": "ตลิ่งชัน",
    "1020": "บางกอกน้อย",
    "1021": "บางขุนเทียน",
    "1022": "ภาษีเจริญ",
    "1023": "หนองแขม",
    "1024": "ราษฎร์บูรณะ",
    "1025": "บางพลัด",
    "1026": "ดินแดง",
    "1027": "บึงกุ่ม",
    "1028": "สาทร",
    "1029": "บางซื่อ",
    "1030": "จตุจักร",
    "1031": "บางคอแหลม",
    "1032": "ประเวศ",
    "1033": "คลองเตย",
    "1034": "สวนหลวง",
    "1035": "จอมทอง",
    "1036": "ดอนเมือง",
    "1037": "ราชเทวี",
    "1038": "ลาดพร้าว",
    "1039": "วัฒนา",
    "1040": "บางแค",
    "1041": "หลักสี่",
    "1042": "สายไหม",
    "1043": "คันนายาว",
    "1044": "สะพานสูง",
    "1045": "วังทองหลาง",
    "1046": "คลองสามวา",
    "1047": "บางนา",
    "1048": "ทวีวัฒนา",
    "1049": "ทุ่งครุ",
    "1050": "บางบอน",
    "4001": "เมืองขอนแก่น",
}
SUBDISTRICTS: dict[str, str] = {
    "100101": "พระบรมมหาราชวัง",
    "100102": "วังบูรพาภิรมย์",
    "100103": "วัดราชบพิธ",
    "100104": "สำราญราษฎร์",
    "100105": "ศาลเจ้าพ่อเสือ",
    "100106": "เสาชิงช้า",
    "100107": "บวรนิเวศ",
    "100108": "ตลาดยอด",
    "100109": "ชนะสงคราม",
    "100110": "บ้านพานถม",
    "100111": "บางขุนพรหม",
    "100112": "วัดสามพระยา",
    "100201": "ดุสิต",
    "100202": "วชิรพยาบาล",
    "100203": "สวนจิตรลดา",
    "100204": "สี่แยกมหานาค",
    "100206": "ถนนนครไชยศรี",
    "100301": "กระทุ่มราย",
    "100302": "หนองจอก",
    "100303": "คลองสิบ",
    "100304": "คลองสิบสอง",
    "100305": "โคกแฝด",
    "100306": "คู้ฝั่งเหนือ",
    "100307": "ลำผักชี",
    "100308": "ลำต้อยติ่ง",
    "100401": "มหาพฤฒาราม",
    "100402": "สีลม",
    "100403": "สุริยวงศ์",
    "100404": "บางรัก",
    "100405": "สี่พระยา",
    "100502": "อนุสาวรีย์",
    "100508": "ท่าแร้ง",
    "100601": "คลองจั่น",
    "100608": "หัวหมาก",
    "100701": "รองเมือง",
    "100702": "วังใหม่",
    "100703": "ปทุมวัน",
    "100704": "ลุมพินี",
    "100801": "ป้อมปราบ",
    "100802": "วัดเทพศิรินทร์",
    "100803": "คลองมหานาค",
    "100804": "บ้านบาตร",
    "100805": "วัดโสมนัส",
    "100905": "บางจาก",
    "100910": "พระโขนงใต้",
    "101001": "มีนบุรี",
    "101002": "แสนแสบ",
    "101101": "ลาดกระบัง",
    "101102": "คลองสองต้นนุ่น",
    "101103": "คลองสามประเวศ",
    "101104": "ลำปลาทิว",
    "101105": "ทับยาว",
    "101106": "ขุมทอง",
    "101203": "ช่องนนทรี",
    "101204": "บางโพงพาง",
    "101301": "จักรวรรดิ",
    "101302": "สัมพันธวงศ์",
    "101303": "ตลาดน้อย",
    "101401": "สามเสนใน",
    "101406": "พญาไท",
    "101501": "วัดกัลยาณ์",
    "101502": "หิรัญรูจี",
    "101503": "บางยี่เรือ",
    "101504": "บุคคโล",
    "101505": "ตลาดพลู",
    "101506": "ดาวคะนอง",
    "101507": "สำเหร่",
    "101601": "วัดอรุณ",
    "101602": "วัดท่าพระ",
    "101701": "ห้วยขวาง",
    "101702": "บางกะปิ",
    "101704": "สามเสนนอก",
    "101801": "สมเด็จเจ้าพระยา",
    "101802": "คลองสาน",
    "101803": "บางลำภูล่าง",
    "101804": "คลองต้นไทร",
    "101901": "คลองชักพระ",
    "101902": "ตลิ่งชัน",
    "101903": "ฉิมพลี",
    "101904": "บางพรม",
    "101905": "บางระมาด",
    "101907": "บางเชือกหนัง",
    "102004": "ศิริราช",
    "102005": "บ้านช่างหล่อ",
    "102006": "บางขุนนนท์",
    "102007": "บางขุนศรี",
    "102009": "อรุณอมรินทร์",
    "102105": "ท่าข้าม",
    "102107": "แสมดำ",
    "102201": "บางหว้า",
    "102202": "บางด้วน",
    "102206": "บางจาก",
    "102207": "บางแวก",
    "102208": "คลองขวาง",
    "102209": "ปากคลองภาษีเจริญ",
    "102210": "คูหาสวรรค์",
    "102302": "หนองแขม",
    "102303": "หนองค้างพลู",
    "102401": "ราษฎร์บูรณะ",
    "102402": "บางปะกอก",
    "102501": "บางพลัด",
    "102502": "บางอ้อ",
    "102503": "บางบำหรุ",
    "102504": "บางยี่ขัน",
    "102601": "ดินแดง",
    "102602": "รัชดาภิเษก",
    "102701": "คลองกุ่ม",
    "102704": "นวมินทร์",
    "102705": "นวลจันทร์",
    "102801": "ทุ่งวัดดอน",
    "102802": "ยานนาวา",
    "102803": "ทุ่งมหาเมฆ",
    "102901": "บางซื่อ",
    "102902": "วงศ์สว่าง",
    "103001": "ลาดยาว",
    "103002": "เสนานิคม",
    "103003": "จันทรเกษม",
    "103004": "จอมพล",
    "103005": "จตุจักร",
    "103101": "บางคอแหลม",
    "103102": "วัดพระยาไกร",
    "103103": "บางโคล่",
    "103201": "ประเวศ",
    "103202": "หนองบอน",
    "103203": "ดอกไม้",
    "103301": "คลองเตย",
    "103302": "คลองตัน",
    "103303": "พระโขนง",
    "103401": "สวนหลวง",
    "103402": "อ่อนนุช",
    "103403": "พัฒนาการ",
    "103501": "บางขุนเทียน",
    "103502": "บางค้อ",
    "103503": "บางมด",
    "103504": "จอมทอง",
    "103602": "สีกัน",
    "103604": "ดอนเมือง",
    "103605": "สนามบิน",
    "103701": "ทุ่งพญาไท",
    "103702": "ถนนพญาไท",
    "103703": "ถนนเพชรบุรี",
    "103704": "มักกะสัน",
    "103801": "ลาดพร้าว",
    "103802": "จรเข้บัว",
    "103901": "คลองเตยเหนือ",
    "103902": "คลองตันเหนือ",
    "103903": "พระโขนงเหนือ",
    "104001": "บางแค",
    "104002": "บางแคเหนือ",
    "104003": "บางไผ่",
    "104004": "หลักสอง",
    "104101": "ทุ่งสองห้อง",
    "104102": "ตลาดบางเขน",
    "104201": "สายไหม",
    "104202": "ออเงิน",
    "104203": "คลองถนน",
    "104301": "คันนายาว",
    "104302": "รามอินทรา",
    "104401": "สะพานสูง",
    "104402": "ราษฎร์พัฒนา",
    "104403": "ทับช้าง",
    "104501": "วังทองหลาง",
    "104502": "สะพานสอง",
    "104503": "คลองเจ้าคุณสิงห์",
    "104504": "พลับพลา",
    "104601": "สามวาตะวันตก",
    "104602": "สามวาตะวันออก",
    "104603": "บางชัน",
    "104604": "ทรายกองดิน",
    "104605": "ทรายกองดินใต้",
    "104702": "บางนาเหนือ",
    "104703": "บางนาใต้",
    "104801": "ทวีวัฒนา",
    "104802": "ศาลาธรรมสพน์",
    "104901": "บางมด",
    "104902": "ทุ่งครุ",
    "105002": "บางบอนเหนือ",
    "105003": "บางบอนใต้",
    "105004": "คลองบางพราน",
    "105005": "คลองบางบอน",
    "400101": "ในเมือง",
    "400102": "สำราญ",
    "400103": "โคกสี",
    "400104": "ท่าพระ",
    "400105": "บ้านทุ่ม",
    "400106": "เมืองเก่า",
    "400107": "พระลับ",
    "400108": "สาวะถี",
    "400109": "บ้านหว้า",
    "400110": "บ้านค้อ",
    "400111": "แดงใหญ่",
    "400112": "ดอนช้าง",
    "400113": "ดอนหัน",
    "400114": "ศิลา",
    "400115": "บ้านเป็ด",
    "400116": "หนองตูม",
    "400117": "บึงเนียม",
    "400118": "โนนท่อน",
}

TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"
PHOTO_BASE = "https://storage.googleapis.com/traffy_public_bucket/attachment"
PROBLEMTYPE_PHOTO = "attachment/2018-04/s-1524623011.7.png"
CACHE_WARNING = (
    "sum_state_by_group_tag cache memory error. Please contact an administrator | "
    "เกิดความผิดพลาดที่หน่วยความจำแคช กรุณาติดต่อผู้ดูแลระบบ"
)
TICKET_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"

WAITING, FORWARDED, IN_PROGRESS, FINISHED = "รอรับเรื่อง", "ส่งต่อ(ใหม่)", "กำลังดำเนินการ", "เสร็จสิ้น"
STATE_TYPE = {WAITING: "start", FORWARDED: "forward", IN_PROGRESS: "inprogress", FINISHED: "finish"}

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
    """What differs between a Bangkok-style and a provincial city in Traffy's data."""

    streets: tuple[str, ...]
    landmarks: tuple[str, ...]
    district_prefixes: tuple[str, ...]
    subdistrict_prefixes: tuple[str, ...]
    district_word: str
    subdistrict_word: str
    province_word: str
    spread_deg: float
    new_per_day: tuple[int, int]


KHON_KAEN = CityFlavour(
    streets=(
        "ถนนมิตรภาพ",
        "ถนนศรีจันทร์",
        "ถนนหน้าเมือง",
        "ถนนกลางเมือง",
        "ถนนประชาสโมสร",
        "ถนนรื่นรมย์",
        "ถนนมะลิวัลย์",
        "ถนนเหล่านาดี",
        "ถนนชาตะผดุง",
        "ถนนศรีธาตุ",
    ),
    landmarks=("หน้าตลาดสด", "ข้างบึงแก่นนคร", "หน้าโรงเรียน", "ใกล้สถานีขนส่ง", "หน้าวัด"),
    district_prefixes=("อ.", "อำเภอ"),
    subdistrict_prefixes=("ต.", "ตำบล"),
    district_word="อำเภอ",
    subdistrict_word="ตำบล",
    province_word="จังหวัด",
    spread_deg=0.025,
    new_per_day=(9, 27),
)
BANGKOK = CityFlavour(
    streets=(
        "ถนนสุขุมวิท",
        "ถนนพหลโยธิน",
        "ถนนลาดพร้าว",
        "ถนนรามคำแหง",
        "ถนนเพชรเกษม",
        "ถนนพระราม 4",
        "ถนนงามวงศ์วาน",
        "ถนนจรัญสนิทวงศ์",
        "ถนนอ่อนนุช",
        "ถนนศรีนครินทร์",
    ),
    landmarks=("หน้าตลาด", "ใต้ทางด่วน", "หน้าโรงเรียน", "ปากซอย", "ใกล้สถานีรถไฟฟ้า"),
    district_prefixes=("เขต", "เขต "),
    subdistrict_prefixes=("แขวง", "แขวง "),
    district_word="เขต",
    subdistrict_word="แขวง",
    province_word="",
    spread_deg=0.07,
    new_per_day=(18, 40),
)


def flavour_of(city: CityIdentity) -> CityFlavour:
    return BANGKOK if city.province_code == "10" else KHON_KAEN


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
        self.flavour = flavour_of(settings.city)
        self.areas = self._areas()
        self.used_ids: set[str] = set()
        self.message_id = 1_700_000 + rng.randint(0, 99_999)

    def _areas(self) -> list[tuple[str, str]]:
        """(district name, subdistrict name) pairs of the city, from its configured codes."""
        city = self.city
        unknown = [c for c in city.district_codes if c not in DISTRICTS]
        if unknown:
            raise ValueError(f"synth.traffy has no admin-area names for districts {unknown}")
        wanted = set(city.subdistrict_codes)
        return [
            (DISTRICTS[code[:4]], name)
            for code, name in SUBDISTRICTS.items()
            if code[:4] in city.district_codes and (not wanted or code in wanted)
        ]

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


def _report_time(rng: random.Random, day: date) -> datetime:
    hour = min(23, max(0, round(rng.gauss(13, 4.5))))
    return datetime.combine(day, time(hour, rng.randint(0, 59), rng.randint(0, 59)))


def generate_tickets(settings: Settings, rng: random.Random, scale: int = 1) -> list[Ticket]:
    """Every ticket reported during the recorded window (events may run past its end)."""
    window = settings.config.recorded_window
    special = special_days(window.start, window.end)
    factory = TicketFactory(settings, rng)
    low, high = factory.flavour.new_per_day
    tickets = []
    day = window.start
    while day <= window.end:
        if day != special.empty:
            weekend = day.weekday() >= 5
            count = round(rng.randint(low, high) * (0.8 if weekend else 1.0) * scale)
            floods = rng.randint(70, 85) * scale if day in special.storms else 0
            for i in range(count + floods):
                tickets.append(
                    factory.new(
                        _report_time(rng, day), flood=i >= count, personal=rng.random() < 0.004
                    )
                )
        day += timedelta(days=1)
    # The privacy scrubber needs every kind at least once, whatever the seed.
    for ticket, kind in zip(rng.sample(tickets, len(PII_KINDS)), PII_KINDS, strict=True):
        ticket.description += fake_contact(rng, kind)
    return tickets


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
    day = window.start
    while day <= window.end:
        yield from day_recordings(traffy_settings, rng, day, served.get(day, []))
        day += timedelta(days=1)
