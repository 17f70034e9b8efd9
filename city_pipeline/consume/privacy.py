"""Privacy scrubbing of free text before it is published.

Citizens write their national ID numbers, phone numbers and e-mail addresses into Traffy complaint
descriptions and addresses. The raw lake and the warehouse keep the original text (the city needs it
to answer the complaint); everything under `published/` gets a token instead:

    Thai national ID (13 digits, valid mod-11 check digit, grouped 1-4-5-2-1 or not)  -> [ID]
    Thai phone number (mobile 06/08/09 + 8 digits, landline 02-07 + 7 digits, +66)   -> [PHONE]
    e-mail address                                                                   -> [EMAIL]
    a personal name after a title (นาย, นาง, นางสาว, น.ส., ด.ช., ด.ญ., เด็กชาย,
      เด็กหญิง, คุณ, Mr, Mrs, Ms, Miss, Dr) with the surname when there is one          -> [NAME]
    a Thai vehicle plate (กข 1234, 1กข 1234, optionally with its province)           -> [PLATE]

Every published text column (not only the free text) also loses control characters (C0 but tab,
newline and carriage return; DEL; C1) and Unicode bidi overrides and isolates (U+202A-U+202E,
U+2066-U+2069): they corrupt CSV cells and can make a cell display other text than it holds.

Names are recognised by their title only: a name written without one stays. Words that start
like a title but are not one are kept: roles (นายก "mayor", นายอำเภอ "district chief", คุณครู),
คุณภาพ "quality", ขอบคุณ "thank you", and every Thai place name holding a title word (นางรอง,
คันนายาว, คลองเจ้าคุณสิงห์, from the geography seeds). "Mr. DIY" (a shop chain) is kept: an English
name must be Capitalised, not upper case. Measured on real complaints in docs/consume.md.

Thai digits (๐-๙) count as digits: Python's `\\d` matches them and `int()` reads them. The same
detectors back the custom GX expectations (`consume/gx_pii.py`) that assert nothing is left.
"""

from __future__ import annotations

import csv
import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

if TYPE_CHECKING:  # pandas is imported where used: loading definitions stays fast
    import pandas as pd

ID_TOKEN = "[ID]"
PHONE_TOKEN = "[PHONE]"
EMAIL_TOKEN = "[EMAIL]"
NAME_TOKEN = "[NAME]"
PLATE_TOKEN = "[PLATE]"

GEOGRAPHY_SEEDS = Path(__file__).resolve().parents[2] / "dbt_project" / "seeds" / "reference"

# Control characters and bidi controls, as one RE2 class (pyarrow.compute) and one Python class
# (the GX suites): C0 but \t \n \r, DEL and C1, LRE/RLE/PDF/LRO/RLO and LRI/RLI/FSI/PDI.
CONTROL_RE2 = (
    r"[\x{00}-\x{08}\x{0B}\x{0C}\x{0E}-\x{1F}\x{7F}-\x{9F}\x{202A}-\x{202E}\x{2066}-\x{2069}]"
)
CONTROL_PATTERN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

EMAIL_PATTERN = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")

# Thirteen digits in the card's 1-4-5-2-1 grouping, each separator optional (dash or space); not
# part of a longer run of digits. Whether it IS an ID is decided by the check digit.
NATIONAL_ID_PATTERN = re.compile(r"(?<!\d)\d[\-\s]?\d{4}[\-\s]?\d{5}[\-\s]?\d{2}[\-\s]?\d(?![\d])")

_SEP = r"[\-.\s]?"
PHONE_PATTERN = re.compile(
    r"(?<![\d+])"  # not the tail of a longer number
    r"(?:\+66|0066|[0๐])"
    + _SEP  # country code or trunk prefix
    + r"(?:[689๖๘๙](?:"
    + _SEP
    + r"\d){8}"  # mobile: 08X-XXX-XXXX
    r"|[2-7๒-๗](?:" + _SEP + r"\d){7})"  # landline: 02-XXX-XXXX, 043-XXX-XXX
    r"(?!\d)"
)

# --- names after a title --------------------------------------------------------------------

