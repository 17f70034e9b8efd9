"""Privacy scrubbing: Thai national IDs (mod-11), Thai phone numbers, e-mails, titled names and
vehicle plates become tokens; control and bidi characters go from every text column."""

import time

import pandas as pd
import pyarrow as pa
import pytest

from city_pipeline.consume.privacy import (
    contains_national_id,
    is_valid_national_id,
    scrub_series,
    scrub_table,
)


def national_id(first_12: str) -> str:
    """Complete 12 digits with the mod-11 check digit (weights 13..2)."""
    total = sum(int(d) * w for d, w in zip(first_12, range(13, 1, -1), strict=True))
    return first_12 + str((11 - total % 11) % 10)


VALID_ID = national_id("110370012345")  # 1103700123458
DASHED_ID = f"{VALID_ID[0]}-{VALID_ID[1:5]}-{VALID_ID[5:10]}-{VALID_ID[10:12]}-{VALID_ID[12]}"
SPACED_ID = DASHED_ID.replace("-", " ")
THAI_DIGIT_ID = VALID_ID.translate(str.maketrans("0123456789", "๐๑๒๓๔๕๖๗๘๙"))
BAD_CHECK_DIGIT = VALID_ID[:12] + str((int(VALID_ID[12]) + 1) % 10)


def test_check_digit():
    assert VALID_ID == "1103700123458"
    assert is_valid_national_id(VALID_ID)
    assert is_valid_national_id(DASHED_ID) and is_valid_national_id(THAI_DIGIT_ID)
    assert not is_valid_national_id(BAD_CHECK_DIGIT)
    assert not is_valid_national_id(VALID_ID[:12])
    # Worked by hand: 1*13+1*12+0*11+3*10+7*9+0*8+0*7+1*6+2*5+3*4+4*3+5*2 = 168; 168 % 11 = 3;
    # 11 - 3 = 8: the check digit.
    assert VALID_ID[-1] == "8"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"ผู้แจ้ง เลขบัตร {VALID_ID} ค่ะ", "ผู้แจ้ง เลขบัตร [ID] ค่ะ"),
        (f"บัตร {DASHED_ID}", "บัตร [ID]"),
        (f"บัตร {SPACED_ID}.", "บัตร [ID]."),
        (f"เลข{THAI_DIGIT_ID}", "เลข[ID]"),
        ("โทร 081-234-5678 ด่วน", "โทร [PHONE] ด่วน"),
        ("โทร.0812345678", "โทร.[PHONE]"),
        ("เบอร์ 09 1234 5678", "เบอร์ [PHONE]"),
        ("+66 81 234 5678 หรือ +66812345678", "[PHONE] หรือ [PHONE]"),
        ("สำนักงาน 043-123-456 และ 02 123 4567", "สำนักงาน [PHONE] และ [PHONE]"),
        ("ส่งมาที่ somchai.j+kk@example.co.th นะ", "ส่งมาที่ [EMAIL] นะ"),
        (f"(นางสุดา {DASHED_ID} โทร 086 555 1234 อีเมล suda_99@gmail.com)",
         "([NAME] [ID] โทร [PHONE] อีเมล [EMAIL])"),
    ],
)  # fmt: skip
def test_personal_data_becomes_tokens(text, expected):
    assert scrub_series(pd.Series([text])).iloc[0] == expected


@pytest.mark.parametrize(
    "text",
    [
        f"เลขอ้างอิง {BAD_CHECK_DIGIT}",  # 13 digits, wrong check digit: not an ID
        "วันที่ 2024-01-15 เวลา 10:30 น.",
        "รหัสตำบล 400101 อำเภอ 4001",
        "สายด่วน 1555 และ 1669",
        "เรื่อง 2024-MDT9YV ซอย 12/3 ถนนมิตรภาพ กม. 5",
        "PM2.5 สูง 75.1 มคก./ลบ.ม.",
        "",
    ],
)
def test_ordinary_text_is_left_alone(text):
    assert scrub_series(pd.Series([text])).iloc[0] == text


