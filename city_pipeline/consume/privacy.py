"""Privacy scrubbing of free text before it is published.

Citizens write their national ID numbers, phone numbers and e-mail addresses into Traffy complaint
descriptions and addresses. The raw lake and the warehouse keep the original text (the city needs it
to answer the complaint); everything under `published/` gets a token instead:

    Thai national ID (13 digits, valid mod-11 check digit, grouped 1-4-5-2-1 or not)  -> [ID]
    Thai phone number (mobile 06/08/09 + 8 digits, landline 02-07 + 7 digits, +66)   -> [PHONE]
    e-mail address                                                                   -> [EMAIL]

Thai digits (๐-๙) count as digits: Python's `\\d` matches them and `int()` reads them. The same
detectors back the custom GX expectations (`consume/gx_pii.py`) that assert nothing is left.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pyarrow as pa

if TYPE_CHECKING:  # pandas is imported where used: loading definitions stays fast
    import pandas as pd

ID_TOKEN = "[ID]"
PHONE_TOKEN = "[PHONE]"
EMAIL_TOKEN = "[EMAIL]"

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
    """Replace PII in a text column with tokens; NULLs stay NULL. E-mails first (their local part
    may hold digits), then IDs (13 digits would otherwise half-match as a phone), then phones."""
    text = series.astype("string")
    text = text.str.replace(EMAIL_PATTERN, EMAIL_TOKEN, regex=True)
    candidates = text.str.contains(NATIONAL_ID_PATTERN, na=False)
    if candidates.any():  # the check digit needs Python; only rows that hold 13 digits pay for it
        text[candidates] = text[candidates].str.replace(NATIONAL_ID_PATTERN, _id_token, regex=True)
    return text.str.replace(PHONE_PATTERN, PHONE_TOKEN, regex=True)


def scrub_table(table: pa.Table, columns: list[str]) -> pa.Table:
    """Scrub the named text columns of an Arrow table; other columns keep their exact types."""
    for name in columns:
        if name not in table.column_names:
            continue
        index = table.column_names.index(name)
        scrubbed = scrub_series(table.column(name).to_pandas())
        array = pa.array(scrubbed.astype(object).where(scrubbed.notna(), None), type=pa.string())
        table = table.set_column(index, pa.field(name, pa.string()), array)
    return table