# A Thai name word: starts with a consonant or a leading vowel (never a dependent vowel or tone
# mark: "คันนายาว" has "นาย" + "าว"), then Thai letters and marks, no digits.
_THAI_WORD = r"[ก-ฮเ-ไ][\u0E01-\u0E2E\u0E30-\u0E3A\u0E40-\u0E4E]*"
# Words that follow a name but are not a surname: "คุณสมชาย โทร ..." keeps "โทร".
_NOT_A_SURNAME = (
    "โทร|เบอร์|แจ้ง|บ้าน|ที่|อยู่|ได้|ค่ะ|คะ|ครับ|และ|หรือ|ซึ่ง|เป็น|ขอ|ร้อง|เจ้าของ|ผู้|อายุ|เลข|"
    "ซอย|ซ\\.|ถนน|ถ\\.|หมู่|ตำบล|แขวง|เขต|อำเภอ|จังหวัด|มา|ไป|กับ|ให้|ว่า|ช่วย|ด้วย|จาก|ใน|นะ|จ้า|"
    "เพื่อ|ไม่|ยัง|ก็|แต่|ทาง|เนื่องจาก|ตาม|เรื่อง|รบกวน|กรุณา|ติดต่อ|สำนักงาน|เจ้าหน้าที่|ประธาน|"
    "หัวหน้า|ผอ|ผู้อำนวยการ|บริษัท|ร้าน|หน้า|หลัง|ข้าง|ตรง|บริเวณ|สามารถ|โดย|แล้ว|จึง|จน|ถึง|วันที่|"
    "เวลา|พร้อม|ทำ|มี|คือ|นั้น|นี้|เขา|เค้า|ท่าน|สอบถาม|สถานี|ตำรวจ|ชุมชน|หมายเลข|เรียบร้อย|เหมือน"
)
# A title right after these words names a place: คลองนางหงส์ (a canal), สี่แยกคุณกะลา.
_PLACE_WORDS = ("คลอง", "ซอย", "ถนน", "แยก", "วัด", "ตลาด")
# Words a title may be followed by that are no name: "นายให้กลับบ้าน" (the boss let ...).
_NOT_A_NAME = "ให้|ที่|ได้|จะ|ก็|และ|หรือ|ว่า|เป็น|ไม่|คือ|ชอบ|คอย|กับ|ของ|พอ"
# (titles, words that may not come right before them (ทนาย "lawyer", เจ้านาย "boss", มิถุนายน
# "June", ขอบคุณ "thank you"), what may not follow them (roles, quality ...), whether a space may
# separate title and name). Longest titles first. "คุณ" alone is also "you", so it takes its name
# without a space ("แดดออกก็เป็นคุณ สร้าง..." is no name).
_THAI_TITLES: tuple[tuple[tuple[str, ...], tuple[str, ...], str, bool], ...] = (
    (("เด็กชาย", "เด็กหญิง", "ด.ช.", "ด.ญ.", "น.ส.", "นางสาว"), (), "", True),
    (
        ("นาย",),
        ("ท", "เจ้า", "จ้าว", "มิถุ"),
        "ก(?:รัฐ|เทศ|อบ|สมาคม|สโมสร|ฯ|[\\s.]|$)|อำเภอ|ช่าง|จ้าง|ทหาร|ตำรวจ|หน้า|ทุน|ประกัน|ด่าน|"
        "สถานี|ท่า|เวร|ร้อย|พล|สิบ|ตรวจ|ห้าง|งาน|ทะเบียน|แบบ|ใหญ่|คน",
        True,
    ),
    (
        ("นาง",),
        ("พระ",),
        "รอง|เลิ้ง|ลิ้นจี่|พยาบาล|แบบ|ฟ้า|นวล|งาม|กวัก|ไม้|เอก|ร้าย|เงือก|สนม|ใน|ข้าหลวง|เจ้า",
        True,
    ),
    (
        ("คุณ",),
        ("ขอบ", "พระ", "บุญ", "เจ้า", "ผู้มี"),
        "ภาพ|ค่า|สมบัติ|ประโยชน์|ธรรม|ลักษณ|ูปการ|วุฒิ|ครู|หมอ|ป้า|ลุง|ยาย|ตา|แม่|พ่อ|น้า|อา(?!ทิตย์)|"
        "ย่า|ทวด|พี่|น้อง|ท่าน|ทหาร|ตำรวจ|พนักงาน|พยาบาล|เจ้าหน้าที่|ครับ|ค่ะ|คะ|มาก|เป็น|จะ|ได้|ที่|"
        "อีก|ก็|ช่วย|เคย|มา|ไป|อยู่|คง|ต้อง|จาก|ใน|กำลัง|และ|หรือ|การ|ยังไง|เอง|ด้วย|นะ|ทำ|คิด|"
        "ดู|ไม่|เท|ล่วง|ดัง|ชาว|ผู้|พวก|คน",
        False,
    ),
)