def test_nulls_stay_null_and_ids_are_detected():
    series = pd.Series([None, f"x {VALID_ID}", f"y {BAD_CHECK_DIGIT}", "z"])
    scrubbed = scrub_series(series)
    assert pd.isna(scrubbed.iloc[0])
    assert list(contains_national_id(series)) == [False, True, False, False]
    assert not contains_national_id(scrubbed).any()


def test_scrub_table_keeps_other_columns_and_types():
    table = pa.table(
        {
            "ticket_id": ["2024-A", "2024-B"],
            "description": [f"โทร 0812345678 บัตร {VALID_ID}", None],
            "categories": [["ถนน"], ["น้ำท่วม", "ถนน"]],
            "lat": [16.4, 16.5],
        }
    )
    scrubbed = scrub_table(table, ["description", "address"])  # a missing column is ignored
    assert scrubbed.schema == table.schema
    assert scrubbed.column("description").to_pylist() == ["โทร [PHONE] บัตร [ID]", None]
    assert scrubbed.column("categories").to_pylist() == table.column("categories").to_pylist()
    assert scrubbed.column("ticket_id").equals(table.column("ticket_id"))


def test_scrubbing_is_vectorised_fast_enough():
    clean = "ถนนชำรุดเป็นหลุมลึก บริเวณหน้าตลาด ซอย 12 รถจักรยานยนต์ล้มหลายคัน"
    texts = pd.Series([clean] * 50_000 + [f"โทร 0812345678 {VALID_ID}"] * 500)
    started = time.perf_counter()
    scrubbed = scrub_series(texts)
    elapsed = time.perf_counter() - started
    assert scrubbed.iloc[-1] == "โทร [PHONE] [ID]"
    assert (scrubbed.iloc[:50_000] == clean).all()
    assert elapsed < 5.0, f"scrubbing 50k rows took {elapsed:.1f}s"


def test_the_arrow_prefilter_never_skips_a_value_the_patterns_would_change():
    """scrub_array runs the Python patterns only where an RE2 prefilter says PII may be: on
    random digit/separator/Thai/e-mail soup it must give what the patterns give on every value."""
    import random

    from city_pipeline.consume.privacy import scrub_array, scrub_text

    rng = random.Random(11)
    alphabet = list("0123456789๐๑๒๓๔๕๖๗๘๙") * 3 + list("-. +\n\t@abกข") + ["0066", "+66", ".com"]
    texts = [
        "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in range(20_000)
    ]
    texts += [VALID_ID, DASHED_ID, SPACED_ID, THAI_DIGIT_ID, "+66 81 234 5678", "๐๘๑-๒๓๔-๕๖๗๘"]
    expected = [scrub_text(t) for t in texts]
    assert sum(e != t for e, t in zip(expected, texts, strict=True)) > 300  # the soup has PII
    assert scrub_array(pa.array(texts)).to_pylist() == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ผู้แจ้ง นายสมชาย ใจดี เลขบัตร", "ผู้แจ้ง [NAME] เลขบัตร"),
        ("นางสาวพลอย อะโนมา 0924192962", "[NAME] [PHONE]"),
        ("น.ส.สุดา รักดี และ ด.ช.ต้น", "[NAME] และ [NAME]"),
        ("เด็กหญิงมะลิ ใจงาม อายุ 8 ปี", "[NAME] อายุ 8 ปี"),
        ("แจ้งต่อคุณสันธภัทร เรียบร้อยแล้ว", "แจ้งต่อ[NAME] เรียบร้อยแล้ว"),
        ("ติดต่อคุณสมชาย โทร 0812345678", "ติดต่อ[NAME] โทร [PHONE]"),
        ("ชื่อนายณัฐพล หรือนายโอ๊ต", "ชื่อ[NAME] หรือ[NAME]"),
        ("contact Mr. John Smith or Mrs Jane", "contact [NAME] or [NAME]"),
        ("รถทะเบียน กข 1234 กรุงเทพมหานคร จอดขวาง", "รถทะเบียน [PLATE] จอดขวาง"),
        ("ป้ายทะเบียน4 กย 3346 เป็นของ", "ป้ายทะเบียน[PLATE] เป็นของ"),
        ("มอเตอร์ไซค์ 2กล 9264 กทม และ 1กฮ2095", "มอเตอร์ไซค์ [PLATE] และ [PLATE]"),
        ("รถเก็บขยะ ทะเบียน 70-2475 ขอนแก่น", "รถเก็บขยะ ทะเบียน [PLATE]"),
        ("ทะเบียน องส 374 เป็นรถ", "ทะเบียน [PLATE] เป็นรถ"),
    ],
)  # fmt: skip
def test_names_and_plates_become_tokens(text, expected):
    assert scrub_series(pd.Series([text])).iloc[0] == expected


