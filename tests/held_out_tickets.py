"""The real held-out Traffy tickets (data/history/traffy_tagged_test.csv) shaped as fct_complaints
holds them, all in one subdistrict; shared by the Analyse definition tests."""

from __future__ import annotations

import pandas as pd

from city_pipeline.analyse import complaint_types


def held_out_tickets() -> pd.DataFrame:
    """Each ticket last seen on the day it was opened."""
    test = pd.read_csv(complaint_types.HISTORY_TEST, dtype=str, keep_default_na=False)
    opened = pd.to_datetime(test["opened_at"]).dt.tz_convert("Asia/Bangkok").dt.tz_localize(None)
    return pd.DataFrame(
        {
            "ticket_id": test["ticket_id"],
            "description": test["text"],
            "categories": test["labels"].map(lambda s: s.split("|") if s else ["ไม่ระบุ"]),
            "opened_at": opened,
            "opened_date": opened.dt.date,
            "lat": pd.to_numeric(test["lat"]),
            "lon": pd.to_numeric(test["lon"]),
            "subdistrict_code": "100101",
            "last_seen_date": opened.dt.date,
        }
    )