def _titled_name(
    titles: tuple[str, ...], not_before: tuple[str, ...], not_after: str, space: bool
) -> str:
    """One title's regex. The look-behinds follow the title and include it, so that the costly
    checks run only where a title was found, not at every character of every text."""
    alternatives = []
    for title in titles:
        literal = re.escape(title)
        behind = "".join(f"(?<!{re.escape(w)}{literal})" for w in (*not_before, *_PLACE_WORDS))
        alternatives.append(literal + behind)
    exclude = f"(?!{not_after})" if not_after else ""
    gap = "[ \u00a0]?" if space else ""
    return f"(?:{'|'.join(alternatives)}){exclude}{gap}(?!{_NOT_A_NAME})"


THAI_NAME_PATTERN = re.compile(
    "(?:"
    + "|".join(_titled_name(*title) for title in _THAI_TITLES)
    + f"){_THAI_WORD}(?:[ \u00a0](?!(?:{_NOT_A_SURNAME})){_THAI_WORD})?"
)
# English: a Capitalised word (and a second one) after the title; "Mr. DIY" (a shop) stays.
ENGLISH_NAME_PATTERN = re.compile(r"\b(?:Mr|Mrs|Ms|Miss|Dr)\.?\s?[A-Z][a-z]+(?:\s[A-Z][a-z]+)?\b")

# --- vehicle plates --------------------------------------------------------------------------

# Month abbreviations written without dots look like a plate's letters: "พค 2566" is May 2023.
_MONTHS = "มค|กพ|มีค|เมย|พค|มิย|กค|สค|กย|ตค|พย|ธค"


@cache
def province_names() -> tuple[str, ...]:
    """Thai province names (longest first) from the geography seed, plus common short forms."""
    with (GEOGRAPHY_SEEDS / "th_provinces.csv").open(encoding="utf-8") as f:
        names = {row["name_th"] for row in csv.DictReader(f)}
    return tuple(sorted(names | {"กรุงเทพฯ", "กทม.", "กทม"}, key=len, reverse=True))


@cache
def plate_pattern() -> re.Pattern[str]:
    """A Thai plate: an optional series digit, two consonants, 1-4 digits (3-4 without the series
    digit: "จน 15" is "until 15"), then optionally its province."""
    provinces = "|".join(re.escape(n) for n in province_names())
    return re.compile(
        r"(?:(?<![\d.])\d[\s\-]?[ก-ฮ]{2}[\s\-]?\d{1,4}"
        r"|(?<![\dA-Za-z\u0E00-\u0E7F])"
        rf"(?!(?:{_MONTHS})\s?(?:25|19|20)\d\d)[ก-ฮ]{{2}}[\s\-]?\d{{3,4}}"
        # after the word "ทะเบียน" (registration) also 3 letters, and the all-digit plates of
        # trucks and buses (70-2475, 673092)
        r"|(?<=ทะเบียน)(?:รถ[ก-๛]{0,20})?\s*(?:คือ\s*)?"
        r"(?P<registered>\d?\s?[ก-ฮ]{1,3}[\s\-]?\d{1,4}|\d{1,2}-\d{4}|\d{5,6}))"
        # a document number "กท 7504/6465", "ตช 0015.(บก.น.5)" is no plate
        r"(?!\d|/\d|\.\()"
        rf"(?:\s?(?:จ\.|จังหวัด)?\s?(?:{provinces}))?"
    )


@cache
def protected_place_pattern() -> re.Pattern[str]:
    """Thai place names that contain a title word (นางรอง, คันนายาว, คลองเจ้าคุณสิงห์ ...)."""
    names: set[str] = set()
    for seed in ("th_provinces.csv", "th_districts.csv", "th_subdistricts.csv"):
        with (GEOGRAPHY_SEEDS / seed).open(encoding="utf-8") as f:
            names |= {row["name_th"] for row in csv.DictReader(f)}
    titled = sorted((n for n in names if re.search("นาย|นาง|คุณ", n)), key=len, reverse=True)
    return re.compile("|".join(re.escape(n) for n in titled))