@pytest.mark.parametrize(
    "text",
    [
        "อำเภอนางรอง จังหวัดบุรีรัมย์",  # a district
        "คุณภาพน้ำในคลองแย่มาก",  # "quality"
        "นายกเทศมนตรีนครขอนแก่น",  # mayor
        "นายกรัฐมนตรี และนายกอบต.",
        "แจ้งนายอำเภอเมืองแล้ว",  # district chief
        "ขอบคุณครับ ขอบพระคุณค่ะ",  # thank you
        "แขวงคลองเจ้าคุณสิงห์ เขตวังทองหลาง",  # subdistrict
        "ถนนรามอินทรา เขตคันนายาว",  # district
        "ถนนนางลิ้นจี่ และตลาดนางเลิ้ง",  # Bangkok road and market
        "สะพานข้ามคลองนางหงส์",  # canal
        "คุณหมอพูดจาสุภาพ คุณครูใจดี",  # roles
        "สำนักงานเขต กทม. การไฟฟ้านครหลวง",
        "ฝั่งตรงข้าม Mr. DIY สาขาคู้บอน",  # a shop chain (Mr.DIY), not a person
        "ตั้งแต่เดือนมิถุนายน 2565",  # June ends in "นายน"
        "วันที่ 17 พค 2566 เวลา 21.00 น.",  # May 2566 looks like letters + digits
        "หนังสือที่ กท 7504/6465 ลงวันที่",  # a document number
        "ถ้าคุณเททางต่างระดับแบบนี้",  # "you"
        "แดดออกก็เป็นคุณ สร้างความเดือดร้อน",
    ],
)
def test_places_roles_and_ordinary_words_are_kept(text):
    assert scrub_series(pd.Series([text])).iloc[0] == text


def test_control_and_bidi_characters_leave_every_text_column():
    from city_pipeline.consume.privacy import CONTROL_PATTERN, scrub_batch

    table = pa.table(
        {
            "ticket_id": ["2024-A\x00", "2024-B"],
            "description": ["ไฟดับ\x1b[31m\u202eกลับด้าน\tแท็บ\nบรรทัด\r", None],
            "categories": [["ถนน\u2066"], None],
            "lat": [16.4, 16.5],
        }
    )
    scrubbed = scrub_batch(table, ["description"])
    assert scrubbed.schema == table.schema
    assert scrubbed.column("ticket_id").to_pylist() == ["2024-A", "2024-B"]
    assert scrubbed.column("description").to_pylist() == ["ไฟดับ[31mกลับด้าน\tแท็บ\nบรรทัด\r", None]
    assert scrubbed.column("categories").to_pylist() == [["ถนน"], None]
    every = [chr(c) for c in [*range(0x20), 0x7F, *range(0x80, 0xA0), *range(0x202A, 0x202F),
                              *range(0x2066, 0x206A)] if chr(c) not in "\t\n\r"]  # fmt: skip
    stripped = scrub_batch(pa.table({"t": ["".join(every) + "ok"]}), []).column("t")
    assert stripped.to_pylist() == ["ok"]
    assert all(CONTROL_PATTERN.search(ch) for ch in every)


def test_a_batch_without_control_characters_is_returned_unchanged():
    from city_pipeline.consume.privacy import scrub_batch

    table = pa.table({"ticket_id": ["2024-A"], "categories": [["ถนน"]], "n": [1]})
    scrubbed = scrub_batch(table, [])
    for name in table.column_names:  # the very same buffers: published bytes stay as they were
        before, after = table.column(name).chunks[0], scrubbed.column(name).chunks[0]
        assert [b.address for b in after.buffers() if b] == [
            b.address for b in before.buffers() if b
        ]
