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


# Where any of the patterns above could match, as an RE2 regex (pyarrow.compute), so the Python
# patterns run only on the few values that may hold personal data. It over-approximates them: an
# e-mail needs an "@"; a phone number at least 9 digits and an ID 13, each at most one separator
# from the next. Python's `\d` is Unicode category Nd (Thai digits too), as is RE2's `\p{Nd}`.
CANDIDATE_RE2 = r"(?s)@|\p{Nd}(?:.?\p{Nd}){8}"


def scrub_text(text: str) -> str:
    """Replace PII in one text with tokens. E-mails first (their local part may hold digits),
    then IDs (13 digits would otherwise half-match as a phone), then phones."""
    text = EMAIL_PATTERN.sub(EMAIL_TOKEN, text)
    text = NATIONAL_ID_PATTERN.sub(_id_token, text)
    return PHONE_PATTERN.sub(PHONE_TOKEN, text)


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


def scrub_batch(batch: pa.RecordBatch | pa.Table, columns: list[str]) -> pa.RecordBatch | pa.Table:
    """Scrub the named text columns of an Arrow batch or table; other columns keep their exact
    types (a missing column is ignored)."""
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