def name_spans(text: str) -> list[tuple[int, int]]:
    """Where `scrub_names` puts [NAME]: titled names outside place names."""
    protected = [m.span() for m in protected_place_pattern().finditer(text)]
    found = [
        m.span()
        for m in THAI_NAME_PATTERN.finditer(text)
        if not any(a <= m.start() < b for a, b in protected)
    ]
    return sorted(found + [m.span() for m in ENGLISH_NAME_PATTERN.finditer(text)])


def plate_spans(text: str) -> list[tuple[int, int]]:
    """Where `scrub_plates` puts [PLATE]."""
    return [
        (m.start("registered") if m.group("registered") else m.start(), m.end())
        for m in plate_pattern().finditer(text)
    ]


def replace_spans(text: str, spans: list[tuple[int, int]], token: str) -> str:
    for start, end in sorted(spans, reverse=True):
        text = text[:start] + token + text[end:]
    return text


def scrub_names(text: str) -> str:
    """Replace titled names with [NAME], except where the title is part of a place name."""
    return replace_spans(text, name_spans(text), NAME_TOKEN)


def scrub_plates(text: str) -> str:
    return replace_spans(text, plate_spans(text), PLATE_TOKEN)


# Regexes the GX suites use: e-mail and phone patterns are exact; an ID also needs its check digit,
# which a regex cannot test, so the suites use the `expect_column_values_to_not_contain_thai_
# national_id` expectation (gx_pii.py) for it.
PII_REGEXES: dict[str, str] = {"email": EMAIL_PATTERN.pattern, "phone": PHONE_PATTERN.pattern}


def digits_of(text: str) -> list[int]:
    return [int(ch) for ch in text if ch.isdigit()]


def is_valid_national_id(text: str) -> bool:
    """Mod-11 check of a Thai national ID: weights 13..2 over the first 12 digits."""
    digits = digits_of(text)
    if len(digits) != 13:
        return False
    total = sum(d * w for d, w in zip(digits[:12], range(13, 1, -1), strict=True))
    return (11 - total % 11) % 10 == digits[12]


def _id_token(match: re.Match[str]) -> str:
    return ID_TOKEN if is_valid_national_id(match.group(0)) else match.group(0)


# Where any of the patterns above could match, as an RE2 regex (pyarrow.compute), so the Python
# patterns run only on the few values that may hold personal data. It over-approximates them: an
# e-mail needs an "@"; a phone number at least 9 digits and an ID 13, each at most one separator
# from the next. Python's `\d` is Unicode category Nd (Thai digits too), as is RE2's `\p{Nd}`.
# A title word, ทะเบียน, or two Thai consonants before a digit that start a word or follow a digit
# add the name and plate candidates ("ซอย 5" and "กรุงเทพมหานคร 10240" are no candidates).
CANDIDATE_RE2 = (
    r"(?s)@|\p{Nd}(?:.?\p{Nd}){8}|นาย|นาง|คุณ|เด็ก(?:ชาย|หญิง)|ด\.[ชญ]\.|น\.ส\.|ทะเบียน"
    r"|M[rs]|Miss|Dr"
    r"|(?:^|[^\x{0E00}-\x{0E7F}\p{Nd}])[ก-ฮ]{2}.?\p{Nd}"
    r"|\p{Nd}.?[ก-ฮ]{2}.?\p{Nd}"
)


def scrub_text(text: str) -> str:
    """Replace PII in one text with tokens. E-mails first (their local part may hold digits),
    then IDs (13 digits would otherwise half-match as a phone), then phones, plates and names."""
    text = EMAIL_PATTERN.sub(EMAIL_TOKEN, text)
    text = NATIONAL_ID_PATTERN.sub(_id_token, text)
    text = PHONE_PATTERN.sub(PHONE_TOKEN, text)
    return scrub_names(scrub_plates(text))


