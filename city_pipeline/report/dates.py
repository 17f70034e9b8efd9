"""Calendar dates from mart columns: the one way the report turns DATE/TIMESTAMP into days."""

from __future__ import annotations

import pandas as pd


def calendar_dates(values: pd.Series) -> pd.Series:
    """`datetime.date` per row, None where missing.

    pandas 3 returns a datetime64 column from `.dt.date` when every value is missing (a day on which
    no ticket was closed), and that column cannot be compared with a `date`; this always returns
    plain dates, so `column <= day` works on every day.
    """
    stamps = pd.to_datetime(values)
    return stamps.dt.date.astype(object).where(stamps.notna(), None)