def scrub_array(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Scrub a string array; NULLs stay NULL. A vectorised RE2 pass (pyarrow.compute) picks the
    candidates; only those go through the Python patterns (and the check digit)."""
    import pyarrow.compute as pc

    if not pa.types.is_string(values.type):
        values = values.cast(pa.string())
    if isinstance(values, pa.ChunkedArray):
        return pa.chunked_array([scrub_array(c) for c in values.chunks], type=pa.string())
    candidates = pc.fill_null(pc.match_substring_regex(values, CANDIDATE_RE2), False)
    found = pc.sum(candidates).as_py() or 0
    if not found:
        return values
    texts = pc.filter(values, candidates).to_pylist()
    scrubbed = pa.array([scrub_text(t) for t in texts], type=pa.string())
    return pc.replace_with_mask(values, candidates, scrubbed)


def contains_national_id(series: pd.Series) -> pd.Series:
    """True where the text holds at least one 13-digit number whose check digit is valid."""
    import pandas as pd

    text = series.astype("string")
    candidates = text.str.contains(NATIONAL_ID_PATTERN, na=False)
    found = pd.Series(False, index=series.index)
    if candidates.any():
        matches = text[candidates].str.findall(NATIONAL_ID_PATTERN)
        found[candidates] = matches.map(lambda ms: any(is_valid_national_id(m) for m in ms))
    return found


def scrub_series(series: pd.Series) -> pd.Series:
    """`scrub_array` for a pandas Series (dtype "string"); NULLs stay NULL."""
    import pandas as pd

    values = pa.array(series.astype(object), type=pa.string(), from_pandas=True)
    scrubbed = scrub_array(values).to_pandas(types_mapper={pa.string(): pd.StringDtype()}.get)
    scrubbed.index = series.index
    return scrubbed


def has_control_characters(values: pa.Array | pa.ChunkedArray) -> bool:
    """Whether any string (also inside a list) of the array holds a control or bidi character."""
    import pyarrow.compute as pc

    if pa.types.is_list(values.type) or pa.types.is_large_list(values.type):
        return has_control_characters(pc.list_flatten(values))
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        return False
    return bool(pc.any(pc.match_substring_regex(values, CONTROL_RE2)).as_py())


def strip_control_characters(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Remove control and bidi characters from a string or list-of-string array, in one RE2 pass
    (pyarrow.compute). Callers check `has_control_characters` first, so that an array without
    any keeps its buffers (and the published file its bytes)."""
    import pyarrow.compute as pc

    if isinstance(values, pa.ChunkedArray):
        chunks = [strip_control_characters(c) for c in values.chunks]
        return pa.chunked_array(chunks, type=values.type)
    if pa.types.is_list(values.type) or pa.types.is_large_list(values.type):
        inner = strip_control_characters(values.values)
        return type(values).from_arrays(values.offsets, inner, mask=values.is_null())
    return pc.replace_substring_regex(values, CONTROL_RE2, "")


def is_text_type(data_type: pa.DataType) -> bool:
    if pa.types.is_list(data_type) or pa.types.is_large_list(data_type):
        return is_text_type(data_type.value_type)
    return pa.types.is_string(data_type) or pa.types.is_large_string(data_type)


def strip_control_columns(batch: pa.RecordBatch | pa.Table) -> pa.RecordBatch | pa.Table:
    """`strip_control_characters` on every text column that holds any; others untouched."""
    for index, field in enumerate(batch.schema):
        column = batch.column(index)
        if is_text_type(field.type) and has_control_characters(column):
            batch = batch.set_column(index, field, strip_control_characters(column))
    return batch


def scrub_batch(batch: pa.RecordBatch | pa.Table, columns: list[str]) -> pa.RecordBatch | pa.Table:
    """Strip control characters from every text column, then scrub the named (free) text columns
    of personal data; other columns keep their exact types (a missing column is ignored)."""
    batch = strip_control_columns(batch)
    for name in columns:
        if name not in batch.schema.names:
            continue
        index = batch.schema.get_field_index(name)
        array = scrub_array(batch.column(index))
        batch = batch.set_column(index, pa.field(name, pa.string()), array)
    return batch


def scrub_table(table: pa.Table, columns: list[str]) -> pa.Table:
    """Scrub the named text columns of an Arrow table; other columns keep their exact types."""
    return scrub_batch(table, columns)
